/* UDP: bind, send_to, recv_from over IPv4 and IPv6; a receiver waits
 * without blocking the loop, honours deadlines and cancellation. */
#define _GNU_SOURCE
#include <weft.h>
#include <weft/io.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <unistd.h>

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    CHECK(getsockname(fd, (struct sockaddr *)&ss, &len) == 0);
    return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                          : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int g_fd;
static int echo_once(void *arg)
{
    char buf[1500];
    struct sockaddr_storage from;
    socklen_t flen;
    ssize_t n = weft_udp_recv_from(g_fd, buf, sizeof buf, &from, &flen);
    if (n < 0) return (int)n;
    return (int)weft_udp_send_to(g_fd, buf, (size_t)n, (struct sockaddr *)&from, flen);
}

static void roundtrip(const char *host, int family)
{
    int srv = weft_udp_bind(host, 0, family);
    CHECK(srv >= 0);
    int cli = weft_udp_bind(host, 0, family);
    CHECK(cli >= 0);
    g_fd = srv;
    weft_task *t = weft_spawn(echo_once, NULL);
    struct addrinfo *ai;
    CHECK_EQ(weft_resolve(host, bound_port(srv), family, SOCK_DGRAM, &ai), 0);
    CHECK_EQ(weft_udp_send_to(cli, "datagram", 8, ai->ai_addr, ai->ai_addrlen), 8);
    char buf[64];
    struct sockaddr_storage from;
    socklen_t flen;
    CHECK_EQ(weft_udp_recv_from(cli, buf, sizeof buf, &from, &flen), 8);
    CHECK(!memcmp(buf, "datagram", 8));
    CHECK_EQ(from.ss_family, family);
    CHECK_EQ(bound_port(srv), ntohs(family == AF_INET ? ((struct sockaddr_in *)&from)->sin_port
                                                      : ((struct sockaddr_in6 *)&from)->sin6_port));
    CHECK_EQ(weft_await(t), 8);
    weft_addrinfo_free(ai);
    weft_close(cli);
    weft_close(srv);
}

static int recv_one(void *arg)
{
    char buf[16];
    return (int)weft_udp_recv_from(g_fd, buf, sizeof buf, NULL, NULL);
}

static int t_udp(void *arg)
{
    roundtrip("127.0.0.1", AF_INET);
    int v6 = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    if (v6 >= 0 && bind(v6, (struct sockaddr *)&a6, sizeof a6) == 0) roundtrip("::1", AF_INET6);
    else fprintf(stderr, "no IPv6 loopback here: skipped\n");
    if (v6 >= 0) close(v6);
    roundtrip("localhost", AF_INET);
    /* waiting for a datagram that never comes: a deadline, a cancellation */
    g_fd = weft_udp_bind("127.0.0.1", 0, AF_INET);
    CHECK_EQ(weft_timeout(0.05, recv_one, NULL), -ETIMEDOUT);
    weft_task *t = weft_spawn(recv_one, NULL);
    weft_sleep(0.01);
    weft_cancel(t);
    CHECK_EQ(weft_await(t), -ECANCELED);
    /* the port is taken */
    CHECK_EQ(weft_udp_bind("127.0.0.1", bound_port(g_fd), AF_INET), -EADDRINUSE);
    weft_close(g_fd);
    CHECK_EQ(weft_udp_bind("127.0.0.1", 99999, AF_INET), -EINVAL);
    return 0;
}


static const weft_test_case cases[] = {
    {"udp", t_udp},
};

int main(int argc, char **argv)
{
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
