/* N2 HTTP server peer: a minimal libuv server. It answers every request
 * (each head ending in CRLFCRLF; GET without a body is all the benchmark
 * sends) with 200 "Hello, World!" and keeps the connection open: the
 * cheapest HTTP/1.1 keep-alive server libuv allows, with no real parser.
 * usage: http_libuv PORT */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "uv_serve.h"

static const char RESP[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
#define RESP_LEN (sizeof RESP - 1)

typedef struct {
  uv_tcp_t tcp;
  char head[4096]; /* an unfinished request head carried between reads */
  size_t hlen;
} conn;

typedef struct {
  uv_write_t req;
  char *data;
} write_req;

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  static char slab[65536]; /* one loop, one read at a time */
  buf->base = slab;
  buf->len = sizeof slab;
}

static void close_cb(uv_handle_t *h) { free(h); }

static void write_cb(uv_write_t *req, int status) {
  write_req *wr = (write_req *)req;
  free(wr->data);
  free(wr);
}

/* Counts complete request heads in the carried bytes plus the new ones. */
static int count_requests(conn *c, const char *p, size_t n) {
  int count = 0;
  for (size_t i = 0; i < n; i++) {
    if (c->hlen < sizeof c->head) c->head[c->hlen++] = p[i];
    if (c->hlen >= 4 && memcmp(c->head + c->hlen - 4, "\r\n\r\n", 4) == 0) {
      count++;
      c->hlen = 0;
    }
  }
  return count;
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  conn *c = (conn *)s;
  if (n < 0) {
    uv_close((uv_handle_t *)s, close_cb);
    return;
  }
  int k = count_requests(c, buf->base, n);
  if (k == 0) return;
  size_t len = k * RESP_LEN;
  char stackbuf[16 * RESP_LEN];
  char *out = len <= sizeof stackbuf ? stackbuf : malloc(len);
  for (int i = 0; i < k; i++) memcpy(out + i * RESP_LEN, RESP, RESP_LEN);
  uv_buf_t b = uv_buf_init(out, len);
  int w = uv_try_write(s, &b, 1);
  if (w < 0) w = 0;
  if ((size_t)w < len) {
    write_req *wr = malloc(sizeof *wr);
    wr->data = malloc(len - w);
    memcpy(wr->data, out + w, len - w);
    b = uv_buf_init(wr->data, len - w);
    uv_write(&wr->req, s, &b, 1, write_cb);
  }
  if (out != stackbuf) free(out);
}

static void on_conn(uv_stream_t *server, int status) {
  if (status < 0) return;
  conn *c = calloc(1, sizeof *c);
  uv_tcp_init(server->loop, &c->tcp);
  if (uv_accept(server, (uv_stream_t *)c) == 0) {
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)c, alloc_cb, read_cb);
  } else {
    uv_close((uv_handle_t *)c, close_cb);
  }
}

int main(int argc, char **argv) { return uv_serve(atoi(argv[1]), on_conn); }
