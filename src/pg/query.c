/* Parameters, statements (with the per-connection prepared-statement
 * cache), row-by-row cursors and transactions. */
#define _GNU_SOURCE
#include "pg_internal.h"
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OID_BYTEA 17

/* ---- parameters ----------------------------------------------------------------- */

weft_pg_params *weft_pg_params_new(void) { return calloc(1, sizeof(weft_pg_params)); }

void weft_pg_params_clear(weft_pg_params *p)
{
    if (!p) return;
    for (int i = 0; i < p->n; i++) free(p->values[i]);
    p->n = 0;
    p->err = 0;
    p->bytes = 0;
}

void weft_pg_params_free(weft_pg_params *p)
{
    if (!p) return;
    weft_pg_params_clear(p);
    free(p->values);
    free(p->lengths);
    free(p->formats);
    free(p->types);
    free(p);
}

int weft_pg_params_count(const weft_pg_params *p) { return p ? p->n : 0; }

/* The protocol counts a value's length, and the whole Bind message that
 * carries the values, in 32 signed bits (libpq takes lengths as int): a
 * value that does not fit is refused before anything is copied or sent,
 * and the params are poisoned so that a query cannot run with the rest
 * shifted into its place. */
static int fits(const weft_pg_params *p, size_t len)
{
    size_t overhead = 6 * ((size_t)p->n + 1) + 1024; /* length and format words, names */
    return len <= (size_t)INT_MAX && p->bytes + len <= (size_t)INT_MAX - overhead;
}

int pg__params_push(weft_pg_params *p, const void *data, size_t len, int format, unsigned type)
{
    if (!p) return -EINVAL;
    if (p->err) return p->err;
    if (!fits(p, len)) return p->err = -EOVERFLOW;
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 8;
        char **v = realloc(p->values, (size_t)cap * sizeof *v);
        if (v) p->values = v;
        int *l = realloc(p->lengths, (size_t)cap * sizeof *l);
        if (l) p->lengths = l;
        int *f = realloc(p->formats, (size_t)cap * sizeof *f);
        if (f) p->formats = f;
        unsigned *t = realloc(p->types, (size_t)cap * sizeof *t);
        if (t) p->types = t;
        if (!v || !l || !f || !t) return p->err = -ENOMEM;
        p->cap = cap;
    }
    char *copy = NULL;
    if (data) {
        copy = malloc(len + 1);
        if (!copy) return p->err = -ENOMEM;
        memcpy(copy, data, len);
        copy[len] = 0;
    }
    p->values[p->n] = copy;
    p->lengths[p->n] = (int)len;
    p->formats[p->n] = format;
    p->types[p->n] = type;
    p->n++;
    p->bytes += len;
    return 0;
}

weft_pg_params *pg__params_dup(const weft_pg_params *p)
{
    weft_pg_params *q = weft_pg_params_new();
    for (int i = 0; q && i < p->n; i++)
        if (pg__params_push(q, p->values[i], (size_t)(unsigned)p->lengths[i], p->formats[i], p->types[i]) < 0) {
            weft_pg_params_free(q);
            q = NULL;
        }
    return q;
}

int weft_pg_params_text(weft_pg_params *p, const char *s)
{
    return pg__params_push(p, s, s ? strlen(s) : 0, 0, 0);
}
int weft_pg_params_null(weft_pg_params *p) { return pg__params_push(p, NULL, 0, 0, 0); }
int weft_pg_params_bigint(weft_pg_params *p, int64_t v)
{
    char b[24];
    return pg__params_push(p, b, (size_t)snprintf(b, sizeof b, "%" PRId64, v), 0, 0);
}
int weft_pg_params_double(weft_pg_params *p, double v)
{
    char b[40];
    int n = pg__double_text(b, sizeof b, v);
    if (n < 0) return n;
    return pg__params_push(p, b, (size_t)n, 0, 0);
}
int weft_pg_params_bool(weft_pg_params *p, int v) { return pg__params_push(p, v ? "t" : "f", 1, 0, 0); }
int weft_pg_params_bytea(weft_pg_params *p, const void *data, size_t n)
{
    if (!data && n) return -EINVAL;
    return pg__params_push(p, data ? data : "", n, 1, OID_BYTEA);
}

