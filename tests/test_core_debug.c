/* Debug mode: slow tasks, never-awaited tasks, unread errors, pending tasks
 * at main's end, the resource registry, blocking fds, task dumps (with
 * backtraces of parked tasks) and SIGUSR1. Reports are captured by pointing
 * stderr at a temporary file. */
#define _GNU_SOURCE
#include "capture.h"
#include <weft.h>
#include <weft/debug.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static int run_debug(weft_fn fn, void *arg, int debug)
{
    weft_options o = {.debug = debug};
    return weft_run_with(&o, fn, arg);
}

/* ---- slow task ---------------------------------------------------------- */

/* Far past slow_task_s (0.1 s): the watchdog thread, waking every 0.05 s,
 * has 0.9 s to sample the run even when a loaded machine starves it (with
 * 0.3 s it missed the run once in 8 ASan suites on a loaded machine). */
#define SLOW_RUN_S 1.0

static int blocker(void *arg)
{
    (void)arg;
    usleep((useconds_t)(SLOW_RUN_S * 1e6)); /* the tutorial's time.sleep in a task */
    return 0;
}

static int spinner(void *arg)
{
    (void)arg;
    double t0 = weft_now();
    struct timespec ts;
    do clock_gettime(CLOCK_MONOTONIC, &ts);
    while ((double)ts.tv_sec + ts.tv_nsec * 1e-9 - t0 < SLOW_RUN_S);
    return 0;
}

static int slow_main(void *arg)
{
    weft_task *t = weft_spawn_named(arg ? "spinner" : "blocker", arg ? spinner : blocker, NULL);
    return weft_await(t);
}

static void test_slow_task(void)
{
    capture_begin();
    CHECK_EQ(run_debug(slow_main, NULL, 1), 0);
    char *out = capture_end();
    CHECK(strstr(out, "task 'blocker'"));
    CHECK(strstr(out, "test_core_debug.c:"));
    CHECK(strstr(out, "without waiting"));
    double ran = 0;
    CHECK(strstr(out, " ran ") && sscanf(strstr(out, " ran ") + 5, "%lf", &ran) == 1);
    CHECK(ran >= SLOW_RUN_S - 0.01);
#ifdef __x86_64__ /* the aarch64 suite runs under qemu-user, whose /proc shows the host */
    /* the watchdog saw where: in a sleep system call, called from blocker */
    CHECK(strstr(out, "blocked in the system call") && strstr(out, "nanosleep"));
    CHECK(strstr(out, "blocker+"));
#endif
    free(out);
    /* a computing task: reported too, as computing */
    capture_begin();
    CHECK_EQ(run_debug(slow_main, (void *)1, 1), 0);
    out = capture_end();
    CHECK(strstr(out, "task 'spinner'") && strstr(out, "without waiting"));
#ifdef __x86_64__
    CHECK(strstr(out, "it was computing"));
#endif
    free(out);
    /* Off: the same program reports nothing. */
    capture_begin();
    CHECK_EQ(run_debug(slow_main, NULL, 0), 0);
    out = capture_end();
    CHECK_EQ(strlen(out), 0);
    free(out);
}

/* ---- never awaited, unread errors, pending at main's end --------------- */

static int ok_body(void *arg) { (void)arg; return 0; }
static int fail_body(void *arg) { (void)arg; return -EIO; }

static weft_queue *leaked_q;
static int getter(void *arg)
{
    void *item;
    return weft_queue_get(arg, &item);
}

static int sloppy_main(void *arg)
{
    (void)arg;
    weft_spawn_named("forgotten", ok_body, NULL);
    weft_spawn_named("failing", fail_body, NULL);
    leaked_q = weft_queue_new(0);
    weft_spawn_named("stuck-getter", getter, leaked_q);
    weft_task *d = weft_spawn(ok_body, NULL);
    weft_detach(d); /* detached: never reported */
    weft_task *a = weft_spawn_named("awaited", ok_body, NULL);
    CHECK_EQ(weft_await(a), 0);
    weft_sleep(0.01);
    return 0;
}

