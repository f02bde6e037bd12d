/* TCP and Unix sockets: echo over IPv4, IPv6 and Unix, connection refused,
 * slow connect under a deadline, cancellation, peer resets, long lines,
 * graceful close, the connection cap, EMFILE on accept. */
#define _GNU_SOURCE
#include <weft.h>
#include <weft/io.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static int echo(weft_stream *s, void *arg)
{
    char buf[65536];
    for (;;) {
        ssize_t n = weft_stream_read(s, buf, sizeof buf);
        if (n <= 0) return (int)n;
        if (weft_stream_write(s, buf, (size_t)n) < 0) return -1;
    }
}

/* One round trip of msg through an echo server at host:port. */
static void roundtrip(const char *host, int port, const char *msg)
{
    weft_stream *c = NULL;
    CHECK_EQ(weft_tcp_connect(host, port, NULL, &c), 0);
    size_t n = strlen(msg);
    CHECK_EQ(weft_stream_write(c, msg, n), (long)n);
    char buf[256];
    CHECK_EQ(weft_stream_read_exactly(c, buf, n), (long)n);
    CHECK(!memcmp(buf, msg, n));
    CHECK_EQ(weft_stream_close(c), 0);
}

/* ---- echo over v4, v6, both, Unix ---- */

/* Some CI containers have no IPv6 at all: the IPv6 cases then say so and
 * are skipped rather than failed. */
static int have_ipv6(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) close(fd);
    if (!ok) fprintf(stderr, "no IPv6 loopback here: IPv6 cases skipped\n");
    return ok;
}

static int t_echo(void *arg)
{
    weft_server *v4 = weft_tcp_serve("127.0.0.1", 0, echo, NULL);
    WEFT_TEST_CHECK(v4);
    int port = weft_server_port(v4);
    WEFT_TEST_CHECK(port > 0);
    roundtrip("127.0.0.1", port, "over IPv4");
    roundtrip("localhost", port, "by name");
    int v6ok = have_ipv6();
    if (v6ok) CHECK_EQ(weft_tcp_connect("::1", port, NULL, &(weft_stream *){0}), -ECONNREFUSED);
    CHECK_EQ(weft_server_close(v4, 1), 0);

    if (v6ok) {
        weft_server *v6 = weft_tcp_serve("::1", 0, echo, NULL);
        WEFT_TEST_CHECK(v6);
        roundtrip("::1", weft_server_port(v6), "over IPv6");
        CHECK_EQ(weft_server_close(v6, 1), 0);
    }

    /* no host: every interface, both families, one port */
    weft_server *any = weft_tcp_serve(NULL, 0, echo, NULL);
    WEFT_TEST_CHECK(any);
    port = weft_server_port(any);
    roundtrip("127.0.0.1", port, "wildcard v4");
    if (v6ok) roundtrip("::1", port, "wildcard v6");
    /* many clients at once */
    CHECK_EQ(weft_server_close(any, 1), 0);

    char path[64];
    snprintf(path, sizeof path, "/tmp/weft-test-%d.sock", (int)getpid());
    weft_server *u = weft_unix_serve(path, echo, NULL, NULL);
    WEFT_TEST_CHECK(u);
    weft_stream *c;
    CHECK_EQ(weft_unix_connect(path, NULL, &c), 0);
    CHECK_EQ(weft_stream_write(c, "over unix", 9), 9);
    char buf[16];
    CHECK_EQ(weft_stream_read_exactly(c, buf, 9), 9);
    WEFT_TEST_CHECK(!memcmp(buf, "over unix", 9));
    CHECK_EQ(weft_stream_close(c), 0);
    CHECK_EQ(weft_server_close(u, 1), 0);
    WEFT_TEST_CHECK(access(path, F_OK) != 0); /* the socket file is removed */
    CHECK_EQ(weft_unix_connect(path, NULL, &c), -ENOENT);
    /* a path that is not a socket is never replaced */
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    WEFT_TEST_CHECK(fd >= 0);
    close(fd);
    WEFT_TEST_CHECK(weft_unix_serve(path, echo, NULL, NULL) == NULL);
    CHECK_EQ(errno, EADDRINUSE);
    unlink(path);
    /* a port in use */
    weft_server *a = weft_tcp_serve("127.0.0.1", 0, echo, NULL);
    WEFT_TEST_CHECK(weft_tcp_serve("127.0.0.1", weft_server_port(a), echo, NULL) == NULL);
    CHECK_EQ(errno, EADDRINUSE);
    weft_server_close(a, 0);
    return 0;
}

