/* Server response compression and conditional requests (issue 15), against
 * curl (--compressed, raw bytes decoded here with zlib) and aiohttp's
 * client: which responses are compressed (text yes; images, tiny bodies,
 * clients that do not accept, handlers that opt out: no), whole and
 * streamed bodies, static files, gzip and deflate; ETag/If-None-Match and
 * If-Modified-Since giving 304 for handlers and static files. The client's
 * own decoding and its bomb limit are test_http_client(_defects)'s. */
#include <weft/http.h>
#include <weft/test.h>
#include "check.h"
#include "run_cmd.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define TEXT_LEN 20000
static char text[TEXT_LEN + 1];
static char dir[] = "/tmp/weft_compress_XXXXXX";
static int port, port_off;

static int h_text(weft_http_request *req, void *arg)
{
    return weft_http_respond(req, 200, (const char *)arg, text, TEXT_LEN);
}

static int h_tiny(weft_http_request *req, void *arg)
{
    (void)arg;
    return weft_http_respond(req, 200, "text/plain", "hi", 2);
}

/* Streamed in 10 writes; ?len=1 announces the length first. */
static int h_stream(weft_http_request *req, void *arg)
{
    (void)arg;
    char v[8] = "";
    weft_http_request_query_get(req, "len", v, sizeof v);
    int r = weft_http_reply_start(req, 200, "text/html", v[0] == '1' ? TEXT_LEN : -1);
    for (int i = 0; r >= 0 && i < 10; i++)
        r = (int)weft_http_reply_write(req, text + i * (TEXT_LEN / 10), TEXT_LEN / 10);
    return r < 0 ? r : weft_http_reply_end(req);
}

static int h_etag(weft_http_request *req, void *arg)
{
    (void)arg;
    weft_http_reply_header(req, "ETag", "\"v1\"");
    return weft_http_respond(req, 200, "text/plain", text, TEXT_LEN);
}

static int h_lm(weft_http_request *req, void *arg)
{
    (void)arg;
    weft_http_reply_header(req, "Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT");
    return weft_http_respond(req, 200, "text/plain", text, TEXT_LEN);
}

/* arg "0": opts out (on a compressing server); "1": opts in (on one that
 * does not compress). */
static int h_choose(weft_http_request *req, void *arg)
{
    weft_http_reply_compress(req, *(const char *)arg == '1');
    return weft_http_respond(req, 200, "application/json", text, TEXT_LEN);
}

static weft_http_server *start(int compress, int *p)
{
    weft_http_server *s = weft_http_server_new(&(weft_http_server_opts){.compress = compress});
    weft_http_server_route(s, "GET", "/text", h_text, "text/plain; charset=utf-8");
    weft_http_server_route(s, "GET", "/png", h_text, "image/png");
    weft_http_server_route(s, "GET", "/events", h_text, "text/event-stream");
    weft_http_server_route(s, "GET", "/tiny", h_tiny, NULL);
    weft_http_server_route(s, "GET", "/stream", h_stream, NULL);
    weft_http_server_route(s, "GET", "/etag", h_etag, NULL);
    weft_http_server_route(s, "GET", "/lm", h_lm, NULL);
    weft_http_server_route(s, "GET", "/optout", h_choose, "0");
    weft_http_server_route(s, "GET", "/optin", h_choose, "1");
    weft_http_server_static(s, "/files", dir);
    CHECK_EQ(weft_http_server_listen(s, "127.0.0.1", 0), 0);
    *p = weft_http_server_port(s);
    return s;
}

static char out[1 << 17];

/* curl -i: the head (lower-cased names: curl prints them as sent, and
 * weft capitalises) and, after it, the body. Returns the body. */
static const char *curl_i(const char *path, const char *accept, int compressed, int p,
                          size_t *blen, char *head, size_t hcap)
{
    char url[256], h[160];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", p, path);
    snprintf(h, sizeof h, "Accept-Encoding: %s", accept);
    char *argv[12];
    int k = 0;
    argv[k++] = "curl", argv[k++] = "-sSi";
    if (compressed) argv[k++] = "--compressed";
    if (accept) argv[k++] = "-H", argv[k++] = h;
    argv[k++] = url, argv[k] = NULL;
    int st = run_cmd(argv, out, sizeof out);
    CHECK_EQ(st, 0);
    char *sep = strstr(out, "\r\n\r\n");
    CHECK(sep);
    size_t hl = (size_t)(sep - out);
    CHECK(hl < hcap);
    for (size_t i = 0; i < hl; i++) head[i] = (char)(out[i] >= 'A' && out[i] <= 'Z' ? out[i] + 32 : out[i]);
    head[hl] = 0;
    *blen = strlen(sep + 4); /* bodies here are text */
    return sep + 4;
}

