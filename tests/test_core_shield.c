/* weft_shield, weft_timeout_at and weft_reschedule: cancellation arriving
 * before, during and after a shield; deadlines that expire during a shield
 * and are seen after it; shields and timeouts nested both ways; deadlines
 * moved earlier, later, to none; misuse. */
#include "core_util.h"
#include <weft/test.h>

static int sleep_for(void *a) { return weft_sleep(*(double *)a); }
static double d_short = 0.05, d_long = 10;

/* ---- cancellation and the shield ---- */

typedef struct probe {
    int in_shield;     /* the sleep inside the shield */
    int cancelled_in;  /* weft_cancelled() inside */
    int check_in;      /* weft_check inside, after the cancel came */
    int after;         /* the first wait after the shield */
    int after2;        /* and the one after that (sticky) */
    int entered;
} probe;

static int shielded_body(void *a)
{
    probe *p = a;
    p->entered = 1;
    p->in_shield = weft_sleep(0.1);
    p->cancelled_in = weft_cancelled();
    p->check_in = weft_check("shielded_body");
    return 7;
}

static int cancel_during_task(void *a)
{
    probe *p = a;
    CHECK_EQ(weft_shield(shielded_body, p), 7);
    p->after = weft_sleep(1);
    p->after2 = weft_yield();
    return 0;
}

WEFT_TEST(t_cancel_during)
{
    probe p = {0};
    weft_task *t = weft_spawn(cancel_during_task, &p);
    while (!p.entered) weft_sleep(0.001);
    weft_cancel(t);
    double t0 = weft_now();
    CHECK_EQ(weft_await(t), 0);
    WEFT_TEST_CHECK(weft_now() - t0 >= 0.05); /* the shielded sleep ran to its end */
    CHECK_EQ(p.in_shield, 0);
    CHECK_EQ(p.cancelled_in, 1);
    CHECK_EQ(p.check_in, 0);
    CHECK_EQ(p.after, -ECANCELED);
    CHECK_EQ(p.after2, -ECANCELED);
    return 0;
}

static int cancel_before_task(void *a)
{
    probe *p = a;
    weft_cancel(weft_current());
    CHECK_EQ(weft_sleep(0.001), -ECANCELED);
    CHECK_EQ(weft_shield(shielded_body, p), 7);
    p->after = weft_sleep(1);
    return 0;
}

WEFT_TEST(t_cancel_before)
{
    probe p = {0};
    CHECK_EQ(weft_await(weft_spawn(cancel_before_task, &p)), 0);
    CHECK_EQ(p.in_shield, 0); /* waits inside work although cancelled before */
    CHECK_EQ(p.cancelled_in, 1);
    CHECK_EQ(p.after, -ECANCELED);
    return 0;
}

static int quick_body(void *a)
{
    (void)a;
    return weft_sleep(0.001);
}

static int cancel_after_task(void *a)
{
    probe *p = a;
    CHECK_EQ(weft_shield(quick_body, NULL), 0);
    p->entered = 1;
    p->after = weft_sleep(10); /* the cancel comes here */
    return 0;
}

WEFT_TEST(t_cancel_after)
{
    probe p = {0};
    weft_task *t = weft_spawn(cancel_after_task, &p);
    while (!p.entered) weft_sleep(0.001);
    weft_sleep(0.005);
    double t0 = weft_now();
    weft_cancel(t);
    CHECK_EQ(weft_await(t), 0);
    WEFT_TEST_CHECK(weft_now() - t0 < 2); /* not shielded any more: ended at once */
    CHECK_EQ(p.after, -ECANCELED);
    return 0;
}

/* A task awaited through a shield is not cancelled with its awaiter. */
static int child_ok(void *a)
{
    (void)a;
    return weft_sleep(0.05) == 0 ? 5 : -1;
}
static int await_child(void *a)
{
    int *entered = a;
    *entered = 1;
    return weft_await(weft_spawn(child_ok, NULL));
}
static int await_in_shield_task(void *a)
{
    int r = weft_shield(await_child, a);
    CHECK_EQ(weft_sleep(1), -ECANCELED);
    return r;
}
WEFT_TEST(t_await_in_shield)
{
    int entered = 0;
    weft_task *t = weft_spawn(await_in_shield_task, &entered);
    while (!entered) weft_sleep(0.001);
    weft_cancel(t);
    CHECK_EQ(weft_await(t), 5);
    return 0;
}

/* ---- deadlines and the shield ---- */

