/* A small forward proxy on weft (issue 15): http URLs arrive in absolute
 * form ("GET http://host/path") and are forwarded with a client session;
 * https URLs arrive as CONNECT host:port and get a tunnel, two streams
 * spliced, the TLS inside left untouched (end to end between client and
 * origin). Point curl at it with -x, or weft's client with .proxy.
 *
 * Usage: proxy [PORT [HOST]]   (default 3128 on 127.0.0.1)
 * Not an open proxy to put on the internet as it is: it has no access
 * control, and will connect wherever its clients ask. */
#define _GNU_SOURCE /* strcasestr */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <weft.h>
#include <weft/http.h>

static weft_http_client *upstream;

/* Hop-by-hop headers (RFC 9110 7.6.1) and the ones the sending side sets
 * itself: none of them is passed on. */
static int hop_by_hop(const char *name, const char *connection)
{
    static const char *const hop[] = {"connection", "proxy-connection", "keep-alive",
                                      "proxy-authorization", "proxy-authenticate", "te",
                                      "trailer", "transfer-encoding", "upgrade", "host",
                                      "content-length", "expect", NULL};
    for (const char *const *h = hop; *h; h++)
        if (!strcasecmp(name, *h)) return 1;
    /* Connection may name more of them. */
    if (connection) {
        size_t n = strlen(name);
        for (const char *p = connection; (p = strcasestr(p, name)); p += n)
            if ((p == connection || p[-1] == ',' || p[-1] == ' ') &&
                (p[n] == 0 || p[n] == ',' || p[n] == ' '))
                return 1;
    }
    return 0;
}

/* ---- CONNECT: a tunnel ------------------------------------------------------ */

typedef struct pipe_args {
    weft_stream *from, *to;
} pipe_args;

/* Copies from -> to until from ends, then ends to's sending side so the
 * other end sees the close too. */
static int pipe_bytes(void *arg)
{
    pipe_args *p = arg;
    char buf[16384];
    ssize_t n;
    while ((n = weft_stream_read(p->from, buf, sizeof buf)) > 0)
        if (weft_stream_write(p->to, buf, (size_t)n) < 0) return -EPIPE;
    weft_stream_shutdown(p->to);
    return n < 0 ? (int)n : 0;
}

/* Splits "host:port" or "[v6]:port" into host (cap bytes) and *port. */
static int split_authority(const char *a, char *host, size_t cap, int *port)
{
    const char *colon = strrchr(a, ':');
    if (!colon || colon == a) return -1;
    /* Digits only: atoi would take "80abc" or "+80" or " 80" as 80, and an
     * overlong number is undefined behaviour for it. */
    const char *d = colon + 1;
    long v = 0;
    if (!*d || strlen(d) > 5) return -1;
    for (; *d; d++) {
        if (*d < '0' || *d > '9') return -1;
        v = v * 10 + (*d - '0');
    }
    *port = (int)v;
    size_t n = (size_t)(colon - a);
    if (a[0] == '[' && colon[-1] == ']') a++, n -= 2;
    if (n == 0 || n >= cap || *port <= 0 || *port > 65535) return -1;
    memcpy(host, a, n);
    host[n] = 0;
    return 0;
}

static int tunnel(weft_http_request *req)
{
    char host[256];
    int port;
    if (split_authority(weft_http_request_authority(req), host, sizeof host, &port))
        return weft_http_respond(req, 400, "text/plain", "CONNECT wants host:port\n", 24);
    weft_stream *up, *down;
    weft_connect_opts co = {.timeout_s = 10};
    int r = weft_tcp_connect(host, port, &co, &up);
    if (r < 0) {
        char msg[200];
        int n = snprintf(msg, sizeof msg, "cannot reach %s:%d: %s\n", host, port, weft_strerror(r));
        return weft_http_respond(req, r == -ETIMEDOUT ? 504 : 502, "text/plain", msg, (size_t)n);
    }
    r = weft_http_reply_tunnel(req, &down);
    if (r == 0) {
        pipe_args to_origin = {down, up}, to_client = {up, down};
        weft_task *t = weft_spawn(pipe_bytes, &to_client);
        if (t) {
            pipe_bytes(&to_origin);
            weft_await(t);
        }
    }
    weft_stream_close(up);
    return 0;
}

/* ---- absolute form: forwarding ---------------------------------------------- */

static ssize_t read_body(void *arg, void *buf, size_t n)
{
    return weft_http_request_read(arg, buf, n);
}

