/* weft_resolve and weft_getnameinfo: numeric hosts, localhost, a bogus
 * name, the cache, under both resolvers (c-ares and the getaddrinfo pool);
 * the pool's shared lookups and cancellation; which resolver nsswitch.conf
 * picks. tests/test_io_dns_slow.c has a real name server. */
#define _GNU_SOURCE
#include <weft.h>
#include <weft/io.h>
#include <weft/test.h>
#include "check.h"
#include "io/io_internal.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int has_v4(const struct addrinfo *ai, const char *ip, int port)
{
    for (; ai; ai = ai->ai_next)
        if (ai->ai_family == AF_INET) {
            const struct sockaddr_in *a = (const void *)ai->ai_addr;
            char buf[32];
            inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
            if (!strcmp(buf, ip) && ntohs(a->sin_port) == port) return 1;
        }
    return 0;
}

static int t_numeric(void *arg)
{
    unsigned long h0, l0, h1, l1;
    weft__dns_stats(&h0, &l0);
    struct addrinfo *ai;
    CHECK_EQ(weft_resolve("127.0.0.1", 80, AF_UNSPEC, SOCK_STREAM, &ai), 0);
    WEFT_TEST_CHECK(has_v4(ai, "127.0.0.1", 80));
    WEFT_TEST_CHECK(ai->ai_next == NULL);
    weft_addrinfo_free(ai);
    CHECK_EQ(weft_resolve("::1", 443, AF_UNSPEC, SOCK_STREAM, &ai), 0);
    CHECK_EQ(ai->ai_family, AF_INET6);
    CHECK_EQ(ntohs(((struct sockaddr_in6 *)ai->ai_addr)->sin6_port), 443);
    weft_addrinfo_free(ai);
    /* a family that does not match the literal */
    CHECK_EQ(weft_resolve("::1", 1, AF_INET, SOCK_STREAM, &ai), -WEFT_EDNS);
    /* no host: the wildcard, for servers */
    CHECK_EQ(weft_resolve(NULL, 8080, AF_INET, SOCK_STREAM, &ai), 0);
    WEFT_TEST_CHECK(has_v4(ai, "0.0.0.0", 8080));
    weft_addrinfo_free(ai);
    weft__dns_stats(&h1, &l1);
    CHECK_EQ(l1, l0); /* numeric hosts never reach the pool... */
    CHECK_EQ(h1, h0); /* ...nor the cache */
    CHECK_EQ(weft_resolve("x", 70000, AF_UNSPEC, SOCK_STREAM, &ai), -EINVAL);
    CHECK_EQ(weft_resolve("x", 1, 12345, SOCK_STREAM, &ai), -EINVAL);
    weft_addrinfo_free(NULL);
    return 0;
}

static int t_localhost_and_cache(void *arg)
{
    weft__dns_cache_clear();
    unsigned long h0, l0, h1, l1;
    weft__dns_stats(&h0, &l0);
    struct addrinfo *ai;
    CHECK_EQ(weft_resolve("localhost", 5432, AF_INET, SOCK_STREAM, &ai), 0);
    WEFT_TEST_CHECK(has_v4(ai, "127.0.0.1", 5432));
    weft_addrinfo_free(ai);
    weft__dns_stats(&h1, &l1);
    CHECK_EQ(l1, l0 + 1);
    CHECK_EQ(h1, h0);
    /* again: from the cache, with another port, without waiting */
    CHECK_EQ(weft_resolve("localhost", 80, AF_INET, SOCK_STREAM, &ai), 0);
    WEFT_TEST_CHECK(has_v4(ai, "127.0.0.1", 80));
    weft_addrinfo_free(ai);
    weft__dns_stats(&h1, &l1);
    CHECK_EQ(l1, l0 + 1);
    CHECK_EQ(h1, h0 + 1);
    /* another family or socket type is another entry */
    CHECK_EQ(weft_resolve("localhost", 53, AF_INET, SOCK_DGRAM, &ai), 0);
    CHECK_EQ(ai->ai_socktype, SOCK_DGRAM);
    weft_addrinfo_free(ai);
    weft__dns_stats(&h1, &l1);
    CHECK_EQ(l1, l0 + 2);
    return 0;
}

