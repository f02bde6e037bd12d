/* A hostile review of the PostgreSQL client (issue 17, session 8): COPY's
 * statement strings and the results around them, the pool reset's second
 * step, what a malicious server can answer to weft's own statements. Each
 * case failed (hung, crashed or answered wrongly) before its fix. Replies
 * a real server never sends come from a fake one (pg_fake.h); the rest
 * runs against the real server. A hang (those found here spin without
 * yielding) fails by the test kit's hard limit on a blocked loop. */
#define _GNU_SOURCE
#include <weft.h>
#include <weft/pg.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <unistd.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include "pg_env.h"
#include "pg_fake.h"

static const char *dsn;

static void exec_ok(weft_pg *c, const char *sql)
{
    int rc = weft_pg_exec(c, sql);
    if (rc < 0) fprintf(stderr, "%s: %s\n", sql, weft_pg_errmsg(c));
    CHECK(rc >= 0);
}

static int64_t count(weft_pg *c, const char *sql)
{
    int64_t v = -1;
    weft_pg_result *r = NULL;
    CHECK(weft_pg_query(c, sql, NULL, &r) >= 0);
    CHECK_EQ(weft_pg_get_bigint(r, 0, 0, &v), 0);
    weft_pg_result_free(r);
    return v;
}

static ssize_t one_row(void *arg, const char **data)
{
    int *n = arg;
    *data = "1\n";
    return (*n)++ ? 0 : 2;
}

static int sink_count(void *arg, const char *d, size_t n)
{
    (void)d, (void)n;
    ++*(int *)arg;
    return 0;
}

/* ---- a COPY statement string with more in it than one COPY ---------------------- */

/* Rows before the COPY ("SELECT 1; COPY ..."): not a COPY of the wanted
 * kind first, so weft ends the statement, reading its results to the end;
 * the COPY that follows gave libpq's COPY state, in which every
 * PQgetResult returns a COPY result and never NULL: that loop spun for
 * ever, the loop's thread with it. */
WEFT_TEST(copy_after_rows)
{
    weft_pg *c = pg_connect_ok(dsn);
    exec_ok(c, "DROP TABLE IF EXISTS hx; CREATE TABLE hx (x int)");
    int n = 0;
    CHECK_EQ(weft_pg_copy_in(c, "SELECT 1; COPY hx FROM STDIN", one_row, &n), -WEFT_PG_ESTATE);
    CHECK_EQ(count(c, "SELECT count(*) FROM hx"), 0);
    int pieces = 0;
    CHECK_EQ(weft_pg_copy_out(c, "SELECT 1; COPY (SELECT 1) TO STDOUT", sink_count, &pieces),
             -WEFT_PG_ESTATE);
    CHECK_EQ(pieces, 0);
    CHECK_EQ(count(c, "SELECT 2"), 2);
    exec_ok(c, "DROP TABLE hx");
    weft_pg_free(c);
    return 0;
}

/* Two COPYs in one statement string: once the first is done, its final
 * results are read to the end, and the second COPY's state made that loop
 * spin for ever too. The second is ended (not the caller's: -ESTATE), and
 * with it the whole statement string, which is one transaction. */
WEFT_TEST(two_copies)
{
    weft_pg *c = pg_connect_ok(dsn);
    exec_ok(c, "DROP TABLE IF EXISTS hx; CREATE TABLE hx (x int)");
    int n = 0;
    int rc = weft_pg_copy_in(c, "COPY hx FROM STDIN; COPY hx FROM STDIN", one_row, &n);
    CHECK(rc == -WEFT_PG_ESTATE || rc == -WEFT_PG_ESERVER);
    CHECK_EQ(count(c, "SELECT count(*) FROM hx"), 0); /* rolled back with the second */
    int pieces = 0;
    CHECK_EQ(weft_pg_copy_out(c, "COPY (SELECT 1) TO STDOUT; COPY (SELECT 2) TO STDOUT",
                              sink_count, &pieces), -WEFT_PG_ESTATE);
    CHECK_EQ(pieces, 1); /* the first COPY's row; the second's are not the caller's */
    CHECK_EQ(count(c, "SELECT 3"), 3);
    exec_ok(c, "DROP TABLE hx");
    weft_pg_free(c);
    return 0;
}

