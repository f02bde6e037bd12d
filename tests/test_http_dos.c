/* Denial of service against the HTTP server (issue 10, items 24-27), as a
 * fresh client sees it while an attack runs. The server runs in a child
 * process of its own, so that its loop is the one thing an attacker can
 * hog; attackers are threads with plain sockets; probes are new
 * connections that time how long an answer takes. What the kernel holds
 * for a connection (bytes queued, FIN-WAIT-1) is read from /proc/net/tcp.
 * Every bound is generous (the machine is shared and loaded): the defects
 * they catch are seconds or unbounded, not milliseconds. */
#define _GNU_SOURCE
#include <weft/http.h>
#include <weft/test.h>
#include "check.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pause_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* ---- the server, in a child process ----------------------------------------- */

typedef struct srv_cfg {
    weft_http_server_opts o;
    rlim_t nofile; /* the child's soft RLIMIT_NOFILE; 0: inherited */
    const char *files; /* served under /files/ when set */
} srv_cfg;

typedef struct child {
    pid_t pid;
    int port;
    int ctl; /* closing it tells the child to shut down */
} child;

static int h_ok(weft_http_request *req, void *arg)
{
    (void)arg;
    return weft_http_respond(req, 200, "text/plain", "ok", 2);
}

static int h_big(weft_http_request *req, void *arg)
{
    (void)arg;
    static char block[8192];
    return weft_http_respond(req, 200, "text/plain", block, sizeof block);
}

static int h_huge(weft_http_request *req, void *arg)
{
    (void)arg;
    static char block[65536];
    int r = weft_http_reply_start(req, 200, "text/plain", 128 * sizeof block);
    for (int i = 0; r >= 0 && i < 128; i++) r = (int)weft_http_reply_write(req, block, sizeof block);
    return r < 0 ? r : weft_http_reply_end(req);
}

static int h_body(weft_http_request *req, void *arg)
{
    (void)arg;
    const char *data;
    size_t len;
    int r = weft_http_request_body(req, &data, &len);
    if (r < 0) return r;
    return weft_http_respond(req, 200, "text/plain", "ok", 2);
}

/* A handler with some work to do: 20 us of CPU. */
static int h_work(weft_http_request *req, void *arg)
{
    (void)arg;
    double t0 = now_s();
    while (now_s() - t0 < 20e-6) {
    }
    return weft_http_respond(req, 200, "text/plain", "done", 4);
}

static const srv_cfg *child_cfg;
static int child_ready, child_ctl;

static int child_main(void *arg)
{
    (void)arg;
    weft_http_server *srv = weft_http_server_new(&child_cfg->o);
    if (!srv) return -1;
    weft_http_server_route(srv, "*", "/", h_ok, NULL);
    weft_http_server_route(srv, "*", "/big", h_big, NULL);
    weft_http_server_route(srv, "*", "/huge", h_huge, NULL);
    weft_http_server_route(srv, "*", "/body", h_body, NULL);
    weft_http_server_route(srv, "*", "/noread", h_ok, NULL);
    weft_http_server_route(srv, "*", "/work", h_work, NULL);
    int r = child_cfg->files ? weft_http_server_static(srv, "/files", child_cfg->files) : 0;
    if (r == 0) r = weft_http_server_listen(srv, "127.0.0.1", 0);
    if (r < 0) {
        weft_http_server_close(srv, 0);
        return r;
    }
    int port = weft_http_server_port(srv);
    if (write(child_ready, &port, sizeof port) != sizeof port) return -1;
    close(child_ready);
    weft_wait_fd(child_ctl, WEFT_READABLE); /* the parent closed its end */
    return weft_http_server_close(srv, 0.5);
}

