/* Several loops in one run: loop handles, weft_spawn_on, weft_call,
 * weft_post, and task handles awaited, cancelled and detached across loops,
 * at every state of the task, with real threads. (weft_chan: test_core_chan.c.) */
#include "core_util.h"
#include <pthread.h>

static int run_loops(int n, weft_fn fn, void *arg)
{
    weft_options o = {.loops = n};
    return weft_run_with(&o, fn, arg);
}

static int my_loop(void *a)
{
    (void)a;
    return weft_loop_index(weft_loop_current());
}

static int sleeper(void *a)
{
    int *ended = a;
    int r = weft_sleep(INFINITY);
    if (ended) __atomic_store_n(ended, 1, __ATOMIC_SEQ_CST);
    return r;
}

/* ---- handles and spawning ---------------------------------------------------- */

static pthread_t main_thread;
static int other_thread(void *a)
{
    (void)a;
    return !pthread_equal(pthread_self(), main_thread);
}

static int count_loops(void *a)
{
    (void)a;
    return weft_loop_count();
}

static int t_basics_main(void *a)
{
    CHECK_EQ(weft_loop_count(), 3);
    CHECK(weft_loop_at(0) == weft_loop_current());
    CHECK_EQ(weft_loop_index(weft_loop_at(2)), 2);
    CHECK(weft_loop_at(3) == NULL);
    CHECK(weft_loop_at(-1) == NULL);
    CHECK_EQ(weft_loop_index(NULL), -1);
    for (int i = 0; i < 3; i++) {
        weft_task *t = weft_spawn_on(weft_loop_at(i), my_loop, NULL);
        CHECK(t);
        CHECK_EQ(weft_await(t), i);
        CHECK_EQ(weft_call(weft_loop_at(i), my_loop, NULL), i);
    }
    CHECK_EQ(weft_call(weft_loop_at(1), other_thread, NULL), 1);
    CHECK_EQ(weft_call(weft_loop_at(0), other_thread, NULL), 0);
    errno = 0;
    CHECK(weft_spawn_on(NULL, my_loop, NULL) == NULL && errno == EINVAL);
    CHECK(weft_spawn_on(weft_loop_at(1), NULL, NULL) == NULL && errno == EINVAL);
    CHECK_EQ(weft_call(weft_loop_at(1), NULL, NULL), -EINVAL);
    CHECK_EQ(weft_post(NULL, my_loop, NULL), -EINVAL);
    return 0;
}
static void t_basics(void)
{
    main_thread = pthread_self();
    CHECK(weft_loop_current() == NULL);
    CHECK_EQ(weft_loop_count(), 0);
    CHECK(weft_loop_at(0) == NULL);
    CHECK_EQ(run_loops(3, t_basics_main, NULL), 0);
    /* WEFT_LOOPS when the options say nothing; a plain run has one loop. */
    setenv("WEFT_LOOPS", "2", 1);
    CHECK_EQ(weft_run_with(NULL, count_loops, NULL), 2);
    setenv("WEFT_LOOPS", "auto", 1);
    CHECK_EQ(weft_run_with(NULL, count_loops, NULL), (int)sysconf(_SC_NPROCESSORS_ONLN));
    unsetenv("WEFT_LOOPS");
    CHECK_EQ(weft_run(count_loops, NULL), 1);
    weft_options bad = {.loops = -1};
    CHECK_EQ(weft_run_with(&bad, count_loops, NULL), -EINVAL);
}

/* ---- a handle of another loop's task, at every state ---------------------- */

static int quick(void *a) { return (int)(long)a; }
static int yielder(void *a)
{
    for (int i = 0; i < 20; i++) weft_yield();
    return (int)(long)a;
}

static int sleeper7(void *a)
{
    (void)a;
    return weft_sleep(INFINITY);
}

/* Spawns on this loop; the handle goes to the caller on another loop. */
static weft_task *handed;
static int make_handle(void *fn)
{
    handed = weft_spawn((weft_fn)fn, (void *)7L);
    return handed ? 0 : -ENOMEM;
}

