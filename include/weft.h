/* weft: asyncio's model in C. One event loop per thread runs many stackful
 * tasks; every weft_* call that may wait is a suspension point.
 *
 * Conventions: functions return >= 0 on success and a negative errno value on
 * failure (-ECANCELED, -ETIMEDOUT, -ENOMEM, ...). Functions marked "waits" may
 * suspend the calling task and must be called from inside a task; called
 * outside one they return -EPERM and print a one-line diagnosis to stderr.
 * Cancellation and deadlines are sticky: once a task is cancelled (or past
 * its weft_timeout deadline) every waiting function it calls returns
 * -ECANCELED (-ETIMEDOUT) at once, without doing anything, until the task
 * ends (until the weft_timeout scope ends) -- also when the call would not
 * have had to wait (weft_check is that entry check, for layers on top).
 * Functions that close or free still do so, skipping only their waits.
 * Waits that hand something over
 * (a permit, a lock, a queue item, a task's result) never lose it: a task
 * handed it just before being cancelled gets it and returns success.
 * Objects are single-loop: use them only from the thread whose loop made them.
 *
 * API conventions (docs/design.md "API conventions" gives the reason for
 * each; older spellings stay, as listed there, with their old meanings):
 *  - Constructors: an object that is only allocated comes back as a pointer,
 *    NULL and errno (an errno value, never a weft code) on failure
 *    (weft_sem_new, weft_spawn); one whose making waits or can fail with
 *    weft's own codes returns int (0 or a negated code) and the object in
 *    an out parameter (weft_pg_connect, weft_process_spawn,
 *    weft_tcp_start_server).
 *  - Variants: `_with` is the call with an options struct (weft_run_with).
 *    Options structs are named `_opts` (weft_options, the contract's, is the
 *    one exception); a zeroed struct, or NULL, means every default.
 *  - `_nowait`: the call that would wait, done only if it need not
 *    (asyncio's get_nowait): 0, or -EAGAIN when it would have waited.
 *  - Timeouts are seconds in doubles named `_s`. As an argument, < 0 is no
 *    limit and 0 is "do not wait" (weft_wait_any(t, n, 0) polls). As an
 *    options field, 0 is the documented default (a zeroed struct must mean
 *    "defaults") and < 0 no limit.
 *  - Names are layer_object_verb (weft_pg_result_free, weft_queue_put); the
 *    verb `close` ends use but keeps what is buffered readable (a closed
 *    queue's items, a half-closed stream), `free` releases memory, and a
 *    call that does both (weft_stream_close, weft_http_client_close) says so.
 */
#ifndef WEFT_H
#define WEFT_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int (*weft_fn)(void *arg); /* a task body: >= 0 success, < 0 -errno */

/* ---- run ------------------------------------------------------------------ */

typedef struct weft_options {
    int debug;          /* 1: debug checks (also WEFT_DEBUG=1) */
    double slow_task_s; /* debug: report a task running this long without
                           waiting; 0 means 0.1 */
    size_t stack_size;  /* per task (rounded up to pages, guard page included);
                           0 means 256 KiB. Only touched pages cost memory. */
    int threads;        /* weft_to_thread pool size; 0 means 4 */
    int loops;          /* loops in the run, one thread each; 0: from the
                           environment's WEFT_LOOPS (a number, or "auto": one
                           per CPU it may run on: weft_cpu_count), else 1 */
} weft_options;

/* Makes a loop on this thread, runs main(arg) as its first task until it
 * ends, then cancels every task still alive, waits for them to end, closes
 * the loop and returns main's result. SIGINT during the run cancels the main
 * task (of every loop running, with loops on several threads), unless a task
 * waits for it (weft_signal_wait) or SIGINT did not have its default action
 * when the run began (a handler of yours is left alone). Returns -EBUSY if this thread already runs a loop, -EINVAL for a
 * NULL main, -ENOMEM, or -EDEADLK when every task waits on another and
 * cancelling them all could not end the wait (reported). Blocks the thread
 * for the whole run. */
int weft_run(weft_fn main, void *arg);
/* As weft_run, with options (opt may be NULL: all defaults). WEFT_DEBUG=1 in
 * the environment turns debug mode on whatever opt says. */
