/* Signals as something a task waits for (asyncio's add_signal_handler, in
 * the form of a wait).
 *
 * A signal's disposition is process-wide, so this is the one module with
 * state shared between threads: a handler that any thread may run, a table
 * of slots (one per loop that has signal waiters) and per-signal reference
 * counts. The handler only sets a bit in each interested slot and pokes that
 * loop's eventfd, which the waiting tasks wait on like any fd; the loop then
 * hands each pending signal to the first task (FIFO) that waits for it.
 *
 * The handler is installed when the first task of any loop starts waiting
 * for a signal and the previous disposition is restored when the last one
 * stops, so outside a wait a signal keeps its usual meaning. That includes
 * weft_run's SIGINT handler: while a task waits for SIGINT it gets it and
 * the main task is not cancelled; afterwards Ctrl-C cancels main again.
 *
 * A self-pipe rather than signalfd: signalfd needs the signal blocked in
 * every thread (thread-pool workers, libraries' threads, children), while a
 * handler works whichever thread the kernel picks. */
#define _GNU_SOURCE
#include <weft/io.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MAXSIG 64   /* signals 1..64 fit a 64-bit mask */
#define MAXLOOPS 64 /* loops waiting for signals at the same time */

typedef struct slot {
    _Atomic int efd;          /* -1: free */
    _Atomic uint64_t wanted;  /* signals some task of this loop waits for */
    _Atomic uint64_t pending; /* arrived, not yet collected by the loop */
} slot;

static slot slots[MAXLOOPS];
static atomic_int in_handler; /* handlers running now: a slot's fd stays open meanwhile */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int refs[MAXSIG + 1];  /* loops × signals waited for, under mu */
static struct sigaction saved[MAXSIG + 1];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void slots_init(void)
{
    for (int i = 0; i < MAXLOOPS; i++) atomic_init(&slots[i].efd, -1);
}

static inline uint64_t bit(int sig) { return (uint64_t)1 << (sig - 1); }

static void on_signal(int sig)
{
    int saved_errno = errno;
    atomic_fetch_add(&in_handler, 1);
    for (int i = 0; i < MAXLOOPS; i++) {
        slot *s = &slots[i];
        if (!(atomic_load(&s->wanted) & bit(sig))) continue;
        atomic_fetch_or(&s->pending, bit(sig));
        int fd = atomic_load(&s->efd);
        if (fd >= 0) {
            uint64_t one = 1;
            (void)!write(fd, &one, sizeof one);
        }
    }
    atomic_fetch_sub(&in_handler, 1);
    errno = saved_errno;
}

/* Per loop (one loop per thread): the tasks waiting, FIFO. */
typedef struct waiter {
    uint64_t mask;
    int got;
    struct waiter *next, *prev;
} waiter;

static __thread struct {
    slot *slot;
    int efd;
    int count[MAXSIG + 1]; /* waiters per signal */
    uint64_t held;         /* collected but nobody waited for it at that moment */
    waiter *head, *tail;
} T = {.efd = -1};

static int handler_acquire(int sig)
{
    int rc = 0;
    pthread_mutex_lock(&mu);
    if (refs[sig] == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (sigaction(sig, &sa, &saved[sig]) < 0) rc = -errno;
    }
    if (rc == 0) refs[sig]++;
    pthread_mutex_unlock(&mu);
    return rc;
}

static void handler_release(int sig)
{
    pthread_mutex_lock(&mu);
    if (--refs[sig] == 0) sigaction(sig, &saved[sig], NULL);
    pthread_mutex_unlock(&mu);
}

static int loop_attach(void)
{
    if (T.slot) return 0;
    pthread_once(&once, slots_init);
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd < 0) return -errno;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < MAXLOOPS && !T.slot; i++) {
        if (atomic_load(&slots[i].efd) >= 0) continue;
        T.slot = &slots[i];
        atomic_store(&T.slot->pending, 0);
        atomic_store(&T.slot->wanted, 0);
        atomic_store(&T.slot->efd, efd);
    }
    pthread_mutex_unlock(&mu);
    if (!T.slot) {
        close(efd);
        return -EAGAIN;
    }
    T.efd = efd;
    T.held = 0;
    return 0;
}

