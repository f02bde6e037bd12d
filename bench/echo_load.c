/* echo_load: the N1 TCP echo load generator (issue 3).
 *
 *   bench_echo_load PORT CONNS SIZE WARMUP_S MEASURE_S [SERVER_PID]
 *
 * Opens CONNS connections to 127.0.0.1:PORT; each sends SIZE bytes, waits
 * for the full echo, then sends again (closed loop). After WARMUP_S seconds
 * it counts round trips for MEASURE_S seconds and prints one line:
 *
 *   rtt_per_s=N rtts=N secs=S cpu_us_per_rt=U server_cpu_pct=P
 *
 * The server's CPU (utime+stime from /proc/SERVER_PID/stat, all threads) is
 * sampled at the edges of the measured window; without SERVER_PID the two
 * cpu fields are -1. Plain level-triggered epoll, one thread: the load
 * generator must cost as little as possible per round trip, since on two
 * cores it is the bottleneck for fast servers. Each echoed byte is checked,
 * so a server that corrupts or reorders data fails the run (exit 1). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
  int fd;
  size_t sent;  /* bytes of the current message written */
  size_t got;   /* bytes of its echo read back */
  int want_out; /* EPOLLOUT registered (partial write) */
};

static size_t msg_size;
static unsigned char *msg;   /* the message every client sends */
static unsigned char *rbuf;  /* scratch for reads */
static int epfd;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* utime+stime of pid in seconds, or -1. Field 2 (comm) may hold spaces,
 * so parse from the last ')'. */
static double proc_cpu(int pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  unsigned long ut, st;
  /* after ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt
   * majflt cmajflt utime(14) stime(15) */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
    return -1;
  return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void set_events(struct conn *c, unsigned ev) {
  struct epoll_event e = {.events = ev, .data.ptr = c};
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e) < 0) die("epoll_ctl");
}

/* Writes what is left of the current message; registers for EPOLLOUT when
 * the socket buffer is full. */
static void pump_write(struct conn *c) {
  while (c->sent < msg_size) {
    ssize_t n = send(c->fd, msg + c->sent, msg_size - c->sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN) break;
      die("send");
    }
    c->sent += n;
  }
  int need = c->sent < msg_size;
  if (need != c->want_out) {
    c->want_out = need;
    set_events(c, EPOLLIN | (need ? EPOLLOUT : 0));
  }
}

/* Reads echoed bytes; returns how many round trips completed (0 or 1). */
static int pump_read(struct conn *c) {
  for (;;) {
    ssize_t n = recv(c->fd, rbuf, msg_size - c->got, 0);
    if (n < 0) {
      if (errno == EAGAIN) return 0;
      die("recv");
    }
    if (n == 0) {
      fprintf(stderr, "echo_load: server closed the connection\n");
      exit(1);
    }
    if (memcmp(rbuf, msg + c->got, n) != 0) {
      fprintf(stderr, "echo_load: echo does not match what was sent\n");
      exit(1);
    }
    c->got += n;
    if (c->got == msg_size) {
      c->got = 0;
      c->sent = 0;
      pump_write(c);
      return 1;
    }
  }
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: %s PORT CONNS SIZE WARMUP_S MEASURE_S [SERVER_PID]\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]), nconn = atoi(argv[2]);
  msg_size = strtoul(argv[3], NULL, 10);
  double warm = atof(argv[4]), measure = atof(argv[5]);
  int spid = argc > 6 ? atoi(argv[6]) : 0;
  if (nconn <= 0 || msg_size == 0 || measure <= 0) {
    fprintf(stderr, "echo_load: bad arguments\n");
    return 2;
  }
  msg = malloc(msg_size);
  rbuf = malloc(msg_size);
  for (size_t i = 0; i < msg_size; i++) msg[i] = (unsigned char)('a' + i % 26);

  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1");
  struct conn *conns = calloc(nconn, sizeof *conns);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < nconn; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    /* Blocking connect keeps setup simple; the accept backlog covers it. */
    int tries = 0;
    while (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
      if (errno != ECONNREFUSED || ++tries > 50) die("connect");
      usleep(100000); /* server still starting */
      close(fd);
      fd = socket(AF_INET, SOCK_STREAM, 0);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) die("fcntl");
    conns[i].fd = fd;
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = &conns[i]};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0) die("epoll_ctl");
  }
  for (int i = 0; i < nconn; i++) pump_write(&conns[i]);

  struct epoll_event evs[256];
  double t0 = now(), mstart = t0 + warm, mend = mstart + measure;
  int measuring = 0;
  unsigned long rtts = 0;
  double cpu0 = -1, cpu1 = -1, tstart = 0, tend = 0;
  for (;;) {
    int n = epoll_wait(epfd, evs, 256, 100);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; i++) {
      struct conn *c = evs[i].data.ptr;
      if (evs[i].events & EPOLLOUT) pump_write(c);
      if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) rtts += pump_read(c);
    }
    double t = now();
    if (!measuring && t >= mstart) {
      measuring = 1;
      rtts = 0;
      tstart = t;
      if (spid) cpu0 = proc_cpu(spid);
    } else if (measuring && t >= mend) {
      tend = t;
      if (spid) cpu1 = proc_cpu(spid);
      break;
    }
  }
  double secs = tend - tstart;
  double cpu = (cpu0 >= 0 && cpu1 >= 0) ? cpu1 - cpu0 : -1;
  printf("rtt_per_s=%.0f rtts=%lu secs=%.3f cpu_us_per_rt=%.2f server_cpu_pct=%.0f\n",
         rtts / secs, rtts, secs, cpu >= 0 && rtts ? cpu * 1e6 / rtts : -1.0,
         cpu >= 0 ? cpu * 100 / secs : -1.0);
  for (int i = 0; i < nconn; i++) close(conns[i].fd);
  free(conns); /* LeakSanitizer (make asan runs this in bench_smoke_n1) */
  free(msg);
  free(rbuf);
  return 0;
}
