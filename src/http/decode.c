/* Response body decoding: the content codings a client announces (gzip,
 * deflate, br, zstd), each streamed through its reference library (zlib,
 * Google's brotli, Meta's zstd), so a body is decoded as it is read and a
 * bomb costs no more than the reader's own limit: nothing here buffers past
 * the caller's output room. */
#include "http/internal.h"
#include <brotli/decode.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <zlib.h>
#include <zstd.h>

/* zstd frames may ask for a window of up to 2 GiB; RFC 9659 lets an HTTP
 * decoder refuse more than 8 MiB (what browsers accept), and memory per
 * response is then bounded by that. */
#define ZSTD_WINDOW_LOG_MAX 23

/* The most output one call gives, whatever the coding: zlib counts in 32
 * bits (uInt), and "the output was filled" (d->more) is judged against the
 * room the decoder was really given, so brotli and zstd are held to the
 * same bound (they were handed the caller's whole room, so a read of over
 * 4 GiB that they filled was not reported pending). A unit test lowers it
 * (tests/test_http_decode_cap.c) to show that on a small buffer. */
#ifndef WEFT__INFLATE_CAP
#define WEFT__INFLATE_CAP UINT_MAX
#endif

struct weft__inflate {
    int kind;
    int started, done;
    int chosen;                  /* deflate: the wrapper is known (first two bytes) */
    int frame_at;                /* zstd: the next input starts a frame */
    uint8_t head[18];            /* deflate: those bytes, held until both
                                    came; zstd: a frame's header (18 bytes at
                                    most), held until whole */
    int nhead, hoff;             /* held, and given to zlib */
    int more; /* the last call filled its output: more may come without input */
    z_stream z;                  /* gzip, deflate */
    gz_header gzh;               /* gzip: done is 1 once a member's gzip
                                    header came, -1 for a zlib stream */
    BrotliDecoderState *br;      /* br */
    ZSTD_DStream *zs;            /* zstd */
};

weft__inflate *weft__inflate_new(int kind)
{
    weft__inflate *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->kind = kind;
    d->frame_at = 1;
    if (kind == WEFT__DECODE_BR) {
        if ((d->br = BrotliDecoderCreateInstance(NULL, NULL, NULL))) return d;
    } else if (kind == WEFT__DECODE_ZSTD) {
        if ((d->zs = ZSTD_createDStream()) &&
            !ZSTD_isError(ZSTD_DCtx_setParameter(d->zs, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX)))
            return d;
        ZSTD_freeDStream(d->zs);
    } else if (inflateInit2(&d->z, 32 + 15) == Z_OK) { /* 32+15: gzip or zlib, detected */
        if (kind == WEFT__DECODE_GZIP) inflateGetHeader(&d->z, &d->gzh);
        return d;
    }
    free(d);
    return NULL;
}

/* br: one stream; bytes after its end are refused, as for deflate. */
static long run_br(weft__inflate *d, const char **in, size_t *inlen, char *out, size_t cap)
{
    if (d->done) return *inlen ? -WEFT_EHTTP_DECODE : 0;
    size_t avail_in = *inlen, avail_out = cap;
    const uint8_t *next_in = (const uint8_t *)*in;
    uint8_t *next_out = (uint8_t *)out;
    BrotliDecoderResult rc =
        BrotliDecoderDecompressStream(d->br, &avail_in, &next_in, &avail_out, &next_out, NULL);
    *in = (const char *)next_in;
    *inlen = avail_in;
    if (rc == BROTLI_DECODER_RESULT_ERROR) return -WEFT_EHTTP_DECODE;
    if (rc == BROTLI_DECODER_RESULT_SUCCESS) d->done = 1;
    d->started = 1;
    return (long)(cap - avail_out);
}

/* zstd: the size of the frame header that head[0..n) begins (RFC 8878
 * 3.1.1, 3.1.2: what is held tells the next thing to wait for), -1 if it
 * is no zstd frame nor a skippable one. */
