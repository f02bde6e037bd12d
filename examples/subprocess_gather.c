/* asyncio's subprocess example: run several commands at once, collect each
 * one's output and exit status. The commands overlap, so the whole run takes
 * about as long as the slowest one, not the sum (checked at the end: the two
 * sleeping commands ran at the same time).
 *
 *   subprocess_gather            the three commands below
 *   subprocess_gather CMD...     each argument run with sh -c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>
#include <weft/io.h>

typedef struct job {
    const char *cmd;
    char out[4096], err[4096];
    int status;
    double started, ended; /* spawned, exited */
} job;

/* Reads a stream to its end into buf (keeping what fits). */
static int slurp(weft_stream *s, char *buf, size_t cap)
{
    size_t len = 0;
    char chunk[1024];
    ssize_t n;
    while ((n = weft_stream_read(s, chunk, sizeof chunk)) > 0) {
        size_t k = (size_t)n < cap - 1 - len ? (size_t)n : cap - 1 - len;
        memcpy(buf + len, chunk, k);
        len += k;
    }
    buf[len] = 0;
    return n < 0 ? (int)n : 0;
}

static int read_stderr(void *p)
{
    void **a = p;
    return slurp(a[0], a[1], 4096);
}

/* proc.communicate(): stdout and stderr read at once (reading one after
 * the other could deadlock on a child that fills the other pipe). */
static int run(void *arg)
{
    job *j = arg;
    char *argv[] = {"sh", "-c", (char *)j->cmd, NULL};
    weft_process_opts o = {.stdin_mode = WEFT_DEVNULL, .stdout_mode = WEFT_PIPE,
                           .stderr_mode = WEFT_PIPE};
    weft_process *p;
    int rc = weft_process_spawn(argv, &o, &p);
    if (rc < 0) return rc;
    j->started = weft_now();
    void *ea[2] = {weft_process_stderr(p), j->err};
    weft_task *e = weft_spawn(read_stderr, ea);
    slurp(weft_process_stdout(p), j->out, sizeof j->out);
    weft_await(e);
    j->status = weft_process_wait(p);
    j->ended = weft_now();
    weft_process_free(p);
    return 0;
}

typedef struct all {
    int n;
    job *jobs;
} all;

static int main_task(void *arg)
{
    all *a = arg;
    weft_task **t = calloc((size_t)a->n, sizeof *t);
    double t0 = weft_now();
    for (int i = 0; i < a->n; i++) t[i] = weft_spawn(run, &a->jobs[i]);
    int rc = weft_gather(t, (size_t)a->n, NULL);
    double dt = weft_now() - t0;
    free(t);
    for (int i = 0; i < a->n; i++) {
        job *j = &a->jobs[i];
        printf("[%s exited with %d]\n", j->cmd, j->status);
        if (*j->out) printf("[stdout]\n%s", j->out);
        if (*j->err) printf("[stderr]\n%s", j->err);
    }
    printf("all %d in %.2f s\n", a->n, dt);
    return rc;
}

int main(int argc, char **argv)
{
    const char *defaults[] = {"ls /", "sleep 0.5; echo slept 0.5 s", "sleep 0.5; echo oops >&2; exit 2"};
    int n = argc > 1 ? argc - 1 : 3;
    all a = {n, calloc((size_t)n, sizeof(job))};
    for (int i = 0; i < n; i++) a.jobs[i].cmd = argc > 1 ? argv[i + 1] : defaults[i];
    int rc = weft_run(main_task, &a);
    if (rc < 0) {
        fprintf(stderr, "failed: %s\n", weft_strerror(rc));
        return 1;
    }
    if (argc == 1) { /* the claims of this example */
        int ok = a.jobs[0].status == 0 && a.jobs[1].status == 0 && a.jobs[2].status == 2 &&
                 strstr(a.jobs[0].out, "usr") && !strcmp(a.jobs[1].out, "slept 0.5 s\n") &&
                 !strcmp(a.jobs[2].err, "oops\n") &&
                 /* overlapped: each began before the other ended (not a
                  * total time, which a loaded machine stretches past 1 s) */
                 a.jobs[1].started < a.jobs[2].ended && a.jobs[2].started < a.jobs[1].ended;
        if (!ok) fprintf(stderr, "unexpected results (or the sleeps did not overlap)\n");
        free(a.jobs);
        return ok ? 0 : 1;
    }
    free(a.jobs);
    return 0;
}
