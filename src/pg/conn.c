/* PostgreSQL connections: the engine every operation runs on (lock,
 * flush, read a result, abort), errors, and freeing. Connecting is
 * connect.c.
 *
 * libpq does the protocol; weft only decides when to call it. A connection
 * is non-blocking: libpq buffers what it sends (pg__flush pushes it out when
 * the socket takes it) and parses what PQconsumeInput reads; the calling
 * task sleeps in weft_wait_fd in between. One operation holds the
 * connection's semaphore from send to last result, so tasks sharing a
 * connection queue up instead of interleaving protocol messages. */
#define _GNU_SOURCE
#include "pg_internal.h"
#include <weft/io.h>
#include <weft/debug.h>
#include <openssl/ssl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ------------------------------------------------------------------ */

void pg__clear_error(weft_pg *c)
{
    c->sqlstate[0] = 0;
    if (c->errmsg) c->errmsg[0] = 0;
}

static void set_error(weft_pg *c, const char *state, const char *msg)
{
    snprintf(c->sqlstate, sizeof c->sqlstate, "%s", state ? state : "");
    free(c->errmsg);
    c->errmsg = strdup(msg ? msg : "");
}

int pg__server_error(weft_pg *c, const PGresult *res)
{
    if (PQstatus(c->pg) == CONNECTION_BAD) return pg__lost(c);
    const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    set_error(c, st, msg ? msg : PQresultErrorMessage(res));
    return -WEFT_PG_ESERVER;
}

int pg__send_failed(weft_pg *c)
{
    if (PQstatus(c->pg) == CONNECTION_BAD) return pg__lost(c);
    const char *m = PQerrorMessage(c->pg);
    free(c->errmsg);
    c->errmsg = strdup(m ? m : "");
    return -EINVAL;
}

int pg__lost(weft_pg *c)
{
    int first = !c->broken;
    if (!c->broken) {
        c->broken = 1;
        const char *m = PQerrorMessage(c->pg);
        set_error(c, "08006", m && *m ? m : "connection lost");
    }
    /* libpq may already have closed the socket: forget it before its number
     * is reused, since the loop's registration would otherwise be stale. */
    if (c->fd >= 0) weft_fd_forget(c->fd);
    c->fd = -1;
    if (first && c->term_fn) c->term_fn(c, c->term_arg);
    return -WEFT_PG_EBROKEN;
}

const char *weft_pg_sqlstate(const weft_pg *c) { return c ? c->sqlstate : ""; }
const char *weft_pg_errmsg(const weft_pg *c) { return c && c->errmsg ? c->errmsg : ""; }
int weft_pg_ok(const weft_pg *c) { return c && !c->broken && PQstatus(c->pg) == CONNECTION_OK; }
int weft_pg_backend_pid(const weft_pg *c) { return c ? PQbackendPID(c->pg) : 0; }
int weft_pg_tls(const weft_pg *c) { return c ? PQsslInUse(c->pg) : 0; }
int weft_pg_in_transaction(const weft_pg *c)
{
    /* a pool reset in flight ends any transaction the last holder left */
    return c && !c->reset_syncs && PQtransactionStatus(c->pg) != PQTRANS_IDLE;
}

int64_t pg__rows64(const PGresult *res)
{
    if (!res) return 0;
    if (PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_SINGLE_TUPLE)
        return PQntuples(res);
    /* The count is the command tag's last word ("UPDATE 4294967295"): any
     * size up to 2^64 - 1, and a server's to choose. Digits only, saturated
     * rather than wrapped, so no tag turns into a negative (error) value. */
    const char *n = PQcmdTuples((PGresult *)res);
    uint64_t v = 0;
    for (; *n >= '0' && *n <= '9'; n++) {
        unsigned d = (unsigned)(*n - '0');
        if (v > ((uint64_t)INT64_MAX - d) / 10) return INT64_MAX;
        v = v * 10 + d;
    }
    return *n ? 0 : (int64_t)v;
}

int pg__rows_int(int64_t rows) { return rows > INT_MAX ? INT_MAX : (int)rows; }

int pg__rows(const PGresult *res) { return pg__rows_int(pg__rows64(res)); }

/* ---- the engine -------------------------------------------------------------- */

