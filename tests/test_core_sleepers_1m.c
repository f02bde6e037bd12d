/* Scale: a million concurrent sleeping tasks with the default
 * vm.max_map_count (65530). Under ASan, valgrind or qemu the count is
 * smaller (same code paths). (A million timers: test_core_timers_1m.c.) */
#include "core_util.h"
#include <weft/test.h>

static size_t n_tasks(void)
{
    return under_valgrind() ? 20000 : slow_machine() ? 50000 : 1000000;
}

static long maps_lines(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    CHECK(f != NULL);
    long n = 0;
    int c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}
static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size, rss;
    CHECK(f && fscanf(f, "%ld %ld", &size, &rss) == 2);
    fclose(f);
    return rss * sysconf(_SC_PAGESIZE);
}

/* ---- a million sleepers ------------------------------------------------------------ */

static size_t woke, started;
/* Sleeps until main, having measured them all parked, cancels it: a burst
 * of a million starts can outlast any fixed sleep (due timers fire while
 * it goes on), so a sleep of its own would end some before the last start.
 * A million timers firing: test_core_timers_1m.c. */
static int sleeper(void *a)
{
    started++;
    int r = weft_sleep(3600);
    woke++;
    return r == -ECANCELED ? 0 : -1;
}
static int sleepers_main(void *a)
{
    size_t n = n_tasks();
    weft_task **t = malloc(n * sizeof *t);
    WEFT_TEST_CHECK(t != NULL);
    memset(t, 0, n * sizeof *t);
    long rss0 = rss_bytes();
    double t0 = weft_now();
    for (size_t i = 0; i < n; i++) WEFT_TEST_CHECK((t[i] = weft_spawn(sleeper, NULL)) != NULL);
    /* they all run and park (a long burst of starts lets main's timer in
     * before it ends: wait for the last start) */
    while (started < n) CHECK_EQ(weft_sleep(0.01), 0);
    long maps = maps_lines(), rss = rss_bytes() - rss0;
    fprintf(stderr, "   %zu parked: %ld mappings, %.0f bytes RSS per task, %.2f s to park\n", n,
            maps, (double)rss / (double)n, weft_now() - t0);
    CHECK_EQ(woke, 0);
    for (size_t i = 0; i < n; i++) weft_cancel(t[i]);
    /* far below the kernel's default limit: no mapping per stack (where
     * MADV_GUARD_INSTALL works; elsewhere, e.g. under qemu, at most 8192
     * stacks get mprotect guards, two mappings each, the rest canaries) */
    WEFT_TEST_CHECK(maps < 20000);
    /* about one page per parked task (its stack's top page) plus its
     * task record and timer entry; sanitizers use more */
    if (!slow_machine()) WEFT_TEST_CHECK(rss < (long)n * 6000);
    CHECK_EQ(weft_gather(t, n, NULL), 0);
    CHECK_EQ(woke, n);
    fprintf(stderr, "   all woke after %.2f s\n", weft_now() - t0);
    free(t);
    return 0;
}

int main(void)
{
    /* Scale, as users run it: without debug mode, whose per-task records
     * and slow-task reports (a million spawns in one go) are not what this
     * measures; a limit for a loaded machine (seen: 17 s under load). The
     * tasks and fds are still checked. */
    weft_test_options o = {.no_debug = 1, .timeout_s = 120};
    return weft_test_run("sleepers_1m", sleepers_main, NULL, &o);
}
