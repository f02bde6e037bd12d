/* Server-Sent Events, the server's half: a handler streams events in the
 * text/event-stream format (WHATWG HTML 9.2). Each event goes out as one
 * chunk, written at once (no compression: see reply.c), so a browser sees
 * it when it is sent. */
#include "http/server_internal.h"
#include <errno.h>
#include <stdio.h>

int weft_http_sse_start(weft_http_request *req)
{
    int r = weft_http_reply_header(req, "Cache-Control", "no-cache");
    /* nginx as a reverse proxy would otherwise buffer the stream. */
    if (!r) r = weft_http_reply_header(req, "X-Accel-Buffering", "no");
    if (!r) r = weft_http_reply_start(req, 200, "text/event-stream; charset=utf-8", -1);
    return r;
}

/* 1 if s holds a byte that would end its line early. */
static int has_newline(const char *s) { return s && s[strcspn(s, "\r\n")]; }

int weft_http_sse_send(weft_http_request *req, const weft_http_sse_event *ev)
{
    if (!ev || has_newline(ev->event) || has_newline(ev->id)) return -EINVAL;
    if (!ev->data && !ev->event && !ev->id && ev->retry_ms <= 0) return -EINVAL;
    weft__buf b = {0};
    int r = 0;
    if (ev->event) r |= weft__buf_fmt(&b, "event: %s\n", ev->event);
    if (ev->id) r |= weft__buf_fmt(&b, "id: %s\n", ev->id);
    if (ev->retry_ms > 0) r |= weft__buf_fmt(&b, "retry: %d\n", ev->retry_ms);
    if (ev->data) {
        /* One "data:" line per line of the data, whatever ended it (CRLF,
         * LF or CR, as the reader splits): a bare CR or LF sent as it is
         * would cut the event or start a field of its own. */
        const char *p = ev->data, *end = ev->data + ev->len;
        for (;;) {
            const char *q = p;
            while (q < end && *q != '\r' && *q != '\n') q++;
            r |= weft__buf_str(&b, "data: ");
            r |= weft__buf_add(&b, p, (size_t)(q - p));
            r |= weft__buf_str(&b, "\n");
            if (q == end) break;
            p = q + (q[0] == '\r' && q + 1 < end && q[1] == '\n' ? 2 : 1);
        }
    }
    r |= weft__buf_str(&b, "\n");
    ssize_t w = r ? -ENOMEM : weft_http_reply_write(req, b.p, b.len);
    weft__buf_free(&b);
    return w < 0 ? (int)w : 0;
}

int weft_http_sse_comment(weft_http_request *req, const char *text)
{
    if (!text) text = "";
    if (has_newline(text)) return -EINVAL;
    weft__buf b = {0};
    int r = weft__buf_fmt(&b, ":%s%s\n\n", *text ? " " : "", text);
    ssize_t w = r ? -ENOMEM : weft_http_reply_write(req, b.p, b.len);
    weft__buf_free(&b);
    return w < 0 ? (int)w : 0;
}
