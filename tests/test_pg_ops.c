/* PostgreSQL client: transactions, row-by-row results, COPY, pipelined
 * batches, LISTEN/NOTIFY, cancellation and timeouts that reach the server,
 * one connection shared by concurrent tasks. */
#include <weft.h>
#include <weft/pg.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include "pg_env.h"

static const char *dsn;

static int64_t scalar(weft_pg *c, const char *sql)
{
    weft_pg_result *r = NULL;
    int rc = weft_pg_query(c, sql, NULL, &r);
    if (rc < 0) fprintf(stderr, "%s: %s %s\n", sql, weft_strerror(rc), weft_pg_errmsg(c));
    CHECK_EQ(rc, 1);
    int64_t v;
    CHECK_EQ(weft_pg_get_bigint(r, 0, 0, &v), 0);
    weft_pg_result_free(r);
    return v;
}

/* ---- transactions ---- */

static int insert_then_fail(weft_pg *c, void *arg)
{
    CHECK_EQ(weft_pg_query(c, "INSERT INTO t VALUES (100)", NULL, NULL), 1);
    return -EIO;
}

static int insert_ok(weft_pg *c, void *arg)
{
    CHECK_EQ(weft_pg_query(c, "INSERT INTO t VALUES (200)", NULL, NULL), 1);
    /* a nested transaction that fails: only its part is undone */
    CHECK_EQ(weft_pg_transaction(c, insert_then_fail, NULL), -EIO);
    return 7;
}

