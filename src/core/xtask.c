/* Tasks across loops: weft_spawn_on, weft_call, and awaiting, cancelling or
 * detaching a task of another loop.
 *
 * A task spawned on another loop gets a handle on the caller's loop: a task
 * record in state T_REMOTE, with no stack, that ends when the remote task
 * ends. So the handle is awaited, gathered, cancelled and detached by the
 * ordinary local code (its watchers, its flags); only cancelling it sends a
 * message. The link between the two is one allocation, used as the spawn
 * message there and as the "done" message back; the remote loop never
 * touches the handle, and the caller's loop never touches the remote task.
 *
 * A handle owned by another loop (passed across) is awaited by spawning,
 * on its loop, a task that awaits it there; cancelled or detached by a
 * message naming it and its id (so a record freed and reused meanwhile is
 * left alone). */
#define _GNU_SOURCE
#include "loops_internal.h"
#include <pthread.h>
#include <stdlib.h>

typedef struct xlink {
    weft__msg m;            /* X_SPAWN to the target, then X_DONE back home */
    weft_fn fn;
    void *arg;
    weft__port *home;       /* the caller's loop; NULL: a foreign thread */
    weft__port *target;     /* where the task runs */
    weft_task *proxy;       /* the handle, on home */
    int result;
    int refs;               /* home, target, a cancel message in flight (atomic) */
    weft_task *task;        /* target only: the task, NULL once ended */
    int cancel_sent;        /* home only */
    /* a foreign thread's weft_call: it blocks on these */
    pthread_mutex_t *mu;
    pthread_cond_t *cv;
    int done;
} xlink;

typedef struct link_msg { /* X_CANCEL */
    weft__msg m;
    xlink *link;
} link_msg;

typedef struct task_msg { /* X_TCANCEL, X_TDETACH */
    weft__msg m;
    weft_task *t;
    uint32_t id;
} task_msg;

static void link_unref(xlink *k)
{
    if (__atomic_sub_fetch(&k->refs, 1, __ATOMIC_ACQ_REL) == 0) free(k);
}

/* Target side: the remote task's end goes back home. The link is not
 * touched after it is sent (home may free it at once), but for our ref. */
static void send_done(xlink *k, int result)
{
    k->result = result;
    if (!k->home) {
        pthread_mutex_t *mu = k->mu;
        pthread_cond_t *cv = k->cv;
        pthread_mutex_lock(mu);
        k->done = 1;
        pthread_cond_signal(cv);
        pthread_mutex_unlock(mu);
        return;
    }
    k->m.kind = X_DONE;
    weft__port_send(k->home, &k->m, 0);
    link_unref(k);
}

static int trampoline(void *arg)
{
    xlink *k = arg;
    int r = k->fn(k->arg);
    k->task = NULL;
    send_done(k, r);
    return 0; /* the result went home: nothing for the detached record */
}

void weft__x_unstarted(weft_task *t, int result)
{
    if (weft__post_unstarted(t)) return; /* tried again later, never dropped */
    if (t->fn != trampoline) return;
    /* Else its handle would never end, nor the run, and a cancel would
     * reach the freed record through k->task. */
    xlink *k = t->arg;
    k->task = NULL;
    send_done(k, result);
}

static void handle_spawn(weft__loop *L, xlink *k)
{
    weft_task *t = weft__spawn_raw(L, "weft_spawn_on", trampoline, k);
    if (!t) {
        send_done(k, -ENOMEM);
        return;
    }
    if (L->opt.debug) weft__debug_spawned(L, t, "weft_spawn_on", 0);
    t->flags |= F_DETACHED;
    k->task = t;
    if (L->closing) weft_cancel(t);
}

static int task_is(weft__loop *L, weft_task *t, uint32_t id)
{
    return t->state != T_FREE && t->state != T_BATCH && t->id == id && t->loop == L->index;
}

void weft__x_handle(weft__loop *L, weft__msg *m)
{
    switch (m->kind) {
    case X_SPAWN: handle_spawn(L, (xlink *)m); return;
    case X_DONE: {
        xlink *k = (xlink *)m;
        weft__task_finish_remote(L, k->proxy, k->result);
        link_unref(k);
        return;
    }
    case X_CANCEL: {
        xlink *k = ((link_msg *)m)->link;
        if (k->task) weft_cancel(k->task);
        link_unref(k);
        break;
    }
    case X_TCANCEL:
    case X_TDETACH: {
        task_msg *tm = (task_msg *)m;
        if (task_is(L, tm->t, tm->id)) {
            if (m->kind == X_TCANCEL) weft_cancel(tm->t);
            else weft_detach(tm->t);
        }
        break;
    }
    }
    free(m);
}

/* ---- the caller's side -------------------------------------------------------- */

/* A T_REMOTE handle on L for fn(arg) run on port P. external: refused once
 * the run is ending (what users spawn); internal spawns serve the ending
 * itself (awaiting a handle across loops). NULL and errno. */
static weft_task *spawn_remote(weft__loop *L, weft__port *P, weft_fn fn, void *arg, int external)
{
    xlink *k = calloc(1, sizeof *k);
    weft_task *p = k ? weft__task_new(L, NULL, fn, arg) : NULL;
    if (!p) {
        free(k);
        errno = ENOMEM;
        return NULL;
    }
    p->state = T_REMOTE;
    p->arg = k;
    k->m.kind = X_SPAWN;
    k->fn = fn;
    k->arg = arg;
    k->home = L->port;
    k->target = P;
    k->proxy = p;
    k->refs = 2;
    k->m.gen = weft__port_gen(P);
    int r = weft__port_send(P, &k->m, external);
    if (r < 0) {
        L->running--;
        weft__task_free(L, p);
        free(k);
        errno = -r;
        return NULL;
    }
    return p;
}

