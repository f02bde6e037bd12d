/* ws_epoll_echo: a hand-written single-threaded epoll WebSocket echo server,
 * the W1 floor of a readiness design (issue 14): what a server costs per
 * message when it does nothing but epoll_wait, one recv and one send.
 *
 *   bench_ws_epoll_echo PORT
 *
 * Level-triggered, as bench/epoll_echo.c (N1's floor): a readable socket is
 * read once per wakeup (edge-triggered would need a second recv to see
 * EAGAIN), its frames answered into a per-connection buffer and sent at
 * once. Bytes the socket would not take stay in that buffer and the socket
 * stops being read until they are gone (backpressure). The WebSocket part
 * (handshake, unmasking) is bench/ws_floor.h, shared with the io_uring
 * floor so the two differ only in their system calls. */
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
#include "ws_floor.h"

struct conn {
  int fd; /* first: floor_epoll_accept sets it */
  struct wsf_conn ws;
  struct wsf_buf out; /* answers not yet sent, from out.p + sent */
  size_t sent;
};

static int epfd;
static uint8_t buf[65536];

static void conn_close(struct conn *c) {
  close(c->fd); /* also leaves the epoll set */
  free(c->ws.in.p);
  free(c->out.p);
  free(c);
}

static void set_events(struct conn *c, unsigned ev) {
  struct epoll_event e = {.events = ev, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e);
}

/* Sends what is in c->out; returns 0 when all is gone, 1 if some remains,
 * -1 on error. */
static int flush(struct conn *c) {
  while (c->sent < c->out.len) {
    ssize_t n = send(c->fd, c->out.p + c->sent, c->out.len - c->sent, MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN ? 1 : -1;
    c->sent += n;
  }
  c->out.len = c->sent = 0;
  return 0;
}

static void on_readable(struct conn *c) {
  ssize_t n = recv(c->fd, buf, sizeof buf, 0);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0 || wsf_feed(&c->ws, buf, n, &c->out) < 0) {
    conn_close(c);
    return;
  }
  int r = flush(c);
  if (r < 0 || (r == 0 && c->ws.closing)) conn_close(c);
  else if (r > 0) set_events(c, EPOLLOUT);
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
      if (c->out.len) { /* waiting for EPOLLOUT */
        int r = flush(c);
        if (r < 0 || (r == 0 && c->ws.closing)) conn_close(c);
        else if (r == 0) set_events(c, EPOLLIN);
        continue;
      }
      on_readable(c);
    }
  }
}
