/* The client through a real HTTP proxy, Debian's tinyproxy, started here on
 * a free port with its own config (as pg_cluster.sh does for PostgreSQL):
 * http URLs forwarded, https URLs in a CONNECT tunnel with TLS to the
 * origin, proxy authentication, the environment (trust_env, NO_PROXY,
 * httpoxy), per-request proxies, and Basic/Bearer auth with the URL's
 * credentials kept out of the response URL. */
#include <weft/http.h>
#include <weft/test.h>
#include "tls_cert.h"
#include "free_port.h"
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static weft_http_server *S, *TS;
static int port, tport;
static char dir[] = "/tmp/weft-proxy-XXXXXX";
static weft_process *tp[2];
static int tp_port[2];

/* Echoes what the origin saw: the proxy's Via, the Authorization. */
static int h_echo(weft_http_request *req, void *arg)
{
    char b[1024];
    const char *via = weft_http_request_header(req, "via");
    const char *au = weft_http_request_header(req, "authorization");
    const char *pa = weft_http_request_header(req, "proxy-authorization");
    int n = snprintf(b, sizeof b, "via=%s auth=%s pauth=%s", via ? "yes" : "no", au ? au : "",
                     pa ? pa : "");
    return weft_http_respond(req, 200, NULL, b, (size_t)n);
}

/* Starts tinyproxy #i on a free port; auth: "user pass" or NULL. */
static int tinyproxy_start(int i, const char *auth)
{
    char conf[128];
    snprintf(conf, sizeof conf, "%s/tp%d.conf", dir, i);
    tp_port[i] = free_port();
    FILE *f = fopen(conf, "w");
    if (!f) return -1;
    fprintf(f, "Port %d\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\nLogLevel Critical\n",
            tp_port[i]);
    if (auth) fprintf(f, "BasicAuth %s\n", auth);
    fclose(f);
    char *argv[] = {"tinyproxy", "-d", "-c", conf, NULL};
    weft_process_opts o = {.stdout_mode = WEFT_DEVNULL, .stderr_mode = WEFT_DEVNULL};
    int r = weft_process_spawn(argv, &o, &tp[i]);
    if (r) {
        fprintf(stderr, "tinyproxy: %s (apt-get install tinyproxy)\n", weft_strerror(r));
        return r;
    }
    /* Ready once it accepts. */
    for (int k = 0; k < 200; k++) {
        weft_stream *s;
        if (!weft_tcp_connect("127.0.0.1", tp_port[i], NULL, &s)) {
            weft_stream_close(s);
            return 0;
        }
        weft_sleep(0.05);
    }
    return -1;
}

static void tinyproxy_stop(int i)
{
    if (!tp[i]) return;
    weft_process_kill(tp[i], SIGTERM);
    weft_process_wait(tp[i]);
    weft_process_free(tp[i]);
    tp[i] = NULL;
}

static weft_tls_ctx *sctx, *cctx;

static int setup(void)
{
    char crt[128], key[128];
    strcpy(dir, "/tmp/weft-proxy-XXXXXX");
    if (tls_pair_make(dir, crt, key, &sctx, &cctx)) return -1;
    S = weft_http_server_new(NULL);
    TS = weft_http_server_new(&(weft_http_server_opts){.tls = sctx});
    weft_http_server_route(S, "*", "/{p...}", h_echo, NULL);
    weft_http_server_route(TS, "*", "/{p...}", h_echo, NULL);
    if (weft_http_server_listen(S, "127.0.0.1", 0) || weft_http_server_listen(TS, "127.0.0.1", 0))
        return -1;
    port = weft_http_server_port(S);
    tport = weft_http_server_port(TS);
    if (tinyproxy_start(0, NULL) || tinyproxy_start(1, "alice s3cret")) return -1;
    return 0;
}

static int teardown(void)
{
    tinyproxy_stop(0), tinyproxy_stop(1);
    weft_http_server_close(S, 1);
    weft_http_server_close(TS, 1);
    return tls_pair_free(dir, sctx, cctx);
}

static char body[4096];
static int status;

/* Fetches u with c (opts o) into body/status; 0 or the error. */
static int get(weft_http_client *c, const char *u, const weft_http_req_opts *o)
{
    weft_http_response *r;
    body[0] = 0, status = 0;
    int e = weft_http_client_request(c, "GET", u, o, &r);
    if (e) return e;
    status = weft_http_response_status(r);
    const char *d;
    size_t n;
    e = weft_http_response_body(r, &d, &n);
    if (!e) snprintf(body, sizeof body, "%s", d);
    weft_http_response_free(r);
    return e;
}

