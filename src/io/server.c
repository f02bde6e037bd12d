/* Servers: weft_tcp_serve (asyncio.start_server) and weft_unix_serve.
 *
 * One acceptor task per listening socket; each accepted connection becomes a
 * stream and a detached task running the handler, which the server tracks so
 * that closing can wait for it or cancel it.
 *
 * Accept errors: EMFILE/ENFILE (out of descriptors) and ENOBUFS/ENOMEM leave
 * the connection in the kernel's backlog, so the listening socket stays
 * readable and a naive loop would spin at 100% CPU. The acceptor sleeps
 * instead (10 ms, doubling up to 200 ms while the shortage lasts) and tries
 * again: the server resumes by itself as soon as descriptors are freed, and
 * the waiting clients are served then rather than dropped.
 *
 * Several loops: unless asked for one loop, the server made in a run of
 * several loops is a server on the caller's loop plus a shard on each
 * other loop (made there with weft_call): each is a whole server of its
 * own loop (acceptors, connections, wait lists: nothing shared, no lock),
 * listening with SO_REUSEPORT on the same port (the kernel spreads
 * connections by a hash of the addresses), or, for a Unix socket, on a
 * duplicate of the one listening socket. Closing closes the shards, each
 * on its loop, at the same time as the caller's. */
#define _GNU_SOURCE
#include "io_internal.h"
#include "weft/debug.h"
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LISTENERS 8
#define CONNS_DEFAULT 10000
#define BACKLOG_DEFAULT 511
#define BACKOFF_MIN 0.01
#define BACKOFF_MAX 0.2
#define CLOSE_LINGER_S 10.0 /* how long a finished handler's stream may drain */
#define LINGER_READ_S 2.0   /* how long unread input is drained after that */
#define TLS_HANDSHAKE_S 60.0 /* default TLS handshake limit (asyncio's) */

typedef struct conn {
    struct weft_server *srv;
    weft_stream *s;
    weft_task *task;
    struct conn *prev, *next;
} conn;

struct weft_server {
    int lfd[MAX_LISTENERS];
    weft_task *acceptor[MAX_LISTENERS];
    int nl;
    int is_tcp;
    char *path; /* Unix socket file to remove at close */
    weft_handler handler;
    void *arg;
    weft_tls_ctx *tls;
    double tls_handshake_s;
    size_t max_conns, nconns;
    conn *conns;
    weft__wlist room;  /* acceptors waiting under max_conns */
    weft__wlist idle;  /* weft_server_close waiting for nconns == 0 */
    int closing;
    size_t idle_target; /* close waits for nconns to fall to this (1: closed
                           from one of its own handlers) */
    int orphaned;       /* closed from a handler: the last connection frees it */
    weft_loop *home;
    struct weft_server **shards; /* on the other loops; NULL: none */
    int nshards;
};

static void server_free(weft_server *srv);

/* ---- connections -------------------------------------------------------------- */

/* A client that keeps sending makes these reads complete without ever
 * waiting: every 64 KiB the loop gets a turn (a timer, so that it also
 * polls for other clients' I/O, which a weft_yield would not promise). */
static int discard_input(void *arg)
{
    char buf[4096];
    size_t since_turn = 0;
    ssize_t n;
    while ((n = weft_stream_read(arg, buf, sizeof buf)) > 0) {
        since_turn += (size_t)n;
        if (since_turn >= 65536) {
            since_turn = 0;
            if (weft_sleep(1e-6) < 0) break;
        }
    }
    return 0;
}

/* Closing a socket with unread input makes the kernel send a reset, and a
 * reset can destroy the reply still in flight to the client (a client that
 * sent more than the handler read: a line over the limit, a pipelined
 * request). So, as nginx's lingering close: send everything, end our side,
 * and read and drop the client's input until it closes too, for a while. */
static int close_conn(void *arg)
{
    weft_stream *s = arg;
    int unread = 0;
    if (weft_stream_drain(s) == 0 && !s->eof && !s->rerr)
        unread = weft_stream_buffered(s) || (ioctl(s->fd, FIONREAD, &unread) == 0 && unread > 0);
    if (unread && weft_stream_shutdown(s) == 0) weft_timeout(LINGER_READ_S, discard_input, s);
    return weft_stream_close(s);
}

/* The handshake runs before the handler, so the handler's own timeouts
 * cannot cover a client that connects and stalls: the server bounds it. */
