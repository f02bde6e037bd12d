/* 10,000 concurrent connections on loopback: a server in this process, the
 * clients in a forked child (each side needs 10,000 descriptors, and the
 * hard limit may not allow 20,000 in one process). Every client connects,
 * gets an answer, and holds its connection until all 10,000 are open at
 * once; the server must see them all at the same time. */
#define _GNU_SOURCE
#include <weft.h>
#include <weft/io.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define N 10000

static int port_pipe[2];

/* ---- the server (parent) ---- */

static int live, most, ended;

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[128];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
    if (f) fclose(f);
    return kb;
}
static long peak_rss_kb;

static int hello(weft_stream *s, void *arg)
{
    if (++live > most) most = live;
    if (live == N) peak_rss_kb = rss_kb();
    char line[16];
    ssize_t r = weft_stream_read_line(s, line, sizeof line);
    if (r == 6) r = weft_stream_write(s, "hi\n", 3);
    while (r > 0) r = weft_stream_read(s, line, sizeof line); /* until the client leaves */
    live--;
    ended++;
    return 0;
}

static int server_main(void *arg)
{
    weft_serve_opts o = {.backlog = 4096, .max_conns = N};
    weft_server *srv = weft_tcp_serve_with("127.0.0.1", 0, hello, NULL, &o);
    WEFT_TEST_CHECK(srv);
    int port = weft_server_port(srv);
    WEFT_TEST_CHECK(write(port_pipe[1], &port, sizeof port) == sizeof port);
    double t0 = weft_now();
    /* wait until everyone came and went (4.5 s under ASan on a loaded
     * 2-core machine: the bound only ends a hung run) */
    while (weft_now() - t0 < 45 && (ended < N || weft_server_connections(srv))) weft_sleep(0.01);
    fprintf(stderr, "server: %d connections at once (RSS %ld KiB then), %d ended, %zu left, %.2f s\n",
            most, peak_rss_kb, ended, weft_server_connections(srv), weft_now() - t0);
    CHECK_EQ(most, N);
    CHECK_EQ(weft_server_close(srv, 1), 0);
    return 0;
}

/* ---- the clients (child) ---- */

static int g_port, ready;
static weft_event *all_ready;
static weft_sem *connecting;

static int client(void *arg)
{
    weft_stream *s = NULL;
    /* bound the handshakes in flight, so that the listen queue never overflows */
    CHECK_EQ(weft_sem_acquire(connecting), 0);
    int r = weft_tcp_connect("127.0.0.1", g_port, NULL, &s);
    weft_sem_release(connecting);
    if (r < 0) {
        fprintf(stderr, "client: connect: %s\n", weft_strerror(r));
        return r;
    }
    char line[8];
    CHECK_EQ(weft_stream_write(s, "hello\n", 6), 6);
    CHECK_EQ(weft_stream_read_line(s, line, sizeof line), 3);
    if (++ready == N) weft_event_set(all_ready);
    CHECK_EQ(weft_event_wait(all_ready), 0);
    weft_stream_abort(s); /* a reset leaves no TIME_WAIT to use up ports */
    return 0;
}

static int clients_main(void *arg)
{
    all_ready = weft_event_new();
    connecting = weft_sem_new(256);
    weft_group *g = weft_group_new();
    for (int i = 0; i < N; i++) CHECK_EQ(weft_group_spawn(g, client, NULL), 0);
    double t0 = weft_now();
    int r = weft_group_wait(g);
    fprintf(stderr, "clients: %d connected at once, %.2f s\n", ready, weft_now() - t0);
    weft_event_free(all_ready);
    weft_sem_free(connecting);
    return r;
}

/* Both sides run under weft_test_run (a time limit past the server's 45 s
 * bound, then the leak checks: 10,000 streams closed, no task left). */
static const weft_test_options opts = {.timeout_s = 60};

static void many(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_max < N + 100) {
        fprintf(stderr, "RLIMIT_NOFILE hard limit %lu < %d: cannot run\n", (unsigned long)rl.rlim_max, N + 100);
        exit(1);
    }
    rl.rlim_cur = rl.rlim_max;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    CHECK(pipe(port_pipe) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        CHECK(read(port_pipe[0], &g_port, sizeof g_port) == sizeof g_port);
        _exit(weft_test_run("many_clients", clients_main, NULL, &opts));
    }
    int r = weft_test_run("many", server_main, NULL, &opts);
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_EQ(r, 0);
}

int main(void)
{
    many();
    return 0;
}
