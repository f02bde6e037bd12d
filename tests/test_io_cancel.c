/* Cancellation and deadlines are sticky (weft.h): once a task is cancelled,
 * or past its weft_timeout deadline, every waiting function it calls
 * returns -ECANCELED (-ETIMEDOUT) at once, without doing anything. This
 * walks every waiting io and http function with such a task, each in the
 * case where it could complete without waiting (bytes buffered, room to
 * write, a datagram queued, a child exited, a pooled connection idle, a name
 * cached), then checks from a healthy task that nothing was lost: buffered
 * bytes still there, nothing sent, nothing created, the pool intact. Before,
 * most of these calls succeeded (consuming or sending) for a cancelled
 * task. Functions that close (stream, server, session) are the exception
 * by design: they still close and free, without waiting, and return the
 * error. */
#define _GNU_SOURCE
#include <weft/http.h>
#include <weft/io.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int want;  /* -ECANCELED or -ETIMEDOUT */
static int fails; /* probes that did not return want */

#define EXPECT(name, expr, expected)                                                       \
    do {                                                                                   \
        long long got_ = (long long)(expr), exp_ = (long long)(expected);                  \
        if (got_ != exp_) {                                                                \
            fprintf(stderr, "%s:%d: %s returned %lld (%s), want %lld (%s)\n", __FILE__,    \
                    __LINE__, name, got_, got_ < 0 ? weft_strerror((int)got_) : "-", exp_, \
                    exp_ < 0 ? weft_strerror((int)exp_) : "-");                            \
            fails++;                                                                       \
        }                                                                                  \
    } while (0)

static void spin(double s)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    do clock_gettime(CLOCK_MONOTONIC, &b);
    while ((double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9 < s);
}

/* Runs fn(arg) in a fresh task that is cancelled (want == -ECANCELED) or
 * past a weft_timeout deadline (want == -ETIMEDOUT) before fn starts. */
typedef struct {
    weft_fn fn;
    void *arg;
} doomed;

static int past_deadline(void *a)
{
    doomed *d = a;
    spin(0.003);
    return d->fn(d->arg);
}

static int doomed_main(void *a)
{
    if (want == -ECANCELED) {
        weft_cancel(weft_current());
        return ((doomed *)a)->fn(((doomed *)a)->arg);
    }
    return weft_timeout(0.001, past_deadline, a);
}

static void run_doomed(weft_fn fn, void *arg)
{
    doomed d = {fn, arg};
    weft_task *t = weft_spawn(doomed_main, &d);
    CHECK(t);
    CHECK_EQ(weft_await(t), 0);
}

/* ---- peers ------------------------------------------------------------------- */

static const char greeting[] = "hello\nworld\n";

static int greeter(weft_stream *s, void *arg)
{
    (void)arg;
    char buf[64];
    if (weft_stream_write(s, greeting, sizeof greeting - 1) < 0) return -1;
    while (weft_stream_read(s, buf, sizeof buf) > 0) {
    }
    return 0;
}

static int h_hello(weft_http_request *req, void *arg)
{
    (void)arg;
    return weft_http_respond(req, 200, "text/plain", "Hello, World!", 13);
}

/* ---- the walk over io and http entry points ---------------------------------------- */

typedef struct env {
    weft_stream *cs;      /* TCP client, greeting buffered */
    weft_stream *ws;      /* socketpair end, room to write */
    int ws_peer;
    weft_stream *cs2;     /* to be closed */
    int cs2_peer;
    weft_server *srv, *srv2;
    int port;
    char upath[64];
    weft_server *usrv;
    int u1, u2;           /* UDP: u1 has a datagram queued */
    struct sockaddr_storage u1addr;
    socklen_t u1len;
    int pp[2];            /* pipe with one byte in it */
    char file[64], file2[64];
    int filefd;
    weft_process *exited; /* exited (exit 3), not reaped */
    weft_process *cat;    /* stdin piped */
    weft_tls_ctx *tls;
    weft_http_server *hs, *hs2;
    weft_http_client *hc, *hc2;
    char url[128];
    weft_http_response *resp; /* head read, body buffered */
    weft_stream *raw;         /* a request buffered, for serve_stream */
    int raw_peer;
    size_t raw_buffered;
} env;