int weft_run_with(const weft_options *opt, weft_fn main, void *arg);

/* ---- tasks ---------------------------------------------------------------- */

typedef struct weft_task weft_task;

/* Schedules fn(arg) as a new task; it starts at the loop's next turn (the
 * caller keeps running). The task must be awaited (weft_await, gather, ...)
 * or detached. Returns NULL with errno set: EPERM outside a loop, EINVAL for
 * a NULL fn, ENOMEM.
 * A task gets a stack when it first runs; if none can be had it ends at once
 * with -ENOMEM. Does not wait. */
weft_task *weft_spawn(weft_fn fn, void *arg);
/* As weft_spawn, with a name used by debug reports and dumps. name is not
 * copied: it must outlive the task (a string literal is typical). */
weft_task *weft_spawn_named(const char *name, weft_fn fn, void *arg);
/* The spawn site (file:line) is recorded for debug reports. */
weft_task *weft__spawn_at(const char *name, weft_fn fn, void *arg,
                          const char *file, int line);
#define weft_spawn(fn, arg) weft__spawn_at(NULL, (fn), (arg), __FILE__, __LINE__)
#define weft_spawn_named(name, fn, arg) \
    weft__spawn_at((name), (fn), (arg), __FILE__, __LINE__)
/* Eager start (asyncio 3.12's eager task factory): as weft_spawn, but the
 * new task runs at once, in place of the caller, until its first wait or its
 * end; then the caller goes on, ahead of every other ready task. A task that
 * ends without waiting is done when this returns (weft_done is 1; awaiting
 * it does not switch) and never held a stack longer than its run: no
 * scheduling round trip, and a burst of them reuses one stack. fn sees the
 * caller's state as it is at the call. The caller gives up the CPU but is
 * not waiting: no cancellation or deadline is checked. Outside a task it is
 * weft_spawn (NULL, EPERM outside a loop). Same errors as weft_spawn. */
weft_task *weft__spawn_eager_at(const char *name, weft_fn fn, void *arg,
                                const char *file, int line);
#define weft_spawn_eager(fn, arg) weft__spawn_eager_at(NULL, (fn), (arg), __FILE__, __LINE__)

/* Waits for t to end, returns its result and frees t. If the caller is
 * cancelled (or its weft_timeout deadline passes) meanwhile, t is cancelled
 * too, its end awaited, t freed, and -ECANCELED (or -ETIMEDOUT) returned;
 * but if t has ended by then, its result is returned (a result is never
 * thrown away). -EINVAL (reported): t is NULL, detached, or already awaited
 * (awaiting a freed task is caught only until its memory is reused).
 * -EDEADLK: t is the caller. Waits. */
int weft_await(weft_task *t);
/* Nobody will await t: it is freed when it ends. */
void weft_detach(weft_task *t);
/* Requests cancellation: t's current wait (or its next one) returns
 * -ECANCELED, and so does every later wait of t. No-op on a finished task.
 * A task cancelled before it started still starts (so that it can release
 * what arg owns); its first wait fails. */
void weft_cancel(weft_task *t);
/* 1 if t has ended (its result is ready), else 0. */
int weft_done(const weft_task *t);
/* The running task, or NULL outside a task. */
weft_task *weft_current(void);
/* The task's name (NULL if unnamed) and its id (unique per loop, from 1). */
const char *weft_task_name(const weft_task *t);
unsigned long weft_task_id(const weft_task *t);
/* 1 if cancellation of the current task was requested. */
int weft_cancelled(void);
/* The entry check of every waiting function, for libraries built on weft
 * whose waiting functions may complete without waiting (data already
 * buffered) or do something they cannot undo before their first wait: 0 to
 * go ahead; -ECANCELED once the calling task is cancelled; -ETIMEDOUT past
 * its weft_timeout deadline; -EPERM outside a task (then, if fn is not NULL,
 * a one-line report names fn). Does not wait. */
int weft_check(const char *fn);
/* Lets every other ready task run once. Returns 0, -ECANCELED, or -ETIMEDOUT
 * (past a weft_timeout deadline). Waits. */
