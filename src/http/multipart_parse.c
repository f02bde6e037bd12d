/* multipart/form-data framing and part heads, over buffers only (see
 * multipart_parse.h). The framing is RFC 2046's: a delimiter is CRLF "--"
 * boundary (the first may open the body without its CRLF), followed by
 * "--" for the last one, or by optional spaces and CRLF; a part is a head
 * (header lines, a blank line) and bytes up to the next delimiter. Bare LF
 * line ends and folded header lines are refused: two readers that disagree
 * on where a part or a header ends would see different forms. */
#define _GNU_SOURCE /* memmem */
#include "http/multipart_parse.h"
#include "http/internal.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

enum { S_PREAMBLE, S_AFTER_DELIM, S_HEAD, S_BODY, S_EPILOGUE };

/* Spaces allowed after a boundary (RFC 2046's transport padding). */
#define MAX_PADDING 64

static int is_tchar(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* RFC 2046's bchars. */
static int is_bchar(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("'()+_,-./:=? ", c));
}

/* ---- parameters (Content-Type, Content-Disposition) ---------------------------- */

static const char *skip_ows(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    return p;
}

/* Reads one ";" name "=" value parameter from p (at the ';'). The name's
 * span goes to *name and *nlen, the value (unquoted) into out (cap bytes,
 * NUL-terminated). Returns the position after it, or NULL if malformed. */
static const char *param_next(const char *p, const char *e, const char **name, size_t *nlen,
                              char *out, size_t cap)
{
    p = skip_ows(p, e);
    if (p >= e || *p != ';') return NULL;
    p = skip_ows(p + 1, e);
    *name = p;
    while (p < e && is_tchar((unsigned char)*p)) p++;
    *nlen = (size_t)(p - *name);
    if (!*nlen) return NULL;
    p = skip_ows(p, e);
    if (p >= e || *p != '=') return NULL;
    p = skip_ows(p + 1, e);
    size_t o = 0;
    if (p < e && *p == '"') {
        for (p++;; p++) {
            if (p >= e) return NULL; /* unterminated */
            if (*p == '"') break;
            if (*p == '\\' && p + 1 < e && (p[1] == '"' || p[1] == '\\')) p++;
            if (o + 1 >= cap) return NULL;
            out[o++] = *p;
        }
        p++;
    } else {
        while (p < e && is_tchar((unsigned char)*p)) {
            if (o + 1 >= cap) return NULL;
            out[o++] = *p++;
        }
        if (!o) return NULL;
    }
    out[o] = 0;
    return skip_ows(p, e);
}

/* Reads a media type (or a disposition type) at p; returns its end (after
 * OWS) if it is want, else NULL. */
static const char *media_type(const char *p, const char *e, const char *want)
{
    p = skip_ows(p, e);
    size_t n = strlen(want);
    if ((size_t)(e - p) < n || strncasecmp(p, want, n)) return NULL;
    p += n;
    if (p < e && *p != ';' && *p != ' ' && *p != '\t') return NULL;
    return skip_ows(p, e);
}

int weft__mp_init(weft__mp *m, const char *ct, size_t max_head, size_t max_parts)
{
    memset(m, 0, sizeof *m);
    m->max_head = max_head;
    m->max_parts = max_parts;
    if (!ct) return -WEFT_EHTTP_CONTENT_TYPE;
    const char *e = ct + strlen(ct), *p = media_type(ct, e, "multipart/form-data");
    if (!p) return -WEFT_EHTTP_CONTENT_TYPE;
    char val[WEFT__MP_MAX_BOUNDARY + 2];
    int found = 0;
    while (p < e) {
        const char *name;
        size_t nlen;
        char v[256];
        if (!(p = param_next(p, e, &name, &nlen, v, sizeof v))) return -WEFT_EHTTP_MULTIPART;
        if (nlen == 8 && !strncasecmp(name, "boundary", 8)) {
            if (found++ || strlen(v) > WEFT__MP_MAX_BOUNDARY) return -WEFT_EHTTP_MULTIPART;
            strcpy(val, v);
        }
    }
    size_t bl = found ? strlen(val) : 0;
    if (!bl || val[bl - 1] == ' ') return -WEFT_EHTTP_MULTIPART;
    for (size_t i = 0; i < bl; i++)
        if (!is_bchar((unsigned char)val[i])) return -WEFT_EHTTP_MULTIPART;
    m->dlen = (size_t)snprintf(m->delim, sizeof m->delim, "\r\n--%s", val);
    return 0;
}