static int walk(void *arg)
{
    env *e = arg;
    char buf[64];
    const char *data;
    struct addrinfo *ai = NULL;

    /* core, for reference */
    EXPECT("weft_yield", weft_yield(), want);
    EXPECT("weft_sleep", weft_sleep(0.001), want);
    EXPECT("weft_wait_fd", weft_wait_fd(e->pp[0], WEFT_READABLE), want);
    EXPECT("weft_read", weft_read(e->pp[0], buf, 1), want);
    EXPECT("weft_write", weft_write(e->pp[1], "q", 1), want);

    /* stream reads with bytes buffered: nothing consumed */
    EXPECT("weft_stream_read", weft_stream_read(e->cs, buf, sizeof buf), want);
    EXPECT("weft_stream_read_exactly", weft_stream_read_exactly(e->cs, buf, 5), want);
    EXPECT("weft_stream_read_until", weft_stream_read_until(e->cs, "\n", 1, buf, sizeof buf), want);
    EXPECT("weft_stream_read_line", weft_stream_read_line(e->cs, buf, sizeof buf), want);
    EXPECT("weft_stream_peek", weft_stream_peek(e->cs, &data, 1), want);
    EXPECT("buffered after reads", weft_stream_buffered(e->cs), sizeof greeting - 1);

    /* stream writes with room: nothing sent or queued */
    EXPECT("weft_stream_write", weft_stream_write(e->ws, "x", 1), want);
    struct iovec iov[2] = {{"a", 1}, {"b", 1}};
    EXPECT("weft_stream_writev", weft_stream_writev(e->ws, iov, 2), want);
    EXPECT("weft_stream_drain", weft_stream_drain(e->ws), want);
    EXPECT("weft_stream_shutdown", weft_stream_shutdown(e->ws), want);
    EXPECT("weft_stream_start_tls", weft_stream_start_tls(e->ws, e->tls, "localhost"), want);
    EXPECT("write_buffered", weft_stream_write_buffered(e->ws), 0);
    /* closing closes all the same (gracefully: nothing was queued) */
    EXPECT("weft_stream_close", weft_stream_close(e->cs2), want);
    e->cs2 = NULL;

    /* connecting, serving, resolving */
    weft_stream *out = (weft_stream *)1;
    EXPECT("weft_tcp_connect", weft_tcp_connect("127.0.0.1", e->port, NULL, &out), want);
    CHECK(out == NULL);
    out = (weft_stream *)1;
    EXPECT("weft_unix_connect", weft_unix_connect(e->upath, NULL, &out), want);
    CHECK(out == NULL);
    EXPECT("weft_resolve (cached name)", weft_resolve("localhost", 80, AF_UNSPEC, 0, &ai), want);
    CHECK(ai == NULL);
    /* A numeric address does not wait (io.h), so it is still answered. */
    EXPECT("weft_resolve (numeric)", weft_resolve("127.0.0.1", 80, AF_INET, 0, &ai), 0);
    weft_addrinfo_free(ai);
    errno = 0;
    CHECK(weft_tcp_serve("localhost", 0, greeter, NULL) == NULL);
    EXPECT("weft_tcp_serve (name) errno", -errno, want);
    EXPECT("weft_udp_bind (name)", weft_udp_bind("localhost", 0, AF_INET), want);
    EXPECT("weft_server_close", weft_server_close(e->srv2, 1), want);
    e->srv2 = NULL;

    /* UDP with a datagram queued and room to send */
    EXPECT("weft_udp_recv_from", weft_udp_recv_from(e->u1, buf, sizeof buf, NULL, NULL), want);
    EXPECT("weft_udp_send_to",
           weft_udp_send_to(e->u2, "x", 1, (struct sockaddr *)&e->u1addr, e->u1len), want);

    /* TLS, files, processes, signals */
    errno = 0;
    CHECK(weft_tls_client_ctx(&(weft_tls_opts){.insecure = 1}) == NULL);
    EXPECT("weft_tls_client_ctx errno", -errno, want);
    char *fdata = NULL;
    struct stat st;
    EXPECT("weft_file_read", weft_file_read(e->file, &fdata, NULL), want);
    CHECK(fdata == NULL);
    EXPECT("weft_file_write", weft_file_write(e->file2, "new", 3), want);
    EXPECT("weft_file_stat", weft_file_stat(e->file, &st), want);
    EXPECT("weft_file_pread", weft_file_pread(e->filefd, buf, 4, 0), want);
    EXPECT("weft_file_pwrite", weft_file_pwrite(e->filefd, "zz", 2, 0), want);
    EXPECT("weft_process_wait", weft_process_wait(e->exited), want);
    EXPECT("weft_process_close_stdin", weft_process_close_stdin(e->cat), want);
    CHECK(weft_process_stdin(e->cat) == NULL); /* closed all the same */
    EXPECT("weft_process_close_stdin (none left)", weft_process_close_stdin(e->cat), want);
    EXPECT("weft_signal_wait", weft_signal_wait((int[]){SIGUSR2}, 1), want);

    /* HTTP client: an idle pooled connection, a body buffered */
    weft_http_response *r = (weft_http_response *)1;
    EXPECT("weft_http_client_request", weft_http_client_request(e->hc, "GET", e->url, NULL, &r),
           want);
    CHECK(r == NULL);
    r = (weft_http_response *)1;
    EXPECT("weft_http_client_get", weft_http_client_get(e->hc, e->url, &r), want);
    CHECK(r == NULL);
    EXPECT("weft_http_response_read", weft_http_response_read(e->resp, buf, sizeof buf), want);
    size_t len;
    EXPECT("weft_http_response_body", weft_http_response_body(e->resp, &data, &len), want);
    EXPECT("client connections", weft_http_client_connections(e->hc), 2);
    EXPECT("weft_http_client_close", weft_http_client_close(e->hc2), want);
    e->hc2 = NULL;

    /* HTTP server */
    EXPECT("weft_http_server_serve_stream", weft_http_server_serve_stream(e->hs, e->raw), want);
    EXPECT("serve_stream left the request", weft_stream_buffered(e->raw), e->raw_buffered);
    EXPECT("weft_http_server_close", weft_http_server_close(e->hs2, 1), want);
    e->hs2 = NULL;
    return 0;
}