#define HAS(h, s) (strstr((h), (s)) || (fprintf(stderr, "no [%s] in:\n%s\n", (s), (h)), 0))
#define HASNT(h, s) (!strstr((h), (s)) || (fprintf(stderr, "[%s] in:\n%s\n", (s), (h)), 0))

/* Inflates raw (gzip or zlib, as windowBits 47 detects) into dst. */
static long inflate_all(const char *raw, size_t n, char *dst, size_t cap)
{
    z_stream z = {0};
    if (inflateInit2(&z, 47) != Z_OK) return -1;
    z.next_in = (Bytef *)raw, z.avail_in = (uInt)n;
    z.next_out = (Bytef *)dst, z.avail_out = (uInt)cap;
    int rc = inflate(&z, Z_FINISH);
    long got = rc == Z_STREAM_END ? (long)(cap - z.avail_out) : -1;
    inflateEnd(&z);
    return got;
}

WEFT_TEST(curl_compressed)
{
    weft_http_server *s = start(1, &port);
    char head[4096];
    size_t n;
    const char *b;
    /* Text: gzip, decoded by curl to the same bytes. */
    b = curl_i("/text", "gzip", 1, port, &n, head, sizeof head);
    WEFT_TEST_CHECK(HAS(head, "content-encoding: gzip") && HAS(head, "vary: accept-encoding"));
    WEFT_TEST_CHECK(n == TEXT_LEN && !memcmp(b, text, TEXT_LEN));
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/text", port);
    /* deflate only: zlib format. */
    b = curl_i("/text", "deflate", 1, port, &n, head, sizeof head);
    WEFT_TEST_CHECK(HAS(head, "content-encoding: deflate"));
    WEFT_TEST_CHECK(n == TEXT_LEN && !memcmp(b, text, TEXT_LEN));
    /* q-values: gzip refused, deflate wanted; both refused; identity only. */
    b = curl_i("/text", "gzip;q=0, deflate;q=0.5", 1, port, &n, head, sizeof head);
    WEFT_TEST_CHECK(HAS(head, "content-encoding: deflate"));
    b = curl_i("/text", "gzip;q=0, deflate;q=0", 0, port, &n, head, sizeof head);
    WEFT_TEST_CHECK(HASNT(head, "content-encoding") && HAS(head, "vary: accept-encoding"));
    WEFT_TEST_CHECK(n == TEXT_LEN && !memcmp(b, text, TEXT_LEN));
    b = curl_i("/text", "identity", 0, port, &n, head, sizeof head);
    WEFT_TEST_CHECK(HASNT(head, "content-encoding") && n == TEXT_LEN);
    b = curl_i("/text", "*", 1, port, &n, head, sizeof head);
    WEFT_TEST_CHECK(HAS(head, "content-encoding: zstd")); /* the server's first choice */
    /* zstd and br: curl's own offer (all four alike) gets zstd; q-values
     * choose; each decoded by curl (libzstd, libbrotli) to the text. */
    b = curl_i("/text", NULL, 1, port, &n, head, sizeof head);
    WEFT_TEST_CHECK(HAS(head, "content-encoding: zstd") && n == TEXT_LEN && !memcmp(b, text, TEXT_LEN));
    b = curl_i("/text", "br", 1, port, &n, head, sizeof head);
    WEFT_TEST_CHECK(HAS(head, "content-encoding: br") && n == TEXT_LEN && !memcmp(b, text, TEXT_LEN));
    b = curl_i("/text", "zstd;q=0.5, br;q=0.8, gzip;q=0.9", 1, port, &n, head, sizeof head);
    WEFT_TEST_CHECK(HAS(head, "content-encoding: gzip"));
    b = curl_i("/text", "gzip;q=0.5, br", 1, port, &n, head, sizeof head);
    WEFT_TEST_CHECK(HAS(head, "content-encoding: br"));
    b = curl_i("/stream", "zstd", 1, port, &n, head, sizeof head);
    WEFT_TEST_CHECK(HAS(head, "content-encoding: zstd") && HAS(head, "transfer-encoding: chunked"));
    WEFT_TEST_CHECK(n == TEXT_LEN && !memcmp(b, text, TEXT_LEN));
    b = curl_i("/stream", "br", 1, port, &n, head, sizeof head);
    WEFT_TEST_CHECK(HAS(head, "content-encoding: br") && n == TEXT_LEN && !memcmp(b, text, TEXT_LEN));
    /* No Accept-Encoding at all: as it is. */
    char *none[] = {"curl", "-sSi", "-H", "Accept-Encoding:", url, NULL};
    WEFT_TEST_CHECK(run_cmd(none, out, sizeof out) == 0);
    WEFT_TEST_CHECK(HASNT(out, "Content-Encoding"));
    /* Not compressed: an image, an event stream, a tiny body, an opt-out. */
    const char *plain[] = {"/png", "/events", "/tiny", "/optout"};
    for (int i = 0; i < 4; i++) {
        curl_i(plain[i], NULL, 1, port, &n, head, sizeof head);
        WEFT_TEST_CHECK(HASNT(head, "content-encoding"));
    }
    /* Streamed: chunked gzip, with or without a length announced. */
    b = curl_i("/stream", "gzip", 1, port, &n, head, sizeof head);
    WEFT_TEST_CHECK(HAS(head, "content-encoding: gzip") && HAS(head, "transfer-encoding: chunked"));
    WEFT_TEST_CHECK(n == TEXT_LEN && !memcmp(b, text, TEXT_LEN));
    b = curl_i("/stream?len=1", "gzip", 1, port, &n, head, sizeof head);
    WEFT_TEST_CHECK(HAS(head, "content-encoding: gzip") && HASNT(head, "content-length"));
    WEFT_TEST_CHECK(n == TEXT_LEN && !memcmp(b, text, TEXT_LEN));
    /* HEAD: the head a GET would get (gzip, chunked: RFC 9112 6.1 lets a
     * HEAD response carry the Transfer-Encoding its GET would have), and
     * not one byte after it: no chunk, no "0" terminator. A pipelined
     * request behind it is answered right after the head. */
    {
        weft_stream *st;
        WEFT_TEST_CHECK(weft_tcp_connect("127.0.0.1", port, NULL, &st) == 0);
        const char *rq = "HEAD /stream?len=1 HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"
                         "HEAD /text HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n"
                         "GET /tiny HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        WEFT_TEST_CHECK(weft_stream_write(st, rq, strlen(rq)) > 0);
        size_t got = 0;
        ssize_t k;
        while ((k = weft_stream_read(st, out + got, sizeof out - 1 - got)) > 0) got += (size_t)k;
        out[got] = 0;
        weft_stream_close(st);
        char *h2 = strstr(out, "\r\n\r\n"), *h3 = h2 ? strstr(h2 + 4, "\r\n\r\n") : NULL;
        WEFT_TEST_CHECK(h2 && h3 && !strncmp(out, "HTTP/1.1 200", 12));
        *h2 = 0;
        WEFT_TEST_CHECK(HAS(out, "Content-Encoding: gzip") && HAS(out, "Transfer-Encoding: chunked"));
        WEFT_TEST_CHECK(HASNT(out, "Content-Length"));
        WEFT_TEST_CHECK(!strncmp(h2 + 4, "HTTP/1.1 200", 12)); /* nothing in between */
        *h3 = 0;
        WEFT_TEST_CHECK(HAS(h2 + 4, "Content-Encoding: gzip") && HASNT(h2 + 4, "\r\n0\r\n"));
        const char *third = h3 + 4; /* the GET's whole answer, ending in its body */
        size_t tl = strlen(third);
        WEFT_TEST_CHECK(!strncmp(third, "HTTP/1.1 200", 12) && tl > 2 && !strcmp(third + tl - 2, "hi"));
    }
    /* HTTP/1.0: no chunks, the end is the connection's. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/stream", port);
    char *h10[] = {"curl", "-sS", "-0", "--compressed", url, NULL};
    WEFT_TEST_CHECK(run_cmd(h10, out, sizeof out) == 0);
    WEFT_TEST_CHECK(strlen(out) == TEXT_LEN && !memcmp(out, text, TEXT_LEN));
    /* A static file: compressed on the way (no sendfile), ETag weakened. */
    b = curl_i("/files/page.html", "gzip", 1, port, &n, head, sizeof head);
    WEFT_TEST_CHECK(HAS(head, "content-encoding: gzip") && HAS(head, "etag: w/\""));
    WEFT_TEST_CHECK(n == TEXT_LEN && !memcmp(b, text, TEXT_LEN));
    /* A range of it is not compressed (the offsets are the file's). */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/files/page.html", port);
    char *rg[] = {"curl", "-sSi", "--compressed", "-r", "10-19", url, NULL};
    WEFT_TEST_CHECK(run_cmd(rg, out, sizeof out) == 0);
    WEFT_TEST_CHECK(HAS(out, "206") && HASNT(out, "Content-Encoding"));
    WEFT_TEST_CHECK(!strcmp(strstr(out, "\r\n\r\n") + 4, "klmnopqrst"));
    /* An opt-in on a server that does not compress by default. */
    weft_http_server *s2 = start(0, &port_off);
    curl_i("/optin", "gzip", 1, port_off, &n, head, sizeof head);
    WEFT_TEST_CHECK(HAS(head, "content-encoding: gzip"));
    curl_i("/text", NULL, 1, port_off, &n, head, sizeof head);
    WEFT_TEST_CHECK(HASNT(head, "content-encoding") && HASNT(head, "vary"));
    weft_http_server_close(s2, 1);
    return weft_http_server_close(s, 1);
}

