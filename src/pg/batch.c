/* Pipelined batches: every statement is sent before any reply is read
 * (libpq pipeline mode), so a batch of N costs about one round trip instead
 * of N. Sync points split it into segments, each its own implicit
 * transaction on the server: an error aborts the rest of its segment only. */
#define _GNU_SOURCE
#include "pg_internal.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct item {
    char *sql;        /* shared with the item before when the text is equal */
    int shared_sql;
    weft_pg_params *p;
    int sync_after;   /* a sync point follows this statement */
    int prepared;     /* its Parse was sent in this run */
    int status;
    int64_t rows;        /* status's count, 64-bit */
    weft_pg_result *res; /* rows returned, if any */
    char sqlstate[6];
} item;

struct weft_pg_batch {
    item *items;
    int n, cap;
};

weft_pg_batch *weft_pg_batch_new(void) { return calloc(1, sizeof(weft_pg_batch)); }

static void clear_results(weft_pg_batch *b)
{
    for (int i = 0; i < b->n; i++) {
        weft_pg_result_free(b->items[i].res);
        b->items[i].res = NULL;
        b->items[i].status = -EINVAL;
        b->items[i].sqlstate[0] = 0;
    }
}

void weft_pg_batch_free(weft_pg_batch *b)
{
    if (!b) return;
    clear_results(b);
    for (int i = 0; i < b->n; i++) {
        if (!b->items[i].shared_sql) free(b->items[i].sql);
        weft_pg_params_free(b->items[i].p);
    }
    free(b->items);
    free(b);
}

int weft_pg_batch_add(weft_pg_batch *b, const char *sql, const weft_pg_params *p)
{
    if (!b || !sql) return -EINVAL;
    if (p && p->err) return p->err;
    if (b->n == b->cap) {
        int cap = b->cap ? 2 * b->cap : 16;
        item *it = realloc(b->items, (size_t)cap * sizeof *it);
        if (!it) return -ENOMEM;
        b->items = it;
        b->cap = cap;
    }
    item *it = &b->items[b->n];
    memset(it, 0, sizeof *it);
    it->status = -EINVAL;
    /* A batch usually repeats one statement: one copy of its text, and a
     * run then finds its cache entry once (pg_send_hint). */
    if (b->n && !strcmp(b->items[b->n - 1].sql, sql)) {
        it->sql = b->items[b->n - 1].sql;
        it->shared_sql = 1;
    } else {
        it->sql = strdup(sql);
    }
    it->p = p && p->n ? pg__params_dup(p) : NULL;
    if (!it->sql || (p && p->n && !it->p)) {
        if (!it->shared_sql) free(it->sql);
        weft_pg_params_free(it->p);
        return -ENOMEM;
    }
    b->n++;
    return 0;
}

int weft_pg_batch_sync(weft_pg_batch *b)
{
    if (!b) return -EINVAL;
    if (b->n) b->items[b->n - 1].sync_after = 1;
    return 0;
}

int weft_pg_batch_count(const weft_pg_batch *b) { return b ? b->n : 0; }

int weft_pg_batch_status(const weft_pg_batch *b, int i)
{
    return b && i >= 0 && i < b->n ? b->items[i].status : -EINVAL;
}

int64_t weft_pg_batch_rows(const weft_pg_batch *b, int i)
{
    if (!b || i < 0 || i >= b->n) return -EINVAL;
    return b->items[i].status < 0 ? b->items[i].status : b->items[i].rows;
}

const weft_pg_result *weft_pg_batch_result(const weft_pg_batch *b, int i)
{
    return b && i >= 0 && i < b->n ? b->items[i].res : NULL;
}

const char *weft_pg_batch_sqlstate(const weft_pg_batch *b, int i)
{
    return b && i >= 0 && i < b->n ? b->items[i].sqlstate : "";
}

/* Next non-NULL result of the pipeline (NULLs separate statements). */
static int next_result(weft_pg *c, PGresult **res)
{
    for (;;) {
        int rc = pg__get(c, res);
        if (rc < 0 || *res) return rc;
    }
}

