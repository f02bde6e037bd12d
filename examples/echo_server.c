/* echo_server PORT: asyncio's start_server echo example, in weft.
 *
 *     async def handle(reader, writer):
 *         while data := await reader.read(65536):
 *             writer.write(data)
 *             await writer.drain()
 *         writer.close()
 *
 *     server = await asyncio.start_server(handle, None, port)
 *     await server.serve_forever()
 *
 * A task per connection over a buffered weft_stream. Runs until SIGINT
 * (which cancels the main task, and so closes the server) or SIGTERM.
 * It is the weft side of benchmark N1 (bench/), so it prints nothing per
 * connection. */
#include <weft.h>
#include <weft/io.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static int handle(weft_stream *s, void *arg)
{
    (void)arg;
    char buf[65536];
    for (;;) {
        ssize_t n = weft_stream_read(s, buf, sizeof buf);
        if (n <= 0) return (int)n;
        /* write waits only when the peer is slow to read (back-pressure),
         * so it doubles as writer.drain() */
        if (weft_stream_write(s, buf, (size_t)n) < 0) return -1;
    }
}

static int serve(void *arg)
{
    int port = *(int *)arg;
    weft_server *srv = weft_tcp_serve(NULL, port, handle, NULL);
    if (!srv) {
        fprintf(stderr, "echo_server: port %d: %s\n", port, weft_strerror(-errno));
        return 1;
    }
    fprintf(stderr, "echo_server: listening on port %d\n", weft_server_port(srv));
    /* Wait for SIGINT (it cancels this task). An event nobody sets rather
     * than a long sleep: no timer pending, so the poller waits without a
     * timeout (no kernel hrtimer armed at every poll). */
    weft_event *never = weft_event_new();
    weft_event_wait(never);
    weft_event_free(never);
    /* stop accepting, let connections finish briefly */
    weft_server_close(srv, 1.0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: echo_server PORT\n");
        return 2;
    }
    int port = atoi(argv[1]);
    return weft_run(serve, &port) == 1;
}
