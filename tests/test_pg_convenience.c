/* fetchrow/fetchval, executemany, prepared-statement handles and explain,
 * against a real server (tests/pg_env.h). */
#include <weft.h>
#include <weft/pg.h>
#include <errno.h>
#include <stdint.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include "pg_env.h"

static const char *dsn;

WEFT_TEST(test_fetchrow_fetchval)
{
    weft_pg *c = pg_connect_ok(dsn);
    weft_pg_result *r = (weft_pg_result *)1;
    CHECK_EQ(weft_pg_fetchrow(c, "SELECT 1 WHERE false", NULL, 0, &r), -WEFT_PG_ENOROWS);
    WEFT_TEST_CHECK(r == NULL);
    CHECK_EQ(weft_pg_fetchrow(c, "SELECT generate_series(1, 2)", NULL, 0, &r), -WEFT_PG_EMANYROWS);
    WEFT_TEST_CHECK(r == NULL);
    WEFT_TEST_CHECK(strstr(weft_strerror(-WEFT_PG_EMANYROWS), "more than one row") != NULL);
    CHECK_EQ(weft_pg_fetchrow(c, "SELECT 1, 'a'", NULL, 0, &r), 0);
    CHECK_EQ(weft_pg_result_ncols(r), 2);
    weft_pg_result_free(r);
    weft_pg_value v;
    CHECK_EQ(weft_pg_fetchval(c, "SELECT 1, 2", NULL, 0, &r, &v), -WEFT_PG_ETYPE);
    CHECK_EQ(weft_pg_fetchval(c, "SELECT NULL::int", NULL, WEFT_PG_BINARY, &r, &v), 0);
    CHECK_EQ(v.len, -1);
    weft_pg_result_free(r);
    int64_t x;
    weft_pg_params *p = weft_pg_params_new();
    weft_pg_params_int8(p, 41);
    CHECK_EQ(weft_pg_fetch_bigint(c, "SELECT $1 + 1", p, &x), 0);
    CHECK_EQ(x, 42);
    CHECK_EQ(weft_pg_fetch_bigint(c, "SELECT NULL::int8", NULL, &x), -WEFT_PG_ENULL);
    CHECK_EQ(weft_pg_fetch_bigint(c, "SELECT nope", NULL, &x), -WEFT_PG_ESERVER);
    char *s;
    CHECK_EQ(weft_pg_fetch_text(c, "SELECT 'hello'", NULL, &s), 0);
    WEFT_TEST_CHECK(!strcmp(s, "hello"));
    free(s);
    CHECK_EQ(weft_pg_fetch_text(c, "SELECT 'x' WHERE false", NULL, &s), -WEFT_PG_ENOROWS);
    weft_pg_params_free(p);
    weft_pg_free(c);
    return 0;
}

WEFT_TEST(test_executemany)
{
    weft_pg *c = pg_connect_ok(dsn);
    CHECK_EQ(weft_pg_exec(c, "DROP TABLE IF EXISTS conv_many;"
                             " CREATE TABLE conv_many (id int4 PRIMARY KEY, name text, at date)"), 0);
    enum { N = 1000 };
    weft_pg_params *sets[N];
    for (int i = 0; i < N; i++) {
        sets[i] = weft_pg_params_new();
        weft_pg_params_int4(sets[i], i);
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        weft_pg_params_typed_text(sets[i], WEFT_PG_TEXT, name);
        weft_pg_params_date(sets[i], i);
    }
    int64_t rows = 0;
    int failed = 7;
    CHECK_EQ(weft_pg_executemany(c, "INSERT INTO conv_many VALUES ($1, $2, $3)",
                                 (const weft_pg_params *const *)sets, N, &rows, &failed), 0);
    CHECK_EQ(rows, N);
    CHECK_EQ(failed, -1);
    int64_t n;
    CHECK_EQ(weft_pg_fetch_bigint(c, "SELECT count(*) FROM conv_many WHERE name = 'n' || id"
                                     " AND at = '1970-01-01'::date + id", NULL, &n), 0);
    CHECK_EQ(n, N);
    /* atomic: a duplicate key at set 500 leaves none of the others */
    CHECK_EQ(weft_pg_exec(c, "DELETE FROM conv_many WHERE id <> 500"), N - 1);
    CHECK_EQ(weft_pg_executemany(c, "INSERT INTO conv_many VALUES ($1, $2, $3)",
                                 (const weft_pg_params *const *)sets, N, &rows, &failed),
             -WEFT_PG_ESERVER);
    CHECK_EQ(failed, 500);
    WEFT_TEST_CHECK(!strcmp(weft_pg_sqlstate(c), "23505"));
    CHECK_EQ(weft_pg_fetch_bigint(c, "SELECT count(*) FROM conv_many", NULL, &n), 0);
    CHECK_EQ(n, 1);
    /* the connection is fine afterwards, and 0 sets is nothing */
    CHECK_EQ(weft_pg_executemany(c, "INSERT INTO conv_many VALUES ($1, $2, $3)", NULL, 0, &rows, NULL), 0);
    CHECK_EQ(rows, 0);
    for (int i = 0; i < N; i++) weft_pg_params_free(sets[i]);
    CHECK_EQ(weft_pg_exec(c, "DROP TABLE conv_many"), 0);
    weft_pg_free(c);
    return 0;
}

