/* blocking_vs_thread: why a blocking call must not run on the loop, and how
 * weft_to_thread (asyncio.to_thread) fixes it.
 *
 * A heartbeat task wants to tick every 100 ms. Meanwhile the main task makes
 * a 1 s blocking call (a sleep standing in for a slow library call, a big
 * file read, a CPU-heavy hash):
 *   1. called directly, it blocks the one thread that runs every task: the
 *      heartbeat misses its ticks for a whole second;
 *   2. through weft_to_thread, it runs on the loop's thread pool while the
 *      main task waits, and the heartbeat keeps its rhythm.
 * Both take about 1 s; only the second leaves the loop responsive. */
#include <stdio.h>
#include <time.h>
#include <weft.h>

/* The thread's clock. weft_now() is the loop's clock, refreshed once per loop
 * turn, so it cannot see time pass inside a call that blocks the loop. */
static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double longest_gap; /* the heartbeat's worst delay between ticks */

static int heartbeat(void *arg)
{
    (void)arg;
    double last = weft_now();
    for (;;) {
        if (weft_sleep(0.100) < 0) return 0; /* cancelled: we are done */
        double now = weft_now();
        if (now - last > longest_gap) longest_gap = now - last;
        last = now;
    }
}

static int blocking_call(void *arg)
{
    (void)arg;
    struct timespec one_s = {1, 0};
    nanosleep(&one_s, NULL); /* blocks whichever thread runs it */
    return 42;
}

/* Runs the blocking call one way or the other, with a heartbeat beside it. */
static int trial(const char *how, int off_loop)
{
    longest_gap = 0;
    weft_task *hb = weft_spawn(heartbeat, NULL);
    if (!hb) return -1;
    weft_sleep(0.250); /* let the heartbeat find its rhythm */
    double start = wall_now();
    int r = off_loop ? weft_to_thread(blocking_call, NULL) : blocking_call(NULL);
    double took = wall_now() - start;
    weft_sleep(0.250);
    weft_cancel(hb);
    weft_await(hb);
    printf("%-22s call took %.2f s (result %d), heartbeat's longest gap %.2f s%s\n", how, took, r,
           longest_gap, longest_gap > 0.5 ? "  <- loop stalled" : "");
    return r;
}

static int main_task(void *arg)
{
    (void)arg;
    int a = trial("blocking on the loop:", 0);
    int b = trial("weft_to_thread:", 1);
    return a == 42 && b == 42 ? 0 : -1;
}

int main(void)
{
    int r = weft_run(main_task, NULL);
    if (r < 0) fprintf(stderr, "blocking_vs_thread: %s\n", weft_strerror(r));
    return r != 0;
}
