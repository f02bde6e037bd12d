/* Tasks: spawn, await, detach, done, current, yield, cancel, names, and
 * weft_run's own contract (result, epilogue, nesting, threads). */
#include "core_util.h"
#include <weft/test.h>
#include <pthread.h>

static int ret_arg(void *a) { return (int)(long)a; }

/* ---- spawn / await / done / current ---------------------------------------- */

static int t_basic_main(void *a)
{
    CHECK(weft_current() != NULL);
    CHECK_EQ(weft_task_id(weft_current()), 1); /* main is the first task */
    CHECK(!strcmp(weft_task_name(weft_current()), "main"));
    weft_task *t = weft_spawn(ret_arg, (void *)7L);
    CHECK(t != NULL);
    CHECK_EQ(weft_done(t), 0); /* spawn does not run it */
    CHECK_EQ(weft_task_id(t), 2);
    CHECK(weft_task_name(t) == NULL);
    CHECK_EQ(weft_yield(), 0);
    CHECK_EQ(weft_done(t), 1); /* it ran during the yield */
    CHECK_EQ(weft_await(t), 7);
    weft_task *n = weft_spawn_named("worker", ret_arg, (void *)-5L);
    CHECK(!strcmp(weft_task_name(n), "worker"));
    CHECK_EQ(weft_await(n), -5); /* negative results pass through */
    CHECK_EQ(weft_done(NULL), 0);
    return 3;
}
static void t_basic(void)
{
    CHECK(weft_current() == NULL);
    CHECK_EQ(weft_run(t_basic_main, NULL), 3);
    CHECK(weft_current() == NULL);
}

static weft_task *seen_self;
static int record_self(void *a)
{
    seen_self = weft_current();
    return 0;
}
static int t_current_main(void *a)
{
    weft_task *t = weft_spawn(record_self, NULL);
    CHECK_EQ(weft_await(t) /* frees t, so compare before */ , 0);
    WEFT_TEST_CHECK(seen_self == t);
    return 0;
}

/* ---- yield order ------------------------------------------------------------------ */

static char order[64];
static int order_n;
static int yielder(void *a)
{
    for (int i = 0; i < 3; i++) {
        order[order_n++] = (char)(long)a;
        CHECK_EQ(weft_yield(), 0);
    }
    return 0;
}
static int t_yield_main(void *a)
{
    weft_task *t[3];
    for (long i = 0; i < 3; i++) t[i] = weft_spawn(yielder, (void *)('a' + i));
    CHECK_EQ(weft_gather(t, 3, NULL), 0);
    order[order_n] = 0;
    WEFT_TEST_CHECK(!strcmp(order, "abcabcabc")); /* round robin: each ready task runs once per yield */
    return 0;
}

/* ---- detach ------------------------------------------------------------------------- */

static int detached_ran;
static int detached_body(void *a)
{
    weft_sleep(0.001);
    detached_ran++;
    return 0;
}
static int t_detach_main(void *a)
{
    for (int i = 0; i < 100; i++) weft_detach(weft_spawn(detached_body, NULL));
    weft_task *done = weft_spawn(ret_arg, 0);
    weft_yield();
    WEFT_TEST_CHECK(weft_done(done));
    weft_detach(done); /* detaching a finished task frees it at once */
    weft_detach(NULL); /* no-op */
    weft_sleep(0.02);
    CHECK_EQ(detached_ran, 100);
    return 0;
}

/* ---- cancel ------------------------------------------------------------------------- */

static int sticky_body(void *a)
{
    int *out = a;
    out[0] = weft_sleep(10);  /* cancelled while waiting */
    out[1] = weft_sleep(0);   /* and every later wait */
    out[2] = weft_yield();
    out[3] = weft_sleep(0.001);
    out[4] = weft_cancelled();
    return -ECANCELED;
}
static int t_cancel_sticky_main(void *a)
{
    int out[5] = {0};
    weft_task *t = weft_spawn(sticky_body, out);
    weft_yield(); /* it starts and sleeps */
    double t0 = weft_now();
    weft_cancel(t);
    weft_cancel(t); /* twice is harmless */
    CHECK_EQ(weft_await(t), -ECANCELED);
    WEFT_TEST_CHECK(weft_now() - t0 < 3);
    CHECK_EQ(out[0], -ECANCELED);
    CHECK_EQ(out[1], -ECANCELED);
    CHECK_EQ(out[2], -ECANCELED);
    CHECK_EQ(out[3], -ECANCELED);
    CHECK_EQ(out[4], 1);
    CHECK_EQ(weft_cancelled(), 0);
    return 0;
}

