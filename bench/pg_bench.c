/* P1-P3: PostgreSQL throughput over a pool of connections (the workloads of
 * asyncpg's published benchmark).
 *
 *   bench_pg_bench P1|P2|P3 SECONDS [CONNECTIONS [hold|acquire|shared [TASKS]|loops [N]]]
 *   (DSN: WEFT_PG_DSN)
 *
 * P1: SELECT 1+1.  P2: SELECT * FROM generate_series(1,1000), every value
 * read.  P3: a batch of 1,000 INSERTs (pipelined, one segment).  As many
 * tasks as connections loop for SECONDS. "hold" (the default, the pattern
 * of asyncpg's published benchmark): each task takes a pooled connection
 * once and keeps it. "acquire": each iteration acquires and releases.
 * "shared": TASKS tasks (default 10) all use one connection (queries from
 * tasks sharing a connection are pipelined; P1/P2 only). "loops": held
 * connections as in "hold", over N loops (default 2, one thread each), a
 * pool of CONNECTIONS/N per loop made on that loop (pools belong to one
 * loop), the tasks spread round-robin (issue 12; P1/P2 only).
 * Prints `P1 weft queries_per_s=... rows_per_s=... conns=...` (system
 * `weft-acquire` / `weft-shared` in the other modes). */
#include <weft.h>
#include <weft/pg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static const char *workload, *dsn;
static double seconds, deadline;
static int conns, per_query, tasks;
static weft_pg *shared_conn; /* "shared" mode: every task's connection */
static long queries, rows;
static weft_pg_pool *pool;
static int nloops = 1;               /* "loops" mode: the run's loops */
static weft_pg_pool *pools[64];      /* one per loop */

static int p1(weft_pg *c)
{
    weft_pg_result *r;
    int rc = weft_pg_query_with(c, "SELECT 1+1", NULL, WEFT_PG_BINARY, &r);
    if (rc < 0) return rc;
    int32_t v;
    rc = weft_pg_get_int(r, 0, 0, &v);
    weft_pg_result_free(r);
    if (rc < 0 || v != 2) return rc < 0 ? rc : -1;
    __atomic_fetch_add(&rows, 1, __ATOMIC_RELAXED);
    return 0;
}

static int p2(weft_pg *c)
{
    weft_pg_result *r;
    int rc = weft_pg_query_with(c, "SELECT * FROM generate_series(1,1000)", NULL, WEFT_PG_BINARY,
                              &r);
    if (rc < 0) return rc;
    int n = weft_pg_result_nrows(r);
    int64_t sum = 0;
    for (int i = 0; i < n; i++) {
        int32_t v;
        if ((rc = weft_pg_get_int(r, i, 0, &v)) < 0) break;
        sum += v;
    }
    weft_pg_result_free(r);
    if (rc < 0 || sum != 500500) return rc < 0 ? rc : -1;
    __atomic_fetch_add(&rows, n, __ATOMIC_RELAXED);
    return 0;
}

/* P3: every task has its own batch (a batch holds its results). */
typedef struct worker {
    weft_pg_batch *b;
    weft_pg_pool *pool; /* its loop's */
} worker;

static int work(void *arg)
{
    worker *w = arg;
    weft_pg *c = NULL;
    int rc = 0;
    while (weft_now() < deadline) {
        if (shared_conn) c = shared_conn;
        if (!c && (rc = weft_pg_pool_acquire(w->pool, &c)) < 0) return rc;
        if (!strcmp(workload, "P1")) rc = p1(c);
        else if (!strcmp(workload, "P2")) rc = p2(c);
        else {
            rc = weft_pg_batch_run(c, w->b, 0);
            if (rc >= 0) rows += weft_pg_batch_count(w->b);
        }
        if (per_query || rc < 0) {
            weft_pg_pool_release(w->pool, c);
            c = NULL;
        }
        if (rc < 0) {
            fprintf(stderr, "%s: %s\n", workload, weft_strerror(rc));
            return rc;
        }
        __atomic_fetch_add(&queries, 1, __ATOMIC_RELAXED);
    }
    if (c && !shared_conn) weft_pg_pool_release(w->pool, c);
    return 0;
}

static weft_pg_batch *make_batch(void)
{
    weft_pg_batch *b = weft_pg_batch_new();
    weft_pg_params *p = weft_pg_params_new();
    for (int i = 0; i < 1000; i++) {
        weft_pg_params_clear(p);
        weft_pg_params_bigint(p, i);
        weft_pg_params_text(p, "a row of the batch");
        weft_pg_batch_add(b, "INSERT INTO weft_bench_p3 VALUES ($1, $2)", p);
    }
    weft_pg_params_free(p);
    return b;
}