static int client_task(void *arg)
{
    roundtrip("127.0.0.1", (int)(long)arg, "concurrent client");
    return 0;
}

static int t_many_clients(void *arg)
{
    weft_server *srv = weft_tcp_serve("127.0.0.1", 0, echo, NULL);
    long port = weft_server_port(srv);
    weft_task *t[50];
    for (int i = 0; i < 50; i++) t[i] = weft_spawn(client_task, (void *)port);
    CHECK_EQ(weft_gather(t, 50, NULL), 0);
    CHECK_EQ(weft_server_close(srv, 1), 0);
    return 0;
}

/* ---- connect failures ---- */

/* A free port: bound, then closed, so nothing listens there. */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

/* A listener whose accept queue is full: further SYNs are dropped, so a
 * connect there hangs like one to an unroutable address. Returns its port;
 * the fillers stay open in fill[]. */
static int full_listener(int *lfd, int fill[8])
{
    *lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(*lfd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(*lfd, 0) == 0);
    socklen_t len = sizeof a;
    getsockname(*lfd, (struct sockaddr *)&a, &len);
    for (int i = 0; i < 8; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&a, sizeof a);
    }
    weft_sleep(0.05);
    return ntohs(a.sin_port);
}

static int g_port;
static int connect_there(void *arg)
{
    weft_stream *s = NULL;
    int r = weft_tcp_connect("127.0.0.1", g_port, NULL, &s);
    CHECK(!s == (r < 0));
    weft_stream_close(s);
    return r;
}

static int t_connect_errors(void *arg)
{
    weft_stream *s = (weft_stream *)1;
    CHECK_EQ(weft_tcp_connect("127.0.0.1", dead_port(), NULL, &s), -ECONNREFUSED);
    WEFT_TEST_CHECK(s == NULL);
    CHECK_EQ(weft_tcp_connect("127.0.0.1", 0, NULL, &s), -EINVAL);
    int r = weft_tcp_connect("no-such-host.invalid", 80, NULL, &s);
    WEFT_TEST_CHECK(r == -WEFT_EDNS || r == -WEFT_EDNSAGAIN);

    int lfd, fill[8];
    g_port = full_listener(&lfd, fill);
    /* opts.timeout_s bounds the whole connect */
    weft_connect_opts o = {.timeout_s = 0.2};
    double t0 = weft_now();
    CHECK_EQ(weft_tcp_connect("127.0.0.1", g_port, &o, &s), -ETIMEDOUT);
    CHECK_NEAR(weft_now() - t0, 1.05, 1.0); /* 0.2 s; loaded CI machines stall */
    /* so does an enclosing weft_timeout */
    t0 = weft_now();
    CHECK_EQ(weft_timeout(0.1, connect_there, NULL), -ETIMEDOUT);
    CHECK_NEAR(weft_now() - t0, 1.0, 1.0); /* 0.1 s; loaded CI machines stall */
    /* and cancellation */
    weft_task *t = weft_spawn(connect_there, NULL);
    weft_sleep(0.05);
    WEFT_TEST_CHECK(!weft_done(t));
    weft_cancel(t);
    CHECK_EQ(weft_await(t), -ECANCELED);
    for (int i = 0; i < 8; i++) close(fill[i]);
    close(lfd);
    return 0;
}

/* ---- resets ---- */

static weft_event *g_ev;

static int reset_after_10(weft_stream *s, void *arg)
{
    CHECK_EQ(weft_stream_write(s, "0123456789", 10), 10);
    weft_event_wait(g_ev); /* the client is reading by now */
    weft_sleep(0.02);
    weft_stream_abort(s);  /* RST */
    return 0;
}

static int reset_while_reading(weft_stream *s, void *arg)
{
    char buf[1000];
    CHECK_EQ(weft_stream_read_exactly(s, buf, sizeof buf), (long)sizeof buf);
    weft_stream_abort(s);
    return 0;
}

