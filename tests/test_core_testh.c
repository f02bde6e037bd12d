/* weft/test.h: passing bodies pass; each kind of leak or failure (body error,
 * task left alive, fd left open, tracked resource left open, never-awaited
 * task, timeout, heap growth, a body blocking the loop) fails with a clear
 * message. The passing cases at the end run through WEFT_TEST_MAIN's
 * machinery (weft_test_main), as a user's ctest program would. */
#define _GNU_SOURCE
#include "capture.h"
#include <weft/test.h>
#include <errno.h>
#include <sys/wait.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static int child(void *arg) { return weft_sleep(0.001) + (int)(long)arg; }

WEFT_TEST(good)
{
    weft_task *t[4];
    for (int i = 0; i < 4; i++) t[i] = weft_spawn(child, NULL);
    int r[4];
    WEFT_TEST_CHECK(weft_gather(t, 4, r) == 0);
    weft_queue *q = weft_queue_new(0);
    weft_queue_free(q);
    return 0;
}

WEFT_TEST(returns_error) { return -EIO; }
WEFT_TEST(check_fails) { WEFT_TEST_CHECK(1 + 1 == 3); return 0; }

WEFT_TEST(leaks_task)
{
    weft_detach(weft_spawn_named("lingering", child, NULL));
    return 0;
}

WEFT_TEST(never_awaits)
{
    weft_spawn_named("orphan", child, NULL);
    return weft_sleep(0.01);
}

static int leaked_pipe[2];
WEFT_TEST(leaks_fd) { return pipe(leaked_pipe); }

WEFT_TEST(leaks_resource)
{
    static int widget;
    WEFT_DEBUG_TRACK(&widget, "widget");
    return 0;
}

WEFT_TEST(too_slow) { return weft_sleep(30); }

static void *leaked_mem;
__attribute__((unused)) WEFT_TEST(leaks_memory)
{
    void *p = malloc(100000);
    memset(p, 1, 100000);
    void **n = malloc(1000); /* a new one each run, chained for the final free */
    *n = leaked_mem;
    leaked_mem = n;
    free(p);
    return 0;
}

WEFT_TEST(no_leak_memory)
{
    void *p = malloc(100000);
    memset(p, 1, 100000);
    free(p);
    return 0;
}

WEFT_TEST(blocks_loop)
{
    sleep(30); /* never gives the loop back: only the hard limit ends this */
    return 0;
}

/* Runs one case, returns its result and what it printed (malloc'd). */
static int run_case(const char *name, weft_fn fn, const weft_test_options *o, char **out)
{
    capture_begin();
    int r = weft_test_run(name, fn, NULL, o);
    *out = capture_end();
    return r;
}

static void expect_fail(const char *name, weft_fn fn, const weft_test_options *o,
                        const char *msg)
{
    char *out;
    CHECK_EQ(run_case(name, fn, o, &out), 1);
    char want[256];
    snprintf(want, sizeof want, "FAIL %s: ", name);
    CHECK(strstr(out, want));
    if (!strstr(out, msg)) {
        fprintf(stderr, "expected '%s' in the output above\n", msg);
        CHECK(0);
    }
    free(out);
}

static void test_passes(void)
{
    char *out;
    CHECK_EQ(run_case("good", good, NULL, &out), 0);
    CHECK(strstr(out, "ok good ("));
    free(out);
}

static void test_failures(void)
{
    expect_fail("returns_error", returns_error, NULL, "the body returned -5");
    expect_fail("check_fails", check_fails, NULL, "WEFT_TEST_CHECK(1 + 1 == 3) failed");
    expect_fail("leaks_task", leaks_task, NULL, "1 task(s) still alive");
    expect_fail("leaks_task", leaks_task, NULL, "'lingering'");
    expect_fail("never_awaits", never_awaits, NULL, "task 'orphan'");
    expect_fail("leaks_fd", leaks_fd, NULL, "leaked (pipe:");
    close(leaked_pipe[0]);
    close(leaked_pipe[1]);
    expect_fail("leaks_resource", leaks_resource, NULL, "widget");
    weft_test_options quick = {.timeout_s = 0.1};
    double t0 = weft_now();
    expect_fail("too_slow", too_slow, &quick, "timed out after 0.100 s");
    CHECK(weft_now() - t0 < 5);
}

static void test_fd_check_off(void)
{
    char *out;
    weft_test_options o = {.no_fd_check = 1};
    CHECK_EQ(run_case("leaks_fd", leaks_fd, &o, &out), 0);
    free(out);
    close(leaked_pipe[0]);
    close(leaked_pipe[1]);
}

static void test_allocs(void)
{
    weft_test_options o = {.check_allocs = 1};
    char *out;
    CHECK_EQ(run_case("no_leak_memory", no_leak_memory, &o, &out), 0);
    free(out);
#ifndef UNDER_ASAN /* ASan's allocator does not feed mallinfo2 */
    expect_fail("leaks_memory", leaks_memory, &o, "heap bytes in use grew");
#endif
    while (leaked_mem) {
        void *next = *(void **)leaked_mem;
        free(leaked_mem);
        leaked_mem = next;
    }
}

static void test_hard_limit(void)
{
    /* In a child: the hard limit ends the process. */
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        weft_test_options o = {.timeout_s = 0.2};
        weft_test_run("blocks_loop", blocks_loop, NULL, &o);
        _exit(0); /* not reached */
    }
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
}

static void test_main_runner(void)
{
    static const weft_test_case cases[] = {WEFT_TEST_CASE(good), WEFT_TEST_CASE(no_leak_memory),
                                           WEFT_TEST_CASE(returns_error)};
    char *argv_pass[] = {"prog", "good", "no_leak_memory", NULL};
    CHECK_EQ(weft_test_main(cases, 3, 3, argv_pass), 0);
    char *argv_all[] = {"prog", NULL};
    capture_begin();
    CHECK_EQ(weft_test_main(cases, 3, 1, argv_all), 1);
    char *out = capture_end();
    CHECK(strstr(out, "3 test(s), 1 failed"));
    free(out);
}

int main(int argc, char **argv)
{
    unsetenv("WEFT_DEBUG");
    static const test_case tests[] = {
        {"passes", test_passes},       {"failures", test_failures},
        {"fd_check_off", test_fd_check_off}, {"allocs", test_allocs},
        {"hard_limit", test_hard_limit}, {"main_runner", test_main_runner},
        {NULL, NULL}};
    return run_tests(tests, argc, argv);
}
