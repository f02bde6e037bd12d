/* weft_all_tasks: each live task's id, name and state, for tools written by
 * users (monitoring, a /debug/tasks endpoint) that should not have to parse
 * dumps. It walks the same task records a dump does. */
#include "debug_int.h"

/* weft__each_task takes no user data: the walk is on this thread only. */
static __thread void (*each_fn)(const weft_task_info *, void *);
static __thread void *each_ud;
static __thread int each_n;

static const char *state_name(int state)
{
    switch (state) {
    case T_NEW: return "new";
    case T_READY: return "ready";
    case T_RUNNING: return "running";
    case T_WAITING: return "waiting";
    case T_DONE: return "done";
    default: return "?";
    }
}

static void visit(weft__loop *L, weft_task *t)
{
    (void)L;
    if (t->state == T_REMOTE) return; /* a handle of another loop's task: listed there */
    weft_task_info info = {t->id, t->name, state_name(t->state), NULL};
    if (t->state == T_WAITING) info.waits_on = weft__wait_name(RUN(t)->wait_kind);
    each_n++;
    each_fn(&info, each_ud);
}

int weft_all_tasks(void (*fn)(const weft_task_info *info, void *ud), void *ud)
{
    if (!weft__L) return -EPERM;
    if (!fn) return -EINVAL;
    each_fn = fn;
    each_ud = ud;
    each_n = 0;
    weft__each_task(visit);
    return each_n;
}
