/* weft_stream: lifecycle, the plain transport, and the write side.
 *
 * Writing: when nothing is queued, weft_stream_write hands the caller's bytes
 * straight to the transport (no copy); only what the kernel does not take is
 * copied into the write buffer, and a small flusher task is spawned to send it
 * in the background, as asyncio's transport does. So the common case (the
 * socket buffer has room) is one send(2), and the writer returns at once even
 * when the peer is slow, until more than the high-water mark is queued: then
 * the writer waits for the flusher to bring it back under the mark. Memory per
 * stream is bounded by the mark.
 *
 * Lifetime: operations that may wait count themselves in s->busy. Closing or
 * aborting marks the stream dead and closes the fd (waking any waiter with
 * -EBADF); the memory is freed by whoever leaves last. */
#define _GNU_SOURCE
#include "stream_internal.h"
#include "weft/debug.h"
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define HIGH_DEFAULT (64 * 1024)

static inline size_t wpending(const weft_stream *s) { return s->wend - s->wpos; }

/* ---- the plain transport ------------------------------------------------------ */

static ssize_t plain_read(weft_stream *s, void *buf, size_t n, int *want)
{
    /* A short read almost always drained the socket: going straight to the
     * poller saves a read(2) that would fail with EAGAIN (as libuv does).
     * Level-triggered epoll reports data that did arrive meanwhile at once. */
    if (s->short_read) {
        s->short_read = 0;
        *want = WEFT_READABLE;
        return -EAGAIN;
    }
    for (;;) {
        ssize_t r = read(s->fd, buf, n);
        if (r > 0) {
            s->short_read = (size_t)r < n;
            return r;
        }
        if (r == 0) return 0;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            *want = WEFT_READABLE;
            return -EAGAIN;
        }
        return -errno;
    }
}

static ssize_t plain_writev(weft_stream *s, const struct iovec *iov, int iovcnt, int *want)
{
    for (;;) {
        ssize_t r;
        if (s->is_sock) {
            if (iovcnt == 1) {
                r = send(s->fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
            } else {
                struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
                r = sendmsg(s->fd, &m, MSG_NOSIGNAL);
            }
        } else {
            r = iovcnt == 1 ? write(s->fd, iov[0].iov_base, iov[0].iov_len)
                            : writev(s->fd, iov, iovcnt);
        }
        if (r >= 0) return r;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            *want = WEFT_WRITABLE;
            return -EAGAIN;
        }
        return -errno;
    }
}

static int plain_shutdown(weft_stream *s, int *want)
{
    (void)want;
    if (!s->is_sock) return 0; /* a pipe's sending side ends when it closes */
    return shutdown(s->fd, SHUT_WR) < 0 && errno != ENOTCONN ? -errno : 0;
}

static void plain_close(weft_stream *s, int graceful) { (void)s, (void)graceful; }

const weft__transport weft__plain_transport = {
    .name = "plain",
    .read = plain_read,
    .writev = plain_writev,
    .shutdown = plain_shutdown,
    .close = plain_close,
};

/* ---- lifecycle ------------------------------------------------------------------ */

static pthread_once_t sigpipe_once = PTHREAD_ONCE_INIT;

static void sigpipe_ignore(void)
{
    struct sigaction cur;
    if (sigaction(SIGPIPE, NULL, &cur) == 0 && cur.sa_handler == SIG_DFL &&
        !(cur.sa_flags & SA_SIGINFO))
        signal(SIGPIPE, SIG_IGN);
}

void weft__ignore_sigpipe(void) { pthread_once(&sigpipe_once, sigpipe_ignore); }

/* io's codes for weft_strerror (the table in weft/io.h): here, since
 * every user of io's codes links the stream. */
WEFT__ERROR_TABLE(io, WEFT_IO_ERRORS)

weft_stream *weft__stream_new(int fd, int is_sock)
{
    weft__ignore_sigpipe();
    weft_stream *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->fd = fd;
    s->tp = &weft__plain_transport;
    s->limit = WEFT__STREAM_LIMIT_DEFAULT;
    s->high = HIGH_DEFAULT;
    s->is_sock = (uint8_t)is_sock;
    weft_debug_track(s, "stream", NULL, 0); /* debug mode: reported if never closed */
    return s;
}

weft_stream *weft_stream_from_fd(int fd)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        errno = EBADF;
        return NULL;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)) return NULL;
    weft_stream *s = weft__stream_new(fd, S_ISSOCK(st.st_mode));
    weft_debug_track_at(s, "stream", WEFT_DEBUG_CALLER);
    return s;
}

int weft_stream_fd(const weft_stream *s) { return s ? s->fd : -1; }

/* Any transport but the plain one transforms the bytes; TLS is the only
 * other today. */
int weft_stream_is_tls(const weft_stream *s) { return s && s->tp != &weft__plain_transport; }