static int t_bogus(void *arg)
{
    struct addrinfo *ai = (struct addrinfo *)1;
    int r = weft_resolve("no-such-host.invalid", 80, AF_UNSPEC, SOCK_STREAM, &ai);
    /* NXDOMAIN; a sandbox with no reachable name server says "try again" */
    WEFT_TEST_CHECK(r == -WEFT_EDNS || r == -WEFT_EDNSAGAIN);
    WEFT_TEST_CHECK(ai == NULL);
    WEFT_TEST_CHECK(strstr(weft_strerror(-WEFT_EDNS), "not resolved"));
    WEFT_TEST_CHECK(strstr(weft_strerror(-WEFT_EDNSAGAIN), "temporary"));
    return 0;
}

static int lookup(void *arg)
{
    struct addrinfo *ai = NULL;
    int r = weft_resolve("localhost", (int)(long)arg, AF_INET, SOCK_STREAM, &ai);
    if (r == 0) {
        CHECK(has_v4(ai, "127.0.0.1", (int)(long)arg));
        weft_addrinfo_free(ai);
    }
    return r;
}

static int lookup_main(void *arg) { return lookup((void *)7L); }

static int t_nameinfo(void *arg)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char host[NI_MAXHOST];
    CHECK_EQ(weft_getnameinfo((struct sockaddr *)&a, sizeof a, host, sizeof host, 0), 0);
    WEFT_TEST_CHECK(!strcmp(host, "localhost")); /* /etc/hosts */
    CHECK_EQ(weft_getnameinfo((struct sockaddr *)&a, sizeof a, host, sizeof host, NI_NUMERICHOST), 0);
    WEFT_TEST_CHECK(!strcmp(host, "127.0.0.1"));
    CHECK_EQ(weft_getnameinfo((struct sockaddr *)&a, sizeof a, host, 4, 0), -ENOSPC);
    CHECK_EQ(weft_getnameinfo((struct sockaddr *)&a, sizeof a, host, 4, NI_NUMERICHOST), -ENOSPC);
    CHECK_EQ(weft_getnameinfo((struct sockaddr *)&a, 4, host, sizeof host, 0), -EINVAL);
    CHECK_EQ(weft_getnameinfo((struct sockaddr *)&a, sizeof a, host, sizeof host, NI_NUMERICSERV), -EINVAL);
    struct sockaddr_un u = {.sun_family = AF_UNIX};
    CHECK_EQ(weft_getnameinfo((struct sockaddr *)&u, sizeof u, host, sizeof host, 0), -EINVAL);
    /* cancelled before: refused, as at every wait */
    weft_cancel(weft_current());
    CHECK_EQ(weft_getnameinfo((struct sockaddr *)&a, sizeof a, host, sizeof host, 0), -ECANCELED);
    return 0;
}

static void nameinfo_outside(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char host[64];
    /* the numeric form needs no task; a lookup does */
    CHECK_EQ(weft_getnameinfo((struct sockaddr *)&a, sizeof a, host, sizeof host, NI_NUMERICHOST), 0);
    CHECK_EQ(weft_getnameinfo((struct sockaddr *)&a, sizeof a, host, sizeof host, 0), -EPERM);
}

/* Which resolver a hosts line picks. */
static void nsswitch(void)
{
    const struct { const char *text; int plain; } cases[] = {
        {"hosts: files dns\n", 1},
        {"passwd: files\n  hosts:\tfiles   dns # comment\n", 1},
        {"hosts: files mdns4_minimal [NOTFOUND=return] dns\n", 0},
        {"hosts: files resolve [!UNAVAIL=return] dns myhostname\n", 0},
        {"hosts: dns files\n", 0},
        {"hosts: files\n", 0},
        {"passwd: files\n", 1}, /* no hosts line: glibc's default is DNS */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char path[] = "/tmp/weft_nssXXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        CHECK_EQ(write(fd, cases[i].text, strlen(cases[i].text)), (long)strlen(cases[i].text));
        close(fd);
        CHECK_EQ(weft__dns_nsswitch_plain(path), cases[i].plain);
        unlink(path);
    }
    CHECK_EQ(weft__dns_nsswitch_plain("/nonexistent/nsswitch.conf"), 1);
}

