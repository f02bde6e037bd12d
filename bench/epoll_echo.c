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

#include "floor.h"

struct conn {
  int fd; /* first: floor_epoll_accept sets it */
  char *pend;     /* unsent echo bytes (NULL: none) */
  size_t plen, poff;
};

static int epfd;
static char buf[65536];

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
  int lfd = floor_listen(argv[1]);
  epfd = floor_epoll(lfd);
  struct epoll_event evs[256];
  for (;;) {
    int n = floor_epoll_wait(epfd, evs, 256);
    for (int i = 0; i < n; i++) {
      struct conn *c = evs[i].data.ptr;
      if (!c) {
        floor_epoll_accept(epfd, lfd, sizeof *c);
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
