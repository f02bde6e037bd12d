/* Listening on TCP. Apart from server.c so that programs serving their own
 * streams (weft_http_server_serve_stream) do not pull in the TCP layer. */
#include "http/server_internal.h"
#include <errno.h>

static int conn_task(weft_stream *s, void *arg)
{
    return weft_http_server_serve_stream(arg, s);
}

int weft_http_server_listen(weft_http_server *srv, const char *host, int port)
{
    if (srv->tcp) return -EBUSY;
    weft_serve_opts so = {.max_conns = srv->o.max_conns, .tls = srv->o.tls,
                          .reuseport = srv->o.reuseport};
    srv->tcp = weft_tcp_serve_with(host, port, conn_task, srv, &so);
    srv->tcp_close = weft_server_close;
    return srv->tcp ? 0 : -errno;
}

int weft_http_server_port(const weft_http_server *srv)
{
    return srv->tcp ? weft_server_port(srv->tcp) : -EINVAL;
}

