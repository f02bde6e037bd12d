/* Signals as something a task waits for (asyncio's add_signal_handler, in
 * the form of a wait).
 *
 * A signal's disposition is process-wide: the core's signal registry
 * (core/sigreg.h) owns every handler weft installs, so this module and
 * weft_run's SIGINT never save or restore each other's. Each loop with
 * signal waiters holds one waiter slot in the registry with an eventfd of its
 * own: the handler marks the signal pending in the slot and pokes the
 * eventfd, which the waiting tasks wait on like any fd; the loop then hands
 * each pending signal to the first task (FIFO) that waits for it.
 *
 * The registry installs its handler when the first slot wants a signal and
 * restores the previous disposition when the last stops, so outside a wait a
 * signal keeps its usual meaning. Waiter slots come before weft_run's
 * fallback: while a task of any loop waits for SIGINT it gets it and no main
 * task is cancelled; afterwards Ctrl-C cancels the running mains again.
 *
 * A self-pipe rather than signalfd: signalfd needs the signal blocked in
 * every thread (thread-pool workers, libraries' threads, children), while a
 * handler works whichever thread the kernel picks. */
#define _GNU_SOURCE
#include <weft/io.h>
#include "core/sigreg.h"
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MAXSIG 64 /* signals 1..64 fit a 64-bit mask */

static inline uint64_t bit(int sig) { return weft__sig_bit(sig); }

/* Per loop (one loop per thread): the tasks waiting, FIFO. */
typedef struct waiter {
    uint64_t mask;
    int got;
    struct waiter *next, *prev;
} waiter;

static __thread struct {
    int slot;              /* in the registry, -1: none */
    int efd;
    int count[MAXSIG + 1]; /* waiters per signal */
    uint64_t held;         /* collected but nobody waited for it at that moment */
    waiter *head, *tail;
} T = {.slot = -1, .efd = -1};

static int loop_attach(void)
{
    if (T.slot >= 0) return 0;
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd < 0) return -errno;
    int slot = weft__sig_attach(efd, WEFT__SIG_WAITER);
    if (slot < 0) {
        close(efd);
        return slot;
    }
    T.slot = slot;
    T.efd = efd;
    T.held = 0;
    return 0;
}

static void loop_detach(void)
{
    weft__sig_detach(T.slot); /* no handler writes to the eventfd after this */
    weft_close(T.efd);
    T.efd = T.slot = -1;
}

/* Takes what the handler left and hands each signal to the first waiter
 * for it. Returns 1 if a waiter other than self got one. */
static int collect(waiter *self)
{
    uint64_t v;
    (void)!read(T.efd, &v, sizeof v);
    uint64_t p = weft__sig_take(T.slot) | T.held;
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
        weft__sig_unwant(T.slot, sig);
        T.held &= ~bit(sig);
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
        if (T.count[sig] == 0 && (rc = weft__sig_want(T.slot, sig, 0)) < 0) break;
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