/* ---- the statement cache ----------------------------------------------------- */

static uint64_t hash_sql(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static pg_stmt *stmt_find(weft_pg *c, const char *sql, uint64_t h)
{
    for (int i = c->nstmts - 1; i >= 0; i--)
        if (c->stmts[i].hash == h && !strcmp(c->stmts[i].sql, sql)) return &c->stmts[i];
    return NULL;
}

/* A statement prepared with parameter types other than p's cannot take
 * p's values (binary int8 bound to a date parameter is "incorrect binary
 * data format"): such a call runs unnamed, the cached entry stays. */
static int types_match(const pg_stmt *s, const weft_pg_params *p)
{
    int n = p ? p->n : 0;
    for (int i = 0; i < n; i++) {
        unsigned want = i < s->ntypes && s->types ? s->types[i] : 0;
        /* untyped text is parsed as whatever the parameter is */
        if (p->types[i] != want && (p->types[i] || p->formats[i])) return 0;
    }
    for (int i = n; i < s->ntypes && s->types; i++)
        if (s->types[i]) return 0;
    return 1;
}

static int stmt_set_oids(pg_stmt *s, const unsigned *types, int n)
{
    free(s->types);
    s->types = NULL;
    s->ntypes = 0;
    int any = 0;
    for (int i = 0; i < n; i++) any |= types[i] != 0;
    if (!any) return 0;
    if (!(s->types = malloc((size_t)n * sizeof *s->types))) return -ENOMEM;
    memcpy(s->types, types, (size_t)n * sizeof *s->types);
    s->ntypes = n;
    return 0;
}

static int stmt_set_types(pg_stmt *s, const weft_pg_params *p)
{
    return stmt_set_oids(s, p ? p->types : NULL, p ? p->n : 0);
}

static pg_stmt *stmt_add(weft_pg *c, const char *sql, uint64_t h, int nparams)
{
    if (c->nstmts >= c->stmt_cap) return NULL; /* full: run unnamed */
    if (c->nstmts == c->stmt_alloc) { /* grown as used, up to the cap */
        int n = c->stmt_alloc ? 2 * c->stmt_alloc : 16;
        if (n > c->stmt_cap) n = c->stmt_cap;
        pg_stmt *st = realloc(c->stmts, (size_t)n * sizeof *st);
        if (!st) return NULL;
        c->stmts = st;
        c->stmt_alloc = n;
    }
    pg_stmt *s = &c->stmts[c->nstmts];
    s->sql = strdup(sql);
    if (!s->sql) return NULL;
    s->hash = h;
    s->nparams = nparams;
    s->types = NULL;
    s->ntypes = 0;
    s->pending = 1;
    snprintf(s->name, sizeof s->name, "weft_s%u", ++c->stmt_seq);
    c->nstmts++;
    return s;
}

static void stmt_drop(weft_pg *c, pg_stmt *s)
{
    free(s->sql);
    free(s->types);
    *s = c->stmts[--c->nstmts];
}

int pg__stmts_ready(const weft_pg *c)
{
    int n = 0;
    for (int i = 0; i < c->nstmts; i++) n += !c->stmts[i].pending;
    return n;
}

void pg__stmts_forget(weft_pg *c)
{
    while (c->nstmts) stmt_drop(c, &c->stmts[c->nstmts - 1]);
}

void pg__drop_pending(weft_pg *c)
{
    for (int i = c->nstmts - 1; i >= 0; i--)
        if (c->stmts[i].pending) stmt_drop(c, &c->stmts[i]);
}

/* ---- send and receive ---------------------------------------------------------- */

int pg__unsend(weft_pg *c, int rc, int syncs)
{
    if (c->broken || rc == -WEFT_PG_EBROKEN) return rc;
    if (PQpipelineStatus(c->pg) == PQ_PIPELINE_OFF) return rc; /* nothing was queued */
    if (PQexitPipelineMode(c->pg)) {
        pg__drop_pending(c);
        return rc;
    }
    /* Earlier statements are queued: close the pipeline and let the drain
     * task send and discard them, so the next user finds c clean. */
    if (PQpipelineSync(c->pg)) syncs++;
    pg__abort(c, -ECANCELED, syncs);
    return rc;
}

int pg__send_batch_item(weft_pg *c, const char *sql, const weft_pg_params *p, int flags,
                        int *prepared, pg_send_hint *hint)
{
    int n = p ? p->n : 0, rf = (flags & WEFT_PG_BINARY) ? 1 : 0;
    const char *const *v = p ? (const char *const *)p->values : NULL;
    const int *l = p ? p->lengths : NULL, *f = p ? p->formats : NULL;
    *prepared = 0;
    if (p && p->err) return p->err;
    pg_stmt *s = NULL;
    /* Behind a pool reset still in flight, the session may hold the last
     * holder's SQL PREPAREd statements under weft's names (the reset sorts
     * them out, but its replies come after this statement has run): a
     * cached name could run the last holder's statement instead of sql, a
     * new one could clash. The unnamed statement is nobody's. So too once
     * the reset's replies were read while the connection sat idle in the
     * pool, until the fixup they asked for has run (it runs after this
     * statement: query_body). */
    if (c->reset_syncs || c->reset_fixup) flags |= WEFT_PG_NOCACHE, hint = NULL;
    if (hint && hint->sql == sql && hint->s) {
        /* Entries only move when one is dropped, which ends a batch. */
        s = hint->s;
        if (!types_match(s, p)) s = NULL;
    } else if (!(flags & WEFT_PG_NOCACHE)) {
        uint64_t h = hash_sql(sql);
        s = stmt_find(c, sql, h);
        if (s && !types_match(s, p)) {
            s = NULL; /* hint->s stays NULL: the rows after run unnamed too */
        } else if (!s && PQpipelineStatus(c->pg) != PQ_PIPELINE_OFF &&
                   (s = stmt_add(c, sql, h, n))) {
            if (stmt_set_types(s, p) < 0) {
                stmt_drop(c, s);
                return -ENOMEM;
            }
            if (!PQsendPrepare(c->pg, s->name, sql, n, p ? p->types : NULL)) {
                stmt_drop(c, s);
                return pg__send_failed(c);
            }
            *prepared = 1;
        }
        if (hint) {
            hint->sql = sql;
            hint->s = s;
        }
    }
    int ok = s ? PQsendQueryPrepared(c->pg, s->name, n, v, l, f, rf)
               : PQsendQueryParams(c->pg, sql, n, p ? p->types : NULL, v, l, f, rf);
    return ok ? 0 : pg__send_failed(c);
}

int pg__stmt_state(weft_pg *c, const char *sql)
{
    pg_stmt *s = stmt_find(c, sql, hash_sql(sql));
    return !s ? 0 : s->pending ? 2 : 1;
}

void pg__prepare_done(weft_pg *c, const char *sql, int ok)
{
    pg_stmt *s = stmt_find(c, sql, hash_sql(sql));
    if (!s) return;
    if (ok) s->pending = 0;
    else stmt_drop(c, s);
}

int pg__recv(weft_pg *c, const char *sql, int syncs, PGresult **out)
{
    PGresult *res, *keep = NULL;
    int err = 0, first = syncs > 0;
    for (;;) {
        int rc = pg__get(c, &res);
        if (rc < 0) {
            PQclear(keep);
            return pg__abort(c, rc, syncs);
        }
        if (!res) {
            if (!syncs) break;
            continue;
        }
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            syncs--;
            PQexitPipelineMode(c->pg);
            break;
        }
        if (first && st != PGRES_PIPELINE_ABORTED) { /* Parse's answer */
            first = 0;
            pg__prepare_done(c, sql, st == PGRES_COMMAND_OK);
            if (st == PGRES_COMMAND_OK) {
                PQclear(res);
                continue;
            }
        }
        if (st == PGRES_FATAL_ERROR) {
            if (!err) err = pg__server_error(c, res);
        } else if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT) {
            rc = pg__discard_copy(c, st);
            if (rc < 0) {
                PQclear(res);
                PQclear(keep);
                return pg__abort(c, rc, syncs);
            }
        } else if (st != PGRES_PIPELINE_ABORTED && !keep) {
            keep = res;
            continue;
        }
        PQclear(res);
    }
    if (err || c->broken) {
        PQclear(keep);
        return err ? err : -WEFT_PG_EBROKEN;
    }
    int rows = keep ? pg__rows(keep) : 0;
    if (out) *out = keep;
    else PQclear(keep);
    return rows;
}

