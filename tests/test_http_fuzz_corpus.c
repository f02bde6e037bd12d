/* Replays the fuzz targets' regression corpus (fuzz/corpus) through the same
 * input function libFuzzer calls, so every input that once crashed stays
 * covered by the ordinary suite (and by its ASan run). */
#include "check.h"
#include "../fuzz/fuzz_http.h"
#include <dirent.h>

static int replay(const char *kind, int type)
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
        weft_fuzz_http(buf, len, type);
        n++;
    }
    closedir(d);
    return n;
}

static void t_request(void) { CHECK(replay("request", HTTP_REQUEST) >= 8); }
static void t_response(void) { CHECK(replay("response", HTTP_RESPONSE) >= 7); }

int main(int argc, char **argv)
{
    static const test_case tc[] = {{"request", t_request}, {"response", t_response}, {NULL, NULL}};
    return run_tests(tc, argc, argv);
}
