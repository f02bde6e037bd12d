/* MC2's floor for any design whose two sides stay on their own cores, as
 * weft's loops do (tasks never migrate): two plain threads passing a token
 * through two cache lines, each spinning on its line, N round trips (default
 * 1,000,000). No queue, no lock, no wake-up: each round trip is the two
 * cache-line transfers between the cores and nothing else, so no cross-core
 * channel can beat it. Go's MC2 figure is not of this kind: its scheduler
 * hands the token to the receiving goroutine on the sender's own thread.
 *     MC2 floor-threads ns_per_roundtrip=... cpu_ns_per_roundtrip=...
 * Usage: bench_mc2_floor [round_trips] */
#include "bench.h"
#include <pthread.h>

static long n_trips;
static _Alignas(64) long ping_line;
static _Alignas(64) long pong_line;

static void spin_until(const long *line, long want)
{
    while (__atomic_load_n(line, __ATOMIC_ACQUIRE) != want) {
#if defined(__x86_64__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ volatile("yield");
#endif
    }
}

static void *ponger(void *arg)
{
    (void)arg;
    for (long i = 1; i <= n_trips; i++) {
        spin_until(&ping_line, i);
        __atomic_store_n(&pong_line, i, __ATOMIC_RELEASE);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    n_trips = bench_arg(argc, argv, 1, 1000000);
    pthread_t t;
    if (pthread_create(&t, NULL, ponger, NULL) != 0) return 1;
    double t0 = bench_now(), c0 = bench_cpu_now();
    for (long i = 1; i <= n_trips; i++) {
        __atomic_store_n(&ping_line, i, __ATOMIC_RELEASE);
        spin_until(&pong_line, i);
    }
    double dt = bench_now() - t0, dc = bench_cpu_now() - c0;
    pthread_join(t, NULL);
    printf("MC2 floor-threads ns_per_roundtrip=%.1f cpu_ns_per_roundtrip=%.1f\n",
           dt * 1e9 / (double)n_trips, dc * 1e9 / (double)n_trips);
    return 0;
}
