/* tools/gdb/weft.py: gdb in batch mode runs this program up to a breakpoint
 * reached while tasks are parked (sleep, semaphore, await), then
 * `weft-tasks` must list them and `weft-bt N` show each parked task's own
 * frames; the registers are restored afterwards (`bt` shows main again).
 * With two loops, `weft-tasks` lists both loops' tasks, grouped, and
 * `weft-bt 1:N` shows a task of the other loop's thread. */
#define _GNU_SOURCE
#include "check.h"
#include <weft.h>
#include <unistd.h>

static weft_sem *sem;
static volatile int zero;

static __attribute__((noinline)) int sleeper_body(void *arg)
{
    int r = weft_sleep(30);
    return r + zero;
}
static __attribute__((noinline)) int sem_body(void *arg)
{
    int r = weft_sem_acquire(sem);
    return r + zero;
}
static __attribute__((noinline)) int awaiter_body(void *arg)
{
    int r = weft_await(arg);
    return r + zero;
}

/* gdb stops here. */
__attribute__((noinline)) void gdb_stop_here(void) { __asm__ volatile("" ::: "memory"); }

static int target_main(void *arg)
{
    sem = weft_sem_new(0);
    weft_task *s = weft_spawn_named("sleeper", sleeper_body, NULL);
    weft_task *m = weft_spawn_named("sem-waiter", sem_body, NULL);
    weft_task *w = weft_spawn_named("awaiter", awaiter_body, m);
    weft_sleep(0.01);
    gdb_stop_here();
    weft_cancel(s);
    weft_cancel(w);
    weft_await(s);
    weft_await(w);
    weft_sem_free(sem);
    return 0;
}

static __attribute__((noinline)) int remote_body(void *arg)
{
    int r = weft_sleep(30);
    return r + zero;
}

/* Two loops: a named sleeper on loop 1, main stops on loop 0. */
static int loops_main(void *arg)
{
    weft_task *r = weft_spawn_on(weft_loop_at(1), remote_body, NULL);
    weft_sleep(0.05);
    gdb_stop_here();
    weft_cancel(r);
    weft_await(r);
    return 0;
}

static char *run_gdb(const char *self, const char *script, const char *target, const char *cmds)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "gdb -nx -batch -ex 'set debuginfod enabled off' -ex 'break gdb_stop_here' "
             "-ex run -ex 'source %s' %s --args %s %s 2>&1",
             script, cmds, self, target);
    FILE *p = popen(cmd, "r");
    CHECK(p);
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    size_t k;
    while ((k = fread(out + n, 1, cap - 1 - n, p)) > 0) {
        n += k;
        if (n == cap - 1) out = realloc(out, cap *= 2);
    }
    out[n] = 0;
    pclose(p);
    fputs(out, stderr);
    return out;
}

static void test_gdb(void)
{
    if (system("gdb --version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "SKIP: gdb is not installed (tools/deps.sh test installs it)\n");
        return;
    }
    const char *dir = getenv("WEFT_TEST_DIR");
    char script[1024];
    snprintf(script, sizeof script, "%s/../tools/gdb/weft.py", dir ? dir : "tests");
    char self[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(n > 0);
    self[n] = 0;
    char *out = run_gdb(self, script, "target",
                        "-ex weft-tasks -ex 'weft-bt 2' -ex 'weft-bt 3' -ex 'weft-bt 4' "
                        "-ex 'weft-bt 1' -ex 'weft-bt 99' -ex bt -ex kill");
    if (strstr(out, "ptrace: Operation not permitted")) {
        fprintf(stderr, "SKIP: ptrace is not permitted here\n");
        free(out);
        return;
    }
    CHECK(strstr(out, "4 task(s)"));
    CHECK(strstr(out, "sleeper") && strstr(out, "waits on sleep"));
    CHECK(strstr(out, "sem-waiter") && strstr(out, "waits on semaphore"));
    CHECK(strstr(out, "awaiter") && strstr(out, "waits on task"));
    CHECK(strstr(out, "running (current)"));
    /* each weft-bt shows the task's own body, in order */
    char *a = strstr(out, "in sleeper_body");
    char *b = strstr(out, "in sem_body");
    char *c = strstr(out, "in awaiter_body");
    CHECK(a && b && c && a < b && b < c);
    CHECK(strstr(out, "in weft_sleep"));
    CHECK(strstr(out, "no task 99"));
    /* registers restored: the final plain bt is back in gdb_stop_here */
    char *stop = NULL;
    for (char *p = c; (p = strstr(p, "#0  gdb_stop_here")); p++) stop = p;
    CHECK(stop && strstr(stop, "target_main") && strstr(stop, "weft__task_main"));
    free(out);
}

static void test_gdb_loops(void)
{
    if (system("gdb --version >/dev/null 2>&1") != 0) return; /* said by test_gdb */
    const char *dir = getenv("WEFT_TEST_DIR");
    char script[1024];
    snprintf(script, sizeof script, "%s/../tools/gdb/weft.py", dir ? dir : "tests");
    char self[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(n > 0);
    self[n] = 0;
    char *out = run_gdb(self, script, "loops",
                        "-ex weft-tasks -ex 'weft-tasks here' -ex 'weft-bt 1:1' -ex 'weft-bt 7:1' "
                        "-ex bt -ex kill");
    if (strstr(out, "ptrace: Operation not permitted")) {
        free(out);
        return;
    }
    char *l0 = strstr(out, "loop 0 (thread"), *l1 = strstr(out, "loop 1 (thread");
    CHECK(l0 && l1 && l0 < l1);
    char *remote = strstr(l1, "waits on sleep");
    CHECK(remote);
    CHECK(strstr(out, "task(s) on 2 loops"));
    /* loop 0 holds main and its handle of the task on loop 1 */
    CHECK(strstr(l0, "handle of a task on another loop") < l1);
    /* "here": only loop 0's two records, no grouping */
    char *here = strstr(l1, "task(s) on 2 loops");
    CHECK(here && strstr(here, "2 task(s)\n"));
    CHECK(strstr(out, "in remote_body"));
    CHECK(strstr(out, "no loop 7"));
    char *stop = NULL;
    for (char *p = out; (p = strstr(p, "#0  gdb_stop_here")); p++) stop = p;
    CHECK(stop && strstr(stop, "loops_main"));
    free(out);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "target")) return weft_run(target_main, NULL);
    if (argc > 1 && !strcmp(argv[1], "loops"))
        return weft_run_with(&(weft_options){.loops = 2}, loops_main, NULL);
    static const test_case tests[] = {{"gdb", test_gdb}, {"gdb_loops", test_gdb_loops}, {NULL, NULL}};
    return run_tests(tests, argc, argv);
}
