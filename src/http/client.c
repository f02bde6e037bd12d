/* The client session: a connection pool with a total and a per-host limit,
 * request serialisation, redirects, and the retry of an idempotent request
 * that met a pooled connection the server had already closed.
 *
 * Slots: an open connection (busy or idle) holds one permit of the total
 * semaphore and one of its host's. Every path that drops a connection goes
 * through pconn_close, which gives both back, so no error, EOF or
 * cancellation can leak a slot. When the total is used up by idle
 * connections of other hosts, the oldest of those is closed to make room. */
#include "http/client_internal.h"
#include "core/wait.h"
#include <weft/debug.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>

#define DEF(x, v) ((x) ? (x) : (v))

/* Limits count semaphore permits, which are ints: a larger limit (SIZE_MAX
 * for "no limit") is the same as INT_MAX, where a plain cast would wrap
 * (to -1: no session at all; to 0: every request waiting forever). */
static int permits(size_t limit) { return limit > INT_MAX ? INT_MAX : (int)limit; }

weft_http_client *weft_http_client_new(const weft_http_client_opts *opt)
{
    weft_http_client *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    if (opt) c->o = *opt;
    c->home = weft_loop_current(); /* NULL outside a run: its first request's */
    c->o.limit = DEF(c->o.limit, 100);
    c->o.keepalive_s = DEF(c->o.keepalive_s, 15);
    c->o.max_redirects = DEF(c->o.max_redirects, 10);
    c->o.max_body_bytes = DEF(c->o.max_body_bytes, 64 << 20);
    if (!c->o.user_agent) c->o.user_agent = "weft";
    if (!weft__header_ok("User-Agent", c->o.user_agent)) { /* CR/LF: request splitting */
        free(c);
        errno = EINVAL;
        return NULL;
    }
    c->slots = weft_sem_new(permits(c->o.limit));
    if (!c->slots) {
        free(c);
        return NULL;
    }
    weft_debug_track_at(c, "http client session", WEFT_DEBUG_CALLER);
    return c;
}

size_t weft_http_client_connections(const weft_http_client *c) { return c->nconns; }

/* Connections are pooled per origin and proxy: a tunnel or a proxy
 * connection must not serve a request meant to go direct, nor the reverse. */
static weft__host *host_get(weft_http_client *c, const weft__url *u, const weft__proxy *px)
{
    const char *via = px->on ? px->key : NULL;
    for (weft__host *h = c->hosts; h; h = h->next)
        if (h->port == u->port && h->tls == u->tls && !strcasecmp(h->name, u->host) &&
            (h->via ? via && !strcmp(h->via, via) : !via))
            return h;
    weft__host *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->name = strdup(u->host);
    h->via = via ? strdup(via) : NULL;
    h->port = u->port;
    h->tls = u->tls;
    if (c->o.limit_per_host) h->slots = weft_sem_new(permits(c->o.limit_per_host));
    if (!h->name || (via && !h->via) || (c->o.limit_per_host && !h->slots)) {
        free(h->name), free(h->via), weft_sem_free(h->slots), free(h);
        return NULL;
    }
    h->next = c->hosts;
    c->hosts = h;
    return h;
}

static void busy_remove(weft_http_client *c, weft__pconn *pc)
{
    if (!pc->busy) return;
    if (pc->bprev) pc->bprev->bnext = pc->bnext;
    else c->busy = pc->bnext;
    if (pc->bnext) pc->bnext->bprev = pc->bprev;
    pc->busy = 0;
    pc->owner = NULL;
}

static void busy_add(weft_http_client *c, weft__pconn *pc, weft_http_response *owner)
{
    pc->bprev = NULL;
    pc->bnext = c->busy;
    if (c->busy) c->busy->bprev = pc;
    c->busy = pc;
    pc->busy = 1;
    pc->owner = owner;
}

weft_stream *weft__pconn_detach(weft_http_client *c, weft__pconn *pc)
{
    weft_stream *s = pc->s;
    busy_remove(c, pc);
    if (!pc->permitless) {
        if (pc->host->slots) weft_sem_release(pc->host->slots);
        weft_sem_release(c->slots);
    }
    c->nconns--;
    free(pc);
    return s;
}

/* Closes pc and gives its slots back. graceful: wait for the close (TLS
 * close_notify); else abort at once. */
