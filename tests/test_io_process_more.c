/* Subprocesses beyond spawn/wait: communicate (10 MiB each way, a child
 * that fills stderr before reading stdin, deadlines and cancellation that
 * lose nothing), the shell helper, stderr merged into stdout, extra fds,
 * sessions and process groups killed as a whole. Real programs (sh, cat,
 * head, sleep). */
#define _GNU_SOURCE
#include <weft.h>
#include <weft/io.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define BIG (10u << 20)

static weft_process *shell(const char *cmd, weft_process_opts o)
{
    weft_process *p = NULL;
    CHECK_EQ(weft_process_shell(cmd, &o, &p), 0);
    CHECK(p);
    return p;
}

static const weft_process_opts all_pipes = {
    .stdin_mode = WEFT_PIPE, .stdout_mode = WEFT_PIPE, .stderr_mode = WEFT_PIPE};

/* The child writes 10 MiB to stderr before it reads a byte of stdin, then
 * echoes 10 MiB of stdin: done one pipe after another, this deadlocks. */
WEFT_TEST(communicate_big)
{
    char *in = malloc(BIG);
    WEFT_TEST_CHECK(in);
    for (size_t i = 0; i < BIG; i++) in[i] = (char)('a' + i % 23);
    weft_process *p = shell("head -c 10485760 /dev/zero >&2; cat", all_pipes);
    weft_process_output res = {0};
    CHECK_EQ(weft_process_communicate(p, in, BIG, &res, 60), 0);
    CHECK_EQ(res.out_len, BIG);
    WEFT_TEST_CHECK(memcmp(res.out, in, BIG) == 0);
    CHECK_EQ(res.out[BIG], 0);
    CHECK_EQ(res.err_len, BIG);
    for (size_t i = 0; i < BIG; i++) WEFT_TEST_CHECK(res.err[i] == 0);
    weft_process_output_free(&res);
    WEFT_TEST_CHECK(res.out == NULL && res.err == NULL && res.out_len == 0);
    weft_process_free(p);
    free(in);
    return 0;
}

/* No input, output dropped (res NULL), an exit status passed through; a
 * pipe that stays empty still gives "" (not NULL); an inherited one NULL. */
WEFT_TEST(communicate_status)
{
    weft_process *p = shell("exit 7", all_pipes);
    CHECK_EQ(weft_process_communicate(p, NULL, 0, NULL, -1), 7);
    weft_process_free(p);
    p = shell("echo out", (weft_process_opts){.stdout_mode = WEFT_PIPE, .stderr_mode = WEFT_PIPE});
    weft_process_output res = {0};
    CHECK_EQ(weft_process_communicate(p, NULL, 0, &res, 10), 0);
    WEFT_TEST_CHECK(res.out && strcmp(res.out, "out\n") == 0);
    WEFT_TEST_CHECK(res.err && res.err_len == 0 && res.err[0] == 0);
    weft_process_output_free(&res);
    weft_process_free(p);
    p = shell("true", (weft_process_opts){.stdout_mode = WEFT_PIPE});
    CHECK_EQ(weft_process_communicate(p, NULL, 0, &res, 10), 0);
    WEFT_TEST_CHECK(res.out && res.out_len == 0);
    WEFT_TEST_CHECK(res.err == NULL);
    weft_process_output_free(&res);
    CHECK_EQ(weft_process_communicate(NULL, NULL, 0, &res, 1), -EINVAL);
    CHECK_EQ(weft_process_communicate(p, NULL, 5, &res, 1), -EINVAL);
    weft_process_free(p);
    return 0;
}

/* A child that closes stdin at once while we still have 1 MiB for it: not
 * an error, its output still arrives. */
WEFT_TEST(communicate_stdin_closed_early)
{
    size_t n = 1 << 20;
    char *in = calloc(1, n);
    weft_process *p = shell("exec 0<&-; echo hi", all_pipes);
    weft_process_output res = {0};
    CHECK_EQ(weft_process_communicate(p, in, n, &res, 10), 0);
    WEFT_TEST_CHECK(strcmp(res.out, "hi\n") == 0);
    weft_process_output_free(&res);
    weft_process_free(p);
    free(in);
    return 0;
}

/* A deadline leaves the child running and keeps what it wrote; after a
 * kill, a second call with the same res continues and gets the status. */
