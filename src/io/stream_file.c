/* What a protocol on top of a stream needs of its fd, as stream calls: a
 * look at whether a read would wait (an idle pooled connection's liveness
 * check) and sendfile(2) for static files. The layers above never touch
 * weft_stream_fd for these (issue 11): the stream knows whether its bytes
 * are transformed (TLS), owns the fd's waits, and refuses a second writer. */
#define _GNU_SOURCE
#include "stream_internal.h"
#include <errno.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

int weft_stream_readable_now(weft_stream *s)
{
    if (!s) return -EINVAL;
    if (s->dead) return -EPIPE;
    if (s->rend > s->rpos || s->eof || s->rerr) return 1;
    if (!s->is_sock) return 0; /* a pipe: nothing to peek at without consuming */
    char b;
    ssize_t n = recv(s->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : 1;
}

/* TLS encrypts in user space: through the stream's own writes. */
static ssize_t copy_through(weft_stream *s, int fd, off_t *off, size_t len)
{
    char buf[16384];
    ssize_t n = pread(fd, buf, len < sizeof buf ? len : sizeof buf, *off);
    if (n <= 0) return n < 0 ? -errno : 0;
    ssize_t w = weft_stream_write(s, buf, (size_t)n);
    if (w < 0) return w;
    *off += n;
    return n;
}

ssize_t weft_stream_sendfile(weft_stream *s, int fd, off_t *off, size_t len)
{
    int e = weft_check("weft_stream_sendfile");
    if (e == -EPERM) return e;
    if (!s || fd < 0 || !off || *off < 0) return -EINVAL;
    if (e) return e;
    if (s->dead || s->shut) return -EPIPE;
    if (s->werr) return s->werr;
    if (s->writing) return -EBUSY;
    if (!len) return 0;
    if (len > (1u << 30)) len = 1u << 30; /* sendfile's own cap is about 2 GiB */
    if (weft_stream_is_tls(s)) return copy_through(s, fd, off, len);
    /* Bytes queued by earlier writes go first, or the file would overtake
     * them on the wire. */
    int r = weft_stream_drain(s);
    if (r < 0) return r;
    s->writing = 1;
    weft__stream_enter(s);
    ssize_t n;
    for (;;) {
        n = sendfile(s->fd, fd, off, len);
        if (n >= 0) break;
        if (errno == EINTR) continue;
        if (errno != EAGAIN) {
            n = -errno;
            /* A socket error sticks as a write error would; a bad file
             * argument (EINVAL, EBADF on fd) is the caller's and does not. */
            if (n == -EPIPE || n == -ECONNRESET) s->werr = (int)n;
            break;
        }
        r = weft__stream_wait(s, WEFT_WRITABLE);
        if (r < 0) {
            n = r;
            break;
        }
    }
    s->writing = 0;
    weft__stream_leave(s);
    return n;
}
