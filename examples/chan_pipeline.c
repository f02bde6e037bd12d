/* chan_pipeline [ITEMS [LOOPS]]: fan work out over every core with
 * weft_chan. A producer on loop 0 puts numbers into a channel; a worker on
 * each loop takes them, does some CPU work (counts the primes below each
 * number) and puts the answer into a results channel; main sums the
 * answers. Workers share nothing but the two channels, so the work spreads
 * over the loops as they have time; closing `work` tells them to stop.
 * Checks its answer against the same sum computed in one thread. */
#include <weft.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static long items = 2000;
static weft_chan *work, *results;
static long done_by[64]; /* per loop, each written by its own loop */

static long primes_below(long n)
{
    long count = 0;
    for (long k = 2; k < n; k++) {
        int prime = 1;
        for (long d = 2; d * d <= k; d++)
            if (k % d == 0) {
                prime = 0;
                break;
            }
        count += prime;
    }
    return count;
}

static int producer(void *arg)
{
    (void)arg;
    for (long i = 0; i < items; i++) {
        int r = weft_chan_put(work, (void *)(1000 + i % 1000));
        if (r < 0) return r;
    }
    weft_chan_close(work); /* workers drain what is left, then stop */
    return 0;
}

static int worker(void *arg)
{
    (void)arg;
    void *item;
    int r;
    while ((r = weft_chan_get(work, &item)) == 0) {
        long answer = primes_below((long)item);
        done_by[weft_loop_index(weft_loop_current())]++;
        if ((r = weft_chan_put(results, (void *)answer)) < 0) return r;
    }
    return r == -EPIPE ? 0 : r; /* -EPIPE: closed and drained */
}

static int pipeline(void *arg)
{
    (void)arg;
    int n = weft_loop_count();
    work = weft_chan_new(64);    /* bounded: the producer waits for the workers */
    results = weft_chan_new(0);  /* unbounded: workers never wait on main */
    if (!work || !results) return -ENOMEM;
    weft_task *w[64], *p = weft_spawn(producer, NULL);
    for (int i = 0; i < n; i++) w[i] = weft_spawn_on(weft_loop_at(i), worker, NULL);
    long sum = 0;
    for (long i = 0; i < items; i++) {
        void *answer;
        int r = weft_chan_get(results, &answer);
        if (r < 0) return r;
        sum += (long)answer;
    }
    int r = weft_await(p);
    for (int i = 0; i < n; i++) {
        int e = weft_await(w[i]);
        if (r == 0) r = e;
    }
    weft_chan_free(work);
    weft_chan_free(results);
    if (r < 0) return r;
    long want = 0;
    for (long i = 0; i < items; i++) want += primes_below(1000 + i % 1000);
    printf("chan_pipeline: %ld items over %d loops, sum %ld (%s); items per loop:", items, n, sum,
           sum == want ? "right" : "WRONG");
    for (int i = 0; i < n; i++) printf(" %ld", done_by[i]);
    printf("\n");
    return sum == want ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc > 1) items = atol(argv[1]);
    weft_options o = {.loops = argc > 2 ? atoi(argv[2]) : (int)sysconf(_SC_NPROCESSORS_ONLN)};
    if (o.loops < 2) o.loops = 2;
    if (o.loops > 64) o.loops = 64;
    int r = weft_run_with(&o, pipeline, NULL);
    if (r < 0) fprintf(stderr, "chan_pipeline: %s\n", weft_strerror(r));
    return r != 0;
}
