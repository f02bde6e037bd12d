/* libFuzzer target: the client's cookie jar (Set-Cookie lines, retrieval,
 * the cookie file round trip); fuzz/fuzz_cookie.h has the checks. */
#include "fuzz_cookie.h"
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return weft_fuzz_cookie(data, size); }
