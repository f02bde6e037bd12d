/* Queues: FIFO, bounded and unbounded, close, try_*, hand-over races, and a
 * stress run with random cancellations where every item is accounted for. */
#include "core_util.h"
#include <weft/test.h>

static int t_fifo_main(void *a)
{
    weft_queue *q = weft_queue_new(0); /* unbounded: grows past its first ring */
    for (long i = 1; i <= 100000; i++) CHECK_EQ(weft_queue_put(q, (void *)i), 0);
    CHECK_EQ(weft_queue_size(q), 100000);
    for (long i = 1; i <= 100000; i++) {
        void *item;
        CHECK_EQ(weft_queue_get(q, &item), 0);
        CHECK_EQ((long)item, i);
    }
    void *item;
    CHECK_EQ(weft_queue_try_get(q, &item), -EAGAIN);
    CHECK_EQ(weft_queue_size(q), 0);
    weft_queue_free(q);
    weft_queue_free(NULL);
    /* a capacity too large to allocate is refused, not overflowed */
    errno = 0;
    WEFT_TEST_CHECK(weft_queue_new((size_t)-1) == NULL);
    CHECK_EQ(errno, ENOMEM);
    return 0;
}

static int producer(void *a)
{
    weft_queue *q = a;
    for (long i = 1; i <= 10; i++) CHECK_EQ(weft_queue_put(q, (void *)i), 0);
    return 0;
}
static int t_bounded_main(void *a)
{
    weft_queue *q = weft_queue_new(3);
    weft_task *p = weft_spawn(producer, q);
    weft_sleep(0.002);
    CHECK_EQ(weft_done(p), 0);
    CHECK_EQ(weft_queue_size(q), 3); /* blocked while full */
    CHECK_EQ(weft_queue_try_put(q, (void *)99), -EAGAIN);
    for (long i = 1; i <= 10; i++) {
        void *item;
        CHECK_EQ(weft_queue_get(q, &item), 0);
        CHECK_EQ((long)item, i); /* waiting putters keep their order */
        WEFT_TEST_CHECK(weft_queue_size(q) <= 3);
    }
    CHECK_EQ(weft_await(p), 0);
    weft_queue_free(q);
    return 0;
}

static int getter(void *a)
{
    void *item;
    int r = weft_queue_get(a, &item);
    return r < 0 ? r : (int)(long)item;
}
static int putter(void *a) { return weft_queue_put(a, (void *)77); }
static int t_close_main(void *a)
{
    weft_queue *q = weft_queue_new(2);
    weft_task *g = weft_spawn(getter, q);
    weft_yield();
    weft_queue_close(q);
    CHECK_EQ(weft_await(g), -EPIPE);
    CHECK_EQ(weft_queue_put(q, (void *)1), -EPIPE);
    CHECK_EQ(weft_queue_try_put(q, (void *)1), -EPIPE);
    weft_queue_free(q);

    /* items stay gettable after close, then -EPIPE */
    q = weft_queue_new(2);
    CHECK_EQ(weft_queue_put(q, (void *)1), 0);
    CHECK_EQ(weft_queue_put(q, (void *)2), 0);
    weft_task *p = weft_spawn(putter, q); /* blocks: full */
    weft_yield();
    weft_queue_close(q);
    CHECK_EQ(weft_await(p), -EPIPE); /* its item was not queued */
    void *item;
    CHECK_EQ(weft_queue_get(q, &item), 0);
    CHECK_EQ((long)item, 1);
    CHECK_EQ(weft_queue_try_get(q, &item), 0);
    CHECK_EQ((long)item, 2);
    CHECK_EQ(weft_queue_get(q, &item), -EPIPE);
    CHECK_EQ(weft_queue_try_get(q, &item), -EPIPE);
    weft_queue_free(q);

    /* freeing wakes waiters with -EPIPE */
    q = weft_queue_new(0);
    g = weft_spawn(getter, q);
    weft_yield();
    weft_queue_free(q);
    CHECK_EQ(weft_await(g), -EPIPE);
    return 0;
}

