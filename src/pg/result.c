/* Results and typed accessors. Each accessor reads a value in text or binary
 * format (the result's column says which), so callers choose the wire format
 * for speed without changing how they read values. */
#define _GNU_SOURCE
#include "pg_internal.h"
#include "pg_values.h"
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


void pg__result_forget(weft_pg_result *r)
{
    for (size_t i = 0; i < r->ndecoded; i++) free(r->decoded[i]);
    free(r->decoded);
    r->decoded = NULL;
    r->ndecoded = 0;
    r->shape_known = 0;
    r->col_known = r->col_binary = 0;
}

void weft_pg_result_free(weft_pg_result *r)
{
    if (!r) return;
    PQclear(r->res);
    pg__result_forget(r);
    free(r);
}

int weft_pg_result_nrows(const weft_pg_result *r) { return r ? PQntuples(r->res) : 0; }
int64_t weft_pg_result_rows(const weft_pg_result *r) { return r ? pg__rows64(r->res) : 0; }
int weft_pg_result_ncols(const weft_pg_result *r) { return r ? PQnfields(r->res) : 0; }
const char *weft_pg_colname(const weft_pg_result *r, int col)
{
    return r ? PQfname(r->res, col) : NULL;
}
int weft_pg_colindex(const weft_pg_result *r, const char *name)
{
    return r && name ? PQfnumber(r->res, name) : -1;
}
unsigned weft_pg_coltype(const weft_pg_result *r, int col)
{
    return r ? (unsigned)PQftype(r->res, col) : 0;
}

/* r's cache is filled from const accessors: a result is the caller's
 * (never shared between threads: one task reads it at a time). */
__attribute__((always_inline)) static inline int in_range(const weft_pg_result *cr, int row, int col)
{
    weft_pg_result *r = (weft_pg_result *)cr;
    if (!r->shape_known) {
        r->nrows = PQntuples(r->res);
        r->ncols = PQnfields(r->res);
        r->shape_known = 1;
    }
    return row >= 0 && col >= 0 && row < r->nrows && col < r->ncols;
}

int weft_pg_result_isnull(const weft_pg_result *r, int row, int col)
{
    if (!r || !in_range(r, row, col)) return -EINVAL;
    return PQgetisnull(r->res, row, col);
}

/* A column's type and format, from r's cache when col < PG_COLS_CACHED. */
static inline void col_info(weft_pg_result *r, int col, weft_pg_value *v)
{
    if (col < PG_COLS_CACHED) {
        uint32_t bit = (uint32_t)1 << col;
        if (!(r->col_known & bit)) {
            r->col_oid[col] = (unsigned)PQftype(r->res, col);
            if (PQfformat(r->res, col) == 1) r->col_binary |= bit;
            r->col_known |= bit;
        }
        v->oid = r->col_oid[col];
        v->binary = (r->col_binary & bit) != 0;
    } else {
        v->oid = (unsigned)PQftype(r->res, col);
        v->binary = PQfformat(r->res, col) == 1;
    }
}

/* The cell's bytes (row and col checked). */
static inline void cell(const weft_pg_result *r, int row, int col, weft_pg_value *v)
{
    int len = PQgetlength(r->res, row, col);
    if (len == 0 && PQgetisnull(r->res, row, col)) { /* a NULL's length is 0 too */
        v->data = NULL;
        v->len = -1;
        return;
    }
    v->data = PQgetvalue(r->res, row, col); /* libpq NUL-terminates every value */
    v->len = len;
}

int weft_pg_get_value(const weft_pg_result *cr, int row, int col, weft_pg_value *v)
{
    if (!cr || !in_range(cr, row, col)) return -EINVAL;
    weft_pg_result *r = (weft_pg_result *)cr;
    col_info(r, col, v);
    cell(r, row, col, v);
    return 0;
}

/* One call a row instead of one a cell: the range check, the frame and the
 * column lookups are paid once a row (P4 types: see docs/benchmarks.md). */
int weft_pg_get_row(const weft_pg_result *cr, int row, weft_pg_value *vals, int n)
{
    if (!cr || n < 0 || (n && !vals) || !in_range(cr, row, 0)) return -EINVAL;
    weft_pg_result *r = (weft_pg_result *)cr;
    if (n > r->ncols) n = r->ncols;
    int cached = n < PG_COLS_CACHED ? n : PG_COLS_CACHED;
    uint32_t want = cached == 32 ? ~(uint32_t)0 : ((uint32_t)1 << cached) - 1;
    if ((r->col_known & want) != want) /* once a result: the columns' types */
        for (int col = 0; col < cached; col++) col_info(r, col, &vals[col]);
    PGresult *res = r->res;
    for (int col = 0; col < n; col++) {
        weft_pg_value *v = &vals[col];
        if (col < cached) {
            v->oid = r->col_oid[col];
            v->binary = (int)(r->col_binary >> col) & 1;
        } else {
            col_info(r, col, v);
        }
        int len = PQgetlength(res, row, col);
        if (len == 0 && PQgetisnull(res, row, col)) { /* a NULL's length is 0 too */
            v->data = NULL;
            v->len = -1;
            continue;
        }
        v->data = PQgetvalue(res, row, col); /* libpq NUL-terminates every value */
        v->len = len;
    }
    return n;
}

/* The cell, failing for NULL (the accessors' contract). */
static int get_cell(const weft_pg_result *r, int row, int col, weft_pg_value *v)
{
    int rc = weft_pg_get_value(r, row, col, v);
    if (rc < 0) return rc;
    return v->len < 0 ? -WEFT_PG_ENULL : 0;
}

