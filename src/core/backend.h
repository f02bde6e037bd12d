/* The backend seam: the one place the loop meets the operating system's
 * readiness poller. Not installed; core-private.
 *
 * A backend is one file in src/core/backend/ (epoll.c today), chosen at
 * configure time (cmake -DWEFT_BACKEND=<file name>), that implements the
 * functions below and keeps its state in its own struct weft__backend,
 * which nothing else looks inside. The core (fd.c) owns everything a
 * backend need not know: which tasks wait on which fd, which events they
 * want, which fds the loop owns. The backend only keeps the kernel told and
 * reports what fired.
 *
 * Contract (docs/design.md "The backend seam"):
 *  - init makes the state (and its own way to be woken from another
 *    thread); close frees it. close is called once, after every other use
 *    of the backend, and also after a failed init.
 *  - watch(fd, old, events) tells the kernel the interest in fd is now
 *    events (WEFT_READABLE | WEFT_WRITABLE; 0: none), old being what the
 *    previous successful watch of fd set (0: not watched). Interest is
 *    level-triggered and persistent: it stays until changed. A number whose
 *    fd was closed behind the loop's back and reused may still be known to
 *    the kernel under either state: watch must cope (epoll: MOD that fails
 *    with ENOENT is retried as ADD, ADD with EEXIST as MOD). Removing
 *    interest never fails. -EPERM: fd can never be waited for (a regular
 *    file), so the core treats it as always ready; other -errno: failure.
 *  - poll(timeout_s) waits up to timeout_s (< 0: no limit; 0: do not block;
 *    any positive double, however large) for events and reports each ready
 *    fd by calling weft__fd_ready(L, fd, events), events being
 *    WEFT_READABLE / WEFT_WRITABLE, plus WEFT__FD_ERROR on hang-up or error
 *    (the fd is then reported both readable and writable). It reports a wake
 *    by calling weft__loop_woken(L). It sets L->now (weft__clock()) after
 *    waking up, before reporting anything. A timer must never be polled for
 *    early: round timeouts up.
 *  - wake may be called from any thread and from a signal handler
 *    (async-signal-safe): the loop's current or next poll returns and
 *    reports the wake; wakes before that one poll may merge into one.
 *  - name is for dumps and errors ("epoll"). */
#ifndef WEFT_CORE_BACKEND_H
#define WEFT_CORE_BACKEND_H

#include "internal.h"

#pragma GCC visibility push(hidden)

#define WEFT__FD_ERROR 4 /* with the events of weft__fd_ready: hang-up or error */

/* Implemented by the backend. */
int weft__backend_init(weft__loop *L);
void weft__backend_close(weft__loop *L);
int weft__backend_watch(weft__loop *L, int fd, int old, int events);
void weft__backend_poll(weft__loop *L, double timeout_s);
void weft__backend_wake(struct weft__backend *B);
const char *weft__backend_name(void);

/* Called by the backend (fd.c, loop.c). */
void weft__fd_ready(weft__loop *L, int fd, int events);
void weft__loop_woken(weft__loop *L);

#pragma GCC visibility pop
#endif
