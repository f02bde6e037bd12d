/* The HTTP/1.1 server: one task per connection reads request heads with
 * llhttp straight out of the stream's buffer (peek/consume), dispatches to
 * a route, and loops for keep-alive and pipelining.
 *
 * Timeouts cost nothing per request: each connection stores the loop time
 * by which its current phase must end (idle, head, body, write), and one
 * reaper task per server checks them a few times a second. A late
 * connection's socket is shut down for reading, which ends its pending
 * read at once with EOF; the connection then sees timed_out and answers
 * 408 or just closes. A stalled write is reset instead (server_guard.c).
 *
 * Of the limits against hostile clients (weft/http.h lists them, and
 * docs/design.md gives their reasons), the turns a busy connection gives
 * the loop, requests per connection and the body's wire budget and
 * deadlines are here; the rest is in server_guard.c. */
#include "http/server_internal.h"
#include <weft/debug.h>
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#define DEF(x, v) ((x) ? (x) : (v))

/* A connection that never has to wait (a client pipelining and reading
 * flat out, an endless chunk extension) gives the loop a turn after this
 * much work. */
#define SLICE_REQUESTS 32
#define SLICE_BYTES (128 * 1024)
/* The turn is a sleep this short rather than weft_yield: a yield only lets
 * the other ready tasks run, and the loop looks at I/O (new clients) once
 * per 1024 task runs, so a lone busy connection would still keep everyone
 * else waiting; a timer makes the loop poll before this task runs again. */
#define TURN_S 1e-6
/* The rest of a body the handler did not read is drained for at most this
 * long (nginx: lingering_timeout, 5 s), to keep the connection. */
