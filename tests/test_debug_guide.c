/* docs/guide.md: every code block is still its examples/guide_*.c file, and
 * every one of those programs runs and shows what the guide says it shows
 * (timings only loosely: the machine may be loaded). The fetch example is
 * also traced with WEFT_TRACE and the file parsed as JSON. */
#define _GNU_SOURCE
#include "check.h"
#include <sys/wait.h>
#include <unistd.h>

static char dir[1024], src[1024];

/* Runs cmd (through sh, stderr merged), returns its output; *rc gets the
 * exit status. */
static char *run(const char *cmd, int *rc)
{
    char full[4096];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    CHECK(p);
    size_t cap = 1 << 16, n = 0, k;
    char *out = malloc(cap);
    while ((k = fread(out + n, 1, cap - 1 - n, p)) > 0) {
        n += k;
        if (n == cap - 1) out = realloc(out, cap *= 2);
    }
    out[n] = 0;
    int st = pclose(p);
    *rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    fprintf(stderr, "$ %s\n%s", cmd, out);
    return out;
}

static void example(const char *name, const char *env, const char *const *expect)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s/guide_%s", env ? env : "", dir, name);
    int rc;
    char *out = run(cmd, &rc);
    CHECK_EQ(rc, 0);
    for (; *expect; expect++)
        if (!strstr(out, *expect)) {
            fprintf(stderr, "guide_%s: expected '%s' in its output\n", name, *expect);
            CHECK(0);
        }
    free(out);
}

static void test_blocks_match_files(void)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tools/guide_sync.py --check %s", src, src);
    int rc;
    free(run(cmd, &rc));
    CHECK_EQ(rc, 0);
}

static void test_programs(void)
{
    example("hello", NULL, (const char *const[]){"hello\nworld\n", NULL});
    example("tasks", NULL, (const char *const[]){"hello\nworld\nfinished in 0.", NULL});
    example("gather", NULL, (const char *const[]){"results: 2 6 24", NULL});
    example("semaphore", NULL, (const char *const[]){"at most 4 at once", NULL});
    example("shield", NULL,
            (const char *const[]){"plain   : rollback cancelled", "shielded: rollback sent",
                                  "reached the server: 1 of 2", NULL});
    example("frontier", NULL, (const char *const[]){"visited 121 pages, depth 0 to 4", NULL});
    example("request_ids", NULL,
            (const char *const[]){"[req-1] request received", "[req-2] audit written",
                                  "[req-1] checksum computed on a worker thread",
                                  "[req-2] response sent", "[-] server idle", NULL});
    example("subprocess", NULL,
            (const char *const[]){"sort exited 0: apple\nfig\npear\n", "(timed out)",
                                  "compiling\nwarning: slow disk\n", "killed: status 143", NULL});
    example("fetch", NULL, (const char *const[]){"20 fetches in", "150 bytes", "error: none", NULL});
    example("forms", NULL, (const char *const[]){"you sent: session=ada-42", "saved 1 cookie(s): ok", NULL});
    /* it leaks a queue on purpose: keep LeakSanitizer (make asan) quiet */
    example("pitfalls", "ASAN_OPTIONS=detect_leaks=0",
            (const char *const[]){"task 'sleepy'", "without waiting", "task 'forgotten'",
                                  "was never awaited", "nobody read the error",
                                  "Connection reset by peer", "task 'consumer'",
                                  "queue created at", "was never closed", "blocking mode",
                                  "deadlock", "outside a task", NULL});
    example("dump", NULL,
            (const char *const[]){"'holder': waiting, waits on sleep", "holder+",
                                  "'contender': waiting, waits on lock", "contender+",
                                  "guide_dump.c:", NULL});
    example("testing", NULL,
            (const char *const[]){"ok queue_delivers_in_order", "ok wait_for_times_out",
                                  "2 test(s), 0 failed", NULL});
    /* debug mode finds nothing to say about the clean ones */
    const char *clean[] = {"hello", "tasks", "gather", "semaphore", "subprocess", "fetch", "forms"};
    for (size_t i = 0; i < sizeof clean / sizeof *clean; i++) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "WEFT_DEBUG=1 %s/guide_%s >/dev/null", dir, clean[i]);
        int rc;
        char *out = run(cmd, &rc);
        CHECK_EQ(rc, 0);
        /* Slow-task reports measure wall time: a loaded machine that
         * preempts the loop can cause one. Anything else is a finding. */
        for (char *l = out; (l = strstr(l, "weft: ")); l++) {
            char *end = strchr(l, '\n');
            if (end) *end = 0;
            CHECK(strstr(l, "without waiting"));
            if (end) *end = '\n';
        }
        free(out);
    }
}

static void test_trace_fetch(void)
{
    char path[] = "/tmp/weft_guide_XXXXXX.json";
    int fd = mkstemps(path, 5);
    CHECK(fd >= 0);
    close(fd);
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "WEFT_TRACE=%s %s/guide_fetch && /usr/bin/python3 -c 'import json,sys; "
             "ev=json.load(open(sys.argv[1])); "
             "n=[e[\"args\"][\"name\"] for e in ev if e.get(\"name\")==\"thread_name\"]; "
             "assert sum(x.endswith(\" fetch\") for x in n)==20, n; "
             "assert any(e[\"ph\"]==\"X\" and e[\"name\"]==\"fd\" for e in ev); "
             "print(\"trace ok\", len(ev))' %s",
             path, dir, path);
    int rc;
    char *out = run(cmd, &rc);
    CHECK_EQ(rc, 0);
    CHECK(strstr(out, "trace ok"));
    free(out);
    unlink(path);
}

int main(int argc, char **argv)
{
    const char *b = getenv("WEFT_BUILD_DIR"), *t = getenv("WEFT_TEST_DIR");
    snprintf(dir, sizeof dir, "%s/examples", b ? b : "build");
    snprintf(src, sizeof src, "%s/..", t ? t : "tests");
    unsetenv("WEFT_DEBUG");
    unsetenv("WEFT_TRACE");
    static const test_case tests[] = {{"blocks_match_files", test_blocks_match_files},
                                      {"programs", test_programs},
                                      {"trace_fetch", test_trace_fetch},
                                      {NULL, NULL}};
    return run_tests(tests, argc, argv);
}