static int t_states_main(void *a)
{
    weft_loop *l1 = weft_loop_at(1);
    /* spawn_on handles: awaited before start, while running, after end. */
    weft_task *t = weft_spawn_on(l1, quick, (void *)5L);
    CHECK_EQ(weft_await(t), 5);
    t = weft_spawn_on(l1, yielder, (void *)6L);
    weft_sleep(0.001);
    CHECK_EQ(weft_await(t), 6);
    t = weft_spawn_on(l1, quick, (void *)8L);
    for (int i = 0; i < 2000 && !weft_done(t); i++) weft_sleep(0.001);
    CHECK(weft_done(t));
    CHECK_EQ(weft_await(t), 8);

    /* Cancelled before it started: it still starts, its first wait fails. */
    int ended = 0;
    t = weft_spawn_on(l1, sleeper, &ended);
    weft_cancel(t);
    CHECK_EQ(weft_await(t), -ECANCELED);
    CHECK(ended);
    /* Cancelled while waiting, twice (the second is a no-op). */
    ended = 0;
    t = weft_spawn_on(l1, sleeper, &ended);
    weft_sleep(0.01);
    weft_cancel(t);
    weft_cancel(t);
    CHECK_EQ(weft_await(t), -ECANCELED);
    CHECK(ended);
    /* Cancelled after it ended: its result stays. */
    t = weft_spawn_on(l1, quick, (void *)9L);
    for (int i = 0; i < 2000 && !weft_done(t); i++) weft_sleep(0.001);
    weft_cancel(t);
    CHECK_EQ(weft_await(t), 9);
    /* Detached across: freed when it ends (ASan would see a leak). */
    t = weft_spawn_on(l1, yielder, (void *)1L);
    weft_detach(t);
    /* wait_for across loops: the task is cancelled at the limit. */
    ended = 0;
    t = weft_spawn_on(l1, sleeper, &ended);
    CHECK_EQ(weft_wait_for(t, 0.02), -ETIMEDOUT);
    CHECK(ended);

    /* A handle made on loop 1 (an ordinary weft_spawn there), used here. */
    CHECK_EQ(weft_call(l1, make_handle, (void *)quick), 0);
    CHECK_EQ(weft_await(handed), 7);
    CHECK_EQ(weft_call(l1, make_handle, (void *)yielder), 0);
    CHECK_EQ(weft_await(handed), 7);
    CHECK_EQ(weft_call(l1, make_handle, (void *)sleeper7), 0);
    weft_sleep(0.005);
    weft_cancel(handed);
    CHECK_EQ(weft_await(handed), -ECANCELED);
    CHECK_EQ(weft_call(l1, make_handle, (void *)sleeper7), 0);
    CHECK_EQ(weft_wait_for(handed, 0.01), -ETIMEDOUT);
    CHECK_EQ(weft_call(l1, make_handle, (void *)yielder), 0);
    weft_detach(handed);
    CHECK_EQ(weft_call(l1, make_handle, (void *)quick), 0);
    for (int i = 0; i < 2000 && !weft_done(handed); i++) weft_sleep(0.001);
    CHECK(weft_done(handed));
    weft_task *two[2] = {handed, weft_spawn_on(l1, quick, (void *)3L)};
    int res[2];
    CHECK_EQ(weft_gather(two, 2, res), 0);
    CHECK_EQ(res[0], 7);
    CHECK_EQ(res[1], 3);
    return 0;
}
static void t_states(void) { CHECK_EQ(run_loops(2, t_states_main, NULL), 0); }

/* ---- the awaiting task cancelled, or past its deadline --------------------- */

static int await_it(void *t) { return weft_await(t); }
static int call_sleeper(void *ended) { return weft_call(weft_loop_at(1), sleeper, ended); }
static int call_quick(void *a) { return weft_call(weft_loop_at(1), quick, a); }

