/* Every wait point, interrupted two ways: by weft_cancel, and by an
 * enclosing weft_timeout whose deadline passes. For each one:
 * - the wait returns -ECANCELED / -ETIMEDOUT promptly;
 * - the interruption is sticky: a later wait fails at once too (within the
 *   weft_timeout scope for deadlines; the deadline is lifted after it);
 * - the object waited on stays consistent: a task queued behind the
 *   interrupted one gets the permit / lock / item / wake-up, nothing is lost
 *   or delivered twice, and to_thread returns only once fn has ended. */
#include "core_util.h"
#include <weft/test.h>
#include <fcntl.h>
#include <sys/socket.h>

enum { MODE_CANCEL, MODE_DEADLINE };
#define DEADLINE 0.02

typedef struct ctx {
    weft_sem *sem;
    weft_lock *lock;
    weft_event *ev;
    weft_cond *cond;
    weft_queue *q;
    weft_group *group;
    int fds[2];
    size_t filled;            /* bytes in the pipe before a blocked write */
    weft_task *child;
    weft_task *kids[3];
    int kid_result[3];        /* what each child's own wait returned */
    volatile int thread_done; /* set by the to_thread fn as its last act */
    int thread_runs;
    int seen_at_return;       /* thread_done when to_thread returned */
    weft_task *behind;        /* a task queued after the interrupted one */
} ctx;

typedef struct wp {
    const char *name;
    void (*setup)(ctx *);
    int (*wait)(ctx *);
    int repeat;              /* calling wait again is meaningful */
    weft_fn behind;          /* spawned once the waiter is parked */
    void (*after)(ctx *);    /* consistency checks once the waiter ended */
} wp;

/* ---- children for the task-waiting points ---------------------------------------- */

static int kid_body(void *a)
{
    int *slot = a;
    *slot = weft_sleep(10);
    return *slot;
}
static void setup_child(ctx *c)
{
    c->kid_result[0] = 1;
    c->child = weft_spawn(kid_body, &c->kid_result[0]);
}
static void setup_kids(ctx *c)
{
    for (int i = 0; i < 3; i++) {
        c->kid_result[i] = 1;
        c->kids[i] = weft_spawn(kid_body, &c->kid_result[i]);
    }
}
/* The awaited tasks were cancelled and reaped with the waiter. */
static void after_kids_reaped(ctx *c)
{
    CHECK_EQ(c->kid_result[0], -ECANCELED);
    if (c->kids[0])
        for (int i = 0; i < 3; i++) CHECK_EQ(c->kid_result[i], -ECANCELED);
}

static int w_await(ctx *c) { return weft_await(c->child); }
static int w_wait_for(ctx *c) { return weft_wait_for(c->child, 10); }
static int w_gather(ctx *c)
{
    int res[3] = {7, 7, 7};
    int r = weft_gather(c->kids, 3, res);
    for (int i = 0; i < 3; i++) CHECK_EQ(res[i], -ECANCELED); /* results still reported */
    return r;
}
static int w_wait_any(ctx *c) { return weft_wait_any(c->kids, 3, -1); }
static void after_wait_any(ctx *c)
{
    /* wait_any awaits and frees none: the children run on, untouched */
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(c->kid_result[i], 1);
        CHECK_EQ(weft_done(c->kids[i]), 0);
        weft_cancel(c->kids[i]);
    }
    int res[3];
    CHECK_EQ(weft_gather(c->kids, 3, res), -ECANCELED);
    for (int i = 0; i < 3; i++) CHECK_EQ(res[i], -ECANCELED);
}
static void setup_group(ctx *c)
{
    c->group = weft_group_new();
    for (int i = 0; i < 3; i++) {
        c->kid_result[i] = 1;
        CHECK_EQ(weft_group_spawn(c->group, kid_body, &c->kid_result[i]), 0);
    }
    c->kids[0] = (weft_task *)1; /* check all three */
}
static int w_group(ctx *c) { return weft_group_wait(c->group); }

/* ---- sleep / yield ----------------------------------------------------------------- */

/* Long against the driver's 10 ms (a loaded machine stalls tens of ms:
 * the sleep then ended before the cancel came, seen in CI; a starved
 * thread was seen stalled 0.2 s, so 1 s). */
