/* Happy Eyeballs (RFC 8305) in weft_tcp_connect and the HTTP client, and
 * the DNS cache's TTL option (issue 15). In a child with namespaces of its
 * own (tests/netns.h): /etc/hosts names dual.test as ::1 and 127.0.0.1 and
 * ttl.test as 127.0.0.1, and the loopback is the child's. An address is
 * "blackholed" by a listener whose backlog is full (its SYNs are dropped,
 * so a connect there hangs), "closed" by nothing listening. */
#define _GNU_SOURCE
#include <weft.h>
#include <weft/io.h>
#include <weft/http.h>
#include "netns.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <time.h>

static const char hosts[] = "127.0.0.1 localhost\n::1 dual.test\n127.0.0.1 dual.test\n"
                            "127.0.0.1 ttl.test\n";

/* A plain listener on addr:port (port 0: any); its port in *port. */
static int listener(int family, int *port, int backlog)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_storage ss = {0};
    socklen_t len;
    if (family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        struct sockaddr_in6 *a = (void *)&ss;
        a->sin6_family = AF_INET6, a->sin6_addr = in6addr_loopback;
        a->sin6_port = htons((uint16_t)*port);
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (void *)&ss;
        a->sin_family = AF_INET, a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a->sin_port = htons((uint16_t)*port);
        len = sizeof *a;
    }
    CHECK_EQ(bind(fd, (struct sockaddr *)&ss, len), 0);
    CHECK_EQ(listen(fd, backlog), 0);
    CHECK_EQ(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    *port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                     : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* A ::1 listener on port whose backlog is full: further SYNs are dropped.
 * The fillers' fds go to fill[0..3]. */
static int blackhole6(int port, int fill[4])
{
    int fd = listener(AF_INET6, &port, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = in6addr_loopback,
                             .sin6_port = htons((uint16_t)port)};
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        connect(fill[i], (struct sockaddr *)&a, sizeof a);
    }
    usleep(50000); /* the handshakes that fit complete */
    return fd;
}

#define MAXEV 32
static struct {
    int n, phase[MAXEV], family[MAXEV], err[MAXEV];
    double t[MAXEV];
} ev;

static void on_phase(void *arg, int phase, const struct sockaddr *addr, int err)
{
    (void)arg;
    if (ev.n == MAXEV) return;
    ev.phase[ev.n] = phase, ev.err[ev.n] = err, ev.t[ev.n] = weft_now();
    ev.family[ev.n++] = addr ? addr->sa_family : 0;
}

/* The events for TCP, as "S6 S4 E4:0 E6:-125". */
static const char *tcp_events(void)
{
    static char s[512];
    s[0] = 0;
    for (int i = 0; i < ev.n; i++) {
        if (ev.phase[i] != WEFT_CONNECT_TCP_START && ev.phase[i] != WEFT_CONNECT_TCP_END) continue;
        size_t l = strlen(s);
        int v = ev.family[i] == AF_INET6 ? 6 : 4;
        if (ev.phase[i] == WEFT_CONNECT_TCP_START) snprintf(s + l, sizeof s - l, "%sS%d", l ? " " : "", v);
        else snprintf(s + l, sizeof s - l, "%sE%d:%d", l ? " " : "", v, ev.err[i]);
    }
    return s;
}

#define EVENTS(want) \
    (!strcmp(tcp_events(), want) || (fprintf(stderr, "events [%s] want [%s]\n", tcp_events(), want), 0))

/* Connects to name:port with delay; the stream's peer family in *family.
 * Returns the error and the time taken in *dt. */
static int connect_to(const char *name, int port, double delay, double timeout, int *family,
                      double *dt)
{
    ev.n = 0;
    weft_connect_opts o = {.trace = on_phase, .happy_eyeballs_delay_s = delay,
                           .timeout_s = timeout};
    weft_stream *s;
    double t0 = weft_now();
    int r = weft_tcp_connect(name, port, &o, &s);
    *dt = weft_now() - t0;
    *family = 0;
    if (r == 0) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        CHECK_EQ(weft_stream_peer(s, &ss, &len), 0);
        *family = ss.ss_family;
        weft_stream_close(s);
    }
    return r;
}

