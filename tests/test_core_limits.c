/* Edges of the run and test entry points: a loop that cannot start (out of
 * descriptors for epoll) undoes everything it set up, weft/test.h's hard
 * time limit survives absurd timeouts, and weft_check (the public entry
 * check of waiting functions) says what a wait would. */
#include "core_util.h"
#include <weft/test.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/resource.h>

static int threads_now(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1) break;
    if (f) fclose(f);
    return n;
}

static int never_runs(void *a)
{
    (void)a;
    CHECK(!"main must not run when the loop cannot start");
    return 0;
}

static int trivial(void *a)
{
    (void)a;
    return weft_sleep(0.001) == 0 ? 5 : -1;
}

/* With every descriptor in use, epoll_create fails: weft_run_with must say
 * so (-EMFILE) and leave nothing behind (debug mode's SIGUSR1 handler,
 * watchdog thread, memory: ASan's leak check covers the last). Before the
 * fix the debug state was never closed: SIGUSR1 stayed on a freed loop. */
static void t_no_fds(void)
{
    struct sigaction before, after;
    CHECK_EQ(sigaction(SIGUSR1, NULL, &before), 0);
    CHECK(before.sa_handler == SIG_DFL);
    int threads = threads_now();

    struct rlimit old, low;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = 64;
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    int fill[64], n = 0;
    for (int fd; n < 64 && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) fill[n++] = fd;
    CHECK_EQ(errno, EMFILE);

    weft_options o = {.debug = 1};
    int r = weft_run_with(&o, never_runs, NULL);
    for (int i = 0; i < n; i++) close(fill[i]);
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
    CHECK_EQ(r, -EMFILE);

    CHECK_EQ(sigaction(SIGUSR1, NULL, &after), 0);
    CHECK(after.sa_handler == SIG_DFL); /* the dump handler was removed */
    /* the watchdog thread was stopped. Polled: a joined thread may still be
     * counted a moment while it exits (under qemu-user, seen 1 run in 4) */
    for (int i = 0; i < 5000 && threads_now() != threads; i++) usleep(1000);
    CHECK_EQ(threads_now(), threads);
    /* And the thread can run a loop afterwards, debug mode included. */
    CHECK_EQ(weft_run_with(&o, trivial, NULL), 5);
}

/* weft_test_run's SIGALRM limit is 2 * timeout + 1 s. A huge or infinite
 * timeout used to overflow the conversion to alarm()'s unsigned seconds:
 * INFINITY became alarm(1), killing any test that ran over a second. */
static unsigned alarm_left;
static int peek_alarm(void *a)
{
    (void)a;
    alarm_left = alarm(0);
    alarm(alarm_left);
    return weft_sleep(0.001);
}

static void check_timeout(double timeout_s)
{
    weft_test_options o = {.timeout_s = timeout_s};
    alarm_left = 0;
    CHECK_EQ(weft_test_run("alarm", peek_alarm, NULL, &o), 0);
    CHECK(alarm_left >= 1000000000u); /* clamped far away, never wrapped */
    CHECK_EQ(alarm(0), 0);             /* and taken back afterwards */
}

static void t_test_timeouts(void)
{
    check_timeout(1e12);
    check_timeout(INFINITY);
    check_timeout(1e300);
    /* An ordinary timeout keeps its ordinary limit. */
    weft_test_options o = {.timeout_s = 5};
    CHECK_EQ(weft_test_run("alarm", peek_alarm, NULL, &o), 0);
    CHECK_EQ(alarm_left, 11);
    /* NaN means the default (10 s: limit 21 s), as 0 does. */
    o.timeout_s = NAN;
    CHECK_EQ(weft_test_run("alarm", peek_alarm, NULL, &o), 0);
    CHECK_EQ(alarm_left, 21);
}

static int spin_then_check(void *a)
{
    (void)a;
    double t0 = weft_now();
    struct timespec ts;
    do clock_gettime(CLOCK_MONOTONIC, &ts);
    while ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9 < t0 + 0.003);
    return weft_check("spin_then_check");
}

static int plain_check(void *a)
{
    (void)a;
    return weft_check(NULL);
}

static int cancelled_check(void *a)
{
    (void)a;
    weft_cancel(weft_current());
    return weft_check(NULL);
}

static int check_main(void *a)
{
    (void)a;
    CHECK_EQ(weft_check("check_main"), 0);
    CHECK_EQ(weft_timeout(10, plain_check, NULL), 0); /* deadline not reached */
    CHECK_EQ(weft_timeout(0.001, spin_then_check, NULL), -ETIMEDOUT);
    CHECK_EQ(weft_check(NULL), 0); /* the scope ended: so did its deadline */
    weft_task *t = weft_spawn(cancelled_check, NULL);
    CHECK_EQ(weft_await(t), -ECANCELED);
    return 0;
}

static void t_check(void)
{
    CHECK_EQ(weft_check(NULL), -EPERM); /* outside a task, quietly */
    CHECK_EQ(weft_run(check_main, NULL), 0);
}

int main(int argc, char **argv)
{
    unsetenv("WEFT_TEST_TIMEOUT");
    return run_tests((test_case[]){{"no_fds", t_no_fds}, {"test_timeouts", t_test_timeouts},
                                   {"check", t_check}, {0}},
                     argc, argv);
}
