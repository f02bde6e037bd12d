/* Shared by the libuv peers: listen on 127.0.0.1:port and run the loop. */
#include <uv.h>

static int uv_serve(int port, uv_connection_cb on_conn) {
  uv_loop_t *loop = uv_default_loop();
  static uv_tcp_t server;
  struct sockaddr_in addr;
  uv_tcp_init(loop, &server);
  uv_ip4_addr("127.0.0.1", port, &addr);
  if (uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0)) return 1;
  if (uv_listen((uv_stream_t *)&server, 1024, on_conn)) return 1;
  return uv_run(loop, UV_RUN_DEFAULT);
}
