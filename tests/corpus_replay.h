/* Shared by the corpus replay tests: feeds every file of fuzz/corpus/<kind>
 * to a fuzz target's input function, as libFuzzer would. */
#ifndef WEFT_TESTS_CORPUS_REPLAY_H
#define WEFT_TESTS_CORPUS_REPLAY_H
#include "check.h"
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* fn(data, size, ctx) for each file; returns how many there were. */
static int corpus_replay(const char *kind, int (*fn)(const uint8_t *, size_t, int), int ctx)
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
        fn(buf, len, ctx);
        n++;
    }
    closedir(d);
    return n;
}

#endif
