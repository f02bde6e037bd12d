/* The inside of weft_stream, and the transport seam that TLS plugs into.
 * Not installed.
 *
 * A stream is a read buffer, a write buffer and a *transport*: the few
 * operations that move bytes between those buffers and the fd. The plain
 * transport is read(2)/send(2) on the fd; TLS (src/io/tls.c) is another.
 *
 * Transport contract (every op is called from the loop's thread, never waits):
 *  - read and writev return bytes moved (> 0), 0 (read only: end of stream),
 *    or -errno. -EAGAIN means "not now": the op stores in *want the event to
 *    wait for (WEFT_READABLE or WEFT_WRITABLE; TLS may want to write while
 *    reading and the reverse). The stream waits for that event on its fd
 *    (honouring cancellation and deadlines) and calls the op again.
 *  - After writev returns -EAGAIN, the next writev starts with the same bytes
 *    (they may sit at another address: OpenSSL needs
 *    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER).
 *  - read may be called while a writev is pending in another task and the
 *    reverse (one reader task and one writer task at a time); they never run
 *    at the same instant (one thread), but each may wait between calls.
 *  - shutdown ends the sending side once everything is written (TCP FIN,
 *    TLS close_notify): 0 done, -EAGAIN with *want, or -errno.
 *  - close frees the transport's state. graceful is 1 when weft_stream_close
 *    drained everything (TLS sends close_notify here, best effort, without
 *    waiting), 0 on abort. It never closes the fd: the stream does.
 *  - alpn may be NULL.
 *  - truncated (NULL: never) is asked only after read returned 0: 1 if that
 *    end of stream is not the one the protocol marks (TLS: no close_notify).
 *
 * Swapping: weft_stream_start_tls drains the stream (weft_stream_drain), then
 * calls weft__stream_set_transport; bytes already in the read buffer (a
 * ClientHello that arrived with the last plaintext) are available to the new
 * transport through weft__stream_take_buffered. */
#ifndef WEFT_IO_STREAM_INTERNAL_H
#define WEFT_IO_STREAM_INTERNAL_H

#define WEFT__STREAM_LIMIT_DEFAULT (64 * 1024) /* read buffer limit (io.h: 64 KiB) */

#include "weft/io.h"
#include "core/wait.h" /* wait lists for writers over the mark */
#include "error_table.h"
#include <stdint.h>

typedef struct weft__transport {
    const char *name; /* "plain", "tls": for dumps and errors */
    ssize_t (*read)(weft_stream *s, void *buf, size_t n, int *want);
    ssize_t (*writev)(weft_stream *s, const struct iovec *iov, int iovcnt, int *want);
    int (*shutdown)(weft_stream *s, int *want);
    void (*close)(weft_stream *s, int graceful);
    const char *(*alpn)(const weft_stream *s);
    int (*truncated)(const weft_stream *s);
} weft__transport;

/* read(2)/send(2) on the fd. */
extern const weft__transport weft__plain_transport;

struct weft_stream {
    int fd;
    const weft__transport *tp;
    void *tstate;            /* the transport's own state (NULL for plain) */
    /* read side: unread bytes are rbuf[rpos, rend) */
    char *rbuf;
    size_t rpos, rend, rcap;
    size_t limit;            /* most bytes ever buffered for reading (default
                                WEFT__STREAM_LIMIT_DEFAULT) */
    int rerr;                /* sticky read error */
    /* write side: unsent bytes are wbuf[wpos, wend) */
    char *wbuf;
    size_t wpos, wend, wcap;
    size_t high;             /* write high-water mark */
    int werr;                /* sticky write error */
    weft_task *flusher;      /* the task sending wbuf in the background */
    weft__wlist waiters;     /* writers over the mark, drainers */
    unsigned busy;           /* operations in progress (they may be waiting) */
    uint8_t eof, reading, writing, shut, dead, is_sock;
    uint8_t short_read;      /* plain: last read was short, so the next one waits first */
    uint8_t owned;           /* the loop knows we close the fd with weft_close */
};

/* Creates a stream over fd, which must already be non-blocking (accept4 and
 * socket(SOCK_NONBLOCK) give one). is_sock: fd is a socket. NULL and errno on
 * ENOMEM (fd is then left open). */
weft_stream *weft__stream_new(int fd, int is_sock);

void weft__stream_free(weft_stream *s);

/* Every operation that may wait runs between enter and leave, so that a close
 * or abort from another task never frees the stream under it: the last one
 * out frees a dead stream. */
static inline void weft__stream_enter(weft_stream *s) { s->busy++; }
static inline void weft__stream_leave(weft_stream *s)
{
    if (--s->busy == 0 && s->dead) weft__stream_free(s);
}

/* Replaces the transport (e.g. by TLS after its handshake, or before it when
 * the handshake runs through the stream's own waits). The write buffer must be
 * empty (weft_stream_drain first) and no read or write may be in progress:
 * else -EBUSY. The old transport's close(s, 1) is called. Does not wait. */
int weft__stream_set_transport(weft_stream *s, const weft__transport *tp, void *state);

static inline void *weft__stream_tstate(const weft_stream *s) { return s->tstate; }
static inline const weft__transport *weft__stream_tp(const weft_stream *s) { return s->tp; }

/* Bytes read from the fd but not yet consumed: *data points at them (valid
 * until the next stream call). A new transport that must see them (a TLS
 * ClientHello read along with plaintext) takes them and then calls
 * weft_stream_consume. */
size_t weft__stream_take_buffered(weft_stream *s, const char **data);

/* Waits for want on the stream's fd: 0, or -ECANCELED, -ETIMEDOUT, -EPIPE
 * (the stream was aborted meanwhile). For transports' handshakes. Waits. */
int weft__stream_wait(weft_stream *s, int want);

/* Ignores SIGPIPE once per process if it has its default action (as Python
 * does): a write to a closed pipe or socket then returns -EPIPE instead of
 * killing the process. OpenSSL's socket BIO writes with write(2), so TLS
 * needs it too. */
void weft__ignore_sigpipe(void);


#endif
