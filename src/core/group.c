/* Task groups (asyncio.TaskGroup): the group learns of each end as it
 * happens, so the first failure cancels the others at once rather than when
 * an in-order await would reach it. */
#include "internal.h"
#include <errno.h>
#include <stdlib.h>

struct weft_group {
    weft_task **tasks;
    size_t n, cap, done;
    int err;
    weft_task *waiter;
};

weft_group *weft_group_new(void) { return calloc(1, sizeof(weft_group)); }

static void cancel_rest(weft_group *g)
{
    for (size_t i = 0; i < g->n; i++) weft_cancel(g->tasks[i]);
}

int weft_group_spawn(weft_group *g, weft_fn fn, void *arg)
{
    weft__loop *L = weft__L;
    if (!L) return -EPERM;
    if (!fn) return -EINVAL;
    if (g->err) return -ECANCELED;
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 8;
        weft_task **t = realloc(g->tasks, cap * sizeof *t);
        if (!t) return -ENOMEM;
        g->tasks = t;
        g->cap = cap;
    }
    weft_task *t = weft__spawn_raw(L, NULL, fn, arg);
    if (t && weft__unlikely(L->opt.debug)) weft__debug_spawned(L, t, "weft_group_spawn", 0);
    if (!t) return -ENOMEM;
    t->group = g;
    t->flags |= F_AWAITED;
    g->tasks[g->n++] = t;
    return 0;
}

void weft__group_task_done(weft_task *t)
{
    weft_group *g = t->group;
    g->done++;
    if (t->result < 0 && !g->err) {
        g->err = t->result;
        cancel_rest(g);
    }
    if (g->waiter && g->done == g->n && g->waiter->state == T_WAITING) weft__wake(g->waiter, 0);
}

int weft_group_wait(weft_group *g)
{
    if (!g) return -EINVAL;
    if (weft__need_task("weft_group_wait")) return -EPERM;
    weft__loop *L = weft__L;
    int interrupted = 0;
    while (g->done < g->n) {
        g->waiter = L->current;
        int r = weft__park(NULL, WAIT_GROUP, INFINITY, 0, !interrupted);
        if (r < 0 && !interrupted) {
            interrupted = r;
            cancel_rest(g);
        }
    }
    for (size_t i = 0; i < g->n; i++) weft__task_free(L, g->tasks[i]);
    int err = interrupted ? interrupted : g->err;
    free(g->tasks);
    free(g);
    return err;
}
