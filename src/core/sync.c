/* Semaphore, lock, event and condition: FIFO-fair, and safe under
 * cancellation. A released permit is handed straight to the first waiter
 * (never put back for a later arrival to grab), and a waiter that is woken by
 * cancellation or a deadline was already unlinked, so it can neither lose a
 * permit nor leave a stale entry behind. */
#include "internal.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

struct weft_sem {
    int value;
    int bound;     /* 1 + weft_sem_new_bounded's value, 0: none (calloc's) */
    weft__wlist waiters;
    weft__loop *home; /* the loop that made it (weft__enter_home) */
};

weft_sem *weft_sem_new(int value)
{
    if (value < 0) {
        errno = EINVAL;
        return NULL;
    }
    weft_sem *s = calloc(1, sizeof *s);
    if (s) {
        s->value = value;
        s->home = weft__L;
    }
    return s;
}

weft_sem *weft_sem_new_bounded(int value)
{
    weft_sem *s = weft_sem_new(value);
    if (s && value < INT_MAX) s->bound = value + 1; /* INT_MAX: nothing can exceed it */
    return s;
}

static int sem_acquire(weft_sem *s, int kind)
{
    int r = weft__enter_home(s->home, kind == WAIT_LOCK ? "weft_lock_acquire" : "weft_sem_acquire");
    if (r) return r;
    if (s->value > 0 && !s->waiters.head) {
        s->value--;
        return 0;
    }
    /* A wake with 0 means release handed us its permit. */
    return weft__park(&s->waiters, kind, INFINITY, 0, 1);
}

int weft_sem_acquire(weft_sem *s) { return sem_acquire(s, WAIT_SEM); }

int weft_sem_try_acquire(weft_sem *s)
{
    if (s->value > 0 && !s->waiters.head) {
        s->value--;
        return 1;
    }
    return 0;
}

int weft_sem_release_checked(weft_sem *s)
{
    if (s->waiters.head) {
        weft__wake(s->waiters.head, 0);
        return 0;
    }
    if (weft__unlikely(s->bound && s->value >= s->bound - 1)) {
        weft__report("weft_sem_release: bounded semaphore %p released past its value %d "
                     "(more releases than acquires); ignored", (void *)s, s->bound - 1);
        return -EOVERFLOW;
    }
    s->value++;
    return 0;
}

void weft_sem_release(weft_sem *s) { (void)weft_sem_release_checked(s); }

int weft_sem_value(const weft_sem *s) { return s->value; }

void weft_sem_free(weft_sem *s)
{
    if (!s) return;
    weft__wl_wake_all(&s->waiters, -EPIPE);
    free(s);
}

/* ---- lock ------------------------------------------------------------------ */

struct weft_lock {
    weft_sem sem;
    weft_task *owner;
};

weft_lock *weft_lock_new(void)
{
    weft_lock *l = calloc(1, sizeof *l);
    if (l) {
        l->sem.value = 1;
        l->sem.home = weft__L;
    }
    return l;
}

int weft_lock_acquire(weft_lock *l)
{
    if (weft__need_task("weft_lock_acquire")) return -EPERM;
    if (l->owner == weft__L->current) {
        weft__report("weft_lock_acquire: task '%s' already holds this lock (not reentrant)",
                     l->owner->name ? l->owner->name : "(unnamed)");
        return -EDEADLK;
    }
    int r = sem_acquire(&l->sem, WAIT_LOCK);
    if (r == 0) l->owner = weft__L->current;
    return r;
}

int weft_sem_acquire_nowait(weft_sem *s) { return weft_sem_try_acquire(s) ? 0 : -EAGAIN; }

int weft_lock_acquire_nowait(weft_lock *l) { return weft_lock_try_acquire(l) ? 0 : -EAGAIN; }

int weft_lock_try_acquire(weft_lock *l)
{
    if (!weft_sem_try_acquire(&l->sem)) return 0;
    l->owner = weft_current();
    return 1;
}

void weft_lock_release(weft_lock *l)
{
    if (l->owner != weft_current() || l->sem.value > 0) {
        weft__report("weft_lock_release: the lock is not held by the calling task; ignored");
        return;
    }
    l->owner = l->sem.waiters.head; /* the permit goes to it, if any */
    weft_sem_release(&l->sem);
}

int weft_lock_locked(const weft_lock *l) { return l->sem.value == 0; }

void weft_lock_free(weft_lock *l)
{
    if (!l) return;
    weft__wl_wake_all(&l->sem.waiters, -EPIPE);
    free(l);
}

/* ---- event ------------------------------------------------------------------ */

struct weft_event {
    int set;
    weft__wlist waiters;
    weft__loop *home;
};

weft_event *weft_event_new(void)
{
    weft_event *e = calloc(1, sizeof(weft_event));
    if (e) e->home = weft__L;
    return e;
}

void weft_event_set(weft_event *e)
{
    e->set = 1;
    weft__wl_wake_all(&e->waiters, 0);
}

void weft_event_clear(weft_event *e) { e->set = 0; }
int weft_event_is_set(const weft_event *e) { return e->set; }

int weft_event_wait(weft_event *e)
{
    int r = weft__enter_home(e->home, "weft_event_wait");
    if (r) return r;
    if (e->set) return 0;
    return weft__park(&e->waiters, WAIT_EVENT, INFINITY, 0, 1);
}

void weft_event_free(weft_event *e)
{
    if (!e) return;
    weft__wl_wake_all(&e->waiters, -EPIPE);
    free(e);
}

/* ---- condition -------------------------------------------------------------- */

struct weft_cond {
    weft__wlist waiters;
    weft__loop *home;
};

weft_cond *weft_cond_new(void)
{
    weft_cond *c = calloc(1, sizeof(weft_cond));
    if (c) c->home = weft__L;
    return c;
}

int weft_cond_wait(weft_cond *c, weft_lock *l)
{
    int r = weft__enter_home(c->home, "weft_cond_wait");
    if (r == -EPERM || r == -EXDEV) return r;
    if (l->owner != weft__L->current) {
        weft__report("weft_cond_wait: the lock is not held by the calling task");
        return -EPERM;
    }
    if (r) return r; /* cancelled or past the deadline: the lock stays held */
    weft_lock_release(l);
    r = weft__park(&c->waiters, WAIT_COND, INFINITY, 0, 1);
    /* The lock comes back whatever ended the wait, as asyncio does: the
     * re-acquire ignores cancellation and deadlines (a release hands the
     * lock over with 0; only weft_lock_free ends it otherwise). */
    if (!weft_lock_try_acquire(l)) {
        int rr = weft__park(&l->sem.waiters, WAIT_LOCK, INFINITY, 0, 0);
        if (rr < 0) return rr; /* the lock was freed under us */
        l->owner = weft__L->current;
    }
    return r;
}

void weft_cond_notify(weft_cond *c)
{
    if (c->waiters.head) weft__wake(c->waiters.head, 0);
}

void weft_cond_notify_all(weft_cond *c) { weft__wl_wake_all(&c->waiters, 0); }

void weft_cond_free(weft_cond *c)
{
    if (!c) return;
    weft__wl_wake_all(&c->waiters, -EPIPE);
    free(c);
}
