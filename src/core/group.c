/* Task groups (asyncio.TaskGroup): the group learns of each end as it
 * happens, so the first failure cancels the others at once rather than when
 * an in-order await would reach it.
 *
 * Members have no handles, so a member need not be a task before it runs:
 * weft_group_spawn appends (fn, arg, result slot) to a batch, which sits in
 * the ready queue as one record, and each member becomes a task only when
 * its turn comes (weft__batch_take). A member that ends without waiting
 * then runs on the previous member's stack and frees its record at once.
 *
 * A batch stores its members compactly (issue 13: M2's peak RSS): a spawn
 * loop nearly always calls one function with result slots a fixed stride
 * apart (&results[i]), so a block keeps fn once and the slots as (first,
 * stride) until a member breaks that pattern, and only the args one by
 * one: 8 bytes a member, against 24 for (fn, arg, slot) and 88 for a task
 * record through weft_spawn + weft_gather. Blocks double in size; the big
 * ones are mapped populated (MAP_POPULATE: one system call for 64 pages,
 * where a page faulted in by a first touch costs tens of us on a VM).
 *
 * FIFO order is kept: a spawn joins the group's batch only while that batch
 * is still the ready queue's tail; anything queued after it starts a new
 * batch. */
#define _GNU_SOURCE
#include "internal.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

/* A run of pending members. Member i's function is fns[i], or fn while
 * fns is NULL; its slot res[i], or res0 + i * res_step while res is NULL.
 * The add path tests one pattern: fn (NULL once fns exists) and res_next,
 * the slot the next member must have to keep it (NO_SLOT when none can). */
typedef struct block {
    struct block *next;
    size_t cap, n;        /* members it holds at most, members stored */
    weft_fn fn;
    uintptr_t res_next, res0, res_step;
    weft_fn *fns;
    int **res;
    size_t bytes;         /* its size: mapped when >= BLOCK_MAPPED, else malloc'ed */
    void *arg[];
} block;

#define NO_SLOT ((uintptr_t)1) /* no int * is 1 */
#define BLOCK_FIRST 512              /* bytes: a small group stays small */
#define BLOCK_MAPPED (64u << 10)     /* from here blocks are mmap'ed, populated */
#define BLOCK_MAX (256u << 10)

/* Pending members of one group, in spawn order; the proxy's arg. */
typedef struct batch {
    weft_group *g;
    block *head, *tail;
    size_t head_i;  /* next member to start, in head */
    size_t left;    /* members not yet started */
} batch;

static block *block_new(size_t bytes)
{
    block *b;
    if (bytes >= BLOCK_MAPPED) {
        b = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        if (b == MAP_FAILED) return NULL;
    } else if (!(b = malloc(bytes))) {
        return NULL;
    }
    b->next = NULL;
    b->bytes = bytes;
    b->cap = (bytes - sizeof *b) / sizeof b->arg[0];
    b->n = 0;
    b->fn = NULL;
    b->res_next = NO_SLOT;
    /* A block of one member reads res0 + 0 * res_step: both defined
     * (valgrind: uninitialised value in member_end). */
    b->res0 = b->res_step = 0;
    b->fns = NULL;
    b->res = NULL;
    return b;
}

static void block_free(block *b)
{
    free(b->fns);
    free(b->res);
    if (b->bytes >= BLOCK_MAPPED) munmap(b, b->bytes);
    else free(b);
}

/* The pattern broke at member b->n: from now on b keeps fns (or slots)
 * one by one, those before written out from the pattern. */
static int block_fns(block *b)
{
    if (!(b->fns = malloc(b->cap * sizeof *b->fns))) return -ENOMEM;
    for (size_t i = 0; i < b->n; i++) b->fns[i] = b->fn;
    b->fn = NULL;
    return 0;
}

static int block_res(block *b)
{
    if (!(b->res = malloc(b->cap * sizeof *b->res))) return -ENOMEM;
    for (size_t i = 0; i < b->n; i++) b->res[i] = (int *)(b->res0 + i * b->res_step);
    b->res_next = NO_SLOT;
    return 0;
}

/* Appends a member off the pattern's path: the tail block is full, or
 * this is a block's first or second member (which set the pattern), or
 * the member breaks it. */