static void pconn_close(weft_http_client *c, weft__pconn *pc, int graceful)
{
    weft_stream *s = weft__pconn_detach(c, pc);
    if (graceful) weft_stream_close(s);
    else weft_stream_abort(s);
}

void weft__pconn_put(weft_http_client *c, weft__pconn *pc, int reusable)
{
    busy_remove(c, pc);
    if (!reusable || c->closing || weft_stream_buffered(pc->s)) {
        pconn_close(c, pc, 0);
        return;
    }
    weft__host *h = pc->host;
    if (h->waiting) {
        /* A request for this host waits for a slot: hand it this one. The
         * connection waits idle without permits; the waiter adopts it. */
        pc->permitless = 1;
        if (h->slots) weft_sem_release(h->slots);
        weft_sem_release(c->slots);
    } else if (c->waiting) {
        /* A request for another host waits for a total slot. */
        pconn_close(c, pc, 0);
        return;
    }
    /* Expired idle connections of this host go now rather than at their
     * next use, so an idle session does not sit on sockets for long. */
    double now = weft_now();
    for (weft__pconn **pp = &h->idle; *pp;) {
        weft__pconn *old = *pp;
        if (old->permitless || now - old->idle_since <= c->o.keepalive_s) {
            pp = &old->next;
            continue;
        }
        *pp = old->next;
        h->nidle--;
        pconn_close(c, old, 0);
    }
    pc->idle_since = now;
    pc->next = pc->host->idle;
    pc->host->idle = pc;
    pc->host->nidle++;
}

/* A pooled connection is stale when the server closed it or sent bytes
 * nobody asked for; one non-blocking peek at the socket tells. Idempotent
 * requests skip it (one syscall per request): if the connection turns out
 * dead before any response byte, they are sent again on a fresh one. */
static int pconn_alive(weft__pconn *pc)
{
    return weft_stream_readable_now(pc->s) == 0;
}

/* Takes a live idle connection of h. with_permits: the caller holds
 * permits, and may adopt a permitless one (see weft__pconn_put); else those
 * are left for the waiters they were kept for. */
static weft__pconn *idle_take(weft_http_client *c, weft__host *h, int with_permits, int check)
{
    double now = weft_now();
    for (weft__pconn **pp = &h->idle; *pp;) {
        weft__pconn *pc = *pp;
        if (pc->permitless && !with_permits) {
            pp = &pc->next;
            continue;
        }
        *pp = pc->next;
        h->nidle--;
        if (now - pc->idle_since <= c->o.keepalive_s && (!check || pconn_alive(pc))) return pc;
        pconn_close(c, pc, 0);
    }
    return NULL;
}

/* Frees a total-limit slot by closing the longest-idle connection of any
 * host. 1 if one was closed. */
static int evict_idle(weft_http_client *c)
{
    weft__host *best = NULL;
    weft__pconn **bestp = NULL;
    for (weft__host *h = c->hosts; h; h = h->next)
        for (weft__pconn **pp = &h->idle; *pp; pp = &(*pp)->next)
            if (!(*pp)->permitless && (!bestp || (*pp)->idle_since < (*bestp)->idle_since))
                bestp = pp, best = h;
    if (!bestp) return 0;
    weft__pconn *pc = *bestp;
    *bestp = pc->next;
    best->nidle--;
    pconn_close(c, pc, 0);
    return 1;
}

typedef struct acq_args {
    weft_http_client *c;
    weft__host *h;
    int have_host;
} acq_args;

static int acquire_slots(void *arg)
{
    acq_args *a = arg;
    int r = 0;
    a->h->waiting++;
    if (a->h->slots && !a->have_host) {
        r = weft_sem_acquire(a->h->slots);
        if (!r) a->have_host = 1;
    }
    while (!r && !weft_sem_try_acquire(a->c->slots))
        if (!evict_idle(a->c)) {
            a->c->waiting++;
            r = weft_sem_acquire(a->c->slots);
            a->c->waiting--;
            break;
        }
    a->h->waiting--;
    return r;
}

static int pconn_connect(weft_http_client *c, weft__host *h, const weft__url *u,
                         const weft__proxy *px, double deadline, weft_http_response *tr,
                         weft__pconn **out);

/* Gets a connection for u: a live idle one (unless fresh is set), or a new
 * one within the limits. tr: the response its trace events are for. */
