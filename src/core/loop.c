/* The loop: weft_run, the scheduler that runs ready tasks, fires timers and
 * polls for I/O, and the shutdown that cancels and reaps what is left. */
#define _GNU_SOURCE
#include "backend.h"
#include "sigreg.h"
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

/* One turn of the scheduler. Returns 0 normally, -1 when nothing can ever
 * happen again: no task is ready, no timer pending, no fd or pool job
 * awaited, so every task waits for something only another task could do.
 * (A SIGINT could still come, but a deadlock is better reported than
 * waited out.) */
static int turn(weft__loop *L)
{
    if (L->ready_head) weft__run_ready(L);
    if (L->closing ? L->running == 0 : L->main->state == T_DONE) return 0;
    L->now = weft__clock();
    double next = weft__timers_run(L);
    int outside = L->fd_waiting || weft__pool_busy(L);
    if (L->ready_head) {
        /* Only pay for a system call when something could be waiting. */
        if (outside || sigint_slot >= 0) weft__backend_poll(L, 0);
        return 0;
    }
    if (next == INFINITY && !outside) return -1;
    weft__backend_poll(L, next == INFINITY ? -1 : next - L->now);
    return 0;
}

/* Turns until done() holds. On a deadlock every task is cancelled; if even
 * that wakes nobody (tasks in waits that ignore cancellation, such as the
 * end of a task they cancelled), they can never end: returns -EDEADLK and
 * leaves them for weft_run_with to free. */
static int run_until(weft__loop *L, int (*done)(weft__loop *))
{
    while (!done(L)) {
        if (turn(L) == 0) continue;
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
static int all_done(weft__loop *L) { return L->running == 0; }

int weft_run_with(const weft_options *opt, weft_fn main, void *arg)
{
    if (weft__L) return -EBUSY;
    if (!main) return -EINVAL;
    weft__loop *L = calloc(1, sizeof *L);
    if (!L) return -ENOMEM;
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
        free(L);
        return err;
    }
    weft__L = L;
    find_thread_stack(L);
    weft__overflow_handler_install(L);
    /* Timers should fire when asked, not up to 50 us later. */
    int old_slack = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
    prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
    sigint_install(L);
    L->now = weft__clock();

    int result;
    L->main = weft__spawn_at("main", main, arg, "weft_run", 0);
    if (!L->main) {
        result = -ENOMEM;
    } else {
        L->main->flags |= F_AWAITED;
        result = run_until(L, main_done);
        if (result == 0) {
            result = L->main->result;
            if (L->opt.debug) weft__debug_main_done(L);
            /* asyncio.run's epilogue: cancel whatever is left and let it end. */
            weft__cancel_all(L);
            L->closing = 1;
            run_until(L, all_done);
        }
    }
    if (L->opt.debug) weft__debug_close(L);
    weft__pool_close(L);
    sigint_remove();
    weft__backend_close(L);
    weft__fds_free(L);
    weft__timers_free(L);
    weft__prefault_close(L); /* before anything it may be touching is unmapped */
    weft__free_all_tasks(L);
    weft__stacks_close(L);
    weft__overflow_handler_remove(L);
    if (old_slack > 0) prctl(PR_SET_TIMERSLACK, old_slack, 0, 0, 0);
    weft__L = NULL;
    free(L);
    return result;
}

int weft_run(weft_fn main, void *arg) { return weft_run_with(NULL, main, arg); }