static __attribute__((noinline)) int member_add_slow(batch *bt, weft_fn fn, void *arg, int *result)
{
    block *b = bt->tail;
    if (b->n == b->cap) {
        size_t bytes = b->bytes * 2;
        block *nb = block_new(bytes > BLOCK_MAX ? BLOCK_MAX : bytes);
        if (!nb) return -ENOMEM;
        b->next = nb;
        b = bt->tail = nb;
    }
    size_t i = b->n;
    uintptr_t r = (uintptr_t)result;
    if (i == 0) {
        b->fn = fn;
        b->res0 = r;
    } else {
        if (b->fns || fn != b->fn) {
            if (!b->fns && block_fns(b) < 0) return -ENOMEM;
            b->fns[i] = fn;
        }
        if (i == 1 && !b->res) {
            b->res_step = r - b->res0;
            b->res_next = r + b->res_step;
        } else if (b->res || r != b->res_next) {
            if (!b->res && block_res(b) < 0) return -ENOMEM;
            b->res[i] = result;
        } else {
            b->res_next += b->res_step;
        }
    }
    b->arg[i] = arg;
    b->n = i + 1;
    return 0;
}

/* A started member not yet ended: the group cancels it on failure and
 * stores its result when it ends. */
typedef struct live {
    weft_task *t;
    int *result;
} live;

struct weft_group {
    live *live;
    size_t nlive, cap;
    size_t n, done;     /* members spawned, members ended */
    int err;            /* first failure */
    int cancelled;      /* members yet to start start cancelled */
    weft_task *batch;   /* proxy of the group's newest batch, or NULL */
    weft_task *waiter;
    weft__loop *home;   /* the loop of its first spawn: members run there */
};

weft_group *weft_group_new(void) { return calloc(1, sizeof(weft_group)); }

static void cancel_rest(weft_group *g)
{
    g->cancelled = 1;
    for (size_t i = 0; i < g->nlive; i++) weft_cancel(g->live[i].t);
}

/* A member ended (or could not start) with result. */
static void member_end(weft_group *g, int *slot, int result)
{
    if (slot) *slot = result;
    g->done++;
    if (result < 0 && !g->err) {
        g->err = result;
        cancel_rest(g);
    }
    if (g->waiter && g->done == g->n && g->waiter->state == T_WAITING) weft__wake(g->waiter, 0);
}

/* Opens a new batch for g at the tail of the queue new tasks join. */
static __attribute__((noinline)) batch *batch_open(weft__loop *L, weft_group *g)
{
    batch *b = calloc(1, sizeof *b);
    if (!b || !(b->head = b->tail = block_new(BLOCK_FIRST))) {
        free(b);
        return NULL;
    }
    b->g = g;
    weft_task *proxy = weft__task_new(L, NULL, NULL, b);
    if (!proxy) {
        block_free(b->head);
        free(b);
        return NULL;
    }
    proxy->state = T_BATCH;
    if (weft__unlikely(L->locals) && L->current && L->current->locals)
        weft__locals_share(L, proxy, L->current->locals);
    L->batches++;
    weft__start_push(L, proxy);
    g->batch = proxy;
    return b;
}

/* Appends a member to the group's batch, opening a new batch unless the
 * newest one is still the tail of the queue new tasks join. */
static int batch_add(weft__loop *L, weft_group *g, weft_fn fn, void *arg, int *result)
{
    weft_task *proxy = g->batch;
    batch *b;
    /* Members start with their spawner's task-local values: a batch holds
     * one map, so a spawn with other values opens a new batch. */
    if (proxy && weft__start_tail(L) == proxy &&
        (weft__likely(!L->locals) /* no value ever set on this loop */ ||
         proxy->locals == (L->current ? L->current->locals : 0))) {
        b = proxy->arg;
    } else if (!(b = batch_open(L, g))) {
        return -ENOMEM;
    }
    block *tb = b->tail;
    size_t i = tb->n;
    if (weft__likely(fn == tb->fn && (uintptr_t)result == tb->res_next && i < tb->cap)) {
        tb->arg[i] = arg;
        tb->n = i + 1;
        tb->res_next += tb->res_step;
    } else if (member_add_slow(b, fn, arg, result) < 0) {
        return -ENOMEM;
    }
    b->left++;
    L->members_pending++;
    return 0;
}

