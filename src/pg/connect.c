/* Connecting to PostgreSQL without stalling the loop: libpq's options as
 * it will see them (dsn, environment, service file), host names resolved
 * by weft (libpq would call getaddrinfo itself), then PQconnectPoll's
 * steps each waited for with weft_wait_fd, all under connect_timeout.
 * Apart from conn.c, whose engine runs operations on a connection made
 * here. */
#define _GNU_SOURCE
#include "pg_internal.h"
#include "error_table.h"
#include <weft/io.h>
#include <weft/debug.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PostgreSQL's codes for weft_strerror (the table in weft/pg.h): here,
 * since every user of pg connects (a static link may leave out conn.c's
 * engine when only weft_pg_connect is named). */
WEFT__ERROR_TABLE(pg, WEFT_PG_ERRORS)

static int is_numeric_addr(const char *h)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

/* A growing comma-separated list. */
typedef struct csv {
    char *s;
    size_t len, cap;
    int n, err;
} csv;

static void csv_add(csv *b, const char *v)
{
    size_t need = strlen(v) + 2;
    if (b->err) return;
    if (b->len + need > b->cap) {
        size_t cap = (b->len + need) * 2 + 64;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->err = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    b->len += (size_t)sprintf(b->s + b->len, "%s%s", b->n++ ? "," : "", v);
}

/* The i-th item of a comma-separated list (empty items kept: libpq counts
 * them), copied into buf; "" when the list is shorter. */
static const char *list_item(const char *list, int i, char *buf, size_t n)
{
    buf[0] = 0;
    if (!list) return buf;
    for (; i > 0 && list; i--) {
        list = strchr(list, ',');
        if (list) list++;
    }
    if (!list) return buf;
    size_t len = strcspn(list, ",");
    if (len >= n) len = n - 1;
    memcpy(buf, list, len);
    buf[len] = 0;
    return buf;
}

static int list_count(const char *list)
{
    int n = 1;
    for (const char *p = list; *p; p++) n += *p == ',';
    return n;
}

/* Resolves the hosts (as libpq will see them: dsn, environment, service
 * file) into matching host, hostaddr and port lists: libpq would otherwise
 * call getaddrinfo itself, stalling the loop. A name with several addresses
 * becomes that many entries, tried in order as libpq tries them (localhost
 * is ::1, then 127.0.0.1, where a server may listen on IPv4 only). A name
 * that does not resolve is skipped, as libpq skips it, so the next host is
 * tried; only when none is left is the resolver's error returned. Sets
 * nothing when no name needed resolving. */
static int resolve_hosts(const char *hosts, const char *addrs, const char *ports, csv *ho,
                         csv *ao, csv *po)
{
    int n = list_count(hosts), nports = ports && *ports ? list_count(ports) : 0;
    int any = 0, kept = 0, rc = 0, first_err = 0;
    char h[1024], a[256], pbuf[64];
    for (int i = 0; i < n; i++) {
        list_item(hosts, i, h, sizeof h);
        list_item(addrs, i, a, sizeof a);
        const char *p = nports > 1 ? list_item(ports, i, pbuf, sizeof pbuf) : "";
        if (a[0] || !h[0] || h[0] == '/' || h[0] == '@' || is_numeric_addr(h)) {
            csv_add(ho, h);
            /* Unix socket: no address */
            csv_add(ao, a[0] ? a : h[0] == '/' || h[0] == '@' ? "" : h);
            csv_add(po, p);
            kept++;
            continue;
        }
        any = 1;
        struct addrinfo *ai = NULL;
        rc = weft_resolve(h, 0, AF_UNSPEC, SOCK_STREAM, &ai);
        if (rc == -ECANCELED || rc == -ETIMEDOUT || rc == -ENOMEM) break;
        if (rc < 0) {
            if (!first_err) first_err = rc;
            rc = 0;
            continue; /* the next host, as libpq does */
        }
        for (struct addrinfo *x = ai; x; x = x->ai_next) {
            char addr[INET6_ADDRSTRLEN] = "";
            if (x->ai_family == AF_INET)
                inet_ntop(AF_INET, &((struct sockaddr_in *)x->ai_addr)->sin_addr, addr, sizeof addr);
            else if (x->ai_family == AF_INET6)
                inet_ntop(AF_INET6, &((struct sockaddr_in6 *)x->ai_addr)->sin6_addr, addr,
                          sizeof addr);
            if (!addr[0]) continue;
            csv_add(ho, h);
            csv_add(ao, addr);
            csv_add(po, p);
            kept++;
        }
        weft_addrinfo_free(ai);
    }
    if (rc == 0 && !kept) rc = first_err ? first_err : -WEFT_EDNS;
    if (rc == 0 && (ho->err || ao->err || po->err)) rc = -ENOMEM;
    if (rc < 0 || !any) {
        free(ho->s), free(ao->s), free(po->s);
        *ho = *ao = *po = (csv){0};
        return any ? rc : 0;
    }
    if (nports <= 1) free(po->s), *po = (csv){0}; /* one port for all: left as given */
    return 0;
}

typedef struct connect_job {
    const char *dsn;
    const char *host, *hostaddr, *port; /* effective: dsn, environment, service */
    PGconn *pg;
    char *err;
    int code;
} connect_job;

static int classify(const char *msg)
{
    if (strstr(msg, "password authentication failed") || strstr(msg, "role \"") ||
        strstr(msg, "authentication failed") || strstr(msg, "no password supplied"))
        return -WEFT_PG_EAUTH;
    if (strstr(msg, "database \"") && strstr(msg, "does not exist")) return -WEFT_PG_ENODB;
    return -WEFT_PG_ECONNECT;
}

/* The options libpq will use for dsn: PQconninfoParse applies neither the
 * environment (PGHOST...) nor a service file, and libpq has no call that
 * does without connecting. So libpq is asked to start a connection with an
 * invalid sslmode: it fills in every default, then refuses the sslmode
 * before any network step; PQconninfo reads the filled-in options back. */
static PQconninfoOption *effective_options(const char *dsn)
{
    const char *kw[] = {"dbname", "sslmode", NULL}, *val[] = {dsn, "weft-probe", NULL};
    PGconn *probe = PQconnectStartParams(kw, val, 1);
    if (!probe) return NULL;
    PQconninfoOption *o = PQstatus(probe) == CONNECTION_BAD ? PQconninfo(probe) : NULL;
    PQfinish(probe);
    return o;
}

/* "10", "0.5": seconds, read the same in every locale (strtod is not). */
static double seconds(const char *s)
{
    double v = 0, scale = 1;
    for (; *s >= '0' && *s <= '9'; s++) v = v * 10 + (*s - '0');
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++) v += (*s - '0') * (scale /= 10);
    return v;
}

