/* Task-local values (contextvars).
 *
 * A task's values are a small map of (key, value) pairs, shared by
 * reference count: a spawned task takes its spawner's map as it is at spawn
 * time (one increment), and whichever task then sets a value while the map
 * is shared gets a copy of its own first (copy on write). So spawning costs
 * nothing when no value was ever set (the record's slot is 0: one load and a
 * test), and an increment when one was; setting never affects another task.
 *
 * The task record points at its map through a 24-bit slot of the loop's
 * table (16.7 million maps alive at once; past that weft_local_set fails
 * with -ENOMEM), which fits the record's padding: a pointer would have grown every
 * record from 88 to 96 bytes (8 MB per million handles) for a feature most
 * tasks never use. Maps are looked up linearly: a task has a handful of
 * keys (a request id, a logger, a trace span).
 *
 * A weft_to_thread job sees its caller's values, read-only: the worker
 * thread reads the caller's map, which cannot change meanwhile (the caller
 * is parked until the job ends, and any other task sharing the map copies
 * it before writing). */
#include "internal.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct pair {
    const void *key;
    void *value;
} pair;

typedef struct lmap {
    size_t refs;   /* tasks (and group batches) holding it */
    size_t n, cap;
    pair kv[];
} lmap;

struct weft__locals {
    lmap **slot;       /* slot 0 is never used: 0 means "none" */
    uint32_t *free;    /* unused slots */
    size_t nslot, nfree, cap;
};

/* The map a to_thread worker reads, while it runs a job. */
static __thread const lmap *job_map;

static lmap *map_of(weft__loop *L, uint32_t slot) { return L->locals->slot[slot]; }

void weft__locals_share(weft__loop *L, weft_task *t, uint32_t slot)
{
    map_of(L, slot)->refs++;
    t->locals = slot;
}

void weft__locals_drop(weft__loop *L, uint32_t slot)
{
    struct weft__locals *T = L->locals;
    lmap *m = T->slot[slot];
    if (--m->refs) return;
    free(m);
    T->slot[slot] = NULL;
    T->free[T->nfree++] = slot; /* room: free has as many entries as slot */
}

/* A slot for m, or 0 when memory runs out. */
static uint32_t slot_new(weft__loop *L, lmap *m)
{
    struct weft__locals *T = L->locals;
    if (!T && !(T = L->locals = calloc(1, sizeof *T))) return 0;
    if (T->nfree) {
        uint32_t s = T->free[--T->nfree];
        T->slot[s] = m;
        return s;
    }
    if (T->nslot == 0) T->nslot = 1; /* skip slot 0 */
    if (T->nslot >= WEFT__LOCALS_SLOTS) return 0;
    if (T->nslot >= T->cap) {
        if (T->cap >= WEFT__LOCALS_SLOTS) return 0; /* the record's slot is 24 bits */
        size_t cap = T->cap ? T->cap * 2 : 16;
        lmap **ns = realloc(T->slot, cap * sizeof *ns);
        if (!ns) return 0;
        T->slot = ns;
        uint32_t *nf = realloc(T->free, cap * sizeof *nf);
        if (!nf) return 0;
        T->free = nf;
        T->cap = cap;
    }
    T->slot[T->nslot] = m;
    return (uint32_t)T->nslot++;
}

void weft__locals_close(weft__loop *L)
{
    struct weft__locals *T = L->locals;
    if (!T) return;
    for (size_t i = 1; i < T->nslot; i++) free(T->slot[i]);
    free(T->slot);
    free(T->free);
    free(T);
    L->locals = NULL;
}

const void *weft__locals_map(weft__loop *L, weft_task *t)
{
    return t->locals ? map_of(L, t->locals) : NULL;
}

void weft__locals_job_enter(const void *map) { job_map = map; }

static void *lookup(const lmap *m, const void *key)
{
    if (m)
        for (size_t i = 0; i < m->n; i++)
            if (m->kv[i].key == key) return m->kv[i].value;
    return NULL;
}

void *weft_local_get(const void *key)
{
    weft__loop *L = weft__L;
    if (!L || !L->current) return (void *)lookup(job_map, key);
    weft_task *t = L->current;
    return t->locals ? lookup(map_of(L, t->locals), key) : NULL;
}

int weft_local_set(const void *key, void *value)
{
    weft__loop *L = weft__L;
    if (!L || !L->current) return -EPERM; /* outside a task, or a to_thread job */
    weft_task *t = L->current;
    lmap *m = t->locals ? map_of(L, t->locals) : NULL;
    if (m && m->refs == 1)
        for (size_t i = 0; i < m->n; i++)
            if (m->kv[i].key == key) {
                m->kv[i].value = value;
                return 0;
            }
    if (m && m->refs == 1 && m->n < m->cap) {
        m->kv[m->n++] = (pair){key, value};
        return 0;
    }
    /* A new map: the first value, a shared map to copy, or one to grow. */
    size_t n = m ? m->n : 0;
    size_t cap = n < 4 ? 4 : n * 2;
    lmap *nm = malloc(sizeof *nm + cap * sizeof(pair));
    if (!nm) return -ENOMEM;
    nm->refs = 1;
    nm->cap = cap;
    nm->n = n;
    if (n) memcpy(nm->kv, m->kv, n * sizeof(pair));
    int found = 0;
    for (size_t i = 0; i < n; i++)
        if (nm->kv[i].key == key) {
            nm->kv[i].value = value;
            found = 1;
        }
    if (!found) nm->kv[nm->n++] = (pair){key, value};
    if (m && m->refs == 1) { /* grown in place: same slot */
        L->locals->slot[t->locals] = nm;
        free(m);
        return 0;
    }
    uint32_t s = slot_new(L, nm);
    if (!s) {
        free(nm);
        return -ENOMEM;
    }
    if (m) weft__locals_drop(L, t->locals);
    t->locals = s;
    return 0;
}
