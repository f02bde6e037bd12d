/* The poll(2) backend (backend.h has the contract): the fallback every Unix
 * has, and the proof that the seam holds a second backend. WEFT_BACKEND=poll
 * picks it.
 *
 * poll takes the whole interest set on every call, so the set is kept
 * compact and changed in place: pfd[0] is the wake pipe, pfd[1..n) the
 * watched fds in no order, and slot[fd] says where fd is (0: not watched).
 * Adding appends, removing moves the last entry into the hole, changing
 * rewrites one entry: O(1) each, and a poll costs O(fds watched), never
 * O(highest fd number) or O(tasks, timers). A million sleeping tasks and a
 * few sockets poll three entries.
 *
 * What poll(2) does differently from epoll, and why it is fine here:
 *  - No kernel-side registration, so an fd closed behind the loop's back
 *    cannot linger in the kernel; its entry reports POLLNVAL, which is
 *    reported as an error (the core wakes its waiters, whose next read or
 *    write says EBADF, and drops the interest if nobody waits). A reused
 *    number is simply polled as the new file.
 *  - poll accepts any number, where epoll_ctl refuses a closed one (EBADF)
 *    and a regular file or directory (EPERM: the core reports those ready
 *    at once). One fstat when an fd is added gives the same answers, at
 *    the price epoll pays there (a system call per add); changing or
 *    dropping interest costs none here.
 *  - Readiness is level-triggered only, so the wake pipe is drained at each
 *    wake (epoll's eventfd is edge-triggered and never read).
 * The wake is a pipe rather than Linux's eventfd so that this file stays
 * what a BSD or macOS port starts from (ppoll aside: macOS has only
 * poll, with a millisecond timeout to round up). */
#define _GNU_SOURCE
#include "../backend.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef POLLRDHUP
#define POLLRDHUP 0 /* Linux: a peer's half-close wakes a reader without data */
#endif
#define MAX_POLL_S 1e6 /* longest poll (11.6 days), as epoll.c */

extern WEFT__BACKEND(poll);

typedef struct poll_backend {
    struct weft__backend base; /* first: the seam's view */
    struct pollfd *pfd;        /* [0]: the wake pipe; [1, n): watched fds */
    struct pollfd *got;        /* the ready entries of the last poll */
    size_t n, cap;             /* entries in pfd; capacity of pfd and got */
    unsigned *slot;            /* slot[fd]: fd's index in pfd, 0: not watched */
    size_t nslot;
    int wake_r, wake_w; /* the pipe written by wake */
} poll_backend;

static poll_backend *state(const weft__loop *L) { return (poll_backend *)L->backend; }

static int pl_init(weft__loop *L)
{
    poll_backend *B = calloc(1, sizeof *B);
    if (!B) return -ENOMEM;
    B->base.ops = &weft__backend_ops_poll;
    B->wake_r = B->wake_w = -1;
    L->backend = &B->base;
    B->cap = 64;
    B->pfd = malloc(B->cap * sizeof *B->pfd);
    B->got = malloc(B->cap * sizeof *B->got);
    if (!B->pfd || !B->got) return -ENOMEM;
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) return -errno;
    B->wake_r = p[0];
    B->wake_w = p[1];
    B->pfd[0] = (struct pollfd){.fd = B->wake_r, .events = POLLIN};
    B->n = 1;
    return 0;
}

static void pl_close(weft__loop *L)
{
    poll_backend *B = state(L);
    if (B->wake_r >= 0) close(B->wake_r);
    if (B->wake_w >= 0) close(B->wake_w);
    free(B->pfd);
    free(B->got);
    free(B->slot);
    free(B);
    L->backend = NULL;
}

static short to_poll(int events)
{
    return (short)(((events & WEFT_READABLE) ? POLLIN | POLLRDHUP : 0) |
                   ((events & WEFT_WRITABLE) ? POLLOUT : 0));
}

