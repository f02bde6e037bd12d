/* Awaiting tasks: weft_await, weft_wait_for, weft_gather, weft_wait_any,
 * and the wait for a task's end under them (also used by xtask.c).
 *
 * Apart from task.c because none of it is on the switch path: an awaiter
 * parks and is woken through task.c's weft__park/weft__wake like any other
 * wait, and a task's end reaches it through the watchers task_finish walks. */
#define _GNU_SOURCE
#include "internal.h"
#include <errno.h>
#include <stdlib.h>

void weft__unwatch(weft_task *t, weft__watch *w)
{
    for (weft__watch **p = &t->watchers; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            return;
        }
}

/* Waits for t to end. Returns 0 when it has, or the error that interrupted
 * the wait (cancellation, deadline or the limit `until`); in that case t was
 * not touched. */
int weft__wait_done(weft__loop *L, weft_task *t, double until, int cancellable)
{
    while (t->state != T_DONE) {
        weft__watch w = {L->current, t->watchers, NULL};
        t->watchers = &w;
        int r = weft__park(NULL, WAIT_TASK, until, -ETIMEDOUT, cancellable);
        weft__unwatch(t, &w);
        if (r < 0) return r;
    }
    return 0;
}

/* Cancels t, waits for its end whatever happens, frees it. */
static void cancel_reap(weft__loop *L, weft_task *t)
{
    weft_cancel(t);
    weft__wait_done(L, t, INFINITY, 0);
    weft__task_free(L, t);
}

int weft__check_awaitable(weft__loop *L, weft_task *t, const char *fn)
{
    if (t && t == L->current) {
        weft__report("%s: a task cannot await itself", fn);
        return -EDEADLK;
    }
    if (!t || t->state == T_FREE || (t->flags & (F_DETACHED | F_AWAITED))) {
        weft__report("%s: task %s", fn,
                     !t ? "is NULL"
                        : t->state == T_FREE ? "was already awaited and freed"
                        : (t->flags & F_DETACHED) ? "is detached" : "is already awaited");
        return -EINVAL;
    }
    return 0;
}

/* A result that is ready is never thrown away: if t ended by the time an
 * interrupted wait resumes, its result is returned (it may own something,
 * such as an fd, that only the caller can release). */
static int await_until(weft_task *t, double until, const char *fn)
{
    if (weft__need_task(fn)) return -EPERM;
    weft__loop *L = weft__L;
    if (t && weft__unlikely(t->loop != L->index)) return weft__x_await(L, t, until, fn);
    int r = weft__check_awaitable(L, t, fn);
    if (r < 0) return r;
    t->flags |= F_AWAITED;
    if (t->state != T_DONE && (r = weft__wait_done(L, t, until, 1)) < 0 && t->state != T_DONE) {
        cancel_reap(L, t);
        return r;
    }
    r = t->result;
    weft__task_free(L, t);
    return r;
}

int weft_await(weft_task *t) { return await_until(t, INFINITY, "weft_await"); }

int weft_wait_for(weft_task *t, double timeout_s)
{
    if (isnan(timeout_s)) return -EINVAL;
    if (weft__need_task("weft_wait_for")) return -EPERM;
    weft__L->now = weft__clock();
    return await_until(t, weft__L->now + (timeout_s > 0 ? timeout_s : 0), "weft_wait_for");
}

/* Gathering tasks of other loops: each awaited in turn. Once the caller is
 * cancelled (or past its deadline) each await cancels its task and reaps
 * it, so all end and all are awaited, as gather promises. */
static int gather_across(weft__loop *L, weft_task **tasks, size_t n, int *results)
{
    int first = 0, err = 0;
    for (size_t i = 0; i < n; i++) {
        int r = weft_await(tasks[i]);
        if (results) results[i] = r;
        if (!err) err = weft__check(L, L->current);
        if (r < 0 && !first) first = r;
    }
    return err ? err : first;
}

int weft_gather(weft_task **tasks, size_t n, int *results)
{
    if (weft__need_task("weft_gather")) return -EPERM;
    weft__loop *L = weft__L;
    for (size_t i = 0; i < n; i++)
        if (tasks[i] && weft__unlikely(tasks[i]->loop != L->index))
            return gather_across(L, tasks, n, results);
    for (size_t i = 0; i < n; i++) {
        /* Marking as we go makes a task listed twice fail the check. */
        int r = weft__check_awaitable(L, tasks[i], "weft_gather");
        if (r < 0) {
            while (i-- > 0) tasks[i]->flags &= (uint8_t)~F_AWAITED;
            return r;
        }
        tasks[i]->flags |= F_AWAITED;
    }
    int first = 0, err = 0;
    for (size_t i = 0; i < n; i++) {
        weft_task *t = tasks[i];
        if (!err && t->state != T_DONE && (err = weft__wait_done(L, t, INFINITY, 1)) < 0)
            for (size_t j = i; j < n; j++) weft_cancel(tasks[j]); /* end together */
        if (err) weft__wait_done(L, t, INFINITY, 0);
        if (results) results[i] = t->result;
        if (t->result < 0 && !first) first = t->result;
        weft__task_free(L, t);
    }
    return err ? err : first;
}

int weft_wait_any(weft_task **tasks, size_t n, double timeout_s)
{
    if (weft__need_task("weft_wait_any")) return -EPERM;
    if (n == 0 || isnan(timeout_s)) return -EINVAL;
    weft__loop *L = weft__L;
    /* Only a task nobody else awaits can be watched: an awaiter frees it. */
    for (size_t i = 0; i < n; i++) {
        if (tasks[i] && tasks[i]->loop != L->index) {
            weft__report("weft_wait_any: task %u is of another loop: await it there, or "
                         "spawn it with weft_spawn_on from this loop", tasks[i]->id);
            return -EXDEV;
        }
        int r = weft__check_awaitable(L, tasks[i], "weft_wait_any");
        if (r < 0) return r;
    }
    int r = weft__enter("weft_wait_any");
    if (r) return r;
    for (size_t i = 0; i < n; i++)
        if (tasks[i]->state == T_DONE) return (int)i;
    weft__watch stackw[16];
    weft__watch *w = n <= 16 ? stackw : malloc(n * sizeof *w);
    if (!w) return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        w[i].waiter = L->current;
        w[i].on_done = NULL;
        w[i].next = tasks[i]->watchers;
        tasks[i]->watchers = &w[i];
    }
    double until = INFINITY;
    if (timeout_s >= 0) until = (L->now = weft__clock()) + timeout_s;
    r = weft__park(NULL, WAIT_TASK, until, -ETIMEDOUT, 1);
    for (size_t i = 0; i < n; i++) weft__unwatch(tasks[i], &w[i]);
    if (w != stackw) free(w);
    for (size_t i = 0; i < n; i++)
        if (tasks[i]->state == T_DONE) return (int)i;
    return r < 0 ? r : -ETIMEDOUT;
}
