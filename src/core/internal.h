/* Internals shared by the core modules. Not installed. */
#ifndef WEFT_CORE_INTERNAL_H
#define WEFT_CORE_INTERNAL_H

#include "weft.h"
#include "wait.h" /* wait lists and wait kinds, shared with the layers above */
#include <stdint.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

/* Internal symbols stay inside the library: calls bind locally (no PLT,
 * no interposition), so the compiler may inline across the hot paths. */
#pragma GCC visibility push(hidden)

#define weft__likely(x) __builtin_expect(!!(x), 1)
#define weft__unlikely(x) __builtin_expect(!!(x), 0)

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define WEFT_ASAN 1
#endif
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define WEFT_TSAN 1
#endif

enum { T_FREE = 0, T_NEW, T_READY, T_RUNNING, T_WAITING, T_DONE,
       T_BATCH, /* not a task: a group's members not yet started (group.c) */
       T_REMOTE /* a handle of this loop for a task running on another (xtask.c) */ };
enum {
    F_CANCELLED = 1,   /* cancellation requested: sticky */
    F_DETACHED = 2,
    F_AWAITED = 4,     /* someone is awaiting or has awaited it */
    F_CANCELWAIT = 8,  /* the current wait may be ended by cancellation */
    F_READ = 16,       /* result was read (debug: errors nobody read) */
    F_DEADLINE = 32,   /* under a weft_timeout: waits must look at the clock */
};

/* Someone waiting for a task to end (await, wait_any): lives on the waiter's
 * stack while registered. */
typedef struct weft__watch {
    weft_task *waiter;
    struct weft__watch *next;
    /* NULL: wake the waiter if it waits for a task. Else called instead, as
     * the task ends (t->result set; the watch is already unlinked): how
     * completions.c learns of each end in O(1). */
    void (*on_done)(struct weft__watch *w, weft_task *t);
} weft__watch;

/* What only a task that has started needs: it lives at the top of the
 * task's stack (RUN(t)), so a task spawned and not yet run, or ended and
 * not yet awaited, costs only its record (88 bytes, not 144): a million
 * handles spawned at once are 88 MB of fresh memory instead of 144 MB.
 * It is 72 bytes (an 80-byte area at the stack's top) since scopes and
 * shields (scope.c) joined it: the record did not grow. */
typedef struct weft__run {
    weft_task *wprev, *wnext; /* wait list links */
    weft__wlist *wlist;       /* the list it waits in, if any */
    void *xfer;               /* queue item handed over / wanted fd events */
    double deadline;          /* nearest weft_timeout deadline, or INFINITY */
    uint64_t timer_seq;       /* valid heap entry's sequence, 0: none */
    int wake_result;
    int timer_result;         /* wake_result if the timer fires */
    int wait_fd;              /* fd waited on, for dumps */
    uint16_t wait_kind;       /* what it waits on (dumps): WAIT_* */
    uint8_t shielded;         /* inside weft_shield: a cancel is held, not delivered */
    uint8_t cancel_held;      /* a cancel arrived while shielded (scope.c) */
    struct weft__scope *scope;/* innermost weft_timeout/weft_shield scope, NULL: none */
#ifdef WEFT_TSAN
    void *tsan_fiber;         /* ThreadSanitizer's context for this stack */
#endif
} weft__run;
/* Bytes reserved for it at the stack's top: the first frame starts below. */
#define WEFT__RUN_AREA ((sizeof(weft__run) + 15) & ~(size_t)15)
/* The run state of a task that holds a stack (started, not ended). */
#define RUN(t) ((weft__run *)((t)->stack - WEFT__RUN_AREA))

struct weft_task {
    void *sp;                 /* saved stack pointer while switched out (every
                                 switch reads it: kept here, one load nearer) */
    char *stack;              /* top of its stack, NULL before first run/after end */
    weft_fn fn;
    void *arg;
    weft_task *next;          /* ready queue / slab free list */
    weft__watch *watchers;    /* tasks waiting for this one to end */
    struct weft_group *group;
    const char *name;
    struct weft__debug *dbg;  /* spawn site and debug data, or NULL */
    uint32_t id;
    union {
        int result;           /* once T_DONE */
        uint32_t group_slot;  /* a group member, until it ends: its place in the group */
    };
    uint8_t state, flags;
    uint16_t loop;            /* index of the loop that owns the record */
    uint8_t ended;            /* 1 once T_DONE, set with release order: weft_done
                                 from another loop reads it, never state */
    uint32_t locals : 24;     /* task-local values: a slot of the loop's table
                                 (local.c), 0: none: the record's last 3 bytes */
};
#define WEFT__LOCALS_SLOTS (1u << 24)
/* Everything above fits 88 bytes on LP64: a field more costs 8 MB per
 * million handles. */
