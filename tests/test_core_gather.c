/* gather, wait_for, wait_any, and task groups. */
#include "core_util.h"
#include <weft/test.h>

static int sleep_ret(void *a)
{
    long ms = (long)a;
    int r = weft_sleep((double)(ms % 1000) / 1000.0);
    return r < 0 ? r : (int)ms;
}
static int fail_after(void *a)
{
    weft_sleep((double)(long)a / 1000.0);
    return -EIO;
}

/* ---- gather ------------------------------------------------------------------------ */

static int t_gather_main(void *a)
{
    /* results in task order whatever the finishing order */
    weft_task *t[4] = {weft_spawn(sleep_ret, (void *)30L), weft_spawn(sleep_ret, (void *)10L),
                       weft_spawn(sleep_ret, (void *)20L), weft_spawn(sleep_ret, (void *)0L)};
    int res[4];
    double t0 = weft_now();
    CHECK_EQ(weft_gather(t, 4, res), 0);
    WEFT_TEST_CHECK(weft_now() - t0 < 3); /* not hung (bounds are loose: loaded machines) */
    CHECK_EQ(res[0], 30);
    CHECK_EQ(res[1], 10);
    CHECK_EQ(res[2], 20);
    CHECK_EQ(res[3], 0);
    /* the first negative result in task order, not in time order */
    weft_task *u[3] = {weft_spawn(sleep_ret, (void *)1L), weft_spawn(fail_after, (void *)20L),
                       weft_spawn(sleep_ret, (void *)-2L)}; /* fails first, at once */
    CHECK_EQ(weft_gather(u, 3, res), -EIO);
    CHECK_EQ(res[0], 1);
    CHECK_EQ(res[1], -EIO);
    CHECK_EQ(res[2], -EINVAL);
    /* results may be NULL; n may be 0 */
    weft_task *v[2] = {weft_spawn(sleep_ret, (void *)2L), weft_spawn(sleep_ret, (void *)3L)};
    CHECK_EQ(weft_gather(v, 2, NULL), 0);
    CHECK_EQ(weft_gather(NULL, 0, NULL), 0);
    return 0;
}

static int t_gather_misuse_main(void *a)
{
    weft_task *x = weft_spawn(sleep_ret, (void *)1L);
    weft_task *dup[2] = {x, x};
    CHECK_EQ(weft_gather(dup, 2, NULL), -EINVAL); /* listed twice: refused, untouched */
    weft_task *d = weft_spawn(sleep_ret, (void *)1L);
    weft_detach(d);
    weft_task *mixed[2] = {x, d};
    CHECK_EQ(weft_gather(mixed, 2, NULL), -EINVAL);
    CHECK_EQ(weft_await(x), 1); /* x is still awaitable */
    weft_task *me[1] = {weft_current()};
    CHECK_EQ(weft_gather(me, 1, NULL), -EDEADLK);
    return 0;
}
static void run_gather_misuse(void *a) { CHECK_EQ(weft_run(t_gather_misuse_main, NULL), 0); }
static void t_gather_misuse(void)
{
    char *err = capture_stderr(run_gather_misuse, NULL);
    CHECK_STR_HAS(err, "weft_gather: task is already awaited");
    CHECK_STR_HAS(err, "weft_gather: task is detached");
    free(err);
}

/* ---- wait_for ---------------------------------------------------------------------- */

static int slow_result;
static int slow_body(void *a)
{
    slow_result = weft_sleep(10);
    return 1;
}
static int t_wait_for_main(void *a)
{
    CHECK_EQ(weft_wait_for(weft_spawn(sleep_ret, (void *)5L), 1.0), 5);
    double t0 = weft_now();
    CHECK_EQ(weft_wait_for(weft_spawn(slow_body, NULL), 0.02), -ETIMEDOUT);
    double took = weft_now() - t0;
    WEFT_TEST_CHECK(took >= 0.019 && took < 3);
    CHECK_EQ(slow_result, -ECANCELED); /* cancelled and its end awaited */
    /* a zero or negative limit: a finished task still gives its result */
    weft_task *t = weft_spawn(sleep_ret, (void *)0L);
    weft_sleep(0.002);
    CHECK_EQ(weft_wait_for(t, 0), 0);
    CHECK_EQ(weft_wait_for(weft_spawn(slow_body, NULL), -1), -ETIMEDOUT);
    weft_task *n = weft_spawn(sleep_ret, (void *)1L);
    CHECK_EQ(weft_wait_for(n, NAN), -EINVAL);
    CHECK_EQ(weft_await(n), 1);
    return 0;
}

