/* Client connections: weft_tcp_connect (asyncio.open_connection) and
 * weft_unix_connect.
 *
 * Addresses are tried in the order the resolver gives them (getaddrinfo
 * already sorts them by RFC 6724), one at a time; the whole attempt (DNS,
 * each address, TLS) runs under opt->timeout_s, and any enclosing
 * weft_timeout or cancellation ends it where it is. Happy Eyeballs (racing
 * IPv6 against IPv4) is not done. */
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

static int tcp_body(void *arg)
{
    connect_req *rq = arg;
    struct addrinfo *ai = NULL;
    int family = rq->opt ? rq->opt->family : AF_UNSPEC;
    unsigned char bin[sizeof(struct in6_addr)];
    int numeric = inet_pton(AF_INET, rq->host, bin) == 1 || inet_pton(AF_INET6, rq->host, bin) == 1;
    if (!numeric) trace(rq, WEFT_CONNECT_DNS_START, NULL, 0);
    int r = weft_resolve(rq->host, rq->port, family, SOCK_STREAM, &ai);
    if (!numeric) trace(rq, WEFT_CONNECT_DNS_END, NULL, r < 0 ? r : 0);
    if (r < 0) return r;
    int err = -ECONNREFUSED;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        trace(rq, WEFT_CONNECT_TCP_START, a->ai_addr, 0);
        int fd = weft__socket(a->ai_family, SOCK_STREAM);
        r = fd < 0 ? fd : weft__connect_fd(fd, a->ai_addr, a->ai_addrlen);
        trace(rq, WEFT_CONNECT_TCP_END, a->ai_addr, r);
        if (r == 0) {
            weft_addrinfo_free(ai);
            return finish(fd, 1, rq, rq->host);
        }
        if (fd >= 0) weft_close(fd);
        if (a == ai || (weak_error(err) && !weak_error(r))) err = r;
        if (r == -ECANCELED || r == -ETIMEDOUT) {
            err = r;
            break;
        }
    }
    weft_addrinfo_free(ai);
    return err;
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
