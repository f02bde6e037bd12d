/* Name lookups on the loop with c-ares: no threads, real cancellation.
 *
 * Each lookup has a channel of its own, driven by the task that asked: it
 * waits for the channel's sockets and its next timeout like any other
 * wait, so a cancelled or timed-out caller ends its query at once
 * (ares_destroy closes the sockets and drops the timers) and a name that
 * never answers costs one socket and one parked task, never a slot that a
 * later lookup needs. A channel per lookup rather than one per loop: c-ares
 * 1.18 cancels only a whole channel (ares_cancel fails every query on it),
 * and init re-reads /etc/resolv.conf, so edits to it apply to the next
 * lookup as they do for glibc. docs/design.md says when weft uses this and
 * when getaddrinfo (dns.c).
 *
 * A task waits on one thing at a time, and a channel may have several
 * sockets (one per name server tried, TCP after a truncated answer): each
 * socket gets a small watcher task that waits for it and wakes the lookup,
 * which waits on its own list with c-ares's next timeout as deadline.
 * Sockets are made and closed through c-ares's socket functions, so the
 * loop hears of every close (weft_close) and a watcher never waits on a
 * number already reused. */
#define _GNU_SOURCE
#include "dns_internal.h"
#include "core/wait.h"
#include <ares.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

typedef struct query query;

typedef struct watch {
    int fd, events, ready;
    weft_task *t;
    query *q;
} watch;

struct query {
    ares_channel ch;
    weft__wlist wl;
    watch w[ARES_GETSOCK_MAXNUM];
    int done, status;
    int sock_err;              /* errno of a socket c-ares could not open (EMFILE...) */
    struct addrinfo *res;      /* getaddrinfo: our copy */
    char *host;                /* getnameinfo: the caller's buffer */
    size_t hostlen;
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_rc;
static void lib_init(void) { lib_rc = ares_library_init(ARES_LIB_INIT_ALL); }

static int ares_err(int status)
{
    switch (status) {
    case ARES_SUCCESS: return 0;
    case ARES_ENOMEM: return -ENOMEM;
    case ARES_ETIMEOUT:
    case ARES_ESERVFAIL:
    case ARES_ECONNREFUSED:
    case ARES_EREFUSED: return -WEFT_EDNSAGAIN;
    /* An answer that does not parse (truncated, malformed): not "no such
     * name", which a caller may cache or show to a user as such. */
    case ARES_EBADRESP:
    case ARES_EFORMERR: return -EBADMSG;
    case ARES_EBADFAMILY:
    case ARES_EBADFLAGS:
    case ARES_EBADNAME: return -EINVAL;
    case ARES_ECANCELLED:
    case ARES_EDESTRUCTION: return -ECANCELED;
    default: return -WEFT_EDNS; /* ENOTFOUND, ENODATA, ENONAME, ... */
    }
}

/* ---- sockets, through the loop ---------------------------------------------------- */

/* c-ares reports a socket it could not open as a refused connection:
 * the errno is kept so that fd exhaustion reads as -EMFILE, as it does
 * everywhere else in weft, not as a temporary resolver failure. */
static ares_socket_t sock_open(int family, int type, int proto, void *u)
{
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (fd < 0) ((query *)u)->sock_err = errno;
    return fd;
}
static int sock_close(ares_socket_t fd, void *u) { return weft_close(fd) < 0 ? -1 : 0; }
static int sock_connect(ares_socket_t fd, const struct sockaddr *sa, ares_socklen_t n, void *u)
{
    return connect(fd, sa, n);
}
static ares_ssize_t sock_recvfrom(ares_socket_t fd, void *buf, size_t n, int flags,
                                  struct sockaddr *from, ares_socklen_t *fl, void *u)
{
    return recvfrom(fd, buf, n, flags, from, fl);
}
static ares_ssize_t sock_sendv(ares_socket_t fd, const struct iovec *iov, int n, void *u)
{
    struct msghdr m = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
    return sendmsg(fd, &m, MSG_NOSIGNAL);
}
static const struct ares_socket_functions sock_funcs = {sock_open, sock_close, sock_connect,
                                                        sock_recvfrom, sock_sendv};

/* resolv.conf's "timeout:" and "attempts:" (or RES_OPTIONS'), as glibc
 * reads them (defaults 5 s and 2, at most 30 s and 5): c-ares 1.18 ignores
 * both, and its own defaults (5 s, 4 tries, the timeout doubling each
 * round) give up on a dead server after 75 s where every other program on
 * the machine gives up after 10. */
static void opt_scan(const char *text, int *timeout_s, int *tries)
{
    const char *t = strstr(text, "timeout:"), *a = strstr(text, "attempts:");
    if (t) *timeout_s = atoi(t + 8);
    if (a) *tries = atoi(a + 9);
}

static void conf_options(int *timeout_ms, int *tries)
{
    int timeout_s = 5;
    *tries = 2;
    char line[512];
    FILE *f = fopen("/etc/resolv.conf", "re");
    if (f) {
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "options", 7)) opt_scan(line, &timeout_s, tries);
        fclose(f);
    }
    const char *env = getenv("RES_OPTIONS");
    if (env) opt_scan(env, &timeout_s, tries);
    timeout_s = timeout_s < 1 ? 1 : timeout_s > 30 ? 30 : timeout_s;
    *timeout_ms = timeout_s * 1000;
    *tries = *tries < 1 ? 1 : *tries > 5 ? 5 : *tries;
}