/* A task that ends in the same loop turn as the limit: its result wins. */
static int ends_at(void *a)
{
    weft_sleep(0.02);
    return 42;
}
static int t_wait_for_race_main(void *a)
{
    int ok = 0, timeouts = 0;
    for (int i = 0; i < 20; i++) {
        int r = weft_wait_for(weft_spawn(ends_at, NULL), 0.02);
        if (r == 42) ok++;
        else if (r == -ETIMEDOUT) timeouts++;
        else WEFT_TEST_CHECK(0);
    }
    CHECK_EQ(ok + timeouts, 20);
    return 0;
}

/* ---- wait_any ---------------------------------------------------------------------- */

/* Ends when its event is set: completion order under the test's control,
 * whatever the machine's load. */
static int on_event(void *a) { return weft_event_wait(a) == 0 ? 10 : -1; }
static int t_wait_any_main(void *a)
{
    weft_event *ev[3] = {weft_event_new(), weft_event_new(), weft_event_new()};
    weft_task *t[3];
    for (int i = 0; i < 3; i++) t[i] = weft_spawn(on_event, ev[i]);
    weft_yield();
    weft_event_set(ev[1]);
    CHECK_EQ(weft_wait_any(t, 3, -1), 1);
    CHECK_EQ(weft_done(t[0]), 0); /* the others are untouched */
    CHECK_EQ(weft_wait_any(t, 3, 0.001), 1); /* t[1] is done: at once */
    CHECK_EQ(weft_await(t[1]), 10);
    weft_task *rest[2] = {t[0], t[2]};
    CHECK_EQ(weft_wait_any(rest, 2, 0.005), -ETIMEDOUT);
    CHECK_EQ(weft_wait_any(rest, 2, 0), -ETIMEDOUT); /* a poll */
    weft_event_set(ev[2]);
    CHECK_EQ(weft_wait_any(rest, 2, 1.0), 1);
    weft_event_set(ev[0]);
    weft_yield();
    CHECK_EQ(weft_wait_any(rest, 2, 1.0), 0); /* both done: the lowest index */
    for (int i = 0; i < 3; i++) weft_event_free(ev[i]);
    CHECK_EQ(weft_gather(rest, 2, NULL), 0);
    /* many tasks (the watch list leaves the stack) */
    weft_task *many[40];
    for (long i = 0; i < 40; i++) many[i] = weft_spawn(sleep_ret, (void *)(i == 33 ? 5L : 500L));
    CHECK_EQ(weft_wait_any(many, 40, -1), 33);
    for (int i = 0; i < 40; i++) weft_cancel(many[i]);
    CHECK_EQ(weft_gather(many, 40, NULL), -ECANCELED);
    /* misuse */
    CHECK_EQ(weft_wait_any(rest, 0, -1), -EINVAL);
    weft_task *d = weft_spawn(sleep_ret, (void *)1L);
    weft_detach(d);
    CHECK_EQ(weft_wait_any(&d, 1, -1), -EINVAL);
    return 0;
}
static void run_wait_any(void *a) { CHECK_EQ(weft_run(t_wait_any_main, NULL), 0); }
static void t_wait_any(void)
{
    char *err = capture_stderr(run_wait_any, NULL);
    CHECK_STR_HAS(err, "weft_wait_any: task is detached");
    free(err);
}

