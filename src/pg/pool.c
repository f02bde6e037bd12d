/* A connection pool. A semaphore of max_size permits bounds the connections
 * in use or being opened; idle ones wait in a LIFO list (the most recently
 * used connection is the warmest: its backend's caches are hot). Release
 * never waits, so it is safe on every path, cancellation included: the work
 * a dirty connection needs (rollback, unlisten) is done by the next acquire.
 */
#define _GNU_SOURCE
#include "pg_internal.h"
#include "core/wait.h"
#include <weft/debug.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct weft_pg_pool {
    char *dsn;
    weft_pg_pool_opts o;
    weft_sem *slots;   /* permits: connections out or being opened */
    weft_pg *idle;     /* LIFO through pool_next */
    int nidle;
    int size;          /* open connections, idle included */
    int out;           /* acquired and not yet released */
    int closed;
    int waiting;       /* tasks in acquire */
    unsigned gen;      /* bumped by expire_connections */
    int64_t acquired, opened, nclosed;
    weft_loop *home;   /* the loop that made it: its connections wait there */
};

/* Release, free and expire never wait and return nothing: called from another loop
 * (or thread) they are reported and done on the pool's own loop (weft_post),
 * rather than touching its loop-local state from here. 1: forwarded (or,
 * reported, impossible); 0: the caller is on the pool's loop. */
typedef struct pool_fwd {
    weft_pg_pool *p;
    weft_pg *c;
    int expire; /* weft_pg_pool_expire_connections */
} pool_fwd;

static int fwd_run(void *arg)
{
    pool_fwd f = *(pool_fwd *)arg;
    free(arg);
    if (f.expire) weft_pg_pool_expire_connections(f.p);
    else if (f.c) weft_pg_pool_release(f.p, f.c);
    else weft_pg_pool_free(f.p);
    return 0;
}

static int forwarded_as(weft_pg_pool *p, weft_pg *c, int expire, const char *fn)
{
    weft_loop *here = weft_loop_current();
    if (!p->home || p->home == here) return 0;
    fprintf(stderr, "weft: %s from %s: done on the pool's loop (a pool belongs to the loop "
            "that made it)\n", fn, here ? "another loop" : "a thread outside the run");
    pool_fwd *f = malloc(sizeof *f);
    if (f) *f = (pool_fwd){p, c, expire};
    if (!f || weft_post(p->home, fwd_run, f) < 0) {
        free(f);
        fprintf(stderr, "weft: %s: could not hand it to the pool's loop; left as it is\n", fn);
    }
    return 1;
}

static int forwarded(weft_pg_pool *p, weft_pg *c, const char *fn)
{
    return forwarded_as(p, c, 0, fn);
}

static void conn_close(weft_pg_pool *p, weft_pg *c)
{
    c->pool = NULL;
    weft_pg_free(c);
    p->size--;
    p->nclosed++;
}

/* A new connection, made ready by the pool's settings and init hook. */
static int conn_open(weft_pg_pool *p, weft_pg **out)
{
    weft_pg *c;
    int rc = weft_pg_connect(p->dsn, &c, NULL);
    if (rc < 0) return rc;
    p->opened++;
    c->pool_gen = p->gen;
    if (p->o.command_timeout > 0) weft_pg_set_command_timeout(c, p->o.command_timeout);
    if (p->o.stmt_cache_size) c->stmt_cap = p->o.stmt_cache_size < 0 ? 0 : p->o.stmt_cache_size;
    if (p->o.init && (rc = p->o.init(c, p->o.hook_arg)) < 0) {
        weft_pg_free(c);
        p->nclosed++;
        return rc;
    }
    *out = c;
    return 0;
}

/* Past its query budget, expired, or idle too long: replaced, not reused. */
static int retired(const weft_pg_pool *p, const weft_pg *c, int idle)
{
    if (c->pool_gen != p->gen) return 1;
    if (p->o.max_queries > 0 && c->nqueries >= p->o.max_queries) return 1;
    return idle && p->o.max_inactive_s > 0 && weft_now() - c->idle_since >= p->o.max_inactive_s;
}

/* Closes idle connections that are retired (called at each acquire and
 * release: the pool has no timer task). */
