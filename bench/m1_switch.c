/* M1 switch: two tasks alternately yielding, N yields each (default
 * 5,000,000). Reports the cost of one switch between them:
 *     M1 weft ns_per_switch=...
 * Usage: bench_m1_switch [yields_per_task] */
#include "bench.h"

static long n_yields;

static int yielder(void *arg)
{
    (void)arg;
    for (long i = 0; i < n_yields; i++)
        if (weft_yield() < 0) return -1;
    return 0;
}

static int bench_main(void *arg)
{
    (void)arg;
    weft_task *t[2];
    double t0 = bench_now();
    t[0] = weft_spawn(yielder, NULL);
    t[1] = weft_spawn(yielder, NULL);
    if (!t[0] || !t[1]) return -1;
    int r = weft_gather(t, 2, NULL);
    double dt = bench_now() - t0;
    if (r < 0) return r;
    /* Every yield hands the thread to the other task: 2 * N switches. */
    printf("M1 weft ns_per_switch=%.1f\n", dt * 1e9 / (2.0 * (double)n_yields));
    return 0;
}

int main(int argc, char **argv)
{
    n_yields = bench_arg(argc, argv, 1, 5000000);
    return bench_weft_run("M1 weft", bench_main);
}
