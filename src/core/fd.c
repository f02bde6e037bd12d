/* Waiting on fds: the records of which tasks wait on which fd for what, the
 * fd-waiting primitives of weft.h, and what to do with the events the
 * backend reports (backend.h: the backend only keeps the kernel told).
 *
 * Interest is level-triggered and persistent: an fd is watched once and
 * interest nobody waits for is dropped only when the backend reports it. On
 * an fd whose owner promised to close it with weft_close (weft_fd_keep:
 * streams, listeners, PostgreSQL connections) the interest is also kept
 * after a wake, because the task that was woken nearly always waits again
 * for the same event before the next poll (read, reply, read again): a
 * steady request/response loop then makes no system calls to change
 * interest at all. Other fds drop interest once satisfied, so one closed
 * with plain close(2) and its number reused is watched afresh. */
#define _GNU_SOURCE
#include "backend.h"
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define BLOCK 1024 /* fd records per block; blocks never move */

void weft__fds_free(weft__loop *L)
{
    for (size_t i = 0; i < L->nfd_blocks; i++) free(L->fd_blocks[i]);
    free(L->fd_blocks);
    L->fd_blocks = NULL;
    L->nfd_blocks = 0;
}

/* The record for fd, created on demand; NULL only on allocation failure. */
static weft__fdrec *rec_get(weft__loop *L, int fd, int create)
{
    size_t b = (size_t)fd / BLOCK;
    weft__fdrec **blocks = L->fd_blocks;
    if (b >= L->nfd_blocks) {
        if (!create) return NULL;
        size_t n = b + 1 > 2 * L->nfd_blocks ? b + 1 : 2 * L->nfd_blocks;
        blocks = realloc(blocks, n * sizeof *blocks);
        if (!blocks) return NULL;
        for (size_t i = L->nfd_blocks; i < n; i++) blocks[i] = NULL;
        L->fd_blocks = blocks;
        L->nfd_blocks = n;
    }
    if (!blocks[b]) {
        if (!create) return NULL;
        blocks[b] = calloc(BLOCK, sizeof(weft__fdrec));
        if (!blocks[b]) return NULL;
    }
    return &blocks[b][fd % BLOCK];
}

/* Tells the backend the interest in fd is now mask. */
static int watch(weft__loop *L, int fd, weft__fdrec *r, uint32_t mask)
{
    int rc = weft__backend_watch(L, fd, (int)r->mask, (int)mask);
    if (rc < 0) return rc;
    r->mask = mask;
    return 0;
}

int weft__watch_internal(weft__loop *L, int fd, void (*on_ready)(weft__loop *L))
{
    weft__fdrec *r = rec_get(L, fd, 1);
    if (!r) return -ENOMEM;
    int rc = watch(L, fd, r, WEFT_READABLE);
    if (rc == 0) r->internal = on_ready;
    return rc;
}

void weft__fd_ready(weft__loop *L, int fd, int events)
{
    weft__fdrec *r = rec_get(L, fd, 0);
    if (!r) return;
    if (r->internal) {
        r->internal(L);
        return;
    }
    int error = events & WEFT__FD_ERROR;
    int fired = events & (WEFT_READABLE | WEFT_WRITABLE);
    int ready = error ? WEFT_READABLE | WEFT_WRITABLE : fired;
    int wanted = 0, woken = 0;
    weft_task *t = r->waiters.head;
    while (t) {
        weft_task *next = RUN(t)->wnext;
        int want = (int)(intptr_t)RUN(t)->xfer;
        if (want & ready) {
            weft__wake(t, error ? want : (want & ready));
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
    uint32_t keep = r->mask & ~(uint32_t)(fired & ~wanted);
    if (error && !wanted) keep = 0;
    if (keep != r->mask) watch(L, fd, r, keep);
}

/* A wake is the thread pool's (a job finished) or a message in the
 * loop's inbox (another loop or thread: loops.c). */
void weft__loop_woken(weft__loop *L)
{
    if (L->pool) weft__pool_on_ready(L);
    if (weft__port_pending(L)) weft__port_drain(L);
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
    if ((r->mask & (uint32_t)events) != (uint32_t)events) {
        int rc = watch(L, fd, r, r->mask | (uint32_t)events);
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
    if (r->mask) watch(L, fd, r, 0);
    r->mask = 0;
    r->owned = 0;
    r->internal = NULL;
}

uint32_t weft__fd_interest(const weft__loop *L, int fd)
{
    weft__fdrec *r = rec_get((weft__loop *)L, fd, 0);
    return r ? r->mask : 0;
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