void pg__collect_notifies(weft_pg *c)
{
    PGnotify *n;
    int got = 0;
    while ((n = PQnotifies(c->pg))) {
        size_t lc = strlen(n->relname) + 1, lp = strlen(n->extra) + 1;
        pg_nq *q = malloc(sizeof *q + lc + lp);
        if (q) {
            q->n.channel = (char *)(q + 1);
            q->n.payload = q->n.channel + lc;
            memcpy(q->n.channel, n->relname, lc);
            memcpy(q->n.payload, n->extra, lp);
            q->n.pid = n->be_pid;
            q->next = NULL;
            if (c->nq_tail) c->nq_tail->next = q; else c->nq_head = q;
            c->nq_tail = q;
            got = 1;
        }
        PQfreemem(n);
    }
    if (got && c->nwaiters) weft_event_set(c->nev);
}

/* Runs the rollback a cancelled transaction left for the next user. */
int pg__rollback_pending(weft_pg *c)
{
    int to = c->rollback_to;
    c->rollback_to = -1;
    if (PQtransactionStatus(c->pg) == PQTRANS_IDLE) {
        c->tx_depth = 0;
        return 0;
    }
    if (to >= c->tx_depth) return 0;
    char sql[96];
    if (to <= 0)
        snprintf(sql, sizeof sql, "ROLLBACK");
    else
        snprintf(sql, sizeof sql, "ROLLBACK TO SAVEPOINT weft_sp%d; RELEASE SAVEPOINT weft_sp%d",
                 to + 1, to + 1);
    int rc = pg__simple(c, sql);
    c->tx_depth = to > 0 ? to : 0;
    return rc < 0 ? rc : 0;
}

int pg__lock(weft_pg *c) { return pg__lock_ex(c, 0); }

int pg__lock_ex(weft_pg *c, int defer_reset)
{
    if (!c) return -EINVAL;
    if (c->broken) return -WEFT_PG_EBROKEN;
    c->lock_waiters++;
    int rc = weft_sem_acquire(c->busy);
    c->lock_waiters--;
    if (rc < 0) return rc;
    if (c->broken) {
        pg__unlock(c);
        return -WEFT_PG_EBROKEN;
    }
    pg__clear_error(c);
    c->used = 1;
    if (!defer_reset && (c->reset_syncs || c->reset_fixup)) {
        rc = c->reset_syncs ? pg__reset_collect(c, 1) : pg__reset_fixup(c);
        if (rc < 0) {
            pg__release(c);
            return rc;
        }
    }
    if (c->rollback_to >= 0) {
        rc = pg__rollback_pending(c);
        if (rc < 0) {
            pg__release(c);
            return rc;
        }
    }
    return 0;
}

void pg__unlock(weft_pg *c)
{
    weft_sem_release(c->busy);
    if (c->nwaiters) weft_event_set(c->nev);
}

void pg__release(weft_pg *c)
{
    if (c->aborted) {
        c->aborted = 0; /* the drain task holds the lock now */
        return;
    }
    pg__unlock(c);
}

/* libpq may replace its socket (it reconnects during connect, and closes it
 * when the link drops): keep the loop's registration in step. */
static void check_socket(weft_pg *c)
{
    int fd = PQsocket(c->pg);
    if (fd != c->fd) {
        if (c->fd >= 0) weft_fd_forget(c->fd);
        c->fd = fd;
        if (fd >= 0) weft_fd_keep(fd);
    }
}

/* TLS: libpq reads at most its free buffer space per call, so OpenSSL may
 * hold decrypted bytes the socket no longer shows as readable (libpq's own
 * waits check for that too). Such bytes count as readable now. */
int pg__wait(weft_pg *c, int events)
{
    if ((events & WEFT_READABLE) && PQsslInUse(c->pg)) {
        SSL *ssl = PQsslStruct(c->pg, "OpenSSL");
        if (ssl && SSL_pending(ssl) > 0) return WEFT_READABLE;
    }
    int ev = weft_wait_fd(c->fd, events);
    return ev == -EBADF ? pg__lost(c) : ev;
}

