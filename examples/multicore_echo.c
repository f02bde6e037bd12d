/* multicore_echo [PORT [LOOPS]]: the echo server on every core. One loop
 * per core (LOOPS, default: every online CPU), each with its own listener
 * on the same port (SO_REUSEPORT): the kernel spreads connections over the
 * listeners by a hash of their addresses, and each connection's task runs
 * on the loop that accepted it, sharing nothing with the others.
 *
 * With a PORT it serves until SIGINT: main waits, SIGINT cancels it, the
 * run then cancels the listener task of every loop, and each closes its
 * server gracefully. Without arguments it checks itself: 2 loops, 64
 * clients, every echo intact, and says how the connections spread. */
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

static int closer(void *srv)
{
    int r = weft_server_close(srv, 1.0);
    if (r < 0) fprintf(stderr, "multicore_echo: closing loop %d's server: %s\n",
                       weft_loop_index(weft_loop_current()), weft_strerror(r));
    return r;
}

/* One per loop, put there with weft_spawn_on: listens, says so through
 * the channel (0 or the error), then waits to be cancelled (by the run's
 * end) and closes its server gracefully. */
static int listener(void *arg)
{
    weft_chan *ready = arg;
    weft_serve_opts o = {.reuseport = 1};
    weft_server *srv = weft_tcp_serve_with("127.0.0.1", port, echo, NULL, &o);
    if (!srv) {
        weft_chan_put(ready, (void *)(long)-errno);
        return 0;
    }
    if (port == 0) port = weft_server_port(srv); /* loop 0's listener picks it */
    weft_chan_put(ready, (void *)0L);
    weft_sleep(INFINITY);
    /* Cancelled: a cancelled task's waits fail at once, so the graceful
     * close (which waits for the connections to end) runs in a task of
     * its own, detached; the run waits for it before it ends. */
    weft_detach(weft_spawn(closer, srv));
    return 0;
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

/* Starts the listener of loop i and returns once it listens. */
static int start_on(int i, weft_task **t, weft_chan *ready)
{
    *t = weft_spawn_on(weft_loop_at(i), listener, ready);
    if (!*t) return -errno;
    void *r;
    int e = weft_chan_get(ready, &r);
    return e < 0 ? e : (int)(long)r;
}

static int serve(void *arg)
{
    int self_check = *(int *)arg;
    int n = weft_loop_count();
    weft_task *t[64];
    weft_chan *ready = weft_chan_new(1);
    if (!ready) return -ENOMEM;
    /* Loop 0 first (with port 0 it picks the port), then the others. */
    for (int i = 0; i < n; i++) {
        int r = start_on(i, &t[i], ready);
        if (r < 0) {
            fprintf(stderr, "multicore_echo: loop %d: %s\n", i, weft_strerror(r));
            return r;
        }
    }
    weft_chan_free(ready);
    if (!self_check) {
        printf("multicore_echo: %d loops on port %d\n", n, port);
        fflush(stdout);
        weft_sleep(INFINITY); /* until SIGINT; the run's end closes every server */
        return 0;
    }
    enum { CLIENTS = 64 };
    weft_task *c[CLIENTS];
    for (long i = 0; i < CLIENTS; i++) c[i] = weft_spawn(client, (void *)i);
    int r = weft_gather(c, CLIENTS, NULL);
    if (r < 0) {
        fprintf(stderr, "multicore_echo: a client failed: %s\n", weft_strerror(r));
        return 1;
    }
    for (int i = 0; i < n; i++) {
        weft_cancel(t[i]);
        if ((r = weft_await(t[i])) < 0) {
            fprintf(stderr, "multicore_echo: closing loop %d's server: %s\n", i, weft_strerror(r));
            return 1;
        }
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