static int tls_accept(void *arg)
{
    conn *c = arg;
    return weft_stream_start_tls(c->s, c->srv->tls, NULL);
}

static int conn_main(void *arg)
{
    conn *c = arg;
    weft_server *srv = c->srv;
    int r = 0;
    if (srv->tls)
        r = weft_stream_start_tls ? weft_timeout(srv->tls_handshake_s, tls_accept, c) : -ENOSYS;
    /* Held, so that a handler may close or abort the stream itself. */
    weft__stream_enter(c->s);
    if (r == 0) r = srv->handler(c->s, srv->arg);
    int dead = c->s->dead;
    weft__stream_leave(c->s);
    /* A handler that returns has said all it will: let the rest drain, for a
     * while; a cancelled one gets its stream reset at once. */
    if (dead) {
    } else if (weft_cancelled()) {
        weft_stream_abort(c->s);
    } else {
        weft_timeout(CLOSE_LINGER_S, close_conn, c->s);
    }
    if (c->prev) c->prev->next = c->next; else srv->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    /* One writer (this loop); weft_server_connections may read it from
     * the server's home loop. */
    __atomic_store_n(&srv->nconns, srv->nconns - 1, __ATOMIC_RELAXED);
    weft__wake_first(&srv->room, 0);
    if (srv->nconns <= srv->idle_target) weft__wl_wake_all(&srv->idle, 0);
    free(c);
    if (srv->orphaned && !srv->nconns) server_free(srv); /* closed by its own handler */
    (void)r; /* a handler's result has no reader: errors are its to report */
    return 0;
}

static int conn_start(weft_server *srv, int fd)
{
    conn *c = calloc(1, sizeof *c);
    if (!c) return -ENOMEM;
    c->srv = srv;
    c->s = weft__stream_new(fd, 1);
    c->task = c->s ? weft_spawn_named("weft connection", conn_main, c) : NULL;
    if (!c->task) {
        if (c->s) weft__stream_free(c->s);
        free(c);
        return -ENOMEM;
    }
    weft_detach(c->task);
    c->next = srv->conns;
    if (srv->conns) srv->conns->prev = c;
    srv->conns = c;
    __atomic_store_n(&srv->nconns, srv->nconns + 1, __ATOMIC_RELAXED);
    return 0;
}

/* ---- accepting ---------------------------------------------------------------- */

static int out_of_resources(int e)
{
    return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

static int acceptor_main(void *arg)
{
    weft_server *srv = arg;
    int idx = 0;
    while (idx < srv->nl && srv->acceptor[idx] != weft_current()) idx++;
    int lfd = srv->lfd[idx];
    weft_fd_keep(lfd); /* closed by server_free with weft_close */
    double backoff = BACKOFF_MIN;
    while (!srv->closing) {
        if (srv->nconns >= srv->max_conns) {
            int r = weft__wait(&srv->room, WAIT_ROOM, -1, INFINITY, 0, 1);
            if (r < 0) return r;
            continue;
        }
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            backoff = BACKOFF_MIN;
            if (srv->is_tcp) weft__nodelay(fd);
            if (conn_start(srv, fd) < 0) {
                close(fd);
                int r = weft_sleep(backoff);
                if (r < 0) return r;
            }
            continue;
        }
        int e = errno;
        int r = 0;
        if (e == EAGAIN || e == EWOULDBLOCK) {
            r = weft_wait_fd(lfd, WEFT_READABLE);
        } else if (out_of_resources(e)) {
            r = weft_sleep(backoff);
            backoff = weft__backoff(backoff, BACKOFF_MAX);
        } else if (e != EINTR && e != ECONNABORTED && e != EPROTO && e != EPERM) {
            /* Unexpected (EBADF after close, EINVAL): stop this listener. */
            return -e;
        }
        if (r < 0) return r;
    }
    return 0;
}

/* ---- starting and stopping ------------------------------------------------------ */

static weft_server *server_new(weft_handler handler, void *arg, const weft_serve_opts *opt)
{
    weft_server *srv = calloc(1, sizeof *srv);
    if (!srv) return NULL;
    srv->handler = handler;
    srv->arg = arg;
    srv->max_conns = opt && opt->max_conns ? opt->max_conns : CONNS_DEFAULT;
    srv->tls = opt ? opt->tls : NULL;
    srv->tls_handshake_s = opt && opt->tls_handshake_s > 0 ? opt->tls_handshake_s : TLS_HANDSHAKE_S;
    srv->home = weft_loop_current();
    weft_debug_track_at(srv, "server", WEFT_DEBUG_CALLER); /* debug: reported if never closed */
    return srv;
}

