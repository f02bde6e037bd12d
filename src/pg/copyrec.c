/* COPY of records (asyncpg's copy_records_to_table), and binary COPY read
 * back into values. Rows go out in PostgreSQL's binary COPY format, each
 * value encoded for its column's type, which the server states in the same
 * statement string just before the COPY (an empty SELECT of those
 * columns, answered in the COPY's round trip): binary input is not checked
 * against a type the way text is (an int8 column reads a float8's 8 bytes
 * as an integer), so a value is converted only where that is exact or
 * range-checked and refused otherwise. Built on weft_pg_copy_in/out: the
 * same cancellation, abandonment and connection recovery. */
#define _GNU_SOURCE
#include "pg_internal.h"
#include "pg_values.h"
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COPY_CHUNK (64 << 10) /* encoded bytes handed to COPY at a time */

static const char copy_header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0";

static int is_int(unsigned t) { return t == WEFT_PG_INT2 || t == WEFT_PG_INT4 || t == WEFT_PG_INT8; }
static int is_float(unsigned t) { return t == WEFT_PG_FLOAT4 || t == WEFT_PG_FLOAT8; }
/* types whose binary form is their text (jsonb: after a version byte) */
static int textlike(unsigned t)
{
    return t == WEFT_PG_TEXT || t == WEFT_PG_VARCHAR || t == WEFT_PG_BPCHAR || t == WEFT_PG_NAME ||
           t == WEFT_PG_JSON || t == WEFT_PG_JSONB || t == WEFT_PG_XML || t == WEFT_PG_UNKNOWN;
}
/* a type weft knows the binary form of (user types, enums among them, are not) */
static int builtin(unsigned t) { return pg__array_elem(t) || pg__array_of(t); }

static void put_be(pg_wbuf *w, uint64_t v, int n)
{
    char b[8];
    pg__put_be(b, v, n);
    pg__wbuf_put32(w, (uint32_t)n);
    pg__wbuf_put(w, b, (size_t)n);
}

static int put_int(pg_wbuf *w, int64_t x, unsigned ct)
{
    int n = ct == WEFT_PG_INT2 ? 2 : ct == WEFT_PG_INT4 ? 4 : 8;
    if ((n == 2 && (x < INT16_MIN || x > INT16_MAX)) || (n == 4 && (x < INT32_MIN || x > INT32_MAX)))
        return -ERANGE;
    put_be(w, (uint64_t)x, n);
    return 0;
}

static int put_float(pg_wbuf *w, double x, unsigned ct)
{
    if (ct == WEFT_PG_FLOAT8) {
        uint64_t u;
        memcpy(&u, &x, 8);
        put_be(w, u, 8);
        return 0;
    }
    if (isfinite(x) && fabs(x) > FLT_MAX) return -ERANGE;
    float f = (float)x;
    uint32_t u;
    memcpy(&u, &f, 4);
    put_be(w, u, 4);
    return 0;
}

static int put_numeric(pg_wbuf *w, const char *decimal)
{
    char *b;
    int n, rc = pg__numeric_binary(decimal, &b, &n);
    if (rc < 0) return rc;
    pg__wbuf_put32(w, (uint32_t)n);
    pg__wbuf_put(w, b, (size_t)n);
    free(b);
    return 0;
}

static void put_raw(pg_wbuf *w, const char *d, int len)
{
    pg__wbuf_put32(w, (uint32_t)len);
    pg__wbuf_put(w, d, (size_t)len);
}