static int channel_open(query *q)
{
    pthread_once(&lib_once, lib_init);
    if (lib_rc != ARES_SUCCESS) return ares_err(lib_rc);
    struct ares_options o = {.lookups = (char *)"fb"};
    conf_options(&o.timeout, &o.tries);
    int rc = ares_init_options(&q->ch, &o, ARES_OPT_LOOKUPS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
    if (rc != ARES_SUCCESS) return ares_err(rc);
    ares_set_socket_functions(q->ch, &sock_funcs, q);
    return 0;
}

/* ---- the wait ------------------------------------------------------------------------ */

static int watcher_main(void *arg)
{
    watch *w = arg;
    int r = weft_wait_fd(w->fd, w->events);
    if (r > 0) {
        w->ready = r;
        weft__wake_first(&w->q->wl, 0);
    }
    return 0;
}

static void watch_stop(watch *w)
{
    weft_cancel(w->t); /* a no-op if it already ended */
    weft_await(w->t);  /* ends before w goes, even if we are cancelled */
    w->t = NULL;
}

/* Makes the watchers match the sockets c-ares wants watched now. Slots
 * stay put while their watcher runs: it holds a pointer to its slot. */
static int watch_sync(query *q)
{
    ares_socket_t socks[ARES_GETSOCK_MAXNUM];
    /* ARES_GETSOCK_WRITABLE shifts a signed 1 into bit 31: unsigned here. */
    unsigned bits = (unsigned)ares_getsock(q->ch, socks, ARES_GETSOCK_MAXNUM);
    int want[ARES_GETSOCK_MAXNUM];
    for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++)
        want[i] = ((bits >> i) & 1 ? WEFT_READABLE : 0) |
                  ((bits >> (i + ARES_GETSOCK_MAXNUM)) & 1 ? WEFT_WRITABLE : 0);
    for (int j = 0; j < ARES_GETSOCK_MAXNUM; j++) {
        watch *w = &q->w[j];
        if (!w->t) continue;
        int keep = 0;
        for (int i = 0; i < ARES_GETSOCK_MAXNUM && !weft_done(w->t); i++)
            if (want[i] && socks[i] == w->fd && want[i] == w->events) {
                keep = 1;
                want[i] = 0; /* watched already */
            }
        if (!keep) watch_stop(w); /* not wanted, or it fired: a new one if still wanted */
    }
    for (int i = 0, j = 0; i < ARES_GETSOCK_MAXNUM; i++) {
        if (!want[i]) continue;
        while (q->w[j].t) j++; /* 16 slots for at most 16 sockets */
        q->w[j] = (watch){.fd = socks[i], .events = want[i], .q = q};
        q->w[j].t = weft_spawn_named("dns watch", watcher_main, &q->w[j]);
        if (!q->w[j].t) return -errno;
    }
    return 0;
}

/* Runs the channel until the query's callback ran: 0, or -ECANCELED,
 * -ETIMEDOUT (the caller's), -ENOMEM. Destroys the channel either way. */
