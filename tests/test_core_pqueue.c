/* Priority and LIFO queues, and task_done/join: the priority queue against
 * a sorted reference under random operations (FIFO among equals), blocking
 * put/get through the heap, join with producers and consumers cancelled. */
#include "core_util.h"
#include <weft/test.h>

typedef struct item {
    int prio;
    unsigned seq; /* order of put */
} item;

static int by_prio(const void *a, const void *b)
{
    const item *x = a, *y = b;
    return (x->prio > y->prio) - (x->prio < y->prio);
}

/* The reference: a plain array; the expected get is the smallest prio, the
 * earliest put among equals. */
static item *ref[5000];
static size_t nref;
static item *ref_take(void)
{
    size_t best = 0;
    for (size_t i = 1; i < nref; i++)
        if (ref[i]->prio < ref[best]->prio ||
            (ref[i]->prio == ref[best]->prio && ref[i]->seq < ref[best]->seq))
            best = i;
    item *it = ref[best];
    ref[best] = ref[--nref];
    return it;
}

static unsigned rng = 12345;
static unsigned rnd(void)
{
    rng = rng * 1103515245u + 12345u;
    return (rng >> 16) & 0x7fff;
}

static void random_ops(size_t capacity)
{
    static item pool[40000];
    unsigned seq = 0;
    nref = 0;
    weft_queue *q = weft_queue_new_priority(capacity, by_prio);
    CHECK(q);
    for (int op = 0; op < 40000; op++) {
        if (rnd() % 100 < 55 && seq < 40000) {
            item *it = &pool[seq];
            it->prio = (int)(rnd() % 20); /* many equals */
            it->seq = seq++;
            int r = weft_queue_try_put(q, it);
            if (capacity && nref == capacity) {
                CHECK_EQ(r, -EAGAIN);
                seq--;
            } else {
                CHECK_EQ(r, 0);
                ref[nref++] = it;
            }
        } else {
            void *got;
            int r = weft_queue_try_get(q, &got);
            if (!nref) {
                CHECK_EQ(r, -EAGAIN);
            } else {
                CHECK_EQ(r, 0);
                CHECK(got == ref_take());
            }
        }
        CHECK_EQ(weft_queue_size(q), nref);
    }
    while (nref) {
        void *got;
        CHECK_EQ(weft_queue_try_get(q, &got), 0);
        CHECK(got == ref_take());
    }
    weft_queue_free(q);
}

WEFT_TEST(t_priority_random)
{
    random_ops(0);
    random_ops(64);
    random_ops(1);
    errno = 0;
    WEFT_TEST_CHECK(weft_queue_new_priority(0, NULL) == NULL);
    CHECK_EQ(errno, EINVAL);
    return 0;
}

/* Blocking put and get through a bounded priority queue. */
static weft_queue *bq;
static item bitems[200];
static int bproducer(void *a)
{
    (void)a;
    for (int i = 0; i < 200; i++) {
        bitems[i] = (item){(int)(rnd() % 7), (unsigned)i};
        int r = weft_queue_put(bq, &bitems[i]);
        if (r < 0) return r;
    }
    return 0;
}
WEFT_TEST(t_priority_blocking)
{
    bq = weft_queue_new_priority(8, by_prio);
    weft_task *p = weft_spawn(bproducer, NULL);
    int got = 0, prev_prio = -1;
    weft_sleep(0.005); /* the queue fills: the producer waits */
    CHECK_EQ(weft_queue_size(bq), 8);
    for (int k = 0; k < 8; k++) {
        void *v;
        CHECK_EQ(weft_queue_try_get(bq, &v), 0);
        got++;
        item *it = v;
        WEFT_TEST_CHECK(it->prio >= prev_prio || k == 0 || it->seq > 8); /* sorted but for late puts */
        prev_prio = it->prio;
        CHECK_EQ(weft_queue_size(bq), 8); /* the get pulled the waiting put in */
        weft_yield();                     /* the producer puts its next and waits again */
    }
    while (got < 200) {
        void *v;
        CHECK_EQ(weft_queue_get(bq, &v), 0);
        got++;
    }
    CHECK_EQ(weft_await(p), 0);
    weft_queue_free(bq);
    return 0;
}