/* A binary value of type oid for a column of type ct. */
static int field_binary(pg_wbuf *w, const char *d, int len, unsigned oid, unsigned ct)
{
    int ts = (oid == WEFT_PG_TIMESTAMP || oid == WEFT_PG_TIMESTAMPTZ) &&
             (ct == WEFT_PG_TIMESTAMP || ct == WEFT_PG_TIMESTAMPTZ); /* one form: UTC usec */
    if (oid == ct || !oid || ts) {
        put_raw(w, d, len);
        return 0;
    }
    if (is_int(oid) && (len == 2 || len == 4 || len == 8)) {
        int64_t x = len == 2 ? (int16_t)pg__be(d, 2) : len == 4 ? (int32_t)pg__be(d, 4)
                                                                 : (int64_t)pg__be(d, 8);
        if (is_int(ct)) return put_int(w, x, ct);
        if (is_float(ct)) return put_float(w, (double)x, ct);
        if (ct == WEFT_PG_NUMERIC) {
            char t[24];
            snprintf(t, sizeof t, "%" PRId64, x);
            return put_numeric(w, t);
        }
    }
    if (is_float(oid) && is_float(ct) && (len == 4 || len == 8)) {
        double x;
        if (len == 8) {
            uint64_t u = pg__be(d, 8);
            memcpy(&x, &u, 8);
        } else {
            uint32_t u = (uint32_t)pg__be(d, 4);
            float f;
            memcpy(&f, &u, 4);
            x = f;
        }
        return put_float(w, x, ct);
    }
    return -WEFT_PG_ETYPE;
}

/* A text-format value (typed_text, json, or untyped: weft_pg_params_text,
 * _int, _double, _bool) for a column of type ct, parsed as that type. */
static int field_text(pg_wbuf *w, const char *d, int len, unsigned oid, unsigned ct)
{
    if (oid && oid != ct && !(textlike(oid) && (textlike(ct) || !builtin(ct))))
        return -WEFT_PG_ETYPE;
    /* The parsers below read up to a NUL: a value with one inside would be
     * read short ("t\0junk" as true, "1.5\0junk" as 1.5). The public
     * appends take C strings, so only a value pushed with its own length
     * can hold one; refused all the same. Raw text goes as it is (the
     * server refuses a NUL in text). */
    int parsed = is_int(ct) || is_float(ct) || ct == WEFT_PG_BOOL || ct == WEFT_PG_NUMERIC;
    if (parsed && memchr(d, 0, (size_t)len)) return -WEFT_PG_ETYPE;
    char *end;
    if (is_int(ct)) {
        errno = 0;
        long long x = strtoll(d, &end, 10);
        if (end == d || end != d + len) return -WEFT_PG_ETYPE;
        if (errno == ERANGE) return -ERANGE;
        return put_int(w, x, ct);
    }
    if (is_float(ct)) {
        errno = 0;
        double x = pg__text_double(d, &end);
        if (end == d || end != d + len) return -WEFT_PG_ETYPE;
        if (errno == ERANGE && isinf(x)) return -ERANGE;
        return put_float(w, x, ct);
    }
    if (ct == WEFT_PG_BOOL) {
        int t = (len == 1 && d[0] == 't') || (len == 4 && !memcmp(d, "true", 4));
        int f = (len == 1 && d[0] == 'f') || (len == 5 && !memcmp(d, "false", 5));
        if (!t && !f) return -WEFT_PG_ETYPE;
        put_raw(w, t ? "\1" : "\0", 1);
        return 0;
    }
    if (ct == WEFT_PG_NUMERIC) return put_numeric(w, d) < 0 ? -WEFT_PG_ETYPE : 0;
    if (ct == WEFT_PG_JSONB) {
        pg__wbuf_put32(w, (uint32_t)len + 1);
        pg__wbuf_put(w, "\1", 1);
        pg__wbuf_put(w, d, (size_t)len);
        return 0;
    }
    if (textlike(ct) || !builtin(ct)) { /* enums and other user types read text */
        put_raw(w, d, len);
        return 0;
    }
    return -WEFT_PG_ETYPE; /* dates, uuids...: the typed appends say what they are */
}

