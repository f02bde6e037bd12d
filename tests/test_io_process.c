/* Subprocesses: real programs (cat, sh, sleep, ls) through pipes as
 * streams, exit codes, signals, env and cwd, spawn errors, no fd leaks and
 * no zombies. */
#define _GNU_SOURCE
#include <weft/io.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static weft_process *spawn(char *const argv[], int in, int out, int err)
{
    weft_process_opts o = {.stdin_mode = in, .stdout_mode = out, .stderr_mode = err};
    weft_process *p = NULL;
    CHECK_EQ(weft_process_spawn(argv, &o, &p), 0);
    CHECK(p);
    return p;
}

/* Reads a stream to its end into buf (NUL-terminated); returns the length. */
static size_t slurp(weft_stream *s, char *buf, size_t cap)
{
    size_t len = 0;
    for (;;) {
        ssize_t r = weft_stream_read(s, buf + len, cap - 1 - len);
        CHECK(r >= 0);
        if (r == 0) break;
        len += (size_t)r;
        CHECK(len < cap - 1);
    }
    buf[len] = 0;
    return len;
}

static int t_cat(void *a)
{
    char *argv[] = {"cat", NULL};
    weft_process *p = spawn(argv, WEFT_PIPE, WEFT_PIPE, WEFT_INHERIT);
    WEFT_TEST_CHECK(weft_process_stderr(p) == NULL);
    weft_stream *in = weft_process_stdin(p), *out = weft_process_stdout(p);
    CHECK_EQ(weft_stream_write(in, "hello\n", 6), 6);
    CHECK_EQ(weft_stream_drain(in), 0);
    char line[64];
    CHECK_EQ(weft_stream_read_line(out, line, sizeof line), 6);
    WEFT_TEST_CHECK(memcmp(line, "hello\n", 6) == 0);
    CHECK_EQ(weft_process_close_stdin(p), 0);
    WEFT_TEST_CHECK(weft_process_stdin(p) == NULL);
    CHECK_EQ(weft_stream_read(out, line, sizeof line), 0); /* cat saw EOF and left */
    CHECK_EQ(weft_process_wait(p), 0);
    CHECK_EQ(weft_process_wait(p), 0); /* again: the same status */
    CHECK_EQ(weft_process_kill(p, SIGTERM), -ESRCH);
    pid_t pid = weft_process_pid(p);
    weft_process_free(p);
    CHECK_EQ(kill(pid, 0), -1); /* reaped: no zombie */
    CHECK_EQ(errno, ESRCH);
    return 0;
}

/* 4 MiB through cat, writer and reader as separate tasks: the pipe's
 * back-pressure pauses the writer instead of deadlocking or buffering all. */
#define BIG (4u << 20)
static int writer(void *arg)
{
    weft_process *p = arg;
    char chunk[8192];
    for (size_t off = 0; off < BIG; off += sizeof chunk) {
        for (size_t i = 0; i < sizeof chunk; i++) chunk[i] = (char)((off + i) * 31 >> 3);
        if (weft_stream_write(weft_process_stdin(p), chunk, sizeof chunk) < 0) return -1;
    }
    return weft_process_close_stdin(p);
}

static int t_cat_big(void *a)
{
    char *argv[] = {"cat", NULL};
    weft_process *p = spawn(argv, WEFT_PIPE, WEFT_PIPE, WEFT_INHERIT);
    weft_task *w = weft_spawn(writer, p);
    size_t got = 0;
    char buf[65536];
    int ok = 1;
    for (;;) {
        ssize_t r = weft_stream_read(weft_process_stdout(p), buf, sizeof buf);
        WEFT_TEST_CHECK(r >= 0);
        if (r == 0) break;
        for (ssize_t i = 0; i < r; i++) ok &= buf[i] == (char)((got + (size_t)i) * 31 >> 3);
        got += (size_t)r;
    }
    CHECK_EQ(weft_await(w), 0);
    CHECK_EQ(got, BIG);
    WEFT_TEST_CHECK(ok);
    CHECK_EQ(weft_process_wait(p), 0);
    weft_process_free(p);
    return 0;
}

