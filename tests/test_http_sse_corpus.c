/* Replays fuzz/corpus/sse through the SSE reader's fuzz input (whole and
 * in pieces, the same events either way), so inputs fuzz_http_sse found
 * stay covered by the ordinary suite: crash-bom-split-across-reads is a
 * stream whose BOM came a byte at a time and was taken for text. Its own
 * program: fuzz_sse.h replaces weft_http_response_read with a stub. */
#include "check.h"
#include "../fuzz/fuzz_sse.h"
#include "corpus_replay.h"

static int sse_input(const uint8_t *d, size_t n, int unused)
{
    (void)unused;
    return weft_fuzz_sse(d, n);
}

int main(void)
{
    CHECK(corpus_replay("sse", sse_input, 0) >= 3);
    return 0;
}
