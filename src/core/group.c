/* Task groups (asyncio.TaskGroup): the group learns of each end as it
 * happens, so the first failure cancels the others at once rather than when
 * an in-order await would reach it.
 *
 * Members have no handles, so a member need not be a task before it runs:
 * weft_group_spawn appends (fn, arg, result slot) to a batch, which sits in
 * the ready queue as one record, and each member becomes a task only when
 * its turn comes (weft__batch_take). A member that ends without waiting
 * then runs on the previous member's stack and frees its record at once,
 * so a million members spawned in a row cost 24 bytes each until they run
 * (Go's `go` + WaitGroup costs more: a goroutine record each), against an
 * 88-byte task record each through weft_spawn + weft_gather.
 *
 * FIFO order is kept: a spawn joins the group's batch only while that batch
 * is still the ready queue's tail; anything queued after it starts a new
 * batch. */
#include "internal.h"
#include <errno.h>
#include <stdlib.h>

typedef struct member {
    weft_fn fn;
    void *arg;
    int *result;
} member;

#define BLOCK_MEMBERS 1024
typedef struct block {
    struct block *next;
    member m[BLOCK_MEMBERS];
} block;

/* Pending members of one group, in spawn order; the proxy's arg. */
typedef struct batch {
    weft_group *g;
    block *head, *tail;
    size_t head_i;  /* next member to start, in head */
    size_t tail_n;  /* members stored in tail */
    size_t left;    /* members not yet started */
} batch;

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
    if (!b || !(b->head = b->tail = malloc(sizeof(block)))) {
        free(b);
        return NULL;
    }
    b->head->next = NULL;
    b->g = g;
    weft_task *proxy = weft__task_new(L, NULL, NULL, b);
    if (!proxy) {
        free(b->head);
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
    if (b->tail_n == BLOCK_MEMBERS) {
        block *nb = malloc(sizeof *nb);
        if (!nb) return -ENOMEM;
        nb->next = NULL;
        b->tail->next = nb;
        b->tail = nb;
        b->tail_n = 0;
    }
    b->tail->m[b->tail_n++] = (member){fn, arg, result};
    b->left++;
    L->members_pending++;
    return 0;
}

static void batch_release(batch *b)
{
    while (b->head) {
        block *n = b->head->next;
        free(b->head);
        b->head = n;
    }
    free(b);
}

weft_task *weft__batch_take(weft__loop *L, weft_task *proxy)
{
    batch *b = proxy->arg;
    weft_group *g = b->g;
    member m = b->head->m[b->head_i++];
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
        if (b->head_i == BLOCK_MEMBERS) {
            block *done = b->head;
            b->head = done->next;
            b->head_i = 0;
            free(done);
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
    if (g->nlive < g->cap) t = weft__task_new(L, NULL, m.fn, m.arg);
    if (!t) {
        if (weft__unlikely(locals)) weft__locals_drop(L, locals);
        member_end(g, m.result, -ENOMEM);
        return NULL;
    }
    if (weft__unlikely(locals)) t->locals = locals;
    if (weft__unlikely(L->opt.debug)) weft__debug_spawned(L, t, "weft_group_spawn", 0);
    t->group = g;
    t->flags |= F_AWAITED;
    if (g->cancelled || L->closing) t->flags |= F_CANCELLED;
    t->group_slot = (uint32_t)g->nlive;
    g->live[g->nlive++] = (live){t, m.result};
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
