/* HTTP against peers that misbehave, on real loopback sockets: a scripted
 * server (a plain weft TCP server writing canned bytes) that sends
 * malformed or oversized response heads, vanishes or resets mid-head and
 * mid-body, sends broken chunks or gzip, announces a body no memory can
 * hold; a client session out of descriptors; and raw clients that vanish
 * while a handler reads their body or streams a reply. Every case must end
 * in its own clear error, with the session's pool intact (no slot leaked:
 * the next request works) and the server still serving. */
#define _GNU_SOURCE
#include <weft/http.h>
#include <weft/io.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* A body "no memory can hold" is a huge malloc: under ASan it must fail
 * like glibc's (NULL) rather than abort the process. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

/* ---- the scripted server ------------------------------------------------------ */

static const char *script; /* what the server sends after reading the head */
static size_t script_len;
static int script_reset;   /* 1: reset (RST) instead of closing */

static const char ok_reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

static int scripted(weft_stream *s, void *arg)
{
    (void)arg;
    char head[4096];
    ssize_t n = weft_stream_read_until(s, "\r\n\r\n", 4, head, sizeof head);
    if (n < 0) return (int)n;
    int good = !memcmp(head, "GET /ok ", 8);
    const char *out = good ? ok_reply : script;
    size_t len = good ? sizeof ok_reply - 1 : script_len;
    if (len && weft_stream_write(s, out, len) < 0) return -1;
    if (!good && script_reset) {
        weft_stream_drain(s);
        weft_stream_abort(s);
    }
    return 0; /* the server closes the stream: the peer sees the end */
}

static weft_http_client *C;
static char base[64];

static void say(const char *bytes, size_t len, int reset)
{
    script = bytes;
    script_len = len;
    script_reset = reset;
}

/* After any failure the session must be whole: the session has a single
 * slot (limit 1), so a slot leaked by the failure would make this good
 * request fail with a pool timeout. (A connection whose framing ended
 * cleanly, as after a body that fails to inflate, may stay pooled.) */
static void get_ok(weft_http_client *c, const char *server)
{
    char url[96];
    snprintf(url, sizeof url, "%s/ok", server);
    weft_http_response *r;
    CHECK_EQ(weft_http_client_get(c, url, &r), 0);
    CHECK_EQ(weft_http_response_status(r), 200);
    weft_http_response_free(r);
}

static void session_intact(void)
{
    CHECK(weft_http_client_connections(C) <= 1);
    get_ok(C, base);
}

/* The request fails with want (the head is bad or never complete). */
static void head_fails(const char *what, const char *bytes, size_t len, int reset, int want)
{
    fprintf(stderr, "  %s\n", what);
    say(bytes, len, reset);
    char url[96];
    snprintf(url, sizeof url, "%s/bad", base);
    weft_http_response *r = (weft_http_response *)1;
    int e = weft_http_client_request(C, "GET", url, NULL, &r);
    if (e != want) fprintf(stderr, "    got %d (%s)\n", e, weft_strerror(e));
    CHECK_EQ(e, want);
    CHECK(r == NULL);
    session_intact();
}

/* The head arrives; reading the body fails with want. */
static void body_fails(const char *what, const char *bytes, size_t len, int reset, int want)
{
    fprintf(stderr, "  %s\n", what);
    say(bytes, len, reset);
    char url[96];
    snprintf(url, sizeof url, "%s/bad", base);
    weft_http_response *r;
    CHECK_EQ(weft_http_client_request(C, "GET", url, NULL, &r), 0);
    const char *data;
    size_t n;
    int e = weft_http_response_body(r, &data, &n);
    if (e != want) fprintf(stderr, "    got %d (%s)\n", e, weft_strerror(e));
    CHECK_EQ(e, want);
    weft_http_response_free(r);
    session_intact();
}

#define S(lit) lit, sizeof(lit) - 1

