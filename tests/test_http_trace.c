/* The client's tracing hooks (issue 15): the events of a fresh connection
 * (a name, so DNS too), a reused one, a redirect, TLS, and failures (a
 * refused connect, a certificate that does not verify), each in order with
 * its fields; and `weft fetch -v` printing them. Against weft's server on
 * loopback. */
#include <weft/http.h>
#include <weft/test.h>
#include "check.h"
#include "tls_cert.h"
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXEV 64
typedef struct rec {
    int n;
    int ev[MAXEV];
    double t[MAXEV];
    int status[MAXEV], error[MAXEV], port[MAXEV];
    char host[MAXEV][64], url[MAXEV][256], loc[MAXEV][256], method[MAXEV][16];
    void *ctx[MAXEV];
} rec;

static void on_trace(void *arg, const weft_http_trace_info *ev)
{
    rec *r = arg;
    if (r->n == MAXEV) return;
    int i = r->n++;
    r->ev[i] = ev->event;
    r->t[i] = ev->time;
    r->status[i] = ev->status;
    r->error[i] = ev->error;
    r->ctx[i] = ev->ctx;
    snprintf(r->host[i], 64, "%s", ev->host ? ev->host : "");
    snprintf(r->url[i], 256, "%s", ev->url ? ev->url : "");
    snprintf(r->loc[i], 256, "%s", ev->location ? ev->location : "");
    snprintf(r->method[i], 16, "%s", ev->method ? ev->method : "");
    r->port[i] = 0;
    if (ev->addr && ev->addr->sa_family == AF_INET)
        r->port[i] = ntohs(((const struct sockaddr_in *)ev->addr)->sin_port);
}

/* The event names in order, space-separated. */
static const char *seq(const rec *r)
{
    static char s[2048];
    s[0] = 0;
    for (int i = 0; i < r->n; i++) {
        if (i) strcat(s, " ");
        strcat(s, weft_http_trace_name(r->ev[i]));
    }
    return s;
}

#define SEQ_IS(r, want) \
    (!strcmp(seq(r), want) || (fprintf(stderr, "events [%s]\n  want [%s]\n", seq(r), want), 0))

static int ordered(const rec *r)
{
    for (int i = 1; i < r->n; i++)
        if (r->t[i] < r->t[i - 1]) return 0;
    return r->n > 0 && r->t[0] > 0;
}

static int find(const rec *r, int ev)
{
    for (int i = 0; i < r->n; i++)
        if (r->ev[i] == ev) return i;
    return -1;
}

static int h_hello(weft_http_request *req, void *arg)
{
    (void)arg;
    return weft_http_respond(req, 200, "text/plain", "hi", 2);
}

static int h_moved(weft_http_request *req, void *arg)
{
    (void)arg;
    weft_http_reply_header(req, "Location", "/hello");
    return weft_http_respond(req, 302, NULL, "", 0);
}

static weft_http_server *start(weft_tls_ctx *tls, int *port)
{
    weft_http_server *s = weft_http_server_new(&(weft_http_server_opts){.tls = tls});
    weft_http_server_route(s, "GET", "/hello", h_hello, NULL);
    weft_http_server_route(s, "GET", "/moved", h_moved, NULL);
    CHECK_EQ(weft_http_server_listen(s, "127.0.0.1", 0), 0);
    *port = weft_http_server_port(s);
    return s;
}

static int get(weft_http_client *c, const char *url, void *ctx)
{
    weft_http_response *r;
    weft_http_req_opts o = {.trace_ctx = ctx};
    int e = weft_http_client_request(c, "GET", url, &o, &r);
    if (e) return e;
    const char *d;
    size_t n;
    e = weft_http_response_body(r, &d, &n);
    int st = weft_http_response_status(r);
    weft_http_response_free(r);
    return e ? e : st;
}

static weft_http_client *traced(rec *r, weft_tls_ctx *tls)
{
    r->n = 0;
    return weft_http_client_new(
        &(weft_http_client_opts){.trace = on_trace, .trace_arg = r, .tls = tls});
}

/* A fresh connection to a name (DNS, connect), then the same URL again on
 * the pooled connection: no DNS, no connect, "conn_reused". */
