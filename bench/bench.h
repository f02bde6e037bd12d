/* Helpers shared by the bench programs (header-only: CMake makes one
 * program per bench/<name>.c). Each program prints `WORKLOAD SYSTEM key=value ...`
 * lines that bench/run.sh collects. */
#ifndef WEFT_BENCH_H
#define WEFT_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <weft.h>

/* Wall clock for measurements: monotonic, in seconds. */
static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the whole process so far (user + system, every thread), in
 * seconds: on a loaded machine, beside the wall clock. */
static inline double bench_cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/* Peak resident set of the whole process so far, in MiB (ru_maxrss is KiB
 * on Linux); the peers report the same figure the same way. */
static inline double bench_peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* argv[i] as a positive number, or def when absent; exits on bad input so a
 * typo in run.sh cannot silently measure the wrong workload. */
static inline long bench_arg(int argc, char **argv, int i, long def)
{
    if (i >= argc) return def;
    char *end;
    long v = strtol(argv[i], &end, 10);
    if (*end || v <= 0) {
        fprintf(stderr, "%s: argument %d must be a positive integer, got '%s'\n",
                argv[0], i, argv[i]);
        exit(2);
    }
    return v;
}

/* Runs fn as the main task of a fresh loop; the exit status for main(). */
static inline int bench_weft_run(const char *what, weft_fn fn)
{
    int r = weft_run(fn, NULL);
    if (r < 0) fprintf(stderr, "%s failed: %s\n", what, weft_strerror(r));
    return r < 0;
}

#endif
