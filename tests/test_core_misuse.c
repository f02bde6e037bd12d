/* Misuse gets a clear error, not a crash: waiting outside a task, running
 * out of memory, deadlocks; and weft_strerror. */
#include "core_util.h"
#include <limits.h>
#include <sys/resource.h>
#include "error_table.h"

static int nop(void *a) { return 0; }

/* ---- every waiting function outside a task: -EPERM and a message naming it ----- */

static void call_all_outside(void *unused)
{
    weft_sem *s = weft_sem_new(1);
    weft_lock *l = weft_lock_new();
    weft_event *e = weft_event_new();
    weft_cond *c = weft_cond_new();
    weft_queue *q = weft_queue_new(0);
    weft_group *g = weft_group_new();
    void *item;
    char b;
    weft_task *none = NULL;
    CHECK_EQ(weft_yield(), -EPERM);
    CHECK_EQ(weft_sleep(0.001), -EPERM);
    CHECK_EQ(weft_await(none), -EPERM);
    CHECK_EQ(weft_gather(&none, 1, NULL), -EPERM);
    CHECK_EQ(weft_wait_for(none, 1), -EPERM);
    CHECK_EQ(weft_wait_any(&none, 1, 1), -EPERM);
    CHECK_EQ(weft_timeout(1, nop, NULL), -EPERM);
    CHECK_EQ(weft_group_wait(g), -EPERM);
    CHECK_EQ(weft_sem_acquire(s), -EPERM);
    CHECK_EQ(weft_lock_acquire(l), -EPERM);
    CHECK_EQ(weft_event_wait(e), -EPERM);
    CHECK_EQ(weft_cond_wait(c, l), -EPERM);
    CHECK_EQ(weft_queue_put(q, &b), -EPERM);
    CHECK_EQ(weft_queue_get(q, &item), -EPERM);
    CHECK_EQ(weft_to_thread(nop, NULL), -EPERM);
    CHECK_EQ(weft_wait_fd(0, WEFT_READABLE), -EPERM);
    CHECK_EQ(weft_read(0, &b, 1), -EPERM);
    CHECK_EQ(weft_write(1, &b, 1), -EPERM);
    CHECK_EQ(weft_write_all(1, &b, 1), -EPERM);
    /* the non-waiting operations work outside a task */
    CHECK_EQ(weft_sem_try_acquire(s), 1);
    weft_sem_release(s);
    CHECK_EQ(weft_queue_try_put(q, &b), 0);
    CHECK_EQ(weft_queue_try_get(q, &item), 0);
    weft_event_set(e);
    CHECK_EQ(weft_event_is_set(e), 1);
    weft_sem_free(s);
    weft_lock_free(l);
    weft_event_free(e);
    weft_cond_free(c);
    weft_queue_free(q);
    free(g); /* never used: a plain allocation */
}
static void t_outside(void)
{
    char *err = capture_stderr(call_all_outside, NULL);
    const char *names[] = {"weft_yield", "weft_sleep", "weft_await", "weft_gather",
                           "weft_wait_for", "weft_wait_any", "weft_timeout", "weft_group_wait",
                           "weft_sem_acquire", "weft_lock_acquire", "weft_event_wait",
                           "weft_cond_wait", "weft_queue_put", "weft_queue_get",
                           "weft_to_thread", "weft_wait_fd", "weft_read", "weft_write", NULL};
    for (int i = 0; names[i]; i++) {
        char want[128];
        snprintf(want, sizeof want, "weft: %s called outside a task", names[i]);
        CHECK_STR_HAS(err, want);
    }
    free(err);
}

/* From a weft_to_thread worker: no loop there either. */
static int from_worker(void *a) { return weft_sleep(0.001); }
static int t_worker_main(void *a) { return weft_to_thread(from_worker, NULL); }
static void run_worker(void *a) { CHECK_EQ(weft_run(t_worker_main, NULL), -EPERM); }
static void t_worker(void)
{
    char *err = capture_stderr(run_worker, NULL);
    CHECK_STR_HAS(err, "weft_sleep called outside a task");
    free(err);
}

/* ---- memory limits ---------------------------------------------------------------- */

static int sleeper(void *a) { return weft_sleep(0.001); }
static weft_task **all;
static int spawn_until_enomem(void *a)
{
    size_t n = 0;
    for (;;) {
        errno = 0;
        weft_task *t = weft_spawn(sleeper, NULL);
        if (!t) {
            CHECK_EQ(errno, ENOMEM);
            break;
        }
        all[n++] = t;
        CHECK(n < 4000000);
    }
    CHECK(n > 1000);
    /* the loop still works: every task ran, or ended at once with -ENOMEM
     * when no stack could be had */
    size_t ok = 0, nomem = 0;
    for (size_t i = 0; i < n; i++) {
        int r = weft_await(all[i]);
        if (r == 0) ok++;
        else if (r == -ENOMEM) nomem++;
        else CHECK(0);
    }
    CHECK(ok > 0);
    CHECK(nomem > 0);
    fprintf(stderr, "spawned %zu: %zu ran, %zu had no stack\n", n, ok, nomem);
    return 0;
}
static void child_enomem(void *a)
{
    all = malloc(4000000 * sizeof *all);
    memset(all, 0, 4000000 * sizeof *all); /* touch it now, outside the limit */
    limit_as(80L << 20);
    CHECK_EQ(weft_run(spawn_until_enomem, NULL), 0);
    /* too little memory for even main's stack: weft_run says so */
    limit_as(1L << 20);
    CHECK_EQ(weft_run(nop, NULL), -ENOMEM);
    exit(0);
}
static void t_enomem(void)
{
    if (UNDER_ASAN || slow_machine()) {
        fprintf(stderr, "   skipped: address-space limits and sanitizers/emulators do not mix\n");
        return;
    }
    char *err;
    int st = in_child(child_enomem, NULL, &err);
    fputs(err, stderr);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    free(err);
}