static int t_exit_codes(void *a)
{
    char *argv[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    weft_process *p = spawn(argv, WEFT_DEVNULL, WEFT_PIPE, WEFT_PIPE);
    char buf[64];
    CHECK_EQ(slurp(weft_process_stdout(p), buf, sizeof buf), 4);
    WEFT_TEST_CHECK(strcmp(buf, "out\n") == 0);
    CHECK_EQ(slurp(weft_process_stderr(p), buf, sizeof buf), 4);
    WEFT_TEST_CHECK(strcmp(buf, "err\n") == 0);
    CHECK_EQ(weft_process_wait(p), 3);
    weft_process_free(p);

    char *t[] = {"true", NULL};
    p = spawn(t, WEFT_DEVNULL, WEFT_DEVNULL, WEFT_DEVNULL);
    CHECK_EQ(weft_process_wait(p), 0);
    weft_process_free(p);
    char *f[] = {"sh", "-c", "exit 255", NULL};
    p = spawn(f, WEFT_INHERIT, WEFT_INHERIT, WEFT_INHERIT);
    CHECK_EQ(weft_process_wait(p), 255);
    weft_process_free(p);
    /* stdin from /dev/null: cat ends at once with nothing. */
    char *c[] = {"cat", NULL};
    p = spawn(c, WEFT_DEVNULL, WEFT_PIPE, WEFT_INHERIT);
    CHECK_EQ(slurp(weft_process_stdout(p), buf, sizeof buf), 0);
    CHECK_EQ(weft_process_wait(p), 0);
    weft_process_free(p);
    return 0;
}

static int t_kill(void *a)
{
    char *argv[] = {"sleep", "30", NULL};
    weft_process *p = spawn(argv, WEFT_DEVNULL, WEFT_DEVNULL, WEFT_DEVNULL);
    /* A wait under a deadline leaves the child running. */
    double t0 = weft_now();
    CHECK_EQ(weft_timeout(0.05, (weft_fn)weft_process_wait, p), -ETIMEDOUT);
    WEFT_TEST_CHECK(weft_now() - t0 < 5);
    CHECK_EQ(weft_process_kill(p, 0), 0);
    CHECK_EQ(weft_process_kill(p, SIGTERM), 0);
    CHECK_EQ(weft_process_wait(p), 128 + SIGTERM);
    weft_process_free(p);

    p = spawn(argv, WEFT_DEVNULL, WEFT_DEVNULL, WEFT_DEVNULL);
    CHECK_EQ(weft_process_kill(p, 12345), -EINVAL);
    CHECK_EQ(weft_process_kill(p, SIGKILL), 0);
    CHECK_EQ(weft_process_wait(p), 128 + SIGKILL);
    weft_process_free(p);

    /* Free without waiting: killed and reaped, no zombie left. */
    p = spawn(argv, WEFT_PIPE, WEFT_PIPE, WEFT_PIPE);
    pid_t pid = weft_process_pid(p);
    weft_process_free(p);
    CHECK_EQ(kill(pid, 0), -1);
    CHECK_EQ(errno, ESRCH);
    return 0;
}

/* Other tasks keep running while one waits for a child; two tasks may wait
 * for the same child. */
static int waiter(void *arg) { return weft_process_wait(arg); }

static int t_wait_many(void *a)
{
    char *argv[] = {"sh", "-c", "sleep 0.1; exit 9", NULL};
    weft_process *p = spawn(argv, WEFT_DEVNULL, WEFT_DEVNULL, WEFT_DEVNULL);
    weft_task *w[2] = {weft_spawn(waiter, p), weft_spawn(waiter, p)};
    int ticks = 0;
    while (!weft_done(w[0])) {
        weft_sleep(0.005);
        ticks++;
    }
    WEFT_TEST_CHECK(ticks >= 5);
    int res[2];
    CHECK_EQ(weft_gather(w, 2, res), 0);
    CHECK_EQ(res[0], 9);
    CHECK_EQ(res[1], 9);
    weft_process_free(p);
    return 0;
}

static int t_env_cwd(void *a)
{
    char dir[] = "/tmp/weft_proc_XXXXXX";
    WEFT_TEST_CHECK(mkdtemp(dir));
    char *env[] = {"WEFT_X=from env", "PATH=/usr/bin:/bin", NULL};
    char *argv[] = {"sh", "-c", "echo \"$WEFT_X\"; pwd; echo \"${HOME:-unset}\"", NULL};
    weft_process_opts o = {.env = env, .cwd = dir, .stdout_mode = WEFT_PIPE};
    weft_process *p;
    CHECK_EQ(weft_process_spawn(argv, &o, &p), 0);
    char buf[256], want[256];
    slurp(weft_process_stdout(p), buf, sizeof buf);
    snprintf(want, sizeof want, "from env\n%s\nunset\n", dir);
    WEFT_TEST_CHECK(strcmp(buf, want) == 0);
    CHECK_EQ(weft_process_wait(p), 0);
    weft_process_free(p);
    rmdir(dir);
    return 0;
}

static int t_errors(void *a)
{
    weft_process *p = (weft_process *)0x1;
    char *none[] = {"weft-no-such-program-xyz", NULL};
    CHECK_EQ(weft_process_spawn(none, NULL, &p), -ENOENT);
    WEFT_TEST_CHECK(p == NULL);
    char *abs[] = {"/nonexistent/prog", NULL};
    CHECK_EQ(weft_process_spawn(abs, NULL, &p), -ENOENT);
    char path[] = "/tmp/weft_noexec_XXXXXX";
    int fd = mkstemp(path); /* mode 0600: not executable */
    WEFT_TEST_CHECK(fd >= 0);
    close(fd);
    char *noexec[] = {path, NULL};
    CHECK_EQ(weft_process_spawn(noexec, NULL, &p), -EACCES);
    unlink(path);
    char *ok[] = {"true", NULL};
    weft_process_opts bad_cwd = {.cwd = "/nonexistent/dir"};
    CHECK_EQ(weft_process_spawn(ok, &bad_cwd, &p), -ENOENT);
    weft_process_opts bad_mode = {.stdout_mode = 7};
    CHECK_EQ(weft_process_spawn(ok, &bad_mode, &p), -EINVAL);
    char *empty[] = {NULL};
    CHECK_EQ(weft_process_spawn(empty, NULL, &p), -EINVAL);
    CHECK_EQ(weft_process_spawn(NULL, NULL, &p), -EINVAL);
    CHECK_EQ(weft_process_spawn(ok, NULL, NULL), -EINVAL);
    CHECK_EQ(weft_process_wait(NULL), -EINVAL);
    CHECK_EQ(weft_process_close_stdin(NULL), -EINVAL);
    weft_process_free(NULL);
    /* Writing to a child that has gone: -EPIPE, not a dead process. */
    char *t[] = {"true", NULL};
    p = spawn(t, WEFT_PIPE, WEFT_DEVNULL, WEFT_DEVNULL);
    CHECK_EQ(weft_process_wait(p), 0);
    ssize_t r = weft_stream_write(weft_process_stdin(p), "x", 1);
    if (r > 0) r = weft_stream_drain(weft_process_stdin(p));
    CHECK_EQ(r, -EPIPE);
    weft_process_free(p);
    return 0;
}

/* The child sees fds 0-2 and nothing else, even fds opened without
 * O_CLOEXEC and the other ends of its own pipes. */
static int t_no_fd_leak(void *a)
{
    int leak = dup2(1, 57); /* deliberately inheritable */
    CHECK_EQ(leak, 57);
    char *argv[] = {"ls", "-1", "/proc/self/fd", NULL};
    weft_process *p = spawn(argv, WEFT_PIPE, WEFT_PIPE, WEFT_PIPE);
    char buf[512];
    slurp(weft_process_stdout(p), buf, sizeof buf);
    CHECK_EQ(weft_process_wait(p), 0);
    weft_process_free(p);
    close(leak);
    /* ls lists 0, 1, 2 and the directory it is reading (3). */
    int n = 0;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        int fd = atoi(line);
        WEFT_TEST_CHECK(fd <= 3);
        n++;
    }
    CHECK_EQ(n, 4);
    return 0;
}