static int t_interrupt_main(void *a)
{
    weft_loop *l1 = weft_loop_at(1);
    /* Cancelling a task that awaits a task of another loop cancels that one too. */
    int ended = 0;
    weft_task *t = weft_spawn_on(l1, sleeper, &ended);
    weft_task *w = weft_spawn(await_it, t);
    weft_sleep(0.01);
    weft_cancel(w);
    CHECK_EQ(weft_await(w), -ECANCELED);
    CHECK(ended);
    /* weft_call: the caller cancelled returns -ECANCELED once fn's task ended. */
    ended = 0;
    w = weft_spawn(call_sleeper, &ended);
    weft_sleep(0.01);
    weft_cancel(w);
    CHECK_EQ(weft_await(w), -ECANCELED);
    CHECK(ended);
    /* A caller already cancelled does not call. */
    w = weft_spawn(call_quick, (void *)4L);
    weft_cancel(w);
    CHECK_EQ(weft_await(w), -ECANCELED);
    /* Deadlines. */
    ended = 0;
    CHECK_EQ(weft_timeout(0.02, call_sleeper, &ended), -ETIMEDOUT);
    CHECK(ended);
    CHECK_EQ(weft_timeout(5, call_quick, (void *)4L), 4);
    return 0;
}
static void t_interrupt(void) { CHECK_EQ(run_loops(2, t_interrupt_main, NULL), 0); }

/* ---- weft_post and weft_call from threads outside the run --------------------- */

enum { POSTERS = 8 };
static long posted_ran;
static int count_post(void *a)
{
    (void)a;
    __atomic_add_fetch(&posted_ran, 1, __ATOMIC_SEQ_CST);
    return 0;
}

typedef struct poster {
    pthread_t th;
    weft_loop *to;
    long accepted;
    long calls_ok;
    int stop_at_shutdown;
    int n;
} poster;

static void *post_storm(void *p)
{
    poster *P = p;
    for (int i = 0; P->stop_at_shutdown || i < P->n; i++) {
        int r = weft_post(P->to, count_post, NULL);
        if (r == -ESHUTDOWN) break;
        CHECK_EQ(r, 0);
        P->accepted++;
        if (i % 64 == 0) {
            r = weft_call(P->to, quick, (void *)2L);
            if (r == -ESHUTDOWN) break;
            /* A call taken while the run ends still runs (cancelled if its loop ends). */
            CHECK(r == 2 || r == -ECANCELED);
            P->calls_ok++;
        }
    }
    return NULL;
}

static poster posters[POSTERS];

static int t_storm_main(void *a)
{
    posted_ran = 0;
    for (int i = 0; i < POSTERS; i++) {
        posters[i] = (poster){.to = weft_loop_at(i % 2), .n = 2000};
        CHECK_EQ(pthread_create(&posters[i].th, NULL, post_storm, &posters[i]), 0);
    }
    /* Every post runs: wait for them (the loop keeps running meanwhile). */
    long want = (long)POSTERS * 2000;
    for (int i = 0; i < 30000 && __atomic_load_n(&posted_ran, __ATOMIC_SEQ_CST) < want; i++)
        weft_sleep(0.001);
    CHECK_EQ(__atomic_load_n(&posted_ran, __ATOMIC_SEQ_CST), want);
    return 0;
}
static void t_storm(void)
{
    CHECK_EQ(run_loops(2, t_storm_main, NULL), 0);
    for (int i = 0; i < POSTERS; i++) pthread_join(posters[i].th, NULL);
}

/* The run ends while posts and calls keep coming: each post is run or
 * refused (-ESHUTDOWN), never lost nor leaked. */
static int t_ending_main(void *a)
{
    posted_ran = 0;
    for (int i = 0; i < POSTERS; i++) {
        posters[i] = (poster){.to = weft_loop_at(i % 2), .stop_at_shutdown = 1};
        CHECK_EQ(pthread_create(&posters[i].th, NULL, post_storm, &posters[i]), 0);
    }
    while (__atomic_load_n(&posted_ran, __ATOMIC_SEQ_CST) < 1000) weft_sleep(0.001);
    return 0;
}
static void t_ending(void)
{
    CHECK_EQ(run_loops(2, t_ending_main, NULL), 0);
    long accepted = 0;
    for (int i = 0; i < POSTERS; i++) {
        pthread_join(posters[i].th, NULL);
        accepted += posters[i].accepted;
    }
    CHECK_EQ(__atomic_load_n(&posted_ran, __ATOMIC_SEQ_CST), accepted);
}

