/* Tasks: creation, switching, parking and waking, ending and cancelling.
 *
 * Spawn, switch, park and wake stay together in this one file on purpose:
 * the hot paths (weft_yield, a wait and its wake, a spawn) are built from
 * static inline helpers here (ready_take, next_direct, switch_away, jump,
 * spawn_new) that the compiler inlines only within one translation unit; a
 * call across files on the switch path costs instructions per switch (M1,
 * docs/benchmarks.md). What is not on those paths lives apart: awaiting and
 * gathering in await.c, timers in timer.c, weft_sleep and weft_check in
 * sleep.c, stacks in stack.c.
 *
 * Switching is direct: a task that waits hands the CPU straight to the next
 * ready task (one context switch, not two through a scheduler), and goes
 * back to the scheduler only when nothing is ready or after a budget of runs,
 * so that I/O and timers are still looked at regularly.
 *
 * A task gets a stack only when it first runs, and gives it back the moment
 * it ends. A task that ends while the next ready task has never run hands
 * that task its stack in place, without any switch: a burst of tasks that
 * never wait runs on one stack at the cost of a function call each. */
#define _GNU_SOURCE
#include "internal.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096
#define RUN_BUDGET 1024 /* task runs between two looks at I/O and timers */
#define BURST_SLICE 1e-3 /* seconds of task starts between two looks, at most */

__thread weft__loop *weft__L WEFT__TLS_IE;

#ifdef WEFT_ASAN
void __asan_unpoison_memory_region(void const volatile *addr, size_t size);
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
#endif

#ifdef WEFT_TSAN
/* ThreadSanitizer follows each stack as a fiber: told of every switch,
 * as ASan is, or it would see one thread's accesses on many stacks. */
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

/* ---- task memory: 2 MiB chunks, huge-page backed where the kernel allows -- */

#define CHUNK (2u << 20)
struct weft__slab_chunk {
    weft__slab_chunk *next;
    size_t used; /* slots handed out by the bump pointer */
};
#define SLOT_BASE(c) ((weft_task *)((char *)(c) + 64))
#define SLOTS_PER_CHUNK ((CHUNK - 64) / sizeof(weft_task))