static void sweep(weft_pg_pool *p)
{
    for (weft_pg **pp = &p->idle; *pp;) {
        weft_pg *c = *pp;
        if (!c->draining && retired(p, c, 1)) {
            *pp = c->pool_next;
            p->nidle--;
            conn_close(p, c);
        } else {
            pp = &c->pool_next;
        }
    }
}

static void pool_destroy(weft_pg_pool *p)
{
    weft_debug_untrack(p);
    while (p->idle) {
        weft_pg *c = p->idle;
        p->idle = c->pool_next;
        conn_close(p, c);
    }
    weft_sem_free(p->slots);
    free(p->dsn);
    free(p);
}

int weft_pg_pool_new(const char *dsn, const weft_pg_pool_opts *opts, weft_pg_pool **out)
{
    if (!dsn || !out) return -EINVAL;
    *out = NULL;
    weft_pg_pool_opts o = {.min_size = 1, .max_size = 10, .acquire_timeout = 30.0, .check_idle_s = 10.0};
    if (opts) {
        o = *opts;
        o.acquire_timeout = 30.0;
        o.check_idle_s = 10.0;
        o.max_size = 10;
        if (opts->max_size > 0) o.max_size = opts->max_size;
        o.min_size = opts->min_size;
        if (opts->acquire_timeout != 0) o.acquire_timeout = opts->acquire_timeout;
        if (opts->check_idle_s > 0) o.check_idle_s = opts->check_idle_s;
    }
    if (o.max_inactive_s == 0) o.max_inactive_s = 300.0;
    if (o.max_queries == 0) o.max_queries = 50000;
    if (o.min_size < 0 || o.min_size > o.max_size) return -EINVAL;
    weft_pg_pool *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    p->o = o;
    p->home = weft_loop_current();
    p->dsn = strdup(dsn);
    p->slots = weft_sem_new(o.max_size);
    if (!p->dsn || !p->slots) {
        pool_destroy(p);
        return -ENOMEM;
    }
    for (int i = 0; i < o.min_size; i++) {
        weft_pg *c;
        int rc = conn_open(p, &c);
        if (rc < 0) {
            pool_destroy(p);
            return rc;
        }
        c->pool = p;
        c->idle_since = weft_now();
        c->pool_next = p->idle;
        p->idle = c;
        p->nidle++;
        p->size++;
    }
    weft_debug_track_at(p, "pg pool", WEFT_DEBUG_CALLER);
    *out = p;
    return 0;
}

void weft_pg_pool_free(weft_pg_pool *p)
{
    if (!p || forwarded(p, NULL, "weft_pg_pool_free")) return;
    weft_debug_untrack(p);
    p->closed = 1;
    if (p->out == 0) {
        pool_destroy(p);
        return;
    }
    /* The last release destroys it. Tasks blocked for a permit must not
     * wait for that release to learn the pool is gone: one extra permit
     * wakes the first, which sees `closed` and passes its permit on, so
     * every waiter returns -WEFT_PG_ECLOSED now, in queue order. */
    weft_sem_release(p->slots);
}

/* A cheap look at an idle connection: anything readable while idle is
 * either a notification or the server going away (restart, idle kill). */
static int idle_healthy(weft_pg *c)
{
    if (!weft_pg_ok(c) || c->draining) return c->draining ? 1 : 0;
    /* A reset in flight makes the socket readable with its replies: those
     * that are in are read; once all are, what follows is looked at below. */
    if (c->reset_syncs) {
        int rc = pg__reset_poll(c);
        if (rc <= 0) return rc == 0;
    }
    struct pollfd pf = {.fd = c->fd, .events = POLLIN};
    if (poll(&pf, 1, 0) > 0) {
        pg_nq *tail = c->nq_tail;
        if (!PQconsumeInput(c->pg) || PQstatus(c->pg) != CONNECTION_OK) {
            pg__lost(c);
            return 0;
        }
        pg__collect_notifies(c);
        /* Not a notification: most likely the server's goodbye (FATAL
         * before the close). Dropping a good connection costs little. */
        if (c->nq_tail == tail) return 0;
    }
    return 1;
}