static int client_main(void *arg)
{
    (void)arg;
    weft_server *srv = weft_tcp_serve("127.0.0.1", 0, scripted, NULL);
    WEFT_TEST_CHECK(srv);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", weft_server_port(srv));
    weft_http_client_opts o = {.max_body_bytes = SIZE_MAX, .limit = 1, .pool_timeout_s = 2};
    C = weft_http_client_new(&o);
    WEFT_TEST_CHECK(C);
    session_intact();

    /* malformed and oversized heads */
    head_fails("bad status code", S("HTTP/1.1 2x0 OK\r\n\r\n"), 0, -WEFT_EHTTP_PARSE);
    head_fails("not HTTP at all", S("SSH-2.0-OpenSSH_9.2\r\n\r\n"), 0, -WEFT_EHTTP_PARSE);
    head_fails("bare LF header", S("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n"), 0, -WEFT_EHTTP_PARSE);
    head_fails("two Content-Lengths", S("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
                                        "Content-Length: 2\r\n\r\nab"),
               0, -WEFT_EHTTP_PARSE);
    static char big[80 * 1024];
    size_t bl = (size_t)snprintf(big, sizeof big, "HTTP/1.1 200 OK\r\nX-Big: ");
    memset(big + bl, 'a', sizeof big - bl - 8);
    memcpy(big + sizeof big - 8, "\r\n\r\nok\r\n", 8);
    head_fails("70+ KiB head", big, sizeof big, 0, -WEFT_EHTTP_HEADERS_SIZE);

    /* the server vanishes or resets mid-message */
    head_fails("closes before a byte", "", 0, 0, -WEFT_EHTTP_CLOSED);
    head_fails("closes mid-head", S("HTTP/1.1 200 OK\r\nContent-Le"), 0, -WEFT_EHTTP_CLOSED);
    body_fails("closes mid-body (Content-Length)",
               S("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"), 0,
               -WEFT_EHTTP_CLOSED);
    body_fails("closes mid-chunk", S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                     "a\r\nhel"),
               0, -WEFT_EHTTP_CLOSED);
    body_fails("closes before the last chunk",
               S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"), 0,
               -WEFT_EHTTP_CLOSED);
    body_fails("resets mid-body", S("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123"), 1,
               -ECONNRESET);

    /* bad framing and encodings */
    body_fails("bad chunk size", S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   "zz\r\nabc\r\n0\r\n\r\n"),
               0, -WEFT_EHTTP_PARSE);
    body_fails("chunk longer than announced",
               S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n0\r\n\r\n"), 0,
               -WEFT_EHTTP_PARSE);
    body_fails("gzip that is not", S("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n"
                                     "Content-Length: 10\r\n\r\nnot gzip!!"),
               0, -WEFT_EHTTP_DECODE);

    /* out of memory: a body announced bigger than any allocation */
    body_fails("4 EiB body", S("HTTP/1.1 200 OK\r\nContent-Length: 4611686018427387904\r\n\r\nab"),
               0, -ENOMEM);

    /* out of descriptors: the connect fails, its pool slot comes back. A
     * fresh session, so that no pooled connection's fd is freed and reused
     * (the server, in this process, could not accept it either). */
    fprintf(stderr, "  no descriptors\n");
    CHECK_EQ(weft_http_client_close(C), 0);
    C = weft_http_client_new(&o);
    struct rlimit old, low;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
    int fill[1024], nfill = 0;
    low = old;
    low.rlim_cur = 256;
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    for (int fd; nfill < 1024 && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;)
        fill[nfill++] = fd;
    char url[96];
    snprintf(url, sizeof url, "%s/ok", base);
    weft_http_response *r;
    int e = weft_http_client_get(C, url, &r);
    for (int i = 0; i < nfill; i++) close(fill[i]);
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
    CHECK_EQ(e, -EMFILE);
    session_intact();

    CHECK_EQ(weft_http_client_close(C), 0);
    CHECK_EQ(weft_server_close(srv, 1), 0);
    return 0;
}


/* ---- clients that vanish under a handler ------------------------------------------ */

static int body_result, stream_result;
static weft_event *handler_done;

static int wait_event(void *e) { return weft_event_wait(e); }

static int h_body(weft_http_request *req, void *arg)
{
    (void)arg;
    const char *data;
    size_t len;
    body_result = weft_http_request_body(req, &data, &len);
    weft_event_set(handler_done);
    return body_result;
}

static int h_stream(weft_http_request *req, void *arg)
{
    (void)arg;
    static char chunk[16384];
    int r = weft_http_reply_start(req, 200, "application/octet-stream", -1);
    while (r >= 0) r = (int)weft_http_reply_write(req, chunk, sizeof chunk);
    stream_result = r;
    weft_event_set(handler_done);
    return r;
}

static int h_ok(weft_http_request *req, void *arg)
{
    (void)arg;
    return weft_http_respond(req, 200, "text/plain", "ok", 2);
}

static weft_stream *raw_connect(int port)
{
    weft_stream *s;
    CHECK_EQ(weft_tcp_connect("127.0.0.1", port, NULL, &s), 0);
    return s;
}

static void still_serves(int port)
{
    weft_http_client *c = weft_http_client_new(NULL);
    char server[64];
    snprintf(server, sizeof server, "http://127.0.0.1:%d", port);
    get_ok(c, server);
    weft_http_client_close(c);
}

static int server_main(void *arg)
{
    (void)arg;
    weft_http_server *hs = weft_http_server_new(NULL);
    WEFT_TEST_CHECK(hs);
    CHECK_EQ(weft_http_server_route(hs, "POST", "/body", h_body, NULL), 0);
    CHECK_EQ(weft_http_server_route(hs, "GET", "/stream", h_stream, NULL), 0);
    CHECK_EQ(weft_http_server_route(hs, "GET", "/ok", h_ok, NULL), 0);
    CHECK_EQ(weft_http_server_listen(hs, "127.0.0.1", 0), 0);
    int port = weft_http_server_port(hs);
    handler_done = weft_event_new();

    /* The client sends 4 bytes of a 100-byte body and goes away. */
    weft_stream *s = raw_connect(port);
    static const char part[] = "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123";
    CHECK_EQ(weft_stream_write(s, part, sizeof part - 1), sizeof part - 1);
    CHECK_EQ(weft_stream_drain(s), 0);
    weft_sleep(0.05);
    CHECK_EQ(weft_stream_close(s), 0);
    CHECK_EQ(weft_timeout(5, wait_event, handler_done), 0);
    CHECK_EQ(body_result, -WEFT_EHTTP_CLOSED);
    still_serves(port);

    /* The client asks for an endless stream, reads nothing, resets. */
    weft_event_clear(handler_done);
    s = raw_connect(port);
    static const char get[] = "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK_EQ(weft_stream_write(s, get, sizeof get - 1), sizeof get - 1);
    weft_sleep(0.1); /* the handler fills the socket buffers and waits */
    weft_stream_abort(s);
    CHECK_EQ(weft_timeout(5, wait_event, handler_done), 0);
    WEFT_TEST_CHECK(stream_result == -ECONNRESET || stream_result == -EPIPE);
    still_serves(port);

    weft_event_free(handler_done);
    CHECK_EQ(weft_http_server_close(hs, 1), 0);
    return 0;
}


static const weft_test_case cases[] = {
    {"client", client_main},
    {"server", server_main},
};

int main(int argc, char **argv)
{
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
