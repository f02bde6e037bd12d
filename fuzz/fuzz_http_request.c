/* libFuzzer target: request parsing (clang -fsanitize=fuzzer; fuzz/build.sh). */
#include "fuzz_http.h"
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return weft_fuzz_http(data, size, HTTP_REQUEST);
}