static child spawn_server(const srv_cfg *cfg)
{
    int ready[2], ctl[2];
    CHECK(pipe2(ready, O_CLOEXEC) == 0 && pipe2(ctl, O_CLOEXEC) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        close(ctl[1]);
        if (cfg->nofile) {
            struct rlimit rl;
            getrlimit(RLIMIT_NOFILE, &rl);
            rl.rlim_cur = cfg->nofile;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
        child_cfg = cfg;
        child_ready = ready[1];
        child_ctl = ctl[0];
        /* checked as a test: no task, connection or fd left once closed */
        weft_test_options o = {.timeout_s = 120};
        exit(weft_test_run("server child", child_main, NULL, &o));
    }
    close(ready[1]);
    close(ctl[0]);
    int port = 0;
    CHECK(read(ready[0], &port, sizeof port) == sizeof port);
    close(ready[0]);
    return (child){pid, port, ctl[1]};
}

/* Shuts the server down and checks that it ended well (under ASan: no
 * error, no leak), within a bound. */
static void stop_server(child ch)
{
    close(ch.ctl);
    int st = 0;
    double t0 = now_s();
    while (waitpid(ch.pid, &st, WNOHANG) == 0) {
        if (now_s() - t0 > 20) {
            kill(ch.pid, SIGKILL);
            waitpid(ch.pid, &st, 0);
            CHECK(!"the server child did not stop");
        }
        pause_s(0.02);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st)) fprintf(stderr, "server child status %#x\n", st);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ---- clients ------------------------------------------------------------------ */

/* A blocking connection to the child; rcvbuf > 0 sets SO_RCVBUF first (a
 * small receive window: a slow client far away). */
static int connect_to(int port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    if (rcvbuf) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int local_port(int fd)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    return ntohs(a.sin_port);
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        CHECK(w > 0);
        p += w;
        n -= (size_t)w;
    }
}

/* A fresh client: connects, asks for "/", and returns the seconds until
 * the answer was in, or -1 if none came within limit_s. */
static double probe(int port, double limit_s)
{
    double t0 = now_s();
    int fd = connect_to(port, 0);
    if (fd < 0) return -1;
    static const char req[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    send_all(fd, req, sizeof req - 1);
    char buf[1024];
    size_t len = 0;
    double took = -1;
    for (;;) {
        double left = limit_s - (now_s() - t0);
        struct pollfd pf = {fd, POLLIN, 0};
        if (left <= 0 || poll(&pf, 1, (int)(left * 1000) + 1) <= 0) break;
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n <= 0) break;
        len += (size_t)n;
        buf[len] = 0;
        if (strstr(buf, "\r\n\r\nok")) {
            took = now_s() - t0;
            break;
        }
        if (len == sizeof buf - 1) break;
    }
    close(fd);
    return took;
}

/* Probes every 0.2 s for seconds; each must be answered within bound_s. */
static void probes_answered(int port, double seconds, double bound_s)
{
    int n = 0, ok = 0;
    double worst = 0, t0 = now_s();
    while (now_s() - t0 < seconds) {
        double t = probe(port, bound_s);
        n++;
        if (t >= 0) ok++;
        if (t < 0 || t > worst) worst = t < 0 ? bound_s : t;
        pause_s(0.2);
    }
    fprintf(stderr, "  probes: %d of %d answered within %.1f s, slowest %.3f s\n", ok, n, bound_s,
            worst);
    CHECK_EQ(ok, n);
}

/* Waits up to limit_s for the server to end the connection (EOF or a
 * reset), reading and dropping what it sends; sends one byte of drip
 * every drip_s if drip_s > 0. The seconds it took, or -1. */
static double until_closed(int fd, double limit_s, double drip_s)
{
    double t0 = now_s(), next = t0 + drip_s;
    char buf[65536];
    for (;;) {
        double t = now_s();
        if (t - t0 > limit_s) return -1;
        if (drip_s > 0 && t >= next) {
            if (send(fd, "x", 1, MSG_NOSIGNAL) < 0) return now_s() - t0;
            next += drip_s;
        }
        double wait = drip_s > 0 ? next - now_s() : limit_s - (t - t0);
        if (wait < 0) wait = 0;
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, (int)(wait * 1000) + 1) <= 0) continue;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return now_s() - t0;
    }
}

/* ---- attackers (threads) ---------------------------------------------------- */