/* Two waiters on one task through wait_any: both see it done. */
static int any_waiter(void *a) { return weft_wait_any((weft_task **)a, 1, -1); }
static int t_wait_any_shared_main(void *a)
{
    weft_task *t = weft_spawn(sleep_ret, (void *)5L);
    weft_task *w1 = weft_spawn(any_waiter, &t), *w2 = weft_spawn(any_waiter, &t);
    CHECK_EQ(weft_await(w1), 0);
    CHECK_EQ(weft_await(w2), 0);
    CHECK_EQ(weft_await(t), 5);
    return 0;
}

/* ---- groups ------------------------------------------------------------------------ */

static int group_ok_main(void *a)
{
    weft_group *g = weft_group_new();
    for (long i = 1; i <= 10; i++) CHECK_EQ(weft_group_spawn(g, sleep_ret, (void *)i), 0);
    CHECK_EQ(weft_group_wait(g), 0);
    CHECK_EQ(weft_group_wait(NULL), -EINVAL);
    return 0;
}

static int cancelled_count;
static int long_member(void *a)
{
    int r = weft_sleep(10);
    if (r == -ECANCELED) cancelled_count++;
    return r;
}
static weft_group *spawner_group;
static int spawner(void *a)
{
    weft_sleep(0.005);
    /* spawned while the group is waited on: waited for too */
    CHECK_EQ(weft_group_spawn(spawner_group, sleep_ret, (void *)10L), 0);
    return 0;
}
static int group_fail_main(void *a)
{
    weft_group *g = weft_group_new();
    for (int i = 0; i < 5; i++) CHECK_EQ(weft_group_spawn(g, long_member, NULL), 0);
    CHECK_EQ(weft_group_spawn(g, fail_after, (void *)10L), 0);
    double t0 = weft_now();
    CHECK_EQ(weft_group_wait(g), -EIO); /* the first failure cancels the rest at once */
    WEFT_TEST_CHECK(weft_now() - t0 < 3);
    CHECK_EQ(cancelled_count, 5);

    spawner_group = weft_group_new();
    CHECK_EQ(weft_group_spawn(spawner_group, spawner, NULL), 0);
    t0 = weft_now();
    CHECK_EQ(weft_group_wait(spawner_group), 0);
    WEFT_TEST_CHECK(weft_now() - t0 >= 0.014);
    return 0;
}

static int failer(void *a)
{
    weft_sleep(0.001);
    return -EIO;
}
static int group_late_main(void *a)
{
    weft_group *g = weft_group_new();
    CHECK_EQ(weft_group_spawn(g, failer, NULL), 0);
    weft_sleep(0.005); /* fails before the spawn below */
    CHECK_EQ(weft_group_spawn(g, sleep_ret, (void *)1L), -ECANCELED);
    CHECK_EQ(weft_group_wait(g), -EIO);
    return 0;
}

static int group_outer(void *a)
{
    weft_group *g = weft_group_new();
    for (int i = 0; i < 3; i++) weft_group_spawn(g, long_member, NULL);
    return weft_group_wait(g);
}
static int group_cancel_main(void *a)
{
    cancelled_count = 0;
    weft_task *o = weft_spawn(group_outer, NULL);
    weft_sleep(0.005);
    weft_cancel(o);
    CHECK_EQ(weft_await(o), -ECANCELED);
    CHECK_EQ(cancelled_count, 3);
    return 0;
}

static const weft_test_case cases[] = {
    {"gather", t_gather_main},
    {"wait_for", t_wait_for_main},
    {"wait_for_race", t_wait_for_race_main},
    {"wait_any_shared", t_wait_any_shared_main},
    {"group_ok", group_ok_main},
    {"group_fail", group_fail_main},
    {"group_late", group_late_main},
    {"group_cancel", group_cancel_main},
};
/* misuse on purpose, its debug reports read back: weft_test_run would fail
 * them */
static const test_case plain[] = {
    {"gather_misuse", t_gather_misuse},
    {"wait_any", t_wait_any},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    return RUN_CASES_THEN_PLAIN(cases, plain, argc, argv);
}
