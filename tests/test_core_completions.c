/* weft_as_completed / weft_completions_next and weft_wait_first_error:
 * the order tasks end in, O(1) per next (100,000 tasks, which O(n^2) would
 * take minutes over), timeouts, cancellation losing no index, failures in
 * every position. Also weft_all_tasks. */
#include "core_util.h"
#include <weft/test.h>

static size_t *end_order;
static size_t n_ended;

static int ender(void *a)
{
    size_t i = (size_t)(intptr_t)a;
    /* one in 64 waits a while, so the end order is not the spawn order */
    if (i % 64 == 0) {
        int r = weft_sleep((double)((i * 7919) % 97) * 0.0002);
        if (r < 0) return r;
    } else if (i % 50 == 1) { /* few: each parked task holds a fresh stack page */
        weft_yield();
    }
    end_order[n_ended++] = i;
    return (int)(i & 0xffff);
}

WEFT_TEST(t_many)
{
    size_t n = 100000;
    weft_task **t = malloc(n * sizeof *t);
    end_order = malloc(n * sizeof *end_order);
    n_ended = 0;
    for (size_t i = 0; i < n; i++) WEFT_TEST_CHECK((t[i] = weft_spawn(ender, (void *)(intptr_t)i)));
    double t0 = mono();
    weft_completions *c = weft_as_completed(t, n);
    WEFT_TEST_CHECK(c);
    for (size_t k = 0; k < n; k++) {
        int i = weft_completions_next(c, -1);
        WEFT_TEST_CHECK(i >= 0 && (size_t)i < n);
        CHECK_EQ(i, end_order[k]); /* in the order they ended */
        CHECK_EQ(weft_await(t[i]), i & 0xffff);
    }
    CHECK_EQ(weft_completions_next(c, -1), -EPIPE);
    CHECK_EQ(weft_completions_next(c, 0), -EPIPE);
    weft_completions_free(c);
    double took = mono() - t0;
    fprintf(stderr, "as_completed over %zu tasks: %.3f s\n", n, took);
    WEFT_TEST_CHECK(took < 60); /* O(n^2) would be minutes */
    free(t);
    free(end_order);
    return 0;
}

static int sleeper(void *a) { return weft_sleep(*(double *)a) == 0 ? 1 : -ECANCELED; }
static int fail_after(void *a)
{
    int r = weft_sleep(*(double *)a);
    return r < 0 ? r : -EIO;
}

static int next_in_task(void *a) { return weft_completions_next(a, -1); }

WEFT_TEST(t_limits)
{
    double d[3] = {0.05, 0.0, 10};
    weft_task *t[3];
    for (int i = 0; i < 3; i++) t[i] = weft_spawn(sleeper, &d[i]);
    weft_yield();
    weft_yield(); /* t[1] has ended */
    weft_completions *c = weft_as_completed(t, 3);
    WEFT_TEST_CHECK(c);
    CHECK_EQ(weft_completions_next(c, -1), 1); /* ended before: first */
    CHECK_EQ(weft_completions_next(c, 0), -ETIMEDOUT);
    CHECK_EQ(weft_completions_next(c, 0.005), -ETIMEDOUT);
    CHECK_EQ(weft_completions_next(c, NAN), -EINVAL);
    /* a next that is cancelled loses nothing */
    weft_task *w = weft_spawn(next_in_task, c);
    weft_yield();
    weft_cancel(w);
    CHECK_EQ(weft_await(w), -ECANCELED);
    CHECK_EQ(weft_completions_next(c, 5), 0);
    /* a cancelled caller gets -ECANCELED at entry, the index stays */
    weft_cancel(t[2]);
    weft_sleep(0.001);
    CHECK_EQ(weft_completions_next(c, -1), 2);
    CHECK_EQ(weft_completions_next(c, -1), -EPIPE);
    weft_completions_free(c);
    CHECK_EQ(weft_gather(t, 3, NULL), -ECANCELED);

    /* freed early: the tasks are untouched, and awaited as usual */
    for (int i = 0; i < 3; i++) t[i] = weft_spawn(sleeper, &d[0]);
    c = weft_as_completed(t, 3);
    weft_completions_free(c);
    int res[3];
    CHECK_EQ(weft_gather(t, 3, res), 0);
    CHECK_EQ(res[0] + res[1] + res[2], 3);
    /* misuse */
    static double no_wait = 0; /* x is detached: it may run after this frame is gone */
    weft_task *x = weft_spawn(sleeper, &no_wait);
    weft_detach(x);
    weft_task *bad[1] = {x};
    errno = 0;
    WEFT_TEST_CHECK(weft_as_completed(bad, 1) == NULL);
    CHECK_EQ(errno, EINVAL);
    c = weft_as_completed(NULL, 0);
    WEFT_TEST_CHECK(c);
    CHECK_EQ(weft_completions_next(c, -1), -EPIPE);
    weft_completions_free(c);
    weft_completions_free(NULL);
    weft_sleep(0.01); /* x, detached, ends (two turns) before the body does */
    return 0;
}

