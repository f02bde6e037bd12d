/* application/x-www-form-urlencoded both ways (the WHATWG URL standard's
 * form encoding, what browsers, curl --data-urlencode and aiohttp send) and
 * percent-decoding: query strings and form bodies on the server, form
 * bodies on the client. */
#include "http/internal.h"
#include <errno.h>
#include <stdlib.h>

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

ssize_t weft_http_percent_decode(const char *s, size_t n, char *out, size_t cap, int form)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            /* Exactly two hex digits; anything else is refused rather than
             * passed through, so that no two spellings decode alike by
             * accident of leniency. */
            if (i + 2 >= n) return -EINVAL;
            int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0) return -EINVAL;
            c = h * 16 + l;
            i += 2;
            /* A NUL would cut the C string a caller compares or opens. */
            if (!c) return -EINVAL;
        } else if (c == '+' && form) {
            c = ' ';
        } else if (!c) {
            return -EINVAL;
        }
        if (o + 1 >= cap) return -ENOSPC;
        out[o++] = (char)c;
    }
    if (!cap) return -ENOSPC;
    out[o] = 0;
    return (ssize_t)o;
}

int weft_http_form_parse(const char *form, size_t len, weft_http_form_fn fn, void *arg)
{
    char *buf = malloc(len + 1);
    if (!buf) return -ENOMEM;
    int count = 0, r = 0;
    for (size_t i = 0; i < len && !r;) {
        size_t n = 0;
        while (i + n < len && form[i + n] != '&') n++;
        const char *pair = form + i;
        i += n + 1;
        if (!n) continue; /* "a=1&&b=2" */
        if (count == WEFT_HTTP_FORM_MAX_FIELDS) {
            r = -E2BIG;
            break;
        }
        const char *eq = memchr(pair, '=', n);
        size_t kl = eq ? (size_t)(eq - pair) : n;
        /* Name and value decoded into buf, one after the other. */
        ssize_t a = weft_http_percent_decode(pair, kl, buf, len + 1, 1);
        ssize_t b = a < 0 ? a
                          : weft_http_percent_decode(eq ? eq + 1 : "", eq ? n - kl - 1 : 0,
                                                     buf + a + 1, len - (size_t)a, 1);
        if (a < 0 || b < 0) {
            r = -EINVAL;
            break;
        }
        count++;
        if (fn) r = fn(arg, buf, buf + a + 1);
    }
    free(buf);
    return r < 0 ? r : r > 0 ? r : count;
}

int weft__get_one(void *arg, const char *name, const char *value)
{
    weft__get_args *a = arg;
    if (strcmp(name, a->name)) return 0;
    size_t n = strlen(value);
    if (n >= a->cap) {
        a->got = -ENOSPC;
        return 1;
    }
    memcpy(a->out, value, n + 1);
    a->got = (ssize_t)n;
    return 1;
}

ssize_t weft_http_form_get(const char *form, size_t len, const char *name, char *out, size_t cap)
{
    weft__get_args a = {name, out, cap, -ENOENT};
    int r = weft_http_form_parse(form, len, weft__get_one, &a);
    return r < 0 ? r : a.got;
}

ssize_t weft_http_request_query_get(const weft_http_request *req, const char *name, char *out,
                                    size_t cap)
{
    const char *q = weft_http_request_query(req);
    return weft_http_form_get(q, strlen(q), name, out, cap);
}

/* Unreserved bytes stay; ' ' becomes '+'; the rest %XX (the WHATWG
 * application/x-www-form-urlencoded byte serializer). */
static int encode_into(weft__buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char e[3] = {'%', hex[c >> 4], hex[c & 15]};
        int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '*' || c == '-' || c == '.' || c == '_';
        int r = keep ? weft__buf_add(b, s, 1) : c == ' ' ? weft__buf_add(b, "+", 1)
                                                          : weft__buf_add(b, e, 3);
        if (r) return -1;
    }
    return 0;
}

char *weft_http_form_encode(const weft_http_header *fields, size_t n)
{
    weft__buf b = {0};
    int r = weft__buf_reserve(&b, 1);
    for (size_t i = 0; i < n && !r; i++)
        r = (i && weft__buf_add(&b, "&", 1)) || encode_into(&b, fields[i].name) ||
            weft__buf_add(&b, "=", 1) || encode_into(&b, fields[i].value);
    if (r || weft__buf_reserve(&b, 1)) {
        weft__buf_free(&b);
        return NULL;
    }
    b.p[b.len] = 0;
    return b.p;
}