static void loop_detach(void)
{
    slot *s = T.slot;
    atomic_store(&s->wanted, 0);
    atomic_store(&s->efd, -1);
    /* A handler on another thread may have read the fd just before: let it
     * finish its write before the number can be reused. */
    while (atomic_load(&in_handler)) sched_yield();
    weft_close(T.efd);
    T.efd = -1;
    T.slot = NULL;
}

/* Takes what the handler left and hands each signal to the first waiter
 * for it. Returns 1 if a waiter other than self got one. */
static int collect(waiter *self)
{
    uint64_t v;
    (void)!read(T.efd, &v, sizeof v);
    uint64_t p = atomic_exchange(&T.slot->pending, 0) | T.held;
    T.held = 0;
    int others = 0;
    while (p) {
        int sig = __builtin_ctzll(p) + 1;
        p &= p - 1;
        waiter *w = T.head;
        while (w && (w->got || !(w->mask & bit(sig)))) w = w->next;
        if (!w) {
            T.held |= bit(sig);
            continue;
        }
        w->got = sig;
        others |= w != self;
    }
    return others;
}

static int valid(int sig)
{
    return sig >= 1 && sig <= MAXSIG && sig < NSIG && sig != SIGKILL && sig != SIGSTOP &&
           sig != SIGSEGV && sig != SIGBUS && sig != SIGILL && sig != SIGFPE;
}

static void unwant(uint64_t mask)
{
    for (int sig = 1; sig <= MAXSIG; sig++) {
        if (!(mask & bit(sig)) || --T.count[sig] > 0) continue;
        atomic_fetch_and(&T.slot->wanted, ~bit(sig));
        atomic_fetch_and(&T.slot->pending, ~bit(sig));
        T.held &= ~bit(sig);
        handler_release(sig);
    }
}

int weft_signal_wait(const int *sigs, int n)
{
    int e = weft_check("weft_signal_wait");
    if (e == -EPERM) return e;
    if (!sigs || n <= 0) return -EINVAL;
    if (e) return e;
    waiter w = {0};
    for (int i = 0; i < n; i++) {
        if (!valid(sigs[i])) return -EINVAL;
        w.mask |= bit(sigs[i]);
    }
    int rc = loop_attach();
    if (rc < 0) return rc;
    w.prev = T.tail;
    if (T.tail) T.tail->next = &w; else T.head = &w;
    T.tail = &w;
    uint64_t added = 0;
    for (int sig = 1; sig <= MAXSIG && rc == 0; sig++) {
        if (!(w.mask & bit(sig))) continue;
        if (T.count[sig] == 0) {
            atomic_fetch_or(&T.slot->wanted, bit(sig));
            rc = handler_acquire(sig);
            if (rc < 0) {
                atomic_fetch_and(&T.slot->wanted, ~bit(sig));
                break;
            }
        }
        T.count[sig]++;
        added |= bit(sig);
    }
    while (rc == 0 && !w.got) {
        /* Wake the others we handed a signal to: they may be parked on an
         * fd this collect just emptied. */
        if (collect(&w)) {
            uint64_t one = 1;
            (void)!write(T.efd, &one, sizeof one);
        }
        if (w.got) break;
        rc = weft_wait_fd(T.efd, WEFT_READABLE);
        if (rc > 0) rc = 0;
    }
    if (w.got && rc < 0) rc = 0; /* delivered just as the wait was cancelled: keep it */
    if (w.prev) w.prev->next = w.next; else T.head = w.next;
    if (w.next) w.next->prev = w.prev; else T.tail = w.prev;
    unwant(added);
    if (!T.head) loop_detach();
    return rc < 0 ? rc : w.got;
}