int pg__flush(weft_pg *c)
{
    for (;;) {
        int r = PQflush(c->pg);
        if (r == 0) return 0;
        if (r < 0) return pg__lost(c);
        int ev = pg__wait(c, WEFT_READABLE | WEFT_WRITABLE);
        if (ev < 0) return ev;
        /* The server may be blocked writing to us: read to let it go on. */
        if ((ev & WEFT_READABLE) && !PQconsumeInput(c->pg)) return pg__lost(c);
    }
}

int pg__get(weft_pg *c, PGresult **res)
{
    while (PQisBusy(c->pg)) {
        int ev = pg__wait(c, WEFT_READABLE);
        if (ev < 0) return ev;
        if (!PQconsumeInput(c->pg)) {
            check_socket(c);
            return pg__lost(c);
        }
    }
    *res = PQgetResult(c->pg);
    if (c->nwaiters || c->listening) pg__collect_notifies(c);
    if (!*res && PQstatus(c->pg) == CONNECTION_BAD) return pg__lost(c);
    return 0;
}

int pg__discard_copy(weft_pg *c, ExecStatusType st)
{
    if (st == PGRES_COPY_IN) {
        if (PQputCopyEnd(c->pg, "COPY needs weft_pg_copy_in") < 0) return pg__lost(c);
        return pg__flush(c);
    }
    for (;;) {
        char *buf;
        int n = PQgetCopyData(c->pg, &buf, 1);
        if (n > 0) {
            PQfreemem(buf);
            continue;
        }
        if (n < 0) return 0;
        int ev = pg__wait(c, WEFT_READABLE);
        if (ev < 0) return ev;
        if (!PQconsumeInput(c->pg)) return pg__lost(c);
    }
}

int pg__simple_count(weft_pg *c, const char *sql, int64_t *rows)
{
    int64_t count = 0;
    if (PQpipelineStatus(c->pg) != PQ_PIPELINE_OFF) PQexitPipelineMode(c->pg);
    if (!PQsendQuery(c->pg, sql)) return pg__send_failed(c);
    int rc = pg__flush(c), out = 0;
    PGresult *res;
    if (rc < 0) return pg__abort(c, rc, 0);
    for (;;) {
        rc = pg__get(c, &res);
        if (rc < 0) return pg__abort(c, rc, 0);
        if (!res) break;
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_FATAL_ERROR) {
            if (out >= 0) out = pg__server_error(c, res);
        } else if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT) {
            rc = pg__discard_copy(c, st);
            if (rc < 0) {
                PQclear(res);
                return pg__abort(c, rc, 0);
            }
        } else if (out >= 0) {
            count = pg__rows64(res);
        }
        PQclear(res);
    }
    if (c->broken) return -WEFT_PG_EBROKEN;
    if (out >= 0 && rows) *rows = count;
    return out;
}

int pg__simple(weft_pg *c, const char *sql)
{
    int64_t rows = 0;
    int rc = pg__simple_count(c, sql, &rows);
    return rc < 0 ? rc : pg__rows_int(rows);
}

typedef struct exec_job {
    weft_pg *c;
    const char *sql;
    int64_t *rows;
} exec_job;

static int exec_body(void *arg)
{
    exec_job *j = arg;
    int rc = pg__lock(j->c);
    if (rc < 0) return rc;
    rc = pg__simple_count(j->c, j->sql, j->rows);
    pg__release(j->c);
    return rc;
}

int weft_pg_exec_count(weft_pg *c, const char *sql, int64_t *rows)
{
    if (!c || !sql) return -EINVAL;
    int64_t n = 0;
    exec_job j = {c, sql, &n};
    double t0 = c->qlog_fn ? weft_now() : 0;
    c->nqueries++;
    int rc = pg__timed(c, exec_body, &j);
    if (c->qlog_fn) c->qlog_fn(c, sql, weft_now() - t0, n, rc, c->qlog_arg);
    if (rows) *rows = n;
    return rc;
}

int weft_pg_exec(weft_pg *c, const char *sql)
{
    int64_t rows = 0;
    int rc = weft_pg_exec_count(c, sql, &rows);
    return rc < 0 ? rc : pg__rows_int(rows);
}

/* ---- abort: cancel on the server, drain in the background --------------------- */

static void really_free(weft_pg *c);

typedef struct drain_job {
    weft_pg *c;
    int syncs;
} drain_job;