static char purl[4][128];
static const char *P(int i, const char *cred)
{
    snprintf(purl[i], sizeof purl[i], "http://%s127.0.0.1:%d", cred ? cred : "", tp_port[i]);
    return purl[i];
}

static char ubuf[8][256];
static int ui;
static const char *U(int tls, const char *path)
{
    char *u = ubuf[ui++ % 8];
    snprintf(u, 256, "%s://127.0.0.1:%d%s", tls ? "https" : "http", tls ? tport : port, path);
    return u;
}

WEFT_TEST(forward_and_tunnel)
{
    WEFT_TEST_CHECK(setup() == 0);
    weft_http_client *c = weft_http_client_new(&(weft_http_client_opts){.proxy = P(0, NULL), .tls = cctx});
    /* http: forwarded by the proxy (it adds Via). */
    WEFT_TEST_CHECK(get(c, U(0, "/a"), NULL) == 0 && status == 200);
    WEFT_TEST_CHECK(strstr(body, "via=yes") != NULL);
    /* https: a tunnel; TLS is end to end, so the proxy cannot add Via. */
    WEFT_TEST_CHECK(get(c, U(1, "/b"), NULL) == 0 && status == 200);
    WEFT_TEST_CHECK(strstr(body, "via=no") != NULL);
    WEFT_TEST_CHECK(get(c, U(1, "/c"), NULL) == 0 && status == 200); /* the tunnel is pooled */
    /* Per request: "" goes direct. */
    WEFT_TEST_CHECK(get(c, U(0, "/d"), &(weft_http_req_opts){.proxy = ""}) == 0);
    WEFT_TEST_CHECK(strstr(body, "via=no") != NULL);
    weft_http_client_close(c);
    /* Per request proxy on a direct session; a proxy that is gone fails
     * the request (it did go through it). */
    c = weft_http_client_new(&(weft_http_client_opts){.tls = cctx});
    WEFT_TEST_CHECK(get(c, U(0, "/e"), &(weft_http_req_opts){.proxy = P(0, NULL)}) == 0);
    WEFT_TEST_CHECK(strstr(body, "via=yes") != NULL);
    char gone[64];
    snprintf(gone, sizeof gone, "http://127.0.0.1:%d", free_port());
    WEFT_TEST_CHECK(get(c, U(1, "/f"), &(weft_http_req_opts){.proxy = gone}) == -ECONNREFUSED);
    WEFT_TEST_CHECK(get(c, U(0, "/f"), &(weft_http_req_opts){.proxy = "https://127.0.0.1:1"}) ==
                    -WEFT_EHTTP_URL);
    weft_http_client_close(c);
    return teardown();
}

WEFT_TEST(proxy_auth)
{
    WEFT_TEST_CHECK(setup() == 0);
    weft_http_client *c = weft_http_client_new(&(weft_http_client_opts){.tls = cctx});
    /* Without credentials: 407 for a forwarded request (the caller sees
     * the proxy's answer), -WEFT_EHTTP_PROXY for a tunnel. */
    weft_http_req_opts o = {.proxy = P(1, NULL)};
    WEFT_TEST_CHECK(get(c, U(0, "/a"), &o) == 0 && status == 407);
    WEFT_TEST_CHECK(get(c, U(1, "/a"), &o) == -WEFT_EHTTP_PROXY);
    o.proxy = P(1, "alice:wrong@");
    WEFT_TEST_CHECK(get(c, U(1, "/a"), &o) == -WEFT_EHTTP_PROXY);
    /* With them, both work; the origin never sees Proxy-Authorization. */
    o.proxy = P(1, "alice:s3cret@");
    WEFT_TEST_CHECK(get(c, U(0, "/a"), &o) == 0 && status == 200);
    WEFT_TEST_CHECK(strstr(body, "via=yes") && strstr(body, "pauth= ") == NULL &&
                    strstr(body, "pauth=") && body[strlen(body) - 1] == '=');
    WEFT_TEST_CHECK(get(c, U(1, "/a"), &o) == 0 && status == 200);
    WEFT_TEST_CHECK(strstr(body, "via=no") != NULL);
    weft_http_client_close(c);
    return teardown();
}

