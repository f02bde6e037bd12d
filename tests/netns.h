/* Tests that need a network or files of their own (a name server on
 * 127.0.0.1:53, an /etc/hosts naming test hosts) run in a child that
 * enters new user, mount and network namespaces: root inside, a loopback
 * of its own brought up, and files bound over system ones. */
#ifndef WEFT_TESTS_NETNS_H
#define WEFT_TESTS_NETNS_H
/* needs _GNU_SOURCE (unshare) defined before the first include */
#include "check.h"
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <weft.h>
#include <weft/test.h>
#include <unistd.h>

static inline void netns_write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, text, strlen(text)), (long)strlen(text));
    close(fd);
}

/* Enters the namespaces (exits 1, saying why, where user namespaces are
 * not allowed) and binds a file holding text over each target path
 * (writable afterwards through the target: the test owns it). */
static inline void netns_enter(const char *const targets[], const char *const texts[], int n)
{
    uid_t uid = getuid();
    gid_t gid = getgid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET) < 0) {
        fprintf(stderr, "   unshare(user, mount, net) failed (%s): this test needs user "
                        "namespaces for a network and files of its own\n", strerror(errno));
        exit(1);
    }
    char map[64];
    netns_write_file("/proc/self/setgroups", "deny");
    snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
    netns_write_file("/proc/self/uid_map", map);
    snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
    netns_write_file("/proc/self/gid_map", map);
    CHECK_EQ(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
    for (int i = 0; i < n; i++) {
        char tmp[] = "/tmp/weft_netns_XXXXXX";
        int fd = mkstemp(tmp);
        CHECK(fd >= 0);
        CHECK_EQ(write(fd, texts[i], strlen(texts[i])), (long)strlen(texts[i]));
        close(fd);
        CHECK_EQ(mount(tmp, targets[i], NULL, MS_BIND, NULL), 0);
        unlink(tmp);
    }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    CHECK_EQ(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
    ifr.ifr_flags |= IFF_UP;
    CHECK_EQ(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
    close(s);
}

/* Runs fn(NULL) under weft_test_run (weft/test.h) in a forked child under the
 * resolver named (WEFT_DNS), after setup() (which enters the namespaces);
 * the child must exit 0. */
static inline void netns_child(const char *resolver, void (*setup)(void), weft_fn fn)
{
    fflush(stderr);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        setenv("WEFT_DNS", resolver, 1);
        setup();
        /* a body's limit of 29 s: a blocked loop is killed at 59 s */
        weft_test_options o = {.timeout_s = 29};
        /* getaddrinfo cannot be stopped: a lookup given up on (a timeout, a
         * cancel) goes on in its pool thread with its socket open until
         * glibc's own timeout, after the loop has closed. c-ares lookups
         * are the loop's and are checked. (ASan's pace showed it: fds 34
         * and 35 open at the check, in CI.) */
        o.no_fd_check = strcmp(resolver, "getaddrinfo") == 0;
        CHECK_EQ(weft_test_run(resolver, fn, NULL, &o), 0);
        fflush(stderr);
        _exit(0);
    }
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
}

#endif