static int walk_main(void *arg)
{
    (void)arg;
    env E = {0}, *e = &E;
    char buf[64];
    const char *data;

    /* TCP: a client whose read buffer holds the greeting */
    e->srv = weft_tcp_serve("127.0.0.1", 0, greeter, NULL);
    WEFT_TEST_CHECK(e->srv);
    e->port = weft_server_port(e->srv);
    CHECK_EQ(weft_tcp_connect("127.0.0.1", e->port, NULL, &e->cs), 0);
    CHECK_EQ(weft_stream_peek(e->cs, &data, sizeof greeting - 1), sizeof greeting - 1);
    e->srv2 = weft_tcp_serve("127.0.0.1", 0, greeter, NULL);
    WEFT_TEST_CHECK(e->srv2);
    snprintf(e->upath, sizeof e->upath, "/tmp/weft-cancel-%d.sock", (int)getpid());
    e->usrv = weft_unix_serve(e->upath, greeter, NULL, NULL);
    WEFT_TEST_CHECK(e->usrv);

    int sv[2], sv2[2], sv3[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv2), 0);
    e->ws = weft_stream_from_fd(sv[0]);
    e->ws_peer = sv[1];
    e->cs2 = weft_stream_from_fd(sv2[0]);
    e->cs2_peer = sv2[1];
    WEFT_TEST_CHECK(e->ws && e->cs2);

    /* UDP */
    e->u1 = weft_udp_bind("127.0.0.1", 0, AF_INET);
    e->u2 = weft_udp_bind("127.0.0.1", 0, AF_INET);
    WEFT_TEST_CHECK(e->u1 >= 0 && e->u2 >= 0);
    e->u1len = sizeof e->u1addr;
    CHECK_EQ(getsockname(e->u1, (struct sockaddr *)&e->u1addr, &e->u1len), 0);
    CHECK_EQ(weft_udp_send_to(e->u2, "dgram", 5, (struct sockaddr *)&e->u1addr, e->u1len), 5);
    WEFT_TEST_CHECK(weft_wait_fd(e->u1, WEFT_READABLE) > 0);

    CHECK_EQ(pipe2(e->pp, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_EQ(write(e->pp[1], "p", 1), 1);

    snprintf(e->file, sizeof e->file, "/tmp/weft-cancel-%d.txt", (int)getpid());
    snprintf(e->file2, sizeof e->file2, "/tmp/weft-cancel-%d.new", (int)getpid());
    unlink(e->file2);
    CHECK_EQ(weft_file_write(e->file, "data", 4), 0);
    e->filefd = open(e->file, O_RDWR | O_CLOEXEC);
    WEFT_TEST_CHECK(e->filefd >= 0);

    /* a child that has exited (not reaped), and cat with its stdin piped */
    char *sh[] = {"sh", "-c", "exit 3", NULL};
    CHECK_EQ(weft_process_spawn(sh, NULL, &e->exited), 0);
    for (int i = 0; i < 500; i++) {
        siginfo_t s2 = {0};
        CHECK_EQ(waitid(P_PID, (id_t)weft_process_pid(e->exited), &s2,
                        WEXITED | WNOWAIT | WNOHANG), 0);
        if (s2.si_pid) break;
        weft_sleep(0.005);
    }
    char *catv[] = {"cat", NULL};
    weft_process_opts po = {.stdin_mode = WEFT_PIPE, .stdout_mode = WEFT_PIPE};
    CHECK_EQ(weft_process_spawn(catv, &po, &e->cat), 0);

    e->tls = weft_tls_client_ctx(&(weft_tls_opts){.insecure = 1});
    WEFT_TEST_CHECK(e->tls);
    struct addrinfo *ai = NULL;
    CHECK_EQ(weft_resolve("localhost", 80, AF_UNSPEC, 0, &ai), 0); /* now cached */
    weft_addrinfo_free(ai);

    /* HTTP: a server, a session with two idle connections, a response
     * whose body is buffered, and a raw stream with a request buffered. */
    e->hs = weft_http_server_new(NULL);
    e->hs2 = weft_http_server_new(NULL);
    WEFT_TEST_CHECK(e->hs && e->hs2);
    CHECK_EQ(weft_http_server_route(e->hs, "GET", "/", h_hello, NULL), 0);
    CHECK_EQ(weft_http_server_listen(e->hs, "127.0.0.1", 0), 0);
    snprintf(e->url, sizeof e->url, "http://127.0.0.1:%d/", weft_http_server_port(e->hs));
    e->hc = weft_http_client_new(NULL);
    e->hc2 = weft_http_client_new(NULL);
    weft_http_response *r1;
    CHECK_EQ(weft_http_client_request(e->hc, "GET", e->url, NULL, &e->resp), 0);
    CHECK_EQ(weft_http_client_get(e->hc, e->url, &r1), 0);
    weft_http_response_free(r1); /* idle now; resp holds the other connection */
    CHECK_EQ(weft_http_client_get(e->hc2, e->url, &r1), 0);
    weft_http_response_free(r1);
    CHECK_EQ(weft_http_client_connections(e->hc), 2);
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv3), 0);
    e->raw = weft_stream_from_fd(sv3[0]);
    e->raw_peer = sv3[1];
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK_EQ(write(e->raw_peer, req, sizeof req - 1), sizeof req - 1);
    CHECK_EQ(weft_stream_peek(e->raw, &data, sizeof req - 1), sizeof req - 1);
    e->raw_buffered = weft_stream_buffered(e->raw);

    run_doomed(walk, e);

    /* Nothing was lost: */
    CHECK_EQ(weft_stream_read_line(e->cs, buf, sizeof buf), 6);
    WEFT_TEST_CHECK(!memcmp(buf, "hello\n", 6));
    CHECK_EQ(weft_stream_buffered(e->cs), 6);
    CHECK_EQ(recv(e->ws_peer, buf, sizeof buf, MSG_DONTWAIT), -1); /* nothing was sent */
    CHECK_EQ(errno, EAGAIN);
    CHECK_EQ(weft_stream_write(e->ws, "plain", 5), 5); /* not shut, not TLS */
    CHECK_EQ(read(e->ws_peer, buf, sizeof buf), 5);
    WEFT_TEST_CHECK(!memcmp(buf, "plain", 5));
    CHECK_EQ(read(e->cs2_peer, buf, sizeof buf), 0); /* closed, cleanly */
    CHECK_EQ(weft_server_connections(e->srv), 1);   /* no second connection */
    struct sockaddr_storage from;
    socklen_t flen;
    CHECK_EQ(weft_udp_recv_from(e->u1, buf, sizeof buf, &from, &flen), 5);
    WEFT_TEST_CHECK(!memcmp(buf, "dgram", 5));
    CHECK_EQ(recv(e->u1, buf, sizeof buf, MSG_DONTWAIT), -1); /* "x" was not sent */
    CHECK_EQ(weft_read(e->pp[0], buf, 2), 1);
    CHECK_EQ(buf[0], 'p');
    WEFT_TEST_CHECK(access(e->file2, F_OK) < 0); /* not created */
    char *fdata;
    CHECK_EQ(weft_file_read(e->file, &fdata, NULL), 0);
    WEFT_TEST_CHECK(!strcmp(fdata, "data")); /* not overwritten by pwrite */
    free(fdata);
    CHECK_EQ(weft_process_wait(e->exited), 3);
    CHECK_EQ(weft_stream_read(weft_process_stdout(e->cat), buf, sizeof buf), 0);
    CHECK_EQ(weft_process_wait(e->cat), 0);
    size_t len;
    CHECK_EQ(weft_http_response_body(e->resp, &data, &len), 0);
    WEFT_TEST_CHECK(len == 13 && !memcmp(data, "Hello, World!", 13));
    weft_http_response_free(e->resp);
    CHECK_EQ(weft_http_client_connections(e->hc), 2);
    CHECK_EQ(weft_http_client_get(e->hc, e->url, &r1), 0); /* the pool still serves */
    weft_http_response_free(r1);
    CHECK_EQ(weft_http_client_connections(e->hc), 2);
    CHECK_EQ(weft_stream_buffered(e->raw), e->raw_buffered);

    CHECK_EQ(fails, 0);

    /* cleanup */
    weft_stream_abort(e->raw);
    close(e->raw_peer);
    weft_http_client_close(e->hc);
    CHECK_EQ(weft_http_server_close(e->hs, 1), 0);
    weft_process_free(e->exited);
    weft_process_free(e->cat);
    weft_tls_ctx_free(e->tls);
    close(e->filefd);
    unlink(e->file);
    weft_close(e->pp[0]);
    weft_close(e->pp[1]);
    weft_close(e->u1);
    weft_close(e->u2);
    close(e->cs2_peer);
    weft_stream_close(e->ws);
    close(e->ws_peer);
    weft_stream_close(e->cs);
    CHECK_EQ(weft_server_close(e->usrv, 1), 0);
    CHECK_EQ(weft_server_close(e->srv, 1), 0);
    return 0;
}

