/* The client session against weft's own server on loopback: bodies both
 * ways, chunked, gzip, redirects, cookies, every timeout with its own code,
 * the pool's limits and slot release on every path, stale connections. */
#include <weft/http.h>
#include <weft/test.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static weft_http_server *S;
static int port;
static char url[256];

static const char *U(const char *path)
{
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    return url;
}

static int h_hello(weft_http_request *req, void *arg)
{
    return weft_http_respond(req, 200, "text/plain", "Hello, World!", 13);
}

static int h_echo(weft_http_request *req, void *arg)
{
    const char *b;
    size_t n;
    int r = weft_http_request_body(req, &b, &n);
    if (r < 0) return r;
    const char *te = weft_http_request_header(req, "transfer-encoding");
    weft_http_reply_header(req, "X-Chunked", te ? "yes" : "no");
    const char *ck = weft_http_request_header(req, "cookie");
    weft_http_reply_header(req, "X-Cookie", ck ? ck : "");
    return weft_http_respond(req, 200, NULL, b, n);
}

static int h_sleep(weft_http_request *req, void *arg)
{
    int r = weft_sleep(atof(weft_http_request_param(req, "s")));
    if (r < 0) return r;
    return weft_http_respond(req, 200, NULL, "late", 4);
}

static int h_redirect(weft_http_request *req, void *arg)
{
    int n = atoi(weft_http_request_param(req, "n"));
    char loc[64];
    if (n == 0) return weft_http_respond(req, 200, NULL, "landed", 6);
    snprintf(loc, sizeof loc, "/redirect/%d", n - 1);
    weft_http_reply_header(req, "Location", loc);
    return weft_http_respond(req, n % 2 ? 302 : 307, NULL, "", 0);
}

static int h_cookie(weft_http_request *req, void *arg)
{
    weft_http_reply_header(req, "Set-Cookie", "sid=abc123; Path=/; HttpOnly");
    weft_http_reply_header(req, "Set-Cookie", "other=1; Path=/nowhere");
    return weft_http_respond(req, 200, NULL, "set", 3);
}

static int h_gzip(weft_http_request *req, void *arg)
{
    static char text[20000], gz[20000];
    for (size_t i = 0; i < sizeof text; i++) text[i] = (char)('a' + i % 26);
    z_stream z = {0};
    deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)text;
    z.avail_in = sizeof text;
    z.next_out = (Bytef *)gz;
    z.avail_out = sizeof gz;
    deflate(&z, Z_FINISH);
    size_t n = sizeof gz - z.avail_out;
    deflateEnd(&z);
    weft_http_reply_header(req, "Content-Encoding", "gzip");
    /* Chunked, in small pieces, to exercise both decoders together. */
    int r = weft_http_reply_start(req, 200, "text/plain", -1);
    for (size_t off = 0; r >= 0 && off < n; off += 100)
        r = (int)weft_http_reply_write(req, gz + off, n - off < 100 ? n - off : 100);
    return r < 0 ? r : weft_http_reply_end(req);
}

static int h_big(weft_http_request *req, void *arg)
{
    static char big[100000];
    memset(big, 'x', sizeof big);
    return weft_http_respond(req, 200, NULL, big, sizeof big);
}

static int h_status(weft_http_request *req, void *arg)
{
    return weft_http_respond(req, atoi(weft_http_request_param(req, "code")), NULL, "st", 2);
}

static int start(double keepalive)
{
    weft_http_server_opts o = {.keepalive_s = keepalive};
    S = weft_http_server_new(&o);
    weft_http_server_route(S, "GET", "/", h_hello, NULL);
    weft_http_server_route(S, "*", "/echo", h_echo, NULL);
    weft_http_server_route(S, "GET", "/sleep/{s}", h_sleep, NULL);
    weft_http_server_route(S, "*", "/redirect/{n}", h_redirect, NULL);
    weft_http_server_route(S, "GET", "/cookie", h_cookie, NULL);
    weft_http_server_route(S, "GET", "/gzip", h_gzip, NULL);
    weft_http_server_route(S, "GET", "/big", h_big, NULL);
    weft_http_server_route(S, "GET", "/status/{code}", h_status, NULL);
    int r = weft_http_server_listen(S, "127.0.0.1", 0);
    port = weft_http_server_port(S);
    return r;
}