static int pconn_get(weft_http_client *c, const weft__url *u, const weft__proxy *px, int fresh,
                     int check, double deadline, weft_http_response *tr, weft__pconn **out)
{
    weft__host *h = host_get(c, u, px);
    if (!h) return -ENOMEM;
    if (!fresh && (*out = idle_take(c, h, 0, check))) {
        weft__trace(tr, WEFT_HTTP_TRACE_CONN_REUSED, 0, 0);
        return 0;
    }
    acq_args a = {c, h, 0};
    int r;
    double lim = c->o.pool_timeout_s > 0 ? c->o.pool_timeout_s : INFINITY;
    int code = -WEFT_EHTTP_POOL_TIMEOUT;
    if (deadline < INFINITY && deadline - weft_now() < lim)
        lim = deadline - weft_now(), code = -WEFT_EHTTP_TOTAL_TIMEOUT;
    if (lim == INFINITY) r = acquire_slots(&a);
    else r = lim <= 0 ? -ETIMEDOUT : weft_timeout(lim, acquire_slots, &a);
    if (r) {
        if (a.have_host) weft_sem_release(h->slots);
        return r == -ETIMEDOUT ? code : r;
    }
    /* Another request may have returned a connection while we waited. */
    if ((*out = idle_take(c, h, 1, check))) {
        if ((*out)->permitless) {
            (*out)->permitless = 0; /* it takes over our permits */
        } else {
            if (h->slots) weft_sem_release(h->slots);
            weft_sem_release(c->slots);
        }
        weft__trace(tr, WEFT_HTTP_TRACE_CONN_REUSED, 0, 0);
        return 0;
    }
    weft__trace(tr, WEFT_HTTP_TRACE_CONN_CREATE_START, 0, 0);
    r = pconn_connect(c, h, u, px, deadline, tr, out);
    weft__trace(tr, WEFT_HTTP_TRACE_CONN_CREATED, 0, r);
    return r;
}

/* Opens a connection for h, whose permits the caller holds (given back
 * on failure). */
static int pconn_connect(weft_http_client *c, weft__host *h, const weft__url *u,
                         const weft__proxy *px, double deadline, weft_http_response *tr,
                         weft__pconn **out)
{
    int r = 0, code;
    weft_connect_opts co = {.dns_ttl_s = c->o.dns_ttl_s,
                            .happy_eyeballs_delay_s = c->o.happy_eyeballs_delay_s};
    if (c->o.trace) {
        co.trace = weft__trace_connect;
        co.trace_arg = tr;
        tr->tdns_host = px->on ? px->host : u->host;
    }
    double ct = c->o.connect_timeout_s;
    code = -WEFT_EHTTP_CONNECT_TIMEOUT;
    if (deadline < INFINITY && (ct <= 0 || deadline - weft_now() < ct))
        ct = deadline - weft_now(), code = -WEFT_EHTTP_TOTAL_TIMEOUT;
    co.timeout_s = ct > 0 ? ct : 0;
    if (u->tls) {
        /* One verifying context per session, made on first use. */
        if (!c->o.tls && !c->own_tls) c->own_tls = weft_tls_client_ctx(NULL);
        co.tls = c->o.tls ? c->o.tls : c->own_tls;
        if (!co.tls) r = errno ? -errno : -ENOMEM;
    }
    weft_stream *s = NULL;
    if (!r && px->on) r = weft__proxy_connect(px, u, &co, c->o.user_agent, &s);
    else if (!r) r = weft_tcp_connect(u->host, u->port, &co, &s);
    weft__pconn *pc = r ? NULL : calloc(1, sizeof *pc);
    if (!pc) {
        if (!r) weft_stream_abort(s), r = -ENOMEM;
        if (h->slots) weft_sem_release(h->slots);
        weft_sem_release(c->slots);
        return r == -ETIMEDOUT ? code : r;
    }
    pc->s = s;
    pc->host = h;
    c->nconns++;
    *out = pc;
    return 0;
}

static int idempotent(const char *m)
{
    return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "PUT") ||
           !strcmp(m, "DELETE") || !strcmp(m, "OPTIONS") || !strcmp(m, "TRACE");
}

/* authz: the Authorization value, "" for none; px: the proxy, whose
 * requests for http URLs name the whole URL (absolute form). */
