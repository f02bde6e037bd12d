/* COPY FROM STDIN and COPY TO STDOUT, streamed through callbacks that may
 * themselves wait (they run in the calling task). */
#define _GNU_SOURCE
#include "pg_internal.h"
#include <errno.h>
#include <stdlib.h>

#define COPY_PIECE (1 << 20) /* bytes per CopyData message at most */

/* Reads the results of the statement string in progress to its end, res
 * (if not NULL) first, and frees them. A COPY among them is ended: in
 * libpq's COPY state every PQgetResult returns a COPY result, never NULL,
 * so a loop waiting for NULL spun for ever ("SELECT 1; COPY t FROM STDIN",
 * two COPYs in one string, or a server that says so). 0 or an error (the
 * connection is aborted). */
static int end_results(weft_pg *c, PGresult *res)
{
    for (;;) {
        if (!res) {
            int rc = pg__get(c, &res);
            if (rc < 0) return pg__abort(c, rc, 0);
            if (!res) break;
        }
        ExecStatusType st = PQresultStatus(res);
        PQclear(res);
        res = NULL;
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT) {
            int rc = pg__discard_copy(c, st);
            if (rc < 0) return pg__abort(c, rc, 0);
        }
    }
    return 0;
}

/* Starts sql and reads up to its COPY result (want: COPY_IN or COPY_OUT).
 * With nintro, sql is that many queries' rows (PGRES_TUPLES_OK) then the
 * COPY, in one simple query: those results are kept in intro[] for the
 * caller (all cleared on failure). *cols (if not NULL): the COPY's columns. */
static int copy_start(weft_pg *c, const char *sql, ExecStatusType want, PGresult **intro,
                      int nintro, int *cols)
{
    if (!PQsendQuery(c->pg, sql)) return pg__send_failed(c);
    int rc = pg__flush(c), got = 0;
    PGresult *res = NULL;
    if (rc >= 0) rc = pg__get(c, &res);
    while (rc >= 0 && got < nintro && res && PQresultStatus(res) == PGRES_TUPLES_OK) {
        intro[got++] = res;
        res = NULL;
        rc = pg__get(c, &res);
    }
    if (rc < 0 || !res) {
        while (got) PQclear(intro[--got]);
        return rc < 0 ? pg__abort(c, rc, 0) : -WEFT_PG_ESTATE;
    }
    ExecStatusType st = PQresultStatus(res);
    if (got < nintro && st == want) st = PGRES_BAD_RESPONSE; /* rows missing before it */
    if (st == want) {
        if (cols) *cols = PQnfields(res);
        PQclear(res);
        return 0;
    }
    rc = st == PGRES_FATAL_ERROR ? pg__server_error(c, res) : -WEFT_PG_ESTATE;
    while (got) PQclear(intro[--got]);
    /* Not a COPY of that direction: end whatever it was. */
    int d = end_results(c, res);
    return d < 0 ? d : rc;
}

/* Reads the COPY's final results: 0 and *rows copied, or the error. A
 * second COPY after it is not the caller's: ended, -WEFT_PG_ESTATE (and the
 * statement string, one transaction, fails with it). */
static int copy_finish(weft_pg *c, int64_t *rows)
{
    PGresult *res;
    int out = 0;
    for (;;) {
        int rc = pg__get(c, &res);
        if (rc < 0) return pg__abort(c, rc, 0);
        if (!res) break;
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT) {
            rc = end_results(c, res);
            if (rc < 0) return rc;
            return out < 0 ? out : -WEFT_PG_ESTATE;
        }
        if (st == PGRES_FATAL_ERROR) {
            if (out >= 0) out = pg__server_error(c, res);
        } else if (out >= 0) {
            *rows = pg__rows64(res);
        }
        PQclear(res);
    }
    return out;
}