static void test_never_awaited(void)
{
    capture_begin();
    CHECK_EQ(run_debug(sloppy_main, NULL, 1), 0);
    char *out = capture_end();
    CHECK(strstr(out, "task 'forgotten'") && strstr(out, "was never awaited"));
    CHECK(strstr(out, "task 'failing'") && strstr(out, "nobody read the error"));
    CHECK(strstr(out, "Input/output error"));
    CHECK(strstr(out, "task 'stuck-getter'") && strstr(out, "still pending when main returned"));
    CHECK(strstr(out, "waiting on queue"));
    CHECK(strstr(out, "queue") && strstr(out, "was never closed"));
    CHECK(!strstr(out, "'awaited'"));
    /* stuck-getter is reported once, not again as never awaited */
    char *first = strstr(out, "'stuck-getter'");
    CHECK(!strstr(first + 1, "'stuck-getter'"));
    free(out);
    weft_queue_free(leaked_q);
}

/* ---- the registry --------------------------------------------------------- */

/* A library constructor: tracks its object at its caller's address. */
static __attribute__((noinline)) void *make_thing(void)
{
    static int thing;
    weft_debug_track_at(&thing, "thing", WEFT_DEBUG_CALLER);
    return &thing;
}

static __attribute__((noinline)) int registry_main(void *arg)
{
    static int a, b;
    (void)arg;
    make_thing();
    CHECK(weft_debug_enabled());
    WEFT_DEBUG_TRACK(&a, "widget");
    WEFT_DEBUG_TRACK(&b, "gadget");
    weft_debug_untrack(&b);
    weft_debug_untrack(NULL);  /* ignored */
    weft_debug_untrack(&arg); /* unknown: ignored */
    return 0;
}

static void test_registry(void)
{
    capture_begin();
    CHECK_EQ(run_debug(registry_main, NULL, 1), 0);
    char *out = capture_end();
    CHECK(strstr(out, "widget") && strstr(out, "was never closed"));
    CHECK(strstr(out, "test_core_debug.c:"));
    CHECK(!strstr(out, "gadget"));
    CHECK(strstr(out, "thing 0x") && strstr(out, "created at registry_main+"));
    free(out);
    CHECK(!weft_debug_enabled());
}

/* Many objects: the table grows and deletes leave no stale entry. */
static int registry_many_main(void *arg)
{
    static char objs[5000];
    (void)arg;
    for (int i = 0; i < 5000; i++) WEFT_DEBUG_TRACK(&objs[i], "obj");
    for (int i = 0; i < 5000; i++)
        if (i != 4321) weft_debug_untrack(&objs[i]);
    for (int i = 0; i < 100; i++) { /* churn over deleted slots */
        WEFT_DEBUG_TRACK(&objs[i], "churn");
        weft_debug_untrack(&objs[i]);
    }
    return 0;
}

static void test_registry_many(void)
{
    capture_begin();
    CHECK_EQ(run_debug(registry_many_main, NULL, 1), 0);
    char *out = capture_end();
    int n = 0;
    for (char *p = out; (p = strstr(p, "was never closed")); p++) n++;
    CHECK_EQ(n, 1);
    CHECK(!strstr(out, "churn"));
    free(out);
}

/* ---- blocking fds -------------------------------------------------------- */

static int blocking_fd_main(void *arg)
{
    (void)arg;
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK_EQ(weft_write(p[1], "x", 1), 1); /* blocking-mode fd: reported */
    CHECK_EQ(weft_write(p[1], "y", 1), 1); /* once */
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    char c;
    CHECK_EQ(weft_read(p[0], &c, 1), 1); /* non-blocking: not reported */
    CHECK_EQ(weft_read(p[0], &c, 1), 1);
    close(p[0]);
    close(p[1]);
    /* A regular file: O_NONBLOCK changes nothing there, so it is reported
     * with it set, with the file calls as the advice. */
    char path[] = "/tmp/weft_debug_fileXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    CHECK_EQ(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    CHECK_EQ(weft_write(fd, "abc", 3), 3);
    close(fd);
    return 0;
}

