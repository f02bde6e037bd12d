/* Semaphore, lock, event, condition: FIFO fairness, hand-over, the race
 * where a waiter is handed what it waited for and cancelled before it runs,
 * freeing with waiters, and misuse. (Interruption of each wait is in
 * test_core_cancel.c.) */
#include "core_util.h"
#include <weft/test.h>

static char order[32];
static int order_n;

/* ---- semaphore ---------------------------------------------------------------------- */

typedef struct {
    weft_sem *s;
    char name;
} sem_arg;
static int sem_fifo_body(void *a)
{
    sem_arg *sa = a;
    CHECK_EQ(weft_sem_acquire(sa->s), 0);
    order[order_n++] = sa->name;
    return 0;
}
static int t_sem_fifo_main(void *a)
{
    weft_sem *s = weft_sem_new(0);
    sem_arg args[5];
    weft_task *t[5];
    for (int i = 0; i < 5; i++) {
        args[i] = (sem_arg){s, (char)('a' + i)};
        t[i] = weft_spawn(sem_fifo_body, &args[i]);
        weft_yield();
    }
    CHECK_EQ(weft_sem_try_acquire(s), 0);
    for (int i = 0; i < 5; i++) {
        /* a late arrival must not overtake: the permit is handed over */
        weft_sem_release(s);
        CHECK_EQ(weft_sem_try_acquire(s), 0);
    }
    CHECK_EQ(weft_gather(t, 5, NULL), 0);
    order[order_n] = 0;
    WEFT_TEST_CHECK(!strcmp(order, "abcde"));
    CHECK_EQ(weft_sem_value(s), 0);
    weft_sem_free(s);
    errno = 0;
    WEFT_TEST_CHECK(weft_sem_new(-1) == NULL);
    CHECK_EQ(errno, EINVAL);
    weft_sem_free(NULL);
    return 0;
}

/* Handed a permit, then cancelled before running: keeps the permit. */
static int handed_body(void *a)
{
    weft_sem *s = a;
    int r = weft_sem_acquire(s);
    CHECK_EQ(r, 0);
    CHECK_EQ(weft_yield(), -ECANCELED); /* the cancel is for the next wait */
    weft_sem_release(s);
    return r;
}
static int t_sem_handed_main(void *a)
{
    weft_sem *s = weft_sem_new(0);
    weft_task *t = weft_spawn(handed_body, s);
    weft_yield();
    weft_sem_release(s);
    weft_cancel(t);
    CHECK_EQ(weft_await(t), 0);
    CHECK_EQ(weft_sem_value(s), 1);
    weft_sem_free(s);
    return 0;
}

static int pipe_body(void *a) { return weft_sem_acquire(a); }
static int t_sem_free_main(void *a)
{
    weft_sem *s = weft_sem_new(0);
    weft_task *t = weft_spawn(pipe_body, s);
    weft_yield();
    weft_sem_free(s);
    CHECK_EQ(weft_await(t), -EPIPE);
    return 0;
}

/* The tutorial's pattern: many tasks, at most N at once. */
static int active, max_active;
static int limited(void *a)
{
    weft_sem *s = a;
    CHECK_EQ(weft_sem_acquire(s), 0);
    if (++active > max_active) max_active = active;
    CHECK_EQ(weft_sleep(0.001), 0);
    active--;
    weft_sem_release(s);
    return 0;
}
static int t_sem_limit_main(void *a)
{
    enum { N = 2000 };
    weft_sem *s = weft_sem_new(10);
    static weft_task *t[N];
    for (int i = 0; i < N; i++) t[i] = weft_spawn(limited, s);
    CHECK_EQ(weft_gather(t, N, NULL), 0);
    CHECK_EQ(max_active, 10);
    CHECK_EQ(weft_sem_value(s), 10);
    weft_sem_free(s);
    return 0;
}

/* ---- lock ---------------------------------------------------------------------------- */

static int inside;
static int locker(void *a)
{
    weft_lock *l = a;
    for (int i = 0; i < 20; i++) {
        CHECK_EQ(weft_lock_acquire(l), 0);
        CHECK_EQ(inside, 0);
        inside = 1;
        CHECK_EQ(weft_yield(), 0); /* others run, none gets in */
        inside = 0;
        weft_lock_release(l);
    }
    return 0;
}
static int t_lock_exclusion_main(void *a)
{
    weft_lock *l = weft_lock_new();
    weft_task *t[5];
    for (int i = 0; i < 5; i++) t[i] = weft_spawn(locker, l);
    CHECK_EQ(weft_gather(t, 5, NULL), 0);
    CHECK_EQ(weft_lock_locked(l), 0);
    weft_lock_free(l);
    weft_lock_free(NULL);
    return 0;
}