WEFT_TEST(communicate_timeout_keeps_output)
{
    weft_process *p = shell("echo early; echo warn >&2; exec sleep 30", all_pipes);
    weft_process_output res = {0};
    CHECK_EQ(weft_process_communicate(p, "x", 1, &res, 0.3), -ETIMEDOUT);
    WEFT_TEST_CHECK(strcmp(res.out, "early\n") == 0);
    WEFT_TEST_CHECK(strcmp(res.err, "warn\n") == 0);
    WEFT_TEST_CHECK(weft_process_stdin(p) == NULL); /* closed: the input was given up */
    CHECK_EQ(kill(weft_process_pid(p), 0), 0); /* still running */
    CHECK_EQ(weft_process_kill(p, SIGKILL), 0);
    CHECK_EQ(weft_process_communicate(p, NULL, 0, &res, 10), 128 + SIGKILL);
    WEFT_TEST_CHECK(strcmp(res.out, "early\n") == 0);
    WEFT_TEST_CHECK(strcmp(res.err, "warn\n") == 0);
    weft_process_output_free(&res);
    weft_process_free(p);
    return 0;
}

typedef struct {
    weft_process *p;
    weft_process_output res;
} comm_arg;

static int communicate_task(void *arg)
{
    comm_arg *c = arg;
    return weft_process_communicate(c->p, NULL, 0, &c->res, -1);
}

WEFT_TEST(communicate_cancelled)
{
    comm_arg c = {shell("echo started; exec sleep 30", all_pipes), {0}};
    weft_task *t = weft_spawn(communicate_task, &c);
    CHECK_EQ(weft_sleep(0.2), 0);
    weft_cancel(t);
    CHECK_EQ(weft_await(t), -ECANCELED);
    WEFT_TEST_CHECK(strcmp(c.res.out, "started\n") == 0);
    CHECK_EQ(kill(weft_process_pid(c.p), 0), 0);
    weft_process_output_free(&c.res);
    pid_t pid = weft_process_pid(c.p);
    weft_process_free(c.p); /* kills and reaps */
    CHECK_EQ(kill(pid, 0), -1);
    return 0;
}

/* The shell parses pipes and arithmetic; NULL is refused. */
WEFT_TEST(shell_helper)
{
    weft_process *p = shell("echo $((6*7)) | tr 4 X", (weft_process_opts){.stdout_mode = WEFT_PIPE});
    weft_process_output res = {0};
    CHECK_EQ(weft_process_communicate(p, NULL, 0, &res, 10), 0);
    WEFT_TEST_CHECK(strcmp(res.out, "X2\n") == 0);
    weft_process_output_free(&res);
    weft_process_free(p);
    CHECK_EQ(weft_process_shell(NULL, NULL, &p), -EINVAL);
    WEFT_TEST_CHECK(p == NULL);
    return 0;
}

/* 2>&1: both streams interleaved in order in one pipe, stderr NULL. */
WEFT_TEST(stderr_merged)
{
    weft_process *p = shell("echo a; echo b >&2; echo c",
                            (weft_process_opts){.stdout_mode = WEFT_PIPE, .stderr_mode = WEFT_STDOUT});
    WEFT_TEST_CHECK(weft_process_stderr(p) == NULL);
    weft_process_output res = {0};
    CHECK_EQ(weft_process_communicate(p, NULL, 0, &res, 10), 0);
    WEFT_TEST_CHECK(strcmp(res.out, "a\nb\nc\n") == 0);
    WEFT_TEST_CHECK(res.err == NULL);
    weft_process_output_free(&res);
    weft_process_free(p);
    /* Into /dev/null when stdout goes there. */
    p = shell("echo b >&2; echo ok >/dev/tty 2>/dev/null; exit 3",
              (weft_process_opts){.stdout_mode = WEFT_DEVNULL, .stderr_mode = WEFT_STDOUT});
    CHECK_EQ(weft_process_wait(p), 3);
    weft_process_free(p);
    /* Only stderr may follow stdout. */
    char *argv[] = {"true", NULL};
    CHECK_EQ(weft_process_spawn(argv, &(weft_process_opts){.stdout_mode = WEFT_STDOUT}, &p), -EINVAL);
    CHECK_EQ(weft_process_spawn(argv, &(weft_process_opts){.stdin_mode = WEFT_STDOUT}, &p), -EINVAL);
    return 0;
}

/* An extra fd reaches the child under its own number (written through
 * /proc/self/fd: dash knows no fd above 9) although it is
 * close-on-exec; an fd below it that was not passed (and not
 * close-on-exec) does not. */