_Static_assert(sizeof(void *) != 8 || sizeof(struct weft_task) == 88, "task record grew");

typedef struct weft__timer_entry {
    double when;
    uint64_t seq;
    weft_task *task;
} weft__timer_entry;

typedef struct weft__loop weft__loop;

/* The loop's record of one fd (fd.c). */
typedef struct weft__fdrec {
    uint32_t mask;     /* interest the backend was told of (WEFT_READABLE...), 0: none */
    uint32_t owned;    /* 1: its owner closes it with weft_close (weft_fd_keep) */
    weft__wlist waiters;
    void (*internal)(weft__loop *L); /* the loop's own fd: called when readable */
} weft__fdrec;

typedef struct weft__slab_chunk weft__slab_chunk;

struct weft__loop {
    weft_task *current;
    void *sched_sp;            /* scheduler context */
    weft_task *ready_head, *ready_tail;
    int budget;                /* task runs before the scheduler polls again */
    /* A burst of task starts cut short (task.c run_ready): the rest of the
     * ready queue waits here while what timers and I/O woke runs (loop.c). */
    weft_task *backlog_head, *backlog_tail;
    size_t starts;             /* tasks given a stack from the pool, ever */
    int clock_due;             /* 1 + the budget left: the scheduler reads the clock */
    double now;
    /* timers: min-heap with lazy deletion */
    weft__timer_entry *heap;
    size_t nheap, capheap;
    uint64_t timer_seq;
    /* tasks */
    weft__slab_chunk *chunks;
    weft_task *task_free;
    size_t live;               /* tasks not yet freed */
    size_t running;            /* tasks not yet ended */
    size_t batches;            /* of those, group batches (T_BATCH records, group.c) */
    size_t members_pending;    /* group members in batches, not started yet */
    uint32_t next_id;
    weft_task *main;
    /* stacks */
    size_t stack_size;
    char *stack_free;          /* free list of stack tops: given back, warm */
    char *fresh, *fresh_end;   /* never-used stack tops of the newest slab, step stack_size */
    char *fresh_ready;         /* fresh tops below this are populated (stack.c) */
    char *zombie_stack;        /* stack of a task that just ended: freed after switching away */
    struct weft__stack_slab *slabs;
    struct weft__stack_slab *stack_reserve; /* next slab, being pre-faulted */
    weft__slab_chunk *chunk_reserve;        /* next task chunk, likewise */
    struct weft__prefault *prefault;        /* the pre-faulting thread, if started */
    size_t nstacks, nstacks_free;
    int guard_mode;            /* how stacks get guard pages (stack.c) */
    int pidfd;
    /* fds */
    struct weft__backend *backend; /* the poller's own state (backend.h) */
    weft__fdrec **fd_blocks;   /* records in blocks that never move (fd.c) */
    size_t nfd_blocks;
    size_t fd_waiting;         /* tasks waiting on fds */
    /* thread pool */
    struct weft__pool *pool;          /* this loop's part, made on first use */
    struct weft__pool_shared *pool_shared; /* loop 0: the run's workers (under
                                         threadpool.c's create_mu) */
    /* options */
    weft_options opt;
    int closing;               /* main has ended: reaping the rest */
    struct weft__dbgstate *dbgs; /* debug/trace state (debug.c), NULL when off */
    void *sched_stack_lo;      /* for sanitizers: the thread's stack */
    size_t sched_stack_size;
    void *zombie_sp;           /* where the ended task's last frame was (sanitizers) */
#ifdef WEFT_TSAN
    void *tsan_sched;          /* ThreadSanitizer: the scheduler's (thread's) context */
    void *tsan_zombie;         /* the ended task's context, destroyed once left */
#endif
    /* several loops (loops.c) */
    struct weft__port *port;   /* this loop's inbox; its weft_loop handle */
    struct weft__fleet *fleet; /* the run's loops */
    uint16_t index;            /* this loop's place in the fleet */
    int quiet;                 /* ending: counted out of the fleet's work */
    size_t xwait;              /* tasks waiting for other threads (chans, calls) */
    struct weft__locals *locals; /* task-local value maps (local.c), NULL: none yet */
};