/* The raw gzip of a response (what curl saved) decodes to the text, by
 * zlib here rather than by the peer. */
static int raw_decodes(const char *what)
{
    char url[128], path[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, what);
    snprintf(path, sizeof path, "%s/raw.gz", dir);
    char *argv[] = {"curl", "-sS", "-H", "Accept-Encoding: gzip", "-o", path, url, NULL};
    WEFT_TEST_CHECK(run_cmd(argv, out, sizeof out) == 0);
    FILE *f = fopen(path, "rb");
    WEFT_TEST_CHECK(f);
    static char raw[TEXT_LEN * 2], dec[TEXT_LEN * 2];
    size_t n = fread(raw, 1, sizeof raw, f);
    fclose(f);
    WEFT_TEST_CHECK(n > 20 && n < TEXT_LEN / 4);
    WEFT_TEST_CHECK((unsigned char)raw[0] == 0x1f && (unsigned char)raw[1] == 0x8b);
    WEFT_TEST_CHECK(inflate_all(raw, n, dec, sizeof dec) == TEXT_LEN && !memcmp(dec, text, TEXT_LEN));
    return 0;
}

/* The raw br or zstd of a response decodes to the text with the
 * reference command-line tool (brotli -d, zstd -d). */
static int raw_tool_decodes(const char *what, const char *coding, const char *tool)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "curl -sS -H 'Accept-Encoding: %s' http://127.0.0.1:%d%s > %s/raw.%s && "
             "test $(stat -c %%s %s/raw.%s) -lt %d && %s -d -c < %s/raw.%s",
             coding, port, what, dir, coding, dir, coding, TEXT_LEN / 4, tool, dir, coding);
    char *argv[] = {"sh", "-c", cmd, NULL};
    WEFT_TEST_CHECK(run_cmd(argv, out, sizeof out) == 0);
    WEFT_TEST_CHECK(strlen(out) == TEXT_LEN && !memcmp(out, text, TEXT_LEN));
    return 0;
}