static int t_reset(void *arg)
{
    g_ev = weft_event_new();
    weft_server *srv = weft_tcp_serve("127.0.0.1", 0, reset_after_10, NULL);
    weft_stream *c;
    CHECK_EQ(weft_tcp_connect("127.0.0.1", weft_server_port(srv), NULL, &c), 0);
    char buf[100];
    CHECK_EQ(weft_stream_read_exactly(c, buf, 10), 10);
    weft_event_set(g_ev);
    CHECK_EQ(weft_stream_read_exactly(c, buf, 100), -ECONNRESET); /* mid-read */
    weft_stream_close(c);
    weft_server_close(srv, 1);

    /* mid-write: the writer gets an error, it does not hang */
    srv = weft_tcp_serve("127.0.0.1", 0, reset_while_reading, NULL);
    CHECK_EQ(weft_tcp_connect("127.0.0.1", weft_server_port(srv), NULL, &c), 0);
    static char chunk[65536];
    ssize_t r;
    for (int i = 0; i < 10000; i++)
        if ((r = weft_stream_write(c, chunk, sizeof chunk)) < 0) break;
    if (r >= 0) r = weft_stream_drain(c);
    WEFT_TEST_CHECK(r == -ECONNRESET || r == -EPIPE);
    CHECK_EQ(weft_stream_write(c, "x", 1), r); /* the error sticks */
    weft_stream_close(c);
    weft_server_close(srv, 1);
    weft_event_free(g_ev);
    return 0;
}

/* ---- a line longer than the limit ---- */

static int line_server(weft_stream *s, void *arg)
{
    char line[128];
    for (;;) {
        ssize_t n = weft_stream_read_line(s, line, sizeof line);
        if (n == -WEFT_ELIMIT) {
            /* the long line is still buffered: report its start */
            const char *p;
            CHECK(weft_stream_peek(s, &p, 128) >= 128);
            weft_stream_write(s, "too long: ", 10);
            weft_stream_write(s, p, 5);
            weft_stream_write(s, "\n", 1);
            return 0;
        }
        if (n <= 0) return (int)n;
        weft_stream_write(s, line, (size_t)n);
    }
}

static int t_long_line(void *arg)
{
    weft_server *srv = weft_tcp_serve("127.0.0.1", 0, line_server, NULL);
    weft_stream *c;
    CHECK_EQ(weft_tcp_connect("127.0.0.1", weft_server_port(srv), NULL, &c), 0);
    CHECK_EQ(weft_stream_write(c, "short\n", 6), 6);
    char big[5000];
    memset(big, 'L', sizeof big);
    CHECK_EQ(weft_stream_write(c, big, sizeof big), (long)sizeof big);
    char buf[64];
    CHECK_EQ(weft_stream_read_line(c, buf, sizeof buf), 6);
    WEFT_TEST_CHECK(!memcmp(buf, "short\n", 6));
    CHECK_EQ(weft_stream_read_line(c, buf, sizeof buf), 16);
    WEFT_TEST_CHECK(!memcmp(buf, "too long: LLLLL\n", 16));
    CHECK_EQ(weft_stream_read(c, buf, sizeof buf), 0); /* then the server hung up */
    weft_stream_close(c);
    weft_server_close(srv, 1);
    return 0;
}

/* ---- graceful close, the cap ---- */

static int finished_handlers, cancelled_handlers;
static int slow_handler(weft_stream *s, void *arg)
{
    int r = weft_sleep(*(double *)arg);
    if (r == -ECANCELED) cancelled_handlers++;
    else finished_handlers++;
    weft_stream_write(s, "bye\n", 4);
    return r;
}

