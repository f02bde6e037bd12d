/* Many queries in parallel through a connection pool, timed against the
 * same queries one by one on a single connection.
 *
 *   WEFT_PG_DSN='host=127.0.0.1 port=5432 user=u password=p dbname=d' ./pg_parallel [N]
 *
 * Each query asks the server to work for 10 ms (pg_sleep) and return a row:
 * one by one, N queries take N x 10 ms; through a pool of 10 connections
 * they overlap, ten at a time. The code of each query is the same plain
 * sequential C in both cases: only who runs it differs. */
#include <weft.h>
#include <weft/pg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static const char *dsn;
static int n_queries = 100;
static weft_pg_pool *pool;

/* One query: "what is i squared, after 10 ms of server work?" */
static int ask(weft_pg *c, int i)
{
    weft_pg_params *p = weft_pg_params_new();
    weft_pg_params_bigint(p, i);
    weft_pg_result *r = NULL;
    int rc = weft_pg_query(c, "SELECT $1::int * $1::int FROM pg_sleep(0.01)", p, &r);
    weft_pg_params_free(p);
    if (rc < 0) {
        fprintf(stderr, "query %d: %s %s\n", i, weft_strerror(rc), weft_pg_errmsg(c));
        return rc;
    }
    int32_t v = 0;
    rc = weft_pg_get_int(r, 0, 0, &v);
    weft_pg_result_free(r);
    return rc < 0 ? rc : (v == i * i ? 0 : -1);
}

static int ask_pooled(weft_pg *c, void *arg) { return ask(c, (int)(intptr_t)arg); }

/* A task per query; the pool hands each a connection (or makes it wait). */
static int one_task(void *arg) { return weft_pg_pool_run(pool, ask_pooled, arg); }

static int run(void *arg)
{
    weft_pg *c;
    char *err = NULL;
    int rc = weft_pg_connect(dsn, &c, &err);
    if (rc < 0) {
        fprintf(stderr, "connect: %s: %s\n", weft_strerror(rc), err ? err : "");
        free(err);
        return 1;
    }
    double t0 = weft_now();
    for (int i = 0; i < n_queries; i++)
        if (ask(c, i) < 0) return 1;
    double serial = weft_now() - t0;
    weft_pg_free(c);

    weft_pg_pool_opts o = {.min_size = 10, .max_size = 10};
    if ((rc = weft_pg_pool_new(dsn, &o, &pool)) < 0) {
        fprintf(stderr, "pool: %s\n", weft_strerror(rc));
        return 1;
    }
    weft_task **t = malloc(sizeof *t * (size_t)n_queries);
    t0 = weft_now();
    for (int i = 0; i < n_queries; i++) t[i] = weft_spawn(one_task, (void *)(intptr_t)i);
    rc = weft_gather(t, (size_t)n_queries, NULL);
    double parallel = weft_now() - t0;
    free(t);
    weft_pg_pool_free(pool);
    if (rc < 0) return 1;
    printf("%d queries one by one:          %6.3f s\n", n_queries, serial);
    printf("%d queries through a pool of 10: %6.3f s  (%.1fx faster)\n", n_queries, parallel,
           serial / parallel);
    return 0;
}

int main(int argc, char **argv)
{
    dsn = getenv("WEFT_PG_DSN");
    if (!dsn) {
        fprintf(stderr, "set WEFT_PG_DSN (eval \"$(tests/pg_cluster.sh start)\" makes a server)\n");
        return 2;
    }
    if (argc > 1) n_queries = atoi(argv[1]);
    return weft_run(run, NULL);
}
