/* weft_barrier (rounds, arrival indices, breakage on cancel and timeout,
 * free with waiters) and bounded semaphores. */
#include "core_util.h"
#include <weft/test.h>

enum { PARTIES = 4, ROUNDS = 5 };
static int idx_seen[ROUNDS][PARTIES];

static int party(void *a)
{
    weft_barrier *b = a;
    for (int r = 0; r < ROUNDS; r++) {
        if (weft_task_id(weft_current()) % 2) weft_yield(); /* arrive in mixed orders */
        int i = weft_barrier_wait(b);
        if (i < 0) return i;
        CHECK(i < PARTIES);
        idx_seen[r][i]++;
    }
    return 0;
}

WEFT_TEST(t_rounds)
{
    weft_barrier *b = weft_barrier_new(PARTIES);
    weft_task *t[PARTIES];
    for (int i = 0; i < PARTIES; i++) t[i] = weft_spawn(party, b);
    CHECK_EQ(weft_gather(t, PARTIES, NULL), 0);
    for (int r = 0; r < ROUNDS; r++)
        for (int i = 0; i < PARTIES; i++) CHECK_EQ(idx_seen[r][i], 1); /* each index once */
    weft_barrier_free(b);
    weft_barrier *one = weft_barrier_new(1);
    CHECK_EQ(weft_barrier_wait(one), 0);
    CHECK_EQ(weft_barrier_wait(one), 0);
    weft_barrier_free(one);
    errno = 0;
    WEFT_TEST_CHECK(weft_barrier_new(0) == NULL);
    CHECK_EQ(errno, EINVAL);
    weft_barrier_free(NULL);
    return 0;
}

static int waiter(void *a) { return weft_barrier_wait(a); }
static int wait_body(void *a) { return weft_barrier_wait(a); }
static int timed_waiter(void *a) { return weft_timeout(0.02, wait_body, a); }

WEFT_TEST(t_broken_by_cancel)
{
    weft_barrier *b = weft_barrier_new(3);
    weft_task *w1 = weft_spawn(waiter, b), *w2 = weft_spawn(waiter, b);
    weft_sleep(0.005);
    weft_cancel(w1);
    CHECK_EQ(weft_await(w1), -ECANCELED);
    CHECK_EQ(weft_await(w2), -EPIPE);
    CHECK_EQ(weft_barrier_wait(b), -EPIPE); /* stays broken */
    weft_barrier_free(b);
    return 0;
}

WEFT_TEST(t_broken_by_timeout)
{
    weft_barrier *b = weft_barrier_new(3);
    weft_task *w1 = weft_spawn(waiter, b), *w2 = weft_spawn(timed_waiter, b);
    CHECK_EQ(weft_await(w2), -ETIMEDOUT);
    CHECK_EQ(weft_await(w1), -EPIPE);
    weft_barrier_free(b);
    return 0;
}

/* Released, then cancelled before it runs: the index is kept. */
WEFT_TEST(t_released_then_cancelled)
{
    weft_barrier *b = weft_barrier_new(2);
    weft_task *w = weft_spawn(waiter, b);
    weft_yield();
    CHECK_EQ(weft_barrier_wait(b), 1);
    weft_cancel(w);
    CHECK_EQ(weft_await(w), 0);
    weft_barrier_free(b);
    return 0;
}

WEFT_TEST(t_free_with_waiters)
{
    weft_barrier *b = weft_barrier_new(3);
    weft_task *w1 = weft_spawn(waiter, b), *w2 = weft_spawn(waiter, b);
    weft_sleep(0.002);
    weft_barrier_free(b);
    CHECK_EQ(weft_await(w1), -EPIPE);
    CHECK_EQ(weft_await(w2), -EPIPE);
    return 0;
}

/* ---- bounded semaphores ---- */

static int acquirer(void *a) { return weft_sem_acquire(a); }

static void over_release(void *a)
{
    weft_sem *s = a;
    CHECK_EQ(weft_sem_release_checked(s), -EOVERFLOW);
    weft_sem_release(s);
}

WEFT_TEST(t_bounded)
{
    weft_sem *s = weft_sem_new_bounded(2);
    WEFT_TEST_CHECK(s);
    CHECK_EQ(weft_sem_acquire(s), 0);
    CHECK_EQ(weft_sem_value(s), 1);
    CHECK_EQ(weft_sem_release_checked(s), 0);
    char *err = capture_stderr(over_release, s);
    WEFT_TEST_CHECK(strstr(err, "bounded semaphore"));
    free(err);
    CHECK_EQ(weft_sem_value(s), 2); /* never past its bound */
    /* a release with a waiter hands the permit over: never an overflow */
    CHECK_EQ(weft_sem_acquire(s), 0);
    CHECK_EQ(weft_sem_acquire(s), 0);
    weft_task *w = weft_spawn(acquirer, s);
    weft_yield();
    CHECK_EQ(weft_sem_release_checked(s), 0);
    CHECK_EQ(weft_await(w), 0);
    CHECK_EQ(weft_sem_value(s), 0);
    weft_sem_release(s);
    weft_sem_release(s);
    CHECK_EQ(weft_sem_value(s), 2);
    weft_sem_free(s);
    /* plain semaphores are unbounded, as before */
    weft_sem *p = weft_sem_new(0);
    for (int i = 0; i < 5; i++) CHECK_EQ(weft_sem_release_checked(p), 0);
    CHECK_EQ(weft_sem_value(p), 5);
    weft_sem_free(p);
    weft_sem *z = weft_sem_new_bounded(0);
    CHECK_EQ(weft_sem_try_acquire(z), 0);
    weft_sem_free(z);
    errno = 0;
    WEFT_TEST_CHECK(weft_sem_new_bounded(-1) == NULL);
    CHECK_EQ(errno, EINVAL);
    return 0;
}

static const weft_test_case cases[] = {
    {"rounds", t_rounds},
    {"broken_by_cancel", t_broken_by_cancel},
    {"broken_by_timeout", t_broken_by_timeout},
    {"released_then_cancelled", t_released_then_cancelled},
    {"free_with_waiters", t_free_with_waiters},
    {"bounded", t_bounded},
};

int main(int argc, char **argv)
{
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