static int ran_before_wait;
static int cancel_before_start_body(void *a)
{
    ran_before_wait = 1; /* a C task must get the chance to release what arg owns */
    return weft_sleep(1);
}
static int t_cancel_before_start_main(void *a)
{
    weft_task *t = weft_spawn(cancel_before_start_body, NULL);
    weft_cancel(t);
    CHECK_EQ(weft_await(t), -ECANCELED);
    CHECK_EQ(ran_before_wait, 1);
    /* cancelling a finished task changes nothing */
    weft_task *d = weft_spawn(ret_arg, (void *)4L);
    weft_yield();
    weft_cancel(d);
    CHECK_EQ(weft_await(d), 4);
    return 0;
}

static int self_cancel_body(void *a)
{
    weft_cancel(weft_current()); /* while running: the next wait fails */
    CHECK_EQ(weft_cancelled(), 1);
    return weft_yield();
}
static int t_self_cancel_main(void *a)
{
    CHECK_EQ(weft_await(weft_spawn(self_cancel_body, NULL)), -ECANCELED);
    return 0;
}

/* Cancelling the awaiter cancels the awaited task (asyncio semantics). */
static int inner_result;
static int inner_body(void *a)
{
    inner_result = weft_sleep(10);
    return 99;
}
static int outer_body(void *a)
{
    weft_task *in = weft_spawn(inner_body, NULL);
    return weft_await(in);
}
static int t_await_propagates_main(void *a)
{
    weft_task *o = weft_spawn(outer_body, NULL);
    weft_sleep(0.005);
    weft_cancel(o);
    CHECK_EQ(weft_await(o), -ECANCELED);
    CHECK_EQ(inner_result, -ECANCELED);
    return 0;
}

/* A result that is ready is returned even to a cancelled awaiter. */
static int t_await_done_when_cancelled_main(void *a)
{
    weft_task *t = weft_spawn(ret_arg, (void *)11L);
    weft_yield();
    weft_cancel(weft_current());
    CHECK_EQ(weft_await(t), 11);
    CHECK_EQ(weft_sleep(0), -ECANCELED);
    return 0;
}

/* ---- misuse of await ----------------------------------------------------------------- */

static void await_misuse(void *unused)
{
    (void)unused;
}
static int t_await_misuse_main(void *a)
{
    weft_task *t = weft_spawn(ret_arg, (void *)1L);
    CHECK_EQ(weft_await(t), 1);
    CHECK_EQ(weft_await(t), -EINVAL); /* awaited twice: the slot is free */
    weft_task *d = weft_spawn(detached_body, NULL);
    weft_detach(d);
    CHECK_EQ(weft_await(d), -EINVAL);
    CHECK_EQ(weft_await(NULL), -EINVAL);
    return 0;
}
static void run_await_misuse(void *a) { CHECK_EQ(weft_run(t_await_misuse_main, NULL), 0); }
static void t_await_misuse(void)
{
    (void)await_misuse;
    char *err = capture_stderr(run_await_misuse, NULL);
    CHECK_STR_HAS(err, "weft_await: task was already awaited and freed");
    CHECK_STR_HAS(err, "weft_await: task is detached");
    CHECK_STR_HAS(err, "weft_await: task is NULL");
    free(err);
}

static int second_awaiter(void *a) { return weft_await((weft_task *)a); }
static int t_await_self_main(void *a)
{
    CHECK_EQ(weft_await(weft_current()), -EDEADLK);
    /* two tasks awaiting one: the second is refused */
    weft_task *slow = weft_spawn(detached_body, NULL);
    weft_task *other = weft_spawn(second_awaiter, slow);
    weft_yield();
    CHECK_EQ(weft_await(slow), -EINVAL);
    CHECK_EQ(weft_await(other), 0); /* it awaited slow first */
    return 0;
}
static void run_await_self(void *a) { CHECK_EQ(weft_run(t_await_self_main, NULL), 0); }
static void t_await_self(void)
{
    char *err = capture_stderr(run_await_self, NULL);
    CHECK_STR_HAS(err, "weft_await: a task cannot await itself");
    CHECK_STR_HAS(err, "already awaited");
    free(err);
}

/* ---- weft_run ------------------------------------------------------------------------ */

static int leftover_state;
static int leftover_body(void *a)
{
    leftover_state = 1;
    int r = weft_sleep(100);
    leftover_state = r == -ECANCELED ? 2 : 3;
    return r;
}
static int t_epilogue_main(void *a)
{
    weft_spawn(leftover_body, NULL); /* neither awaited nor detached */
    weft_yield();
    return 5;
}
static void t_epilogue(void)
{
    double t0 = mono();
    CHECK_EQ(weft_run(t_epilogue_main, NULL), 5);
    CHECK_EQ(leftover_state, 2); /* cancelled and run to its end */
    CHECK(mono() - t0 < 5);
}

static int nested_main(void *a) { return weft_run(ret_arg, (void *)1L); }
static void t_run_misuse(void)
{
    CHECK_EQ(weft_run(nested_main, NULL), -EBUSY);
    CHECK_EQ(weft_run(NULL, NULL), -EINVAL);
    weft_options o = {.stack_size = 64 * 1024, .threads = 2};
    CHECK_EQ(weft_run_with(&o, ret_arg, (void *)8L), 8);
    CHECK_EQ(weft_run_with(NULL, ret_arg, (void *)9L), 9);
}

