/* UDP: a bound non-blocking socket and datagram send/receive that suspend
 * the task instead of blocking. */
#define _GNU_SOURCE
#include "io_internal.h"
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

int weft_udp_bind(const char *host, int port, int family)
{
    if (port < 0 || port > 65535) return -EINVAL;
    struct addrinfo *ai = NULL;
    int r = weft_resolve(host, port, family, SOCK_DGRAM, &ai);
    if (r < 0) return r;
    r = -EADDRNOTAVAIL;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        int fd = weft__socket(a->ai_family, SOCK_DGRAM);
        if (fd >= 0 && bind(fd, a->ai_addr, a->ai_addrlen) == 0) {
            r = fd;
            break;
        }
        r = -errno;
        if (fd >= 0) close(fd);
    }
    weft_addrinfo_free(ai);
    return r;
}

ssize_t weft_udp_send_to(int fd, const void *buf, size_t n, const struct sockaddr *to,
                         socklen_t tolen)
{
    /* Checked first, even when the socket has room: nothing is sent. */
    int e = weft_check("weft_udp_send_to");
    if (e) return e;
    for (;;) {
        ssize_t r = sendto(fd, buf, n, MSG_NOSIGNAL, to, tolen);
        if (r >= 0) return r;
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return -errno;
        int w = weft_wait_fd(fd, WEFT_WRITABLE);
        if (w < 0) return w;
    }
}

ssize_t weft_udp_recv_from(int fd, void *buf, size_t n, struct sockaddr_storage *from,
                           socklen_t *fromlen)
{
    /* Checked first, even with a datagram queued: it stays queued. */
    int e = weft_check("weft_udp_recv_from");
    if (e) return e;
    for (;;) {
        socklen_t len = sizeof(struct sockaddr_storage);
        ssize_t r = recvfrom(fd, buf, n, 0, (struct sockaddr *)from, from ? &len : NULL);
        if (r >= 0) {
            if (fromlen) *fromlen = from ? len : 0;
            return r;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return -errno;
        int w = weft_wait_fd(fd, WEFT_READABLE);
        if (w < 0) return w;
    }
}
