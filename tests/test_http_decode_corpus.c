/* Replays fuzz/corpus/decode through the decoding fuzz input (whole and in
 * pieces into small buffers, the same bytes and ending either way), so the
 * cases fuzz_http_decode keeps stay covered by the ordinary suite: streams
 * made by zlib and the brotli and zstd tools, cut, trailing, multi-member,
 * a bomb. */
#include "check.h"
#include "../fuzz/fuzz_decode.h"
#include "corpus_replay.h"

static int decode_input(const uint8_t *d, size_t n, int unused)
{
    (void)unused;
    return weft_fuzz_decode(d, n);
}

int main(void)
{
    CHECK(corpus_replay("decode", decode_input, 0) >= 11);
    return 0;
}
