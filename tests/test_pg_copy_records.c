/* COPY of records: rows of typed values sent in the binary COPY format
 * (weft_pg_copy_records*) and binary COPY read back into values
 * (weft_pg_copy_records_out), against a real server: every supported type
 * with NULLs and extremes, arrays, an enum and a composite; values read out
 * and copied in again give the same rows; conversions and refusals;
 * errors mid-copy (from the server, a bad value, the row source) and
 * cancellation mid-copy leave the connection usable and nothing copied. */
#include <weft.h>
#include <weft/pg.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include "pg_env.h"
#include "pg/pg_internal.h" /* pg__params_push: a value with its own length */

static const char *dsn;

static void exec_ok(weft_pg *c, const char *sql)
{
    int rc = weft_pg_exec(c, sql);
    if (rc < 0) fprintf(stderr, "%s: %s %s\n", sql, weft_pg_sqlstate(c), weft_pg_errmsg(c));
    CHECK(rc >= 0);
}

static int64_t count(weft_pg *c, const char *sql)
{
    int64_t n = -1;
    int rc = weft_pg_fetch_bigint(c, sql, NULL, &n);
    if (rc < 0) fprintf(stderr, "%s: %s %s\n", sql, weft_pg_sqlstate(c), weft_pg_errmsg(c));
    CHECK_EQ(rc, 0);
    return n;
}

static const char all_cols[] =
    "id int4 PRIMARY KEY, i2 int2, i8 int8, f4 float4, f8 float8, num numeric, b bool, t text,"
    " vc varchar(20), by bytea, u uuid, d date, tm time, ts timestamp, tz timestamptz,"
    " iv interval, js json, jb jsonb, ip inet, cd cidr, arr int4[], tarr text[], mood cr_mood,"
    " pt cr_pt";
enum { NCOLS = 24, BIG = 1 << 20 };

static void make_tables(weft_pg *c)
{
    exec_ok(c, "DROP TABLE IF EXISTS cr, cr2; DROP TYPE IF EXISTS cr_mood, cr_pt;"
               " CREATE TYPE cr_mood AS ENUM ('sad', 'happy');"
               " CREATE TYPE cr_pt AS (x int4, y text)");
    char sql[1024];
    snprintf(sql, sizeof sql, "CREATE TABLE cr (%s); CREATE TABLE cr2 (%s)", all_cols, all_cols);
    exec_ok(c, sql);
}