weft_pg_result *pg__wrap(PGresult *res)
{
    weft_pg_result *r = calloc(1, sizeof *r);
    if (!r) {
        PQclear(res);
        return NULL;
    }
    r->res = res;
    return r;
}

/* A cached statement whose plan no longer fits the schema (ALTER TABLE
 * changed its result type: SQLSTATE 0A000 "cached plan must not change
 * result type") is forgotten and deallocated; 1 if sql had an entry. */
int pg__stmt_invalidate(weft_pg *c, const char *sql)
{
    pg_stmt *s = stmt_find(c, sql, hash_sql(sql));
    if (!s || s->pending) return 0;
    char dealloc[48];
    snprintf(dealloc, sizeof dealloc, "DEALLOCATE %s", s->name);
    stmt_drop(c, s);
    weft_pg_exec(c, dealloc); /* failing only leaves a server-side orphan */
    return 1;
}

typedef struct query_job {
    weft_pg *c;
    const char *sql;
    const weft_pg_params *p;
    int flags;
    PGresult **res;
    int64_t *n;
} query_job;

static int query_body(void *arg)
{
    query_job *j = arg;
    int rc = pg__ap_query(j->c, j->sql, j->p, j->flags, j->res, j->n);
    if (j->c->reset_fixup) {
        /* The pool's reset, pipelined ahead of this statement, found
         * prepared statements to sort out: done now (at the next lock),
         * and a statement that found its own missing runs again. */
        weft_pg *c = j->c;
        int retry = rc == -WEFT_PG_ESERVER && !strcmp(c->sqlstate, "26000");
        char state[sizeof c->sqlstate];
        memcpy(state, c->sqlstate, sizeof state);
        char *msg = c->errmsg;
        c->errmsg = NULL;
        int l = pg__lock(c);
        if (l >= 0) pg__release(c);
        if (retry && l >= 0) {
            free(msg);
            if (j->res && *j->res) {
                PQclear(*j->res);
                *j->res = NULL;
            }
            return pg__ap_query(c, j->sql, j->p, j->flags, j->res, j->n);
        }
        if (l < 0) rc = rc < 0 ? rc : l;
        memcpy(c->sqlstate, state, sizeof state); /* the statement's error, not the lock's */
        free(c->errmsg);
        c->errmsg = msg;
    }
    /* Retried once, transparently, as asyncpg does; not inside a
     * transaction, which the error has aborted. */
    if (rc == -WEFT_PG_ESERVER && !strcmp(j->c->sqlstate, "0A000") && !(j->flags & WEFT_PG_NOCACHE) &&
        PQtransactionStatus(j->c->pg) == PQTRANS_IDLE && pg__stmt_invalidate(j->c, j->sql))
        rc = pg__ap_query(j->c, j->sql, j->p, j->flags, j->res, j->n);
    return rc;
}

