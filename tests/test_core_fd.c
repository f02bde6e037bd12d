/* weft_wait_fd, weft_read, weft_write(_all), weft_close, weft_fd_forget, weft_fd_keep on
 * pipes, socketpairs and files. (Interruption is in test_core_cancel.c.) */
#include "core_util.h"
#include <weft/test.h>
#include "core/backend.h" /* white-box: the interest the backend was told, and its name */
#include <fcntl.h>
#include <sys/socket.h>

static int reader(void *a)
{
    int fd = *(int *)a;
    char buf[64];
    ssize_t n = weft_read(fd, buf, sizeof buf);
    return n == 5 && !memcmp(buf, "hello", 5) ? 0 : -1;
}
static int t_pipe_main(void *a)
{
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    weft_task *r = weft_spawn(reader, &p[0]);
    weft_sleep(0.005);
    CHECK_EQ(weft_done(r), 0); /* suspended on EAGAIN */
    CHECK_EQ(weft_write(p[1], "hello", 5), 5);
    CHECK_EQ(weft_await(r), 0);
    CHECK_EQ(weft_wait_fd(p[1], WEFT_WRITABLE), WEFT_WRITABLE);
    /* end of file */
    weft_close(p[1]);
    char b;
    CHECK_EQ(weft_read(p[0], &b, 1), 0);
    WEFT_TEST_CHECK(weft_wait_fd(p[0], WEFT_READABLE) & WEFT_READABLE); /* hang-up reports ready */
    weft_close(p[0]);
    return 0;
}

/* A big transfer over a small pipe: the writer suspends on a full pipe. */
enum { BIG = 1 << 20 };
static int big_writer(void *a)
{
    int fd = *(int *)a;
    char *buf = malloc(BIG);
    for (int i = 0; i < BIG; i++) buf[i] = (char)(i * 7);
    ssize_t n = weft_write_all(fd, buf, BIG);
    free(buf);
    weft_close(fd);
    return n == BIG ? 0 : -1;
}
static int t_big_main(void *a)
{
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    weft_task *w = weft_spawn(big_writer, &sv[1]);
    char buf[3000];
    size_t total = 0;
    for (;;) {
        ssize_t n = weft_read(sv[0], buf, sizeof buf);
        WEFT_TEST_CHECK(n >= 0);
        if (n == 0) break;
        for (ssize_t i = 0; i < n; i++) CHECK_EQ(buf[i], (char)((total + (size_t)i) * 7));
        total += (size_t)n;
    }
    CHECK_EQ(total, BIG);
    CHECK_EQ(weft_await(w), 0);
    weft_close(sv[0]);
    return 0;
}

/* Two tasks on one fd, one reading and one writing (a socketpair end). */
static int want_read(void *a) { return weft_wait_fd(*(int *)a, WEFT_READABLE); }
static int want_write(void *a) { return weft_wait_fd(*(int *)a, WEFT_WRITABLE); }
static int t_both_main(void *a)
{
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    /* fill sv[0]'s send buffer so it is not writable */
    char junk[4096] = {0};
    while (write(sv[0], junk, sizeof junk) > 0) {
    }
    weft_task *r = weft_spawn(want_read, &sv[0]);
    weft_task *w = weft_spawn(want_write, &sv[0]);
    weft_sleep(0.005);
    CHECK_EQ(weft_done(r), 0);
    CHECK_EQ(weft_done(w), 0);
    CHECK_EQ(write(sv[1], "x", 1), 1); /* readable: only the reader wakes */
    CHECK_EQ(weft_await(r), WEFT_READABLE);
    weft_sleep(0.002);
    CHECK_EQ(weft_done(w), 0);
    char buf[65536];
    while (read(sv[1], buf, sizeof buf) > 0) { /* drain: writable again */
    }
    CHECK_EQ(weft_await(w), WEFT_WRITABLE);
    /* the same fd again and again: registration persists */
    for (int i = 0; i < 100; i++) {
        weft_task *rr = weft_spawn(want_read, &sv[1]);
        weft_yield();
        CHECK_EQ(write(sv[0], "y", 1), 1);
        CHECK_EQ(weft_await(rr), WEFT_READABLE);
        CHECK_EQ(read(sv[1], buf, 1), 1);
    }
    weft_close(sv[0]);
    weft_close(sv[1]);
    return 0;
}