/* One row in the binary COPY tuple format. */
static int put_row(pg_wbuf *w, const weft_pg_params *row, const unsigned *types, int ncols)
{
    if (row->err) return row->err;
    if (row->n != ncols) return -EINVAL;
    char cnt[2];
    pg__put_be(cnt, (uint64_t)ncols, 2);
    pg__wbuf_put(w, cnt, 2);
    for (int i = 0; i < ncols && !w->err; i++) {
        const char *d = row->values[i];
        int rc;
        if (!d) {
            pg__wbuf_put32(w, (uint32_t)-1);
            continue;
        }
        if (row->formats[i] == 1) rc = field_binary(w, d, row->lengths[i], row->types[i], types[i]);
        else rc = field_text(w, d, row->lengths[i], row->types[i], types[i]);
        if (rc < 0) return rc;
    }
    return w->err;
}

/* ---- the target's columns ------------------------------------------------------ */

/* The types of sql's columns, from its description (a cached statement:
 * re-prepared once when the schema changed under it, SQLSTATE 0A000). */
static int column_types(weft_pg *c, const char *sql, unsigned **types, int *n)
{
    PGresult *desc = NULL;
    int rc = pg__prepare_describe(c, sql, NULL, 0, &desc);
    if (rc == -WEFT_PG_ESERVER && !strcmp(c->sqlstate, "0A000") &&
        PQtransactionStatus(c->pg) == PQTRANS_IDLE && pg__stmt_invalidate(c, sql))
        rc = pg__prepare_describe(c, sql, NULL, 0, &desc);
    if (rc >= 0 && !desc) rc = -WEFT_PG_ESTATE;
    if (rc >= 0) {
        *n = PQnfields(desc);
        *types = malloc(((size_t)*n + 1) * sizeof **types);
        if (!*types) rc = -ENOMEM;
        for (int i = 0; *types && i < *n; i++) (*types)[i] = (unsigned)PQftype(desc, i);
    }
    PQclear(desc);
    return rc < 0 ? rc : 0;
}

/* Quotes name as an identifier onto w (PQescapeIdentifier: the server's
 * rules for the connection's encoding). */
static int put_ident(weft_pg *c, pg_wbuf *w, const char *name)
{
    char *q = PQescapeIdentifier(c->pg, name, strlen(name));
    if (!q) return -EINVAL;
    pg__wbuf_put(w, q, strlen(q));
    PQfreemem(q);
    return w->err;
}

/* "SELECT cols FROM target LIMIT 0" into intro and "COPY target (cols) FROM
 * STDIN (FORMAT binary)" into copy, NUL-terminated; intro == copy: both,
 * "; " between them, and with no column list (PostgreSQL 12+) a second
 * query between, the target's generated columns (COPY's own list leaves
 * them out, SELECT * does not): *nintro says how many queries come before
 * the COPY. */
static int build_sql(weft_pg *c, const char *schema, const char *table, const char *const *cols,
                     int ncols, pg_wbuf *intro, pg_wbuf *copy, int *nintro)
{
    pg_wbuf target = {0}, list = {0};
    int rc = 0;
    if (schema) {
        rc = put_ident(c, &target, schema);
        pg__wbuf_put(&target, ".", 1);
    }
    if (rc >= 0) rc = put_ident(c, &target, table);
    for (int i = 0; i < ncols && rc >= 0; i++) {
        if (!cols[i]) rc = -EINVAL;
        else if (i) pg__wbuf_put(&list, ", ", 2);
        if (rc >= 0) rc = put_ident(c, &list, cols[i]);
    }
    if (rc >= 0) {
        pg__wbuf_put(intro, "SELECT ", 7);
        if (ncols) pg__wbuf_put(intro, list.b, list.n);
        else pg__wbuf_put(intro, "*", 1);
        pg__wbuf_put(intro, " FROM ", 6);
        pg__wbuf_put(intro, target.b, target.n);
        *nintro = 1;
        if (intro == copy) pg__wbuf_put(intro, " LIMIT 0; ", 10);
        else pg__wbuf_put(intro, " LIMIT 0", 9); /* with the NUL */
        if (intro == copy && !ncols && PQserverVersion(c->pg) >= 120000) {
            char *lit = PQescapeLiteral(c->pg, target.b, target.n);
            if (!lit) rc = -ENOMEM;
            else {
                static const char q[] = "SELECT attnum FROM pg_catalog.pg_attribute WHERE attrelid = ";
                pg__wbuf_put(intro, q, sizeof q - 1);
                pg__wbuf_put(intro, lit, strlen(lit));
                static const char r[] = "::pg_catalog.regclass AND attgenerated <> ''; ";
                pg__wbuf_put(intro, r, sizeof r - 1);
                PQfreemem(lit);
                *nintro = 2;
            }
        }
        pg__wbuf_put(copy, "COPY ", 5);
        pg__wbuf_put(copy, target.b, target.n);
        if (ncols) {
            pg__wbuf_put(copy, " (", 2);
            pg__wbuf_put(copy, list.b, list.n);
            pg__wbuf_put(copy, ")", 1);
        }
        pg__wbuf_put(copy, " FROM STDIN (FORMAT binary)", 28);
        if (rc >= 0) rc = intro->err ? intro->err : copy->err;
    }
    free(target.b);
    free(list.b);
    return rc;
}

