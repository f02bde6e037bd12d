/* Servers in a run of several loops (issue 12): weft_tcp_serve,
 * weft_unix_serve and the HTTP server listen on every loop by themselves
 * (SO_REUSEPORT for TCP, one shared socket for Unix), handlers run on the
 * loop that accepted, weft_server_connections counts every loop's, one_loop
 * keeps a server on the caller's loop, and a graceful close closes every
 * loop's listener (a connect is then refused). Real sockets; the HTTP case
 * is driven by curl, one process (so one connection) per request. */
#include <weft.h>
#include <weft/http.h>
#include <weft/io.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"

enum { CLIENTS = 48 };
static long served[2];  /* per loop: connections handled (atomic adds) */

static int echo(weft_stream *s, void *arg)
{
    (void)arg;
    __atomic_add_fetch(&served[weft_loop_index(weft_loop_current())], 1, __ATOMIC_RELAXED);
    char buf[256];
    ssize_t n = weft_stream_read(s, buf, sizeof buf);
    if (n > 0 && weft_stream_write(s, buf, (size_t)n) < 0) return -1;
    while ((n = weft_stream_read(s, buf, sizeof buf)) > 0) { /* until the client closes */ }
    return 0;
}

typedef struct client_args {
    int port;               /* 0: unix */
    const char *path;
    weft_event *go;         /* close once set */
} client_args;

static int client(void *arg)
{
    client_args *a = arg;
    weft_stream *s;
    int r = a->port ? weft_tcp_connect("127.0.0.1", a->port, NULL, &s)
                    : weft_unix_connect(a->path, NULL, &s);
    if (r < 0) return r;
    char in[6];
    if ((r = (int)weft_stream_write(s, "hello", 5)) >= 0 &&
        (r = (int)weft_stream_read_exactly(s, in, 5)) >= 0 && memcmp(in, "hello", 5))
        r = -EIO;
    if (r >= 0) r = weft_event_wait(a->go);
    weft_stream_close(s);
    return r < 0 ? r : 0;
}

/* CLIENTS connections at once; checks the server counts them all while they
 * are open, then lets them go. */
static void drive(weft_server *srv, client_args *ca)
{
    weft_task *t[CLIENTS];
    ca->go = weft_event_new();
    for (int i = 0; i < CLIENTS; i++) CHECK((t[i] = weft_spawn(client, ca)) != NULL);
    for (int i = 0; i < 500 && weft_server_connections(srv) < CLIENTS; i++) weft_sleep(0.01);
    CHECK_EQ((long)weft_server_connections(srv), CLIENTS);
    weft_event_set(ca->go);
    CHECK_EQ(weft_gather(t, CLIENTS, NULL), 0);
    weft_event_free(ca->go);
}

static int close_it(void *srv) { return weft_server_close(srv, 1.0); }

static int tcp_main(void *arg)
{
    (void)arg;
    weft_server *srv = weft_tcp_serve("127.0.0.1", 0, echo, NULL);
    CHECK(srv != NULL);
    client_args ca = {.port = weft_server_port(srv)};
    drive(srv, &ca);
    /* the kernel's hash spread 48 connections over both listeners */
    CHECK(served[0] > 0 && served[1] > 0);
    CHECK_EQ(served[0] + served[1], CLIENTS);
    /* closed from the loop that made it only */
    CHECK_EQ(weft_call(weft_loop_at(1), close_it, srv), -EXDEV);
    CHECK_EQ(weft_server_close(srv, 1.0), 0);
    weft_stream *s;
    CHECK_EQ(weft_tcp_connect("127.0.0.1", ca.port, NULL, &s), -ECONNREFUSED);

    /* one_loop: every connection on this loop */
    served[0] = served[1] = 0;
    weft_serve_opts o = {.one_loop = 1};
    CHECK((srv = weft_tcp_serve_with("127.0.0.1", 0, echo, NULL, &o)) != NULL);
    ca.port = weft_server_port(srv);
    drive(srv, &ca);
    CHECK(served[0] == CLIENTS && served[1] == 0);
    CHECK_EQ(weft_server_close(srv, 1.0), 0);
    return 0;
}

static int unix_main(void *arg)
{
    char *path = arg;
    served[0] = served[1] = 0;
    weft_server *srv = weft_unix_serve(path, echo, NULL, NULL);
    CHECK(srv != NULL);
    client_args ca = {.path = path};
    drive(srv, &ca);
    CHECK_EQ(served[0] + served[1], CLIENTS); /* who accepts is a race: no more */
    CHECK_EQ(weft_server_close(srv, 1.0), 0);
    CHECK(access(path, F_OK) < 0); /* removed once, by the first server */
    weft_stream *s;
    CHECK(weft_unix_connect(path, NULL, &s) < 0);
    return 0;
}

/* ---- HTTP, through curl -------------------------------------------------------- */

static int which_loop(weft_http_request *req, void *arg)
{
    (void)arg;
    char b[16];
    int n = snprintf(b, sizeof b, "loop %d", weft_loop_index(weft_loop_current()));
    return weft_http_respond(req, 200, "text/plain", b, (size_t)n);
}

static int http_main(void *arg)
{
    (void)arg;
    weft_http_server *srv = weft_http_server_new(NULL);
    CHECK(srv);
    CHECK_EQ(weft_http_server_route(srv, "GET", "/", which_loop, NULL), 0);
    CHECK_EQ(weft_http_server_listen(srv, "127.0.0.1", 0), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", weft_http_server_port(srv));
    int seen[2] = {0, 0};
    for (int i = 0; i < 24; i++) { /* a process each: a new connection each */
        char *argv[] = {"curl", "-s", "--max-time", "10", url, NULL};
        weft_process_opts po = {.stdout_mode = WEFT_PIPE};
        weft_process *p;
        CHECK_EQ(weft_process_spawn(argv, &po, &p), 0);
        weft_process_output out = {0};
        CHECK_EQ(weft_process_communicate(p, NULL, 0, &out, 20), 0);
        weft_process_free(p);
        CHECK(out.out && (!strcmp(out.out, "loop 0") || !strcmp(out.out, "loop 1")));
        seen[out.out[5] - '0']++;
        weft_process_output_free(&out);
    }
    fprintf(stderr, "curl requests per loop: %d %d\n", seen[0], seen[1]);
    CHECK(seen[0] > 0 && seen[1] > 0);
    int port = weft_http_server_port(srv);
    CHECK_EQ(weft_http_server_close(srv, 1.0), 0);
    weft_stream *s; /* every loop's listener is closed */
    for (int i = 0; i < 8; i++) CHECK_EQ(weft_tcp_connect("127.0.0.1", port, NULL, &s), -ECONNREFUSED);
    return 0;
}

int main(void)
{
    weft_options o = {.loops = 2};
    CHECK_EQ(weft_run_with(&o, tcp_main, NULL), 0);
    char path[64];
    snprintf(path, sizeof path, "/tmp/weft_serve_loops_%d.sock", (int)getpid());
    CHECK_EQ(weft_run_with(&o, unix_main, path), 0);
    unlink(path);
    CHECK_EQ(weft_run_with(&o, http_main, NULL), 0);
    return 0;
}
