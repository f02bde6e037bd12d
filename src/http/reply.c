/* Server responses. A whole response goes out in one writev (head and body)
 * and its head (reply_head.c) is built into a buffer the connection reuses:
 * no allocation per request once the buffer has grown. */
#include "http/server_internal.h"
#include <strings.h>
#include "http/reply_head.h"
#include <errno.h>

/* Builds the response head into c->out. content_length -1: chunked, -2:
 * neither (1xx/204/304). */
static int build_head(weft_http_request *req, int status, const char *ctype,
                      int64_t content_length)
{
    weft__conn *c = req->c;
    weft_http_server *srv = c->srv;
    if (srv->closing) req->keep_alive = 0;
    weft__head_args a = {.status = status,
                         .ctype = ctype,
                         .content_length = content_length,
                         .server_name = srv->o.server_name,
                         .keep_alive = req->keep_alive,
                         .http10 = req->h->minor == 0,
                         .extra = c->extra.p,
                         .extra_len = c->extra.len};
    int r = weft__head_build(&c->out, &a);
    if (r) return r;
    req->status = status;
    req->replied = 1;
    return 0;
}

int weft_http_reply_header(weft_http_request *req, const char *name, const char *value)
{
    if (req->replied) return -WEFT_EHTTP_STATE;
    if (!name || !value) return -EINVAL;
    int r = weft__head_add_header(&req->c->extra, name, value);
    if (!r && !strcasecmp(name, "connection") && weft__has_token(value, "close"))
        req->keep_alive = 0;
    return r;
}

/* Writes iov after whatever pipelined responses wait in c->pend. A client
 * that stops reading would hold the handler in this write forever: the
 * reaper ends it after body_timeout_s. */
static int write_out(weft__conn *c, struct iovec *iov, int n)
{
    struct iovec all[4];
    int k = 0;
    if (c->pend.len) all[k++] = (struct iovec){c->pend.p, c->pend.len};
    for (int i = 0; i < n && k < 4; i++) all[k++] = iov[i];
    c->state = C_WRITE;
    c->deadline = weft_now() + c->srv->o.body_timeout_s;
    ssize_t r = weft_stream_writev(c->s, all, k);
    c->state = C_HANDLER;
    c->pend.len = 0;
    return r < 0 ? (int)r : 0;
}

int weft__reply_flush(weft__conn *c)
{
    return c->pend.len ? write_out(c, NULL, 0) : 0;
}

/* Pipelined requests (more already buffered behind this one) get their
 * responses gathered and sent with the last of them: one write for the
 * batch instead of one each. */
static int send_all(weft_http_request *req, struct iovec *iov, int n)
{
    weft__conn *c = req->c;
    size_t total = 0;
    for (int i = 0; i < n; i++) total += iov[i].iov_len;
    req->sent += total;
    if (c->corked && c->pend.len + total <= 65536 && !weft__buf_reserve(&c->pend, total)) {
        for (int i = 0; i < n; i++) {
            memcpy(c->pend.p + c->pend.len, iov[i].iov_base, iov[i].iov_len);
            c->pend.len += iov[i].iov_len;
        }
        return 0;
    }
    int r = write_out(c, iov, n);
    if (r < 0) req->keep_alive = 0;
    return r;
}

int weft_http_reply_compress(weft_http_request *req, int on)
{
    if (req->replied) return -WEFT_EHTTP_STATE;
    req->compress = (uint8_t)(on != 0);
    return 0;
}

/* 1 if the handler's ETag or Last-Modified header makes this 200 a 304. */
static int handler_not_modified(weft_http_request *req, int status)
{
    if (status != 200) return 0;
    char etag[256], lm[64];
    const char *e = weft__extra_find(&req->c->extra, "etag", etag, sizeof etag);
    const char *l = weft__extra_find(&req->c->extra, "last-modified", lm, sizeof lm);
    if (!e && !l) return 0;
    return weft__not_modified(req, e, l ? weft__http_parse_date(l) : (time_t)-1);
}

/* The coding for this response (WEFT__CODING_NONE: as it is). len: the
 * body's size, -1 when streamed. A response that could be compressed
 * varies by Accept-Encoding whether or not this client gets it so, and
 * says so (a cache must not give one client's gzip to another). */
static int pick_coding(weft_http_request *req, int status, const char *ctype, int64_t len)
{
    weft__conn *c = req->c;
    char v[256];
    if (!req->compress || status < 200 || status > 299 || status == 204 || status == 206 ||
        !weft__compressible(ctype) || weft__extra_find(&c->extra, "content-encoding", v, sizeof v))
        return WEFT__CODING_NONE;
    if (len >= 0 && (size_t)len < c->srv->o.compress_min_bytes) return WEFT__CODING_NONE;
    if (!weft__extra_find(&c->extra, "vary", v, sizeof v) &&
        weft__head_add_header(&c->extra, "Vary", "Accept-Encoding"))
        return WEFT__CODING_NONE;
    size_t nh;
    const weft_http_header *h = weft_http_request_headers(req, &nh);
    int coding = weft__accept_coding_lines(h, nh); /* every line: the first alone missed some */
    if (coding == WEFT__CODING_NONE) return coding;
    c->z = weft__deflate_start(c->z, coding, c->srv->o.compress_level);
    return weft__deflate_live(c->z) ? coding : WEFT__CODING_NONE;
}

