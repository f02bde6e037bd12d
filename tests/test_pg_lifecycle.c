/* Server messages, listeners, limits, transaction modes and the pool's
 * lifecycle (hooks, max_queries, idle lifetime, expire_connections,
 * statistics), against a real server (tests/pg_env.h). */
#include <weft.h>
#include <weft/pg.h>
#include <errno.h>
#include <stdint.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include "pg_env.h"

static const char *dsn;

typedef struct logbuf { char text[512]; int n; } logbuf;

static void on_log(weft_pg *c, const char *sev, const char *st, const char *msg, void *arg)
{
    (void)c;
    logbuf *b = arg;
    b->n++;
    size_t l = strlen(b->text);
    snprintf(b->text + l, sizeof b->text - l, "%s:%s:%s|", sev, st, msg);
}

static int terminated;
static void on_term(weft_pg *c, void *arg) { (void)c; (*(int *)arg)++; }

typedef struct qlog { int n; int64_t rows; int rc; double secs; char sql[64]; } qlog;
static void on_query(weft_pg *c, const char *sql, double s, int64_t rows, int rc, void *arg)
{
    (void)c;
    qlog *q = arg;
    q->n++;
    q->rows = rows;
    q->rc = rc;
    q->secs = s;
    snprintf(q->sql, sizeof q->sql, "%s", sql);
}

