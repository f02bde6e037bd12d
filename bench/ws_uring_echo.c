/* ws_uring_echo: the W1 WebSocket echo server on io_uring, the floor of a
 * batched completion design (issue 14): what a server costs per message
 * when all of its system calls for a loop iteration are one io_uring_enter.
 *
 *   bench_ws_uring_echo PORT [defer|coop|plain] [WAIT_NR]
 *
 * One ring, one thread. A multishot accept on the listening socket; a
 * multishot recv per connection drawing from one ring of provided buffers
 * (the kernel picks a buffer when data arrives, so no buffer is pinned per
 * idle connection and no recv is re-armed per message); each loop iteration
 * handles every completion, queues the answers' sends (one per connection
 * with something to say, at most one in flight per connection) and then
 * submits them and waits for the next completions in a single
 * io_uring_enter. The ring is set up with SINGLE_ISSUER|DEFER_TASKRUN
 * ("defer", the default: completion work runs only inside our enter, no
 * interrupting task work), COOP_TASKRUN ("coop") or neither ("plain"), to
 * compare them; the ring fd is registered (no fd lookup per enter).
 * WAIT_NR (default 1): an enter returns after that many completions or
 * 100 us, whichever comes first (an experiment: fewer, larger batches for
 * some latency).
 *
 * The WebSocket part is bench/ws_floor.h, shared with the epoll floor
 * (bench/ws_epoll_echo.c). Each connection has two answer buffers: one in
 * flight (the kernel may read it until the send completes) and one being
 * filled; they swap when a send completes. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "floor.h"
#include "ws_floor.h"

#define NBUFS 1024 /* provided receive buffers (a power of two) */
#define BUFSZ 4096
#define BGID 0
enum { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND = 3 }; /* user_data's low bits */

struct conn {
  int fd;
  int ops;  /* submitted operations not yet finished (multishot: until !F_MORE) */
  int dead; /* shut down: freed when ops reaches 0 */
  int sending;
  struct wsf_conn ws;
  struct wsf_buf tx[2]; /* tx[fill] collects answers, tx[!fill] is in flight */
  int fill;
  size_t sent; /* of the buffer in flight */
} __attribute__((aligned(8)));

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static uint8_t *bufs;
static unsigned buf_added; /* buffers given back since the last advance */
static int lfd;

static void die(const char *what, int err) {
  fprintf(stderr, "%s: %s\n", what, strerror(err));
  exit(1);
}

static struct io_uring_sqe *sqe_get(void) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
  if (!sqe) { /* full: submit what is queued (rare) */
    io_uring_submit(&ring);
    sqe = io_uring_get_sqe(&ring);
    if (!sqe) die("io_uring_get_sqe", EBUSY);
  }
  return sqe;
}

static void arm_accept(void) {
  struct io_uring_sqe *sqe = sqe_get();
  io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, 0);
  io_uring_sqe_set_data64(sqe, OP_ACCEPT);
}

static void arm_recv(struct conn *c) {
  struct io_uring_sqe *sqe = sqe_get();
  io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = BGID;
  io_uring_sqe_set_data64(sqe, (uintptr_t)c | OP_RECV);
  c->ops++;
}

static void send_in_flight(struct conn *c) {
  struct wsf_buf *b = &c->tx[!c->fill];
  struct io_uring_sqe *sqe = sqe_get();
  io_uring_prep_send(sqe, c->fd, b->p + c->sent, b->len - c->sent, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, (uintptr_t)c | OP_SEND);
  c->ops++;
  c->sending = 1;
}

/* Starts sending the collected answers unless a send is in flight. */
static void start_send(struct conn *c) {
  if (c->sending || c->dead || !c->tx[c->fill].len) return;
  c->fill = !c->fill;
  c->tx[c->fill].len = 0;
  c->sent = 0;
  send_in_flight(c);
}

/* Ends the connection: the shutdown finishes its multishot recv (and any
 * send); the fd is closed and the memory freed once no operation refers to
 * them (conn_put). */
static void conn_drop(struct conn *c) {
  if (!c->dead) {
    c->dead = 1;
    shutdown(c->fd, SHUT_RDWR);
  }
}

static void conn_put(struct conn *c) {
  if (c->dead && c->ops == 0) {
    close(c->fd);
    free(c->ws.in.p);
    free(c->tx[0].p);
    free(c->tx[1].p);
    free(c);
  }
}

static void give_back(unsigned bid) {
  io_uring_buf_ring_add(br, bufs + (size_t)bid * BUFSZ, BUFSZ, bid,
                        io_uring_buf_ring_mask(NBUFS), buf_added++);
}