int weft_pg_query_count(weft_pg *c, const char *sql, const weft_pg_params *p, int flags,
                        weft_pg_result **out, int64_t *rows)
{
    if (out) *out = NULL;
    if (!c || !sql) return -EINVAL;
    if (p && p->err) return p->err;
    if (c->broken) return -WEFT_PG_EBROKEN;
    PGresult *res = NULL;
    int64_t n = 0;
    query_job j = {c, sql, p, flags, out ? &res : NULL, &n};
    double t0 = c->qlog_fn ? weft_now() : 0;
    c->nqueries++;
    int rc = pg__timed(c, query_body, &j);
    if (c->qlog_fn) c->qlog_fn(c, sql, weft_now() - t0, n, rc, c->qlog_arg);
    if (rc >= 0 && out) {
        *out = res ? pg__wrap(res) : NULL;
        if (res && !*out) rc = -ENOMEM;
    } else if (rc < 0) {
        PQclear(res); /* read, then the reset's second step failed (query_body) */
    }
    if (rc >= 0 && rows) *rows = n;
    return rc;
}

int weft_pg_query_with(weft_pg *c, const char *sql, const weft_pg_params *p, int flags,
                     weft_pg_result **out)
{
    int64_t rows = 0;
    int rc = weft_pg_query_count(c, sql, p, flags, out, &rows);
    return rc < 0 ? rc : pg__rows_int(rows);
}