static int shield_sleep(void *a)
{
    (void)a;
    return weft_sleep(0.1);
}
static int deadline_body(void *a)
{
    int *after = a;
    CHECK_EQ(weft_shield(shield_sleep, NULL), 0); /* outlives the 20 ms deadline */
    after[0] = weft_yield();
    after[1] = weft_sleep(0.001);
    return 3;
}
WEFT_TEST(t_deadline_during)
{
    int after[2] = {1, 1};
    double t0 = weft_now();
    CHECK_EQ(weft_timeout(0.02, deadline_body, after), 3);
    WEFT_TEST_CHECK(weft_now() - t0 >= 0.09);
    CHECK_EQ(after[0], -ETIMEDOUT);
    CHECK_EQ(after[1], -ETIMEDOUT);
    CHECK_EQ(weft_sleep(0.001), 0); /* out of the scope: no deadline */
    return 0;
}

/* fn may set its own deadline inside the shield, even in a cancelled task. */
static int own_timeout(void *a)
{
    (void)a;
    return weft_timeout(0.02, sleep_for, &d_long);
}
static int own_timeout_task(void *a)
{
    (void)a;
    weft_cancel(weft_current());
    double t0 = weft_now();
    CHECK_EQ(weft_shield(own_timeout, NULL), -ETIMEDOUT);
    CHECK(weft_now() - t0 >= 0.015 && weft_now() - t0 < 5);
    CHECK_EQ(weft_yield(), -ECANCELED);
    return 0;
}
WEFT_TEST(t_own_timeout)
{
    CHECK_EQ(weft_await(weft_spawn(own_timeout_task, NULL)), 0);
    return 0;
}

/* A shield inside a timeout inside a shield, with the cancel arriving during
 * the innermost shield and the timeout expiring during it. */
typedef struct nest {
    int entered;
    int inner_sleep, mid_after, outer_after, cancelled_mid;
} nest;
static int inner_shield(void *a)
{
    nest *n = a;
    n->entered = 1;
    n->inner_sleep = weft_sleep(0.1); /* past the 20 ms timeout, and cancelled meanwhile */
    return 0;
}
static int mid_timeout(void *a)
{
    nest *n = a;
    CHECK_EQ(weft_shield(inner_shield, n), 0);
    /* Still inside the outer shield: the cancel is held; the timeout applies. */
    n->cancelled_mid = weft_cancelled();
    n->mid_after = weft_sleep(1);
    return 0;
}
static int outer_shield(void *a) { return weft_timeout(0.02, mid_timeout, a); }
static int nest_task(void *a)
{
    nest *n = a;
    CHECK_EQ(weft_shield(outer_shield, n), 0);
    n->outer_after = weft_sleep(1);
    return 0;
}
WEFT_TEST(t_nested)
{
    nest n = {0};
    weft_task *t = weft_spawn(nest_task, &n);
    while (!n.entered) weft_sleep(0.001);
    weft_cancel(t);
    double t0 = weft_now();
    CHECK_EQ(weft_await(t), 0);
    WEFT_TEST_CHECK(weft_now() - t0 < 5);
    CHECK_EQ(n.inner_sleep, 0);
    CHECK_EQ(n.cancelled_mid, 1);
    CHECK_EQ(n.mid_after, -ETIMEDOUT);
    CHECK_EQ(n.outer_after, -ECANCELED);
    return 0;
}

/* The loop's end cancels a task in a shield: its cleanup still runs whole. */
static int cleanup_done;
static int cleanup(void *a)
{
    (void)a;
    if (weft_sleep(0.05) == 0) cleanup_done = 1;
    return 0;
}
static int worker_with_cleanup(void *a)
{
    (void)a;
    weft_sleep(10); /* cancelled by the loop's end */
    return weft_shield(cleanup, NULL);
}
static int shutdown_main(void *a)
{
    (void)a;
    weft_detach(weft_spawn(worker_with_cleanup, NULL));
    weft_sleep(0.01);
    return 0;
}
static void t_shutdown(void)
{
    cleanup_done = 0;
    CHECK_EQ(weft_run(shutdown_main, NULL), 0);
    CHECK_EQ(cleanup_done, 1);
}