/* A COPY where rows or a batch's results are read: weft_pg_query_rows'
 * reader spun for ever on it (the COPY state's result every time, never
 * NULL): now ended, -WEFT_PG_ESTATE, the connection usable. A batch took
 * it for a result and returned 0 with libpq still in the COPY state: the
 * connection answered nothing after, yet weft_pg_ok said it was fine (a
 * pool kept it for the next holder); now the batch fails and the
 * connection is dropped. */
WEFT_TEST(copy_in_rows_and_batch)
{
    weft_pg *c = pg_connect_ok(dsn);
    exec_ok(c, "DROP TABLE IF EXISTS hx; CREATE TABLE hx (x int)");
    static const char *const sql[] = {"COPY hx FROM STDIN", "COPY (SELECT 1) TO STDOUT"};
    for (int i = 0; i < 2; i++) {
        weft_pg_rows *it;
        CHECK_EQ(weft_pg_query_rows(c, sql[i], NULL, 0, &it), 0);
        const weft_pg_result *row;
        int rc;
        while ((rc = weft_pg_rows_next(it, &row)) > 0) {}
        CHECK_EQ(rc, -WEFT_PG_ESTATE);
        weft_pg_rows_close(it);
        CHECK_EQ(count(c, "SELECT 4"), 4);
    }
    for (int i = 0; i < 2; i++) {
        weft_pg *b_c = pg_connect_ok(dsn);
        weft_pg_batch *b = weft_pg_batch_new();
        CHECK_EQ(weft_pg_batch_add(b, sql[i], NULL), 0);
        CHECK_EQ(weft_pg_batch_add(b, "SELECT 1", NULL), 0);
        int rc = weft_pg_batch_run(b_c, b, 0);
        CHECK(rc < 0);
        CHECK_EQ(weft_pg_batch_status(b, 0), -WEFT_PG_ESTATE);
        weft_pg_batch_free(b);
        CHECK(!weft_pg_ok(b_c) || count(b_c, "SELECT 5") == 5);
        weft_pg_free(b_c);
    }
    CHECK_EQ(count(c, "SELECT count(*) FROM hx"), 0);
    exec_ok(c, "DROP TABLE hx");
    weft_pg_free(c);
    return 0;
}

/* ---- a server answering COPY of records' own statements ------------------------ */

/* Appends one message (type, length, body) to b at *n. */
static void msg(char *b, int *n, char type, const void *body, int len)
{
    b[(*n)++] = type;
    pg_fake_put32(b + *n, len + 4);
    memcpy(b + *n + 4, body, (size_t)len);
    *n += 4 + len;
}

/* RowDescription of one int4 column "a", table column 1 (text format). */
static void one_column(char *b, int *n)
{
    char d[32];
    pg_fake_put16(d, 1);
    memcpy(d + 2, "a", 2);
    pg_fake_put32(d + 4, 4242), pg_fake_put16(d + 8, 1), pg_fake_put32(d + 10, 23);
    pg_fake_put16(d + 14, 4), pg_fake_put32(d + 16, -1), pg_fake_put16(d + 20, 0);
    msg(b, n, 'T', d, 22);
}

static char gen_zero_cols[256], gen_extra[256], gen_two[256];
static pg_fake_reply gen_replies[] = {
    {.match = "zerocols", .kind = PG_FAKE_RAW, .tag = "COPY 0", .value = gen_zero_cols},
    {.match = "extra", .kind = PG_FAKE_RAW, .tag = "COPY 0", .value = gen_extra},
    {.match = "twocols", .kind = PG_FAKE_RAW, .tag = "COPY 1", .value = gen_two},
    {.match = NULL},
};

/* weft_pg_copy_records with no column list sends "SELECT * ... LIMIT 0;
 * SELECT attnum FROM pg_attribute ...; COPY ...". A server whose answer
 * to the second has rows but no column made weft read column 0 of them:
 * PQgetvalue's NULL into atoi, a crash. One that sends more row sets
 * than asked for before the COPY: refused, not spun on. A COPY of other
 * columns than the row sets described: refused before any row is sent
 * (the rows went, encoded for the wrong columns). */