static void test_blocking_fd(void)
{
    capture_begin();
    CHECK_EQ(run_debug(blocking_fd_main, NULL, 1), 0);
    char *out = capture_end();
    /* the pipe once (not on its second write), then the file */
    char *pipe_report = strstr(out, "weft_write(");
    CHECK(pipe_report);
    char *file_report = strstr(pipe_report + 1, "weft_write(");
    CHECK(file_report && strstr(file_report, "regular file"));
    CHECK(!strstr(pipe_report, "regular file") || strstr(pipe_report, "regular file") >= file_report);
    CHECK(!strstr(file_report + 1, "weft_write("));
    CHECK(strstr(out, "blocking mode"));
    CHECK(!strstr(out, "weft_read("));
    CHECK(strstr(out, "is a regular file, which O_NONBLOCK does not make non-blocking"));
    CHECK(strstr(out, "weft_file_pread"));
    free(out);
}

/* ---- dumps ------------------------------------------------------------------ */

static weft_sem *sem;

/* Not tail calls, so that their frames stay on the stack. */
static volatile int zero;
static __attribute__((noinline)) int sleeper_body(void *arg)
{
    (void)arg;
    int r = weft_sleep(30);
    return r + zero;
}
static __attribute__((noinline)) int sem_body(void *arg)
{
    (void)arg;
    int r = weft_sem_acquire(sem);
    return r + zero;
}
static int awaiter_body(void *arg) { return weft_await(arg); }

static char *dump_text;

static int dump_main(void *arg)
{
    int use_signal = arg != NULL;
    sem = weft_sem_new(0);
    weft_task *s = weft_spawn_named("sleeper", sleeper_body, NULL);
    weft_task *m = weft_spawn_named("sem-waiter", sem_body, NULL);
    weft_task *w = weft_spawn_named("awaiter", awaiter_body, m);
    weft_task *fresh = weft_spawn_named("fresh", ok_body, NULL); /* never ran yet at dump */
    weft_sleep(0.01);
    weft_task *fresh2 = weft_spawn_named("fresh2", ok_body, NULL);
    if (use_signal) {
        capture_begin();
        raise(SIGUSR1);
        dump_text = capture_end();
    } else {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        weft_dump_tasks(f);
        fclose(f);
        dump_text = buf;
        fputs(buf, stderr);
    }
    weft_cancel(s);
    weft_cancel(w);
    CHECK_EQ(weft_await(s), -ECANCELED);
    CHECK_EQ(weft_await(w), -ECANCELED);
    CHECK_EQ(weft_await(fresh), 0);
    CHECK_EQ(weft_await(fresh2), 0);
    weft_sem_free(sem);
    return 0;
}

static void check_dump(const char *d, int debug)
{
    CHECK(strstr(d, "task 1 'main': running"));
    CHECK(strstr(d, "'sleeper': waiting, waits on sleep, until now+"));
    CHECK(strstr(d, "'sem-waiter': waiting, waits on semaphore"));
    CHECK(strstr(d, "'awaiter': waiting, waits on task 'sem-waiter'"));
    CHECK(strstr(d, "'fresh2': new"));
    /* backtraces from the saved contexts name the task bodies */
    CHECK(strstr(d, "sleeper_body+"));
    CHECK(strstr(d, "sem_body+"));
    CHECK(strstr(d, "weft__park+"));
    /* the running task's own stack */
    CHECK(strstr(d, "dump_main+"));
    if (debug) CHECK(strstr(d, "spawned at ") && strstr(d, "test_core_debug.c:"));
}

static void test_dump(void)
{
    CHECK_EQ(run_debug(dump_main, NULL, 0), 0);
    check_dump(dump_text, 0);
    free(dump_text);
    CHECK_EQ(run_debug(dump_main, NULL, 1), 0);
    check_dump(dump_text, 1);
    free(dump_text);
    /* outside a loop */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    weft_dump_tasks(f);
    fclose(f);
    CHECK(strstr(buf, "no loop"));
    free(buf);
}