int weft_yield(void);
/* Suspends the task for seconds (0: like weft_yield; INFINITY: until
 * cancelled). Returns 0, -ECANCELED, -ETIMEDOUT (an enclosing weft_timeout
 * expired first), -EINVAL for a negative or NaN duration, or -ENOMEM (no
 * memory for its timer; any wait with a deadline may return it). Waits. */
int weft_sleep(double seconds);
/* The loop's monotonic clock in seconds (refreshed each loop turn). Outside a
 * loop: the monotonic clock. */
double weft_now(void);

/* Awaits all n tasks in order and frees them; results[i] gets task i's result
 * (results may be NULL). Returns 0, or the first negative result in task
 * order. If the caller is cancelled (past its deadline), every task not yet
 * ended is cancelled, all are awaited (results still filled in), and
 * -ECANCELED (-ETIMEDOUT) returned. -EINVAL (nothing touched): a task is
 * NULL, detached, already awaited, or listed twice. Waits. */
int weft_gather(weft_task **tasks, size_t n, int *results);
/* weft_await with a limit: on timeout t is cancelled, its end awaited, t
 * freed and -ETIMEDOUT returned. Waits. */
int weft_wait_for(weft_task *t, double timeout_s);
/* Index of the first of the n tasks that is done (lowest index if several
 * are), or -ETIMEDOUT after timeout_s (< 0: no limit; 0: a poll), or
 * -ECANCELED. Awaits and frees none, so the tasks must not be detached nor
 * awaited by another task (-EINVAL). Waits. */
int weft_wait_any(weft_task **tasks, size_t n, double timeout_s);
/* Runs fn(arg) in the calling task under a deadline seconds from now: every
 * wait past the deadline returns -ETIMEDOUT (the wait in progress at the
 * deadline included). Deadlines nest: the nearest one applies. Tasks that fn
 * spawns are not bound by it. Returns fn's result; -EINVAL for NaN. Waits
 * (through fn). */
int weft_timeout(double seconds, weft_fn fn, void *arg);
/* As weft_timeout with an absolute deadline on the weft_now() clock
 * (INFINITY: none, though an enclosing one still applies). -EINVAL for NaN
 * or a NULL fn. Waits (through fn). */
int weft_timeout_at(double deadline, weft_fn fn, void *arg);
/* Inside weft_timeout/weft_timeout_at (in fn, in the same task): moves the
 * innermost scope's deadline to `deadline` (weft_now() clock; INFINITY: none;
 * earlier or later both work, and enclosing deadlines still apply). Past
 * deadlines make the next wait return -ETIMEDOUT. 0, or -EINVAL outside any
 * weft_timeout scope (a shield is not one: the nearest weft_timeout around
 * it is moved, which counts once the shield ends) or for NaN. Does not
 * wait. */
int weft_reschedule(double deadline);
/* Runs fn(arg) in the calling task, sheltered (asyncio.shield for cleanup
 * code; Trio's shielded cancel scope): no cancellation and no enclosing
 * deadline reaches its waits, so a cancelled task can still send its
 * goodbye, flush a log or run its ROLLBACK. A cancellation that was
 * requested before or arrives during fn is kept and takes effect at the
 * first wait after fn returns (weft_cancelled() says 1 meanwhile); an
 * enclosing deadline that passes meanwhile is seen at that wait too. fn may
 * set its own weft_timeout inside (do: an unbounded cleanup can hang the
 * task's end, and weft_run's). Shields nest. Returns fn's result; -EINVAL
 * for a NULL fn. Waits (through fn). */
int weft_shield(weft_fn fn, void *arg);

/* ---- task-local values (contextvars) -------------------------------------- */

/* The calling task's value for key (any address used as a name: the address
 * of a static variable is typical), or NULL if it has none. In a
 * weft_to_thread job: the value its caller had when it called
 * weft_to_thread. Does not wait. */
void *weft_local_get(const void *key);
/* Sets the calling task's value for key. A task spawned later (weft_spawn,
 * weft_group_spawn) starts with a copy of its spawner's values as they are
 * at spawn time; setting never affects any other task. Values are not freed
 * by weft: they are the caller's. 0, -ENOMEM (nothing changed), or -EPERM
 * outside a task (a weft_to_thread job included: its values are
 * read-only). Does not wait. */
int weft_local_set(const void *key, void *value);

/* ---- completions ---------------------------------------------------------- */