/* Marks the response as coded: Content-Encoding, and the handler's strong
 * ETag made weak (the bytes differ from the identity ones it names). */
static int mark_coded(weft_http_request *req, int coding)
{
    weft__buf *x = &req->c->extra;
    char etag[256];
    if (weft__extra_find(x, "etag", etag, sizeof etag) && etag[0] == '"') {
        /* Rebuilt without the old line: headers keep their order otherwise. */
        weft__buf keep = {0};
        const char *p = x->p, *end = x->p + x->len;
        int r = 0;
        while (p < end) {
            const char *eol = memchr(p, '\n', (size_t)(end - p));
            size_t ll = eol ? (size_t)(eol + 1 - p) : (size_t)(end - p);
            if (!(ll > 5 && !strncasecmp(p, "etag:", 5))) r |= weft__buf_add(&keep, p, ll);
            p += ll;
        }
        char weak[260];
        snprintf(weak, sizeof weak, "W/%s", etag);
        r |= weft__head_add_header(&keep, "ETag", weak);
        if (r) {
            weft__buf_free(&keep);
            return -ENOMEM;
        }
        weft__buf_free(x);
        *x = keep;
    }
    return weft__head_add_header(x, "Content-Encoding", weft__coding_name(coding));
}

/* Every reply call starts with the entry check of waiting functions, also
 * when its bytes would only be gathered for a pipelined batch: a cancelled
 * handler (or one past its deadline) sends nothing and changes no state. */
/* A 2xx to CONNECT opens the tunnel (RFC 9110 9.3.6: no framing, no
 * content): weft_http_reply_tunnel's alone. A framed one had the client
 * take its body for the tunnel's first bytes. */
static int connect_2xx(const weft_http_request *req, int status)
{
    return status >= 200 && status < 300 && !strcmp(req->h->method, "CONNECT");
}

int weft_http_respond(weft_http_request *req, int status, const char *ctype, const void *body,
                      size_t len)
{
    int e = weft_check("weft_http_respond");
    if (e) return e;
    if (req->replied) return -WEFT_EHTTP_STATE;
    /* A 1xx is interim (RFC 9110 15.2): as a final answer the client waits
     * on and takes the next request's answer for this one's, and a 101
     * has a proxy in front tunnel the rest. 100 and 101 are the server's. */
    if (status < 200 || status > 999 || connect_2xx(req, status)) return -EINVAL;
    if (handler_not_modified(req, status)) status = 304;
    int no_body = status < 200 || status == 204 || status == 304;
    int coding = no_body ? WEFT__CODING_NONE : pick_coding(req, status, ctype, (int64_t)len);
    if (coding) {
        /* Whole, then sent only if it came out smaller. */
        weft__buf *z = &req->c->zout;
        z->len = 0;
        if (weft__deflate_run(req->c->z, body, len, 1, z) == 0 && z->len < len) {
            int r = mark_coded(req, coding);
            if (r) return r;
            body = z->p, len = z->len;
        }
    }
    int r = build_head(req, status, ctype, no_body ? -2 : (int64_t)len);
    if (r) return r;
    req->ended = 1;
    struct iovec iov[2] = {{req->c->out.p, req->c->out.len}, {(void *)body, len}};
    int n = (req->is_head || no_body || !len) ? 1 : 2;
    r = send_all(req, iov, n);
    req->sent -= req->c->out.len;
    return r;
}

int weft_http_reply_start(weft_http_request *req, int status, const char *ctype,
                          int64_t content_length)
{
    int e = weft_check("weft_http_reply_start");
    if (e) return e;
    if (req->replied) return -WEFT_EHTTP_STATE;
    if (status < 200 || status > 999 || connect_2xx(req, status))
        return -EINVAL; /* as weft_http_respond */
    int64_t announced = content_length;
    int not_modified = handler_not_modified(req, status);
    if (not_modified) status = 304, content_length = -2;
    int coding = not_modified ? WEFT__CODING_NONE : pick_coding(req, status, ctype, -1);
    if (coding) {
        int r = mark_coded(req, coding);
        if (r) return r;
        content_length = -1; /* the coded length is known at the end only */
    }
    /* HTTP/1.0 has no chunked coding: the body then ends with the connection. */
    if (content_length == -1 && req->h->minor == 0) {
        req->keep_alive = 0;
        content_length = -3;
    }
    int r = build_head(req, status, ctype, content_length < -1 ? -2 : content_length);
    if (r) return r;
    if (not_modified) req->is_head = 1; /* what the handler writes goes nowhere */
    req->zcoding = (uint8_t)(coding && !req->is_head);
    req->chunked_reply = content_length == -1 && !req->is_head;
    req->c->corked = 0; /* a stream may pause: its bytes go out as written */
    req->remaining = announced >= 0 && !not_modified ? announced : -1;
    struct iovec iov = {req->c->out.p, req->c->out.len};
    r = send_all(req, &iov, 1);
    req->sent = 0;
    return r;
}

