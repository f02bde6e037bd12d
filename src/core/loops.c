/* Several loops in one run: the fleet (the run's loops), their inboxes, and
 * weft_post. docs/design.md "Many loops" has the why.
 *
 * Every way across loops (or in from a foreign thread) is a message queued
 * in the target loop's inbox (its port) under the port's mutex; the sender
 * wakes the loop through the backend only when the inbox goes from empty to
 * non-empty, so a burst costs one wake-up. The loop looks at the inbox on
 * every turn (a relaxed load of one flag: no lock, no atomic
 * read-modify-write on its own hot paths) and when the poller reports a
 * wake.
 *
 * Ending: main returns on loop 0, which sets `ending` and wakes every loop;
 * each cancels its tasks and reaps them. The fleet's `work` counts loops
 * not yet quiet plus messages not yet handled, so it reaches 0 exactly when
 * no task is left anywhere and nothing is in flight: then every loop stops.
 * A message makes a quiet loop count again before it is handled. */
#define _GNU_SOURCE
#include "backend.h"
#include "loops_internal.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Retired fleets are kept for the next run of as many loops: a thread that
 * posts to a run that has just returned touches memory that is still a
 * fleet (it gets -ESHUTDOWN), not freed memory. */
static pthread_mutex_t retired_mu = PTHREAD_MUTEX_INITIALIZER;
static weft__fleet *retired;

weft__fleet *weft__fleet_new(int n)
{
    weft__fleet *F = NULL;
    pthread_mutex_lock(&retired_mu);
    for (weft__fleet **p = &retired; *p; p = &(*p)->next_retired)
        if ((*p)->n == n) {
            F = *p;
            *p = F->next_retired;
            break;
        }
    pthread_mutex_unlock(&retired_mu);
    if (!F) {
        size_t size = sizeof *F + (size_t)n * sizeof(weft__port);
        if (posix_memalign((void **)&F, 64, size)) return NULL;
        memset(F, 0, size);
        F->n = n;
        for (int i = 0; i < n; i++) {
            pthread_mutex_init(&F->ports[i].mu, NULL);
            F->ports[i].fleet = F;
            F->ports[i].index = i;
        }
    }
    F->next_retired = NULL;
    __atomic_store_n(&F->work, (long)n, __ATOMIC_SEQ_CST);
    __atomic_store_n(&F->ending, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&F->finished, 0, __ATOMIC_SEQ_CST);
    return F;
}

void weft__fleet_retire(weft__fleet *F)
{
    /* Stale posters must keep seeing an ending run. */
    __atomic_store_n(&F->ending, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&F->finished, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < F->n; i++) {
        weft__port *P = &F->ports[i];
        pthread_mutex_lock(&P->mu);
        P->loop = NULL;
        P->backend = NULL;
        pthread_mutex_unlock(&P->mu);
    }
    pthread_mutex_lock(&retired_mu);
    F->next_retired = retired;
    retired = F;
    pthread_mutex_unlock(&retired_mu);
}

void weft__fleet_attach(weft__fleet *F, int i, weft__loop *L)
{
    weft__port *P = &F->ports[i];
    pthread_mutex_lock(&P->mu);
    P->loop = L;
    P->backend = L->backend;
    P->head = P->tail = NULL;
    P->sleeping = 0;
    __atomic_store_n(&P->pending, 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&P->mu);
    L->fleet = F;
    L->port = P;
    L->index = (uint16_t)i;
}

static void wake_all(weft__fleet *F)
{
    for (int i = 0; i < F->n; i++) {
        weft__port *P = &F->ports[i];
        pthread_mutex_lock(&P->mu);
        if (P->backend) weft__backend_wake(P->backend);
        P->sleeping = 0;
        pthread_mutex_unlock(&P->mu);
    }
}

static void work_done(weft__fleet *F, long k)
{
    if (__atomic_sub_fetch(&F->work, k, __ATOMIC_SEQ_CST) == 0 &&
        !__atomic_exchange_n(&F->finished, 1, __ATOMIC_SEQ_CST))
        wake_all(F);
}

void weft__fleet_end(weft__fleet *F)
{
    __atomic_store_n(&F->ending, 1, __ATOMIC_SEQ_CST);
    wake_all(F);
}

int weft__fleet_ending(const weft__fleet *F) { return __atomic_load_n(&F->ending, __ATOMIC_ACQUIRE); }

int weft__fleet_finished(weft__loop *L)
{
    weft__fleet *F = L->fleet;
    if (!L->quiet && L->running == 0 && !L->ready_head && !weft__port_pending(L)) {
        L->quiet = 1;
        work_done(F, 1);
    }
    return __atomic_load_n(&F->finished, __ATOMIC_ACQUIRE);
}

/* ---- messages ----------------------------------------------------------------- */