static int w_sleep(ctx *c) { return weft_sleep(1); }
static int late_sleeper(void *a)
{
    double t0 = weft_now();
    CHECK_EQ(weft_sleep(1.2), 0); /* spans the stale 1 s entry */
    return weft_now() - t0 >= 1.2 ? 0 : -1;
}
static void after_sleep(ctx *c)
{
    /* The interrupted sleep's timer entry is stale now; a new task that
     * likely reuses the slot must not be woken by it. */
    CHECK_EQ(weft_await(weft_spawn(late_sleeper, NULL)), 0);
}
static int w_yield(ctx *c)
{
    int r;
    while ((r = weft_yield()) == 0) {
    }
    return r;
}

/* ---- semaphore, lock, event, condition ------------------------------------------------ */

static void setup_sem(ctx *c) { c->sem = weft_sem_new(0); }
static int w_sem(ctx *c) { return weft_sem_acquire(c->sem); }
static int sem_behind(void *a) { return weft_sem_acquire(((ctx *)a)->sem); }
static void after_sem(ctx *c)
{
    weft_sem_release(c->sem); /* goes to the task behind, not to the interrupted one */
    CHECK_EQ(weft_await(c->behind), 0);
    CHECK_EQ(weft_sem_value(c->sem), 0);
    weft_sem_release(c->sem);
    CHECK_EQ(weft_sem_value(c->sem), 1); /* no permit leaked or lost */
    CHECK_EQ(weft_sem_try_acquire(c->sem), 1);
    weft_sem_free(c->sem);
}

static void setup_lock(ctx *c)
{
    c->lock = weft_lock_new();
    CHECK_EQ(weft_lock_try_acquire(c->lock), 1); /* held by main */
}
static int w_lock(ctx *c)
{
    int r = weft_lock_acquire(c->lock);
    if (r == 0) weft_lock_release(c->lock);
    return r;
}
static int lock_behind(void *a)
{
    ctx *c = a;
    int r = weft_lock_acquire(c->lock);
    if (r) return r;
    CHECK_EQ(weft_lock_locked(c->lock), 1);
    weft_lock_release(c->lock);
    return 0;
}
static void after_lock(ctx *c)
{
    weft_lock_release(c->lock); /* handed to the task behind */
    CHECK_EQ(weft_lock_locked(c->lock), 1);
    CHECK_EQ(weft_await(c->behind), 0);
    CHECK_EQ(weft_lock_locked(c->lock), 0);
    CHECK_EQ(weft_lock_try_acquire(c->lock), 1);
    weft_lock_release(c->lock);
    weft_lock_free(c->lock);
}

static void setup_event(ctx *c) { c->ev = weft_event_new(); }
static int w_event(ctx *c) { return weft_event_wait(c->ev); }
static int event_behind(void *a) { return weft_event_wait(((ctx *)a)->ev); }
static void after_event(ctx *c)
{
    weft_event_set(c->ev);
    CHECK_EQ(weft_await(c->behind), 0);
    CHECK_EQ(weft_event_is_set(c->ev), 1);
    weft_event_free(c->ev);
}

static void setup_cond(ctx *c)
{
    c->lock = weft_lock_new();
    c->cond = weft_cond_new();
}
static int cond_wait_once(ctx *c)
{
    int r = weft_lock_acquire(c->lock);
    if (r < 0) return r;
    r = weft_cond_wait(c->cond, c->lock);
    /* held again on every return: nobody else can take it now */
    CHECK_EQ(weft_lock_locked(c->lock), 1);
    weft_lock_release(c->lock);
    CHECK_EQ(weft_lock_locked(c->lock), 0);
    return r;
}
static int w_cond(ctx *c) { return cond_wait_once(c); }
static int cond_behind(void *a) { return cond_wait_once(a); }
static void after_cond(ctx *c)
{
    weft_cond_notify(c->cond); /* must reach the task behind: no lost wake-up */
    CHECK_EQ(weft_await(c->behind), 0);
    CHECK_EQ(weft_lock_locked(c->lock), 0);
    weft_cond_free(c->cond);
    weft_lock_free(c->lock);
}

/* ---- queue ------------------------------------------------------------------------- */