static void item_error(weft_pg *c, item *it, PGresult *res)
{
    pg__server_error(c, res);
    snprintf(it->sqlstate, sizeof it->sqlstate, "%s", weft_pg_sqlstate(c));
    it->status = -WEFT_PG_ESERVER;
}

int weft_pg_batch_run(weft_pg *c, weft_pg_batch *b, int flags)
{
    if (!c || !b) return -EINVAL;
    clear_results(b);
    if (!b->n) return 0;
    int rc = pg__lock(c);
    if (rc < 0) return rc;
    int syncs = 0;
    pg_send_hint hint = {NULL, NULL};
    if (!PQenterPipelineMode(c->pg)) {
        rc = pg__send_failed(c);
        pg__release(c);
        return rc;
    }
    for (int i = 0; i < b->n && rc >= 0; i++) {
        item *it = &b->items[i];
        rc = pg__send_batch_item(c, it->sql, it->p, flags, &it->prepared, &hint);
        if (rc >= 0 && (it->sync_after || i == b->n - 1)) {
            if (!PQpipelineSync(c->pg)) rc = pg__send_failed(c);
            else syncs++;
        }
        /* Push out what is queued now and then, so the server starts
         * working while the rest is still being queued. */
        if (rc >= 0 && (i & 63) == 63 && PQflush(c->pg) < 0) rc = pg__lost(c);
    }
    if (rc < 0) {
        /* A statement could not be queued (bad input): nothing of the batch
         * is reported run; what was queued is drained in the background. */
        rc = pg__unsend(c, rc, syncs);
        pg__release(c);
        return rc;
    }
    rc = pg__flush(c);
    if (rc < 0) {
        rc = pg__abort(c, rc, syncs);
        pg__release(c);
        return rc;
    }
    int first_err = 0;
    PGresult *res;
    for (int i = 0; i < b->n; i++) {
        item *it = &b->items[i];
        if (it->prepared) {
            rc = next_result(c, &res);
            if (rc < 0) break;
            int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
            pg__prepare_done(c, it->sql, ok);
            if (PQresultStatus(res) == PGRES_FATAL_ERROR) item_error(c, it, res);
            PQclear(res);
        }
        rc = next_result(c, &res);
        if (rc < 0) break;
        switch (PQresultStatus(res)) {
        case PGRES_FATAL_ERROR:
            if (it->status != -WEFT_PG_ESERVER) item_error(c, it, res);
            PQclear(res);
            break;
        case PGRES_PIPELINE_ABORTED:
            if (it->status != -WEFT_PG_ESERVER) it->status = -WEFT_PG_EABORTED;
            PQclear(res);
            break;
        case PGRES_COPY_IN:
        case PGRES_COPY_OUT:
            /* A COPY has no place in a batch, and cannot be ended inside a
             * pipeline with the rest still in order (the server takes the
             * batch's next messages as bad COPY data; libpq adds a Sync to
             * a CopyFail). Taken as a result, it left libpq in its COPY
             * state and the batch returned 0: the connection answered
             * nothing after, and looked healthy (a pool kept it). */
            PQclear(res);
            it->status = -WEFT_PG_ESTATE;
            rc = pg__lost(c);
            break;
        default:
            it->rows = pg__rows64(res);
            it->status = pg__rows_int(it->rows);
            /* Only row-returning statements keep their result: a batch of
             * INSERTs keeps just counts. */
            if (PQresultStatus(res) == PGRES_TUPLES_OK) it->res = pg__wrap(res);
            else PQclear(res);
        }
        if (rc < 0) break;
        if (it->status < 0 && !first_err) first_err = it->status;
        if (it->sync_after || i == b->n - 1) {
            rc = next_result(c, &res);
            if (rc < 0) break;
            PQclear(res);
            syncs--;
        }
    }
    if (rc < 0) {
        rc = pg__abort(c, rc, syncs);
        pg__release(c);
        return rc;
    }
    PQexitPipelineMode(c->pg);
    pg__release(c);
    return first_err;
}