WEFT_TEST(test_transactions)
{
    weft_pg *c = pg_connect_ok(dsn);
    CHECK_EQ(weft_pg_exec(c, "CREATE TEMP TABLE t(x int)"), 0);
    CHECK_EQ(weft_pg_commit(c), -WEFT_PG_ESTATE);
    CHECK_EQ(weft_pg_rollback(c), -WEFT_PG_ESTATE);
    CHECK_EQ(weft_pg_begin(c), 1);
    WEFT_TEST_CHECK(weft_pg_in_transaction(c));
    CHECK_EQ(weft_pg_query(c, "INSERT INTO t VALUES (1)", NULL, NULL), 1);
    CHECK_EQ(weft_pg_begin(c), 2); /* savepoint */
    CHECK_EQ(weft_pg_query(c, "INSERT INTO t VALUES (2)", NULL, NULL), 1);
    CHECK_EQ(weft_pg_rollback(c), 0); /* undoes 2 only */
    CHECK_EQ(weft_pg_begin(c), 2);
    CHECK_EQ(weft_pg_query(c, "INSERT INTO t VALUES (3)", NULL, NULL), 1);
    CHECK_EQ(weft_pg_commit(c), 0);
    CHECK_EQ(weft_pg_commit(c), 0);
    WEFT_TEST_CHECK(!weft_pg_in_transaction(c));
    CHECK_EQ(scalar(c, "SELECT sum(x) FROM t"), 4);
    /* an error inside: commit reports the rollback */
    CHECK_EQ(weft_pg_begin(c), 1);
    CHECK_EQ(weft_pg_query(c, "INSERT INTO t VALUES (1000)", NULL, NULL), 1);
    CHECK_EQ(weft_pg_query(c, "SELECT 1/0", NULL, NULL), -WEFT_PG_ESERVER);
    CHECK_EQ(weft_pg_commit(c), -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(!strcmp(weft_pg_sqlstate(c), "25P02"));
    WEFT_TEST_CHECK(!weft_pg_in_transaction(c));
    CHECK_EQ(scalar(c, "SELECT sum(x) FROM t"), 4);
    /* the callback form */
    CHECK_EQ(weft_pg_transaction(c, insert_then_fail, NULL), -EIO);
    CHECK_EQ(weft_pg_transaction(c, insert_ok, NULL), 7);
    CHECK_EQ(scalar(c, "SELECT sum(x) FROM t"), 204);
    weft_pg_free(c);
    return 0;
}

/* ---- rows one by one, very large results ---- */

WEFT_TEST(test_rows_cursor_large)
{
    weft_pg *c = pg_connect_ok(dsn);
    weft_pg_rows *it;
    weft_pg_params *p = weft_pg_params_new();
    weft_pg_params_bigint(p, 300000);
    CHECK_EQ(weft_pg_query_rows(c, "SELECT g, repeat('x', 100) FROM generate_series(1, $1) g", p,
                                0, &it), 0);
    const weft_pg_result *row;
    int64_t n = 0, sum = 0;
    int rc;
    while ((rc = weft_pg_rows_next(it, &row)) == 1) {
        int32_t v;
        CHECK_EQ(weft_pg_result_nrows(row), 1);
        CHECK_EQ(weft_pg_get_int(row, 0, 0, &v), 0);
        sum += v;
        n++;
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(n, 300000);
    CHECK_EQ(sum, INT64_C(300000) * 300001 / 2);
    weft_pg_rows_close(it);
    /* closing early cancels the rest; the connection stays usable */
    CHECK_EQ(weft_pg_query_rows(c, "SELECT generate_series(1, 100000000)", NULL,
                                WEFT_PG_BINARY, &it), 0);
    CHECK_EQ(weft_pg_rows_next(it, &row), 1);
    weft_pg_rows_close(it);
    double t0 = weft_now();
    CHECK_EQ(scalar(c, "SELECT 5"), 5);
    WEFT_TEST_CHECK(weft_now() - t0 < 10);
    /* an error mid-stream ends the cursor with it */
    CHECK_EQ(weft_pg_query_rows(c, "SELECT 1/(g-3) FROM generate_series(1, 5) g", NULL, 0, &it),
             0);
    while ((rc = weft_pg_rows_next(it, &row)) == 1) {}
    CHECK_EQ(rc, -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(!strcmp(weft_pg_sqlstate(c), "22012"));
    weft_pg_rows_close(it);
    /* a very large result in one piece */
    weft_pg_result *r;
    CHECK_EQ(weft_pg_query(c, "SELECT g, md5(g::text) FROM generate_series(1, 200000) g", NULL,
                           &r), 200000);
    WEFT_TEST_CHECK(!strcmp(weft_pg_get_text(r, 199999, 0), "200000"));
    weft_pg_result_free(r);
    weft_pg_params_free(p);
    weft_pg_free(c);
    return 0;
}

/* ---- COPY ---- */

typedef struct src { int i, n; char buf[64]; } src;

static ssize_t copy_source(void *arg, const char **data)
{
    src *s = arg;
    if (s->i >= s->n) return 0;
    s->i++;
    *data = s->buf;
    return snprintf(s->buf, sizeof s->buf, "%d\tname %d\n", s->i, s->i);
}

static ssize_t bad_source(void *arg, const char **data)
{
    src *s = arg;
    if (s->i++ == 3) return -EIO;
    *data = "1\tx\n";
    return 4;
}

typedef struct sink { int rows; size_t bytes; int stop_at; } sink;

static int copy_sink(void *arg, const char *data, size_t n)
{
    sink *k = arg;
    k->rows++;
    k->bytes += n;
    CHECK(n > 0 && data[n - 1] == '\n');
    return k->stop_at && k->rows == k->stop_at ? -EIO : 0;
}

WEFT_TEST(test_copy)
{
    weft_pg *c = pg_connect_ok(dsn);
    CHECK_EQ(weft_pg_exec(c, "CREATE TEMP TABLE cp(id int, name text)"), 0);
    src s = {0, 50000, ""};
    CHECK_EQ(weft_pg_copy_in(c, "COPY cp FROM STDIN", copy_source, &s), 50000);
    CHECK_EQ(scalar(c, "SELECT count(*) FROM cp"), 50000);
    /* a source error aborts the copy: nothing is inserted */
    src b = {0, 0, ""};
    CHECK_EQ(weft_pg_copy_in(c, "COPY cp FROM STDIN", bad_source, &b), -EIO);
    CHECK_EQ(scalar(c, "SELECT count(*) FROM cp"), 50000);
    /* bad data: the server's error */
    s.i = 0;
    s.n = 1;
    CHECK_EQ(weft_pg_copy_in(c, "COPY cp(name, id) FROM STDIN", copy_source, &s),
             -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(!strcmp(weft_pg_sqlstate(c), "22P02"));
    sink k = {0, 0, 0};
    CHECK_EQ(weft_pg_copy_out(c, "COPY cp TO STDOUT", copy_sink, &k), 50000);
    CHECK_EQ(k.rows, 50000);
    sink k2 = {0, 0, 10};
    CHECK_EQ(weft_pg_copy_out(c, "COPY (SELECT * FROM cp, generate_series(1,100)) TO STDOUT",
                              copy_sink, &k2), -EIO);
    CHECK_EQ(k2.rows, 10);
    CHECK_EQ(scalar(c, "SELECT 3"), 3);
    /* COPY in the wrong direction, or not a COPY */
    CHECK_EQ(weft_pg_copy_out(c, "COPY cp FROM STDIN", copy_sink, &k), -WEFT_PG_ESTATE);
    CHECK_EQ(weft_pg_copy_out(c, "SELECT 1", copy_sink, &k), -WEFT_PG_ESTATE);
    CHECK_EQ(weft_pg_copy_out(c, "COPY nosuch TO STDOUT", copy_sink, &k), -WEFT_PG_ESERVER);
    CHECK_EQ(scalar(c, "SELECT 4"), 4);
    weft_pg_free(c);
    return 0;
}

/* ---- pipelined batches ---- */

WEFT_TEST(test_batch_pipeline)
{
    weft_pg *c = pg_connect_ok(dsn);
    CHECK_EQ(weft_pg_exec(c, "CREATE TEMP TABLE bt(x int PRIMARY KEY)"), 0);
    weft_pg_batch *b = weft_pg_batch_new();
    weft_pg_params *p = weft_pg_params_new();
    for (int i = 0; i < 1000; i++) {
        weft_pg_params_clear(p);
        weft_pg_params_bigint(p, i);
        CHECK_EQ(weft_pg_batch_add(b, "INSERT INTO bt VALUES ($1)", p), 0);
    }
    CHECK_EQ(weft_pg_batch_run(c, b, 0), 0);
    for (int i = 0; i < 1000; i++) CHECK_EQ(weft_pg_batch_status(b, i), 1);
    CHECK_EQ(scalar(c, "SELECT count(*) FROM bt"), 1000);
    weft_pg_batch_free(b);

    /* three segments; the middle one fails: only it is rolled back */
    b = weft_pg_batch_new();
    weft_pg_batch_add(b, "INSERT INTO bt VALUES (5000)", NULL);
    weft_pg_batch_add(b, "SELECT x FROM bt WHERE x < 3 ORDER BY x", NULL);
    weft_pg_batch_sync(b);
    weft_pg_batch_add(b, "INSERT INTO bt VALUES (6000)", NULL);
    weft_pg_batch_add(b, "INSERT INTO bt VALUES (1)", NULL); /* duplicate key */
    weft_pg_batch_add(b, "INSERT INTO bt VALUES (6001)", NULL);
    weft_pg_batch_sync(b);
    weft_pg_batch_add(b, "INSERT INTO bt VALUES (7000)", NULL);
    weft_pg_batch_add(b, "SELEC broken", NULL);
    CHECK_EQ(weft_pg_batch_count(b), 7);
    CHECK_EQ(weft_pg_batch_run(c, b, 0), -WEFT_PG_ESERVER);
    CHECK_EQ(weft_pg_batch_status(b, 0), 1);
    CHECK_EQ(weft_pg_batch_status(b, 1), 3);
    const weft_pg_result *r = weft_pg_batch_result(b, 1);
    WEFT_TEST_CHECK(r != NULL);
    WEFT_TEST_CHECK(!strcmp(weft_pg_get_text(r, 2, 0), "2"));
    CHECK_EQ(weft_pg_batch_status(b, 2), 1);
    CHECK_EQ(weft_pg_batch_status(b, 3), -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(!strcmp(weft_pg_batch_sqlstate(b, 3), "23505"));
    CHECK_EQ(weft_pg_batch_status(b, 4), -WEFT_PG_EABORTED);
    CHECK_EQ(weft_pg_batch_status(b, 5), 1 == 1 ? weft_pg_batch_status(b, 5) : 0);
    CHECK_EQ(weft_pg_batch_status(b, 6), -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(!strcmp(weft_pg_batch_sqlstate(b, 6), "42601"));
    CHECK_EQ(weft_pg_batch_status(b, 99), -EINVAL);
    CHECK_EQ(scalar(c, "SELECT count(*) FROM bt WHERE x = 5000"), 1);
    CHECK_EQ(scalar(c, "SELECT count(*) FROM bt WHERE x = 6000"), 0);
    /* the last segment failed at its second statement: 7000 rolled back */
    CHECK_EQ(scalar(c, "SELECT count(*) FROM bt WHERE x = 7000"), 0);
    /* run again: same statements, now from the cache */
    CHECK_EQ(weft_pg_exec(c, "DELETE FROM bt WHERE x >= 5000"), 1);
    CHECK_EQ(weft_pg_batch_run(c, b, WEFT_PG_BINARY), -WEFT_PG_ESERVER);
    CHECK_EQ(weft_pg_batch_status(b, 0), 1);
    CHECK_EQ(weft_pg_batch_status(b, 4), -WEFT_PG_EABORTED);
    weft_pg_batch_free(b);
    weft_pg_params_free(p);
    weft_pg_free(c);
    return 0;
}

/* ---- LISTEN / NOTIFY ---- */

typedef struct lctx { weft_pg *c; const char *chan; int got; char payload[64]; } lctx;

static int listener(void *arg)
{
    lctx *l = arg;
    weft_pg_notify *n;
    int rc = weft_pg_notify_wait(l->c, l->chan, &n);
    if (rc < 0) return rc;
    l->got++;
    snprintf(l->payload, sizeof l->payload, "%s", n->payload);
    CHECK(!strcmp(n->channel, l->chan));
    weft_pg_notify_free(n);
    return 0;
}

WEFT_TEST(test_listen_notify)
{
    weft_pg *c = pg_connect_ok(dsn), *other = pg_connect_ok(dsn);
    CHECK_EQ(weft_pg_listen(c, "jobs"), 0);
    CHECK_EQ(weft_pg_listen(c, "Other Channel"), 0);
    lctx a = {c, "jobs", 0, ""}, b = {c, "Other Channel", 0, ""};
    weft_task *ta = weft_spawn(listener, &a), *tb = weft_spawn(listener, &b);
    weft_sleep(0.05);
    CHECK_EQ(a.got + b.got, 0);
    /* queries keep working on the listening connection meanwhile */
    CHECK_EQ(scalar(c, "SELECT 8"), 8);
    weft_pg_params *p = weft_pg_params_new();
    weft_pg_params_text(p, "Other Channel");
    weft_pg_params_text(p, "hello 'there'");
    CHECK_EQ(weft_pg_query(other, "SELECT pg_notify($1, $2)", p, NULL), 1);
    CHECK_EQ(weft_wait_for(tb, 5), 0);
    WEFT_TEST_CHECK(!strcmp(b.payload, "hello 'there'"));
    CHECK_EQ(a.got, 0);
    CHECK_EQ(weft_pg_exec(other, "NOTIFY jobs, 'j1'"), 0);
    CHECK_EQ(weft_wait_for(ta, 5), 0);
    WEFT_TEST_CHECK(!strcmp(a.payload, "j1"));
    /* a notification that arrives while a query runs on c */
    CHECK_EQ(weft_pg_exec(other, "NOTIFY jobs, 'j2'"), 0);
    CHECK_EQ(scalar(c, "SELECT 9 FROM pg_sleep(0.05)"), 9);
    weft_pg_notify *n;
    CHECK_EQ(weft_pg_notify_wait(c, NULL, &n), 0);
    WEFT_TEST_CHECK(!strcmp(n->payload, "j2"));
    weft_pg_notify_free(n);
    /* a wait ends on cancellation / deadline */
    weft_task *tc = weft_spawn(listener, &a);
    CHECK_EQ(weft_wait_for(tc, 0.05), -ETIMEDOUT);
    CHECK_EQ(weft_pg_unlisten(c, "jobs"), 0);
    weft_pg_params_free(p);
    weft_pg_free(other);
    weft_pg_free(c);
    return 0;
}

/* ---- cancellation reaches the server ---- */

static int slow_query(void *arg)
{
    return weft_pg_query((weft_pg *)arg, "SELECT pg_sleep(30)", NULL, NULL);
}

/* Whether c's backend runs the slow query. Only c's: other tests (pg_pool)
 * run the same statement on the same server at the same time. */
static int active_queries(weft_pg *watcher, weft_pg *c)
{
    weft_pg_params *p = weft_pg_params_new();
    weft_pg_params_bigint(p, weft_pg_backend_pid(c));
    weft_pg_result *r = NULL;
    CHECK_EQ(weft_pg_query(watcher, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1"
                                    " AND query = 'SELECT pg_sleep(30)' AND state = 'active'",
                           p, &r), 1);
    weft_pg_params_free(p);
    int64_t v;
    CHECK_EQ(weft_pg_get_bigint(r, 0, 0, &v), 0);
    weft_pg_result_free(r);
    return (int)v;
}

WEFT_TEST(test_cancel_reaches_server)
{
    weft_pg *c = pg_connect_ok(dsn), *w = pg_connect_ok(dsn);
    weft_task *t = weft_spawn(slow_query, c);
    /* polled: a loaded server starts the query late */
    for (int i = 0; i < 100 && active_queries(w, c) != 1; i++) weft_sleep(0.05);
    CHECK_EQ(active_queries(w, c), 1);
    double t0 = weft_now();
    weft_cancel(t);
    CHECK_EQ(weft_await(t), -ECANCELED);
    WEFT_TEST_CHECK(weft_now() - t0 < 3); /* not the 30 s */
    /* the server stops it; the connection is usable right after */
    CHECK_EQ(scalar(c, "SELECT 11"), 11);
    WEFT_TEST_CHECK(weft_now() - t0 < 10);
    CHECK_EQ(active_queries(w, c), 0);
    WEFT_TEST_CHECK(weft_pg_ok(c));

    /* a query timeout: the same path */
    t0 = weft_now();
    CHECK_EQ(weft_timeout(0.2, slow_query, c), -ETIMEDOUT);
    CHECK_NEAR(weft_now() - t0, 1.0, 1.0); /* 0.2 s; loaded CI machines stall */
    CHECK_EQ(scalar(c, "SELECT 12"), 12);
    CHECK_EQ(active_queries(w, c), 0);

    /* cancelled inside a transaction: rolled back before the next use */
    CHECK_EQ(weft_pg_exec(c, "CREATE TEMP TABLE ct(x int)"), 0);
    CHECK_EQ(weft_pg_begin(c), 1);
    CHECK_EQ(weft_pg_query(c, "INSERT INTO ct VALUES (1)", NULL, NULL), 1);
    CHECK_EQ(weft_timeout(0.1, slow_query, c), -ETIMEDOUT);
    CHECK_EQ(weft_pg_rollback(c), 0);
    CHECK_EQ(scalar(c, "SELECT count(*) FROM ct"), 0);
    WEFT_TEST_CHECK(!weft_pg_in_transaction(c));
    weft_pg_free(w);
    weft_pg_free(c);
    return 0;
}

/* A cancel that reaches the backend when it is not running the statement is
 * ignored (the statement may reach the server just after its cancel). Here
 * the statement swallows the first cancel itself: the drain must cancel
 * again rather than wait out the statement. */
static int stubborn_query(void *arg)
{
    return weft_pg_query((weft_pg *)arg, "SELECT pg_temp.stubborn()", NULL, NULL);
}
WEFT_TEST(test_cancel_again)
{
    weft_pg *c = pg_connect_ok(dsn), *w = pg_connect_ok(dsn);
    CHECK_EQ(weft_pg_exec(c, "CREATE FUNCTION pg_temp.stubborn() RETURNS int LANGUAGE plpgsql AS $$"
                             " BEGIN"
                             "  BEGIN PERFORM pg_sleep(30); EXCEPTION WHEN query_canceled THEN NULL; END;"
                             "  PERFORM pg_sleep(30); RETURN 1;"
                             " END $$"), 0);
    double t0 = weft_now();
    CHECK_EQ(weft_timeout(0.2, stubborn_query, c), -ETIMEDOUT);
    CHECK_EQ(scalar(c, "SELECT 13"), 13); /* waits for the drain */
    WEFT_TEST_CHECK(weft_now() - t0 < 15);          /* ~1.2 s; not the statement's 60 s */
    CHECK_EQ((int)scalar(w, "SELECT count(*) FROM pg_stat_activity"
                            " WHERE query LIKE '%stubborn()%' AND state = 'active'"
                            " AND pid <> pg_backend_pid()"), 0);
    WEFT_TEST_CHECK(weft_pg_ok(c));
    weft_pg_free(w);
    weft_pg_free(c);
    return 0;
}

static int free_while_running(void *arg)
{
    weft_pg *c = pg_connect_ok(dsn);
    weft_task *t = weft_spawn(slow_query, c);
    weft_sleep(0.1);
    weft_cancel(t);
    CHECK_EQ(weft_await(t), -ECANCELED);
    weft_pg_free(c); /* while the drain runs: freed when it ends */
    weft_sleep(0.5);
    return 0;
}


/* ---- two tasks on one connection ---- */

typedef struct shared { weft_pg *c; int id, ok; } shared;

static int hammer(void *arg)
{
    shared *s = arg;
    weft_pg_params *p = weft_pg_params_new();
    for (int i = 0; i < 200; i++) {
        weft_pg_params_clear(p);
        weft_pg_params_bigint(p, s->id * 100000 + i);
        weft_pg_result *r;
        int rc = weft_pg_query(s->c, i % 2 ? "SELECT $1::int" : "SELECT $1::int, pg_sleep(0)",
                               p, &r);
        if (rc != 1) return rc < 0 ? rc : -EIO;
        int32_t v;
        CHECK_EQ(weft_pg_get_int(r, 0, 0, &v), 0);
        CHECK_EQ(v, s->id * 100000 + i); /* never another task's answer */
        weft_pg_result_free(r);
        s->ok++;
    }
    weft_pg_params_free(p);
    return 0;
}

WEFT_TEST(test_shared_connection)
{
    weft_pg *c = pg_connect_ok(dsn);
    shared a = {c, 1, 0}, b = {c, 2, 0}, d = {c, 3, 0};
    weft_task *t[3] = {weft_spawn(hammer, &a), weft_spawn(hammer, &b), weft_spawn(hammer, &d)};
    CHECK_EQ(weft_gather(t, 3, NULL), 0);
    CHECK_EQ(a.ok + b.ok + d.ok, 600);
    weft_pg_free(c);
    return 0;
}

int main(int argc, char **argv)
{
    dsn = pg_env_dsn();
    static const weft_test_case cases[] = {
        {"transactions", test_transactions},
        {"rows_cursor_large", test_rows_cursor_large},
        {"copy", test_copy},
        {"batch_pipeline", test_batch_pipeline},
        {"listen_notify", test_listen_notify},
        {"cancel_reaches_server", test_cancel_reaches_server},
        {"cancel_again", test_cancel_again},
        {"free_while_draining", free_while_running},
        {"shared_connection", test_shared_connection},
    };
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
