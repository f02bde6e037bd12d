/* Replays the fuzz targets' regression corpus (fuzz/corpus) through the same
 * input function libFuzzer calls, so every input that once crashed stays
 * covered by the ordinary suite (and by its ASan run). */
#include "check.h"
#include "../fuzz/fuzz_http.h"
#include "../fuzz/fuzz_cookie.h"
#include "../fuzz/fuzz_multipart.h"
#include "../fuzz/fuzz_url.h"
#include "../fuzz/fuzz_ws_frame.c"
#include "corpus_replay.h"

static int replay(const char *kind, int type) { return corpus_replay(kind, weft_fuzz_http, type); }

static int ws_frame_input(const uint8_t *d, size_t n, int unused)
{
    return LLVMFuzzerTestOneInput(d, n);
}

static int cookie_input(const uint8_t *d, size_t n, int unused) { return weft_fuzz_cookie(d, n); }

static void t_request(void) { CHECK(replay("request", HTTP_REQUEST) >= 8); }
static void t_ws_frame(void) { CHECK(corpus_replay("ws_frame", ws_frame_input, 0) >= 19); }
static void t_response(void) { CHECK(replay("response", HTTP_RESPONSE) >= 7); }
static void t_cookie(void) { CHECK(corpus_replay("cookie", cookie_input, 0) >= 6); }
static int multipart_input(const uint8_t *d, size_t n, int unused)
{
    return weft_fuzz_multipart(d, n);
}
static void t_multipart(void) { CHECK(corpus_replay("multipart", multipart_input, 0) >= 4); }
static int url_input(const uint8_t *d, size_t n, int unused)
{
    (void)unused;
    return weft_fuzz_url(d, n);
}
static void t_url(void) { CHECK(corpus_replay("url", url_input, 0) >= 9); }

int main(int argc, char **argv)
{
    static const test_case tc[] = {{"request", t_request}, {"response", t_response},
                                   {"ws_frame", t_ws_frame}, {"cookie", t_cookie},
                                   {"multipart", t_multipart}, {"url", t_url},
                                   {NULL, NULL}};
    return run_tests(tc, argc, argv);
}