/* The caller cancelled while waiting in next. */
static int canceller_next(void *a)
{
    weft_completions *c = a;
    return weft_completions_next(c, -1);
}
WEFT_TEST(t_cancel_next)
{
    double d = 0.05;
    weft_task *t = weft_spawn(sleeper, &d);
    weft_completions *c = weft_as_completed(&t, 1);
    weft_task *w = weft_spawn(canceller_next, c);
    weft_sleep(0.005);
    weft_cancel(w);
    CHECK_EQ(weft_await(w), -ECANCELED);
    CHECK_EQ(weft_completions_next(c, -1), 0);
    weft_completions_free(c);
    CHECK_EQ(weft_await(t), 1);
    return 0;
}

/* ---- FIRST_EXCEPTION ---- */

WEFT_TEST(t_first_error)
{
    enum { N = 6 };
    double quick = 0.005, slow = 10, mid = 0.03;
    for (int p = 0; p < N; p++) { /* the failure in every position */
        weft_task *t[N];
        for (int i = 0; i < N; i++)
            t[i] = i == p ? weft_spawn(fail_after, &mid)
                          : weft_spawn(sleeper, i % 2 ? &quick : &slow);
        double t0 = weft_now();
        CHECK_EQ(weft_wait_first_error(t, N, -1), p);
        WEFT_TEST_CHECK(weft_now() - t0 < 5);
        for (int i = 0; i < N; i++) weft_cancel(t[i]);
        int res[N];
        weft_gather(t, N, res);
        CHECK_EQ(res[p], -EIO);
    }
    /* none fails: n once all ended */
    weft_task *t[N];
    for (int i = 0; i < N; i++) t[i] = weft_spawn(sleeper, i % 2 ? &quick : &mid);
    CHECK_EQ(weft_wait_first_error(t, N, -1), N);
    CHECK_EQ(weft_gather(t, N, NULL), 0);
    /* already failed before the call: the lowest such index, at once */
    double zero = 0;
    for (int i = 0; i < N; i++) t[i] = weft_spawn(i >= 3 ? fail_after : sleeper, i >= 3 ? &zero : &slow);
    weft_sleep(0.01);
    CHECK_EQ(weft_wait_first_error(t, N, -1), 3);
    /* two failing later: the first seen */
    for (int i = 0; i < 3; i++) weft_cancel(t[i]);
    weft_gather(t, N, NULL);
    double later = 0.06;
    for (int i = 0; i < N; i++)
        t[i] = weft_spawn(i == 1 ? fail_after : i == 4 ? fail_after : sleeper,
                          i == 1 ? &later : i == 4 ? &mid : &slow);
    CHECK_EQ(weft_wait_first_error(t, N, -1), 4);
    /* asked again: 4 has failed already (1 has not yet): at once */
    CHECK_EQ(weft_wait_first_error(t, N, 0.01), 4);
    /* a timeout, then a cancelled caller */
    for (int i = 0; i < N; i++) weft_cancel(t[i]);
    weft_gather(t, N, NULL);
    for (int i = 0; i < N; i++) t[i] = weft_spawn(sleeper, &slow);
    CHECK_EQ(weft_wait_first_error(t, N, 0.01), -ETIMEDOUT);
    CHECK_EQ(weft_wait_first_error(t, N, 0), -ETIMEDOUT);
    CHECK_EQ(weft_wait_first_error(t, 0, -1), -EINVAL);
    weft_cancel(weft_current());
    CHECK_EQ(weft_wait_first_error(t, N, -1), -ECANCELED);
    weft_gather(t, N, NULL);
    return 0;
}

