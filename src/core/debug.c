/* Debug mode: spawn sites, slow-task reports, and the end-of-run report of
 * tasks never awaited and errors nobody read. Costs nothing when off: every
 * hook is behind one test of opt.debug. */
#define _GNU_SOURCE
#include "internal.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static const char *tname(const weft_task *t) { return t->name ? t->name : "(unnamed)"; }

void weft__debug_spawned(weft__loop *L, weft_task *t, const char *file, int line)
{
    (void)L;
    t->dbg = calloc(1, sizeof *t->dbg);
    if (!t->dbg) return;
    t->dbg->file = file ? file : "?";
    t->dbg->line = line;
}

void weft__debug_run_begin(weft__loop *L, weft_task *t)
{
    (void)L;
    if (t->dbg) t->dbg->run_start = weft__clock();
}

void weft__debug_run_end(weft__loop *L, weft_task *t)
{
    if (!t->dbg || t->dbg->run_start == 0) return;
    double ran = weft__clock() - t->dbg->run_start;
    t->dbg->run_start = 0;
    if (ran >= L->opt.slow_task_s)
        weft__report("task '%s' (id %u, spawned at %s:%d) ran %.3f s without waiting: it "
                     "blocks the loop (use weft_to_thread for blocking work)",
                     tname(t), t->id, t->dbg->file, t->dbg->line, ran);
}

static void at_close(weft__loop *L, weft_task *t)
{
    (void)L;
    const char *file = t->dbg ? t->dbg->file : "?";
    int line = t->dbg ? t->dbg->line : 0;
    if (t->state == T_DONE && !(t->flags & (F_AWAITED | F_DETACHED))) {
        if (t->result < 0 && t->result != -ECANCELED)
            weft__report("task '%s' (id %u, spawned at %s:%d) failed with '%s' and nobody read "
                         "the error", tname(t), t->id, file, line, weft_strerror(t->result));
        else
            weft__report("task '%s' (id %u, spawned at %s:%d) was never awaited", tname(t), t->id,
                         file, line);
    }
}

void weft__each_task(void (*fn)(weft__loop *, weft_task *));

void weft__debug_close(weft__loop *L)
{
    (void)L;
    weft__each_task(at_close);
}
