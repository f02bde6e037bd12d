/* N1 echo server peer: libuv, one loop, uv_read_start + uv_write.
 * usage: echo_libuv PORT */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "uv_serve.h"

typedef struct {
  uv_write_t req;
  uv_buf_t buf;
  char *base; /* the malloc'd read buffer buf points into */
} write_req;

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  buf->base = malloc(65536);
  buf->len = 65536;
}

static void close_cb(uv_handle_t *h) { free(h); }

static void write_cb(uv_write_t *req, int status) {
  write_req *wr = (write_req *)req;
  free(wr->base);
  free(wr);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  if (n > 0) {
    /* Most echoes fit the socket buffer at once: try that first, queue
     * only the rest (what a tuned libuv server does). */
    int w = uv_try_write(s, &(uv_buf_t){.base = buf->base, .len = n}, 1);
    if (w < 0) w = 0;
    if (w == n) {
      free(buf->base);
      return;
    }
    write_req *wr = malloc(sizeof *wr);
    wr->base = buf->base;
    wr->buf = uv_buf_init(buf->base + w, n - w);
    uv_write(&wr->req, s, &wr->buf, 1, write_cb);
    return;
  }
  free(buf->base);
  if (n < 0) uv_close((uv_handle_t *)s, close_cb);
}

static void on_conn(uv_stream_t *server, int status) {
  if (status < 0) return;
  uv_tcp_t *c = malloc(sizeof *c);
  uv_tcp_init(server->loop, c);
  if (uv_accept(server, (uv_stream_t *)c) == 0) {
    uv_tcp_nodelay(c, 1);
    uv_read_start((uv_stream_t *)c, alloc_cb, read_cb);
  } else {
    uv_close((uv_handle_t *)c, close_cb);
  }
}

int main(int argc, char **argv) { return uv_serve(atoi(argv[1]), on_conn); }
