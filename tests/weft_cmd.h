/* For the tests of the `weft` command: where the binary is, and running it
 * with some input, its stdout and stderr kept apart. */
#ifndef WEFT_TESTS_WEFT_CMD_H
#define WEFT_TESTS_WEFT_CMD_H
#include <weft/io.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char weft_bin[PATH_MAX];

/* Fills weft_bin: $WEFT_BUILD_DIR/tools/weft/weft (ctest sets it), else
 * next to this test's build directory. 0, or -1 if it is not there. */
static inline int find_weft(void)
{
    const char *b = getenv("WEFT_BUILD_DIR");
    if (b) {
        snprintf(weft_bin, sizeof weft_bin, "%s/tools/weft/weft", b);
    } else {
        char exe[PATH_MAX - 64];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0) return -1;
        exe[n] = 0;
        *strrchr(exe, '/') = 0;
        snprintf(weft_bin, sizeof weft_bin, "%s/../tools/weft/weft", exe);
    }
    if (access(weft_bin, X_OK) != 0) {
        fprintf(stderr, "no weft command at %s\n", weft_bin);
        return -1;
    }
    return 0;
}

/* The first cap - 1 bytes of what a stream gave (any bytes), then a NUL. */
static inline void weft_cmd_keep(char *dst, size_t cap, const char *src, size_t len)
{
    if (len > cap - 1) len = cap - 1;
    if (len) memcpy(dst, src, len);
    dst[len] = 0;
}

/* Runs argv in a task with the len bytes of in on its stdin; its stdout
 * into out and stderr into err (each NUL-terminated, cut at cap - 1 bytes;
 * NULL drops it). Returns the exit status, or a negative error. Waits (at
 * most 60 s, then kills it). */
static inline int run_weft(char *const argv[], const void *in, size_t len, char *out, size_t cap,
                           char *err, size_t errcap)
{
    weft_process_opts o = {.stdin_mode = WEFT_PIPE, .stdout_mode = WEFT_PIPE,
                           .stderr_mode = WEFT_PIPE};
    weft_process *p;
    int r = weft_process_spawn(argv, &o, &p);
    if (r < 0) return r;
    weft_process_output res = {0};
    r = weft_process_communicate(p, in, len, &res, 60);
    if (r == -ETIMEDOUT) {
        weft_process_kill(p, SIGKILL);
        weft_process_wait(p);
    }
    if (out) weft_cmd_keep(out, cap, res.out, res.out_len);
    if (err) weft_cmd_keep(err, errcap, res.err, res.err_len);
    weft_process_output_free(&res);
    weft_process_free(p);
    return r;
}
#endif