typedef struct weft_completions weft_completions;
/* Watches the n tasks (asyncio.as_completed): weft_completions_next gives
 * their indices in the order they end. The tasks must not be detached nor
 * awaited by another task (-EINVAL, reported, as weft_wait_any), nor of
 * another loop (EXDEV). Tasks
 * already ended come first, in index order. NULL and errno (EINVAL, ENOMEM,
 * EPERM outside a loop). Does not wait. */
weft_completions *weft_as_completed(weft_task **tasks, size_t n);
/* The index of the next task to end, in the order they end, O(1) per call;
 * -EPIPE once all n were returned; -ETIMEDOUT after timeout_s (< 0: no limit,
 * 0: a poll); -ECANCELED; -EINVAL for NaN. Awaits and frees none: the caller
 * awaits (or detaches) the task it was given; an interrupted call loses no
 * index. Waits. */
int weft_completions_next(weft_completions *c, double timeout_s);
/* Stops watching; the tasks are untouched (still to be awaited). NULL is a
 * no-op. Does not wait. */
void weft_completions_free(weft_completions *c);
/* asyncio.wait(return_when=FIRST_EXCEPTION): waits until one of the n tasks
 * ends with a negative result, or all have ended. Returns the index of the
 * first task seen to fail (among those already ended when called: the
 * lowest index), n if all ended without failing, -ETIMEDOUT after timeout_s
 * (< 0: no limit), -ECANCELED, -EXDEV (a task of another loop), or -EINVAL
 * (n is 0, NaN, a task that cannot be watched, reported). Awaits and frees
 * none. Waits. */
int weft_wait_first_error(weft_task **tasks, size_t n, double timeout_s);

/* ---- live tasks, for tools ------------------------------------------------- */

typedef struct weft_task_info {
    unsigned long id;
    const char *name;     /* NULL if unnamed */
    const char *state;    /* "new", "ready", "running", "waiting" or "done" */
    const char *waits_on; /* what a waiting task waits for ("sleep", "fd",
                             "queue", ...), else NULL */
} weft_task_info;
/* Calls fn once per task of the calling thread's loop not yet freed (ended
 * and not yet awaited included; group members not yet started are not
 * tasks yet), with a description valid during the call. fn must not spawn,
 * end, await or free tasks. Returns the number of tasks seen, or -EPERM
 * outside a loop. Does not wait. */
int weft_all_tasks(void (*fn)(const weft_task_info *info, void *ud), void *ud);

/* ---- structured concurrency ---------------------------------------------- */

typedef struct weft_group weft_group;
/* A task group (asyncio.TaskGroup). NULL and errno on failure. */
weft_group *weft_group_new(void);
/* Spawns fn(arg) in the group. 0, or -ENOMEM, -EINVAL (fn is NULL), -EPERM
 * (outside a loop), or -ECANCELED if the group is already failing (the task
 * is not started). Does not wait. */
int weft_group_spawn(weft_group *g, weft_fn fn, void *arg);
/* As weft_group_spawn, and stores fn's result in *result when the task ends
 * (-ENOMEM there if it could not start): a group then collects results as
 * weft_gather does, without a handle per task. A member becomes a task only
 * when it starts, so members spawned in a burst cost 24 bytes each until
 * then. *result must stay valid until weft_group_wait returns. */
int weft_group_spawn_into(weft_group *g, weft_fn fn, void *arg, int *result);
/* Awaits every task of the group (tasks spawned meanwhile included). The
 * first task ending with a negative result cancels all others. Returns that
 * first error, or 0. If the caller is cancelled, all tasks are cancelled and
 * awaited and -ECANCELED returned. Frees g. Waits. */
int weft_group_wait(weft_group *g);

/* ---- synchronisation: FIFO-fair; waits honour cancellation and deadlines -- */

/* Common to the five objects below: _new returns NULL and errno (ENOMEM;
 * EINVAL for a negative semaphore value) and does not wait; _free wakes every
 * task still waiting on the object with -EPIPE, then frees it (NULL is a
 * no-op). Only the functions marked "Waits" may suspend; called outside a
 * task they return -EPERM. Nothing else waits. */