WEFT_TEST(copy_records_hostile_intro)
{
    char d[16];
    int n = 0;
    one_column(gen_zero_cols, &n);
    msg(gen_zero_cols, &n, 'C', "SELECT 0", 9);
    pg_fake_put16(d, 0);
    msg(gen_zero_cols, &n, 'T', d, 2); /* no columns */
    msg(gen_zero_cols, &n, 'D', d, 2); /* a row of none */
    msg(gen_zero_cols, &n, 'C', "SELECT 1", 9);
    d[0] = 1, pg_fake_put16(d + 1, 1), pg_fake_put16(d + 3, 1);
    msg(gen_zero_cols, &n, 'G', d, 5); /* CopyInResponse: binary, one column */
    gen_replies[0].len = n;
    n = 0;
    for (int i = 0; i < 3; i++) {
        one_column(gen_extra, &n);
        msg(gen_extra, &n, 'C', "SELECT 0", 9);
    }
    msg(gen_extra, &n, 'G', d, 5);
    gen_replies[1].len = n;
    n = 0;
    one_column(gen_two, &n);
    msg(gen_two, &n, 'C', "SELECT 0", 9);
    one_column(gen_two, &n); /* the generated columns: none */
    msg(gen_two, &n, 'C', "SELECT 0", 9);
    char d2[8];
    d2[0] = 1, pg_fake_put16(d2 + 1, 2), pg_fake_put16(d2 + 3, 1), pg_fake_put16(d2 + 5, 1);
    msg(gen_two, &n, 'G', d2, 7); /* CopyInResponse: two columns */
    gen_replies[2].len = n;
    pg_fake f;
    CHECK_EQ(pg_fake_start(&f, gen_replies), 0);
    char fdsn[256];
    weft_pg *c = pg_connect_ok(pg_fake_dsn(&f, fdsn, sizeof fdsn));
    weft_pg_params *p = weft_pg_params_new();
    CHECK_EQ(weft_pg_params_int4(p, 1), 0);
    const weft_pg_params *rows[1] = {p};
    int rc = weft_pg_copy_records(c, NULL, "zerocols", NULL, 0, rows, 1, NULL);
    CHECK(rc < 0);
    CHECK_EQ(weft_pg_copy_records(c, NULL, "extra", NULL, 0, rows, 1, NULL), -WEFT_PG_ESTATE);
    CHECK_EQ(weft_pg_copy_records(c, NULL, "twocols", NULL, 0, rows, 1, NULL), -WEFT_PG_ESTATE);
    CHECK_EQ(f.copy_bytes, 0); /* not a row sent */
    weft_pg_params_free(p);
    weft_pg_free(c);
    pg_fake_stop(&f);
    CHECK_EQ(pg_fake_wait_closed(&f), 0);
    return 0;
}

typedef struct copy_job {
    weft_pg *c;
    const weft_pg_params *const *rows;
} copy_job;

static int copy_one(void *arg)
{
    copy_job *j = arg;
    return weft_pg_copy_records(j->c, NULL, "hx_locked", NULL, 0, j->rows, 1, NULL);
}

/* Cancelled while waiting for the intro (the target locked by another
 * session, so the SELECT before the COPY waits): the statement is
 * cancelled on the server, nothing is copied, and the connection is
 * usable once the lock is gone. Passes as it is. */
WEFT_TEST(copy_records_cancel_at_intro)
{
    weft_pg *c = pg_connect_ok(dsn), *locker = pg_connect_ok(dsn);
    exec_ok(c, "DROP TABLE IF EXISTS hx_locked; CREATE TABLE hx_locked (v int4,"
               " g int4 GENERATED ALWAYS AS (v) STORED)");
    exec_ok(locker, "BEGIN; LOCK TABLE hx_locked IN ACCESS EXCLUSIVE MODE");
    weft_pg_params *p = weft_pg_params_new();
    CHECK_EQ(weft_pg_params_int4(p, 1), 0);
    const weft_pg_params *rows[1] = {p};
    copy_job j = {c, rows};
    CHECK_EQ(weft_timeout(0.1, copy_one, &j), -ETIMEDOUT);
    exec_ok(locker, "COMMIT");
    CHECK_EQ(count(c, "SELECT count(*) FROM hx_locked"), 0);
    CHECK_EQ(copy_one(&j), 0);
    CHECK_EQ(count(c, "SELECT count(*) FROM hx_locked"), 1);
    exec_ok(c, "DROP TABLE hx_locked");
    weft_pg_params_free(p);
    weft_pg_free(locker);
    weft_pg_free(c);
    return 0;
}

