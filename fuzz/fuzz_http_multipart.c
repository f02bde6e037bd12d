/* libFuzzer target: the multipart/form-data parser (framing and part
 * heads); fuzz/fuzz_multipart.h has the checks. */
#include "fuzz_multipart.h"
/* form.c (percent-decoding) is linked for its decoder; its query helper
 * needs the server, which the fuzzer leaves out. */
const char *weft_http_request_query(const weft_http_request *req) { return ""; }
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return weft_fuzz_multipart(data, size); }
