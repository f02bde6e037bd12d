/* Several loops in one run: the fleet (the run's loops), their inboxes, and
 * weft_post. docs/design.md "Many loops" has the why.
 *
 * Every way across loops (or in from a foreign thread) is a message queued
 * in the target loop's inbox (its port) under the port's mutex; the sender
 * wakes the loop through the backend only when the inbox goes from empty to
 * non-empty, so a burst costs one wake-up. The loop looks at the inbox on
 * every turn (a relaxed load of one flag: no lock, no atomic
 * read-modify-write on its own hot paths) and when the poller reports a
 * wake.
 *
 * Ending: main returns on loop 0, which sets `ending` and wakes every loop;
 * each cancels its tasks and reaps them. The fleet's `work` counts loops
 * not yet quiet plus messages not yet handled, so it reaches 0 exactly when
 * no task is left anywhere and nothing is in flight: then every loop stops.
 * A message makes a quiet loop count again before it is handled. */
#define _GNU_SOURCE
#include "backend.h"
#include "loops_internal.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Retired fleets are kept for the next run of as many loops: a thread that
 * posts to a run that has just returned touches memory that is still a
 * fleet (it gets -ESHUTDOWN), not freed memory. */
static pthread_mutex_t retired_mu = PTHREAD_MUTEX_INITIALIZER;
static weft__fleet *retired;

weft__fleet *weft__fleet_new(int n)
{
    weft__fleet *F = NULL;
    pthread_mutex_lock(&retired_mu);
    for (weft__fleet **p = &retired; *p; p = &(*p)->next_retired)
        if ((*p)->n == n) {
            F = *p;
            *p = F->next_retired;
            break;
        }
    pthread_mutex_unlock(&retired_mu);
    if (!F) {
        size_t size = sizeof *F + (size_t)n * sizeof(weft__port);
        if (posix_memalign((void **)&F, 64, size)) return NULL;
        memset(F, 0, size);
        F->n = n;
        for (int i = 0; i < n; i++) {
            pthread_mutex_init(&F->ports[i].mu, NULL);
            F->ports[i].fleet = F;
            F->ports[i].index = i;
        }
    }
    F->next_retired = NULL;
    __atomic_store_n(&F->work, (long)n, __ATOMIC_SEQ_CST);
    __atomic_store_n(&F->ending, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&F->finished, 0, __ATOMIC_SEQ_CST);
    return F;
}

void weft__fleet_retire(weft__fleet *F)
{
    /* Stale posters must keep seeing an ending run. */
    __atomic_store_n(&F->ending, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&F->finished, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < F->n; i++) {
        weft__port *P = &F->ports[i];
        pthread_mutex_lock(&P->mu);
        P->loop = NULL;
        P->backend = NULL;
        pthread_mutex_unlock(&P->mu);
    }
    pthread_mutex_lock(&retired_mu);
    F->next_retired = retired;
    retired = F;
    pthread_mutex_unlock(&retired_mu);
}

void weft__fleet_attach(weft__fleet *F, int i, weft__loop *L)
{
    weft__port *P = &F->ports[i];
    pthread_mutex_lock(&P->mu);
    P->loop = L;
    P->gen++;
    P->backend = L->backend;
    P->head = P->tail = NULL;
    P->sleeping = 0;
    __atomic_store_n(&P->pending, 0, __ATOMIC_RELAXED);
    P->thread = pthread_self();
    P->tid = (int)syscall(SYS_gettid);
    P->busy_start = 0; /* under mu, before the loop runs */
    pthread_mutex_unlock(&P->mu);
    L->fleet = F;
    L->port = P;
    L->index = (uint16_t)i;
    weft__dump_attached(L);
}

static void wake_all(weft__fleet *F)
{
    for (int i = 0; i < F->n; i++) {
        weft__port *P = &F->ports[i];
        pthread_mutex_lock(&P->mu);
        if (P->backend) weft__backend_wake(P->backend);
        P->sleeping = 0;
        pthread_mutex_unlock(&P->mu);
    }
}

/* Has any loop of F a message waiting? */
static int any_pending(weft__fleet *F)
{
    int found = 0;
    for (int i = 0; i < F->n && !found; i++) {
        weft__port *P = &F->ports[i];
        pthread_mutex_lock(&P->mu);
        found = P->head != NULL;
        pthread_mutex_unlock(&P->mu);
    }
    return found;
}

/* Messages sent by a working loop are not counted (the send is the hot
 * path of every crossing): its own count covers them until it goes quiet,
 * which it does after the send. So when the count reaches 0, a message may
 * still sit in a quiet loop's inbox: that loop counts itself in again
 * before it takes its inbox (weft__port_drain), so seeing every inbox
 * empty and then the count still 0 means nothing is left anywhere. */
