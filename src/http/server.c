/* The HTTP/1.1 server: one task per connection reads request heads with
 * llhttp straight out of the stream's buffer (peek/consume), dispatches to
 * a route, and loops for keep-alive and pipelining.
 *
 * Timeouts cost nothing per request: each connection stores the loop time
 * by which its current phase must end (idle, head, body), and one reaper
 * task per server checks them twice a second. A late connection's socket
 * is shut down for reading, which ends its pending read at once with EOF;
 * the connection then sees timed_out and answers 408 or just closes. */
#include "http/server_internal.h"
#include <weft/debug.h>
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define DEF(x, v) ((x) ? (x) : (v))

weft_http_server *weft_http_server_new(const weft_http_server_opts *opt)
{
    weft_http_server *srv = calloc(1, sizeof *srv);
    if (!srv) return NULL;
    if (opt) srv->o = *opt;
    srv->o.max_header_bytes = DEF(srv->o.max_header_bytes, 16384);
    srv->o.max_body_bytes = DEF(srv->o.max_body_bytes, 1 << 20);
    srv->o.header_timeout_s = DEF(srv->o.header_timeout_s, 10);
    srv->o.keepalive_s = DEF(srv->o.keepalive_s, 75);
    srv->o.body_timeout_s = DEF(srv->o.body_timeout_s, 30);
    srv->o.max_conns = DEF(srv->o.max_conns, 10000);
    if (!srv->o.server_name) srv->o.server_name = "weft";
    srv->routes_tail = &srv->routes;
    weft_debug_track_at(srv, "http server", WEFT_DEBUG_CALLER);
    return srv;
}

int weft_http_server_use(weft_http_server *srv, weft_http_middleware mw, void *arg)
{
    weft__mw *m = realloc(srv->mws, (size_t)(srv->nmw + 1) * sizeof *m);
    if (!m) return -ENOMEM;
    srv->mws = m;
    m[srv->nmw++] = (weft__mw){mw, arg};
    return 0;
}

/* ---- request accessors ------------------------------------------------------ */

const char *weft_http_request_method(const weft_http_request *req) { return req->h->method; }
const char *weft_http_request_path(const weft_http_request *req) { return req->h->path; }
const char *weft_http_request_query(const weft_http_request *req) { return req->h->query; }

const char *weft_http_request_header(const weft_http_request *req, const char *name)
{
    return weft__header_find(req->h->headers, req->h->nheaders, name);
}

const weft_http_header *weft_http_request_headers(const weft_http_request *req, size_t *n)
{
    *n = req->h->nheaders;
    return req->h->headers;
}

/* ---- request body ------------------------------------------------------------- */