static int spawn_outside(void)
{
    errno = 0;
    weft_task *t = weft_spawn(ret_arg, NULL);
    return t == NULL && errno == EPERM;
}
static void run_spawn_outside(void *a) { CHECK(spawn_outside()); }
static int spawn_null_main(void *a)
{
    errno = 0;
    CHECK(weft_spawn(NULL, NULL) == NULL);
    CHECK_EQ(errno, EINVAL);
    return 0;
}
static void t_spawn_misuse(void)
{
    char *err = capture_stderr(run_spawn_outside, NULL);
    CHECK_STR_HAS(err, "outside a running loop");
    free(err);
    CHECK_EQ(weft_run(spawn_null_main, NULL), 0);
}

/* One loop per thread: loops in two threads at once do not interfere. */
static int thread_loop_main(void *a)
{
    long k = (long)a;
    weft_task *t[50];
    for (long i = 0; i < 50; i++) t[i] = weft_spawn(ret_arg, (void *)(i * k));
    int res[50];
    CHECK_EQ(weft_gather(t, 50, res), 0);
    for (int i = 0; i < 50; i++) CHECK_EQ(res[i], i * k);
    for (int i = 0; i < 20; i++) CHECK_EQ(weft_sleep(0.001), 0);
    return (int)k;
}
static void *thread_body(void *a) { return (void *)(long)weft_run(thread_loop_main, a); }
static void t_threads(void)
{
    pthread_t th[3];
    for (long i = 0; i < 3; i++) CHECK_EQ(pthread_create(&th[i], NULL, thread_body, (void *)(i + 1)), 0);
    for (long i = 0; i < 3; i++) {
        void *r;
        pthread_join(th[i], &r);
        CHECK_EQ((long)r, i + 1);
    }
    /* and the main thread can still run its own afterwards */
    CHECK_EQ(weft_run(thread_loop_main, (void *)4L), 4);
}

/* Many tasks that end without waiting, spawned in bursts. */
static long sum;
static int add_body(void *a)
{
    sum += (long)a;
    return 0;
}
static int t_burst_main(void *a)
{
    enum { N = 100000 };
    static weft_task *t[N];
    for (int round = 0; round < 3; round++) {
        for (long i = 0; i < N; i++) WEFT_TEST_CHECK((t[i] = weft_spawn(add_body, (void *)i)) != NULL);
        CHECK_EQ(weft_gather(t, N, NULL), 0);
    }
    CHECK_EQ(sum, 3L * N * (N - 1) / 2);
    return 0;
}

/* SIGINT cancels the main task. */
static int sigint_main(void *a)
{
    kill(getpid(), SIGINT);
    int r = weft_sleep(5);
    return r;
}
static void t_sigint(void)
{
    /* A parent may start us with SIGINT ignored (a shell's `cmd &`, so
     * tools/valgrind.sh in a backgrounded CI run; ctest resets it), and weft
     * then leaves SIGINT alone: test the usual case. */
    signal(SIGINT, SIG_DFL);
    CHECK_EQ(weft_run(sigint_main, NULL), -ECANCELED);
}

/* The loop clock. */
static int now_main(void *a)
{
    double a0 = weft_now();
    CHECK_NEAR(a0, mono(), 1.0); /* same clock; slack for a loaded machine */
    weft_sleep(0.02);
    double a1 = weft_now();
    CHECK(a1 - a0 >= 0.02);
    CHECK(a1 - a0 < 3);
    return 0;
}
static void t_now(void)
{
    CHECK_NEAR(weft_now(), mono(), 1.0);
    CHECK_EQ(weft_test_run("now", now_main, NULL, NULL), 0);
}

static const weft_test_case cases[] = {
    {"current", t_current_main},
    {"yield", t_yield_main},
    {"detach", t_detach_main},
    {"cancel_sticky", t_cancel_sticky_main},
    {"cancel_before_start", t_cancel_before_start_main},
    {"self_cancel", t_self_cancel_main},
    {"await_propagates", t_await_propagates_main},
    {"await_done_when_cancelled", t_await_done_when_cancelled_main},
    {"burst", t_burst_main},
};
/* weft_run's own contract (main's id and result, the epilogue, nesting,
 * loops on threads, SIGINT), misuse read back from its reports, calls
 * outside a loop */
static const test_case plain[] = {
    {"basic", t_basic},
    {"await_misuse", t_await_misuse},
    {"await_self", t_await_self},
    {"epilogue", t_epilogue},
    {"run_misuse", t_run_misuse},
    {"spawn_misuse", t_spawn_misuse},
    {"threads", t_threads},
    {"sigint", t_sigint},
    {"now", t_now},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    return RUN_CASES_THEN_PLAIN(cases, plain, argc, argv);
}