static int stop(void)
{
    int r = weft_http_server_close(S, 1);
    S = NULL;
    return r;
}

static int body_is(weft_http_response *r, const char *want)
{
    const char *d;
    size_t n;
    if (weft_http_response_body(r, &d, &n) < 0) return 0;
    return n == strlen(want) && !memcmp(d, want, n);
}

static int parts;
static ssize_t gen(void *arg, void *buf, size_t n)
{
    if (parts == 3) return 0;
    parts++;
    memcpy(buf, "abc", 3);
    return 3;
}

WEFT_TEST(basics)
{
    WEFT_TEST_CHECK(start(0) == 0);
    weft_http_client *c = weft_http_client_new(NULL);
    weft_http_response *r;
    WEFT_TEST_CHECK(weft_http_client_get(c, U("/"), &r) == 0);
    WEFT_TEST_CHECK(weft_http_response_status(r) == 200);
    WEFT_TEST_CHECK(!strcmp(weft_http_response_reason(r), "OK"));
    WEFT_TEST_CHECK(!strcmp(weft_http_response_header(r, "CONTENT-type"), "text/plain"));
    WEFT_TEST_CHECK(body_is(r, "Hello, World!"));
    weft_http_response_free(r);
    /* Keep-alive: the same connection serves the next requests. */
    for (int i = 0; i < 5; i++) {
        WEFT_TEST_CHECK(weft_http_client_get(c, U("/"), &r) == 0);
        weft_http_response_free(r);
    }
    WEFT_TEST_CHECK(weft_http_client_connections(c) == 1);
    /* A body from memory, and one streamed (chunked). */
    weft_http_req_opts o = {.body = "payload", .body_len = 7};
    WEFT_TEST_CHECK(weft_http_client_request(c, "PUT", U("/echo"), &o, &r) == 0);
    WEFT_TEST_CHECK(body_is(r, "payload"));
    WEFT_TEST_CHECK(!strcmp(weft_http_response_header(r, "x-chunked"), "no"));
    weft_http_response_free(r);
    parts = 0;
    weft_http_req_opts so = {.body_fn = gen};
    WEFT_TEST_CHECK(weft_http_client_request(c, "POST", U("/echo"), &so, &r) == 0);
    WEFT_TEST_CHECK(body_is(r, "abcabcabc"));
    WEFT_TEST_CHECK(!strcmp(weft_http_response_header(r, "x-chunked"), "yes"));
    weft_http_response_free(r);
    /* HEAD has no body even with a Content-Length. */
    WEFT_TEST_CHECK(weft_http_client_request(c, "HEAD", U("/"), NULL, &r) == 0);
    WEFT_TEST_CHECK(body_is(r, "") && !strcmp(weft_http_response_header(r, "content-length"), "13"));
    weft_http_response_free(r);
    /* Custom headers override the defaults. */
    weft_http_header hs[] = {{"User-Agent", "tester"}, {"X-Bad", "a\r\nInjected: 1"}};
    weft_http_req_opts ho = {.headers = hs, .nheaders = 2};
    WEFT_TEST_CHECK(weft_http_client_request(c, "GET", U("/"), &ho, &r) == -EINVAL);
    WEFT_TEST_CHECK(weft_http_client_connections(c) == 1);
    WEFT_TEST_CHECK(weft_http_client_close(c) == 0);
    return stop();
}