/* On the wire: real gzip, br and zstd, far smaller, whole and streamed. */
WEFT_TEST(raw_gzip_decodes)
{
    weft_http_server *s = start(1, &port);
    WEFT_TEST_CHECK(raw_decodes("/text") == 0);
    WEFT_TEST_CHECK(raw_decodes("/stream") == 0);
    const char *paths[] = {"/text", "/stream"};
    for (int i = 0; i < 2; i++) {
        WEFT_TEST_CHECK(raw_tool_decodes(paths[i], "br", "brotli") == 0);
        WEFT_TEST_CHECK(raw_tool_decodes(paths[i], "zstd", "zstd") == 0);
    }
    return weft_http_server_close(s, 1);
}

/* 304s: a handler's ETag, its Last-Modified, a static file's ETag and
 * mtime; a tag that does not match gets the whole body. */
WEFT_TEST(conditional)
{
    weft_http_server *s = start(1, &port);
    char url[128], head[4096];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/etag", port);
    char *a1[] = {"curl", "-sSi", "-H", "If-None-Match: \"x\", W/\"v1\"", url, NULL};
    WEFT_TEST_CHECK(run_cmd(a1, out, sizeof out) == 0);
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 304", 12) && HAS(out, "ETag: \"v1\""));
    WEFT_TEST_CHECK(!strcmp(strstr(out, "\r\n\r\n"), "\r\n\r\n")); /* no body */
    char *a2[] = {"curl", "-sSi", "-H", "If-None-Match: \"v2\"", url, NULL};
    WEFT_TEST_CHECK(run_cmd(a2, out, sizeof out) == 0);
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 200", 12));
    char *a3[] = {"curl", "-sSi", "-H", "If-None-Match: *", url, NULL};
    WEFT_TEST_CHECK(run_cmd(a3, out, sizeof out) == 0);
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 304", 12));
    /* A POST is never 304. */
    char *a4[] = {"curl", "-sSi", "-X", "POST", "-H", "If-None-Match: *", url, NULL};
    WEFT_TEST_CHECK(run_cmd(a4, out, sizeof out) == 0);
    WEFT_TEST_CHECK(strncmp(out, "HTTP/1.1 304", 12));
    /* Last-Modified vs If-Modified-Since. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/lm", port);
    char *a5[] = {"curl", "-sSi", "-H", "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT", url,
                  NULL};
    WEFT_TEST_CHECK(run_cmd(a5, out, sizeof out) == 0);
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 304", 12));
    char *a6[] = {"curl", "-sSi", "-H", "If-Modified-Since: Sat, 05 Nov 1994 08:49:37 GMT", url,
                  NULL};
    WEFT_TEST_CHECK(run_cmd(a6, out, sizeof out) == 0);
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 200", 12));
    /* A static file: its ETag from a first answer, then 304 by it (also
     * the weak one a compressed answer carried), and by its mtime. */
    size_t n;
    curl_i("/files/page.png", NULL, 0, port, &n, head, sizeof head);
    char *et = strstr(head, "etag: ");
    WEFT_TEST_CHECK(et && n == TEXT_LEN);
    char tag[128], hdr[160];
    snprintf(tag, sizeof tag, "%.*s", (int)strcspn(et + 6, "\r\n"), et + 6);
    snprintf(hdr, sizeof hdr, "If-None-Match: W/%s", tag);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/files/page.png", port);
    char *a7[] = {"curl", "-sSi", "-H", hdr, url, NULL};
    WEFT_TEST_CHECK(run_cmd(a7, out, sizeof out) == 0);
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 304", 12) && HAS(out, "ETag: "));
    /* If-None-Match wins: a stale tag gets the file even with a matching
     * If-Modified-Since. */
    char *a8[] = {"curl", "-sSi", "-H", "If-None-Match: \"old\"", "-H",
                  "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT", url, NULL};
    WEFT_TEST_CHECK(run_cmd(a8, out, sizeof out) == 0);
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 200", 12));
    char *a9[] = {"curl", "-sSi", "-H", "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT", url,
                  NULL};
    WEFT_TEST_CHECK(run_cmd(a9, out, sizeof out) == 0);
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 304", 12));
    return weft_http_server_close(s, 1);
}

