/* weft_chan across loops and threads: every item delivered once, FIFO per
 * producer, waits under cancellation and deadlines, close with waiters on
 * both ends, threads outside the run blocking. */
#include "core_util.h"
#include <weft/test.h>
#include <pthread.h>

static int run_loops(int n, weft_fn fn, void *arg)
{
    weft_options o = {.loops = n};
    return weft_run_with(&o, fn, arg);
}

/* ---- single loop: the plain semantics ------------------------------------- */

static int t_basic_main(void *a)
{
    weft_chan *c = weft_chan_new(2);
    void *it;
    CHECK_EQ(weft_chan_try_get(c, &it), -EAGAIN);
    CHECK_EQ(weft_chan_try_put(c, (void *)1L), 0);
    CHECK_EQ(weft_chan_put(c, (void *)2L), 0);
    CHECK_EQ(weft_chan_try_put(c, (void *)3L), -EAGAIN);
    CHECK_EQ(weft_chan_get(c, &it), 0);
    CHECK_EQ((long)it, 1);
    CHECK_EQ(weft_chan_try_put(c, (void *)3L), 0);
    weft_chan_close(c);
    CHECK_EQ(weft_chan_put(c, (void *)4L), -EPIPE);
    CHECK_EQ(weft_chan_try_put(c, (void *)4L), -EPIPE);
    CHECK_EQ(weft_chan_get(c, &it), 0);
    CHECK_EQ((long)it, 2);
    CHECK_EQ(weft_chan_try_get(c, &it), 0);
    CHECK_EQ((long)it, 3);
    CHECK_EQ(weft_chan_get(c, &it), -EPIPE);
    CHECK_EQ(weft_chan_try_get(c, &it), -EPIPE);
    weft_chan_free(c);
    weft_chan_free(NULL);
    /* Unbounded: grows. */
    c = weft_chan_new(0);
    for (long i = 0; i < 1000; i++) CHECK_EQ(weft_chan_try_put(c, (void *)i), 0);
    for (long i = 0; i < 1000; i++) {
        CHECK_EQ(weft_chan_get(c, &it), 0);
        CHECK_EQ((long)it, i);
    }
    weft_chan_free(c);
    return 0;
}
static void t_basic(void)
{
    CHECK_EQ(weft_test_run("basic", t_basic_main, NULL, NULL), 0);
    /* A thread outside any run uses it too (nothing to wait for here). */
    weft_chan *c = weft_chan_new(1);
    void *it;
    CHECK_EQ(weft_chan_put(c, (void *)5L), 0);
    CHECK_EQ(weft_chan_get(c, &it), 0);
    CHECK_EQ((long)it, 5);
    weft_chan_free(c);
}

/* ---- waits interrupted ------------------------------------------------------ */

static weft_chan *gc;
static long thread_result;
/* pthread_join as a weft_to_thread job: the thread may block in the chan
 * until a task of the loop acts. */
static int join_thread(void *a)
{
    void *r;
    int e = pthread_join(*(pthread_t *)a, &r);
    thread_result = (long)r;
    return e;
}
static int getter(void *a)
{
    void *it;
    int r = weft_chan_get(gc, &it);
    return r < 0 ? r : (int)(long)it;
}
static int putter(void *a) { return weft_chan_put(gc, a); }
static int timed_get(void *a) { return weft_timeout(0.01, getter, a); }
static int timed_put(void *a) { return weft_timeout(0.01, putter, a); }