WEFT_TEST(gzip_and_bodies)
{
    WEFT_TEST_CHECK(start(0) == 0);
    weft_http_client *c = weft_http_client_new(NULL);
    weft_http_response *r;
    WEFT_TEST_CHECK(weft_http_client_get(c, U("/gzip"), &r) == 0);
    const char *d;
    size_t n;
    WEFT_TEST_CHECK(weft_http_response_body(r, &d, &n) == 0);
    WEFT_TEST_CHECK(n == 20000 && d[0] == 'a' && d[25] == 'z' && d[19999] == 'a' + 19999 % 26);
    weft_http_response_free(r);
    /* Streamed reads in small pieces. */
    WEFT_TEST_CHECK(weft_http_client_request(c, "GET", U("/big"), NULL, &r) == 0);
    char buf[777];
    size_t total = 0;
    ssize_t k;
    while ((k = weft_http_response_read(r, buf, sizeof buf)) > 0) total += (size_t)k;
    WEFT_TEST_CHECK(k == 0 && total == 100000);
    weft_http_response_free(r);
    WEFT_TEST_CHECK(weft_http_client_connections(c) == 1);
    weft_http_client_close(c);
    /* The body limit. */
    weft_http_client_opts lo = {.max_body_bytes = 1000};
    c = weft_http_client_new(&lo);
    WEFT_TEST_CHECK(weft_http_client_request(c, "GET", U("/big"), NULL, &r) == 0);
    WEFT_TEST_CHECK(weft_http_response_body(r, &d, &n) == -WEFT_EHTTP_BODY_SIZE);
    weft_http_response_free(r);
    WEFT_TEST_CHECK(weft_http_client_connections(c) == 0);
    /* Closing the session under an open response. */
    WEFT_TEST_CHECK(weft_http_client_request(c, "GET", U("/big"), NULL, &r) == 0);
    weft_http_client_close(c);
    char b[10];
    WEFT_TEST_CHECK(weft_http_response_read(r, b, sizeof b) == -WEFT_EHTTP_CLOSED);
    weft_http_response_free(r);
    return stop();
}

WEFT_TEST(redirects_cookies_status)
{
    WEFT_TEST_CHECK(start(0) == 0);
    weft_http_client *c = weft_http_client_new(NULL);
    weft_http_response *r;
    WEFT_TEST_CHECK(weft_http_client_get(c, U("/redirect/3"), &r) == 0);
    WEFT_TEST_CHECK(weft_http_response_redirects(r) == 3 && body_is(r, "landed"));
    WEFT_TEST_CHECK(strstr(weft_http_response_url(r), "/redirect/0"));
    weft_http_response_free(r);
    WEFT_TEST_CHECK(weft_http_client_get(c, U("/redirect/11"), &r) == -WEFT_EHTTP_REDIRECTS);
    WEFT_TEST_CHECK(r == NULL);
    /* Cookies come back on later requests to matching paths. */
    WEFT_TEST_CHECK(weft_http_client_get(c, U("/cookie"), &r) == 0);
    weft_http_response_free(r);
    WEFT_TEST_CHECK(weft_http_client_get(c, U("/echo"), &r) == 0);
    WEFT_TEST_CHECK(!strcmp(weft_http_response_header(r, "x-cookie"), "sid=abc123"));
    weft_http_response_free(r);
    weft_http_client_close(c);
    /* No redirects followed, and raise_for_status. */
    weft_http_client_opts o = {.max_redirects = -1, .raise_for_status = 1};
    c = weft_http_client_new(&o);
    WEFT_TEST_CHECK(weft_http_client_get(c, U("/redirect/1"), &r) == 0);
    WEFT_TEST_CHECK(weft_http_response_status(r) == 302);
    weft_http_response_free(r);
    WEFT_TEST_CHECK(weft_http_client_get(c, U("/status/404"), &r) == -WEFT_EHTTP_STATUS);
    WEFT_TEST_CHECK(weft_http_client_get(c, U("/status/503"), &r) == -WEFT_EHTTP_STATUS);
    WEFT_TEST_CHECK(weft_http_client_get(c, "ftp://x/", &r) == -WEFT_EHTTP_URL);
    WEFT_TEST_CHECK(weft_http_client_get(c, "http://:80/", &r) == -WEFT_EHTTP_URL);
    WEFT_TEST_CHECK(weft_http_client_get(c, "http://a b/", &r) == -WEFT_EHTTP_URL);
    WEFT_TEST_CHECK(weft_http_client_get(c, "http://127.0.0.1:1/", &r) == -ECONNREFUSED);
    WEFT_TEST_CHECK(weft_http_client_connections(c) <= 1);
    weft_http_client_close(c);
    return stop();
}