enum { A_PIPELINE, A_CHUNK_EXT, A_TRAILERS, A_ZEROS };

typedef struct attack {
    int port, kind;
    atomic_int stop;
    long long sent; /* bytes */
    int conns;
    pthread_t th;
} attack;

static const char *attack_head(int kind)
{
    switch (kind) {
    case A_CHUNK_EXT:
        return "POST /noread HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;e=";
    case A_TRAILERS:
        return "POST /noread HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
    case A_ZEROS:
        return "POST /body HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    default:
        return "";
    }
}

/* What the attacker sends over and over after the head. */
static size_t attack_fill(int kind, char *buf, size_t cap)
{
    /* Requests that cost the server far more than the attacker (a handler
     * that works for 20 us): its socket never runs dry. */
    static const char get[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    static const char trailer[] = "X-Trailer: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    const char *unit = kind == A_PIPELINE ? get : kind == A_TRAILERS ? trailer : NULL;
    if (!unit) {
        memset(buf, kind == A_ZEROS ? '0' : 'a', cap);
        return cap;
    }
    size_t u = strlen(unit), n = 0;
    while (n + u <= cap) {
        memcpy(buf + n, unit, u);
        n += u;
    }
    return n;
}

/* Writes flat out and reads flat out (the server never has to wait for
 * it), reconnecting whenever the server ends the connection. */
static void *attack_main(void *arg)
{
    attack *a = arg;
    static _Thread_local char fill[65536], sink[65536];
    size_t nfill = attack_fill(a->kind, fill, sizeof fill);
    while (!atomic_load(&a->stop)) {
        int fd = connect_to(a->port, 0);
        if (fd < 0) {
            pause_s(0.01);
            continue;
        }
        a->conns++;
        const char *head = attack_head(a->kind);
        if (*head) send_all(fd, head, strlen(head));
        fcntl(fd, F_SETFL, O_NONBLOCK);
        size_t off = 0;
        while (!atomic_load(&a->stop)) {
            struct pollfd pf = {fd, POLLIN | POLLOUT, 0};
            if (poll(&pf, 1, 100) <= 0) continue;
            ssize_t n = 1;
            if (pf.revents & (POLLIN | POLLHUP | POLLERR))
                while ((n = read(fd, sink, sizeof sink)) > 0) {
                }
            if (n == 0 || (n < 0 && errno != EAGAIN)) break;
            if (pf.revents & POLLOUT) {
                n = send(fd, fill + off, nfill - off, MSG_NOSIGNAL);
                if (n < 0 && errno != EAGAIN) break;
                if (n > 0) {
                    a->sent += n;
                    off = (off + (size_t)n) % nfill;
                }
            }
        }
        close(fd);
    }
    return NULL;
}

static void attack_start(attack *a, int port, int kind)
{
    memset(a, 0, sizeof *a);
    a->port = port;
    a->kind = kind;
    CHECK(pthread_create(&a->th, NULL, attack_main, a) == 0);
}

static void attack_stop(attack *a)
{
    atomic_store(&a->stop, 1);
    pthread_join(a->th, NULL);
    fprintf(stderr, "  attacker: %.1f MB sent on %d connection(s)\n", (double)a->sent / 1e6,
            a->conns);
}

/* Sends endless filler of kind on one connection until the server ends
 * it or limit_s passes; *sent gets the bytes the kernel took. The seconds
 * until the end, or -1. */
static double flood_until_closed(int port, int kind, double limit_s, long long *sent)
{
    int fd = connect_to(port, 0);
    CHECK(fd >= 0);
    static char fill[65536], sink[65536];
    size_t nfill = attack_fill(kind, fill, sizeof fill), off = 0;
    const char *head = attack_head(kind);
    send_all(fd, head, strlen(head));
    fcntl(fd, F_SETFL, O_NONBLOCK);
    *sent = 0;
    double t0 = now_s(), took = -1;
    while (now_s() - t0 < limit_s) {
        struct pollfd pf = {fd, POLLIN | POLLOUT, 0};
        if (poll(&pf, 1, 100) <= 0) continue;
        if (pf.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(fd, sink, sizeof sink);
            if (n == 0 || (n < 0 && errno != EAGAIN)) {
                took = now_s() - t0;
                break;
            }
        }
        if (pf.revents & POLLOUT) {
            ssize_t n = send(fd, fill + off, nfill - off, MSG_NOSIGNAL);
            if (n < 0 && errno != EAGAIN) {
                took = now_s() - t0;
                break;
            }
            if (n > 0) {
                *sent += n;
                off = (off + (size_t)n) % nfill;
            }
        }
    }
    close(fd);
    return took;
}

/* ---- the kernel's view of a connection ---------------------------------------- */

typedef struct tcp_entry {
    int found;
    unsigned state; /* 1 ESTABLISHED, 4 FIN_WAIT1, ... */
    unsigned long tx_queue;
} tcp_entry;

/* The server's side of the connection from client port cport. */
static tcp_entry server_side(int sport, int cport)
{
    tcp_entry e = {0};
    FILE *f = fopen("/proc/net/tcp", "r");
    CHECK(f);
    char line[512];
    while (fgets(line, sizeof line, f)) {
        unsigned la, lp, ra, rp, st;
        unsigned long tx, rx;
        if (sscanf(line, " %*d: %x:%x %x:%x %x %lx:%lx", &la, &lp, &ra, &rp, &st, &tx, &rx) != 7)
            continue;
        if ((int)lp == sport && (int)rp == cport) {
            e = (tcp_entry){1, st, tx};
            break;
        }
    }
    fclose(f);
    return e;
}

/* A client that asks for path n times in one burst and reads nothing. */
static int stalled_client(int port, const char *path, int n)
{
    int fd = connect_to(port, 4096);
    CHECK(fd >= 0);
    char get[128];
    size_t len = (size_t)snprintf(get, sizeof get, "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", path);
    char *burst = malloc((size_t)n * len);
    for (int i = 0; i < n; i++) memcpy(burst + (size_t)i * len, get, len);
    send_all(fd, burst, (size_t)n * len);
    free(burst);
    return fd;
}

/* ---- 24: one connection must not monopolise the loop ------------------------- */

/* A client that pipelines and reads flat out never makes its connection's
 * task wait; with no limit on requests per connection, only the task's own
 * yielding lets anyone else in. */
static void defect_24_pipelining_reader(void)
{
    srv_cfg cfg = {.o = {.max_requests = (size_t)-1}};
    child ch = spawn_server(&cfg);
    attack a, b;
    attack_start(&a, ch.port, A_PIPELINE);
    attack_start(&b, ch.port, A_PIPELINE);
    pause_s(0.3);
    probes_answered(ch.port, 3.5, 1.0);
    attack_stop(&a);
    attack_stop(&b);
    stop_server(ch);
}

/* Counts the responses on one connection that pipelines n requests. */
static int responses_before_close(int port, int n, int *last_closes)
{
    int fd = connect_to(port, 0);
    CHECK(fd >= 0);
    static const char get[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    size_t len = (size_t)n * (sizeof get - 1);
    char *burst = malloc(len);
    for (int i = 0; i < n; i++) memcpy(burst + (size_t)i * (sizeof get - 1), get, sizeof get - 1);
    send_all(fd, burst, len);
    free(burst);
    size_t cap = (size_t)n * 256 + 1, got = 0;
    char *in = malloc(cap);
    double t0 = now_s();
    while (got < cap - 1 && now_s() - t0 < 10) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, 1000) <= 0) continue;
        ssize_t r = read(fd, in + got, cap - 1 - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    in[got] = 0;
    int count = 0;
    char *last = NULL;
    for (char *p = in; (p = strstr(p, "HTTP/1.1 200")); p++) {
        count++;
        last = p;
    }
    *last_closes = last && strstr(last, "Connection: close") != NULL;
    free(in);
    close(fd);
    return count;
}

/* A connection serves max_requests (default 1000, as nginx's
 * keepalive_requests) and then closes, saying so in the last response. */
static void defect_24_max_requests(void)
{
    srv_cfg cfg = {.o = {.max_requests = 50}};
    child ch = spawn_server(&cfg);
    int closes = 0;
    CHECK_EQ(responses_before_close(ch.port, 60, &closes), 50);
    CHECK(closes);
    stop_server(ch);
    srv_cfg def = {0};
    ch = spawn_server(&def);
    CHECK_EQ(responses_before_close(ch.port, 1010, &closes), 1000);
    CHECK(closes);
    stop_server(ch);
}

/* Endless chunk extensions and trailers: bytes that carry no body data. */
static void defect_24_endless_chunk_ext_and_trailers(void)
{
    srv_cfg cfg = {0};
    child ch = spawn_server(&cfg);
    attack a, b;
    attack_start(&a, ch.port, A_CHUNK_EXT);
    attack_start(&b, ch.port, A_TRAILERS);
    pause_s(0.3);
    probes_answered(ch.port, 3.5, 1.0);
    attack_stop(&a);
    attack_stop(&b);
    stop_server(ch);
}

/* ---- 25: a request body is bounded in time and bytes -------------------------- */

/* POSTs a 1000-byte body to path a byte every 0.3 s; the server must end
 * the connection within [lo, hi) seconds. */
static void drip_closed(const srv_cfg *cfg, const char *path, double lo, double hi)
{
    child ch = spawn_server(cfg);
    int fd = connect_to(ch.port, 0);
    char head[128];
    int n = snprintf(head, sizeof head, "POST %s HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n",
                     path);
    send_all(fd, head, (size_t)n);
    double t = until_closed(fd, 8, 0.3);
    fprintf(stderr, "  body dripped to %s: closed after %.2f s\n", path, t);
    CHECK(t >= lo && t < hi);
    close(fd);
    stop_server(ch);
}

/* A body read by the handler: each read is quick enough for
 * body_timeout_s, the whole is not within body_total_s. */
static void defect_25_body_total_deadline(void)
{
    srv_cfg cfg = {.o = {.body_timeout_s = 1, .body_total_s = 2}};
    drip_closed(&cfg, "/body", 1, 5);
}

/* The same drip after the handler answered without reading the body: the
 * rest is read only to keep the connection, and only briefly. */
static void defect_25_drain_deadline(void)
{
    srv_cfg cfg = {.o = {.body_timeout_s = 1}};
    drip_closed(&cfg, "/noread", 0, 4);
}

/* Everything on the wire counts: extensions, trailers, leading zeros. */
static void defect_25_wire_budget(void)
{
    srv_cfg cfg = {.o = {.max_body_bytes = 65536}};
    child ch = spawn_server(&cfg);
    static const int kinds[] = {A_CHUNK_EXT, A_TRAILERS, A_ZEROS};
    static const char *names[] = {"chunk extension", "trailers", "leading zeros"};
    for (int i = 0; i < 3; i++) {
        long long sent;
        double t = flood_until_closed(ch.port, kinds[i], 6, &sent);
        fprintf(stderr, "  %s: closed after %.2f s, %.1f MB taken\n", names[i], t,
                (double)sent / 1e6);
        /* The kernel's buffers on both sides take tens of MB by themselves. */
        CHECK(t >= 0 && sent < 80LL << 20);
    }
    stop_server(ch);
}

/* ---- 26: connections that send nothing ---------------------------------------- */

/* The first request is under the header timeout from accept. */
static void defect_26_first_request_header_timeout(void)
{
    srv_cfg cfg = {.o = {.header_timeout_s = 1, .keepalive_s = 30}};
    child ch = spawn_server(&cfg);
    int fd = connect_to(ch.port, 0);
    double t = until_closed(fd, 6, 0);
    fprintf(stderr, "  silent connection closed after %.2f s\n", t);
    CHECK(t >= 0.5 && t < 4);
    close(fd);
    stop_server(ch);
}

static void open_idle(int port, int *fds, int n)
{
    for (int i = 0; i < n; i++) CHECK((fds[i] = connect_to(port, 0)) >= 0);
}

static void close_all(int *fds, int n)
{
    for (int i = 0; i < n; i++) close(fds[i]);
}

/* At max_conns, idle connections make room for a new one. */
static void defect_26_shed_idle_at_max_conns(void)
{
    srv_cfg cfg = {.o = {.max_conns = 16, .header_timeout_s = 30, .keepalive_s = 30}};
    child ch = spawn_server(&cfg);
    int fds[40];
    open_idle(ch.port, fds, 40);
    pause_s(0.3);
    probes_answered(ch.port, 1, 2.0);
    close_all(fds, 40);
    stop_server(ch);
}

/* Out of descriptors, idle connections make room for a new one. */
static void defect_26_shed_idle_on_fd_pressure(void)
{
    srv_cfg cfg = {.o = {.header_timeout_s = 30, .keepalive_s = 30}, .nofile = 64};
    child ch = spawn_server(&cfg);
    int fds[100];
    open_idle(ch.port, fds, 100);
    pause_s(0.3);
    probes_answered(ch.port, 1, 3.0);
    close_all(fds, 100);
    stop_server(ch);
}

/* `weft serve` raises its soft descriptor limit to the hard one. */
static void defect_26_serve_raises_nofile(void)
{
    const char *bd = getenv("WEFT_BUILD_DIR");
    char bin[512];
    snprintf(bin, sizeof bin, "%s/tools/weft/weft", bd ? bd : "build");
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    if (access(bin, X_OK) != 0 || rl.rlim_max <= 256) {
        fprintf(stderr, "  skipped: no %s or hard limit %lu\n", bin, (unsigned long)rl.rlim_max);
        return;
    }
    int err[2];
    CHECK(pipe2(err, O_CLOEXEC) == 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(err[1], 2);
        rl.rlim_cur = 256;
        setrlimit(RLIMIT_NOFILE, &rl);
        execl(bin, "weft", "serve", "--host", "127.0.0.1", "--port", "0", (char *)NULL);
        _exit(127);
    }
    close(err[1]);
    char out[512];
    size_t len = 0;
    while (!strstr(out, "serving") && len < sizeof out - 1) {
        struct pollfd pf = {err[0], POLLIN, 0};
        CHECK(poll(&pf, 1, 10000) == 1);
        ssize_t n = read(err[0], out + len, sizeof out - 1 - len);
        CHECK(n > 0);
        len += (size_t)n;
        out[len] = 0;
    }
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/limits", (int)pid);
    FILE *f = fopen(path, "r");
    CHECK(f);
    unsigned long soft = 0, hard = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "Max open files", 14)) sscanf(line + 14, "%lu %lu", &soft, &hard);
    fclose(f);
    fprintf(stderr, "  weft serve: open files %lu (hard %lu)\n", soft, hard);
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    close(err[0]);
    CHECK_EQ(soft, (unsigned long)rl.rlim_max);
}

