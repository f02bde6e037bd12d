/* Starts a peer server program (aiohttp, tinyproxy...) for a test and
 * waits until it accepts on its loopback port; stops it by its process. */
#ifndef WEFT_TESTS_PEER_PROC_H
#define WEFT_TESTS_PEER_PROC_H
#include <weft/io.h>
#include <signal.h>
#include <stdio.h>

/* Runs argv (its stdout dropped, stderr kept) and waits up to 10 s for
 * 127.0.0.1:port to accept. 0 and *p, or < 0 (the process then stopped).
 * Waits. */
static inline int peer_start(char *const argv[], int port, weft_process **p)
{
    weft_process_opts o = {.stdout_mode = WEFT_DEVNULL, .stderr_mode = WEFT_INHERIT};
    int r = weft_process_spawn(argv, &o, p);
    if (r) {
        fprintf(stderr, "cannot run %s: %s\n", argv[0], weft_strerror(r));
        return r;
    }
    for (int k = 0; k < 200; k++) {
        weft_stream *s;
        if (!weft_tcp_connect("127.0.0.1", port, NULL, &s)) {
            weft_stream_close(s);
            return 0;
        }
        weft_sleep(0.05);
    }
    weft_process_kill(*p, SIGKILL);
    weft_process_wait(*p);
    weft_process_free(*p);
    *p = NULL;
    return -ETIMEDOUT;
}

/* SIGTERM, waits for its end, frees it. NULL is a no-op. Waits. */
static inline void peer_stop(weft_process *p)
{
    if (!p) return;
    weft_process_kill(p, SIGTERM);
    weft_process_wait(p);
    weft_process_free(p);
}

#endif