static char *chunk_map(void)
{
    /* Over-map to align on 2 MiB so the chunk can be one huge page: a
     * million tasks then cost dozens of page faults instead of tens of
     * thousands (each ~5-10 us on a VM). */
    char *p = mmap(NULL, 2 * CHUNK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    char *a = (char *)(((uintptr_t)p + CHUNK - 1) & ~(uintptr_t)(CHUNK - 1));
    if (a > p) munmap(p, (size_t)(a - p));
    if (a + CHUNK < p + 2 * CHUNK) munmap(a + CHUNK, (size_t)(p + 2 * CHUNK - (a + CHUNK)));
    madvise(a, CHUNK, MADV_HUGEPAGE);
    return a;
}

static weft__slab_chunk *chunk_new(weft__loop *L)
{
    char *a = (char *)L->chunk_reserve;
    L->chunk_reserve = NULL;
    if (!a && !(a = chunk_map())) return NULL;
    weft__slab_chunk *c = (weft__slab_chunk *)a;
    c->used = 0;
    c->next = L->chunks;
    L->chunks = c;
    /* A second chunk means a big workload: get the next one faulted in on
     * the helper thread while this one fills (prefault.c). */
    if (c->next && (L->chunk_reserve = (weft__slab_chunk *)chunk_map()))
        weft__prefault(L, (char *)L->chunk_reserve, 0, 1, CHUNK);
    return c;
}

static weft_task *task_alloc(weft__loop *L)
{
    weft_task *t = L->task_free;
    if (weft__likely(t)) {
        L->task_free = t->next;
        return t;
    }
    weft__slab_chunk *c = L->chunks;
    if (!c || c->used == SLOTS_PER_CHUNK) {
        c = chunk_new(L);
        if (!c) return NULL;
    }
    return SLOT_BASE(c) + c->used++;
}

void weft__task_free(weft__loop *L, weft_task *t)
{
    weft__debug_drop(t);
    t->state = T_FREE;
    t->next = L->task_free;
    L->task_free = t;
    L->live--;
}

/* Calls fn on every task slot in use (debug dumps, shutdown). */
static void each_task(weft__loop *L, void (*fn)(weft__loop *, weft_task *))
{
    for (weft__slab_chunk *c = L->chunks; c; c = c->next)
        for (size_t i = 0; i < c->used; i++) {
            weft_task *t = SLOT_BASE(c) + i;
            if (t->state != T_FREE && t->state != T_BATCH) fn(L, t);
        }
}

void weft__each_task(void (*fn)(weft__loop *, weft_task *))
{
    if (weft__L) each_task(weft__L, fn);
}

static void free_chunks(weft__loop *L)
{
    weft__slab_chunk *c = L->chunks;
    while (c) {
        weft__slab_chunk *n = c->next;
        munmap(c, CHUNK);
        c = n;
    }
    L->chunks = NULL;
    L->task_free = NULL;
    if (L->chunk_reserve) munmap(L->chunk_reserve, CHUNK);
    L->chunk_reserve = NULL;
}

/* ---- ready queue ------------------------------------------------------------ */

/* Takes the head of the ready queue, or NULL if it is empty. A group's
 * batch of members not yet started yields its next member, made a task
 * only now: a million members waiting to start cost 24 bytes each, not a
 * task record each (group.c). */
static inline weft_task *ready_take(weft__loop *L)
{
    weft_task *t;
    while ((t = L->ready_head)) {
        if (weft__likely(t->state != T_BATCH)) {
            weft__ready_pop(L);
            return t;
        }
        if ((t = weft__batch_take(L, t))) return t;
    }
    return NULL;
}

/* Whether running the ready queue's head needs a fresh stack. */
static inline int head_is_new(const weft__loop *L)
{
    return L->ready_head->state == T_NEW || L->ready_head->state == T_BATCH;
}

/* Out of line: taken only while a burst is held back (loop.c). */
void weft__backlog_push(weft__loop *L, weft_task *t)
{
    t->next = NULL;
    L->backlog_tail->next = t;
    L->backlog_tail = t;
}

/* ---- spawning ---------------------------------------------------------------- */

weft_task *weft__task_new(weft__loop *L, const char *name, weft_fn fn, void *arg)
{
    weft_task *t = task_alloc(L);
    if (weft__unlikely(!t)) return NULL;
    /* Every field by hand: gcc makes an 88-byte memset (or a literal) a
     * `rep stos`, slow to start for so few bytes, and M2 pays it per task.
     * A field added to the record must be set here too. */
    t->sp = NULL;
    t->stack = NULL;
    t->fn = fn;
    t->arg = arg;
    t->next = NULL;
    t->watchers = NULL;
    t->group = NULL;
    t->name = name;
    t->dbg = NULL;
    t->id = ++L->next_id;
    t->result = 0;
    t->state = T_NEW;
    t->flags = 0;
    t->loop = L->index;
    t->ended = 0;
    t->locals = 0;
    L->live++;
    L->running++;
    return t;
}

/* Inlined into weft_spawn's path (M2: a call there costs 16 instructions
 * a task). */
static inline __attribute__((always_inline)) weft_task *spawn_new(weft__loop *L, const char *name,
                                                                  weft_fn fn, void *arg)
{
    weft_task *t = weft__task_new(L, name, fn, arg);
    if (weft__unlikely(!t)) {
        errno = ENOMEM;
        return NULL;
    }
    weft__start_push(L, t);
    return t;
}

weft_task *weft__spawn_raw(weft__loop *L, const char *name, weft_fn fn, void *arg)
{
    return spawn_new(L, name, fn, arg);
}

/* What every spawn does past queueing the task. */
static inline void spawned(weft__loop *L, weft_task *t, const char *file, int line)
{
    /* Task-locals: a load and a test while no value was ever set on this
     * loop (L->locals stays NULL until the first weft_local_set). */
    if (weft__unlikely(L->locals) && L->current && L->current->locals)
        weft__locals_share(L, t, L->current->locals);
    if (weft__unlikely(L->opt.debug)) weft__debug_spawned(L, t, file, line);
}

#undef weft_spawn
#undef weft_spawn_named
weft_task *weft__spawn_at(const char *name, weft_fn fn, void *arg, const char *file, int line)
{
    weft__loop *L = weft__L;
    if (weft__unlikely(!L)) {
        weft__report("weft_spawn called outside a running loop (use weft_run)");
        errno = EPERM;
        return NULL;
    }
    if (!fn) {
        errno = EINVAL;
        return NULL;
    }
    weft_task *t = spawn_new(L, name, fn, arg);
    if (weft__unlikely(!t)) return NULL;
    spawned(L, t, file, line);
    return t;
}
weft_task *weft_spawn(weft_fn fn, void *arg) { return weft__spawn_at(NULL, fn, arg, NULL, 0); }
weft_task *weft_spawn_named(const char *name, weft_fn fn, void *arg)
{
    return weft__spawn_at(name, fn, arg, NULL, 0);
}

/* ---- switching ----------------------------------------------------------------- */

static void task_finish(weft__loop *L, weft_task *t, int result);

/* Runs on the resumed side of every switch. */
static inline void after_resume(weft__loop *L)
{
    if (L->zombie_stack) {
#ifdef WEFT_ASAN
        /* The ended task's last frames never returned, so their redzones
         * are still poisoned; cleared now, or the poison would outlive the
         * stack and hit whatever is mapped there later. */
        __asan_unpoison_memory_region(L->zombie_sp, (size_t)(L->zombie_stack - (char *)L->zombie_sp));
#endif
        weft__stack_put(L, L->zombie_stack);
        L->zombie_stack = NULL;
    }
#ifdef WEFT_TSAN
    if (L->tsan_zombie) {
        __tsan_destroy_fiber(L->tsan_zombie);
        L->tsan_zombie = NULL;
    }
#endif
    if (weft__unlikely(L->opt.debug) && L->current) weft__debug_run_begin(L, L->current);
}

/* Switches from the running context (saving into *save; NULL when the
 * caller is a task that ended) to task `to`, or to the scheduler when to
 * is NULL. */
static inline void jump(weft__loop *L, void **save, weft_task *to)
{
    void *sp;
    if (weft__unlikely(L->opt.debug) && L->current) weft__debug_run_end(L, L->current);
#ifdef WEFT_ASAN
    const void *bottom;
    size_t size;
#endif
    if (to) {
        sp = to->sp;
#ifdef WEFT_ASAN
        bottom = to->stack - L->stack_size + PAGE;
        size = L->stack_size - PAGE;
#endif
    } else {
        sp = L->sched_sp;
#ifdef WEFT_ASAN
        bottom = L->sched_stack_lo;
        size = L->sched_stack_size;
#endif
    }
    L->current = to;
#ifdef WEFT_ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(save ? &fake : NULL, bottom, size);
#endif
#ifdef WEFT_TSAN
    if (!L->tsan_sched) L->tsan_sched = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(to ? RUN(to)->tsan_fiber : L->tsan_sched, 0);
#endif
    weft__ctx_switch(save ? save : &L->zombie_sp, sp);
#ifdef WEFT_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
    after_resume(L);
}

/* A task that takes a stack starts with a clean run state at its top. */
static inline void run_init(weft_task *t, char *stack)
{
    t->stack = stack;
    weft__run *r = RUN(t);
    memset(r, 0, sizeof *r);
    r->deadline = INFINITY;
}

/* Gives a never-run task its stack and first frame; on failure it ends at
 * once with -ENOMEM. */
static int prepare(weft__loop *L, weft_task *n)
{
    char *stack = weft__stack_get(L);
    if (weft__unlikely(!stack)) {
        weft__x_unstarted(n, -ENOMEM);
        task_finish(L, n, -ENOMEM);
        return -1;
    }
    run_init(n, stack);
#ifdef WEFT_TSAN
    RUN(n)->tsan_fiber = __tsan_create_fiber(0);
#endif
    n->sp = weft__ctx_make((char *)RUN(n), n);
    if (weft__unlikely((++L->starts & 15) == 0)) {
        /* Back to the scheduler after this one, to read the clock there
         * (weft__run_ready): a burst of starts is bounded by time. */
        L->clock_due = L->budget + 1;
        L->budget = 0;
    }
    return 0;
}

/* The next task to run directly, or NULL to go through the scheduler.
 * on_task: we are on a task's stack, which may be small and deep in use:
 * a new task that needs the stack pool to grow or to populate its next
 * fresh stacks (mmap, guards, system calls, interceptors under sanitizers)
 * is left for the scheduler, whose stack is the thread's. */
static inline weft_task *next_direct(weft__loop *L, int on_task)
{
    weft_task *n;
    while (L->budget > 0 && (n = L->ready_head)) {
        L->budget--;
        if (weft__likely(n->state == T_READY)) { /* has a stack: the switch path */
            weft__ready_pop(L);
            n->state = T_RUNNING;
            return n;
        }
        if (weft__unlikely(on_task && !weft__stack_ready(L))) {
            L->budget++;
            return NULL;
        }
        n = ready_take(L);
        if (!n || (n->state == T_NEW && prepare(L, n) < 0)) continue;
        n->state = T_RUNNING;
        return n;
    }
    return NULL;
}

/* The current task t gives up the CPU (it is waiting, or queued as ready). */
static inline void switch_away(weft__loop *L, weft_task *t)
{
    weft_task *n = next_direct(L, 1);
    if (n == t) { /* t was the only one ready */
        if (weft__unlikely(L->opt.debug)) {
            weft__debug_run_end(L, t);
            weft__debug_run_begin(L, t);
        }
        return;
    }
    jump(L, &t->sp, n);
}

static inline void ready_push_front(weft__loop *L, weft_task *t)
{
    t->next = L->ready_head;
    L->ready_head = t;
    if (!L->ready_tail) L->ready_tail = t;
}

/* The new task goes to the head of the ready queue with the caller right
 * behind it, and the caller switches away as a yield does: the direct
 * switch path starts it (or, when the stack pool must grow, the scheduler
 * does, on its own stack), and when it first waits or ends, the next task
 * taken is the caller. */
#undef weft_spawn_eager
weft_task *weft__spawn_eager_at(const char *name, weft_fn fn, void *arg, const char *file, int line)
{
    weft__loop *L = weft__L;
    weft_task *self = L ? L->current : NULL;
    if (!self || !fn) return weft__spawn_at(name, fn, arg, file, line);
    weft_task *t = weft__task_new(L, name, fn, arg);
    if (weft__unlikely(!t)) {
        errno = ENOMEM;
        return NULL;
    }
    spawned(L, t, file, line);
    self->state = T_READY;
    ready_push_front(L, self);
    ready_push_front(L, t);
    switch_away(L, self);
    self->state = T_RUNNING;
    return t;
}

/* Scheduler side: runs ready tasks until they hand back. Starting a task
 * from the stack pool may take a fresh page (tens of us on a VM,
 * bench/page_probe.c), so a burst of starts is bounded by time, not only by
 * RUN_BUDGET's count: every 16th start comes back here (prepare), where the
 * clock is read on the thread's own stack (a task's may be small, and
 * under sanitizers the call is deep), and once a timer is due, or past
 * BURST_SLICE (for I/O), the loop looks at timers and I/O (loop.c turn
 * runs what they wake before the rest). */
void weft__run_ready(weft__loop *L)
{
    L->budget = RUN_BUDGET;
    double since = 0;
    weft_task *n;
    while ((n = next_direct(L, 0))) {
        jump(L, &L->sched_sp, n);
        if (!L->clock_due) return;
        L->budget = L->clock_due - 1;
        L->clock_due = 0;
        double now = weft__clock();
        /* A timer due now fires now, not a slice later: a chain of sleeps
         * (M4) pays every late wake-up again at its next link. The heap's
         * head may be a stale entry: then one turn is spent for nothing. */
        if (L->nheap && L->heap[0].when <= now) return;
        if (!since) since = now;
        else if (now - since >= BURST_SLICE) return;
    }
}

void weft__switch_to_scheduler(weft__loop *L)
{
    weft_task *t = L->current;
    jump(L, &t->sp, NULL);
}

__attribute__((hot)) void weft__task_main(weft_task *t)
{
    weft__loop *L = weft__L;
#ifdef WEFT_ASAN
    __sanitizer_finish_switch_fiber(NULL, NULL, NULL);
#endif
    after_resume(L);
    for (;;) {
        int r = t->fn(t->arg);
        char *stack = t->stack;
#ifdef WEFT_TSAN
        void *fiber = RUN(t)->tsan_fiber;
#endif
        if (L->opt.debug) {
            weft__debug_run_end(L, t);
            weft__debug_task_done(L, t, r);
        }
        task_finish(L, t, r); /* t may be freed now */
        weft_task *n = NULL;
        if (L->ready_head && L->budget > 0 && head_is_new(L)) {
            L->budget--;
            n = ready_take(L);
            if (n && n->state == T_NEW) {
                /* Run the next new task on this very stack: our frames are gone
                 * (they lie below the run state, which n now takes over). */
                run_init(n, stack);
#ifdef WEFT_TSAN
                RUN(n)->tsan_fiber = fiber;
#endif
                n->state = T_RUNNING;
                L->current = n;
                if (L->opt.debug) weft__debug_run_begin(L, n);
                t = n;
                continue;
            }
        }
        L->zombie_stack = stack;
#ifdef WEFT_TSAN
        L->tsan_zombie = fiber;
#endif
        L->current = NULL;
        if (n) n->state = T_RUNNING; /* a batch's failed member left a ready task first */
        else n = next_direct(L, 1);
        jump(L, NULL, n);
        __builtin_unreachable();
    }
}

/* ---- waiting and waking ------------------------------------------------------- */

int weft__need_task(const char *fn)
{
    if (weft__likely(weft__L && weft__L->current)) return 0;
    weft__report("%s called outside a task: waiting functions must run inside a task "
                 "(weft_run / weft_spawn)", fn);
    return 1;
}

void weft__wake(weft_task *t, int result)
{
    weft__loop *L = weft__L;
    weft__wl_remove(t);
    if (RUN(t)->timer_seq) weft__timer_cancel(t);
    RUN(t)->wake_result = result;
    t->state = T_READY;
    t->flags &= (uint8_t)~F_CANCELWAIT;
    weft__ready_push(L, t);
}

void weft__wl_wake_all(weft__wlist *wl, int result)
{
    while (wl->head) weft__wake(wl->head, result);
}

void weft__wake_first(weft__wlist *wl, int result)
{
    if (wl->head) weft__wake(wl->head, result);
}

int weft__park(weft__wlist *wl, int kind, double deadline, int timeout_result, int cancellable)
{
    weft__loop *L = weft__L;
    weft_task *t = L->current;
    if (cancellable) {
        if (weft__unlikely(t->flags & F_CANCELLED)) return -ECANCELED;
        if (RUN(t)->deadline < deadline) {
            deadline = RUN(t)->deadline;
            timeout_result = -ETIMEDOUT;
        }
        if (deadline <= L->now) return timeout_result;
    }
    if (deadline < INFINITY) {
        if (weft__unlikely(weft__timer_add(L, t, deadline) < 0)) return -ENOMEM;
        RUN(t)->timer_result = timeout_result;
    }
    if (cancellable) t->flags |= F_CANCELWAIT;
    if (wl) weft__wl_push(wl, t);
    t->state = T_WAITING;
    RUN(t)->wait_kind = (uint16_t)kind;
    switch_away(L, t);
    RUN(t)->wait_kind = WAIT_NONE;
    return RUN(t)->wake_result;
}

int weft__wait(weft__wlist *wl, int kind, int fd, double deadline, int timeout_result,
               int cancellable)
{
    weft__run *r = RUN(weft__L->current);
    r->wait_fd = fd;
    r->xfer = NULL;
    return weft__park(wl, kind, deadline, timeout_result, cancellable);
}

int weft_yield(void)
{
    weft__loop *L = weft__L;
    weft_task *t;
    if (weft__unlikely(!L || !(t = L->current))) return weft__need_task("weft_yield") ? -EPERM : 0;
    int r = weft__check(L, t);
    if (weft__unlikely(r)) return r;
    t->state = T_READY;
    weft__ready_push(L, t);
    switch_away(L, t);
    t->state = T_RUNNING;
    /* A cancel or deadline that came while queued ends this wait too. */
    return weft__check(L, t);
}

/* ---- ending and cancelling (awaiting: await.c) ----------------------------------- */

static void task_finish(weft__loop *L, weft_task *t, int result)
{
    t->state = T_DONE;
    t->stack = NULL;
    L->running--;
    if (weft__unlikely(t->locals)) {
        weft__locals_drop(L, t->locals);
        t->locals = 0;
    }
    if (t->group) { /* members report to their group, then go */
        weft__group_task_done(t, result);
        weft__task_free(L, t);
        return;
    }
    t->result = result;
    __atomic_store_n(&t->ended, 1, __ATOMIC_RELEASE); /* for weft_done on other loops */
    weft__watch *w = t->watchers;
    t->watchers = NULL;
    while (w) {
        weft__watch *next = w->next; /* on_done may free w */
        weft_task *x = w->waiter;
        if (w->on_done) w->on_done(w, t);
        else if (x->state == T_WAITING && RUN(x)->wait_kind == WAIT_TASK) weft__wake(x, 0);
        w = next;
    }
    if (t->flags & F_DETACHED) {
        if (result < 0 && result != -ECANCELED && L->opt.debug)
            weft__report("detached task '%s' (id %u) failed: %s (nobody will read it)",
                         t->name ? t->name : "(unnamed)", t->id, weft_strerror(result));
        weft__task_free(L, t);
    }
}

void weft__task_finish_remote(weft__loop *L, weft_task *t, int result)
{
    task_finish(L, t, result);
}

void weft_detach(weft_task *t)
{
    weft__loop *L = weft__L;
    if (t && L && weft__unlikely(t->loop != L->index)) {
        weft__x_detach(L, t);
        return;
    }
    if (!t || t->state == T_FREE || (t->flags & (F_DETACHED | F_AWAITED))) return;
    if (t->state == T_DONE) {
        weft__task_free(weft__L, t);
        return;
    }
    t->flags |= F_DETACHED;
}

void weft_cancel(weft_task *t)
{
    weft__loop *L = weft__L;
    if (t && L && weft__unlikely(t->loop != L->index)) {
        weft__x_cancel(L, t);
        return;
    }
    if (!t || t->state == T_DONE || t->state == T_FREE) return;
    if (weft__unlikely(t->state == T_REMOTE)) {
        weft__x_cancel(L, t);
        return;
    }
    if (weft__unlikely(t->stack && RUN(t)->shielded)) { /* held until the shield ends */
        RUN(t)->cancel_held = 1;
        return;
    }
    t->flags |= F_CANCELLED;
    if (t->state == T_WAITING && (t->flags & F_CANCELWAIT)) weft__wake(t, -ECANCELED);
}

int weft_done(const weft_task *t)
{
    weft__loop *L = weft__L;
    if (t && L && t->loop != L->index) return __atomic_load_n(&t->ended, __ATOMIC_ACQUIRE);
    return t && t->state == T_DONE;
}
weft_task *weft_current(void) { return weft__L ? weft__L->current : NULL; }
const char *weft_task_name(const weft_task *t) { return t ? t->name : NULL; }
unsigned long weft_task_id(const weft_task *t) { return t ? t->id : 0; }
int weft_cancelled(void)
{
    weft_task *t = weft__L ? weft__L->current : NULL;
    return t && ((t->flags & F_CANCELLED) || RUN(t)->cancel_held);
}

/* ---- shutdown -------------------------------------------------------------------- */

static void cancel_one(weft__loop *L, weft_task *t)
{
    (void)L;
    if (t->state != T_DONE) weft_cancel(t);
}

void weft__cancel_all(weft__loop *L) { each_task(L, cancel_one); }

static void free_debug(weft__loop *L, weft_task *t)
{
    (void)L;
    weft__debug_drop(t);
#ifdef WEFT_ASAN
    if (t->stack && t->sp) /* abandoned while suspended: see after_resume */
        __asan_unpoison_memory_region(t->sp, (size_t)(t->stack - (char *)t->sp));
#endif
}

void weft__free_all_tasks(weft__loop *L)
{
    each_task(L, free_debug); /* tasks abandoned or never awaited */
    for (weft__slab_chunk *c = L->chunks; c; c = c->next)
        for (size_t i = 0; i < c->used; i++)
            if (SLOT_BASE(c)[i].state == T_BATCH) weft__batch_free(L, SLOT_BASE(c) + i);
    free_chunks(L);
    L->live = 0;
}