/* ---- deadlocks -------------------------------------------------------------------- */

static int waits_forever(void *a) { return weft_event_wait(a); }
static int deadlock_main(void *a)
{
    weft_event *e = weft_event_new();
    weft_task *t = weft_spawn(waits_forever, e);
    int r = weft_event_wait(e); /* nobody will ever set it */
    CHECK_EQ(r, -ECANCELED);
    CHECK_EQ(weft_await(t), -ECANCELED);
    weft_event_free(e);
    return r;
}
static void run_deadlock(void *a) { CHECK_EQ(weft_run(deadlock_main, NULL), -ECANCELED); }

/* A cycle that cancellation cannot break: a task re-acquiring a lock after
 * its condition wait (which ignores cancellation) while the holder awaits it. */
static weft_lock *dl_lock;
static weft_cond *dl_cond;
static int cond_waiter(void *a)
{
    CHECK_EQ(weft_lock_acquire(dl_lock), 0);
    int r = weft_cond_wait(dl_cond, dl_lock);
    weft_lock_release(dl_lock);
    return r;
}
static int hard_deadlock_main(void *a)
{
    dl_lock = weft_lock_new();
    dl_cond = weft_cond_new();
    weft_task *t = weft_spawn(cond_waiter, NULL);
    weft_yield();
    CHECK_EQ(weft_lock_acquire(dl_lock), 0);
    return weft_await(t);
}
static void run_hard_deadlock(void *a) { CHECK_EQ(weft_run(hard_deadlock_main, NULL), -EDEADLK); }

static void t_deadlock(void)
{
    char *err = capture_stderr(run_deadlock, NULL);
    CHECK_STR_HAS(err, "weft: deadlock: every task waits for something only another task");
    free(err);
    err = capture_stderr(run_hard_deadlock, NULL);
    CHECK_STR_HAS(err, "weft: deadlock: 2 task(s) cannot end even when cancelled");
    free(err);
    /* and weft_run can be used again afterwards */
    CHECK_EQ(weft_run(nop, NULL), 0);
}

/* Sleeping forever with nothing else alive is a deadlock too. */
static int sleep_forever(void *a) { return weft_sleep(INFINITY); }
static void run_sleep_forever(void *a) { CHECK_EQ(weft_run(sleep_forever, NULL), -ECANCELED); }
static void t_sleep_forever(void)
{
    char *err = capture_stderr(run_sleep_forever, NULL);
    CHECK_STR_HAS(err, "deadlock");
    free(err);
}

/* ---- strerror --------------------------------------------------------------------- */

/* A layer's table, as WEFT__ERROR_TABLE registers it (the core alone: no
 * layer's is linked). */
#define TEST_ERRORS(X) X(ETEST_ONE, 10901, "test error one")
static const weft__errdesc test_errors[] = {TEST_ERRORS(WEFT__ERRDESC_)};
static void t_strerror(void)
{
    CHECK(!strcmp(weft_strerror(0), "success"));
    CHECK(!strcmp(weft_strerror(-ECANCELED), "cancelled"));
    CHECK(!strcmp(weft_strerror(-ETIMEDOUT), "timed out"));
    CHECK(!strcmp(weft_strerror(-EPIPE), "closed"));
    CHECK(!strcmp(weft_strerror(-ENOENT), strerror(ENOENT)));
    CHECK(!strcmp(weft_strerror(ENOENT), strerror(ENOENT))); /* either sign */
    CHECK(!strcmp(weft_strerror(-ENOMEM), strerror(ENOMEM)));
    CHECK(weft_strerror(INT_MIN) != NULL);
    CHECK(weft_strerror(INT_MAX) != NULL);
    CHECK(!strcmp(weft_strerror(-10950), "unknown weft error"));
    CHECK(!strcmp(weft_err_name(-10901), "unknown"));
    weft__error_table(test_errors, 1);
    weft__error_table(test_errors, 1); /* twice: once */
    CHECK(!strcmp(weft_strerror(-10901), "test error one"));
    CHECK(!strcmp(weft_err_name(-10901), "WEFT_ETEST_ONE"));
    CHECK(!strcmp(weft_err_name(ENOENT), "ENOENT"));
    CHECK(!strcmp(weft_strerror(-10902), "unknown weft error"));
    CHECK(!strcmp(weft_strerror(-12345), "unknown weft error") || weft_strerror(-12345));
}

/* A NULL task body is refused where it is given, not run (and crashed on). */
static int null_fn_main(void *a)
{
    errno = 0;
    CHECK(weft_spawn(NULL, NULL) == NULL);
    CHECK_EQ(errno, EINVAL);
    weft_group *g = weft_group_new();
    CHECK(g != NULL);
    CHECK_EQ(weft_group_spawn(g, NULL, NULL), -EINVAL);
    CHECK_EQ(weft_group_spawn(g, nop, NULL), 0);
    CHECK_EQ(weft_group_wait(g), 0);
    return 0;
}
static void t_null_fn(void)
{
    CHECK_EQ(weft_run(NULL, NULL), -EINVAL);
    CHECK_EQ(weft_run(null_fn_main, NULL), 0);
}

int main(int argc, char **argv)
{
    return run_tests((test_case[]){{"outside", t_outside},
                                   {"worker", t_worker},
                                   {"enomem", t_enomem},
                                   {"deadlock", t_deadlock},
                                   {"sleep_forever", t_sleep_forever},
                                   {"strerror", t_strerror},
                                   {"null_fn", t_null_fn},
                                   {0}},
                     argc, argv);
}