WEFT_TEST(fresh_then_reused)
{
    int port;
    weft_http_server *s = start(NULL, &port);
    static rec R;
    weft_http_client *c = traced(&R, NULL);
    char url[128];
    snprintf(url, sizeof url, "http://localhost:%d/hello", port);
    int ctx;
    WEFT_TEST_CHECK(get(c, url, &ctx) == 200);
    WEFT_TEST_CHECK(SEQ_IS(&R, "request_start conn_create_start dns_start dns_end connect_start "
                               "connect_end conn_created request_sent response_headers "
                               "request_end"));
    WEFT_TEST_CHECK(ordered(&R));
    for (int i = 0; i < R.n; i++) {
        WEFT_TEST_CHECK(R.ctx[i] == &ctx);
        WEFT_TEST_CHECK(!strcmp(R.method[i], "GET"));
        WEFT_TEST_CHECK(!strcmp(R.url[i], url));
        WEFT_TEST_CHECK(R.error[i] == 0);
    }
    WEFT_TEST_CHECK(!strcmp(R.host[find(&R, WEFT_HTTP_TRACE_DNS_START)], "localhost"));
    WEFT_TEST_CHECK(!strcmp(R.host[find(&R, WEFT_HTTP_TRACE_DNS_END)], "localhost"));
    WEFT_TEST_CHECK(R.port[find(&R, WEFT_HTTP_TRACE_CONNECT_START)] == port);
    WEFT_TEST_CHECK(R.port[find(&R, WEFT_HTTP_TRACE_CONNECT_END)] == port);
    WEFT_TEST_CHECK(R.status[find(&R, WEFT_HTTP_TRACE_RESPONSE_HEADERS)] == 200);

    R.n = 0;
    WEFT_TEST_CHECK(get(c, url, NULL) == 200);
    WEFT_TEST_CHECK(SEQ_IS(&R, "request_start conn_reused request_sent response_headers "
                               "request_end"));
    WEFT_TEST_CHECK(ordered(&R) && R.ctx[0] == NULL);
    weft_http_client_close(c);
    return weft_http_server_close(s, 1);
}

/* A redirect to the same origin: the 302's head, the redirect event with
 * the next URL, then that hop on the same (reused) connection. */