/* ---- framing --------------------------------------------------------------------- */

/* Where in in[0..n) a delimiter may start without being whole yet: the
 * first position whose tail is a prefix of delim; n if none. */
static size_t partial_at(const weft__mp *m, const char *in, size_t n)
{
    size_t from = n >= m->dlen ? n - m->dlen + 1 : 0;
    for (size_t i = from; i < n; i++)
        if (in[i] == '\r' && !memcmp(in + i, m->delim, n - i)) return i;
    return n;
}

long weft__mp_feed(weft__mp *m, const char *in, size_t n, int *ev, const char **out,
                   size_t *outlen)
{
    *ev = WEFT__MP_NEED;
    *out = NULL;
    *outlen = 0;
    switch (m->state) {
    case S_PREAMBLE: {
        /* The first delimiter may open the body without its CRLF; once a
         * preamble byte was dropped, only a whole CRLF delimiter ends it. */
        size_t open = m->dlen - 2;
        if (!m->dropped) {
            if (n < open) return 0;
            if (!memcmp(in, m->delim + 2, open)) {
                m->state = S_AFTER_DELIM;
                return (long)open;
            }
        }
        const char *d = memmem(in, n, m->delim, m->dlen);
        if (d) {
            m->state = S_AFTER_DELIM;
            return (long)(d - in) + (long)m->dlen;
        }
        size_t keep = partial_at(m, in, n); /* what may start a delimiter stays */
        if (keep) m->dropped = 1;
        return (long)keep;
    }
    case S_AFTER_DELIM: {
        if (n < 2) return 0;
        if (in[0] == '-' && in[1] == '-') {
            m->state = S_EPILOGUE;
            *ev = WEFT__MP_DONE;
            return 2;
        }
        size_t i = 0;
        while (i < n && i <= MAX_PADDING && (in[i] == ' ' || in[i] == '\t')) i++;
        if (i > MAX_PADDING) return -WEFT_EHTTP_MULTIPART;
        if (n - i < 2) return 0;
        if (in[i] != '\r' || in[i + 1] != '\n') return -WEFT_EHTTP_MULTIPART;
        if (m->nparts >= m->max_parts) return -E2BIG;
        m->nparts++;
        m->state = S_HEAD;
        return (long)i + 2;
    }
    case S_HEAD: {
        if (n >= 2 && in[0] == '\r' && in[1] == '\n') { /* no header at all */
            m->state = S_BODY;
            *ev = WEFT__MP_HEAD;
            *out = in;
            return 2;
        }
        size_t lim = n < m->max_head + 4 ? n : m->max_head + 4;
        const char *d = memmem(in, lim, "\r\n\r\n", 4);
        if (!d) return n >= m->max_head + 4 ? -WEFT_EHTTP_HEADERS_SIZE : 0;
        m->state = S_BODY;
        *ev = WEFT__MP_HEAD;
        *out = in;
        *outlen = (size_t)(d - in);
        return (long)*outlen + 4;
    }
    case S_BODY: {
        const char *d = memmem(in, n, m->delim, m->dlen);
        size_t k = d ? (size_t)(d - in) : partial_at(m, in, n);
        if (d && k == 0) {
            m->state = S_AFTER_DELIM;
            *ev = WEFT__MP_PART_END;
            return (long)m->dlen;
        }
        if (k == 0) return 0;
        *ev = WEFT__MP_DATA;
        *out = in;
        *outlen = k;
        return (long)k;
    }
    default: /* the epilogue is ignored (RFC 2046) */
        return (long)n;
    }
}

/* ---- a part's head ---------------------------------------------------------------- */

