/* Socket plumbing shared by TCP, Unix and UDP: creation, connecting under
 * the task's deadline, listening. */
#define _GNU_SOURCE
#include "io_internal.h"
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int weft__socket(int family, int type)
{
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    return fd < 0 ? -errno : fd;
}

void weft__nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int weft__connect_fd(int fd, const struct sockaddr *sa, socklen_t len)
{
    double backoff = 0.001;
    for (;;) {
        if (connect(fd, sa, len) == 0) return 0;
        int e = errno;
        if (e == EINTR) continue;
        if (e == EAGAIN && sa->sa_family == AF_UNIX) {
            /* The listener's backlog is full and nothing signals when it
             * drains: poll with growing sleeps, under the task's deadline. */
            int r = weft_sleep(backoff);
            if (r < 0) return r;
            backoff = weft__backoff(backoff, 0.1);
            continue;
        }
        if (e != EINPROGRESS) return -e;
        break;
    }
    int r = weft_wait_fd(fd, WEFT_WRITABLE);
    if (r < 0) return r;
    int err = 0;
    socklen_t elen = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0) return -errno;
    return -err;
}

int weft__listen_on(const struct sockaddr *sa, socklen_t len, int backlog, int reuseport)
{
    int fd = weft__socket(sa->sa_family, SOCK_STREAM);
    if (fd < 0) return fd;
    int one = 1;
    if (sa->sa_family != AF_UNIX) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (sa->sa_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, sa, len) < 0 || listen(fd, backlog) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int weft__unix_addr(const char *path, struct sockaddr_un *sun)
{
    if (!path || !*path) return -EINVAL;
    size_t n = strlen(path);
    if (n >= sizeof sun->sun_path) return -ENAMETOOLONG;
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, n);
    return (int)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}