int pg__copy_in_intro(weft_pg *c, const char *sql, int nintro,
                      int (*ready)(void *arg, PGresult *const *intro, int cols),
                      ssize_t (*source)(void *arg, const char **data), void *arg, int64_t *rows)
{
    int64_t dropped = 0;
    if (!c || !sql || !source || nintro < 0 || nintro > PG_COPY_INTROS || (nintro && !ready))
        return -EINVAL;
    int rc = pg__lock(c);
    if (rc < 0) return rc;
    PGresult *intro[PG_COPY_INTROS] = {NULL};
    int cols = 0;
    rc = copy_start(c, sql, PGRES_COPY_IN, intro, nintro, &cols);
    if (rc < 0) {
        pg__release(c);
        return rc;
    }
    /* Told what the intro said before any data is asked for: a failure
     * there abandons the COPY as a source's error does. */
    int ready_rc = nintro ? ready(arg, intro, cols) : 0;
    for (int i = 0; i < nintro; i++) PQclear(intro[i]);
    for (;;) {
        const char *data = NULL;
        ssize_t n = ready_rc < 0 ? ready_rc : source(arg, &data);
        if (n < 0) {
            /* Abandon: the server rolls the COPY back. If this task can no
             * longer wait, the drain task finishes it. */
            rc = (int)n;
            if (PQputCopyEnd(c->pg, "aborted by the client") < 0) rc = pg__abort(c, pg__lost(c), 0);
            else if (n == -ECANCELED || n == -ETIMEDOUT) pg__abort(c, rc, 0);
            else {
                int f = pg__flush(c);
                if (f >= 0) f = copy_finish(c, &dropped);
                else pg__abort(c, f, 0);
                if (f == -WEFT_PG_EBROKEN) rc = f;
                pg__clear_error(c);
            }
            pg__release(c);
            return rc;
        }
        if (n == 0) break;
        int q = 1;
        /* libpq takes an int length and copies a piece whole into its
         * buffer: chunks go in pieces (CopyData need not follow rows). */
        for (size_t left = (size_t)n; left && q > 0 && rc >= 0;) {
            int piece = left < COPY_PIECE ? (int)left : COPY_PIECE;
            while ((q = PQputCopyData(c->pg, data, piece)) == 0) {
                /* libpq's buffer is full: wait for the socket to take some. */
                rc = pg__flush(c);
                if (rc < 0) break;
            }
            data += piece;
            left -= (size_t)piece;
        }
        if (q < 0) rc = pg__lost(c);
        if (rc < 0) {
            rc = pg__abort(c, rc, 0);
            pg__release(c);
            return rc;
        }
    }
    if (PQputCopyEnd(c->pg, NULL) < 0) rc = pg__lost(c);
    else rc = pg__flush(c);
    if (rc < 0) rc = pg__abort(c, rc, 0);
    else rc = copy_finish(c, rows ? rows : &dropped);
    pg__release(c);
    return rc;
}

int weft_pg_copy_in_count(weft_pg *c, const char *sql,
                          ssize_t (*source)(void *arg, const char **data), void *arg,
                          int64_t *rows)
{
    return pg__copy_in_intro(c, sql, 0, NULL, source, arg, rows);
}

int weft_pg_copy_in(weft_pg *c, const char *sql,
                    ssize_t (*source)(void *arg, const char **data), void *arg)
{
    int64_t rows = 0;
    int rc = weft_pg_copy_in_count(c, sql, source, arg, &rows);
    return rc < 0 ? rc : pg__rows_int(rows);
}

int weft_pg_copy_out_count(weft_pg *c, const char *sql,
                           int (*sink)(void *arg, const char *data, size_t n), void *arg,
                           int64_t *rows)
{
    int64_t dropped = 0;
    if (!c || !sql || !sink) return -EINVAL;
    int rc = pg__lock(c);
    if (rc < 0) return rc;
    rc = copy_start(c, sql, PGRES_COPY_OUT, NULL, 0, NULL);
    if (rc < 0) {
        pg__release(c);
        return rc;
    }
    for (;;) {
        char *buf;
        int n = PQgetCopyData(c->pg, &buf, 1);
        if (n > 0) {
            int s = sink(arg, buf, (size_t)n);
            PQfreemem(buf);
            if (s < 0) {
                /* Stop the server sending the rest: cancel and drain. */
                pg__abort(c, -ECANCELED, 0);
                pg__release(c);
                return s;
            }
            continue;
        }
        if (n == -1) break;
        if (n == -2) {
            rc = pg__lost(c);
        } else {
            int ev = pg__wait(c, WEFT_READABLE);
            rc = ev < 0 ? ev : 0;
            if (rc >= 0 && !PQconsumeInput(c->pg)) rc = pg__lost(c);
        }
        if (rc < 0) {
            rc = pg__abort(c, rc, 0);
            pg__release(c);
            return rc;
        }
    }
    rc = copy_finish(c, rows ? rows : &dropped);
    pg__release(c);
    return rc;
}

int weft_pg_copy_out(weft_pg *c, const char *sql,
                     int (*sink)(void *arg, const char *data, size_t n), void *arg)
{
    int64_t rows = 0;
    int rc = weft_pg_copy_out_count(c, sql, sink, arg, &rows);
    return rc < 0 ? rc : pg__rows_int(rows);
}
