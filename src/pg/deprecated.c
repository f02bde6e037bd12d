/* The deprecated spellings of pg.h, each the new call under its old name
 * (docs/design.md, "API conventions"): exported so that code and binaries
 * built against them keep working. */
#include <weft/pg.h>

int weft_pg_query_ex(weft_pg *c, const char *sql, const weft_pg_params *p, int flags,
                     weft_pg_result **out)
{
    return weft_pg_query_with(c, sql, p, flags, out);
}

int weft_pg_pool_query_err(weft_pg_pool *p, const char *sql, const weft_pg_params *params,
                           int flags, weft_pg_result **out, weft_pg_error *err)
{
    return weft_pg_pool_query_with(p, sql, params, flags, out, err);
}

int weft_pg_nrows(const weft_pg_result *r) { return weft_pg_result_nrows(r); }
int weft_pg_ncols(const weft_pg_result *r) { return weft_pg_result_ncols(r); }
int weft_pg_isnull(const weft_pg_result *r, int row, int col)
{
    return weft_pg_result_isnull(r, row, col);
}
int weft_pg_params_int(weft_pg_params *p, int64_t v) { return weft_pg_params_bigint(p, v); }