WEFT_TEST(timeouts)
{
    WEFT_TEST_CHECK(start(0) == 0);
    weft_http_client_opts o = {.read_timeout_s = 0.2, .limit = 1, .pool_timeout_s = 0.2};
    weft_http_client *c = weft_http_client_new(&o);
    weft_http_response *r;
    WEFT_TEST_CHECK(weft_http_client_get(c, U("/sleep/1"), &r) == -WEFT_EHTTP_READ_TIMEOUT);
    WEFT_TEST_CHECK(weft_http_client_connections(c) == 0);
    /* Pool wait: the only slot is held by an open response. */
    WEFT_TEST_CHECK(weft_http_client_request(c, "GET", U("/big"), NULL, &r) == 0);
    weft_http_response *r2;
    WEFT_TEST_CHECK(weft_http_client_get(c, U("/"), &r2) == -WEFT_EHTTP_POOL_TIMEOUT);
    weft_http_response_free(r); /* early close: the slot comes back */
    WEFT_TEST_CHECK(weft_http_client_connections(c) == 0);
    WEFT_TEST_CHECK(weft_http_client_get(c, U("/"), &r2) == 0);
    weft_http_response_free(r2);
    weft_http_client_close(c);
    weft_http_client_opts t = {.total_timeout_s = 0.3};
    c = weft_http_client_new(&t);
    double t0 = weft_now();
    WEFT_TEST_CHECK(weft_http_client_get(c, U("/sleep/2"), &r) == -WEFT_EHTTP_TOTAL_TIMEOUT);
    WEFT_TEST_CHECK(weft_now() - t0 < 1.9); /* 0.3 s, not the 2 s of the sleep */
    WEFT_TEST_CHECK(strcmp(weft_strerror(-WEFT_EHTTP_TOTAL_TIMEOUT),
                           weft_strerror(-WEFT_EHTTP_READ_TIMEOUT)));
    weft_http_client_close(c);
    return stop();
}

static weft_http_client *PC;
static int max_conns;
static int get_task(void *arg)
{
    weft_http_response *r;
    int e = weft_http_client_get(PC, (const char *)arg, &r);
    if ((int)weft_http_client_connections(PC) > max_conns)
        max_conns = (int)weft_http_client_connections(PC);
    weft_http_response_free(r);
    return e;
}

WEFT_TEST(pool_limits_and_cancel)
{
    WEFT_TEST_CHECK(start(0) == 0);
    weft_http_client_opts o = {.limit = 4, .limit_per_host = 2};
    PC = weft_http_client_new(&o);
    max_conns = 0;
    static char u1[128], u2[128];
    snprintf(u1, sizeof u1, "http://127.0.0.1:%d/sleep/0.05", port);
    snprintf(u2, sizeof u2, "http://localhost:%d/sleep/0.05", port);
    weft_task *ts[20];
    for (int i = 0; i < 20; i++) ts[i] = weft_spawn(get_task, i % 2 ? u1 : u2);
    WEFT_TEST_CHECK(weft_gather(ts, 20, NULL) == 0);
    WEFT_TEST_CHECK(max_conns <= 4 && max_conns >= 2);
    /* Cancelled while waiting for a response: the slot is released. */
    static char slow[128];
    snprintf(slow, sizeof slow, "http://127.0.0.1:%d/sleep/5", port);
    weft_task *a = weft_spawn(get_task, slow), *b = weft_spawn(get_task, slow);
    weft_sleep(0.1);
    weft_cancel(a);
    weft_cancel(b);
    WEFT_TEST_CHECK(weft_await(a) == -ECANCELED && weft_await(b) == -ECANCELED);
    size_t idle = weft_http_client_connections(PC);
    WEFT_TEST_CHECK(idle <= 4);
    /* Both per-host slots are free again: two requests at once succeed. */
    ts[0] = weft_spawn(get_task, u1);
    ts[1] = weft_spawn(get_task, u1);
    WEFT_TEST_CHECK(weft_gather(ts, 2, NULL) == 0);
    weft_http_client_close(PC);
    /* Idle expiry: two pooled connections, both past keepalive_s, are gone
     * once the pool is used again. */
    PC = weft_http_client_new(&(weft_http_client_opts){.keepalive_s = 0.2});
    ts[0] = weft_spawn(get_task, u1);
    ts[1] = weft_spawn(get_task, u1);
    WEFT_TEST_CHECK(weft_gather(ts, 2, NULL) == 0);
    WEFT_TEST_CHECK(weft_http_client_connections(PC) == 2);
    weft_sleep(0.4);
    WEFT_TEST_CHECK(get_task(u1) == 0);
    WEFT_TEST_CHECK(weft_http_client_connections(PC) == 1);
    weft_http_client_close(PC);
    return stop();
}