typedef struct weft_sem weft_sem;
weft_sem *weft_sem_new(int value);      /* value permits (>= 0) */
int weft_sem_acquire(weft_sem *s);      /* 0, -ECANCELED, -ETIMEDOUT. Waits. */
int weft_sem_acquire_nowait(weft_sem *s);/* 0 acquired, -EAGAIN not. Does not wait. */
int weft_sem_try_acquire(weft_sem *s);  /* older spelling: 1 acquired, 0 not */
void weft_sem_release(weft_sem *s);     /* hands the permit to the first waiter */
int weft_sem_value(const weft_sem *s);  /* free permits */
void weft_sem_free(weft_sem *s);        /* waiters get -EPIPE; NULL is a no-op */
/* A semaphore that never holds more than value permits
 * (asyncio.BoundedSemaphore): a release past it is a bug in the program;
 * weft_sem_release ignores it and reports it on stderr (always, not only in
 * debug mode: release returns void), and weft_sem_release_checked returns
 * -EOVERFLOW for it. */
weft_sem *weft_sem_new_bounded(int value);
/* weft_sem_release that says what happened: 0, or -EOVERFLOW (a bounded
 * semaphore already at its bound; nothing changed, reported). Does not
 * wait. */
int weft_sem_release_checked(weft_sem *s);

/* A barrier for `parties` tasks (asyncio.Barrier). */
typedef struct weft_barrier weft_barrier;
/* NULL and errno: EINVAL for parties < 1, ENOMEM. */
weft_barrier *weft_barrier_new(int parties);
/* Waits until `parties` tasks wait here, then releases them all, and the
 * barrier is reusable for the next round. Returns the caller's arrival
 * index in its round, 0..parties-1. A waiter cancelled or timed out breaks
 * the barrier: it returns -ECANCELED (-ETIMEDOUT), every other waiter gets
 * -EPIPE, and so does every later wait (a broken barrier stays broken).
 * -EPIPE also if the barrier is freed meanwhile. Waits. */
int weft_barrier_wait(weft_barrier *b);
void weft_barrier_free(weft_barrier *b); /* waiters get -EPIPE; NULL is a no-op */

typedef struct weft_lock weft_lock;
weft_lock *weft_lock_new(void);         /* unlocked */
/* 0, -ECANCELED, -ETIMEDOUT; -EDEADLK (reported) if the caller already holds
 * it: the lock is not reentrant. Waits. */
int weft_lock_acquire(weft_lock *l);
int weft_lock_acquire_nowait(weft_lock *l);/* 0 acquired, -EAGAIN not. Does not wait. */
int weft_lock_try_acquire(weft_lock *l);/* older spelling: 1 acquired, 0 not */
void weft_lock_release(weft_lock *l);   /* by its owner only (else reported, ignored);
                                           hands the lock to the first waiter */
int weft_lock_locked(const weft_lock *l);/* 1 if held */
void weft_lock_free(weft_lock *l);      /* waiters get -EPIPE; NULL is a no-op */

typedef struct weft_event weft_event;
weft_event *weft_event_new(void);       /* initially clear */
void weft_event_set(weft_event *e);     /* wakes every waiter; stays set */
void weft_event_clear(weft_event *e);
int weft_event_is_set(const weft_event *e);
int weft_event_wait(weft_event *e);     /* 0 once set, -ECANCELED, -ETIMEDOUT. Waits. */
void weft_event_free(weft_event *e);    /* waiters get -EPIPE; NULL is a no-op */

typedef struct weft_cond weft_cond;
weft_cond *weft_cond_new(void);
/* Releases l (held by the caller), waits for a notify, re-acquires l. l is
 * held again on every return, errors included. 0, -ECANCELED, -ETIMEDOUT;
 * -EPERM (reported) if the caller does not hold l; -EPIPE if c is freed
 * meanwhile (or l, which then is not held). Waits. */
int weft_cond_wait(weft_cond *c, weft_lock *l);
void weft_cond_notify(weft_cond *c);    /* wakes the first waiter */
void weft_cond_notify_all(weft_cond *c);
void weft_cond_free(weft_cond *c);      /* waiters get -EPIPE; NULL is a no-op */