/* weft_close wakes the fd's waiters with -EBADF; weft_fd_forget too. */
static int t_close_main(void *a)
{
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    weft_task *r = weft_spawn(reader, &p[0]);
    weft_yield();
    CHECK_EQ(weft_close(p[0]), 0);
    CHECK_EQ(weft_await(r), -1); /* reader saw -EBADF, not "hello" */
    weft_close(p[1]);
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    weft_task *w = weft_spawn(want_read, &p[0]);
    weft_yield();
    weft_fd_forget(p[0]);
    CHECK_EQ(weft_await(w), -EBADF);
    /* the fd number may be reused: a fresh pipe on it works */
    close(p[0]);
    close(p[1]);
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    weft_task *rr = weft_spawn(reader, &p[0]);
    weft_yield();
    CHECK_EQ(weft_write(p[1], "hello", 5), 5);
    CHECK_EQ(weft_await(rr), 0);
    weft_close(p[0]);
    weft_close(p[1]);
    CHECK_EQ(weft_close(-1), -EBADF);
    return 0;
}

/* An fd closed with plain close() and its number reused by another file. */
/* A new pipe (likely taking the numbers just closed) works: a reader
 * suspended on it is woken by a write. keep: weft_fd_keep its read end. */
static void read_through_new_pipe(int keep)
{
    int q[2];
    CHECK_EQ(pipe2(q, O_NONBLOCK | O_CLOEXEC), 0);
    if (keep) weft_fd_keep(q[0]);
    weft_task *r = weft_spawn(reader, &q[0]);
    weft_yield();
    CHECK_EQ(weft_write(q[1], "hello", 5), 5);
    CHECK_EQ(weft_await(r), 0);
    weft_close(q[0]);
    weft_close(q[1]);
}

static int t_reuse_main(void *a)
{
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_EQ(write(p[1], "a", 1), 1);
    CHECK_EQ(weft_wait_fd(p[0], WEFT_READABLE), WEFT_READABLE); /* registers p[0] */
    close(p[0]);
    close(p[1]);
    read_through_new_pipe(0);
    return 0;
}

/* Whether some epoll instance of this process has fd registered (from
 * /proc/self/fdinfo: an epoll fd lists "tfd: N" per registered fd). */
static int epoll_has(int fd)
{
    int found = 0;
    for (int e = 0; e < 1024 && !found; e++) {
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/self/fdinfo/%d", e);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        int tfd;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "tfd: %d", &tfd) == 1 && tfd == fd) found = 1;
        fclose(f);
    }
    return found;
}

/* Whether the loop has interest in fd registered: what the core told its
 * backend, on every backend; on epoll also what the kernel holds, which
 * must agree. poll(2) has no registration in the kernel to look at: the
 * backend hands poll exactly the interest it was told. */
static int registered(int fd)
{
    int told = weft__fd_interest(weft__L, fd) != 0;
    if (strcmp(weft__backend_name(weft__L), "epoll") == 0) CHECK_EQ(epoll_has(fd), told);
    return told;
}

/* weft_fd_keep: interest stays registered between waits (no epoll_ctl per
 * wait); without it, it is dropped once satisfied. Either way, interest
 * that fires with nobody waiting is dropped (no busy polling), and after
 * weft_fd_forget the number can be reused by another file. */
static int t_keep_main(void *a)
{
    int s[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, s), 0);
    CHECK_EQ(write(s[1], "x", 1), 1);
    CHECK_EQ(weft_wait_fd(s[0], WEFT_READABLE), WEFT_READABLE);
    CHECK_EQ(registered(s[0]), 0); /* plain fd: dropped once satisfied */

    weft_fd_keep(s[0]);
    CHECK_EQ(weft_wait_fd(s[0], WEFT_READABLE), WEFT_READABLE);
    CHECK_EQ(registered(s[0]), 1); /* kept for the next wait */
    char c;
    CHECK_EQ(read(s[0], &c, 1), 1);
    CHECK_EQ(write(s[1], "y", 1), 1);
    CHECK_EQ(weft_wait_fd(s[0], WEFT_READABLE), WEFT_READABLE);
    CHECK_EQ(registered(s[0]), 1);
    weft_sleep(0.01); /* readable, nobody waits: the loop drops the interest */
    CHECK_EQ(registered(s[0]), 0);

    weft_fd_forget(s[0]);
    close(s[0]);
    close(s[1]);
    read_through_new_pipe(1);
    return 0;
}

