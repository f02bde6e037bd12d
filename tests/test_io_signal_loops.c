/* Issue 10 item 16: SIGINT across several loops (weft_run on threads) and
 * weft_signal_wait, with real signals sent to the process. Each case runs in
 * a child process, so a SIGINT that kills is reported as a failure rather
 * than taking the test runner with it:
 *  - a task waiting for SIGINT keeps getting it after another loop's run ends
 *    (the run's end must not put back a disposition under the waiter);
 *  - once every run and wait has ended, SIGINT is back at its default, and a
 *    new run is cancelled by it (no stale handler that swallows Ctrl-C);
 *  - a user's handler installed before the runs is left alone while nobody
 *    waits and is what SIGINT runs afterwards;
 *  - runs starting and ending on two threads while a third loop always has
 *    a waiter: every SIGINT reaches the waiter, none cancels a run or kills;
 *  - with nobody waiting, SIGINT cancels every running loop's main task;
 *  - debug mode's SIGUSR1 handler is not put back to SIG_DFL at its loop's
 *    end under another loop's weft_signal_wait(SIGUSR1) (that killed).
 * The churn case is the one to run under ThreadSanitizer (docs/design.md,
 * "Signals, threads, sanitizers"). */
#include <weft/io.h>
#include "check.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Spins (sleeping) until *flag is set; fails after 20 s. */
static void await_flag(_Atomic int *flag, int value)
{
    double end = mono() + 20;
    while (atomic_load(flag) < value) {
        CHECK(mono() < end);
        usleep(1000);
    }
}

static int sigint_handler_is(void (*h)(int))
{
    struct sigaction sa;
    sigaction(SIGINT, NULL, &sa);
    return !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == h;
}

static int wait_sigint(void *arg)
{
    int sig = SIGINT;
    return weft_signal_wait(&sig, 1);
}

/* ---- one loop that runs until released ------------------------------------- */

static _Atomic int a_running, a_release;

static int a_main(void *arg)
{
    atomic_fetch_add(&a_running, 1);
    while (!atomic_load(&a_release))
        if (weft_sleep(0.002) < 0) return -ECANCELED;
    return 0;
}

static void *run_a(void *res)
{
    *(int *)res = weft_run(a_main, NULL);
    return NULL;
}

/* ---- one loop whose task waits for SIGINT (up to wait_s) -------------------- */

static _Atomic int b_waiting;
static double b_wait_s;

static int b_waiter(void *arg) { return weft_timeout(b_wait_s, wait_sigint, NULL); }

static int b_main(void *arg)
{
    weft_task *w = weft_spawn(b_waiter, NULL);
    /* The waiter registers as soon as it first runs: one short sleep lets it. */
    CHECK_EQ(weft_sleep(0.02), 0);
    atomic_store(&b_waiting, 1);
    return weft_await(w);
}

static void *run_b(void *res)
{
    *(int *)res = weft_run(b_main, NULL);
    return NULL;
}

/* Run A, then B waits for SIGINT, then A ends. */
static void a_then_b_waits_then_a_ends(pthread_t *ta, int *ra, pthread_t *tb, int *rb)
{
    CHECK_EQ(pthread_create(ta, NULL, run_a, ra), 0);
    await_flag(&a_running, 1);
    CHECK_EQ(pthread_create(tb, NULL, run_b, rb), 0);
    await_flag(&b_waiting, 1);
    atomic_store(&a_release, 1);
    CHECK_EQ(pthread_join(*ta, NULL), 0);
    CHECK_EQ(*ra, 0);
}

/* The waiter in B must still get SIGINT after A's run ended. */
static void waiter_outlives_run(void)
{
    pthread_t ta, tb;
    int ra = -1, rb = -1;
    b_wait_s = 30;
    a_then_b_waits_then_a_ends(&ta, &ra, &tb, &rb);
    kill(getpid(), SIGINT);
    CHECK_EQ(pthread_join(tb, NULL), 0);
    CHECK_EQ(rb, SIGINT);
    CHECK(sigint_handler_is(SIG_DFL));
}

static int cancelled_main(void *arg)
{
    kill(getpid(), SIGINT);
    return weft_sleep(10);
}

/* B's wait ends without a signal after A's run ended: no disposition of
 * either may stay behind. */
static void no_stale_handler(void)
{
    pthread_t ta, tb;
    int ra = -1, rb = -1;
    b_wait_s = 0.2;
    a_then_b_waits_then_a_ends(&ta, &ra, &tb, &rb);
    CHECK_EQ(pthread_join(tb, NULL), 0);
    CHECK_EQ(rb, -ETIMEDOUT);
    CHECK(sigint_handler_is(SIG_DFL));
    /* And a new run is cancelled by Ctrl-C again. */
    double t0 = mono();
    CHECK_EQ(weft_run(cancelled_main, NULL), -ECANCELED);
    CHECK(mono() - t0 < 5);
    CHECK(sigint_handler_is(SIG_DFL));
}

