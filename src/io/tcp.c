/* Client connections: weft_tcp_connect (asyncio.open_connection) and
 * weft_unix_connect.
 *
 * Addresses of one family are tried in the order the resolver gives them
 * (getaddrinfo already sorts them by RFC 6724), one at a time; with both
 * families they race (Happy Eyeballs, RFC 8305: a host whose IPv6 route is
 * broken would otherwise cost every client a connect timeout). The whole
 * attempt (DNS, each address, TLS) runs under opt->timeout_s, and any
 * enclosing weft_timeout or cancellation ends it where it is. */
#define _GNU_SOURCE
#include "io_internal.h"
#include "weft/debug.h"
#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct connect_req {
    const char *host, *path;
    int port;
    const weft_connect_opts *opt;
    weft_stream **out;
} connect_req;

/* Failures that only say "not this address": a later error says more. */
static int weak_error(int e)
{
    return e == -EAFNOSUPPORT || e == -EADDRNOTAVAIL || e == -ENETUNREACH || e == -EHOSTUNREACH;
}

static void trace(const connect_req *rq, int phase, const struct sockaddr *sa, int err)
{
    if (rq->opt && rq->opt->trace) rq->opt->trace(rq->opt->trace_arg, phase, sa, err);
}

/* Wraps a connected socket and runs the TLS handshake if asked. */
static int finish(int fd, int is_tcp, const connect_req *rq, const char *name)
{
    if (is_tcp) weft__nodelay(fd);
    weft_stream *s = weft__stream_new(fd, 1);
    if (!s) {
        weft_close(fd);
        return -ENOMEM;
    }
    const weft_connect_opts *o = rq->opt;
    if (o && o->tls) {
        trace(rq, WEFT_CONNECT_TLS_START, NULL, 0);
        int r = weft_stream_start_tls ? weft_stream_start_tls(s, o->tls, o->server_name ? o->server_name : name)
                                      : -ENOSYS;
        trace(rq, WEFT_CONNECT_TLS_END, NULL, r < 0 ? r : 0);
        if (r < 0) {
            weft_stream_abort(s);
            return r;
        }
    }
    *rq->out = s;
    return 0;
}

/* Keeps the error that says most: the first, unless it only said "not
 * this family" and a later one says more. */
static void keep_error(int *err, int r, int first)
{
    if (first || (weak_error(*err) && !weak_error(r))) *err = r;
}

/* One address, one at a time: 0 and *fd, or its error. */
static int try_one(const connect_req *rq, const struct addrinfo *a, int *fd)
{
    trace(rq, WEFT_CONNECT_TCP_START, a->ai_addr, 0);
    *fd = weft__socket(a->ai_family, SOCK_STREAM);
    int r = *fd < 0 ? *fd : weft__connect_fd(*fd, a->ai_addr, a->ai_addrlen);
    trace(rq, WEFT_CONNECT_TCP_END, a->ai_addr, r);
    if (r < 0 && *fd >= 0) weft_close(*fd);
    if (r < 0) *fd = -1;
    return r;
}

static int sequential(const connect_req *rq, struct addrinfo *ai, int *fd)
{
    int err = -ECONNREFUSED;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        int r = try_one(rq, a, fd);
        if (r == 0) return 0;
        keep_error(&err, r, a == ai);
        if (r == -ECANCELED || r == -ETIMEDOUT) return r;
    }
    return err;
}

/* ---- Happy Eyeballs (RFC 8305) ---- */

#define HE_MAX 16 /* addresses raced; more is a misconfigured name */

typedef struct attempt {
    const connect_req *rq;
    const struct addrinfo *a;
    int fd;               /* the connected socket, set by a winner only */
} attempt;

static int attempt_main(void *arg)
{
    attempt *at = arg;
    int fd, r = try_one(at->rq, at->a, &fd);
    if (r == 0) at->fd = fd;
    return r;
}

/* Addresses with both families alternate, the resolver's first family
 * first (RFC 8305 4); n gets their count. */
static int interleave(struct addrinfo *ai, const struct addrinfo **out)
{
    const struct addrinfo *first[HE_MAX], *other[HE_MAX];
    int nf = 0, no = 0, n = 0;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        if (a->ai_family == ai->ai_family && nf < HE_MAX) first[nf++] = a;
        else if (a->ai_family != ai->ai_family && no < HE_MAX) other[no++] = a;
    }
    for (int i = 0; (i < nf || i < no) && n < HE_MAX; i++) {
        if (i < nf) out[n++] = first[i];
        if (i < no && n < HE_MAX) out[n++] = other[i];
    }
    return n;
}

/* Races the addresses: each attempt is a task of its own, the next one
 * started after delay (or at once when the last failed); the first socket
 * to connect wins and the others are cancelled (a second winner in the
 * same instant is closed). */
