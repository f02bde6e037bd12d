/* Runs a command in a task and keeps its standard output: for tests that
 * check weft against real tools (curl, tinyproxy). */
#ifndef WEFT_TESTS_RUN_CMD_H
#define WEFT_TESTS_RUN_CMD_H
#include <weft/io.h>
#include <stdio.h>

/* Runs argv to its end, its stdout in out (NUL-terminated, at most cap - 1
 * bytes); returns its exit status or a negative error. Waits. */
static inline int run_cmd(char *const argv[], char *out, size_t cap)
{
    weft_process *p;
    weft_process_opts o = {.stdout_mode = WEFT_PIPE, .stderr_mode = WEFT_INHERIT};
    int r = weft_process_spawn(argv, &o, &p);
    if (r < 0) {
        fprintf(stderr, "cannot run %s: %s\n", argv[0], weft_strerror(r));
        return r;
    }
    size_t got = 0;
    ssize_t n;
    while (got < cap - 1 &&
           (n = weft_stream_read(weft_process_stdout(p), out + got, cap - 1 - got)) > 0)
        got += (size_t)n;
    out[got] = 0;
    r = weft_process_wait(p);
    weft_process_free(p);
    return r;
}

#endif