static void setup_q_empty(ctx *c) { c->q = weft_queue_new(1); }
static int w_get(ctx *c)
{
    void *item = NULL;
    int r = weft_queue_get(c->q, &item);
    CHECK(r < 0 || item != NULL);
    return r;
}
static void after_get(ctx *c)
{
    /* A stale getter would swallow this item. */
    CHECK_EQ(weft_queue_try_put(c->q, (void *)0xA), 0);
    CHECK_EQ(weft_queue_size(c->q), 1);
    void *item;
    CHECK_EQ(weft_queue_try_get(c->q, &item), 0);
    CHECK(item == (void *)0xA);
    weft_queue_free(c->q);
}
static void setup_q_full(ctx *c)
{
    c->q = weft_queue_new(1);
    CHECK_EQ(weft_queue_try_put(c->q, (void *)0xB), 0);
}
static int w_put(ctx *c) { return weft_queue_put(c->q, (void *)0xC); }
static void after_put(ctx *c)
{
    /* The interrupted put did not queue its item. */
    CHECK_EQ(weft_queue_size(c->q), 1);
    void *item;
    CHECK_EQ(weft_queue_try_get(c->q, &item), 0);
    CHECK(item == (void *)0xB);
    CHECK_EQ(weft_queue_try_get(c->q, &item), -EAGAIN);
    weft_queue_free(c->q);
}

/* ---- to_thread --------------------------------------------------------------------- */

static int slow_job(void *a)
{
    ctx *c = a;
    c->thread_runs++;
    usleep(1000 * 1000); /* outlasts the driver's 10 ms even on a loaded machine */
    c->thread_done = 1;
    return 5;
}
static int w_thread(ctx *c)
{
    int r = weft_to_thread(slow_job, c);
    c->seen_at_return = c->thread_done;
    return r;
}
static void after_thread(ctx *c)
{
    CHECK_EQ(c->seen_at_return, 1); /* it waited for fn, which may use arg */
    CHECK_EQ(c->thread_runs, 1);    /* the sticky second call did not run fn */
}

/* ---- fds --------------------------------------------------------------------------- */