static int drive(query *q)
{
    int r = 0;
    while (!q->done) {
        r = watch_sync(q);
        if (r < 0) break;
        struct timeval tv, *tp = ares_timeout(q->ch, NULL, &tv);
        int ready = 0, fd = -1;
        for (int j = 0; j < ARES_GETSOCK_MAXNUM; j++) {
            ready |= q->w[j].ready;
            if (q->w[j].t && fd < 0) fd = q->w[j].fd;
        }
        if (!tp && fd < 0) { /* nothing to wait for and no answer: should not happen */
            r = -WEFT_EDNSAGAIN;
            break;
        }
        if (!ready) {
            double deadline = tp ? weft_now() + (double)tv.tv_sec + (double)tv.tv_usec * 1e-6
                                 : INFINITY;
            r = weft__wait(&q->wl, WAIT_DNS, fd, deadline, 0, 1);
            if (r < 0) break;
        }
        for (int j = 0; j < ARES_GETSOCK_MAXNUM; j++) {
            watch *w = &q->w[j];
            if (!w->ready) continue;
            int ev = w->ready;
            w->ready = 0;
            ares_process_fd(q->ch, ev & WEFT_READABLE ? w->fd : ARES_SOCKET_BAD,
                            ev & WEFT_WRITABLE ? w->fd : ARES_SOCKET_BAD);
        }
        ares_process_fd(q->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
    }
    for (int j = 0; j < ARES_GETSOCK_MAXNUM; j++)
        if (q->w[j].t) watch_stop(&q->w[j]);
    ares_destroy(q->ch); /* a query still running ends here (ARES_EDESTRUCTION) */
    return r;
}

/* ---- getaddrinfo ------------------------------------------------------------------- */

static void addrinfo_done(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    query *q = arg;
    q->done = 1;
    q->status = status;
    if (status != ARES_SUCCESS || !res) {
        if (status == ARES_SUCCESS) q->status = ARES_ENODATA;
        if (res) ares_freeaddrinfo(res);
        return;
    }
    struct addrinfo *head = NULL, **tail = &head;
    for (struct ares_addrinfo_node *n = res->nodes; n; n = n->ai_next) {
        struct addrinfo *a = calloc(1, sizeof *a + n->ai_addrlen);
        if (!a) {
            q->status = ARES_ENOMEM;
            break;
        }
        a->ai_family = n->ai_family;
        a->ai_socktype = n->ai_socktype;
        a->ai_protocol = n->ai_protocol;
        a->ai_addrlen = n->ai_addrlen;
        a->ai_addr = (struct sockaddr *)(a + 1);
        memcpy(a->ai_addr, n->ai_addr, n->ai_addrlen);
        *tail = a;
        tail = &a->ai_next;
    }
    ares_freeaddrinfo(res);
    if (q->status != ARES_SUCCESS) weft_addrinfo_free(head);
    else if (!head) q->status = ARES_ENODATA;
    else q->res = head;
}

int weft__ares_getaddrinfo(const char *host, int family, int socktype, struct addrinfo **out)
{
    query q = {0};
    int r = channel_open(&q);
    if (r < 0) return r;
    struct ares_addrinfo_hints hints = {.ai_family = family, .ai_socktype = socktype};
    ares_getaddrinfo(q.ch, host, NULL, &hints, addrinfo_done, &q);
    r = drive(&q);
    if (r == 0) r = q.status != ARES_SUCCESS && q.sock_err ? -q.sock_err : ares_err(q.status);
    if (r == 0) *out = q.res;
    else weft_addrinfo_free(q.res);
    return r;
}

/* ---- getnameinfo ------------------------------------------------------------------- */

static void nameinfo_done(void *arg, int status, int timeouts, char *node, char *service)
{
    query *q = arg;
    q->done = 1;
    q->status = status;
    if (status != ARES_SUCCESS) return;
    if (!node) q->status = ARES_ENOTFOUND;
    else if (strlen(node) >= q->hostlen) q->status = -1; /* too long for the caller's buffer */
    else strcpy(q->host, node);
}

int weft__ares_getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host,
                           size_t hostlen, int flags)
{
    query q = {.host = host, .hostlen = hostlen};
    int r = channel_open(&q);
    if (r < 0) return r;
    int af = ARES_NI_LOOKUPHOST | ((flags & NI_NAMEREQD) ? ARES_NI_NAMEREQD : 0) |
             ((flags & NI_NOFQDN) ? ARES_NI_NOFQDN : 0);
    ares_getnameinfo(q.ch, sa, (ares_socklen_t)salen, af, nameinfo_done, &q);
    r = drive(&q);
    if (r == 0) r = q.status == -1                           ? -ENOSPC
                    : q.status != ARES_SUCCESS && q.sock_err ? -q.sock_err
                                                             : ares_err(q.status);
    return r;
}