WEFT_TEST(t_cancelled)
{
    want = -ECANCELED;
    fails = 0;
    return walk_main(NULL);
}

WEFT_TEST(t_deadline)
{
    want = -ETIMEDOUT;
    fails = 0;
    return walk_main(NULL);
}

/* ---- in a handler: the server-side calls ------------------------------------------- */

static int probes_want;
static int probe_handler_calls(void *arg)
{
    weft_http_request *req = arg;
    char buf[16];
    const char *data;
    size_t len;
    int w = probes_want;
    EXPECT("weft_http_request_read", weft_http_request_read(req, buf, sizeof buf), w);
    EXPECT("weft_http_request_body", weft_http_request_body(req, &data, &len), w);
    EXPECT("weft_http_reply_header", weft_http_reply_header(req, "X-Probe", "1"), 0);
    EXPECT("weft_http_respond", weft_http_respond(req, 500, NULL, "no", 2), w);
    EXPECT("weft_http_reply_start", weft_http_reply_start(req, 500, NULL, -1), w);
    EXPECT("weft_http_reply_write", weft_http_reply_write(req, "no", 2), w);
    EXPECT("weft_http_reply_end", weft_http_reply_end(req), w);
    EXPECT("weft_http_respond_file", weft_http_respond_file(req, "/etc/hostname"), w);
    return 0;
}

