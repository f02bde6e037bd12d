/* Findings of a hostile review of the issue 10 HTTP fixes, each confirmed
 * over real loopback sockets before it was fixed (the server's are with
 * their kind in test_http_smuggling.c):
 *  - the client's body limit ignored chunk framing: a server sending an
 *    endless chunk extension (or trailer section) held the client for as
 *    long as it liked, megabytes past max_body_bytes;
 *  - an endless run of interim (1xx) responses held the client for good;
 *  - a read of more than 4 GiB of an inflated body miscounted (zlib's
 *    32-bit counts);
 *  - a body callback's count past the room it was given was sent as is. */
#include <weft/http.h>
#include <weft/io.h>
#include <weft/test.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* A raw loopback server running fn(arg) per connection; its URL in u. */
static weft_server *serve_raw(weft_handler fn, void *arg, char u[64])
{
    weft_server *raw = weft_tcp_serve("127.0.0.1", 0, fn, arg);
    if (raw) snprintf(u, 64, "http://127.0.0.1:%d/", weft_server_port(raw));
    return raw;
}

/* ---- client: chunk framing counts against the body limit ------------------------ */

static const char *ext_head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;";
static const char *trailer_head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "1\r\na\r\n0\r\n";
static size_t junk_sent;

/* Answers with a chunk extension (arg: ext_head) or trailer section
 * (trailer_head) of 8 MiB, then a proper end: a client with a 64 KiB body
 * limit must give up long before. */
static int junk_handler(weft_stream *s, void *arg)
{
    const char *head = arg;
    int trailer = head == trailer_head;
    char buf[4096];
    ssize_t n = weft_stream_read_until(s, "\r\n\r\n", 4, buf, sizeof buf);
    if (n <= 0 || weft_stream_write(s, head, strlen(head)) < 0) return 0;
    static char junk[65536];
    /* Extension bytes, or 64-byte trailer lines "X:vvv...\r\n". */
    static const char line[] = "X:" "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvv" "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\r\n";
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = trailer ? line[i % 64] : 'e';
    junk_sent = 0;
    for (int i = 0; i < 128; i++) {
        if (weft_stream_write(s, junk, sizeof junk) < 0) return 0;
        junk_sent += sizeof junk;
    }
    const char *end = trailer ? "\r\n" : "\r\na\r\n0\r\n\r\n";
    weft_stream_write(s, end, strlen(end));
    return 0;
}

WEFT_TEST(review_client_chunk_framing_counts)
{
    const char *heads[] = {ext_head, trailer_head};
    for (int i = 0; i < 2; i++) {
        char u[64];
        weft_server *raw = serve_raw(junk_handler, (void *)heads[i], u);
        WEFT_TEST_CHECK(raw);
        weft_http_client_opts co = {.max_body_bytes = 65536, .total_timeout_s = 60};
        weft_http_client *c = weft_http_client_new(&co);
        weft_http_response *r = NULL;
        int e = weft_http_client_request(c, "GET", u, NULL, &r);
        WEFT_TEST_CHECK(e == 0);
        const char *d;
        size_t n;
        e = weft_http_response_body(r, &d, &n);
        fprintf(stderr, "%s: body -> %d, server wrote %zu bytes of junk\n",
                i ? "trailers" : "extension", e, junk_sent);
        WEFT_TEST_CHECK(e == -WEFT_EHTTP_BODY_SIZE);
        weft_http_response_free(r);
        weft_http_client_close(c);
        weft_server_close(raw, 1);
    }
    return 0;
}

/* ---- client: interim responses are bounded ------------------------------------- */

/* Answers with interim responses, as many as arg says (as an int), then a
 * final 200. */
