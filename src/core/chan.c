/* weft_chan: a FIFO queue safe across loops and threads.
 *
 * One mutex guards the ring and the two waiter lists. A waiter (a task, or
 * a thread outside every loop) lives on its own stack; whoever hands it an
 * item (or closes the chan) takes it off its list, records the outcome and
 * notifies it: a thread through its condition variable, a task of the same
 * loop by waking it in place, a task of another loop by a message to that
 * loop (embedded in the waiter: no allocation), whose handler wakes it
 * there. A waiting task that is cancelled meanwhile and finds itself
 * already served keeps the item (nothing handed over is lost) and waits,
 * without cancellation, for the notification still in flight, so that the
 * message never outlives its waiter.
 *
 * Invariants: getters wait only while the ring is empty, putters only
 * while it is full, so a put with a getter waiting hands the item over
 * directly and a get that frees a slot pulls in the first putter's item. */
#define _GNU_SOURCE
#include "loops_internal.h"
#include <pthread.h>
#include <stdlib.h>

typedef struct chan_waiter {
    struct chan_waiter *next, *prev;
    weft_task *task;     /* NULL: a thread outside the run, waiting on cv */
    weft__loop *loop;    /* the task's loop */
    pthread_cond_t *cv;
    void *item;          /* a putter's item; a getter's, once served */
    int served;          /* under the chan's mutex: the outcome is in result */
    int result;
    int arrived;         /* the task's loop only: the notification came */
    struct chan_waiter *later; /* on the notifier's list of messages to send */
    weft__msg msg;       /* X_WAKE, to another loop */
} chan_waiter;

typedef struct wq {
    chan_waiter *head, *tail;
} wq;

struct weft_chan {
    pthread_mutex_t mu;
    size_t cap;          /* 0: unbounded */
    void **buf;
    size_t size, head, count;
    int closed;
    wq getters, putters;
};

static void wq_push(wq *q, chan_waiter *w)
{
    w->next = NULL;
    w->prev = q->tail;
    if (q->tail) q->tail->next = w; else q->head = w;
    q->tail = w;
}

static void wq_remove(wq *q, chan_waiter *w)
{
    if (w->prev) w->prev->next = w->next; else q->head = w->next;
    if (w->next) w->next->prev = w->prev; else q->tail = w->prev;
}

static chan_waiter *wq_pop(wq *q)
{
    chan_waiter *w = q->head;
    if (w) wq_remove(q, w);
    return w;
}

