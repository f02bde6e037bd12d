/* weft_to_thread: results, the loop running meanwhile, the pool size,
 * waiting for fn after a cancel. (Interruption at the wait point is in
 * test_core_cancel.c.) */
#include "core_util.h"
#include <weft/test.h>
#include <pthread.h>

static int ticks;
static int blocking(void *a)
{
    usleep(30 * 1000);
    /* The loop ticks meanwhile. Waited for rather than assumed: on a loaded
     * machine (qemu, seen in CI) it may get no CPU within 30 ms. */
    for (int i = 0; i < 10000 && __atomic_load_n(&ticks, __ATOMIC_RELAXED) < 3; i++) usleep(1000);
    return (int)(long)a;
}

static int ticker(void *a)
{
    for (;;) {
        if (weft_sleep(0.002) < 0) return 0;
        __atomic_add_fetch(&ticks, 1, __ATOMIC_RELAXED);
    }
}
static int t_basic_main(void *a)
{
    weft_task *tk = weft_spawn(ticker, NULL);
    double t0 = weft_now();
    CHECK_EQ(weft_to_thread(blocking, (void *)9L), 9);
    WEFT_TEST_CHECK(weft_now() - t0 >= 0.029);
    WEFT_TEST_CHECK(ticks >= 3); /* the loop kept running */
    weft_cancel(tk);
    weft_await(tk);
    CHECK_EQ(weft_to_thread(NULL, NULL), -EINVAL);
    return 0;
}

/* Jobs run in parallel up to the pool size, queue beyond it. */
static int running_now, max_running;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int counted(void *a)
{
    pthread_mutex_lock(&mu);
    if (++running_now > max_running) __atomic_store_n(&max_running, running_now, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&mu);
    /* Until 3 ran at once (at most 2 s): a loaded machine may start a pool
     * thread more than 20 ms late, so the 3 would never overlap by chance.
     * A pool of 2 never gets there (the check below fails); one of 4 or
     * more goes past 3 (it fails too). */
    for (int i = 0; i < 2000 && __atomic_load_n(&max_running, __ATOMIC_RELAXED) < 3; i++)
        usleep(1000);
    usleep(20 * 1000);
    pthread_mutex_lock(&mu);
    running_now--;
    pthread_mutex_unlock(&mu);
    return (int)(long)a;
}
static int job_task(void *a) { return weft_to_thread(counted, a); }
static int t_pool_main(void *a)
{
    enum { N = 12 };
    weft_task *t[N];
    for (long i = 0; i < N; i++) t[i] = weft_spawn(job_task, (void *)i);
    int res[N];
    double t0 = weft_now();
    CHECK_EQ(weft_gather(t, N, res), 0);
    double took = weft_now() - t0;
    for (int i = 0; i < N; i++) CHECK_EQ(res[i], i);
    CHECK_EQ(max_running, 3); /* options.threads */
    CHECK(took >= 0.079);     /* 12 jobs of 20 ms on 3 threads: 4 rounds */
    return 0;
}
static void t_pool(void)
{
    weft_options o = {.threads = 3};
    CHECK_EQ(weft_run_with(&o, t_pool_main, NULL), 0);
}

/* Cancelled while fn runs: returns only once fn is done. */
typedef struct {
    volatile int done;
    int seen;
    int cancelled; /* set once the caller was cancelled */
} flag;
static int sets_flag(void *a)
{
    usleep(40 * 1000);
    ((flag *)a)->done = 1;
    return 0;
}
/* Ends 40 ms after its caller was cancelled (waited for, at most 5 s: a
 * fixed sleep ended before the cancel on a loaded machine). */
static int sets_flag_after_cancel(void *a)
{
    flag *f = a;
    for (int i = 0; i < 5000 && !__atomic_load_n(&f->cancelled, __ATOMIC_ACQUIRE); i++) usleep(1000);
    return sets_flag(f);
}
static int cancelled_caller(void *a)
{
    flag *f = a;
    int r = weft_to_thread(sets_flag_after_cancel, f);
    f->seen = f->done;
    return r;
}
static int t_cancel_waits_main(void *a)
{
    flag f = {0, 0, 0};
    weft_task *t = weft_spawn(cancelled_caller, &f);
    weft_sleep(0.005);
    double t0 = weft_now();
    weft_cancel(t);
    __atomic_store_n(&f.cancelled, 1, __ATOMIC_RELEASE);
    CHECK_EQ(weft_await(t), -ECANCELED);
    CHECK_EQ(f.seen, 1);
    WEFT_TEST_CHECK(weft_now() - t0 >= 0.02);
    return 0;
}

/* Main ends while a job runs: the loop waits for it before closing. */
static flag leftover;
static int leave_job(void *a) { return weft_to_thread(sets_flag, &leftover); }
static int t_leftover_main(void *a)
{
    weft_spawn(leave_job, NULL);
    weft_yield();
    return 0;
}
static void t_leftover(void)
{
    CHECK_EQ(weft_run(t_leftover_main, NULL), 0);
    CHECK_EQ(leftover.done, 1);
}

/* Many short jobs: completions batched through one eventfd. */
static int quick(void *a) { return (int)(long)a + 1; }
static int many_job(void *a) { return weft_to_thread(quick, a); }
static int t_many_main(void *a)
{
    enum { N = 2000 };
    static weft_task *t[N];
    static int res[N];
    for (long i = 0; i < N; i++) t[i] = weft_spawn(many_job, (void *)i);
    CHECK_EQ(weft_gather(t, N, res), 0);
    for (int i = 0; i < N; i++) CHECK_EQ(res[i], i + 1);
    return 0;
}

/* One pool for the run: jobs from two loops share options.threads workers
 * (3 at once at most, not 3 a loop), each result reaches its own loop, and
 * a storm of quick jobs from both loops loses none (TSan: make tsan). */
static int t_shared_main(void *a)
{
    enum { N = 12, Q = 2000 };
    running_now = max_running = 0;
    weft_task *t[N];
    for (long i = 0; i < N; i++)
        t[i] = i % 2 ? weft_spawn_on(weft_loop_at(1), job_task, (void *)i) : weft_spawn(job_task, (void *)i);
    int res[N];
    CHECK_EQ(weft_gather(t, N, res), 0);
    for (int i = 0; i < N; i++) CHECK_EQ(res[i], i);
    CHECK_EQ(max_running, 3);
    static weft_task *q[Q];
    for (long i = 0; i < Q; i++)
        q[i] = i % 2 ? weft_spawn_on(weft_loop_at(1), many_job, (void *)i) : weft_spawn(many_job, (void *)i);
    static int qres[Q];
    CHECK_EQ(weft_gather(q, Q, qres), 0);
    for (int i = 0; i < Q; i++) CHECK_EQ(qres[i], i + 1);
    return 0;
}
static void t_shared(void)
{
    weft_options o = {.threads = 3, .loops = 2};
    CHECK_EQ(weft_run_with(&o, t_shared_main, NULL), 0);
}

static const weft_test_case cases[] = {
    {"basic", t_basic_main},
    {"cancel_waits", t_cancel_waits_main},
    {"many", t_many_main},
};
/* weft_options weft_test_run has no say in (.threads, .loops), and
 * weft_run's end waiting for a thread job left behind */
static const test_case plain[] = {
    {"pool", t_pool},
    {"leftover", t_leftover},
    {"shared_by_loops", t_shared},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    return RUN_CASES_THEN_PLAIN(cases, plain, argc, argv);
}