/* An item handed to a waiting getter that is then cancelled before it runs
 * is still delivered; a waiting putter whose item was taken in is done. */
static int t_handed_main(void *a)
{
    weft_queue *q = weft_queue_new(1);
    weft_task *g = weft_spawn(getter, q);
    weft_yield();
    CHECK_EQ(weft_queue_try_put(q, (void *)5), 0); /* straight to g */
    CHECK_EQ(weft_queue_size(q), 0);
    weft_cancel(g);
    CHECK_EQ(weft_await(g), 5);

    CHECK_EQ(weft_queue_put(q, (void *)6), 0);
    weft_task *p = weft_spawn(putter, q);
    weft_yield();
    void *item;
    CHECK_EQ(weft_queue_try_get(q, &item), 0); /* takes 6, pulls in p's 77 */
    CHECK_EQ((long)item, 6);
    weft_cancel(p);
    CHECK_EQ(weft_await(p), 0);
    CHECK_EQ(weft_queue_try_get(q, &item), 0);
    CHECK_EQ((long)item, 77);
    weft_queue_free(q);
    return 0;
}

/* Stress: producers and consumers cancelled at random moments. Every item
 * a put reported as queued is got exactly once (or left in the queue). */
enum { NPROD = 20, NCONS = 20, PER = 300 };
static weft_queue *sq;
static long sent_sum, sent_n, got_sum, got_n;
static int stress_prod(void *a)
{
    long base = (long)a * 100000;
    for (long i = 1; i <= PER; i++) {
        if (weft_queue_put(sq, (void *)(base + i)) < 0) return 0;
        sent_sum += base + i;
        sent_n++;
        if (i % 7 == 0) weft_yield();
    }
    return 0;
}
static int stress_cons(void *a)
{
    for (;;) {
        void *item;
        int r = weft_queue_get(sq, &item);
        if (r < 0) return 0;
        got_sum += (long)item;
        got_n++;
        if (got_n % 5 == 0) weft_sleep(0.0001);
    }
}
static unsigned rng = 12345;
static unsigned rnd(void) { return rng = rng * 1103515245 + 12345; }
static int t_stress_main(void *a)
{
    sq = weft_queue_new(4);
    weft_task *p[NPROD], *c[NCONS];
    for (long i = 0; i < NPROD; i++) p[i] = weft_spawn(stress_prod, (void *)(i + 1));
    for (long i = 0; i < NCONS; i++) c[i] = weft_spawn(stress_cons, NULL);
    for (int round = 0; round < 40; round++) {
        weft_sleep(0.0005);
        unsigned k = rnd() % (NPROD + NCONS);
        weft_task *victim = k < NPROD ? p[k] : c[k - NPROD];
        if (victim && !weft_done(victim)) weft_cancel(victim);
        if (k >= NPROD) { /* replace the consumer so the producers can finish */
            WEFT_TEST_CHECK(weft_await(c[k - NPROD]) == 0);
            c[k - NPROD] = weft_spawn(stress_cons, NULL);
        }
    }
    CHECK_EQ(weft_gather(p, NPROD, NULL), 0);
    weft_queue_close(sq); /* consumers drain it, then get -EPIPE */
    CHECK_EQ(weft_gather(c, NCONS, NULL), 0);
    CHECK_EQ(weft_queue_size(sq), 0);
    WEFT_TEST_CHECK(sent_n > 0);
    CHECK_EQ(got_n, sent_n);
    CHECK_EQ(got_sum, sent_sum);
    weft_queue_free(sq);
    return 0;
}

static const weft_test_case cases[] = {
    {"fifo", t_fifo_main},
    {"bounded", t_bounded_main},
    {"close", t_close_main},
    {"handed", t_handed_main},
    {"stress", t_stress_main},
};

int main(int argc, char **argv)
{
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