/* Decodes an RFC 8187 value ("utf-8'lang'%xx...") into out. 0 or -1. */
static int ext_value(const char *v, char *out, size_t cap)
{
    const char *q1 = strchr(v, '\'');
    const char *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
    if (!q2 || (size_t)(q1 - v) != 5 || strncasecmp(v, "utf-8", 5)) return -1;
    ssize_t n = weft_http_percent_decode(q2 + 1, strlen(q2 + 1), out, cap, 0);
    return n < 0 ? -1 : 0;
}

/* Reads the Content-Disposition value v into h's name and filename (copies
 * in *arena, advanced). */
static int disposition(const char *v, char **arena, char *aend, weft__mp_head *h)
{
    const char *e = v + strlen(v), *p = media_type(v, e, "form-data");
    if (!p) return -1;
    int have_name = 0, ext_name = 0, ext_file = 0;
    unsigned seen = 0;
    while (p < e) {
        const char *pn;
        size_t nlen;
        size_t room = (size_t)(aend - *arena);
        if (!(p = param_next(p, e, &pn, &nlen, *arena, room))) return -1;
        char *val = *arena;
        unsigned bit = nlen == 4 && !strncasecmp(pn, "name", 4)        ? 1
                     : nlen == 8 && !strncasecmp(pn, "filename", 8)    ? 2
                     : nlen == 5 && !strncasecmp(pn, "name*", 5)       ? 4
                     : nlen == 9 && !strncasecmp(pn, "filename*", 9)   ? 8
                                                                       : 0;
        if (!bit) continue; /* other parameters are ignored (RFC 7578) */
        if (seen & bit) return -1; /* twice: which one would a reader take? */
        seen |= bit;
        if (bit >= 4) { /* decoded in place: never longer than the encoding */
            char tmp[1024];
            if (strlen(val) >= sizeof tmp) return -1;
            strcpy(tmp, val);
            if (ext_value(tmp, val, room)) return -1;
        }
        *arena += strlen(val) + 1;
        if (bit == 1 && !ext_name) h->name = val, have_name = 1;
        if (bit == 4) h->name = val, have_name = ext_name = 1;
        if (bit == 2 && !ext_file) h->filename = val;
        if (bit == 8) h->filename = val, ext_file = 1;
    }
    return have_name ? 0 : -1;
}

int weft__mp_head_parse(const char *head, size_t len, char *arena, size_t cap, weft__mp_head *h)
{
    memset(h, 0, sizeof *h);
    char *a = arena, *aend = arena + cap;
    const char *p = head, *end = head + len;
    const char *disp = NULL;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol) eol = end;
        /* A folded line (obs-fold) or a line with no name: refused. */
        const char *c = p;
        while (c < eol && is_tchar((unsigned char)*c)) c++;
        if (c == p || c >= eol || *c != ':') return -WEFT_EHTTP_MULTIPART;
        size_t nlen = (size_t)(c - p);
        const char *v = skip_ows(c + 1, eol), *ve = eol;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        for (const char *q = v; q < ve; q++) {
            unsigned char ch = (unsigned char)*q;
            if ((ch < 0x20 && ch != '\t') || ch == 0x7f) return -WEFT_EHTTP_MULTIPART;
        }
        size_t vlen = (size_t)(ve - v);
        if (h->nheaders >= WEFT__MP_MAX_HEADERS || (size_t)(aend - a) < nlen + vlen + 2)
            return -WEFT_EHTTP_MULTIPART;
        memcpy(a, p, nlen), a[nlen] = 0;
        memcpy(a + nlen + 1, v, vlen), a[nlen + 1 + vlen] = 0;
        weft_http_header *hd = &h->headers[h->nheaders++];
        hd->name = a, hd->value = a + nlen + 1;
        a += nlen + vlen + 2;
        if (!strcasecmp(hd->name, "content-disposition")) {
            if (disp) return -WEFT_EHTTP_MULTIPART;
            disp = hd->value;
        } else if (!strcasecmp(hd->name, "content-type")) {
            if (h->content_type) return -WEFT_EHTTP_MULTIPART;
            h->content_type = hd->value;
        }
        p = eol == end ? end : eol + 2;
    }
    if (!disp || disposition(disp, &a, aend, h)) return -WEFT_EHTTP_MULTIPART;
    return 0;
}