static void on_recv(struct conn *c, struct io_uring_cqe *cqe) {
  if (cqe->flags & IORING_CQE_F_BUFFER) {
    unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
    if (cqe->res > 0 && !c->dead &&
        wsf_feed(&c->ws, bufs + (size_t)bid * BUFSZ, cqe->res, &c->tx[c->fill]) < 0)
      conn_drop(c);
    give_back(bid);
  }
  if (!(cqe->flags & IORING_CQE_F_MORE)) {
    c->ops--;
    /* ENOBUFS: the buffers ran out for a moment; anything else ends it */
    if (!c->dead && (cqe->res > 0 || cqe->res == -ENOBUFS)) arm_recv(c);
    else conn_drop(c);
  } else if (cqe->res <= 0) {
    conn_drop(c);
  }
  start_send(c);
}

static void on_send(struct conn *c, struct io_uring_cqe *cqe) {
  c->ops--;
  c->sending = 0;
  if (cqe->res < 0) {
    conn_drop(c);
    return;
  }
  c->sent += cqe->res;
  if (c->sent < c->tx[!c->fill].len && !c->dead) {
    send_in_flight(c); /* a partial send: the rest */
    return;
  }
  if (c->ws.closing && !c->tx[c->fill].len) conn_drop(c);
  start_send(c);
}

static void on_accept(struct io_uring_cqe *cqe) {
  if (!(cqe->flags & IORING_CQE_F_MORE)) arm_accept();
  if (cqe->res < 0) return;
  floor_tune(cqe->res);
  struct conn *c = calloc(1, sizeof *c);
  c->fd = cqe->res;
  arm_recv(c);
}

static void setup_ring(const char *mode) {
  struct io_uring_params p = {0};
  if (strcmp(mode, "defer") == 0)
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL;
  else if (strcmp(mode, "coop") == 0)
    p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL;
  else if (strcmp(mode, "plain") != 0)
    die("mode (defer, coop or plain)", EINVAL);
  int r = io_uring_queue_init_params(512, &ring, &p);
  if (r < 0) die("io_uring_queue_init_params", -r);
  io_uring_register_ring_fd(&ring); /* optional: saves the fd lookup per enter */

  size_t rsz = NBUFS * sizeof(struct io_uring_buf);
  br = mmap(NULL, rsz, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (br == MAP_FAILED) die("mmap", errno);
  io_uring_buf_ring_init(br);
  struct io_uring_buf_reg reg = {.ring_addr = (uintptr_t)br, .ring_entries = NBUFS, .bgid = BGID};
  r = io_uring_register_buf_ring(&ring, &reg, 0);
  if (r < 0) die("io_uring_register_buf_ring", -r);
  bufs = malloc((size_t)NBUFS * BUFSZ);
  for (unsigned i = 0; i < NBUFS; i++) give_back(i);
  io_uring_buf_ring_advance(br, buf_added);
  buf_added = 0;
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 4) {
    fprintf(stderr, "usage: %s PORT [defer|coop|plain] [WAIT_NR]\n", argv[0]);
    return 2;
  }
  lfd = floor_listen(argv[1]); /* non-blocking: io_uring polls it for us */
  setup_ring(argc > 2 ? argv[2] : "defer");
  arm_accept();
  unsigned wait_nr = argc > 3 ? atoi(argv[3]) : 1;
  struct __kernel_timespec wait_max = {.tv_nsec = 100000};

  for (;;) {
    /* the one system call of an iteration: this iteration's sends (and
     * re-arms) go in, the next completions come out */
    struct io_uring_cqe *first;
    int r = wait_nr > 1 ? io_uring_submit_and_wait_timeout(&ring, &first, wait_nr, &wait_max, NULL)
                        : io_uring_submit_and_wait(&ring, 1);
    if (r < 0 && r != -EINTR && r != -ETIME) die("io_uring_submit_and_wait", -r);
    unsigned head, n = 0;
    struct io_uring_cqe *cqe;
    io_uring_for_each_cqe(&ring, head, cqe) {
      n++;
      uint64_t ud = cqe->user_data;
      struct conn *c = (struct conn *)(uintptr_t)(ud & ~(uint64_t)7);
      switch (ud & 7) {
      case OP_ACCEPT: on_accept(cqe); break;
      case OP_RECV: on_recv(c, cqe); conn_put(c); break;
      case OP_SEND: on_send(c, cqe); conn_put(c); break;
      }
    }
    io_uring_cq_advance(&ring, n);
    if (buf_added) {
      io_uring_buf_ring_advance(br, buf_added);
      buf_added = 0;
    }
  }
}