WEFT_TEST(environment)
{
    WEFT_TEST_CHECK(setup() == 0);
    setenv("http_proxy", P(0, NULL), 1);
    setenv("HTTPS_PROXY", P(0, NULL), 1);
    unsetenv("no_proxy"), unsetenv("NO_PROXY");
    /* Without trust_env the environment is not read. */
    weft_http_client *c = weft_http_client_new(&(weft_http_client_opts){.tls = cctx});
    WEFT_TEST_CHECK(get(c, U(0, "/a"), NULL) == 0 && strstr(body, "via=no"));
    weft_http_client_close(c);
    c = weft_http_client_new(&(weft_http_client_opts){.tls = cctx, .trust_env = 1});
    WEFT_TEST_CHECK(get(c, U(0, "/a"), NULL) == 0 && strstr(body, "via=yes"));
    WEFT_TEST_CHECK(get(c, U(1, "/a"), NULL) == 0 && status == 200);
    /* NO_PROXY names the host: direct. */
    static const char *const np[] = {"127.0.0.1", "example.com, 127.0.0.1", "*", "127.0.0.1:1"};
    for (size_t i = 0; i < sizeof np / sizeof *np; i++) {
        setenv("NO_PROXY", np[i], 1);
        WEFT_TEST_CHECK(get(c, U(0, "/a"), NULL) == 0 && strstr(body, "via=no"));
    }
    setenv("NO_PROXY", "27.0.0.1,.0.0.1,example.com", 1);
    WEFT_TEST_CHECK(get(c, U(0, "/a"), NULL) == 0 && strstr(body, "via=yes"));
    unsetenv("NO_PROXY");
    /* httpoxy: under CGI, HTTP_PROXY in capitals came from the client. */
    unsetenv("http_proxy");
    setenv("HTTP_PROXY", P(0, NULL), 1);
    WEFT_TEST_CHECK(get(c, U(0, "/a"), NULL) == 0 && strstr(body, "via=yes"));
    setenv("REQUEST_METHOD", "GET", 1);
    WEFT_TEST_CHECK(get(c, U(0, "/a"), NULL) == 0 && strstr(body, "via=no"));
    unsetenv("REQUEST_METHOD"), unsetenv("HTTP_PROXY"), unsetenv("HTTPS_PROXY");
    weft_http_client_close(c);
    return teardown();
}

WEFT_TEST(basic_and_bearer)
{
    WEFT_TEST_CHECK(setup() == 0);
    char want[128];
    WEFT_TEST_CHECK(weft_http_basic_auth("Aladdin", "open sesame", want, sizeof want) == 0);
    WEFT_TEST_CHECK(!strcmp(want, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
    WEFT_TEST_CHECK(weft_http_basic_auth("a:b", "c", want, sizeof want) == -EINVAL);
    WEFT_TEST_CHECK(weft_http_basic_auth("a\r\n", "c", want, sizeof want) == -EINVAL);
    WEFT_TEST_CHECK(weft_http_basic_auth("a", "c", want, 8) == -ENOSPC);
    weft_http_client *c = weft_http_client_new(&(weft_http_client_opts){
        .auth_login = "Aladdin", .auth_password = "open sesame", .tls = cctx});
    WEFT_TEST_CHECK(get(c, U(0, "/a"), NULL) == 0 && strstr(body, "auth=Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ== "));
    /* The request's own beats the session's; a header beats both. */
    WEFT_TEST_CHECK(get(c, U(0, "/a"), &(weft_http_req_opts){.bearer_token = "tok123"}) == 0 &&
                    strstr(body, "auth=Bearer tok123 "));
    weft_http_header h = {"Authorization", "Custom x"};
    WEFT_TEST_CHECK(get(c, U(0, "/a"), &(weft_http_req_opts){.headers = &h, .nheaders = 1}) == 0 &&
                    strstr(body, "auth=Custom x "));
    WEFT_TEST_CHECK(get(c, U(0, "/a"), &(weft_http_req_opts){.bearer_token = "a\r\nb"}) == -EINVAL);
    weft_http_client_close(c);
    /* From the URL, percent-decoded; the response URL has no credentials. */
    c = weft_http_client_new(NULL);
    char u[256];
    snprintf(u, sizeof u, "http://Aladdin:open%%20sesame@127.0.0.1:%d/a", port);
    weft_http_response *r;
    WEFT_TEST_CHECK(weft_http_client_get(c, u, &r) == 0);
    WEFT_TEST_CHECK(strstr(weft_http_response_url(r), "sesame") == NULL &&
                    strstr(weft_http_response_url(r), "Aladdin") == NULL);
    const char *d;
    size_t n;
    WEFT_TEST_CHECK(weft_http_response_body(r, &d, &n) == 0 &&
                    strstr(d, "auth=Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ== "));
    weft_http_response_free(r);
    snprintf(u, sizeof u, "http://a:%%zz@127.0.0.1:%d/a", port);
    WEFT_TEST_CHECK(weft_http_client_get(c, u, &r) == -WEFT_EHTTP_URL);
    weft_http_client_close(c);
    return teardown();
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(forward_and_tunnel), WEFT_TEST_CASE(proxy_auth),
               WEFT_TEST_CASE(environment), WEFT_TEST_CASE(basic_and_bearer))