weft_chan *weft_chan_new(size_t capacity)
{
    weft_chan *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->cap = capacity;
    c->size = capacity && capacity < 64 ? capacity : 64;
    c->buf = malloc(c->size * sizeof *c->buf);
    if (!c->buf) {
        free(c);
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void weft_chan_free(weft_chan *c)
{
    if (!c) return;
    pthread_mutex_destroy(&c->mu);
    free(c->buf);
    free(c);
}

/* Called with c->mu held and w off its list: the outcome is recorded. A
 * task of another loop is told by a message, sent by notify_later once the
 * mutex is released: its loop does not then wake up to find the chan
 * locked, and once the message arrives the notifier is done with the chan
 * (a waiter may free a one-shot chan on return). */
static void notify(chan_waiter *w, int result, chan_waiter **later)
{
    w->result = result;
    w->served = 1;
    if (!w->task) {
        pthread_cond_signal(w->cv);
    } else if (w->loop == weft__L) {
        weft__chan_wake(w->loop, &w->msg);
    } else {
        w->msg.kind = X_WAKE;
        w->later = *later;
        *later = w;
    }
}

static void notify_later(chan_waiter *w)
{
    while (w) {
        chan_waiter *next = w->later; /* w may be gone once its message is */
        weft__port_send(w->loop->port, &w->msg, 0);
        w = next;
    }
}

void weft__chan_wake(weft__loop *L, weft__msg *m)
{
    chan_waiter *w = (chan_waiter *)((char *)m - __builtin_offsetof(chan_waiter, msg));
    weft_task *t = w->task;
    w->arrived = 1;
    if (t->state == T_WAITING && RUN(t)->wait_kind == WAIT_CHAN && RUN(t)->xfer == w)
        weft__wake(t, 0);
    (void)L;
}

/* Queues the caller in q and waits to be served; c->mu is held on entry
 * and released on return. */
static int wait_served(weft_chan *c, wq *q, chan_waiter *w)
{
    weft__loop *L = weft__L;
    if (!L) { /* a thread outside the run blocks */
        pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
        w->cv = &cv;
        wq_push(q, w);
        while (!w->served) pthread_cond_wait(&cv, &c->mu);
        pthread_mutex_unlock(&c->mu);
        pthread_cond_destroy(&cv);
        return w->result;
    }
    weft_task *t = L->current;
    w->task = t;
    w->loop = L;
    wq_push(q, w);
    pthread_mutex_unlock(&c->mu);
    L->xwait++;
    int cancellable = 1;
    while (!w->arrived) {
        RUN(t)->xfer = w;
        RUN(t)->wait_fd = -1;
        int r = weft__park(NULL, WAIT_CHAN, INFINITY, 0, cancellable);
        if (r < 0 && !w->arrived && cancellable) {
            pthread_mutex_lock(&c->mu);
            int served = w->served;
            if (!served) wq_remove(q, w);
            pthread_mutex_unlock(&c->mu);
            if (!served) {
                L->xwait--;
                return r;
            }
            cancellable = 0; /* served meanwhile: keep it, await the notice */
        }
    }
    /* The notice came from another loop or thread after its sender had
     * released the mutex (notify_later), or from this loop's task, which
     * has returned since: nobody uses the chan on our behalf any more. */
    L->xwait--;
    return w->result;
}

static int ring_push(weft_chan *c, void *item)
{
    if (c->count == c->size) {
        size_t n = c->size * 2;
        if (c->cap && n > c->cap) n = c->cap;
        void **b = malloc(n * sizeof *b);
        if (!b) return -ENOMEM;
        for (size_t i = 0; i < c->count; i++) b[i] = c->buf[(c->head + i) % c->size];
        free(c->buf);
        c->buf = b;
        c->size = n;
        c->head = 0;
    }
    c->buf[(c->head + c->count) % c->size] = item;
    c->count++;
    return 0;
}

static void *ring_pop(weft_chan *c)
{
    void *item = c->buf[c->head];
    c->head = (c->head + 1) % c->size;
    c->count--;
    return item;
}

static int entry(const char *fn)
{
    return weft__L ? weft__enter(fn) : 0; /* threads outside the run: no task to check */
}

static int put(weft_chan *c, void *item, int wait)
{
    pthread_mutex_lock(&c->mu);
    if (c->closed) {
        pthread_mutex_unlock(&c->mu);
        return -EPIPE;
    }
    chan_waiter *g = wq_pop(&c->getters), *later = NULL;
    if (g) {
        g->item = item;
        notify(g, 0, &later);
        pthread_mutex_unlock(&c->mu);
        notify_later(later);
        return 0;
    }
    if (!c->cap || c->count < c->cap) {
        int r = ring_push(c, item);
        pthread_mutex_unlock(&c->mu);
        return r;
    }
    if (!wait) {
        pthread_mutex_unlock(&c->mu);
        return -EAGAIN;
    }
    chan_waiter w = {.item = item};
    return wait_served(c, &c->putters, &w);
}

static int get(weft_chan *c, void **item, int wait)
{
    pthread_mutex_lock(&c->mu);
    if (c->count) {
        *item = ring_pop(c);
        chan_waiter *p = wq_pop(&c->putters), *later = NULL;
        if (p) {
            ring_push(c, p->item); /* a slot was just freed: cannot fail */
            notify(p, 0, &later);
        }
        pthread_mutex_unlock(&c->mu);
        notify_later(later);
        return 0;
    }
    if (c->closed || !wait) {
        pthread_mutex_unlock(&c->mu);
        return c->closed ? -EPIPE : -EAGAIN;
    }
    chan_waiter w = {0};
    int r = wait_served(c, &c->getters, &w);
    if (r == 0) *item = w.item;
    return r;
}

int weft_chan_put(weft_chan *c, void *item)
{
    int e = entry("weft_chan_put");
    return e ? e : put(c, item, 1);
}

int weft_chan_get(weft_chan *c, void **item)
{
    int e = entry("weft_chan_get");
    return e ? e : get(c, item, 1);
}

int weft_chan_try_put(weft_chan *c, void *item) { return put(c, item, 0); }
int weft_chan_try_get(weft_chan *c, void **item) { return get(c, item, 0); }
int weft_chan_put_nowait(weft_chan *c, void *item) { return put(c, item, 0); }
int weft_chan_get_nowait(weft_chan *c, void **item) { return get(c, item, 0); }

void weft_chan_close(weft_chan *c)
{
    pthread_mutex_lock(&c->mu);
    c->closed = 1;
    chan_waiter *w, *later = NULL;
    while ((w = wq_pop(&c->getters))) notify(w, -EPIPE, &later);
    while ((w = wq_pop(&c->putters))) notify(w, -EPIPE, &later);
    pthread_mutex_unlock(&c->mu);
    notify_later(later);
}
