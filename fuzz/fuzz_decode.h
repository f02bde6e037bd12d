/* The content-decoding fuzz input (src/http/decode.c: gzip, deflate, br,
 * zstd), shared by fuzz_http_decode.c (libFuzzer) and the corpus replay
 * test. Input: a kind byte (mod 4: deflate, gzip, br, zstd), a piece size
 * and an output size, then the coded stream. The stream is decoded twice,
 * as response.c drives the decoder (ask again while the last call filled
 * its output, with no input if none is left): whole into a big buffer, and
 * in pieces of that size into buffers of that size. Checked: both end the
 * same way (error, stream ended, or still wanting input) with the same
 * bytes, and no call returns more than its room. The first fuzzed version
 * of response.c's loop lost what brotli held back past a full buffer. */
#ifndef WEFT_FUZZ_DECODE_H
#define WEFT_FUZZ_DECODE_H
#include "http/internal.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Not assert: the replay test is built with NDEBUG. */
#define DECODE_MUST(c) \
    do {               \
        if (!(c)) abort(); \
    } while (0)

#define DECODE_MAX (1 << 20) /* decoded bytes compared, at most */

/* Decodes in[0..n) in pieces of `piece` bytes into buffers of `cap`;
 * the output in out (up to DECODE_MAX), its length in *len. Returns 1 if
 * the stream ended, 0 if it wants more input, -1 on a decoding error. */
static int decode_run(int kind, const uint8_t *in, size_t n, size_t piece, size_t cap,
                      uint8_t *out, size_t *len)
{
    weft__inflate *z = weft__inflate_new(kind);
    DECODE_MUST(z);
    static char buf[DECODE_MAX];
    *len = 0;
    int rc = 0;
    size_t off = 0;
    while (rc == 0) {
        size_t take = n - off < piece ? n - off : piece;
        const char *p = (const char *)in + off;
        size_t left = take;
        off += take;
        /* as response.c: call while input is left or the last call filled
         * its output */
        while (left || weft__inflate_pending(z)) {
            long got = weft__inflate_run(z, &p, &left, buf, cap);
            if (got < 0) {
                rc = -1;
                break;
            }
            DECODE_MUST((size_t)got <= cap);
            if (*len + (size_t)got > DECODE_MAX) { /* enough compared: stop as the limit would */
                rc = 2;
                break;
            }
            memcpy(out + *len, buf, (size_t)got);
            *len += (size_t)got;
            if (got == 0 && left) continue; /* input taken, nothing out yet */
            if (got == 0) break;
        }
        if (rc == 0 && off == n) break;
    }
    if (rc == 0) rc = weft__inflate_done(z) ? 1 : 0;
    weft__inflate_free(z);
    return rc;
}

static int weft_fuzz_decode(const uint8_t *d, size_t n)
{
    if (n < 3) return 0;
    static const int kinds[] = {WEFT__DECODE_DEFLATE, WEFT__DECODE_GZIP, WEFT__DECODE_BR,
                                WEFT__DECODE_ZSTD};
    int kind = kinds[d[0] % 4];
    size_t piece = (size_t)d[1] % 64 + 1, cap = (size_t)d[2] * 4 % 1024 + 1;
    static uint8_t whole[DECODE_MAX], parts[DECODE_MAX];
    size_t wl, pl;
    int a = decode_run(kind, d + 3, n - 3, n, DECODE_MAX, whole, &wl);
    int b = decode_run(kind, d + 3, n - 3, piece, cap, parts, &pl);
    if (a == 2 || b == 2) return 0; /* past the compared size: both stopped early */
    DECODE_MUST(a == b);
    if (a >= 0) DECODE_MUST(wl == pl && !memcmp(whole, parts, wl));
    return 0;
}
#endif