/* Initial-exec TLS: every API call reads it, and in libweft.so the default
 * model would make each read a __tls_get_addr call (M1: 128 instead of 89
 * instructions per switch). It takes 8 bytes of the static TLS block,
 * which glibc keeps spare even for a dlopen'ed library. */
#define WEFT__TLS_IE __attribute__((tls_model("initial-exec")))
extern __thread weft__loop *weft__L WEFT__TLS_IE;

double weft__clock(void); /* sleep.c */

/* task.c */
static inline void weft__ready_push(weft__loop *L, weft_task *t)
{
    t->next = NULL;
    if (L->ready_tail) L->ready_tail->next = t; else L->ready_head = t;
    L->ready_tail = t;
}
/* Queues a new task to start. While a burst is held back, new tasks queue
 * behind it, so tasks always start in the order they were spawned. */
void weft__backlog_push(weft__loop *L, weft_task *t);
static inline void weft__start_push(weft__loop *L, weft_task *t)
{
    if (weft__likely(!L->backlog_head)) weft__ready_push(L, t);
    else weft__backlog_push(L, t);
}
/* The queue weft__start_push would append to: its last entry. */
static inline weft_task *weft__start_tail(const weft__loop *L)
{
    return L->backlog_head ? L->backlog_tail : L->ready_tail;
}
static inline void weft__ready_pop(weft__loop *L)
{
    L->ready_head = L->ready_head->next;
    if (!L->ready_head) L->ready_tail = NULL;
}
void weft__wake(weft_task *t, int result);
int weft__park(weft__wlist *wl, int kind, double deadline, int timeout_result,
               int cancellable);
int weft__need_task(const char *fn);
/* Entry check of every waiting function: 0 to go ahead, -EPERM outside a
 * task (reported), -ECANCELED once the caller is cancelled, -ETIMEDOUT once
 * its weft_timeout deadline has passed. Cancellation and deadlines are thus
 * sticky: they hold for every later wait, not just the one in progress. */
static inline int weft__check(weft__loop *L, weft_task *t)
{
    if (weft__likely(!(t->flags & (F_CANCELLED | F_DEADLINE)))) return 0;
    if (t->flags & F_CANCELLED) return -ECANCELED;
    return RUN(t)->deadline <= (L->now = weft__clock()) ? -ETIMEDOUT : 0;
}
static inline int weft__enter(const char *fn)
{
    weft__loop *L = weft__L;
    if (weft__unlikely(!L || !L->current)) return weft__need_task(fn) ? -EPERM : 0;
    return weft__check(L, L->current);
}
/* Loop-local objects (semaphores, locks, events, conditions, queues,
 * groups) record the loop that made them (home: NULL if made outside a
 * run); their waiting calls start with this: weft__enter's checks, then
 * -EXDEV (reported) from a task of another loop. One compare: no atomics. */
int weft__wrong_loop(const char *fn); /* loops.c */
static inline int weft__enter_home(const weft__loop *home, const char *fn)
{
    int r = weft__enter(fn);
    if (weft__likely(r == 0) && weft__unlikely(home && home != weft__L)) return weft__wrong_loop(fn);
    return r;
}
void weft__task_free(weft__loop *L, weft_task *t);
void weft__switch_to_scheduler(weft__loop *L);
void weft__run_ready(weft__loop *L);
void weft__cancel_all(weft__loop *L);
void weft__free_all_tasks(weft__loop *L);
weft_task *weft__spawn_raw(weft__loop *L, const char *name, weft_fn fn, void *arg);
/* A new task record (T_NEW, counted as live and running) not yet queued;
 * NULL when memory runs out. */
weft_task *weft__task_new(weft__loop *L, const char *name, weft_fn fn, void *arg);

/* wait lists */
static inline void weft__wl_push(weft__wlist *wl, weft_task *t)
{
    RUN(t)->wlist = wl;
    RUN(t)->wnext = NULL;
    RUN(t)->wprev = wl->tail;
    if (wl->tail) RUN(wl->tail)->wnext = t; else wl->head = t;
    wl->tail = t;
}
static inline void weft__wl_remove(weft_task *t)
{
    weft__wlist *wl = RUN(t)->wlist;
    if (!wl) return;
    weft__run *r = RUN(t);
    if (r->wprev) RUN(r->wprev)->wnext = r->wnext; else wl->head = r->wnext;
    if (r->wnext) RUN(r->wnext)->wprev = r->wprev; else wl->tail = r->wprev;
    r->wlist = NULL;
    r->wprev = r->wnext = NULL;
}

