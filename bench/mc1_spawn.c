/* MC1 spawn across loops: N tasks (default 1,000,000) spread over L loops
 * (default 2), all awaited. Each loop spawns and awaits its share itself
 * (a spawner task per loop, put there with weft_spawn_on): the way a weft
 * program spreads work, with no message per task.
 *     MC1 weft-Lloops ns_per_task=... cpu_ns_per_task=...
 * Usage: bench_mc1_spawn [tasks] [loops] */
#include "bench.h"
#include <errno.h>

static long n_tasks;
static int n_loops;

static int member(void *arg) { return (int)((long)arg & 0xffff); }

static int spawner(void *arg)
{
    long share = (long)arg;
    weft_group *g = weft_group_new();
    if (!g) return -ENOMEM;
    for (long i = 0; i < share; i++) {
        int r = weft_group_spawn(g, member, (void *)i);
        if (r < 0) return r;
    }
    return weft_group_wait(g);
}

static int bench_main(void *arg)
{
    (void)arg;
    weft_task *t[64];
    double t0 = bench_now(), c0 = bench_cpu_now();
    for (int l = 0; l < n_loops; l++) {
        long share = n_tasks / n_loops + (l < n_tasks % n_loops);
        if (!(t[l] = weft_spawn_on(weft_loop_at(l), spawner, (void *)share))) return -ENOMEM;
    }
    int r = weft_gather(t, (size_t)n_loops, NULL);
    double dt = bench_now() - t0, dc = bench_cpu_now() - c0;
    if (r < 0) return r;
    printf("MC1 weft-%dloop%s ns_per_task=%.1f cpu_ns_per_task=%.1f peak_rss_mb=%.1f\n", n_loops,
           n_loops > 1 ? "s" : "", dt * 1e9 / (double)n_tasks, dc * 1e9 / (double)n_tasks,
           bench_peak_rss_mb());
    return 0;
}

int main(int argc, char **argv)
{
    n_tasks = bench_arg(argc, argv, 1, 1000000);
    n_loops = (int)bench_arg(argc, argv, 2, 2);
    if (n_loops > 64) n_loops = 64;
    weft_options o = {.loops = n_loops};
    int r = weft_run_with(&o, bench_main, NULL);
    if (r < 0) fprintf(stderr, "MC1 failed: %s\n", weft_strerror(r));
    return r < 0;
}
