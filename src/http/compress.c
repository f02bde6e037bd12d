/* Server response compression (zstd, br, gzip, deflate: the client's
 * preference by q-value, the server's among equals) and conditional
 * requests (ETag, If-None-Match, If-Modified-Since -> 304). reply.c asks
 * here before it builds a head; docs/design.md "Compression" says why each
 * rule is what it is. */
#include "http/server_internal.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <strings.h>
#include <brotli/encode.h>
#include <zlib.h>
#include <zstd.h>

#define MIN_BYTES_DEFAULT 1024 /* below, the gzip header and trailer eat the gain */

/* Each coding's effort for a response made on the fly: zlib's level as
 * configured; brotli quality 5 and zstd level 3, where each compresses
 * better than gzip -6 at about its speed (their tools' defaults, 11 and
 * 19, are for files compressed once, ahead of time). */
#define BR_QUALITY 5
#define ZSTD_LEVEL 3
/* Each coding's window, 256 KiB (zlib's is 32 KiB): their defaults (4 MiB
 * for brotli, 2 MiB for zstd at level 3) would cost that much per response
 * being compressed, so a thousand slow clients of a streamed response would
 * hold gigabytes; responses made on the fly gain little from a longer
 * reach back. */
#define WINDOW_LOG 18

struct weft__deflate {
    int coding;
    z_stream z;
    BrotliEncoderState *br;
    ZSTD_CStream *zs;
    int live;
};

/* ---- Accept-Encoding --------------------------------------------------- */

/* A qvalue at p (RFC 9110 12.4.2: "0" or "1", then "." and at most three
 * digits; more digits are let pass) in thousandths, *end past it; -1 if
 * malformed. By hand: strtod took "nan" (converted to int: undefined, an
 * abort under UBSan), "inf", hex and exponents, and reads the decimal
 * point of the process's locale. */
static int parse_q(const char *p, const char **end)
{
    if (*p != '0' && *p != '1') return -1;
    int q = (*p++ - '0') * 1000;
    if (*p == '.')
        for (int scale = 100; *++p >= '0' && *p <= '9'; scale /= 10) q += (*p - '0') * scale;
    *end = p;
    if (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t') return -1;
    return q > 1000 ? 1000 : q;
}

/* Reads one Accept-Encoding value for coding: *found gets its q-value
 * (1000 for q=1, 0 for refused or malformed) where it is named, *star the
 * q-value of "*" (any coding not named); the last mention wins, as in the
 * one comma list that several lines make. */
static void qvalue_scan(const char *ae, const char *coding, int *found, int *star)
{
    const char *p = ae;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *tok = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t') p++;
        size_t tl = (size_t)(p - tok);
        int q = 1000;
        while (*p && *p != ',') {
            if (*p == ';') {
                p++;
                while (*p == ' ' || *p == '\t') p++;
                if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
                    p += 2;
                    const char *end = p;
                    q = parse_q(p, &end);
                    if (q < 0) q = 0;
                    p = end;
                    continue;
                }
            }
            if (*p && *p != ',') p++;
        }
        if (tl == strlen(coding) && !strncasecmp(tok, coding, tl)) *found = q;
        else if (tl == 1 && *tok == '*') *star = q;
    }
}

/* The q-value of coding over every Accept-Encoding line of h (RFC 9110
 * 5.3: lines of one field are one comma list, in order); 0 when absent. */
static int qvalue(const weft_http_header *h, size_t n, const char *coding)
{
    int star = -1, found = -1;
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(h[i].name, "accept-encoding"))
            qvalue_scan(h[i].value, coding, &found, &star);
    return found >= 0 ? found : star > 0 ? star : 0;
}

int weft__accept_coding(const char *ae)
{
    if (!ae) return WEFT__CODING_NONE;
    weft_http_header one = {"accept-encoding", ae};
    return weft__accept_coding_lines(&one, 1);
}

int weft__accept_coding_lines(const weft_http_header *h, size_t n)
{
    /* The server's order among equal q-values: zstd and br compress text
     * better than gzip at the effort used here; deflate last (often
     * misread as raw). */
    static const struct { const char *name; int coding; } order[] = {
        {"zstd", WEFT__CODING_ZSTD}, {"br", WEFT__CODING_BR}, {"gzip", WEFT__CODING_GZIP},
        {"x-gzip", WEFT__CODING_GZIP}, {"deflate", WEFT__CODING_DEFLATE}};
    int best = WEFT__CODING_NONE, bq = 0;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        int q = qvalue(h, n, order[i].name);
        if (q > bq) bq = q, best = order[i].coding;
    }
    return best;
}