static int body_begin(weft_http_request *req)
{
    weft__conn *c = req->c;
    req->body_started = 1;
    if (req->h->content_length <= 0 && !req->h->chunked) {
        req->body_done = 1;
        return 0;
    }
    if (req->h->content_length > (int64_t)c->srv->o.max_body_bytes) {
        req->keep_alive = 0;  /* the body stays unread */
        if (!req->replied) weft__reply_simple(req, 413, NULL);
        return -WEFT_EHTTP_BODY_SIZE;
    }
    if (req->h->expect_continue && !req->replied) {
        ssize_t r = weft_stream_write(c->s, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        if (r < 0) return (int)r;
    }
    return 0;
}

ssize_t weft_http_request_read(weft_http_request *req, void *buf, size_t n)
{
    weft__conn *c = req->c;
    /* Before anything, even with the body already buffered or done: a
     * cancelled handler (or one past its deadline) consumes nothing. */
    int e = weft_check("weft_http_request_read");
    if (e) return e;
    if (!req->body_started) {
        int r = body_begin(req);
        if (r) return r;
    }
    if (req->body_done || n == 0) return 0;
    for (;;) {
        const char *data;
        c->state = C_BODY;
        c->deadline = weft_now() + c->srv->o.body_timeout_s;
        ssize_t avail = weft_stream_peek(c->s, &data, 1);
        c->state = C_HANDLER;
        if (avail <= 0) {
            /* Interrupted by the handler's own cancel or deadline, the body
             * is intact (peek consumed nothing): a later read goes on. */
            if (!c->timed_out && (avail == -ECANCELED || avail == -ETIMEDOUT)) return avail;
            req->keep_alive = 0;
            if (c->timed_out) return -ETIMEDOUT;
            return avail ? avail : -WEFT_EHTTP_CLOSED;
        }
        size_t k = (size_t)avail < n ? (size_t)avail : n, got;
        long used = weft__parser_body(&c->P, data, k, buf, &got);
        if (used < 0) {
            req->keep_alive = 0;
            if (!req->replied) weft__reply_simple(req, 400, "bad chunked body");
            return used;
        }
        weft_stream_consume(c->s, (size_t)used);
        req->body_read += got;
        /* Chunk extensions and trailers count like data: without them in
         * the sum, megabytes of extensions passed a 1 MB limit. */
        if (req->body_read + c->P.overhead > c->srv->o.max_body_bytes) {
            req->keep_alive = 0;
            if (!req->replied) weft__reply_simple(req, 413, NULL);
            return -WEFT_EHTTP_BODY_SIZE;
        }
        if (c->P.msg_done) req->body_done = 1;
        if (got || req->body_done) return (ssize_t)got;
    }
}

int weft_http_request_body(weft_http_request *req, const char **data, size_t *len)
{
    int e = weft_check("weft_http_request_body");
    if (e) return e;
    /* Not emptied here but when the request starts: a call interrupted by
     * a cancel or deadline keeps what it read, and the next one goes on. */
    weft__buf *b = &req->c->body;
    for (;;) {
        if (weft__buf_reserve(b, 16384)) return -ENOMEM;
        ssize_t r = weft_http_request_read(req, b->p + b->len, b->cap - b->len - 1);
        if (r < 0) return (int)r;
        if (r == 0) break;
        b->len += (size_t)r;
    }
    if (weft__buf_reserve(b, 1)) return -ENOMEM;
    b->p[b->len] = 0;
    *data = b->p;
    *len = b->len;
    return 0;
}

/* The handler did not read the whole body: read and drop it so the next
 * request starts where it should, or give up on the connection. */
static void body_skip(weft_http_request *req)
{
    char scratch[4096];
    while (req->keep_alive && !req->body_done)
        if (weft_http_request_read(req, scratch, sizeof scratch) < 0) req->keep_alive = 0;
}

/* ---- dispatch ------------------------------------------------------------------ */

int weft_http_next(weft_http_request *req)
{
    weft_http_server *srv = req->c->srv;
    if (req->mw_next < srv->nmw) {
        weft__mw *m = &srv->mws[req->mw_next++];
        return m->fn(req, m->arg);
    }
    if (!req->rt) return weft__reply_simple(req, req->path_matched ? 405 : 404, NULL);
    return req->rt->h(req, req->rt->arg);
}

static void access_log(weft_http_request *req)
{
    FILE *f = req->c->srv->o.access_log;
    char when[40];
    weft__http_fmt_date(time(NULL), when);
    fprintf(f, "%s - - [%s] \"%s %s%s%s HTTP/1.%d\" %d %llu %.6f\n", req->c->peer, when,
            req->h->method, req->h->path, *req->h->query ? "?" : "", req->h->query,
            req->h->minor, req->status,
            (unsigned long long)req->sent, weft_now() - req->t0);
    fflush(f);
}

static void handle(weft__conn *c)
{
    weft_http_request *req = &c->req;
    weft_http_server *srv = c->srv;
    int path_ok;
    req->rt = weft__route_match(srv, req, &path_ok);
    req->path_matched = (uint8_t)path_ok;
    int r = weft_http_next(req); /* middleware sees 404/405 requests too */
    if (r < 0) {
        if (!req->replied) weft__reply_simple(req, 500, NULL);
        req->keep_alive = 0;
    }
    if (weft__reply_finish(req) < 0) req->keep_alive = 0;
    body_skip(req);
    if (srv->o.access_log) access_log(req);
}

/* An error answer to a head we could not accept; the connection then ends. */
static void reject(weft__conn *c, int status)
{
    static weft__head h0 = {.method = "-", .path = "-", .query = "", .minor = 1};
    weft_http_request *req = &c->req;
    memset(req, 0, sizeof *req);
    req->c = c;
    req->h = &h0;
    req->t0 = weft_now();
    weft__reply_simple(req, status, NULL);
    if (c->srv->o.access_log) access_log(req);
}

/* Reads one request head. 1: ready in c->H; 0: the connection is over. */
static int read_head(weft__conn *c)
{
    weft_http_server *srv = c->srv;
    weft__parser_init(&c->P, HTTP_REQUEST, srv->o.max_header_bytes);
    size_t have = weft_stream_buffered(c->s);
    c->state = have ? C_HEAD : C_IDLE;
    c->deadline = weft_now() + (have ? srv->o.header_timeout_s : srv->o.keepalive_s);
    for (;;) {
        if (srv->closing && c->state == C_IDLE) return 0;
        /* About to wait for bytes: what was gathered must go first. */
        if (c->pend.len && weft_stream_buffered(c->s) <= c->P.parsed && weft__reply_flush(c) < 0)
            return 0;
        const char *data;
        ssize_t n = weft_stream_peek(c->s, &data, c->P.parsed + 1);
        /* At the stream's end peek returns what is left, possibly old bytes. */
        if (n <= 0 || (size_t)n <= c->P.parsed) {
            /* EOF mid-head means the client gave up, or the reaper ended a
             * slow one: the latter is told why. */
            if (c->timed_out && c->state == C_HEAD) reject(c, 408);
            return 0;
        }
        if (c->state == C_IDLE) {
            c->state = C_HEAD;
            c->deadline = weft_now() + srv->o.header_timeout_s;
        }
        long r = weft__parser_head(&c->P, data, (size_t)n);
        if (r > 0) {
            if (weft__parser_copy_head(&c->P, data, c->arena, c->arena_cap, &c->H) < 0) {
                reject(c, 431);
                return 0;
            }
            weft_stream_consume(c->s, (size_t)r);
            c->state = C_HANDLER;
            c->deadline = INFINITY;
            return 1;
        }
        if (r < 0) {
            reject(c, c->P.status ? c->P.status : 400); /* 400, 413, 431, 501, 505 */
            return 0;
        }
        if ((size_t)n >= srv->o.max_header_bytes) {
            reject(c, 431);
            return 0;
        }
    }
}

static void peer_name(weft__conn *c)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    strcpy(c->peer, "-");
    if (weft_stream_peer(c->s, &ss, &len) < 0) return;
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, c->peer, sizeof c->peer);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, c->peer, sizeof c->peer);
}