static int race(const connect_req *rq, struct addrinfo *ai, double delay, int *fd)
{
    const struct addrinfo *addrs[HE_MAX];
    int n = interleave(ai, addrs), started = 0, nlive = 0, err = -ECONNREFUSED, nerr = 0;
    attempt at[HE_MAX];
    weft_task *live[HE_MAX];
    int live_at[HE_MAX];
    *fd = -1;
    int r = 0;
    for (;;) {
        if (nlive == 0 && started < n) {
            /* start the next one now */
        } else if (nlive == 0) {
            break; /* every address failed */
        } else {
            int idx = weft_wait_any(live, (size_t)nlive, started < n ? delay : -1);
            if (idx == -ETIMEDOUT && weft_check(NULL) == 0) {
                idx = -1; /* the delay passed: one more attempt alongside */
            } else if (idx < 0) {
                r = idx; /* cancelled, or the caller's deadline */
                break;
            }
            if (idx >= 0) {
                int k = live_at[idx];
                int res = weft_await(live[idx]);
                live[idx] = live[nlive - 1], live_at[idx] = live_at[nlive - 1];
                nlive--;
                if (res == 0) {
                    *fd = at[k].fd;
                    break;
                }
                keep_error(&err, res, nerr++ == 0);
                continue; /* a failure starts the next attempt at once */
            }
        }
        if (started == n) continue;
        at[started] = (attempt){rq, addrs[started], -1};
        weft_task *t = weft_spawn_named("happy eyeballs", attempt_main, &at[started]);
        if (!t) {
            r = -errno;
            break;
        }
        live[nlive] = t, live_at[nlive++] = started++;
    }
    /* The losers: cancelled and awaited (their memory is on this stack). */
    for (int i = 0; i < nlive; i++) weft_cancel(live[i]);
    for (int i = 0; i < nlive; i++) {
        weft_await(live[i]);
        if (at[live_at[i]].fd >= 0) weft_close(at[live_at[i]].fd);
    }
    if (*fd >= 0) return 0;
    return r ? r : err;
}

static int tcp_body(void *arg)
{
    connect_req *rq = arg;
    struct addrinfo *ai = NULL;
    const weft_connect_opts *o = rq->opt;
    int family = o ? o->family : AF_UNSPEC;
    unsigned char bin[sizeof(struct in6_addr)];
    int numeric = inet_pton(AF_INET, rq->host, bin) == 1 || inet_pton(AF_INET6, rq->host, bin) == 1;
    if (!numeric) trace(rq, WEFT_CONNECT_DNS_START, NULL, 0);
    int r = weft__resolve_ttl(rq->host, rq->port, family, SOCK_STREAM, o ? o->dns_ttl_s : 0, &ai);
    if (!numeric) trace(rq, WEFT_CONNECT_DNS_END, NULL, r < 0 ? r : 0);
    if (r < 0) return r;
    int both = 0;
    for (struct addrinfo *a = ai->ai_next; a && !both; a = a->ai_next)
        both = a->ai_family != ai->ai_family;
    double delay = o && o->happy_eyeballs_delay_s ? o->happy_eyeballs_delay_s : 0.25;
    int fd;
    r = both && delay >= 0 ? race(rq, ai, delay, &fd) : sequential(rq, ai, &fd);
    weft_addrinfo_free(ai);
    return r < 0 ? r : finish(fd, 1, rq, rq->host);
}

static int unix_body(void *arg)
{
    connect_req *rq = arg;
    struct sockaddr_un sun;
    int len = weft__unix_addr(rq->path, &sun);
    if (len < 0) return len;
    int fd = weft__socket(AF_UNIX, SOCK_STREAM);
    if (fd < 0) return fd;
    int r = weft__connect_fd(fd, (struct sockaddr *)&sun, (socklen_t)len);
    if (r < 0) {
        weft_close(fd);
        return r;
    }
    return finish(fd, 0, rq, NULL);
}

static int run(weft_fn body, connect_req *rq)
{
    if (!rq->out) return -EINVAL;
    *rq->out = NULL;
    double t = rq->opt ? rq->opt->timeout_s : 0;
    return t > 0 ? weft_timeout(t, body, rq) : body(rq);
}

int weft_tcp_connect(const char *host, int port, const weft_connect_opts *opt, weft_stream **out)
{
    int e = weft_check("weft_tcp_connect");
    if (e) {
        if (out) *out = NULL;
        return e;
    }
    if (!host || !*host || port <= 0 || port > 65535) return -EINVAL;
    connect_req rq = {.host = host, .port = port, .opt = opt, .out = out};
    int r = run(tcp_body, &rq);
    if (r >= 0) weft_debug_track_at(*out, "stream", WEFT_DEBUG_CALLER); /* the user's call site */
    return r;
}

int weft_unix_connect(const char *path, const weft_connect_opts *opt, weft_stream **out)
{
    int e = weft_check("weft_unix_connect");
    if (e) {
        if (out) *out = NULL;
        return e;
    }
    connect_req rq = {.path = path, .opt = opt, .out = out};
    int r = run(unix_body, &rq);
    if (r >= 0) weft_debug_track_at(*out, "stream", WEFT_DEBUG_CALLER);
    return r;
}
