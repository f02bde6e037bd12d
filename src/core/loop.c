/* The loop: weft_run, the scheduler that runs ready tasks, fires timers and
 * polls for I/O, and the shutdown that cancels and reaps what is left. */
#define _GNU_SOURCE
#include "backend.h"
#include "sigreg.h"
#include "loops_internal.h"
#include <sched.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

void weft__report(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n > sizeof buf - 2) n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    fputs("weft: ", stderr);
    fwrite(buf, 1, (size_t)n, stderr);
}

/* SIGINT cancels the main task of every running loop, unless a task waits
 * for SIGINT (weft_signal_wait: it gets the signal instead) or SIGINT did not
 * have its default action when weft took it (a handler of the user's, or
 * SIG_IGN as a shell leaves it for background jobs: left alone). The
 * process-wide handler belongs to the signal registry (sigreg.c); each loop
 * is a fallback slot in it whose eventfd the poller watches, so the loop
 * notices even while blocked. */
static __thread int sigint_slot = -1; /* this loop's registry slot */
static __thread int sigint_efd = -1;
static __thread double last_poll; /* this loop's last poll with ready tasks */

static void sigint_install(weft__loop *L)
{
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd < 0) return;
    int slot = weft__sig_attach(efd, WEFT__SIG_FALLBACK);
    /* Watched only once wanted: an internal watch stays on the fd's record,
     * and this number, closed, may soon be a task's fd (signal.c's own). */
    if (slot >= 0 && weft__sig_want(slot, SIGINT, 1) == 0 &&
        weft__watch_internal(L, efd, weft__sigint_drain) == 0) {
        sigint_slot = slot;
        sigint_efd = efd;
        return;
    }
    if (slot >= 0) weft__sig_detach(slot);
    close(efd);
}

static void sigint_remove(void)
{
    if (sigint_slot < 0) return;
    weft__sig_detach(sigint_slot); /* no handler writes to the eventfd after this */
    close(sigint_efd);
    sigint_slot = sigint_efd = -1;
}

void weft__sigint_drain(weft__loop *L)
{
    uint64_t v;
    (void)!read(sigint_efd, &v, sizeof v);
    if ((weft__sig_take(sigint_slot) & weft__sig_bit(SIGINT)) && L->main &&
        L->main->state != T_DONE)
        weft_cancel(L->main);
}

static void find_thread_stack(weft__loop *L)
{
    pthread_attr_t a;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        pthread_attr_getstack(&a, &L->sched_stack_lo, &L->sched_stack_size);
        pthread_attr_destroy(&a);
    }
}

/* The ready queue is set aside while timers fire and the poll runs, so that
 * what they wake can go before it. */
static void backlog_hold(weft__loop *L)
{
    if (L->backlog_head) { /* not expected: new tasks queue behind a backlog */
        L->ready_tail->next = L->backlog_head;
        L->backlog_head = L->ready_head;
    } else {
        L->backlog_head = L->ready_head;
        L->backlog_tail = L->ready_tail;
    }
    L->ready_head = L->ready_tail = NULL;
}

/* The held tasks go back, after what is ready now. */
static void backlog_resume(weft__loop *L)
{
    if (!L->backlog_head) return;
    if (L->ready_tail) L->ready_tail->next = L->backlog_head;
    else L->ready_head = L->backlog_head;
    L->ready_tail = L->backlog_tail;
    L->backlog_head = L->backlog_tail = NULL;
}

/* One turn of the scheduler. Returns 0 normally, -1 when nothing can ever
 * happen again: no task is ready, no timer pending, no fd or pool job
 * awaited, so every task waits for something only another task could do.
 * (A SIGINT could still come, but a deadlock is better reported than
 * waited out.) With several loops, or tasks waiting for other threads
 * (channels, calls), another thread may still end any wait: the loop then
 * sleeps until woken.
 *
 * A burst of starts (bounded by time in weft__run_ready) does not starve
 * what it delays: when the turn ends with new tasks still to start, the
 * rest of the ready queue is held back while timers fire, messages from
 * other loops are taken and the poll runs; if they woke anything, that
 * runs first, with what it wakes in turn (a semaphore's next holder, say),
 * and the burst resumes one turn later behind whatever that turn's look
 * finds. */
