/* PostgreSQL pool: bounds, acquire deadline, release on every path
 * (cancellation included), reset of dirty connections, replacement of lost
 * ones, and healing after a server restart. */
#include <weft.h>
#include <weft/pg.h>
#include <errno.h>
#include <stdint.h>
#include "capture.h"
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include "pg_env.h"

static const char *dsn;

static int64_t pscalar(weft_pg_pool *p, const char *sql)
{
    weft_pg_result *r = NULL;
    int rc = weft_pg_pool_query(p, sql, NULL, 0, &r);
    if (rc < 0) fprintf(stderr, "%s: %s\n", sql, weft_strerror(rc));
    CHECK_EQ(rc, 1);
    int64_t v;
    CHECK_EQ(weft_pg_get_bigint(r, 0, 0, &v), 0);
    weft_pg_result_free(r);
    return v;
}

typedef struct par { weft_pg_pool *p; int max_seen, *active; } par;

static int one_query(weft_pg *c, void *arg)
{
    par *x = arg;
    (*x->active)++;
    if (*x->active > x->max_seen) x->max_seen = *x->active;
    int rc = weft_pg_query(c, "SELECT pg_sleep(0.1)", NULL, NULL);
    (*x->active)--;
    return rc;
}

static int worker(void *arg)
{
    par *x = arg;
    for (int i = 0; i < 3; i++) {
        int rc = weft_pg_pool_run(x->p, one_query, x);
        if (rc < 0) return rc;
    }
    return 0;
}

WEFT_TEST(test_bounds_and_parallel)
{
    weft_pg_pool *p;
    weft_pg_pool_opts o = {.min_size = 2, .max_size = 4};
    CHECK_EQ(weft_pg_pool_new(dsn, &o, &p), 0);
    CHECK_EQ(weft_pg_pool_size(p), 2);
    CHECK_EQ(weft_pg_pool_idle(p), 2);
    int active = 0;
    par x[12];
    weft_task *t[12];
    for (int i = 0; i < 12; i++) {
        x[i] = (par){p, 0, &active};
        t[i] = weft_spawn(worker, &x[i]);
    }
    double t0 = weft_now();
    CHECK_EQ(weft_gather(t, 12, NULL), 0);
    int max_seen = 0;
    for (int i = 0; i < 12; i++) max_seen = x[i].max_seen > max_seen ? x[i].max_seen : max_seen;
    CHECK_EQ(max_seen, 4);          /* ran in parallel, never above max */
    CHECK_EQ(weft_pg_pool_size(p), 4);
    CHECK_EQ(weft_pg_pool_idle(p), 4);
    WEFT_TEST_CHECK(weft_now() - t0 < 36 * 0.1); /* faster than one by one (0.9 s ideal) */
    weft_pg_pool_free(p);
    CHECK_EQ(weft_pg_pool_new("host=127.0.0.1 port=1 user=x", &o, &p), -WEFT_PG_ECONNECT);
    o.min_size = 5;
    CHECK_EQ(weft_pg_pool_new(dsn, &o, &p), -EINVAL);
    return 0;
}

static int acquire_one(void *arg)
{
    weft_pg *c;
    int rc = weft_pg_pool_acquire(arg, &c);
    if (rc == 0) weft_pg_pool_release(arg, c);
    return rc;
}

static int hold_slow(weft_pg *c, void *arg)
{
    return weft_pg_query(c, "SELECT pg_sleep(30)", NULL, NULL);
}

static int run_slow(void *arg) { return weft_pg_pool_run(arg, hold_slow, NULL); }

