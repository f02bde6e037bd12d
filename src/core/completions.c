/* Completions (asyncio.as_completed) and FIRST_EXCEPTION waits.
 *
 * Both hang one watch on each task, whose on_done hook runs as the task
 * ends: completions append the task's index to a ring, so each
 * weft_completions_next is O(1) however many tasks are watched (polling
 * every task per call, as weft_wait_any does, would make as_completed over
 * n tasks O(n^2): minutes for 100,000). */
#include "internal.h"
#include <errno.h>
#include <stdlib.h>

typedef struct cwatch {
    weft__watch w;
    struct weft_completions *c;
    int linked; /* in its task's watchers (until the task ends) */
} cwatch;

struct weft_completions {
    weft_task **tasks;  /* copied: the caller's array may go */
    cwatch *watch;
    size_t n;
    size_t *order;      /* indices in the order the tasks ended */
    size_t nordered, next;
    weft__wlist waiters;
    weft__loop *home; /* the tasks' loop: their ends are seen there */
};

static void completion_done(weft__watch *w, weft_task *t)
{
    (void)t;
    cwatch *cw = (cwatch *)w;
    weft_completions *c = cw->c;
    c->order[c->nordered++] = (size_t)(cw - c->watch);
    cw->linked = 0; /* task_finish unlinked it */
    weft__wake_first(&c->waiters, 0);
}

/* Checks that each task can be watched (as weft_wait_any does): -EXDEV for a
 * task of another loop, -EINVAL/-EDEADLK as weft_await says. */
static int check_all(weft__loop *L, weft_task **tasks, size_t n, const char *fn)
{
    for (size_t i = 0; i < n; i++) {
        if (tasks[i] && tasks[i]->loop != L->index) { /* its end is seen on its own loop */
            weft__report("%s: task %u is of another loop: watch it there", fn, tasks[i]->id);
            return -EXDEV;
        }
        int r = weft__check_awaitable(L, tasks[i], fn);
        if (r < 0) return r;
    }
    return 0;
}

weft_completions *weft_as_completed(weft_task **tasks, size_t n)
{
    weft__loop *L = weft__L;
    if (!L) {
        errno = EPERM;
        return NULL;
    }
    int r = (!tasks && n) ? -EINVAL : check_all(L, tasks, n, "weft_as_completed");
    if (r < 0) {
        errno = -r;
        return NULL;
    }
    weft_completions *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->n = n;
    c->home = L;
    c->tasks = malloc((n ? n : 1) * sizeof *c->tasks);
    c->watch = calloc(n ? n : 1, sizeof *c->watch);
    c->order = malloc((n ? n : 1) * sizeof *c->order);
    if (!c->tasks || !c->watch || !c->order) {
        free(c->tasks);
        free(c->watch);
        free(c->order);
        free(c);
        errno = ENOMEM;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        weft_task *t = c->tasks[i] = tasks[i];
        if (t->state == T_DONE) {
            c->order[c->nordered++] = i;
            continue;
        }
        cwatch *cw = &c->watch[i];
        cw->c = c;
        cw->linked = 1;
        cw->w.waiter = L->current;
        cw->w.on_done = completion_done;
        cw->w.next = t->watchers;
        t->watchers = &cw->w;
    }
    return c;
}

int weft_completions_next(weft_completions *c, double timeout_s)
{
    if (!c || isnan(timeout_s)) return -EINVAL;
    int r = weft__enter_home(c->home, "weft_completions_next");
    if (r) return r;
    weft__loop *L = weft__L;
    if (c->next == c->n) return -EPIPE;
    if (c->next == c->nordered) {
        double until = INFINITY;
        if (timeout_s >= 0) until = (L->now = weft__clock()) + timeout_s;
        r = weft__wait(&c->waiters, WAIT_TASK, -1, until, -ETIMEDOUT, 1);
        /* An end that came as the wait was interrupted is kept for the next call. */
        if (c->next == c->nordered) return r < 0 ? r : -ETIMEDOUT;
    }
    return (int)c->order[c->next++];
}

void weft_completions_free(weft_completions *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++)
        if (c->watch[i].linked) weft__unwatch(c->tasks[i], &c->watch[i].w);
    weft__wl_wake_all(&c->waiters, -EPIPE);
    free(c->tasks);
    free(c->watch);
    free(c->order);
    free(c);
}

/* ---- FIRST_EXCEPTION --------------------------------------------------------- */

typedef struct first_error {
    weft_task *waiter;
    size_t left;      /* tasks not yet ended */
    long failed;      /* index of the first failure seen, -1: none */
} first_error;

typedef struct ferr_watch {
    weft__watch w;
    first_error *fe;
    size_t i;
    int linked;
} ferr_watch;

static void ferr_done(weft__watch *w, weft_task *t)
{
    ferr_watch *fw = (ferr_watch *)w;
    first_error *fe = fw->fe;
    fw->linked = 0;
    fe->left--;
    if (t->result < 0 && fe->failed < 0) fe->failed = (long)fw->i;
    weft_task *x = fe->waiter;
    if ((fe->failed >= 0 || !fe->left) && x->state == T_WAITING && RUN(x)->wait_kind == WAIT_TASK)
        weft__wake(x, 0);
}

int weft_wait_first_error(weft_task **tasks, size_t n, double timeout_s)
{
    if (weft__need_task("weft_wait_first_error")) return -EPERM;
    if (n == 0 || !tasks || isnan(timeout_s)) return -EINVAL;
    weft__loop *L = weft__L;
    int r = check_all(L, tasks, n, "weft_wait_first_error");
    if (r < 0) return r;
    if ((r = weft__enter("weft_wait_first_error"))) return r;
    first_error fe = {L->current, 0, -1};
    for (size_t i = 0; i < n; i++) {
        if (tasks[i]->state != T_DONE) fe.left++;
        else if (tasks[i]->result < 0) return (int)i;
    }
    if (!fe.left) return (int)n;
    ferr_watch stackw[16];
    ferr_watch *w = n <= 16 ? stackw : malloc(n * sizeof *w);
    if (!w) return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        w[i] = (ferr_watch){{L->current, NULL, ferr_done}, &fe, i, 0};
        if (tasks[i]->state == T_DONE) continue;
        w[i].w.next = tasks[i]->watchers;
        tasks[i]->watchers = &w[i].w;
        w[i].linked = 1;
    }
    double until = INFINITY;
    if (timeout_s >= 0) until = (L->now = weft__clock()) + timeout_s;
    r = weft__park(NULL, WAIT_TASK, until, -ETIMEDOUT, 1);
    for (size_t i = 0; i < n; i++)
        if (w[i].linked) weft__unwatch(tasks[i], &w[i].w);
    if (w != stackw) free(w);
    /* What ended counts, even if the wait was interrupted as it did. */
    if (fe.failed >= 0) return (int)fe.failed;
    if (!fe.left) return (int)n;
    return r < 0 ? r : -ETIMEDOUT;
}
