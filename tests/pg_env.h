/* Shared by the PostgreSQL tests: the server to use. tools/test.sh starts a
 * throwaway cluster and exports WEFT_PG_DSN; run alone, a test starts its
 * own with tests/pg_cluster.sh and stops it at exit. */
#ifndef WEFT_TESTS_PG_ENV_H
#define WEFT_TESTS_PG_ENV_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char pg_env_stop[1024];

static void pg_env_stop_cluster(void)
{
    if (pg_env_stop[0] && system(pg_env_stop) != 0) fprintf(stderr, "pg_env: stop failed\n");
}

/* Starts a cluster with tests/pg_cluster.sh and sets its variables in our
 * environment (overwriting). Returns 0 or -1. */
static int pg_env_start_cluster(int own)
{
    const char *dir = getenv("WEFT_TEST_DIR");
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s/pg_cluster.sh start", dir ? dir : "tests");
    FILE *f = popen(cmd, "r");
    if (!f) return -1;
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        /* export NAME='value' */
        char *eq = strchr(line, '='), *name = line + 7;
        if (strncmp(line, "export ", 7) || !eq) continue;
        *eq = 0;
        char *v = eq + 1;
        size_t n = strlen(v);
        while (n && (v[n - 1] == '\n' || v[n - 1] == '\'')) v[--n] = 0;
        if (*v == '\'') v++;
        setenv(name, v, 1);
        if (own && !strcmp(name, "WEFT_PG_STOP")) snprintf(pg_env_stop, sizeof pg_env_stop, "%s", v);
    }
    if (pclose(f) != 0) return -1;
    if (own) atexit(pg_env_stop_cluster);
    return 0;
}

/* The DSN of the test server, starting one if none is given. */
static const char *pg_env_dsn(void)
{
    if (!getenv("WEFT_PG_DSN") && pg_env_start_cluster(1) < 0) {
        fprintf(stderr, "no PostgreSQL: set WEFT_PG_DSN or install postgresql\n");
        exit(1);
    }
    return getenv("WEFT_PG_DSN");
}
#endif
