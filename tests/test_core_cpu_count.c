/* weft_cpu_count and WEFT_LOOPS=auto follow the affinity mask (taskset, a
 * container's cpuset), not the machine's CPU count: `taskset -c 0 weft
 * serve` once ran two loop threads on one CPU. */
#define _GNU_SOURCE
#include <weft.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>
#include "check.h"

static int count_loops(void *arg)
{
    *(int *)arg = weft_loop_count();
    return 0;
}

int main(void)
{
    cpu_set_t all, one;
    CHECK_EQ(sched_getaffinity(0, sizeof all, &all), 0);
    CHECK_EQ(weft_cpu_count(), CPU_COUNT(&all));
    CHECK(weft_cpu_count() <= (int)sysconf(_SC_NPROCESSORS_ONLN));
    int first = 0;
    while (!CPU_ISSET(first, &all)) first++;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    CHECK_EQ(sched_setaffinity(0, sizeof one, &one), 0);
    CHECK_EQ(weft_cpu_count(), 1);
    setenv("WEFT_LOOPS", "auto", 1);
    int n = 0;
    CHECK_EQ(weft_run(count_loops, &n), 0);
    CHECK_EQ(n, 1);
    CHECK_EQ(sched_setaffinity(0, sizeof all, &all), 0);
    n = 0;
    CHECK_EQ(weft_run(count_loops, &n), 0);
    CHECK_EQ(n, CPU_COUNT(&all));
    return 0;
}