int weft__port_send(weft__port *P, weft__msg *m, int external)
{
    weft__fleet *F = P->fleet;
    /* Counted first: the run cannot finish while this send is under way. */
    __atomic_add_fetch(&F->work, 1, __ATOMIC_SEQ_CST);
    if (external && __atomic_load_n(&F->ending, __ATOMIC_SEQ_CST)) {
        work_done(F, 1);
        return -ESHUTDOWN;
    }
    m->next = NULL;
    pthread_mutex_lock(&P->mu);
    if (!P->loop) { /* a retired fleet: the run is over */
        pthread_mutex_unlock(&P->mu);
        work_done(F, 1);
        return -ESHUTDOWN;
    }
    if (P->tail) P->tail->next = m; else P->head = m;
    P->tail = m;
    int was_empty = !__atomic_load_n(&P->pending, __ATOMIC_RELAXED);
    __atomic_store_n(&P->pending, 1, __ATOMIC_RELAXED);
    /* A loop that is not blocked looks at its inbox on its next turn:
     * only a sleeping one costs a system call to wake. */
    if (was_empty && P->sleeping) {
        P->sleeping = 0;
        weft__backend_wake(P->backend);
    }
    pthread_mutex_unlock(&P->mu);
    return 0;
}

/* Before blocking in the poller: spin briefly for a message (a reply from
 * another loop usually comes within microseconds, and a sleep and wake-up
 * cost two system calls and a context switch each), then say the loop
 * sleeps. 1: a message came, do not block. */
int weft__port_sleep(weft__loop *L)
{
    weft__port *P = L->port;
    if (L->fleet->n > 1 && L->running) {
        double until = weft__clock() + 20e-6;
        for (int i = 1;; i++) {
            if (__atomic_load_n(&P->pending, __ATOMIC_RELAXED)) return 1;
#if defined(__x86_64__)
            __builtin_ia32_pause();
#elif defined(__aarch64__)
            __asm__ volatile("yield");
#endif
            if (i % 64 == 0 && weft__clock() > until) break;
        }
    }
    pthread_mutex_lock(&P->mu);
    int pending = P->head != NULL;
    P->sleeping = !pending;
    pthread_mutex_unlock(&P->mu);
    return pending;
}

void weft__port_awake(weft__loop *L)
{
    weft__port *P = L->port;
    pthread_mutex_lock(&P->mu);
    P->sleeping = 0;
    pthread_mutex_unlock(&P->mu);
}

int weft__port_pending(const weft__loop *L)
{
    return L->port && __atomic_load_n(&L->port->pending, __ATOMIC_RELAXED);
}

typedef struct post_msg {
    weft__msg m;
    weft_fn fn;
    void *arg;
} post_msg;

static void handle_post(weft__loop *L, post_msg *pm)
{
    weft_task *t = weft__spawn_raw(L, "weft_post", pm->fn, pm->arg);
    if (!t) {
        weft__report("weft_post: no memory for the task of a post taken earlier; it is dropped");
    } else {
        if (L->opt.debug) weft__debug_spawned(L, t, "weft_post", 0);
        t->flags |= F_DETACHED;
        if (L->closing) weft_cancel(t);
    }
    free(pm);
}

void weft__port_drain(weft__loop *L)
{
    weft__port *P = L->port;
    pthread_mutex_lock(&P->mu);
    weft__msg *m = P->head;
    P->head = P->tail = NULL;
    __atomic_store_n(&P->pending, 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&P->mu);
    if (!m) return;
    weft__fleet *F = L->fleet;
    if (L->quiet) { /* back to work: counted again before the message goes */
        L->quiet = 0;
        __atomic_add_fetch(&F->work, 1, __ATOMIC_SEQ_CST);
    }
    long k = 0;
    while (m) {
        weft__msg *next = m->next;
        switch (m->kind) {
        case X_POST: handle_post(L, (post_msg *)m); break;
        case X_WAKE: weft__chan_wake(L, m); break;
        default: weft__x_handle(L, m); break;
        }
        k++;
        m = next;
    }
    work_done(F, k);
}

int weft__wrong_loop(const char *fn)
{
    weft__report("%s: the object belongs to another loop (loop-local objects are used only "
                 "by tasks of the loop that made them: cross with weft_chan or weft_call)", fn);
    return -EXDEV;
}

/* ---- the public face ------------------------------------------------------------ */

weft_loop *weft_loop_current(void) { return weft__L ? (weft_loop *)weft__L->port : NULL; }

weft_loop *weft_loop_at(int i)
{
    weft__loop *L = weft__L;
    if (!L || i < 0 || i >= L->fleet->n) return NULL;
    return (weft_loop *)&L->fleet->ports[i];
}

int weft_loop_count(void) { return weft__L ? weft__L->fleet->n : 0; }

int weft_loop_index(const weft_loop *l) { return l ? ((const weft__port *)l)->index : -1; }

weft__loop *weft__fleet_loop(const weft__loop *L, unsigned index)
{
    return index < (unsigned)L->fleet->n ? L->fleet->ports[index].loop : NULL;
}

weft__loop *weft__port_loop(const weft__port *p) { return p->loop; }

int weft_post(weft_loop *l, weft_fn fn, void *arg)
{
    if (!l || !fn) return -EINVAL;
    post_msg *pm = malloc(sizeof *pm);
    if (!pm) return -ENOMEM;
    pm->m.kind = X_POST;
    pm->fn = fn;
    pm->arg = arg;
    int r = weft__port_send((weft__port *)l, &pm->m, 1);
    if (r < 0) free(pm);
    return r;
}
