/* Server-Sent Events, the client's half: an event-stream response body
 * read event by event, as the WHATWG HTML standard (9.2.6) says a browser
 * interprets it: lines end with CRLF, LF or CR (a CR at the end of one
 * read may be followed by the LF in the next), a leading BOM is dropped,
 * ':' lines are comments, a field's value loses one leading space, "data"
 * lines join with LF, "id" with a NUL is ignored, "retry" must be all
 * digits, unknown fields are ignored, and an event is dispatched at an
 * empty line only if it has data (a stream cut inside an event drops it). */
#include "http/client_internal.h"
#include <errno.h>
#include <stdlib.h>

struct weft_http_sse_reader {
    weft_http_response *r;
    size_t max;          /* bytes an event (its lines) may take */
    weft__buf line;      /* the line being read */
    weft__buf data, type, id, last_id;
    weft__buf in;        /* body bytes read, not yet split */
    size_t off;
    int retry_ms;
    uint8_t skip_lf;     /* the previous line ended with CR */
    uint8_t bom;         /* BOM bytes matched at the start; 3: past it */
    uint8_t eof;
    uint8_t has_data;
};

weft_http_sse_reader *weft_http_sse_reader_new(weft_http_response *r, size_t max_event_bytes)
{
    weft_http_sse_reader *rd = calloc(1, sizeof *rd);
    if (!rd) return NULL;
    rd->r = r;
    rd->max = max_event_bytes ? max_event_bytes : 1 << 20;
    rd->retry_ms = -1;
    return rd;
}

void weft_http_sse_reader_free(weft_http_sse_reader *rd)
{
    if (!rd) return;
    weft__buf_free(&rd->line), weft__buf_free(&rd->data), weft__buf_free(&rd->type);
    weft__buf_free(&rd->id), weft__buf_free(&rd->last_id), weft__buf_free(&rd->in);
    free(rd);
}

/* b = s[0..n) NUL-terminated (the NUL not counted in len). */
static int set(weft__buf *b, const char *s, size_t n)
{
    b->len = 0;
    if (weft__buf_add(b, s, n) || weft__buf_add(b, "", 1)) return -ENOMEM;
    b->len--;
    return 0;
}

/* Interprets one complete line. 1: an event is ready; 0: go on. */
static int line_done(weft_http_sse_reader *rd)
{
    const char *l = rd->line.p ? rd->line.p : "";
    size_t n = rd->line.len;
    rd->line.len = 0;
    if (n == 0) {
        if (!rd->has_data) {
            rd->type.len = 0;
            return 0;
        }
        return 1;
    }
    if (l[0] == ':') return 0;
    const char *colon = memchr(l, ':', n);
    size_t fl = colon ? (size_t)(colon - l) : n;
    const char *v = colon ? colon + 1 : l + n;
    if (colon && v < l + n && *v == ' ') v++;
    size_t vl = (size_t)(l + n - v);
#define FIELD(s) (fl == sizeof s - 1 && !memcmp(l, s, fl))
    if (FIELD("data")) {
        if (weft__buf_add(&rd->data, v, vl) || weft__buf_add(&rd->data, "\n", 1)) return -ENOMEM;
        rd->has_data = 1;
    } else if (FIELD("event")) {
        if (set(&rd->type, v, vl)) return -ENOMEM;
    } else if (FIELD("id")) {
        if (!memchr(v, 0, vl) && set(&rd->last_id, v, vl)) return -ENOMEM;
    } else if (FIELD("retry")) {
        int ok = vl > 0 && vl < 10;
        for (size_t i = 0; i < vl && ok; i++) ok = v[i] >= '0' && v[i] <= '9';
        if (ok) rd->retry_ms = atoi(v);
    }
#undef FIELD
    return 0;
}

/* Splits buffered body bytes into lines until an event is ready (1), the
 * bytes run out (0), or the event is too big (-E2BIG). */
static int split(weft_http_sse_reader *rd)
{
    while (rd->off < rd->in.len) {
        char ch = rd->in.p[rd->off++];
        if (rd->bom < 3) {
            /* A UTF-8 BOM may start the stream, split across reads like
             * anything else (fuzz_http_sse found a chunked one misread). */
            static const char bom[3] = "\xEF\xBB\xBF";
            if (ch == bom[rd->bom]) {
                rd->bom++;
                continue;
            }
            if (rd->bom && weft__buf_add(&rd->line, bom, rd->bom)) return -ENOMEM;
            rd->bom = 3; /* not one: what was held is text */
        }
        if (rd->skip_lf) {
            rd->skip_lf = 0;
            if (ch == '\n') continue;
        }
        if (ch == '\r' || ch == '\n') {
            rd->skip_lf = ch == '\r';
            int r = line_done(rd);
            if (r) return r;
            continue;
        }
        if (rd->line.len + rd->data.len >= rd->max) return -E2BIG;
        if (weft__buf_add(&rd->line, &ch, 1)) return -ENOMEM;
    }
    return 0;
}

int weft_http_sse_next(weft_http_sse_reader *rd, weft_http_sse_event *ev)
{
    for (;;) {
        int r = split(rd);
        if (r < 0) return r;
        if (r == 1) break;
        if (rd->eof) return 0;
        if (weft__buf_reserve(&rd->in, 16384)) return -ENOMEM;
        rd->in.len = rd->off = 0;
        ssize_t got = weft_http_response_read(rd->r, rd->in.p, 16384);
        if (got < 0) return (int)got;
        if (got == 0) {
            rd->eof = 1; /* an event not ended by an empty line is dropped */
            continue;
        }
        rd->in.len = (size_t)got;
    }
    /* The data without its last LF; the type "message" unless named. */
    rd->data.len--;
    if (weft__buf_add(&rd->data, "", 1)) return -ENOMEM;
    rd->data.len--;
    if (set(&rd->id, rd->last_id.p ? rd->last_id.p : "", rd->last_id.len)) return -ENOMEM;
    *ev = (weft_http_sse_event){.event = rd->type.len ? rd->type.p : "message",
                                .data = rd->data.p, .len = rd->data.len, .id = rd->id.p,
                                .retry_ms = rd->retry_ms};
    /* The next event starts afresh; ev's strings stay as they are until
     * the next call writes over them. */
    rd->has_data = 0;
    rd->data.len = 0;
    rd->type.len = 0;
    return 1;
}
