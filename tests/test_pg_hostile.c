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
#include <stdint.h>
#include <unistd.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include "pg_env.h"

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

int main(int argc, char **argv)
{
    dsn = pg_env_dsn();
    static const weft_test_case cases[] = {
        {"copy_after_rows", copy_after_rows},
        {"two_copies", two_copies},
    };
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
