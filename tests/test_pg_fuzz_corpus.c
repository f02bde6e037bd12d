/* Replays the PostgreSQL fuzz targets' corpora (fuzz/corpus/pg_values,
 * fuzz/corpus/pg_copy) through the same input functions libFuzzer calls,
 * with their asserts on, so every input that once mattered stays covered
 * by the ordinary suite and its ASan run. No server needed. */
#undef NDEBUG
#include <assert.h>
#include "corpus_replay.h"
#include <errno.h>

#define LLVMFuzzerTestOneInput fuzz_pg_values_one
#include "../fuzz/fuzz_pg_values.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_pg_copy_one
#include "../fuzz/fuzz_pg_copy.c"
#undef LLVMFuzzerTestOneInput

static int values_input(const uint8_t *d, size_t n, int unused) { return fuzz_pg_values_one(d, n); }
static int copy_input(const uint8_t *d, size_t n, int unused) { return fuzz_pg_copy_one(d, n); }

static void t_values(void) { CHECK(corpus_replay("pg_values", values_input, 0) >= 20); }
static void t_copy(void) { CHECK(corpus_replay("pg_copy", copy_input, 0) >= 5); }

/* A stream split at every byte gives the rows it gives whole: the seed
 * the server wrote for two rows of seven columns. */
static void t_copy_every_split(void)
{
    const char *t = getenv("WEFT_TEST_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/../fuzz/corpus/pg_copy/4c37bdfe7457ce9cffe2618c720d9238de65ea27",
             t ? t : "tests");
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    static uint8_t buf[4096];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    CHECK(len > 100);
    int ncols = buf[0] & 7;
    unsigned oids[8];
    for (int i = 0; i < ncols; i++) oids[i] = copy_oids[(buf[1] + i * 3) % 8];
    digest whole = {0, 0};
    CHECK_EQ(parse_in((char *)buf + 2, len - 2, len, ncols, oids, &whole), 0);
    CHECK_EQ(whole.rows, 2);
    for (size_t step = 1; step < len; step++) {
        digest d = {0, 0};
        CHECK_EQ(parse_in((char *)buf + 2, len - 2, step, ncols, oids, &d), 0);
        CHECK(d.rows == whole.rows && d.h == whole.h);
    }
    /* cut short anywhere: refused at the end, never read past */
    for (size_t cut = 0; cut < len - 2; cut++) {
        digest d = {0, 0};
        CHECK_EQ(parse_in((char *)buf + 2, cut, 7, ncols, oids, &d), -EINVAL);
    }
}

int main(int argc, char **argv)
{
    static const test_case tc[] = {{"values", t_values}, {"copy", t_copy},
                                   {"copy_every_split", t_copy_every_split}, {NULL, NULL}};
    return run_tests(tc, argc, argv);
}
