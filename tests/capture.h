/* The tests' one way to capture what they write to stderr (debug reports,
 * dumps) so it can be checked: capture_begin points fd 2 at a temporary
 * file, capture_end puts it back and returns the text (malloc'd; also
 * echoed to the real stderr); capture_stderr(fn, arg) runs fn between the
 * two and returns the text without the echo. A forked child's stderr is
 * core_util.h's in_child. */
#ifndef WEFT_TESTS_CAPTURE_H
#define WEFT_TESTS_CAPTURE_H
#include "check.h"
#include <stdlib.h>
#include <unistd.h>

static int capture_saved_fd = -1;
static FILE *capture_file;

static inline void capture_begin(void)
{
    fflush(stderr);
    capture_file = tmpfile();
    CHECK(capture_file);
    capture_saved_fd = dup(2);
    dup2(fileno(capture_file), 2);
}

static inline char *capture_stop(int echo)
{
    fflush(stderr);
    dup2(capture_saved_fd, 2);
    close(capture_saved_fd);
    long n = lseek(fileno(capture_file), 0, SEEK_END);
    char *buf = calloc(1, (size_t)n + 1);
    CHECK(pread(fileno(capture_file), buf, (size_t)n, 0) == n);
    fclose(capture_file);
    if (echo) fputs(buf, stderr);
    return buf;
}

static inline char *capture_end(void) { return capture_stop(1); }

/* Runs fn with stderr captured; returns what it wrote (malloc'd). */
static inline char *capture_stderr(void (*fn)(void *), void *arg)
{
    capture_begin();
    fn(arg);
    return capture_stop(0);
}
#endif
