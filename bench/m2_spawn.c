/* M2 spawn: N tasks (default 1,000,000) that return an int without ever
 * waiting, spawned at once and all awaited with weft_gather. Reports
 *     M2 weft ns_per_task=... peak_rss_mb=...
 * Usage: bench_m2_spawn [tasks] */
#include "bench.h"
#include <stdint.h>

static long n_tasks;

static int give_int(void *arg) { return (int)((intptr_t)arg & 0xffff); }

static int bench_main(void *arg)
{
    (void)arg;
    weft_task **tasks = malloc((size_t)n_tasks * sizeof *tasks);
    int *results = malloc((size_t)n_tasks * sizeof *results);
    if (!tasks || !results) return -1;
    double t0 = bench_now();
    for (long i = 0; i < n_tasks; i++) {
        tasks[i] = weft_spawn(give_int, (void *)(intptr_t)i);
        if (!tasks[i]) {
            perror("weft_spawn");
            return -1; /* the loop reaps the tasks spawned so far */
        }
    }
    int r = weft_gather(tasks, (size_t)n_tasks, results);
    double dt = bench_now() - t0;
    if (r < 0) return r;
    for (long i = 0; i < n_tasks; i++) /* the results really came back */
        if (results[i] != (int)(i & 0xffff)) {
            fprintf(stderr, "M2 weft: wrong result for task %ld\n", i);
            return -1;
        }
    printf("M2 weft ns_per_task=%.1f peak_rss_mb=%.1f\n", dt * 1e9 / (double)n_tasks,
           bench_peak_rss_mb());
    free(tasks);
    free(results);
    return 0;
}

int main(int argc, char **argv)
{
    n_tasks = bench_arg(argc, argv, 1, 1000000);
    return bench_weft_run("M2 weft", bench_main);
}