static int t_interrupt_main(void *a)
{
    weft_loop *l1 = weft_loop_at(1);
    void *it;
    gc = weft_chan_new(1);
    /* A getter on another loop, cancelled while waiting: it takes nothing. */
    weft_task *g = weft_spawn_on(l1, getter, NULL);
    weft_sleep(0.01);
    weft_cancel(g);
    CHECK_EQ(weft_await(g), -ECANCELED);
    CHECK_EQ(weft_chan_try_put(gc, (void *)1L), 0);
    /* A putter waiting on the full chan, cancelled: its item is not queued. */
    weft_task *p = weft_spawn_on(l1, putter, (void *)2L);
    weft_sleep(0.01);
    weft_cancel(p);
    CHECK_EQ(weft_await(p), -ECANCELED);
    CHECK_EQ(weft_chan_try_get(gc, &it), 0);
    CHECK_EQ((long)it, 1);
    CHECK_EQ(weft_chan_try_get(gc, &it), -EAGAIN);
    /* Deadlines, here and on the other loop. */
    CHECK_EQ(timed_get(NULL), -ETIMEDOUT);
    CHECK_EQ(weft_call(l1, timed_get, NULL), -ETIMEDOUT);
    CHECK_EQ(weft_chan_try_put(gc, (void *)3L), 0);
    CHECK_EQ(timed_put((void *)4L), -ETIMEDOUT);
    CHECK_EQ(weft_call(l1, timed_put, (void *)4L), -ETIMEDOUT);
    /* Cancelled before the call: nothing is taken even though one is there. */
    g = weft_spawn(getter, NULL);
    weft_cancel(g);
    CHECK_EQ(weft_await(g), -ECANCELED);
    CHECK_EQ(weft_chan_try_get(gc, &it), 0);
    CHECK_EQ((long)it, 3);
    /* A getter served from another loop. */
    g = weft_spawn_on(l1, getter, NULL);
    weft_sleep(0.005);
    CHECK_EQ(weft_chan_put(gc, (void *)9L), 0);
    CHECK_EQ(weft_await(g), 9);
    weft_chan_free(gc);
    return 0;
}
static void t_interrupt(void) { CHECK_EQ(run_loops(2, t_interrupt_main, NULL), 0); }

/* Getters with short deadlines race with puts: an item handed to a getter
 * just as its deadline passes is still returned, so none is lost. */
enum { RACE_ITEMS = 3000 };
static long race_got;
static int racing_getter(void *a)
{
    for (;;) {
        int r = timed_get(NULL);
        if (r == -EPIPE) return 0;
        if (r >= 0) __atomic_add_fetch(&race_got, 1, __ATOMIC_SEQ_CST);
        else CHECK_EQ(r, -ETIMEDOUT);
        weft_sleep(0.0001 * (rand() % 3));
    }
}
static int racing_putter(void *a)
{
    for (int i = 0; i < RACE_ITEMS; i++) {
        CHECK_EQ(weft_chan_put(gc, (void *)1L), 0);
        if (i % 7 == 0) weft_sleep(0.001);
    }
    return 0;
}
static int t_race_main(void *a)
{
    gc = weft_chan_new(0);
    race_got = 0;
    weft_task *g[4];
    for (int i = 0; i < 4; i++) g[i] = weft_spawn_on(weft_loop_at(i % 2), racing_getter, NULL);
    weft_task *p = weft_spawn_on(weft_loop_at(1), racing_putter, NULL);
    CHECK_EQ(weft_await(p), 0);
    weft_chan_close(gc);
    for (int i = 0; i < 4; i++) CHECK_EQ(weft_await(g[i]), 0);
    CHECK_EQ(race_got, RACE_ITEMS);
    weft_chan_free(gc);
    return 0;
}
static void t_race(void) { CHECK_EQ(run_loops(2, t_race_main, NULL), 0); }

/* ---- many producers and consumers, on loops and threads ------------------------ */

enum { PRODUCERS = 8, PER = 3000, CONSUMERS = 5 };
static unsigned char seen[PRODUCERS][PER];
static long consumed;

static int produce(void *a)
{
    long p = (long)a;
    for (long i = 0; i < PER; i++) CHECK_EQ(weft_chan_put(gc, (void *)((p << 20) | i)), 0);
    return 0;
}
static void *produce_thread(void *a) { return (void *)(long)produce(a); }

static int consume(void *a)
{
    long last[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) last[i] = -1;
    void *it;
    int r;
    while ((r = weft_chan_get(gc, &it)) == 0) {
        long v = (long)it, p = v >> 20, i = v & 0xfffff;
        CHECK(p >= 0 && p < PRODUCERS && i < PER);
        CHECK(i > last[p]); /* FIFO per producer */
        last[p] = i;
        CHECK_EQ(__atomic_exchange_n(&seen[p][i], 1, __ATOMIC_SEQ_CST), 0);
        __atomic_add_fetch(&consumed, 1, __ATOMIC_SEQ_CST);
    }
    CHECK_EQ(r, -EPIPE);
    return 0;
}
static void *consume_thread(void *a) { return (void *)(long)consume(a); }