/* Row 1: typed values, extremes. */
static weft_pg_params *row_typed(weft_pg *c)
{
    unsigned mood, pt;
    CHECK_EQ(weft_pg_type_oid(c, "cr_mood", &mood, NULL), 0);
    CHECK_EQ(weft_pg_type_oid(c, "cr_pt", &pt, NULL), 0);
    weft_pg_params *p = weft_pg_params_new();
    static const uint8_t uuid[16] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
                                     1, 2, 3, 4, 5, 6, 7, 8};
    weft_pg_interval iv = {-1, 2, -3};
    weft_pg_inet ip = {4, 24, 0, {192, 168, 0, 1}}, cd = {4, 8, 1, {10}};
    CHECK_EQ(weft_pg_params_int4(p, 1), 0);
    CHECK_EQ(weft_pg_params_int2(p, INT16_MIN), 0);
    CHECK_EQ(weft_pg_params_int8(p, INT64_MAX), 0);
    CHECK_EQ(weft_pg_params_float4(p, -1.5f), 0);
    CHECK_EQ(weft_pg_params_float8(p, NAN), 0);
    CHECK_EQ(weft_pg_params_numeric(p, "-12.3400"), 0);
    CHECK_EQ(weft_pg_params_boolean(p, 1), 0);
    CHECK_EQ(weft_pg_params_typed_text(p, WEFT_PG_TEXT, "h\xc3\xa9llo\ttab\\"), 0);
    CHECK_EQ(weft_pg_params_typed_text(p, WEFT_PG_VARCHAR, "v"), 0);
    CHECK_EQ(weft_pg_params_bytea(p, "\0\1\377", 3), 0);
    CHECK_EQ(weft_pg_params_uuid(p, uuid), 0);
    CHECK_EQ(weft_pg_params_date(p, -735160), 0); /* 0044-03-15 BC */
    CHECK_EQ(weft_pg_params_time(p, 86399999999LL), 0);
    CHECK_EQ(weft_pg_params_timestamp(p, INT64_MIN), 0); /* -infinity */
    CHECK_EQ(weft_pg_params_timestamptz(p, 4102444800000000LL + 1), 0); /* 2100-01-01 + 1 us */
    CHECK_EQ(weft_pg_params_interval(p, &iv), 0);
    CHECK_EQ(weft_pg_params_json(p, "{\"a\": [1, 2]}", 13), 0);
    CHECK_EQ(weft_pg_params_jsonb(p, "{\"b\": null}", 11), 0);
    CHECK_EQ(weft_pg_params_inet(p, &ip), 0);
    CHECK_EQ(weft_pg_params_inet(p, &cd), 0);
    weft_pg_params *e = weft_pg_params_new();
    for (int i = 0; i < 6; i++)
        CHECK_EQ(i == 4 ? weft_pg_params_null(e) : weft_pg_params_int4(e, i - 2), 0);
    int dims[2] = {2, 3};
    CHECK_EQ(weft_pg_params_array(p, 0, WEFT_PG_INT4, 2, dims, e), 0);
    weft_pg_params_clear(e);
    CHECK_EQ(weft_pg_params_typed_text(e, WEFT_PG_TEXT, "a"), 0);
    CHECK_EQ(weft_pg_params_null(e), 0);
    CHECK_EQ(weft_pg_params_typed_text(e, WEFT_PG_TEXT, "c,d \"q\""), 0);
    CHECK_EQ(weft_pg_params_array(p, 0, WEFT_PG_TEXT, 1, (int[]){3}, e), 0);
    CHECK_EQ(weft_pg_params_typed_text(p, mood, "happy"), 0);
    weft_pg_params_clear(e);
    CHECK_EQ(weft_pg_params_int4(e, 7), 0);
    CHECK_EQ(weft_pg_params_typed_text(e, WEFT_PG_TEXT, "seven"), 0);
    CHECK_EQ(weft_pg_params_record(p, pt, e), 0);
    weft_pg_params_free(e);
    CHECK_EQ(weft_pg_params_count(p), NCOLS);
    return p;
}

/* Row 2: every value NULL but the id. */
static weft_pg_params *row_nulls(void)
{
    weft_pg_params *p = weft_pg_params_new();
    CHECK_EQ(weft_pg_params_bigint(p, 2), 0);
    for (int i = 1; i < NCOLS; i++) CHECK_EQ(weft_pg_params_null(p), 0);
    return p;
}

/* Row 3: untyped values parsed for their columns, conversions, 1 MiB of
 * bytea (more than one CopyData piece), an empty array. */
static weft_pg_params *row_converted(char *big)
{
    weft_pg_params *p = weft_pg_params_new();
    for (int i = 0; i < BIG; i++) big[i] = (char)(i * 7);
    CHECK_EQ(weft_pg_params_int8(p, 3), 0);          /* int8 into int4 */
    CHECK_EQ(weft_pg_params_bigint(p, -5), 0);          /* untyped text */
    CHECK_EQ(weft_pg_params_text(p, "-9223372036854775808"), 0);
    CHECK_EQ(weft_pg_params_double(p, 0.25), 0);
    CHECK_EQ(weft_pg_params_int4(p, 3), 0);          /* int into float8 */
    CHECK_EQ(weft_pg_params_int8(p, 123456789012345LL), 0); /* int into numeric */
    CHECK_EQ(weft_pg_params_bool(p, 0), 0);
    CHECK_EQ(weft_pg_params_text(p, ""), 0);
    CHECK_EQ(weft_pg_params_typed_text(p, WEFT_PG_TEXT, "x"), 0); /* text into varchar */
    CHECK_EQ(weft_pg_params_bytea(p, big, BIG), 0);
    for (int i = 0; i < 3; i++) CHECK_EQ(weft_pg_params_null(p), 0); /* u, d, tm */
    CHECK_EQ(weft_pg_params_timestamptz(p, -1), 0);  /* timestamptz into timestamp */
    CHECK_EQ(weft_pg_params_null(p), 0);
    CHECK_EQ(weft_pg_params_null(p), 0);
    CHECK_EQ(weft_pg_params_text(p, "[1, \"x\"]"), 0); /* untyped into json */
    CHECK_EQ(weft_pg_params_text(p, "{}"), 0);          /* ... and jsonb */
    CHECK_EQ(weft_pg_params_null(p), 0);
    CHECK_EQ(weft_pg_params_null(p), 0);
    weft_pg_params *e = weft_pg_params_new();
    CHECK_EQ(weft_pg_params_array(p, 0, WEFT_PG_INT4, 0, NULL, e), 0);
    weft_pg_params_free(e);
    CHECK_EQ(weft_pg_params_null(p), 0);
    CHECK_EQ(weft_pg_params_text(p, "sad"), 0); /* untyped into an enum */
    CHECK_EQ(weft_pg_params_null(p), 0);
    CHECK_EQ(weft_pg_params_count(p), NCOLS);
    return p;
}

