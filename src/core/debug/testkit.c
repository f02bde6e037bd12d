/* weft/test.h: each test body as a task on a fresh loop, with a time limit
 * and leak checks (tasks, debug reports, fds, optionally heap bytes).
 *
 * The time limit has two levels: the body task is awaited with a deadline
 * (a body that waits too long is dumped and cancelled, the test fails), and
 * SIGALRM at twice the limit catches a body that blocks the loop so that no
 * deadline can fire: it dumps the tasks and exits the process, which is the
 * only way out of a loop that never gets control back. */
#define _GNU_SOURCE
#include "debug_int.h"
#include "weft/test.h"
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *name;
    weft_fn body;
    void *arg;
    double timeout;
    int result;
    int failed;
} run_ctx;

static __attribute__((format(printf, 2, 3))) void fail(run_ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s: ", c->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    c->failed = 1;
}

static int test_main(void *arg)
{
    run_ctx *c = arg;
    weft_task *t = weft_spawn_named(c->name, c->body, c->arg);
    if (!t) {
        fail(c, "cannot spawn the body: %s", weft_strerror(-errno));
        return 0;
    }
    int r = weft_wait_any(&t, 1, c->timeout);
    if (r == -ETIMEDOUT) {
        fail(c, "timed out after %.3f s; tasks at that moment:", c->timeout);
        weft_dump_tasks(stderr);
        weft_cancel(t);
    }
    c->result = weft_await(t);
    if (r != -ETIMEDOUT && c->result < 0)
        fail(c, "the body returned %d (%s)", c->result, weft_strerror(c->result));
    weft__loop *L = weft__L;
    if (L->live > 1) { /* anyone but us */
        fail(c, "%zu task(s) still alive after the body returned:", L->live - 1);
        weft_dump_tasks(stderr);
    }
    return 0;
}

/* ---- fds --------------------------------------------------------------------- */

typedef struct {
    int *fd;
    size_t n;
} fdset;

static fdset fds_open(void)
{
    fdset s = {NULL, 0};
    size_t cap = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return s;
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        int fd = atoi(e->d_name);
        if (fd == self) continue;
        if (s.n == cap) {
            cap = cap ? cap * 2 : 64;
            int *p = realloc(s.fd, cap * sizeof *p);
            if (!p) break;
            s.fd = p;
        }
        s.fd[s.n++] = fd;
    }
    closedir(d);
    return s;
}

static int fds_has(const fdset *s, int fd)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->fd[i] == fd) return 1;
    return 0;
}

static void fds_compare(run_ctx *c, const fdset *before)
{
    fdset after = fds_open();
    for (size_t i = 0; i < after.n; i++) {
        if (fds_has(before, after.fd[i])) continue;
        char link[64], target[256] = "?";
        snprintf(link, sizeof link, "/proc/self/fd/%d", after.fd[i]);
        ssize_t k = readlink(link, target, sizeof target - 1);
        if (k > 0) target[k] = 0;
        fail(c, "fd %d leaked (%s)", after.fd[i], target);
    }
    free(after.fd);
}

/* ---- the hard limit ----------------------------------------------------------- */

static const char *volatile alarm_test;
#define ALARM_MAX 0x7fffffffu /* seconds: alarm()'s range, kept signed-safe */

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL: the test blocked the loop past its hard time limit: ";
    (void)!write(2, msg, sizeof msg - 1);
    if (alarm_test) (void)!write(2, alarm_test, strlen(alarm_test));
    (void)!write(2, "\n", 1);
    weft_dump_tasks(stderr); /* not async-signal-safe, but we exit next */
    _exit(1);
}

/* ---- running --------------------------------------------------------------------- */

static int run_once(run_ctx *c, const weft_test_options *o)
{
    weft_options wo = {.debug = !o->no_debug, .stack_size = o->stack_size};
    unsigned long leaks = weft__debug_leaks;
    int r = weft_run_with(&wo, test_main, c);
    if (r < 0) fail(c, "cannot run a loop: %s", weft_strerror(r));
    if (weft__debug_leaks != leaks)
        fail(c, "%lu debug report(s) of leaks or misuse (see above)", weft__debug_leaks - leaks);
    return r;
}

int weft_test_run(const char *name, weft_fn body, void *arg, const weft_test_options *opt)
{
    weft_test_options o = {0};
    if (opt) o = *opt;
    if (!(o.timeout_s > 0)) { /* NaN too */
        const char *e = getenv("WEFT_TEST_TIMEOUT");
        o.timeout_s = e && atof(e) > 0 ? atof(e) : 10;
    }
    run_ctx c = {name ? name : "test", body, arg, o.timeout_s, 0, 0};
    if (weft__L) {
        fail(&c, "weft_test_run called inside a loop");
        return 1;
    }
    fdset before = {NULL, 0};
    if (!o.no_fd_check) before = fds_open();
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old);
    alarm_test = c.name;
    /* Clamped: a huge or infinite timeout would overflow the conversion to
     * unsigned (INFINITY became alarm(1)); 2^31 s is "never" anyway. */
    double hard = ceil(2 * o.timeout_s) + 1;
    unsigned old_alarm = alarm(hard < ALARM_MAX ? (unsigned)hard : ALARM_MAX);
    double t0 = weft__clock();

    run_once(&c, &o);
    if (o.check_allocs && !c.failed) {
        struct mallinfo2 a = mallinfo2();
        run_once(&c, &o);
        struct mallinfo2 b = mallinfo2();
        if (b.uordblks > a.uordblks)
            fail(&c, "heap bytes in use grew by %zu over a second run", b.uordblks - a.uordblks);
    }

    alarm(old_alarm);
    sigaction(SIGALRM, &old, NULL);
    alarm_test = NULL;
    if (!o.no_fd_check) {
        fds_compare(&c, &before);
        free(before.fd);
    }
    if (!c.failed) fprintf(stderr, "ok %s (%.3f s)\n", c.name, weft__clock() - t0);
    return c.failed;
}

int weft_test_main(const weft_test_case *cases, size_t n, int argc, char **argv)
{
    int failed = 0, ran = 0;
    for (size_t i = 0; i < n; i++) {
        int pick = argc < 2;
        for (int k = 1; k < argc; k++) pick |= !strcmp(argv[k], cases[i].name);
        if (!pick) continue;
        ran++;
        failed += weft_test_run(cases[i].name, cases[i].body, NULL, NULL);
    }
    fprintf(stderr, "%d test(s), %d failed\n", ran, failed);
    return failed ? 1 : 0;
}
