/* weft_signal_wait: real signals raised at the process (from this thread,
 * another thread and a shell), SIGINT taken from weft_run while a task
 * waits for it, FIFO hand-out, cancellation, bad input. */
#include <weft/io.h>
#include <weft/test.h>
/* check.h: sigint tests weft_run's own SIGINT handling and two_loops runs
 * two loops on threads, so the cases are run_tests'; the others are each a
 * weft_test_run. CHECK_EQ prints both values (test.h has no such check). */
#include "check.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int wait_one(void *arg)
{
    int sig = (int)(long)arg;
    return weft_signal_wait(&sig, 1);
}

static int raise_later(void *arg)
{
    weft_sleep(0.02);
    raise((int)(long)arg);
    return 0;
}

static int t_term(void *a)
{
    weft_task *w = weft_spawn(wait_one, (void *)(long)SIGTERM);
    weft_task *r = weft_spawn(raise_later, (void *)(long)SIGTERM);
    CHECK_EQ(weft_await(w), SIGTERM);
    CHECK_EQ(weft_await(r), 0);
    /* The default disposition is back once nobody waits. */
    struct sigaction sa;
    sigaction(SIGTERM, NULL, &sa);
    WEFT_TEST_CHECK(sa.sa_handler == SIG_DFL);
    return 0;
}
static void term(void) { CHECK_EQ(weft_test_run("term", t_term, NULL, NULL), 0); }

/* While a task waits for SIGINT it gets it instead of main being cancelled;
 * afterwards SIGINT cancels main again, as weft_run promises. */
static int t_sigint(void *a)
{
    weft_task *w = weft_spawn(wait_one, (void *)(long)SIGINT);
    weft_task *r = weft_spawn(raise_later, (void *)(long)SIGINT);
    CHECK_EQ(weft_await(w), SIGINT);
    CHECK_EQ(weft_await(r), 0);
    CHECK_EQ(weft_sleep(0.02), 0); /* main was not cancelled */
    if (!*(int *)a) return 7;      /* SIGINT ignored by whoever started us */
    raise(SIGINT);
    CHECK_EQ(weft_sleep(5), -ECANCELED);
    return 7;
}
static void sigint(void)
{
    /* weft_run only takes SIGINT over if it has its default action (a shell
     * starts background jobs with it ignored). */
    struct sigaction sa;
    sigaction(SIGINT, NULL, &sa);
    int dfl = sa.sa_handler == SIG_DFL;
    if (!dfl) fprintf(stderr, "   (SIGINT is ignored here: weft_run's cancellation not checked)\n");
    CHECK_EQ(weft_run(t_sigint, &dfl), 7);
}

static int wait_two(void *arg)
{
    int sigs[2] = {SIGHUP, SIGUSR1};
    return weft_signal_wait(sigs, 2);
}

/* Two waiters for the same signal get one each, first come first served;
 * a waiter for several signals gets whichever comes. */
static int t_fifo(void *a)
{
    weft_task *w1 = weft_spawn(wait_one, (void *)(long)SIGHUP);
    weft_task *w2 = weft_spawn(wait_one, (void *)(long)SIGHUP);
    weft_task *w3 = weft_spawn(wait_two, NULL);
    weft_sleep(0.01);
    raise(SIGHUP);
    weft_task *all[3] = {w1, w2, w3};
    CHECK_EQ(weft_wait_any(all, 3, 2), 0);
    WEFT_TEST_CHECK(!weft_done(w2) && !weft_done(w3));
    CHECK_EQ(weft_await(w1), SIGHUP);
    raise(SIGUSR1);
    CHECK_EQ(weft_await(w3), SIGUSR1);
    raise(SIGHUP);
    CHECK_EQ(weft_await(w2), SIGHUP);
    return 0;
}
static void fifo(void) { CHECK_EQ(weft_test_run("fifo", t_fifo, NULL, NULL), 0); }

static void *kill_from_thread(void *arg)
{
    usleep(20000);
    kill(getpid(), SIGUSR2);
    return NULL;
}

/* A process-directed signal from another thread (the kernel may run the
 * handler on any thread). */
