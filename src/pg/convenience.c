/* asyncpg's everyday calls on top of the core ones: fetchrow/fetchval,
 * executemany (a batch of one statement, one segment), a prepared-statement
 * handle that says what the server knows about a statement, explain. */
#define _GNU_SOURCE
#include "pg_internal.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int weft_pg_fetchrow(weft_pg *c, const char *sql, const weft_pg_params *p, int flags,
                     weft_pg_result **out)
{
    if (!out) return -EINVAL;
    int rc = weft_pg_query_with(c, sql, p, flags, out);
    if (rc < 0) return rc;
    int n = weft_pg_result_nrows(*out);
    if (n == 1 && weft_pg_result_ncols(*out) > 0) return 0;
    weft_pg_result_free(*out);
    *out = NULL;
    return n > 1 ? -WEFT_PG_EMANYROWS : -WEFT_PG_ENOROWS;
}

int weft_pg_fetchval(weft_pg *c, const char *sql, const weft_pg_params *p, int flags,
                     weft_pg_result **out, weft_pg_value *v)
{
    if (!v) return -EINVAL;
    int rc = weft_pg_fetchrow(c, sql, p, flags, out);
    if (rc < 0) return rc;
    if (weft_pg_result_ncols(*out) != 1) {
        weft_pg_result_free(*out);
        *out = NULL;
        return -WEFT_PG_ETYPE;
    }
    return weft_pg_get_value(*out, 0, 0, v);
}

int weft_pg_fetch_bigint(weft_pg *c, const char *sql, const weft_pg_params *p, int64_t *v)
{
    weft_pg_result *r;
    weft_pg_value val;
    int rc = weft_pg_fetchval(c, sql, p, 0, &r, &val);
    if (rc < 0) return rc;
    rc = weft_pg_value_bigint(&val, v);
    weft_pg_result_free(r);
    return rc;
}

int weft_pg_fetch_text(weft_pg *c, const char *sql, const weft_pg_params *p, char **s)
{
    weft_pg_result *r;
    weft_pg_value val;
    *s = NULL;
    int rc = weft_pg_fetchval(c, sql, p, 0, &r, &val);
    if (rc < 0) return rc;
    if (val.len < 0) rc = -WEFT_PG_ENULL;
    else if (!(*s = strdup(val.data))) rc = -ENOMEM; /* text format: NUL-terminated */
    weft_pg_result_free(r);
    return rc;
}

int weft_pg_executemany(weft_pg *c, const char *sql, const weft_pg_params *const *sets, int n,
                        int64_t *rows, int *failed)
{
    if (rows) *rows = 0;
    if (failed) *failed = -1;
    if (!c || !sql || n < 0 || (n && !sets)) return -EINVAL;
    if (!n) return 0;
    weft_pg_batch *b = weft_pg_batch_new();
    int rc = b ? 0 : -ENOMEM;
    for (int i = 0; i < n && rc >= 0; i++) rc = weft_pg_batch_add(b, sql, sets[i]);
    /* no sync between the sets: one segment, one implicit transaction */
    if (rc >= 0) rc = weft_pg_batch_run(c, b, 0);
    if (rc >= 0) {
        int64_t total = 0;
        for (int i = 0; i < n; i++) total += weft_pg_batch_rows(b, i);
        if (rows) *rows = total;
    } else if (failed) {
        for (int i = 0; i < weft_pg_batch_count(b); i++)
            if (weft_pg_batch_status(b, i) == -WEFT_PG_ESERVER) {
                *failed = i;
                /* the connection's error is the first server error's */
                break;
            }
    }
    weft_pg_batch_free(b);
    return rc;
}

/* ---- prepared-statement handles --------------------------------------------------- */

struct weft_pg_stmt {
    weft_pg *c;
    char *sql;
    int nparams, ncols;
    unsigned *ptypes, *ctypes;
    char **cnames;
};