static void server_free(weft_server *srv)
{
    weft_debug_untrack(srv); /* a server that failed to start was tracked too */
    free(srv->shards);
    for (int i = 0; i < srv->nl; i++) weft_close(srv->lfd[i]);
    if (srv->path && srv->nl) unlink(srv->path); /* else close did */
    free(srv->path);
    free(srv);
}

/* Starts one acceptor per listener; NULL and errno on failure (srv freed). */
static weft_server *server_start(weft_server *srv)
{
    for (int i = 0; i < srv->nl; i++) {
        srv->acceptor[i] = weft_spawn_named("weft acceptor", acceptor_main, srv);
        if (!srv->acceptor[i]) {
            int e = errno;
            for (int j = 0; j < i; j++) {
                weft_cancel(srv->acceptor[j]);
                weft_await(srv->acceptor[j]);
            }
            server_free(srv);
            errno = e;
            return NULL;
        }
    }
    weft_debug_track_at(srv, "server", WEFT_DEBUG_CALLER); /* debug: reported if never closed */
    return srv;
}

/* The last failure's whole code on this thread, for weft_tcp_start_server. */
static __thread int serve_err;

/* errno gets an errno value only: weft's own codes (a name that does not
 * resolve) have no meaning there, so they become the nearest one (no
 * address to listen on; try again) and the code itself goes to the int
 * constructor. */
static weft_server *fail(weft_server *srv, int err)
{
    if (srv) server_free(srv);
    serve_err = err;
    errno = -err < WEFT_ERRBASE ? -err : err == -WEFT_EDNSAGAIN ? EAGAIN : EADDRNOTAVAIL;
    return NULL;
}

/* ---- several loops --------------------------------------------------------------- */

typedef struct shard_args {
    const char *host;
    int port;
    int ufd;             /* a Unix server's listening socket, to duplicate; else -1 */
    weft_handler handler;
    void *arg;
    weft_serve_opts so;  /* one_loop, and reuseport for TCP */
    weft_server *out;
} shard_args;

static int want_shards(const weft_serve_opts *opt)
{
    return weft_loop_count() > 1 && !(opt && opt->one_loop);
}

/* On the shard's loop. */
static int shard_start(void *arg)
{
    shard_args *a = arg;
    if (a->ufd < 0) {
        a->out = weft_tcp_serve_with(a->host, a->port, a->handler, a->arg, &a->so);
        return a->out ? 0 : -errno;
    }
    int fd = fcntl(a->ufd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return -errno;
    weft_server *srv = server_new(a->handler, a->arg, &a->so);
    if (!srv) {
        close(fd);
        return -ENOMEM;
    }
    srv->lfd[srv->nl++] = fd;
    a->out = server_start(srv);
    return a->out ? 0 : -errno;
}

/* Gives srv (just made on the caller's loop) a shard on every other loop.
 * srv, or NULL and errno (srv and the shards made then closed). */
static weft_server *spread(weft_server *srv, shard_args *a)
{
    if (!srv) return NULL;
    int n = weft_loop_count(), me = weft_loop_index(weft_loop_current()), r = 0;
    srv->shards = calloc((size_t)n, sizeof *srv->shards);
    if (!srv->shards) r = -ENOMEM;
    for (int i = 0; i < n && r == 0; i++)
        if (i != me && (r = weft_call(weft_loop_at(i), shard_start, a)) == 0)
            srv->shards[srv->nshards++] = a->out;
    if (r < 0) {
        weft_server_close(srv, 0);
        errno = -r;
        return NULL;
    }
    return srv;
}

typedef struct shard_close_args {
    weft_server *srv;
    double grace_s;
} shard_close_args;

static int shard_close(void *arg)
{
    shard_close_args *a = arg;
    return weft_server_close(a->srv, a->grace_s);
}

/* Closes srv's shards, each on its loop, while fn(srv) runs here. */
static int close_all(weft_server *srv, double grace_s, int (*fn)(weft_server *, double))
{
    int n = srv->nshards;
    weft_server **sh = srv->shards; /* fn frees srv */
    srv->shards = NULL;
    srv->nshards = 0;
    shard_close_args *a = calloc((size_t)n, sizeof *a);
    weft_task **t = calloc((size_t)n, sizeof *t);
    for (int i = 0; a && t && i < n; i++) {
        a[i] = (shard_close_args){sh[i], grace_s};
        t[i] = weft_spawn_on(sh[i]->home, shard_close, &a[i]);
    }
    int rc = fn(srv, grace_s);
    for (int i = 0; i < n; i++) {
        if (a && t && t[i]) {
            weft_await(t[i]); /* a cancelled caller: cancels it and waits for its end */
        } else { /* no memory for the parallel close: one at a time */
            shard_close_args one = {sh[i], 0};
            weft_call(sh[i]->home, shard_close, &one);
        }
    }
    free(a);
    free(t);
    free(sh);
    return rc;
}

static int port_of(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) return ntohs(((const struct sockaddr_in *)ss)->sin_port);
    if (ss->ss_family == AF_INET6) return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
    return -1;
}