static int t_graceful(void *arg)
{
    double hold = 0.1;
    weft_server *srv = weft_tcp_serve("127.0.0.1", 0, slow_handler, &hold);
    int port = weft_server_port(srv);
    weft_stream *c[3];
    for (int i = 0; i < 3; i++) CHECK_EQ(weft_tcp_connect("127.0.0.1", port, NULL, &c[i]), 0);
    weft_sleep(0.02);
    CHECK_EQ(weft_server_connections(srv), 3);
    double t0 = weft_now();
    CHECK_EQ(weft_server_close(srv, 5), 0); /* waits for the handlers, not for 5 s */
    WEFT_TEST_CHECK(weft_now() - t0 < 3);
    CHECK_EQ(finished_handlers, 3);
    char buf[8];
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(weft_stream_read_line(c[i], buf, sizeof buf), 4);
        CHECK_EQ(weft_stream_read(c[i], buf, sizeof buf), 0);
        weft_stream_close(c[i]);
    }
    /* no longer accepting */
    CHECK_EQ(weft_tcp_connect("127.0.0.1", port, NULL, &c[0]), -ECONNREFUSED);

    /* handlers that outlive the grace period are cancelled */
    hold = 100;
    srv = weft_tcp_serve("127.0.0.1", 0, slow_handler, &hold);
    port = weft_server_port(srv);
    for (int i = 0; i < 2; i++) CHECK_EQ(weft_tcp_connect("127.0.0.1", port, NULL, &c[i]), 0);
    weft_sleep(0.02);
    t0 = weft_now();
    CHECK_EQ(weft_server_close(srv, 0.1), 0);
    CHECK_NEAR(weft_now() - t0, 1.0, 1.0); /* 0.1 s; loaded CI machines stall */
    CHECK_EQ(cancelled_handlers, 2);
    for (int i = 0; i < 2; i++) weft_stream_abort(c[i]);
    return 0;
}

static int t_cap(void *arg)
{
    double hold = 100;
    weft_serve_opts o = {.max_conns = 2};
    weft_server *srv = weft_tcp_serve_with("127.0.0.1", 0, slow_handler, &hold, &o);
    int port = weft_server_port(srv);
    weft_stream *c[3];
    for (int i = 0; i < 3; i++) CHECK_EQ(weft_tcp_connect("127.0.0.1", port, NULL, &c[i]), 0);
    weft_sleep(0.05);
    CHECK_EQ(weft_server_connections(srv), 2); /* the third waits in the backlog */
    weft_stream_abort(c[0]);
    weft_sleep(0.05);
    /* a handler sleeping does not notice its peer leaving: still 2 */
    CHECK_EQ(weft_server_connections(srv), 2);
    CHECK_EQ(weft_server_close(srv, 0), 0);
    for (int i = 1; i < 3; i++) weft_stream_abort(c[i]);
    return 0;
}

/* A handler closes its own server (a "stop" command) */
static weft_server *g_srv;
static int command_handler(weft_stream *s, void *arg)
{
    char line[32];
    for (;;) {
        ssize_t n = weft_stream_read_line(s, line, sizeof line);
        if (n <= 0) return (int)n;
        if (n == 5 && !memcmp(line, "stop\n", 5)) {
            CHECK_EQ(weft_server_close(g_srv, 0.1), 0); /* cancels the others, not us */
            CHECK_EQ(weft_stream_write(s, "stopped\n", 8), 8);
            return 0;
        }
    }
}

static int t_close_from_handler(void *arg)
{
    g_srv = weft_tcp_serve("127.0.0.1", 0, command_handler, NULL);
    int port = weft_server_port(g_srv);
    weft_stream *idle, *boss;
    CHECK_EQ(weft_tcp_connect("127.0.0.1", port, NULL, &idle), 0);
    CHECK_EQ(weft_tcp_connect("127.0.0.1", port, NULL, &boss), 0);
    CHECK_EQ(weft_stream_write(boss, "stop\n", 5), 5);
    char buf[16];
    CHECK_EQ(weft_stream_read_line(boss, buf, sizeof buf), 8);
    WEFT_TEST_CHECK(!memcmp(buf, "stopped\n", 8));
    CHECK_EQ(weft_stream_read(boss, buf, sizeof buf), 0);
    ssize_t r = weft_stream_read(idle, buf, sizeof buf); /* its handler was cancelled */
    WEFT_TEST_CHECK(r == 0 || r == -ECONNRESET);
    weft_stream *c;
    CHECK_EQ(weft_tcp_connect("127.0.0.1", port, NULL, &c), -ECONNREFUSED);
    weft_stream_close(idle);
    weft_stream_close(boss);
    return 0;
}

/* A Unix listener with a full backlog: connect retries until the deadline,
 * and succeeds once the server makes room. */
static int until_eof(weft_stream *s, void *arg)
{
    char buf[64];
    while (weft_stream_read(s, buf, sizeof buf) > 0) {
    }
    return 0;
}

static const char *g_path;
static int unix_connect_task(void *arg)
{
    weft_stream *s;
    int r = weft_unix_connect(g_path, NULL, &s);
    if (r == 0) weft_stream_close(s);
    return r;
}

