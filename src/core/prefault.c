/* Pre-faulting memory the loop is about to use, on a background thread.
 *
 * A fresh page costs tens of us on a VM when faulted in by a first touch
 * (bench/page_probe.c: 60-77 us on the 2-core VM of issue 13, of which the
 * trap is most), 2.5-4 us when populated in bulk with MADV_POPULATE_WRITE
 * (many pages per system call); once populated, the first touch costs
 * 0.1 us. A loop with many tasks needs a
 * fresh page per parked task (its stack's top) and fresh task records, so
 * for large workloads most of its time would go to the kernel, serially.
 * Here a helper thread populates the *next* stack slab and task chunk while
 * the loop still uses the current ones, as Go's runtime gets its memory
 * ready on other threads. It starts only when a loop grows past its first
 * slab or chunk, so small programs never have it, and never when the
 * loop's thread may use one CPU only.
 *
 * The thread only ever calls madvise(MADV_POPULATE_WRITE) on ranges the loop
 * gave it, which the loop keeps mapped until weft__prefault_close has
 * stopped the thread. Populating a page the loop touches at the same moment
 * is harmless: one of the two faults it in. Failures are ignored (the loop
 * then faults the page itself). */
#define _GNU_SOURCE
#include "internal.h"
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

typedef struct req {
    char *base;    /* first page of the highest-addressed run */
    size_t stride; /* distance between runs */
    size_t count;  /* runs, populated from the highest address down */
    size_t len;    /* bytes per run */
} req;

#define QMAX 8
#define BATCH 64 /* runs per process_madvise call */
struct weft__prefault {
    int pidfd;            /* the loop's, or -1: then one madvise per run */
    struct iovec iov[BATCH];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    req q[QMAX];
    size_t head, n;
    int stop;
    pthread_t th;
};

static void *worker(void *p)
{
    struct weft__prefault *P = p;
    pthread_mutex_lock(&P->mu);
    for (;;) {
        while (!P->n && !P->stop) pthread_cond_wait(&P->cv, &P->mu);
        if (P->stop) break;
        req r = P->q[P->head];
        P->head = (P->head + 1) % QMAX;
        P->n--;
        pthread_mutex_unlock(&P->mu);
        /* Many runs per system call (the trap into the kernel is a good
         * part of a page's price here); stop between calls, so closing
         * never waits for a whole slab. */
        for (size_t i = 0; i < r.count && !__atomic_load_n(&P->stop, __ATOMIC_RELAXED);) {
            size_t k = 0;
            for (; k < BATCH && i + k < r.count; k++) {
                P->iov[k].iov_base = r.base - (i + k) * r.stride;
                P->iov[k].iov_len = r.len;
            }
            if (P->pidfd < 0 ||
                syscall(SYS_process_madvise, P->pidfd, P->iov, k, MADV_POPULATE_WRITE, 0) < 0)
                for (size_t j = 0; j < k; j++) madvise(P->iov[j].iov_base, r.len, MADV_POPULATE_WRITE);
            i += k;
        }
        pthread_mutex_lock(&P->mu);
    }
    pthread_mutex_unlock(&P->mu);
    return NULL;
}

/* Whether this thread may run on one CPU only (taskset -c 0): then the
 * helper could only take turns with the loop on it, and when it holds the
 * CPU as a timer falls due, the wake-up waits for the scheduler's next
 * switch (milliseconds): the loop populates its own batches instead. */
static int one_cpu(void)
{
    cpu_set_t set;
    return sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) == 1;
}

/* Queues count runs of len bytes at top, top - stride, ... for population.
 * Best effort: returns without doing anything if the thread cannot start
 * or the queue is full. */
void weft__prefault(weft__loop *L, char *top, size_t stride, size_t count, size_t len)
{
    struct weft__prefault *P = L->prefault;
    if (!P) {
        if (one_cpu()) return;
        P = calloc(1, sizeof *P);
        if (!P) return;
        pthread_mutex_init(&P->mu, NULL);
        pthread_cond_init(&P->cv, NULL);
        P->pidfd = L->pidfd; /* closed only after this thread has stopped */
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setstacksize(&a, 64 * 1024);
        /* Signals are for the loop's thread (SIGINT, debug dumps), not this one. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int rc = pthread_create(&P->th, &a, worker, P);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&a);
        if (rc != 0) {
            free(P);
            return;
        }
        L->prefault = P;
    }
    pthread_mutex_lock(&P->mu);
    if (P->n < QMAX) {
        P->q[(P->head + P->n) % QMAX] = (req){top, stride, count, len};
        P->n++;
        pthread_cond_signal(&P->cv);
    }
    pthread_mutex_unlock(&P->mu);
}

/* Stops and joins the thread; after it, the loop may unmap anything. */
void weft__prefault_close(weft__loop *L)
{
    struct weft__prefault *P = L->prefault;
    if (!P) return;
    pthread_mutex_lock(&P->mu);
    __atomic_store_n(&P->stop, 1, __ATOMIC_RELAXED);
    pthread_cond_signal(&P->cv);
    pthread_mutex_unlock(&P->mu);
    pthread_join(P->th, NULL);
    pthread_mutex_destroy(&P->mu);
    pthread_cond_destroy(&P->cv);
    free(P);
    L->prefault = NULL;
}