static int turn(weft__loop *L, int (*done)(weft__loop *))
{
    int held = 0;
    size_t starts = L->starts;
    if (L->ready_head) weft__run_ready(L);
    if (L->starts != starts && L->ready_head) {
        backlog_hold(L);
        held = 1;
    }
    if (weft__port_pending(L)) weft__port_drain(L);
    if (done(L)) {
        backlog_resume(L);
        return 0;
    }
    L->now = weft__clock();
    double next = weft__timers_run(L);
    int io = L->fd_waiting || weft__pool_busy(L);
    int outside = io || L->xwait || L->fleet->n > 1;
    if (L->ready_head || L->backlog_head) {
        /* Only pay for a system call when something could be waiting: fds
         * or pool jobs on every turn; otherwise only the SIGINT eventfd and
         * wakes, which a millisecond late is soon enough (messages from
         * other loops are seen above without it: a cross-loop hop would
         * otherwise pay a system call). */
        if (io || (sigint_slot >= 0 && L->now - last_poll >= 1e-3)) {
            weft__backend_poll(L, 0);
            last_poll = L->now;
        }
        /* Held this turn and something woke: kept back for one turn. */
        if (!held || !L->ready_head) backlog_resume(L);
        return 0;
    }
    if (next == INFINITY && !outside) return -1;
    if (weft__port_sleep(L)) return 0; /* a message came: no need to block */
    weft__backend_poll(L, next == INFINITY ? -1 : next - L->now);
    weft__port_awake(L);
    return 0;
}

/* Turns until done() holds. On a deadlock every task is cancelled; if even
 * that wakes nobody (tasks in waits that ignore cancellation, such as the
 * end of a task they cancelled), they can never end: returns -EDEADLK and
 * leaves them for weft_run_with to free. */
static int run_until(weft__loop *L, int (*done)(weft__loop *))
{
    while (!done(L)) {
        if (turn(L, done) == 0) continue;
        weft__report("deadlock: every task waits for something only another task could do; "
                     "cancelling them all");
        weft__cancel_all(L);
        if (!L->ready_head) {
            weft__report("deadlock: %zu task(s) cannot end even when cancelled; abandoning them",
                         L->running);
            return -EDEADLK;
        }
    }
    return 0;
}

static int main_done(weft__loop *L) { return L->main->state == T_DONE; }
static int ending(weft__loop *L) { return weft__fleet_ending(L->fleet); }

/* ---- a loop's life on its thread --------------------------------------------- */

static __thread int old_slack;

/* Makes this thread's loop. On failure everything is undone. */
static int loop_open(weft__loop *L, const weft_options *opt)
{
    if (opt) L->opt = *opt;
    const char *dbg = getenv("WEFT_DEBUG");
    if (dbg && *dbg && strcmp(dbg, "0") != 0) L->opt.debug = 1;
    if (L->opt.slow_task_s <= 0) L->opt.slow_task_s = 0.1;
    weft__debug_open(L);
    L->pidfd = -1;
    int err = weft__stacks_init(L);
    if (err == 0) err = weft__backend_init(L);
    if (err < 0) {
        /* Not started: undo the debug state too (its SIGUSR1 handler,
         * watchdog thread and trace file), and say why (-EMFILE when out
         * of descriptors for epoll, rather than a blanket -ENOMEM). */
        weft__debug_close(L);
        weft__backend_close(L);
        weft__stacks_close(L);
        return err;
    }
    weft__L = L;
    find_thread_stack(L);
    weft__overflow_handler_install(L);
    /* Timers should fire when asked, not up to 50 us later. */
    old_slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
    sigint_install(L);
    L->now = weft__clock();
    return 0;
}

static void loop_close(weft__loop *L)
{
    if (L->opt.debug) weft__debug_close(L);
    weft__pool_close(L);
    sigint_remove();
    weft__backend_close(L);
    weft__fds_free(L);
    weft__timers_free(L);
    weft__prefault_close(L); /* before anything it may be touching is unmapped */
    weft__free_all_tasks(L);
    weft__locals_close(L);
    weft__stacks_close(L);
    weft__overflow_handler_remove(L);
    if (old_slack > 0) prctl(PR_SET_TIMERSLACK, old_slack, 0, 0, 0);
    weft__L = NULL;
}

/* asyncio.run's epilogue, on every loop once main has returned: cancel
 * whatever is left and let it end; the loops stop together once none has
 * a task left and nothing is in flight between them. */
static int loop_reap(weft__loop *L)
{
    weft__cancel_all(L);
    L->closing = 1;
    return run_until(L, weft__fleet_finished);
}

/* ---- the run ------------------------------------------------------------------- */

/* A meeting point of the run's threads, used once; the run lowers parties
 * when some threads could not be started. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int arrived, parties;
} gate;

static void gate_wait(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->arrived++;
    pthread_cond_broadcast(&g->cv);
    while (g->arrived < g->parties) pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_lower(gate *g, int parties)
{
    pthread_mutex_lock(&g->mu);
    g->parties = parties;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

typedef struct run_ctx {
    weft__fleet *F;
    const weft_options *opt;
    gate started, stopped;
    int failed;     /* a loop could not be made (atomic) */
    int pin;
} run_ctx;

