/* M2 spawn: N tasks (default 1,000,000) that return an int without ever
 * waiting, spawned at once and all awaited. Two shapes, as the peers have:
 *   group   a task group collecting each result (weft_group_spawn_into +
 *           weft_group_wait): the shape of Go's `go` + WaitGroup; system "weft"
 *   gather  a handle per task (weft_spawn) and weft_gather: the shape of
 *           asyncio's create_task + gather; system "weft-gather"
 *   eager   as gather with weft_spawn_eager (asyncio 3.12's eager task
 *           factory): each task has ended when its spawn returns; system
 *           "weft-eager"
 * Reports
 *     M2 weft ns_per_task=... peak_rss_mb=...
 * Usage: bench_m2_spawn [tasks] [group|gather|eager] */
#include "bench.h"
#include <stdint.h>
#include <string.h>

static long n_tasks;
static int gather_mode; /* 0 group, 1 gather, 2 eager */
static const char *const mode_names[] = {"weft", "weft-gather", "weft-eager"};

static int give_int(void *arg) { return (int)((intptr_t)arg & 0xffff); }

/* Spawns and awaits every task through weft_gather. */
static int run_gather(int *results)
{
    weft_task **tasks = malloc((size_t)n_tasks * sizeof *tasks);
    if (!tasks) return -1;
    for (long i = 0; i < n_tasks; i++) {
        tasks[i] = gather_mode == 2 ? weft_spawn_eager(give_int, (void *)(intptr_t)i)
                                    : weft_spawn(give_int, (void *)(intptr_t)i);
        if (!tasks[i]) {
            perror("weft_spawn");
            return -1; /* the loop reaps the tasks spawned so far */
        }
    }
    int r = weft_gather(tasks, (size_t)n_tasks, results);
    free(tasks);
    return r;
}

/* Spawns every task into a group that stores each result. */
static int run_group(int *results)
{
    weft_group *g = weft_group_new();
    if (!g) return -1;
    for (long i = 0; i < n_tasks; i++) {
        int r = weft_group_spawn_into(g, give_int, (void *)(intptr_t)i, &results[i]);
        if (r < 0) {
            fprintf(stderr, "weft_group_spawn_into: %s\n", weft_strerror(r));
            weft_group_wait(g);
            return -1;
        }
    }
    return weft_group_wait(g);
}

static int bench_main(void *arg)
{
    (void)arg;
    int *results = malloc((size_t)n_tasks * sizeof *results);
    if (!results) return -1;
    double t0 = bench_now();
    int r = gather_mode ? run_gather(results) : run_group(results);
    double dt = bench_now() - t0;
    if (r < 0) return r;
    for (long i = 0; i < n_tasks; i++) /* the results really came back */
        if (results[i] != (int)(i & 0xffff)) {
            fprintf(stderr, "M2 weft: wrong result for task %ld\n", i);
            return -1;
        }
    printf("M2 %s ns_per_task=%.1f peak_rss_mb=%.1f\n", mode_names[gather_mode],
           dt * 1e9 / (double)n_tasks, bench_peak_rss_mb());
    free(results);
    return 0;
}

int main(int argc, char **argv)
{
    n_tasks = bench_arg(argc, argv, 1, 1000000);
    gather_mode = argc < 3 ? 0 : !strcmp(argv[2], "gather") ? 1 : !strcmp(argv[2], "eager") ? 2 : 0;
    return bench_weft_run("M2 weft", bench_main);
}