/* A post to a single-loop run from a thread: the loop, idle, wakes for it. */
static void *post_later(void *l)
{
    usleep(20000);
    CHECK_EQ(weft_post(l, count_post, NULL), 0);
    CHECK_EQ(weft_call(l, quick, (void *)11L), 11);
    return NULL;
}
static int join_th(void *a)
{
    return pthread_join(*(pthread_t *)a, NULL);
}
static int t_single_main2(void *a)
{
    posted_ran = 0;
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, post_later, weft_loop_current()), 0);
    for (int i = 0; i < 5000 && !__atomic_load_n(&posted_ran, __ATOMIC_SEQ_CST); i++) weft_sleep(0.001);
    CHECK_EQ(__atomic_load_n(&posted_ran, __ATOMIC_SEQ_CST), 1);
    CHECK_EQ(weft_to_thread(join_th, &th), 0);
    return 0;
}
static void t_single(void)
{
    CHECK_EQ(weft_run(t_single_main2, NULL), 0);
}

/* Many spawns across loops, each awaited. */
static int t_many_main(void *a)
{
    enum { N = 20000 };
    weft_task **t = malloc(N * sizeof *t);
    for (int i = 0; i < N; i++) CHECK((t[i] = weft_spawn_on(weft_loop_at(i % 2), quick, (void *)(long)(i & 1023))));
    for (int i = 0; i < N; i++) CHECK_EQ(weft_await(t[i]), i & 1023);
    free(t);
    return 0;
}
static void t_many(void) { CHECK_EQ(run_loops(2, t_many_main, NULL), 0); }

/* Main returns with tasks alive on every loop: all are cancelled and end. */
static int stuck_count;
static int stuck(void *a)
{
    weft_sleep(INFINITY);
    __atomic_add_fetch(&stuck_count, 1, __ATOMIC_SEQ_CST);
    return 0;
}
static int spawn_stuck(void *a)
{
    for (int i = 0; i < 10; i++) weft_detach(weft_spawn(stuck, NULL));
    return 0;
}
static int t_shutdown_main(void *a)
{
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(weft_call(weft_loop_at(i), spawn_stuck, NULL), 0);
        weft_detach(weft_spawn_on(weft_loop_at(i), stuck, NULL));
        /* Left un-awaited on purpose: a handle of another loop. */
        weft_spawn_on(weft_loop_at((i + 1) % 3), stuck, NULL);
    }
    return 42;
}
static void t_shutdown(void)
{
    stuck_count = 0;
    CHECK_EQ(run_loops(3, t_shutdown_main, NULL), 42);
    CHECK_EQ(stuck_count, 36);
}

/* Loop-local objects used from another loop's task: -EXDEV, nothing touched. */
typedef struct objs {
    weft_sem *sem;
    weft_lock *lock;
    weft_event *ev;
    weft_cond *cond;
    weft_queue *q;
    weft_group *g;
} objs;
static int use_objs(void *a)
{
    objs *o = a;
    void *it;
    CHECK_EQ(weft_sem_acquire(o->sem), -EXDEV);
    CHECK_EQ(weft_lock_acquire(o->lock), -EXDEV);
    CHECK_EQ(weft_event_wait(o->ev), -EXDEV);
    CHECK_EQ(weft_cond_wait(o->cond, o->lock), -EXDEV);
    CHECK_EQ(weft_queue_put(o->q, (void *)1L), -EXDEV);
    CHECK_EQ(weft_queue_get(o->q, &it), -EXDEV);
    CHECK_EQ(weft_group_spawn(o->g, quick, NULL), -EXDEV);
    CHECK_EQ(weft_group_wait(o->g), -EXDEV);
    return 0;
}
static int t_xdev_main(void *a)
{
    objs o = {weft_sem_new(1), weft_lock_new(), weft_event_new(), weft_cond_new(),
              weft_queue_new(4), weft_group_new()};
    CHECK_EQ(weft_group_spawn(o.g, quick, NULL), 0);
    CHECK_EQ(weft_call(weft_loop_at(1), use_objs, &o), 0);
    /* Untouched: still usable here. */
    CHECK_EQ(weft_sem_value(o.sem), 1);
    CHECK_EQ(weft_queue_size(o.q), 0);
    CHECK_EQ(weft_group_wait(o.g), 0);
    weft_sem_free(o.sem);
    weft_lock_free(o.lock);
    weft_event_free(o.ev);
    weft_cond_free(o.cond);
    weft_queue_free(o.q);
    return 0;
}
static void t_xdev(void) { CHECK_EQ(run_loops(2, t_xdev_main, NULL), 0); }