static int build_head(weft_http_client *c, const char *method, const weft__url *u,
                      const weft_http_req_opts *o, const char *authz, const weft__proxy *px)
{
    weft__buf *b = &c->reqbuf;
    b->len = 0;
    const weft_http_header *hs = o ? o->headers : NULL;
    size_t nh = o ? o->nheaders : 0;
#define USER(name) weft__header_find(hs, nh, name)
    int r;
    if (px->on && !u->tls) {
        char abs[2100];
        weft__url_format(u, abs, sizeof abs);
        r = weft__buf_fmt(b, "%s %s HTTP/1.1\r\n", method, abs);
        if (px->auth[0] && !USER("proxy-authorization"))
            r |= weft__buf_fmt(b, "Proxy-Authorization: %s\r\n", px->auth);
    } else {
        r = weft__buf_fmt(b, "%s %s HTTP/1.1\r\n", method, u->target);
    }
    if (authz[0] && !USER("authorization")) r |= weft__buf_fmt(b, "Authorization: %s\r\n", authz);
    if (!USER("host")) {
        const char *lb = u->ipv6 ? "[" : "", *rb = u->ipv6 ? "]" : "";
        if (u->port == u->default_port) r |= weft__buf_fmt(b, "Host: %s%s%s\r\n", lb, u->host, rb);
        else r |= weft__buf_fmt(b, "Host: %s%s%s:%d\r\n", lb, u->host, rb, u->port);
    }
    if (!USER("user-agent") && c->o.user_agent[0])
        r |= weft__buf_fmt(b, "User-Agent: %s\r\n", c->o.user_agent);
    if (!USER("accept-encoding") && !c->o.no_decompress)
        r |= weft__buf_str(b, "Accept-Encoding: gzip, deflate, br, zstd\r\n");
    if (!USER("accept")) r |= weft__buf_str(b, "Accept: */*\r\n");
    if (!USER("cookie") && !c->o.no_cookies) r |= weft__cookies_header(c, u, b);
    for (size_t i = 0; i < nh; i++) r |= weft__buf_fmt(b, "%s: %s\r\n", hs[i].name, hs[i].value);
    if (o && o->body_fn && o->body_size > 0)
        r |= weft__buf_fmt(b, "Content-Length: %lld\r\n", (long long)o->body_size);
    else if (o && o->body_fn) r |= weft__buf_str(b, "Transfer-Encoding: chunked\r\n");
    else if ((o && o->body) || !strcmp(method, "POST") || !strcmp(method, "PUT") ||
             !strcmp(method, "PATCH"))
        r |= weft__buf_fmt(b, "Content-Length: %zu\r\n", o && o->body ? o->body_len : 0);
    r |= weft__buf_str(b, "\r\n");
#undef USER
    return r ? -ENOMEM : 0;
}

/* A body_fn body of a size given up front: sent as it comes, no framing. */
static int send_body_sized(weft_stream *s, const weft_http_req_opts *o)
{
    char buf[16384];
    uint64_t left = (uint64_t)o->body_size;
    for (;;) {
        ssize_t n = o->body_fn(o->body_arg, buf, sizeof buf);
        if (n < 0) return (int)n;
        if ((size_t)n > sizeof buf || (uint64_t)n > left) return -EINVAL;
        if (n == 0) return left ? -EINVAL : 0; /* short: the server would wait */
        ssize_t w = weft_stream_write(s, buf, (size_t)n);
        if (w < 0) return (int)w;
        left -= (uint64_t)n;
    }
}

static int send_body_stream(weft_stream *s, const weft_http_req_opts *o)
{
    if (o->body_size > 0) return send_body_sized(s, o);
    char buf[16384];
    for (;;) {
        ssize_t n = o->body_fn(o->body_arg, buf, sizeof buf);
        if (n < 0) return (int)n;
        /* More than the room given would send the stack past buf. */
        if ((size_t)n > sizeof buf) return -EINVAL;
        char hex[20];
        int hl = snprintf(hex, sizeof hex, "%zx\r\n", (size_t)n);
        struct iovec iov[3] = {{hex, (size_t)hl}, {buf, (size_t)n}, {"\r\n", 2}};
        ssize_t w = n ? weft_stream_writev(s, iov, 3) : weft_stream_write(s, "0\r\n\r\n", 5);
        if (w < 0) return (int)w;
        if (n == 0) return 0;
    }
}