/* The port of handle l if it names a loop of L's run, else NULL (errno
 * ESHUTDOWN: a loop of an ended run; EINVAL: of no run of ours). */
static weft__port *port_of(weft_loop *l, const weft__loop *L)
{
    unsigned gen;
    weft__port *P = l ? weft__handle_port(l, &gen) : NULL;
    if (P && L && P->fleet == L->fleet) {
        if (gen == weft__port_gen(P)) return P;
        errno = ESHUTDOWN;
        return NULL;
    }
    errno = EINVAL;
    return NULL;
}

#undef weft_spawn
weft_task *weft_spawn_on(weft_loop *l, weft_fn fn, void *arg)
{
    weft__loop *L = weft__L;
    if (!L) {
        weft__report("weft_spawn_on called outside a running loop (use weft_post from other threads)");
        errno = EPERM;
        return NULL;
    }
    weft__port *P = port_of(l, L);
    if (!P || !fn) {
        if (P || !l) errno = EINVAL;
        return NULL;
    }
    if (P == L->port) return weft__spawn_at("weft_spawn_on", fn, arg, NULL, 0);
    weft_task *p = spawn_remote(L, P, fn, arg, 1);
    if (p && L->opt.debug) weft__debug_spawned(L, p, NULL, 0);
    return p;
}

static void send_task_msg(weft__loop *L, weft_task *t, int kind, const char *fn)
{
    task_msg *tm = malloc(sizeof *tm);
    if (!tm) {
        weft__report("%s: no memory for a message to another loop", fn);
        return;
    }
    tm->m.kind = kind;
    tm->t = t;
    tm->id = t->id;
    weft__port_send(&L->fleet->ports[t->loop], &tm->m, 0);
}

void weft__x_cancel(weft__loop *L, weft_task *t)
{
    if (t->loop != L->index) { /* another loop's record */
        send_task_msg(L, t, X_TCANCEL, "weft_cancel");
        return;
    }
    xlink *k = t->arg; /* our T_REMOTE handle: one message to its task's loop */
    t->flags |= F_CANCELLED;
    if (k->cancel_sent) return;
    link_msg *cm = malloc(sizeof *cm);
    if (!cm) {
        weft__report("weft_cancel: no memory for a message to another loop");
        return;
    }
    k->cancel_sent = 1;
    __atomic_add_fetch(&k->refs, 1, __ATOMIC_RELAXED);
    cm->m.kind = X_CANCEL;
    cm->link = k;
    /* The spawn went first through this same inbox, so the target knows
     * the link; the ref taken keeps it until the cancel is handled. */
    weft__port_send(k->target, &cm->m, 0);
}

void weft__x_detach(weft__loop *L, weft_task *t) { send_task_msg(L, t, X_TDETACH, "weft_detach"); }

static int await_there(void *t) { return weft_await(t); }

/* Waits for t, which the caller awaits, to end; if the wait is interrupted
 * (cancellation, deadline, until) cancels t and waits for its end all the
 * same. Frees t; its result goes to *result. Returns 0, or the error that
 * interrupted the wait. */
static int finish(weft__loop *L, weft_task *t, double until, int *result)
{
    t->flags |= F_AWAITED;
    int err = weft__wait_done(L, t, until, 1);
    if (err < 0 && t->state != T_DONE) {
        weft_cancel(t);
        weft__wait_done(L, t, INFINITY, 0);
    } else {
        err = 0;
    }
    *result = t->result;
    weft__task_free(L, t);
    return err;
}

int weft__x_await(weft__loop *L, weft_task *t, double until, const char *fn)
{
    if (t->loop >= (unsigned)L->fleet->n) {
        weft__report("%s: task is not of this run", fn);
        return -EINVAL;
    }
    weft_task *p = spawn_remote(L, &L->fleet->ports[t->loop], await_there, t, 0);
    if (!p) return -ENOMEM;
    int r, err = finish(L, p, until, &r);
    /* Interrupted, and the task ended by the cancellation: say why. */
    return err && r == -ECANCELED ? err : r;
}

/* ---- weft_call -------------------------------------------------------------------- */

/* From a thread outside the run: block it until the task has ended. */
static int call_blocking(weft_loop *l, weft_fn fn, void *arg)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    xlink k = {.m.kind = X_SPAWN, .fn = fn, .arg = arg, .mu = &mu, .cv = &cv};
    weft__port *P = k.target = weft__handle_port(l, &k.m.gen);
    int r = weft__port_send(P, &k.m, 1);
    if (r < 0) return r;
    pthread_mutex_lock(&mu);
    while (!k.done) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    pthread_cond_destroy(&cv);
    pthread_mutex_destroy(&mu);
    return k.result;
}

int weft_call(weft_loop *l, weft_fn fn, void *arg)
{
    if (!l || !fn) return -EINVAL;
    weft__loop *L = weft__L;
    weft__port *P = port_of(l, L);
    if (!P) return call_blocking(l, fn, arg); /* a stale handle: -ESHUTDOWN */
    int r = weft__enter("weft_call");
    if (r) return r;
    weft_task *t = P == L->port ? weft__spawn_raw(L, "weft_call", fn, arg)
                                : spawn_remote(L, P, fn, arg, 1);
    if (!t) return -errno;
    int err = finish(L, t, INFINITY, &r);
    return err ? err : r;
}