static int cancel_on_thread(void *arg)
{
    char err[256];
    return PQcancel((PGcancel *)arg, err, sizeof err) ? 0 : -WEFT_PG_ECONNECT;
}

#define RECANCEL_S 1.0 /* a statement still running this long after a cancel gets another */

int pg__cancel_until(weft_pg *c, weft_fn read_rest, void *arg)
{
    for (;;) {
        PGcancel *cn = PQgetCancel(c->pg);
        if (cn) {
            /* blocking connect + send; returns once the postmaster has passed
             * it on, so no cancel is still in flight when read_rest ends
             * (waits it interrupts at the inner deadline leave libpq's state
             * intact) */
            weft_to_thread(cancel_on_thread, cn);
            PQfreeCancel(cn);
        }
        int rc = weft_timeout(RECANCEL_S, read_rest, arg);
        if (rc != -ETIMEDOUT || weft_check(NULL) < 0) return rc;
    }
}

/* Reads and drops every reply still due. */
static int drain_replies(void *arg)
{
    drain_job *d = arg;
    weft_pg *c = d->c;
    PGresult *res;
    for (;;) {
        if (PQpipelineStatus(c->pg) != PQ_PIPELINE_OFF && d->syncs == 0) {
            if (!PQexitPipelineMode(c->pg)) return pg__lost(c);
            break;
        }
        int rc = pg__get(c, &res);
        if (rc < 0) return rc;
        if (!res) {
            if (PQpipelineStatus(c->pg) == PQ_PIPELINE_OFF) break;
            continue;
        }
        switch (PQresultStatus(res)) {
        case PGRES_PIPELINE_SYNC: d->syncs--; break;
        case PGRES_COPY_IN:
        case PGRES_COPY_OUT: rc = pg__discard_copy(c, PQresultStatus(res)); break;
        default: break;
        }
        PQclear(res);
        if (rc < 0) return rc;
    }
    return 0;
}

static int drain_body(void *arg)
{
    drain_job *d = arg;
    weft_pg *c = d->c;
    int rc = pg__flush(c);
    if (rc < 0) return rc;
    /* Always cancel: even when libpq holds no partial reply yet, the server
     * may be producing one. */
    return pg__cancel_until(c, drain_replies, d);
}

static int drain_task(void *arg)
{
    drain_job *d = arg;
    weft_pg *c = d->c;
    int rc = weft_timeout(30.0, drain_body, d);
    free(d);
    if (rc < 0 && !c->broken) pg__lost(c);
    c->draining = 0;
    if (c->free_pending) {
        really_free(c);
        return 0;
    }
    pg__unlock(c);
    return 0;
}

int pg__abort(weft_pg *c, int rc, int syncs)
{
    if (rc != -ECANCELED && rc != -ETIMEDOUT) return rc == -WEFT_PG_EBROKEN ? rc : pg__lost(c);
    /* The task cannot wait any more (it is cancelled or past its deadline),
     * but the statement may still run and its replies are on the way: a
     * task of its own cancels it on the server and reads them, keeping the
     * connection locked until it is clean again. */
    pg__drop_pending(c); /* their Parse may never be answered */
    drain_job *d = malloc(sizeof *d);
    weft_task *t = NULL;
    if (d) {
        d->c = c;
        d->syncs = syncs;
        t = weft_spawn_named("weft_pg drain", drain_task, d);
    }
    if (!t) {
        free(d);
        pg__lost(c);
        return rc;
    }
    c->draining = 1;
    c->aborted = 1;
    weft_detach(t);
    return rc;
}

static void really_free(weft_pg *c)
{
    if (c->fd >= 0) weft_fd_forget(c->fd);
    PQfinish(c->pg);
    for (int i = 0; i < c->nstmts; i++) {
        free(c->stmts[i].sql);
        free(c->stmts[i].types);
    }
    free(c->stmts);
    pg__types_free(c);
    for (pg_nq *q = c->nq_head, *n; q; q = n) {
        n = q->next;
        free(q);
    }
    weft_sem_free(c->busy);
    weft_event_free(c->nev);
    free(c->errmsg);
    free(c);
}

void weft_pg_free(weft_pg *c)
{
    if (!c) return;
    weft_debug_untrack(c);
    if (c->draining) {
        c->free_pending = 1;
        return;
    }
    really_free(c);
}