WEFT_TEST(test_prepared_handle)
{
    weft_pg *c = pg_connect_ok(dsn);
    weft_pg_stmt *st;
    CHECK_EQ(weft_pg_prepare_stmt(c, "SELECT $1 + 1 AS next, $2::text AS label, now() AS at",
                                  (unsigned[]){WEFT_PG_INT8}, 1, &st), 0);
    CHECK_EQ(weft_pg_stmt_nparams(st), 2);
    CHECK_EQ(weft_pg_stmt_param_type(st, 0), WEFT_PG_INT8);
    CHECK_EQ(weft_pg_stmt_param_type(st, 1), WEFT_PG_TEXT);
    CHECK_EQ(weft_pg_stmt_param_type(st, 2), 0);
    CHECK_EQ(weft_pg_stmt_ncols(st), 3);
    WEFT_TEST_CHECK(!strcmp(weft_pg_stmt_col_name(st, 0), "next"));
    CHECK_EQ(weft_pg_stmt_col_type(st, 0), WEFT_PG_INT8);
    CHECK_EQ(weft_pg_stmt_col_type(st, 2), WEFT_PG_TIMESTAMPTZ);
    WEFT_TEST_CHECK(weft_pg_stmt_col_name(st, 3) == NULL);
    /* typed and untyped parameters both run the prepared statement */
    int64_t before, after;
    CHECK_EQ(weft_pg_fetch_bigint(c, "SELECT count(*) FROM pg_prepared_statements", NULL, &before), 0);
    for (int k = 0; k < 2; k++) {
        weft_pg_params *p = weft_pg_params_new();
        if (k) weft_pg_params_bigint(p, 9);
        else weft_pg_params_int8(p, 9);
        weft_pg_params_typed_text(p, k ? 0 : WEFT_PG_TEXT, "x");
        weft_pg_result *r;
        CHECK_EQ(weft_pg_stmt_query(st, p, WEFT_PG_BINARY, &r), 1);
        int64_t v;
        CHECK_EQ(weft_pg_get_bigint(r, 0, 0, &v), 0);
        CHECK_EQ(v, 10);
        weft_pg_result_free(r);
        weft_pg_params_free(p);
    }
    CHECK_EQ(weft_pg_fetch_bigint(c, "SELECT count(*) FROM pg_prepared_statements", NULL, &after), 0);
    CHECK_EQ(after, before); /* both calls ran the one prepared statement */
    weft_pg_stmt_free(st);
    CHECK_EQ(weft_pg_prepare_stmt(c, "SELEC 1", NULL, 0, &st), -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(!strcmp(weft_pg_sqlstate(c), "42601"));
    CHECK_EQ(weft_pg_prepare(c, "SELECT $1::int, $2::int"), 2);
    CHECK_EQ(weft_pg_prepare(c, "SELECT $1::int, $2::int"), 2);
    weft_pg_free(c);
    return 0;
}

WEFT_TEST(test_explain)
{
    weft_pg *c = pg_connect_ok(dsn);
    char *plan = NULL;
    weft_pg_params *p = weft_pg_params_new();
    weft_pg_params_int4(p, 5);
    CHECK_EQ(weft_pg_explain(c, "SELECT g FROM generate_series(1, 10) g WHERE g > $1", p, 0, &plan), 0);
    WEFT_TEST_CHECK(plan[0] == '[' && strstr(plan, "\"Plan\"") && strstr(plan, "Function Scan"));
    WEFT_TEST_CHECK(!strstr(plan, "Actual Rows"));
    free(plan);
    CHECK_EQ(weft_pg_explain(c, "SELECT g FROM generate_series(1, 10) g WHERE g > $1", p, 1, &plan), 0);
    WEFT_TEST_CHECK(strstr(plan, "\"Actual Rows\": 5") != NULL);
    free(plan);
    CHECK_EQ(weft_pg_explain(c, "SELECT FROM nowhere", NULL, 0, &plan), -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(plan == NULL);
    weft_pg_params_free(p);
    weft_pg_free(c);
    return 0;
}

int main(int argc, char **argv)
{
    dsn = pg_env_dsn();
    static const weft_test_case cases[] = {
        {"fetchrow_fetchval", test_fetchrow_fetchval},
        {"executemany", test_executemany},
        {"prepared_handle", test_prepared_handle},
        {"explain", test_explain},
    };
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