/* aiohttp's client: decodes what weft compressed (gzip and deflate, whole
 * and streamed, a static file) and gets 304 for its ETag. */
WEFT_TEST(aiohttp_peer)
{
    weft_http_server *s = start(1, &port);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    char *argv[] = {
        "/usr/bin/python3", "-c",
        "import asyncio, sys, aiohttp\n"
        "base = sys.argv[1]\n"
        "async def main():\n"
        "    async with aiohttp.ClientSession() as s:\n"
        "        for path, ae in [('/text', 'gzip'), ('/text', 'deflate'), ('/stream', 'gzip'),\n"
        "                         ('/files/page.html', 'gzip, deflate'), ('/png', 'gzip')]:\n"
        "            async with s.get(base + path, headers={'Accept-Encoding': ae}) as r:\n"
        "                b = await r.read()\n"
        "                print(path, r.headers.get('Content-Encoding', '-'), len(b), b[:26].decode())\n"
        "        async with s.get(base + '/etag', headers={'If-None-Match': '\"v1\"'}) as r:\n"
        "            print('etag', r.status, len(await r.read()))\n"
        "asyncio.run(main())\n",
        base, NULL};
    WEFT_TEST_CHECK(run_cmd(argv, out, sizeof out) == 0);
    const char *want = "/text gzip 20000 abcdefghijklmnopqrstuvwxyz\n"
                       "/text deflate 20000 abcdefghijklmnopqrstuvwxyz\n"
                       "/stream gzip 20000 abcdefghijklmnopqrstuvwxyz\n"
                       "/files/page.html gzip 20000 abcdefghijklmnopqrstuvwxyz\n"
                       "/png - 20000 abcdefghijklmnopqrstuvwxyz\n"
                       "etag 304 0\n";
    WEFT_TEST_CHECK(!strcmp(out, want) || (fprintf(stderr, "got:\n%s", out), 0));
    return weft_http_server_close(s, 1);
}

