/* The SSE reader fuzz input (src/http/sse_client.c), shared by
 * fuzz_http_sse.c (libFuzzer) and the corpus replay test. The reader pulls
 * the body through weft_http_response_read; here that is a stub that
 * serves the input from memory, whole or in pieces whose sizes come from
 * the input's first bytes. Checked: the same events whole and in pieces
 * (a CR at the end of one read and its LF in the next must not make an
 * extra line), no CR in data, no CR/LF in a type, no CR/LF/NUL in an id,
 * retry -1 or digits, every event within the size limit. */
#ifndef WEFT_FUZZ_SSE_H
#define WEFT_FUZZ_SSE_H
#include "http/client_internal.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Not assert: the replay test is built with NDEBUG. */
#define SSE_MUST(c) \
    do {            \
        if (!(c)) abort(); \
    } while (0)

typedef struct fuzz_src {
    const uint8_t *p;
    size_t n, off;
    const uint8_t *sizes; /* piece sizes, cycled; NULL: all at once */
    size_t nsizes, k;
} fuzz_src;

/* The stub: r is really a fuzz_src. */
ssize_t weft_http_response_read(weft_http_response *r, void *buf, size_t n)
{
    fuzz_src *s = (fuzz_src *)r;
    size_t left = s->n - s->off, take = left < n ? left : n;
    if (s->sizes && take) {
        size_t piece = (size_t)s->sizes[s->k++ % s->nsizes] % 7 + 1;
        if (piece < take) take = piece;
    }
    memcpy(buf, s->p + s->off, take);
    s->off += take;
    return (ssize_t)take;
}

/* Reads every event of s into log (type, data, id, retry, each with its
 * length); returns the reader's last result. */
static int fuzz_sse_read(fuzz_src *s, weft__buf *log)
{
    weft_http_sse_reader *rd = weft_http_sse_reader_new((weft_http_response *)s, 256);
    SSE_MUST(rd);
    weft_http_sse_event ev;
    int r;
    while ((r = weft_http_sse_next(rd, &ev)) == 1) {
        size_t tl = strlen(ev.event), il = strlen(ev.id);
        SSE_MUST(!memchr(ev.data, '\r', ev.len) && ev.data[ev.len] == 0);
        SSE_MUST(!strpbrk(ev.event, "\r\n") && !strpbrk(ev.id, "\r\n"));
        SSE_MUST(ev.retry_ms >= -1);
        SSE_MUST(ev.len <= 256);
        weft__buf_add(log, ev.event, tl + 1);
        weft__buf_add(log, ev.data, ev.len + 1);
        weft__buf_add(log, ev.id, il + 1);
        weft__buf_add(log, &ev.retry_ms, sizeof ev.retry_ms);
    }
    weft_http_sse_reader_free(rd);
    return r;
}

static inline int weft_fuzz_sse(const uint8_t *d, size_t n)
{
    if (n < 1) return 0;
    size_t ns = (size_t)(d[0] % 8) + 1;
    if (ns > n) ns = n;
    fuzz_src whole = {d + ns, n - ns, 0, NULL, 0, 0};
    fuzz_src parts = {d + ns, n - ns, 0, d, ns, 0};
    weft__buf a = {0}, b = {0};
    int ra = fuzz_sse_read(&whole, &a), rb = fuzz_sse_read(&parts, &b);
    /* An event too big may be found at another point of the events that
     * fit: compare what both gave up to the shorter. */
    if (ra == 0 && rb == 0) SSE_MUST(a.len == b.len && (!a.len || !memcmp(a.p, b.p, a.len)));
    else SSE_MUST(!memcmp(a.p ? a.p : "", b.p ? b.p : "", a.len < b.len ? a.len : b.len));
    weft__buf_free(&a);
    weft__buf_free(&b);
    return 0;
}
#endif
