/* The server as a proxy (weft_http_server_proxy): examples/proxy.c, started
 * here, with curl and weft's own client going through it to weft and nginx
 * origins
 * over http (absolute form, and a CONNECT tunnel with curl -p) and https
 * (CONNECT, TLS end to end); a plain server still refusing CONNECT with a
 * clear 501 and serving absolute-form targets as its own paths. */
#include <weft/http.h>
#include <weft/test.h>
#include "tls_cert.h"
#include "free_port.h"
#include "run_cmd.h"
#include "peer_proc.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char out[1 << 20];
static char dir[] = "/tmp/weft-fproxy-XXXXXX";
static char crt[128], key[128];
static weft_http_server *S, *TS;
static weft_tls_ctx *sctx, *cctx;
static weft_process *px;
static int port, tport, pport;

/* What the origin saw: method, path, the proxy's Via, the body's length. */
static int h_echo(weft_http_request *req, void *arg)
{
    const char *b;
    size_t n;
    int e = weft_http_request_body(req, &b, &n);
    if (e) return e;
    const char *via = weft_http_request_header(req, "via");
    const char *pa = weft_http_request_header(req, "proxy-authorization");
    char msg[512];
    int k = snprintf(msg, sizeof msg, "%s %s?%s via=%s pauth=%s len=%zu",
                     weft_http_request_method(req), weft_http_request_path(req),
                     weft_http_request_query(req), via ? via : "-", pa ? "yes" : "no", n);
    weft_http_reply_header(req, "X-Origin", "weft");
    return weft_http_respond(req, 200, "text/plain", msg, (size_t)k);
}

/* A streamed body of 300000 bytes in chunks. */
static int h_big(weft_http_request *req, void *arg)
{
    int r = weft_http_reply_start(req, 200, "application/octet-stream", -1);
    char buf[3000];
    for (int i = 0; i < 3000; i++) buf[i] = (char)('a' + i % 26);
    for (int i = 0; r >= 0 && i < 100; i++) r = (int)weft_http_reply_write(req, buf, sizeof buf);
    return r < 0 ? r : weft_http_reply_end(req);
}

static int setup(void)
{
    strcpy(dir, "/tmp/weft-fproxy-XXXXXX");
    if (tls_pair_make(dir, crt, key, &sctx, &cctx)) return -1;
    S = weft_http_server_new(NULL);
    TS = weft_http_server_new(&(weft_http_server_opts){.tls = sctx});
    weft_http_server *all[] = {S, TS};
    for (int i = 0; i < 2; i++) {
        weft_http_server_route(all[i], "GET", "/big", h_big, NULL);
        weft_http_server_route(all[i], "*", "/{p...}", h_echo, NULL);
        if (weft_http_server_listen(all[i], "127.0.0.1", 0)) return -1;
    }
    port = weft_http_server_port(S);
    tport = weft_http_server_port(TS);
    pport = free_port();
    char path[256], ps[16];
    snprintf(path, sizeof path, "%s/examples/proxy", getenv("WEFT_BUILD_DIR"));
    snprintf(ps, sizeof ps, "%d", pport);
    char *argv[] = {path, ps, NULL};
    return peer_start(argv, pport, &px);
}

static int teardown(void)
{
    peer_stop(px);
    weft_http_server_close(S, 1);
    weft_http_server_close(TS, 1);
    return tls_pair_free(dir, sctx, cctx);
}

/* One request written raw to port p; the whole answer (to the close) in out. */
static int raw_exchange(int p, const char *rq)
{
    weft_stream *s;
    if (weft_tcp_connect("127.0.0.1", p, NULL, &s)) return -1;
    if (weft_stream_write(s, rq, strlen(rq)) < 0) return weft_stream_close(s), -1;
    weft_stream_shutdown(s);
    size_t got = 0;
    ssize_t k;
    while ((k = weft_stream_read(s, out + got, sizeof out - 1 - got)) > 0) got += (size_t)k;
    out[got] = 0;
    weft_stream_close(s);
    return 0;
}

static int curl(const char *extra1, const char *extra2, const char *url)
{
    char pxu[64];
    snprintf(pxu, sizeof pxu, "http://127.0.0.1:%d", pport);
    char *a[12];
    int n = 0;
    a[n++] = "curl", a[n++] = "-sS", a[n++] = "--noproxy", a[n++] = "", a[n++] = "-x";
    a[n++] = pxu;
    if (extra1) a[n++] = (char *)extra1;
    if (extra2) a[n++] = (char *)extra2;
    a[n++] = (char *)url;
    a[n] = NULL;
    return run_cmd(a, out, sizeof out);
}