static int t_shared_and_cancel(void *arg)
{
    /* concurrent lookups of one name share one getaddrinfo */
    weft__dns_cache_clear();
    unsigned long h0, l0, h1, l1;
    weft__dns_stats(&h0, &l0);
    weft_task *t[20];
    for (long i = 0; i < 20; i++) t[i] = weft_spawn(lookup, (void *)(1000 + i));
    CHECK_EQ(weft_gather(t, 20, NULL), 0);
    weft__dns_stats(&h1, &l1);
    CHECK_EQ(l1, l0 + 1);
    /* a cancelled lookup returns at once; a job a worker had started still
     * fills the cache, one still queued is dropped (issue 10 item 19) */
    weft__dns_cache_clear();
    weft_task *c = weft_spawn(lookup, (void *)1L);
    weft_yield(); /* it starts and waits */
    weft_cancel(c);
    CHECK_EQ(weft_await(c), -ECANCELED);
    /* the worker finishes in the background */
    for (int i = 0; i < 500 && weft__dns_pending(); i++) weft_sleep(0.01);
    CHECK_EQ(weft__dns_pending(), 0);
    weft__dns_stats(&h0, &l0);
    struct addrinfo *ai;
    CHECK_EQ(weft_resolve("localhost", 2, AF_INET, SOCK_STREAM, &ai), 0);
    weft_addrinfo_free(ai);
    weft__dns_stats(&h1, &l1);
    WEFT_TEST_CHECK((h1 == h0 + 1 && l1 == l0) || (h1 == h0 && l1 == l0 + 1));
    return 0;
}

/* a forked child resolves with workers of its own */
static void fork_run(void)
{
    weft__dns_cache_clear();
    /* the parent has a worker now */
    CHECK_EQ(weft_test_run("fork_parent", lookup_main, NULL, NULL), 0);
    weft__dns_cache_clear();
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        _exit(weft_test_run("fork_child", lookup_main, NULL, NULL));
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* run_tests (check.h) orders the steps here: the cases run once per
 * resolver, switched between them, and fork_run needs two runs and a fork;
 * each case itself is a weft_test_run. */
#define T(name) \
    static void name##_run(void) { CHECK_EQ(weft_test_run(#name, t_##name, NULL, NULL), 0); }
T(numeric) T(localhost_and_cache) T(bogus) T(shared_and_cancel) T(nameinfo)

/* The same cases under each resolver; sharing one call between concurrent
 * lookups and finishing a given-up call in the background are the pool's. */
static void pool(void) { weft__dns_use(0); }
static void cares(void) { weft__dns_use(1); }

int main(int argc, char **argv)
{
    return run_tests((test_case[]){{"pool", pool},
                                   {"numeric", numeric_run},
                                   {"localhost_and_cache", localhost_and_cache_run},
                                   {"bogus", bogus_run},
                                   {"nameinfo", nameinfo_run},
                                   {"shared_and_cancel", shared_and_cancel_run},
                                   {"fork", fork_run},
                                   {"c-ares", cares},
                                   {"numeric_cares", numeric_run},
                                   {"localhost_and_cache_cares", localhost_and_cache_run},
                                   {"bogus_cares", bogus_run},
                                   {"nameinfo_cares", nameinfo_run},
                                   {"fork_cares", fork_run},
                                   {"nameinfo_outside", nameinfo_outside},
                                   {"nsswitch", nsswitch},
                                   {0}},
                     argc, argv);
}