/* Row read out: kept as params again (for cr2) and spot-checked. */
typedef struct readback {
    weft_pg_params *rows[3];
    int n;
    const char *big;
} readback;

static int read_row(void *arg, const weft_pg_value *v, int n)
{
    readback *rb = arg;
    CHECK_EQ(n, NCOLS);
    CHECK(rb->n < 3);
    weft_pg_params *p = rb->rows[rb->n++] = weft_pg_params_new();
    for (int i = 0; i < n; i++) {
        if (v[i].len < 0) CHECK_EQ(weft_pg_params_null(p), 0);
        else if (v[i].oid == WEFT_PG_NUMERIC) CHECK_EQ(weft_pg_params_numeric(p, v[i].data), 0);
        else CHECK_EQ(weft_pg_params_binary(p, v[i].oid, v[i].data, (size_t)v[i].len), 0);
        CHECK(v[i].len < 0 || v[i].data[v[i].len] == 0); /* the NUL weft promises */
    }
    int32_t id, i32;
    int64_t i64;
    double d;
    const char *s;
    size_t len;
    CHECK_EQ(weft_pg_value_int(&v[0], &id), 0);
    if (id == 1) {
        CHECK_EQ(weft_pg_value_bigint(&v[2], &i64), 0);
        CHECK(i64 == INT64_MAX);
        CHECK_EQ(weft_pg_value_double(&v[4], &d), 0);
        CHECK(isnan(d));
        CHECK_EQ(weft_pg_value_numeric(&v[5], &s), 0);
        CHECK(!strcmp(s, "-12.3400"));
        CHECK_EQ(weft_pg_value_text(&v[7], &s, &len), 0);
        CHECK(len == 11 && !memcmp(s, "h\xc3\xa9llo\ttab\\", len));
        CHECK_EQ(weft_pg_value_date(&v[11], &i32), 0);
        CHECK_EQ(i32, -735160);
        CHECK_EQ(weft_pg_value_timestamp(&v[13], &i64), 0);
        CHECK(i64 == INT64_MIN);
        weft_pg_array *a;
        CHECK_EQ(weft_pg_value_array(&v[20], &a), 0);
        CHECK(a->ndim == 2 && a->n == 6 && a->elems[4].len == -1);
        CHECK_EQ(weft_pg_value_int(&a->elems[5], &i32), 0);
        CHECK_EQ(i32, 3);
        free(a);
        weft_pg_record *r;
        CHECK_EQ(weft_pg_value_record(&v[23], &r), 0);
        CHECK(r->n == 2 && !strcmp(r->fields[1].data, "seven"));
        free(r);
        /* an enum: its binary form is its label */
        CHECK(v[22].len == 5 && !memcmp(v[22].data, "happy", 5));
    } else if (id == 2) {
        for (int i = 1; i < n; i++) CHECK_EQ(v[i].len, -1);
    } else {
        const void *b;
        CHECK_EQ(weft_pg_value_bytea(&v[9], &b, &len), 0);
        CHECK(len == BIG && !memcmp(b, rb->big, BIG));
        CHECK_EQ(weft_pg_value_bigint(&v[2], &i64), 0);
        CHECK(i64 == INT64_MIN);
        CHECK_EQ(weft_pg_value_numeric(&v[5], &s), 0);
        CHECK(!strcmp(s, "123456789012345"));
        CHECK_EQ(weft_pg_value_timestamp(&v[13], &i64), 0);
        CHECK_EQ(i64, -1);
        weft_pg_array *a;
        CHECK_EQ(weft_pg_value_array(&v[20], &a), 0);
        CHECK(a->ndim == 0 && a->n == 0);
        free(a);
    }
    return 0;
}

