/* Core synchronisation written as weft/test.h tests (each case a task on a
 * fresh loop in debug mode, checked for leaked tasks, fds and resources):
 * the way a user of weft would test their own asynchronous code. */
#include <weft/test.h>

static weft_sem *sem;
static int order[8], norder;

static int take_in_turn(void *arg)
{
    if (weft_sem_acquire(sem) < 0) return -1;
    order[norder++] = (int)(long)arg;
    int r = weft_sleep(0.001);
    weft_sem_release(sem);
    return r;
}

WEFT_TEST(semaphore_is_fifo)
{
    sem = weft_sem_new(1);
    norder = 0;
    weft_task *t[8];
    for (long i = 0; i < 8; i++) t[i] = weft_spawn(take_in_turn, (void *)i);
    WEFT_TEST_CHECK(weft_gather(t, 8, NULL) == 0);
    for (int i = 0; i < 8; i++) WEFT_TEST_CHECK(order[i] == i);
    weft_sem_free(sem);
    return 0;
}

static int getter(void *arg)
{
    void *item;
    return weft_queue_get(arg, &item);
}

WEFT_TEST(queue_close_wakes_getters_after_drain)
{
    weft_queue *q = weft_queue_new(0);
    weft_task *g = weft_spawn(getter, q);
    WEFT_TEST_CHECK(weft_yield() == 0); /* g now waits */
    WEFT_TEST_CHECK(weft_queue_try_put(q, (void *)1) == 0); /* handed to g */
    WEFT_TEST_CHECK(weft_await(g) == 0);
    WEFT_TEST_CHECK(weft_queue_try_put(q, (void *)2) == 0);
    weft_queue_close(q);
    void *item;
    WEFT_TEST_CHECK(weft_queue_get(q, &item) == 0 && item == (void *)2); /* drained first */
    WEFT_TEST_CHECK(weft_queue_get(q, &item) == -EPIPE);
    WEFT_TEST_CHECK(weft_queue_put(q, item) == -EPIPE);
    weft_queue_free(q);
    return 0;
}

static int sleeper(void *arg) { return weft_sleep((double)(long)arg); }
static int fails_soon(void *arg)
{
    (void)arg;
    weft_sleep(0.005);
    return -EIO;
}

WEFT_TEST(group_first_failure_cancels_the_rest)
{
    weft_group *g = weft_group_new();
    WEFT_TEST_CHECK(weft_group_spawn(g, sleeper, (void *)10L) == 0);
    WEFT_TEST_CHECK(weft_group_spawn(g, fails_soon, NULL) == 0);
    double t0 = weft_now();
    WEFT_TEST_CHECK(weft_group_wait(g) == -EIO);
    WEFT_TEST_CHECK(weft_now() - t0 < 5); /* the 10 s sleeper was cancelled */
    return 0;
}

static int inner(void *arg)
{
    (void)arg;
    return weft_sleep(10);
}
static int outer(void *arg)
{
    (void)arg;
    return weft_timeout(5, inner, NULL); /* the nearer outer deadline wins */
}

WEFT_TEST(timeouts_nest)
{
    double t0 = weft_now();
    WEFT_TEST_CHECK(weft_timeout(0.02, outer, NULL) == -ETIMEDOUT);
    double took = weft_now() - t0;
    WEFT_TEST_CHECK(took >= 0.019 && took < 3); /* not the outer's 5 s */
    return 0;
}

static weft_event *ev;
static int wait_event(void *arg)
{
    (void)arg;
    return weft_event_wait(ev);
}

WEFT_TEST(cancel_reaches_a_waiter)
{
    ev = weft_event_new();
    weft_task *t = weft_spawn(wait_event, NULL);
    WEFT_TEST_CHECK(weft_yield() == 0);
    weft_cancel(t);
    WEFT_TEST_CHECK(weft_await(t) == -ECANCELED);
    weft_event_free(ev);
    return 0;
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(semaphore_is_fifo), WEFT_TEST_CASE(queue_close_wakes_getters_after_drain),
               WEFT_TEST_CASE(group_first_failure_cancels_the_rest), WEFT_TEST_CASE(timeouts_nest),
               WEFT_TEST_CASE(cancel_reaches_a_waiter))