WEFT_TEST(pass_fds)
{
    int pp[2];
    CHECK_EQ(pipe2(pp, O_CLOEXEC), 0);
    int stray = dup(0); /* no O_CLOEXEC: only the spawn's closing hides it */
    WEFT_TEST_CHECK(stray >= 0);
    int hi = fcntl(pp[1], F_DUPFD_CLOEXEC, stray + 5);
    WEFT_TEST_CHECK(hi > stray);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "echo hi >/proc/self/fd/%d; if [ -e /proc/self/fd/%d ]; then echo leak >/proc/self/fd/%d; fi",
             hi, stray, hi);
    weft_process *p = shell(cmd, (weft_process_opts){.pass_fds = &hi, .pass_fds_count = 1});
    CHECK_EQ(weft_process_wait(p), 0);
    weft_process_free(p);
    close(hi);
    close(pp[1]);
    char buf[64] = {0};
    CHECK_EQ(read(pp[0], buf, sizeof buf - 1), 3);
    WEFT_TEST_CHECK(strcmp(buf, "hi\n") == 0);
    close(pp[0]);
    int bad[] = {1};
    CHECK_EQ(weft_process_shell("true", &(weft_process_opts){.pass_fds = bad, .pass_fds_count = 1}, &p),
             -EBADF);
    int closed = stray; /* closed below: refused, nothing started */
    close(stray);
    CHECK_EQ(weft_process_shell("true", &(weft_process_opts){.pass_fds = &closed, .pass_fds_count = 1},
                                &p),
             -EBADF);
    CHECK_EQ(weft_process_shell("true", &(weft_process_opts){.pass_fds_count = 1}, &p), -EINVAL);
    return 0;
}

/* Fields 5 and 6 of /proc/pid/stat: process group and session. */
static void pgrp_session(pid_t pid, long *pgrp, long *sid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    CHECK(f);
    CHECK(fgets(buf, sizeof buf, f));
    fclose(f);
    char *close_paren = strrchr(buf, ')');
    CHECK(close_paren);
    char state;
    long ppid;
    CHECK_EQ(sscanf(close_paren + 2, "%c %ld %ld %ld", &state, &ppid, pgrp, sid), 4);
}

/* Gone, or a zombie waiting for a reaper that is not us. */
static int gone(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    for (int i = 0; i < 200; i++) {
        FILE *f = fopen(path, "r");
        if (!f) return 1;
        int zombie = fgets(buf, sizeof buf, f) && strstr(buf, ") Z ");
        fclose(f);
        if (zombie) return 1;
        weft_sleep(0.01);
    }
    return 0;
}

/* A shell with two background sleeps, in a group of its own: one
 * kill_group ends all three; the parent's group is untouched. */
static void group_kill(weft_process_opts o)
{
    o.stdout_mode = WEFT_PIPE;
    weft_process *p = shell("sleep 30 & echo $!; sleep 30 & echo $!; wait", o);
    char line[32];
    pid_t kids[2];
    for (int i = 0; i < 2; i++) {
        CHECK(weft_stream_read_line(weft_process_stdout(p), line, sizeof line) > 0);
        kids[i] = (pid_t)atoi(line);
        CHECK(kids[i] > 0);
    }
    long pgrp, sid;
    pgrp_session(weft_process_pid(p), &pgrp, &sid);
    CHECK_EQ(pgrp, weft_process_pid(p));
    CHECK_EQ(sid, o.new_session ? weft_process_pid(p) : getsid(0));
    pgrp_session(kids[0], &pgrp, &sid);
    CHECK_EQ(pgrp, weft_process_pid(p));
    CHECK_EQ(weft_process_kill_group(p, SIGTERM), 0);
    CHECK_EQ(weft_process_wait(p), 128 + SIGTERM);
    CHECK(gone(kids[0]) && gone(kids[1]));
    weft_process_free(p);
}

WEFT_TEST(process_groups)
{
    group_kill((weft_process_opts){.new_group = 1});
    group_kill((weft_process_opts){.new_session = 1});
    /* Without a group of its own, kill_group refuses (it would hit us). */
    weft_process *p = shell("exec sleep 30", (weft_process_opts){0});
    CHECK_EQ(weft_process_kill_group(p, SIGTERM), -EINVAL);
    CHECK_EQ(weft_process_kill_group(NULL, SIGTERM), -EINVAL);
    weft_process_free(p);
    /* After the reap, with nothing left in the group: -ESRCH. */
    p = shell("exit 0", (weft_process_opts){.new_group = 1});
    CHECK_EQ(weft_process_wait(p), 0);
    CHECK_EQ(weft_process_kill_group(p, SIGTERM), -ESRCH);
    weft_process_free(p);
    return 0;
}

static const weft_test_case cases[] = {
    {"communicate_big", communicate_big},
    {"communicate_status", communicate_status},
    {"communicate_stdin_closed_early", communicate_stdin_closed_early},
    {"communicate_timeout_keeps_output", communicate_timeout_keeps_output},
    {"communicate_cancelled", communicate_cancelled},
    {"shell_helper", shell_helper},
    {"stderr_merged", stderr_merged},
    {"pass_fds", pass_fds},
    {"process_groups", process_groups},
};

int main(int argc, char **argv)
{
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