static void test_sigusr1(void)
{
    CHECK_EQ(run_debug(dump_main, (void *)1, 1), 0);
    CHECK(strstr(dump_text, "SIGUSR1 task dump"));
    check_dump(dump_text, 1);
    free(dump_text);
    /* the handler is removed at loop close */
    struct sigaction sa;
    sigaction(SIGUSR1, NULL, &sa);
    CHECK(sa.sa_handler == SIG_DFL);
}

/* SIGUSR1 while a task blocks the loop, sent to another thread: the handler
 * forwards it to the loop's thread, which dumps the blocked task's stack. */
static void *send_usr1(void *arg)
{
    (void)arg;
    usleep(50 * 1000);
    pthread_kill(pthread_self(), SIGUSR1); /* lands on this thread: forwarded */
    return NULL;
}

static __attribute__((noinline)) int blocked_body(void *arg)
{
    (void)arg;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, send_usr1, NULL) == 0);
    struct timespec ts = {0, 300 * 1000 * 1000};
    while (nanosleep(&ts, &ts) < 0) {} /* blocks the loop; resumes after the signal */
    pthread_join(th, NULL);
    return zero;
}

static int blocked_main(void *arg)
{
    (void)arg;
    return weft_await(weft_spawn_named("blocked", blocked_body, NULL));
}

static void test_sigusr1_while_blocked(void)
{
    capture_begin();
    CHECK_EQ(run_debug(blocked_main, NULL, 1), 0);
    char *out = capture_end();
    CHECK(strstr(out, "SIGUSR1 task dump"));
    char *d = strstr(out, "'blocked': running");
    CHECK(d && strstr(d, "blocked_body+"));
    CHECK(strstr(d, "s in this run, without waiting"));
    CHECK(strstr(out, "'main': waiting, waits on task 'blocked'"));
    free(out);
}

/* SIGUSR1 while another thread holds the dynamic loader's lock (inside
 * dl_iterate_phdr, as a dlopen or a slow library constructor would): the
 * dump must not wait for that lock. It names functions all the same
 * (_dl_find_object is lock-free); it used to block in dl_iterate_phdr until
 * the other thread let go. */
static volatile int holder_in, holder_left, dump_done;
static int hold_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)info, (void)size, (void)arg;
    holder_in = 1;
    for (int i = 0; i < 3000 && !dump_done; i++) usleep(1000);
    return 1;
}
static void *holder(void *arg)
{
    (void)arg;
    dl_iterate_phdr(hold_cb, NULL);
    holder_left = 1;
    return NULL;
}
static __attribute__((noinline)) int loader_locked_main(void *arg)
{
    (void)arg;
    pthread_t th;
    CHECK(pthread_create(&th, NULL, holder, NULL) == 0);
    while (!holder_in) usleep(1000);
    capture_begin();
    raise(SIGUSR1);
    char *out = capture_end();
    int was_held = !holder_left;
    dump_done = 1;
    pthread_join(th, NULL);
    CHECK(was_held);
    CHECK(strstr(out, "SIGUSR1 task dump"));
    CHECK(strstr(out, "loader_locked_main+"));
    free(out);
    return zero;
}
static void test_sigusr1_loader_locked(void) { CHECK_EQ(run_debug(loader_locked_main, NULL, 1), 0); }

int main(int argc, char **argv)
{
    unsetenv("WEFT_DEBUG");
    unsetenv("WEFT_TRACE");
    static const test_case tests[] = {
        {"slow_task", test_slow_task},   {"never_awaited", test_never_awaited},
        {"registry", test_registry},     {"registry_many", test_registry_many},
        {"blocking_fd", test_blocking_fd}, {"dump", test_dump},
        {"sigusr1", test_sigusr1},       {"sigusr1_blocked", test_sigusr1_while_blocked},
        {"sigusr1_loader_locked", test_sigusr1_loader_locked},       {NULL, NULL}};
    return run_tests(tests, argc, argv);
}
