/* Client responses: the head, the body (raw, dechunked, inflated), and
 * giving the connection back. Reads honour the read timeout and the total
 * deadline, each reported with its own error code. */
#include "http/client_internal.h"
#include "core/wait.h"
#include <stdio.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <strings.h>

#define MAX_RESPONSE_HEAD 65536
/* Interim (1xx) responses before the final one: a server sending them
 * endlessly would hold the client for good, none of their bytes being
 * body (Go's client allows 5). */
#define MAX_INTERIM 10
/* Compressed bytes that may come before a decoded one past max_body: a zstd
 * block (128 KiB) and its frame's header; zlib and brotli give out bytes
 * as they go. */
#define IDLE_SLACK (256 << 10)

typedef struct peek_args {
    weft_stream *s;
    const char **data;
    size_t min;
    ssize_t r;
} peek_args;

static int peek_fn(void *arg)
{
    peek_args *a = arg;
    a->r = weft_stream_peek(a->s, a->data, a->min);
    return a->r < 0 ? (int)a->r : 0;
}

/* A peek under whichever of the read timeout and the total deadline comes
 * first; the error names the one that expired. */
ssize_t weft__resp_peek(weft_http_response *r, const char **data, size_t min)
{
    double lim = r->c->o.read_timeout_s > 0 ? r->c->o.read_timeout_s : INFINITY;
    int code = -WEFT_EHTTP_READ_TIMEOUT;
    if (r->deadline < INFINITY) {
        double rem = r->deadline - weft_now();
        if (rem <= 0) return -WEFT_EHTTP_TOTAL_TIMEOUT;
        if (rem <= lim) lim = rem, code = -WEFT_EHTTP_TOTAL_TIMEOUT;
    }
    if (lim == INFINITY) return weft_stream_peek(r->conn->s, data, min);
    peek_args a = {r->conn->s, data, min, 0};
    int e = weft_timeout(lim, peek_fn, &a);
    if (e == -ETIMEDOUT) return code;
    return a.r;
}

void weft__resp_release(weft_http_response *r, int reusable)
{
    if (!r->conn) return;
    weft__pconn_put(r->c, r->conn, reusable);
    r->conn = NULL;
}

static int setup_decoding(weft_http_response *r)
{
    if (r->c->o.no_decompress) return 0;
    const char *ce = weft_http_response_header(r, "content-encoding");
    if (!ce) return 0;
    /* Lines of one field are one list (RFC 9110 5.3): "gzip" on two lines
     * is "gzip, gzip", kept as sent as that value is. Reading the first
     * alone took one coding off and handed on the rest as decoded. */
    int lines = 0;
    for (size_t i = 0; i < r->H.nheaders; i++)
        lines += !strcasecmp(r->H.headers[i].name, "content-encoding");
    if (lines > 1) return 0;
    int kind;
    if (!strcasecmp(ce, "gzip") || !strcasecmp(ce, "x-gzip")) kind = WEFT__DECODE_GZIP;
    else if (!strcasecmp(ce, "deflate")) kind = WEFT__DECODE_DEFLATE;
    else if (!strcasecmp(ce, "br")) kind = WEFT__DECODE_BR;
    else if (!strcasecmp(ce, "zstd")) kind = WEFT__DECODE_ZSTD;
    else return 0; /* kept as sent (several codings, or one not known) */
    r->z = weft__inflate_new(kind);
    return r->z ? 0 : -ENOMEM;
}

int weft__resp_read_head(weft_http_response *r, int method_head)
{
    for (int interim = 0;; interim++) {
        if (interim > MAX_INTERIM) return -WEFT_EHTTP_PARSE;
        weft__parser_init(&r->P, HTTP_RESPONSE, MAX_RESPONSE_HEAD);
        long n;
        const char *data;
        for (;;) {
            ssize_t got = weft__resp_peek(r, &data, r->P.parsed + 1);
            if (got < 0) return (int)got;
            if ((size_t)got <= r->P.parsed) return -WEFT_EHTTP_CLOSED; /* ended */
            r->got_any = 1;
            n = weft__parser_head(&r->P, data, (size_t)got);
            if (n < 0) return (int)n;
            if (n > 0) break;
        }
        free(r->arena);
        size_t cap = (size_t)n + 4 * WEFT_HTTP_MAX_HEADERS + 16;
        r->arena = malloc(cap);
        if (!r->arena) return -ENOMEM;
        int e = weft__parser_copy_head(&r->P, data, r->arena, cap, &r->H);
        if (e) return e;
        weft_stream_consume(r->conn->s, (size_t)n);
        /* 1xx: an interim response (100 Continue); the real one follows.
         * 101 is final: the connection now speaks another protocol. */
        if (r->H.status >= 100 && r->H.status < 200 && r->H.status != 101) continue;
        break;
    }
    r->is_head = (uint8_t)method_head;
    int st = r->H.status;
    if (st == 101) {
        /* Never pooled: the bytes that follow are not HTTP. The caller
         * takes the connection (weft__resp_detach) or frees it closed. */
        weft__parser_no_body(&r->P);
        r->body_done = 1;
        return 0;
    }
    if (method_head || st == 204 || st == 304 || (st >= 100 && st < 200)) {
        weft__parser_no_body(&r->P);
        r->body_done = 1;
    } else if (r->H.content_length == 0) {
        r->body_done = 1;
    }
    if (r->body_done) weft__resp_release(r, r->H.keep_alive);
    return setup_decoding(r);
}