static void pin_to(int i)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu <= 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((int)(i % ncpu), &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

typedef struct worker_arg {
    run_ctx *rc;
    int index;
} worker_arg;

static void *loop_thread(void *p)
{
    worker_arg *wa = p;
    run_ctx *rc = wa->rc;
    int i = wa->index;
    weft__loop *L = calloc(1, sizeof *L);
    if (rc->pin) pin_to(i);
    int err = L ? loop_open(L, rc->opt) : -ENOMEM;
    if (err == 0) weft__fleet_attach(rc->F, i, L);
    else __atomic_store_n(&rc->failed, err, __ATOMIC_SEQ_CST);
    gate_wait(&rc->started);
    if (err == 0) {
        if (!__atomic_load_n(&rc->failed, __ATOMIC_SEQ_CST)) {
            run_until(L, ending);
            loop_reap(L);
        }
        gate_wait(&rc->stopped); /* nobody wakes a loop after this */
        loop_close(L);
    } else {
        gate_wait(&rc->stopped);
    }
    free(L);
    return NULL;
}

int weft_cpu_count(void)
{
    cpu_set_t set;
    int n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
    if (n <= 0) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

/* Loops asked for: opt->loops, else WEFT_LOOPS (a number or "auto"), else 1. */
static int loops_wanted(const weft_options *opt)
{
    int n = opt ? opt->loops : 0;
    if (n == 0) {
        const char *e = getenv("WEFT_LOOPS");
        if (e && strcmp(e, "auto") == 0) n = weft_cpu_count();
        else if (e && *e) n = atoi(e);
    }
    if (n <= 0) n = 1;
    if (n > 1024) n = 1024;
    return n;
}

int weft_run_with(const weft_options *opt, weft_fn main, void *arg)
{
    if (weft__L) return -EBUSY;
    if (!main) return -EINVAL;
    if (opt && opt->loops < 0) return -EINVAL;
    int n = loops_wanted(opt);
    const char *pin = getenv("WEFT_PIN");
    run_ctx rc = {.opt = opt, .pin = pin && strcmp(pin, "1") == 0,
                  .started = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 1},
                  .stopped = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 1}};
    rc.F = weft__fleet_new(n);
    weft__loop *L = calloc(1, sizeof *L);
    if (!rc.F || !L) {
        if (rc.F) weft__fleet_retire(rc.F);
        free(L);
        return -ENOMEM;
    }
    weft__fleet *F = rc.F;
    cpu_set_t old_cpus;
    int restore_cpus = rc.pin && sched_getaffinity(0, sizeof old_cpus, &old_cpus) == 0;
    if (rc.pin) pin_to(0);
    int err = loop_open(L, opt);
    if (err < 0) {
        weft__fleet_retire(F);
        free(L);
        return err;
    }
    weft__fleet_attach(F, 0, L);

    /* Loops 1..n-1, each on a thread of its own, all made before main
     * starts (so that weft_loop_at finds them). */
    int started = 0;
    worker_arg *wa = NULL;
    if (n > 1) {
        F->threads = calloc((size_t)n, sizeof *F->threads);
        wa = calloc((size_t)n, sizeof *wa);
        if (!F->threads || !wa) err = -ENOMEM;
        rc.started.parties = rc.stopped.parties = n;
        for (int i = 1; i < n && err == 0; i++) {
            wa[i] = (worker_arg){&rc, i};
            int e = pthread_create(&F->threads[i], NULL, loop_thread, &wa[i]);
            if (e) err = -e;
            else started++;
        }
        if (err < 0) {
            __atomic_store_n(&rc.failed, err, __ATOMIC_SEQ_CST);
            gate_lower(&rc.started, started + 1);
            gate_lower(&rc.stopped, started + 1);
        }
        gate_wait(&rc.started);
        int f = __atomic_load_n(&rc.failed, __ATOMIC_SEQ_CST);
        if (f < 0 && err == 0) err = f;
    }

    int result = err, reap = 0;
    if (err == 0) {
        L->main = weft__spawn_at("main", main, arg, "weft_run", 0);
        if (!L->main) result = -ENOMEM;
    }
    if (L->main) {
        L->main->flags |= F_AWAITED;
        result = run_until(L, main_done);
        if (result == 0) {
            reap = 1;
            result = L->main->result;
            if (L->opt.debug) weft__debug_main_done(L);
        }
    }
    weft__fleet_end(F);
    if (reap) loop_reap(L);
    if (n > 1) {
        gate_wait(&rc.stopped);
        for (int i = 1; i <= started; i++) pthread_join(F->threads[i], NULL);
    }
    loop_close(L);
    free(F->threads);
    F->threads = NULL;
    free(wa);
    free(L);
    weft__fleet_retire(F);
    if (restore_cpus) sched_setaffinity(0, sizeof old_cpus, &old_cpus);
    return result;
}

int weft_run(weft_fn main, void *arg) { return weft_run_with(NULL, main, arg); }
