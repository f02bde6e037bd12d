/* The epoll backend and the fd-waiting primitives.
 *
 * Registrations are level-triggered and persistent: an fd is added once and
 * interest nobody waits for is dropped only when epoll reports it. On an fd
 * whose owner promised to close it with weft_close (weft_fd_keep: streams,
 * listeners, PostgreSQL connections) the interest is also kept after a wake, because the task that
 * was woken nearly always waits again for the same event before the next
 * poll (read, reply, read again): a steady request/response loop then makes
 * no epoll_ctl calls at all. Other fds drop interest once satisfied, so one
 * closed with plain close(2) and its number reused is registered afresh. */
#define _GNU_SOURCE
#include "../core/internal.h"
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#ifdef __has_include
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h> /* it lacks epoll_pwait2: do not even try */
#define WEFT_NO_PWAIT2() RUNNING_ON_VALGRIND
#endif
#endif
#ifndef WEFT_NO_PWAIT2
#define WEFT_NO_PWAIT2() 0
#endif

#define BLOCK 1024 /* fd records per block; blocks never move */
#define MAX_POLL_S 1e6 /* longest poll (11.6 days): its ms fit an int */

int weft__poll_init(weft__loop *L)
{
    L->epfd = epoll_create1(EPOLL_CLOEXEC);
    return L->epfd < 0 ? -errno : 0;
}

void weft__poll_close(weft__loop *L)
{
    if (L->epfd >= 0) close(L->epfd);
    L->epfd = -1;
    weft__fdrec **blocks = (weft__fdrec **)L->fds;
    for (size_t i = 0; i < L->nfds; i++) free(blocks[i]);
    free(blocks);
    L->fds = NULL;
    L->nfds = 0;
}

/* The record for fd, created on demand; NULL only on allocation failure. */
static weft__fdrec *rec_get(weft__loop *L, int fd, int create)
{
    size_t b = (size_t)fd / BLOCK;
    weft__fdrec **blocks = (weft__fdrec **)L->fds;
    if (b >= L->nfds) {
        if (!create) return NULL;
        size_t n = b + 1 > 2 * L->nfds ? b + 1 : 2 * L->nfds;
        blocks = realloc(blocks, n * sizeof *blocks);
        if (!blocks) return NULL;
        for (size_t i = L->nfds; i < n; i++) blocks[i] = NULL;
        L->fds = (weft__fdrec *)blocks;
        L->nfds = n;
    }
    if (!blocks[b]) {
        if (!create) return NULL;
        blocks[b] = calloc(BLOCK, sizeof(weft__fdrec));
        if (!blocks[b]) return NULL;
    }
    return &blocks[b][fd % BLOCK];
}

static int ctl(weft__loop *L, int fd, weft__fdrec *r, uint32_t mask)
{
    struct epoll_event ev = {.events = mask, .data.u64 = (uint64_t)fd};
    int op = !mask ? EPOLL_CTL_DEL : r->mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    int rc = epoll_ctl(L->epfd, op, fd, &ev);
    if (rc < 0 && errno == ENOENT && op == EPOLL_CTL_MOD) rc = epoll_ctl(L->epfd, EPOLL_CTL_ADD, fd, &ev);
    if (rc < 0 && errno == EEXIST && op == EPOLL_CTL_ADD) rc = epoll_ctl(L->epfd, EPOLL_CTL_MOD, fd, &ev);
    if (rc < 0 && op == EPOLL_CTL_DEL) rc = 0; /* already gone with the fd */
    if (rc < 0) return -errno;
    r->mask = mask;
    return 0;
}