static int t_happy(void *arg)
{
    (void)arg;
    /* The resolver gives ::1 first (RFC 6724 prefers it). */
    struct addrinfo *ai;
    CHECK_EQ(weft_resolve("dual.test", 1, AF_UNSPEC, SOCK_STREAM, &ai), 0);
    CHECK(ai && ai->ai_family == AF_INET6 && ai->ai_next && ai->ai_next->ai_family == AF_INET);
    weft_addrinfo_free(ai);

    int fam, port = 0;
    double dt;
    /* Both work: IPv6 wins, IPv4 never tried. */
    int l4 = listener(AF_INET, &port, 16), l6 = listener(AF_INET6, &port, 16);
    CHECK_EQ(connect_to("dual.test", port, 0, 5, &fam, &dt), 0);
    CHECK_EQ(fam, AF_INET6);
    CHECK(EVENTS("S6 E6:0"));
    close(l6);

    /* ::1 closed: IPv4 at once, without waiting the delay. */
    CHECK_EQ(connect_to("dual.test", port, 0, 5, &fam, &dt), 0);
    CHECK_EQ(fam, AF_INET);
    CHECK(EVENTS("S6 E6:-111 S4 E4:0"));
    CHECK(dt < 0.2);

    /* ::1 blackholed: IPv4 starts 250 ms later and wins; the IPv6 attempt
     * is cancelled. */
    int fill[4];
    l6 = blackhole6(port, fill);
    CHECK_EQ(connect_to("dual.test", port, 0, 5, &fam, &dt), 0);
    CHECK_EQ(fam, AF_INET);
    CHECK(EVENTS("S6 S4 E4:0 E6:-125"));
    int s6 = -1, s4 = -1;
    for (int i = 0; i < ev.n; i++)
        if (ev.phase[i] == WEFT_CONNECT_TCP_START) *(ev.family[i] == AF_INET6 ? &s6 : &s4) = i;
    CHECK_NEAR(ev.t[s4] - ev.t[s6], 0.25, 0.1);
    CHECK(dt >= 0.2 && dt < 1.5);
    /* A delay of its own. */
    CHECK_EQ(connect_to("dual.test", port, 0.05, 5, &fam, &dt), 0);
    CHECK(fam == AF_INET && dt < 0.2);
    /* One at a time: stuck on ::1 until the timeout. */
    CHECK_EQ(connect_to("dual.test", port, -1, 0.6, &fam, &dt), -ETIMEDOUT);
    CHECK(EVENTS("S6 E6:-110"));
    /* The caller's deadline ends the race, the attempts with it. */
    close(l4);
    int p2 = 0, l4b = listener(AF_INET, &p2, 16);
    close(l4b); /* p2: closed on IPv4 */
    CHECK_EQ(connect_to("dual.test", port, 0, 0.6, &fam, &dt), -ETIMEDOUT);
    CHECK(dt < 1.5);

    /* The HTTP client: a weft server on 127.0.0.1 only, ::1 blackholed on
     * its port. */
    close(l6);
    for (int i = 0; i < 4; i++) close(fill[i]);
    weft_http_server *srv = weft_http_server_new(NULL);
    CHECK_EQ(weft_http_server_listen(srv, "127.0.0.1", 0), 0);
    int hp = weft_http_server_port(srv);
    l6 = blackhole6(hp, fill);
    char url[64];
    snprintf(url, sizeof url, "http://dual.test:%d/", hp);
    weft_http_client *c = weft_http_client_new(&(weft_http_client_opts){.connect_timeout_s = 5});
    weft_http_response *r;
    double t0 = weft_now();
    CHECK_EQ(weft_http_client_get(c, url, &r), 0);
    CHECK_EQ(weft_http_response_status(r), 404); /* no routes: reached all the same */
    CHECK(weft_now() - t0 < 1.5);
    weft_http_response_free(r);
    weft_http_client_close(c);
    c = weft_http_client_new(&(weft_http_client_opts){.connect_timeout_s = 0.6,
                                                       .happy_eyeballs_delay_s = -1});
    CHECK_EQ(weft_http_client_get(c, url, &r), -WEFT_EHTTP_CONNECT_TIMEOUT);
    weft_http_client_close(c);
    weft_http_server_close(srv, 1);
    close(l6);
    for (int i = 0; i < 4; i++) close(fill[i]);
    return 0;
}

/* The cache's TTL: ttl.test moves from 127.0.0.1 (listening) to
 * 127.0.0.2 (nothing there) in /etc/hosts. */
static int t_ttl(void *arg)
{
    (void)arg;
    int port = 0, fam;
    double dt;
    int l4 = listener(AF_INET, &port, 16);
    CHECK_EQ(connect_to("ttl.test", port, 0, 5, &fam, &dt), 0);
    netns_write_file("/etc/hosts", "127.0.0.2 ttl.test\n");
    /* Within the default 30 s: the cached address. */
    CHECK_EQ(connect_to("ttl.test", port, 0, 5, &fam, &dt), 0);
    /* A TTL shorter than the answer's age: looked up again. */
    weft_sleep(0.3);
    weft_connect_opts o = {.dns_ttl_s = 0.2};
    weft_stream *s;
    CHECK_EQ(weft_tcp_connect("ttl.test", port, &o, &s), -ECONNREFUSED);
    /* No cache at all, through the HTTP client. */
    netns_write_file("/etc/hosts", "127.0.0.1 ttl.test\n");
    weft_http_server *srv = weft_http_server_new(NULL);
    CHECK_EQ(weft_http_server_listen(srv, "127.0.0.1", 0), 0);
    char url[64];
    snprintf(url, sizeof url, "http://ttl.test:%d/", weft_http_server_port(srv));
    weft_http_client *c = weft_http_client_new(&(weft_http_client_opts){.dns_ttl_s = -1,
                                                                         .keepalive_s = 0.01});
    weft_http_response *r;
    CHECK_EQ(weft_http_client_get(c, url, &r), 0);
    weft_http_response_free(r);
    netns_write_file("/etc/hosts", "127.0.0.2 ttl.test\n");
    weft_sleep(0.05); /* the pooled connection expires: a new one, a new lookup */
    CHECK_EQ(weft_http_client_get(c, url, &r), -ECONNREFUSED);
    weft_http_client_close(c);
    weft_http_server_close(srv, 1);
    close(l4);
    return 0;
}

static void setup(void)
{
    const char *const target[] = {"/etc/hosts"};
    const char *const text[] = {hosts};
    netns_enter(target, text, 1);
}

static void in_child(const char *resolver, weft_fn fn) { netns_child(resolver, setup, fn); }

static void happy_ares(void) { in_child("c-ares", t_happy); }
static void happy_gai(void) { in_child("getaddrinfo", t_happy); }
static void ttl_ares(void) { in_child("c-ares", t_ttl); }
static void ttl_gai(void) { in_child("getaddrinfo", t_ttl); }

int main(int argc, char **argv)
{
    static const test_case tc[] = {{"happy_ares", happy_ares}, {"happy_gai", happy_gai},
                                   {"ttl_ares", ttl_ares},     {"ttl_gai", ttl_gai},
                                   {NULL, NULL}};
    return run_tests(tc, argc, argv);
}
