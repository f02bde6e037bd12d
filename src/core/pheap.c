/* The priority queue's heap (pheap.h). Items that compare equal come out in
 * the order they went in, as asyncio.PriorityQueue's (priority, count, item)
 * tuples give: a plain heap would reorder them, and a crawler or scheduler
 * fed equal priorities would starve its oldest entries. */
#include "pheap.h"
#include <errno.h>
#include <stdlib.h>

static inline int before(const weft__pheap *h, const weft__pitem *x, const weft__pitem *y)
{
    int c = h->cmp(x->item, y->item);
    return c < 0 || (c == 0 && x->seq < y->seq);
}

int weft__pheap_push(weft__pheap *h, void *item)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 16;
        weft__pitem *a = realloc(h->a, cap * sizeof *a);
        if (!a) return -ENOMEM;
        h->a = a;
        h->cap = cap;
    }
    weft__pitem e = {item, h->seq++};
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(h, &e, &h->a[p])) break;
        h->a[i] = h->a[p];
        i = p;
    }
    h->a[i] = e;
    return 0;
}

void *weft__pheap_pop(weft__pheap *h)
{
    void *top = h->a[0].item;
    weft__pitem e = h->a[--h->n];
    size_t n = h->n, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(h, &h->a[c + 1], &h->a[c])) c++;
        if (!before(h, &h->a[c], &e)) break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (n) h->a[i] = e;
    return top;
}

void weft__pheap_free(weft__pheap *h)
{
    free(h->a);
    h->a = NULL;
    h->n = h->cap = 0;
}