static int lock_handed_body(void *a)
{
    weft_lock *l = a;
    int r = weft_lock_acquire(l);
    CHECK_EQ(r, 0);
    CHECK_EQ(weft_lock_locked(l), 1);
    weft_lock_release(l); /* it is the owner: this must work */
    return r;
}
static int t_lock_handed_main(void *a)
{
    weft_lock *l = weft_lock_new();
    CHECK_EQ(weft_lock_acquire(l), 0);
    weft_task *t = weft_spawn(lock_handed_body, l);
    weft_yield();
    weft_lock_release(l); /* hands over to t */
    weft_cancel(t);       /* before t runs */
    CHECK_EQ(weft_lock_try_acquire(l), 0);
    CHECK_EQ(weft_await(t), 0);
    CHECK_EQ(weft_lock_locked(l), 0);
    weft_lock_free(l);
    return 0;
}

static int foreign_release(void *a)
{
    weft_lock_release(a);
    return 0;
}
static int t_lock_misuse_main(void *a)
{
    weft_lock *l = weft_lock_new();
    CHECK_EQ(weft_lock_acquire(l), 0);
    CHECK_EQ(weft_lock_acquire(l), -EDEADLK); /* not reentrant */
    CHECK_EQ(weft_await(weft_spawn(foreign_release, l)), 0);
    CHECK_EQ(weft_lock_locked(l), 1); /* the foreign release was ignored */
    weft_lock_release(l);
    weft_lock_release(l); /* not held: ignored */
    CHECK_EQ(weft_lock_locked(l), 0);
    weft_lock_free(l);
    return 0;
}
static int lock_waiter(void *a) { return weft_lock_acquire(a); }
static int t_lock_free_main(void *a)
{
    weft_lock *l = weft_lock_new();
    CHECK_EQ(weft_lock_acquire(l), 0);
    weft_task *t = weft_spawn(lock_waiter, l);
    weft_yield();
    weft_lock_free(l);
    CHECK_EQ(weft_await(t), -EPIPE);
    return 0;
}
static int sem_zero_main(void *a)
{
    weft_sem *s = weft_sem_new(1);
    CHECK_EQ(weft_sem_acquire(s), 0);
    weft_sem_free(s);
    return 0;
}
static void run_lock_misuse(void *a)
{
    CHECK_EQ(weft_run(t_lock_misuse_main, NULL), 0);
    CHECK_EQ(weft_run(t_lock_free_main, NULL), 0);
    CHECK_EQ(weft_run(sem_zero_main, NULL), 0);
}
static void t_lock_misuse(void)
{
    char *err = capture_stderr(run_lock_misuse, NULL);
    CHECK_STR_HAS(err, "already holds this lock");
    CHECK_STR_HAS(err, "weft_lock_release: the lock is not held by the calling task");
    free(err);
}

/* ---- event --------------------------------------------------------------------------- */

static int ev_waiter(void *a) { return weft_event_wait(a); }
static int t_event_main(void *a)
{
    weft_event *e = weft_event_new();
    CHECK_EQ(weft_event_is_set(e), 0);
    weft_task *t[4];
    for (int i = 0; i < 4; i++) t[i] = weft_spawn(ev_waiter, e);
    weft_sleep(0.002);
    for (int i = 0; i < 4; i++) CHECK_EQ(weft_done(t[i]), 0);
    weft_event_set(e); /* wakes all */
    CHECK_EQ(weft_gather(t, 4, NULL), 0);
    CHECK_EQ(weft_event_wait(e), 0); /* stays set */
    weft_event_clear(e);
    CHECK_EQ(weft_event_is_set(e), 0);
    weft_task *late = weft_spawn(ev_waiter, e);
    weft_sleep(0.002);
    CHECK_EQ(weft_done(late), 0);
    weft_event_free(e); /* waiters get -EPIPE */
    CHECK_EQ(weft_await(late), -EPIPE);
    weft_event_free(NULL);
    return 0;
}

/* ---- condition ----------------------------------------------------------------------- */

