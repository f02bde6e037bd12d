/* P4: asyncpg's own benchmark shape (MagicStack's pgbench), over a pool of
 * CONNECTIONS held by as many tasks, each sub-workload for SECONDS:
 *
 *   types   the pg_type catalogue read with two typed parameters, every value decoded
 *   bytea   SELECT of 100 rows of 1 KiB bytea
 *   arrays  SELECT of 100 rows of int4[100], every element summed
 *   copy    COPY of 1,000 records of 7 columns (weft_pg_copy_records)
 *   batch   the same 1,000 x 7 rows inserted with weft_pg_executemany
 *
 *   bench_pg_p4 SECONDS [CONNECTIONS [SUB,...]]   (DSN: WEFT_PG_DSN)
 *
 * P4_OPS=N: each task runs exactly N operations instead (no warm-up), so two
 * callgrind runs of different N give exact instructions per row by difference.
 *
 * Prints `P4 weft sub=NAME rows_per_s=... ops_per_s=... client_cpu_us_per_row=...`
 * (client CPU from getrusage over the measured window). The same shape:
 * bench/peers/pg_asyncpg_p4.py and pg_pgx_p4.go. */
#include <weft.h>
#include <weft/pg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define NROWS 1000

static const char *dsn, *sub;
static double seconds, deadline;
static int conns;
static long fixed_ops; /* P4_OPS: each task runs exactly this many (callgrind), no warm-up */
static long ops, rows;
static weft_pg_pool *pool;
static weft_pg_params *records[NROWS];

static const char types_sql[] =
    "SELECT typname, typnamespace, typowner, typlen, typbyval, typcategory, typispreferred,"
    " typisdefined, typdelim, typrelid, typelem, typarray FROM pg_type"
    " WHERE typtypmod = $1 AND typisdefined = $2";
static const char *const copy_cols[] = {"a", "b", "c", "d", "e", "f", "g"};

/* Every value decoded by its column's decoder, chosen once a result from
 * the column types as asyncpg picks a codec per column from the row
 * description; a row's cells fetched in one weft_pg_get_row. */
static int q_types(weft_pg *c, weft_pg_params *p)
{
    weft_pg_result *r;
    int n = weft_pg_query_with(c, types_sql, p, WEFT_PG_BINARY, &r);
    if (n < 0) return n;
    enum { INT, BOOL, TEXT } kind[12];
    for (int k = 0; k < 12; k++) {
        unsigned t = weft_pg_coltype(r, k);
        kind[k] = t == WEFT_PG_BOOL ? BOOL
                : t == WEFT_PG_INT2 || t == WEFT_PG_OID ? INT
                : TEXT; /* name, "char" */
    }
    int64_t sum = 0;
    for (int i = 0; i < n; i++) {
        weft_pg_value v[12];
        if (weft_pg_get_row(r, i, v, 12) != 12) return -1;
        for (int k = 0; k < 12; k++) {
            int64_t x;
            int b;
            const char *s;
            size_t len;
            switch (kind[k]) {
            case INT: if (weft_pg_value_bigint(&v[k], &x) == 0) sum += x; break;
            case BOOL: if (weft_pg_value_bool(&v[k], &b) == 0) sum += b; break;
            case TEXT: if (weft_pg_value_text(&v[k], &s, &len) == 0) sum += (int64_t)len + *s; break;
            }
        }
    }
    weft_pg_result_free(r);
    rows += n;
    return sum > 0 ? 0 : -1;
}

static int q_bytea(weft_pg *c)
{
    weft_pg_result *r;
    int n = weft_pg_query_with(c, "SELECT * FROM weft_p4_bytes", NULL, WEFT_PG_BINARY, &r);
    if (n < 0) return n;
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        const void *d;
        size_t len;
        if (weft_pg_get_bytea(r, i, 0, &d, &len) == 0) total += len;
    }
    weft_pg_result_free(r);
    rows += n;
    return total == (size_t)n * 1024 ? 0 : -1;
}

static int q_arrays(weft_pg *c)
{
    weft_pg_result *r;
    int n = weft_pg_query_with(c, "SELECT * FROM weft_p4_arrays", NULL, WEFT_PG_BINARY, &r);
    if (n < 0) return n;
    int64_t sum = 0;
    for (int i = 0; i < n; i++) {
        weft_pg_array *a;
        if (weft_pg_get_array(r, i, 0, &a) < 0) continue;
        for (int k = 0; k < a->n; k++) {
            int32_t v;
            if (weft_pg_value_int(&a->elems[k], &v) == 0) sum += v;
        }
        free(a);
    }
    weft_pg_result_free(r);
    rows += n;
    return sum == (int64_t)n * 5050 ? 0 : -1;
}

static int q_copy(weft_pg *c)
{
    int64_t n = 0;
    int rc = weft_pg_copy_records(c, NULL, "weft_p4_copy", copy_cols, 7,
                                  (const weft_pg_params *const *)records, NROWS, &n);
    if (rc < 0) return rc;
    rows += n;
    return n == NROWS ? 0 : -1;
}

static int q_batch(weft_pg *c)
{
    int64_t n = 0;
    int rc = weft_pg_executemany(c, "INSERT INTO weft_p4_copy VALUES ($1, $2, $3, $4, $5, $6, $7)",
                                 (const weft_pg_params *const *)records, NROWS, &n, NULL);
    if (rc < 0) return rc;
    rows += n;
    return n == NROWS ? 0 : -1;
}