WEFT_TEST(test_acquire_deadline_and_cancel)
{
    weft_pg_pool *p;
    weft_pg_pool_opts o = {.min_size = 1, .max_size = 1, .acquire_timeout = 0.1};
    CHECK_EQ(weft_pg_pool_new(dsn, &o, &p), 0);
    weft_pg *c;
    CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
    double t0 = weft_now();
    CHECK_EQ(acquire_one(p), -ETIMEDOUT);
    CHECK_NEAR(weft_now() - t0, 1.0, 1.0); /* 0.1 s; loaded CI machines stall */
    /* a waiter cancelled: nothing leaks */
    weft_task *w = weft_spawn(acquire_one, p);
    weft_yield(); /* w runs until it waits; not a sleep: a stall past the 0.1 s
                     acquire_timeout would end its wait with -ETIMEDOUT first */
    WEFT_TEST_CHECK(!weft_done(w));
    weft_cancel(w);
    CHECK_EQ(weft_await(w), -ECANCELED);
    weft_pg_pool_release(p, c);
    CHECK_EQ(acquire_one(p), 0);
    weft_pg_pool_free(p);
    /* a holder cancelled mid-query: released, cancelled on the server,
     * and the connection comes back clean. A pool with the default acquire
     * timeout: the next acquire waits for that drain, which a loaded machine
     * did not finish within 0.1 s. */
    o.acquire_timeout = 0;
    CHECK_EQ(weft_pg_pool_new(dsn, &o, &p), 0);
    weft_task *h = weft_spawn(run_slow, p);
    weft_sleep(0.1);
    CHECK_EQ(weft_pg_pool_idle(p), 0);
    weft_cancel(h);
    CHECK_EQ(weft_await(h), -ECANCELED);
    CHECK_EQ(weft_pg_pool_idle(p), 1);
    t0 = weft_now();
    CHECK_EQ(pscalar(p, "SELECT 21"), 21);
    WEFT_TEST_CHECK(weft_now() - t0 < 5);
    CHECK_EQ(weft_pg_pool_size(p), 1);
    weft_pg_pool_free(p);
    return 0;
}

WEFT_TEST(test_reset_on_release)
{
    weft_pg_pool *p;
    weft_pg_pool_opts o = {.min_size = 1, .max_size = 1};
    CHECK_EQ(weft_pg_pool_new(dsn, &o, &p), 0);
    weft_pg *c;
    CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
    CHECK_EQ(weft_pg_begin(c), 1);
    CHECK_EQ(weft_pg_exec(c, "SET LOCAL statement_timeout = 1234"), 0);
    CHECK_EQ(weft_pg_exec(c, "SET application_name = 'dirty'"), 0);
    CHECK_EQ(weft_pg_listen(c, "chan"), 0);
    int pid = weft_pg_backend_pid(c);
    weft_pg_pool_release(p, c); /* mid-transaction, listening */
    CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
    CHECK_EQ(weft_pg_backend_pid(c), pid); /* same connection, reset */
    WEFT_TEST_CHECK(!weft_pg_in_transaction(c));
    weft_pg_result *r;
    CHECK_EQ(weft_pg_query(c, "SELECT current_setting('application_name'),"
                              " (SELECT count(*) FROM pg_listening_channels())",
                           NULL, &r), 1);
    WEFT_TEST_CHECK(!strcmp(weft_pg_get_text(r, 0, 0), ""));
    WEFT_TEST_CHECK(!strcmp(weft_pg_get_text(r, 0, 1), "0"));
    weft_pg_result_free(r);
    weft_pg_pool_release(p, c);
    weft_pg_pool_free(p);
    return 0;
}

WEFT_TEST(test_lost_connection_replaced)
{
    weft_pg_pool *p;
    weft_pg_pool_opts o = {.min_size = 2, .max_size = 2};
    CHECK_EQ(weft_pg_pool_new(dsn, &o, &p), 0);
    weft_pg *a, *b;
    CHECK_EQ(weft_pg_pool_acquire(p, &a), 0);
    CHECK_EQ(weft_pg_pool_acquire(p, &b), 0);
    weft_pg_params *pp = weft_pg_params_new();
    weft_pg_params_bigint(pp, weft_pg_backend_pid(a));
    CHECK_EQ(weft_pg_query(b, "SELECT pg_terminate_backend($1)", pp, NULL), 1);
    weft_pg_params_free(pp);
    weft_sleep(0.1);
    weft_pg_pool_release(p, a); /* looks fine locally; it is not */
    weft_pg_pool_release(p, b);
    for (int i = 0; i < 4; i++) CHECK_EQ(pscalar(p, "SELECT 1"), 1);
    WEFT_TEST_CHECK(weft_pg_pool_size(p) <= 2);
    weft_pg_pool_free(p);
    return 0;
}

