/* llhttp glue: incremental head parsing into offsets, body decoding, and the
 * extra checks that close request-smuggling holes llhttp leaves to us. */
#include "http/internal.h"
#include <errno.h>
#include <strings.h>

static inline weft__parser *P_of(llhttp_t *p) { return (weft__parser *)p->data; }

/* A span given in pieces (the head arrived in several reads) is contiguous
 * in the buffer, so a piece continues the span when it starts at its end. */
static int span_add(weft__parser *P, weft__span *s, const char *at, size_t len)
{
    uint32_t off = (uint32_t)(at - P->base);
    if (!s->len) *s = (weft__span){off, (uint32_t)len};
    else if (s->off + s->len == off) s->len += (uint32_t)len;
    else return -1; /* a gap: llhttp skipped bytes inside (obs-fold) */
    return 0;
}

static int on_method(llhttp_t *p, const char *at, size_t len)
{
    span_add(P_of(p), &P_of(p)->method, at, len);
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    span_add(P_of(p), &P_of(p)->url, at, len);
    return 0;
}

static int on_status(llhttp_t *p, const char *at, size_t len)
{
    span_add(P_of(p), &P_of(p)->reason, at, len);
    return 0;
}

/* RFC 9110 token characters, as a table: this runs for every byte of every
 * header name. */
static const uint8_t tchars[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1,
    ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
};

static inline int tchar(unsigned char c) { return tchars[c]; }

/* llhttp 8 lets "Name :" through; a name is a token, nothing else. */
static int on_hfield(llhttp_t *p, const char *at, size_t len)
{
    weft__parser *P = P_of(p);
    for (size_t i = 0; i < len; i++)
        if (!tchar((unsigned char)at[i])) {
            P->bad_value = 1;
            return HPE_USER;
        }
    if (P->head_done) return 0; /* trailers: checked, not kept */
    if (P->in_value || P->nheaders == 0) {
        if (P->nheaders == WEFT_HTTP_MAX_HEADERS) {
            P->too_many = 1;
            return HPE_USER;
        }
        P->hname[P->nheaders] = (weft__span){0, 0};
        P->hval[P->nheaders] = (weft__span){0, 0};
        P->nheaders++;
        P->in_value = 0;
    }
    span_add(P, &P->hname[P->nheaders - 1], at, len);
    return 0;
}

/* llhttp 8 accepts obs-fold (a value continued on the next line) and hands
 * the continuation over as a second piece after a gap; RFC 9112 lets a
 * server reject it, and a proxy in front may fold differently, so a gap is
 * an error, and so is any control byte in a value. */
static int on_hvalue(llhttp_t *p, const char *at, size_t len)
{
    weft__parser *P = P_of(p);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)at[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            P->bad_value = 1;
            return HPE_USER;
        }
    }
    P->in_value = 1;
    if (P->head_done) return 0;
    if (span_add(P, &P->hval[P->nheaders - 1], at, len)) {
        P->bad_value = 1;
        return HPE_USER;
    }
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    P_of(p)->head_done = 1;
    return HPE_PAUSED;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    weft__parser *P = P_of(p);
    memcpy(P->out + P->outlen, at, len);
    P->outlen += len;
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    P_of(p)->msg_done = 1;
    return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_method = on_method,
    .on_url = on_url,
    .on_status = on_status,
    .on_header_field = on_hfield,
    .on_header_value = on_hvalue,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void weft__parser_init(weft__parser *P, int type, size_t max_head)
{
    llhttp_init(&P->p, (llhttp_type_t)type, &settings);
    P->p.data = P;
    P->parsed = 0;
    P->max_head = max_head;
    P->method = P->url = P->reason = (weft__span){0, 0};
    P->nheaders = 0;
    P->in_value = P->head_done = P->msg_done = P->too_many = P->bad_value = 0;
}

long weft__parser_head(weft__parser *P, const char *data, size_t n)
{
    if (P->head_done) return -WEFT_EHTTP_PARSE;
    size_t end = n < P->max_head ? n : P->max_head;
    if (end <= P->parsed) return n > P->parsed ? -WEFT_EHTTP_HEADERS_SIZE : 0;
    P->base = data;
    llhttp_errno_t e = llhttp_execute(&P->p, data + P->parsed, end - P->parsed);
    if (e == HPE_PAUSED && P->head_done) {
        /* Paused in on_headers_complete: error_pos is just past the head. */
        const char *pos = llhttp_get_error_pos(&P->p);
        llhttp_resume(&P->p);
        P->parsed = (size_t)(pos - data);
        /* llhttp 8 takes a request whose Transfer-Encoding does not end in
         * chunked as bodiless; RFC 9112 says its length is unknowable: 400. */
        if (P->p.http_major != 1 || P->p.http_minor > 1) return -WEFT_EHTTP_PARSE;
        if (P->p.type == HTTP_REQUEST && (P->p.flags & F_TRANSFER_ENCODING) &&
            !(P->p.flags & F_CHUNKED))
            return -WEFT_EHTTP_PARSE;
        return (long)P->parsed;
    }
    if (e != HPE_OK) return P->too_many ? -WEFT_EHTTP_HEADERS_SIZE : -WEFT_EHTTP_PARSE;
    P->parsed = end;
    /* Everything up to the limit is in and the head is still not complete. */
    if (end == P->max_head && n >= P->max_head) return -WEFT_EHTTP_HEADERS_SIZE;
    return 0;
}