typedef struct weft_queue weft_queue;
weft_queue *weft_queue_new(size_t capacity);      /* 0: unbounded */
/* Debug mode reports a queue never freed, with this creation site. */
weft_queue *weft__queue_new_at(size_t capacity, const char *file, int line);
#define weft_queue_new(capacity) weft__queue_new_at((capacity), __FILE__, __LINE__)
int weft_queue_put(weft_queue *q, void *item);    /* waits while full; -EPIPE if closed,
                                                     -ENOMEM (unbounded ring cannot grow),
                                                     -ECANCELED, -ETIMEDOUT. On error the
                                                     item was not queued. Waits. */
int weft_queue_get(weft_queue *q, void **item);   /* waits while empty; -EPIPE once
                                                     closed and drained, -ECANCELED,
                                                     -ETIMEDOUT. Waits. */
int weft_queue_put_nowait(weft_queue *q, void *item);/* 0, -EAGAIN full, -EPIPE closed,
                                                        -ENOMEM. Does not wait. */
int weft_queue_get_nowait(weft_queue *q, void **item);/* 0, -EAGAIN empty, -EPIPE */
int weft_queue_try_put(weft_queue *q, void *item);   /* older spellings of the two */
int weft_queue_try_get(weft_queue *q, void **item);
void weft_queue_close(weft_queue *q);             /* waiters get -EPIPE; items stay
                                                     gettable */
size_t weft_queue_size(const weft_queue *q);      /* items queued */
void weft_queue_free(weft_queue *q);              /* closes, then frees; queued items
                                                     are not freed (they are the
                                                     caller's); NULL is a no-op; a
                                                     weft_queue_join waiter gets
                                                     -EPIPE */
/* A priority queue (asyncio.PriorityQueue): weft_queue_get (and try_get)
 * returns the smallest item by cmp (a binary heap: O(log n) per put and get),
 * items that compare equal in the order they were put. cmp gets the items
 * themselves (the void * given to put). Otherwise as weft_queue_new. NULL and
 * errno (EINVAL for a NULL cmp, ENOMEM). */
weft_queue *weft_queue_new_priority(size_t capacity, int (*cmp)(const void *a, const void *b));
/* A last-in-first-out queue (asyncio.LifoQueue); otherwise as weft_queue_new. */
weft_queue *weft_queue_new_lifo(size_t capacity);
/* One item taken by get is fully processed (asyncio.Queue.task_done): every
 * item put counts until a task_done for it. More task_done calls than items
 * put is a bug: reported and ignored. Does not wait. */
void weft_queue_task_done(weft_queue *q);
/* Waits until every item ever put has been marked weft_queue_task_done
 * (at once if none is outstanding). 0, -ECANCELED, -ETIMEDOUT, or -EPIPE if
 * the queue is freed meanwhile. A consumer cancelled while processing an
 * item should still call task_done for it (weft_shield, or plainly on its
 * way out), or join waits forever. Waits. */
int weft_queue_join(weft_queue *q);

/* ---- many loops: one per thread, shared-nothing --------------------------- *
 * A run of N loops (weft_options.loops) runs main on loop 0 in the calling
 * thread and loops 1..N-1 on threads of their own (WEFT_PIN=1 pins loop i to
 * CPU i). Tasks never move between loops. When main returns, every task of
 * every loop is cancelled and awaited, then the threads are joined. The ways
 * across are below; a task handle may also be awaited (weft_await,
 * weft_wait_for), cancelled or detached from any loop of its run (awaiting
 * across loops suspends only the waiter). Every other object (semaphores,
 * locks, events, conditions, queues, groups, streams, HTTP sessions, PG
 * pools) belongs to the loop that made it: its waiting calls return -EXDEV
 * from a task of another loop. */

typedef struct weft_loop weft_loop;
/* The calling thread's loop; NULL outside a run. */
weft_loop *weft_loop_current(void);
/* Loop i of the caller's run (0: main's); NULL if out of range or outside a run. */
weft_loop *weft_loop_at(int i);
/* Loops in the caller's run; 0 outside a run. */
int weft_loop_count(void);
/* CPUs the calling thread may run on (its affinity mask, as taskset or a
 * container's cpuset set it; else the online CPUs), at least 1: what
 * WEFT_LOOPS=auto starts a loop per, as Go's GOMAXPROCS and Python's
 * os.process_cpu_count count. Does not wait. */