static int t_many_main(void *a)
{
    size_t cap = (size_t)(long)a;
    gc = weft_chan_new(cap);
    memset(seen, 0, sizeof seen);
    consumed = 0;
    pthread_t pt[2], ct;
    weft_task *prod[PRODUCERS], *cons[CONSUMERS];
    CHECK_EQ(pthread_create(&ct, NULL, consume_thread, NULL), 0);
    for (int i = 0; i < CONSUMERS; i++) cons[i] = weft_spawn_on(weft_loop_at(i % 3), consume, NULL);
    for (long p = 0; p < PRODUCERS - 2; p++) prod[p] = weft_spawn_on(weft_loop_at((int)(p % 3)), produce, (void *)p);
    for (long p = PRODUCERS - 2; p < PRODUCERS; p++)
        CHECK_EQ(pthread_create(&pt[p - (PRODUCERS - 2)], NULL, produce_thread, (void *)p), 0);
    for (int p = 0; p < PRODUCERS - 2; p++) CHECK_EQ(weft_await(prod[p]), 0);
    /* The threads block in put: joined off the loop. */
    for (int i = 0; i < 2; i++) CHECK_EQ(weft_to_thread(join_thread, &pt[i]), 0);
    weft_chan_close(gc);
    for (int i = 0; i < CONSUMERS; i++) CHECK_EQ(weft_await(cons[i]), 0);
    CHECK_EQ(weft_to_thread(join_thread, &ct), 0);
    CHECK_EQ(consumed, (long)PRODUCERS * PER);
    weft_chan_free(gc);
    return 0;
}
static void t_many(void)
{
    CHECK_EQ(run_loops(3, t_many_main, (void *)4L), 0);
    CHECK_EQ(run_loops(3, t_many_main, (void *)0L), 0);
    CHECK_EQ(run_loops(3, t_many_main, (void *)1L), 0);
}

/* ---- close while tasks and threads wait on both ends ---------------------------- */

static void *get_thread(void *a) { return (void *)(long)getter(a); }
static void *put_thread(void *a) { return (void *)(long)putter(a); }

static int t_close_main(void *a)
{
    /* Getters waiting on two loops and in a thread. */
    gc = weft_chan_new(1);
    weft_task *g[2] = {weft_spawn_on(weft_loop_at(0), getter, NULL),
                       weft_spawn_on(weft_loop_at(1), getter, NULL)};
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, get_thread, NULL), 0);
    weft_sleep(0.02);
    weft_chan_close(gc);
    CHECK_EQ(weft_await(g[0]), -EPIPE);
    CHECK_EQ(weft_await(g[1]), -EPIPE);
    void *r;
    pthread_join(th, &r); /* woken by the close: returns at once */
    CHECK_EQ((long)r, -EPIPE);
    weft_chan_free(gc);
    /* Putters waiting on a full chan, likewise; the queued item stays gettable. */
    gc = weft_chan_new(1);
    CHECK_EQ(weft_chan_put(gc, (void *)1L), 0);
    weft_task *p[2] = {weft_spawn_on(weft_loop_at(0), putter, (void *)2L),
                       weft_spawn_on(weft_loop_at(1), putter, (void *)3L)};
    CHECK_EQ(pthread_create(&th, NULL, put_thread, (void *)4L), 0);
    weft_sleep(0.02);
    weft_chan_close(gc);
    CHECK_EQ(weft_await(p[0]), -EPIPE);
    CHECK_EQ(weft_await(p[1]), -EPIPE);
    pthread_join(th, &r);
    CHECK_EQ((long)r, -EPIPE);
    void *it;
    CHECK_EQ(weft_chan_get(gc, &it), 0);
    CHECK_EQ((long)it, 1);
    CHECK_EQ(weft_chan_get(gc, &it), -EPIPE);
    weft_chan_free(gc);
    return 0;
}
static void t_close(void) { CHECK_EQ(run_loops(2, t_close_main, NULL), 0); }

/* A thread outside the run blocks in get until a task puts. */
static int t_thread_main(void *a)
{
    gc = weft_chan_new(0);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, get_thread, NULL), 0);
    weft_sleep(0.02);
    CHECK_EQ(weft_chan_put(gc, (void *)77L), 0);
    CHECK_EQ(weft_to_thread(join_thread, &th), 0);
    CHECK_EQ(thread_result, 77);
    weft_chan_free(gc);
    return 0;
}

int main(int argc, char **argv)
{
    static const weft_test_case cases[] = {
        {"thread", t_thread_main},
    };
    /* several loops (run_loops), and basic's part outside any loop */
    static const test_case plain[] = {
        {"basic", t_basic},
        {"interrupt", t_interrupt},
        {"race", t_race},
        {"many", t_many},
        {"close", t_close},
        {NULL, NULL},
    };
    return RUN_CASES_THEN_PLAIN(cases, plain, argc, argv);
}
