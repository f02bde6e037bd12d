/* libFuzzer target: the server's response head (src/http/reply_head.c)
 * with random status, content type, server name and headers. Checks that
 * nothing runs past a buffer (ASan) and that what reaches the wire is
 * exactly the lines asked for: no CR or LF from any input splits a line,
 * no framing header is added twice, and anything refused was refusable.
 * Input: 2 bytes status, 8 bytes length, 1 byte flags, then NUL-separated
 * strings: content type, server name, name, value, name, value... */
#define _GNU_SOURCE /* memmem */
#include "http/reply_head.h"
#include <assert.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

static int has_crlf(const char *s) { return strpbrk(s, "\r\n") != NULL; }

/* What weft__header_ok refuses in a value: a control byte but HTAB, or
 * DEL (CR and LF among them). */
static int has_ctl(const char *s)
{
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f) return 1;
    return 0;
}

/* The next NUL-terminated piece of the input (its copy is terminated). */
static const char *next(char **p, char *end)
{
    if (*p >= end) return NULL;
    char *s = *p, *z = memchr(s, 0, (size_t)(end - s));
    *p = z ? z + 1 : end;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 11) return 0;
    static char copy[1 << 16];
    if (size - 11 >= sizeof copy) return 0;
    weft__head_args a = {0};
    a.status = (data[0] | data[1] << 8) % 1200 - 50;
    int64_t cl;
    memcpy(&cl, data + 2, 8);
    a.content_length = cl < -2 ? cl % 3 : cl; /* -2..2^63-1 */
    a.keep_alive = data[10] & 1;
    a.http10 = data[10] >> 1 & 1;
    memcpy(copy, data + 11, size - 11);
    copy[size - 11] = 0;
    char *p = copy, *end = copy + (size - 11);
    const char *ct = next(&p, end), *sn = next(&p, end);
    a.ctype = data[10] & 4 ? ct : NULL;
    a.server_name = sn && (data[10] & 8) ? sn : "";

    weft__buf extra = {0}, head = {0};
    const char *names[64], *values[64];
    int n = 0;
    for (const char *k, *v; n < 64 && (k = next(&p, end)) && (v = next(&p, end));) {
        int r = weft__head_add_header(&extra, k, v);
        int framing = !strcasecmp(k, "content-length") || !strcasecmp(k, "transfer-encoding");
        if (r == 0) {
            assert(!has_crlf(k) && !has_ctl(v) && *k && !strpbrk(k, " :\t") && !framing);
            names[n] = k, values[n++] = v;
        } else {
            assert(r == -EINVAL);
        }
    }
    a.extra = extra.p, a.extra_len = extra.len;
    int r = weft__head_build(&head, &a);
    int bad = a.status < 100 || a.status > 999 || (a.ctype && has_ctl(a.ctype)) ||
              has_ctl(a.server_name);
    assert(bad ? r == -EINVAL : r == 0);
    if (r == 0) {
        /* Line by line: exactly the lines expected, none holding CR or LF. */
        char *h = head.p, *e = head.p + head.len;
        assert(head.len >= 4 && !memcmp(e - 4, "\r\n\r\n", 4));
        int lines = 0, framing = 0, x = 0;
        int fixed = 2 + !!a.server_name[0] + !!a.ctype + (a.content_length >= -1) +
                    (!a.keep_alive || a.http10);
        for (char *l = h; l < e - 2;) {
            char *crlf = memmem(l, (size_t)(e - l), "\r\n", 2);
            assert(crlf);
            assert(!memchr(l, '\r', (size_t)(crlf - l)) && !memchr(l, '\n', (size_t)(crlf - l)));
            if (!strncasecmp(l, "Content-Length:", 15) || !strncasecmp(l, "Transfer-Encoding:", 18))
                framing++;
            if (lines >= fixed) { /* the handler's own, in order, as given */
                assert(x < n);
                size_t kl = strlen(names[x]), vl = strlen(values[x]);
                assert((size_t)(crlf - l) == kl + 2 + vl && !memcmp(l, names[x], kl) &&
                       !memcmp(l + kl, ": ", 2) && !memcmp(l + kl + 2, values[x], vl));
                x++;
            }
            lines++;
            l = crlf + 2;
        }
        assert(x == n && lines == fixed + n);
        assert(framing == (a.content_length >= -1));
    }
    weft__buf_free(&extra);
    weft__buf_free(&head);
    return 0;
}