void weft_pg_stmt_free(weft_pg_stmt *s)
{
    if (!s) return;
    for (int i = 0; i < s->ncols; i++) free(s->cnames[i]);
    free(s->cnames);
    free(s->ptypes);
    free(s->ctypes);
    free(s->sql);
    free(s);
}

int weft_pg_prepare_stmt(weft_pg *c, const char *sql, const unsigned *types, int ntypes,
                         weft_pg_stmt **out)
{
    if (!c || !sql || !out || ntypes < 0 || (ntypes && !types)) return -EINVAL;
    *out = NULL;
    PGresult *desc = NULL;
    int rc = pg__prepare_describe(c, sql, types, ntypes, &desc);
    if (rc < 0) return rc;
    weft_pg_stmt *s = calloc(1, sizeof *s);
    if (!s) {
        PQclear(desc);
        return -ENOMEM;
    }
    s->c = c;
    s->nparams = PQnparams(desc);
    s->ncols = PQnfields(desc);
    s->sql = strdup(sql);
    s->ptypes = calloc((size_t)s->nparams + 1, sizeof *s->ptypes);
    s->ctypes = calloc((size_t)s->ncols + 1, sizeof *s->ctypes);
    s->cnames = calloc((size_t)s->ncols + 1, sizeof *s->cnames);
    rc = s->sql && s->ptypes && s->ctypes && s->cnames ? 0 : -ENOMEM;
    for (int i = 0; rc == 0 && i < s->nparams; i++) s->ptypes[i] = (unsigned)PQparamtype(desc, i);
    for (int i = 0; rc == 0 && i < s->ncols; i++) {
        s->ctypes[i] = (unsigned)PQftype(desc, i);
        if (!(s->cnames[i] = strdup(PQfname(desc, i)))) rc = -ENOMEM;
    }
    PQclear(desc);
    if (rc < 0) {
        weft_pg_stmt_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int weft_pg_stmt_nparams(const weft_pg_stmt *s) { return s ? s->nparams : 0; }
int weft_pg_stmt_ncols(const weft_pg_stmt *s) { return s ? s->ncols : 0; }
unsigned weft_pg_stmt_param_type(const weft_pg_stmt *s, int i)
{
    return s && i >= 0 && i < s->nparams ? s->ptypes[i] : 0;
}
unsigned weft_pg_stmt_col_type(const weft_pg_stmt *s, int i)
{
    return s && i >= 0 && i < s->ncols ? s->ctypes[i] : 0;
}
const char *weft_pg_stmt_col_name(const weft_pg_stmt *s, int i)
{
    return s && i >= 0 && i < s->ncols ? s->cnames[i] : NULL;
}

int weft_pg_stmt_query(weft_pg_stmt *s, const weft_pg_params *p, int flags, weft_pg_result **out)
{
    if (!s) return -EINVAL;
    return weft_pg_query_with(s->c, s->sql, p, flags, out);
}

/* ---- explain ------------------------------------------------------------------------ */

int weft_pg_explain(weft_pg *c, const char *sql, const weft_pg_params *p, int analyze, char **plan)
{
    if (!c || !sql || !plan) return -EINVAL;
    *plan = NULL;
    size_t n = strlen(sql) + 64;
    char *q = malloc(n);
    if (!q) return -ENOMEM;
    snprintf(q, n, "EXPLAIN (FORMAT JSON%s) %s", analyze ? ", ANALYZE" : "", sql);
    weft_pg_result *r = NULL;
    int rc = weft_pg_query_with(c, q, p, WEFT_PG_NOCACHE, &r);
    free(q);
    if (rc < 0) return rc;
    /* one row per line in text formats; FORMAT JSON gives one value */
    const char *t = weft_pg_result_nrows(r) == 1 ? weft_pg_get_text(r, 0, 0) : NULL;
    rc = !t ? -WEFT_PG_ETYPE : (*plan = strdup(t)) ? 0 : -ENOMEM;
    weft_pg_result_free(r);
    return rc;
}
