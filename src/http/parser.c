/* llhttp glue: incremental head parsing into offsets, and everything that
 * decides how a message is framed, done here rather than by llhttp.
 *
 * llhttp 8.1 is lenient where a request smuggler needs it to be: it accepts
 * obs-fold whose first line is empty, an empty header name, a
 * Content-Length of 2^63 or more (weft read it as no body), an empty or
 * unknown Transfer-Encoding, and it skips the two bytes after chunk data
 * without looking at them. So llhttp only tokenizes the head (spans, the
 * method, Connection); weft then checks the complete head line by line
 * against RFC 9112, decides the body's framing from the headers it kept,
 * and decodes bodies with its own small decoder. A front proxy that parses
 * strictly (h11 is the reference: tests/h11_diff.py) must never see a
 * request boundary where weft sees another; weft may refuse more. */
#include "http/internal.h"
#include <errno.h>
#include <strings.h>

static inline weft__parser *P_of(llhttp_t *p) { return (weft__parser *)p->data; }

/* A span given in pieces (the head arrived in several reads) is contiguous
 * in the buffer, so a piece continues the span when it starts at its end.
 * A gap means llhttp skipped bytes inside (obs-fold); a fold whose first
 * line is empty shows no gap here, which is why head_check looks at the
 * raw lines as well. */
