/* multicore_echo [PORT [LOOPS]]: the echo server on every core. One loop
 * per core (LOOPS, default: every online CPU); weft_tcp_serve in a run of
 * several loops listens on every loop by itself, each with its own listener
 * on the same port (SO_REUSEPORT): the kernel spreads connections over the
 * listeners by a hash of their addresses, and each connection's task runs
 * on the loop that accepted it, sharing nothing with the others.
 *
 * With a PORT it serves until SIGINT: main waits, SIGINT cancels it, and it
 * closes the server, on every loop. Without arguments it checks itself: 2
 * loops, 64 clients, every echo intact, and says how the connections
 * spread. */
#include <weft.h>
#include <weft/io.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int port;
static long accepted[64]; /* per loop; each written by its own loop only */

static int echo(weft_stream *s, void *arg)
{
    (void)arg;
    accepted[weft_loop_index(weft_loop_current())]++;
    char buf[65536];
    for (;;) {
        ssize_t n = weft_stream_read(s, buf, sizeof buf);
        if (n <= 0) return (int)n;
        if (weft_stream_write(s, buf, (size_t)n) < 0) return -1;
    }
}

static int client(void *arg)
{
    long id = (long)arg;
    weft_stream *s;
    int r = weft_tcp_connect("127.0.0.1", port, NULL, &s);
    if (r < 0) return r;
    char out[64], in[64];
    int n = snprintf(out, sizeof out, "hello from client %ld\n", id);
    if ((r = (int)weft_stream_write(s, out, (size_t)n)) >= 0 &&
        (r = (int)weft_stream_read_exactly(s, in, (size_t)n)) >= 0 && memcmp(in, out, (size_t)n))
        r = -EIO;
    weft_stream_close(s);
    return r < 0 ? r : 0;
}

static int serve(void *arg)
{
    int self_check = *(int *)arg;
    int n = weft_loop_count();
    weft_server *srv = weft_tcp_serve("127.0.0.1", port, echo, NULL); /* on every loop */
    if (!srv) {
        fprintf(stderr, "multicore_echo: %s\n", weft_strerror(-errno));
        return -errno;
    }
    port = weft_server_port(srv);
    if (!self_check) {
        printf("multicore_echo: %d loops on port %d\n", n, port);
        fflush(stdout);
        weft_sleep(INFINITY); /* until SIGINT cancels main */
        weft_server_close(srv, 1.0); /* cancelled: closes at once, on every loop */
        return 0;
    }
    enum { CLIENTS = 64 };
    weft_task *c[CLIENTS];
    for (long i = 0; i < CLIENTS; i++) c[i] = weft_spawn(client, (void *)i);
    int r = weft_gather(c, CLIENTS, NULL);
    if (r < 0) {
        fprintf(stderr, "multicore_echo: a client failed: %s\n", weft_strerror(r));
        weft_server_close(srv, 0);
        return 1;
    }
    if ((r = weft_server_close(srv, 1.0)) < 0) {
        fprintf(stderr, "multicore_echo: closing the server: %s\n", weft_strerror(r));
        return 1;
    }
    long total = 0;
    for (int i = 0; i < n; i++) total += accepted[i];
    printf("multicore_echo: %d clients echoed; connections per loop:", CLIENTS);
    for (int i = 0; i < n; i++) printf(" %ld", accepted[i]);
    printf("\n");
    return total == CLIENTS ? 0 : 1;
}

int main(int argc, char **argv)
{
    int self_check = argc < 2;
    port = self_check ? 0 : atoi(argv[1]);
    weft_options o = {.loops = self_check ? 2 : argc > 2 ? atoi(argv[2]) : (int)sysconf(_SC_NPROCESSORS_ONLN)};
    if (o.loops > 64) o.loops = 64;
    int r = weft_run_with(&o, serve, &self_check);
    if (r < 0 && r != -ECANCELED) fprintf(stderr, "multicore_echo: %s\n", weft_strerror(r));
    return r != 0 && r != -ECANCELED;
}
