/* M4 reference: raw libuv timers, no tasks. LIMIT timers run at once; each
 * one that fires re-arms itself for the next unit of work until N units of MS
 * milliseconds are done: the semaphore pattern with nothing but timers, i.e.
 * the floor an event loop can reach on this machine.
 * Usage: uv_m4 [tasks] [limit] [sleep_ms]   (default 10000 100 10) */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

static long n_tasks, started;
static long sleep_ms;

static void fired(uv_timer_t *t)
{
    if (started < n_tasks) {
        started++;
        uv_timer_start(t, fired, (uint64_t)sleep_ms, 0);
    } else {
        uv_close((uv_handle_t *)t, NULL);
    }
}

int main(int argc, char **argv)
{
    n_tasks = argc > 1 ? atol(argv[1]) : 10000;
    long limit = argc > 2 ? atol(argv[2]) : 100;
    sleep_ms = argc > 3 ? atol(argv[3]) : 10;
    if (n_tasks <= 0 || limit <= 0 || sleep_ms <= 0) {
        fprintf(stderr, "usage: uv_m4 [tasks] [limit] [sleep_ms]\n");
        return 2;
    }
    uv_loop_t *loop = uv_default_loop();
    uv_timer_t *timers = calloc((size_t)limit, sizeof *timers);
    if (!timers) return 1;
    uv_update_time(loop);
    uint64_t t0 = uv_hrtime();
    for (long i = 0; i < limit && started < n_tasks; i++) {
        uv_timer_init(loop, &timers[i]);
        started++;
        uv_timer_start(&timers[i], fired, (uint64_t)sleep_ms, 0);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    double dt = (double)(uv_hrtime() - t0) * 1e-9;
    double ideal = (double)n_tasks / (double)limit * (double)sleep_ms / 1000.0;
    printf("M4 libuv wall_s=%.3f overhead_pct=%.1f\n", dt, (dt - ideal) / ideal * 100.0);
    free(timers);
    return 0;
}