static void write_file(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f);
    CHECK_EQ(fwrite(text, 1, TEXT_LEN, f), TEXT_LEN);
    fclose(f);
}

/* The head of the answer to a raw GET /text with extra header lines. */
static void raw_get(const char *lines, char *head, size_t cap)
{
    weft_stream *st;
    CHECK_EQ(weft_tcp_connect("127.0.0.1", port, NULL, &st), 0);
    char rq[512];
    int n = snprintf(rq, sizeof rq, "GET /text HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n",
                     lines);
    CHECK(weft_stream_write(st, rq, (size_t)n) == n);
    ssize_t k = weft_stream_read_until(st, "\r\n\r\n", 4, head, cap - 1);
    CHECK(k > 0);
    head[k] = 0;
    weft_stream_close(st);
}

/* Accept-Encoding on several lines is one comma list (RFC 9110 5.3): the
 * server read the first line alone ("identity" then "gzip": nothing
 * compressed; "br;q=0.5" then "gzip": br). */
WEFT_TEST(accept_encoding_lines)
{
    weft_http_server *s = start(1, &port);
    char head[4096];
    raw_get("Accept-Encoding: identity\r\nAccept-Encoding: gzip\r\n", head, sizeof head);
    WEFT_TEST_CHECK(HAS(head, "Content-Encoding: gzip"));
    raw_get("Accept-Encoding: br;q=0.5\r\naccept-encoding: gzip\r\n", head, sizeof head);
    WEFT_TEST_CHECK(HAS(head, "Content-Encoding: gzip"));
    raw_get("Accept-Encoding: gzip\r\nAccept-Encoding: gzip;q=0\r\n", head, sizeof head);
    WEFT_TEST_CHECK(HASNT(head, "Content-Encoding")); /* the list's last word on gzip */
    raw_get("Accept-Encoding: gzip;q=0\r\nAccept-Encoding: *\r\n", head, sizeof head);
    WEFT_TEST_CHECK(HAS(head, "Content-Encoding: zstd")); /* "*": any coding not named */
    raw_get("Accept-Encoding: zstd\r\n", head, sizeof head); /* one line, as before */
    WEFT_TEST_CHECK(HAS(head, "Content-Encoding: zstd"));
    return weft_http_server_close(s, 1);
}

int main(int argc, char **argv)
{
    for (int i = 0; i < TEXT_LEN; i++) text[i] = (char)('a' + i % 26);
    CHECK(mkdtemp(dir));
    write_file("page.html");
    write_file("page.png");
    static const weft_test_case cases[] = {
        WEFT_TEST_CASE(curl_compressed), WEFT_TEST_CASE(raw_gzip_decodes),
        WEFT_TEST_CASE(conditional), WEFT_TEST_CASE(aiohttp_peer),
        WEFT_TEST_CASE(accept_encoding_lines)};
    int rc = weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) rc = 1;
    return rc;
}
