/* docs/guide.md's PostgreSQL example (examples/guide_pg.c) runs against a
 * real server and prints what the guide says it prints; in debug mode it
 * has nothing to report. (test_debug_guide checks the block matches.) */
#define _GNU_SOURCE
#include "check.h"
#include "pg_env.h"
#include <sys/wait.h>

static char *run(const char *cmd, int *rc)
{
    char full[4096];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    CHECK(p);
    static char out[1 << 16];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    int st = pclose(p);
    *rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    fprintf(stderr, "$ %s\n%s", cmd, out);
    return out;
}

static char cmd[2048];

static void t_example(void)
{
    static const char *const expect[] = {
        "server NOTICE: table ready", "inserted 3 rows", "event 2: click at 1700000060",
        "count in a repeatable-read transaction: 3", "parameter 1 is OID 1184; column 2 is 'kind'",
        "copied 1000 rows in", "read 1000 rows back, ids summing to 599500",
        "pool: 1 open, 1 idle, 1 acquires", NULL};
    int rc;
    char *out = run(cmd, &rc);
    CHECK_EQ(rc, 0);
    for (const char *const *e = expect; *e; e++)
        if (!strstr(out, *e)) {
            fprintf(stderr, "guide_pg: expected '%s'\n", *e);
            CHECK(0);
        }
    char dbg[2100];
    snprintf(dbg, sizeof dbg, "WEFT_DEBUG=1 %s", cmd);
    out = run(dbg, &rc);
    CHECK_EQ(rc, 0);
    CHECK(!strstr(out, "weft: ") || strstr(out, "without waiting")); /* a loaded machine's slow task */
}

int main(int argc, char **argv)
{
    const char *b = getenv("WEFT_BUILD_DIR");
    pg_env_dsn(); /* exported as WEFT_PG_DSN for the example */
    unsetenv("WEFT_DEBUG");
    unsetenv("WEFT_TRACE");
    snprintf(cmd, sizeof cmd, "%s/examples/guide_pg", b ? b : "build");
    static const test_case tests[] = {{"example", t_example}, {NULL, NULL}};
    return run_tests(tests, argc, argv);
}