int weft_cpu_count(void);
/* l's index in its run (0..count-1); -1 for NULL. */
int weft_loop_index(const weft_loop *l);
/* As weft_spawn, on loop l (any loop of the caller's run, its own included).
 * The handle is the caller's: await, cancel or detach it as any task's.
 * NULL and errno: EPERM outside a task, EINVAL (NULL l or fn), ENOMEM,
 * ESHUTDOWN once the run is ending or if l is a loop of an earlier run.
 * Does not wait. */
weft_task *weft_spawn_on(weft_loop *l, weft_fn fn, void *arg);
/* From any thread, weft's or not: fn(arg) runs as a detached task on l
 * (asyncio's call_soon_threadsafe). 0, -EINVAL, -ENOMEM (no memory for the
 * message), or -ESHUTDOWN once the run is ending (main has returned) or if
 * l is a loop of an earlier run (a handle kept past its run never reaches
 * the next one). A post taken (0) always runs: before the run ends (as a
 * task cancelled before it started, if its loop is already ending, so that
 * it can release arg), and if l has no memory for its task or stack then,
 * later: it is tried again on l's next turns until it starts (the run does
 * not end before). Does not wait. */
int weft_post(weft_loop *l, weft_fn fn, void *arg);
/* Runs fn(arg) as a task on l and returns its result (asyncio's
 * run_coroutine_threadsafe + result()). From a task: only the caller waits,
 * its loop keeps running; if the caller is cancelled (or its deadline
 * passes) fn's task is cancelled, its end awaited, and -ECANCELED
 * (-ETIMEDOUT) returned. From a thread outside the run: blocks that thread.
 * -EINVAL, -ENOMEM, -ESHUTDOWN (the run is ending). Waits. */
int weft_call(weft_loop *l, weft_fn fn, void *arg);

/* A FIFO queue safe across loops and threads (Go's channel). Tasks wait in
 * it as in any wait (cancellation and deadlines honoured; an item handed
 * over is never lost); a thread outside every loop blocks instead. Items
 * from one producer come out in the order it put them. */
typedef struct weft_chan weft_chan;
/* capacity items (0: unbounded). NULL and errno (ENOMEM). Does not wait. */
weft_chan *weft_chan_new(size_t capacity);
/* Waits while full. 0, -EPIPE (closed), -ENOMEM (unbounded, cannot grow),
 * -ECANCELED, -ETIMEDOUT; on error the item was not queued. Waits. */
int weft_chan_put(weft_chan *c, void *item);
/* Waits while empty. 0, -EPIPE once closed and drained, -ECANCELED,
 * -ETIMEDOUT. Waits. */
int weft_chan_get(weft_chan *c, void **item);
/* 0, -EAGAIN (full), -EPIPE (closed), -ENOMEM. Does not wait. */
int weft_chan_put_nowait(weft_chan *c, void *item);
/* 0, -EAGAIN (empty), -EPIPE (closed and drained). Does not wait. */
int weft_chan_get_nowait(weft_chan *c, void **item);
int weft_chan_try_put(weft_chan *c, void *item); /* older spellings of the two */
int weft_chan_try_get(weft_chan *c, void **item);
/* Puts fail with -EPIPE from now on, waiting putters too; getters drain
 * what is left, then get -EPIPE. Does not wait. */
void weft_chan_close(weft_chan *c);
/* Frees c (NULL: no-op): nobody may use or wait on it any more; items
 * still in it are the caller's. */
void weft_chan_free(weft_chan *c);

/* ---- blocking work off the loop ------------------------------------------ */

/* Runs fn(arg) on the loop's thread pool while other tasks run; returns fn's
 * result. If the caller is cancelled it still waits for fn to end (fn may use
 * arg), then returns -ECANCELED (-ETIMEDOUT past a weft_timeout deadline).
 * -EINVAL for a NULL fn, -ENOMEM, -EAGAIN if no worker thread could be
 * started. Workers start on demand, up to weft_options.threads. Waits. */
int weft_to_thread(weft_fn fn, void *arg);

/* ---- any non-blocking fd -------------------------------------------------- */

