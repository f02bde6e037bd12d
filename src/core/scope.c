/* Deadline scopes (weft_timeout, weft_timeout_at, weft_reschedule) and
 * shields (weft_shield).
 *
 * Each scope is a record on the calling task's stack, linked from the task's
 * run state (innermost first) for as long as fn runs. A scope knows its own
 * deadline and the one in force inside it (`eff`): the nearest of its own
 * and its enclosing scope's, except that a shield starts afresh at no
 * deadline. The task's run state caches the innermost `eff` in
 * RUN(t)->deadline, which is all that waits look at, so scopes cost a wait
 * nothing. Moving a deadline (weft_reschedule) recomputes the chain, which
 * is as deep as the nesting in the source: a handful.
 *
 * A shield also holds cancellation back: while RUN(t)->shielded is set,
 * weft_cancel records the request in RUN(t)->cancel_held instead of setting
 * F_CANCELLED (and waking the task), and a cancellation that came before the
 * shield is turned into a held one for its length. When the outermost shield ends, what was
 * held becomes F_CANCELLED again, so the first wait after it fails, as the
 * contract's stickiness demands. */
#include "internal.h"
#include <errno.h>

typedef struct weft__scope {
    double own;                /* this scope's deadline; a shield's: INFINITY */
    double eff;                /* the deadline in force inside it */
    struct weft__scope *prev;  /* the enclosing scope */
    int shield;
} weft__scope;

static inline double eff_of(const weft__scope *s) { return s ? s->eff : INFINITY; }

/* Recomputes eff from the outermost scope in. */
static void refresh(weft__scope *s)
{
    if (!s) return;
    refresh(s->prev);
    s->eff = s->shield ? s->own : fmin(s->own, eff_of(s->prev));
}

/* Makes the task's cached deadline and F_DEADLINE match its innermost scope. */
static void apply(weft_task *t)
{
    double d = eff_of(RUN(t)->scope);
    RUN(t)->deadline = d;
    if (d < INFINITY) t->flags |= F_DEADLINE;
    else t->flags &= (uint8_t)~F_DEADLINE;
}

/* Runs fn(arg) with s as the innermost scope. */
static int run_in(weft_task *t, weft__scope *s, weft_fn fn, void *arg)
{
    s->prev = RUN(t)->scope;
    s->eff = s->shield ? s->own : fmin(s->own, eff_of(s->prev));
    RUN(t)->scope = s;
    apply(t);
    int r = fn(arg);
    RUN(t)->scope = s->prev;
    apply(t);
    return r;
}

int weft_timeout_at(double deadline, weft_fn fn, void *arg)
{
    if (weft__need_task("weft_timeout_at")) return -EPERM;
    if (isnan(deadline) || !fn) return -EINVAL;
    weft__scope s = {.own = deadline};
    return run_in(weft__L->current, &s, fn, arg);
}

int weft_timeout(double seconds, weft_fn fn, void *arg)
{
    if (weft__need_task("weft_timeout")) return -EPERM;
    if (isnan(seconds) || !fn) return -EINVAL;
    weft__loop *L = weft__L;
    L->now = weft__clock();
    weft__scope s = {.own = L->now + (seconds > 0 ? seconds : 0)};
    return run_in(L->current, &s, fn, arg);
}

int weft_reschedule(double deadline)
{
    if (isnan(deadline)) return -EINVAL;
    weft__loop *L = weft__L;
    if (!L || !L->current) return -EINVAL;
    weft_task *t = L->current;
    weft__scope *s = RUN(t)->scope;
    while (s && s->shield) s = s->prev;
    if (!s) return -EINVAL; /* not inside a weft_timeout */
    s->own = deadline;
    refresh(RUN(t)->scope);
    apply(t);
    return 0;
}

int weft_shield(weft_fn fn, void *arg)
{
    if (weft__need_task("weft_shield")) return -EPERM;
    if (!fn) return -EINVAL;
    weft_task *t = weft__L->current;
    weft__run *run = RUN(t);
    uint8_t was_shielded = run->shielded;
    if (t->flags & F_CANCELLED) { /* requested before: held like one arriving during */
        t->flags &= (uint8_t)~F_CANCELLED;
        run->cancel_held = 1;
    }
    run->shielded = 1;
    weft__scope s = {.own = INFINITY, .shield = 1};
    int r = run_in(t, &s, fn, arg);
    run->shielded = was_shielded;
    if (run->cancel_held && !was_shielded) { /* an enclosing shield holds it still */
        run->cancel_held = 0;
        t->flags |= F_CANCELLED;
    }
    return r;
}
