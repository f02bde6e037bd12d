/* PostgreSQL client: connecting, queries, parameters, typed accessors,
 * errors, the statement cache. Against a real server (tests/pg_env.h). */
#include <weft.h>
#include <weft/pg.h>
#include <weft/io.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <malloc.h>
#include <stdlib.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include "pg_env.h"

static const char *dsn;

/* A DSN with one keyword replaced (or added). */
static char *dsn_with(const char *key, const char *value)
{
    static char buf[1024];
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", dsn);
    buf[0] = 0;
    char *save = NULL;
    for (char *kv = strtok_r(tmp, " ", &save); kv; kv = strtok_r(NULL, " ", &save)) {
        if (!strncmp(kv, key, strlen(key)) && kv[strlen(key)] == '=') continue;
        strcat(buf, kv);
        strcat(buf, " ");
    }
    strcat(buf, key);
    strcat(buf, "=");
    strcat(buf, value);
    return buf;
}

/* After a connection, glibc keeps freed result memory: a 512 KiB block
 * comes from the heap, not mmap (its threshold was raised, see
 * src/pg/heap.c), so results freed and made again do not fault their pages
 * back in each time. */
WEFT_TEST(test_heap_kept)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33) && !defined(__SANITIZE_ADDRESS__)
    weft_pg *c = pg_connect_ok(dsn);
    size_t before = mallinfo2().hblks;
    void *volatile p = malloc(512 << 10);
    WEFT_TEST_CHECK(p != NULL);
    CHECK_EQ(mallinfo2().hblks, before);
    free(p);
    weft_pg_free(c);
#endif
    return 0;
}

WEFT_TEST(test_connect_and_select)
{
    weft_pg *c = pg_connect_ok(dsn);
    WEFT_TEST_CHECK(weft_pg_ok(c));
    WEFT_TEST_CHECK(weft_pg_backend_pid(c) > 0);
    WEFT_TEST_CHECK(!weft_pg_tls(c)); /* the test DSN says sslmode=disable */
    weft_pg_result *r = NULL;
    CHECK_EQ(weft_pg_query(c, "SELECT 1+1 AS two", NULL, &r), 1);
    CHECK_EQ(weft_pg_result_nrows(r), 1);
    CHECK_EQ(weft_pg_result_ncols(r), 1);
    WEFT_TEST_CHECK(!strcmp(weft_pg_colname(r, 0), "two"));
    CHECK_EQ(weft_pg_colindex(r, "two"), 0);
    CHECK_EQ(weft_pg_colindex(r, "nope"), -1);
    int32_t v = 0;
    CHECK_EQ(weft_pg_get_int(r, 0, 0, &v), 0);
    CHECK_EQ(v, 2);
    weft_pg_result_free(r);
    weft_pg_free(c);
    return 0;
}

WEFT_TEST(test_tls_when_offered)
{
    /* sslmode=prefer (libpq's default): TLS because the server offers it. */
    weft_pg *c = NULL;
    CHECK_EQ(weft_pg_connect(dsn_with("sslmode", "prefer"), &c, NULL), 0);
    WEFT_TEST_CHECK(weft_pg_tls(c));
    weft_pg_result *r;
    CHECK_EQ(weft_pg_query(c, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", NULL,
                           &r), 1);
    WEFT_TEST_CHECK(!strcmp(weft_pg_get_text(r, 0, 0), "t"));
    weft_pg_result_free(r);
    /* Large replies over TLS: OpenSSL may hold decrypted bytes the socket
     * no longer shows; they must not stall the reader. */
    CHECK_EQ(weft_pg_query(c, "SELECT g, md5(g::text) FROM generate_series(1, 100000) g", NULL,
                           &r), 100000);
    WEFT_TEST_CHECK(!strcmp(weft_pg_get_text(r, 99999, 0), "100000"));
    weft_pg_result_free(r);
    weft_pg_rows *it;
    const weft_pg_result *row;
    CHECK_EQ(weft_pg_query_rows(c, "SELECT repeat('y', 20000) FROM generate_series(1, 300)", NULL,
                                0, &it), 0);
    int n = 0, rc;
    while ((rc = weft_pg_rows_next(it, &row)) == 1) n++;
    CHECK_EQ(rc, 0);
    CHECK_EQ(n, 300);
    weft_pg_rows_close(it);
    weft_pg_free(c);
    return 0;
}