int weft_pg_query(weft_pg *c, const char *sql, const weft_pg_params *p, weft_pg_result **out)
{
    return weft_pg_query_with(c, sql, p, 0, out);
}

int pg__prepare_describe(weft_pg *c, const char *sql, const unsigned *types, int ntypes,
                         PGresult **desc)
{
    *desc = NULL;
    int rc = pg__lock(c);
    if (rc < 0) return rc;
    uint64_t h = hash_sql(sql);
    pg_stmt *s = stmt_find(c, sql, h);
    if (s && !s->pending && !types) { /* known: describe it only */
        char name[sizeof s->name];
        memcpy(name, s->name, sizeof name);
        if (!PQsendDescribePrepared(c->pg, name)) {
            rc = pg__send_failed(c);
        } else if ((rc = pg__flush(c)) < 0) {
            rc = pg__abort(c, rc, 0);
        } else {
            rc = pg__recv(c, sql, 0, desc);
        }
        pg__release(c);
        return rc;
    }
    if (s) stmt_drop(c, s); /* new types: prepared again under a new name */
    s = stmt_add(c, sql, h, 0);
    if (!s) {
        pg__release(c);
        return -ENOMEM;
    }
    char name[sizeof s->name];
    memcpy(name, s->name, sizeof name);
    int syncs = 1;
    if (!PQenterPipelineMode(c->pg) || !PQsendPrepare(c->pg, name, sql, ntypes, types) ||
        !PQsendDescribePrepared(c->pg, name) || !PQpipelineSync(c->pg)) {
        rc = pg__unsend(c, pg__send_failed(c), 0);
        pg__release(c);
        return rc;
    }
    rc = pg__flush(c);
    if (rc < 0) rc = pg__abort(c, rc, syncs);
    else rc = pg__recv(c, sql, syncs, desc);
    if (rc >= 0 && *desc && (s = stmt_find(c, sql, h))) {
        /* the types the server settled on: typed calls with the same OIDs
         * (and untyped text) use the entry */
        int n = PQnparams(*desc);
        s->nparams = n;
        unsigned *t = malloc(((size_t)n + 1) * sizeof *t);
        if (t) {
            for (int i = 0; i < n; i++) t[i] = (unsigned)PQparamtype(*desc, i);
            if (stmt_set_oids(s, t, n) < 0) stmt_drop(c, s);
            free(t);
        } else {
            stmt_drop(c, s);
        }
    }
    pg__release(c);
    return rc;
}

int weft_pg_prepare(weft_pg *c, const char *sql)
{
    if (!c || !sql) return -EINVAL;
    pg_stmt *s = stmt_find(c, sql, hash_sql(sql));
    if (s && !s->pending) return s->nparams; /* no round trip for a known one */
    PGresult *desc = NULL;
    int rc = pg__prepare_describe(c, sql, NULL, 0, &desc);
    if (rc >= 0) rc = desc ? PQnparams(desc) : 0;
    PQclear(desc);
    return rc;
}