static double cpu_seconds(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u); /* every thread: the loop and its pool */
    return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
           u.ru_stime.tv_usec / 1e6;
}

/* On loop i: its pool, of its share of the connections. */
static int pool_open(void *arg)
{
    int i = (int)(intptr_t)arg;
    int n = conns / nloops + (i < conns % nloops);
    weft_pg_pool_opts o = {.min_size = n, .max_size = n};
    int rc = weft_pg_pool_new(dsn, &o, &pools[i]);
    if (rc < 0) fprintf(stderr, "pool: %s\n", weft_strerror(rc));
    return rc;
}

static int pool_close(void *arg)
{
    weft_pg_pool_free(pools[(intptr_t)arg]);
    return 0;
}

static int bench_main(void *arg)
{
    for (int i = 0; i < nloops; i++)
        if (weft_call(weft_loop_at(i), pool_open, (void *)(intptr_t)i) < 0) return 1;
    pool = pools[0];
    int rc;
    if (!strcmp(workload, "P3")) {
        weft_pg *c;
        weft_pg_pool_acquire(pool, &c);
        rc = weft_pg_exec(c, "DROP TABLE IF EXISTS weft_bench_p3;"
                             " CREATE UNLOGGED TABLE weft_bench_p3(a int, b text)");
        weft_pg_pool_release(pool, c);
        if (rc < 0) return 1;
    }
    if (tasks && weft_pg_pool_acquire(pool, &shared_conn) < 0) return 1;
    int n = tasks ? tasks : conns;
    worker *w = calloc((size_t)n, sizeof *w);
    weft_task **t = calloc((size_t)n, sizeof *t);
    /* warm up: every connection prepares its statements once */
    deadline = weft_now() + 0.5;
    for (int i = 0; i < n; i++) {
        if (!strcmp(workload, "P3")) w[i].b = make_batch();
        w[i].pool = pools[i % nloops];
        t[i] = weft_spawn_on(weft_loop_at(i % nloops), work, &w[i]);
    }
    if (weft_gather(t, (size_t)n, NULL) < 0) return 1;
    queries = rows = 0;
    double t0 = weft_now(), cpu0 = cpu_seconds();
    deadline = t0 + seconds;
    for (int i = 0; i < n; i++) t[i] = weft_spawn_on(weft_loop_at(i % nloops), work, &w[i]);
    rc = weft_gather(t, (size_t)n, NULL);
    double el = weft_now() - t0, cpu = cpu_seconds() - cpu0;
    if (rc < 0) return 1;
    char sys[32] = "";
    if (per_query) snprintf(sys, sizeof sys, "-acquire");
    else if (tasks) snprintf(sys, sizeof sys, "-shared");
    else if (nloops > 1) snprintf(sys, sizeof sys, "-loops%d", nloops);
    printf("%s weft%s queries_per_s=%.0f rows_per_s=%.0f client_cpu_us_per_query=%.1f conns=%d"
           " tasks=%d seconds=%.1f\n",
           workload, sys, queries / el, rows / el, cpu * 1e6 / queries, tasks ? 1 : conns, n, el);
    if (shared_conn) weft_pg_pool_release(pool, shared_conn);
    for (int i = 0; i < n; i++) weft_pg_batch_free(w[i].b);
    free(w);
    free(t);
    for (int i = 0; i < nloops; i++) weft_call(weft_loop_at(i), pool_close, (void *)(intptr_t)i);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || !getenv("WEFT_PG_DSN")) {
        fprintf(stderr, "usage: WEFT_PG_DSN=... %s P1|P2|P3 SECONDS [CONNECTIONS]\n", argv[0]);
        return 2;
    }
    workload = argv[1];
    seconds = atof(argv[2]);
    conns = argc > 3 ? atoi(argv[3]) : 10;
    per_query = argc > 4 && !strcmp(argv[4], "acquire");
    if (argc > 4 && !strcmp(argv[4], "shared")) {
        tasks = argc > 5 ? atoi(argv[5]) : 10;
        conns = 1;
        if (tasks < 1 || !strcmp(workload, "P3")) return 2; /* a batch is one task's */
    }
    if (argc > 4 && !strcmp(argv[4], "loops")) {
        nloops = argc > 5 ? atoi(argv[5]) : 2;
        if (nloops < 1 || nloops > 64 || nloops > conns || !strcmp(workload, "P3")) return 2;
    }
    dsn = getenv("WEFT_PG_DSN");
    weft_options o = {.loops = nloops};
    return weft_run_with(&o, bench_main, NULL);
}
