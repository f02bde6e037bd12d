/* Scale: a million pending timers (tasks sleeping distinct durations).
 * Under ASan, valgrind or qemu the count is smaller (same code paths). */
#include "core_util.h"
#include <weft/test.h>
#include "core/internal.h" /* white-box heap check */

static size_t n_tasks(void)
{
    return under_valgrind() ? 20000 : slow_machine() ? 50000 : 1000000;
}

/* ---- a million pending timers with distinct deadlines ------------------------------ */

/* Wake order cannot be checked exactly from outside: the loop reads the
 * clock itself, and on a loaded machine the thread may be descheduled
 * between our clock read and its. So: no task wakes before a lower bound
 * of its deadline, every task wakes, and a checker task validates the heap
 * (white box) while it holds up to a million entries. */
static size_t early, checks, max_heap;
static double last_start; /* when the last task began its sleep */
static weft_event *go;
static size_t started;
static int timed(void *a)
{
    /* park first (no timer), so that all sleeps start within a short burst */
    started++;
    CHECK_EQ(weft_event_wait(go), 0);
    double d = *(double *)a;
    double until = mono() + d;
    if (until - d > last_start) last_start = until - d;
    int r = weft_sleep(d);
    if (mono() < until - 1e-6) early++;
    return r;
}
static int heap_checker(void *a)
{
    while (weft_sleep(0.1) == 0) {
        weft__loop *L = weft__L;
        for (size_t i = 1; i < L->nheap; i++) {
            const weft__timer_entry *c = &L->heap[i], *p = &L->heap[(i - 1) / 2];
            CHECK(c->when > p->when || (c->when == p->when && c->seq > p->seq));
        }
        if (L->nheap > max_heap) max_heap = L->nheap;
        checks++;
    }
    return 0;
}
static int timers_main(void *a)
{
    size_t n = n_tasks();
    weft_task **t = malloc(n * sizeof *t);
    double *d = malloc(n * sizeof *d);
    WEFT_TEST_CHECK(t && d);
    go = weft_event_new();
    unsigned x = 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245 + 12345;
        d[i] = 2.0 + (double)(x >> 8) / (double)(1u << 24) * 0.5; /* 2.0-2.5 s */
        WEFT_TEST_CHECK((t[i] = weft_spawn(timed, &d[i])) != NULL);
    }
    /* A long burst of starts lets main's timer in before it ends: wait for
     * every task to be parked. */
    while (started < n) CHECK_EQ(weft_sleep(0.01), 0);
    weft_task *checker = weft_spawn(heap_checker, NULL);
    double t0 = weft_now(), m0 = mono();
    weft_event_set(go);
    CHECK_EQ(weft_gather(t, n, NULL), 0);
    weft_cancel(checker);
    CHECK_EQ(weft_await(checker), 0);
    weft_event_free(go);
    fprintf(stderr, "   %zu timers done in %.2f s; heap checked %zu times, up to %zu entries\n", n,
            weft_now() - t0, checks, max_heap);
    CHECK_EQ(early, 0);
    WEFT_TEST_CHECK(checks > 0);
    /* All n timers are pending at once only if every sleep began before
     * the first (2.0 s) deadline, with the loop idle a while for the
     * checker: on a loaded machine the burst of n sleeps alone can take
     * seconds (seen: 17 s for the whole run under load). */
    double burst = last_start - m0;
    fprintf(stderr, "   the sleeps began within %.2f s\n", burst);
    if (burst < 1.7) WEFT_TEST_CHECK(max_heap > n / 4);
    free(t);
    free(d);
    return 0;
}

int main(void)
{
    /* Scale, as users run it: without debug mode, whose per-task records
     * and slow-task reports (a million spawns in one go) are not what this
     * measures; a limit for a loaded machine (seen: 17 s under load). The
     * tasks and fds are still checked. */
    weft_test_options o = {.no_debug = 1, .timeout_s = 120};
    return weft_test_run("timers_1m", timers_main, NULL, &o);
}