/* ---- names in COPY of records' statements ------------------------------------------ */

/* Schema and table names are quoted as identifiers into the statement
 * string and, for the generated-columns query, that quoted name again as
 * a string literal cast to regclass: names made of quotes, backslashes
 * (PQescapeLiteral's E'' form), semicolons, comments, dots and non-ASCII
 * letters reach the right table and run nothing of their own. With a
 * column list naming a generated column, the server's refusal, and the
 * connection is fine after. */
/* name as a quoted identifier (PostgreSQL's rule: "" for "), into b */
static char *quote_ident(const char *name, char *b)
{
    char *q = b;
    *q++ = '"';
    for (const char *p = name; *p; p++) {
        if (*p == '"') *q++ = '"';
        *q++ = *p;
    }
    *q++ = '"';
    *q = 0;
    return b;
}

WEFT_TEST(copy_records_hostile_names)
{
    weft_pg *c = pg_connect_ok(dsn);
    static const char *const schema = "s\\'; DROP TABLE hx_victim; --";
    static const char *const tables[] = {
        "t\"; DROP TABLE hx_victim; --", "a.b", "/* x */", "t\\'\\", "\xc3\xa9t\xc3\xa9 ; --",
    };
    exec_ok(c, "DROP TABLE IF EXISTS hx_victim; CREATE TABLE hx_victim (x int)");
    char qs[128], qt[128];
    quote_ident(schema, qs);
    char sql[1024];
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", qs, qs);
    exec_ok(c, sql);
    weft_pg_params *p = weft_pg_params_new();
    CHECK_EQ(weft_pg_params_int4(p, 5), 0);
    const weft_pg_params *rows[1] = {p};
    for (int i = 0; i < (int)(sizeof tables / sizeof *tables); i++) {
        quote_ident(tables[i], qt);
        snprintf(sql, sizeof sql, "CREATE TABLE %s.%s (v int4, g int4 GENERATED ALWAYS AS (v + 1) STORED)",
                 qs, qt);
        exec_ok(c, sql);
        int rc = weft_pg_copy_records(c, schema, tables[i], NULL, 0, rows, 1, NULL);
        if (rc) fprintf(stderr, "%s: %d %s\n", tables[i], rc, weft_pg_errmsg(c));
        CHECK_EQ(rc, 0);
        snprintf(sql, sizeof sql, "SELECT g FROM %s.%s", qs, qt);
        CHECK_EQ(count(c, sql), 6);
        static const char *const both[] = {"v", "g"};
        CHECK_EQ(weft_pg_copy_records(c, schema, tables[i], both, 2, rows, 1, NULL), -WEFT_PG_ESERVER);
        CHECK_EQ(count(c, sql), 6);
    }
    CHECK_EQ(count(c, "SELECT count(*) FROM hx_victim"), 0); /* still there */
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE; DROP TABLE hx_victim", qs);
    exec_ok(c, sql);
    weft_pg_params_free(p);
    weft_pg_free(c);
    return 0;
}

/* ---- the result's column cache ---------------------------------------------------- */

/* The first 32 columns' types and formats are remembered per result
 * (50d5f79): columns past 32 read right, a cursor's rows (one result
 * struct, its PGresult replaced each row) see each row's own shape, and a
 * cached statement re-prepared after ALTER TABLE changed its column's type
 * reads as the new type. Passes as it is. */
