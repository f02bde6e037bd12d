/* weft_stream: the read side.
 *
 * Unread bytes live in one contiguous buffer (rbuf[rpos, rend)), allocated on
 * the first buffered read and grown by doubling up to the stream's limit, so
 * a parser can always see a whole header through weft_stream_peek. A read of
 * at least DIRECT_MIN bytes into an empty buffer goes straight into the
 * caller's memory: bulk transfers and echo loops never copy twice, and a
 * stream that only does such reads never allocates a buffer at all. */
#define _GNU_SOURCE
#include "stream_internal.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define RBUF_INIT 8192
#define DIRECT_MIN 4096

static inline size_t ravail(const weft_stream *s) { return s->rend - s->rpos; }
static inline const char *rdata(const weft_stream *s) { return s->rbuf ? s->rbuf + s->rpos : ""; }

/* Every read operation: one reader at a time, the stream kept alive while it
 * waits. A cancelled task (or one past its deadline) is refused before
 * anything is taken, even when the bytes are already buffered: they stay
 * there for whoever reads next. */
static int rbegin(weft_stream *s, const char *fn)
{
    int e = weft_check(fn);
    if (e == -EPERM) return e;
    if (!s) return -EINVAL;
    if (e) return e;
    if (s->dead) return -EPIPE;
    if (s->reading) return -EBUSY;
    s->reading = 1;
    weft__stream_enter(s);
    return 0;
}

static ssize_t rfinish(weft_stream *s, ssize_t r)
{
    s->reading = 0;
    weft__stream_leave(s);
    return r;
}

/* One transport read into buf, waiting as needed. EOF and transport errors
 * are remembered; cancellation and deadlines are not stream errors. */
static ssize_t rd_once(weft_stream *s, void *buf, size_t n)
{
    for (;;) {
        int want = 0;
        ssize_t r = s->tp->read(s, buf, n, &want);
        if (r == 0) s->eof = 1;
        if (r != -EAGAIN) {
            if (r < 0) s->rerr = (int)r;
            return r;
        }
        r = weft__stream_wait(s, want);
        if (r < 0) return r;
    }
}

/* Why no more bytes can come: -WEFT_EINCOMPLETE at EOF, the read error, or 0. */
static int ended(const weft_stream *s) { return s->eof ? -WEFT_EINCOMPLETE : s->rerr; }

/* Reads once more into the buffer, which may grow up to max bytes. Returns
 * bytes added, 0 at end of stream, or -errno. */
static ssize_t fill(weft_stream *s, size_t max)
{
    size_t avail = ravail(s);
    if (!avail) {
        s->rpos = s->rend = 0;
    } else if (s->rpos && (s->rend == s->rcap || s->rcap - s->rend < s->rcap / 4)) {
        memmove(s->rbuf, s->rbuf + s->rpos, avail);
        s->rpos = 0;
        s->rend = avail;
    }
    if (s->rend == s->rcap) {
        size_t cap = s->rcap ? s->rcap * 2 : RBUF_INIT;
        if (cap > max) cap = max;
        if (cap <= s->rcap) return -WEFT_ELIMIT;
        char *b = realloc(s->rbuf, cap);
        if (!b) return -ENOMEM;
        s->rbuf = b;
        s->rcap = cap;
    }
    ssize_t r = rd_once(s, s->rbuf + s->rend, s->rcap - s->rend);
    if (r > 0) s->rend += (size_t)r;
    return r;
}

/* Copies up to n buffered bytes to buf and consumes them. */
static size_t take(weft_stream *s, void *buf, size_t n)
{
    size_t avail = ravail(s);
    if (n > avail) n = avail;
    if (n) memcpy(buf, s->rbuf + s->rpos, n);
    s->rpos += n;
    if (s->rpos == s->rend) s->rpos = s->rend = 0;
    return n;
}

/* Puts n bytes back in front of the buffer (read_exactly interrupted). */
static int unread(weft_stream *s, const char *p, size_t n)
{
    if (!n) return 0;
    if (s->rpos >= n) {
        s->rpos -= n;
        memcpy(s->rbuf + s->rpos, p, n);
        return 0;
    }
    size_t avail = ravail(s), cap = n + avail;
    if (cap < RBUF_INIT) cap = RBUF_INIT;
    char *b = malloc(cap);
    if (!b) return -ENOMEM;
    memcpy(b, p, n);
    if (avail) memcpy(b + n, s->rbuf + s->rpos, avail);
    free(s->rbuf);
    s->rbuf = b;
    s->rcap = cap;
    s->rpos = 0;
    s->rend = n + avail;
    return 0;
}