/* A caller cancelled while waiting: its watches are gone (the tasks end later
 * without touching its stack: ASan). */
static int first_error_waiter(void *a)
{
    weft_task **t = a;
    return weft_wait_first_error(t, 20, -1);
}
WEFT_TEST(t_first_error_cancel)
{
    double d = 0.03;
    weft_task *t[20];
    for (int i = 0; i < 20; i++) t[i] = weft_spawn(sleeper, &d);
    weft_task *w = weft_spawn(first_error_waiter, t);
    weft_sleep(0.005);
    weft_cancel(w);
    CHECK_EQ(weft_await(w), -ECANCELED);
    int res[20];
    CHECK_EQ(weft_gather(t, 20, res), 0);
    return 0;
}

/* ---- weft_all_tasks ---- */

typedef struct seen {
    int n, waiting, done, ready, running, named;
    int sleep_waits;
} seen;
static void count_task(const weft_task_info *info, void *ud)
{
    seen *s = ud;
    s->n++;
    if (!strcmp(info->state, "waiting")) s->waiting++;
    if (!strcmp(info->state, "done")) s->done++;
    if (!strcmp(info->state, "new")) s->ready++;
    if (!strcmp(info->state, "running")) s->running++;
    if (info->name && !strcmp(info->name, "napper")) s->named++;
    if (info->waits_on && !strcmp(info->waits_on, "sleep")) s->sleep_waits++;
    CHECK(info->id > 0);
}
static int ret0(void *a)
{
    (void)a;
    return 0;
}
/* Counts every task of the loop: under weft_test_run its own task would be
 * one more, so this one is a plain weft_run. */
static int t_all_tasks(void *arg)
{
    double d = 10;
    weft_task *a = weft_spawn_named("napper", sleeper, &d);
    weft_task *b = weft_spawn_named("napper", sleeper, &d);
    weft_task *c = weft_spawn(ret0, NULL);
    weft_yield();
    weft_task *e = weft_spawn(ret0, NULL); /* not started yet */
    seen s = {0};
    CHECK_EQ(weft_all_tasks(count_task, &s), 5);
    CHECK_EQ(s.n, 5);
    CHECK_EQ(s.running, 1); /* this one */
    CHECK_EQ(s.waiting, 2);
    CHECK_EQ(s.sleep_waits, 2);
    CHECK_EQ(s.named, 2);
    CHECK_EQ(s.done, 1);
    CHECK_EQ(s.ready, 1);
    weft_cancel(a);
    weft_cancel(b);
    weft_task *all[4] = {a, b, c, e};
    weft_gather(all, 4, NULL);
    CHECK_EQ(weft_all_tasks(count_task, &s), 1);
    return 0;
}
static void all_tasks(void) { CHECK_EQ(weft_run(t_all_tasks, NULL), 0); }
static void t_all_tasks_outside(void) { CHECK_EQ(weft_all_tasks(count_task, NULL), -EPERM); }

static const weft_test_case cases[] = {
    {"many", t_many},
    {"limits", t_limits},
    {"cancel_next", t_cancel_next},
    {"first_error", t_first_error},
    {"first_error_cancel", t_first_error_cancel},
};
/* all_tasks counts the loop's tasks (weft_test_run adds one); the other
 * calls outside any loop */
static const test_case plain[] = {
    {"all_tasks", all_tasks},
    {"all_tasks_outside", t_all_tasks_outside},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    return RUN_CASES_THEN_PLAIN(cases, plain, argc, argv);
}