static int reaper(void *arg);

static int host_count(const weft__head *h)
{
    int n = 0;
    for (size_t i = 0; i < h->nheaders; i++) n += !strcasecmp(h->headers[i].name, "host");
    return n;
}

int weft_http_server_serve_stream(weft_http_server *srv, weft_stream *s)
{
    int e = weft_check("weft_http_server_serve_stream");
    if (e) return e; /* not a byte read: s is as it was */
    if (!srv->reaper && !srv->closing) {
        srv->reaper = weft_spawn_named("http-reaper", reaper, srv);
        if (!srv->reaper) return -errno;
    }
    weft__conn *c = calloc(1, sizeof *c);
    if (!c) return -ENOMEM;
    c->srv = srv;
    c->s = s;
    c->arena_cap = srv->o.max_header_bytes + 4 * WEFT_HTTP_MAX_HEADERS + 16;
    c->arena = malloc(c->arena_cap);
    if (!c->arena) {
        free(c);
        return -ENOMEM;
    }
    /* The stream must be able to hold a whole head plus what follows. */
    weft_stream_set_limit(s, srv->o.max_header_bytes + 65536);
    if (srv->o.access_log) peer_name(c);
    c->next = srv->conns;
    if (srv->conns) srv->conns->prev = c;
    srv->conns = c;

    while (read_head(c)) {
        weft_http_request *req = &c->req;
        memset(req, 0, sizeof *req);
        req->c = c;
        req->h = &c->H;
        req->t0 = weft_now();
        req->keep_alive = c->H.keep_alive && !srv->closing;
        req->is_head = !strcmp(c->H.method, "HEAD");
        if (c->H.content_length <= 0 && !c->H.chunked) req->body_started = req->body_done = 1;
        c->corked = req->body_done && weft_stream_buffered(c->s) > 0;
        c->extra.len = 0;
        c->body.len = 0;
        if (c->H.upgrade && !strcmp(c->H.method, "CONNECT")) {
            reject(c, 501);
            break;
        }
        /* RFC 9112 3.2: an HTTP/1.1 request has exactly one Host; two may
         * route differently in a proxy in front of us than here. */
        if (c->H.minor == 1 && host_count(&c->H) != 1) {
            reject(c, 400);
            break;
        }
        /* Past the limit (up to 2^63-1, which once read as "no body"): the
         * body is never read, so nothing after it can be parsed. */
        if (c->H.content_length > (int64_t)srv->o.max_body_bytes) {
            reject(c, 413);
            break;
        }
        handle(c);
        if (!req->keep_alive) break;
    }

    weft__reply_flush(c);
    if (c->prev) c->prev->next = c->next;
    else srv->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    weft__buf_free(&c->out);
    weft__buf_free(&c->pend);
    weft__buf_free(&c->extra);
    weft__buf_free(&c->body);
    weft__buf_free(&c->pathbuf);
    free(c->arena);
    free(c);
    return 0;
}