static int connect_body(void *arg)
{
    connect_job *j = arg;
    csv rh = {0}, ra = {0}, rp = {0};
    int rc = 0;
    if (j->host && *j->host) rc = resolve_hosts(j->host, j->hostaddr, j->port, &rh, &ra, &rp);
    if (rc < 0) return rc;
    /* the dsn expanded, then the resolved lists over its own (empty: not given) */
    const char *kw[] = {"dbname", "host", "hostaddr", "port", NULL};
    const char *val[] = {j->dsn, rh.s, ra.s, rp.s, NULL};
    j->pg = PQconnectStartParams(kw, val, 1);
    free(rh.s), free(ra.s), free(rp.s);
    if (!j->pg) return -ENOMEM;

    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    for (;;) {
        if (PQstatus(j->pg) == CONNECTION_BAD || st == PGRES_POLLING_FAILED) {
            j->err = strdup(PQerrorMessage(j->pg));
            return classify(j->err ? j->err : "");
        }
        if (st == PGRES_POLLING_OK) return 0;
        int fd = PQsocket(j->pg);
        /* libpq may have closed the previous socket and got the same
         * number back: start from a clean registration every step. */
        weft_fd_forget(fd);
        rc = weft_wait_fd(fd, st == PGRES_POLLING_READING ? WEFT_READABLE : WEFT_WRITABLE);
        if (rc < 0) {
            weft_fd_forget(fd);
            return rc;
        }
        st = PQconnectPoll(j->pg);
    }
}

/* libpq prints notices (and errors that arrive while idle, such as the
 * server's goodbye at shutdown) on stderr by default; a library must not.
 * The errors that matter come back through return values. */
static void quiet_notice(void *arg, const char *message) {}

int weft_pg_connect(const char *dsn, weft_pg **out, char **errmsg)
{
    if (errmsg) *errmsg = NULL;
    if (!dsn || !out) return -EINVAL;
    *out = NULL;
    pg__heap_keep();
    char *perr = NULL;
    PQconninfoOption *given = PQconninfoParse(dsn, &perr);
    if (!given) {
        if (errmsg) *errmsg = perr ? strdup(perr) : NULL;
        if (perr) PQfreemem(perr);
        return perr ? -EINVAL : -ENOMEM;
    }
    PQconninfoFree(given);
    PQconninfoOption *opts = effective_options(dsn);
    if (!opts) return -ENOMEM;
    connect_job j = {.dsn = dsn};
    double limit = 10.0;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val) continue;
        if (!strcmp(o->keyword, "host")) j.host = o->val;
        if (!strcmp(o->keyword, "hostaddr")) j.hostaddr = o->val;
        if (!strcmp(o->keyword, "port")) j.port = o->val;
        if (!strcmp(o->keyword, "connect_timeout") && seconds(o->val) > 0)
            limit = seconds(o->val);
    }
    int rc = weft_timeout(limit, connect_body, &j);
    PQconninfoFree(opts);
    if (rc < 0) {
        if (j.pg) {
            if (PQsocket(j.pg) >= 0) weft_fd_forget(PQsocket(j.pg));
            PQfinish(j.pg);
        }
        if (errmsg) *errmsg = j.err ? j.err : strdup(weft_strerror(rc));
        else free(j.err);
        return rc;
    }
    weft_pg *c = calloc(1, sizeof *c);
    if (c) {
        c->busy = weft_sem_new(1);
        c->nev = weft_event_new();
        c->errmsg = calloc(1, 1);
    }
    if (!c || !c->busy || !c->nev || !c->errmsg || PQsetnonblocking(j.pg, 1) != 0) {
        if (c) {
            weft_sem_free(c->busy);
            weft_event_free(c->nev);
            free(c->errmsg);
            free(c);
        }
        weft_fd_forget(PQsocket(j.pg));
        PQfinish(j.pg);
        return -ENOMEM;
    }
    c->pg = j.pg;
    c->fd = PQsocket(j.pg);
    /* Every path where libpq may close it forgets it first or right after
     * (pg__lost, check_socket, really_free): so its interest can stay
     * registered between queries, saving two epoll_ctl per query. */
    weft_fd_keep(c->fd);
    PQsetNoticeProcessor(j.pg, quiet_notice, NULL);
    pg__install_notice_receiver(c);
    c->rollback_to = -1;
    c->stmt_cap = PG_STMT_CACHE;
    /* debug mode: a connection never freed is reported at loop close */
    weft_debug_track_at(c, "pg connection", WEFT_DEBUG_CALLER);
    *out = c;
    return 0;
}
