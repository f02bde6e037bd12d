/* floor.h: the listening socket of bench's hand-written floor servers
 * (epoll_echo.c for N1, ws_epoll_echo.c and ws_uring_echo.c for W1), so
 * each file holds only the part that differs: its event loop. */
#ifndef WEFT_BENCH_FLOOR_H
#define WEFT_BENCH_FLOOR_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

/* A non-blocking socket listening on 127.0.0.1:port (backlog 1024, as the
 * peers); exits on failure. */
static inline int floor_listen(const char *port) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(port))};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 1024) < 0) {
    perror("listen");
    exit(1);
  }
  return lfd;
}

/* Per accepted socket: TCP_NODELAY (as every peer), and the congestion
 * control named by $FLOOR_CC if set (an experiment knob: this machine's
 * default is bbr, whose per-packet work runs on every echo; see
 * docs/benchmarks.md, W1). */
static inline void floor_tune(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const char *cc = getenv("FLOOR_CC");
  if (cc && *cc && setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, strlen(cc)) < 0) {
    perror("TCP_CONGESTION");
    exit(1);
  }
}

/* An epoll set holding lfd with a NULL data.ptr (the epoll servers' mark
 * for "the listening socket"). */
static inline int floor_epoll(int lfd) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event le = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &le);
  return epfd;
}

/* epoll_wait without a timeout, through EINTR; exits on failure. */
static inline int floor_epoll_wait(int epfd, struct epoll_event *evs, int max) {
  for (;;) {
    int n = epoll_wait(epfd, evs, max, -1);
    if (n >= 0) return n;
    if (errno != EINTR) {
      perror("epoll_wait");
      exit(1);
    }
  }
}

/* Accepts every pending connection (non-blocking, TCP_NODELAY) into epfd
 * for EPOLLIN, each with a zeroed object of `size` bytes as data.ptr, whose
 * first member is the int fd. */
static inline void floor_epoll_accept(int epfd, int lfd, size_t size) {
  int fd;
  while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
    floor_tune(fd);
    int *c = calloc(1, size);
    *c = fd;
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
  }
}

#endif
