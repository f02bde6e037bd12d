/* The response head, written by hand (no printf). Every byte goes through
 * one growing append: no size is estimated apart from what is written (a
 * fixed 128-byte allowance for the constant text was 7 bytes short with a
 * content type, a 13-digit length and HTTP/1.0 keep-alive: a heap
 * overflow, issue 10 item 1). And nothing a program passes may put CR or
 * LF in it (item 12): each input is checked here, where it is written. */
#include "http/reply_head.h"
#include <errno.h>
#include <string.h>
#include <strings.h>

/* Appends n bytes, growing the buffer; the first failure sticks in *err so
 * that the head is written straight through and checked once. */
static void put(weft__buf *b, const char *s, size_t n, int *err)
{
    if (!*err) *err = weft__buf_add(b, s, n);
}
#define PUT_LIT(b, s, err) put((b), (s), sizeof(s) - 1, (err))
#define PUT_STR(b, s, err) put((b), (s), strlen(s), (err))

static void put_u64(weft__buf *b, uint64_t v, int *err)
{
    char tmp[24];
    int i = 24;
    do tmp[--i] = (char)('0' + v % 10);
    while (v /= 10);
    put(b, tmp + i, (size_t)(24 - i), err);
}

int weft__head_build(weft__buf *b, const weft__head_args *a)
{
    if (a->status < 100 || a->status > 999) return -EINVAL;
    if (a->ctype && !weft__header_ok("Content-Type", a->ctype)) return -EINVAL;
    if (!weft__header_ok("Server", a->server_name)) return -EINVAL;
    int err = 0;
    b->len = 0;
    PUT_LIT(b, "HTTP/1.1 ", &err);
    put_u64(b, (uint64_t)a->status, &err);
    PUT_LIT(b, " ", &err);
    PUT_STR(b, weft_http_status_text(a->status), &err);
    if (a->server_name[0]) {
        PUT_LIT(b, "\r\nServer: ", &err);
        PUT_STR(b, a->server_name, &err);
    }
    PUT_LIT(b, "\r\nDate: ", &err);
    put(b, weft__http_date(), 29, &err);
    if (a->ctype) {
        PUT_LIT(b, "\r\nContent-Type: ", &err);
        PUT_STR(b, a->ctype, &err);
    }
    if (a->content_length >= 0) {
        PUT_LIT(b, "\r\nContent-Length: ", &err);
        put_u64(b, (uint64_t)a->content_length, &err);
    } else if (a->content_length == -1) {
        PUT_LIT(b, "\r\nTransfer-Encoding: chunked", &err);
    }
    if (!a->keep_alive) PUT_LIT(b, "\r\nConnection: close", &err);
    else if (a->http10) PUT_LIT(b, "\r\nConnection: keep-alive", &err);
    PUT_LIT(b, "\r\n", &err);
    put(b, a->extra, a->extra_len, &err);
    PUT_LIT(b, "\r\n", &err);
    if (err) b->len = 0;
    return err;
}

int weft__head_add_header(weft__buf *extra, const char *name, const char *value)
{
    if (!weft__header_ok(name, value)) return -EINVAL;
    /* A second Content-Length or Transfer-Encoding would let a client or
     * proxy read the body differently from us. */
    if (!strcasecmp(name, "content-length") || !strcasecmp(name, "transfer-encoding"))
        return -EINVAL;
    size_t before = extra->len;
    int err = 0;
    PUT_STR(extra, name, &err);
    PUT_LIT(extra, ": ", &err);
    PUT_STR(extra, value, &err);
    PUT_LIT(extra, "\r\n", &err);
    if (err) extra->len = before; /* no half header left behind */
    return err;
}