/* ---- 27: clients that never read ---------------------------------------------- */

/* What one connection may have queued in the kernel is bounded. */
static void defect_27_queued_bound(void)
{
    srv_cfg cfg = {.o = {.body_timeout_s = 30, .keepalive_s = 30}};
    child ch = spawn_server(&cfg);
    int fd = stalled_client(ch.port, "/big", 400); /* 3.2 MB of responses */
    int cport = local_port(fd);
    unsigned long worst = 0;
    double t0 = now_s();
    while (now_s() - t0 < 1.5) {
        tcp_entry e = server_side(ch.port, cport);
        if (e.found && e.tx_queue > worst) worst = e.tx_queue;
        pause_s(0.05);
    }
    fprintf(stderr, "  most queued for one stalled client: %lu KiB\n", worst >> 10);
    CHECK(worst > 0 && worst <= 512 * 1024);
    close(fd);
    stop_server(ch);
}

/* Waits until the server's side of the connection holds nothing queued
 * (gone, or nothing left to send); the seconds it took, or -1. */
static double until_released(int sport, int cport, double limit_s)
{
    double t0 = now_s();
    while (!server_side(sport, cport).tx_queue) { /* the precondition: data queued */
        CHECK(now_s() - t0 < 3);
        pause_s(0.02);
    }
    while (now_s() - t0 < limit_s) {
        tcp_entry e = server_side(sport, cport);
        if (!e.found || !e.tx_queue) return now_s() - t0;
        pause_s(0.05);
    }
    tcp_entry e = server_side(sport, cport);
    fprintf(stderr, "  still held: state %u, %lu bytes queued\n", e.state, e.tx_queue);
    return -1;
}

