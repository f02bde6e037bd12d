/* The TLS truncation attack on close-delimited bodies (RFC 9112 9.8): a
 * response with neither Content-Length nor chunked ends where the
 * connection ends, and over TLS only close_notify proves that end; a bare
 * TCP close (FIN) can be injected by anyone on the path, cutting the body
 * anywhere. The client took such a cut body for a complete one (TLS
 * streams report a close without close_notify as an ordinary end). Now it
 * is -WEFT_ETLSTRUNC; with close_notify it is complete; and bodies framed
 * by Content-Length or chunked that completed stay fine after a close
 * without close_notify, which servers often skip. A TLS server on loopback
 * with a certificate made at test time writes each response by hand and
 * ends the connection with close_notify or with a bare FIN. */
#define _GNU_SOURCE
#include <weft/http.h>
#include <weft/test.h>
#include "check.h"
#include "tls_cert.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static const char *reply; /* what the server sends, by hand */
static int clean;         /* 1: close_notify then FIN; 0: the FIN alone */

static int handler(weft_stream *s, void *arg)
{
    (void)arg;
    char head[4096];
    if (weft_stream_read_until(s, "\r\n\r\n", 4, head, sizeof head) <= 0) return -1;
    if (weft_stream_write(s, reply, strlen(reply)) < 0 || weft_stream_drain(s) < 0) return -1;
    if (clean) weft_stream_shutdown(s);
    else shutdown(weft_stream_fd(s), SHUT_WR); /* under TLS: no close_notify */
    /* Until the client is done: its reads see the end first. */
    while (weft_stream_read(s, head, sizeof head) > 0) {
    }
    return 0;
}

static weft_http_client *C;
static char url[96];

/* The body by weft_http_response_body: 0 and its text in got, or the error. */
static int fetch(const char *r, int c, char *got, size_t cap)
{
    reply = r;
    clean = c;
    weft_http_response *resp;
    int e = weft_http_client_request(C, "GET", url, NULL, &resp);
    if (e) return e;
    const char *d;
    size_t n;
    e = weft_http_response_body(resp, &d, &n);
    if (!e) snprintf(got, cap, "%.*s", (int)n, d);
    weft_http_response_free(resp);
    return e;
}

#define CLOSE_DELIMITED "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nthe first half of a"

WEFT_TEST(close_delimited_body_needs_close_notify)
{
    char dir[] = "/tmp/weft_tls_eof_XXXXXX", crt[128], key[128];
    weft_tls_ctx *sctx, *cctx;
    WEFT_TEST_CHECK(tls_pair_make(dir, crt, key, &sctx, &cctx) == 0);
    weft_server *srv;
    CHECK_EQ(weft_tcp_start_server("127.0.0.1", 0, handler, NULL,
                                   &(weft_serve_opts){.tls = sctx, .one_loop = 1}, &srv),
             0);
    snprintf(url, sizeof url, "https://localhost:%d/", weft_server_port(srv));
    C = weft_http_client_new(&(weft_http_client_opts){.tls = cctx});
    WEFT_TEST_CHECK(C);
    char got[256];

    /* Close-delimited, cut by a bare FIN: refused (was: accepted, 0). */
    got[0] = 0;
    CHECK_EQ(fetch(CLOSE_DELIMITED, 0, got, sizeof got), -WEFT_ETLSTRUNC);
    /* The same ended by close_notify: complete. */
    CHECK_EQ(fetch(CLOSE_DELIMITED, 1, got, sizeof got), 0);
    WEFT_TEST_CHECK(strcmp(got, "the first half of a") == 0);
    /* Read piece by piece: the bytes, then the error, and it stays an error
     * (never a later 0 that reads as the end). */
    reply = CLOSE_DELIMITED;
    clean = 0;
    weft_http_response *r;
    CHECK_EQ(weft_http_client_request(C, "GET", url, NULL, &r), 0); /* the head only */
    char buf[256];
    size_t have = 0;
    ssize_t n;
    while ((n = weft_http_response_read(r, buf + have, sizeof buf - have)) > 0) have += (size_t)n;
    CHECK_EQ(n, -WEFT_ETLSTRUNC);
    CHECK_EQ(have, strlen("the first half of a"));
    WEFT_TEST_CHECK(weft_http_response_read(r, buf, sizeof buf) < 0);
    weft_http_response_free(r);

    /* Framed bodies that completed are fine without close_notify. */
    CHECK_EQ(fetch("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello", 0,
                   got, sizeof got),
             0);
    WEFT_TEST_CHECK(strcmp(got, "hello") == 0);
    CHECK_EQ(fetch("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                   "5\r\nhello\r\n0\r\n\r\n",
                   0, got, sizeof got),
             0);
    WEFT_TEST_CHECK(strcmp(got, "hello") == 0);
    /* ... and those cut short are cut, as before. */
    CHECK_EQ(fetch("HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello", 0,
                   got, sizeof got),
             -WEFT_EHTTP_CLOSED);
    CHECK_EQ(fetch("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                   "5\r\nhello\r\n",
                   0, got, sizeof got),
             -WEFT_EHTTP_CLOSED);

    weft_http_client_close(C);
    CHECK_EQ(weft_server_close(srv, 1), 0);
    WEFT_TEST_CHECK(tls_pair_free(dir, sctx, cctx) == 0);
    return 0;
}

/* Plain http has no close_notify to ask for: a close-delimited body is
 * complete at the close, as it always was. */
WEFT_TEST(plain_close_delimited_unchanged)
{
    weft_server *srv;
    CHECK_EQ(weft_tcp_start_server("127.0.0.1", 0, handler, NULL,
                                   &(weft_serve_opts){.one_loop = 1}, &srv),
             0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", weft_server_port(srv));
    C = weft_http_client_new(NULL);
    char got[256];
    CHECK_EQ(fetch(CLOSE_DELIMITED, 0, got, sizeof got), 0);
    WEFT_TEST_CHECK(strcmp(got, "the first half of a") == 0);
    weft_http_client_close(C);
    return weft_server_close(srv, 1);
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(close_delimited_body_needs_close_notify),
               WEFT_TEST_CASE(plain_close_delimited_unchanged))