/* Room for one more entry, and a slot for fd. */
static int reserve(poll_backend *B, int fd)
{
    if ((size_t)fd >= B->nslot) {
        size_t n = B->nslot ? B->nslot : 256;
        while (n <= (size_t)fd) n *= 2;
        unsigned *s = realloc(B->slot, n * sizeof *s);
        if (!s) return -ENOMEM;
        for (size_t i = B->nslot; i < n; i++) s[i] = 0;
        B->slot = s;
        B->nslot = n;
    }
    if (B->n == B->cap) {
        size_t cap = B->cap * 2;
        struct pollfd *p = realloc(B->pfd, cap * sizeof *p);
        if (!p) return -ENOMEM;
        B->pfd = p;
        struct pollfd *g = realloc(B->got, cap * sizeof *g);
        if (!g) return -ENOMEM; /* pfd grew alone: harmless, cap says the smaller */
        B->got = g;
        B->cap = cap;
    }
    return 0;
}

/* old is not needed: slot[] is what this backend told poll. */
static int pl_watch(weft__loop *L, int fd, int old, int events)
{
    poll_backend *B = state(L);
    unsigned i = (size_t)fd < B->nslot ? B->slot[fd] : 0;
    if (!events) {
        if (!i) return 0;
        B->pfd[i] = B->pfd[--B->n]; /* the last entry fills the hole */
        B->slot[B->pfd[i].fd] = i;
        B->slot[fd] = 0;
        return 0;
    }
    if (!i) {
        struct stat st;
        if (fstat(fd, &st) < 0) return -errno;
        if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) return -EPERM;
        int rc = reserve(B, fd);
        if (rc < 0) return rc;
        i = (unsigned)B->n++;
        B->slot[fd] = i;
        B->pfd[i].fd = fd;
    }
    B->pfd[i].events = to_poll(events);
    B->pfd[i].revents = 0;
    return 0;
}

/* Async-signal-safe. A full pipe (EAGAIN) already holds a wake. */
static void pl_wake(struct weft__backend *base)
{
    (void)!write(((poll_backend *)base)->wake_w, "", 1);
}

static void pl_poll(weft__loop *L, double timeout_s)
{
    poll_backend *B = state(L);
    struct timespec ts, *tp = NULL;
    if (timeout_s >= 0) {
        /* A far deadline would overflow time_t: wake up every MAX_POLL_S. */
        if (timeout_s > MAX_POLL_S) timeout_s = MAX_POLL_S;
        ts.tv_sec = (time_t)timeout_s;
        ts.tv_nsec = (long)((timeout_s - (double)ts.tv_sec) * 1e9);
        tp = &ts;
    }
    int ready = ppoll(B->pfd, (nfds_t)B->n, tp, NULL);
    L->now = weft__clock();
    if (ready <= 0) return;
    /* Collected first: reporting an fd may change the set (the core drops
     * or keeps interest), which moves entries and may move the arrays. */
    size_t ngot = 0;
    int woken = 0;
    for (size_t i = 0; i < B->n && (int)ngot + woken < ready; i++) {
        if (!B->pfd[i].revents) continue;
        if (i == 0) woken = 1;
        else B->got[ngot++] = B->pfd[i];
        B->pfd[i].revents = 0;
    }
    if (woken) {
        /* Drained before the loop looks, so a wake after this is a new byte
         * the next poll sees. */
        char buf[64];
        while (read(B->wake_r, buf, sizeof buf) == (ssize_t)sizeof buf) {
        }
        weft__loop_woken(L);
    }
    for (size_t i = 0; i < ngot; i++) {
        int fd = B->got[i].fd;
        short got = B->got[i].revents;
        weft__fd_ready(L, fd, ((got & (POLLIN | POLLRDHUP | POLLPRI)) ? WEFT_READABLE : 0) |
                                  ((got & POLLOUT) ? WEFT_WRITABLE : 0) |
                                  ((got & (POLLHUP | POLLERR | POLLNVAL)) ? WEFT__FD_ERROR : 0));
    }
}

WEFT__BACKEND(poll) = {"poll", pl_init, pl_close, pl_watch, pl_poll, pl_wake};