/* ---- records in ---------------------------------------------------------------- */

typedef struct rec_src {
    int (*next)(void *arg, const weft_pg_params **row);
    void *arg;
    unsigned *types; /* the target columns', from the intro's rows */
    int ncols;
    int nintro;      /* 2: the intro's second query lists generated columns */
    int done;
    pg_wbuf w;
} rec_src;

/* 1 if attnum is among the generated columns listed in gen's rows (one
 * column, checked by rec_ready: PQgetvalue of a column that is not there
 * is NULL). */
static int generated(const PGresult *gen, int attnum)
{
    for (int r = 0; r < PQntuples(gen); r++)
        if (atoi(PQgetvalue(gen, r, 0)) == attnum) return 1;
    return 0;
}

/* The intro's (empty) rows describe the target's columns, read by the
 * server in the same statement string as the COPY and under the same
 * lock, so no ALTER TABLE can come between what they say and what the
 * COPY writes into. Without a column list, COPY's own list is every column
 * but the generated ones, which SELECT * has too: they are left out here
 * (their values were counted in, so a row of the COPY's columns was
 * refused, -EINVAL, and one with the generated column too by the server). */
static int rec_ready(void *arg, PGresult *const *intro, int cols)
{
    rec_src *s = arg;
    int n = PQnfields(intro[0]), k = 0;
    /* what weft asked for, or the server is not answering this statement */
    if (s->nintro == 2 && PQnfields(intro[1]) != 1) return -WEFT_PG_ESTATE;
    s->types = malloc(((size_t)n + 1) * sizeof *s->types);
    if (!s->types) return -ENOMEM;
    for (int i = 0; i < n; i++)
        if (s->nintro < 2 || !generated(intro[1], PQftablecol(intro[0], i)))
            s->types[k++] = (unsigned)PQftype(intro[0], i);
    s->ncols = k;
    /* The COPY states its own column count: rows encoded for other
     * columns than it takes are refused here, before any is sent, with
     * weft's error rather than the server's about the data (as every row
     * was for tables with a generated column, 106e323). */
    return k == cols ? 0 : -WEFT_PG_ESTATE;
}

/* weft_pg_copy_in's source: the header, then rows encoded up to about
 * COPY_CHUNK bytes a call, then the trailer. An error aborts the copy. */
static ssize_t rec_source(void *arg, const char **data)
{
    rec_src *s = arg;
    if (s->done) return 0;
    if (!s->w.cap) pg__wbuf_put(&s->w, copy_header, sizeof copy_header);
    else s->w.n = 0;
    while (s->w.n < COPY_CHUNK) {
        const weft_pg_params *row = NULL;
        int rc = s->next(s->arg, &row);
        if (rc < 0) return rc;
        if (rc == 0) {
            pg__wbuf_put(&s->w, "\377\377", 2);
            s->done = 1;
            break;
        }
        if (!row) return -EINVAL;
        if ((rc = put_row(&s->w, row, s->types, s->ncols)) < 0) return rc;
    }
    if (s->w.err) return s->w.err;
    *data = s->w.b;
    return (ssize_t)s->w.n;
}

