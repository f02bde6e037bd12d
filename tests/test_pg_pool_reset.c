/* The pool's reset sent at release and read by the next operation
 * (src/pg/reset.c): whatever kind of operation comes first (a query, which
 * pipelines behind it, or an exec, batch, COPY, cursor, transaction,
 * prepared statement, notification wait), it sees a reset session; a
 * holder's open or failed transaction is rolled back; a connection whose
 * reset is in flight survives a long idle, a cancelled first operation and
 * expire_connections. Against a real server. */
#include <weft.h>
#include <weft/pg.h>
#include <errno.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include "pg_env.h"

static const char *dsn;

/* A holder's leftovers: a setting, a temp table, an advisory lock. */
static void dirty(weft_pg *c)
{
    CHECK_EQ(weft_pg_exec(c, "SET application_name = 'dirty'"), 0);
    CHECK_EQ(weft_pg_exec(c, "CREATE TEMP TABLE IF NOT EXISTS leftover (x int)"), 0);
    CHECK_EQ(weft_pg_exec(c, "SELECT pg_advisory_lock(4242)"), 1);
}

/* What the next holder sees, read with a plain query after its first op. */
static void check_clean(weft_pg *c)
{
    char *s = NULL;
    CHECK_EQ(weft_pg_fetch_text(c, "SELECT current_setting('application_name') || ':' ||"
                                   " (to_regclass('pg_temp.leftover') IS NULL) || ':' ||"
                                   " (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                                   " AND pid = pg_backend_pid())", NULL, &s), 0);
    if (strcmp(s, ":true:0")) fprintf(stderr, "not reset: %s\n", s);
    CHECK(!strcmp(s, ":true:0"));
    free(s);
}

static ssize_t one_row(void *arg, const char **data)
{
    int *n = arg;
    *data = "1\n";
    return (*n)++ ? 0 : 2;
}

static int sink(void *arg, const char *d, size_t n)
{
    (void)arg, (void)d, (void)n;
    return 0;
}

static int next_none(void *arg, const weft_pg_params **row)
{
    (void)arg, (void)row;
    return 0;
}

/* The first operation of the next holder, by kind. */
static int first_op(weft_pg *c, int kind)
{
    switch (kind) {
    case 0: return weft_pg_query(c, "SELECT current_setting('application_name')", NULL, NULL);
    case 1: return weft_pg_exec(c, "SELECT 1");
    case 2: {
        weft_pg_batch *b = weft_pg_batch_new();
        weft_pg_batch_add(b, "SELECT 1", NULL);
        int rc = weft_pg_batch_run(c, b, 0);
        weft_pg_batch_free(b);
        return rc;
    }
    case 3: {
        int n = 0;
        return weft_pg_copy_in(c, "COPY reset_t FROM STDIN", one_row, &n);
    }
    case 4: return weft_pg_copy_out(c, "COPY (SELECT 1) TO STDOUT", sink, NULL);
    case 5: {
        weft_pg_rows *it;
        int rc = weft_pg_query_rows(c, "SELECT 1", NULL, 0, &it);
        if (rc < 0) return rc;
        const weft_pg_result *row;
        while ((rc = weft_pg_rows_next(it, &row)) > 0) {}
        weft_pg_rows_close(it);
        return rc;
    }
    case 6: {
        int rc = weft_pg_begin(c);
        if (rc >= 0) rc = weft_pg_commit(c);
        return rc;
    }
    case 7: {
        weft_pg_stmt *s;
        int rc = weft_pg_prepare_stmt(c, "SELECT $1::int", NULL, 0, &s);
        weft_pg_stmt_free(s);
        return rc;
    }
    case 8: return weft_pg_copy_records_in(c, NULL, "reset_t", NULL, 0, next_none, NULL, NULL);
    case 9: {
        char *s = NULL;
        int rc = weft_pg_fetch_text(c, "SELECT 'x'", NULL, &s);
        free(s);
        return rc;
    }
    }
    return -EINVAL;
}

WEFT_TEST(test_first_operation_of_each_kind)
{
    weft_pg *admin = pg_connect_ok(dsn);
    WEFT_TEST_CHECK(
        weft_pg_exec(admin, "DROP TABLE IF EXISTS reset_t; CREATE TABLE reset_t (x int)") >= 0);
    weft_pg_pool_opts o = {.min_size = 1, .max_size = 1};
    weft_pg_pool *p;
    CHECK_EQ(weft_pg_pool_new(dsn, &o, &p), 0);
    for (int kind = 0; kind < 10; kind++) {
        weft_pg *c;
        CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
        dirty(c);
        if (kind % 2) { /* and a transaction left open, failed for odd kinds */
            CHECK_EQ(weft_pg_begin(c), 1);
            if (kind % 4 == 1) CHECK_EQ(weft_pg_exec(c, "SELECT 1/0"), -WEFT_PG_ESERVER);
        }
        weft_pg_pool_release(p, c);
        CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
        WEFT_TEST_CHECK(!weft_pg_in_transaction(c));
        int rc = first_op(c, kind);
        if (rc < 0) fprintf(stderr, "kind %d: %d %s\n", kind, rc, weft_pg_errmsg(c));
        WEFT_TEST_CHECK(rc >= 0);
        check_clean(c);
        weft_pg_pool_release(p, c);
    }
    weft_pg_pool_stats st;
    weft_pg_pool_stats_get(p, &st);
    CHECK_EQ(st.opened, 1); /* one connection, reset each time, never replaced */
    weft_pg_pool_free(p);
    weft_pg_free(admin);
    return 0;
}

static int notify_wait_body(void *arg)
{
    weft_pg_notify *n = NULL;
    int rc = weft_pg_notify_wait(arg, NULL, &n);
    weft_pg_notify_free(n);
    return rc;
}

static int slow_first(void *arg)
{
    weft_pg_pool *p = arg;
    weft_pg *c;
    int rc = weft_pg_pool_acquire(p, &c);
    if (rc < 0) return rc;
    rc = weft_pg_query(c, "SELECT pg_sleep(5)", NULL, NULL);
    weft_pg_pool_release(p, c);
    return rc;
}

WEFT_TEST(test_in_flight_edges)
{
    weft_pg_pool_opts o = {.min_size = 1, .max_size = 1, .check_idle_s = 0.2};
    weft_pg_pool *p;
    CHECK_EQ(weft_pg_pool_new(dsn, &o, &p), 0);
    weft_pg *c;
    /* a notification wait first: the last holder's notifications (sent
     * before the reset's UNLISTEN) are not delivered */
    CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
    CHECK_EQ(weft_pg_listen(c, "reset_chan"), 0);
    CHECK_EQ(weft_pg_exec(c, "NOTIFY reset_chan, 'old'"), 0);
    weft_pg_pool_release(p, c);
    CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
    CHECK_EQ(weft_timeout(0.3, notify_wait_body, c), -ETIMEDOUT);
    check_clean(c);
    weft_pg_pool_release(p, c);
    /* with the reset in flight: idle past check_idle_s (read at acquire);
     * the first operation cancelled (the pool recovers); the connection
     * expired (closed, replaced). Each time the next holder is clean. */
    for (int edge = 0; edge < 3; edge++) {
        CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
        dirty(c);
        weft_pg_pool_release(p, c);
        if (edge == 0) weft_sleep(0.3);
        if (edge == 1) CHECK_EQ(weft_timeout(0.2, slow_first, p), -ETIMEDOUT);
        if (edge == 2) weft_pg_pool_expire_connections(p);
        CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
        check_clean(c);
        weft_pg_pool_release(p, c);
    }
    weft_pg_pool_free(p);
    return 0;
}

/* The last holder replaced one of weft's prepared statements with its own
 * (SQL PREPARE under weft's name, another DEALLOCATEd to clash with the
 * next name weft gives): the next holder's first query, pipelined behind
 * the reset that sorts this out, runs its own SQL and gets its own result,
 * not the last holder's statement's. */
static void sql_prepare_attack(int settle)
{
    weft_pg *plain;
    CHECK_EQ(weft_pg_connect(dsn, &plain, NULL), 0);
    CHECK(weft_pg_exec(plain, "DROP SEQUENCE IF EXISTS reset_victim") >= 0);
    CHECK(weft_pg_exec(plain, "CREATE SEQUENCE reset_victim START 100") >= 0);
    weft_pg_pool_opts o = {.min_size = 1, .max_size = 1};
    weft_pg_pool *p;
    CHECK_EQ(weft_pg_pool_new(dsn, &o, &p), 0);
    weft_pg *c;
    CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
    CHECK(weft_pg_query(c, "SELECT 7::bigint", NULL, NULL) >= 0); /* cached as weft_s1 */
    weft_pg_pool_release(p, c);
    CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
    CHECK(weft_pg_exec(c, "DEALLOCATE weft_s1") >= 0);
    CHECK(weft_pg_exec(c, "PREPARE weft_s1 AS SELECT nextval('reset_victim')") >= 0);
    CHECK(weft_pg_exec(c, "PREPARE weft_s2 AS SELECT nextval('reset_victim')") >= 0);
    weft_pg_pool_release(p, c);
    /* settle: the reset's replies are in before the next acquire, which
     * then reads them while the connection is idle; the fixup they ask for
     * is still to run when the query is sent. */
    if (settle) weft_sleep(0.1);
    for (int round = 0; round < 2; round++) {
        CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
        char *v = NULL;
        CHECK_EQ(weft_pg_fetch_text(c, round ? "SELECT 8::bigint" : "SELECT 7::bigint", NULL, &v), 0);
        CHECK(!strcmp(v, round ? "8" : "7"));
        free(v);
        weft_pg_pool_release(p, c);
    }
    char *s = NULL;
    CHECK_EQ(weft_pg_fetch_text(plain, "SELECT is_called::text FROM reset_victim", NULL, &s), 0);
    CHECK(!strcmp(s, "false"));
    free(s);
    weft_pg_pool_free(p);
    CHECK(weft_pg_exec(plain, "DROP SEQUENCE reset_victim") >= 0);
    weft_pg_free(plain);
}

WEFT_TEST(test_sql_prepare_under_weft_names)
{
    sql_prepare_attack(0); /* the reset still in flight at the query */
    sql_prepare_attack(1); /* the reset read at acquire, its fixup not run */
    return 0;
}

int main(int argc, char **argv)
{
    dsn = pg_env_dsn();
    static const weft_test_case cases[] = {
        {"first_operation_of_each_kind", test_first_operation_of_each_kind},
        {"in_flight_edges", test_in_flight_edges},
        {"sql_prepare_under_weft_names", test_sql_prepare_under_weft_names},
    };
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