int weft_pg_set_stmt_cache_size(weft_pg *c, int n)
{
    if (!c || n < 0) return -EINVAL;
    c->stmt_cap = n;
    int rc = 0;
    while (c->nstmts > n && rc >= 0) { /* the newest go: names are never reused */
        pg_stmt *s = &c->stmts[c->nstmts - 1];
        char dealloc[48];
        snprintf(dealloc, sizeof dealloc, "DEALLOCATE %s", s->name);
        int pending = s->pending;
        stmt_drop(c, s);
        if (!pending) rc = weft_pg_exec(c, dealloc);
    }
    return rc < 0 ? rc : 0;
}

/* ---- row-by-row cursors --------------------------------------------------------- */

struct weft_pg_rows {
    weft_pg *c;
    weft_pg_result cur;
    int done;
};

int weft_pg_query_rows(weft_pg *c, const char *sql, const weft_pg_params *p, int flags,
                       weft_pg_rows **out)
{
    *out = NULL;
    if (!c || !sql) return -EINVAL;
    if (p && p->err) return p->err;
    weft_pg_rows *it = calloc(1, sizeof *it);
    if (!it) return -ENOMEM;
    int rc = pg__lock(c), prepared;
    if (rc < 0) {
        free(it);
        return rc;
    }
    /* Single-row mode applies to a statement sent alone, so cursors run
     * cached statements prepared but do not prepare new ones. */
    uint64_t h = hash_sql(sql);
    rc = pg__send_batch_item(c, sql, p, stmt_find(c, sql, h) ? flags : flags | WEFT_PG_NOCACHE,
                             &prepared, NULL);
    if (rc < 0) {
        rc = pg__unsend(c, rc, 0);
    } else if (!PQsetSingleRowMode(c->pg)) {
        rc = pg__send_failed(c); /* sent anyway: drain it in the background */
        pg__abort(c, -ECANCELED, 0);
    } else {
        rc = pg__flush(c);
        if (rc < 0) rc = pg__abort(c, rc, 0);
    }
    if (rc < 0) {
        pg__release(c);
        free(it);
        return rc;
    }
    it->c = c;
    *out = it;
    return 0;
}

int weft_pg_rows_next(weft_pg_rows *it, const weft_pg_result **row)
{
    *row = NULL;
    if (!it) return -EINVAL;
    PQclear(it->cur.res);
    it->cur.res = NULL;
    pg__result_forget(&it->cur);
    if (it->done) return 0;
    weft_pg *c = it->c;
    int err = 0;
    for (;;) {
        PGresult *res;
        int rc = pg__get(c, &res);
        if (rc < 0) {
            it->done = 1;
            rc = pg__abort(c, rc, 0);
            pg__release(c);
            return rc;
        }
        if (!res) break;
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_SINGLE_TUPLE && !err) {
            it->cur.res = res;
            *row = &it->cur;
            return 1;
        }
        if (st == PGRES_FATAL_ERROR && !err) err = pg__server_error(c, res);
        PQclear(res);
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT) {
            /* not rows: ended (libpq's COPY state returns a COPY result
             * every time, never NULL: this loop spun for ever) */
            if (!err) err = -WEFT_PG_ESTATE;
            if ((rc = pg__discard_copy(c, st)) < 0) {
                it->done = 1;
                rc = pg__abort(c, rc, 0);
                pg__release(c);
                return rc;
            }
        }
    }
    it->done = 1;
    pg__release(c);
    return err;
}

void weft_pg_rows_close(weft_pg_rows *it)
{
    if (!it) return;
    PQclear(it->cur.res);
    pg__result_forget(&it->cur);
    if (!it->done) {
        /* Rows left: cancel and drain in the background (does not wait). */
        pg__abort(it->c, -ECANCELED, 0);
        pg__release(it->c);
    }
    free(it);
}

/* ---- transactions ----------------------------------------------------------------- */

static void tx_sync(weft_pg *c)
{
    if (PQtransactionStatus(c->pg) == PQTRANS_IDLE) c->tx_depth = 0;
}