int weft__poll_watch_internal(weft__loop *L, int fd, uint64_t tag)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
    return epoll_ctl(L->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static uint32_t to_epoll(int events)
{
    return ((events & WEFT_READABLE) ? EPOLLIN | EPOLLRDHUP : 0) |
           ((events & WEFT_WRITABLE) ? EPOLLOUT : 0);
}

static void dispatch(weft__loop *L, int fd, uint32_t got)
{
    weft__fdrec *r = rec_get(L, fd, 0);
    if (!r) return;
    int ready = ((got & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ? WEFT_READABLE : 0) |
                ((got & (EPOLLOUT | EPOLLHUP | EPOLLERR)) ? WEFT_WRITABLE : 0);
    int wanted = 0, woken = 0;
    weft_task *t = r->waiters.head;
    while (t) {
        weft_task *next = RUN(t)->wnext;
        int want = (int)(intptr_t)RUN(t)->xfer;
        if (want & ready) {
            weft__wake(t, (got & (EPOLLHUP | EPOLLERR)) ? want : (want & ready));
            woken |= want & ready;
        } else {
            wanted |= want;
        }
        t = next;
    }
    /* Keep interest that was just satisfied on an owned fd (its task will
     * likely wait again before the next poll); drop what fired with nobody
     * waiting. */
    if (r->owned) wanted |= woken;
    uint32_t keep = r->mask & ~(got & (EPOLLIN | EPOLLOUT) & ~to_epoll(wanted));
    if (!(keep & EPOLLIN)) keep &= ~(uint32_t)EPOLLRDHUP;
    if ((got & (EPOLLHUP | EPOLLERR)) && !wanted) keep = 0;
    if (keep != r->mask) ctl(L, fd, r, keep);
}

void weft__poll(weft__loop *L, double timeout_s)
{
    struct epoll_event ev[256];
    int n;
    if (timeout_s < 0) {
        n = epoll_wait(L->epfd, ev, 256, -1);
    } else {
        /* A far deadline (a sleep of 1e300 s) would overflow time_t and the
         * int of milliseconds: the poll would fail at once on every turn.
         * Waking up every MAX_POLL_S instead is harmless. */
        if (timeout_s > MAX_POLL_S) timeout_s = MAX_POLL_S;
        struct timespec ts;
        ts.tv_sec = (time_t)timeout_s;
        ts.tv_nsec = (long)((timeout_s - (double)ts.tv_sec) * 1e9);
        /* Nanosecond timeouts where the kernel has them (5.11+); ms ones
         * otherwise, rounded up so a timer is never polled for early. */
        static int no_pwait2 = -1;
        if (no_pwait2 < 0) no_pwait2 = WEFT_NO_PWAIT2() ? 1 : 0;
        n = -1;
        errno = ENOSYS;
        if (!no_pwait2) n = epoll_pwait2(L->epfd, ev, 256, &ts, NULL);
        if (n < 0 && errno == ENOSYS) {
            no_pwait2 = 1;
            n = epoll_wait(L->epfd, ev, 256, (int)(timeout_s * 1000 + 0.999));
        }
    }
    L->now = weft__clock();
    for (int i = 0; i < n; i++) {
        uint64_t d = ev[i].data.u64;
        if (d == WEFT__POOL_TAG) weft__pool_on_ready(L);
        else if (d == WEFT__SIGINT_TAG) weft__sigint_drain(L);
        else dispatch(L, (int)d, ev[i].events);
    }
}

int weft_wait_fd(int fd, int events)
{
    int e = weft__enter("weft_wait_fd");
    if (e) return e;
    if (fd < 0) return -EBADF;
    events &= WEFT_READABLE | WEFT_WRITABLE;
    if (!events) return -EINVAL;
    weft__loop *L = weft__L;
    weft__fdrec *r = rec_get(L, fd, 1);
    if (!r) return -ENOMEM;
    uint32_t want = to_epoll(events);
    if ((r->mask & want) != want) {
        int rc = ctl(L, fd, r, r->mask | want);
        if (rc == -EPERM) return events; /* regular files are always ready */
        if (rc < 0) return rc;
    }
    RUN(L->current)->xfer = (void *)(intptr_t)events;
    RUN(L->current)->wait_fd = fd;
    L->fd_waiting++;
    int res = weft__park(&r->waiters, WAIT_FD, INFINITY, 0, 1);
    L->fd_waiting--;
    return res;
}

ssize_t weft_read(int fd, void *buf, size_t n)
{
    if (weft__unlikely(weft__L && weft__L->opt.debug)) weft__debug_check_fd(fd, "weft_read");
    int e = weft__enter("weft_read");
    if (e) return e;
    for (;;) {
        ssize_t r = read(fd, buf, n);
        if (r >= 0) return r;
        if (errno == EINTR) continue;
        if (errno != EAGAIN) return -errno;
        int w = weft_wait_fd(fd, WEFT_READABLE);
        if (w < 0) return w;
    }
}

ssize_t weft_write(int fd, const void *buf, size_t n)
{
    if (weft__unlikely(weft__L && weft__L->opt.debug)) weft__debug_check_fd(fd, "weft_write");
    int e = weft__enter("weft_write");
    if (e) return e;
    for (;;) {
        ssize_t r = write(fd, buf, n);
        if (r >= 0) return r;
        if (errno == EINTR) continue;
        if (errno != EAGAIN) return -errno;
        int w = weft_wait_fd(fd, WEFT_WRITABLE);
        if (w < 0) return w;
    }
}

ssize_t weft_write_all(int fd, const void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = weft_write(fd, (const char *)buf + done, n - done);
        if (r < 0) return r;
        done += (size_t)r;
    }
    return (ssize_t)n;
}

void weft_fd_forget(int fd)
{
    weft__loop *L = weft__L;
    if (!L || fd < 0) return;
    weft__fdrec *r = rec_get(L, fd, 0);
    if (!r) return;
    weft__wl_wake_all(&r->waiters, -EBADF);
    if (r->mask) ctl(L, fd, r, 0);
    r->mask = 0;
    r->owned = 0;
}

void weft_fd_keep(int fd)
{
    weft__loop *L = weft__L;
    weft__fdrec *r = L && fd >= 0 ? rec_get(L, fd, 1) : NULL;
    if (r) r->owned = 1;
}

int weft_close(int fd)
{
    if (fd < 0) return -EBADF;
    weft_fd_forget(fd);
    return close(fd) < 0 ? -errno : 0;
}
