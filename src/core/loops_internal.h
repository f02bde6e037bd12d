/* The fleet: a run's loops and their inboxes (loops.c). Core-private. */
#ifndef WEFT_CORE_LOOPS_INTERNAL_H
#define WEFT_CORE_LOOPS_INTERNAL_H

#include "internal.h"
#include <pthread.h>

#pragma GCC visibility push(hidden)

/* A loop's inbox, and what a weft_loop handle points to. A cache line of
 * its own (aligned): senders on other threads write it, not the loop. */
typedef struct weft__port {
    pthread_mutex_t mu;
    weft__msg *head, *tail;
    int pending;                   /* messages queued (relaxed atomic) */
    int sleeping;                  /* under mu: the loop blocks in its poller
                                      and must be woken (else it will look) */
    int index;
    unsigned gen;                  /* under mu: bumped by each run (handles carry it) */
    struct weft__fleet *fleet;
    weft__loop *loop;              /* NULL outside its run */
    struct weft__backend *backend; /* to wake the loop */
    /* For task dumps (debug/dump.c), set by the loop's own thread. */
    pthread_t thread;              /* the loop's thread, for SIGUSR1 forwarding */
    int tid;                       /* its kernel id, for dump headers */
    int sig_live;                  /* debug mode, loop running: SIGUSR1 may go to thread */
    int sig_pending;               /* a SIGUSR1 forwarded to thread, not yet taken */
    unsigned busy_id;              /* debug mode: the running task (relaxed) */
    const char *busy_name;         /* its name (a task's name lives as long as it) */
    double busy_start;             /* and since when, 0: none */
} __attribute__((aligned(64))) weft__port;

typedef struct weft__fleet {
    int n;
    pthread_t *threads;            /* loops 1..n-1 */
    struct weft__fleet *next_retired;
    /* Shared by every thread, only on the ways across: a line of its own. */
    long work __attribute__((aligned(64))); /* loops not quiet + messages in flight */
    int ending;                    /* main has returned: external sends refused */
    int finished;                  /* work reached 0: every loop stops */
    weft__port ports[];
} weft__fleet;

weft__fleet *weft__fleet_new(int n);
void weft__fleet_retire(weft__fleet *F);
void weft__fleet_attach(weft__fleet *F, int i, weft__loop *L);
/* Main has returned: refuse external sends, tell every loop. */
void weft__fleet_end(weft__fleet *F);
int weft__fleet_ending(const weft__fleet *F);
/* During the ending: counts L out once it has nothing left; 1 once the
 * whole fleet has. */
int weft__fleet_finished(weft__loop *L);

#pragma GCC visibility pop
#endif
