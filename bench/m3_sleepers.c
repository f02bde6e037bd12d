/* M3 sleepers: N tasks (default 1,000,000) each sleeping S seconds (default
 * 1) concurrently, all awaited. Reports
 *     M3 weft wall_s=... peak_rss_mb=...
 * Usage: bench_m3_sleepers [tasks] [seconds] */
#include "bench.h"

static long n_tasks;
static double sleep_s;

static int sleeper(void *arg)
{
    (void)arg;
    return weft_sleep(sleep_s);
}

static int bench_main(void *arg)
{
    (void)arg;
    weft_task **tasks = malloc((size_t)n_tasks * sizeof *tasks);
    if (!tasks) return -1;
    double t0 = bench_now();
    for (long i = 0; i < n_tasks; i++) {
        tasks[i] = weft_spawn(sleeper, NULL);
        if (!tasks[i]) {
            perror("weft_spawn");
            return -1;
        }
    }
    /* The first failed sleep (e.g. a task that got no stack: -ENOMEM) makes
     * gather fail, so "all succeed" is checked, not assumed. */
    int r = weft_gather(tasks, (size_t)n_tasks, NULL);
    double dt = bench_now() - t0;
    if (r < 0) return r;
    printf("M3 weft wall_s=%.2f peak_rss_mb=%.1f\n", dt, bench_peak_rss_mb());
    free(tasks);
    return 0;
}

int main(int argc, char **argv)
{
    n_tasks = bench_arg(argc, argv, 1, 1000000);
    sleep_s = (double)bench_arg(argc, argv, 2, 1);
    return bench_weft_run("M3 weft", bench_main);
}