/* Regular files cannot be polled: always ready. Bad arguments. */
static int t_misc_main(void *a)
{
    char path[] = "/tmp/weft_fd_testXXXXXX";
    int fd = mkstemp(path);
    WEFT_TEST_CHECK(fd >= 0);
    unlink(path);
    CHECK_EQ(weft_wait_fd(fd, WEFT_READABLE | WEFT_WRITABLE), WEFT_READABLE | WEFT_WRITABLE);
    /* (weft_write on it would wait for the disk with the loop, which debug
     * mode reports: test_core_debug's blocking_fd) */
    CHECK_EQ(write(fd, "abc", 3), 3);
    close(fd);
    CHECK_EQ(weft_wait_fd(-1, WEFT_READABLE), -EBADF);
    CHECK_EQ(weft_wait_fd(0, 0), -EINVAL);
    CHECK_EQ(weft_wait_fd(fd, WEFT_READABLE), -EBADF); /* closed */
    char b = 0;
    CHECK_EQ(weft_read(fd, &b, 1), -EBADF);
    CHECK_EQ(weft_write(fd, &b, 1), -EBADF);
    return 0;
}

/* Many fds at once: 500 socketpairs, a task on each. */
static int echo_once(void *a)
{
    int fd = (int)(long)a;
    char buf[16];
    ssize_t n = weft_read(fd, buf, sizeof buf);
    if (n <= 0) return -1;
    return (int)weft_write(fd, buf, (size_t)n);
}
static int t_many_main(void *a)
{
    enum { N = 500 };
    static int sv[N][2];
    static weft_task *t[N];
    for (int i = 0; i < N; i++) {
        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv[i]), 0);
        t[i] = weft_spawn(echo_once, (void *)(long)sv[i][1]);
    }
    weft_yield();
    for (int i = 0; i < N; i++) CHECK_EQ(write(sv[i][0], "ping", 4), 4);
    CHECK_EQ(weft_gather(t, N, NULL), 0);
    for (int i = 0; i < N; i++) {
        char buf[8];
        CHECK_EQ(weft_read(sv[i][0], buf, sizeof buf), 4);
        weft_close(sv[i][0]);
        weft_close(sv[i][1]);
    }
    return 0;
}

/* WEFT_BACKEND picks the loop's poller: the one named runs (so a suite
 * run with WEFT_BACKEND=poll tests poll(2), not epoll), and a name the build
 * lacks fails weft_run with -EINVAL, reported, leaving no fd open. */
static int backend_main(void *a)
{
    *(const char **)a = weft__backend_name(weft__L);
    return 0;
}
static int open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++) n += fcntl(fd, F_GETFD) >= 0;
    return n;
}
static void t_backend(void)
{
    const char *want = getenv("WEFT_BACKEND"), *got = NULL;
    CHECK_EQ(weft_run(backend_main, &got), 0);
    CHECK(got != NULL);
    CHECK(strcmp(got, want && *want ? want : "epoll") == 0);
    fprintf(stderr, "   backend: %s\n", got);
    char *saved = want ? strdup(want) : NULL;
    int fds = open_fds();
    CHECK_EQ(setenv("WEFT_BACKEND", "no-such-poller", 1), 0);
    CHECK_EQ(weft_run(backend_main, &got), -EINVAL);
    CHECK_EQ(open_fds(), fds);
    if (saved) setenv("WEFT_BACKEND", saved, 1);
    else unsetenv("WEFT_BACKEND");
    free(saved);
}

static const weft_test_case cases[] = {
    {"pipe", t_pipe_main},
    {"big", t_big_main},
    {"both", t_both_main},
    {"close", t_close_main},
    {"reuse", t_reuse_main},
    {"keep", t_keep_main},
    {"misc", t_misc_main},
    {"many", t_many_main},
};
/* weft_run itself: refusing an unknown WEFT_BACKEND */
static const test_case plain[] = {
    {"backend", t_backend},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    return RUN_CASES_THEN_PLAIN(cases, plain, argc, argv);
}