ssize_t weft_stream_read(weft_stream *s, void *buf, size_t n)
{
    ssize_t r = rbegin(s, "weft_stream_read");
    if (r < 0) return r;
    if (!buf && n) return rfinish(s, -EINVAL);
    if (!n) return rfinish(s, 0);
    if (ravail(s)) {
        r = (ssize_t)take(s, buf, n);
    } else if (s->eof) {
        r = 0;
    } else if (s->rerr) {
        r = s->rerr;
    } else if (n >= DIRECT_MIN) {
        r = rd_once(s, buf, n);
    } else {
        r = fill(s, s->limit);
        if (r > 0) r = (ssize_t)take(s, buf, n);
    }
    return rfinish(s, r);
}

ssize_t weft_stream_read_exactly(weft_stream *s, void *buf, size_t n)
{
    ssize_t r = rbegin(s, "weft_stream_read_exactly");
    if (r < 0) return r;
    if (!buf && n) return rfinish(s, -EINVAL);
    if (n > SSIZE_MAX) return rfinish(s, -EINVAL);
    char *p = buf;
    size_t got = take(s, p, n);
    r = 0;
    while (got < n) {
        if ((r = ended(s)) < 0) break;
        if (n - got >= DIRECT_MIN) {
            r = rd_once(s, p + got, n - got);
            if (r > 0) got += (size_t)r;
        } else {
            r = fill(s, s->limit);
            if (r > 0) got += take(s, p + got, n - got);
        }
        if (r < 0) break;
    }
    /* Interrupted (cancelled, timed out, buffer exhausted): keep what arrived
     * so that a retry sees the stream unchanged. At EOF they are consumed:
     * there is nothing left to retry for. */
    if (r < 0 && r != -WEFT_EINCOMPLETE && !s->dead && unread(s, p, got) < 0) r = -ENOMEM;
    return rfinish(s, r < 0 ? r : (ssize_t)n);
}

ssize_t weft_stream_read_until(weft_stream *s, const char *delim, size_t dlen, char *buf,
                               size_t cap)
{
    if (!delim || !dlen || (!buf && cap)) return -EINVAL;
    ssize_t r = rbegin(s, "weft_stream_read_until");
    if (r < 0) return r;
    size_t max = cap < s->limit ? cap : s->limit;
    size_t scan = 0; /* bytes already searched without a match */
    for (;;) {
        size_t avail = ravail(s), look = avail < max ? avail : max;
        if (look >= dlen) {
            const char *base = s->rbuf + s->rpos;
            const char *hit = memmem(base + scan, look - scan, delim, dlen);
            if (hit) {
                r = (ssize_t)take(s, buf, (size_t)(hit - base) + dlen);
                break;
            }
            scan = look - dlen + 1;
        }
        if (avail >= max) {
            r = -WEFT_ELIMIT;
            break;
        }
        if ((r = ended(s)) < 0) break;
        r = fill(s, max);
        if (r < 0) break;
    }
    return rfinish(s, r);
}

ssize_t weft_stream_read_line(weft_stream *s, char *buf, size_t cap)
{
    return weft_stream_read_until(s, "\n", 1, buf, cap);
}

ssize_t weft_stream_peek(weft_stream *s, const char **data, size_t min)
{
    if (!data) return -EINVAL;
    ssize_t r = rbegin(s, "weft_stream_peek");
    if (r < 0) return r;
    if (min > s->limit) return rfinish(s, -WEFT_ELIMIT);
    if (!min) min = 1;
    r = 0;
    while (ravail(s) < min && !s->eof) {
        if (s->rerr) {
            r = s->rerr;
            break;
        }
        r = fill(s, s->limit);
        if (r < 0) break;
    }
    *data = rdata(s);
    return rfinish(s, r < 0 ? r : (ssize_t)ravail(s));
}

void weft_stream_consume(weft_stream *s, size_t n)
{
    if (!s) return;
    size_t avail = ravail(s);
    s->rpos += n < avail ? n : avail;
    if (s->rpos == s->rend) s->rpos = s->rend = 0;
}

size_t weft_stream_buffered(const weft_stream *s) { return s ? ravail(s) : 0; }

void weft_stream_set_limit(weft_stream *s, size_t limit)
{
    if (s) s->limit = limit ? limit : WEFT__STREAM_LIMIT_DEFAULT;
}

size_t weft__stream_take_buffered(weft_stream *s, const char **data)
{
    *data = rdata(s);
    return ravail(s);
}
