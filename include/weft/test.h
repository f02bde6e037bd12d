/* weft/test.h: testing asynchronous code (what pytest-asyncio is to asyncio).
 *
 * Each test body is a weft_fn run as a task on a fresh loop (debug mode on by
 * default), under a time limit, and then checked for leaks:
 *   - tasks: none of the tasks it spawned may still be alive when it returns
 *     (they are dumped, with backtraces, then cancelled);
 *   - debug reports: no task never awaited, no error nobody read, no tracked
 *     resource (weft/debug.h) left open, no blocking-mode fd used;
 *   - fds: /proc/self/fd after the loop closed must equal the set before;
 *   - heap (opt-in): bytes in use per glibc's mallinfo2 must not grow.
 * The body fails by returning < 0 (e.g. with WEFT_TEST_CHECK).
 *
 * With ctest: one program per file, ending with
 *     WEFT_TEST(adds) { WEFT_TEST_CHECK(1 + 1 == 2); return 0; }
 *     WEFT_TEST_MAIN(WEFT_TEST_CASE(adds))
 * which runs every case (or those named on the command line) and exits 1 if
 * any failed. With any other framework, call weft_test_run() from a test and
 * assert it returned 0. */
#ifndef WEFT_TEST_H
#define WEFT_TEST_H

#include <stdio.h>
#include "../weft.h"
#include "debug.h"
#include <errno.h> /* bodies compare results with -ETIMEDOUT, -ECANCELED... */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_test_options {
    double timeout_s;  /* time limit of the body; 0 (or NaN): WEFT_TEST_TIMEOUT
                          or 10 s. A body that blocks the loop past twice the
                          limit (+1 s, at most 2^31 s) is killed by SIGALRM
                          after a task dump */
    int no_debug;      /* 1: run the loop without debug mode (no report checks) */
    int no_fd_check;   /* 1: skip the fd comparison (e.g. a library keeps a
                          process-wide fd open on purpose) */
    int check_allocs;  /* 1: fail if heap bytes in use grew (glibc only; runs
                          the body twice and compares the second run, so
                          one-time caches do not count) */
    size_t stack_size; /* per task, 0: the default */
} weft_test_options;
typedef weft_test_options weft_test_opts; /* the `_opts` convention's name (weft.h) */

/* Runs body(arg) as described above; opt may be NULL. Prints "ok name
 * (seconds)" or "FAIL name: reason" lines to stderr. Returns 0 if the test
 * passed, 1 if it failed. Call it outside any loop (it fails otherwise).
 * Owns SIGALRM and alarm() while it runs (both restored afterwards). Blocks
 * until the test ended. */
int weft_test_run(const char *name, weft_fn body, void *arg, const weft_test_options *opt);

typedef struct weft_test_case {
    const char *name;
    weft_fn body;
} weft_test_case;

/* Runs the n cases (those named in argv[1..] if any); returns the process
 * exit status: 0 if all passed, 1 otherwise. */
int weft_test_main(const weft_test_case *cases, size_t n, int argc, char **argv);

#define WEFT_TEST(name) static int name(void *weft_test_arg_ __attribute__((unused)))
#define WEFT_TEST_CASE(fn) {#fn, (fn)}
#define WEFT_TEST_MAIN(...)                                                              \
    int main(int argc, char **argv)                                                      \
    {                                                                                    \
        static const weft_test_case weft_cases_[] = {__VA_ARGS__};                       \
        return weft_test_main(weft_cases_, sizeof weft_cases_ / sizeof *weft_cases_,     \
                              argc, argv);                                               \
    }

/* Inside a body: on failure print the condition and place, return -1. */
#define WEFT_TEST_CHECK(cond)                                                            \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: WEFT_TEST_CHECK(%s) failed\n", __FILE__, __LINE__,   \
                    #cond);                                                              \
            return -1;                                                                   \
        }                                                                                \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
