/* The signal registry (sigreg.h): one handler per signal for the whole
 * process, shared by every loop, so no user ever saves or restores another
 * user's handler.
 *
 * Why one owner: weft_run's SIGINT and weft_signal_wait used to install
 * their own handlers, each saving whatever was there and putting it back at
 * the end. With two loops that interleave, the one to finish first restored
 * a disposition under the other (Ctrl-C then killed a process whose task was
 * waiting for it), or put back a handler whose loop was gone (Ctrl-C was
 * swallowed for good). Here the disposition from before weft is saved once,
 * when the first slot wants the signal, and restored once, when the last
 * slot stops, and every user is just a slot in one table.
 *
 * The handler runs on any thread at any moment, so it only reads atomics and
 * writes eventfds. A slot's eventfd must not be closed while a handler may
 * still write to it (the number could already belong to another file): the
 * handler counts itself in the slot's `busy` before it reads the fd, and
 * detaching first clears the fd, then waits for `busy` to reach zero. With
 * sequentially consistent atomics either the handler sees the cleared fd or
 * the detach sees the handler's count. */
#define _GNU_SOURCE
#include "sigreg.h"
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define MAXSIG 64  /* signals 1..64 fit a 64-bit mask */
#define NSLOTS 128 /* two per loop (SIGINT fallback, signal waits): 64 loops */

typedef struct slot {
    _Atomic int efd;          /* -1: nobody to poke */
    _Atomic int rank;         /* WEFT__SIG_WAITER or WEFT__SIG_FALLBACK */
    _Atomic uint64_t wanted;
    _Atomic uint64_t pending; /* came, not yet taken */
    _Atomic int busy;         /* handlers between reading efd and their write's end */
    int used;                 /* under mu */
} slot;

static slot slots[NSLOTS] = {[0 ... NSLOTS - 1] = {.efd = -1}};
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int users[MAXSIG + 1];              /* slots wanting each signal, under mu */
static struct sigaction saved[MAXSIG + 1]; /* the disposition before ours, while users > 0 */

/* Marks sig pending in every slot of rank that wants it and pokes it.
 * Returns how many were poked. */
static int deliver(int sig, int rank)
{
    uint64_t b = weft__sig_bit(sig);
    int n = 0;
    for (int i = 0; i < NSLOTS; i++) {
        slot *s = &slots[i];
        if (!(atomic_load(&s->wanted) & b) || atomic_load(&s->rank) != rank) continue;
        atomic_fetch_add(&s->busy, 1);
        int fd = atomic_load(&s->efd);
        if (fd >= 0 && (atomic_load(&s->wanted) & b)) {
            atomic_fetch_or(&s->pending, b);
            uint64_t one = 1;
            (void)!write(fd, &one, sizeof one);
            n++;
        }
        atomic_fetch_sub(&s->busy, 1);
    }
    return n;
}

static void on_signal(int sig)
{
    int saved_errno = errno;
    if (sig >= 1 && sig <= MAXSIG && !deliver(sig, WEFT__SIG_WAITER))
        deliver(sig, WEFT__SIG_FALLBACK);
    errno = saved_errno;
}

static int is_ours(const struct sigaction *sa)
{
    return !(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == on_signal;
}

static int is_default(const struct sigaction *sa)
{
    return !(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == SIG_DFL;
}

static int same_handler(const struct sigaction *a, const struct sigaction *b)
{
    if ((a->sa_flags & SA_SIGINFO) != (b->sa_flags & SA_SIGINFO)) return 0;
    return a->sa_flags & SA_SIGINFO ? a->sa_sigaction == b->sa_sigaction
                                    : a->sa_handler == b->sa_handler;
}

int weft__sig_own(int sig, const struct sigaction *sa, struct sigaction *old)
{
    if (sig < 1 || sig > MAXSIG) return 0;
    pthread_mutex_lock(&mu);
    struct sigaction cur;
    int ok = sigaction(sig, NULL, &cur) == 0 && (is_default(&cur) || same_handler(&cur, sa));
    if (ok) {
        if (!same_handler(&cur, sa)) *old = cur;
        ok = sigaction(sig, sa, NULL) == 0;
    }
    pthread_mutex_unlock(&mu);
    return ok;
}

void weft__sig_disown(int sig, const struct sigaction *sa, const struct sigaction *old)
{
    if (sig < 1 || sig > MAXSIG) return;
    pthread_mutex_lock(&mu);
    struct sigaction cur;
    if (sigaction(sig, NULL, &cur) == 0) {
        if (same_handler(&cur, sa))
            sigaction(sig, old, NULL);
        else if (users[sig] > 0 && same_handler(&saved[sig], sa))
            saved[sig] = *old; /* the registry took sig over ours: it puts *old back */
    }
    pthread_mutex_unlock(&mu);
}

int weft__sig_attach(int efd, int rank)
{
    int found = -EAGAIN;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < NSLOTS; i++) {
        slot *s = &slots[i];
        if (s->used) continue;
        s->used = 1;
        atomic_store(&s->wanted, 0);
        atomic_store(&s->pending, 0);
        atomic_store(&s->rank, rank);
        atomic_store(&s->efd, efd);
        found = i;
        break;
    }
    pthread_mutex_unlock(&mu);
    return found;
}

/* Under mu. */
static void unwant_locked(slot *s, int sig)
{
    uint64_t b = weft__sig_bit(sig);
    if (!(atomic_fetch_and(&s->wanted, ~b) & b)) return;
    atomic_fetch_and(&s->pending, ~b);
    if (--users[sig] > 0) return;
    /* If someone replaced our handler meanwhile, theirs stays. */
    struct sigaction cur;
    if (sigaction(sig, NULL, &cur) == 0 && is_ours(&cur)) sigaction(sig, &saved[sig], NULL);
}

void weft__sig_detach(int i)
{
    slot *s = &slots[i];
    pthread_mutex_lock(&mu);
    for (int sig = 1; sig <= MAXSIG; sig++) unwant_locked(s, sig);
    atomic_store(&s->efd, -1);
    while (atomic_load(&s->busy)) sched_yield();
    s->used = 0;
    pthread_mutex_unlock(&mu);
}

int weft__sig_want(int i, int sig, int only_if_default)
{
    slot *s = &slots[i];
    uint64_t b = weft__sig_bit(sig);
    int rc = 0;
    pthread_mutex_lock(&mu);
    if (atomic_load(&s->wanted) & b) goto out;
    struct sigaction cur;
    if (sigaction(sig, NULL, &cur) < 0) {
        rc = -errno;
        goto out;
    }
    if (users[sig] == 0 || !is_ours(&cur)) {
        /* What is there now is what comes back when the last slot stops
         * (a user who replaced ours meanwhile included). */
        if (only_if_default && !is_default(&cur)) {
            rc = 1;
            goto out;
        }
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (sigaction(sig, &sa, &saved[sig]) < 0) {
            rc = -errno;
            goto out;
        }
    } else if (only_if_default && !is_default(&saved[sig])) {
        rc = 1;
        goto out;
    }
    users[sig]++;
    atomic_fetch_or(&s->wanted, b);
out:
    pthread_mutex_unlock(&mu);
    return rc;
}

void weft__sig_unwant(int i, int sig)
{
    pthread_mutex_lock(&mu);
    unwant_locked(&slots[i], sig);
    pthread_mutex_unlock(&mu);
}

uint64_t weft__sig_take(int i)
{
    slot *s = &slots[i];
    return atomic_exchange(&s->pending, 0) & atomic_load(&s->wanted);
}
