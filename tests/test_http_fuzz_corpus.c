/* Replays the fuzz targets' regression corpus (fuzz/corpus) through the same
 * input function libFuzzer calls, so every input that once crashed stays
 * covered by the ordinary suite (and by its ASan run). */
#include "check.h"
#include "../fuzz/fuzz_http.h"
#include "../fuzz/fuzz_cookie.h"
#include "../fuzz/fuzz_ws_frame.c"
#include <dirent.h>

/* Feeds every file of fuzz/corpus/kind to fn (type: the HTTP message type,
 * for the HTTP targets); returns how many there were. */
static int replay_with(const char *kind, int (*fn)(const uint8_t *, size_t, int), int type)
{
    const char *t = getenv("WEFT_TEST_DIR");
    char dir[1024], path[2048];
    snprintf(dir, sizeof dir, "%s/../fuzz/corpus/%s", t ? t : "tests", kind);
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    static uint8_t buf[1 << 20];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        CHECK(f != NULL);
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        fn(buf, len, type);
        n++;
    }
    closedir(d);
    return n;
}

static int replay(const char *kind, int type) { return replay_with(kind, weft_fuzz_http, type); }

static int ws_frame_input(const uint8_t *d, size_t n, int unused)
{
    return LLVMFuzzerTestOneInput(d, n);
}

static int cookie_input(const uint8_t *d, size_t n, int unused) { return weft_fuzz_cookie(d, n); }

static void t_request(void) { CHECK(replay("request", HTTP_REQUEST) >= 8); }
static void t_ws_frame(void) { CHECK(replay_with("ws_frame", ws_frame_input, 0) >= 9); }
static void t_response(void) { CHECK(replay("response", HTTP_RESPONSE) >= 7); }
static void t_cookie(void) { CHECK(replay_with("cookie", cookie_input, 0) >= 6); }

int main(int argc, char **argv)
{
    static const test_case tc[] = {{"request", t_request}, {"response", t_response},
                                   {"ws_frame", t_ws_frame}, {"cookie", t_cookie},
                                   {NULL, NULL}};
    return run_tests(tc, argc, argv);
}