WEFT_TEST(test_listeners)
{
    weft_pg *c = pg_connect_ok(dsn), *killer = pg_connect_ok(dsn);
    logbuf b = {"", 0};
    weft_pg_set_log_listener(c, on_log, &b);
    CHECK_EQ(weft_pg_exec(c, "DO $$BEGIN RAISE NOTICE 'one'; RAISE WARNING 'two';"
                             " RAISE NOTICE 'three' USING ERRCODE = '01234'; END$$"), 0);
    CHECK_EQ(b.n, 3);
    WEFT_TEST_CHECK(!strcmp(b.text, "NOTICE:00000:one|WARNING:01000:two|NOTICE:01234:three|"));
    b.text[0] = 0;
    CHECK_EQ(weft_pg_query(c, "DROP TABLE IF EXISTS no_such_table_here", NULL, NULL), 0);
    WEFT_TEST_CHECK(strstr(b.text, "does not exist, skipping") != NULL);
    weft_pg_set_log_listener(c, NULL, NULL);
    CHECK_EQ(weft_pg_exec(c, "DO $$BEGIN RAISE NOTICE 'unheard'; END$$"), 0);
    CHECK_EQ(b.n, 4);
    /* query logger */
    qlog q = {0};
    weft_pg_set_query_logger(c, on_query, &q);
    CHECK_EQ(weft_pg_query(c, "SELECT generate_series(1, 3)", NULL, NULL), 3);
    WEFT_TEST_CHECK(q.n == 1 && q.rows == 3 && q.rc == 0 && q.secs >= 0 &&
                    !strcmp(q.sql, "SELECT generate_series(1, 3)"));
    CHECK_EQ(weft_pg_exec(c, "SELEC"), -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(q.n == 2 && q.rc == -WEFT_PG_ESERVER);
    weft_pg_set_query_logger(c, NULL, NULL);
    /* command timeout: the statement is cancelled, the connection stays */
    weft_pg_set_command_timeout(c, 0.3);
    double t0 = weft_now();
    CHECK_EQ(weft_pg_query(c, "SELECT pg_sleep(5)", NULL, NULL), -ETIMEDOUT);
    WEFT_TEST_CHECK(weft_now() - t0 < 3);
    CHECK_EQ(weft_pg_exec(c, "SELECT pg_sleep(5)"), -ETIMEDOUT);
    weft_pg_set_command_timeout(c, 0);
    CHECK_EQ(weft_pg_query(c, "SELECT pg_sleep(0.4)", NULL, NULL), 1);
    /* termination listener */
    weft_pg_set_termination_listener(c, on_term, &terminated);
    weft_pg_params *p = weft_pg_params_new();
    weft_pg_params_int4(p, weft_pg_backend_pid(c));
    CHECK_EQ(weft_pg_query(killer, "SELECT pg_terminate_backend($1)", p, NULL), 1);
    int rc = 0;
    for (int i = 0; i < 50 && rc >= 0; i++) {
        rc = weft_pg_query(c, "SELECT 1", NULL, NULL);
        if (rc >= 0) weft_sleep(0.05);
    }
    CHECK_EQ(rc, -WEFT_PG_EBROKEN);
    CHECK_EQ(terminated, 1);
    weft_pg_params_free(p);
    weft_pg_free(c);
    weft_pg_free(killer);
    return 0;
}

WEFT_TEST(test_statement_cache_limits)
{
    weft_pg *c = pg_connect_ok(dsn);
    CHECK_EQ(weft_pg_exec(c, "DROP TABLE IF EXISTS lc_plan; CREATE TABLE lc_plan (a int);"
                             " INSERT INTO lc_plan VALUES (1)"), 1);
    weft_pg_result *r;
    CHECK_EQ(weft_pg_query(c, "SELECT * FROM lc_plan", NULL, &r), 1);
    CHECK_EQ(weft_pg_result_ncols(r), 1);
    weft_pg_result_free(r);
    CHECK_EQ(weft_pg_exec(c, "ALTER TABLE lc_plan ADD COLUMN b text DEFAULT 'x'"), 0);
    /* the cached plan's result type changed (0A000): re-prepared, retried */
    CHECK_EQ(weft_pg_query(c, "SELECT * FROM lc_plan", NULL, &r), 1);
    CHECK_EQ(weft_pg_result_ncols(r), 2);
    WEFT_TEST_CHECK(!strcmp(weft_pg_get_text(r, 0, 1), "x"));
    weft_pg_result_free(r);
    /* inside a transaction the error aborts it: reported, not retried */
    CHECK_EQ(weft_pg_exec(c, "ALTER TABLE lc_plan ADD COLUMN c int"), 0);
    CHECK_EQ(weft_pg_begin(c), 1);
    int rc = weft_pg_query(c, "SELECT * FROM lc_plan", NULL, NULL);
    WEFT_TEST_CHECK(rc == -WEFT_PG_ESERVER && !strcmp(weft_pg_sqlstate(c), "0A000"));
    CHECK_EQ(weft_pg_rollback(c), 0);
    /* cache size: 2 entries at most */
    CHECK_EQ(weft_pg_set_stmt_cache_size(c, 2), 0);
    int64_t n;
    for (int i = 0; i < 5; i++) {
        char sql[64];
        snprintf(sql, sizeof sql, "SELECT %d", i);
        CHECK_EQ(weft_pg_query(c, sql, NULL, NULL), 1);
    }
    CHECK_EQ(weft_pg_fetch_bigint(c, "SELECT count(*) FROM pg_prepared_statements", NULL, &n), 0);
    WEFT_TEST_CHECK(n <= 2);
    CHECK_EQ(weft_pg_set_stmt_cache_size(c, 0), 0);
    CHECK_EQ(weft_pg_fetch_bigint(c, "SELECT count(*) FROM pg_prepared_statements", NULL, &n), 0);
    CHECK_EQ(n, 0);
    CHECK_EQ(weft_pg_exec(c, "DROP TABLE lc_plan"), 0);
    weft_pg_free(c);
    return 0;
}

WEFT_TEST(test_transaction_modes)
{
    weft_pg *a = pg_connect_ok(dsn), *b = pg_connect_ok(dsn);
    CHECK_EQ(weft_pg_exec(a, "DROP TABLE IF EXISTS lc_iso; CREATE TABLE lc_iso (v int);"
                             " INSERT INTO lc_iso VALUES (1)"), 1);
    char *s;
    CHECK_EQ(weft_pg_begin_opts(a, WEFT_PG_ISO_REPEATABLE_READ, 0, 0), 1);
    CHECK_EQ(weft_pg_fetch_text(a, "SHOW transaction_isolation", NULL, &s), 0);
    WEFT_TEST_CHECK(!strcmp(s, "repeatable read"));
    free(s);
    int64_t v;
    CHECK_EQ(weft_pg_fetch_bigint(a, "SELECT sum(v) FROM lc_iso", NULL, &v), 0);
    CHECK_EQ(v, 1);
    CHECK_EQ(weft_pg_exec(b, "INSERT INTO lc_iso VALUES (10)"), 1); /* the second session */
    CHECK_EQ(weft_pg_fetch_bigint(a, "SELECT sum(v) FROM lc_iso", NULL, &v), 0);
    CHECK_EQ(v, 1); /* a snapshot: b's commit is not seen */
    CHECK_EQ(weft_pg_begin_opts(a, 0, 0, 0), -WEFT_PG_ESTATE); /* no modes for a savepoint */
    CHECK_EQ(weft_pg_commit(a), 0);
    CHECK_EQ(weft_pg_begin_opts(a, WEFT_PG_ISO_READ_COMMITTED, 0, 0), 1);
    CHECK_EQ(weft_pg_fetch_bigint(a, "SELECT sum(v) FROM lc_iso", NULL, &v), 0);
    CHECK_EQ(weft_pg_exec(b, "INSERT INTO lc_iso VALUES (100)"), 1);
    CHECK_EQ(weft_pg_fetch_bigint(a, "SELECT sum(v) FROM lc_iso", NULL, &v), 0);
    CHECK_EQ(v, 111); /* read committed sees it */
    CHECK_EQ(weft_pg_commit(a), 0);
    CHECK_EQ(weft_pg_begin_opts(a, WEFT_PG_ISO_SERIALIZABLE, 1, 1), 1);
    CHECK_EQ(weft_pg_fetch_text(a, "SHOW transaction_read_only", NULL, &s), 0);
    WEFT_TEST_CHECK(!strcmp(s, "on"));
    free(s);
    CHECK_EQ(weft_pg_fetch_text(a, "SHOW transaction_deferrable", NULL, &s), 0);
    WEFT_TEST_CHECK(!strcmp(s, "on"));
    free(s);
    CHECK_EQ(weft_pg_exec(a, "INSERT INTO lc_iso VALUES (5)"), -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(!strcmp(weft_pg_sqlstate(a), "25006"));
    CHECK_EQ(weft_pg_rollback(a), 0);
    CHECK_EQ(weft_pg_begin_opts(a, 9, 0, 0), -EINVAL);
    CHECK_EQ(weft_pg_exec(a, "DROP TABLE lc_iso"), 0);
    weft_pg_free(a);
    weft_pg_free(b);
    return 0;
}

typedef struct hooks { int init, setup, reset; int fail_setup; } hooks;
static int h_init(weft_pg *c, void *arg)
{
    ((hooks *)arg)->init++;
    return weft_pg_exec(c, "SET application_name = 'lc_init'");
}
static int h_setup(weft_pg *c, void *arg)
{
    (void)c;
    hooks *h = arg;
    h->setup++;
    return h->fail_setup ? -EPERM : 0;
}
static int h_reset(weft_pg *c, void *arg)
{
    ((hooks *)arg)->reset++;
    return weft_pg_exec(c, "RESET ALL; UNLISTEN *");
}

WEFT_TEST(test_pool_hooks_and_limits)
{
    hooks h = {0};
    weft_pg_pool_opts o = {.min_size = 1, .max_size = 1, .init = h_init, .setup = h_setup,
                           .reset = h_reset, .hook_arg = &h, .max_queries = 3,
                           .command_timeout = 0.3, .stmt_cache_size = 4};
    weft_pg_pool *p;
    CHECK_EQ(weft_pg_pool_new(dsn, &o, &p), 0);
    CHECK_EQ(h.init, 1);
    weft_pg *c;
    CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
    CHECK_EQ(h.setup, 1);
    char *s;
    CHECK_EQ(weft_pg_fetch_text(c, "SHOW application_name", NULL, &s), 0); /* query 1 */
    WEFT_TEST_CHECK(!strcmp(s, "lc_init"));
    free(s);
    CHECK_EQ(weft_pg_query(c, "SELECT pg_sleep(3)", NULL, NULL), -ETIMEDOUT); /* the pool's timeout; 2 */
    int pid = weft_pg_backend_pid(c);
    weft_pg_pool_release(p, c);
    CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
    CHECK_EQ(h.reset, 1); /* the user's reset replaced weft's */
    CHECK_EQ(weft_pg_backend_pid(c), pid);
    CHECK_EQ(weft_pg_query(c, "SELECT 1", NULL, NULL), 1); /* 3 (the reset's exec counts too) */
    weft_pg_pool_release(p, c); /* max_queries reached: closed */
    weft_pg_pool_stats st;
    weft_pg_pool_stats_get(p, &st);
    CHECK_EQ(st.size, 0);
    CHECK_EQ(st.closed, 1);
    CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
    WEFT_TEST_CHECK(weft_pg_backend_pid(c) != pid);
    CHECK_EQ(h.init, 2);
    weft_pg_pool_stats_get(p, &st);
    WEFT_TEST_CHECK(st.size == 1 && st.in_use == 1 && st.idle == 0 && st.waiting == 0 &&
                    st.acquired == 3 && st.opened == 2);
    weft_pg_pool_release(p, c);
    /* a failing setup: the acquire fails, the connection goes back */
    h.fail_setup = 1;
    CHECK_EQ(weft_pg_pool_acquire(p, &c), -EPERM);
    weft_pg_pool_stats_get(p, &st);
    WEFT_TEST_CHECK(st.size == 1 && st.idle == 1 && st.in_use == 0);
    weft_pg_pool_free(p);

    /* idle lifetime */
    weft_pg_pool_opts o2 = {.min_size = 1, .max_size = 2, .max_inactive_s = 0.2};
    CHECK_EQ(weft_pg_pool_new(dsn, &o2, &p), 0);
    CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
    pid = weft_pg_backend_pid(c);
    weft_pg_pool_release(p, c);
    weft_sleep(0.5);
    CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
    WEFT_TEST_CHECK(weft_pg_backend_pid(c) != pid);
    weft_pg_pool_stats_get(p, &st);
    CHECK_EQ(st.closed, 1);
    weft_pg_pool_release(p, c);
    weft_pg_pool_free(p);
    return 0;
}

typedef struct load { weft_pg_pool *p; int fails, done; double until; } load;
static int load_task(void *arg)
{
    load *l = arg;
    while (weft_now() < l->until) {
        weft_pg_error err;
        int rc = weft_pg_pool_query_with(l->p, "SELECT pg_sleep(0.01)", NULL, 0, NULL, &err);
        if (rc < 0) {
            fprintf(stderr, "load: %s %s\n", weft_strerror(rc), err.message);
            l->fails++;
        }
        l->done++;
    }
    return 0;
}

WEFT_TEST(test_pool_expire_under_load)
{
    weft_pg_pool_opts o = {.min_size = 2, .max_size = 4};
    weft_pg_pool *p;
    CHECK_EQ(weft_pg_pool_new(dsn, &o, &p), 0);
    load l = {p, 0, 0, weft_now() + 1.5};
    weft_task *t[6];
    for (int i = 0; i < 6; i++) WEFT_TEST_CHECK((t[i] = weft_spawn(load_task, &l)) != NULL);
    weft_pg_pool_stats st;
    for (int k = 0; k < 5; k++) {
        weft_sleep(0.2);
        weft_pg_pool_stats_get(p, &st);
        int64_t opened = st.opened;
        weft_pg_pool_expire_connections(p);
        if (k == 4) WEFT_TEST_CHECK(opened >= 4);
    }
    for (int i = 0; i < 6; i++) CHECK_EQ(weft_await(t[i]), 0);
    CHECK_EQ(l.fails, 0);
    WEFT_TEST_CHECK(l.done > 20);
    weft_pg_pool_stats_get(p, &st);
    WEFT_TEST_CHECK(st.opened >= 8); /* each expiry replaced the connections */
    WEFT_TEST_CHECK(st.waiting == 0 && st.in_use == 0);
    weft_pg_pool_free(p);
    return 0;
}

typedef struct nwait { weft_pg *c; weft_pg_notify *n; } nwait;
static int wait_notify(void *arg)
{
    nwait *w = arg;
    return weft_pg_notify_wait(w->c, NULL, &w->n);
}

WEFT_TEST(test_pool_notifications_stay_with_holder)
{
    weft_pg_pool_opts o = {.min_size = 1, .max_size = 1};
    weft_pg_pool *p;
    CHECK_EQ(weft_pg_pool_new(dsn, &o, &p), 0);
    weft_pg *c, *other = pg_connect_ok(dsn);
    CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
    CHECK_EQ(weft_pg_listen(c, "lc_chan"), 0);
    CHECK_EQ(weft_pg_exec(other, "NOTIFY lc_chan, 'first'"), 0);
    /* read by a query of the holder's: queued on c, never waited for */
    weft_sleep(0.2);
    CHECK_EQ(weft_pg_query(c, "SELECT 1", NULL, NULL), 1);
    CHECK_EQ(weft_pg_exec(other, "NOTIFY lc_chan, 'second'"), 0); /* still on the socket */
    weft_sleep(0.2);
    weft_pg_pool_release(p, c);
    CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
    /* the next holder sees none of them */
    nwait w = {c, NULL};
    CHECK_EQ(weft_timeout(0.5, wait_notify, &w), -ETIMEDOUT);
    WEFT_TEST_CHECK(w.n == NULL);
    weft_pg_pool_release(p, c);
    weft_pg_free(other);
    weft_pg_pool_free(p);
    return 0;
}

int main(int argc, char **argv)
{
    dsn = pg_env_dsn();
    static const weft_test_case cases[] = {
        {"listeners", test_listeners},
        {"statement_cache_limits", test_statement_cache_limits},
        {"transaction_modes", test_transaction_modes},
        {"pool_hooks_and_limits", test_pool_hooks_and_limits},
        {"pool_expire_under_load", test_pool_expire_under_load},
        {"pool_notifications_stay_with_holder", test_pool_notifications_stay_with_holder},
    };
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
