/* docs/guide.md, "Running programs": communicate feeds a child its input
 * while reading all it prints (no deadlock on full pipes, whatever order
 * the child reads and writes in), and a deadline leaves the child running
 * with what it printed kept, so the caller decides: here, kill its whole
 * process group (the shell and the sleep it started). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <weft.h>
#include <weft/io.h>

static int main_task(void *arg)
{
    (void)arg;
    /* 1. Input in, output out: sort three lines. */
    char *sort[] = {"sort", NULL};
    weft_process_opts pipes = {.stdin_mode = WEFT_PIPE, .stdout_mode = WEFT_PIPE};
    weft_process *p;
    int rc = weft_process_spawn(sort, &pipes, &p);
    if (rc < 0) return rc;
    weft_process_output res = {0};
    const char input[] = "pear\napple\nfig\n";
    int status = weft_process_communicate(p, input, sizeof input - 1, &res, 5.0);
    printf("sort exited %d: %s", status, res.out);
    weft_process_output_free(&res);
    weft_process_free(p);

    /* 2. A build step that hangs: stderr merged into stdout (2>&1), in a
     * process group of its own, given half a second. */
    weft_process_opts step = {.stdout_mode = WEFT_PIPE, .stderr_mode = WEFT_STDOUT, .new_group = 1};
    rc = weft_process_shell("echo compiling; echo 'warning: slow disk' >&2; sleep 30; echo done",
                            &step, &p);
    if (rc < 0) return rc;
    status = weft_process_communicate(p, NULL, 0, &res, 0.5);
    printf("after the deadline (%s), it had printed:\n%s", status == -ETIMEDOUT ? "timed out" : "?",
           res.out);
    weft_process_kill_group(p, SIGTERM); /* the shell and its sleep */
    status = weft_process_communicate(p, NULL, 0, &res, 5.0);
    printf("killed: status %d (128 + SIGTERM)\n", status);
    weft_process_output_free(&res);
    weft_process_free(p);
    return 0;
}

int main(void) { return weft_run(main_task, NULL) < 0; }