int weft_pg_begin(weft_pg *c)
{
    int rc = pg__lock(c);
    if (rc < 0) return rc;
    tx_sync(c);
    char sql[48];
    if (c->tx_depth == 0) snprintf(sql, sizeof sql, "BEGIN");
    else snprintf(sql, sizeof sql, "SAVEPOINT weft_sp%d", c->tx_depth + 1);
    rc = pg__simple(c, sql);
    if (rc >= 0) rc = ++c->tx_depth;
    pg__release(c);
    return rc;
}

int weft_pg_begin_opts(weft_pg *c, int isolation, int read_only, int deferrable)
{
    static const char *const iso[] = {"", " ISOLATION LEVEL READ COMMITTED",
                                      " ISOLATION LEVEL REPEATABLE READ",
                                      " ISOLATION LEVEL SERIALIZABLE"};
    if (isolation < 0 || isolation > WEFT_PG_ISO_SERIALIZABLE) return -EINVAL;
    int rc = pg__lock(c);
    if (rc < 0) return rc;
    tx_sync(c);
    if (c->tx_depth) {
        pg__release(c);
        return -WEFT_PG_ESTATE;
    }
    char sql[128];
    snprintf(sql, sizeof sql, "BEGIN%s%s%s", iso[isolation], read_only ? " READ ONLY" : "",
             deferrable ? " DEFERRABLE" : "");
    rc = pg__simple(c, sql);
    if (rc >= 0) rc = ++c->tx_depth;
    pg__release(c);
    return rc;
}

int weft_pg_commit(weft_pg *c)
{
    int rc = pg__lock(c);
    if (rc < 0) return rc;
    tx_sync(c);
    char sql[48];
    if (c->tx_depth == 0) {
        pg__release(c);
        return -WEFT_PG_ESTATE;
    }
    if (c->tx_depth == 1 && PQtransactionStatus(c->pg) == PQTRANS_INERROR) {
        /* COMMIT would silently roll back: say so. */
        rc = pg__simple(c, "ROLLBACK");
        if (rc >= 0) {
            c->tx_depth = 0;
            snprintf(c->sqlstate, sizeof c->sqlstate, "25P02");
            free(c->errmsg);
            c->errmsg = strdup("transaction failed earlier: rolled back");
            rc = -WEFT_PG_ESERVER;
        }
        pg__release(c);
        return rc;
    }
    if (c->tx_depth == 1) snprintf(sql, sizeof sql, "COMMIT");
    else snprintf(sql, sizeof sql, "RELEASE SAVEPOINT weft_sp%d", c->tx_depth);
    rc = pg__simple(c, sql);
    if (rc >= 0) {
        c->tx_depth--;
        rc = 0;
    }
    pg__release(c);
    return rc;
}

int weft_pg_rollback(weft_pg *c)
{
    if (!c) return -EINVAL;
    int depth = c->tx_depth;
    int rc = pg__lock(c);
    if (rc == -ECANCELED || rc == -ETIMEDOUT) {
        /* This task cannot wait any more: the next user of c rolls back. */
        if (depth > 0 && (c->rollback_to < 0 || c->rollback_to > depth - 1))
            c->rollback_to = depth - 1;
        return rc;
    }
    if (rc < 0) return rc;
    tx_sync(c);
    if (c->tx_depth == 0) {
        pg__release(c);
        return -WEFT_PG_ESTATE;
    }
    c->rollback_to = c->tx_depth - 1;
    rc = pg__rollback_pending(c);
    pg__release(c);
    return rc;
}

int weft_pg_transaction(weft_pg *c, int (*fn)(weft_pg *c, void *arg), void *arg)
{
    if (!c || !fn) return -EINVAL;
    int depth = weft_pg_begin(c);
    if (depth < 0) return depth;
    int r = fn(c, arg);
    if (r >= 0) {
        int rc = weft_pg_commit(c);
        if (rc < 0 && c->tx_depth >= depth) weft_pg_rollback(c);
        return rc < 0 ? rc : r;
    }
    if (c->tx_depth >= depth) weft_pg_rollback(c);
    return r;
}