/* A handle kept from an ended run: the next run of as many loops reuses the
 * fleet (same addresses), and the handle must not reach it: posts and calls
 * through it get -ESHUTDOWN (from the run and from a foreign thread),
 * weft_spawn_on NULL and ESHUTDOWN; nothing runs. */
static weft_loop *stale;
static int keep_handle(void *a)
{
    (void)a;
    stale = weft_loop_at(1);
    return weft_call(stale, quick, (void *)3L) == 3 ? 0 : -EIO;
}
static void *post_stale(void *a)
{
    (void)a;
    CHECK_EQ(weft_post(stale, count_post, NULL), -ESHUTDOWN);
    CHECK_EQ(weft_call(stale, quick, (void *)1L), -ESHUTDOWN);
    return NULL;
}
static int use_stale(void *a)
{
    (void)a;
    posted_ran = 0;
    CHECK(weft_loop_at(1) != stale);              /* a new handle for the same loop */
    CHECK_EQ(weft_loop_index(stale), 1);
    CHECK_EQ(weft_post(stale, count_post, NULL), -ESHUTDOWN);
    CHECK_EQ(weft_call(stale, quick, (void *)1L), -ESHUTDOWN);
    errno = 0;
    CHECK(weft_spawn_on(stale, quick, NULL) == NULL && errno == ESHUTDOWN);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, post_stale, NULL), 0);
    CHECK_EQ(weft_to_thread(join_th, &th), 0);
    CHECK_EQ(weft_call(weft_loop_at(1), quick, (void *)5L), 5); /* the fresh one works */
    weft_sleep(0.01);
    CHECK_EQ(__atomic_load_n(&posted_ran, __ATOMIC_SEQ_CST), 0);
    return 0;
}
static void t_stale(void)
{
    CHECK_EQ(run_loops(2, keep_handle, NULL), 0);
    CHECK_EQ(weft_post(stale, count_post, NULL), -ESHUTDOWN); /* between runs */
    CHECK_EQ(run_loops(2, use_stale, NULL), 0);
}

/* SIGINT in a run of several loops (a real signal, in a child): main is
 * cancelled, the run ends, and every loop shuts down (loop 1's task is
 * cancelled and awaited, its thread joined). */
static int sig_ended;
static void *raise_int(void *a)
{
    (void)a;
    usleep(50000);
    kill(getpid(), SIGINT);
    return NULL;
}
static int sigint_main(void *a)
{
    (void)a;
    CHECK(weft_spawn_on(weft_loop_at(1), sleeper, &sig_ended) != NULL);
    CHECK(weft_spawn_on(weft_loop_at(2), sleeper, NULL) != NULL);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, raise_int, NULL), 0);
    pthread_detach(th);
    return weft_sleep(INFINITY);
}
static void sigint_child(void *a)
{
    (void)a;
    alarm(10);
    CHECK_EQ(run_loops(3, sigint_main, NULL), -ECANCELED);
    CHECK_EQ(__atomic_load_n(&sig_ended, __ATOMIC_SEQ_CST), 1);
}
static void t_sigint(void)
{
    char *err;
    int st = in_child(sigint_child, NULL, &err);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) fprintf(stderr, "%s", err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    free(err);
}

int main(int argc, char **argv)
{
    static const test_case tests[] = {
        {"basics", t_basics},     {"states", t_states}, {"interrupt", t_interrupt},
        {"storm", t_storm},       {"ending", t_ending}, {"single", t_single},
        {"many", t_many},         {"shutdown", t_shutdown}, {"xdev", t_xdev},
        {"stale", t_stale},       {"sigint", t_sigint}, {NULL, NULL}};
    return run_tests(tests, argc, argv);
}