/* local.c: task-local values. A spawned task shares its spawner's map
 * (copy on write); the table lives as long as the loop. */
void weft__locals_share(weft__loop *L, weft_task *t, uint32_t slot);
void weft__locals_drop(weft__loop *L, uint32_t slot);
void weft__locals_close(weft__loop *L);
/* The caller's map, for a weft_to_thread job (NULL: none), and the worker
 * thread's side: weft_local_get there reads the job's map. */
const void *weft__locals_map(weft__loop *L, weft_task *t);
void weft__locals_job_enter(const void *map);

/* await.c: what an awaiter checks (reported): -EINVAL, -EDEADLK, or 0. */
int weft__check_awaitable(weft__loop *L, weft_task *t, const char *fn);
void weft__unwatch(weft_task *t, weft__watch *w);

/* timer.c */
/* Arms t's timer; -ENOMEM if the heap cannot grow. */
int weft__timer_add(weft__loop *L, weft_task *t, double when);
static inline void weft__timer_cancel(weft_task *t) { RUN(t)->timer_seq = 0; }
/* Fires due timers; returns the next deadline or INFINITY. */
double weft__timers_run(weft__loop *L);
void weft__timers_free(weft__loop *L);

/* stack.c */
int weft__stacks_init(weft__loop *L);
char *weft__stack_get(weft__loop *L);
/* Whether weft__stack_get can answer without a system call (growing the
 * pool, or populating the next fresh stacks): if not, it is called on the
 * scheduler's stack (task.c next_direct). */
static inline int weft__stack_ready(const weft__loop *L)
{
    return L->stack_free || L->fresh < L->fresh_ready;
}
void weft__stack_put(weft__loop *L, char *top);
void weft__stacks_close(weft__loop *L);
/* Stacks mapped (the reserve slab included) with a guard page, and with only
 * a canary word: for tests. */
void weft__stacks_guards(const weft__loop *L, size_t *guarded, size_t *canaries);
/* overflow.c: the guard-page fault handler (per process, counted users) */
void weft__overflow_handler_install(weft__loop *L);
void weft__overflow_handler_remove(weft__loop *L);

/* prefault.c */
void weft__prefault(weft__loop *L, char *top, size_t stride, size_t count, size_t len);
void weft__prefault_close(weft__loop *L);

/* ctx_*.S */
void weft__ctx_switch(void **save_sp, void *load_sp);
void weft__ctx_entry(void);
void *weft__ctx_make(char *top, weft_task *t);
void weft__task_main(weft_task *t) __attribute__((noreturn));

/* fd.c: fd records and waits, over the backend (backend.h) */
/* Watches an fd of the loop's own for reading: on_ready(L) runs in the
 * poll when it is readable, and must read it. */
int weft__watch_internal(weft__loop *L, int fd, void (*on_ready)(weft__loop *L));
void weft__fds_free(weft__loop *L);
/* The interest in fd the backend was last told (WEFT_READABLE...): for tests. */
uint32_t weft__fd_interest(const weft__loop *L, int fd);

/* threadpool.c */
void weft__pool_on_ready(weft__loop *L);
void weft__pool_close(weft__loop *L);
int weft__pool_busy(weft__loop *L);
/* loop.c: reads the SIGINT eventfd and cancels the main task if SIGINT came. */
void weft__sigint_drain(weft__loop *L);

/* loops.c: inboxes and the run of several loops */
/* Relaxed look at whether messages wait in L's inbox (every turn). */
int weft__port_pending(const weft__loop *L);
/* Around a blocking poll: weft__port_sleep spins briefly for a message,
 * then marks the loop asleep (senders then wake it); 1 if a message came
 * (do not block). weft__port_awake clears the mark. */
int weft__port_sleep(weft__loop *L);
void weft__port_awake(weft__loop *L);
/* Handles every message in L's inbox. */
void weft__port_drain(weft__loop *L);
/* Message kinds and their sending, for xtask.c and chan.c. */
enum { X_POST, X_SPAWN, X_DONE, X_CANCEL, X_TCANCEL, X_TDETACH, X_WAKE, X_FCALL, X_DUMP };
typedef struct weft__msg {
    struct weft__msg *next;
    int kind;
    int counted; /* loops.c: in the fleet's work count (sent from outside a working loop) */
    unsigned gen; /* external sends: the run (generation) the sender's handle names */
} weft__msg;
/* The inbox a weft_loop handle names, and the generation (run) of the
 * handle: a fleet is reused by later runs, and a handle kept from an ended
 * run must not reach the next one (loops.c). */