static void work_done(weft__fleet *F, long k)
{
    if (__atomic_sub_fetch(&F->work, k, __ATOMIC_SEQ_CST) != 0) return;
    if (any_pending(F) || __atomic_load_n(&F->work, __ATOMIC_SEQ_CST) != 0) return;
    if (!__atomic_exchange_n(&F->finished, 1, __ATOMIC_SEQ_CST)) wake_all(F);
}

void weft__fleet_end(weft__fleet *F)
{
    __atomic_store_n(&F->ending, 1, __ATOMIC_SEQ_CST);
    wake_all(F);
}

int weft__fleet_ending(const weft__fleet *F) { return __atomic_load_n(&F->ending, __ATOMIC_ACQUIRE); }

int weft__fleet_finished(weft__loop *L)
{
    weft__fleet *F = L->fleet;
    if (!L->quiet && L->running == 0 && !L->ready_head && !weft__port_pending(L)) {
        L->quiet = 1;
        work_done(F, 1);
    }
    return __atomic_load_n(&F->finished, __ATOMIC_ACQUIRE);
}

/* ---- messages ----------------------------------------------------------------- */

static unsigned handle_gen(unsigned gen);

int weft__port_send(weft__port *P, weft__msg *m, int external)
{
    weft__fleet *F = P->fleet;
    weft__loop *me = weft__L;
    /* A task (or handler) of a working loop of this run: the loop's own
     * count covers the message, and the loop cannot finish, nor P's loop
     * close its poller, while this send is under way. */
    int inside = me && me->fleet == F && !me->quiet;
    m->counted = !inside;
    /* Counted first: the run cannot finish while this send is under way. */
    if (m->counted) __atomic_add_fetch(&F->work, 1, __ATOMIC_SEQ_CST);
    if (external && __atomic_load_n(&F->ending, __ATOMIC_SEQ_CST)) {
        if (m->counted) work_done(F, 1);
        return -ESHUTDOWN;
    }
    m->next = NULL;
    pthread_mutex_lock(&P->mu);
    /* A retired fleet, or a handle of a run that is over. */
    if (!P->loop || (external && m->gen != handle_gen(P->gen))) {
        pthread_mutex_unlock(&P->mu);
        if (m->counted) work_done(F, 1);
        return -ESHUTDOWN;
    }
    if (P->tail) P->tail->next = m; else P->head = m;
    P->tail = m;
    int was_empty = !__atomic_load_n(&P->pending, __ATOMIC_RELAXED);
    __atomic_store_n(&P->pending, 1, __ATOMIC_RELAXED);
    /* A loop that is not blocked looks at its inbox on its next turn:
     * only a sleeping one costs a system call to wake. */
    struct weft__backend *wake = NULL;
    if (was_empty && P->sleeping) {
        P->sleeping = 0;
        wake = P->backend;
    }
    /* From inside, the wake-up (a system call that may switch to the woken
     * thread) goes after the unlock, so the woken loop does not find the
     * inbox locked; from outside, the poller might be closed by then. */
    if (wake && !inside) weft__backend_wake(wake);
    pthread_mutex_unlock(&P->mu);
    if (wake && inside) weft__backend_wake(wake);
    return 0;
}

/* Before blocking in the poller: spin briefly for a message, since a reply
 * from another loop often comes within microseconds, and a sleep and
 * wake-up cost two system calls and a context switch each. How long is
 * learnt: a spin that ended with a message makes the next one SPIN_MAX,
 * one that ended empty-handed halves it (down to SPIN_MIN). On a
 * machine with more runnable threads than cores the other loop is often not
 * running at all, every spin fails, and spinning only burns the time slice
 * it needs (MC2 there: 90 us a round trip with a fixed 20 us spin, 25 us
 * with none); with cores to spare the spins succeed and stay long. 1: a
 * message came, do not block. */
typedef struct post_msg post_msg;
static __thread post_msg *def_head, *def_tail; /* posts deferred for memory (below) */

#define SPIN_MAX 50e-6
#define SPIN_MIN 0.5e-6
#define SPIN_PROBE 64 /* every so many sleeps, one spin of SPIN_MAX */
#define SPIN_QUIET 256 /* sleeps without a message after which none spins */
static __thread double spin_s = 20e-6;
static __thread unsigned spin_sleeps;
static __thread unsigned sleeps_since_msg;