static int probe_past_deadline(void *arg)
{
    spin(0.003);
    return probe_handler_calls(arg);
}

/* Past a deadline, then back in time: the body that was buffered all along
 * is read whole, and the response is the handler's. */
static int h_deadline(weft_http_request *req, void *arg)
{
    (void)arg;
    probes_want = -ETIMEDOUT;
    CHECK_EQ(weft_timeout(0.001, probe_past_deadline, req), 0);
    const char *data;
    size_t len;
    int r = weft_http_request_body(req, &data, &len);
    if (r < 0) return r;
    return weft_http_respond(req, 200, "text/plain", data, len);
}

static int h_cancel(weft_http_request *req, void *arg)
{
    (void)arg;
    probes_want = -ECANCELED;
    weft_cancel(weft_current());
    return probe_handler_calls(req);
}

static int handler_main(void *arg)
{
    (void)arg;
    weft_http_server *hs = weft_http_server_new(NULL);
    WEFT_TEST_CHECK(hs);
    CHECK_EQ(weft_http_server_route(hs, "POST", "/deadline", h_deadline, NULL), 0);
    CHECK_EQ(weft_http_server_route(hs, "POST", "/cancel", h_cancel, NULL), 0);
    CHECK_EQ(weft_http_server_listen(hs, "127.0.0.1", 0), 0);
    char url[128];
    weft_http_client *hc = weft_http_client_new(NULL);
    weft_http_req_opts o = {.body = "abcdef", .body_len = 6};
    weft_http_response *r;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/deadline", weft_http_server_port(hs));
    CHECK_EQ(weft_http_client_request(hc, "POST", url, &o, &r), 0);
    CHECK_EQ(weft_http_response_status(r), 200);
    WEFT_TEST_CHECK(weft_http_response_header(r, "X-Probe")); /* the header added meanwhile */
    const char *data;
    size_t len;
    CHECK_EQ(weft_http_response_body(r, &data, &len), 0);
    WEFT_TEST_CHECK(len == 6 && !memcmp(data, "abcdef", 6));
    weft_http_response_free(r);
    /* A cancelled handler sends nothing at all: the connection is reset. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/cancel", weft_http_server_port(hs));
    int e = weft_http_client_request(hc, "POST", url, &o, &r);
    WEFT_TEST_CHECK(e == -ECONNRESET || e == -WEFT_EHTTP_CLOSED);
    CHECK_EQ(fails, 0);
    weft_http_client_close(hc);
    CHECK_EQ(weft_http_server_close(hs, 1), 0);
    return 0;
}

WEFT_TEST(t_handler)
{
    fails = 0;
    return handler_main(NULL);
}

/* ---- interrupted mid-wait, then resumed ------------------------------------------- */

/* A body arriving in two parts 0.2 s apart, read under a 0.05 s deadline:
 * the read is cut after the first part, and a later read gets the rest.
 * Before, the client dropped the connection at the cut (the rest was lost:
 * -WEFT_EHTTP_CLOSED) and the server's request_body started over, losing
 * the first part. */
typedef struct {
    weft_http_request *req;
    weft_http_response *resp;
} body_args;

static int req_body(void *a)
{
    const char *d;
    size_t n;
    return weft_http_request_body(((body_args *)a)->req, &d, &n);
}

static int resp_body(void *a)
{
    const char *d;
    size_t n;
    return weft_http_response_body(((body_args *)a)->resp, &d, &n);
}

static int h_slow_body(weft_http_request *req, void *arg)
{
    (void)arg;
    body_args ba = {.req = req};
    CHECK_EQ(weft_timeout(0.05, req_body, &ba), -ETIMEDOUT);
    const char *data;
    size_t len;
    int r = weft_http_request_body(req, &data, &len);
    if (r < 0) return r;
    return weft_http_respond(req, 200, "text/plain", data, len);
}

static int h_slow_reply(weft_http_request *req, void *arg)
{
    (void)arg;
    int r = weft_http_reply_start(req, 200, "text/plain", 6);
    if (r == 0) r = (int)weft_http_reply_write(req, "abc", 3);
    if (r >= 0) r = weft_sleep(0.2);
    if (r == 0) r = (int)weft_http_reply_write(req, "def", 3);
    return r < 0 ? r : 0;
}

static int midwait_main(void *arg)
{
    (void)arg;
    weft_http_server *hs = weft_http_server_new(NULL);
    WEFT_TEST_CHECK(hs);
    CHECK_EQ(weft_http_server_route(hs, "POST", "/slow_body", h_slow_body, NULL), 0);
    CHECK_EQ(weft_http_server_route(hs, "GET", "/slow_reply", h_slow_reply, NULL), 0);
    CHECK_EQ(weft_http_server_listen(hs, "127.0.0.1", 0), 0);
    int port = weft_http_server_port(hs);

    /* server side: the client sends the body in two parts */
    weft_stream *s;
    CHECK_EQ(weft_tcp_connect("127.0.0.1", port, NULL, &s), 0);
    static const char head[] = "POST /slow_body HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nabc";
    CHECK_EQ(weft_stream_write(s, head, sizeof head - 1), sizeof head - 1);
    weft_sleep(0.2);
    CHECK_EQ(weft_stream_write(s, "def", 3), 3);
    char buf[512];
    ssize_t n = weft_stream_read_until(s, "abcdef", 6, buf, sizeof buf - 1);
    if (n < 0) fprintf(stderr, "reply: %s\n", weft_strerror((int)n));
    WEFT_TEST_CHECK(n > 0 && !strncmp(buf, "HTTP/1.1 200 ", 13));
    weft_stream_close(s);

    /* client side: the response body comes in two parts */
    weft_http_client *hc = weft_http_client_new(NULL);
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/slow_reply", port);
    body_args ba = {0};
    CHECK_EQ(weft_http_client_request(hc, "GET", url, NULL, &ba.resp), 0);
    CHECK_EQ(weft_timeout(0.05, resp_body, &ba), -ETIMEDOUT);
    CHECK_EQ(weft_http_client_connections(hc), 1); /* kept */
    const char *data;
    size_t len;
    CHECK_EQ(weft_http_response_body(ba.resp, &data, &len), 0);
    WEFT_TEST_CHECK(len == 6 && !memcmp(data, "abcdef", 6));
    weft_http_response_free(ba.resp);
    weft_http_client_close(hc);
    CHECK_EQ(weft_http_server_close(hs, 1), 0);
    return 0;
}


static const weft_test_case cases[] = {
    {"cancelled", t_cancelled},
    {"deadline", t_deadline},
    {"handler", t_handler},
    {"midwait", midwait_main},
};

int main(int argc, char **argv)
{
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
