/* libFuzzer target: the Server-Sent Events reader (fuzz_sse.h says what
 * is checked). */
#include "fuzz_sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return weft_fuzz_sse(d, n); }