/* Limits past int's range mean "no limit". They used to be cast to int for
 * the semaphores: SIZE_MAX became -1 (no session at all), 2^32 became 0
 * (every request waited for a slot that never came). */
WEFT_TEST(huge_limits)
{
    WEFT_TEST_CHECK(start(0) == 0);
    static char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", port);
    size_t huge[] = {SIZE_MAX, (size_t)1 << 32, ((size_t)1 << 32) + 1, (size_t)INT_MAX + 1};
    for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
        weft_http_client_opts o = {.limit = huge[i], .limit_per_host = huge[i],
                                   .pool_timeout_s = 2};
        PC = weft_http_client_new(&o);
        WEFT_TEST_CHECK(PC != NULL);
        weft_task *ts[3];
        for (int k = 0; k < 3; k++) ts[k] = weft_spawn(get_task, u);
        int res[3];
        WEFT_TEST_CHECK(weft_gather(ts, 3, res) == 0);
        WEFT_TEST_CHECK(weft_http_client_connections(PC) >= 1);
        weft_http_client_close(PC);
    }
    return stop();
}

WEFT_TEST(stale_connection)
{
    /* The server drops idle connections after 0.2 s; the client keeps them
     * for 15 s, so its pooled one goes stale and must be detected. */
    WEFT_TEST_CHECK(start(0.2) == 0);
    weft_http_client *c = weft_http_client_new(NULL);
    weft_http_response *r;
    WEFT_TEST_CHECK(weft_http_client_get(c, U("/"), &r) == 0);
    weft_http_response_free(r);
    WEFT_TEST_CHECK(weft_http_client_connections(c) == 1);
    weft_sleep(0.8);
    WEFT_TEST_CHECK(weft_http_client_get(c, U("/"), &r) == 0);
    WEFT_TEST_CHECK(body_is(r, "Hello, World!"));
    weft_http_response_free(r);
    WEFT_TEST_CHECK(weft_http_client_connections(c) == 1);
    /* A POST is not resent, so its stale connection must be found before
     * use; a GET meets it and is resent once. */
    weft_sleep(0.5);
    weft_http_req_opts o = {.body = "x", .body_len = 1};
    WEFT_TEST_CHECK(weft_http_client_request(c, "POST", U("/echo"), &o, &r) == 0);
    WEFT_TEST_CHECK(body_is(r, "x"));
    weft_http_response_free(r);
    weft_sleep(0.5);
    WEFT_TEST_CHECK(weft_http_client_request(c, "PUT", U("/echo"), &o, &r) == 0);
    WEFT_TEST_CHECK(body_is(r, "x"));
    weft_http_response_free(r);
    WEFT_TEST_CHECK(weft_http_client_connections(c) == 1);
    weft_http_client_close(c);
    return stop();
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(basics), WEFT_TEST_CASE(gzip_and_bodies),
               WEFT_TEST_CASE(redirects_cookies_status), WEFT_TEST_CASE(timeouts),
               WEFT_TEST_CASE(pool_limits_and_cancel), WEFT_TEST_CASE(stale_connection),
               WEFT_TEST_CASE(huge_limits))
