/* A FIFO queue between tasks (asyncio.Queue), bounded or not.
 *
 * Items pass hand to hand when someone waits: put gives its item straight to
 * the first waiting getter, and get pulls the first waiting putter's item in
 * behind the ones it takes. A waiter woken by cancellation was unlinked
 * before anyone could hand it anything, so an item is never lost nor
 * delivered twice: a cancelled put did not queue its item; a get that was
 * handed an item returns it even if cancelled a moment later.
 *
 * The store is a ring (FIFO, or LIFO taking from its other end) or, for a
 * priority queue, a heap (pheap.c); hand-over works the same for all three,
 * since a getter waits only while the store is empty. task_done/join count
 * every item that enters the queue, by whichever path. */
#include "internal.h"
#include "pheap.h"
#include "weft/debug.h"
#include <errno.h>
#include <stdlib.h>

struct weft_queue {
    void **ring;
    size_t cap;   /* ring slots */
    size_t limit; /* 0: unbounded */
    size_t head, count;
    int closed;
    int kind;     /* Q_FIFO, Q_LIFO, Q_PRIO */
    weft__wlist getters, putters;
    weft__loop *home;
    weft__pheap heap;  /* Q_PRIO's items */
    size_t unfinished; /* items put and not yet task_done */
    weft__wlist joiners;
};
enum { Q_FIFO, Q_LIFO, Q_PRIO };

#undef weft_queue_new
weft_queue *weft_queue_new(size_t capacity) { return weft__queue_new_at(capacity, NULL, 0); }

static weft_queue *queue_make(size_t capacity, int kind, const char *file, int line)
{
    if (capacity > ((size_t)1 << 40)) { /* the ring is allocated whole */
        errno = ENOMEM;
        return NULL;
    }
    weft_queue *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->limit = capacity;
    q->home = weft__L;
    q->kind = kind;
    q->cap = kind == Q_PRIO ? 1 : capacity ? capacity : 16;
    q->ring = malloc(q->cap * sizeof(void *));
    if (!q->ring) {
        free(q);
        return NULL;
    }
    if (weft__unlikely(weft__L && weft__L->dbgs)) weft_debug_track(q, "queue", file, line);
    return q;
}

weft_queue *weft__queue_new_at(size_t capacity, const char *file, int line)
{
    return queue_make(capacity, Q_FIFO, file, line);
}

weft_queue *weft_queue_new_lifo(size_t capacity)
{
    return queue_make(capacity, Q_LIFO, NULL, 0);
}

weft_queue *weft_queue_new_priority(size_t capacity, int (*cmp)(const void *, const void *))
{
    if (!cmp) {
        errno = EINVAL;
        return NULL;
    }
    weft_queue *q = queue_make(capacity, Q_PRIO, NULL, 0);
    if (q) q->heap.cmp = cmp;
    return q;
}

static int store_push(weft_queue *q, void *item)
{
    if (q->kind == Q_PRIO) {
        int r = weft__pheap_push(&q->heap, item);
        if (r == 0) q->count++;
        return r;
    }
    if (q->count == q->cap) {
        size_t cap = q->cap * 2;
        void **r = malloc(cap * sizeof *r);
        if (!r) return -ENOMEM;
        for (size_t i = 0; i < q->count; i++) r[i] = q->ring[(q->head + i) % q->cap];
        free(q->ring);
        q->ring = r;
        q->cap = cap;
        q->head = 0;
    }
    size_t i = q->head + q->count; /* < 2 * cap: a subtraction, not a division */
    q->ring[i >= q->cap ? i - q->cap : i] = item;
    q->count++;
    return 0;
}

static void *store_pop(weft_queue *q)
{
    if (q->kind == Q_PRIO) {
        q->count--;
        return weft__pheap_pop(&q->heap);
    }
    if (q->kind == Q_LIFO) {
        size_t i = q->head + --q->count;
        return q->ring[i >= q->cap ? i - q->cap : i];
    }
    void *item = q->ring[q->head];
    if (++q->head == q->cap) q->head = 0;
    q->count--;
    return item;
}

static int full(const weft_queue *q) { return q->limit && q->count >= q->limit; }

int weft_queue_try_put(weft_queue *q, void *item)
{
    if (q->closed) return -EPIPE;
    if (q->getters.head) { /* a getter waits, so the queue is empty */
        weft_task *g = q->getters.head;
        RUN(g)->xfer = item;
        weft__wake(g, 0);
        q->unfinished++;
        return 0;
    }
    if (full(q)) return -EAGAIN;
    int r = store_push(q, item);
    if (r == 0) q->unfinished++;
    return r;
}

int weft_queue_put(weft_queue *q, void *item)
{
    int r = weft__enter_home(q->home, "weft_queue_put");
    if (r) return r;
    weft_task *me = weft__L->current;
    r = weft_queue_try_put(q, item);
    if (r != -EAGAIN) return r;
    RUN(me)->xfer = item;
    return weft__park(&q->putters, WAIT_QUEUE, INFINITY, 0, 1);
}

int weft_queue_try_get(weft_queue *q, void **item)
{
    if (q->count) {
        *item = store_pop(q);
        if (q->putters.head) { /* room now: take the first waiting putter's item */
            weft_task *p = q->putters.head;
            if (store_push(q, RUN(p)->xfer) == 0) { /* a bounded ring has room; a heap may not */
                q->unfinished++;
                weft__wake(p, 0);
            }
        }
        return 0;
    }
    if (q->putters.head) { /* capacity 0 cannot happen, but stay safe */
        weft_task *p = q->putters.head;
        *item = RUN(p)->xfer;
        weft__wake(p, 0);
        q->unfinished++;
        return 0;
    }
    return q->closed ? -EPIPE : -EAGAIN;
}

int weft_queue_get(weft_queue *q, void **item)
{
    int r = weft__enter_home(q->home, "weft_queue_get");
    if (r) return r;
    weft_task *me = weft__L->current;
    r = weft_queue_try_get(q, item);
    if (r != -EAGAIN) return r;
    r = weft__park(&q->getters, WAIT_QUEUE, INFINITY, 0, 1);
    if (r == 0) *item = RUN(me)->xfer;
    return r;
}

void weft_queue_close(weft_queue *q)
{
    q->closed = 1;
    weft__wl_wake_all(&q->getters, -EPIPE); /* getters wait only when empty */
    weft__wl_wake_all(&q->putters, -EPIPE);
}

size_t weft_queue_size(const weft_queue *q) { return q->count; }

void weft_queue_free(weft_queue *q)
{
    if (!q) return;
    if (weft__unlikely(weft__L && weft__L->dbgs)) weft_debug_untrack(q);
    weft_queue_close(q);
    weft__wl_wake_all(&q->joiners, -EPIPE);
    weft__pheap_free(&q->heap);
    free(q->ring);
    free(q);
}

void weft_queue_task_done(weft_queue *q)
{
    if (!q->unfinished) {
        weft__report("weft_queue_task_done: called more times than items were put; ignored");
        return;
    }
    if (--q->unfinished == 0) weft__wl_wake_all(&q->joiners, 0);
}

int weft_queue_join(weft_queue *q)
{
    int r = weft__enter_home(q->home, "weft_queue_join");
    if (r) return r;
    if (!q->unfinished) return 0;
    return weft__park(&q->joiners, WAIT_QUEUE, INFINITY, 0, 1);
}

/* The convention's names (weft.h): the try_ spellings are older. */
int weft_queue_put_nowait(weft_queue *q, void *item) { return weft_queue_try_put(q, item); }
int weft_queue_get_nowait(weft_queue *q, void **item) { return weft_queue_try_get(q, item); }
