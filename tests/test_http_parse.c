/* The HTTP parser glue over in-memory buffers. Each input sits at the very
 * end of a page followed by a PROT_NONE page (as picohttpparser's tests do),
 * so any read past the end faults at once. */
#include "check.h"
#include "http/internal.h"
#include "http/client_internal.h"
#include <sys/mman.h>
#include <unistd.h>

static char *guard_base;
static size_t pg;

/* Copies s to the end of a readable page that a PROT_NONE page follows. */
static const char *guarded(const char *s, size_t n)
{
    if (!guard_base) {
        pg = (size_t)sysconf(_SC_PAGESIZE);
        guard_base = mmap(NULL, 17 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                          -1, 0);
        CHECK(guard_base != MAP_FAILED);
        CHECK(mprotect(guard_base + 16 * pg, pg, PROT_NONE) == 0);
    }
    CHECK(n <= 16 * pg);
    char *p = guard_base + 16 * pg - n;
    memcpy(p, s, n);
    return p;
}

static char arena[1 << 16];
static weft__head H;

/* Parses a whole request head; returns the head length or the error. */
static long head(int type, const char *s, size_t max)
{
    static weft__parser P;
    weft__parser_init(&P, type, max);
    size_t n = strlen(s);
    const char *g = guarded(s, n);
    long r = weft__parser_head(&P, g, n);
    if (r > 0) CHECK_EQ(weft__parser_copy_head(&P, g, arena, sizeof arena, &H), 0);
    return r;
}

static long req(const char *s) { return head(HTTP_REQUEST, s, 8192); }

static void t_simple(void)
{
    const char *s = "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\nX-Y:  v v \r\n\r\n";
    CHECK_EQ(req(s), (long)strlen(s));
    CHECK(!strcmp(H.method, "GET"));
    CHECK(!strcmp(H.path, "/a/b"));
    CHECK(!strcmp(H.query, "x=1&y=2"));
    CHECK_EQ(H.nheaders, 2);
    CHECK(!strcmp(weft__header_find(H.headers, H.nheaders, "host"), "example.com"));
    CHECK(!strcmp(weft__header_find(H.headers, H.nheaders, "x-y"), "v v"));
    CHECK_EQ(H.keep_alive, 1);
    CHECK_EQ(H.content_length, -1);
    CHECK_EQ(H.chunked, 0);
}

/* The head followed by body bytes: the returned length stops at the head. */
static void t_head_then_body(void)
{
    const char *s = "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    CHECK_EQ(req(s), (long)strlen(s) - 5);
    CHECK_EQ(H.content_length, 5);
}

/* Byte by byte: every prefix is "need more", and spans that arrive in
 * pieces come out whole. */
static void t_incremental(void)
{
    const char *s = "PUT /long/path HTTP/1.1\r\nHost: h\r\nLong-Header-Name: some value\r\n"
                    "Connection: close\r\n\r\n";
    size_t n = strlen(s);
    weft__parser P;
    weft__parser_init(&P, HTTP_REQUEST, 8192);
    long r = 0;
    for (size_t i = 1; i <= n; i++) {
        const char *g = guarded(s, i);
        r = weft__parser_head(&P, g, i);
        if (i < n) CHECK_EQ(r, 0);
    }
    CHECK_EQ(r, (long)n);
    CHECK_EQ(weft__parser_copy_head(&P, guarded(s, n), arena, sizeof arena, &H), 0);
    CHECK(!strcmp(H.method, "PUT"));
    CHECK(!strcmp(H.path, "/long/path"));
    CHECK(!strcmp(weft__header_find(H.headers, H.nheaders, "long-header-name"), "some value"));
    CHECK_EQ(H.keep_alive, 0);
}

static void t_http10(void)
{
    CHECK(req("GET / HTTP/1.0\r\n\r\n") > 0);
    CHECK_EQ(H.keep_alive, 0);
    CHECK(req("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n") > 0);
    CHECK_EQ(H.keep_alive, 1);
}

static void t_expect(void)
{
    CHECK(req("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n") > 0);
    CHECK_EQ(H.expect_continue, 1);
}

