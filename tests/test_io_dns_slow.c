/* Issue 10 item 19: lookups given up on must not hold back later ones.
 *
 * A real name server that never answers some names: a small UDP DNS
 * responder in this process. glibc's getaddrinfo reads only
 * /etc/resolv.conf and sends to port 53, so the test runs in a child that
 * has its own user, mount and network namespaces: /etc/resolv.conf is bound
 * over by a file naming 127.0.0.1, and the responder binds 127.0.0.1:53 on
 * the child's own loopback. Names starting with "slow" are never answered;
 * others get 10.1.2.3 (A) or nothing (AAAA).
 *
 * 20 slow lookups are given up after 50 ms each; then weft_resolve of
 * "localhost" (/etc/hosts) and of a fresh name on the fast server must each
 * answer within 0.5 s (before the fix: seconds, behind the slow ones). */
#define _GNU_SOURCE
#include <weft.h>
#include <weft/io.h>
#include "check.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, text, strlen(text)), (long)strlen(text));
    close(fd);
}

/* Own namespaces: root inside, a loopback of our own, our resolv.conf. */
static void enter_namespaces(void)
{
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET) < 0) {
        fprintf(stderr, "   unshare(user, mount, net) failed (%s): this test needs user "
                        "namespaces to give glibc a name server of its own\n", strerror(errno));
        exit(1);
    }
    char map[64];
    write_file("/proc/self/setgroups", "deny");
    snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
    write_file("/proc/self/uid_map", map);
    snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
    write_file("/proc/self/gid_map", map);
    CHECK_EQ(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
    char conf[] = "/tmp/weft_resolv_XXXXXX";
    int fd = mkstemp(conf);
    CHECK(fd >= 0);
    const char *text = "nameserver 127.0.0.1\noptions timeout:3 attempts:1\n";
    CHECK_EQ(write(fd, text, strlen(text)), (long)strlen(text));
    close(fd);
    CHECK_EQ(mount(conf, "/etc/resolv.conf", NULL, MS_BIND, NULL), 0);
    unlink(conf);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    CHECK_EQ(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
    ifr.ifr_flags |= IFF_UP;
    CHECK_EQ(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
    close(s);
}

/* ---- the name server --------------------------------------------------------- */

static int dns_fd;

/* Answers one query in q (n bytes) into a; returns the answer's length, or
 * 0 to stay silent. */
static size_t answer(const unsigned char *q, size_t n, unsigned char *a)
{
    if (n < 12) return 0;
    size_t p = 12;
    char name[256] = "";
    size_t nl = 0;
    while (p < n && q[p]) {
        size_t l = q[p++];
        if (p + l > n || nl + l + 1 >= sizeof name) return 0;
        if (nl) name[nl++] = '.';
        memcpy(name + nl, q + p, l);
        nl += l;
        p += l;
    }
    name[nl] = 0;
    if (p + 5 > n) return 0;
    size_t qend = p + 5;
    int qtype = q[p + 1] << 8 | q[p + 2];
    if (!strncmp(name, "slow", 4)) return 0;
    memcpy(a, q, qend);
    a[2] = 0x81; /* response, recursion desired */
    a[3] = 0x80; /* recursion available, NOERROR */
    a[6] = a[7] = a[8] = a[9] = a[10] = a[11] = 0;
    size_t len = qend;
    if (qtype == 1) {
        a[7] = 1;
        static const unsigned char rr[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 1, 2, 3};
        memcpy(a + len, rr, sizeof rr);
        len += sizeof rr;
    }
    return len;
}

static void *serve(void *arg)
{
    unsigned char q[512], a[600];
    for (;;) {
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(dns_fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
        if (n <= 0) continue;
        size_t len = answer(q, (size_t)n, a);
        if (len) sendto(dns_fd, a, len, 0, (struct sockaddr *)&from, fl);
    }
    return NULL;
}

static void start_server(void)
{
    dns_fd = socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(dns_fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(53)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_EQ(bind(dns_fd, (struct sockaddr *)&sa, sizeof sa), 0);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, serve, NULL), 0);
}

/* ---- the lookups --------------------------------------------------------------- */

static int resolve_name(void *arg)
{
    struct addrinfo *ai = NULL;
    int r = weft_resolve(arg, 80, AF_INET, SOCK_STREAM, &ai);
    weft_addrinfo_free(ai);
    return r;
}

static int give_up(void *arg) { return weft_timeout(0.05, resolve_name, arg); }

/* Resolves name and checks it answers within 0.5 s with ip. */
static void quick(const char *name, const char *ip)
{
    double t0 = mono();
    struct addrinfo *ai = NULL;
    CHECK_EQ(weft_resolve(name, 80, AF_INET, SOCK_STREAM, &ai), 0);
    double took = mono() - t0;
    char buf[32];
    inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, buf, sizeof buf);
    weft_addrinfo_free(ai);
    fprintf(stderr, "   %s -> %s in %.3f s\n", name, buf, took);
    CHECK(!strcmp(buf, ip));
    CHECK(took < 0.5);
}

static int slow_main(void *arg)
{
    /* The server works: a fast name answers. */
    quick("fast-first.test", "10.1.2.3");
    static char names[20][32];
    weft_task *t[20];
    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof names[i], "slow%d.test", i);
        t[i] = weft_spawn(give_up, names[i]);
    }
    int res[20];
    weft_gather(t, 20, res); /* -ETIMEDOUT: the first error */
    for (int i = 0; i < 20; i++) CHECK_EQ(res[i], -ETIMEDOUT);
    quick("localhost", "127.0.0.1");
    quick("fast-fresh.test", "10.1.2.3");
    /* A slow name asked again joins the lookup still running; once that
     * failed, the failure is remembered briefly instead of taking a thread
     * again. */
    double t0 = mono();
    int r = weft_timeout(10, resolve_name, "slow0.test");
    fprintf(stderr, "   slow0.test again: %d in %.3f s\n", r, mono() - t0);
    CHECK(r == -WEFT_EDNSAGAIN || r == -WEFT_EDNS);
    t0 = mono();
    CHECK_EQ(resolve_name("slow0.test"), r);
    CHECK(mono() - t0 < 0.5);
    return 0;
}

static void defect_19_abandoned_lookups(void)
{
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        alarm(60);
        enter_namespaces();
        start_server();
        CHECK_EQ(weft_run(slow_main, NULL), 0);
        fflush(stderr);
        _exit(0);
    }
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
}

int main(int argc, char **argv)
{
    return run_tests((test_case[]){{"defect_19_abandoned_lookups", defect_19_abandoned_lookups},
                                   {0}},
                     argc, argv);
}