static int forward(weft_http_request *req)
{
    if (strcasecmp(weft_http_request_scheme(req), "http"))
        return weft_http_respond(req, 400, "text/plain", "only http:// here; https: CONNECT\n", 35);
    const char *q = weft_http_request_query(req);
    char url[4096];
    snprintf(url, sizeof url, "http://%s%s%s%s", weft_http_request_authority(req),
             weft_http_request_path(req), *q ? "?" : "", q);
    size_t nh;
    const weft_http_header *hs = weft_http_request_headers(req, &nh);
    const char *conn = weft_http_request_header(req, "connection");
    weft_http_header fwd[101];
    size_t k = 0;
    for (size_t i = 0; i < nh && k < 100; i++)
        if (!hop_by_hop(hs[i].name, conn)) fwd[k++] = hs[i];
    fwd[k++] = (weft_http_header){"Via", "1.1 weft-proxy"};
    weft_http_req_opts o = {.headers = fwd, .nheaders = k};
    const char *cl = weft_http_request_header(req, "content-length");
    if ((cl && atoll(cl) > 0) || weft_http_request_header(req, "transfer-encoding")) {
        o.body_fn = read_body, o.body_arg = req;
        o.body_size = cl ? atoll(cl) : 0;
    }
    weft_http_response *resp;
    int r = weft_http_client_request(upstream, weft_http_request_method(req), url, &o, &resp);
    if (r < 0) {
        char msg[200];
        int n = snprintf(msg, sizeof msg, "upstream %s: %s\n", url, weft_strerror(r));
        int st = r == -WEFT_EHTTP_CONNECT_TIMEOUT || r == -WEFT_EHTTP_READ_TIMEOUT ? 504 : 502;
        return weft_http_respond(req, st, "text/plain", msg, (size_t)n);
    }
    int status = weft_http_response_status(resp);
    if (status < 200) {
        /* A final 1xx (a 101 to a request with no Upgrade, which this
         * proxy never passes on) is not an answer to hand the client: its
         * connection would look switched to another protocol. */
        weft_http_response_free(resp);
        return weft_http_respond(req, 502, "text/plain", "upstream answered 1xx\n", 22);
    }
    const weft_http_header *rh = weft_http_response_headers(resp, &nh);
    const char *rconn = weft_http_response_header(resp, "connection");
    for (size_t i = 0; i < nh; i++)
        /* Date and Server are the proxy's own (the server sends them). */
        if (!hop_by_hop(rh[i].name, rconn) && strcasecmp(rh[i].name, "content-type") &&
            strcasecmp(rh[i].name, "date") && strcasecmp(rh[i].name, "server"))
            weft_http_reply_header(req, rh[i].name, rh[i].value);
    weft_http_reply_header(req, "Via", "1.1 weft-proxy");
    const char *ctype = weft_http_response_header(resp, "content-type");
    const char *rcl = weft_http_response_header(resp, "content-length");
    if (status == 204 || status == 304) {
        r = weft_http_respond(req, status, ctype, "", 0);
    } else {
        r = weft_http_reply_start(req, status, ctype, rcl ? atoll(rcl) : -1);
        char buf[16384];
        ssize_t n = 0;
        while (r >= 0 && (n = weft_http_response_read(resp, buf, sizeof buf)) > 0)
            r = (int)weft_http_reply_write(req, buf, (size_t)n);
        if (r >= 0 && n < 0) r = (int)n; /* cut upstream: the client must see it cut */
        if (r >= 0) r = weft_http_reply_end(req);
    }
    weft_http_response_free(resp);
    return r < 0 ? r : 0;
}

static int proxy(weft_http_request *req, void *arg)
{
    (void)arg;
    if (!strcmp(weft_http_request_method(req), "CONNECT")) return tunnel(req);
    return forward(req);
}

static int main_task(void *arg)
{
    char **argv = arg;
    int port = argv[1] ? atoi(argv[1]) : 3128;
    const char *host = argv[1] && argv[2] ? argv[2] : "127.0.0.1";
    /* As a proxy sees it: bodies passed as sent (no decoding), redirects and
     * cookies left to the client. */
    weft_http_client_opts co = {.no_decompress = 1, .max_redirects = -1, .no_cookies = 1,
                                .connect_timeout_s = 10, .user_agent = ""};
    upstream = weft_http_client_new(&co);
    weft_http_server_opts so = {.max_body_bytes = (size_t)1 << 30};
    weft_http_server *srv = weft_http_server_new(&so);
    if (!upstream || !srv) return -ENOMEM;
    weft_http_server_proxy(srv, proxy, NULL);
    int r = weft_http_server_listen(srv, host, port);
    if (r < 0) {
        fprintf(stderr, "proxy: listen %s:%d: %s\n", host, port, weft_strerror(r));
        return r;
    }
    printf("proxy on %s:%d\n", host, weft_http_server_port(srv));
    fflush(stdout);
    int sigs[] = {SIGINT, SIGTERM};
    weft_signal_wait(sigs, 2);
    weft_http_server_close(srv, 1.0);
    weft_http_client_close(upstream);
    return 0;
}

int main(int argc, char **argv)
{
    (void)argc;
    return weft_run(main_task, argv) < 0;
}
