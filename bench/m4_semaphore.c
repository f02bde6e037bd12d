/* M4, the tutorial's pattern: N tasks (default 10,000) each sleeping MS
 * milliseconds (default 10) behind a semaphore of LIMIT (default 100). The
 * ideal wall time is N / LIMIT * MS (1.00 s by default); the overhead over it
 * is what is measured. The workload runs twice in the same process: the
 * first run pays a fresh page per blocked task's stack, the second reuses
 * the warm pooled stacks.
 *     M4 weft wall_s=... overhead_pct=...
 *     M4 weft-warm wall_s=... overhead_pct=...
 * BENCH_WEFT_NAME renames the system (run.sh: weft-pinned, run under
 * taskset -c 0; its second line is then weft-pinned-warm).
 * Usage: bench_m4_semaphore [tasks] [limit] [sleep_ms] */
#include "bench.h"
#include <string.h>

static long n_tasks, limit, sleep_ms;
static weft_sem *sem;

static int worker(void *arg)
{
    (void)arg;
    int r = weft_sem_acquire(sem);
    if (r < 0) return r;
    r = weft_sleep((double)sleep_ms / 1000.0);
    weft_sem_release(sem);
    return r;
}

static int run_once(const char *system)
{
    weft_task **tasks = malloc((size_t)n_tasks * sizeof *tasks);
    sem = weft_sem_new((int)limit);
    if (!tasks || !sem) return -1;
    double t0 = bench_now();
    for (long i = 0; i < n_tasks; i++) {
        tasks[i] = weft_spawn(worker, NULL);
        if (!tasks[i]) return -1;
    }
    int r = weft_gather(tasks, (size_t)n_tasks, NULL);
    double dt = bench_now() - t0;
    weft_sem_free(sem);
    free(tasks);
    if (r < 0) return r;
    double ideal = (double)n_tasks / (double)limit * (double)sleep_ms / 1000.0;
    printf("M4 %s wall_s=%.3f overhead_pct=%.1f\n", system, dt, (dt - ideal) / ideal * 100.0);
    fflush(stdout);
    return 0;
}

static int bench_main(void *arg)
{
    (void)arg;
    const char *name = getenv("BENCH_WEFT_NAME");
    if (!name || !*name || strlen(name) > 64) name = "weft";
    char warm[80];
    snprintf(warm, sizeof warm, "%s-warm", name);
    int r = run_once(name);
    return r < 0 ? r : run_once(warm);
}

int main(int argc, char **argv)
{
    n_tasks = bench_arg(argc, argv, 1, 10000);
    limit = bench_arg(argc, argv, 2, 100);
    sleep_ms = bench_arg(argc, argv, 3, 10);
    return bench_weft_run("M4 weft", bench_main);
}