#define DRAIN_MAX_S 5.0

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
    srv->o.max_requests = DEF(srv->o.max_requests, 1000);
    srv->o.body_total_s = DEF(srv->o.body_total_s, 60);
    srv->o.compress_min_bytes = DEF(srv->o.compress_min_bytes, 1024);
    if (srv->o.compress_level < 1 || srv->o.compress_level > 9) srv->o.compress_level = 6;
    if (!srv->o.server_name) srv->o.server_name = "weft";
    if (!weft__header_ok("Server", srv->o.server_name)) { /* CR/LF would split every head */
        free(srv);
        errno = EINVAL;
        return NULL;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        srv->nofile = (unsigned long)rl.rlim_cur;
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
const char *weft_http_request_scheme(const weft_http_request *req) { return req->h->scheme; }
const char *weft_http_request_authority(const weft_http_request *req)
{
    return req->h->authority;
}

int weft_http_server_proxy(weft_http_server *srv, weft_http_handler h, void *arg)
{
    if (!h) return -EINVAL;
    srv->proxy.method = "*";
    srv->proxy.h = h;
    srv->proxy.arg = arg;
    return 0;
}

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

/* Gives the loop a turn (see TURN_S), sending the gathered pipelined
 * responses first so that the client is not kept waiting for them. */
static int take_turn(weft__conn *c)
{
    c->slice_reqs = c->slice_bytes = 0;
    if (c->pend.len) {
        int r = weft__reply_flush(c);
        if (r < 0) return r;
    }
    return weft_sleep(TURN_S);
}

/* What a body may put on the wire: its data and as much again for framing
 * (chunk sizes, extensions, trailers, leading zeros), at least 64 KiB. */
static uint64_t wire_budget(const weft_http_server *srv)
{
    uint64_t m = srv->o.max_body_bytes, framing = m > 65536 ? m : 65536;
    return m > UINT64_MAX - framing ? UINT64_MAX : m + framing;
}

/* The body ran out of time (body_timeout_s for one read, body_total_s for
 * the whole): the connection ends, the client told so if it can be. */
static ssize_t body_late(weft_http_request *req)
{
    req->keep_alive = 0;
    if (!req->replied) weft__reply_simple(req, 408, NULL);
    return -ETIMEDOUT;
}

ssize_t weft_http_request_read(weft_http_request *req, void *buf, size_t n)
{
    weft__conn *c = req->c;
    weft_http_server *srv = c->srv;
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
        if (c->slice_bytes >= SLICE_BYTES && (e = take_turn(c)) < 0) return e;
        double now = weft_now();
        if (now >= req->body_due) return body_late(req);
        const char *data;
        c->state = C_BODY;
        c->deadline = fmin(now + srv->o.body_timeout_s, req->body_due);
        ssize_t avail = weft_stream_peek(c->s, &data, 1);
        c->state = C_HANDLER;
        if (avail <= 0) {
            /* Interrupted by the handler's own cancel or deadline, the body
             * is intact (peek consumed nothing): a later read goes on. */
            if (!c->timed_out && (avail == -ECANCELED || avail == -ETIMEDOUT)) return avail;
            if (c->timed_out) return body_late(req);
            req->keep_alive = 0;
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
        req->body_wire += (uint64_t)used;
        c->slice_bytes += (size_t)used;
        /* Chunk extensions and trailers count like data: without them in
         * the sum, megabytes of extensions passed a 1 MB limit. The wire
         * budget also counts what the parser does not (sizes, zeros). */
        if (req->body_read + c->P.overhead > srv->o.max_body_bytes ||
            req->body_wire > wire_budget(srv)) {
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
 * request starts where it should, or give up on the connection. Only
 * briefly: the client has its answer, and a drip of body bytes must not
 * hold the connection (each read's timeout would start again). */
static void body_skip(weft_http_request *req)
{
    if (req->keep_alive && !req->body_done) {
        double drain = fmin(req->c->srv->o.body_timeout_s, DRAIN_MAX_S);
        req->body_due = fmin(req->body_due, weft_now() + drain);
    }
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

/* An absolute-form or CONNECT target's authority is the request's host
 * (the Host header takes it): empty, or with a userinfo ("user:pw@evil",
 * which RFC 9110 4.2.4 says to treat as an error), it is not one. */
static int authority_ok(const weft__head *h)
{
    if (!h->scheme[0] && strcmp(h->method, "CONNECT")) return 1;
    return h->authority[0] && !strchr(h->authority, '@');
}

/* A request meant for a proxy: CONNECT, or a target in absolute form. */
static int proxy_request(const weft__head *h)
{
    return !strcmp(h->method, "CONNECT") || h->scheme[0];
}

static void handle(weft__conn *c)
{
    weft_http_request *req = &c->req;
    weft_http_server *srv = c->srv;
    int path_ok = 0;
    if (srv->proxy.h && proxy_request(req->h)) req->rt = &srv->proxy;
    else req->rt = weft__route_match(srv, req, &path_ok);
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
static void reject_msg(weft__conn *c, int status, const char *msg)
{
    static weft__head h0 = {.method = "-", .path = "-", .query = "", .minor = 1};
    weft_http_request *req = &c->req;
    memset(req, 0, sizeof *req);
    req->c = c;
    req->h = &h0;
    req->t0 = weft_now();
    weft__reply_simple(req, status, msg);
    if (c->srv->o.access_log) access_log(req);
}

static void reject(weft__conn *c, int status) { reject_msg(c, status, NULL); }

/* Reads one request head. 1: ready in c->H; 0: the connection is over.
 * The first request is due whole within header_timeout_s of the accept (a
 * connection that sends nothing is not an idle keep-alive one); a later
 * one may take keepalive_s to start and header_timeout_s to arrive. */
static int read_head(weft__conn *c)
{
    weft_http_server *srv = c->srv;
    weft__parser_init(&c->P, HTTP_REQUEST, srv->o.max_header_bytes);
    double now = weft_now();
    double idle_until = c->nreq ? now + srv->o.keepalive_s : c->accepted + srv->o.header_timeout_s;
    double head_due = c->nreq ? now + srv->o.header_timeout_s : idle_until;
    int idle = weft_stream_buffered(c->s) == 0, phase_set = 0;
    for (;;) {
        if (srv->closing && idle) return 0;
        /* About to wait for bytes: what was gathered must go first (the
         * write sets its own phase: ours is set again after it). */
        if (c->pend.len && weft_stream_buffered(c->s) <= c->P.parsed) {
            if (weft__reply_flush(c) < 0) return 0;
            phase_set = 0;
        }
        if (!phase_set) {
            if (idle) {
                weft__conn_idle(c, idle_until);
            } else {
                c->state = C_HEAD;
                c->deadline = head_due;
            }
            phase_set = 1;
        }
        const char *data;
        ssize_t n = weft_stream_peek(c->s, &data, c->P.parsed + 1);
        /* At the stream's end peek returns what is left, possibly old bytes. */
        if (n <= 0 || (size_t)n <= c->P.parsed) {
            /* EOF mid-head means the client gave up, or the reaper ended a
             * slow one: the latter is told why. */
            if (c->timed_out && c->state == C_HEAD) reject(c, 408);
            return 0;
        }
        if (idle) {
            idle = 0;
            if (c->nreq) head_due = weft_now() + srv->o.header_timeout_s;
            c->state = C_HEAD;
            c->deadline = head_due;
        }
        long r = weft__parser_head(&c->P, data, (size_t)n);
        if (r > 0) {
            if (weft__parser_copy_head(&c->P, data, c->arena, c->arena_cap, &c->H) < 0) {
                reject(c, 431);
                return 0;
            }
            weft_stream_consume(c->s, (size_t)r);
            c->slice_bytes += (size_t)r;
            c->nreq++;
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
        srv->reaper = weft_spawn_named("http-reaper", weft__reaper, srv);
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
    weft__conn_join(srv, c);

    while (read_head(c)) {
        weft_http_request *req = &c->req;
        memset(req, 0, sizeof *req);
        req->c = c;
        req->h = &c->H;
        req->t0 = weft_now();
        req->body_due = req->t0 + srv->o.body_total_s;
        req->keep_alive = c->H.keep_alive && !srv->closing && c->nreq < srv->o.max_requests;
        req->is_head = !strcmp(c->H.method, "HEAD");
        req->compress = (uint8_t)(srv->o.compress > 0);
        if (c->H.content_length <= 0 && !c->H.chunked) req->body_started = req->body_done = 1;
        c->corked = req->body_done && weft_stream_buffered(c->s) > 0;
        c->extra.len = 0;
        c->body.len = 0;
        if (!strcmp(c->H.method, "CONNECT")) {
            /* What follows the head is the tunnel's, never another
             * request: the connection ends with this one either way. */
            req->keep_alive = 0;
            if (!srv->proxy.h) {
                reject_msg(c, 501, "CONNECT: this server is not a proxy");
                break;
            }
            /* Its target is an authority ("host:port"), kept as the path. */
            c->H.authority = c->H.path;
        }
        /* RFC 9112 3.2: an HTTP/1.1 request has exactly one Host; two may
         * route differently in a proxy in front of us than here, whatever
         * the version (HTTP/1.0 with two was served; h11 refuses it). */
        int hosts = host_count(&c->H);
        if (hosts > 1 || (c->H.minor == 1 && hosts != 1) || !authority_ok(&c->H)) {
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
        if ((++c->slice_reqs >= SLICE_REQUESTS || c->slice_bytes >= SLICE_BYTES) &&
            take_turn(c) < 0)
            break;
    }

    weft__reply_flush(c);
    weft__conn_leave(srv, c);
    weft__buf_free(&c->out);
    weft__buf_free(&c->pend);
    weft__buf_free(&c->extra);
    weft__buf_free(&c->body);
    weft__buf_free(&c->pathbuf);
    weft__buf_free(&c->zout);
    weft__deflate_free(c->z);
    free(c->arena);
    free(c);
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
        int rc = srv->tcp_close(srv, grace_s);
        if (!r) r = rc;
    }
    if (srv->reaper) {
        weft_cancel(srv->reaper);
        weft_await(srv->reaper);
    }
    if (!srv->is_shard) {
        weft__routes_free(srv);
        free(srv->mws);
    }
    free(srv);
    return r;
}