/* The body as sent (dechunked, not inflated). */
static ssize_t read_raw(weft_http_response *r, char *buf, size_t n)
{
    while (!r->body_done) {
        if (!r->conn) return -WEFT_EHTTP_CLOSED;
        const char *data;
        ssize_t avail = weft__resp_peek(r, &data, 1);
        /* The caller's own cancel or deadline leaves the body intact (peek
         * consumed nothing): the connection stays for a later read. */
        if (avail == -ECANCELED || avail == -ETIMEDOUT) return avail;
        if (avail < 0) {
            weft__resp_release(r, 0);
            return avail;
        }
        if (avail == 0) {
            /* A body that ends with the connection (no length, HTTP/1.0).
             * Over TLS only close_notify ends it: a bare close may be a
             * FIN injected mid-body (the truncation attack, RFC 9112 9.8).
             * Length and chunked bodies never get here complete, so a
             * server that skips close_notify after them is fine. */
            int eof_framed = r->P.framing == WEFT__BODY_EOF;
            int ok = weft__parser_eof(&r->P);
            int cut = ok && eof_framed && weft_stream_tls_truncated(r->conn->s);
            weft__resp_release(r, 0);
            if (cut) return -WEFT_ETLSTRUNC; /* body_done stays 0: later reads fail too */
            if (!ok) return -WEFT_EHTTP_CLOSED;
            r->body_done = 1;
            return 0;
        }
        size_t k = (size_t)avail < n ? (size_t)avail : n, got;
        long used = weft__parser_body(&r->P, data, k, buf, &got);
        if (used < 0) {
            weft__resp_release(r, 0);
            return used;
        }
        weft_stream_consume(r->conn->s, (size_t)used);
        /* Chunk extensions and trailers yield no data: without a bound, a
         * server sending them endlessly held the client however small its
         * body limit (8 MiB of extension passed a 64 KiB limit). */
        if (r->P.overhead > r->max_body) {
            weft__resp_release(r, 0);
            return -WEFT_EHTTP_BODY_SIZE;
        }
        if (r->P.msg_done) {
            r->body_done = 1;
            weft__resp_release(r, r->H.keep_alive);
        }
        if (got) return (ssize_t)got;
    }
    return 0;
}

/* Whether r still has its connection, as another loop may ask: the
 * session's close, on its own loop, takes it (and frees the session) at any
 * time, so it is read atomically and r->c is not followed from there. */
static weft__pconn *resp_conn(const weft_http_response *r)
{
    return __atomic_load_n(&r->conn, __ATOMIC_ACQUIRE);
}

/* A response still reading from its connection waits in its session's
 * loop (the connection's fd record is there): from another loop, -EXDEV
 * (reported). One whose body is all in memory reads anywhere. */
static int resp_home(const weft_http_response *r, const char *fn)
{
    return resp_conn(r) ? weft__check_home(r->home, fn) : 0;
}

ssize_t weft_http_response_read(weft_http_response *r, void *buf, size_t n)
{
    /* Before anything, even with the body buffered or decoded: nothing is
     * consumed for a cancelled caller (or one past its deadline). */
    int e = weft_check("weft_http_response_read");
    if (e) return e;
    if ((e = resp_home(r, "weft_http_response_read"))) return e;
    if (n == 0) return 0; /* as read(2); the raw loop would never end */
    if (!r->z) return read_raw(r, buf, n);
    for (;;) {
        if (r->zoff < r->zin.len || weft__inflate_pending(r->z)) {
            const char *in = r->zin.p + r->zoff;
            size_t inlen = r->zin.len - r->zoff;
            long out = weft__inflate_run(r->z, &in, &inlen, buf, n);
            if (out < 0) {
                weft__resp_release(r, 0);
                return out;
            }
            r->zidle += r->zin.len - r->zoff - inlen;
            r->zoff = r->zin.len - inlen;
            if (out > 0) {
                r->zidle = 0;
                return out;
            }
            /* Coding that decodes to nothing (empty gzip members, zstd
             * skippable frames, brotli metadata) is no body byte to count:
             * as chunk extensions, bounded, else a server sending it
             * endlessly held the reader whatever its limit. */
            if (r->zidle > IDLE_SLACK && r->zidle - IDLE_SLACK > r->max_body) {
                weft__resp_release(r, 0);
                return -WEFT_EHTTP_BODY_SIZE;
            }
            if (r->zoff < r->zin.len) continue; /* a header consumed, no output yet */
        }
        if (r->raw_done) {
            /* The body ended: complete only if the compressed stream did
             * (an empty body, as HEAD's, is empty). A cut stream is an
             * error, never a short success. */
            if (!r->zseen || weft__inflate_done(r->z)) return 0;
            return -WEFT_EHTTP_DECODE;
        }
        r->zin.len = r->zoff = 0;
        if (weft__buf_reserve(&r->zin, 16384)) return -ENOMEM;
        ssize_t got = read_raw(r, r->zin.p, 16384);
        if (got < 0) return got;
        if (got == 0) r->raw_done = 1;
        else r->zseen = 1;
        r->zin.len = (size_t)got;
    }
}

