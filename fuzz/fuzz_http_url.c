/* libFuzzer target: the client's URL parser and Location resolver;
 * fuzz/fuzz_url.h has the checks. */
#include "fuzz_url.h"
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return weft_fuzz_url(data, size); }