static int zstd_header_size(const uint8_t *head, int n)
{
    if (n < 4) return 4;
    uint32_t magic = (uint32_t)head[0] | (uint32_t)head[1] << 8 | (uint32_t)head[2] << 16 |
                     (uint32_t)head[3] << 24;
    if ((magic & ZSTD_MAGIC_SKIPPABLE_MASK) == ZSTD_MAGIC_SKIPPABLE_START) return 8;
    if (magic != ZSTD_MAGICNUMBER) return -1;
    if (n < 5) return 5;
    unsigned fhd = head[4], single = fhd >> 5 & 1, fcs = fhd >> 6;
    static const int did[4] = {0, 1, 2, 4}, fcs_size[4] = {0, 2, 4, 8};
    return 5 + !single + did[fhd & 3] + (fcs || !single ? fcs_size[fcs] : 1);
}

/* zstd: a body may be several frames (RFC 8878 3), decoded in turn, each
 * a zstd frame or a skippable one by its magic number, and each header is
 * held here until whole and given to libzstd in one piece:
 * - libzstd also decodes the pre-1.0 formats (v0.5 to v0.7) when a whole
 *   legacy magic number comes in one call, and those take no notice of
 *   windowLogMax (an 18-byte v0.7 frame had 128 MiB allocated for its
 *   window);
 * - when a header completes, libzstd may decode the frame in one pass from
 *   the start of that call's input, taken for the frame's start: a header
 *   split across calls had its tail read as a frame of its own (a
 *   skippable one), and the frame's real blocks skipped.
 * Either way the same body was taken or refused by where the reads split
 * it (fuzz_http_decode). libzstd stops at a frame's end, so the next
 * frame's first bytes always come through here. */
static long run_zstd(weft__inflate *d, const char **in, size_t *inlen, char *out, size_t cap)
{
    if (d->frame_at) {
        int need;
        while ((need = zstd_header_size(d->head, d->nhead)) > d->nhead) {
            if (!*inlen) return 0;
            d->head[d->nhead++] = (uint8_t) * *in;
            (*in)++;
            (*inlen)--;
            d->done = 0; /* a frame begun: the body is not complete without it */
        }
        if (need < 0) return -WEFT_EHTTP_DECODE;
        /* The header alone: libzstd takes it all and gives nothing yet. */
        ZSTD_inBuffer h = {d->head, (size_t)d->nhead, 0};
        ZSTD_outBuffer o = {out, cap, 0};
        size_t rc = ZSTD_decompressStream(d->zs, &o, &h);
        if (ZSTD_isError(rc) || h.pos != h.size || o.pos) return -WEFT_EHTTP_DECODE;
        d->nhead = 0;
        d->started = 1;
        d->done = d->frame_at = rc == 0; /* an empty skippable frame ends here */
        if (!*inlen || d->frame_at) return 0;
    }
    ZSTD_inBuffer i = {*in, *inlen, 0};
    ZSTD_outBuffer o = {out, cap, 0};
    size_t rc = ZSTD_decompressStream(d->zs, &o, &i);
    *in += i.pos;
    *inlen -= i.pos;
    if (ZSTD_isError(rc)) return -WEFT_EHTTP_DECODE;
    d->started = 1;
    /* A frame ended and nothing of the next is held. A call that took no
     * input and gave nothing (asked for more after the end) changes
     * nothing: zstd then answers with the next frame's header size, which
     * made a finished body look cut (fuzz_http_decode). */
    if (i.pos || o.pos) d->done = d->frame_at = rc == 0;
    return (long)o.pos;
}

static long run_zlib(weft__inflate *d, const char **in, size_t *inlen, char *out, size_t cap);

long weft__inflate_run(weft__inflate *d, const char **in, size_t *inlen, char *out, size_t cap)
{
    /* brotli and zstd take all the input they are given and hold what does
     * not fit the output: called again without input, they give the rest. */
    if (cap == 0 || (*inlen == 0 && !d->more)) return 0;
    if (cap > WEFT__INFLATE_CAP) cap = WEFT__INFLATE_CAP;
    long got = d->kind == WEFT__DECODE_BR     ? run_br(d, in, inlen, out, cap)
               : d->kind == WEFT__DECODE_ZSTD ? run_zstd(d, in, inlen, out, cap)
                                              : run_zlib(d, in, inlen, out, cap);
    d->more = got > 0 && (size_t)got == cap;
    return got;
}

int weft__inflate_pending(const weft__inflate *d) { return d->more; }

/* "deflate" is sent zlib-wrapped (what RFC 9110 names), raw (what many
 * servers send) and now and then as gzip: the first two bytes tell which.
 * They are held until both came, so a body that arrives a byte at a time
 * decodes as it would whole (zlib's own detection, retried as raw on an
 * error, failed when the first read held one byte: fuzz_http_decode). */
