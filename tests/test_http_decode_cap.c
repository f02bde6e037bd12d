/* The decoders' output bound (decode.c's WEFT__INFLATE_CAP, 4 GiB - 1:
 * zlib counts in 32 bits) applies to every coding alike. "The call filled
 * its output, more may come without input" (weft__inflate_pending) was
 * judged against the room capped at 4 GiB while br and zstd were handed
 * the caller's whole room: a read of more than 4 GiB into one buffer that
 * they filled was not reported pending, and with the body's bytes all in,
 * the response read ended on output still held (a sound body refused as
 * cut, or short). The cap is lowered to 1000 bytes here so that a 4000-byte
 * buffer shows it: decode.c is compiled into this test with that cap (its
 * functions then come from here, not from the library). */
#define WEFT__INFLATE_CAP 1000
#include "http/decode.c"

#include <weft/test.h>
#include "check.h"
#include <brotli/encode.h>
#include <stdio.h>
#include <string.h>
#include <zstd.h>

#define TEXT_LEN 20000
static char text[TEXT_LEN];

/* Decodes comp as the client does (response.c): all the input at once,
 * then calls without input while output is pending, into a buffer larger
 * than the cap. The decoded length, or -1 (reported). */
static long decode_all(int kind, const char *comp, size_t clen, char *out)
{
    weft__inflate *d = weft__inflate_new(kind);
    CHECK(d);
    const char *in = comp;
    size_t inlen = clen, total = 0;
    char buf[4000];
    while (inlen || weft__inflate_pending(d)) {
        long got = weft__inflate_run(d, &in, &inlen, buf, sizeof buf);
        if (got < 0 || total + (size_t)got > TEXT_LEN) {
            fprintf(stderr, "kind %d: a call gave %ld bytes (cap %d)\n", kind, got,
                    WEFT__INFLATE_CAP);
            weft__inflate_free(d);
            return -1;
        }
        memcpy(out + total, buf, (size_t)got);
        total += (size_t)got;
        if (!got && inlen) break; /* stuck: reported below */
    }
    int done = weft__inflate_done(d);
    weft__inflate_free(d);
    if (!done) fprintf(stderr, "kind %d: ended after %zu bytes, not done\n", kind, total);
    return done ? (long)total : -1;
}

WEFT_TEST(every_coding_held_to_the_cap)
{
    for (size_t i = 0; i < TEXT_LEN; i++) text[i] = (char)("weft decode "[i % 12] + i / 977 % 7);
    static char comp[2 * TEXT_LEN], out[TEXT_LEN];
    /* br */
    size_t clen = sizeof comp;
    CHECK(BrotliEncoderCompress(5, 22, BROTLI_MODE_TEXT, TEXT_LEN, (const uint8_t *)text, &clen,
                                (uint8_t *)comp));
    memset(out, 0, sizeof out);
    CHECK_EQ(decode_all(WEFT__DECODE_BR, comp, clen, out), TEXT_LEN);
    WEFT_TEST_CHECK(memcmp(out, text, TEXT_LEN) == 0);
    /* zstd */
    clen = ZSTD_compress(comp, sizeof comp, text, TEXT_LEN, 3);
    CHECK(!ZSTD_isError(clen));
    memset(out, 0, sizeof out);
    CHECK_EQ(decode_all(WEFT__DECODE_ZSTD, comp, clen, out), TEXT_LEN);
    WEFT_TEST_CHECK(memcmp(out, text, TEXT_LEN) == 0);
    /* gzip, deflate: zlib was capped already */
    z_stream z = {0};
    for (int gz = 0; gz < 2; gz++) {
        CHECK_EQ(deflateInit2(&z, 6, Z_DEFLATED, gz ? 16 + 15 : 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
        z.next_in = (Bytef *)text, z.avail_in = TEXT_LEN;
        z.next_out = (Bytef *)comp, z.avail_out = sizeof comp;
        CHECK_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
        clen = sizeof comp - z.avail_out;
        deflateEnd(&z);
        memset(out, 0, sizeof out);
        CHECK_EQ(decode_all(gz ? WEFT__DECODE_GZIP : WEFT__DECODE_DEFLATE, comp, clen, out),
                 TEXT_LEN);
        WEFT_TEST_CHECK(memcmp(out, text, TEXT_LEN) == 0);
    }
    return 0;
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(every_coding_held_to_the_cap))