const char *weft__coding_name(int coding)
{
    switch (coding) {
    case WEFT__CODING_GZIP: return "gzip";
    case WEFT__CODING_DEFLATE: return "deflate";
    case WEFT__CODING_BR: return "br";
    case WEFT__CODING_ZSTD: return "zstd";
    default: return NULL;
    }
}

/* Text compresses; images, archives, audio and video already are. */
int weft__compressible(const char *ctype)
{
    if (!ctype) return 0;
    size_t n = strcspn(ctype, "; \t");
    if (n >= 5 && !strncasecmp(ctype, "text/", 5))
        return strncasecmp(ctype, "text/event-stream", n) != 0 || n != 17;
    static const char *const types[] = {"application/json", "application/javascript",
                                        "application/xml", "application/xhtml+xml",
                                        "image/svg+xml", "application/wasm",
                                        "application/x-javascript", "application/manifest+json",
                                        "application/rss+xml", "application/atom+xml", NULL};
    for (const char *const *t = types; *t; t++)
        if (strlen(*t) == n && !strncasecmp(ctype, *t, n)) return 1;
    return (n > 5 && !strncasecmp(ctype + n - 5, "+json", 5)) ||
           (n > 4 && !strncasecmp(ctype + n - 4, "+xml", 4));
}

/* ---- the encoder ----------------------------------------------------- */

static void end_coder(weft__deflate *d)
{
    if (!d->live) return;
    if (d->coding == WEFT__CODING_BR) BrotliEncoderDestroyInstance(d->br);
    else if (d->coding == WEFT__CODING_ZSTD) ZSTD_freeCStream(d->zs);
    else deflateEnd(&d->z);
    d->br = NULL;
    d->zs = NULL;
    d->live = 0;
}

weft__deflate *weft__deflate_start(weft__deflate *d, int coding, int level)
{
    if (!d) {
        d = calloc(1, sizeof *d);
        if (!d) return NULL;
    }
    end_coder(d);
    memset(&d->z, 0, sizeof d->z);
    d->coding = coding;
    if (coding == WEFT__CODING_BR) {
        if (!(d->br = BrotliEncoderCreateInstance(NULL, NULL, NULL))) return d;
        BrotliEncoderSetParameter(d->br, BROTLI_PARAM_QUALITY, BR_QUALITY);
        BrotliEncoderSetParameter(d->br, BROTLI_PARAM_MODE, BROTLI_MODE_TEXT);
        BrotliEncoderSetParameter(d->br, BROTLI_PARAM_LGWIN, WINDOW_LOG);
    } else if (coding == WEFT__CODING_ZSTD) {
        if (!(d->zs = ZSTD_createCStream())) return d;
        if (ZSTD_isError(ZSTD_CCtx_setParameter(d->zs, ZSTD_c_compressionLevel, ZSTD_LEVEL)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(d->zs, ZSTD_c_windowLog, WINDOW_LOG))) {
            ZSTD_freeCStream(d->zs);
            d->zs = NULL;
            return d;
        }
    } else {
        /* gzip: 16 + 15 bits; "deflate" is the zlib format (RFC 9110 8.4.1.2). */
        int wbits = coding == WEFT__CODING_GZIP ? 16 + 15 : 15;
        if (deflateInit2(&d->z, level, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY) != Z_OK) return d;
    }
    d->live = 1;
    return d;
}

int weft__deflate_live(const weft__deflate *d) { return d && d->live; }

/* Room to write into: about half the input more, bounded. */
static int out_room(weft__buf *out, size_t n)
{
    return weft__buf_reserve(out, (n > (64u << 20) ? (64u << 20) : n / 2) + 4096);
}

static int run_br(weft__deflate *d, const void *in, size_t n, int finish, weft__buf *out)
{
    const uint8_t *next_in = in;
    size_t avail_in = n;
    BrotliEncoderOperation op = finish ? BROTLI_OPERATION_FINISH : BROTLI_OPERATION_FLUSH;
    for (;;) {
        if (out_room(out, avail_in)) return -ENOMEM;
        size_t avail_out = out->cap - out->len;
        uint8_t *next_out = (uint8_t *)out->p + out->len;
        if (!BrotliEncoderCompressStream(d->br, op, &avail_in, &next_in, &avail_out, &next_out, NULL))
            return -ENOMEM;
        out->len = (size_t)((char *)next_out - out->p);
        if (avail_in == 0 && !BrotliEncoderHasMoreOutput(d->br) &&
            (finish ? BrotliEncoderIsFinished(d->br) : 1)) {
            if (finish) end_coder(d);
            return 0;
        }
    }
}