static int work(void *arg)
{
    (void)arg;
    weft_pg *c;
    int rc = weft_pg_pool_acquire(pool, &c);
    if (rc < 0) return rc;
    weft_pg_params *p = weft_pg_params_new();
    weft_pg_params_int4(p, -1);
    weft_pg_params_boolean(p, 1);
    for (long k = 0; rc >= 0 && (fixed_ops ? k < fixed_ops : weft_now() < deadline); k++) {
        if (!strcmp(sub, "types")) rc = q_types(c, p);
        else if (!strcmp(sub, "bytea")) rc = q_bytea(c);
        else if (!strcmp(sub, "arrays")) rc = q_arrays(c);
        else if (!strcmp(sub, "copy")) rc = q_copy(c);
        else rc = q_batch(c);
        ops++;
    }
    if (rc < 0) fprintf(stderr, "P4 %s: %s %s\n", sub, weft_strerror(rc), weft_pg_errmsg(c));
    weft_pg_params_free(p);
    weft_pg_pool_release(pool, c);
    return rc < 0 ? rc : 0;
}

static double cpu_seconds(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
           u.ru_stime.tv_usec / 1e6;
}

static int run_sub(weft_task **t)
{
    deadline = weft_now() + 0.5; /* warm-up: statements prepared on every connection */
    for (int i = 0; i < conns && !fixed_ops; i++) t[i] = weft_spawn(work, NULL);
    if (!fixed_ops && weft_gather(t, (size_t)conns, NULL) < 0) return -1;
    ops = rows = 0;
    double t0 = weft_now(), cpu0 = cpu_seconds();
    deadline = t0 + seconds;
    for (int i = 0; i < conns; i++) t[i] = weft_spawn(work, NULL);
    int rc = weft_gather(t, (size_t)conns, NULL);
    double el = weft_now() - t0, cpu = cpu_seconds() - cpu0;
    if (rc < 0 || !rows) return -1;
    printf("P4 weft sub=%s rows_per_s=%.0f ops_per_s=%.0f client_cpu_us_per_row=%.3f conns=%d"
           " seconds=%.1f\n", sub, rows / el, ops / el, cpu * 1e6 / rows, conns, el);
    fflush(stdout);
    return 0;
}

static const char setup_sql[] =
    "DROP TABLE IF EXISTS weft_p4_bytes, weft_p4_arrays, weft_p4_copy;"
    " CREATE UNLOGGED TABLE weft_p4_bytes (b bytea);"
    " INSERT INTO weft_p4_bytes SELECT convert_to(repeat('a', 1024), 'UTF8')"
    "   FROM generate_series(1, 100);"
    " CREATE UNLOGGED TABLE weft_p4_arrays (a int4[]);"
    " INSERT INTO weft_p4_arrays SELECT (SELECT array_agg(i) FROM generate_series(1, 100) i)"
    "   FROM generate_series(1, 100);"
    " CREATE UNLOGGED TABLE weft_p4_copy (a int4, b int4, c int4, d text, e float8, f int4,"
    "   g text)";

static int bench_main(void *arg)
{
    const char *subs = arg;
    weft_pg_pool_opts o = {.min_size = conns, .max_size = conns};
    int rc = weft_pg_pool_new(dsn, &o, &pool);
    if (rc < 0) {
        fprintf(stderr, "pool: %s\n", weft_strerror(rc));
        return 1;
    }
    weft_pg *c;
    if (weft_pg_pool_acquire(pool, &c) < 0 || weft_pg_exec(c, setup_sql) < 0) return 1;
    weft_pg_pool_release(pool, c);
    for (int i = 0; i < NROWS; i++) { /* asyncpg's row, as typed values */
        weft_pg_params *p = records[i] = weft_pg_params_new();
        weft_pg_params_int4(p, 10);
        weft_pg_params_int4(p, 11);
        weft_pg_params_int4(p, 12);
        weft_pg_params_typed_text(p, WEFT_PG_TEXT, "TESTTESTTEST");
        weft_pg_params_float8(p, 10.333);
        weft_pg_params_int4(p, 12341234);
        weft_pg_params_typed_text(p, WEFT_PG_TEXT, "123412341234");
    }
    weft_task **t = calloc((size_t)conns, sizeof *t);
    static const char *const all[] = {"types", "bytea", "arrays", "copy", "batch"};
    for (size_t i = 0; i < sizeof all / sizeof all[0] && rc >= 0; i++) {
        char key[16];
        snprintf(key, sizeof key, ",%s,", all[i]);
        char list[128];
        snprintf(list, sizeof list, ",%s,", subs);
        if (!strstr(list, key)) continue;
        sub = all[i];
        if ((rc = run_sub(t)) < 0) fprintf(stderr, "P4 %s failed\n", sub);
    }
    free(t);
    for (int i = 0; i < NROWS; i++) weft_pg_params_free(records[i]);
    weft_pg_pool_free(pool);
    return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !getenv("WEFT_PG_DSN")) {
        fprintf(stderr, "usage: WEFT_PG_DSN=... %s SECONDS [CONNECTIONS [SUB,...]]\n", argv[0]);
        return 2;
    }
    dsn = getenv("WEFT_PG_DSN");
    seconds = atof(argv[1]);
    conns = argc > 2 ? atoi(argv[2]) : 10;
    if (getenv("P4_OPS")) fixed_ops = atol(getenv("P4_OPS"));
    if (conns < 1) return 2;
    return weft_run(bench_main, argc > 3 ? argv[3] : (char *)"types,bytea,arrays,copy,batch");
}