WEFT_TEST(test_round_trip)
{
    weft_pg *c = pg_connect_ok(dsn);
    make_tables(c);
    char *big = malloc(BIG);
    weft_pg_params *rows[3] = {row_typed(c), row_nulls(), row_converted(big)};
    int64_t n = 0;
    int rc = weft_pg_copy_records(c, NULL, "cr", NULL, 0, (const weft_pg_params *const *)rows, 3, &n);
    if (rc < 0) fprintf(stderr, "copy: %d %s %s\n", rc, weft_pg_sqlstate(c), weft_pg_errmsg(c));
    CHECK_EQ(rc, 0);
    CHECK_EQ(n, 3);
    /* what the server stored, by its own reading */
    CHECK_EQ(count(c, "SELECT count(*) FROM cr WHERE id = 1 AND i2 = -32768 AND"
                      " i8 = 9223372036854775807 AND f4 = -1.5 AND f8 = 'NaN' AND"
                      " num::text = '-12.3400' AND b AND t = E'h\\u00e9llo\\ttab\\\\' AND"
                      " vc = 'v' AND by = '\\x0001ff' AND"
                      " u = '12345678-9abc-def0-0102-030405060708' AND d = '0044-03-15 BC' AND"
                      " tm = '23:59:59.999999' AND ts = '-infinity' AND"
                      " tz = '2100-01-01 00:00:00.000001+00' AND iv = '-3 mons 2 days -00:00:00.000001'"
                      " AND js::text = '{\"a\": [1, 2]}' AND jb = '{\"b\": null}' AND"
                      " ip = '192.168.0.1/24' AND cd = '10.0.0.0/8' AND arr = '{{-2,-1,0},{1,NULL,3}}'"
                      " AND tarr = ARRAY['a', NULL, 'c,d \"q\"'] AND mood = 'happy' AND"
                      " pt = ROW(7, 'seven')::cr_pt"), 1);
    CHECK_EQ(count(c, "SELECT count(*) FROM cr WHERE id = 2 AND"
                      " num_nulls(i2, i8, f4, f8, num, b, t, vc, by, u, d, tm, ts, tz, iv, js, jb,"
                      " ip, cd, arr, tarr, mood, pt) = 23"), 1);
    CHECK_EQ(count(c, "SELECT count(*) FROM cr WHERE id = 3 AND i2 = -5 AND"
                      " i8 = -9223372036854775808 AND f4 = 0.25 AND f8 = 3 AND"
                      " num = 123456789012345 AND NOT b AND t = '' AND vc = 'x' AND"
                      " length(by) = 1048576 AND ts = '1969-12-31 23:59:59.999999' AND"
                      " js::text = '[1, \"x\"]' AND jb = '{}' AND arr = '{}' AND mood = 'sad'"),
             1);
    /* read back through binary COPY and copied again: the same rows */
    readback rb = {.big = big};
    CHECK_EQ(weft_pg_copy_records_out(c, "SELECT * FROM cr ORDER BY id;", read_row, &rb, &n), 0);
    CHECK_EQ(n, 3);
    CHECK_EQ(rb.n, 3);
    CHECK_EQ(weft_pg_copy_records(c, "public", "cr2", NULL, 0,
                                  (const weft_pg_params *const *)rb.rows, 3, &n), 0);
    CHECK_EQ(count(c, "SELECT count(*) FROM cr x JOIN cr2 y USING (id) WHERE x::text = y::text"), 3);
    for (int i = 0; i < 3; i++) {
        weft_pg_params_free(rows[i]);
        weft_pg_params_free(rb.rows[i]);
    }
    free(big);
    weft_pg_free(c);
    return 0;
}