/* One exchange on one connection: send, read the head. */
static int exchange(weft_http_client *c, const char *method, const weft__url *u,
                    const weft_http_req_opts *o, const char *authz, weft_http_response *r,
                    int *retryable)
{
    weft__pconn *pc = r->conn;
    int reused = pc->uses++ > 0;
    *retryable = 0;
    int e = build_head(c, method, u, o, authz, &r->px);
    if (e) return e;
    int with_body = o && o->body && o->body_len && !o->body_fn;
    struct iovec iov[2] = {{c->reqbuf.p, c->reqbuf.len}, {(void *)(o ? o->body : NULL),
                                                          with_body ? o->body_len : 0}};
    ssize_t w = weft_stream_writev(pc->s, iov, with_body ? 2 : 1);
    if (w >= 0 && o && o->body_fn) w = send_body_stream(pc->s, o);
    r->got_any = 0;
    if (w >= 0) {
        weft__trace(r, WEFT_HTTP_TRACE_REQUEST_SENT, 0, 0);
        e = weft__resp_read_head(r, !strcmp(method, "HEAD"));
        if (e >= 0) weft__trace(r, WEFT_HTTP_TRACE_RESPONSE_HEADERS, r->H.status, 0);
    } else {
        e = (int)w;
    }
    /* A reused connection that fails before any response byte was most
     * likely closed by the server while idle: safe to resend when the
     * request is idempotent and its body can be sent again. */
    if (e < 0 && reused && !r->got_any && idempotent(method) && !(o && o->body_fn) &&
        (e == -WEFT_EHTTP_CLOSED || e == -ECONNRESET || e == -EPIPE))
        *retryable = 1;
    return e;
}

static int is_redirect(int st) { return st == 301 || st == 302 || st == 303 || st == 307 || st == 308; }

/* Caller headers that carry credentials or name the origin: none of them
 * may follow a redirect to another origin (what curl and the fetch standard
 * do), since the caller meant them for the host it named. */
static const char *const origin_headers[] = {"authorization", "proxy-authorization", "cookie",
                                             "host", NULL};
/* Headers that describe a body: gone with the body when a redirect turns
 * the request into a GET (a Content-Length left behind would make the
 * server wait for bytes that never come). */
static const char *const body_headers[] = {"content-length", "transfer-encoding", "content-type",
                                           "content-encoding", "content-language",
                                           "content-location", NULL};

/* Removes the headers named in names from o's list; the first call copies
 * the caller's array into *own, which the request frees. */
static int drop_headers(weft_http_req_opts *o, weft_http_header **own, const char *const *names)
{
    if (!o->nheaders) return 0;
    if (!*own) {
        *own = malloc(o->nheaders * sizeof **own);
        if (!*own) return -ENOMEM;
        memcpy(*own, o->headers, o->nheaders * sizeof **own);
        o->headers = *own;
    }
    size_t k = 0;
    for (size_t i = 0; i < o->nheaders; i++) {
        int drop = 0;
        for (const char *const *n = names; *n && !drop; n++) drop = !strcasecmp((*own)[i].name, *n);
        if (!drop) (*own)[k++] = (*own)[i];
    }
    o->nheaders = k;
    return 0;
}

static int same_origin(const weft__url *a, const weft__url *b)
{
    return a->tls == b->tls && a->port == b->port && !strcasecmp(a->host, b->host);
}

/* A redirect's body is never decoded (a gzip bomb on a 302 costs nothing)
 * and at most this many raw bytes are read to keep the connection; past
 * that, closing and reconnecting is cheaper than reading on. */
#define REDIRECT_DRAIN_MAX 65536

static void discard_redirect_body(weft_http_response *r)
{
    weft__inflate_free(r->z);
    r->z = NULL;
    r->zin.len = r->zoff = 0;
    r->raw_done = r->zseen = 0;
    r->zidle = 0;
    if (r->H.content_length <= REDIRECT_DRAIN_MAX) {
        char scratch[4096];
        size_t total = 0;
        ssize_t n;
        while (total <= REDIRECT_DRAIN_MAX &&
               (n = weft_http_response_read(r, scratch, sizeof scratch)) > 0)
            total += (size_t)n;
    }
    weft__resp_release(r, 0); /* no-op when the body ended and was kept */
}

int weft_http_client_request(weft_http_client *c, const char *method, const char *url,
                             const weft_http_req_opts *o, weft_http_response **out)
{
    return weft__client_request(c, method, url, o, 1, out);
}

static int request_run(weft_http_client *c, const char *method, const char *url,
                       const weft_http_req_opts *o, int follow, weft_http_response **rp);