WEFT_TEST(redirect)
{
    int port;
    weft_http_server *s = start(NULL, &port);
    static rec R;
    weft_http_client *c = traced(&R, NULL);
    char url[128], next[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/moved", port);
    snprintf(next, sizeof next, "http://127.0.0.1:%d/hello", port);
    WEFT_TEST_CHECK(get(c, url, NULL) == 200);
    /* A numeric host: no DNS events. */
    WEFT_TEST_CHECK(SEQ_IS(&R, "request_start conn_create_start connect_start connect_end "
                               "conn_created request_sent response_headers redirect "
                               "conn_reused request_sent response_headers request_end"));
    WEFT_TEST_CHECK(ordered(&R));
    int h1 = find(&R, WEFT_HTTP_TRACE_RESPONSE_HEADERS), rd = find(&R, WEFT_HTTP_TRACE_REDIRECT);
    WEFT_TEST_CHECK(R.status[h1] == 302 && R.status[rd] == 302);
    WEFT_TEST_CHECK(!strcmp(R.url[rd], url) && !strcmp(R.loc[rd], next));
    WEFT_TEST_CHECK(!strcmp(R.url[R.n - 2], next) && R.status[R.n - 2] == 200);
    WEFT_TEST_CHECK(!strcmp(R.url[R.n - 1], next) && R.error[R.n - 1] == 0);
    weft_http_client_close(c);
    return weft_http_server_close(s, 1);
}

static char crt[128], key[128];

/* https: the handshake between the connect and the connection's creation;
 * then a client that does not trust the certificate sees tls_end fail. */
WEFT_TEST(tls)
{
    weft_tls_ctx *sctx = weft_tls_server_ctx(&(weft_tls_opts){.cert_file = crt, .key_file = key});
    WEFT_TEST_CHECK(sctx);
    int port;
    weft_http_server *s = start(sctx, &port);
    weft_tls_ctx *cctx = weft_tls_client_ctx(&(weft_tls_opts){.ca_file = crt});
    static rec R;
    weft_http_client *c = traced(&R, cctx);
    char url[128];
    snprintf(url, sizeof url, "https://localhost:%d/hello", port);
    WEFT_TEST_CHECK(get(c, url, NULL) == 200);
    WEFT_TEST_CHECK(SEQ_IS(&R, "request_start conn_create_start dns_start dns_end connect_start "
                               "connect_end tls_start tls_end conn_created request_sent "
                               "response_headers request_end"));
    WEFT_TEST_CHECK(ordered(&R));
    weft_http_client_close(c);

    /* The system store does not know the test's certificate. */
    R.n = 0;
    weft_tls_ctx *strict = weft_tls_client_ctx(NULL);
    c = traced(&R, strict);
    WEFT_TEST_CHECK(get(c, url, NULL) == -WEFT_ETLSCERT);
    WEFT_TEST_CHECK(SEQ_IS(&R, "request_start conn_create_start dns_start dns_end connect_start "
                               "connect_end tls_start tls_end conn_created request_end"));
    WEFT_TEST_CHECK(R.error[find(&R, WEFT_HTTP_TRACE_TLS_END)] == -WEFT_ETLSCERT);
    WEFT_TEST_CHECK(R.error[find(&R, WEFT_HTTP_TRACE_CONN_CREATED)] == -WEFT_ETLSCERT);
    WEFT_TEST_CHECK(R.error[R.n - 1] == -WEFT_ETLSCERT);
    weft_http_client_close(c);
    weft_tls_ctx_free(strict);
    weft_tls_ctx_free(cctx);
    weft_tls_ctx_free(sctx);
    return weft_http_server_close(s, 1);
}

/* A refused connect: its error on connect_end, conn_created and
 * request_end; nothing sent. */
WEFT_TEST(refused)
{
    int port;
    weft_http_server *s = start(NULL, &port);
    weft_http_server_close(s, 0); /* the port is closed now */
    static rec R;
    weft_http_client *c = traced(&R, NULL);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hello", port);
    WEFT_TEST_CHECK(get(c, url, NULL) == -ECONNREFUSED);
    WEFT_TEST_CHECK(SEQ_IS(&R, "request_start conn_create_start connect_start connect_end "
                               "conn_created request_end"));
    for (int i = 3; i < R.n; i++) WEFT_TEST_CHECK(R.error[i] == -ECONNREFUSED);
    weft_http_client_close(c);
    return 0;
}

/* A URL's user:pass@ never reaches a trace callback: not when the URL is
 * good (the password goes in Authorization only), nor when it is refused
 * (the raw URL, password and all, was the request_start event's url). */
WEFT_TEST(no_password_in_trace)
{
    int port;
    weft_http_server *s = start(NULL, &port);
    static rec R;
    weft_http_client *c = traced(&R, NULL);
    char url[160];
    snprintf(url, sizeof url, "http://alice:s3cret@127.0.0.1:%d/hello", port);
    WEFT_TEST_CHECK(get(c, url, NULL) == 200);
    WEFT_TEST_CHECK(R.n > 0);
    for (int i = 0; i < R.n; i++) WEFT_TEST_CHECK(!strstr(R.url[i], "s3cret"));
    const char *bad[] = {"http://alice:s3cret@bad host/", "http://alice:s3cret@[::1/x",
                         "ftp://alice:s3cret@example.com/", "http://alice:s3cret@\x7f/"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        R.n = 0;
        WEFT_TEST_CHECK(get(c, bad[k], NULL) < 0);
        WEFT_TEST_CHECK(R.n > 0);
        for (int i = 0; i < R.n; i++)
            WEFT_TEST_CHECK(!strstr(R.url[i], "s3cret") ||
                            (fprintf(stderr, "traced %s\n", R.url[i]), 0));
    }
    weft_http_client_close(c);
    return weft_http_server_close(s, 1);
}

/* Runs `weft fetch -v -c 1 u1 u2`; its stderr (and stdout with both) into
 * out. The command's exit status, or -1. */
static int run_fetch(const char *u1, const char *u2, int both, char *out, size_t cap)
{
    char bin[PATH_MAX];
    snprintf(bin, sizeof bin, "%s/tools/weft/weft",
             getenv("WEFT_BUILD_DIR") ? getenv("WEFT_BUILD_DIR") : "..");
    if (access(bin, X_OK)) return -1;
    char *argv[] = {bin, "fetch", "-v", "-c", "1", (char *)u1, (char *)u2, NULL};
    weft_process *p;
    weft_process_opts po = {.stdout_mode = both ? WEFT_PIPE : WEFT_DEVNULL,
                            .stderr_mode = both ? WEFT_STDOUT : WEFT_PIPE};
    if (weft_process_spawn(argv, &po, &p)) return -1;
    weft_stream *from = both ? weft_process_stdout(p) : weft_process_stderr(p);
    size_t len = 0;
    ssize_t n;
    while (len + 1 < cap && (n = weft_stream_read(from, out + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = 0;
    int st = weft_process_wait(p);
    weft_process_free(p);
    fprintf(stderr, "%s", out);
    return st;
}

/* `weft fetch -v`: a fresh connection, then a reused one, with timings. */
WEFT_TEST(fetch_verbose)
{
    int port;
    weft_http_server *s = start(NULL, &port);
    char u1[128], u2[128];
    snprintf(u1, sizeof u1, "http://localhost:%d/moved", port);
    snprintf(u2, sizeof u2, "http://localhost:%d/hello", port);
    static char err[16384];
    WEFT_TEST_CHECK(run_fetch(u1, u2, 0, err, sizeof err) == 0);
    char want[256];
    snprintf(want, sizeof want, "*0 GET %s\n", u1);
    WEFT_TEST_CHECK(strstr(err, want));
    WEFT_TEST_CHECK(strstr(err, "*0   dns localhost "));
    snprintf(want, sizeof want, "*0   connect 127.0.0.1:%d ", port);
    WEFT_TEST_CHECK(strstr(err, want));
    WEFT_TEST_CHECK(strstr(err, "*0   302 headers at "));
    snprintf(want, sizeof want, "*0   redirect 302 to %s\n", u2);
    WEFT_TEST_CHECK(strstr(err, want));
    WEFT_TEST_CHECK(strstr(err, "*0   200 headers at "));
    WEFT_TEST_CHECK(strstr(err, "*1   connection reused\n"));
    WEFT_TEST_CHECK(!strstr(err, "*1   dns"));
    WEFT_TEST_CHECK(strstr(err, " ms (waited "));
    return weft_http_server_close(s, 1);
}

/* `weft fetch` never prints a URL's password: not in -v's trace lines, nor
 * in the result line on stdout (where the URL was echoed as typed, and a
 * refused one in -v too). */
WEFT_TEST(fetch_hides_password)
{
    int port;
    weft_http_server *s = start(NULL, &port);
    char u1[128];
    snprintf(u1, sizeof u1, "http://alice:s3cret@localhost:%d/hello", port);
    static char out[16384];
    WEFT_TEST_CHECK(run_fetch(u1, "http://bob:s3cret@bad host/", 1, out, sizeof out) >= 0);
    char want[160];
    snprintf(want, sizeof want, "200 2 ");
    WEFT_TEST_CHECK(strstr(out, want));
    snprintf(want, sizeof want, "localhost:%d/hello\n", port);
    WEFT_TEST_CHECK(strstr(out, want));
    WEFT_TEST_CHECK(strstr(out, "ERR "));
    WEFT_TEST_CHECK(!strstr(out, "s3cret"));
    return weft_http_server_close(s, 1);
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/weft_trace_XXXXXX";
    CHECK(mkdtemp(dir));
    CHECK_EQ(tls_cert_make(dir, crt, key), 0);
    static const weft_test_case cases[] = {
        WEFT_TEST_CASE(fresh_then_reused), WEFT_TEST_CASE(redirect), WEFT_TEST_CASE(tls),
        WEFT_TEST_CASE(refused), WEFT_TEST_CASE(fetch_verbose),
        WEFT_TEST_CASE(no_password_in_trace), WEFT_TEST_CASE(fetch_hides_password)};
    int rc = weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) rc = 1;
    return rc;
}