/* Checks that the client sees a reset, not an end: it cannot take what
 * it got for the whole response. */
static void reset_seen(int fd)
{
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
    }
    CHECK(n < 0 && errno == ECONNRESET);
}

/* A client asks for path n times and reads nothing: the server must let
 * go of what it queued (a reset, not FIN-WAIT-1) within 0.5-5 s. */
static void released_by_reset(const srv_cfg *cfg, const char *path, int n, const char *what)
{
    child ch = spawn_server(cfg);
    int fd = stalled_client(ch.port, path, n);
    double t = until_released(ch.port, local_port(fd), 6);
    fprintf(stderr, "  %s: released after %.2f s\n", what, t);
    CHECK(t >= 0.5 && t < 5);
    reset_seen(fd);
    close(fd);
    stop_server(ch);
}

/* A write that times out resets the connection: nothing stays queued in
 * FIN-WAIT-1 behind a graceful close. A file sent with sendfile leaves
 * nothing in the stream's own buffer, so only the server can tell. */
static void defect_27_reset_on_write_timeout(void)
{
    char dir[] = "/tmp/weft-dos-XXXXXX", path[64];
    CHECK(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/big", dir);
    int f = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    CHECK(f >= 0 && ftruncate(f, 8 << 20) == 0);
    close(f);
    srv_cfg cfg = {.o = {.body_timeout_s = 1, .keepalive_s = 30}, .files = dir};
    released_by_reset(&cfg, "/files/big", 1, "stalled sendfile");
    unlink(path);
    rmdir(dir);
}

/* Responses that fit the socket's buffer (5 x 8 KiB) leave the connection
 * idle with data unsent: that counts as a stalled write, not idle time. */
static void defect_27_unsent_while_idle(void)
{
    srv_cfg cfg = {.o = {.body_timeout_s = 1, .keepalive_s = 30}};
    released_by_reset(&cfg, "/big", 5, "idle with unsent data");
}

/* An idle connection that ends (keepalive_s) with responses still unsent
 * is reset too. */
static void defect_27_idle_close_resets(void)
{
    srv_cfg cfg = {.o = {.body_timeout_s = 30, .keepalive_s = 1}};
    released_by_reset(&cfg, "/big", 5, "idle end with unsent data");
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    static const test_case tests[] = {
        {"defect_24_pipelining_reader", defect_24_pipelining_reader},
        {"defect_24_max_requests", defect_24_max_requests},
        {"defect_24_endless_chunk_ext_and_trailers", defect_24_endless_chunk_ext_and_trailers},
        {"defect_25_body_total_deadline", defect_25_body_total_deadline},
        {"defect_25_drain_deadline", defect_25_drain_deadline},
        {"defect_25_wire_budget", defect_25_wire_budget},
        {"defect_26_first_request_header_timeout", defect_26_first_request_header_timeout},
        {"defect_26_shed_idle_at_max_conns", defect_26_shed_idle_at_max_conns},
        {"defect_26_shed_idle_on_fd_pressure", defect_26_shed_idle_on_fd_pressure},
        {"defect_26_serve_raises_nofile", defect_26_serve_raises_nofile},
        {"defect_27_queued_bound", defect_27_queued_bound},
        {"defect_27_reset_on_write_timeout", defect_27_reset_on_write_timeout},
        {"defect_27_unsent_while_idle", defect_27_unsent_while_idle},
        {"defect_27_idle_close_resets", defect_27_idle_close_resets},
        {NULL, NULL},
    };
    return run_tests(tests, argc, argv);
}
