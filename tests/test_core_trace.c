/* WEFT_TRACE: the file is valid JSON (checked by Python's json module) with
 * run slices, wait slices named after what was waited on, spawn instants and
 * flows, end instants and task names; several loops share one valid file. */
#define _GNU_SOURCE
#include "capture.h"
#include <weft.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static int sleeper(void *arg)
{
    (void)arg;
    return weft_sleep(0.005);
}

static int producer(void *arg)
{
    for (long i = 0; i < 3; i++) weft_queue_put(arg, (void *)i);
    return 0;
}

static int consumer(void *arg)
{
    void *item;
    for (int i = 0; i < 3; i++) weft_queue_get(arg, &item);
    return -EIO;
}

static int trace_main(void *arg)
{
    (void)arg;
    weft_queue *q = weft_queue_new(1);
    weft_task *t[3] = {weft_spawn_named("sleeper", sleeper, NULL),
                       weft_spawn_named("producer", producer, q),
                       weft_spawn_named("consumer", consumer, q)};
    int r[3];
    CHECK_EQ(weft_gather(t, 3, r), -EIO);
    weft_queue_free(q);
    return 0;
}

/* Runs a Python check over the trace; returns its exit status. */
static int py_check(const char *path, const char *code)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c '%s' %s", code, path);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}

static const char *CHECKS =
    "import json,sys\n"
    "ev=json.load(open(sys.argv[1]))\n"
    "names={(e[\"pid\"],e[\"tid\"]):e[\"args\"][\"name\"] for e in ev if e.get(\"name\")==\"thread_name\"}\n"
    "def tid(n): return [k for k,v in names.items() if v.endswith(n)]\n"
    "assert len(tid(\"sleeper\"))==LOOPS and len(tid(\"main\"))==LOOPS, names\n"
    "def has(ph,name,who):\n"
    "  return all(any(e[\"ph\"]==ph and e[\"name\"]==name and (e[\"pid\"],e[\"tid\"])==k for e in ev) for k in tid(who))\n"
    "assert has(\"X\",\"run\",\"sleeper\")\n"
    "assert has(\"X\",\"sleep\",\"sleeper\")\n"
    "assert has(\"X\",\"queue\",\"producer\") or has(\"X\",\"queue\",\"consumer\")\n"
    "assert has(\"X\",\"task\",\"main\")\n"
    "assert has(\"i\",\"spawn\",\"main\") and has(\"s\",\"spawn\",\"main\")\n"
    "assert has(\"f\",\"spawn\",\"sleeper\")\n"
    "ends=[e for e in ev if e[\"name\"]==\"end\" and (e[\"pid\"],e[\"tid\"]) in tid(\"consumer\")]\n"
    "assert ends and ends[0][\"args\"][\"result\"]==-5, ends\n"
    "sl=[e for e in ev if e[\"ph\"]==\"X\" and e[\"name\"]==\"sleep\" and (e[\"pid\"],e[\"tid\"]) in tid(\"sleeper\")]\n"
    "assert all(e[\"dur\"]>=4000 for e in sl), sl\n"
    "assert all(e[\"dur\"]>=0 and e[\"ts\"]>=0 for e in ev if e[\"ph\"]==\"X\")\n"
    "print(\"trace ok:\", len(ev), \"events\")\n";

static void run_checks(const char *path, int loops)
{
    char code[4096];
    snprintf(code, sizeof code, "LOOPS=%d\n%s", loops, CHECKS);
    CHECK_EQ(py_check(path, code), 0);
}

static void test_trace_one_loop(void)
{
    char path[] = "/tmp/weft_trace_XXXXXX.json";
    int fd = mkstemps(path, 5);
    CHECK(fd >= 0);
    close(fd);
    setenv("WEFT_TRACE", path, 1);
    CHECK_EQ(weft_run(trace_main, NULL), 0);
    run_checks(path, 1);
    /* a second and third loop append to the same file, which stays valid */
    CHECK_EQ(weft_run(trace_main, NULL), 0);
    CHECK_EQ(weft_run(trace_main, NULL), 0);
    run_checks(path, 3);
    unsetenv("WEFT_TRACE");
    unlink(path);
}

static int ok_main(void *arg) { (void)arg; return 7; }

static void test_trace_bad_path(void)
{
    setenv("WEFT_TRACE", "/nonexistent-dir/x.json", 1);
    capture_begin();
    CHECK_EQ(weft_run(ok_main, NULL), 7); /* runs fine, just without a trace */
    char *out = capture_end();
    CHECK(strstr(out, "WEFT_TRACE: cannot open '/nonexistent-dir/x.json'"));
    free(out);
    unsetenv("WEFT_TRACE");
}

int main(int argc, char **argv)
{
    unsetenv("WEFT_DEBUG");
    static const test_case tests[] = {{"trace", test_trace_one_loop},
                                      {"bad_path", test_trace_bad_path},
                                      {NULL, NULL}};
    return run_tests(tests, argc, argv);
}