static int interim_handler(weft_stream *s, void *arg)
{
    int n = (int)(intptr_t)arg;
    static const char interim[] = "HTTP/1.1 102 Processing\r\n\r\n",
                      final[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    char buf[4096];
    if (weft_stream_read_until(s, "\r\n\r\n", 4, buf, sizeof buf) <= 0) return 0;
    for (int i = 0; i < n; i++)
        if (weft_stream_write(s, interim, strlen(interim)) < 0) return 0;
    weft_stream_write(s, final, strlen(final));
    return 0;
}

/* An endless run of 1xx responses held the client for good (no byte of it
 * counts as body); Go's client stops after 5, weft after 10. */
WEFT_TEST(review_client_interim_responses_bounded)
{
    const int counts[] = {3, 100000};
    for (int i = 0; i < 2; i++) {
        char u[64];
        weft_server *raw = serve_raw(interim_handler, (void *)(intptr_t)counts[i], u);
        WEFT_TEST_CHECK(raw);
        weft_http_client *c = weft_http_client_new(NULL);
        weft_http_response *r = NULL;
        int e = weft_http_client_request(c, "GET", u, NULL, &r);
        fprintf(stderr, "%d interim responses: %d\n", counts[i], e);
        WEFT_TEST_CHECK(i == 0 ? e == 0 && weft_http_response_status(r) == 200 : e == -WEFT_EHTTP_PARSE);
        weft_http_response_free(r);
        weft_http_client_close(c);
        weft_server_close(raw, 1);
    }
    return 0;
}

/* ---- client: a read of more than 4 GiB into an inflated body --------------------- */

static char gz_response[256];
static size_t gz_response_len;

static int gz_handler(weft_stream *s, void *arg)
{
    (void)arg;
    char buf[4096];
    if (weft_stream_read_until(s, "\r\n\r\n", 4, buf, sizeof buf) > 0)
        weft_stream_write(s, gz_response, gz_response_len);
    return 0;
}

/* zlib counts in 32 bits: a read asking for 2^32 + 16 bytes gave inflate
 * room for 16 and reported 2^32 + 5 bytes read (for "hello"), so a caller
 * took that much of its buffer for body. */
WEFT_TEST(review_client_inflate_read_over_4g)
{
    char gz[128];
    z_stream z = {0};
    deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)"hello";
    z.avail_in = 5;
    z.next_out = (Bytef *)gz;
    z.avail_out = sizeof gz;
    WEFT_TEST_CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
    size_t gzlen = sizeof gz - z.avail_out;
    deflateEnd(&z);
    int h = snprintf(gz_response, sizeof gz_response,
                     "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", gzlen);
    memcpy(gz_response + h, gz, gzlen);
    gz_response_len = (size_t)h + gzlen;
    char u[64];
    weft_server *raw = serve_raw(gz_handler, NULL, u);
    WEFT_TEST_CHECK(raw);
    weft_http_client *c = weft_http_client_new(NULL);
    weft_http_response *r = NULL;
    WEFT_TEST_CHECK(weft_http_client_request(c, "GET", u, NULL, &r) == 0);
    /* The buffer is small: inflate writes 5 bytes whatever room it is told
     * of (the stream holds no more). */
    static char out[4096];
    ssize_t n = weft_http_response_read(r, out, ((size_t)1 << 32) + 16);
    fprintf(stderr, "read -> %zd\n", n);
    WEFT_TEST_CHECK(n == 5 && !memcmp(out, "hello", 5));
    weft_http_response_free(r);
    weft_http_client_close(c);
    weft_server_close(raw, 1);
    return 0;
}

/* ---- client: a body callback that claims more than it was given room for --------- */

static int sink_handler(weft_stream *s, void *arg)
{
    (void)arg;
    char buf[65536];
    while (weft_stream_read(s, buf, sizeof buf) > 0) {
    }
    return 0;
}

static ssize_t liar(void *arg, void *buf, size_t n)
{
    (void)arg;
    memset(buf, 'x', n);
    return (ssize_t)n + 4096; /* past the room given: must not be sent */
}

/* The callback's count went to the wire as is: the client's stack past its
 * 16 KiB buffer was sent as body (ASan: stack-buffer-overflow in writev). */
WEFT_TEST(review_client_body_fn_overclaim)
{
    char u[64];
    weft_server *raw = serve_raw(sink_handler, NULL, u);
    WEFT_TEST_CHECK(raw);
    weft_http_client *c = weft_http_client_new(NULL);
    weft_http_response *r = NULL;
    weft_http_req_opts o = {.body_fn = liar};
    int e = weft_http_client_request(c, "POST", u, &o, &r);
    WEFT_TEST_CHECK(e == -EINVAL);
    weft_http_response_free(r);
    weft_http_client_close(c);
    weft_server_close(raw, 1);
    return 0;
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(review_client_chunk_framing_counts),
               WEFT_TEST_CASE(review_client_interim_responses_bounded),
               WEFT_TEST_CASE(review_client_inflate_read_over_4g),
               WEFT_TEST_CASE(review_client_body_fn_overclaim))
