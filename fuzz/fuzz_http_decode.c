/* libFuzzer target: response body decoding (fuzz_decode.h says what is
 * checked). */
#include "fuzz_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return weft_fuzz_decode(d, n); }