typedef struct {
    weft_lock *l;
    weft_cond *c;
    int items;
    char name;
} cv;
static cv shared;
static int consumer(void *a)
{
    char me = (char)(long)a;
    CHECK_EQ(weft_lock_acquire(shared.l), 0);
    while (shared.items == 0) CHECK_EQ(weft_cond_wait(shared.c, shared.l), 0);
    shared.items--;
    order[order_n++] = me;
    weft_lock_release(shared.l);
    return 0;
}
static int t_cond_main(void *a)
{
    shared.l = weft_lock_new();
    shared.c = weft_cond_new();
    order_n = 0;
    weft_cond_notify(shared.c); /* nobody waits: not remembered */
    weft_task *t[4];
    for (long i = 0; i < 4; i++) t[i] = weft_spawn(consumer, (void *)('a' + i));
    weft_sleep(0.002);
    /* notify wakes the first waiter only */
    CHECK_EQ(weft_lock_acquire(shared.l), 0);
    shared.items = 1;
    weft_cond_notify(shared.c);
    weft_lock_release(shared.l);
    weft_sleep(0.002);
    CHECK_EQ(order_n, 1);
    CHECK_EQ(order[0], 'a');
    /* notify_all wakes the rest; each takes one item */
    CHECK_EQ(weft_lock_acquire(shared.l), 0);
    shared.items = 3;
    weft_cond_notify_all(shared.c);
    weft_lock_release(shared.l);
    CHECK_EQ(weft_gather(t, 4, NULL), 0);
    order[order_n] = 0;
    WEFT_TEST_CHECK(!strcmp(order, "abcd"));
    weft_cond_free(shared.c);
    weft_lock_free(shared.l);
    return 0;
}

/* Notified, then cancelled before running: the notification is not lost. */
static int cond_once(void *a)
{
    CHECK_EQ(weft_lock_acquire(shared.l), 0);
    int r = weft_cond_wait(shared.c, shared.l);
    weft_lock_release(shared.l);
    return r;
}
static int t_cond_handed_main(void *a)
{
    shared.l = weft_lock_new();
    shared.c = weft_cond_new();
    weft_task *t = weft_spawn(cond_once, NULL);
    weft_yield();
    weft_cond_notify(shared.c);
    weft_cancel(t);
    CHECK_EQ(weft_await(t), 0);
    /* the lock is re-acquired even if taken meanwhile, and even when cancelled */
    t = weft_spawn(cond_once, NULL);
    weft_yield();
    CHECK_EQ(weft_lock_acquire(shared.l), 0);
    weft_cancel(t);
    weft_yield();
    CHECK_EQ(weft_done(t), 0); /* waiting for the lock, ignoring the cancel */
    weft_lock_release(shared.l);
    CHECK_EQ(weft_await(t), -ECANCELED);
    CHECK_EQ(weft_lock_locked(shared.l), 0);
    weft_cond_free(shared.c);
    weft_lock_free(shared.l);
    return 0;
}

static int t_cond_misuse_main(void *a)
{
    weft_lock *l = weft_lock_new();
    weft_cond *c = weft_cond_new();
    CHECK_EQ(weft_cond_wait(c, l), -EPERM); /* lock not held */
    weft_cond_free(c);
    weft_lock_free(l);
    weft_cond_free(NULL);
    return 0;
}
static void run_cond_misuse(void *a) { CHECK_EQ(weft_run(t_cond_misuse_main, NULL), 0); }
static void t_cond_misuse(void)
{
    char *err = capture_stderr(run_cond_misuse, NULL);
    CHECK_STR_HAS(err, "weft_cond_wait: the lock is not held");
    free(err);
}

static const weft_test_case cases[] = {
    {"sem_fifo", t_sem_fifo_main},
    {"sem_handed", t_sem_handed_main},
    {"sem_free", t_sem_free_main},
    {"sem_limit", t_sem_limit_main},
    {"lock_exclusion", t_lock_exclusion_main},
    {"lock_handed", t_lock_handed_main},
    {"event", t_event_main},
    {"cond", t_cond_main},
    {"cond_handed", t_cond_handed_main},
};
/* misuse on purpose, its debug reports read back: weft_test_run would fail
 * them */
static const test_case plain[] = {
    {"lock_misuse", t_lock_misuse},
    {"cond_misuse", t_cond_misuse},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    return RUN_CASES_THEN_PLAIN(cases, plain, argc, argv);
}