/* What a holder may leave in the session is undone for the next one (see
 * reset.c for the list). Not DISCARD ALL: it also drops every prepared
 * statement, so each holder would parse and plan its statements again
 * (weft's cache would be worthless in a pool), and it cannot share a
 * pipeline with other statements. Cached plans need no DISCARD PLANS:
 * PostgreSQL re-plans a statement when search_path or the user it was
 * planned for changes. The reset is sent at release (no waiting) and read
 * by the next operation; one that could not be sent then (a cancelled
 * operation still draining) runs at acquire. */
static int reset_now(weft_pg *c)
{
    int rc = pg__lock(c); /* reads a reset in flight, if any */
    if (rc < 0) return rc;
    rc = pg__reset_send(c);
    if (rc >= 0) rc = pg__reset_collect(c, 1);
    pg__release(c);
    return rc;
}

/* Makes an idle connection ready: reset if its last holder ran anything,
 * pinged if idle long. 0, or < 0 when it must be dropped (or the task was
 * cancelled). */
static int prepare(weft_pg_pool *p, weft_pg *c)
{
    if (c->pool_dirty && p->o.reset) {
        /* the user's reset runs unlocked: it calls the public API */
        int rc = p->o.reset(c, p->o.hook_arg);
        if (rc >= 0 && !weft_pg_ok(c)) rc = -WEFT_PG_EBROKEN;
        if (rc >= 0) pg__forget_session(c);
        return rc < 0 ? rc : 0;
    }
    if (c->pool_dirty) {
        int rc = reset_now(c);
        return rc < 0 ? rc : 0;
    }
    if (weft_now() - c->idle_since >= p->o.check_idle_s) {
        /* a reset in flight is read now: its replies are the ping */
        int rc = weft_pg_exec(c, "");
        return rc < 0 ? rc : 0;
    }
    return 0;
}

typedef struct acq {
    weft_pg_pool *p;
    weft_pg *c;
} acq;

static int acquire_body(void *arg)
{
    acq *a = arg;
    weft_pg_pool *p = a->p;
    p->waiting++;
    int rc = weft_sem_acquire(p->slots);
    p->waiting--;
    if (rc < 0) return rc;
    sweep(p);
    while (p->idle && !p->closed) {
        weft_pg *c = p->idle;
        p->idle = c->pool_next;
        p->nidle--;
        if (!idle_healthy(c) || (rc = prepare(p, c)) < 0) {
            conn_close(p, c);
            if (rc == -ECANCELED || rc == -ETIMEDOUT) {
                weft_sem_release(p->slots);
                return rc;
            }
            rc = 0;
            continue;
        }
        c->used = 0;
        a->c = c;
        return 0;
    }
    if (p->closed) {
        weft_sem_release(p->slots);
        return -WEFT_PG_ECLOSED;
    }
    p->size++; /* counted while connecting, so the bound holds */
    rc = conn_open(p, &a->c);
    if (rc < 0) {
        p->size--;
        weft_sem_release(p->slots);
        return rc;
    }
    a->c->pool = p;
    a->c->used = 0;
    return 0;
}

int weft_pg_pool_acquire(weft_pg_pool *p, weft_pg **out)
{
    if (!p || !out) return -EINVAL;
    *out = NULL;
    int x = weft__check_home(p->home, "weft_pg_pool_acquire");
    if (x) return x;
    if (p->closed) return -WEFT_PG_ECLOSED;
    acq a = {p, NULL};
    p->out++; /* keeps p alive while we wait, even across weft_pg_pool_free */
    int rc = p->o.acquire_timeout < 0 ? acquire_body(&a)
                                      : weft_timeout(p->o.acquire_timeout, acquire_body, &a);
    if (rc >= 0 && p->closed) {
        conn_close(p, a.c);
        weft_sem_release(p->slots);
        rc = -WEFT_PG_ECLOSED;
    }
    if (rc < 0) {
        if (--p->out == 0 && p->closed) pool_destroy(p);
        return rc;
    }
    /* A new holder starts with no error: the last one's is not its own. */
    pg__clear_error(a.c);
    if (p->o.setup && (rc = p->o.setup(a.c, p->o.hook_arg)) < 0) {
        weft_pg_pool_release(p, a.c);
        return rc;
    }
    p->acquired++;
    *out = a.c;
    return 0;
}

