/* The HTTP server over socket pairs, byte-exact: routing, keep-alive,
 * pipelining, bodies, limits, every rejected input, timeouts and static
 * files. Real clients (curl, wrk, aiohttp) are in test_http_peers.c. */
#include <weft/http.h>
#include <weft/test.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static weft_http_server *S;

static int h_hello(weft_http_request *req, void *arg)
{
    return weft_http_respond(req, 200, "text/plain", "Hello, World!", 13);
}

static int h_echo(weft_http_request *req, void *arg)
{
    const char *body;
    size_t n;
    int r = weft_http_request_body(req, &body, &n);
    if (r < 0) return r;
    char out[4096];
    const char *id = weft_http_request_param(req, "id");
    int len = snprintf(out, sizeof out, "%s id=%s q=%s body=%.*s", weft_http_request_method(req),
                       id ? id : "-", weft_http_request_query(req), (int)n, body);
    weft_http_reply_header(req, "X-Echo", "1");
    return weft_http_respond(req, 200, "text/plain", out, (size_t)len);
}

static int h_stream(weft_http_request *req, void *arg)
{
    int r = weft_http_reply_start(req, 200, "text/plain", -1);
    for (int i = 0; r >= 0 && i < 3; i++) r = (int)weft_http_reply_write(req, "part", 4);
    return r < 0 ? r : weft_http_reply_end(req);
}

static int h_huge(weft_http_request *req, void *arg)
{
    static char block[65536];
    int r = weft_http_reply_start(req, 200, NULL, 128 * sizeof block);
    for (int i = 0; r >= 0 && i < 128; i++) r = (int)weft_http_reply_write(req, block, sizeof block);
    return r < 0 ? r : weft_http_reply_end(req);
}

static int h_fail(weft_http_request *req, void *arg) { return -EIO; }
static int h_silent(weft_http_request *req, void *arg) { return 0; }

static int h_rest(weft_http_request *req, void *arg)
{
    const char *p = weft_http_request_param(req, "rest");
    return weft_http_respond(req, 200, NULL, p, strlen(p));
}

static int mw_count;
static int mw_tag(weft_http_request *req, void *arg)
{
    mw_count++;
    weft_http_reply_header(req, "X-Mw", "yes");
    return weft_http_next(req);
}

static void server(const weft_http_server_opts *o)
{
    S = weft_http_server_new(o);
    weft_http_server_route(S, "GET", "/", h_hello, NULL);
    weft_http_server_route(S, "*", "/echo/{id}", h_echo, NULL);
    weft_http_server_route(S, "POST", "/echo", h_echo, NULL);
    weft_http_server_route(S, "GET", "/stream", h_stream, NULL);
    weft_http_server_route(S, "GET", "/fail", h_fail, NULL);
    weft_http_server_route(S, "GET", "/silent", h_silent, NULL);
    weft_http_server_route(S, "GET", "/huge", h_huge, NULL);
    weft_http_server_route(S, "POST", "/ignore", h_hello, NULL);
    weft_http_server_route(S, "GET", "/files/{rest...}", h_rest, NULL);
}

static int serve_task(void *a)
{
    weft_stream *s = a;
    weft_http_server_serve_stream(S, s);
    weft_stream_close(s);
    return 0;
}

/* Sends raw over a fresh connection (then half-closes when asked) and
 * reads everything the server says until it closes. */
static char out[1 << 16];
static size_t talk(const char *raw, size_t n, int half_close)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv)) return 0;
    weft_stream *a = weft_stream_from_fd(sv[0]), *b = weft_stream_from_fd(sv[1]);
    weft_task *t = weft_spawn(serve_task, b);
    weft_stream_write(a, raw, n);
    if (half_close) weft_stream_shutdown(a);
    size_t got = 0;
    ssize_t r;
    while (got < sizeof out - 1 && (r = weft_stream_read(a, out + got, sizeof out - 1 - got)) > 0)
        got += (size_t)r;
    out[got] = 0;
    weft_stream_close(a);
    weft_await(t);
    return got;
}

