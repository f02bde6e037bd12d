/* Timers: a binary min-heap of (deadline, sequence, task).
 *
 * Entries are never removed from the middle: a task that is woken early just
 * clears its timer_seq, and its entry is skipped when it reaches the top
 * (lazy deletion). That keeps a wake-up O(1) and the heap free of back
 * pointers that every sift would have to update in cold task memory. Ties
 * fire in insertion order thanks to the sequence number. When stale entries
 * outnumber live ones the heap is rebuilt, so long timeouts that are almost
 * always cancelled (I/O deadlines) cannot pile up.
 *
 * The heap only: the clock, weft_sleep and weft_check are in sleep.c,
 * deadline scopes (weft_timeout) in scope.c. */
#define _GNU_SOURCE
#include "internal.h"
#include <sys/mman.h>
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#include <errno.h>
#include <stdlib.h>

static inline int before(const weft__timer_entry *a, const weft__timer_entry *b)
{
    return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void sift_up(weft__timer_entry *h, size_t i)
{
    weft__timer_entry e = h[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&e, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = e;
}

static void sift_down(weft__timer_entry *h, size_t n, size_t i)
{
    weft__timer_entry e = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(&h[c + 1], &h[c])) c++;
        if (!before(&h[c], &e)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = e;
}

/* A heap entry is live while its task still waits on it: a task that ended
 * (no stack, so no run state) or whose timer was cancelled or re-armed
 * (another sequence) leaves a stale entry behind. Task records stay mapped
 * until the loop ends, so reading one that was freed is safe. */
static inline int live_entry(const weft__timer_entry *e)
{
    return e->task->stack && RUN(e->task)->timer_seq == e->seq;
}

static void compact(weft__loop *L)
{
    size_t k = 0;
    for (size_t i = 0; i < L->nheap; i++)
        if (live_entry(&L->heap[i])) L->heap[k++] = L->heap[i];
    L->nheap = k;
    for (size_t i = k / 2; i-- > 0;) sift_down(L->heap, k, i);
}

static size_t live_timers(weft__loop *L)
{
    /* Counted only when deciding to compact, which is rare. */
    size_t k = 0;
    for (size_t i = 0; i < L->nheap; i++) k += live_entry(&L->heap[i]);
    return k;
}

/* Makes the pages of [p, p + n) present in one system call: faulted in one
 * by one, as the heap fills, each costs a trap (tens of us on a VM, against
 * a few populated in bulk: bench/page_probe.c). Best effort. */
static void populate(void *p, size_t n)
{
    uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095, e = ((uintptr_t)p + n) & ~(uintptr_t)4095;
    if (e > a) madvise((void *)a, e - a, MADV_POPULATE_WRITE);
}

int weft__timer_add(weft__loop *L, weft_task *t, double when)
{
    if (weft__unlikely(L->nheap == L->capheap)) {
        if (L->nheap >= 4096 && live_timers(L) < L->nheap / 2) compact(L);
        if (L->nheap == L->capheap) {
            size_t cap = L->capheap ? L->capheap * 2 : 256;
            weft__timer_entry *h = realloc(L->heap, cap * sizeof *h);
            if (!h) return -ENOMEM;
            /* A big heap grows by fresh pages (glibc maps it, and moves
             * it with mremap): get the new half in at once. */
            if (cap >= 8192) populate(h + L->capheap, (cap - L->capheap) * sizeof *h);
            L->heap = h;
            L->capheap = cap;
        }
    }
    uint64_t seq = ++L->timer_seq;
    RUN(t)->timer_seq = seq;
    L->heap[L->nheap] = (weft__timer_entry){when, seq, t};
    sift_up(L->heap, L->nheap++);
    return 0;
}

double weft__timers_run(weft__loop *L)
{
    weft__timer_entry *h = L->heap;
    while (L->nheap) {
        if (!live_entry(&h[0])) {
            h[0] = h[--L->nheap];
            if (L->nheap) sift_down(h, L->nheap, 0);
            continue;
        }
        if (h[0].when > L->now) return h[0].when;
        weft_task *t = h[0].task;
        h[0] = h[--L->nheap];
        if (L->nheap) sift_down(h, L->nheap, 0);
        RUN(t)->timer_seq = 0;
        weft__wake(t, RUN(t)->timer_result);
    }
    return INFINITY;
}

void weft__timers_free(weft__loop *L)
{
    free(L->heap);
    L->heap = NULL;
    L->nheap = L->capheap = 0;
}
