/* The handler's multipart/form-data reader: the request body flows through
 * one buffer into the framing parser (multipart_parse.c), part data is
 * handed out in place, and only a part's head is ever held whole. The
 * buffer is as large as a part head may be plus a delimiter and 64 KiB, so
 * a reader of any size takes no more memory. */
#include "http/server_internal.h"
#include "http/multipart_parse.h"
#include <weft/http_multipart.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#define READ_CHUNK 65536

struct weft_http_multipart {
    weft_http_request *req;
    weft__mp mp;
    weft_http_multipart_opts o;
    weft__buf in;            /* body bytes not yet parsed: in.p[off..len) */
    size_t off;
    int eof;                 /* the request body ended */
    int in_part;             /* a part is open and its end not reached */
    int done;                /* the closing delimiter was seen */
    int err;                 /* a failure ends the reader: returned again */
    uint64_t part_read;      /* bytes of the current part handed out */
    weft_http_part part;
    weft__mp_head head;
    char *arena;
    size_t arena_cap;
    weft__buf text;
};

int weft_http_request_multipart(weft_http_request *req, const weft_http_multipart_opts *opt,
                                weft_http_multipart **out)
{
    *out = NULL;
    weft_http_multipart *m = calloc(1, sizeof *m);
    if (!m) return -ENOMEM;
    if (opt) m->o = *opt;
    if (!m->o.max_parts) m->o.max_parts = 128;
    if (!m->o.max_header_bytes) m->o.max_header_bytes = 8192;
    if (!m->o.max_part_bytes) m->o.max_part_bytes = UINT64_MAX;
    m->req = req;
    int e = weft__mp_init(&m->mp, weft_http_request_header(req, "content-type"),
                          m->o.max_header_bytes, m->o.max_parts);
    if (e) {
        if (!req->replied)
            weft__reply_simple(req, e == -WEFT_EHTTP_CONTENT_TYPE ? 415 : 400,
                               e == -WEFT_EHTTP_CONTENT_TYPE
                                   ? "expected Content-Type: multipart/form-data"
                                   : "multipart/form-data without a usable boundary");
        free(m);
        return e;
    }
    m->arena_cap = 2 * m->o.max_header_bytes + 64;
    m->arena = malloc(m->arena_cap);
    if (!m->arena) {
        free(m);
        return -ENOMEM;
    }
    *out = m;
    return 0;
}

void weft_http_multipart_free(weft_http_multipart *m)
{
    if (!m) return;
    weft__buf_free(&m->in);
    weft__buf_free(&m->text);
    free(m->arena);
    free(m);
}

/* Ends the reader with e, answering the client if nobody has yet. */
static int fail(weft_http_multipart *m, int e)
{
    weft_http_request *req = m->req;
    if (e == -ECANCELED || e == -ETIMEDOUT) return e; /* the handler's own: retryable */
    m->err = e;
    if (!req->replied) {
        const char *msg = e == -WEFT_EHTTP_HEADERS_SIZE ? "multipart part head too large"
                        : e == -E2BIG                   ? "too many multipart parts"
                        : e == -WEFT_EHTTP_MULTIPART    ? "malformed multipart/form-data body"
                                                        : NULL;
        if (msg) weft__reply_simple(req, 400, msg);
        else if (e == -WEFT_EHTTP_BODY_SIZE) weft__reply_simple(req, 413, NULL);
    }
    /* The connection stays: the server drains what is left of the body
     * after the handler (bounded in time and size, as for any body a
     * handler leaves), so the client can send all of it and read the
     * answer; closing at once would reset a client still sending. */
    return e;
}

/* Reads more of the body into the buffer. 0 (maybe at eof) or -errno. */
static int fill(weft_http_multipart *m)
{
    weft__buf *b = &m->in;
    if (m->off) {
        memmove(b->p, b->p + m->off, b->len - m->off);
        b->len -= m->off;
        m->off = 0;
    }
    size_t want = m->o.max_header_bytes + m->mp.dlen + 4 + READ_CHUNK;
    if (b->len >= want) return -WEFT_EHTTP_MULTIPART; /* cannot happen: heads are bounded */
    if (weft__buf_reserve(b, want - b->len)) return -ENOMEM;
    ssize_t r = weft_http_request_read(m->req, b->p + b->len, want - b->len);
    if (r < 0) return (int)r;
    if (r == 0) m->eof = 1;
    b->len += (size_t)r;
    return 0;
}

/* Runs the parser until an event other than NEED: 0 with *ev, *data, *n
 * (data left in the buffer: the caller consumes what it uses), or -errno. */
static int step(weft_http_multipart *m, int *ev, const char **data, size_t *n)
{
    for (;;) {
        const char *in = m->in.p ? m->in.p + m->off : ""; /* no buffer yet */
        size_t avail = m->in.len - m->off;
        long used = 0;
        *ev = WEFT__MP_NEED;
        if (avail) used = weft__mp_feed(&m->mp, in, avail, ev, data, n);
        if (used < 0) return fail(m, (int)used);
        if (*ev == WEFT__MP_DATA) return 0; /* consumed by the caller */
        m->off += (size_t)used;
        if (*ev != WEFT__MP_NEED) return 0;
        if (used > 0 && !m->done) continue; /* progress: the rest may hold more */
        if (m->done) {
            /* The epilogue: read to the end so the connection can go on. */
            m->off = m->in.len;
            if (m->eof) return 0;
        } else if (m->eof) {
            return fail(m, -WEFT_EHTTP_MULTIPART); /* cut short */
        }
        int e = fill(m);
        if (e) return fail(m, e);
        if (m->done && m->eof) return 0;
    }
}