/* weft_pg_get_X: the cell, then weft_pg_value_X. */
#define ACCESSOR(name, type)                                                          \
    int weft_pg_get_##name(const weft_pg_result *r, int row, int col, type *out)      \
    {                                                                                 \
        weft_pg_value v;                                                              \
        int rc = get_cell(r, row, col, &v);                                           \
        return rc < 0 ? rc : weft_pg_value_##name(&v, out);                          \
    }
ACCESSOR(bigint, int64_t)
ACCESSOR(int, int32_t)
ACCESSOR(bool, int)
ACCESSOR(date, int32_t)
ACCESSOR(time, int64_t)
ACCESSOR(interval, weft_pg_interval)
ACCESSOR(inet, weft_pg_inet)
ACCESSOR(timestamp, int64_t)

int weft_pg_get_uuid(const weft_pg_result *r, int row, int col, uint8_t out[16])
{
    weft_pg_value v;
    int rc = get_cell(r, row, col, &v);
    return rc < 0 ? rc : weft_pg_value_uuid(&v, out);
}

int weft_pg_get_double(const weft_pg_result *r, int row, int col, double *out)
{
    weft_pg_value v;
    int rc = get_cell(r, row, col, &v);
    if (rc < 0) return rc;
    if (v.oid == WEFT_PG_NUMERIC && v.binary) { /* decoded once, kept */
        if ((rc = weft_pg_get_numeric(r, row, col, &v.data)) < 0) return rc;
        v.len = (int)strlen(v.data);
        v.binary = 0;
    }
    return weft_pg_value_double(&v, out);
}

int weft_pg_get_json(const weft_pg_result *r, int row, int col, const char **s, size_t *n)
{
    weft_pg_value v;
    int rc = get_cell(r, row, col, &v);
    if (rc < 0) return rc;
    if (v.oid != WEFT_PG_JSON && v.oid != WEFT_PG_JSONB) return -WEFT_PG_ETYPE;
    return weft_pg_value_text(&v, s, n);
}

const char *weft_pg_get_text(const weft_pg_result *r, int row, int col)
{
    weft_pg_value v;
    const char *s;
    size_t n;
    if (get_cell(r, row, col, &v) < 0 || weft_pg_value_text(&v, &s, &n) < 0) return NULL;
    return s; /* NUL-terminated: libpq's terminator ends every cell */
}

int weft_pg_get_array(const weft_pg_result *r, int row, int col, weft_pg_array **out)
{
    weft_pg_value v;
    *out = NULL;
    int rc = get_cell(r, row, col, &v);
    return rc < 0 ? rc : weft_pg_value_array(&v, out);
}

int weft_pg_get_record(const weft_pg_result *r, int row, int col, weft_pg_record **out)
{
    weft_pg_value v;
    *out = NULL;
    int rc = get_cell(r, row, col, &v);
    return rc < 0 ? rc : weft_pg_value_record(&v, out);
}

/* The cache slot of a cell (checked by get_cell), NULL without memory.
 * The result is const to callers; its cache is not part of its value. */
static pg_decoded **decoded_slot(const weft_pg_result *cr, int row, int col)
{
    weft_pg_result *r = (weft_pg_result *)cr;
    size_t ncols = (size_t)PQnfields(r->res);
    if (!r->decoded) {
        size_t n = (size_t)PQntuples(r->res) * ncols;
        r->decoded = calloc(n, sizeof *r->decoded);
        if (!r->decoded) return NULL;
        r->ndecoded = n;
    }
    return &r->decoded[(size_t)row * ncols + (size_t)col];
}

static pg_decoded *decoded_new(const void *p, size_t n)
{
    pg_decoded *d = malloc(sizeof *d + n + 1);
    if (!d) return NULL;
    d->n = n;
    memcpy(d->data, p, n);
    d->data[n] = 0;
    return d;
}

int weft_pg_get_numeric(const weft_pg_result *r, int row, int col, const char **text)
{
    weft_pg_value c;
    int rc = get_cell(r, row, col, &c);
    if (rc < 0) return rc;
    if (c.oid != WEFT_PG_NUMERIC) return -WEFT_PG_ETYPE;
    if (!c.binary) {
        *text = c.data;
        return 0;
    }
    pg_decoded **slot = decoded_slot(r, row, col);
    if (!slot) return -ENOMEM;
    if (!*slot) {
        char *s;
        if ((rc = pg__numeric_text(c.data, c.len, &s)) < 0) return rc;
        *slot = decoded_new(s, strlen(s));
        free(s);
        if (!*slot) return -ENOMEM;
    }
    *text = (*slot)->data;
    return 0;
}

int weft_pg_get_bytea(const weft_pg_result *r, int row, int col, const void **data, size_t *n)
{
    weft_pg_value c;
    int rc = get_cell(r, row, col, &c);
    if (rc < 0) return rc;
    if (c.oid != WEFT_PG_BYTEA) return -WEFT_PG_ETYPE;
    if (c.binary) {
        *data = c.data;
        *n = (size_t)c.len;
        return 0;
    }
    pg_decoded **slot = decoded_slot(r, row, col);
    if (!slot) return -ENOMEM;
    if (!*slot) {
        size_t len;
        unsigned char *b = PQunescapeBytea((const unsigned char *)c.data, &len);
        if (!b) return -ENOMEM;
        /* PQunescapeBytea's memory must go back through PQfreemem; the
         * copy is plain malloc memory, freed like every decoded value */
        *slot = decoded_new(b, len);
        PQfreemem(b);
        if (!*slot) return -ENOMEM;
    }
    *data = (*slot)->data;
    *n = (*slot)->n;
    return 0;
}