static int run_zstd(weft__deflate *d, const void *in, size_t n, int finish, weft__buf *out)
{
    ZSTD_inBuffer i = {in, n, 0};
    ZSTD_EndDirective op = finish ? ZSTD_e_end : ZSTD_e_flush;
    for (;;) {
        if (out_room(out, n - i.pos)) return -ENOMEM;
        ZSTD_outBuffer o = {out->p + out->len, out->cap - out->len, 0};
        size_t left = ZSTD_compressStream2(d->zs, &o, &i, op);
        out->len += o.pos;
        if (ZSTD_isError(left)) return -ENOMEM;
        if (left == 0 && i.pos == n) { /* all in, all flushed (or the frame ended) */
            if (finish) end_coder(d);
            return 0;
        }
    }
}

int weft__deflate_run(weft__deflate *d, const void *in, size_t n, int finish, weft__buf *out)
{
    if (!d || !d->live) return -ENOMEM;
    if (d->coding == WEFT__CODING_BR) return run_br(d, in, n, finish, out);
    if (d->coding == WEFT__CODING_ZSTD) return run_zstd(d, in, n, finish, out);
    /* zlib counts input in uInt: a body past 4 GiB goes in slices, all but
     * the last without a flush (Z_FINISH takes no input after it starts). */
    const Bytef *next = in;
    size_t left = n;
    d->z.avail_in = 0;
    for (;;) {
        if (d->z.avail_in == 0 && left) {
            uInt take = left > UINT_MAX ? UINT_MAX : (uInt)left;
            d->z.next_in = (Bytef *)next;
            d->z.avail_in = take;
            next += take;
            left -= take;
        }
        int flush = left ? Z_NO_FLUSH : finish ? Z_FINISH : Z_SYNC_FLUSH;
        if (out_room(out, n)) return -ENOMEM;
        size_t room = out->cap - out->len;
        if (room > UINT_MAX) room = UINT_MAX;
        d->z.next_out = (Bytef *)out->p + out->len;
        d->z.avail_out = (uInt)room;
        int rc = deflate(&d->z, flush);
        out->len += room - d->z.avail_out;
        if (rc == Z_STREAM_END) {
            end_coder(d);
            return 0;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) return -ENOMEM;
        /* Done when zlib left room unused with all input taken. */
        if (d->z.avail_out > 0 && d->z.avail_in == 0 && !left) return 0;
    }
}

void weft__deflate_free(weft__deflate *d)
{
    if (!d) return;
    end_coder(d);
    free(d);
}

/* ---- the handler's headers ------------------------------------------ */

/* The value of the header called name among extra's lines, copied into
 * out; NULL if none. */
const char *weft__extra_find(const weft__buf *extra, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = extra->p, *end = p ? p + extra->len : NULL;
    while (p && p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        if (!eol) break;
        if ((size_t)(eol - p) > nl && p[nl] == ':' && !strncasecmp(p, name, nl)) {
            const char *v = p + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t')) v++;
            size_t vl = (size_t)(eol - v);
            if (vl >= cap) vl = cap - 1;
            memcpy(out, v, vl);
            out[vl] = 0;
            return out;
        }
        p = eol + 2;
    }
    return NULL;
}

/* ---- conditional requests -------------------------------------------- */

/* RFC 9110 13.1.2: If-None-Match matches when any listed tag equals etag
 * by the weak comparison (W/ ignored on both), or it is "*". */
int weft__etag_match(const char *inm, const char *etag)
{
    if (etag && !strncmp(etag, "W/", 2)) etag += 2;
    size_t el = etag ? strlen(etag) : 0;
    for (const char *p = inm; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        if (!*p) break;
        if (*p == '*') return 1;
        if (!strncmp(p, "W/", 2)) p += 2;
        if (*p != '"') return 0; /* malformed: no match, the full answer goes */
        const char *q = strchr(p + 1, '"');
        if (!q) return 0;
        size_t tl = (size_t)(q + 1 - p);
        if (etag && tl == el && !memcmp(p, etag, el)) return 1;
        p = q + 1;
    }
    return 0;
}

int weft__not_modified(const weft_http_request *req, const char *etag, time_t mtime)
{
    const char *m = req->h->method;
    if (strcmp(m, "GET") && strcmp(m, "HEAD")) return 0;
    const char *inm = weft_http_request_header(req, "if-none-match");
    /* If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2). */
    if (inm) return etag && weft__etag_match(inm, etag);
    const char *ims = weft_http_request_header(req, "if-modified-since");
    if (!ims || mtime == (time_t)-1) return 0;
    time_t t = weft__http_parse_date(ims);
    return t != (time_t)-1 && mtime <= t;
}
