/* weft_sleep and weft_timeout: durations, misuse, nesting deadlines, the
 * deadline's stickiness inside its scope, and timer ordering. */
#include "core_util.h"
#include <weft/test.h>

static int sleep_long(void *a) { return weft_sleep(a ? *(double *)a : 10); }

static int t_sleep_main(void *a)
{
    double t0 = weft_now();
    CHECK_EQ(weft_sleep(0.03), 0);
    double took = weft_now() - t0;
    WEFT_TEST_CHECK(took >= 0.03 && took < 3);
    CHECK_EQ(weft_sleep(0), 0);
    CHECK_EQ(weft_sleep(-0.0), 0);
    CHECK_EQ(weft_sleep(-1), -EINVAL);
    CHECK_EQ(weft_sleep(NAN), -EINVAL);
    CHECK_EQ(weft_sleep(-INFINITY), -EINVAL);
    /* an endless sleep ends by cancellation */
    double inf = INFINITY;
    weft_task *t = weft_spawn(sleep_long, &inf);
    weft_sleep(0.002);
    weft_cancel(t);
    CHECK_EQ(weft_await(t), -ECANCELED);
    return 0;
}

/* Sleepers wake in deadline order. */
static int wake_order[64], wake_n;
static weft_event *start;
static double order_base; /* the common origin of the deadlines */
static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
static int ordered_sleeper(void *a)
{
    long i = (long)a;
    int k = (int)((i * 7) % 20); /* a shuffled order of deadlines */
    CHECK_EQ(weft_event_wait(start), 0);
    /* Deadline order_base + 0.5 + 0.01 k, whenever this sleep begins: the 20
     * begin in a burst, which a loaded machine may stall by more than the
     * 10 ms between two deadlines (relative sleeps would then swap). */
    double left = order_base + 0.5 + 0.01 * k - mono_now();
    CHECK_EQ(weft_sleep(left > 0 ? left : 0), 0);
    wake_order[wake_n++] = k;
    return 0;
}
static int t_order_main(void *a)
{
    weft_task *t[20];
    start = weft_event_new();
    for (long i = 0; i < 20; i++) t[i] = weft_spawn(ordered_sleeper, (void *)i);
    weft_yield();
    order_base = mono_now();
    weft_event_set(start);
    CHECK_EQ(weft_gather(t, 20, NULL), 0);
    weft_event_free(start);
    for (int i = 1; i < 20; i++)
        if (wake_order[i - 1] >= wake_order[i]) {
            for (int j = 0; j < 20; j++) fprintf(stderr, "%d ", wake_order[j]);
            WEFT_TEST_CHECK(0);
        }
    return 0;
}

/* ---- weft_timeout ---------------------------------------------------------------- */

static int body_sleep(void *a) { return weft_sleep(*(double *)a); }
static int body_sticky(void *a)
{
    int *out = a;
    out[0] = weft_sleep(1);
    out[1] = weft_sleep(0);
    out[2] = weft_yield();
    weft_sem *s = weft_sem_new(1);
    out[3] = weft_sem_acquire(s); /* even with a permit free */
    weft_sem_free(s);
    return 7;
}
static int inner_long(void *a)
{
    double one = 1.0;
    return weft_timeout(1.0, body_sleep, &one);
}
static int inner_short_then_outer(void *a)
{
    double one = 1.0;
    int r = weft_timeout(0.02, body_sleep, &one);
    CHECK_EQ(r, -ETIMEDOUT);
    /* back in the outer scope, whose deadline is still ahead */
    return weft_sleep(0.01);
}
static int spin(void *a)
{
    int r, n = 0;
    while ((r = weft_yield()) == 0) n++;
    CHECK(n > 0);
    return r;
}
static int t_timeout_main(void *a)
{
    double d = 0.005;
    CHECK_EQ(weft_timeout(1.0, body_sleep, &d), 0); /* no expiry: fn's result */
    double t0 = weft_now();
    double one = 1.0;
    CHECK_EQ(weft_timeout(0.02, body_sleep, &one), -ETIMEDOUT);
    double took = weft_now() - t0;
    WEFT_TEST_CHECK(took >= 0.019 && took < 3);
    CHECK_EQ(weft_sleep(0.001), 0); /* the deadline ended with its scope */

    int out[4];
    CHECK_EQ(weft_timeout(0.01, body_sticky, out), 7);
    for (int i = 0; i < 4; i++) CHECK_EQ(out[i], -ETIMEDOUT);

    /* nesting: the nearest deadline applies */
    t0 = weft_now();
    CHECK_EQ(weft_timeout(0.02, inner_long, NULL), -ETIMEDOUT);
    WEFT_TEST_CHECK(weft_now() - t0 < 3);
    t0 = weft_now();
    CHECK_EQ(weft_timeout(1.0, inner_short_then_outer, NULL), 0);
    took = weft_now() - t0;
    WEFT_TEST_CHECK(took >= 0.029 && took < 3);

    /* an already-expired deadline: the first wait fails */
    CHECK_EQ(weft_timeout(-1, body_sleep, &d), -ETIMEDOUT);
    CHECK_EQ(weft_timeout(0, body_sleep, &d), -ETIMEDOUT);
    CHECK_EQ(weft_timeout(NAN, body_sleep, &d), -EINVAL);
    /* a task that never sleeps but yields is still bounded */
    CHECK_EQ(weft_timeout(0.01, spin, NULL), -ETIMEDOUT);
    return 0;
}

/* Deadlines are per task: a child spawned inside a scope is not bound. */
static int child_sleeps(void *a) { return weft_sleep(0.03); }
static int spawn_in_scope(void *a)
{
    *(weft_task **)a = weft_spawn(child_sleeps, NULL);
    return weft_sleep(1);
}
static int t_timeout_child_main(void *a)
{
    weft_task *c;
    CHECK_EQ(weft_timeout(0.005, spawn_in_scope, &c), -ETIMEDOUT);
    CHECK_EQ(weft_await(c), 0);
    return 0;
}

/* Deadlines that almost never expire (I/O limits) leave stale timer entries;
 * the heap must shed them and stay correct. */
static weft_event *go;
static int wait_go(void *a) { return weft_event_wait(a); }
static int waits_with_limit(void *a)
{
    for (int i = 0; i < 20; i++) {
        int r = weft_timeout(100, wait_go, go);
        if (r) return r;
        weft_yield();
    }
    return 0;
}
static int t_stale_main(void *a)
{
    enum { N = 3000 };
    static weft_task *t[N];
    go = weft_event_new();
    weft_event_set(go);
    for (int i = 0; i < N; i++) t[i] = weft_spawn(waits_with_limit, NULL);
    CHECK_EQ(weft_gather(t, N, NULL), 0);
    weft_event_clear(go);
    /* now every wait parks: 100 s timers added and cancelled by set */
    for (int i = 0; i < N; i++) t[i] = weft_spawn(waits_with_limit, NULL);
    for (int k = 0; k < 20; k++) {
        weft_sleep(0.001);
        weft_event_set(go);
        weft_yield();
        weft_event_clear(go);
    }
    weft_event_set(go);
    CHECK_EQ(weft_gather(t, N, NULL), 0);
    double t0 = weft_now();
    CHECK_EQ(weft_sleep(0.01), 0);
    WEFT_TEST_CHECK(weft_now() - t0 < 3);
    weft_event_free(go);
    return 0;
}

static const weft_test_case cases[] = {
    {"sleep", t_sleep_main},
    {"order", t_order_main},
    {"timeout", t_timeout_main},
    {"timeout_child", t_timeout_child_main},
    {"stale", t_stale_main},
};

int main(int argc, char **argv)
{
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