weft_server *weft_tcp_serve_with(const char *host, int port, weft_handler handler, void *arg,
                                 const weft_serve_opts *opt)
{
    if (weft_check("weft_tcp_serve") == -EPERM) return fail(NULL, -EPERM);
    if (!handler || port < 0 || port > 65535) return fail(NULL, -EINVAL);
    if (want_shards(opt)) {
        shard_args a = {.host = host, .ufd = -1, .handler = handler, .arg = arg};
        if (opt) a.so = *opt;
        a.so.one_loop = a.so.reuseport = 1;
        weft_server *srv = weft_tcp_serve_with(host, port, handler, arg, &a.so);
        a.port = port || !srv ? port : weft_server_port(srv);
        srv = spread(srv, &a);
        weft_debug_track_at(srv, "server", WEFT_DEBUG_CALLER);
        return srv;
    }
    weft_server *srv = server_new(handler, arg, opt);
    if (!srv) return fail(NULL, -ENOMEM);
    srv->is_tcp = 1;
    struct addrinfo *ai = NULL;
    int r = weft_resolve(host, port, AF_UNSPEC, SOCK_STREAM, &ai);
    if (r < 0) return fail(srv, r);
    int backlog = opt && opt->backlog > 0 ? opt->backlog : BACKLOG_DEFAULT;
    int err = 0;
    for (struct addrinfo *a = ai; a && srv->nl < MAX_LISTENERS; a = a->ai_next) {
        /* Port 0: the first listener's port is used for the others, so that
         * IPv4 and IPv6 answer on one port. */
        if (srv->nl && !port) {
            struct sockaddr_storage ss;
            socklen_t len = sizeof ss;
            getsockname(srv->lfd[0], (struct sockaddr *)&ss, &len);
            int p = port_of(&ss);
            if (a->ai_family == AF_INET) ((struct sockaddr_in *)a->ai_addr)->sin_port = htons((uint16_t)p);
            else if (a->ai_family == AF_INET6) ((struct sockaddr_in6 *)a->ai_addr)->sin6_port = htons((uint16_t)p);
        }
        int fd = weft__listen_on(a->ai_addr, a->ai_addrlen, backlog, opt && opt->reuseport);
        if (fd >= 0) srv->lfd[srv->nl++] = fd;
        else if (!err || (fd != -EAFNOSUPPORT && fd != -EADDRNOTAVAIL)) err = fd;
    }
    weft_addrinfo_free(ai);
    /* A host without IPv6 still serves IPv4: only an error on every
     * address, or a real one (EADDRINUSE), fails. */
    if (!srv->nl || (err && err != -EAFNOSUPPORT && err != -EADDRNOTAVAIL))
        return fail(srv, err ? err : -EADDRNOTAVAIL);
    srv = server_start(srv);
    weft_debug_track_at(srv, "server", WEFT_DEBUG_CALLER); /* the user's call, not ours */
    return srv;
}

weft_server *weft_tcp_serve(const char *host, int port, weft_handler handler, void *arg)
{
    weft_server *srv = weft_tcp_serve_with(host, port, handler, arg, NULL);
    weft_debug_track_at(srv, "server", WEFT_DEBUG_CALLER); /* the user's call, not ours */
    return srv;
}