/* Body bytes as they go on the wire: one chunk, or raw. */
static int send_piece(weft_http_request *req, const void *buf, size_t n)
{
    int r;
    if (req->chunked_reply) {
        char hex[20];
        int hl = snprintf(hex, sizeof hex, "%zx\r\n", n);
        struct iovec iov[3] = {{hex, (size_t)hl}, {(void *)buf, n}, {"\r\n", 2}};
        r = send_all(req, iov, 3);
        req->sent -= (size_t)hl + 2;
    } else {
        struct iovec iov = {(void *)buf, n};
        r = send_all(req, &iov, 1);
    }
    return r;
}

ssize_t weft_http_reply_write(weft_http_request *req, const void *buf, size_t n)
{
    int e = weft_check("weft_http_reply_write");
    if (e) return e;
    if (!req->replied || req->ended) return -WEFT_EHTTP_STATE;
    if (req->is_head || n == 0) return (ssize_t)n;
    if (req->remaining >= 0) {
        if ((uint64_t)req->remaining < n) return -EINVAL;
        req->remaining -= (int64_t)n;
    }
    if (req->zcoding) {
        weft__buf *z = &req->c->zout;
        z->len = 0;
        int r = weft__deflate_run(req->c->z, buf, n, 0, z);
        if (r == 0 && z->len) r = send_piece(req, z->p, z->len);
        return r < 0 ? r : (ssize_t)n;
    }
    int r = send_piece(req, buf, n);
    return r < 0 ? r : (ssize_t)n;
}

int weft_http_reply_end(weft_http_request *req)
{
    int e = weft_check("weft_http_reply_end");
    if (e) return e;
    if (!req->replied) return -WEFT_EHTTP_STATE;
    if (req->ended) return 0;
    req->ended = 1;
    if (req->zcoding) {
        req->zcoding = 0;
        weft__buf *z = &req->c->zout;
        z->len = 0;
        int r = weft__deflate_run(req->c->z, "", 0, 1, z);
        if (r == 0) r = send_piece(req, z->p, z->len);
        if (r < 0) {
            req->keep_alive = 0;
            return r;
        }
    }
    if (req->chunked_reply) {
        struct iovec iov = {"0\r\n\r\n", 5};
        int r = send_all(req, &iov, 1);
        req->sent -= 5;
        return r;
    }
    if (req->remaining > 0 && !req->is_head) {
        /* Fewer bytes than announced: the client can only tell by the
         * connection ending. (A HEAD response announces a length and
         * sends nothing, rightly.) */
        req->keep_alive = 0;
        return -EPIPE;
    }
    return 0;
}

/* Sends a bodiless head (101, or 200 to CONNECT) and hands the handler
 * the connection's stream. */
static int reply_handover(weft_http_request *req, int status, weft_stream **s)
{
    if (req->replied) return -WEFT_EHTTP_STATE;
    /* keep_alive is what build_head reads: 1 so that no "Connection:
     * close" is added (an upgrade's headers say Upgrade; a tunnel's must
     * not look closed to the client); the connection ends when the handler
     * returns all the same. */
    req->keep_alive = 1;
    int r = build_head(req, status, NULL, -2);
    req->keep_alive = 0;
    if (r) return r;
    req->ended = 1;
    req->c->corked = 0; /* the 101 must go now, not wait in a pipelined batch */
    struct iovec iov = {req->c->out.p, req->c->out.len};
    r = write_out(req->c, &iov, 1);
    if (r) return r;
    *s = req->c->s;
    return 0;
}

int weft__reply_upgrade(weft_http_request *req, weft_stream **s)
{
    int e = weft_check("weft__reply_upgrade");
    return e ? e : reply_handover(req, 101, s);
}

int weft_http_reply_tunnel(weft_http_request *req, weft_stream **s)
{
    int e = weft_check("weft_http_reply_tunnel");
    if (e) return e;
    if (strcmp(req->h->method, "CONNECT")) return -WEFT_EHTTP_STATE;
    return reply_handover(req, 200, s);
}

/* An error or status page with a short text body. */
int weft__reply_simple(weft_http_request *req, int status, const char *msg)
{
    char body[256];
    int n = snprintf(body, sizeof body, "%s\n", msg ? msg : weft_http_status_text(status));
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof body) n = (int)sizeof body - 1; /* truncated, not over-read */
    req->c->extra.len = 0;
    return weft_http_respond(req, status, "text/plain; charset=utf-8", body, (size_t)n);
}

/* After the handler: a response it never sent is sent for it. */
int weft__reply_finish(weft_http_request *req)
{
    if (!req->replied && !strcmp(req->h->method, "CONNECT"))
        return weft__reply_simple(req, 500, "CONNECT: no tunnel was opened");
    if (!req->replied) return weft_http_respond(req, 200, NULL, "", 0);
    if (!req->ended) return weft_http_reply_end(req);
    return 0;
}