static int ret_one(void *a)
{
    (void)a;
    return 1;
}
static int misuse_main(void *a)
{
    (void)a;
    CHECK_EQ(weft_shield(NULL, NULL), -EINVAL);
    CHECK_EQ(weft_timeout_at(NAN, ret_one, NULL), -EINVAL);
    CHECK_EQ(weft_reschedule(weft_now() + 1), -EINVAL);
    CHECK_EQ(weft_reschedule(NAN), -EINVAL);
    return 0;
}
static void t_misuse(void)
{
    CHECK_EQ(weft_test_run("misuse", misuse_main, NULL, NULL), 0);
    CHECK_EQ(weft_reschedule(1), -EINVAL); /* outside a loop */
    CHECK_EQ(weft_shield(ret_one, NULL), -EPERM);
    CHECK_EQ(weft_timeout_at(1, ret_one, NULL), -EPERM);
}

/* ---- weft_timeout_at and weft_reschedule ---- */

WEFT_TEST(t_timeout_at)
{
    double t0 = weft_now();
    CHECK_EQ(weft_timeout_at(t0 + 0.03, sleep_for, &d_long), -ETIMEDOUT);
    WEFT_TEST_CHECK(weft_now() - t0 >= 0.025 && weft_now() - t0 < 5);
    CHECK_EQ(weft_timeout_at(INFINITY, sleep_for, &d_short), 0);
    CHECK_EQ(weft_timeout_at(t0 - 1, sleep_for, &d_short), -ETIMEDOUT); /* past */
    CHECK_EQ(weft_timeout_at(weft_now() + 0.5, ret_one, NULL), 1);
    return 0;
}

static int resched_earlier(void *a)
{
    (void)a;
    CHECK_EQ(weft_reschedule(weft_now() + 0.02), 0);
    return weft_sleep(10);
}
static int resched_later(void *a)
{
    (void)a;
    CHECK_EQ(weft_reschedule(weft_now() + 5), 0);
    return weft_sleep(0.08);
}
static int resched_none(void *a)
{
    (void)a;
    CHECK_EQ(weft_reschedule(INFINITY), 0);
    return weft_sleep(0.08);
}
static int resched_past(void *a)
{
    (void)a;
    CHECK_EQ(weft_yield(), 0);
    CHECK_EQ(weft_reschedule(weft_now() - 1), 0);
    return weft_yield();
}
static int resched_inner_none(void *a)
{
    (void)a;
    return weft_timeout(10, resched_none, NULL); /* the outer 50 ms still applies */
}
static int resched_shield_body(void *a)
{
    (void)a;
    /* Inside a shield: moves the timeout around it, felt after the shield. */
    CHECK_EQ(weft_reschedule(weft_now() + 0.01), 0);
    return weft_sleep(0.05);
}
static int resched_through_shield(void *a)
{
    (void)a;
    CHECK_EQ(weft_shield(resched_shield_body, NULL), 0);
    return weft_yield();
}
WEFT_TEST(t_reschedule)
{
    double t0 = weft_now();
    CHECK_EQ(weft_timeout(10, resched_earlier, NULL), -ETIMEDOUT);
    WEFT_TEST_CHECK(weft_now() - t0 < 5);
    CHECK_EQ(weft_timeout(0.02, resched_later, NULL), 0);
    CHECK_EQ(weft_timeout(0.02, resched_none, NULL), 0);
    CHECK_EQ(weft_timeout(10, resched_past, NULL), -ETIMEDOUT);
    t0 = weft_now();
    CHECK_EQ(weft_timeout(0.05, resched_inner_none, NULL), -ETIMEDOUT);
    WEFT_TEST_CHECK(weft_now() - t0 >= 0.04 && weft_now() - t0 < 5);
    CHECK_EQ(weft_timeout(10, resched_through_shield, NULL), -ETIMEDOUT);
    CHECK_EQ(weft_reschedule(weft_now()), -EINVAL); /* the scopes are over */
    CHECK_EQ(weft_sleep(0.001), 0);
    return 0;
}

static const weft_test_case cases[] = {
    {"cancel_during", t_cancel_during},
    {"cancel_before", t_cancel_before},
    {"cancel_after", t_cancel_after},
    {"await_in_shield", t_await_in_shield},
    {"deadline_during", t_deadline_during},
    {"own_timeout", t_own_timeout},
    {"nested", t_nested},
    {"timeout_at", t_timeout_at},
    {"reschedule", t_reschedule},
};
/* shutdown: weft_run cancelling a detached task at its end; misuse: calls
 * outside any loop, after its in-loop part under weft_test_run */
static const test_case plain[] = {
    {"shutdown", t_shutdown},
    {"misuse", t_misuse},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    return RUN_CASES_THEN_PLAIN(cases, plain, argc, argv);
}