/* Ends the connections whose phase outlived its deadline (see the top). */
static int reaper(void *arg)
{
    weft_http_server *srv = arg;
    /* A tick of a quarter of the shortest timeout keeps them within 25%. */
    double tick = srv->o.header_timeout_s;
    if (srv->o.keepalive_s < tick) tick = srv->o.keepalive_s;
    if (srv->o.body_timeout_s < tick) tick = srv->o.body_timeout_s;
    tick /= 4;
    if (tick > 0.5) tick = 0.5;
    while (weft_sleep(tick) == 0) {
        double now = weft_now();
        for (weft__conn *c = srv->conns; c; c = c->next)
            if (c->state != C_HANDLER && now > c->deadline && !c->timed_out) {
                c->timed_out = 1;
                /* A stuck write (the client reads nothing) needs both ways. */
                weft_stream_shutdown_now(c->s, c->state == C_WRITE ? WEFT_READABLE | WEFT_WRITABLE
                                                                   : WEFT_READABLE);
            }
    }
    return 0;
}

int weft_http_server_close(weft_http_server *srv, double grace_s)
{
    if (!srv) return 0;
    /* A cancelled caller (or one past its deadline) still closes and frees
     * srv, without a grace period, and gets the error back. */
    int r = weft_check("weft_http_server_close");
    if (r == -EPERM) return r;
    weft_debug_untrack(srv);
    srv->closing = 1;
    /* Idle keep-alive connections wait for a request that may never come:
     * end their reads now; busy ones finish their request and close. */
    for (weft__conn *c = srv->conns; c; c = c->next)
        if (c->state == C_IDLE) weft_stream_shutdown_now(c->s, WEFT_READABLE);
    if (srv->tcp) {
        int rc = srv->tcp_close(srv->tcp, grace_s);
        if (!r) r = rc;
    }
    if (srv->reaper) {
        weft_cancel(srv->reaper);
        weft_await(srv->reaper);
    }
    weft__routes_free(srv);
    free(srv->mws);
    free(srv);
    return r;
}