static _Atomic int user_calls;
static void user_handler(int sig) { atomic_fetch_add(&user_calls, 1); }

/* A user's handler, installed before any run: weft's runs leave it in place
 * (SIGINT does not cancel A), a waiter takes SIGINT from it while it waits,
 * and it is what SIGINT runs at the end. */
static void user_handler_restored(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = user_handler;
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(SIGINT, &sa, NULL), 0);
    pthread_t ta, tb;
    int ra = -1, rb = -1;
    CHECK_EQ(pthread_create(&ta, NULL, run_a, &ra), 0);
    await_flag(&a_running, 1);
    kill(getpid(), SIGINT);
    await_flag(&user_calls, 1);
    b_wait_s = 30;
    CHECK_EQ(pthread_create(&tb, NULL, run_b, &rb), 0);
    await_flag(&b_waiting, 1);
    atomic_store(&a_release, 1);
    CHECK_EQ(pthread_join(ta, NULL), 0);
    CHECK_EQ(ra, 0); /* not cancelled by the first SIGINT */
    kill(getpid(), SIGINT);
    CHECK_EQ(pthread_join(tb, NULL), 0);
    CHECK_EQ(rb, SIGINT);
    CHECK_EQ(atomic_load(&user_calls), 1);
    CHECK(sigint_handler_is(user_handler));
    kill(getpid(), SIGINT);
    CHECK_EQ(atomic_load(&user_calls), 2);
}

/* With no waiter, SIGINT cancels the main task of every loop running (the
 * whole process stops, as the default action would have stopped it). */
static void cancels_every_run(void)
{
    pthread_t ta[2];
    int ra[2] = {1, 1};
    for (int i = 0; i < 2; i++) CHECK_EQ(pthread_create(&ta[i], NULL, run_a, &ra[i]), 0);
    await_flag(&a_running, 2);
    kill(getpid(), SIGINT);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(pthread_join(ta[i], NULL), 0);
        CHECK_EQ(ra[i], -ECANCELED);
    }
    CHECK(sigint_handler_is(SIG_DFL));
}

/* ---- churn: runs start and end while another loop always waits -------------- */

#define CHURN_SIGNALS 200
static _Atomic int churn_stop, churn_runs, churn_cancelled, delivered;

static int churn_main(void *arg)
{
    return weft_sleep(0.001) < 0 ? -ECANCELED : 0;
}

static void *churn_thread(void *arg)
{
    while (!atomic_load(&churn_stop)) {
        int r = weft_run(churn_main, NULL);
        if (r == -ECANCELED) atomic_fetch_add(&churn_cancelled, 1);
        else CHECK_EQ(r, 0);
        atomic_fetch_add(&churn_runs, 1);
    }
    return NULL;
}

/* Two of these in one loop: while one handles a signal the other waits, so
 * some task waits for SIGINT at every moment. */
static int keep_waiting(void *arg)
{
    while (atomic_load(&delivered) < CHURN_SIGNALS) {
        int r = weft_timeout(30, wait_sigint, NULL);
        if (r != SIGINT) return r;
        atomic_fetch_add(&delivered, 1);
    }
    return 0;
}

static _Atomic int waiters_ready;

static int waiters_main(void *arg)
{
    weft_task *w[2] = {weft_spawn(keep_waiting, NULL), weft_spawn(keep_waiting, NULL)};
    CHECK_EQ(weft_sleep(0.02), 0);
    atomic_store(&waiters_ready, 1);
    /* Whichever ends first saw the last signal; the other still waits. */
    int first = weft_wait_any(w, 2, -1);
    CHECK(first == 0 || first == 1);
    CHECK_EQ(weft_await(w[first]), 0);
    weft_cancel(w[!first]);
    int r = weft_await(w[!first]);
    CHECK(r == 0 || r == -ECANCELED);
    return 0;
}

static void *run_waiters(void *res)
{
    *(int *)res = weft_run(waiters_main, NULL);
    return NULL;
}

