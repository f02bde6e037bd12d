/* Listening on TCP. Apart from server.c so that programs serving their own
 * streams (weft_http_server_serve_stream) do not pull in the TCP layer.
 *
 * In a run of several loops (unless one_loop), listen also makes a shard on
 * every other loop (with weft_call, so on that loop): a copy of the server
 * that shares its routes and middleware, read-only from then on, and has
 * its own connections, reaper and listener (SO_REUSEPORT on the same port),
 * so that nothing a request touches is shared between loops. */
#include "http/server_internal.h"
#include <errno.h>
#include <stdlib.h>

static int conn_task(weft_stream *s, void *arg)
{
    return weft_http_server_serve_stream(arg, s);
}

/* ---- several loops: a shard per other loop ------------------------------------- */

typedef struct shard_args {
    weft_http_server tmpl; /* the first server as listen found it */
    const char *host;
    int port;
    weft_serve_opts so;
    weft_http_server *out;
} shard_args;

static int close_tcp(weft_http_server *srv, double grace_s)
{
    return weft_server_close(srv->tcp, grace_s);
}

/* On the shard's loop: a server of this loop with the first one's routes,
 * middleware and limits. */
static int shard_listen(void *arg)
{
    shard_args *a = arg;
    weft_http_server *sh = malloc(sizeof *sh);
    if (!sh) return -ENOMEM;
    *sh = a->tmpl;
    sh->conns = sh->conns_tail = NULL;
    sh->nconns = 0;
    sh->reaper = NULL;
    sh->shards = NULL;
    sh->nshards = 0;
    sh->is_shard = 1;
    sh->home = weft_loop_current();
    sh->tcp = weft_tcp_serve_with(a->host, a->port, conn_task, sh, &a->so);
    sh->tcp_close = close_tcp;
    if (!sh->tcp) {
        int e = errno;
        free(sh);
        return -e;
    }
    a->out = sh;
    return 0;
}

typedef struct shard_close_args {
    weft_http_server *sh;
    double grace_s;
} shard_close_args;

static int shard_close(void *arg)
{
    shard_close_args *a = arg;
    return weft_http_server_close(a->sh, a->grace_s);
}

/* The first server's close: its shards close on their loops meanwhile,
 * and all have before it returns (so before the routes are freed). */
static int close_everywhere(weft_http_server *srv, double grace_s)
{
    int n = srv->nshards;
    shard_close_args *a = calloc((size_t)n, sizeof *a);
    weft_task **t = calloc((size_t)n, sizeof *t);
    for (int i = 0; a && t && i < n; i++) {
        a[i] = (shard_close_args){srv->shards[i], grace_s};
        t[i] = weft_spawn_on(srv->shards[i]->home, shard_close, &a[i]);
    }
    int rc = close_tcp(srv, grace_s);
    for (int i = 0; i < n; i++) {
        if (a && t && t[i]) {
            weft_await(t[i]); /* a cancelled caller: cancels it and waits for its end */
        } else { /* no memory for the parallel close: one at a time */
            shard_close_args one = {srv->shards[i], 0};
            weft_call(srv->shards[i]->home, shard_close, &one);
        }
    }
    free(a);
    free(t);
    free(srv->shards);
    srv->shards = NULL;
    srv->nshards = 0;
    return rc;
}

int weft_http_server_listen(weft_http_server *srv, const char *host, int port)
{
    if (srv->tcp) return -EBUSY;
    int everywhere = weft_loop_count() > 1 && !srv->o.one_loop;
    weft_serve_opts so = {.max_conns = srv->o.max_conns, .tls = srv->o.tls,
                          .reuseport = srv->o.reuseport || everywhere, .one_loop = 1};
    shard_args a = {.tmpl = *srv, .host = host, .so = so}; /* before any connection */
    srv->home = weft_loop_current();
    srv->tcp = weft_tcp_serve_with(host, port, conn_task, srv, &so);
    srv->tcp_close = close_tcp;
    if (!srv->tcp) return -errno;
    if (!everywhere) return 0;
    a.port = port ? port : weft_server_port(srv->tcp);
    int n = weft_loop_count(), me = weft_loop_index(srv->home), r = 0;
    srv->shards = calloc((size_t)n, sizeof *srv->shards);
    srv->tcp_close = close_everywhere;
    if (!srv->shards) r = -ENOMEM;
    for (int i = 0; i < n && r == 0; i++)
        if (i != me && (r = weft_call(weft_loop_at(i), shard_listen, &a)) == 0)
            srv->shards[srv->nshards++] = a.out;
    if (r < 0) { /* as if never listening: the shards made are closed */
        close_everywhere(srv, 0);
        srv->tcp = NULL;
        srv->tcp_close = NULL;
    }
    return r;
}

int weft_http_server_port(const weft_http_server *srv)
{
    return srv->tcp ? weft_server_port(srv->tcp) : -EINVAL;
}

