/* docs/guide.md, "PostgreSQL": a pool with lifecycle hooks, typed
 * parameters and values, executemany, fetchrow/fetchval, a transaction
 * with an isolation level, a prepared statement, notices to a listener and
 * COPY of records both ways. The server: WEFT_PG_DSN (a libpq conninfo). */
#include <stdio.h>
#include <stdlib.h>
#include <weft.h>
#include <weft/pg.h>

static void on_notice(weft_pg *c, const char *severity, const char *sqlstate,
                      const char *message, void *arg)
{
    (void)c, (void)sqlstate, (void)arg;
    printf("server %s: %s\n", severity, message);
}

/* Once per new connection: the pool's init hook. */
static int init_conn(weft_pg *c, void *arg)
{
    (void)arg;
    weft_pg_set_log_listener(c, on_notice, NULL);
    return weft_pg_exec(c, "SET TimeZone = 'UTC'") < 0 ? -1 : 0;
}

/* Rows for COPY: one weft_pg_params per row, typed values. */
static int next_row(void *arg, const weft_pg_params **row)
{
    static weft_pg_params *p;
    int *i = arg;
    if (*i == 1000) {
        weft_pg_params_free(p);
        return 0;
    }
    if (!p) p = weft_pg_params_new();
    weft_pg_params_clear(p);
    weft_pg_params_int8(p, 100 + *i);
    weft_pg_params_typed_text(p, WEFT_PG_TEXT, "copied");
    weft_pg_params_timestamptz(p, (int64_t)(1700000000 + *i) * 1000000);
    (*i)++;
    *row = p;
    return 1;
}

static int64_t copied_sum;
static int each_row(void *arg, const weft_pg_value *row, int ncols)
{
    (void)arg, (void)ncols;
    int64_t id;
    if (weft_pg_value_bigint(&row[0], &id) == 0) copied_sum += id;
    return 0;
}

static int work(weft_pg *c, void *arg)
{
    (void)arg;
    weft_pg_exec(c, "DROP TABLE IF EXISTS guide_events;"
                    " CREATE TABLE guide_events (id int8 PRIMARY KEY, kind text, at timestamptz)");
    weft_pg_exec(c, "DO $$BEGIN RAISE NOTICE 'table ready'; END$$");

    /* executemany: one parameter set per row, one round trip for all */
    weft_pg_params *sets[3];
    const char *kinds[3] = {"login", "click", "logout"};
    for (int i = 0; i < 3; i++) {
        sets[i] = weft_pg_params_new();
        weft_pg_params_int8(sets[i], i + 1);
        weft_pg_params_typed_text(sets[i], WEFT_PG_TEXT, kinds[i]);
        weft_pg_params_timestamptz(sets[i], 1700000000000000LL + i * 60000000LL);
    }
    int64_t n = 0;
    int rc = weft_pg_executemany(c, "INSERT INTO guide_events VALUES ($1, $2, $3)",
                                 (const weft_pg_params *const *)sets, 3, &n, NULL);
    for (int i = 0; i < 3; i++) weft_pg_params_free(sets[i]);
    printf("inserted %lld rows\n", (long long)n);
    if (rc < 0) return rc;

    /* fetchrow: exactly one row, typed accessors */
    weft_pg_params *p = weft_pg_params_new();
    weft_pg_params_int8(p, 2);
    weft_pg_result *r;
    if ((rc = weft_pg_fetchrow(c, "SELECT kind, at FROM guide_events WHERE id = $1", p,
                               WEFT_PG_BINARY, &r)) < 0)
        return rc;
    int64_t at;
    weft_pg_get_timestamp(r, 0, 1, &at);
    printf("event 2: %s at %lld\n", weft_pg_get_text(r, 0, 0), (long long)(at / 1000000));
    weft_pg_result_free(r);

    /* a transaction that sees one snapshot throughout */
    weft_pg_begin_opts(c, WEFT_PG_ISO_REPEATABLE_READ, 1, 0);
    int64_t count;
    weft_pg_fetch_bigint(c, "SELECT count(*) FROM guide_events", NULL, &count);
    weft_pg_commit(c);
    printf("count in a repeatable-read transaction: %lld\n", (long long)count);

    /* a prepared statement: what the server says about it */
    weft_pg_stmt *st;
    if ((rc = weft_pg_prepare_stmt(c, "SELECT id, kind FROM guide_events WHERE at > $1", NULL, 0,
                                   &st)) < 0)
        return rc;
    printf("parameter 1 is OID %u; column 2 is '%s'\n", weft_pg_stmt_param_type(st, 0),
           weft_pg_stmt_col_name(st, 1));
    weft_pg_stmt_free(st);

    /* COPY of records in, binary COPY out */
    int i = 0;
    if ((rc = weft_pg_copy_records_in(c, NULL, "guide_events", NULL, 0, next_row, &i, &n)) < 0)
        return rc;
    printf("copied %lld rows in\n", (long long)n);
    rc = weft_pg_copy_records_out(c, "SELECT id FROM guide_events WHERE kind = 'copied'", each_row,
                                  NULL, &n);
    printf("read %lld rows back, ids summing to %lld\n", (long long)n, (long long)copied_sum);
    weft_pg_params_free(p);
    return rc;
}

static int main_task(void *arg)
{
    weft_pg_pool_opts o = {.min_size = 1, .max_size = 4, .init = init_conn};
    weft_pg_pool *pool;
    int rc = weft_pg_pool_new(arg, &o, &pool);
    if (rc < 0) return rc;
    rc = weft_pg_pool_run(pool, work, NULL); /* acquire, work, release */
    weft_pg_pool_stats st;
    weft_pg_pool_stats_get(pool, &st);
    printf("pool: %d open, %d idle, %lld acquires\n", st.size, st.idle, (long long)st.acquired);
    weft_pg_pool_free(pool);
    return rc;
}

int main(void)
{
    const char *dsn = getenv("WEFT_PG_DSN");
    if (!dsn) return fprintf(stderr, "set WEFT_PG_DSN\n"), 2;
    int rc = weft_run(main_task, (void *)dsn);
    if (rc < 0) fprintf(stderr, "error: %s\n", weft_strerror(rc));
    return rc < 0;
}
