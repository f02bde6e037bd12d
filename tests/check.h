/* Bodies run under weft/test.h; check.h stays for what it cannot host: code
 * outside a loop (setup, parsers, forks), weft_run itself, SIGINT, several
 * loops, leaks and misuse on purpose; and CHECK_EQ/CHECK_NEAR (both values).
 *
 * Minimal assertions for weft's own tests: each prints both values and the
 * place on failure, then exits non-zero (ctest runs each file as a process
 * with a timeout). */
#ifndef WEFT_TESTS_CHECK_H
#define WEFT_TESTS_CHECK_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                   \
    do {                                                                           \
        if (!(c)) {                                                                \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c); \
            exit(1);                                                               \
        }                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                        \
    do {                                                                                      \
        long long _a = (long long)(a), _b = (long long)(b);                                   \
        if (_a != _b) {                                                                       \
            fprintf(stderr, "%s:%d: CHECK_EQ(%s, %s) failed: %lld != %lld\n", __FILE__,       \
                    __LINE__, #a, #b, _a, _b);                                                \
            exit(1);                                                                          \
        }                                                                                     \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                               \
    do {                                                                                    \
        double _a = (a), _b = (b);                                                          \
        if (!(_a >= _b - (tol) && _a <= _b + (tol))) {                                      \
            fprintf(stderr, "%s:%d: CHECK_NEAR(%s, %s) failed: %g vs %g\n", __FILE__,       \
                    __LINE__, #a, #b, _a, _b);                                              \
            exit(1);                                                                        \
        }                                                                                   \
    } while (0)

#ifdef WEFT_H
/* TASK_TEST(name) { ... } defines a test whose body runs as the main task of
 * a fresh loop and must return 0. */
#define TASK_TEST(name)                                                   \
    static int name##_body(void *arg);                                    \
    static void name(void) { CHECK_EQ(weft_run(name##_body, NULL), 0); } \
    static int name##_body(void *arg)
#endif

/* Runs every test named on the command line, or all of them. */
typedef struct { const char *name; void (*fn)(void); } test_case;
static inline int run_tests(const test_case *tc, int argc, char **argv)
{
    for (const test_case *t = tc; t->name; t++) {
        int pick = argc < 2;
        for (int i = 1; i < argc; i++) pick |= !strcmp(argv[i], t->name);
        if (!pick) continue;
        fprintf(stderr, "-- %s\n", t->name);
        t->fn();
    }
    return 0;
}

/* weft/test.h's cases (an array), then the plain ones weft_test_run cannot
 * host; the exit status (a plain one that fails exits at once). */
#define RUN_CASES_THEN_PLAIN(cases, plain, argc, argv)                                             \
    run_plain_after(weft_test_main((cases), sizeof(cases) / sizeof *(cases), (argc), (argv)),      \
                    (plain), (argc), (argv))
static inline int run_plain_after(int rc, const test_case *plain, int argc, char **argv)
{
    run_tests(plain, argc, argv);
    return rc;
}
#endif
