/* PostgreSQL: weft_pg_query calls from several tasks on one connection are
 * pipelined. Each task gets its own result in order, an error fails only
 * its own query, and a task cancelled before or after its statement was
 * sent leaves the connection usable (its replies are read and dropped). */
#include <weft.h>
#include <weft/pg.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include "pg_env.h"

static const char *dsn;

static int64_t scalar(weft_pg *c, const char *sql)
{
    weft_pg_result *r = NULL;
    int rc = weft_pg_query(c, sql, NULL, &r);
    if (rc != 1) fprintf(stderr, "%s: %s %s\n", sql, weft_strerror(rc), weft_pg_errmsg(c));
    CHECK_EQ(rc, 1);
    int64_t v;
    CHECK_EQ(weft_pg_get_bigint(r, 0, 0, &v), 0);
    weft_pg_result_free(r);
    return v;
}

/* One query on a shared connection; what it got. */
typedef struct job {
    weft_pg *c;
    const char *sql;
    const char *param; /* $1 as text, or NULL for no parameter */
    int rc;
    int64_t v;
    char sqlstate[6];
} job;

static int run_job(void *arg)
{
    job *j = arg;
    weft_pg_params *p = NULL;
    if (j->param) {
        p = weft_pg_params_new();
        weft_pg_params_text(p, j->param);
    }
    weft_pg_result *r = NULL;
    j->rc = weft_pg_query(j->c, j->sql, p, &r);
    /* read at once: the connection's error state is the last query's */
    snprintf(j->sqlstate, sizeof j->sqlstate, "%s", weft_pg_sqlstate(j->c));
    if (j->rc == 1 && weft_pg_get_bigint(r, 0, 0, &j->v) < 0) j->v = -1;
    weft_pg_result_free(r);
    weft_pg_params_free(p);
    return 0;
}

static weft_task *start(job *j) { return weft_spawn(run_job, j); }

/* start, then give it s seconds (to be first in line, or to get going) */
static weft_task *start_wait(job *j, double s)
{
    weft_task *t = start(j);
    weft_sleep(s);
    return t;
}

/* Awaits t and checks what its job got: rc, and v when a row came back. */
static void expect(weft_task *t, job *j, int rc, int64_t v)
{
    CHECK_EQ(weft_await(t), 0);
    CHECK_EQ(j->rc, rc);
    if (rc == 1) CHECK_EQ(j->v, v);
}

static int run_many(void *arg)
{
    job *j = arg;
    weft_pg_params *p = weft_pg_params_new();
    for (int i = 0; i < 70000; i++) weft_pg_params_bigint(p, i);
    j->rc = weft_pg_query(j->c, j->sql, p, NULL);
    weft_pg_params_free(p);
    return 0;
}

/* 1 if c's backend is running a statement now (seen from watcher w). */
static int64_t busy_on_server(weft_pg *w, weft_pg *c)
{
    weft_pg_params *p = weft_pg_params_new();
    weft_pg_params_bigint(p, weft_pg_backend_pid(c));
    weft_pg_result *r = NULL;
    CHECK_EQ(weft_pg_query(w, "SELECT count(*) FROM pg_stat_activity"
                              " WHERE pid = $1 AND state = 'active'", p, &r), 1);
    int64_t v;
    CHECK_EQ(weft_pg_get_bigint(r, 0, 0, &v), 0);
    weft_pg_result_free(r);
    weft_pg_params_free(p);
    return v;
}

WEFT_TEST(test_each_gets_its_own)
{
    weft_pg *c = pg_connect_ok(dsn);
    enum { N = 40 };
    job j[N];
    weft_task *t[N];
    char params[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(params[i], sizeof params[i], "%d", i * 7);
        /* a few texts, so new statements are prepared mid-pipeline */
        static const char *const sqls[] = {"SELECT $1::int + 0", "SELECT $1::bigint * 1",
                                           "SELECT length($1::text) * 0 + $1::int"};
        j[i] = (job){c, sqls[i % 3], params[i], 0, 0, ""};
        t[i] = start(&j[i]);
    }
    /* round 0: statements new (the first goes pipelined with its Parse);
     * round 1: prepared (the first goes alone, the others pipelined after) */
    for (int round = 0; round < 2; round++) {
        if (round)
            for (int i = 0; i < N; i++) t[i] = start(&j[i]);
        CHECK_EQ(weft_gather(t, N, NULL), 0);
        for (int i = 0; i < N; i++) {
            CHECK_EQ(j[i].rc, 1);
            CHECK_EQ(j[i].v, i * 7);
        }
    }
    CHECK_EQ(scalar(c, "SELECT 5"), 5);
    weft_pg_free(c);
    return 0;
}

