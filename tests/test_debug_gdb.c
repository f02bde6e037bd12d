/* tools/gdb/weft.py: gdb in batch mode runs this program up to a breakpoint
 * reached while tasks are parked (sleep, semaphore, await), then
 * `weft-tasks` must list them and `weft-bt N` show each parked task's own
 * frames; the registers are restored afterwards (`bt` shows main again). */
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

static char *run_gdb(const char *self, const char *script)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "gdb -nx -batch -ex 'set debuginfod enabled off' -ex 'break gdb_stop_here' "
             "-ex run -ex 'source %s' %s --args %s target 2>&1",
             script, "-ex weft-tasks -ex 'weft-bt 2' -ex 'weft-bt 3' -ex 'weft-bt 4' "
                     "-ex 'weft-bt 1' -ex 'weft-bt 99' -ex bt -ex kill",
             self);
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
    char *out = run_gdb(self, script);
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

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "target")) return weft_run(target_main, NULL);
    static const test_case tests[] = {{"gdb", test_gdb}, {NULL, NULL}};
    return run_tests(tests, argc, argv);
}