/* Request smuggling and other malformed heads. */
static void t_bad(void)
{
    /* Content-Length and Transfer-Encoding together. */
    CHECK_EQ(req("POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"),
             -WEFT_EHTTP_PARSE);
    /* Two different Content-Lengths, and two equal ones. */
    CHECK_EQ(req("POST / HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n"),
             -WEFT_EHTTP_PARSE);
    CHECK_EQ(req("POST / HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\n"),
             -WEFT_EHTTP_PARSE);
    /* Non-numeric and signed lengths. */
    CHECK_EQ(req("POST / HTTP/1.1\r\nContent-Length: 4x\r\n\r\n"), -WEFT_EHTTP_PARSE);
    CHECK_EQ(req("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), -WEFT_EHTTP_PARSE);
    /* Transfer-Encoding that does not end in chunked (length unknowable). */
    CHECK_EQ(req("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
             -WEFT_EHTTP_PARSE);
    /* obs-fold. */
    CHECK_EQ(req("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"), -WEFT_EHTTP_PARSE);
    /* Space before the colon. */
    CHECK_EQ(req("GET / HTTP/1.1\r\nHost : x\r\n\r\n"), -WEFT_EHTTP_PARSE);
    /* Control bytes in a value, NUL in a name. */
    CHECK_EQ(req("GET / HTTP/1.1\r\nX: a\001b\r\n\r\n"), -WEFT_EHTTP_PARSE);
    /* Bare LF line ends and a bad version. */
    CHECK_EQ(req("GET / HTTP/1.1\nHost: x\n\n"), -WEFT_EHTTP_PARSE);
    CHECK_EQ(req("GET / HTTP/9.1\r\n\r\n"), -WEFT_EHTTP_PARSE);
    CHECK_EQ(req("G@T / HTTP/1.1\r\n\r\n"), -WEFT_EHTTP_PARSE);
    CHECK_EQ(req("GET /a b HTTP/1.1\r\n\r\n"), -WEFT_EHTTP_PARSE);
}

static void t_limits(void)
{
    char big[4096];
    strcpy(big, "GET / HTTP/1.1\r\nX: ");
    size_t n = strlen(big);
    memset(big + n, 'a', 1000);
    strcpy(big + n + 1000, "\r\n\r\n");
    CHECK(head(HTTP_REQUEST, big, 2000) > 0);
    CHECK_EQ(head(HTTP_REQUEST, big, 500), -WEFT_EHTTP_HEADERS_SIZE);
    /* An incomplete head that already fills the limit. */
    big[n + 600] = 0;
    CHECK_EQ(head(HTTP_REQUEST, big, 500), -WEFT_EHTTP_HEADERS_SIZE);
    CHECK_EQ(head(HTTP_REQUEST, big, 2000), 0);
    /* Too many headers. */
    char many[8192] = "GET / HTTP/1.1\r\n";
    for (int i = 0; i < WEFT_HTTP_MAX_HEADERS + 1; i++) strcat(many, "A: b\r\n");
    strcat(many, "\r\n");
    CHECK_EQ(head(HTTP_REQUEST, many, 8192), -WEFT_EHTTP_HEADERS_SIZE);
}

/* Decodes a body given in pieces of `step` bytes; returns the bytes
 * consumed (stopping at the message end) or the error. */
static long body(const char *s, size_t step, char *out, size_t *outlen)
{
    weft__parser P;
    weft__parser_init(&P, HTTP_REQUEST, 8192);
    size_t n = strlen(s);
    long h = weft__parser_head(&P, guarded(s, n), n);
    if (h <= 0) return h;
    size_t off = (size_t)h;
    *outlen = 0;
    while (!P.msg_done && off < n) {
        size_t k = n - off < step ? n - off : step;
        size_t got;
        long r = weft__parser_body(&P, guarded(s + off, k), k, out + *outlen, &got);
        if (r < 0) return r;
        *outlen += got;
        off += (size_t)r;
        if (!P.msg_done && (size_t)r != k) return -999;
    }
    return P.msg_done ? (long)off : 0;
}

static void t_chunked(void)
{
    const char *s = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\nGET / HTTP/1.1";
    char out[64];
    size_t len;
    for (size_t step = 1; step < 80; step += 7) {
        long r = body(s, step, out, &len);
        CHECK_EQ(r, (long)(strlen(s) - strlen("GET / HTTP/1.1")));
        CHECK_EQ(len, 12);
        CHECK(!memcmp(out, "hello, world", 12));
    }
    /* Bad chunk sizes: not hex, overflowing, negative. */
    CHECK_EQ(body("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 100, out, &len),
             -WEFT_EHTTP_PARSE);
    CHECK_EQ(body("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "fffffffffffffffffff\r\n",
                  100, out, &len),
             -WEFT_EHTTP_PARSE);
    CHECK_EQ(body("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 100, out, &len),
             -WEFT_EHTTP_PARSE);
    /* Chunk data not followed by CRLF. */
    CHECK_EQ(body("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n", 100,
                  out, &len),
             -WEFT_EHTTP_PARSE);
}

static void t_content_length_body(void)
{
    const char *s = "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET";
    char out[16];
    size_t len;
    CHECK_EQ(body(s, 2, out, &len), (long)strlen(s) - 3);
    CHECK_EQ(len, 5);
    CHECK(!memcmp(out, "hello", 5));
}

static void t_response(void)
{
    const char *s = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 0\r\n\r\n";
    CHECK_EQ(head(HTTP_RESPONSE, s, 8192), (long)strlen(s));
    CHECK_EQ(H.status, 404);
    CHECK(!strcmp(H.reason, "Not Found"));
    CHECK(!strcmp(weft__header_find(H.headers, H.nheaders, "CONTENT-TYPE"), "text/plain"));
    CHECK_EQ(head(HTTP_RESPONSE, "HTTP/1.1 abc OK\r\n\r\n", 8192), -WEFT_EHTTP_PARSE);
    CHECK_EQ(head(HTTP_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                  8192),
             -WEFT_EHTTP_PARSE);
    /* A response body delimited by the connection's end. */
    weft__parser P;
    weft__parser_init(&P, HTTP_RESPONSE, 8192);
    const char *r = "HTTP/1.0 200 OK\r\n\r\nabc";
    long h = weft__parser_head(&P, r, strlen(r));
    CHECK(h > 0);
    char out[8];
    size_t got;
    CHECK_EQ(weft__parser_body(&P, r + h, 3, out, &got), 3);
    CHECK_EQ(got, 3);
    CHECK_EQ(P.msg_done, 0);
    CHECK_EQ(weft__parser_eof(&P), 1);
    /* The client decodes with the server's decoder: the bytes after chunk
     * data are checked there too (issue 10 item 4, a pooled connection's
     * next response would start inside this one), and a truncated chunked
     * body is not complete at EOF. */
    weft__parser_init(&P, HTTP_RESPONSE, 8192);
    r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n";
    h = weft__parser_head(&P, r, strlen(r));
    CHECK(h > 0);
    char big[64];
    CHECK_EQ(weft__parser_body(&P, r + h, strlen(r + h), big, &got), -WEFT_EHTTP_PARSE);
    weft__parser_init(&P, HTTP_RESPONSE, 8192);
    r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n";
    h = weft__parser_head(&P, r, strlen(r));
    CHECK_EQ(weft__parser_body(&P, r + h, strlen(r + h), big, &got), (long)strlen(r + h));
    CHECK_EQ(weft__parser_eof(&P), 0);
    /* A response whose codings do not end in chunked runs until close. */
    weft__parser_init(&P, HTTP_RESPONSE, 8192);
    r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nxyz";
    h = weft__parser_head(&P, r, strlen(r));
    CHECK(h > 0);
    CHECK_EQ(weft__parser_body(&P, r + h, 3, big, &got), 3);
    CHECK_EQ(weft__parser_eof(&P), 1);
}

static void t_helpers(void)
{
    CHECK(weft__has_token("keep-alive, Upgrade", "upgrade"));
    CHECK(!weft__has_token("keep-alivex", "keep-alive"));
    CHECK(weft__header_ok("X-A", "b c"));
    CHECK(!weft__header_ok("X A", "b"));
    CHECK(!weft__header_ok("X", "a\r\nInjected: 1"));
    char d[40];
    weft__http_fmt_date(784111777, d);
    CHECK(!strcmp(d, "Sun, 06 Nov 1994 08:49:37 GMT"));
    CHECK_EQ(weft__http_parse_date(d), 784111777);
    CHECK_EQ(weft__http_parse_date("yesterday"), -1);
    CHECK(!strcmp(weft_strerror(-WEFT_EHTTP_BODY_SIZE), "HTTP body too large"));
}

static void t_urls(void)
{
    weft__url u;
    CHECK_EQ(weft__url_parse("http://example.com", &u), 0);
    CHECK(!strcmp(u.host, "example.com") && u.port == 80 && !strcmp(u.target, "/") && !u.tls);
    CHECK_EQ(weft__url_parse("HTTPS://h:8443/a/b?c=d#frag", &u), 0);
    CHECK(u.tls && u.port == 8443 && !strcmp(u.target, "/a/b?c=d"));
    CHECK_EQ(weft__url_parse("http://[::1]:81/x", &u), 0);
    CHECK(!strcmp(u.host, "::1") && u.port == 81 && u.ipv6);
    CHECK_EQ(weft__url_parse("http://h?q", &u), 0);
    CHECK(!strcmp(u.target, "/?q"));
    /* user:pass@ is kept apart (the last '@' ends it) and never formatted. */
    CHECK_EQ(weft__url_parse("http://us%40er:p@ss@h:81/x", &u), 0);
    CHECK(!strcmp(u.userinfo, "us%40er:p@ss") && !strcmp(u.host, "h") && u.port == 81);
    char f[256];
    weft__url_format(&u, f, sizeof f);
    CHECK(!strcmp(f, "http://h:81/x"));
    static const char *const bad[] = {
        "ftp://h/", "http://", "http:///x", "http://h:0/", "http://h:65536/", "http://h:x/",
        "http://h:/", "http://user@/", "http://u\x01@h/", "http://a b/", "http://[::1/", "http://[::1]x/",
        "http://h/a b", "h/x", "http://h\\/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (weft__url_parse(bad[i], &u) != -WEFT_EHTTP_URL) {
            fprintf(stderr, "accepted %s\n", bad[i]);
            exit(1);
        }
    }
    char out[256];
    CHECK_EQ(weft__url_parse("http://h:8080/a/b?x", &u), 0);
    CHECK_EQ(weft__url_join(&u, "/c", out, sizeof out), 0);
    CHECK(!strcmp(out, "http://h:8080/c"));
    CHECK_EQ(weft__url_join(&u, "c?d", out, sizeof out), 0);
    CHECK(!strcmp(out, "http://h:8080/a/c?d"));
    CHECK_EQ(weft__url_join(&u, "//o/p", out, sizeof out), 0);
    CHECK(!strcmp(out, "http://o/p"));
    CHECK_EQ(weft__url_join(&u, "https://x/", out, sizeof out), 0);
    CHECK(!strcmp(out, "https://x/"));
    CHECK_EQ(weft__url_join(&u, "/c", out, 8), -WEFT_EHTTP_URL);
}

static void t_cookies(void)
{
    static weft_http_client c; /* only the cookie fields are used */
    weft__url u;
    CHECK_EQ(weft__url_parse("http://www.example.com/shop/cart", &u), 0);
    weft__head h = {.nheaders = 4};
    h.headers[0] = (weft_http_header){"Set-Cookie", "a=1; Path=/"};
    h.headers[1] = (weft_http_header){"set-cookie", "b=2; Domain=.example.com; Path=/shop"};
    h.headers[2] = (weft_http_header){"Set-Cookie", "evil=1; Domain=other.com"};
    h.headers[3] = (weft_http_header){"Set-Cookie", "novalue"};
    weft__cookies_store(&c, &u, &h);
    weft__buf b = {0};
    CHECK_EQ(weft__cookies_header(&c, &u, &b), 0);
    CHECK(strstr(b.p, "a=1") && strstr(b.p, "b=2") && !strstr(b.p, "evil"));
    /* Another host of the domain gets the domain cookie only; other paths
     * not the /shop one. */
    weft__url v;
    CHECK_EQ(weft__url_parse("http://api.example.com/", &v), 0);
    b.len = 0;
    CHECK_EQ(weft__cookies_header(&c, &v, &b), 0);
    CHECK(b.len == 0);
    CHECK_EQ(weft__url_parse("http://api.example.com/shop", &v), 0);
    b.len = 0;
    CHECK_EQ(weft__cookies_header(&c, &v, &b), 0);
    CHECK(!strcmp(b.p, "Cookie: b=2\r\n"));
    /* Max-Age=0 deletes. */
    h.nheaders = 1;
    h.headers[0] = (weft_http_header){"Set-Cookie", "a=; Max-Age=0; Path=/"};
    weft__cookies_store(&c, &u, &h);
    b.len = 0;
    CHECK_EQ(weft__cookies_header(&c, &u, &b), 0);
    CHECK(!strstr(b.p, "a=") && strstr(b.p, "b=2"));
    weft__buf_free(&b);
    weft__cookies_free(&c);
}

int main(int argc, char **argv)
{
    static const test_case tc[] = {
        {"simple", t_simple},       {"head_then_body", t_head_then_body},
        {"incremental", t_incremental}, {"http10", t_http10},
        {"expect", t_expect},       {"bad", t_bad},
        {"limits", t_limits},       {"chunked", t_chunked},
        {"content_length_body", t_content_length_body},
        {"response", t_response},   {"helpers", t_helpers},
        {"urls", t_urls},           {"cookies", t_cookies},
        {NULL, NULL}};
    return run_tests(tc, argc, argv);
}
