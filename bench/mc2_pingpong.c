/* MC2 cross-loop ping-pong: a task on loop 0 and one on loop 1 pass a token
 * through two weft_chans (capacity 1), N round trips (default 1,000,000);
 * then the same number / 10 of weft_call round trips from loop 0 to loop 1;
 * then the chan ping-pong again with both tasks on loop 0, the shape of
 * Go's figure (its scheduler runs the receiver on the sender's thread).
 *     MC2 weft-chan ns_per_roundtrip=... cpu_ns_per_roundtrip=...
 *     MC2 weft-call ns_per_roundtrip=... cpu_ns_per_roundtrip=...
 *     MC2 weft-chan-1loop ns_per_roundtrip=... cpu_ns_per_roundtrip=...
 * Usage: bench_mc2_pingpong [round_trips] */
#include "bench.h"
#include <errno.h>

static long n_trips;
static weft_chan *ping, *pong;

static int ponger(void *arg)
{
    (void)arg;
    void *tok;
    for (long i = 0; i < n_trips; i++) {
        int r = weft_chan_get(ping, &tok);
        if (r == 0) r = weft_chan_put(pong, tok);
        if (r < 0) return r;
    }
    return 0;
}

static int noop(void *arg) { return (int)(long)arg; }

static void report(const char *sys, long n, double t0, double c0)
{
    printf("MC2 %s ns_per_roundtrip=%.1f cpu_ns_per_roundtrip=%.1f\n", sys,
           (bench_now() - t0) * 1e9 / (double)n, (bench_cpu_now() - c0) * 1e9 / (double)n);
}

static int bench_main(void *arg)
{
    (void)arg;
    ping = weft_chan_new(1);
    pong = weft_chan_new(1);
    if (!ping || !pong) return -ENOMEM;
    weft_task *p = weft_spawn_on(weft_loop_at(1), ponger, NULL);
    if (!p) return -ENOMEM;
    double t0 = bench_now(), c0 = bench_cpu_now();
    void *tok = (void *)1L;
    for (long i = 0; i < n_trips; i++) {
        int r = weft_chan_put(ping, tok);
        if (r == 0) r = weft_chan_get(pong, &tok);
        if (r < 0) return r;
    }
    report("weft-chan", n_trips, t0, c0);
    int r = weft_await(p);
    if (r < 0) return r;
    long calls = n_trips / 10 > 0 ? n_trips / 10 : 1;
    t0 = bench_now();
    c0 = bench_cpu_now();
    for (long i = 0; i < calls; i++)
        if ((r = weft_call(weft_loop_at(1), noop, (void *)1L)) != 1) return r < 0 ? r : -EIO;
    report("weft-call", calls, t0, c0);
    if (!(p = weft_spawn_on(weft_loop_at(0), ponger, NULL))) return -ENOMEM;
    t0 = bench_now();
    c0 = bench_cpu_now();
    for (long i = 0; i < n_trips; i++) {
        r = weft_chan_put(ping, tok);
        if (r == 0) r = weft_chan_get(pong, &tok);
        if (r < 0) return r;
    }
    report("weft-chan-1loop", n_trips, t0, c0);
    if ((r = weft_await(p)) < 0) return r;
    weft_chan_free(ping);
    weft_chan_free(pong);
    return 0;
}

int main(int argc, char **argv)
{
    n_trips = bench_arg(argc, argv, 1, 1000000);
    weft_options o = {.loops = 2};
    int r = weft_run_with(&o, bench_main, NULL);
    if (r < 0) fprintf(stderr, "MC2 failed: %s\n", weft_strerror(r));
    return r < 0;
}
