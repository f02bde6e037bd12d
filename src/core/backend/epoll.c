/* The epoll backend (backend.h has the contract).
 *
 * Each watched fd's epoll data is its number; the wake-up eventfd's is
 * WAKE_TAG, beyond any fd number. Readable interest also asks for
 * EPOLLRDHUP, so a peer's half-close wakes a reader without data. */
#define _GNU_SOURCE
#include "../backend.h"
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
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

#define MAX_POLL_S 1e6 /* longest poll (11.6 days): its ms fit an int */
#define WAKE_TAG ((uint64_t)1 << 40)

extern WEFT__BACKEND(epoll);

typedef struct epoll_backend {
    struct weft__backend base; /* first: the seam's view */
    int epfd;
    int wakefd;    /* eventfd written by weft__backend_wake */
    int no_pwait2; /* the kernel (or valgrind) lacks epoll_pwait2 */
} epoll_backend;

static epoll_backend *state(const weft__loop *L) { return (epoll_backend *)L->backend; }

static int ep_init(weft__loop *L)
{
    epoll_backend *B = calloc(1, sizeof *B);
    if (!B) return -ENOMEM;
    B->base.ops = &weft__backend_ops_epoll;
    B->epfd = B->wakefd = -1;
    B->no_pwait2 = WEFT_NO_PWAIT2() ? 1 : 0;
    L->backend = &B->base;
    B->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (B->epfd < 0) return -errno;
    B->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (B->wakefd < 0) return -errno;
    /* Edge-triggered: each write is reported once, so the loop never reads
     * the eventfd (one system call less per wake-up, as mio's waker). */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u64 = WAKE_TAG};
    return epoll_ctl(B->epfd, EPOLL_CTL_ADD, B->wakefd, &ev) < 0 ? -errno : 0;
}

static void ep_close(weft__loop *L)
{
    epoll_backend *B = state(L);
    if (B->epfd >= 0) close(B->epfd);
    if (B->wakefd >= 0) close(B->wakefd);
    free(B);
    L->backend = NULL;
}

static uint32_t to_epoll(int events)
{
    return ((events & WEFT_READABLE) ? EPOLLIN | EPOLLRDHUP : 0) |
           ((events & WEFT_WRITABLE) ? EPOLLOUT : 0);
}

static int ep_watch(weft__loop *L, int fd, int old, int events)
{
    int epfd = state(L)->epfd;
    struct epoll_event ev = {.events = to_epoll(events), .data.u64 = (uint64_t)fd};
    int op = !events ? EPOLL_CTL_DEL : old ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    int rc = epoll_ctl(epfd, op, fd, &ev);
    if (rc < 0 && errno == ENOENT && op == EPOLL_CTL_MOD) rc = epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    if (rc < 0 && errno == EEXIST && op == EPOLL_CTL_ADD) rc = epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
    if (rc < 0 && op == EPOLL_CTL_DEL) rc = 0; /* already gone with the fd */
    return rc < 0 ? -errno : 0;
}

static void ep_wake(struct weft__backend *base)
{
    epoll_backend *B = (epoll_backend *)base;
    uint64_t one = 1, v;
    /* The count would overflow only after 2^64 - 2 wakes: then it is reset
     * (async-signal-safe, like the write). */
    if (write(B->wakefd, &one, sizeof one) < 0 && errno == EAGAIN &&
        read(B->wakefd, &v, sizeof v) >= 0)
        (void)!write(B->wakefd, &one, sizeof one);
}

static void ep_poll(weft__loop *L, double timeout_s)
{
    epoll_backend *B = state(L);
    struct epoll_event ev[256];
    int n;
    if (timeout_s < 0) {
        n = epoll_wait(B->epfd, ev, 256, -1);
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
        n = -1;
        errno = ENOSYS;
        if (!B->no_pwait2) n = epoll_pwait2(B->epfd, ev, 256, &ts, NULL);
        if (n < 0 && errno == ENOSYS) {
            B->no_pwait2 = 1;
            n = epoll_wait(B->epfd, ev, 256, (int)(timeout_s * 1000 + 0.999));
        }
    }
    L->now = weft__clock();
    for (int i = 0; i < n; i++) {
        uint64_t d = ev[i].data.u64;
        uint32_t got = ev[i].events;
        if (d == WAKE_TAG) {
            /* Not read (edge-triggered): a wake after this poll returned is
             * a new edge, reported by the next one. */
            weft__loop_woken(L);
            continue;
        }
        weft__fd_ready(L, (int)d, ((got & (EPOLLIN | EPOLLRDHUP)) ? WEFT_READABLE : 0) |
                                      ((got & EPOLLOUT) ? WEFT_WRITABLE : 0) |
                                      ((got & (EPOLLHUP | EPOLLERR)) ? WEFT__FD_ERROR : 0));
    }
}

WEFT__BACKEND(epoll) = {"epoll", ep_init, ep_close, ep_watch, ep_poll, ep_wake};