WEFT_TEST(test_host_name_and_unix_socket)
{
    weft_pg *c = NULL;
    char *err = NULL;
    int rc = weft_pg_connect(dsn_with("host", "localhost"), &c, &err);
    if (rc < 0) fprintf(stderr, "%s\n", err);
    CHECK_EQ(rc, 0);
    CHECK_EQ(weft_pg_query(c, "SELECT 1", NULL, NULL), 1);
    weft_pg_free(c);
    const char *sock = getenv("WEFT_PG_SOCKDIR");
    if (sock) {
        CHECK_EQ(weft_pg_connect(dsn_with("host", sock), &c, NULL), 0);
        weft_pg_result *r;
        CHECK_EQ(weft_pg_query(c, "SELECT inet_server_addr() IS NULL", NULL, &r), 1);
        WEFT_TEST_CHECK(!strcmp(weft_pg_get_text(r, 0, 0), "t")); /* no address: a Unix socket */
        weft_pg_result_free(r);
        weft_pg_free(c);
    }
    return 0;
}

WEFT_TEST(test_connect_errors)
{
    weft_pg *c = (weft_pg *)1;
    char *err = NULL;
    CHECK_EQ(weft_pg_connect(dsn_with("password", "wrong"), &c, &err), -WEFT_PG_EAUTH);
    WEFT_TEST_CHECK(c == NULL);
    WEFT_TEST_CHECK(err && strstr(err, "password"));
    free(err);
    CHECK_EQ(weft_pg_connect(dsn_with("dbname", "no_such_db"), &c, &err), -WEFT_PG_ENODB);
    WEFT_TEST_CHECK(err && strstr(err, "no_such_db"));
    free(err);
    CHECK_EQ(weft_pg_connect("host=127.0.0.1 port=1 user=x connect_timeout=5", &c, NULL),
             -WEFT_PG_ECONNECT);
    CHECK_EQ(weft_pg_connect("this is = not a dsn", &c, &err), -EINVAL);
    free(err);
    CHECK_EQ(weft_pg_connect(dsn_with("host", "no-such-host.invalid"), &c, NULL), -WEFT_EDNS);
    CHECK_EQ(weft_pg_connect(NULL, &c, NULL), -EINVAL);
    /* A peer that accepts but never answers: our own deadline ends it
     * (libpq ignores connect_timeout in non-blocking mode). */
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    CHECK_EQ(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_EQ(listen(l, 4), 0);
    CHECK_EQ(getsockname(l, (struct sockaddr *)&a, &alen), 0);
    char silent[128];
    snprintf(silent, sizeof silent, "host=127.0.0.1 port=%d user=x connect_timeout=0.3",
             ntohs(a.sin_port));
    double t0 = weft_now();
    CHECK_EQ(weft_pg_connect(silent, &c, NULL), -ETIMEDOUT);
    CHECK_NEAR(weft_now() - t0, 1.15, 1.1); /* 0.3 s; loaded CI machines stall */
    close(l);
    WEFT_TEST_CHECK(!strcmp(weft_strerror(-WEFT_PG_EAUTH), "PostgreSQL: authentication failed"));
    return 0;
}

WEFT_TEST(test_params_and_types)
{
    weft_pg *c = pg_connect_ok(dsn);
    weft_pg_params *p = weft_pg_params_new();
    weft_pg_params_bigint(p, 40);
    weft_pg_params_text(p, "it's; DROP TABLE x --");
    weft_pg_params_double(p, 2.5);
    weft_pg_params_bool(p, 1);
    weft_pg_params_null(p);
    static const unsigned char bytes[] = {0, 1, 2, 255, '\\', '\''};
    weft_pg_params_bytea(p, bytes, sizeof bytes);
    weft_pg_params_bigint(p, INT64_C(9000000000));
    CHECK_EQ(weft_pg_params_count(p), 7);
    const char *sql = "SELECT $1::int + 2, $2::text, $3::float8 * 2, $4::bool, $5::int, $6::bytea,"
                      " $7::bigint, 12.3400::numeric, '-0.000123'::numeric,"
                      " '2024-02-29 13:14:15.25+02'::timestamptz,"
                      " '1999-12-31 23:59:59'::timestamp, 'Infinity'::float8, 7::int2,"
                      " '123456789012345678901234567890.5'::numeric";
    for (int fmt = 0; fmt < 2; fmt++) {
        weft_pg_result *r = NULL;
        CHECK_EQ(weft_pg_query_with(c, sql, p, fmt ? WEFT_PG_BINARY : 0, &r), 1);
        int32_t i;
        CHECK_EQ(weft_pg_get_int(r, 0, 0, &i), 0);
        CHECK_EQ(i, 42);
        WEFT_TEST_CHECK(!strcmp(weft_pg_get_text(r, 0, 1), "it's; DROP TABLE x --"));
        double d;
        CHECK_EQ(weft_pg_get_double(r, 0, 2, &d), 0);
        CHECK_NEAR(d, 5.0, 1e-12);
        int b;
        CHECK_EQ(weft_pg_get_bool(r, 0, 3, &b), 0);
        CHECK_EQ(b, 1);
        CHECK_EQ(weft_pg_result_isnull(r, 0, 4), 1);
        CHECK_EQ(weft_pg_get_int(r, 0, 4, &i), -WEFT_PG_ENULL);
        WEFT_TEST_CHECK(weft_pg_get_text(r, 0, 4) == NULL);
        const void *data;
        size_t n;
        CHECK_EQ(weft_pg_get_bytea(r, 0, 5, &data, &n), 0);
        CHECK_EQ(n, sizeof bytes);
        WEFT_TEST_CHECK(!memcmp(data, bytes, n));
        int64_t big;
        CHECK_EQ(weft_pg_get_bigint(r, 0, 6, &big), 0);
        CHECK_EQ(big, INT64_C(9000000000));
        CHECK_EQ(weft_pg_get_int(r, 0, 6, &i), -ERANGE);
        const char *num;
        CHECK_EQ(weft_pg_get_numeric(r, 0, 7, &num), 0);
        WEFT_TEST_CHECK(!strcmp(num, "12.3400"));
        CHECK_EQ(weft_pg_get_numeric(r, 0, 8, &num), 0);
        WEFT_TEST_CHECK(!strcmp(num, "-0.000123"));
        CHECK_EQ(weft_pg_get_numeric(r, 0, 13, &num), 0);
        WEFT_TEST_CHECK(!strcmp(num, "123456789012345678901234567890.5"));
        CHECK_EQ(weft_pg_get_double(r, 0, 7, &d), 0);
        CHECK_NEAR(d, 12.34, 1e-9);
        int64_t ts;
        CHECK_EQ(weft_pg_get_timestamp(r, 0, 9, &ts), 0);
        CHECK_EQ(ts, INT64_C(1709205255250000)); /* 2024-02-29 11:14:15.25 UTC */
        CHECK_EQ(weft_pg_get_timestamp(r, 0, 10, &ts), 0);
        CHECK_EQ(ts, INT64_C(946684799000000));
        CHECK_EQ(weft_pg_get_double(r, 0, 11, &d), 0);
        WEFT_TEST_CHECK(isinf(d));
        CHECK_EQ(weft_pg_get_int(r, 0, 12, &i), 0);
        CHECK_EQ(i, 7);
        /* wrong type, out of range */
        CHECK_EQ(weft_pg_get_int(r, 0, 1, &i), -WEFT_PG_ETYPE);
        CHECK_EQ(weft_pg_get_bool(r, 0, 0, &b), -WEFT_PG_ETYPE);
        CHECK_EQ(weft_pg_get_timestamp(r, 0, 0, &ts), -WEFT_PG_ETYPE);
        CHECK_EQ(weft_pg_get_int(r, 1, 0, &i), -EINVAL);
        CHECK_EQ(weft_pg_get_int(r, 0, 99, &i), -EINVAL);
        CHECK_EQ(weft_pg_result_isnull(r, -1, 0), -EINVAL);
        weft_pg_result_free(r);
    }
    weft_pg_params_free(p);
    weft_pg_free(c);
    return 0;
}

WEFT_TEST(test_server_errors)
{
    weft_pg *c = pg_connect_ok(dsn);
    CHECK_EQ(weft_pg_query(c, "SELEC 1", NULL, NULL), -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(!strcmp(weft_pg_sqlstate(c), "42601"));
    WEFT_TEST_CHECK(strstr(weft_pg_errmsg(c), "syntax error"));
    CHECK_EQ(weft_pg_query(c, "SELECT 1/0", NULL, NULL), -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(!strcmp(weft_pg_sqlstate(c), "22012"));
    /* Still usable, and the error is cleared by the next success. */
    CHECK_EQ(weft_pg_query(c, "SELECT 1", NULL, NULL), 1);
    WEFT_TEST_CHECK(!strcmp(weft_pg_sqlstate(c), ""));
    /* Wrong parameter count: the server says so. */
    weft_pg_params *p = weft_pg_params_new();
    weft_pg_params_bigint(p, 1);
    CHECK_EQ(weft_pg_query(c, "SELECT $1::int, $2::int", p, NULL), -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(!strcmp(weft_pg_sqlstate(c), "08P01"));
    weft_pg_params_text(p, "not a number");
    CHECK_EQ(weft_pg_query(c, "SELECT $1::int, $2::int", p, NULL), -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(!strcmp(weft_pg_sqlstate(c), "22P02"));
    weft_pg_params_free(p);
    CHECK_EQ(weft_pg_query(c, NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(weft_pg_query(NULL, "SELECT 1", NULL, NULL), -EINVAL);
    /* Multi-statement scripts go through weft_pg_exec. */
    CHECK_EQ(weft_pg_exec(c, "CREATE TEMP TABLE e(x int); INSERT INTO e VALUES (1),(2)"), 2);
    CHECK_EQ(weft_pg_exec(c, "INSERT INTO e VALUES ('x')"), -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(!strcmp(weft_pg_sqlstate(c), "22P02"));
    weft_pg_free(c);
    return 0;
}

WEFT_TEST(test_statement_cache)
{
    weft_pg *c = pg_connect_ok(dsn);
    CHECK_EQ(weft_pg_prepare(c, "SELECT $1::int * $2::int"), 2);
    weft_pg_params *p = weft_pg_params_new();
    for (int i = 0; i < 50; i++) {
        weft_pg_params_clear(p);
        weft_pg_params_bigint(p, i);
        weft_pg_params_bigint(p, 3);
        weft_pg_result *r;
        CHECK_EQ(weft_pg_query(c, "SELECT $1::int * $2::int", p, &r), 1);
        int32_t v;
        CHECK_EQ(weft_pg_get_int(r, 0, 0, &v), 0);
        CHECK_EQ(v, 3 * i);
        weft_pg_result_free(r);
    }
    weft_pg_result *r;
    CHECK_EQ(weft_pg_query(c, "SELECT count(*) FROM pg_prepared_statements", NULL, &r), 1);
    int64_t n;
    CHECK_EQ(weft_pg_get_bigint(r, 0, 0, &n), 0);
    CHECK_EQ(n, 2); /* the multiply and this count: each prepared once */
    weft_pg_result_free(r);
    /* A statement that fails to prepare is not cached: fixing the table
     * makes the same text work. */
    CHECK_EQ(weft_pg_query(c, "SELECT x FROM later", NULL, NULL), -WEFT_PG_ESERVER);
    WEFT_TEST_CHECK(!strcmp(weft_pg_sqlstate(c), "42P01"));
    CHECK_EQ(weft_pg_exec(c, "CREATE TEMP TABLE later(x int); INSERT INTO later VALUES (5)"), 1);
    CHECK_EQ(weft_pg_query(c, "SELECT x FROM later", NULL, NULL), 1);
    /* More distinct statements than the cache holds still run. */
    char sql[64];
    for (int i = 0; i < 300; i++) {
        snprintf(sql, sizeof sql, "SELECT %d", i);
        CHECK_EQ(weft_pg_query(c, sql, NULL, NULL), 1);
    }
    CHECK_EQ(weft_pg_query_with(c, "SELECT 'nocache'", NULL, WEFT_PG_NOCACHE, NULL), 1);
    weft_pg_params_free(p);
    weft_pg_free(c);
    return 0;
}

static ssize_t no_source(void *arg, const char **data) { return 0; }
static int no_sink(void *arg, const char *data, size_t n) { return 0; }

WEFT_TEST(test_bad_input)
{
    weft_pg *c = pg_connect_ok(dsn);
    weft_pg_params *p = weft_pg_params_new();
    CHECK_EQ(weft_pg_params_bytea(p, NULL, 3), -EINVAL);
    CHECK_EQ(weft_pg_params_count(p), 0);
    CHECK_EQ(weft_pg_params_text(NULL, "x"), -EINVAL);
    CHECK_EQ(weft_pg_exec(c, NULL), -EINVAL);
    CHECK_EQ(weft_pg_prepare(c, NULL), -EINVAL);
    CHECK_EQ(weft_pg_copy_in(c, "COPY x FROM STDIN", NULL, NULL), -EINVAL);
    CHECK_EQ(weft_pg_copy_out(c, NULL, no_sink, NULL), -EINVAL);
    CHECK_EQ(weft_pg_copy_in(NULL, "COPY x FROM STDIN", no_source, NULL), -EINVAL);
    CHECK_EQ(weft_pg_listen(c, NULL), -EINVAL);
    CHECK_EQ(weft_pg_notify_wait(c, "x", NULL), -EINVAL);
    CHECK_EQ(weft_pg_transaction(c, NULL, NULL), -EINVAL);
    weft_pg_rows *it = (weft_pg_rows *)1;
    CHECK_EQ(weft_pg_query_rows(c, NULL, NULL, 0, &it), -EINVAL);
    WEFT_TEST_CHECK(it == NULL);
    weft_pg_batch *b = weft_pg_batch_new();
    CHECK_EQ(weft_pg_batch_add(b, NULL, NULL), -EINVAL);
    CHECK_EQ(weft_pg_batch_count(b), 0);
    CHECK_EQ(weft_pg_batch_run(c, b, 0), 0); /* empty: nothing to do */
    CHECK_EQ(weft_pg_batch_run(NULL, b, 0), -EINVAL);
    weft_pg_batch_free(b);
    weft_pg_pool *pool = (weft_pg_pool *)1;
    CHECK_EQ(weft_pg_pool_new(NULL, NULL, &pool), -EINVAL);
    CHECK_EQ(weft_pg_pool_acquire(NULL, (weft_pg **)&it), -EINVAL);
    weft_pg_pool_release(NULL, c); /* no-op */
    /* more parameters than the protocol allows: refused before sending,
     * the connection (and a batch around it) unharmed */
    weft_pg_params *many = weft_pg_params_new();
    for (int i = 0; i < 70000; i++) weft_pg_params_bigint(many, i);
    CHECK_EQ(weft_pg_query(c, "SELECT $1::int", many, NULL), -EINVAL);
    WEFT_TEST_CHECK(*weft_pg_errmsg(c));
    CHECK_EQ(weft_pg_query(c, "SELECT 1", NULL, NULL), 1);
    b = weft_pg_batch_new();
    CHECK_EQ(weft_pg_batch_add(b, "SELECT 2", NULL), 0);
    CHECK_EQ(weft_pg_batch_add(b, "SELECT $1::int", many), 0);
    CHECK_EQ(weft_pg_batch_run(c, b, 0), -EINVAL);
    CHECK_EQ(weft_pg_query(c, "SELECT 3", NULL, NULL), 1);
    weft_pg_batch_free(b);
    weft_pg_params_free(many);
    /* a NUL-free but hostile channel name is quoted, not pasted */
    CHECK_EQ(weft_pg_listen(c, "a\"; DROP TABLE x; --"), 0);
    CHECK_EQ(weft_pg_query(c, "SELECT 1", NULL, NULL), 1);
    weft_pg_params_free(p);
    weft_pg_free(NULL);
    weft_pg_result_free(NULL);
    weft_pg_params_free(NULL);
    weft_pg_batch_free(NULL);
    weft_pg_pool_free(NULL);
    weft_pg_rows_close(NULL);
    weft_pg_notify_free(NULL);
    WEFT_TEST_CHECK(weft_pg_get_text(NULL, 0, 0) == NULL);
    CHECK_EQ(weft_pg_result_nrows(NULL), 0);
    weft_pg_free(c);
    return 0;
}

/* Debug mode reports a connection never freed, naming it. */
static weft_pg *leaked;
static int leak_one(void *arg)
{
    leaked = pg_connect_ok(dsn);
    return 0;
}

static void test_debug_reports_unfreed(void)
{
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    dup2(fileno(tmp), 2);
    weft_options o = {.debug = 1};
    int rc = weft_run_with(&o, leak_one, NULL);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    CHECK_EQ(rc, 0);
    char buf[4096] = "";
    rewind(tmp);
    size_t n = fread(buf, 1, sizeof buf - 1, tmp);
    buf[n] = 0;
    fclose(tmp);
    CHECK(strstr(buf, "pg connection") != NULL);
    weft_pg_free(leaked); /* after the loop: plain frees, for the leak checker */
}

int main(int argc, char **argv)
{
    dsn = pg_env_dsn();
    static const weft_test_case cases[] = {
        {"connect_and_select", test_connect_and_select},
        {"heap_kept", test_heap_kept},
        {"tls_when_offered", test_tls_when_offered},
        {"host_name_and_unix_socket", test_host_name_and_unix_socket},
        {"connect_errors", test_connect_errors},
        {"params_and_types", test_params_and_types},
        {"server_errors", test_server_errors},
        {"statement_cache", test_statement_cache},
        {"bad_input", test_bad_input},
    };
    /* it leaks a connection on purpose to read debug mode's report: a plain
     * weft_run, since weft_test_run would fail it for that very leak */
    static const test_case plain[] = {
        {"debug_reports_unfreed", test_debug_reports_unfreed},
        {NULL, NULL},
    };
    return RUN_CASES_THEN_PLAIN(cases, plain, argc, argv);
}