int weft_stream_tls_truncated(const weft_stream *s)
{
    return s && s->eof && !s->dead && s->tp->truncated && s->tp->truncated(s);
}

void weft__stream_free(weft_stream *s)
{
    weft_debug_untrack(s);
    free(s->rbuf);
    free(s->wbuf);
    free(s);
}

int weft__stream_wait(weft_stream *s, int want)
{
    if (s->dead) return -EPIPE;
    if (__builtin_expect(!s->owned, 0)) {
        weft_fd_keep(s->fd); /* the stream closes it with weft_close */
        s->owned = 1;
    }
    int r = weft_wait_fd(s->fd, want);
    if (s->dead) return -EPIPE;
    return r < 0 ? r : 0;
}

int weft__stream_set_transport(weft_stream *s, const weft__transport *tp, void *state)
{
    if (!s || !tp) return -EINVAL;
    if (s->wend != s->wpos || s->flusher || s->reading || s->writing) return -EBUSY;
    s->tp->close(s, 1);
    s->tp = tp;
    s->tstate = state;
    s->short_read = 0;
    return 0;
}

/* Marks s dead, tells the transport, closes the fd (waking every waiter). */
static void stream_kill(weft_stream *s, int graceful)
{
    if (!graceful && s->is_sock && s->wend != s->wpos) {
        /* Unsent data is being dropped: reset the connection rather than let
         * the peer take a truncated stream for a complete one. */
        struct linger lg = {1, 0};
        setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    s->dead = 1;
    s->tp->close(s, graceful);
    weft_close(s->fd);
    s->fd = -1;
    weft__wl_wake_all(&s->waiters, -EPIPE);
}

void weft_stream_abort(weft_stream *s)
{
    if (!s || s->dead) return;
    if (s->is_sock) {
        struct linger lg = {1, 0};
        setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    stream_kill(s, 0);
    weft__stream_enter(s);
    weft__stream_leave(s);
}

int weft_stream_close(weft_stream *s)
{
    if (!s) return 0;
    if (s->dead) return -EPIPE;
    weft__stream_enter(s);
    int rc = weft_stream_drain(s);
    /* A cancelled caller (or one past its deadline) gets that error, but
     * the stream is closed all the same, and gracefully when nothing was
     * queued: there is nothing to drop, so no reason to reset the peer or
     * to skip TLS's close_notify. */
    int graceful = rc == 0 || ((rc == -ECANCELED || rc == -ETIMEDOUT) && !wpending(s) &&
                               !s->flusher && !s->werr);
    if (!s->dead) stream_kill(s, graceful);
    weft__stream_leave(s);
    return rc;
}

/* ---- the write side ----------------------------------------------------------- */

static void wake_writers(weft_stream *s) { weft__wl_wake_all(&s->waiters, 0); }

static int flusher_main(void *arg)
{
    weft_stream *s = arg;
    while (!s->dead && wpending(s)) {
        struct iovec iov = {s->wbuf + s->wpos, wpending(s)};
        int want = 0;
        ssize_t r = s->tp->writev(s, &iov, 1, &want);
        if (r > 0) {
            s->wpos += (size_t)r;
            if (s->wpos == s->wend) s->wpos = s->wend = 0;
            /* Hysteresis: a writer woken for a few bytes of room would
             * only wait again at once. */
            if (wpending(s) <= s->high / 2) wake_writers(s);
            continue;
        }
        if (r == 0) r = -EPIPE; /* a transport that takes nothing would spin us */
        if (r == -EAGAIN) r = weft__stream_wait(s, want);
        if (r < 0) {
            if (!s->werr) s->werr = (int)r;
            break;
        }
    }
    s->flusher = NULL;
    wake_writers(s);
    weft__stream_leave(s);
    return 0;
}

static int flusher_ensure(weft_stream *s)
{
    if (s->flusher || !wpending(s)) return 0;
    weft_task *t = weft_spawn_named("weft stream flush", flusher_main, s);
    if (!t) return -errno;
    weft_detach(t);
    s->flusher = t;
    weft__stream_enter(s);
    return 0;
}

/* Copies up to n bytes into the write buffer, staying under the mark;
 * returns how many. */
static size_t wbuf_put(weft_stream *s, const char *p, size_t n)
{
    size_t pend = wpending(s);
    size_t room = pend < s->high ? s->high - pend : 0;
    if (n > room) n = room;
    if (!n) return 0;
    if (s->wend + n > s->wcap) {
        if (s->wpos) {
            memmove(s->wbuf, s->wbuf + s->wpos, pend);
            s->wpos = 0;
            s->wend = pend;
        }
        if (s->wend + n > s->wcap) {
            size_t cap = s->wcap ? s->wcap : 4096;
            while (cap < s->wend + n) cap *= 2;
            char *b = realloc(s->wbuf, cap);
            if (!b) return 0;
            s->wbuf = b;
            s->wcap = cap;
        }
    }
    memcpy(s->wbuf + s->wend, p, n);
    s->wend += n;
    return n;
}

/* Waits until the flusher made room (or failed). */
static int wait_room(weft_stream *s)
{
    int r = weft__wait(&s->waiters, WAIT_ROOM, s->fd, INFINITY, 0, 1);
    if (s->dead) return -EPIPE;
    return r;
}

ssize_t weft_stream_writev(weft_stream *s, const struct iovec *iov, int iovcnt)
{
    int e = weft_check("weft_stream_writev");
    if (e == -EPERM) return e;
    if (!s || (iovcnt && !iov) || iovcnt < 0) return -EINVAL;
    /* Refused even with room in the buffer: nothing is sent or queued. */
    if (e) return e;
    if (s->dead || s->shut) return -EPIPE;
    if (s->werr) return s->werr;
    if (s->writing) return -EBUSY;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) total += iov[i].iov_len;
    if (!total) return 0;
    if (total > SSIZE_MAX) return -EINVAL;

    int i = 0;
    size_t off = 0; /* into iov[i] */
    if (!wpending(s) && !s->flusher) {
        /* Nothing queued: straight from the caller's memory. */
        int want;
        ssize_t r = s->tp->writev(s, iov, iovcnt > IOV_MAX ? IOV_MAX : iovcnt, &want);
        if ((size_t)r == total) return r;
        if (r < 0 && r != -EAGAIN) return s->werr = (int)r;
        for (size_t done = r > 0 ? (size_t)r : 0; done;) {
            size_t take = iov[i].iov_len - off < done ? iov[i].iov_len - off : done;
            off += take;
            done -= take;
            if (off == iov[i].iov_len) i++, off = 0;
        }
    }
    s->writing = 1;
    weft__stream_enter(s);
    ssize_t rc = (ssize_t)total;
    while (i < iovcnt) {
        if (off == iov[i].iov_len) {
            i++, off = 0;
            continue;
        }
        size_t put = wbuf_put(s, (const char *)iov[i].iov_base + off, iov[i].iov_len - off);
        off += put;
        if (put) continue;
        if (wpending(s) < s->high) { /* realloc failed */
            rc = -ENOMEM;
            break;
        }
        int r = flusher_ensure(s);
        if (r == 0) r = wait_room(s);
        if (r == 0 && s->werr) r = s->werr;
        if (r < 0) {
            rc = r;
            break;
        }
    }
    if (rc > 0) {
        int r = flusher_ensure(s);
        if (r < 0) rc = r;
    }
    s->writing = 0;
    weft__stream_leave(s);
    return rc;
}

ssize_t weft_stream_write(weft_stream *s, const void *buf, size_t n)
{
    struct iovec iov = {(void *)buf, n};
    return weft_stream_writev(s, &iov, 1);
}

int weft_stream_drain(weft_stream *s)
{
    int e = weft_check("weft_stream_drain");
    if (e == -EPERM) return e;
    if (!s) return -EINVAL;
    if (e) return e;
    if (s->dead) return -EPIPE;
    weft__stream_enter(s);
    int r = 0;
    while (!r && (wpending(s) || s->flusher) && !s->werr) {
        r = flusher_ensure(s);
        if (!r) r = wait_room(s);
    }
    if (!r && s->werr) r = s->werr;
    weft__stream_leave(s);
    return r;
}

int weft_stream_shutdown(weft_stream *s)
{
    int r = weft_stream_drain(s);
    if (r < 0) return r;
    if (s->shut) return 0;
    weft__stream_enter(s);
    for (;;) {
        int want = 0;
        r = s->tp->shutdown(s, &want);
        if (r != -EAGAIN) break;
        r = weft__stream_wait(s, want);
        if (r < 0) break;
    }
    if (r == 0) s->shut = 1;
    weft__stream_leave(s);
    return r;
}

int weft_stream_shutdown_now(weft_stream *s, int events)
{
    if (!s || !(events & (WEFT_READABLE | WEFT_WRITABLE))) return -EINVAL;
    if (s->dead) return -EPIPE;
    if (!s->is_sock) return -ENOTSOCK;
    int how = !(events & WEFT_WRITABLE) ? SHUT_RD : !(events & WEFT_READABLE) ? SHUT_WR : SHUT_RDWR;
    return shutdown(s->fd, how) < 0 && errno != ENOTCONN ? -errno : 0;
}

void weft_stream_set_write_buffer(weft_stream *s, size_t high)
{
    if (s) s->high = high ? high : HIGH_DEFAULT;
}

size_t weft_stream_write_buffered(const weft_stream *s) { return s ? wpending(s) : 0; }

int weft_stream_peer(const weft_stream *s, struct sockaddr_storage *addr, socklen_t *len)
{
    if (!s || !addr || !len) return -EINVAL;
    if (s->dead) return -EPIPE;
    *len = sizeof *addr;
    return getpeername(s->fd, (struct sockaddr *)addr, len) < 0 ? -errno : 0;
}