WEFT_TEST(curl_through_proxy)
{
    WEFT_TEST_CHECK(setup() == 0);
    char u[128], cafile[160];
    int fail = 0;
#define T(c) do { if (!(c)) { fprintf(stderr, "%s:%d: %s [%.300s]\n", __FILE__, __LINE__, #c, out); fail = 1; } } while (0)
    /* http: absolute form, forwarded with Via. */
    snprintf(u, sizeof u, "http://127.0.0.1:%d/a/b?x=1", port);
    T(curl(NULL, NULL, u) == 0 && !strcmp(out, "GET /a/b?x=1 via=1.1 weft-proxy pauth=no len=0"));
    /* A body, its length known. */
    snprintf(cafile, sizeof cafile, "@%s", crt);
    T(curl("--data-binary", cafile, u) == 0 && strstr(out, "POST /a/b?x=1 via=1.1 weft-proxy"));
    /* A streamed response (chunked from the origin). */
    snprintf(u, sizeof u, "http://127.0.0.1:%d/big", port);
    T(curl(NULL, NULL, u) == 0 && strlen(out) == 300000);
    /* HEAD: the length announced, no body. */
    T(curl("-I", NULL, u) == 0 && strstr(out, "200") && strstr(out, "Via: 1.1 weft-proxy"));
    /* http through a CONNECT tunnel (curl -p): the origin sees no Via. */
    snprintf(u, sizeof u, "http://127.0.0.1:%d/t", port);
    T(curl("-p", NULL, u) == 0 && !strcmp(out, "GET /t? via=- pauth=no len=0"));
    /* https: CONNECT, TLS end to end (curl checks the origin's cert). */
    snprintf(cafile, sizeof cafile, "%s", crt);
    snprintf(u, sizeof u, "https://localhost:%d/s", tport);
    T(curl("--cacert", cafile, u) == 0 && !strcmp(out, "GET /s? via=- pauth=no len=0"));
    snprintf(u, sizeof u, "https://localhost:%d/big", tport);
    T(curl("--cacert", cafile, u) == 0 && strlen(out) == 300000);
    /* Nowhere to go: 502 with the reason. */
    int dead = free_port();
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", dead);
    T(curl("-w", "%{http_code}", u) == 0 && strstr(out, "502") && strstr(out, "upstream"));
    snprintf(u, sizeof u, "https://127.0.0.1:%d/", dead);
    T(curl("-w", "%{http_code}", u) != 0); /* the tunnel refused: curl fails */
    /* A CONNECT port that is not all digits is refused, not read as its
     * leading number (atoi took "<port>junk" and opened the tunnel). */
    char rq[160];
    const char *bad[] = {"%dx", "+%d", "%d0000000000", " %d"};
    for (int i = 0; i < 4; i++) {
        char auth[64], fmt[32];
        snprintf(fmt, sizeof fmt, "127.0.0.1:%s", bad[i]);
        snprintf(auth, sizeof auth, fmt, port);
        snprintf(rq, sizeof rq, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", auth, auth);
        T(raw_exchange(pport, rq) == 0 && !strncmp(out, "HTTP/1.1 400 ", 13));
    }
#undef T
    return teardown() || fail ? -1 : 0;
}

static ssize_t gen(void *arg, void *buf, size_t n)
{
    int *left = arg;
    if (!*left) return 0;
    (*left)--;
    memset(buf, 'q', 1000);
    return 1000;
}

WEFT_TEST(weft_client_through_proxy)
{
    WEFT_TEST_CHECK(setup() == 0);
    char pxu[64], u[128];
    snprintf(pxu, sizeof pxu, "http://127.0.0.1:%d", pport);
    weft_http_client *c = weft_http_client_new(&(weft_http_client_opts){.proxy = pxu, .tls = cctx});
    weft_http_response *r;
    const char *b;
    size_t n;
    int fail = 0;
#define T(c) do { if (!(c)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #c); fail = 1; goto done; } } while (0)
    for (int tls = 0; tls < 2; tls++) {
        /* Several requests: the client's pooled connection to the proxy
         * (http) or its tunnel (https) is reused. */
        for (int i = 0; i < 3; i++) {
            snprintf(u, sizeof u, tls ? "https://localhost:%d/x%d" : "http://127.0.0.1:%d/x%d",
                     tls ? tport : port, i);
            T(weft_http_client_get(c, u, &r) == 0);
            T(weft_http_response_body(r, &b, &n) == 0);
            char want[128];
            snprintf(want, sizeof want, "GET /x%d? via=%s pauth=no len=0", i,
                     tls ? "-" : "1.1 weft-proxy");
            T(!strcmp(b, want));
            T(!strcmp(weft_http_response_header(r, "x-origin"), "weft"));
            weft_http_response_free(r);
        }
        /* A chunked request body, passed on as it streams. */
        int left = 50;
        weft_http_req_opts o = {.body_fn = gen, .body_arg = &left};
        snprintf(u, sizeof u, tls ? "https://localhost:%d/up" : "http://127.0.0.1:%d/up",
                 tls ? tport : port);
        T(weft_http_client_request(c, "PUT", u, &o, &r) == 0);
        T(weft_http_response_body(r, &b, &n) == 0 && strstr(b, "PUT /up? ") && strstr(b, "len=50000"));
        weft_http_response_free(r);
    }
    T(weft_http_client_connections(c) == 2); /* one to the proxy, one tunnel */
#undef T
done:
    weft_http_client_close(c);
    return teardown() || fail ? -1 : 0;
}

/* A server without a proxy handler: CONNECT gets 501 and says why; an
 * absolute-form target is served as a path of its own (RFC 9112 3.2.2). */
WEFT_TEST(plain_server_refuses)
{
    weft_http_server *P = weft_http_server_new(NULL);
    weft_http_server_route(P, "*", "/{p...}", h_echo, NULL);
    WEFT_TEST_CHECK(weft_http_server_listen(P, "127.0.0.1", 0) == 0);
    weft_stream *s;
    WEFT_TEST_CHECK(weft_tcp_connect("127.0.0.1", weft_http_server_port(P), NULL, &s) == 0);
    const char *rq = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
    WEFT_TEST_CHECK(weft_stream_write(s, rq, strlen(rq)) > 0);
    size_t got = 0;
    ssize_t k;
    while ((k = weft_stream_read(s, out + got, sizeof out - 1 - got)) > 0) got += (size_t)k;
    out[got] = 0;
    weft_stream_close(s);
    WEFT_TEST_CHECK(!strncmp(out, "HTTP/1.1 501 ", 13));
    WEFT_TEST_CHECK(strstr(out, "not a proxy"));
    /* Absolute form: its path, here. */
    WEFT_TEST_CHECK(weft_tcp_connect("127.0.0.1", weft_http_server_port(P), NULL, &s) == 0);
    rq = "GET http://elsewhere.example/p?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    WEFT_TEST_CHECK(weft_stream_write(s, rq, strlen(rq)) > 0);
    got = 0;
    while ((k = weft_stream_read(s, out + got, sizeof out - 1 - got)) > 0) got += (size_t)k;
    out[got] = 0;
    weft_stream_close(s);
    WEFT_TEST_CHECK(strstr(out, "200 OK") && strstr(out, "GET /p?q=1 via=-"));
    weft_http_server_close(P, 1);
    return 0;
}

/* With a proxy handler, the handler sees the scheme and authority. */
static int h_seen(weft_http_request *req, void *arg)
{
    char msg[256];
    int k = snprintf(msg, sizeof msg, "%s|%s|%s|%s", weft_http_request_method(req),
                     weft_http_request_scheme(req), weft_http_request_authority(req),
                     weft_http_request_path(req));
    if (!strcmp(weft_http_request_method(req), "CONNECT")) {
        weft_stream *t;
        int r = weft_http_reply_tunnel(req, &t);
        if (r) return r;
        /* The tunnel: bytes sent right after the head are there to read. */
        char buf[16];
        ssize_t n = weft_stream_read(t, buf, 5);
        if (n != 5) return -EPROTO;
        weft_stream_write(t, msg, (size_t)k);
        return weft_stream_write(t, buf, 5) < 0 ? -EPIPE : 0;
    }
    /* Not a tunnel: the call is refused. */
    weft_stream *t;
    if (weft_http_reply_tunnel(req, &t) != -WEFT_EHTTP_STATE) return -EPROTO;
    return weft_http_respond(req, 200, NULL, msg, (size_t)k);
}

WEFT_TEST(proxy_handler)
{
    weft_http_server *P = weft_http_server_new(NULL);
    weft_http_server_route(P, "*", "/{p...}", h_echo, NULL);
    WEFT_TEST_CHECK(weft_http_server_proxy(P, NULL, NULL) == -EINVAL);
    WEFT_TEST_CHECK(weft_http_server_proxy(P, h_seen, NULL) == 0);
    WEFT_TEST_CHECK(weft_http_server_listen(P, "127.0.0.1", 0) == 0);
    const char *reqs[] = {
        "CONNECT host.example:8443 HTTP/1.1\r\nHost: host.example:8443\r\n\r\nhello",
        "GET http://h.example:81/a?b HTTP/1.1\r\nHost: h.example:81\r\nConnection: close\r\n\r\n",
        "GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    };
    const char *want[] = {"HTTP/1.1 200 OK\r\n", "GET|http|h.example:81|/a", "GET /plain? via=-"};
    for (int i = 0; i < 3; i++) {
        weft_stream *s;
        WEFT_TEST_CHECK(weft_tcp_connect("127.0.0.1", weft_http_server_port(P), NULL, &s) == 0);
        WEFT_TEST_CHECK(weft_stream_write(s, reqs[i], strlen(reqs[i])) > 0);
        size_t got = 0;
        ssize_t k;
        while ((k = weft_stream_read(s, out + got, sizeof out - 1 - got)) > 0) got += (size_t)k;
        out[got] = 0;
        weft_stream_close(s);
        if (!strstr(out, want[i])) fprintf(stderr, "%d: %s\n", i, out);
        WEFT_TEST_CHECK(strstr(out, want[i]));
        if (i == 0) {
            WEFT_TEST_CHECK(strstr(out, "\r\n\r\nCONNECT||host.example:8443|host.example:8443hello"));
            WEFT_TEST_CHECK(!strstr(out, "Content-Length") && !strstr(out, "Transfer-Encoding"));
        }
    }
    weft_http_server_close(P, 1);
    return 0;
}

/* Starts nginx on a free port serving dir/www (gzip on for text, also for
 * requests that came through a proxy: nginx's default leaves those
 * uncompressed), for an origin that is not weft. */
static weft_process *ngx;
static int nginx_start(int nport)
{
    char conf[256], www[200], file[256];
    snprintf(www, sizeof www, "%s/www", dir);
    snprintf(file, sizeof file, "%s/file.txt", www);
    static char text[19001];
    for (int i = 0; i < 1000; i++) memcpy(text + 19 * i, "some text for gzip ", 19);
    if (mkdir(www, 0755) || weft_file_write(file, text, 19000)) return -1;
    snprintf(conf, sizeof conf, "%s/nginx.conf", dir);
    FILE *f = fopen(conf, "w");
    if (!f) return -1;
    fprintf(f,
            "daemon off; master_process off; worker_processes 1;\n"
            "error_log %s/error.log; pid %s/nginx.pid;\n"
            "events { worker_connections 64; }\n"
            "http { access_log off;\n"
            "  client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s;\n"
            "  uwsgi_temp_path %s; scgi_temp_path %s;\n"
            "  gzip on; gzip_min_length 100; gzip_types text/plain; gzip_proxied any;\n"
            "  types { text/plain txt; }\n"
            "  server { listen 127.0.0.1:%d; root %s; }\n}\n",
            dir, dir, dir, dir, dir, dir, dir, nport, www);
    fclose(f);
    char *argv[] = {"/usr/sbin/nginx", "-p", dir, "-c", conf, "-e", "stderr", NULL};
    return peer_start(argv, nport, &ngx);
}

/* curl and weft's client through the proxy to nginx: a gzip body passes
 * through undecoded (the client decodes it), over absolute form and in a
 * CONNECT tunnel. */
WEFT_TEST(nginx_origin)
{
    WEFT_TEST_CHECK(setup() == 0);
    int nport = free_port();
    WEFT_TEST_CHECK(nginx_start(nport) == 0);
    char u[128], pxu[64];
    int fail = 0;
    snprintf(u, sizeof u, "http://127.0.0.1:%d/file.txt", nport);
#define T(c) do { if (!(c)) { fprintf(stderr, "%s:%d: %s [%.300s]\n", __FILE__, __LINE__, #c, out); fail = 1; } } while (0)
    T(curl("--compressed", NULL, u) == 0 && strlen(out) == 19000 && !strncmp(out, "some text", 9));
    T(curl("-p", "--compressed", u) == 0 && strlen(out) == 19000);
    T(curl("-D-", "-HAccept-Encoding: gzip", u) == 0 && strstr(out, "Content-Encoding: gzip") &&
      strstr(out, "Via: 1.1 weft-proxy") && strstr(out, "Server: weft") && !strstr(out, "nginx"));
    snprintf(pxu, sizeof pxu, "http://127.0.0.1:%d", pport);
    weft_http_client *c = weft_http_client_new(&(weft_http_client_opts){.proxy = pxu});
    weft_http_response *r;
    const char *b;
    size_t n;
    T(weft_http_client_get(c, u, &r) == 0 && weft_http_response_body(r, &b, &n) == 0 &&
      n == 19000 && weft_http_response_header(r, "content-encoding") &&
      !strcmp(weft_http_response_header(r, "content-encoding"), "gzip"));
    weft_http_response_free(r);
    weft_http_client_close(c);
#undef T
    peer_stop(ngx);
    return teardown() || fail ? -1 : 0;
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(nginx_origin), WEFT_TEST_CASE(plain_server_refuses), WEFT_TEST_CASE(proxy_handler),
               WEFT_TEST_CASE(curl_through_proxy), WEFT_TEST_CASE(weft_client_through_proxy))