static const char *put(char **a, char *lim, const char *src, size_t len)
{
    if ((size_t)(lim - *a) < len + 1) return NULL;
    char *s = *a;
    memcpy(s, src, len);
    s[len] = 0;
    *a += len + 1;
    return s;
}

int weft__parser_copy_head(weft__parser *P, const char *data, char *arena, size_t cap,
                           weft__head *h)
{
    char *a = arena, *lim = arena + cap;
    llhttp_t *p = &P->p;
    h->method = h->target = h->path = h->query = h->reason = "";
    h->status = 0;
    if (p->type == HTTP_REQUEST) {
        h->method = put(&a, lim, data + P->method.off, P->method.len);
        h->target = put(&a, lim, data + P->url.off, P->url.len);
        if (!h->method || !h->target) return -WEFT_EHTTP_HEADERS_SIZE;
        /* path and query share one copy: the '?' becomes the terminator. */
        char *path = (char *)put(&a, lim, data + P->url.off, P->url.len);
        if (!path) return -WEFT_EHTTP_HEADERS_SIZE;
        char *q = strchr(path, '?');
        if (q) *q++ = 0;
        h->path = path;
        h->query = q ? q : "";
    } else {
        h->status = llhttp_get_status_code(p);
        h->reason = put(&a, lim, data + P->reason.off, P->reason.len);
        if (!h->reason) return -WEFT_EHTTP_HEADERS_SIZE;
    }
    h->nheaders = P->nheaders;
    for (unsigned i = 0; i < P->nheaders; i++) {
        /* Optional whitespace after a value is not part of it (RFC 9110). */
        uint32_t vl = P->hval[i].len;
        const char *v = data + P->hval[i].off;
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) vl--;
        h->headers[i].name = put(&a, lim, data + P->hname[i].off, P->hname[i].len);
        h->headers[i].value = put(&a, lim, v, vl);
        if (!h->headers[i].name || !h->headers[i].value) return -WEFT_EHTTP_HEADERS_SIZE;
    }
    h->chunked = (p->flags & F_CHUNKED) != 0;
    h->content_length = (p->flags & F_CONTENT_LENGTH) ? (int64_t)p->content_length : -1;
    h->keep_alive = (uint8_t)llhttp_should_keep_alive(p);
    h->minor = p->http_minor;
    h->upgrade = p->upgrade;
    h->expect_continue = 0;
    if (p->type == HTTP_REQUEST && p->http_minor >= 1) {
        const char *e = weft__header_find(h->headers, h->nheaders, "expect");
        h->expect_continue = e && !strcasecmp(e, "100-continue");
    }
    return 0;
}

long weft__parser_body(weft__parser *P, const char *in, size_t n, char *out, size_t *outlen)
{
    P->out = out;
    P->outlen = 0;
    *outlen = 0;
    if (P->msg_done) return 0;
    P->base = in;
    llhttp_errno_t e = llhttp_execute(&P->p, in, n);
    *outlen = P->outlen;
    if (e == HPE_PAUSED && P->msg_done) return (long)(llhttp_get_error_pos(&P->p) - in);
    if (e != HPE_OK) return -WEFT_EHTTP_PARSE;
    return (long)n;
}

int weft__parser_eof(weft__parser *P)
{
    if (P->msg_done) return 1;
    llhttp_errno_t e = llhttp_finish(&P->p);
    return (e == HPE_OK || e == HPE_PAUSED) && P->msg_done;
}

void weft__parser_no_body(weft__parser *P)
{
    /* The head was parsed; what follows belongs to the next message. */
    P->msg_done = 1;
}

/* ---- small helpers shared by client and server --------------------------- */

const char *weft__header_find(const weft_http_header *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(h[i].name, name)) return h[i].value;
    return NULL;
}

int weft__has_token(const char *v, const char *tok)
{
    size_t tl = strlen(tok);
    while (v && *v) {
        while (*v == ' ' || *v == '\t' || *v == ',') v++;
        const char *e = v;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > v && (t[-1] == ' ' || t[-1] == '\t')) t--;
        if ((size_t)(t - v) == tl && !strncasecmp(v, tok, tl)) return 1;
        v = e;
    }
    return 0;
}


int weft__header_ok(const char *name, const char *value)
{
    if (!*name) return 0;
    for (const unsigned char *s = (const unsigned char *)name; *s; s++)
        if (!tchar(*s)) return 0;
    for (const unsigned char *s = (const unsigned char *)value; *s; s++)
        if (*s == '\r' || *s == '\n') return 0;
    return 1;
}