WEFT_TEST(test_free_wakes_waiters)
{
    weft_pg_pool *p;
    weft_pg_pool_opts o = {.min_size = 1, .max_size = 1, .acquire_timeout = 10};
    CHECK_EQ(weft_pg_pool_new(dsn, &o, &p), 0);
    weft_pg *c;
    CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
    weft_task *w[3];
    for (int i = 0; i < 3; i++) w[i] = weft_spawn(acquire_one, p);
    weft_sleep(0.05); /* all three blocked for the one permit (10 s at most) */
    double t0 = weft_now();
    weft_pg_pool_free(p);
    /* woken now, while c is still out: not at its release */
    for (int i = 0; i < 3; i++) CHECK_EQ(weft_await(w[i]), -WEFT_PG_ECLOSED);
    WEFT_TEST_CHECK(weft_now() - t0 < 5);
    weft_pg *late;
    CHECK_EQ(weft_pg_pool_acquire(p, &late), -WEFT_PG_ECLOSED);
    CHECK_EQ(weft_pg_query(c, "SELECT 1", NULL, NULL), 1); /* c itself still works */
    weft_pg_pool_release(p, c); /* the last one out frees the pool */
    return 0;
}

WEFT_TEST(test_query_error)
{
    weft_pg_pool *p;
    weft_pg_pool_opts o = {.min_size = 1, .max_size = 1};
    CHECK_EQ(weft_pg_pool_new(dsn, &o, &p), 0);
    weft_pg_error e;
    weft_pg_result *r = (weft_pg_result *)&e; /* must come back NULL */
    CHECK_EQ(weft_pg_pool_query_with(p, "SELECT * FROM no_such_table", NULL, 0, &r, &e),
             -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(r == NULL);
    WEFT_TEST_CHECK(!strcmp(e.sqlstate, "42P01"));
    WEFT_TEST_CHECK(strstr(e.message, "no_such_table") != NULL);
    weft_pg_params *pp = weft_pg_params_new();
    weft_pg_params_text(pp, "not a number");
    CHECK_EQ(weft_pg_pool_query_with(p, "SELECT $1::int", pp, 0, NULL, &e), -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(!strcmp(e.sqlstate, "22P02"));
    weft_pg_params_free(pp);
    /* success clears it; the connection went back clean */
    CHECK_EQ(weft_pg_pool_query_with(p, "SELECT 1", NULL, 0, NULL, &e), 1);
    WEFT_TEST_CHECK(!strcmp(e.sqlstate, "") && !strcmp(e.message, ""));
    CHECK_EQ(weft_pg_pool_idle(p), 1);
    /* not the server's: no SQLSTATE, weft's name for the code (and not the
     * connection's previous error, right after one) */
    CHECK_EQ(weft_pg_pool_query_with(p, "SELECT 1/0", NULL, 0, NULL, &e), -WEFT_PG_ESERVER);
    CHECK_EQ(weft_pg_pool_query_with(p, NULL, NULL, 0, NULL, &e), -EINVAL);
    WEFT_TEST_CHECK(!strcmp(e.sqlstate, "") && *e.message);
    weft_pg_pool_free(p);
    /* an acquire error is reported the same way */
    o.acquire_timeout = 0.05;
    CHECK_EQ(weft_pg_pool_new(dsn, &o, &p), 0);
    weft_pg *c;
    CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
    CHECK_EQ(weft_pg_pool_query_with(p, "SELECT 1", NULL, 0, NULL, &e), -ETIMEDOUT);
    WEFT_TEST_CHECK(!strcmp(e.sqlstate, "") && !strcmp(e.message, weft_strerror(-ETIMEDOUT)));
    weft_pg_pool_release(p, c);
    weft_pg_pool_free(p);
    return 0;
}

static pg_cluster own;
static void stop_own(void) { pg_cluster_stop(&own); }

WEFT_TEST(test_server_restart)
{
    weft_pg_pool *p;
    weft_pg_pool_opts o = {.min_size = 3, .max_size = 3};
    CHECK_EQ(weft_pg_pool_new(own.dsn, &o, &p), 0);
    weft_pg *c;
    CHECK_EQ(weft_pg_connect(own.dsn, &c, NULL), 0);
    CHECK_EQ(weft_pg_query(c, "SELECT 1", NULL, NULL), 1);
    CHECK_EQ(pscalar(p, "SELECT 2"), 2);
    CHECK_EQ(system(own.restart), 0); /* blocks the loop: nothing else runs here */
    /* a connection in hand: a clear error, then it stays failed */
    int rc = weft_pg_query(c, "SELECT 1", NULL, NULL);
    CHECK_EQ(rc, -WEFT_PG_EBROKEN);
    WEFT_TEST_CHECK(!weft_pg_ok(c));
    WEFT_TEST_CHECK(*weft_pg_errmsg(c));
    CHECK_EQ(weft_pg_query(c, "SELECT 1", NULL, NULL), -WEFT_PG_EBROKEN);
    weft_pg_free(c);
    /* the pool heals: dead idle connections are replaced */
    for (int i = 0; i < 6; i++) CHECK_EQ(pscalar(p, "SELECT 3"), 3);
    WEFT_TEST_CHECK(weft_pg_pool_size(p) <= 3);
    weft_pg_pool_free(p);
    return 0;
}

/* A pool belongs to the loop that made it: acquire (so run and query) from
 * another loop fail with -EXDEV; release, expire and free from there are
 * handed to the pool's loop, so nothing is lost. */
typedef struct xl { weft_pg_pool *p; weft_pg *c; } xl;

static int pool_from_loop1(void *arg)
{
    xl *x = arg;
    weft_pg *c = (weft_pg *)1;
    CHECK_EQ(weft_pg_pool_acquire(x->p, &c), -EXDEV);
    CHECK(c == NULL);
    weft_pg_result *r = NULL;
    CHECK_EQ(weft_pg_pool_query(x->p, "SELECT 1", NULL, 0, &r), -EXDEV);
    if (x->c) weft_pg_pool_release(x->p, x->c); /* forwarded to loop 0 */
    else weft_pg_pool_free(x->p);                /* likewise */
    return 0;
}

static int expire_from_loop1(void *arg)
{
    weft_pg_pool_expire_connections(arg); /* forwarded to loop 0 */
    return 0;
}

static int other_loop_main(void *arg)
{
    (void)arg;
    weft_pg_pool *p;
    weft_pg_pool_opts o = {.min_size = 1, .max_size = 2};
    CHECK_EQ(weft_pg_pool_new(dsn, &o, &p), 0);
    xl x = {p, NULL};
    CHECK_EQ(weft_pg_pool_acquire(p, &x.c), 0);
    CHECK_EQ(weft_pg_pool_idle(p), 0);
    CHECK_EQ(weft_call(weft_loop_at(1), pool_from_loop1, &x), 0);
    for (int i = 0; i < 1000 && weft_pg_pool_idle(p) == 0; i++) weft_sleep(0.001);
    CHECK_EQ(weft_pg_pool_idle(p), 1); /* the release ran here */
    CHECK_EQ(pscalar(p, "SELECT 5"), 5);
    /* expire from loop 1: done here, the idle connection closed */
    weft_pg_pool_stats st;
    weft_pg_pool_stats_get(p, &st);
    int64_t closed = st.closed;
    capture_begin();
    CHECK_EQ(weft_call(weft_loop_at(1), expire_from_loop1, p), 0);
    char *said = capture_end();
    CHECK(strstr(said, "weft_pg_pool_expire_connections from another loop: done on the pool's loop"));
    free(said);
    for (int i = 0; i < 1000 && st.closed == closed; i++) {
        weft_sleep(0.001);
        weft_pg_pool_stats_get(p, &st);
    }
    CHECK_EQ(st.closed, closed + 1);
    CHECK_EQ(pscalar(p, "SELECT 6"), 6); /* a new connection */
    x.c = NULL;
    CHECK_EQ(weft_call(weft_loop_at(1), pool_from_loop1, &x), 0);
    return 0; /* the posted free runs on this loop before the run ends */
}

static void test_other_loop(void)
{
    weft_options o = {.loops = 2};
    CHECK_EQ(weft_run_with(&o, other_loop_main, NULL), 0);
}

int main(int argc, char **argv)
{
    dsn = pg_env_dsn();
    int want_restart = argc < 2;
    for (int i = 1; i < argc; i++) want_restart |= !strcmp(argv[i], "server_restart");
    if (want_restart) {
        CHECK_EQ(pg_cluster_start(&own), 0);
        atexit(stop_own); /* also when a CHECK exits early */
    }
    static const weft_test_case cases[] = {
        {"bounds_and_parallel", test_bounds_and_parallel},
        {"acquire_deadline_and_cancel", test_acquire_deadline_and_cancel},
        {"reset_on_release", test_reset_on_release},
        {"lost_connection_replaced", test_lost_connection_replaced},
        {"free_wakes_waiters", test_free_wakes_waiters},
        {"query_error", test_query_error},
        {"server_restart", test_server_restart},
    };
    /* runs two loops (weft_run_with .loops = 2): not weft_test_run's */
    static const test_case plain[] = {
        {"other_loop", test_other_loop},
        {NULL, NULL},
    };
    return RUN_CASES_THEN_PLAIN(cases, plain, argc, argv);
}