/* Rows i = 0.. (id, name) from a counter; fails at fail_at with rc, sleeps
 * at sleep_at. */
typedef struct gen {
    int n, i, fail_at, fail_rc, sleep_at;
    weft_pg_params *p;
} gen;

static int gen_next(void *arg, const weft_pg_params **row)
{
    gen *g = arg;
    if (g->i == g->n) return 0;
    if (g->i == g->fail_at) return g->fail_rc;
    if (g->i == g->sleep_at) {
        int rc = weft_sleep(30); /* cancelled: the deadline's error aborts the copy */
        if (rc < 0) return rc;
    }
    weft_pg_params_clear(g->p);
    CHECK_EQ(weft_pg_params_int4(g->p, g->i), 0);
    char name[32];
    snprintf(name, sizeof name, "row %d", g->i);
    CHECK_EQ(weft_pg_params_text(g->p, name), 0);
    g->i++;
    *row = g->p;
    return 1;
}

static void copy_gen(weft_pg *c, gen *g, int expect)
{
    static const char *const cols[] = {"id", "name"};
    g->p = weft_pg_params_new();
    int64_t n = -1;
    int rc = weft_pg_copy_records_in(c, NULL, "cr_many", cols, 2, gen_next, g, &n);
    if (rc != expect) fprintf(stderr, "copy: %d %s %s\n", rc, weft_pg_sqlstate(c), weft_pg_errmsg(c));
    CHECK_EQ(rc, expect);
    if (rc == 0) CHECK_EQ(n, g->n);
    weft_pg_params_free(g->p);
}