static void setup_pipe(ctx *c)
{
    CHECK_EQ(pipe2(c->fds, O_NONBLOCK | O_CLOEXEC), 0);
}
static int w_wait_fd(ctx *c) { return weft_wait_fd(c->fds[0], WEFT_READABLE); }
static int fd_behind(void *a) { return weft_wait_fd(((ctx *)a)->fds[0], WEFT_READABLE); }
static void after_wait_fd(ctx *c)
{
    CHECK_EQ(write(c->fds[1], "x", 1), 1);
    CHECK_EQ(weft_await(c->behind), WEFT_READABLE);
    weft_close(c->fds[0]);
    weft_close(c->fds[1]);
}
static int w_read(ctx *c)
{
    char b;
    return (int)weft_read(c->fds[0], &b, 1);
}
static void after_read(ctx *c)
{
    CHECK_EQ(write(c->fds[1], "y", 1), 1);
    char b = 0;
    CHECK_EQ(weft_read(c->fds[0], &b, 1), 1); /* the interrupted read took nothing */
    CHECK_EQ(b, 'y');
    weft_close(c->fds[0]);
    weft_close(c->fds[1]);
}
static void setup_full_pipe(ctx *c)
{
    setup_pipe(c);
    fcntl(c->fds[1], F_SETPIPE_SZ, 4096);
    char buf[4096];
    memset(buf, 'f', sizeof buf);
    ssize_t n;
    c->filled = 0;
    while ((n = write(c->fds[1], buf, sizeof buf)) > 0) c->filled += (size_t)n;
    CHECK(c->filled > 0);
}
static int w_write(ctx *c)
{
    static char big[65536];
    return (int)weft_write(c->fds[1], big, sizeof big);
}
static void after_write(ctx *c)
{
    char buf[4096];
    size_t total = 0;
    ssize_t n;
    while ((n = read(c->fds[0], buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) CHECK_EQ(buf[i], 'f');
        total += (size_t)n;
    }
    CHECK_EQ(total, c->filled); /* nothing of the interrupted write got in */
    weft_close(c->fds[0]);
    weft_close(c->fds[1]);
}

static const wp points[] = {
    {"sleep", NULL, w_sleep, 1, NULL, after_sleep},
    {"yield", NULL, w_yield, 1, NULL, NULL},
    {"await", setup_child, w_await, 0, NULL, after_kids_reaped},
    {"wait_for", setup_child, w_wait_for, 0, NULL, after_kids_reaped},
    {"gather", setup_kids, w_gather, 0, NULL, after_kids_reaped},
    {"wait_any", setup_kids, w_wait_any, 1, NULL, after_wait_any},
    {"group_wait", setup_group, w_group, 0, NULL, after_kids_reaped},
    {"sem", setup_sem, w_sem, 1, sem_behind, after_sem},
    {"lock", setup_lock, w_lock, 1, lock_behind, after_lock},
    {"event", setup_event, w_event, 1, event_behind, after_event},
    {"cond", setup_cond, w_cond, 1, cond_behind, after_cond},
    {"queue_get", setup_q_empty, w_get, 1, NULL, after_get},
    {"queue_put", setup_q_full, w_put, 1, NULL, after_put},
    {"to_thread", NULL, w_thread, 1, NULL, after_thread},
    {"wait_fd", setup_pipe, w_wait_fd, 1, fd_behind, after_wait_fd},
    {"read", setup_pipe, w_read, 1, NULL, after_read},
    {"write", setup_full_pipe, w_write, 1, NULL, after_write},
    {.name = NULL},
};

/* ---- the driver ------------------------------------------------------------------- */

typedef struct run {
    const wp *p;
    ctx *c;
    int mode;
    int first, second, after_scope;
    double took;
} run;

static int timed(void *a)
{
    run *r = a;
    double t0 = weft_now();
    r->first = r->p->wait(r->c);
    r->took = weft_now() - t0;
    r->second = r->p->repeat ? r->p->wait(r->c) : weft_sleep(10);
    return 0;
}

static int waiter(void *a)
{
    run *r = a;
    if (r->mode == MODE_CANCEL) {
        timed(r);
        r->after_scope = weft_sleep(0.001); /* still cancelled */
    } else {
        CHECK_EQ(weft_timeout(DEADLINE, timed, r), 0);
        r->after_scope = weft_sleep(0.001); /* the deadline is lifted */
    }
    return 0;
}

static int drive(const wp *p, int mode)
{
    ctx c;
    memset(&c, 0, sizeof c);
    run r = {.p = p, .c = &c, .mode = mode};
    if (p->setup) p->setup(&c);
    weft_task *w = weft_spawn(waiter, &r);
    CHECK_EQ(weft_yield(), 0); /* it runs and parks */
    if (p->behind) {
        c.behind = weft_spawn(p->behind, &c);
        CHECK_EQ(weft_yield(), 0);
    }
    if (mode == MODE_CANCEL) {
        CHECK_EQ(weft_sleep(0.01), 0);
        CHECK_EQ(weft_done(w), 0); /* really blocked */
        weft_cancel(w);
    }
    CHECK_EQ(weft_await(w), 0);
    int want = mode == MODE_CANCEL ? -ECANCELED : -ETIMEDOUT;
    if (r.first != want || r.second != want) {
        fprintf(stderr, "%s/%s: first %d second %d\n", p->name,
                mode == MODE_CANCEL ? "cancel" : "deadline", r.first, r.second);
        CHECK(0);
    }
    CHECK_EQ(r.after_scope, mode == MODE_CANCEL ? -ECANCELED : 0);
    if (mode == MODE_DEADLINE) {
        CHECK(r.took >= DEADLINE - 0.001);
        /* to_thread waits for its fn (1 s); the others end at the deadline */
        CHECK(r.took < 3);
    }
    if (p->after) p->after(&c);
    return 0;
}

static int all_points(void *a)
{
    int mode = (int)(long)a;
    for (const wp *p = points; p->name; p++) {
        fprintf(stderr, "   %s\n", p->name);
        drive(p, mode);
    }
    return 0;
}

WEFT_TEST(t_cancel) { return all_points((void *)(long)MODE_CANCEL); }
WEFT_TEST(t_deadline) { return all_points((void *)(long)MODE_DEADLINE); }

/* A socketpair behaves like the pipe: cancel a reader and a writer on it. */
static int sp_reader(void *a)
{
    char b[16];
    return (int)weft_read(*(int *)a, b, sizeof b);
}
static int t_socketpair_main(void *a)
{
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    weft_task *r = weft_spawn(sp_reader, &sv[0]);
    weft_sleep(0.005);
    weft_cancel(r);
    CHECK_EQ(weft_await(r), -ECANCELED);
    CHECK_EQ(weft_write(sv[1], "hello", 5), 5);
    char b[16];
    CHECK_EQ(weft_read(sv[0], b, sizeof b), 5);
    WEFT_TEST_CHECK(!memcmp(b, "hello", 5));
    weft_close(sv[0]);
    weft_close(sv[1]);
    return 0;
}

static const weft_test_case cases[] = {
    {"cancel", t_cancel},
    {"deadline", t_deadline},
    {"socketpair", t_socketpair_main},
};

int main(int argc, char **argv)
{
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