int weft__client_request(weft_http_client *c, const char *method, const char *url,
                         const weft_http_req_opts *o, int follow, weft_http_response **out)
{
    *out = NULL;
    /* Before taking a pooled connection: a cancelled caller (or one past
     * its deadline) leaves the pool as it was. */
    weft_http_response *r = NULL;
    int e = request_run(c, method, url, o, follow, &r);
    if (r && c->o.trace) weft__trace(r, WEFT_HTTP_TRACE_REQUEST_END, 0, e);
    if (e) weft_http_response_free(r);
    else *out = r;
    return e;
}

/* url as given, less any "user:pass@" (a URL refused before it was parsed
 * still goes to the trace, and a password has no business there): what
 * precedes the last '@' of the authority, or of the start when there is no
 * "://", is left out. */
static void url_without_userinfo(const char *url, char *out, size_t cap)
{
    const char *sep = strstr(url, "://");
    const char *auth = sep ? sep + 3 : url;
    const char *at = NULL;
    for (size_t i = 0, n = strcspn(auth, "/?#"); i < n; i++)
        if (auth[i] == '@') at = auth + i;
    snprintf(out, cap, "%.*s%s", (int)(auth - url), url, at ? at + 1 : auth);
}

/* weft__client_request's work; *rp (set as soon as it exists) is the
 * response, which the caller frees on failure. */
static int request_run(weft_http_client *c, const char *method, const char *url,
                       const weft_http_req_opts *o, int follow, weft_http_response **rp)
{
    int e = weft_check("weft_http_client_request");
    if (e) return e;
    if (!c->home) c->home = weft_loop_current();
    if ((e = weft__check_home(c->home, "weft_http_client_request"))) return e;
    if (c->closing) return -EPIPE;
    for (size_t i = 0; o && i < o->nheaders; i++) {
        if (!weft__header_ok(o->headers[i].name, o->headers[i].value)) return -EINVAL;
        /* The framing is the client's (body, body_fn, body_size): a
         * caller's Content-Length or Transfer-Encoding went out beside it,
         * or alone on a GET, and the server read the next pooled request
         * as this one's body (the server refuses them from handlers too). */
        if (!strcasecmp(o->headers[i].name, "content-length") ||
            !strcasecmp(o->headers[i].name, "transfer-encoding"))
            return -EINVAL;
    }
    if (!*method) return -EINVAL;
    for (const char *m = method; *m; m++)
        if (*m < 'A' || *m > 'Z' || m - method > 15) return -EINVAL;
    weft_http_response *r = calloc(1, sizeof *r);
    if (!r) return -ENOMEM;
    *rp = r;
    r->c = c;
    r->home = c->home;
    r->max_body = c->o.max_body_bytes;
    double total = o && o->total_timeout_s > 0 ? o->total_timeout_s : c->o.total_timeout_s;
    r->deadline = total > 0 ? weft_now() + total : INFINITY;
    weft__url cur, nxt;
    weft_http_req_opts cur_o = o ? *o : (weft_http_req_opts){0};
    weft_http_header *own_headers = NULL; /* cur_o's list once filtered */
    char *meth = r->method;
    snprintf(meth, sizeof r->method, "%s", method);
    r->tctx = o ? o->trace_ctx : NULL;
    /* Credentials (the request's, the URL's user:pass@, the session's) go
     * to the first URL's origin only: cleared when a redirect leaves it. */
    char authz[700];
    e = weft__url_parse(url, &cur);
    if (!e) e = weft__authz(c, &cur, o, authz, sizeof authz);
    if (e) {
        url_without_userinfo(url, r->url, sizeof r->url);
        weft__trace(r, WEFT_HTTP_TRACE_REQUEST_START, 0, 0);
        goto fail;
    }
    weft__url_format(&cur, r->url, sizeof r->url);
    weft__trace(r, WEFT_HTTP_TRACE_REQUEST_START, 0, 0);
    for (;;) {
        int retryable = 0;
        if ((e = weft__proxy_for(c, &cur, o, &r->px))) goto fail;
        for (int attempt = 0; attempt < 2; attempt++) {
            int safe = idempotent(meth) && !(cur_o.body_fn);
            e = pconn_get(c, &cur, &r->px, attempt > 0, !safe || attempt > 0, r->deadline, r,
                          &r->conn);
            if (e) goto fail;
            busy_add(c, r->conn, r);
            e = exchange(c, meth, &cur, &cur_o, authz, r, &retryable);
            if (e >= 0) break;
            weft__resp_release(r, 0);
            if (!retryable) goto fail;
        }
        if (e < 0) goto fail;
        weft__cookies_store(c, &cur, &r->H);
        const char *loc = weft_http_response_header(r, "location");
        int st = r->H.status;
        if (!is_redirect(st) || !loc || c->o.max_redirects < 0 || !follow) break;
        int to_get = st == 303 || ((st == 301 || st == 302) && !strcmp(meth, "POST"));
        /* A streamed body cannot be sent again: the caller gets the
         * redirect itself (as Go's client does without GetBody). */
        if (!to_get && cur_o.body_fn) break;
        if (r->redirects >= c->o.max_redirects) {
            e = -WEFT_EHTTP_REDIRECTS;
            goto fail;
        }
        char next[2048];
        if ((e = weft__url_join(&cur, loc, next, sizeof next))) goto fail;
        if ((e = weft__url_parse(next, &nxt))) goto fail;
        if (cur.tls && !nxt.tls && !c->o.allow_insecure_redirects) {
            e = -WEFT_EHTTP_INSECURE_REDIRECT;
            goto fail;
        }
        weft_http_trace_info ev = {.event = WEFT_HTTP_TRACE_REDIRECT, .status = st,
                                   .location = next};
        weft__trace_full(r, &ev);
        if (!same_origin(&cur, &nxt)) {
            authz[0] = 0;
            if ((e = drop_headers(&cur_o, &own_headers, origin_headers))) goto fail;
        }
        discard_redirect_body(r);
        if (to_get) {
            if (strcmp(meth, "HEAD")) strcpy(meth, "GET");
            cur_o.body = NULL, cur_o.body_len = 0, cur_o.body_fn = NULL;
            if ((e = drop_headers(&cur_o, &own_headers, body_headers))) goto fail;
        }
        /* cur's pointers point into its own buffer: parse it afresh. */
        if ((e = weft__url_parse(next, &cur))) goto fail;
        weft__url_format(&cur, r->url, sizeof r->url);
        r->body_done = 0;
        r->redirects++;
    }
    free(own_headers);
    own_headers = NULL;
    if (c->o.raise_for_status && r->H.status >= 400) {
        e = -WEFT_EHTTP_STATUS;
        goto fail;
    }
    return 0;
fail:
    free(own_headers);
    return e;
}