struct weft__port *weft__handle_port(const weft_loop *l, unsigned *gen);
/* The generation a handle of the port's current run carries (m->gen). */
unsigned weft__port_gen(const struct weft__port *P);
/* loops.c: t is a post's task that will never start (no stack): its post
 * goes back in the inbox. 1 if t was one. */
int weft__post_unstarted(weft_task *t);
/* Queues m in the inbox of loop `to` and wakes it. external: refused with
 * -ESHUTDOWN once the run is ending, or if m->gen is not the run's
 * (weft_post, weft_call, weft_spawn_on: a stale handle); internal messages
 * are always taken. */
int weft__port_send(struct weft__port *to, weft__msg *m, int external);
/* The loop record behind a weft_loop handle, and its inbox. */
weft__loop *weft__port_loop(const struct weft__port *p);
/* The loop with this index in L's run, NULL if none. */
weft__loop *weft__fleet_loop(const weft__loop *L, unsigned index);
/* debug/dump.c: a loop's answer to another loop's weft_dump_tasks (an
 * X_DUMP message), and the set-up of its dump state once in its fleet. */
void weft__dump_answer(weft__loop *L, weft__msg *m);
void weft__dump_attached(weft__loop *L);
/* xtask.c: handlers of the messages about tasks */
void weft__x_handle(weft__loop *L, weft__msg *m);
/* Cross-loop handle operations (t->loop is not the caller's loop, or t is
 * a T_REMOTE handle). */
void weft__x_cancel(weft__loop *L, weft_task *t);
void weft__x_detach(weft__loop *L, weft_task *t);
int weft__x_await(weft__loop *L, weft_task *t, double until, const char *fn);
/* t ends without ever running (no stack for it): if it runs a task for
 * another loop or thread, that side still gets its result. */
void weft__x_unstarted(weft_task *t, int result);
/* await.c: waits for t's end (0), or the interruption's error. */
int weft__wait_done(weft__loop *L, weft_task *t, double until, int cancellable);
/* task.c: ends a T_REMOTE handle with the result of its remote task. */
void weft__task_finish_remote(weft__loop *L, weft_task *t, int result);
/* chan.c: a chan waiter woken from another thread */
void weft__chan_wake(weft__loop *L, weft__msg *m);

/* group.c */
/* A group member ended with result: the group records it; the caller then
 * frees t (members are never awaited one by one). */
void weft__group_task_done(weft_task *t, int result);
/* The batch `proxy` heads the ready queue: starts its next pending member
 * and returns it as a T_NEW task (not queued), or NULL if that member
 * could not be made (it ends at once with -ENOMEM, reported to its group).
 * The proxy leaves the queue and is freed with its last member. */
weft_task *weft__batch_take(weft__loop *L, weft_task *proxy);
/* Frees a batch abandoned with members never started (loop teardown). */
void weft__batch_free(weft__loop *L, weft_task *proxy);

/* debug hooks (debug.c) */
struct weft__debug {
    const char *file;
    int line;
    uint32_t parent;    /* id of the spawning task, 0: none */
    double run_start;   /* start of the current run slice, 0: not running */
    double wait_start;  /* start of the current wait (trace) */
    double ran;         /* total run time (dumps) */
    int reported;       /* already reported as pending at main end */
};
/* Frees t's debug record, its pointer cleared first: a SIGUSR1 dump reads
 * it from the signal handler, and free() writes its list links into the
 * block (a dump in between followed them and crashed). */
static inline void weft__debug_drop(weft_task *t)
{
    struct weft__debug *d = t->dbg;
    t->dbg = NULL;
    __atomic_signal_fence(__ATOMIC_SEQ_CST); /* cleared before the block goes */
    free(d);
}
/* Reads WEFT_DEBUG / WEFT_TRACE; sets opt.debug when any hook is needed. */
void weft__debug_open(weft__loop *L);
void weft__debug_spawned(weft__loop *L, weft_task *t, const char *file, int line);
void weft__debug_run_begin(weft__loop *L, weft_task *t);
void weft__debug_run_end(weft__loop *L, weft_task *t);
void weft__debug_task_done(weft__loop *L, weft_task *t, int result);
void weft__debug_main_done(weft__loop *L);  /* main ended, before the rest is cancelled */
void weft__debug_check_fd(int fd, const char *fn); /* reports a blocking-mode fd */
void weft__debug_close(weft__loop *L);      /* at loop close, tasks still allocated */
void weft__report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#pragma GCC visibility pop
#endif