static int span_add(weft__parser *P, weft__span *s, const char *at, size_t len)
{
    uint32_t off = (uint32_t)(at - P->base);
    if (!s->len) *s = (weft__span){off, (uint32_t)len};
    else if (s->off + s->len == off) s->len += (uint32_t)len;
    else return -1;
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

/* A field value's bytes (RFC 9110 5.5): HTAB, SP, VCHAR, obs-text. */
static inline int field_byte(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

/* llhttp 8 lets "Name :" through; a name is a token, nothing else. */
static int on_hfield(llhttp_t *p, const char *at, size_t len)
{
    weft__parser *P = P_of(p);
    for (size_t i = 0; i < len; i++)
        if (!tchar((unsigned char)at[i])) {
            P->bad_value = 1;
            return HPE_USER;
        }
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

/* Refused early here (a long head need not arrive first) and again by
 * head_check: obs-fold, control bytes. RFC 9112 lets a server reject
 * obs-fold, and a proxy in front may fold differently. */
static int on_hvalue(llhttp_t *p, const char *at, size_t len)
{
    weft__parser *P = P_of(p);
    for (size_t i = 0; i < len; i++)
        if (!field_byte((unsigned char)at[i])) {
            P->bad_value = 1;
            return HPE_USER;
        }
    P->in_value = 1;
    if (!P->nheaders || span_add(P, &P->hval[P->nheaders - 1], at, len)) {
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

static const llhttp_settings_t settings = {
    .on_method = on_method,
    .on_url = on_url,
    .on_status = on_status,
    .on_header_field = on_hfield,
    .on_header_value = on_hvalue,
    .on_headers_complete = on_headers_complete,
};

void weft__parser_init(weft__parser *P, int type, size_t max_head)
{
    llhttp_init(&P->p, (llhttp_type_t)type, &settings);
    /* Any HTTP/x.y gets to head_check, which answers 505 to versions other
     * than 1.x and serves 1.2+ as 1.1 (RFC 9110 2.5), where llhttp would
     * only have said "invalid"; any Transfer-Encoding list gets to
     * decide_framing, which tells 501 (a coding weft lacks) from 400. */
    P->p.lenient_flags |= LENIENT_VERSION | LENIENT_TRANSFER_ENCODING;
    P->p.data = P;
    P->parsed = 0;
    P->max_head = max_head;
    P->method = P->url = P->reason = (weft__span){0, 0};
    P->nheaders = 0;
    P->in_value = P->head_done = P->msg_done = P->too_many = P->bad_value = 0;
    P->status = 0;
    P->framing = WEFT__BODY_NONE;
    P->chunk_state = P->chunk_digits = P->te_close = P->tname_len = 0;
    P->content_length = -1;
    P->remaining = P->overhead = 0;
}

/* The complete head, line by line, against RFC 9112's grammar: CRLF line
 * ends only, no empty line before the start line (h11 refuses it too), a
 * start line of exactly its parts, every field line a token, a colon and
 * field bytes, no obs-fold. 0, or the status to answer. */
static int head_check(const weft__parser *P, const char *head, size_t len)
{
    const unsigned char *s = (const unsigned char *)head, *end = s + len;
    const unsigned char *nl = memchr(s, '\n', len);
    if (!nl || nl == s || nl[-1] != '\r') return 400;
    const unsigned char *cr = nl - 1, *q = s;
    if (P->p.type == HTTP_REQUEST) {
        while (q < cr && tchar(*q)) q++;
        if (q == s || *q != ' ') return 400;
        const unsigned char *t = ++q;
        while (q < cr && *q > 0x20 && *q < 0x7f) q++;
        if (q == t || *q != ' ') return 400;
        q++;
    }
    if (cr - q < 8 || memcmp(q, "HTTP/", 5) || q[5] < '0' || q[5] > '9' || q[6] != '.' ||
        q[7] < '0' || q[7] > '9')
        return 400;
    if (P->p.type == HTTP_REQUEST) {
        if (cr - q != 8) return 400;
        if (q[5] != '1') return 505;
    } else {
        if (q[5] != '1' || cr - q < 12 || q[8] != ' ') return 400;
        for (q += 9; q < cr; q++)
            if (!field_byte(*q)) return 400;
    }
    for (s = nl + 1; s < end; s = nl + 1) {
        nl = memchr(s, '\n', (size_t)(end - s));
        if (!nl || nl == s || nl[-1] != '\r') return 400;
        cr = nl - 1;
        if (cr == s) return nl + 1 == end ? 0 : 400; /* the blank line ends it */
        for (q = s; q < cr && tchar(*q);) q++;
        if (q == s || *q != ':') return 400; /* also a fold: it starts with SP */
        for (q++; q < cr; q++)
            if (!field_byte(*q)) return 400;
    }
    return 400;
}

/* The span without the optional whitespace around a field value. */
static weft__span trim(const char *d, weft__span v)
{
    while (v.len && (d[v.off] == ' ' || d[v.off] == '\t')) v.off++, v.len--;
    while (v.len && (d[v.off + v.len - 1] == ' ' || d[v.off + v.len - 1] == '\t')) v.len--;
    return v;
}

static int span_is(const char *d, weft__span s, const char *lower)
{
    return strlen(lower) == s.len && !strncasecmp(d + s.off, lower, s.len);
}

/* What the Transfer-Encoding headers say, all of them as one list. */
typedef struct te_list {
    unsigned headers, codings, chunked;
    uint8_t empty;      /* an empty list element, or an empty header */
    uint8_t last_chunked;
} te_list;

static void te_add(te_list *te, const char *d, weft__span v)
{
    te->headers++;
    size_t i = 0;
    do {
        size_t j = i;
        while (j < v.len && d[v.off + j] != ',') j++;
        weft__span e = trim(d, (weft__span){v.off + (uint32_t)i, (uint32_t)(j - i)});
        if (!e.len) te->empty = 1;
        te->codings++;
        te->last_chunked = (uint8_t)span_is(d, e, "chunked");
        te->chunked += te->last_chunked;
        i = j + 1;
    } while (i <= v.len);
}

/* Decides the body's framing from the headers (RFC 9112 6.3), refusing
 * what a strict parser would frame differently. 0, or the status to
 * answer. */
static int decide_framing(weft__parser *P, const char *d)
{
    te_list te = {0};
    unsigned ncl = 0;
    uint64_t cl = 0;
    for (unsigned i = 0; i < P->nheaders; i++) {
        weft__span n = P->hname[i], v = trim(d, P->hval[i]);
        if (span_is(d, n, "transfer-encoding")) {
            te_add(&te, d, v);
        } else if (span_is(d, n, "content-length")) {
            ncl++;
            if (!v.len) return 400;
            cl = 0;
            for (uint32_t k = 0; k < v.len; k++) {
                unsigned c = (unsigned char)d[v.off + k] - '0';
                if (c > 9) return 400; /* signs, lists ("3, 3"), junk */
                cl = cl > (UINT64_MAX - c) / 10 ? UINT64_MAX : cl * 10 + c;
            }
        }
    }
    if (ncl > 1) return 400;
    int request = P->p.type == HTTP_REQUEST;
    int status = request ? 0 : llhttp_get_status_code(&P->p);
    if (!request && ((status >= 100 && status < 200) || status == 204 || status == 304)) {
        P->framing = WEFT__BODY_NONE;
    } else if (te.headers) {
        if (request) {
            /* Both: one of the two frames it in a proxy, the other here.
             * An empty value counts as present (llhttp ignored it). */
            if (ncl || te.empty || !te.last_chunked) return 400;
            /* gzip, chunked / identity, chunked / chunked twice: codings
             * weft does not implement (RFC 9112 6.1). */
            if (te.codings != 1) return 501;
            /* RFC 9112 6.1: after an HTTP/1.0 message with Transfer-Encoding
             * the connection must close, its framing being suspect. */
            P->te_close = P->p.http_minor == 0;
        }
        P->framing = te.last_chunked && !te.empty ? WEFT__BODY_CHUNKED : WEFT__BODY_EOF;
    } else if (ncl) {
        P->framing = WEFT__BODY_LENGTH;
        P->content_length = cl > INT64_MAX ? INT64_MAX : (int64_t)cl;
        P->remaining = cl;
    } else {
        P->framing = request ? WEFT__BODY_NONE : WEFT__BODY_EOF;
    }
    if (P->framing == WEFT__BODY_NONE || (P->framing == WEFT__BODY_LENGTH && !P->remaining))
        P->msg_done = 1;
    return 0;
}

static long head_fail(weft__parser *P, int status)
{
    P->status = (uint16_t)status;
    if (status == 413) return -WEFT_EHTTP_BODY_SIZE;
    return status == 431 ? -WEFT_EHTTP_HEADERS_SIZE : -WEFT_EHTTP_PARSE;
}

long weft__parser_head(weft__parser *P, const char *data, size_t n)
{
    if (P->head_done) return head_fail(P, 400);
    size_t end = n < P->max_head ? n : P->max_head;
    if (end <= P->parsed) return n > P->parsed ? head_fail(P, 431) : 0;
    P->base = data;
    llhttp_errno_t e = llhttp_execute(&P->p, data + P->parsed, end - P->parsed);
    if (e == HPE_PAUSED && P->head_done) {
        /* Paused in on_headers_complete: error_pos is just past the head. */
        const char *pos = llhttp_get_error_pos(&P->p);
        P->parsed = (size_t)(pos - data);
        int st = head_check(P, data, P->parsed);
        if (!st) st = decide_framing(P, data);
        if (st) return head_fail(P, st);
        return (long)P->parsed;
    }
    if (e != HPE_OK) {
        if (P->too_many) return head_fail(P, 431);
        /* Past 2^64-1: too large, like any length over the limit. */
        if (e == HPE_INVALID_CONTENT_LENGTH && strstr(llhttp_get_error_reason(&P->p), "overflow"))
            return head_fail(P, 413);
        return head_fail(P, 400);
    }
    P->parsed = end;
    /* Everything up to the limit is in and the head is still not complete. */
    if (end == P->max_head && n >= P->max_head) return head_fail(P, 431);
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

/* An absolute-form target (RFC 9112 3.2.2), "scheme://authority/path?q":
 * the length of its scheme://authority part, which sets *auth (the
 * authority) and *auth_len; 0 for any other form. */
static size_t absolute_prefix(const char *u, size_t n, const char **auth, size_t *auth_len)
{
    size_t i = 0;
    while (i < n && (tchar((unsigned char)u[i]) && u[i] != ':' && u[i] != '/')) i++;
    if (i == 0 || n - i < 3 || memcmp(u + i, "://", 3)) return 0;
    size_t a = i + 3, e = a;
    while (e < n && u[e] != '/' && u[e] != '?') e++;
    *auth = u + a;
    *auth_len = e - a;
    return e;
}

int weft__parser_copy_head(weft__parser *P, const char *data, char *arena, size_t cap,
                           weft__head *h)
{
    char *a = arena, *lim = arena + cap;
    llhttp_t *p = &P->p;
    h->method = h->path = h->query = h->reason = h->scheme = h->authority = "";
    h->status = 0;
    const char *auth = NULL;
    size_t auth_len = 0;
    if (p->type == HTTP_REQUEST) {
        h->method = put(&a, lim, data + P->method.off, P->method.len);
        /* The target is kept once, as path and query (a second copy made
         * a 12 KB URL overflow a 16 KiB head's arena: 431). */
        const char *u = data + P->url.off;
        size_t ul = P->url.len, skip = absolute_prefix(u, ul, &auth, &auth_len);
        u += skip, ul -= skip;
        const char *qm = memchr(u, '?', ul);
        size_t pl = qm ? (size_t)(qm - u) : ul;
        h->path = pl || !skip ? put(&a, lim, u, pl) : "/";
        h->query = qm ? put(&a, lim, qm + 1, ul - pl - 1) : "";
        if (skip) { /* a proxy's handler needs them (weft_http_server_proxy) */
            size_t sl = (size_t)(auth - (data + P->url.off)) - 3; /* before "://" */
            h->scheme = put(&a, lim, data + P->url.off, sl);
            h->authority = put(&a, lim, auth, auth_len);
            if (!h->scheme || !h->authority) return -WEFT_EHTTP_HEADERS_SIZE;
        }
        if (!h->method || !h->path || !h->query) return -WEFT_EHTTP_HEADERS_SIZE;
    } else {
        h->status = llhttp_get_status_code(p);
        h->reason = put(&a, lim, data + P->reason.off, P->reason.len);
        if (!h->reason) return -WEFT_EHTTP_HEADERS_SIZE;
    }
    h->nheaders = P->nheaders;
    for (unsigned i = 0; i < P->nheaders; i++) {
        /* Optional whitespace around a value is not part of it (RFC 9110). */
        weft__span v = trim(data, P->hval[i]);
        h->headers[i].name = put(&a, lim, data + P->hname[i].off, P->hname[i].len);
        /* RFC 9112 3.2.2: with an absolute-form target, its authority is
         * the host, whatever Host says. */
        if (auth && span_is(data, P->hname[i], "host"))
            h->headers[i].value = put(&a, lim, auth, auth_len);
        else
            h->headers[i].value = put(&a, lim, data + v.off, v.len);
        if (!h->headers[i].name || !h->headers[i].value) return -WEFT_EHTTP_HEADERS_SIZE;
    }
    h->chunked = P->framing == WEFT__BODY_CHUNKED;
    h->content_length = P->framing == WEFT__BODY_LENGTH ? P->content_length : -1;
    h->keep_alive = (uint8_t)(llhttp_should_keep_alive(p) && !P->te_close);
    h->minor = p->http_minor > 1 ? 1 : p->http_minor; /* 1.2 and up: as 1.1 */
    h->upgrade = p->upgrade;
    h->expect_continue = 0;
    if (p->type == HTTP_REQUEST && h->minor >= 1) {
        const char *e = weft__header_find(h->headers, h->nheaders, "expect");
        h->expect_continue = e && !strcasecmp(e, "100-continue");
    }
    return 0;
}

/* ---- bodies ---------------------------------------------------------------- */

/* The chunked decoder's states (RFC 9112 7.1). */
enum {
    CK_SIZE,      /* chunk-size digits */
    CK_EXT,       /* after ';': a chunk extension, up to CR */
    CK_SIZE_LF,   /* the LF ending the size line */
    CK_DATA,
    CK_DATA_CR,   /* the CRLF after the data: both bytes checked */
    CK_DATA_LF,
    CK_TRAILER,   /* start of a trailer line, or the final CRLF */
    CK_TNAME,
    CK_TVALUE,
    CK_TLF,
    CK_END_LF,
};

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A trailer name is seen a byte at a time (it may straddle reads): its
 * first bytes are kept, enough to tell the framing fields. */
static void tname_add(weft__parser *P, unsigned char c)
{
    if (P->tname_len < sizeof P->tname) P->tname[P->tname_len] = (char)(c | 0x20);
    if (P->tname_len <= sizeof P->tname) P->tname_len++;
}

/* RFC 9110 6.5.1: framing cannot come after the content. A trailer naming
 * it is refused: h11 refuses some (a malformed Content-Length) and served
 * nothing where weft served the request and the one behind it, and a
 * proxy that merges trailers into the header section would frame anew. */
static int framing_trailer(const weft__parser *P)
{
    static const char cl[] = "content-length", te[] = "transfer-encoding";
    return (P->tname_len == sizeof cl - 1 && !memcmp(P->tname, cl, sizeof cl - 1)) ||
           (P->tname_len == sizeof te - 1 && !memcmp(P->tname, te, sizeof te - 1));
}

/* Decodes chunked framing from in[0..n): data to P->out. The bytes
 * consumed, or -1 on a framing error. Stops after the final CRLF. */
static long dechunk(weft__parser *P, const unsigned char *in, size_t n)
{
    size_t i = 0;
    while (i < n && !P->msg_done) {
        unsigned char c = in[i];
        switch (P->chunk_state) {
        case CK_SIZE: {
            int v = hexval(c);
            if (v >= 0) {
                /* 16 digits at most, leading zeros included: no overflow,
                 * no endless zeros (h11 allows 20, RFC 9112 any). */
                if (P->chunk_digits == 16) return -1;
                if (!P->remaining && v == 0) P->overhead++; /* a leading zero */
                P->remaining = P->remaining * 16 + (unsigned)v;
                P->chunk_digits++;
            } else if (P->chunk_digits && c == ';') {
                P->chunk_state = CK_EXT;
                P->overhead++;
            } else if (P->chunk_digits && c == '\r') {
                P->chunk_state = CK_SIZE_LF;
            } else {
                return -1; /* no digits, BWS, bare LF, junk */
            }
            i++;
            break;
        }
        case CK_EXT:
            if (c == '\r') P->chunk_state = CK_SIZE_LF;
            else if (field_byte(c)) P->overhead++;
            else return -1;
            i++;
            break;
        case CK_SIZE_LF:
            if (c != '\n') return -1;
            P->chunk_state = P->remaining ? CK_DATA : CK_TRAILER;
            i++;
            break;
        case CK_DATA: {
            size_t k = n - i < P->remaining ? n - i : (size_t)P->remaining;
            memcpy(P->out + P->outlen, in + i, k);
            P->outlen += k;
            P->remaining -= k;
            i += k;
            if (!P->remaining) P->chunk_state = CK_DATA_CR;
            break;
        }
        case CK_DATA_CR:
        case CK_DATA_LF:
            if (c != (P->chunk_state == CK_DATA_CR ? '\r' : '\n')) return -1;
            P->chunk_state = P->chunk_state == CK_DATA_CR ? CK_DATA_LF : CK_SIZE;
            P->chunk_digits = 0;
            i++;
            break;
        case CK_TRAILER:
            if (c == '\r') {
                P->chunk_state = CK_END_LF;
            } else if (tchar(c)) {
                P->chunk_state = CK_TNAME, P->overhead++;
                P->tname_len = 0;
                tname_add(P, c);
            } else {
                return -1; /* a fold, an empty name, junk */
            }
            i++;
            break;
        case CK_TNAME:
            if (c == ':') {
                if (framing_trailer(P)) return -1;
                P->chunk_state = CK_TVALUE;
            } else if (tchar(c)) {
                tname_add(P, c);
            } else {
                return -1;
            }
            P->overhead++;
            i++;
            break;
        case CK_TVALUE:
            if (c == '\r') P->chunk_state = CK_TLF;
            else if (!field_byte(c)) return -1;
            P->overhead++;
            i++;
            break;
        case CK_TLF:
        case CK_END_LF:
            if (c != '\n') return -1;
            if (P->chunk_state == CK_END_LF) P->msg_done = 1;
            P->chunk_state = CK_TRAILER;
            P->overhead++;
            i++;
            break;
        }
    }
    return (long)i;
}

long weft__parser_body(weft__parser *P, const char *in, size_t n, char *out, size_t *outlen)
{
    P->out = out;
    P->outlen = 0;
    *outlen = 0;
    if (P->msg_done) return 0;
    long used;
    switch (P->framing) {
    case WEFT__BODY_CHUNKED:
        used = dechunk(P, (const unsigned char *)in, n);
        if (used < 0) return -WEFT_EHTTP_PARSE;
        break;
    case WEFT__BODY_LENGTH:
        used = (long)(n < P->remaining ? n : P->remaining);
        memcpy(out, in, (size_t)used);
        P->outlen = (size_t)used;
        P->remaining -= (uint64_t)used;
        P->msg_done = !P->remaining;
        break;
    case WEFT__BODY_EOF:
        memcpy(out, in, n);
        P->outlen = n;
        used = (long)n;
        break;
    default:
        P->msg_done = 1;
        return 0;
    }
    *outlen = P->outlen;
    return used;
}

int weft__parser_eof(weft__parser *P)
{
    if (P->framing == WEFT__BODY_EOF) P->msg_done = 1;
    return P->msg_done;
}

void weft__parser_no_body(weft__parser *P)
{
    /* The head was parsed; what follows belongs to the next message. */
    P->framing = WEFT__BODY_NONE;
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
    /* RFC 9110 5.5: VCHAR, obs-text, SP, HTAB. CR and LF would split the
     * message; any other control byte is refused as well, since peers
     * disagree about it (llhttp and h11 reject it, some proxies cut the
     * line there). */
    for (const unsigned char *s = (const unsigned char *)value; *s; s++)
        if ((*s < 0x20 && *s != '\t') || *s == 0x7f) return 0;
    return 1;
}