int weft__port_sleep(weft__loop *L)
{
    weft__port *P = L->port;
    if (def_head) return 1;
    /* A loop with no task spins too: it sleeps only between messages, so
     * a spin costs at most once per message handled, and a loop that only
     * serves weft_call/weft_post (no task of its own between them) would
     * otherwise pay a wake-up for every call (MC2's weft_call: 10 us a round
     * trip, 0.3-0.4 us with the spin). */
    /* With fewer CPUs than loops (taskset), a spin only holds the CPU the
     * loop it waits for needs (MC2 on one CPU: 5.6 us a round trip without
     * spins, 7.4 with): never spin there. Counted once per thread. */
    static __thread int cpus;
    if (!cpus) cpus = weft_cpu_count();
    /* A loop that hears from no other loop (P1 on 2 loops: each serves its
     * own connections and waits only for sockets) would spin for nothing
     * before every sleep, on a machine where the CPU is what its peers, such
     * as a PostgreSQL server on the same cores, need: after SPIN_QUIET sleeps
     * without a message it stops spinning until one comes (the wake-up that
     * brings it resets the count, so a pair that starts talking spins). */
    if (L->fleet->n > 1 && cpus >= (int)L->fleet->n && sleeps_since_msg < SPIN_QUIET) {
        sleeps_since_msg++;
        /* Once both loops of an exchange sleep, each reply comes only after
         * a wake-up (tens of us on a VM), every short spin fails and halving
         * keeps them short: the pair stays asleep (MC2 went 0.5 us a round
         * trip in one run and 65 us in the next). So every SPIN_PROBE-th
         * sleep spins the longest, and a spin that is answered goes straight
         * to the longest: one answered probe puts a side back to spinning.
         * Where the loops have no cores to spare, a failed probe costs
         * SPIN_MAX per SPIN_PROBE sleeps (under 1 us a sleep). */
        double spin = ++spin_sleeps % SPIN_PROBE == 0 ? SPIN_MAX : spin_s;
        double until = weft__clock() + spin;
        for (int i = 1;; i++) {
            if (__atomic_load_n(&P->pending, __ATOMIC_RELAXED)) {
                spin_s = SPIN_MAX;
                sleeps_since_msg = 0;
                return 1;
            }
#if defined(__x86_64__)
            __builtin_ia32_pause();
#elif defined(__aarch64__)
            __asm__ volatile("yield");
#endif
            if (i % 16 == 0 && weft__clock() > until) break;
        }
        if ((spin_s /= 2) < SPIN_MIN) spin_s = SPIN_MIN;
    }
    pthread_mutex_lock(&P->mu);
    int pending = P->head != NULL || def_head; /* deferred posts: do not block */
    P->sleeping = !pending;
    pthread_mutex_unlock(&P->mu);
    return pending;
}

void weft__port_awake(weft__loop *L)
{
    weft__port *P = L->port;
    pthread_mutex_lock(&P->mu);
    P->sleeping = 0;
    pthread_mutex_unlock(&P->mu);
}

int weft__port_pending(const weft__loop *L)
{
    return L->port && (__atomic_load_n(&L->port->pending, __ATOMIC_RELAXED) || def_head);
}

struct post_msg {
    weft__msg m;
    weft_fn fn;
    void *arg;
};

static int post_run(void *arg)
{
    post_msg *pm = arg;
    weft_fn fn = pm->fn;
    void *a = pm->arg;
    free(pm);
    return fn(a);
}

/* A post whose task could not be made, or could not get a stack to start:
 * fn and arg are never dropped (the poster was told 0). It waits in this
 * loop's deferred list, tried again (in order, stopping at the first that
 * still fails) every millisecond until memory is found; meanwhile the loop
 * does not block and its run does not end. */
static __thread double def_retry;
static __thread int def_failed;

static void post_again(weft__loop *L, post_msg *pm)
{
    static __thread int told;
    if (!told++) weft__report("weft_post: no memory for the task of a post; trying again");
    pm->m.next = NULL;
    if (def_tail) def_tail->m.next = &pm->m; else def_head = pm;
    def_tail = pm;
    def_retry = weft__clock() + 1e-3;
    def_failed = 1;
    (void)L;
}

static void handle_post(weft__loop *L, post_msg *pm);

/* Tries a batch of deferred posts: one after a tick with a failure, twice
 * as many after each without, so that a shortage costs a failure or so a
 * millisecond, not one per deferred post, and recovery is quick. */
static __thread long def_batch = 1;

static void retry_deferred(weft__loop *L)
{
    if (!def_head || weft__clock() < def_retry) return;
    def_batch = def_failed ? 1 : def_batch < (1L << 20) ? def_batch * 2 : def_batch;
    def_failed = 0;
    for (long i = 0; i < def_batch && def_head; i++) {
        post_msg *pm = def_head;
        def_head = (post_msg *)pm->m.next;
        if (!def_head) def_tail = NULL;
        handle_post(L, pm);
    }
}

static void handle_post(weft__loop *L, post_msg *pm)
{
    weft_task *t = weft__spawn_raw(L, "weft_post", post_run, pm);
    if (!t) {
        post_again(L, pm);
        return;
    }
    if (L->opt.debug) weft__debug_spawned(L, t, "weft_post", 0);
    t->flags |= F_DETACHED;
    if (L->closing) weft_cancel(t);
}

