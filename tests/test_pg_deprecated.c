/* The deprecated pg.h spellings (weft_pg_query_ex, weft_pg_pool_query_err,
 * weft_pg_nrows/ncols/isnull, weft_pg_params_int) still compile, warn with
 * the new name, and behave as the new calls, against a real server. The
 * warnings themselves are checked by the ctest pg_deprecated_warns, which
 * compiles this file with the warnings left on and counts them. */
#include <weft.h>
#include <weft/pg.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include "pg_env.h"

#ifndef WEFT_WANT_DEPRECATION_WARNINGS
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif

static const char *dsn;

WEFT_TEST(test_old_names_behave_as_new)
{
    weft_pg *c = pg_connect_ok(dsn);
    weft_pg_params *p = weft_pg_params_new();
    /* Untyped, as before: the server infers int8 from 5000000000. */
    CHECK_EQ(weft_pg_params_int(p, 5000000000LL), 0);
    weft_pg_result *r = NULL;
    CHECK_EQ(weft_pg_query_ex(c, "SELECT $1::int8 + 1, NULL::int", p, WEFT_PG_BINARY, &r), 1);
    CHECK_EQ(weft_pg_nrows(r), 1);
    CHECK_EQ(weft_pg_ncols(r), 2);
    CHECK_EQ(weft_pg_nrows(r), weft_pg_result_nrows(r));
    CHECK_EQ(weft_pg_isnull(r, 0, 0), 0);
    CHECK_EQ(weft_pg_isnull(r, 0, 1), 1);
    CHECK_EQ(weft_pg_isnull(r, 5, 0), -EINVAL);
    int64_t v = 0;
    CHECK_EQ(weft_pg_get_bigint(r, 0, 0, &v), 0);
    CHECK_EQ(v, 5000000001LL);
    weft_pg_result_free(r);
    weft_pg_params_free(p);
    weft_pg_free(c);

    weft_pg_pool *pool;
    weft_pg_pool_opts o = {.max_size = 1};
    CHECK_EQ(weft_pg_pool_new(dsn, &o, &pool), 0);
    weft_pg_error e;
    CHECK_EQ(weft_pg_pool_query_err(pool, "SELECT nope", NULL, 0, NULL, &e), -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(!strcmp(e.sqlstate, "42703"));
    CHECK_EQ(weft_pg_pool_query_err(pool, "SELECT 1", NULL, 0, NULL, &e), 1);
    WEFT_TEST_CHECK(e.sqlstate[0] == 0);
    weft_pg_pool_free(pool);
    return 0;
}

int main(int argc, char **argv)
{
    dsn = pg_env_dsn();
    static const weft_test_case cases[] = {
        {"old_names_behave_as_new", test_old_names_behave_as_new},
    };
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