static size_t talks(const char *raw) { return talk(raw, strlen(raw), 1); }
static size_t talk0(const char *raw) { return talk(raw, strlen(raw), 0); }

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++) n++;
    return n;
}

static int done(void)
{
    int r = weft_http_server_close(S, 1);
    S = NULL;
    return r;
}

WEFT_TEST(hello_pipelined)
{
    server(NULL);
    talks("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"
          "GET /?a HTTP/1.1\r\nHost: x\r\n\r\n");
    WEFT_TEST_CHECK(count(out, "HTTP/1.1 200 OK\r\n") == 3);
    WEFT_TEST_CHECK(count(out, "Content-Length: 13\r\n") == 3);
    WEFT_TEST_CHECK(count(out, "\r\n\r\nHello, World!") == 3);
    WEFT_TEST_CHECK(strstr(out, "Date: ") && strstr(out, "Server: weft"));
    WEFT_TEST_CHECK(!strstr(out, "Connection: close"));
    /* Gathered pipelined responses keep their order around a streamed one. */
    talks("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /stream HTTP/1.1\r\nHost: x\r\n\r\n"
          "GET /files/z HTTP/1.1\r\nHost: x\r\n\r\n");
    char *h1 = strstr(out, "Hello, World!"), *h2 = strstr(out, "4\r\npart\r\n"),
         *h3 = strstr(out, "\r\n\r\nz");
    WEFT_TEST_CHECK(h1 && h2 && h3 && h1 < h2 && h2 < h3 && count(out, "HTTP/1.1 200") == 3);
    /* HTTP/1.0 without keep-alive: the server closes after one. */
    talk0("GET / HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n");
    WEFT_TEST_CHECK(count(out, "200 OK") == 1 && strstr(out, "Connection: close"));
    /* Connection: close is honoured. */
    talk0("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    WEFT_TEST_CHECK(count(out, "200 OK") == 1);
    /* HEAD: headers with the length, no body. */
    talks("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    WEFT_TEST_CHECK(strstr(out, "Content-Length: 13\r\n") && !strstr(out, "Hello"));
    return done();
}

WEFT_TEST(routing)
{
    server(NULL);
    talks("PUT /echo/42?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
    WEFT_TEST_CHECK(strstr(out, "PUT id=42 q=x=1 body=abc"));
    WEFT_TEST_CHECK(strstr(out, "X-Echo: 1\r\n"));
    talks("GET /files/a/b/c.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    WEFT_TEST_CHECK(strstr(out, "\r\n\r\na/b/c.txt"));
    talks("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n");
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 404 ", 13));
    talks("DELETE / HTTP/1.1\r\nHost: x\r\n\r\n");
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 405 ", 13));
    talks("GET /echo/ HTTP/1.1\r\nHost: x\r\n\r\n");
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 404 ", 13));
    talks("GET /fail HTTP/1.1\r\nHost: x\r\n\r\n");
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 500 ", 13));
    talks("GET /silent HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 200 OK", 15) && count(out, "200 OK") == 2);
    WEFT_TEST_CHECK(weft_http_server_route(S, "GET", "nope", h_hello, NULL) == -EINVAL);
    WEFT_TEST_CHECK(weft_http_server_route(S, "GET", "/{a...}/b", h_hello, NULL) == -EINVAL);
    WEFT_TEST_CHECK(weft_http_server_route(S, "GET", "/a{b}", h_hello, NULL) == -EINVAL);
    return done();
}

WEFT_TEST(middleware)
{
    server(NULL);
    mw_count = 0;
    weft_http_server_use(S, mw_tag, NULL);
    talks("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    WEFT_TEST_CHECK(mw_count == 1 && strstr(out, "X-Mw: yes\r\n"));
    talks("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\nDELETE / HTTP/1.1\r\nHost: x\r\n\r\n");
    WEFT_TEST_CHECK(mw_count == 3 && strstr(out, " 404 ") && strstr(out, " 405 "));
    return done();
}

WEFT_TEST(bodies)
{
    server(NULL);
    talks("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
          "3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    WEFT_TEST_CHECK(strstr(out, "body=abcde"));
    WEFT_TEST_CHECK(strstr(out, "Hello, World!"));
    /* Expect: 100-continue gets the interim response before the body. */
    talks("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi");
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK", 40));
    /* An unread body is skipped: the next request still parses. */
    talks("POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nxxxxxGET / HTTP/1.1\r\nHost: x\r\n\r\n");
    WEFT_TEST_CHECK(count(out, "200 OK") == 2);
    /* A streamed (chunked) response. */
    talks("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
    WEFT_TEST_CHECK(strstr(out, "Transfer-Encoding: chunked\r\n"));
    WEFT_TEST_CHECK(strstr(out, "\r\n\r\n4\r\npart\r\n4\r\npart\r\n4\r\npart\r\n0\r\n\r\n"));
    /* ... and to HTTP/1.0: raw, ended by closing. */
    talks("GET /stream HTTP/1.0\r\n\r\n");
    WEFT_TEST_CHECK(strstr(out, "\r\n\r\npartpartpart") && !strstr(out, "chunked"));
    return done();
}

WEFT_TEST(limits)
{
    weft_http_server_opts o = {.max_body_bytes = 10, .max_header_bytes = 256};
    server(&o);
    talks("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n01234567890");
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 413 ", 13) && strstr(out, "Connection: close"));
    talks("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n"
          "6\r\nabcdef\r\n0\r\n\r\n");
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 413 ", 13));
    /* 413 before 100 Continue: the client need not send the body. */
    talk0("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 99\r\n\r\n");
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 413 ", 13));
    char big[1024];
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: %0300d\r\n\r\n", 1);
    talks(big);
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 431 ", 13));
    /* Too big even before its end arrives (no half-close: the server must
     * not wait for more). */
    snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: %0300d", 1);
    talk(big, strlen(big), 0);
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 431 ", 13));
    return done();
}

/* Every malformed or ambiguous request gets 400 and the connection ends:
 * nothing after it is taken as a second request. */
WEFT_TEST(smuggling)
{
    static const char *const bad[] = {
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        "0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
        "0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc",
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc",
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\nabc\r\n0\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nHost : x\r\n\r\n",
        "GET / HTTP/1.1\nHost: x\n\n",
        "GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\nab",
        "GET / HTTP/1.1\r\nHost: x\r\nX: \x7f\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
    };
    server(NULL);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        talks(bad[i]);
        if (strncmp(out, "HTTP/1.1 400 ", 13) || count(out, "HTTP/1.1") != 1) {
            fprintf(stderr, "case %zu: %s\n", i, out);
            return -1;
        }
    }
    /* Another major version: 505 (more in test_http_smuggling.c). */
    talks("GET / HTTP/2.0\r\n\r\n");
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 505 ", 13) && count(out, "HTTP/1.1") == 1);
    return done();
}

WEFT_TEST(timeouts)
{
    weft_http_server_opts o = {.header_timeout_s = 0.3, .keepalive_s = 0.4, .body_timeout_s = 0.3};
    server(&o);
    double t0 = weft_now();
    talk0("GET / HTTP/1.1\r\nHost: x\r\nHost:");
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 408 ", 13));
    WEFT_TEST_CHECK(weft_now() - t0 < 2);
    /* An idle keep-alive connection is closed without a word. */
    t0 = weft_now();
    talk0("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    WEFT_TEST_CHECK(count(out, "200 OK") == 1 && !strstr(out, "408"));
    WEFT_TEST_CHECK(weft_now() - t0 >= 0.3 && weft_now() - t0 < 2);
    /* A client that never reads the response: the write is given up. */
    int sv[2];
    WEFT_TEST_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    weft_stream *a = weft_stream_from_fd(sv[0]), *b = weft_stream_from_fd(sv[1]);
    weft_task *t = weft_spawn(serve_task, b);
    const char *huge = "GET /huge HTTP/1.1\r\nHost: x\r\n\r\n";
    weft_stream_write(a, huge, strlen(huge));
    weft_sleep(0.2);
    WEFT_TEST_CHECK(!weft_done(t));
    WEFT_TEST_CHECK(weft_wait_for(t, 3) == 0);
    weft_stream_close(a);
    return done();
}

static char dir[64];

static int make_tree(void)
{
    strcpy(dir, "/tmp/weft-static-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    char p[128];
    snprintf(p, sizeof p, "%s/pub", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/pub/a.txt", dir);
    FILE *f = fopen(p, "w");
    fputs("0123456789", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/pub/index.html", dir);
    f = fopen(p, "w");
    fputs("<h1>hi</h1>", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/secret.txt", dir);
    f = fopen(p, "w");
    fputs("SECRET", f);
    fclose(f);
    char link[128];
    snprintf(link, sizeof link, "%s/pub/out", dir);
    snprintf(p, sizeof p, "%s/secret.txt", dir);
    return symlink(p, link);
}

static void rm_tree(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) {}
}

WEFT_TEST(static_files)
{
    WEFT_TEST_CHECK(make_tree() == 0);
    server(NULL);
    char pub[128];
    snprintf(pub, sizeof pub, "%s/pub", dir);
    WEFT_TEST_CHECK(weft_http_server_static(S, "/s", pub) == 0);
    talks("GET /s/a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 200 ", 13) && strstr(out, "\r\n\r\n0123456789"));
    WEFT_TEST_CHECK(strstr(out, "Content-Type: text/plain") && strstr(out, "Last-Modified: "));
    talks("GET /s/ HTTP/1.1\r\nHost: x\r\n\r\n");
    WEFT_TEST_CHECK(strstr(out, "<h1>hi</h1>") && strstr(out, "text/html"));
    talks("GET /s/a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=2-4\r\n\r\n");
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 206 ", 13) && strstr(out, "\r\n\r\n234") &&
                    strstr(out, "Content-Range: bytes 2-4/10"));
    talks("GET /s/a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=-3\r\n\r\n");
    WEFT_TEST_CHECK(strstr(out, "\r\n\r\n789"));
    talks("GET /s/a.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=20-\r\n\r\n");
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 416 ", 13) && strstr(out, "bytes */10"));
    talks("GET /s/a.txt HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n\r\n");
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 304 ", 13) && !strstr(out, "0123"));
    talks("GET /s/a.txt HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n");
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 200 ", 13));
    talks("HEAD /s/a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /s/a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    WEFT_TEST_CHECK(count(out, "0123456789") == 1 && count(out, "200 OK") == 2);
    /* Traversal, plain or encoded, and a symlink that points outside. */
    static const char *const evil[] = {
        "GET /s/../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /s/%2e%2e/secret.txt HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /s/%2E%2E%2fsecret.txt HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /s/..%5csecret.txt HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /s/out HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /s/a.txt%00.html HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /s/./../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /s/nope.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++) {
        talks(evil[i]);
        if (strstr(out, "SECRET") || strncmp(out, "HTTP/1.1 404 ", 13)) {
            fprintf(stderr, "case %zu: %s\n", i, out);
            return -1;
        }
    }
    talks("POST /s/a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 405 ", 13));
    rm_tree();
    return done();
}

WEFT_TEST(access_log)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    weft_http_server_opts o = {.access_log = f};
    server(&o);
    talks("GET /?q=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /nothing HTTP/1.1\r\nHost: x\r\n\r\n");
    fclose(f);
    int ok = strstr(buf, "\"GET /?q=1 HTTP/1.1\" 200 13 ") && strstr(buf, "\"GET /nothing HTTP/1.1\" 404");
    free(buf);
    WEFT_TEST_CHECK(ok);
    return done();
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(hello_pipelined), WEFT_TEST_CASE(routing),
               WEFT_TEST_CASE(middleware), WEFT_TEST_CASE(bodies), WEFT_TEST_CASE(limits),
               WEFT_TEST_CASE(smuggling), WEFT_TEST_CASE(timeouts),
               WEFT_TEST_CASE(static_files), WEFT_TEST_CASE(access_log))