int weft__post_unstarted(weft_task *t)
{
    if (t->fn != post_run) return 0;
    post_again(weft__L, t->arg);
    return 1;
}

void weft__port_drain(weft__loop *L)
{
    retry_deferred(L);
    weft__port *P = L->port;
    weft__fleet *F = L->fleet;
    /* Back to work: counted again before the inbox is taken (work_done
     * relies on this order). A loop left with nothing counts itself out
     * again in weft__fleet_finished. */
    if (L->quiet) {
        L->quiet = 0;
        __atomic_add_fetch(&F->work, 1, __ATOMIC_SEQ_CST);
    }
    pthread_mutex_lock(&P->mu);
    weft__msg *m = P->head;
    P->head = P->tail = NULL;
    __atomic_store_n(&P->pending, 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&P->mu);
    if (m) sleeps_since_msg = 0;
    long k = 0;
    while (m) {
        weft__msg *next = m->next;
        k += m->counted; /* read before the handler: it may free m */
        switch (m->kind) {
        case X_POST: handle_post(L, (post_msg *)m); break;
        case X_WAKE: weft__chan_wake(L, m); break;
        case X_DUMP: weft__dump_answer(L, m); break;
        default: weft__x_handle(L, m); break;
        }
        m = next;
    }
    if (k) work_done(F, k);
}

int weft__wrong_loop(const char *fn)
{
    weft__report("%s: the object belongs to another loop (loop-local objects are used only "
                 "by tasks of the loop that made them: cross with weft_chan or weft_call)", fn);
    return -EXDEV;
}

int weft__check_home(const weft_loop *home, const char *fn)
{
    return home && home != weft_loop_current() ? weft__wrong_loop(fn) : 0;
}

/* ---- the public face ------------------------------------------------------------ */

/* A handle is the port's address with the run's generation in the bits
 * above the 48 a user-space address uses (64-bit), so that a handle kept
 * past its run is told from the next run's (it names the same port when the
 * fleet is reused): sends through it get -ESHUTDOWN. The generation wraps
 * after 65,536 runs of one fleet; on 32-bit there is no room, and a stale
 * handle reaches the port's current run. Called from the port's own run
 * (P->gen is stable during it). */
#if UINTPTR_MAX > 0xffffffffu
#define GEN_SHIFT 48
#define GEN_MASK 0xffffu
static weft_loop *handle_of(const weft__port *P)
{
    return (weft_loop *)((uintptr_t)P | ((uintptr_t)(P->gen & GEN_MASK) << GEN_SHIFT));
}

weft__port *weft__handle_port(const weft_loop *l, unsigned *gen)
{
    uintptr_t h = (uintptr_t)l;
    if (gen) *gen = (unsigned)(h >> GEN_SHIFT);
    return (weft__port *)(h & (((uintptr_t)1 << GEN_SHIFT) - 1));
}

/* The generation a handle of P's current run carries. */
static unsigned handle_gen(unsigned gen) { return gen & GEN_MASK; }
#else
static weft_loop *handle_of(const weft__port *P) { return (weft_loop *)P; }
weft__port *weft__handle_port(const weft_loop *l, unsigned *gen)
{
    weft__port *P = (weft__port *)l;
    if (gen && P) *gen = __atomic_load_n(&P->gen, __ATOMIC_RELAXED); /* unchecked */
    return P;
}
static unsigned handle_gen(unsigned gen) { return gen; }
#endif

unsigned weft__port_gen(const weft__port *P) { return handle_gen(P->gen); }

weft_loop *weft_loop_current(void) { return weft__L ? handle_of(weft__L->port) : NULL; }

weft_loop *weft_loop_at(int i)
{
    weft__loop *L = weft__L;
    if (!L || i < 0 || i >= L->fleet->n) return NULL;
    return handle_of(&L->fleet->ports[i]);
}

int weft_loop_count(void) { return weft__L ? weft__L->fleet->n : 0; }

int weft_loop_index(const weft_loop *l) { return l ? weft__handle_port(l, NULL)->index : -1; }

weft__loop *weft__fleet_loop(const weft__loop *L, unsigned index)
{
    return index < (unsigned)L->fleet->n ? L->fleet->ports[index].loop : NULL;
}

weft__loop *weft__port_loop(const weft__port *p) { return p->loop; }

int weft_post(weft_loop *l, weft_fn fn, void *arg)
{
    if (!l || !fn) return -EINVAL;
    post_msg *pm = malloc(sizeof *pm);
    if (!pm) return -ENOMEM;
    pm->m.kind = X_POST;
    pm->fn = fn;
    pm->arg = arg;
    weft__port *P = weft__handle_port(l, &pm->m.gen);
    int r = weft__port_send(P, &pm->m, 1);
    if (r < 0) free(pm);
    return r;
}