static void churn(void)
{
    pthread_t churners[2], tw;
    int rw = -1;
    for (int i = 0; i < 2; i++) CHECK_EQ(pthread_create(&churners[i], NULL, churn_thread, NULL), 0);
    await_flag(&churn_runs, 4); /* runs have started and ended on both */
    CHECK_EQ(pthread_create(&tw, NULL, run_waiters, &rw), 0);
    await_flag(&waiters_ready, 1);
    for (int i = 1; i <= CHURN_SIGNALS; i++) {
        kill(getpid(), SIGINT);
        await_flag(&delivered, i); /* one in flight at a time */
        usleep(2000);              /* and runs start and end meanwhile */
    }
    CHECK_EQ(pthread_join(tw, NULL), 0);
    CHECK_EQ(rw, 0);
    atomic_store(&churn_stop, 1);
    for (int i = 0; i < 2; i++) CHECK_EQ(pthread_join(churners[i], NULL), 0);
    CHECK_EQ(atomic_load(&churn_cancelled), 0); /* every SIGINT went to a waiter */
    fprintf(stderr, "   %d runs on the churning threads, %d signals delivered\n",
            atomic_load(&churn_runs), atomic_load(&delivered));
    CHECK(sigint_handler_is(SIG_DFL));
}

/* ---- debug mode's SIGUSR1 and another loop's wait for it -------------------- */

static void *run_debug_loop(void *res)
{
    weft_options o = {.debug = 1};
    *(int *)res = weft_run_with(&o, a_main, NULL); /* A, in debug mode */
    return NULL;
}

static int wait_sigusr1(void *arg)
{
    int sig = SIGUSR1;
    return weft_signal_wait(&sig, 1);
}

static void *run_usr1_waiter(void *res)
{
    *(int *)res = weft_run(wait_sigusr1, NULL);
    return NULL;
}

/* A debug loop takes SIGUSR1 for its dumps; a second loop waits for
 * SIGUSR1; the debug loop ends. The waiter must still get the signal (the
 * debug loop's end put SIG_DFL back under it: SIGUSR1 killed the process),
 * and once the wait is over SIGUSR1 has its default action again. */
static void debug_usr1_under_waiter(void)
{
    pthread_t td, tw;
    int rd = -1, rw = -1;
    CHECK_EQ(pthread_create(&td, NULL, run_debug_loop, &rd), 0);
    await_flag(&a_running, 1);
    struct sigaction dbg, cur;
    sigaction(SIGUSR1, NULL, &dbg);
    CHECK(dbg.sa_handler != SIG_DFL); /* debug mode's dump handler */
    CHECK_EQ(pthread_create(&tw, NULL, run_usr1_waiter, &rw), 0);
    double end = mono() + 20;
    do { /* until the waiter's registry handler replaced the dump's */
        CHECK(mono() < end);
        usleep(1000);
        sigaction(SIGUSR1, NULL, &cur);
    } while (cur.sa_sigaction == dbg.sa_sigaction);
    atomic_store(&a_release, 1);
    CHECK_EQ(pthread_join(td, NULL), 0);
    CHECK_EQ(rd, 0);
    kill(getpid(), SIGUSR1);
    CHECK_EQ(pthread_join(tw, NULL), 0);
    CHECK_EQ(rw, SIGUSR1);
    sigaction(SIGUSR1, NULL, &cur);
    CHECK(!(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL);
}

/* Runs fn in a child with SIGINT at its default; a child killed by a signal
 * (SIGINT: weft let Ctrl-C through; SIGALRM: hung) fails the test. */
static void in_child(void (*fn)(void))
{
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        signal(SIGINT, SIG_DFL);
        alarm(120);
        fn();
        fflush(stderr);
        _exit(0);
    }
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st)) fprintf(stderr, "   child killed by signal %d (%s)\n", WTERMSIG(st),
                                 strsignal(WTERMSIG(st)));
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
}

static void defect_16_waiter_outlives_run(void) { in_child(waiter_outlives_run); }
static void defect_16_no_stale_handler(void) { in_child(no_stale_handler); }
static void defect_16_user_handler_restored(void) { in_child(user_handler_restored); }
static void defect_16_churn(void) { in_child(churn); }
static void sigint_cancels_every_run(void) { in_child(cancels_every_run); }
static void defect_16_debug_sigusr1_under_waiter(void) { in_child(debug_usr1_under_waiter); }

int main(int argc, char **argv)
{
    return run_tests((test_case[]){{"defect_16_waiter_outlives_run", defect_16_waiter_outlives_run},
                                   {"defect_16_no_stale_handler", defect_16_no_stale_handler},
                                   {"defect_16_user_handler_restored", defect_16_user_handler_restored},
                                   {"defect_16_churn", defect_16_churn},
                                   {"sigint_cancels_every_run", sigint_cancels_every_run},
                                   {"defect_16_debug_sigusr1_under_waiter",
                                    defect_16_debug_sigusr1_under_waiter},
                                   {0}},
                     argc, argv);
}