/* Signal state does not leak into the child: SIGTERM is waited for here
 * (a handler installed) and SIGPIPE ignored, yet the child dies of both. */
static int sigterm_waiter(void *a)
{
    int sig = SIGTERM;
    return weft_signal_wait(&sig, 1);
}

static int t_signals_reset(void *a)
{
    weft_task *w = weft_spawn(sigterm_waiter, NULL);
    weft_yield();
    char *argv[] = {"sh", "-c", "kill -TERM $$; sleep 5", NULL};
    weft_process *p = spawn(argv, WEFT_DEVNULL, WEFT_DEVNULL, WEFT_DEVNULL);
    CHECK_EQ(weft_process_wait(p), 128 + SIGTERM);
    weft_process_free(p);
    /* weft ignores SIGPIPE once it makes a stream; the child must not. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGPIPE, &ign, &old);
    char *pipe_argv[] = {"sh", "-c", "kill -PIPE $$; sleep 5", NULL};
    p = spawn(pipe_argv, WEFT_DEVNULL, WEFT_DEVNULL, WEFT_DEVNULL);
    CHECK_EQ(weft_process_wait(p), 128 + SIGPIPE);
    weft_process_free(p);
    sigaction(SIGPIPE, &old, NULL);
    WEFT_TEST_CHECK(!weft_done(w));
    weft_cancel(w);
    CHECK_EQ(weft_await(w), -ECANCELED);
    return 0;
}

static const weft_test_case cases[] = {
    {"cat", t_cat},
    {"cat_big", t_cat_big},
    {"exit_codes", t_exit_codes},
    {"kill", t_kill},
    {"wait_many", t_wait_many},
    {"env_cwd", t_env_cwd},
    {"errors", t_errors},
    {"no_fd_leak", t_no_fd_leak},
    {"signals_reset", t_signals_reset},
};

int main(int argc, char **argv)
{
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