static int t_unix_backlog(void *arg)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/weft-test-bl-%d.sock", (int)getpid());
    g_path = path;
    weft_serve_opts o = {.backlog = 1, .max_conns = 1};
    weft_server *srv = weft_unix_serve(path, until_eof, NULL, &o);
    WEFT_TEST_CHECK(srv);
    weft_stream *held[8];
    int nheld = 0, timed_out = 0;
    weft_connect_opts co = {.timeout_s = 0.1};
    while (nheld < 8 && !timed_out) {
        int r = weft_unix_connect(path, &co, &held[nheld]);
        if (r == -ETIMEDOUT) {
            timed_out = 1;
        } else {
            CHECK_EQ(r, 0);
            nheld++;
        }
    }
    WEFT_TEST_CHECK(timed_out); /* the backlog filled up */
    weft_task *t = weft_spawn(unix_connect_task, NULL);
    weft_sleep(0.05);
    WEFT_TEST_CHECK(!weft_done(t));
    for (int i = 0; i < nheld; i++) weft_stream_close(held[i]); /* room again */
    CHECK_EQ(weft_wait_for(t, 5), 0);
    CHECK_EQ(weft_server_close(srv, 1), 0);
    return 0;
}

/* ---- EMFILE on accept ---- */

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

static weft_stream *g_c;
static char g_buf[8];
static int read_ping(void *arg) { return (int)weft_stream_read_exactly(g_c, g_buf, 4); }

static int t_emfile(void *arg)
{
    struct rlimit old, low;
    getrlimit(RLIMIT_NOFILE, &old);
    low = old;
    low.rlim_cur = 128;
    WEFT_TEST_CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
    weft_server *srv = weft_tcp_serve("127.0.0.1", 0, echo, NULL);
    int port = weft_server_port(srv);
    /* use up every descriptor but three, which the clients take: the
     * server's accepts then fail with EMFILE */
    int hog[128], nhog = 0;
    while (nhog < 128 && (hog[nhog] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0) nhog++;
    WEFT_TEST_CHECK(nhog < 128);
    for (int i = 0; i < 3; i++) close(hog[--nhog]);
    /* raw connects, without yielding: the acceptor must not take the fds */
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fds[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        WEFT_TEST_CHECK(fds[i] >= 0);
        WEFT_TEST_CHECK(connect(fds[i], (struct sockaddr *)&a, sizeof a) == 0 ||
                        errno == EINPROGRESS);
    }
    weft_stream *c[3];
    for (int i = 0; i < 3; i++) {
        WEFT_TEST_CHECK(weft_wait_fd(fds[i], WEFT_WRITABLE) > 0);
        WEFT_TEST_CHECK((c[i] = weft_stream_from_fd(fds[i])) != NULL);
    }
    CHECK_EQ(open("/dev/null", O_RDONLY), -1);
    CHECK_EQ(errno, EMFILE);
    for (int i = 0; i < 3; i++) CHECK_EQ(weft_stream_write(c[i], "ping", 4), 4);
    double cpu0 = cpu_now();
    g_c = c[0];
    CHECK_EQ(weft_timeout(0.5, read_ping, NULL), -ETIMEDOUT); /* not served yet */
    WEFT_TEST_CHECK(cpu_now() - cpu0 < 0.1);                  /* backing off, not spinning */
    /* once descriptors are back, the waiting clients are served */
    while (nhog) close(hog[--nhog]);
    for (int i = 0; i < 3; i++) {
        g_c = c[i];
        CHECK_EQ(weft_timeout(2, read_ping, NULL), 4);
        WEFT_TEST_CHECK(!memcmp(g_buf, "ping", 4));
        CHECK_EQ(weft_stream_close(c[i]), 0);
    }
    CHECK_EQ(weft_server_close(srv, 1), 0);
    setrlimit(RLIMIT_NOFILE, &old);
    return 0;
}

static const weft_test_case cases[] = {
    {"echo", t_echo},
    {"many_clients", t_many_clients},
    {"connect_errors", t_connect_errors},
    {"reset", t_reset},
    {"long_line", t_long_line},
    {"graceful", t_graceful},
    {"cap", t_cap},
    {"emfile", t_emfile},
    {"close_from_handler", t_close_from_handler},
    {"unix_backlog", t_unix_backlog},
};

int main(int argc, char **argv)
{
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