void weft_pg_pool_release(weft_pg_pool *p, weft_pg *c)
{
    if (!p || !c || forwarded(p, c, "weft_pg_pool_release")) return;
    int keep = !p->closed && weft_pg_ok(c) && !(retired(p, c, 0) && !c->draining);
    /* Anything run may have changed the session (SET ROLE, search_path,
     * temp tables, advisory locks): only an untouched one skips the reset. */
    if (keep && (c->used || c->draining || c->listening || c->tx_depth || c->rollback_to >= 0 ||
                 PQtransactionStatus(c->pg) != PQTRANS_IDLE || c->nq_head)) {
        /* Sent now, read by the next operation (reset.c); what cannot be
         * sent without waiting is left for the next acquire. */
        if (!p->o.reset && !c->draining && c->rollback_to < 0 && !c->reset_syncs &&
            !c->reset_fixup && PQpipelineStatus(c->pg) == PQ_PIPELINE_OFF &&
            weft_sem_try_acquire(c->busy)) {
            c->pool_dirty = 0;
            keep = pg__reset_send(c) >= 0;
            weft_sem_release(c->busy);
        } else {
            c->pool_dirty = 1;
        }
    }
    if (!keep) {
        conn_close(p, c);
    } else {
        c->idle_since = weft_now();
        c->pool_next = p->idle;
        p->idle = c;
        p->nidle++;
    }
    weft_sem_release(p->slots);
    if (--p->out == 0 && p->closed) pool_destroy(p);
    else if (!p->closed) sweep(p);
}

int weft_pg_pool_run(weft_pg_pool *p, int (*fn)(weft_pg *c, void *arg), void *arg)
{
    if (!fn) return -EINVAL;
    weft_pg *c;
    int rc = weft_pg_pool_acquire(p, &c);
    if (rc < 0) return rc;
    rc = fn(c, arg);
    weft_pg_pool_release(p, c);
    return rc;
}

/* Copies what c says about the failure rc (or weft's name for rc). */
static void error_fill(weft_pg_error *err, const weft_pg *c, int rc)
{
    const char *msg = c && *weft_pg_errmsg(c) ? weft_pg_errmsg(c) : weft_strerror(rc);
    snprintf(err->sqlstate, sizeof err->sqlstate, "%s", c ? weft_pg_sqlstate(c) : "");
    snprintf(err->message, sizeof err->message, "%s", msg);
}

int weft_pg_pool_query_with(weft_pg_pool *p, const char *sql, const weft_pg_params *params,
                           int flags, weft_pg_result **out, weft_pg_error *err)
{
    if (err) err->sqlstate[0] = err->message[0] = 0;
    if (out) *out = NULL;
    weft_pg *c;
    int rc = weft_pg_pool_acquire(p, &c);
    if (rc < 0) {
        if (err) error_fill(err, NULL, rc);
        return rc;
    }
    rc = weft_pg_query_with(c, sql, params, flags, out);
    /* Copied before the release: the connection's error state belongs to
     * its next user from then on. */
    if (rc < 0 && err) error_fill(err, c, rc);
    weft_pg_pool_release(p, c);
    return rc;
}

int weft_pg_pool_query(weft_pg_pool *p, const char *sql, const weft_pg_params *params,
                       int flags, weft_pg_result **out)
{
    return weft_pg_pool_query_with(p, sql, params, flags, out, NULL);
}

int weft_pg_pool_size(const weft_pg_pool *p) { return p ? p->size : 0; }
int weft_pg_pool_idle(const weft_pg_pool *p) { return p ? p->nidle : 0; }

void weft_pg_pool_stats_get(const weft_pg_pool *p, weft_pg_pool_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!p) return;
    out->size = p->size;
    out->idle = p->nidle;
    out->in_use = p->out - p->waiting;
    out->waiting = p->waiting;
    out->acquired = p->acquired;
    out->opened = p->opened;
    out->closed = p->nclosed;
}

void weft_pg_pool_expire_connections(weft_pg_pool *p)
{
    if (!p || forwarded_as(p, NULL, 1, "weft_pg_pool_expire_connections") || p->closed) return;
    p->gen++;
    sweep(p);
}