WEFT_TEST(test_error_fails_only_its_own)
{
    weft_pg *c = pg_connect_ok(dsn);
    job j[6] = {
        {c, "SELECT 1", NULL, 0, 0, ""},
        {c, "SELECT 1/0", NULL, 0, 0, ""},
        {c, "SELECT $1::int", "not a number", 0, 0, ""},
        {c, "SELECT * FROM no_such_table_ap", NULL, 0, 0, ""},
        {c, "SELECT * FROM no_such_table_ap", NULL, 0, 0, ""}, /* its Parse in flight */
        {c, "SELECT 6", NULL, 0, 0, ""},
    };
    weft_task *t[7];
    for (int i = 0; i < 6; i++) t[i] = start(&j[i]);
    /* one that libpq refuses to send (too many parameters): -EINVAL, and
     * nothing of it reaches the pipeline */
    job big = {c, "SELECT $1::int", NULL, 0, 0, ""};
    t[6] = weft_spawn(run_many, &big);
    weft_yield(); /* the first starts a pipeline, the others join it */
    /* another kind of operation meanwhile: it gets its turn */
    CHECK_EQ(weft_pg_exec(c, "SELECT 1; SELECT 2"), 1);
    CHECK_EQ(weft_gather(t, 7, NULL), 0);
    CHECK_EQ(big.rc, -EINVAL);
    CHECK_EQ(j[0].rc, 1);
    CHECK_EQ(j[0].v, 1);
    CHECK_EQ(j[1].rc, -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(!strcmp(j[1].sqlstate, "22012"));
    CHECK_EQ(j[2].rc, -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(!strcmp(j[2].sqlstate, "22P02"));
    CHECK_EQ(j[3].rc, -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(!strcmp(j[3].sqlstate, "42P01"));
    CHECK_EQ(j[4].rc, -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(!strcmp(j[4].sqlstate, "42P01")); /* not "no such prepared statement" */
    CHECK_EQ(j[5].rc, 1);
    CHECK_EQ(j[5].v, 6);
    /* the failed statement was not cached: it works once the table exists */
    CHECK_EQ(weft_pg_exec(c, "CREATE TEMP TABLE no_such_table_ap AS SELECT 9 AS x"), 1);
    CHECK_EQ(scalar(c, "SELECT * FROM no_such_table_ap"), 9);
    weft_pg_free(c);
    return 0;
}

WEFT_TEST(test_cancel_before_sent)
{
    weft_pg *c = pg_connect_ok(dsn);
    job a = {c, "SELECT 1 FROM pg_sleep(0.3)", NULL, 0, 0, ""};
    job b = {c, "SELECT 2", NULL, 0, 0, ""};
    job d = {c, "SELECT 3", NULL, 0, 0, ""};
    weft_task *ta = start_wait(&a, 0.05);
    weft_task *tb = start(&b), *td = start(&d);
    weft_sleep(0.05);
    weft_cancel(tb); /* queued, not sent yet: it just leaves */
    expect(tb, &b, -ECANCELED, 0);
    expect(ta, &a, 1, 1);
    expect(td, &d, 1, 3);
    CHECK_EQ(scalar(c, "SELECT 4"), 4);
    weft_pg_free(c);
    return 0;
}

WEFT_TEST(test_cancel_reader_with_followers)
{
    weft_pg *c = pg_connect_ok(dsn);
    weft_pg *w = pg_connect_ok(dsn);
    /* the reader (first in line) cancelled mid-query: the next task reads
     * and drops its replies, then gets its own */
    /* 1 s: still running when cancelled 0.1 s later, even on a stalled machine */
    job a = {c, "SELECT 1 FROM pg_sleep(1)", NULL, 0, 0, ""};
    job b = {c, "SELECT 7", NULL, 0, 0, ""};
    weft_task *ta = start_wait(&a, 0.05);
    weft_task *tb = start_wait(&b, 0.05);
    weft_cancel(ta);
    expect(ta, &a, -ECANCELED, 0);
    expect(tb, &b, 1, 7);
    /* the same with a prepared statement (sent alone, not pipelined): the
     * next task has sent nothing yet, so it stops it on the server first */
    job p0 = {c, "SELECT 1 FROM pg_sleep($1::float8)", "0", 0, 0, ""};
    CHECK_EQ(run_job(&p0), 0);
    CHECK_EQ(p0.rc, 1);
    job p1 = {c, "SELECT 1 FROM pg_sleep($1::float8)", "30", 0, 0, ""};
    job p2 = {c, "SELECT $1::int", "8", 0, 0, ""};
    weft_task *tp1 = start_wait(&p1, 0.05);
    weft_task *tp2 = start_wait(&p2, 0.2);
    double t0 = weft_now();
    weft_cancel(tp1);
    expect(tp1, &p1, -ECANCELED, 0);
    expect(tp2, &p2, 1, 8);
    WEFT_TEST_CHECK(weft_now() - t0 < 10); /* not the 30 s */
    /* cancelled at once, its cancel may reach the server before the
     * statement does (and be ignored): cancelled again until it stops */
    for (int i = 0; i < 3; i++) {
        tp1 = start_wait(&p1, 0);
        tp2 = start_wait(&p2, 0);
        t0 = weft_now();
        weft_cancel(tp1);
        expect(tp1, &p1, -ECANCELED, 0);
        expect(tp2, &p2, 1, 8);
        WEFT_TEST_CHECK(weft_now() - t0 < 10);
    }
    /* a follower cancelled after its statement was sent, with another
     * behind it: that one still gets its own answer */
    job d = {c, "SELECT 1 FROM pg_sleep(0.2)", NULL, 0, 0, ""};
    job e = {c, "SELECT 2 FROM pg_sleep(1)", NULL, 0, 0, ""}; /* runs at the cancel */
    job f = {c, "SELECT 42", NULL, 0, 0, ""};
    weft_task *td = start_wait(&d, 0.05);
    weft_task *te = start(&e), *tf = start(&f);
    weft_sleep(0.3); /* d done: e and f were sent when d's reply came */
    weft_cancel(te);
    expect(te, &e, -ECANCELED, 0);
    expect(td, &d, 1, 1);
    expect(tf, &f, 1, 42);
    CHECK_EQ(scalar(c, "SELECT 8"), 8);
    WEFT_TEST_CHECK(weft_pg_ok(c));
    CHECK_EQ(busy_on_server(w, c), 0);
    weft_pg_free(w);
    weft_pg_free(c);
    return 0;
}

WEFT_TEST(test_cancel_last_one_cancels_on_server)
{
    weft_pg *c = pg_connect_ok(dsn);
    weft_pg *w = pg_connect_ok(dsn);
    /* nobody behind it: the statement is cancelled on the server */
    job a = {c, "SELECT 1 FROM pg_sleep(0.2)", NULL, 0, 0, ""};
    job b = {c, "SELECT 2 FROM pg_sleep(30)", NULL, 0, 0, ""};
    weft_task *ta = start_wait(&a, 0.05);
    weft_task *tb = start(&b);
    expect(ta, &a, 1, 1);
    /* b is running on the server (polled: a loaded server starts it late) */
    for (int i = 0; i < 100 && busy_on_server(w, c) != 1; i++) weft_sleep(0.05);
    CHECK_EQ(busy_on_server(w, c), 1);
    double t0 = weft_now();
    weft_cancel(tb);
    expect(tb, &b, -ECANCELED, 0);
    CHECK_EQ(scalar(c, "SELECT 3"), 3); /* waits for the drain, not 30 s */
    WEFT_TEST_CHECK(weft_now() - t0 < 10);
    CHECK_EQ(busy_on_server(w, c), 0);
    /* and under a deadline: the same path */
    job d = {c, "SELECT 1 FROM pg_sleep(30)", NULL, 0, 0, ""};
    t0 = weft_now();
    CHECK_EQ(weft_timeout(0.2, run_job, &d), 0);
    CHECK_EQ(d.rc, -ETIMEDOUT);
    CHECK_EQ(scalar(c, "SELECT 4"), 4);
    WEFT_TEST_CHECK(weft_now() - t0 < 10);
    weft_pg_free(w);
    weft_pg_free(c);
    return 0;
}

WEFT_TEST(test_link_lost_fails_all)
{
    weft_pg *c = pg_connect_ok(dsn);
    weft_pg *w = pg_connect_ok(dsn);
    /* the backend is killed while one query runs and others wait behind
     * it: every task gets a clear error, none hangs */
    job j[5];
    weft_task *t[5];
    for (int i = 0; i < 5; i++) {
        j[i] = (job){c, i ? "SELECT $1::int" : "SELECT 1 FROM pg_sleep(5)", "3", 0, 0, ""};
        if (!i) j[i].param = NULL;
        t[i] = start(&j[i]);
    }
    weft_sleep(0.2);
    weft_pg_params *p = weft_pg_params_new();
    weft_pg_params_bigint(p, weft_pg_backend_pid(c));
    CHECK_EQ(weft_pg_query(w, "SELECT pg_terminate_backend($1)", p, NULL), 1);
    weft_pg_params_free(p);
    double t0 = weft_now();
    CHECK_EQ(weft_gather(t, 5, NULL), 0);
    WEFT_TEST_CHECK(weft_now() - t0 < 4); /* not the 5 s of the sleep */
    for (int i = 0; i < 5; i++)
        WEFT_TEST_CHECK(j[i].rc == -WEFT_PG_EBROKEN || j[i].rc == -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(!weft_pg_ok(c));
    CHECK_EQ(weft_pg_query(c, "SELECT 1", NULL, NULL), -WEFT_PG_EBROKEN);
    weft_pg_free(w);
    weft_pg_free(c);
    return 0;
}

int main(int argc, char **argv)
{
    dsn = pg_env_dsn();
    static const weft_test_case cases[] = {
        {"each_gets_its_own", test_each_gets_its_own},
        {"error_fails_only_its_own", test_error_fails_only_its_own},
        {"cancel_before_sent", test_cancel_before_sent},
        {"cancel_reader_with_followers", test_cancel_reader_with_followers},
        {"cancel_last_one_cancels_on_server", test_cancel_last_one_cancels_on_server},
        {"link_lost_fails_all", test_link_lost_fails_all},
    };
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
