/* Debug mode and the io layer: a stream never closed is reported at loop
 * close with the user's call as its creation site; a closed one is not. */
#define _GNU_SOURCE
#include "capture.h"
#include <weft.h>
#include <weft/io.h>
#include <weft/debug.h>
#include <errno.h>
#include <sys/socket.h>

static weft_stream *leaked;

static __attribute__((noinline)) int streams_main(void *arg)
{
    (void)arg;
    int p[2], q[2];
    CHECK(pipe(p) == 0 && pipe(q) == 0);
    leaked = weft_stream_from_fd(p[0]);
    weft_stream *closed = weft_stream_from_fd(q[0]);
    CHECK(leaked && closed);
    CHECK_EQ(weft_stream_close(closed), 0);
    close(p[1]);
    close(q[1]);
    return 0;
}

static void test_stream_never_closed(void)
{
    weft_options o = {.debug = 1};
    capture_begin();
    CHECK_EQ(weft_run_with(&o, streams_main, NULL), 0);
    char *out = capture_end();
    int n = 0;
    for (char *p = out; (p = strstr(p, "was never closed")); p++) n++;
    CHECK_EQ(n, 1);
    CHECK(strstr(out, "stream 0x") && strstr(out, "created at streams_main+"));
    free(out);
    weft_stream_abort(leaked); /* frees it (and its fd), for the leak checker */
}

static int echo_once(weft_stream *s, void *arg)
{
    (void)arg;
    char c;
    return (int)weft_stream_read(s, &c, 1);
}

/* The objects below leak on purpose: tell LeakSanitizer (make asan). */
extern void __lsan_ignore_object(const void *p) __attribute__((weak));
static weft_server *leaked_srv;
static weft_stream *leaked_conn;

static __attribute__((noinline)) int tcp_main(void *arg)
{
    (void)arg;
    leaked_srv = weft_tcp_serve("127.0.0.1", 0, echo_once, NULL);
    CHECK(leaked_srv);
    CHECK_EQ(weft_tcp_connect("127.0.0.1", weft_server_port(leaked_srv), NULL, &leaked_conn), 0);
    weft_server *closed = weft_tcp_serve("127.0.0.1", 0, echo_once, NULL);
    CHECK(closed);
    CHECK_EQ(weft_server_close(closed, 0), 0);
    return 0;
}

static void test_server_and_connection(void)
{
    weft_options o = {.debug = 1};
    capture_begin();
    CHECK_EQ(weft_run_with(&o, tcp_main, NULL), 0);
    char *out = capture_end();
    int n = 0;
    for (char *p = out; (p = strstr(p, "was never closed")); p++) n++;
    CHECK_EQ(n, 2);
    CHECK(strstr(out, "server 0x") && strstr(out, "created at tcp_main+"));
    CHECK(strstr(out, "stream 0x"));
    free(out);
    if (__lsan_ignore_object) {
        __lsan_ignore_object(leaked_srv);
        __lsan_ignore_object(leaked_conn);
    }
}

/* What a dump says of io waits that are not an fd's readiness: an acceptor
 * at max_conns waits for room in its server (it used to show as "fd N (r)"
 * with whatever fd its task last waited on), a writer over the high-water
 * mark for room in its stream. */
static weft_event *hold;
static int held(weft_stream *s, void *arg)
{
    (void)s, (void)arg;
    return weft_event_wait(hold);
}

static int stuffer(void *arg)
{
    static char big[1 << 20];
    return (int)weft_stream_write(arg, big, sizeof big);
}

static char *dump_text(void)
{
    FILE *f = tmpfile();
    CHECK(f);
    weft_dump_tasks(f);
    long n = ftell(f);
    char *buf = calloc(1, (size_t)n + 1);
    CHECK(pread(fileno(f), buf, (size_t)n, 0) == n);
    fclose(f);
    return buf;
}

/* The dump line of the task named name. */
static char *task_line(char *dump, const char *name)
{
    char *p = strstr(dump, name);
    CHECK(p);
    char *end = strchr(p, '\n');
    if (end) *end = 0;
    fprintf(stderr, "%s\n", p);
    return p;
}

static int room_main(void *arg)
{
    int debug = *(int *)arg;
    hold = weft_event_new();
    weft_serve_opts so = {.max_conns = 1};
    weft_server *srv = weft_tcp_serve_with("127.0.0.1", 0, held, NULL, &so);
    CHECK(srv);
    int port = weft_server_port(srv);
    weft_stream *a, *b;
    CHECK_EQ(weft_tcp_connect("127.0.0.1", port, NULL, &a), 0);
    CHECK_EQ(weft_tcp_connect("127.0.0.1", port, NULL, &b), 0);
    for (int i = 0; i < 100 && weft_server_connections(srv) < 1; i++) weft_sleep(0.001);
    CHECK_EQ(weft_server_connections(srv), 1);
    weft_sleep(0.01); /* the acceptor took the first and now waits for room */

    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    weft_stream *w = weft_stream_from_fd(sv[0]);
    CHECK(w);
    weft_stream_set_write_buffer(w, 4096);
    weft_task *st = weft_spawn_named("stuffer", stuffer, w);
    weft_sleep(0.01);

    char *dump = dump_text();
    char *acc = task_line(dump, "'weft acceptor'");
    /* " on fd ", not "fd": the line holds addresses, whose hex may contain "fd" */
    CHECK(strstr(acc, "waits on room in ") && !strstr(acc, " on fd "));
    if (debug) CHECK(strstr(acc, "room in server 0x") && strstr(acc, "created at "));
    char *stf = task_line(acc + strlen(acc) + 1, "'stuffer'");
    char want[64];
    snprintf(want, sizeof want, " on fd %d", sv[0]);
    CHECK(strstr(stf, "waits on room in ") && strstr(stf, want));
    if (debug) CHECK(strstr(stf, "room in stream 0x"));
    free(dump);

    weft_cancel(st);
    CHECK_EQ(weft_await(st), -ECANCELED);
    weft_stream_abort(w);
    close(sv[1]);
    weft_event_set(hold);
    weft_stream_abort(a);
    weft_stream_abort(b);
    CHECK_EQ(weft_server_close(srv, 1), 0);
    weft_event_free(hold);
    return 0;
}

static void test_dump_room(void)
{
    for (int debug = 0; debug < 2; debug++) {
        weft_options o = {.debug = debug};
        CHECK_EQ(weft_run_with(&o, room_main, &debug), 0);
    }
}

int main(int argc, char **argv)
{
    unsetenv("WEFT_DEBUG");
    static const test_case tests[] = {{"stream_never_closed", test_stream_never_closed},
                                      {"server_and_connection", test_server_and_connection},
                                      {"dump_room", test_dump_room},
                                      {NULL, NULL}};
    return run_tests(tests, argc, argv);
}