WEFT_TEST(result_cache_shapes)
{
    weft_pg *c = pg_connect_ok(dsn);
    char sql[2048];
    size_t n = (size_t)sprintf(sql, "SELECT ");
    for (int i = 0; i < 40; i++) {
        static const char *const types[] = {"int2", "int4", "int8", "oid"};
        if (i % 5 == 4) n += (size_t)sprintf(sql + n, "%sNULL::int4", i ? ", " : "");
        else n += (size_t)sprintf(sql + n, "%s%d::%s", i ? ", " : "", 1000 + i, types[i % 5]);
    }
    for (int flags = 0; flags <= WEFT_PG_BINARY; flags += WEFT_PG_BINARY) {
        weft_pg_result *r = NULL;
        CHECK_EQ(weft_pg_query_with(c, sql, NULL, flags, &r), 1);
        for (int round = 0; round < 2; round++)
            for (int i = 0; i < 40; i++) {
                int64_t v = -1;
                int rc = weft_pg_get_bigint(r, 0, i, &v);
                if (i % 5 == 4) CHECK_EQ(rc, -WEFT_PG_ENULL);
                else CHECK_EQ(v, 1000 + i);
            }
        int64_t v;
        CHECK_EQ(weft_pg_get_bigint(r, 1, 0, &v), -EINVAL);
        CHECK_EQ(weft_pg_get_bigint(r, 0, 40, &v), -EINVAL);
        weft_pg_result_free(r);
    }
    /* a cursor: the same result struct, each row's PGresult */
    weft_pg_rows *it;
    CHECK_EQ(weft_pg_query_rows(c, "SELECT CASE WHEN i % 2 = 0 THEN NULL ELSE i END::int8 FROM"
                                   " generate_series(1, 6) i", NULL, WEFT_PG_BINARY, &it), 0);
    const weft_pg_result *row;
    int k = 0, rc;
    while ((rc = weft_pg_rows_next(it, &row)) > 0) {
        int64_t v = -1;
        k++;
        rc = weft_pg_get_bigint(row, 0, 0, &v);
        if (k % 2) CHECK_EQ(v, k);
        else CHECK_EQ(rc, -WEFT_PG_ENULL);
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(k, 6);
    weft_pg_rows_close(it);
    /* a cached statement whose column changed type under it */
    exec_ok(c, "DROP TABLE IF EXISTS hx_shape; CREATE TABLE hx_shape (a int4); INSERT INTO hx_shape VALUES (7)");
    for (int round = 0; round < 2; round++) {
        if (round) exec_ok(c, "ALTER TABLE hx_shape ALTER COLUMN a TYPE text");
        weft_pg_result *r = NULL;
        CHECK_EQ(weft_pg_query_with(c, "SELECT a FROM hx_shape", NULL, WEFT_PG_BINARY, &r), 1);
        CHECK_EQ(weft_pg_coltype(r, 0), round ? WEFT_PG_TEXT : WEFT_PG_INT4);
        const char *t = weft_pg_get_text(r, 0, 0);
        int64_t v = -1;
        if (round) CHECK(t && !strcmp(t, "7"));
        else CHECK_EQ((weft_pg_get_bigint(r, 0, 0, &v), v), 7);
        weft_pg_result_free(r);
    }
    exec_ok(c, "DROP TABLE hx_shape");
    weft_pg_free(c);
    return 0;
}

/* ---- the pool reset's second step ------------------------------------------------ */

static int exec_select(void *arg) { return weft_pg_exec(arg, "SELECT 1"); }

/* A query's result read, then the cut in the second step at the lock
 * after it (query.c): the result was dropped without being freed. */
static int query_select(void *arg)
{
    weft_pg_result *r = NULL;
    int rc = weft_pg_query(arg, "SELECT 1", NULL, &r);
    weft_pg_result_free(r);
    return rc;
}

/* The reset found the last holder's SQL PREPAREd statements, one under a
 * name weft had cached (reset.c): its second step, run at the next lock,
 * deallocates them. That step was marked done before it ran, so one cut
 * short (the operation whose lock ran it cancelled, a deadline) was never
 * run again: the holder's next query used its cached name and got the
 * last holder's statement ("100", not "7"). The last holder leaves a
 * thousand statements, so that the step (~0.1 s of DEALLOCATEs) is still
 * running at the deadline. 1: inconclusive (the deadline came before the
 * reset's replies were read, where a cut drops the connection). */
static int fixup_cut_short(weft_fn op)
{
    weft_pg_pool_opts o = {.min_size = 1, .max_size = 1};
    weft_pg_pool *p;
    CHECK_EQ(weft_pg_pool_new(dsn, &o, &p), 0);
    weft_pg *c;
    CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
    CHECK(weft_pg_query(c, "SELECT 7::bigint", NULL, NULL) >= 0); /* cached as weft_s1 */
    weft_pg_pool_release(p, c);
    CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
    exec_ok(c, "DEALLOCATE weft_s1");
    exec_ok(c, "PREPARE weft_s1 AS SELECT 100::bigint");
    char *sql = malloc(1000 * 40);
    CHECK(sql != NULL);
    size_t n = 0;
    for (int j = 0; j < 1000; j++) n += (size_t)sprintf(sql + n, "PREPARE junk%d AS SELECT %d;", j, j);
    exec_ok(c, sql);
    free(sql);
    weft_pg_pool_release(p, c);
    weft_sleep(1.0); /* the reset's replies read at acquire; its second step due */
    CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
    int rc = weft_timeout(0.03, op, c);
    int inconclusive = rc >= 0 || !weft_pg_ok(c);
    if (!inconclusive) {
        char *v = NULL;
        rc = weft_pg_fetch_text(c, "SELECT 7::bigint", NULL, &v);
        if (rc < 0) fprintf(stderr, "query: %s %s\n", weft_pg_sqlstate(c), weft_pg_errmsg(c));
        CHECK_EQ(rc, 0);
        if (strcmp(v, "7")) fprintf(stderr, "the last holder's statement ran: %s\n", v);
        CHECK(!strcmp(v, "7"));
        free(v);
    }
    weft_pg_pool_release(p, c);
    weft_pg_pool_free(p);
    return inconclusive;
}

WEFT_TEST(reset_fixup_cancelled)
{
    for (int k = 0; k < 2; k++) {
        int i = 0;
        while (i < 3 && fixup_cut_short(k ? query_select : exec_select)) i++;
        if (i == 3) {
            fprintf(stderr, "the deadline never came inside the reset's second step\n");
            return -1;
        }
    }
    return 0;
}

/* A server answering the pool's reset (sent at release, read at the next
 * acquire or lock) with a CopyInResponse: the reset's readers wait for
 * its syncs, which libpq's COPY state never gives (its result comes back
 * every time): acquire spun for ever. Now the connection is dropped and
 * replaced. */
static char copy_in_msg[16];
static pg_fake_reply reset_replies[] = {
    {.match = "RESET SESSION AUTHORIZATION", .kind = PG_FAKE_RAW, .value = copy_in_msg},
    {.match = "SELECT 1", .kind = PG_FAKE_COMMAND, .tag = "SELECT 1"},
    {.match = NULL},
};

WEFT_TEST(reset_answered_with_copy)
{
    int n = 0;
    char d[8];
    d[0] = 0, pg_fake_put16(d + 1, 0);
    msg(copy_in_msg, &n, 'G', d, 3);
    reset_replies[0].len = n;
    pg_fake f;
    CHECK_EQ(pg_fake_start(&f, reset_replies), 0);
    char fdsn[256];
    weft_pg_pool_opts o = {.min_size = 1, .max_size = 1};
    for (int settle = 0; settle < 2; settle++) { /* read at the lock, then at acquire */
        weft_pg_pool *p; /* each round a fresh connection: no hostile reset due */
        CHECK_EQ(weft_pg_pool_new(pg_fake_dsn(&f, fdsn, sizeof fdsn), &o, &p), 0);
        weft_pg *c;
        CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
        CHECK_EQ(weft_pg_exec(c, "SELECT 1"), 1);
        weft_pg_pool_release(p, c);
        if (settle) weft_sleep(0.1);
        CHECK_EQ(weft_pg_pool_acquire(p, &c), 0);
        int rc = weft_pg_exec(c, "SELECT 1");
        CHECK(rc == 1 || rc == -WEFT_PG_EBROKEN);
        weft_pg_pool_release(p, c);
        weft_pg_pool_free(p);
    }
    pg_fake_stop(&f);
    CHECK_EQ(pg_fake_wait_closed(&f), 0); /* its sockets are this process's too */
    return 0;
}

int main(int argc, char **argv)
{
    dsn = pg_env_dsn();
    signal(SIGPIPE, SIG_IGN); /* the fake server writes to clients that left */
    static const weft_test_case cases[] = {
        {"copy_after_rows", copy_after_rows},
        {"two_copies", two_copies},
        {"copy_in_rows_and_batch", copy_in_rows_and_batch},
        {"copy_records_hostile_intro", copy_records_hostile_intro},
        {"copy_records_hostile_names", copy_records_hostile_names},
        {"copy_records_cancel_at_intro", copy_records_cancel_at_intro},
        {"result_cache_shapes", result_cache_shapes},
        {"reset_fixup_cancelled", reset_fixup_cancelled},
        {"reset_answered_with_copy", reset_answered_with_copy},
    };
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
