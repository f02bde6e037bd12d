/* A binary min-heap of items by a user comparison, first-in-first-out among
 * equals (a sequence number breaks ties): weft_queue_new_priority's store.
 * Not installed. */
#ifndef WEFT_CORE_PHEAP_H
#define WEFT_CORE_PHEAP_H
#include <stddef.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

typedef struct weft__pitem {
    void *item;
    uint64_t seq;
} weft__pitem;

typedef struct weft__pheap {
    weft__pitem *a;
    size_t n, cap;
    uint64_t seq;
    int (*cmp)(const void *, const void *);
} weft__pheap;

/* 0, or -ENOMEM (nothing added). O(log n). */
int weft__pheap_push(weft__pheap *h, void *item);
/* Removes and returns the smallest item; h must not be empty. O(log n). */
void *weft__pheap_pop(weft__pheap *h);
void weft__pheap_free(weft__pheap *h);

#pragma GCC visibility pop
#endif
