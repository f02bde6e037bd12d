/* The core's wait API for the layers above it (io, http, pg). Not
 * installed. This is the one core header those layers may include: it gives
 * them what weft.h does not (waiting on a condition of their own objects),
 * and nothing of the core's private state (core/internal.h is the core's).
 *
 * An io object that tasks wait on for something other than an fd's
 * readiness (room in a stream's write buffer, a connection slot in a
 * server) holds a weft__wlist; a task parks in it with weft__wait, naming
 * what it waits for so that dumps, traces and gdb say so; whoever makes the
 * thing available wakes the first waiter or all of them. Entry checks
 * (cancellation, deadlines, "called outside a task") are weft.h's
 * weft_check. */
#ifndef WEFT_CORE_WAIT_H
#define WEFT_CORE_WAIT_H

#include "weft.h"
#include <math.h> /* INFINITY: no deadline */

#pragma GCC visibility push(hidden)

/* Tasks waiting in FIFO order; zero-initialised is empty. */
typedef struct weft__wlist {
    weft_task *head, *tail;
} weft__wlist;

/* What a waiting task waits on, as dumps, traces and gdb (tools/gdb/weft.py
 * WAITS, same order) name it. Append only. */
enum { WAIT_NONE, WAIT_SLEEP, WAIT_TASK, WAIT_SEM, WAIT_LOCK, WAIT_EVENT,
       WAIT_COND, WAIT_QUEUE, WAIT_FD, WAIT_THREAD, WAIT_GROUP, WAIT_YIELD,
       WAIT_ROOM,  /* room in an io object: a stream's buffer, a server's slots */
       WAIT_CONNS, /* a server's connections to end */
       WAIT_CHAN,  /* a weft_chan (another loop or thread hands over) */
       WAIT_DNS,   /* a name server's answer (io/dns_ares.c) */
       WAIT_BARRIER };

/* Parks the calling task (which must have passed weft_check) in wl until a
 * wake (returns the waker's result), until deadline (weft_now() clock,
 * INFINITY: none; returns timeout_result), or, if cancellable, until it is
 * cancelled (-ECANCELED) or its weft_timeout deadline passes (-ETIMEDOUT).
 * kind (WAIT_*) and fd (-1: none) say what it waits for, in dumps. Waits. */
int weft__wait(weft__wlist *wl, int kind, int fd, double deadline, int timeout_result,
               int cancellable);
/* Objects of a layer that belong to one loop (an HTTP client session, a
 * PostgreSQL pool: their waits park in that loop's fd records) record
 * weft_loop_current() when made and start their calls with this: -EXDEV,
 * reported naming fn, from another loop (or a thread outside the run);
 * else 0. home NULL (made outside a run): 0. Does not wait. */
int weft__check_home(const weft_loop *home, const char *fn);
/* Wakes the first task in wl, if any, with result. Does not wait. */
void weft__wake_first(weft__wlist *wl, int result);
/* Wakes every task in wl with result. Does not wait. */
void weft__wl_wake_all(weft__wlist *wl, int result);

#pragma GCC visibility pop
#endif