int weft_http_multipart_next(weft_http_multipart *m, const weft_http_part **part)
{
    *part = NULL;
    int e = weft_check("weft_http_multipart_next");
    if (e) return e;
    if (m->err) return m->err;
    int ev;
    const char *d;
    size_t n;
    while (!m->done) {
        if ((e = step(m, &ev, &d, &n))) return e;
        if (ev == WEFT__MP_DATA) {
            m->off += n; /* the unread rest of the current part */
            continue;
        }
        if (ev == WEFT__MP_PART_END) {
            m->in_part = 0;
            continue;
        }
        if (ev == WEFT__MP_DONE) {
            m->done = 1;
            break;
        }
        if (ev == WEFT__MP_HEAD) {
            /* The head is still in the buffer: read it before it moves. */
            if (weft__mp_head_parse(d, n, m->arena, m->arena_cap, &m->head))
                return fail(m, -WEFT_EHTTP_MULTIPART);
            m->part = (weft_http_part){m->head.name, m->head.filename, m->head.content_type,
                                       m->head.headers, m->head.nheaders};
            m->in_part = 1;
            m->part_read = 0;
            *part = &m->part;
            return 1;
        }
    }
    /* Drain the epilogue so that the server sees the body end. */
    while (!m->eof)
        if ((e = step(m, &ev, &d, &n))) return e;
    return 0;
}

ssize_t weft_http_multipart_read(weft_http_multipart *m, void *buf, size_t n)
{
    int e = weft_check("weft_http_multipart_read");
    if (e) return e;
    if (m->err) return m->err;
    if (!m->in_part || n == 0) return 0;
    int ev;
    const char *d;
    size_t got;
    if ((e = step(m, &ev, &d, &got))) return e;
    if (ev == WEFT__MP_PART_END) {
        m->in_part = 0;
        return 0;
    }
    if (ev != WEFT__MP_DATA) return fail(m, -WEFT_EHTTP_MULTIPART);
    if (got > n) got = n;
    if (m->part_read + got > m->o.max_part_bytes) return fail(m, -WEFT_EHTTP_BODY_SIZE);
    memcpy(buf, d, got);
    m->off += got;
    m->part_read += got;
    return (ssize_t)got;
}

int weft_http_multipart_text(weft_http_multipart *m, const char **data, size_t *len, size_t max)
{
    if (!max) max = 65536;
    weft__buf *b = &m->text;
    b->len = 0;
    for (;;) {
        if (weft__buf_reserve(b, 16385)) return -ENOMEM;
        ssize_t r = weft_http_multipart_read(m, b->p + b->len, b->cap - b->len - 1);
        if (r < 0) return (int)r;
        if (r == 0) break;
        b->len += (size_t)r;
        if (b->len > max) return fail(m, -WEFT_EHTTP_BODY_SIZE);
    }
    b->p[b->len] = 0;
    *data = b->p;
    *len = b->len;
    return 0;
}

typedef struct open_job {
    const char *path;
    int fd;
} open_job;

static int open_new(void *arg)
{
    open_job *j = arg;
    j->fd = open(j->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    return j->fd < 0 ? -errno : 0;
}

static int unlink_job(void *arg) { return unlink((const char *)arg) ? -errno : 0; }

static int unlink_off_loop(void *arg) { return weft_to_thread(unlink_job, arg); }

/* Removes a file the save made, even for a caller cancelled or past its
 * deadline (the usual reason a save stops half way): weft_to_thread alone
 * refused at once there, and the partial upload stayed. */
static void remove_saved(const char *path) { weft_shield(unlink_off_loop, (void *)path); }

int64_t weft_http_multipart_save(weft_http_multipart *m, const char *path, uint64_t max)
{
    int e = weft_check("weft_http_multipart_save");
    if (e) return e;
    if (m->err) return m->err;
    open_job j = {path, -1};
    if ((e = weft_to_thread(open_new, &j)) < 0) {
        if (j.fd >= 0) { /* made, but the caller was cancelled meanwhile */
            close(j.fd);
            remove_saved(path);
        }
        return e;
    }
    char *buf = malloc(READ_CHUNK);
    uint64_t total = 0;
    int64_t rc = buf ? 0 : -ENOMEM;
    while (!rc) {
        ssize_t r = weft_http_multipart_read(m, buf, READ_CHUNK);
        if (r <= 0) {
            rc = r;
            break;
        }
        if (max && total + (uint64_t)r > max) {
            /* Removed before the client hears 413: it may look at once. */
            close(j.fd), j.fd = -1;
            remove_saved(path);
            free(buf);
            return fail(m, -WEFT_EHTTP_BODY_SIZE);
        }
        for (ssize_t w = 0; w < r && !rc;) {
            ssize_t k = weft_file_pwrite(j.fd, buf + w, (size_t)(r - w), (off_t)(total + (uint64_t)w));
            if (k < 0) rc = k;
            else w += k;
        }
        total += (uint64_t)r;
    }
    free(buf);
    close(j.fd);
    if (rc < 0) {
        remove_saved(path);
        return rc;
    }
    return (int64_t)total;
}