int weft_pg_copy_records_in(weft_pg *c, const char *schema, const char *table,
                            const char *const *columns, int ncols,
                            int (*next)(void *arg, const weft_pg_params **row), void *arg,
                            int64_t *rows)
{
    if (!c || !table || !next || ncols < 0 || (ncols && !columns)) return -EINVAL;
    pg_wbuf sql = {0};
    int64_t n = 0;
    /* One statement string, one round trip: "SELECT cols FROM t LIMIT 0;
     * COPY t (cols) FROM STDIN (FORMAT binary)". */
    int nintro = 1;
    int rc = build_sql(c, schema, table, columns, ncols, &sql, &sql, &nintro);
    if (rc >= 0) {
        rec_src s = {next, arg, NULL, 0, nintro, 0, {0}};
        rc = pg__copy_in_intro(c, sql.b, nintro, rec_ready, rec_source, &s, &n);
        free(s.w.b);
        free(s.types);
    }
    if (rc >= 0 && rows) *rows = n;
    free(sql.b);
    return rc < 0 ? rc : 0;
}

typedef struct rec_array {
    const weft_pg_params *const *records;
    int n, i;
} rec_array;

static int rec_array_next(void *arg, const weft_pg_params **row)
{
    rec_array *a = arg;
    if (a->i == a->n) return 0;
    *row = a->records[a->i++];
    return 1;
}

int weft_pg_copy_records(weft_pg *c, const char *schema, const char *table,
                         const char *const *columns, int ncols,
                         const weft_pg_params *const *records, int n, int64_t *rows)
{
    if (n < 0 || (n && !records)) return -EINVAL;
    rec_array a = {records, n, 0};
    return weft_pg_copy_records_in(c, schema, table, columns, ncols, rec_array_next, &a, rows);
}

/* ---- records out --------------------------------------------------------------- */

typedef struct rec_sink {
    pg_copy_parser p;
    int (*fn)(void *arg, const weft_pg_value *row, int n);
    void *arg;
} rec_sink;

static int rec_sink_put(void *arg, const char *data, size_t n)
{
    rec_sink *s = arg;
    return pg__copy_parse(&s->p, data, n, s->fn, s->arg);
}

int weft_pg_copy_records_out(weft_pg *c, const char *query,
                             int (*fn)(void *arg, const weft_pg_value *row, int ncols),
                             void *arg, int64_t *rows)
{
    if (!c || !query || !fn) return -EINVAL;
    size_t qlen = strlen(query);
    while (qlen && strchr(" \t\r\n;", query[qlen - 1])) qlen--; /* "SELECT 1;" */
    char *q = strndup(query, qlen);
    pg_wbuf copy = {0};
    if (!q) return -ENOMEM;
    pg__wbuf_put(&copy, "COPY (", 6);
    pg__wbuf_put(&copy, q, qlen);
    /* on a line of its own: a query ending in a -- comment would comment
     * out the parenthesis */
    pg__wbuf_put(&copy, "\n) TO STDOUT (FORMAT binary)", 29);
    unsigned *types = NULL;
    int nf = 0;
    int64_t n = 0;
    int rc = copy.err ? copy.err : column_types(c, q, &types, &nf);
    if (rc >= 0) {
        rec_sink s = {.fn = fn, .arg = arg};
        pg__copy_parser_init(&s.p, nf, types);
        rc = weft_pg_copy_out_count(c, copy.b, rec_sink_put, &s, &n);
        if (rc >= 0) rc = pg__copy_parse_end(&s.p);
        pg__copy_parser_free(&s.p);
    }
    if (rc >= 0 && rows) *rows = n;
    free(types);
    free(q);
    free(copy.b);
    return rc < 0 ? rc : 0;
}