int weft_http_client_get(weft_http_client *c, const char *url, weft_http_response **out)
{
    int e = weft_http_client_request(c, "GET", url, NULL, out);
    if (e) return e;
    const char *d;
    size_t n;
    e = weft_http_response_body(*out, &d, &n);
    if (e) {
        weft_http_response_free(*out);
        *out = NULL;
    }
    return e;
}

int weft_http_client_close(weft_http_client *c)
{
    if (!c) return 0;
    /* A cancelled caller (or one past its deadline) closes all the same,
     * without waiting (TLS close_notify best effort), and gets the error. */
    int rc = weft_check("weft_http_client_close");
    if (rc == -EPERM) return rc;
    /* Not from another loop: its connections wait in their own loop. */
    int x = weft__check_home(c->home, "weft_http_client_close");
    if (x) return x;
    weft_debug_untrack(c);
    c->closing = 1;
    /* Responses still open lose their connection: reads then fail with
     * -WEFT_EHTTP_CLOSED, and freeing them stays safe. */
    while (c->busy) {
        weft__pconn *pc = c->busy;
        /* The response may sit on another loop, which reads this
         * (resp_conn), or may have been freed where this loop could not
         * be reached: then what is left of it is ours to free. Either way
         * this is the last touch of it. */
        weft_http_response *r = pc->owner;
        if (__atomic_exchange_n(&r->conn, NULL, __ATOMIC_ACQ_REL) == WEFT__RESP_ORPHAN)
            weft__resp_orphan_free(r);
        pconn_close(c, pc, 0);
    }
    for (weft__host *h = c->hosts, *n; h; h = n) {
        n = h->next;
        while (h->idle) {
            weft__pconn *pc = h->idle;
            h->idle = pc->next;
            pconn_close(c, pc, 1);
        }
        weft_sem_free(h->slots);
        free(h->name);
        free(h->via);
        free(h);
    }
    c->hosts = NULL;
    weft__cookies_free(c);
    weft__buf_free(&c->reqbuf);
    weft_sem_free(c->slots);
    if (c->own_tls) weft_tls_ctx_free(c->own_tls);
    free(c);
    return rc;
}