static int choose_deflate(weft__inflate *d, const char **in, size_t *inlen)
{
    while (d->nhead < 2 && *inlen) {
        d->head[d->nhead++] = (uint8_t) * *in;
        (*in)++;
        (*inlen)--;
    }
    if (d->nhead < 2) return 0;
    unsigned h = (unsigned)d->head[0] << 8 | d->head[1];
    int wbits = d->head[0] == 0x1f && d->head[1] == 0x8b   ? 16 + 15
                : (d->head[0] & 0x0f) == 8 && h % 31 == 0 ? 15
                                                           : -15;
    inflateEnd(&d->z);
    if (inflateInit2(&d->z, wbits) != Z_OK) return -1;
    d->chosen = 1;
    return 1;
}

static long run_zlib(weft__inflate *d, const char **in, size_t *inlen, char *out, size_t cap)
{
    int gzip = d->kind == WEFT__DECODE_GZIP;
    long total = 0; /* cap: at most WEFT__INFLATE_CAP, so a uInt */
    if (d->kind == WEFT__DECODE_DEFLATE && !d->done) {
        int c = d->chosen ? 1 : choose_deflate(d, in, inlen);
        if (c <= 0) return c < 0 ? -WEFT_EHTTP_DECODE : 0;
        if (d->hoff < d->nhead) { /* the held bytes first */
            d->z.next_in = d->head + d->hoff;
            d->z.avail_in = (uInt)(d->nhead - d->hoff);
            d->z.next_out = (Bytef *)out;
            d->z.avail_out = (uInt)cap;
            int rc = inflate(&d->z, Z_NO_FLUSH);
            d->hoff = d->nhead - (int)d->z.avail_in;
            total = (long)(cap - d->z.avail_out);
            d->started = 1;
            if (rc == Z_STREAM_END) {
                d->done = 1;
                return total;
            }
            if (rc != Z_OK && rc != Z_BUF_ERROR) return -WEFT_EHTTP_DECODE;
            if (d->hoff < d->nhead || (size_t)total == cap || *inlen == 0) return total;
            out += total;
            cap -= (size_t)total;
        }
    }
    if (d->done && *inlen == 0) return 0; /* asked for more after the end: none */
    if (d->done) {
        /* More bytes after the end: a gzip body may be several members
         * (RFC 1952 2.2), decoded in turn; anything else there (garbage, a
         * zlib stream) is refused rather than silently dropped. A member is
         * a gzip member: the first stream was one (not a zlib stream sent
         * as gzip, which is taken alone), and the next is decoded as gzip
         * only (windowBits 16+15), else a zlib stream after a member was
         * taken as another (inflateReset keeps 32+15's detection). curl
         * refuses any bytes after the first member. */
        if (!gzip || d->gzh.done != 1 || inflateReset2(&d->z, 16 + 15) != Z_OK)
            return -WEFT_EHTTP_DECODE;
        d->gzh = (gz_header){0};
        inflateGetHeader(&d->z, &d->gzh); /* the reset forgot it */
        d->done = 0;
    }
    /* zlib counts in 32 bits: a larger count truncated (2^32 + 16 was room
     * for 16) while the result was reckoned from the full one (cap is
     * bounded above). */
    d->z.next_in = (Bytef *)*in;
    d->z.avail_in = *inlen > UINT_MAX ? UINT_MAX : (uInt)*inlen;
    d->z.next_out = (Bytef *)out;
    d->z.avail_out = (uInt)cap;
    int rc = inflate(&d->z, Z_NO_FLUSH);
    d->started = 1;
    size_t used = *inlen - d->z.avail_in;
    *in += used;
    *inlen -= used;
    if (rc == Z_STREAM_END) d->done = 1;
    else if (rc != Z_OK && rc != Z_BUF_ERROR) return -WEFT_EHTTP_DECODE;
    return total + (long)(cap - d->z.avail_out);
}

int weft__inflate_done(const weft__inflate *d) { return d->done; }

void weft__inflate_free(weft__inflate *d)
{
    if (!d) return;
    if (d->kind == WEFT__DECODE_BR) BrotliDecoderDestroyInstance(d->br);
    else if (d->kind == WEFT__DECODE_ZSTD) ZSTD_freeDStream(d->zs);
    else inflateEnd(&d->z);
    free(d);
}