static void batch_release(batch *b)
{
    while (b->head) {
        block *n = b->head->next;
        block_free(b->head);
        b->head = n;
    }
    free(b);
}

weft_task *weft__batch_take(weft__loop *L, weft_task *proxy)
{
    batch *b = proxy->arg;
    weft_group *g = b->g;
    block *h = b->head;
    size_t i = b->head_i++;
    weft_fn fn = weft__likely(!h->fns) ? h->fn : h->fns[i];
    int *result = weft__likely(!h->res) ? (int *)(h->res0 + i * h->res_step) : h->res[i];
    void *arg = h->arg[i];
    L->members_pending--;
    /* The member takes a reference to the batch's task-locals: the batch's
     * own when it is the last. */
    uint32_t locals = proxy->locals;
    if (--b->left == 0) {
        L->batches--;
        weft__ready_pop(L); /* proxy is the head */
        if (g->batch == proxy) g->batch = NULL;
        batch_release(b);
        L->running--;
        weft__task_free(L, proxy);
    } else {
        if (weft__unlikely(locals)) weft__locals_share(L, proxy, locals);
        if (b->head_i == h->cap) {
            b->head = h->next;
            b->head_i = 0;
            block_free(h);
        }
    }
    weft_task *t = NULL;
    if (g->nlive == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 8;
        live *nl = realloc(g->live, cap * sizeof *nl);
        if (nl) {
            g->live = nl;
            g->cap = cap;
        }
    }
    if (g->nlive < g->cap) t = weft__task_new(L, NULL, fn, arg);
    if (!t) {
        if (weft__unlikely(locals)) weft__locals_drop(L, locals);
        member_end(g, result, -ENOMEM);
        return NULL;
    }
    if (weft__unlikely(locals)) t->locals = locals;
    if (weft__unlikely(L->opt.debug)) weft__debug_spawned(L, t, "weft_group_spawn", 0);
    t->group = g;
    t->flags |= F_AWAITED;
    if (g->cancelled || L->closing) t->flags |= F_CANCELLED;
    t->group_slot = (uint32_t)g->nlive;
    g->live[g->nlive++] = (live){t, result};
    return t;
}

void weft__batch_free(weft__loop *L, weft_task *proxy)
{
    (void)L;
    batch *b = proxy->arg;
    if (b->g->batch == proxy) b->g->batch = NULL;
    batch_release(b);
    proxy->state = T_FREE;
}

void weft__group_task_done(weft_task *t, int result)
{
    weft_group *g = t->group;
    live *me = &g->live[t->group_slot];
    int *slot = me->result;
    *me = g->live[--g->nlive];
    me->t->group_slot = t->group_slot;
    member_end(g, slot, result);
}

static int spawn(weft_group *g, weft_fn fn, void *arg, int *result)
{
    weft__loop *L = weft__L;
    if (!L) return -EPERM;
    if (!g || !fn) return -EINVAL;
    if (!g->home) g->home = L;
    if (weft__unlikely(g->home != L)) return weft__wrong_loop("weft_group_spawn");
    if (g->err) return -ECANCELED;
    int r = batch_add(L, g, fn, arg, result);
    if (r == 0) g->n++;
    return r;
}

int weft_group_spawn(weft_group *g, weft_fn fn, void *arg) { return spawn(g, fn, arg, NULL); }

int weft_group_spawn_into(weft_group *g, weft_fn fn, void *arg, int *result)
{
    return spawn(g, fn, arg, result);
}

int weft_group_wait(weft_group *g)
{
    if (!g) return -EINVAL;
    if (weft__need_task("weft_group_wait")) return -EPERM;
    weft__loop *L = weft__L;
    if (weft__unlikely(g->home && g->home != L)) return weft__wrong_loop("weft_group_wait");
    int interrupted = 0;
    while (g->done < g->n) {
        g->waiter = L->current;
        int r = weft__park(NULL, WAIT_GROUP, INFINITY, 0, !interrupted);
        if (r < 0 && !interrupted) {
            interrupted = r;
            cancel_rest(g);
        }
    }
    int err = interrupted ? interrupted : g->err;
    free(g->live);
    free(g);
    return err;
}