WEFT_TEST(test_many_and_errors)
{
    weft_pg *c = pg_connect_ok(dsn);
    exec_ok(c, "DROP TABLE IF EXISTS cr_many;"
               " CREATE TABLE cr_many (id int4 PRIMARY KEY, name text, extra int DEFAULT 9)");
    gen g = {.n = 100000, .fail_at = -1, .sleep_at = -1};
    copy_gen(c, &g, 0);
    CHECK_EQ(count(c, "SELECT count(*) FROM cr_many WHERE extra = 9 AND name = 'row ' || id"), 100000);
    /* the server fails mid-copy (a duplicate key): nothing more is copied,
     * the connection is usable */
    gen dup = {.n = 100000, .fail_at = -1, .sleep_at = -1};
    copy_gen(c, &dup, -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(!strcmp(weft_pg_sqlstate(c), "23505"));
    CHECK_EQ(count(c, "SELECT count(*) FROM cr_many"), 100000);
    exec_ok(c, "TRUNCATE cr_many");
    /* the row source fails after more than a chunk went out */
    gen bad = {.n = 100000, .fail_at = 50000, .fail_rc = -EIO, .sleep_at = -1};
    copy_gen(c, &bad, -EIO);
    CHECK_EQ(count(c, "SELECT count(*) FROM cr_many"), 0);
    /* values refused before they reach the server */
    static const char *const cols[] = {"id", "name"};
    weft_pg_params *p = weft_pg_params_new();
    const weft_pg_params *rows[1] = {p};
    CHECK_EQ(weft_pg_params_int8(p, 1LL << 40), 0); /* too big for int4 */
    CHECK_EQ(weft_pg_params_text(p, "x"), 0);
    CHECK_EQ(weft_pg_copy_records(c, NULL, "cr_many", cols, 2, rows, 1, NULL), -ERANGE);
    weft_pg_params_clear(p);
    CHECK_EQ(weft_pg_params_date(p, 1), 0); /* a date for an int4 */
    CHECK_EQ(weft_pg_params_text(p, "x"), 0);
    CHECK_EQ(weft_pg_copy_records(c, NULL, "cr_many", cols, 2, rows, 1, NULL), -WEFT_PG_ETYPE);
    weft_pg_params_clear(p);
    CHECK_EQ(weft_pg_params_text(p, "12abc"), 0); /* not an integer */
    CHECK_EQ(weft_pg_params_text(p, "x"), 0);
    CHECK_EQ(weft_pg_copy_records(c, NULL, "cr_many", cols, 2, rows, 1, NULL), -WEFT_PG_ETYPE);
    weft_pg_params_clear(p);
    CHECK_EQ(weft_pg_params_int4(p, 1), 0); /* one value short */
    CHECK_EQ(weft_pg_copy_records(c, NULL, "cr_many", cols, 2, rows, 1, NULL), -EINVAL);
    CHECK_EQ(weft_pg_copy_records(c, NULL, "no_such_table", NULL, 0, rows, 1, NULL),
             -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(!strcmp(weft_pg_sqlstate(c), "42P01"));
    CHECK_EQ(weft_pg_copy_records(c, NULL, "cr_many", (const char *const[]){"nope"}, 1, rows, 1,
                                  NULL), -WEFT_PG_ESERVER);
    weft_pg_params_free(p);
    CHECK_EQ(count(c, "SELECT count(*) FROM cr_many"), 0);
    /* a column's type changed between two copies: the cached description
     * is not trusted (an int8 value must not land in the old int4's form) */
    exec_ok(c, "ALTER TABLE cr_many ALTER id TYPE int8");
    p = weft_pg_params_new();
    CHECK_EQ(weft_pg_params_int8(p, 1LL << 40), 0);
    CHECK_EQ(weft_pg_params_text(p, "big"), 0);
    rows[0] = p;
    CHECK_EQ(weft_pg_copy_records(c, NULL, "cr_many", cols, 2, rows, 1, NULL), 0);
    CHECK_EQ(count(c, "SELECT id FROM cr_many"), 1LL << 40);
    weft_pg_params_free(p);
    /* inside a transaction the copy is the transaction's */
    CHECK_EQ(weft_pg_begin(c), 1);
    gen tx = {.n = 10, .fail_at = -1, .sleep_at = -1};
    copy_gen(c, &tx, 0);
    CHECK_EQ(weft_pg_rollback(c), 0);
    CHECK_EQ(count(c, "SELECT count(*) FROM cr_many"), 1);
    weft_pg_free(c);
    return 0;
}

typedef struct slow_in {
    weft_pg *c;
    gen g;
} slow_in;

static int copy_in_body(void *arg)
{
    slow_in *s = arg;
    static const char *const cols[] = {"id", "name"};
    return weft_pg_copy_records_in(s->c, NULL, "cr_many", cols, 2, gen_next, &s->g, NULL);
}

typedef struct slow_out {
    weft_pg *c;
    int64_t seen;
} slow_out;

static int slow_row(void *arg, const weft_pg_value *v, int n)
{
    slow_out *s = arg;
    (void)v;
    (void)n;
    return ++s->seen == 1000 ? weft_sleep(30) : 0;
}

static int copy_out_body(void *arg)
{
    slow_out *s = arg;
    return weft_pg_copy_records_out(s->c, "SELECT i, i::text FROM generate_series(1, 1000000) i",
                                    slow_row, s, NULL);
}

static int copy_sleepy_body(void *arg)
{
    slow_out *s = arg;
    return weft_pg_copy_records_out(s->c, "SELECT i, pg_sleep(0.01) FROM generate_series(1, 1000) i",
                                    slow_row, s, NULL);
}

static int stop_at_row(void *arg, const weft_pg_value *v, int n)
{
    int64_t *seen = arg;
    (void)v;
    (void)n;
    return ++*seen == 500 ? -EIO : 0;
}

WEFT_TEST(test_cancel_mid_copy)
{
    weft_pg *c = pg_connect_ok(dsn);
    exec_ok(c, "DROP TABLE IF EXISTS cr_many; CREATE TABLE cr_many (id int4, name text)");
    /* in: cancelled while the row source waits, rows already sent */
    slow_in in = {c, {.n = 100000, .fail_at = -1, .sleep_at = 60000}};
    in.g.p = weft_pg_params_new();
    CHECK_EQ(weft_timeout(0.3, copy_in_body, &in), -ETIMEDOUT);
    weft_pg_params_free(in.g.p);
    CHECK_EQ(count(c, "SELECT count(*) FROM cr_many"), 0);
    CHECK_EQ(weft_pg_ok(c), 1);
    /* out: cancelled while the consumer waits; the server stops sending */
    slow_out out = {c, 0};
    double t0 = weft_now();
    CHECK_EQ(weft_timeout(0.3, copy_out_body, &out), -ETIMEDOUT);
    CHECK_EQ(count(c, "SELECT 41 + 1"), 42);
    WEFT_TEST_CHECK(weft_now() - t0 < 10);
    /* out: cancelled while weft waits for the server's rows; the statement
     * is cancelled on the server (not left to run its 10 s) */
    slow_out server = {c, 0};
    t0 = weft_now();
    CHECK_EQ(weft_timeout(0.3, copy_sleepy_body, &server), -ETIMEDOUT);
    CHECK_EQ(count(c, "SELECT 43"), 43);
    WEFT_TEST_CHECK(weft_now() - t0 < 5);
    WEFT_TEST_CHECK(server.seen < 1000);
    /* the consumer stops it */
    int64_t seen = 0;
    CHECK_EQ(weft_pg_copy_records_out(c, "SELECT * FROM generate_series(1, 1000000)", stop_at_row,
                                      &seen, NULL), -EIO);
    CHECK_EQ(seen, 500);
    CHECK_EQ(count(c, "SELECT 1"), 1);
    /* a statement that is not a query */
    CHECK_EQ(weft_pg_copy_records_out(c, "SELEC 1", stop_at_row, &seen, NULL), -WEFT_PG_ESERVER);
    CHECK_EQ(count(c, "SELECT 2"), 2);
    weft_pg_free(c);
    return 0;
}

static int count_rows(void *arg, const weft_pg_value *v, int n)
{
    (void)v;
    (void)n;
    ++*(int64_t *)arg;
    return 0;
}

/* The query of weft_pg_copy_records_out goes inside COPY ( ... ): one
 * ending in a -- comment still works (the parenthesis is on a line of its
 * own), and one that would close the parenthesis and add a statement of
 * its own is refused whole (it is described as one statement first), so
 * nothing of it runs. */
WEFT_TEST(test_out_query_edges)
{
    weft_pg *c = pg_connect_ok(dsn);
    int64_t seen = 0, rows = 0;
    CHECK_EQ(weft_pg_copy_records_out(c, "SELECT i FROM generate_series(1, 3) i -- three",
                                      count_rows, &seen, &rows), 0);
    CHECK_EQ(seen, 3);
    CHECK_EQ(rows, 3);
    exec_ok(c, "DROP TABLE IF EXISTS cr_victim; CREATE TABLE cr_victim (x int)");
    seen = 0;
    CHECK_EQ(weft_pg_copy_records_out(c, "SELECT 1) TO STDOUT; DROP TABLE cr_victim; COPY (SELECT 1",
                                      count_rows, &seen, NULL), -WEFT_PG_ESERVER);
    CHECK_EQ(seen, 0);
    CHECK_EQ(count(c, "SELECT count(*) FROM cr_victim"), 0); /* still there */
    exec_ok(c, "DROP TABLE cr_victim");
    weft_pg_free(c);
    return 0;
}

/* A table with a generated column, no column list given: COPY's own list
 * (every column but the generated ones, PostgreSQL 12+) is what the rows
 * carry, so its types are what the values are encoded for. */
WEFT_TEST(test_generated_column)
{
    weft_pg *c = pg_connect_ok(dsn);
    exec_ok(c, "DROP TABLE IF EXISTS cr_gen; CREATE TABLE cr_gen (id int4,"
               " twice int4 GENERATED ALWAYS AS (id * 2) STORED, name text)");
    weft_pg_params *p = weft_pg_params_new();
    CHECK_EQ(weft_pg_params_int4(p, 21), 0);
    CHECK_EQ(weft_pg_params_text(p, "x"), 0);
    const weft_pg_params *rows[1] = {p};
    int64_t n = -1;
    int rc = weft_pg_copy_records(c, NULL, "cr_gen", NULL, 0, rows, 1, &n);
    if (rc) fprintf(stderr, "copy: %d %s %s\n", rc, weft_pg_sqlstate(c), weft_pg_errmsg(c));
    CHECK_EQ(rc, 0);
    CHECK_EQ(n, 1);
    CHECK_EQ(count(c, "SELECT twice FROM cr_gen WHERE name = 'x'"), 42);
    /* a value for the generated column too: one too many */
    weft_pg_params_clear(p);
    CHECK_EQ(weft_pg_params_int4(p, 1), 0);
    CHECK_EQ(weft_pg_params_int4(p, 2), 0);
    CHECK_EQ(weft_pg_params_text(p, "y"), 0);
    CHECK_EQ(weft_pg_copy_records(c, NULL, "cr_gen", NULL, 0, rows, 1, NULL), -EINVAL);
    /* a schema-qualified name with quotes in it */
    exec_ok(c, "DROP SCHEMA IF EXISTS \"cr s'q\" CASCADE; CREATE SCHEMA \"cr s'q\";"
               " CREATE TABLE \"cr s'q\".\"t\"\"g\" (g int4 GENERATED ALWAYS AS (1) STORED, v text)");
    weft_pg_params_clear(p);
    CHECK_EQ(weft_pg_params_text(p, "z"), 0);
    CHECK_EQ(weft_pg_copy_records(c, "cr s'q", "t\"g", NULL, 0, rows, 1, NULL), 0);
    CHECK_EQ(count(c, "SELECT g FROM \"cr s'q\".\"t\"\"g\" WHERE v = 'z'"), 1);
    exec_ok(c, "DROP SCHEMA \"cr s'q\" CASCADE");
    weft_pg_params_free(p);
    exec_ok(c, "DROP TABLE cr_gen");
    weft_pg_free(c);
    return 0;
}

/* A text value for a parsed column (bool, numeric, integers) with a NUL
 * inside was read up to the NUL: "t\0junk" went in as true, "1.5\0junk"
 * as 1.5. Only a value pushed with its own length holds one (the public
 * appends take C strings), so the internal append makes them here. */
WEFT_TEST(test_nul_inside_text)
{
    weft_pg *c = pg_connect_ok(dsn);
    exec_ok(c, "DROP TABLE IF EXISTS cr_nul; CREATE TABLE cr_nul (id int4, b bool, n numeric)");
    static const char *const cols[] = {"id", "b", "n"};
    static const struct { const char *b; int blen; const char *n; int nlen; } bad[] = {
        {"t\0junk", 6, "1", 1}, {"false\0", 6, "1", 1}, {"t", 1, "1.5\0junk", 8},
    };
    for (int i = 0; i < 3; i++) {
        weft_pg_params *p = weft_pg_params_new();
        CHECK_EQ(weft_pg_params_int4(p, i), 0);
        CHECK_EQ(pg__params_push(p, bad[i].b, (size_t)bad[i].blen, 0, 0), 0);
        CHECK_EQ(pg__params_push(p, bad[i].n, (size_t)bad[i].nlen, 0, 0), 0);
        const weft_pg_params *rows[1] = {p};
        CHECK_EQ(weft_pg_copy_records(c, NULL, "cr_nul", cols, 3, rows, 1, NULL), -WEFT_PG_ETYPE);
        weft_pg_params_free(p);
    }
    CHECK_EQ(count(c, "SELECT count(*) FROM cr_nul"), 0);
    /* the same values whole still go in */
    weft_pg_params *p = weft_pg_params_new();
    CHECK_EQ(weft_pg_params_int4(p, 7), 0);
    CHECK_EQ(pg__params_push(p, "true", 4, 0, 0), 0);
    CHECK_EQ(pg__params_push(p, "1.5", 3, 0, 0), 0);
    const weft_pg_params *rows[1] = {p};
    CHECK_EQ(weft_pg_copy_records(c, NULL, "cr_nul", cols, 3, rows, 1, NULL), 0);
    weft_pg_params_free(p);
    CHECK_EQ(count(c, "SELECT count(*) FROM cr_nul WHERE id = 7 AND b AND n = 1.5"), 1);
    weft_pg_free(c);
    return 0;
}

int main(int argc, char **argv)
{
    dsn = pg_env_dsn();
    static const weft_test_case cases[] = {
        {"round_trip", test_round_trip},
        {"many_and_errors", test_many_and_errors},
        {"cancel_mid_copy", test_cancel_mid_copy},
        {"out_query_edges", test_out_query_edges},
        {"generated_column", test_generated_column},
        {"nul_inside_text", test_nul_inside_text},
    };
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
