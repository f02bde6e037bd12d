/* Shared by the PostgreSQL tests: the server to use. tools/test.sh starts a
 * throwaway cluster and exports WEFT_PG_DSN; run alone, a test starts its
 * own with tests/pg_cluster.sh and stops it at exit. Tests that restart the
 * server start a private cluster (others may be using the shared one). */
#ifndef WEFT_TESTS_PG_ENV_H
#define WEFT_TESTS_PG_ENV_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft/pg.h>
#include "check.h"

typedef struct pg_cluster {
    char dsn[512], restart[1024], stop[1024], sockdir[256];
} pg_cluster;

/* Starts a cluster with tests/pg_cluster.sh. Returns 0 or -1. */
static int pg_cluster_start(pg_cluster *pc)
{
    const char *dir = getenv("WEFT_TEST_DIR");
    char cmd[1024], line[2048];
    snprintf(cmd, sizeof cmd, "%s/pg_cluster.sh start", dir ? dir : "tests");
    memset(pc, 0, sizeof *pc);
    FILE *f = popen(cmd, "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f)) {
        /* export NAME='value' */
        char *eq = strchr(line, '='), *name = line + 7;
        if (strncmp(line, "export ", 7) || !eq) continue;
        *eq = 0;
        char *v = eq + 1;
        size_t n = strlen(v);
        while (n && (v[n - 1] == '\n' || v[n - 1] == '\'')) v[--n] = 0;
        if (*v == '\'') v++;
        if (!strcmp(name, "WEFT_PG_DSN")) snprintf(pc->dsn, sizeof pc->dsn, "%s", v);
        if (!strcmp(name, "WEFT_PG_RESTART")) snprintf(pc->restart, sizeof pc->restart, "%s", v);
        if (!strcmp(name, "WEFT_PG_STOP")) snprintf(pc->stop, sizeof pc->stop, "%s", v);
        if (!strcmp(name, "WEFT_PG_SOCKDIR")) snprintf(pc->sockdir, sizeof pc->sockdir, "%s", v);
    }
    return pclose(f) == 0 && pc->dsn[0] ? 0 : -1;
}

static void pg_cluster_stop(pg_cluster *pc)
{
    if (pc->stop[0] && system(pc->stop) != 0) fprintf(stderr, "pg_env: stop failed\n");
    pc->stop[0] = 0;
}

static pg_cluster pg_env_own;
static void pg_env_stop_own(void) { pg_cluster_stop(&pg_env_own); }

/* The DSN of the test server, starting one if none is given. */
static const char *pg_env_dsn(void)
{
    if (getenv("WEFT_PG_DSN")) return getenv("WEFT_PG_DSN");
    if (pg_cluster_start(&pg_env_own) < 0) {
        fprintf(stderr, "no PostgreSQL: set WEFT_PG_DSN or install postgresql\n");
        exit(1);
    }
    atexit(pg_env_stop_own);
    setenv("WEFT_PG_DSN", pg_env_own.dsn, 1);
    setenv("WEFT_PG_SOCKDIR", pg_env_own.sockdir, 1);
    return pg_env_own.dsn;
}
/* A connection to dsn, or the test fails with libpq's message. */
static inline weft_pg *pg_connect_ok(const char *dsn)
{
    weft_pg *c = NULL;
    char *err = NULL;
    int rc = weft_pg_connect(dsn, &c, &err);
    if (rc < 0) fprintf(stderr, "connect: %s: %s\n", weft_strerror(rc), err ? err : "");
    CHECK_EQ(rc, 0);
    CHECK(c != NULL);
    free(err);
    return c;
}

#endif