#define WEFT_READABLE 1
#define WEFT_WRITABLE 2
/* Waits until fd is ready for events; > 0: the events that are ready (an
 * error or hang-up reports both). -ECANCELED, -ETIMEDOUT, -EBADF (a negative
 * fd, or fd closed with weft_close meanwhile), -EINVAL (events names neither
 * direction), -ENOMEM, or epoll_ctl's error. A regular file (which epoll
 * refuses) is reported ready at once. fd stays registered with the loop
 * until weft_close or weft_fd_forget. Waits. */
int weft_wait_fd(int fd, int events);
/* read(2)/write(2) that suspend the task on EAGAIN. fd must be non-blocking.
 * Returns bytes done or -errno. Wait. */
ssize_t weft_read(int fd, void *buf, size_t n);
ssize_t weft_write(int fd, const void *buf, size_t n);
/* Writes all n bytes (suspending as needed); n or -errno. Waits. */
ssize_t weft_write_all(int fd, const void *buf, size_t n);
/* Wakes the fd's waiters with -EBADF, drops it from the loop, closes it.
 * 0, or -errno from close(2) (-EBADF for a negative fd). Does not wait. */
int weft_close(int fd);
/* As weft_close without closing: for fds that someone else closes (call it
 * before they do, e.g. before PQfinish). Does not wait. */
void weft_fd_forget(int fd);
/* Promises that fd is closed only with weft_close or after weft_fd_forget
 * (and that whoever else may close it is watched: e.g. libpq, which closes
 * its socket when the link drops). The loop then keeps its interest in fd
 * between waits, so a task waiting on it over and over (a database
 * connection's socket) costs no epoll_ctl per wait, as streams do for their
 * own fds. Does not wait. */
void weft_fd_keep(int fd);

/* ---- errors --------------------------------------------------------------- */

/* Errors are negated errno values or weft's own codes, which lie beyond
 * errno's range, in one range per layer (below: a new layer takes a range
 * here, so none overlap). Each layer's header lists its codes in one table,
 * WEFT_<LAYER>_ERRORS(X) with X(NAME, code, text), from which both the
 * constants WEFT_<NAME> and weft_strerror's texts come, so a code cannot be
 * added without its text (libuv's UV_ERRNO_MAP). A user's X can build
 * tables of its own, e.g. for a mapping to HTTP statuses. */
#define WEFT_ERRBASE 10000      /* the first of weft's own codes */
#define WEFT_ERR_IO_MIN 10000   /* io (weft/io.h): streams 10000-10002, 10050-10099 */
#define WEFT_ERR_IO_MAX 10099
#define WEFT_ERR_DNS_MIN 10003  /* DNS, within io's range (weft/io.h) */
#define WEFT_ERR_DNS_MAX 10049
#define WEFT_ERR_TLS_MIN 10100  /* TLS (weft/io.h) */
#define WEFT_ERR_TLS_MAX 10199
#define WEFT_ERR_HTTP_MIN 10200 /* HTTP (weft/http.h): 10200-10299, 10350-10399 */
#define WEFT_ERR_HTTP_MAX 10399
#define WEFT_ERR_WS_MIN 10300   /* WebSocket, within HTTP's range (weft/ws.h) */
#define WEFT_ERR_WS_MAX 10349
#define WEFT_ERR_PG_MIN 10400   /* PostgreSQL (weft/pg.h) */
#define WEFT_ERR_PG_MAX 10599
#define WEFT_ERRMAX 10599       /* the last of weft's own codes */

/* Turns a row of an error table into its constant (for the headers). */
#define WEFT_ERR_ENUM_(name, code, text) WEFT_##name = (code),

/* A short description of err (a negative errno or weft code, or either
 * positive); never NULL. The core's own wording for the errno values it
 * gives a meaning: -ECANCELED "cancelled", -ETIMEDOUT "timed out", -EPIPE
 * "closed"; strerror's for other errno values. */
const char *weft_strerror(int err);
/* The symbolic name of err, as weft_strerror takes it: "WEFT_EDNS",
 * "WEFT_PG_ENULL", "ECONNREFUSED", "0" for 0; never NULL ("unknown" for a
 * value nothing names). For logs and test messages that must name the code,
 * not describe it. */
const char *weft_err_name(int err);

#ifdef __cplusplus
}
#endif
#endif