int weft_tcp_start_server(const char *host, int port, weft_handler handler, void *arg,
                          const weft_serve_opts *opt, weft_server **out)
{
    if (!out) return -EINVAL;
    serve_err = 0;
    *out = weft_tcp_serve_with(host, port, handler, arg, opt);
    if (!*out) return serve_err ? serve_err : -errno;
    weft_debug_track_at(*out, "server", WEFT_DEBUG_CALLER); /* the user's call, not ours */
    return 0;
}

weft_server *weft_unix_serve(const char *path, weft_handler handler, void *arg,
                             const weft_serve_opts *opt)
{
    if (weft_check("weft_unix_serve") == -EPERM) return fail(NULL, -EPERM);
    struct sockaddr_un sun;
    int len = weft__unix_addr(path, &sun);
    if (len < 0 || !handler) return fail(NULL, len < 0 ? len : -EINVAL);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) return fail(NULL, -EADDRINUSE); /* never remove a file */
        unlink(path);
    }
    weft_server *srv = server_new(handler, arg, opt);
    if (!srv || !(srv->path = strdup(path))) {
        free(srv);
        return fail(NULL, -ENOMEM);
    }
    int backlog = opt && opt->backlog > 0 ? opt->backlog : BACKLOG_DEFAULT;
    int fd = weft__listen_on((struct sockaddr *)&sun, (socklen_t)len, backlog, 0);
    if (fd < 0) {
        free(srv->path);
        srv->path = NULL; /* not ours to remove */
        return fail(srv, fd);
    }
    srv->lfd[srv->nl++] = fd;
    srv = server_start(srv);
    if (srv && want_shards(opt)) {
        shard_args a = {.ufd = fd, .handler = handler, .arg = arg};
        if (opt) a.so = *opt;
        a.so.one_loop = 1;
        srv = spread(srv, &a);
    }
    weft_debug_track_at(srv, "server", WEFT_DEBUG_CALLER);
    return srv;
}

int weft_server_port(const weft_server *srv)
{
    if (!srv || !srv->nl) return -EINVAL;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(srv->lfd[0], (struct sockaddr *)&ss, &len) < 0) return -errno;
    return port_of(&ss);
}

size_t weft_server_connections(const weft_server *srv)
{
    if (!srv) return 0;
    size_t n = srv->nconns;
    for (int i = 0; i < srv->nshards; i++) n += __atomic_load_n(&srv->shards[i]->nconns, __ATOMIC_RELAXED);
    return n;
}

static int close_here(weft_server *srv, double grace_s);

int weft_server_close(weft_server *srv, double grace_s)
{
    if (!srv) return 0;
    int rc = weft_check("weft_server_close");
    if (rc == -EPERM) return rc;
    int x = weft__check_home(srv->home, "weft_server_close");
    if (x) return x;
    return srv->nshards ? close_all(srv, grace_s, close_here) : close_here(srv, grace_s);
}

static int close_here(weft_server *srv, double grace_s)
{
    /* A cancelled caller (or one past its deadline) still closes and frees
     * the server, but grants no grace period and gets the error back. */
    int rc = weft_check("weft_server_close");
    weft_debug_untrack(srv);
    srv->closing = 1;
    for (int i = 0; i < srv->nl; i++) {
        weft_cancel(srv->acceptor[i]);
        weft_await(srv->acceptor[i]);
    }
    /* Stop accepting at once: pending connections in the backlog are reset. */
    for (int i = 0; i < srv->nl; i++) weft_close(srv->lfd[i]);
    srv->nl = 0;
    if (srv->path) unlink(srv->path);
    /* A handler may close its own server (a "shutdown" command): it is then
     * neither waited for nor cancelled, and frees the server as it ends. */
    conn *self = NULL;
    for (conn *c = srv->conns; c; c = c->next)
        if (c->task == weft_current()) self = c;
    srv->idle_target = self ? 1 : 0;
    if (rc == 0 && srv->nconns > srv->idle_target && grace_s > 0) {
        /* Our own grace ending returns 0; the caller's deadline -ETIMEDOUT. */
        rc = weft__wait(&srv->idle, WAIT_CONNS, -1, weft_now() + grace_s, 0, 1);
    }
    /* Whatever happened to the caller, no handler may outlive the server. */
    for (conn *c = srv->conns; c; c = c->next)
        if (c != self) weft_cancel(c->task);
    while (srv->nconns > srv->idle_target) weft__wait(&srv->idle, WAIT_CONNS, -1, INFINITY, 0, 0);
    if (self) srv->orphaned = 1;
    else server_free(srv);
    return rc < 0 ? rc : 0;
}
