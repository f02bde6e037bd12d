/* The pool's session reset, without a round trip of its own. Release sends
 * it (pipeline mode, nothing waited for: release never waits) and leaves
 * the connection idle with the replies due. The next operation reads them
 * first: a weft_pg_query puts its own statement into the same pipeline
 * before it waits, so acquire + query + release costs one round trip, not
 * two; any other operation reads the replies at its lock, as the old reset
 * at acquire did.
 *
 * What is reset: DISCARD ALL's list minus the prepared statements (see
 * pool.c): the session user and role (RESET ALL leaves both: they are
 * GUC_NO_RESET_ALL), settings, cursors, LISTEN, advisory locks, temp tables,
 * sequence state. The last statement has rows only when something is off
 * with prepared statements: some made with SQL PREPARE (from_sql), or fewer
 * of weft's own than its cache holds (the holder ran DISCARD ALL or
 * DEALLOCATE). Then a second step (a DO block costs ~0.4 ms of plpgsql, so
 * only then) deallocates the from_sql ones and, if weft's are missing,
 * forgets weft's cache; a query pipelined with the reset that used a
 * missing statement (SQLSTATE 26000) is run again (query.c). */
#define _GNU_SOURCE
#include "pg_internal.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const reset_stmts[] = {
    "RESET SESSION AUTHORIZATION", "RESET ROLE", "RESET ALL", "CLOSE ALL", "UNLISTEN *",
    "SELECT pg_advisory_unlock_all()", "DISCARD TEMP", "DISCARD SEQUENCES"};
#define RESETS_OWN_SEGMENT 3 /* the first three: authorization, role, settings */
static const char check_sql[] =
    "SELECT 1 FROM pg_prepared_statements WHERE from_sql UNION ALL"
    " SELECT 1 WHERE (SELECT count(*) FROM pg_prepared_statements WHERE NOT from_sql) < %d";
static const char deallocate_sql[] =
    "DO $weft$DECLARE s text; BEGIN FOR s IN SELECT name FROM pg_prepared_statements"
    " WHERE from_sql LOOP EXECUTE format('DEALLOCATE %I', s); END LOOP; END$weft$;"
    " SELECT 1 FROM pg_prepared_statements";

static int send_one(weft_pg *c, const char *sql)
{
    return PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 0);
}

int pg__reset_send(weft_pg *c)
{
    char check[sizeof check_sql + 16];
    snprintf(check, sizeof check, check_sql, pg__stmts_ready(c));
    int syncs = 0, ok = PQenterPipelineMode(c->pg);
    /* its own segment: the rest must not be skipped with a failed block */
    if (ok && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        ok = send_one(c, "ROLLBACK") && PQpipelineSync(c->pg) && ++syncs;
    for (size_t i = 0; ok && i < sizeof reset_stmts / sizeof reset_stmts[0]; i++) {
        ok = send_one(c, reset_stmts[i]);
        /* The user, role and settings in a segment of their own, committed
         * at its sync: SET and RESET are transactional, so a later failure
         * (DISCARD TEMP out of shared memory) would otherwise undo them
         * while the next holder's statement, already queued behind the
         * reset, runs before the failure is read (the connection is then
         * dropped and that operation fails, but it would have run under the
         * last holder's role). */
        if (ok && i == RESETS_OWN_SEGMENT - 1) ok = PQpipelineSync(c->pg) && ++syncs;
    }
    ok = ok && send_one(c, check) && PQpipelineSync(c->pg) && ++syncs;
    /* what the socket does not take now goes with the next flush */
    if (!ok || PQflush(c->pg) < 0) return pg__lost(c);
    c->reset_syncs = syncs;
    c->reset_err = c->reset_fixup = 0;
    pg__forget_session(c); /* and again once read: more may come before UNLISTEN */
    return 0;
}

void pg__forget_session(weft_pg *c)
{
    c->tx_depth = 0;
    c->rollback_to = -1;
    c->listening = 0;
    c->pool_dirty = 0;
    /* notifications read so far (UNLISTEN * ends new ones) belong to the
     * last holder, not the next */
    PGnotify *n;
    while ((n = PQnotifies(c->pg))) PQfreemem(n);
    for (pg_nq *q = c->nq_head, *next; q; q = next) {
        next = q->next;
        free(q);
    }
    c->nq_head = c->nq_tail = NULL;
}

/* Marked done once done, not before: one cut short (the operation whose
 * lock ran it cancelled or past its deadline) left the last holder's
 * statements under weft's cached names, and the next query ran one of
 * them. Now it runs again at the next lock (statements go unnamed till
 * then: query.c); one the server refuses leaves a session nobody should
 * get, so the connection is dropped, as for a failed reset. */
int pg__reset_fixup(weft_pg *c)
{
    int64_t present = 0;
    int rc = pg__simple_count(c, deallocate_sql, &present);
    if (rc >= 0 && present < pg__stmts_ready(c)) {
        pg__stmts_forget(c);
        rc = pg__simple(c, "DEALLOCATE ALL");
    }
    if (rc >= 0) c->reset_fixup = 0;
    else if (rc != -ECANCELED && rc != -ETIMEDOUT && !c->broken) pg__lost(c);
    return rc < 0 ? rc : 0;
}

/* One of the reset's results: counts syncs, notes errors and the check.
 * A COPY (none of the reset's statements is one: a server's lie) leaves
 * libpq's COPY state, whose result comes back every time and the syncs
 * never: the readers below spun on it for ever; -1, the connection is
 * dropped. */
static int take_result(weft_pg *c, PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_PIPELINE_SYNC) c->reset_syncs--;
    else if (st == PGRES_FATAL_ERROR || st == PGRES_PIPELINE_ABORTED) c->reset_err = 1;
    else if (st == PGRES_TUPLES_OK) c->reset_fixup = PQntuples(res) > 0; /* the check is last */
    PQclear(res);
    if (st != PGRES_COPY_IN && st != PGRES_COPY_OUT && st != PGRES_COPY_BOTH) return 0;
    c->reset_syncs = 0;
    pg__lost(c);
    return -1;
}

int pg__reset_poll(weft_pg *c)
{
    if (PQflush(c->pg) < 0 || !PQconsumeInput(c->pg)) return pg__lost(c);
    while (c->reset_syncs && !PQisBusy(c->pg)) {
        PGresult *res = PQgetResult(c->pg);
        if (res && take_result(c, res) < 0) return -WEFT_PG_EBROKEN;
    }
    if (c->reset_syncs) return 0;
    if (c->reset_err || !PQexitPipelineMode(c->pg)) return pg__lost(c);
    pg__forget_session(c);
    return 1; /* a fixup, if due, runs at the next lock */
}

int pg__reset_collect(weft_pg *c, int finish)
{
    int rc = pg__flush(c);
    while (rc >= 0 && c->reset_syncs) {
        PGresult *res;
        if ((rc = pg__get(c, &res)) >= 0 && res && take_result(c, res) < 0) rc = -WEFT_PG_EBROKEN;
    }
    int err = c->reset_err;
    c->reset_err = 0;
    if (rc < 0 || err) {
        /* a session half reset (or not at all) is no use to anyone: this
         * operation fails and the pool replaces the connection */
        c->reset_syncs = 0;
        pg__lost(c);
        return rc < 0 ? rc : -WEFT_PG_EBROKEN;
    }
    pg__forget_session(c);
    if (!finish) return 0;
    if (!PQexitPipelineMode(c->pg)) return pg__lost(c);
    return c->reset_fixup ? pg__reset_fixup(c) : 0;
}
