/* The server's guard against clients that hold what others need: the list
 * of live connections (most recently idle first), the reaper that ends
 * those past their phase's deadline, the bound and check on unsent data in
 * the kernel, and shedding idle connections when descriptors or
 * connection slots run short. docs/design.md gives the reasons and nginx's
 * counterparts. */
#define _GNU_SOURCE
#include "http/server_internal.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* Unsent bytes the kernel may hold for one connection (TCP_NOTSENT_LOWAT):
 * without it, a client that reads nothing pins the whole autotuned send
 * buffer, megabytes, on top of what is in flight. Writes past it wait, as
 * for a full buffer, and are bounded by body_timeout_s like any write. */
#define NOTSENT_LOWAT (128 * 1024)
/* Idle connections shed at once: 1/8 of the connections, 1 to 32 (as
 * nginx's ngx_drain_connections). */
#define SHED_MAX 32

/* ---- the list ------------------------------------------------------------------ */

static void unlink_conn(weft_http_server *srv, weft__conn *c)
{
    if (c->prev) c->prev->next = c->next;
    else srv->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    else srv->conns_tail = c->prev;
    c->prev = c->next = NULL;
}

static void push_front(weft_http_server *srv, weft__conn *c)
{
    c->next = srv->conns;
    if (srv->conns) srv->conns->prev = c;
    else srv->conns_tail = c;
    srv->conns = c;
}

/* The descriptors kept free of connections, for the rest of the program
 * (files to serve, DNS, databases): 1/64 of the limit, at least 16. */
static unsigned long fd_reserve(unsigned long nofile)
{
    return nofile / 64 > 16 ? nofile / 64 : 16;
}

/* Closes idle connections (those waiting for a request) to make room, the
 * longest idle first, never keep. An idle connection loses nothing it was
 * promised: it has had every answer, or has not asked yet. */
static void shed_idle(weft_http_server *srv, const weft__conn *keep)
{
    size_t n = srv->nconns / 8;
    if (n > SHED_MAX) n = SHED_MAX;
    if (n < 1) n = 1;
    for (weft__conn *c = srv->conns_tail; c && n; c = c->prev)
        if (c != keep && c->state == C_IDLE && !c->shed && !c->timed_out) {
            c->shed = 1;
            weft_stream_shutdown_now(c->s, WEFT_READABLE);
            n--;
        }
}

void weft__conn_join(weft_http_server *srv, weft__conn *c)
{
    c->accepted = weft_now();
    push_front(srv, c);
    srv->nconns++;
    int fd = weft_stream_fd(c->s), lowat = NOTSENT_LOWAT;
    setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat); /* not TCP: no matter */
    /* This one took the last slot (the acceptor now pauses) or one of the
     * last descriptors (descriptors go lowest first: fd tells how many are
     * in use): make room while it is cheap. */
    if (srv->nconns >= srv->o.max_conns ||
        (srv->nofile && (unsigned long)fd >= srv->nofile - fd_reserve(srv->nofile)))
        shed_idle(srv, c);
}

void weft__conn_leave(weft_http_server *srv, weft__conn *c)
{
    unlink_conn(srv, c);
    srv->nconns--;
}

void weft__conn_idle(weft__conn *c, double until)
{
    weft_http_server *srv = c->srv;
    c->state = C_IDLE;
    c->idle_due = until;
    /* After a response, the reaper looks at unsent data once the write
     * timeout has passed, before the idle time ends (see the reaper). */
    c->deadline = c->nreq ? fmin(until, weft_now() + srv->o.body_timeout_s) : until;
    if (srv->conns != c) {
        unlink_conn(srv, c);
        push_front(srv, c);
    }
}

/* ---- the reaper ------------------------------------------------------------------ */

/* Ends a connection whose write is stalled with a reset: a graceful close
 * would leave its unsent data queued behind the FIN (FIN-WAIT-1) for as
 * long as the kernel keeps probing a closed window. Shutting down both
 * ways wakes the task (its write fails, its read ends); the reset comes
 * when the stream is closed. */
static void reset_conn(weft__conn *c)
{
    struct linger lg = {1, 0};
    setsockopt(weft_stream_fd(c->s), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    weft_stream_shutdown_now(c->s, WEFT_READABLE | WEFT_WRITABLE);
}

/* Response bytes the kernel has not yet sent: what a client that does not
 * read leaves behind. 0 where it cannot tell (not TCP). */
static int unsent_bytes(weft__conn *c)
{
    int n = 0;
    if (ioctl(weft_stream_fd(c->s), SIOCOUTQNSD, &n) < 0) return 0;
    return n;
}

/* Out of descriptors, or close to it: the lowest free one (what the next
 * accept would get) is in the reserve. EMFILE on accept makes the
 * acceptor back off and retry, so room made here lets it go on. */
static int fds_short(weft_http_server *srv)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        srv->nofile = rl.rlim_cur == RLIM_INFINITY ? 0 : (unsigned long)rl.rlim_cur;
    if (!srv->nofile || !srv->conns) return 0;
    int fd = fcntl(weft_stream_fd(srv->conns->s), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return errno == EMFILE;
    close(fd); /* never registered with the loop: a plain close */
    return (unsigned long)fd >= srv->nofile - fd_reserve(srv->nofile);
}

static void reap(weft__conn *c, double now)
{
    if (c->state == C_IDLE && c->nreq) {
        /* Data still unsent after the write timeout is a stalled write,
         * not idle time. */
        if (unsent_bytes(c) > 0) {
            c->timed_out = 1;
            reset_conn(c);
            return;
        }
        if (c->deadline < c->idle_due) {
            c->deadline = c->idle_due; /* all sent: idle time proper */
            if (now <= c->deadline) return;
        }
    }
    c->timed_out = 1;
    if (c->state == C_WRITE) reset_conn(c);
    else weft_stream_shutdown_now(c->s, WEFT_READABLE);
}

int weft__reaper(void *arg)
{
    weft_http_server *srv = arg;
    /* A tick of a quarter of the shortest timeout keeps them within 25%. */
    double tick = fmin(fmin(srv->o.header_timeout_s, srv->o.keepalive_s),
                       fmin(srv->o.body_timeout_s, srv->o.body_total_s)) / 4;
    if (tick > 0.5) tick = 0.5;
    while (weft_sleep(tick) == 0) {
        double now = weft_now();
        for (weft__conn *c = srv->conns, *next; c; c = next) {
            next = c->next;
            if (c->state != C_HANDLER && now > c->deadline && !c->timed_out) reap(c, now);
        }
        if (srv->nconns >= srv->o.max_conns || fds_short(srv)) shed_idle(srv, NULL);
    }
    return 0;
}