int weft_http_response_body(weft_http_response *r, const char **data, size_t *len)
{
    int e = weft_check("weft_http_response_body");
    if (e) return e;
    if ((e = resp_home(r, "weft_http_response_body"))) return e;
    weft__buf *b = &r->body;
    size_t max = r->max_body;
    if (!r->body_done || r->z) {
        if (r->H.content_length > 0 && !r->z) {
            if ((uint64_t)r->H.content_length > max) {
                weft__resp_release(r, 0);
                return -WEFT_EHTTP_BODY_SIZE;
            }
            if (weft__buf_reserve(b, (size_t)r->H.content_length + 1)) return -ENOMEM;
        }
        for (;;) {
            if (weft__buf_reserve(b, 16385)) return -ENOMEM;
            /* At most one byte past the limit per read: a decoded body (a
             * gzip bomb) is refused before its buffer outgrows the limit. */
            size_t room = b->cap - b->len - 1, left = max - b->len;
            if (left < room) room = left + 1;
            ssize_t got = weft_http_response_read(r, b->p + b->len, room);
            if (got < 0) return (int)got;
            if (got == 0) break;
            b->len += (size_t)got;
            if (b->len > max) {
                weft__resp_release(r, 0);
                return -WEFT_EHTTP_BODY_SIZE;
            }
        }
    }
    if (weft__buf_reserve(b, 1)) return -ENOMEM;
    b->p[b->len] = 0;
    *data = b->p;
    *len = b->len;
    return 0;
}

weft_stream *weft__resp_detach(weft_http_response *r)
{
    if (!r->conn) return NULL;
    weft_stream *s = weft__pconn_detach(r->c, r->conn);
    r->conn = NULL;
    return s;
}

int weft_http_response_status(const weft_http_response *r) { return r->H.status; }
const char *weft_http_response_reason(const weft_http_response *r) { return r->H.reason; }
const char *weft_http_response_url(const weft_http_response *r) { return r->url; }
int weft_http_response_redirects(const weft_http_response *r) { return r->redirects; }

const char *weft_http_response_header(const weft_http_response *r, const char *name)
{
    return weft__header_find(r->H.headers, r->H.nheaders, name);
}

const weft_http_header *weft_http_response_headers(const weft_http_response *r, size_t *n)
{
    *n = r->H.nheaders;
    return r->H.headers;
}

static int free_at_home(void *r)
{
    weft_http_response_free(r);
    return 0;
}

/* What r owns itself, all but the struct: safe from any thread. */
static void free_own(weft_http_response *r)
{
    weft__inflate_free(r->z);
    weft__buf_free(&r->zin);
    weft__buf_free(&r->body);
    free(r->arena);
}

void weft__resp_orphan_free(weft_http_response *r)
{
    free(r); /* free_own was done by weft_http_response_free */
}

void weft_http_response_free(weft_http_response *r)
{
    if (!r) return;
    /* Its connection goes back to (or is closed in) the session's pool:
     * from another loop, that is done on the session's loop, as the PG
     * pool's release is, never from here. Asked from there, r->conn raced
     * with the session's close, and r->c->home read a session that close
     * could free in between (TSan): resp_conn and r->home only. */
    weft_loop *here = weft_loop_current();
    weft__pconn *pc = resp_conn(r);
    if (r->home && r->home != here && pc) {
        fprintf(stderr, "weft: weft_http_response_free from %s: done on the session's loop (a "
                "session belongs to the loop that made it)\n", here ? "another loop" : "a thread "
                "outside the run");
        if (weft_post(r->home, free_at_home, r) == 0) return;
        /* The run is ending (or is over). Closing the connection here
         * changed the session's busy list and semaphores and closed the fd
         * under the session's loop, while that loop may still run and close
         * the session: a data race, a double close of the connection, and
         * an fd number the loop still watches, reused. Nothing of the
         * session is touched: the connection stays in the session's busy
         * list for its close, which frees what is left of r (the struct,
         * its conn field the handshake word). A session never closed keeps
         * both: a leak, in a misuse already reported. */
        free_own(r);
        if (__atomic_compare_exchange_n(&r->conn, &pc, WEFT__RESP_ORPHAN, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            fprintf(stderr, "weft: weft_http_response_free: could not hand it to the session's "
                    "loop; its connection is left to the session's close\n");
            return;
        }
        /* The session's close took the connection meanwhile, and is done
         * with r: nothing of it is left to the session. */
        free(r);
        return;
    }
    /* Unread body bytes would be taken for the next response: the
     * connection can only be reused once the body was read to its end. */
    weft__resp_release(r, 0);
    free_own(r);
    free(r);
}
