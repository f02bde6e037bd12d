/* Helpers shared by the core tests (tests/test_core_*.c). */
#ifndef WEFT_TESTS_CORE_UTIL_H
#define WEFT_TESTS_CORE_UTIL_H
#define _GNU_SOURCE
#include <weft.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "check.h"
#include "capture.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

static inline int under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload");
}

/* 1 under ASan, valgrind or qemu-user (slow: use less load). */
static inline int slow_machine(void)
{
    const char *v = getenv("WEFT_TEST_SLOW");
    if (v && *v == '1') return 1;
    if (UNDER_ASAN || under_valgrind()) return 1;
#if defined(__aarch64__)
    return 1; /* here aarch64 means qemu-user */
#endif
    return 0;
}

static inline double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* capture_stderr(fn, arg): capture.h, the one stderr-capture helper. */

/* Everything fd gives until end of file, NUL-terminated (malloc'd). */
static inline char *read_to_end(int fd)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ssize_t r;
    while ((r = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)r;
        if (cap - len < 2) CHECK(buf = realloc(buf, cap *= 2));
    }
    buf[len] = 0;
    return buf;
}

/* Runs fn in a forked child with stderr captured; returns the child's wait
 * status and its stderr in *err (malloc'd). */
static inline int in_child(void (*fn)(void *), void *arg, char **err)
{
    int p[2];
    CHECK(pipe(p) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        dup2(p[1], 2);
        fn(arg);
        fflush(NULL);
        _exit(0);
    }
    close(p[1]);
    char *buf = read_to_end(p[0]);
    close(p[0]);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    *err = buf;
    return st;
}

#define CHECK_STR_HAS(s, sub)                                                              \
    do {                                                                                   \
        if (!strstr((s), (sub))) {                                                         \
            fprintf(stderr, "%s:%d: expected \"%s\" in: %s\n", __FILE__, __LINE__, (sub), \
                    (s));                                                                  \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

/* The process's address-space size, and a limit (RLIMIT_AS) extra bytes
 * above it: for out-of-memory tests, in a child (see in_child). */
static inline long vm_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0;
    CHECK(f && fscanf(f, "%ld", &pages) == 1);
    fclose(f);
    return pages * sysconf(_SC_PAGESIZE);
}
static inline void limit_as(long extra)
{
    struct rlimit r = {(rlim_t)(vm_bytes() + extra), (rlim_t)(vm_bytes() + extra)};
    CHECK_EQ(setrlimit(RLIMIT_AS, &r), 0);
}

/* Runs an out-of-memory case (fn sets its limit_as) in a child, which must
 * exit 0; skipped where address-space limits do not work. */
static inline void oom_in_child(void (*fn)(void *))
{
    if (slow_machine()) {
        fprintf(stderr, "   skipped: address-space limits and sanitizers/emulators do not mix\n");
        return;
    }
    char *err;
    int st = in_child(fn, NULL, &err);
    fputs(err, stderr);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    free(err);
}

#endif
