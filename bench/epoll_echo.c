/* epoll_echo: a hand-written single-threaded epoll echo server, the N1
 * practical limit (issue 3): what a server costs per round trip when it
 * does nothing but epoll_wait, read and write.
 *
 *   bench_epoll_echo PORT
 *
 * Level-triggered; each readable socket is read once per wakeup into one
 * shared buffer and written straight back. Bytes the socket would not take
 * are kept per connection and the socket stops being read until they are
 * gone (backpressure, so memory stays bounded). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
  int fd;
  char *pend;     /* unsent echo bytes (NULL: none) */
  size_t plen, poff;
};

static int epfd;
static char buf[65536];

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void conn_close(struct conn *c) {
  close(c->fd); /* also leaves the epoll set */
  free(c->pend);
  free(c);
}

static void set_events(struct conn *c, unsigned ev) {
  struct epoll_event e = {.events = ev, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e);
}

/* Sends the pending bytes; returns 0 when all are gone, 1 if some remain,
 * -1 on error. */
static int flush_pending(struct conn *c) {
  while (c->poff < c->plen) {
    ssize_t n = send(c->fd, c->pend + c->poff, c->plen - c->poff, MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN ? 1 : -1;
    c->poff += n;
  }
  free(c->pend);
  c->pend = NULL;
  return 0;
}

static void on_readable(struct conn *c) {
  ssize_t n = recv(c->fd, buf, sizeof buf, 0);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) {
    conn_close(c);
    return;
  }
  ssize_t w = send(c->fd, buf, n, MSG_NOSIGNAL);
  if (w < 0) {
    if (errno != EAGAIN) {
      conn_close(c);
      return;
    }
    w = 0;
  }
  if (w < n) {
    c->plen = n - w;
    c->poff = 0;
    c->pend = malloc(c->plen);
    memcpy(c->pend, buf + w, c->plen);
    set_events(c, EPOLLOUT);
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s PORT\n", argv[0]);
    return 2;
  }
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0) die("bind");
  if (listen(lfd, 1024) < 0) die("listen");
  epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event le = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &le);

  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(epfd, evs, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; i++) {
      struct conn *c = evs[i].data.ptr;
      if (!c) {
        int fd;
        while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          c = calloc(1, sizeof *c);
          c->fd = fd;
          struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
          epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
        }
        continue;
      }
      if (c->pend) {
        int r = flush_pending(c);
        if (r < 0) conn_close(c);
        else if (r == 0) set_events(c, EPOLLIN);
        continue;
      }
      on_readable(c);
    }
  }
}