static int t_thread(void *a)
{
    pthread_t th;
    pthread_create(&th, NULL, kill_from_thread, NULL);
    int sig = SIGUSR2;
    CHECK_EQ(weft_signal_wait(&sig, 1), SIGUSR2);
    pthread_join(th, NULL);
    return 0;
}
static void thread(void) { CHECK_EQ(weft_test_run("thread", t_thread, NULL, NULL), 0); }

/* From another process, while the loop keeps running. */
static int t_shell(void *a)
{
    char cmd[64];
    snprintf(cmd, sizeof cmd, "sleep 0.05; kill -HUP %d", (int)getpid());
    char *argv[] = {"sh", "-c", cmd, NULL};
    pid_t pid;
    CHECK_EQ(posix_spawnp(&pid, "sh", NULL, NULL, argv, environ), 0);
    int sig = SIGHUP;
    CHECK_EQ(weft_signal_wait(&sig, 1), SIGHUP);
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK_EQ(st, 0);
    return 0;
}
static void shell(void) { CHECK_EQ(weft_test_run("shell", t_shell, NULL, NULL), 0); }

static int t_cancel(void *a)
{
    struct sigaction before, sa;
    sigaction(SIGUSR2, NULL, &before);
    weft_task *w = weft_spawn(wait_one, (void *)(long)SIGUSR2);
    weft_sleep(0.01);
    weft_cancel(w);
    CHECK_EQ(weft_await(w), -ECANCELED);
    sigaction(SIGUSR2, NULL, &sa);
    WEFT_TEST_CHECK(sa.sa_handler == before.sa_handler); /* restored */
    /* Under a deadline. */
    int sig = SIGUSR2;
    CHECK_EQ(weft_timeout(0.02, wait_one, (void *)(long)SIGUSR2), -ETIMEDOUT);
    (void)sig;
    return 0;
}
static void cancel(void) { CHECK_EQ(weft_test_run("cancel", t_cancel, NULL, NULL), 0); }

/* Two loops on two threads waiting for the same signal both get it. */
static _Atomic int loops_waiting;

static int loop_wait(void *a)
{
    loops_waiting++;
    /* No wait between the count and the registration below. */
    return weft_timeout(5, wait_one, (void *)(long)SIGUSR1);
}

static void *loop_thread(void *res)
{
    *(int *)res = weft_run(loop_wait, NULL);
    return NULL;
}

static void two_loops(void)
{
    pthread_t th[2];
    int res[2] = {0, 0};
    loops_waiting = 0;
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, loop_thread, &res[i]);
    while (loops_waiting < 2) usleep(1000);
    usleep(50000);
    kill(getpid(), SIGUSR1);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    CHECK_EQ(res[0], SIGUSR1);
    CHECK_EQ(res[1], SIGUSR1);
}

static int t_bad(void *a)
{
    int sigs[] = {SIGKILL, SIGSTOP, 0, -1, 1000, SIGSEGV};
    for (int i = 0; i < 6; i++) CHECK_EQ(weft_signal_wait(&sigs[i], 1), -EINVAL);
    CHECK_EQ(weft_signal_wait(NULL, 1), -EINVAL);
    CHECK_EQ(weft_signal_wait(sigs, 0), -EINVAL);
    int mixed[2] = {SIGTERM, SIGKILL};
    CHECK_EQ(weft_signal_wait(mixed, 2), -EINVAL);
    struct sigaction sa;
    sigaction(SIGTERM, NULL, &sa);
    WEFT_TEST_CHECK(sa.sa_handler == SIG_DFL);
    return 0;
}
static void bad(void)
{
    CHECK_EQ(weft_test_run("bad", t_bad, NULL, NULL), 0);
    int sig = SIGTERM;
    CHECK_EQ(weft_signal_wait(&sig, 1), -EPERM); /* outside a task */
}

int main(int argc, char **argv)
{
    return run_tests((test_case[]){{"term", term},
                                   {"sigint", sigint},
                                   {"fifo", fifo},
                                   {"thread", thread},
                                   {"shell", shell},
                                   {"cancel", cancel},
                                   {"two_loops", two_loops},
                                   {"bad", bad},
                                   {0}},
                     argc, argv);
}
