/* The backend seam: the one place the loop meets the operating system's
 * readiness poller. Not installed; core-private.
 *
 * A backend is one file in src/core/backend/ (epoll.c, poll.c) that
 * defines a struct weft__backend_ops named weft__backend_ops_<file name> and
 * keeps its state in its own struct, whose first member is a struct
 * weft__backend (the ops that made it); nothing else looks further inside.
 * Every backend named in the build's WEFT_BACKENDS list (CMakeLists.txt) is
 * compiled in; each loop takes the one named by the environment variable
 * WEFT_BACKEND when it opens, the list's first by default (backend.c). A
 * call through the seam is one indirect call, next to a system call.
 *
 * The core (fd.c) owns everything a backend need not know: which tasks wait
 * on which fd, which events they want, which fds the loop owns. The backend
 * only keeps the kernel told and reports what fired.
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
 *  - name is what WEFT_BACKEND says to pick it ("epoll"), for errors and
 *    tests. */
#ifndef WEFT_CORE_BACKEND_H
#define WEFT_CORE_BACKEND_H

#include "internal.h"

#pragma GCC visibility push(hidden)

#define WEFT__FD_ERROR 4 /* with the events of weft__fd_ready: hang-up or error */

/* What a backend implements (the contract above). */
struct weft__backend_ops {
    const char *name;
    int (*init)(weft__loop *L); /* sets L->backend, even when it then fails */
    void (*close)(weft__loop *L);
    int (*watch)(weft__loop *L, int fd, int old, int events);
    void (*poll)(weft__loop *L, double timeout_s);
    void (*wake)(struct weft__backend *B);
};

/* Defines a backend's ops: WEFT__BACKEND(epoll) = {"epoll", ...}; */
#define WEFT__BACKEND(name) \
    __attribute__((visibility("hidden"))) const struct weft__backend_ops weft__backend_ops_##name

/* The head of every backend's state. */
struct weft__backend {
    const struct weft__backend_ops *ops;
};

/* Opens the backend WEFT_BACKEND names (the default when unset or empty);
 * -EINVAL, reported, when no backend of that name is compiled in. */
int weft__backend_init(weft__loop *L);
static inline void weft__backend_close(weft__loop *L)
{
    if (L->backend) L->backend->ops->close(L); /* sets L->backend to NULL */
}
static inline int weft__backend_watch(weft__loop *L, int fd, int old, int events)
{
    return L->backend->ops->watch(L, fd, old, events);
}
static inline void weft__backend_poll(weft__loop *L, double timeout_s)
{
    L->backend->ops->poll(L, timeout_s);
}
static inline void weft__backend_wake(struct weft__backend *B) { B->ops->wake(B); }
/* The name of L's backend ("epoll"), for dumps and tests; NULL if none. */
static inline const char *weft__backend_name(const weft__loop *L)
{
    return L->backend ? L->backend->ops->name : NULL;
}

/* Called by the backend (fd.c, loop.c). */
void weft__fd_ready(weft__loop *L, int fd, int events);
void weft__loop_woken(weft__loop *L);

#pragma GCC visibility pop
#endif