WEFT_TEST(t_lifo)
{
    weft_queue *q = weft_queue_new_lifo(0);
    for (intptr_t i = 1; i <= 40; i++) CHECK_EQ(weft_queue_put(q, (void *)i), 0); /* grows */
    for (intptr_t i = 40; i >= 1; i--) {
        void *v;
        CHECK_EQ(weft_queue_get(q, &v), 0);
        WEFT_TEST_CHECK(v == (void *)i);
    }
    weft_queue_free(q);
    /* bounded */
    q = weft_queue_new_lifo(3);
    void *v;
    for (intptr_t round = 0; round < 5; round++) {
        for (intptr_t k = 1; k <= 3; k++) CHECK_EQ(weft_queue_try_put(q, (void *)(round * 10 + k)), 0);
        CHECK_EQ(weft_queue_try_put(q, (void *)99), -EAGAIN);
        CHECK_EQ(weft_queue_try_get(q, &v), 0);
        WEFT_TEST_CHECK(v == (void *)(round * 10 + 3));
        CHECK_EQ(weft_queue_try_put(q, (void *)(round * 10 + 4)), 0);
        for (intptr_t k = 4; k >= 1; k--) {
            if (k == 3) continue;
            CHECK_EQ(weft_queue_try_get(q, &v), 0);
            WEFT_TEST_CHECK(v == (void *)(round * 10 + k));
        }
        CHECK_EQ(weft_queue_try_get(q, &v), -EAGAIN);
    }
    weft_queue_free(q);
    return 0;
}

/* ---- task_done / join ---- */

static weft_queue *jq;
static int processed;
static int consumer(void *a)
{
    (void)a;
    for (;;) {
        void *v;
        int r = weft_queue_get(jq, &v);
        if (r < 0) return r == -EPIPE ? 0 : r;
        r = weft_sleep(0.0005 * (double)((intptr_t)v % 4)); /* processing, may be cancelled */
        processed++;
        weft_queue_task_done(jq); /* done with it either way */
        if (r < 0) return r;
    }
}
static int producer(void *a)
{
    intptr_t base = (intptr_t)a;
    for (intptr_t i = 0; i < 100; i++) {
        int r = weft_queue_put(jq, (void *)(base + i));
        if (r < 0) return r;
    }
    return 0;
}

WEFT_TEST(t_join)
{
    jq = weft_queue_new(4);
    processed = 0;
    CHECK_EQ(weft_queue_join(jq), 0); /* nothing put: at once */
    weft_task *c[4], *p[3];
    for (int i = 0; i < 4; i++) c[i] = weft_spawn(consumer, NULL);
    for (int i = 0; i < 3; i++) p[i] = weft_spawn(producer, (void *)(intptr_t)(i * 1000));
    weft_sleep(0.01);
    weft_cancel(c[1]); /* a consumer cancelled while getting or processing */
    weft_cancel(p[2]); /* a producer cancelled while waiting to put */
    CHECK_EQ(weft_await(p[0]), 0);
    CHECK_EQ(weft_await(p[1]), 0);
    CHECK_EQ(weft_await(p[2]), -ECANCELED);
    /* join returns once every item that entered the queue is done */
    int jr = weft_timeout(10, (weft_fn)weft_queue_join, jq);
    CHECK_EQ(jr, 0);
    CHECK_EQ(weft_queue_size(jq), 0);
    WEFT_TEST_CHECK(processed >= 200 && processed < 300);
    weft_queue_close(jq);
    CHECK_EQ(weft_await(c[1]), -ECANCELED);
    for (int i = 0; i < 4; i++)
        if (i != 1) CHECK_EQ(weft_await(c[i]), 0);
    weft_queue_free(jq);
    return 0;
}

static int joiner(void *a) { return weft_queue_join(a); }
static void extra_done(void *a) { weft_queue_task_done(a); }

WEFT_TEST(t_join_edges)
{
    weft_queue *q = weft_queue_new(0);
    CHECK_EQ(weft_queue_put(q, (void *)1), 0);
    weft_task *j = weft_spawn(joiner, q);
    weft_sleep(0.002);
    WEFT_TEST_CHECK(!weft_done(j));
    weft_cancel(j); /* a joiner cancelled */
    CHECK_EQ(weft_await(j), -ECANCELED);
    j = weft_spawn(joiner, q);
    weft_sleep(0.002);
    void *v;
    CHECK_EQ(weft_queue_get(q, &v), 0);
    WEFT_TEST_CHECK(!weft_done(j)); /* taken, not done */
    weft_queue_task_done(q);
    CHECK_EQ(weft_await(j), 0);
    char *err = capture_stderr(extra_done, q); /* one too many: reported, ignored */
    WEFT_TEST_CHECK(strstr(err, "task_done"));
    free(err);
    CHECK_EQ(weft_queue_join(q), 0);
    /* a hand-over to a waiting getter counts too */
    weft_task *g = weft_spawn(joiner, q);
    CHECK_EQ(weft_await(g), 0);
    CHECK_EQ(weft_queue_put(q, (void *)2), 0);
    j = weft_spawn(joiner, q);
    weft_sleep(0.002);
    weft_queue_free(q); /* the joiner gets -EPIPE */
    CHECK_EQ(weft_await(j), -EPIPE);
    return 0;
}

static const weft_test_case cases[] = {
    {"priority_random", t_priority_random},
    {"priority_blocking", t_priority_blocking},
    {"lifo", t_lifo},
    {"join", t_join},
    {"join_edges", t_join_edges},
};

int main(int argc, char **argv)
{
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
