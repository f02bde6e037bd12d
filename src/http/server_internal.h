/* The server's insides, shared by server.c (connections), reply.c
 * (responses), router.c and static.c. Not installed. */
#ifndef WEFT_HTTP_SERVER_INTERNAL_H
#define WEFT_HTTP_SERVER_INTERNAL_H

#include "http/internal.h"
#include <time.h>

#define WEFT_HTTP_MAX_PARAMS 16

typedef struct weft__route {
    struct weft__route *next;
    char *method;            /* "*": any */
    char *pattern;           /* copy, split in place into segs */
    char **segs;             /* literal, or "{name}" / "{name...}" */
    int nseg;
    int rest;                /* last segment takes the rest of the path */
    int own_arg;             /* free(arg) with the route */
    weft_http_handler h;
    void *arg;
} weft__route;

typedef struct weft__mw {
    weft_http_middleware fn;
    void *arg;
} weft__mw;

typedef struct weft__conn weft__conn;
typedef struct weft__deflate weft__deflate;

struct weft_http_server {
    weft_http_server_opts o;
    weft__route *routes, **routes_tail;
    weft__mw *mws;
    int nmw;
    weft_server *tcp;
    int (*tcp_close)(struct weft_http_server *, double); /* set by listen: closes
                                the listeners (and the shards) */
    weft_task *reaper;
    weft__conn *conns;       /* all live connections (for timeouts, shutdown),
                                the most recently idle first */
    weft__conn *conns_tail;  /* the longest idle (shed first) */
    size_t nconns;
    unsigned long nofile;    /* the soft descriptor limit; 0: none */
    weft__route proxy;       /* weft_http_server_proxy's handler (h NULL: none) */
    int closing;
    /* Several loops (server_listen.c): a shard per other loop, each a
     * server of its own loop sharing the routes and middleware, which only
     * the first server (is_shard 0) frees, after every shard has closed. */
    struct weft_http_server **shards;
    int nshards;
    int is_shard;
    weft_loop *home;
};

struct weft_http_request {
    weft__conn *c;
    weft__head *h;
    const weft__route *rt;
    int mw_next;
    int nparams;
    const char *pname[WEFT_HTTP_MAX_PARAMS];
    size_t pname_len[WEFT_HTTP_MAX_PARAMS];
    char *pval[WEFT_HTTP_MAX_PARAMS];
    uint8_t body_started, body_done, replied, ended, chunked_reply, is_head, keep_alive;
    uint8_t path_matched;    /* a route has this path, for another method: 405 */
    int status;
    int64_t remaining;       /* Content-Length reply: bytes still owed */
    uint64_t body_read, sent;
    uint64_t body_wire;      /* the body's bytes on the wire, framing included */
    double body_due;         /* the whole body must be in by then */
    double t0;
    uint8_t compress;        /* compression allowed (server default, handler's say) */
    uint8_t zcoding;         /* a streamed body goes through c->z */
};

struct weft__conn {
    weft__conn *prev, *next;
    weft_http_server *srv;
    weft_stream *s;
    double deadline;         /* the reaper ends the connection past it */
    uint8_t state;           /* C_IDLE, C_HEAD, C_BODY, C_HANDLER, C_WRITE */
    uint8_t timed_out;
    uint8_t corked;          /* gather responses in pend (pipelining) */
    uint8_t shed;            /* closed to make room (max_conns, descriptors) */
    double accepted;         /* when serving began: the first head is due from it */
    double idle_due;         /* C_IDLE: the end of the idle time allowed */
    size_t nreq;             /* requests read on this connection */
    size_t slice_reqs, slice_bytes; /* work since the loop last had a turn */
    weft__parser P;
    weft__head H;
    weft_http_request req;
    char *arena;             /* the head's strings */
    size_t arena_cap;
    weft__buf out;           /* response head being built */
    weft__buf pend;          /* pipelined responses not yet sent */
    weft__buf extra;         /* headers added by weft_http_reply_header */
    weft__buf body;          /* weft_http_request_body */
    weft__buf pathbuf;       /* route captures */
    weft__deflate *z;        /* the response encoder, reused */
    weft__buf zout;          /* its output */
    char peer[64];           /* for the access log */
};

enum { C_IDLE, C_HEAD, C_BODY, C_HANDLER, C_WRITE };

/* server_guard.c */
/* Adds c (its stream set) to the server's connections, bounds its unsent
 * data, and sheds idle connections if c took the last slot or nearly the
 * last descriptor. */
void weft__conn_join(weft_http_server *srv, weft__conn *c);
void weft__conn_leave(weft_http_server *srv, weft__conn *c);
/* c waits for a request until `until` (its stalled-write check comes first
 * if a response went out); it becomes the most recently idle. */
void weft__conn_idle(weft__conn *c, double until);
/* The server's reaper task: ends connections past their phase's deadline,
 * sheds idle ones when slots or descriptors run short. */
int weft__reaper(void *srv);

/* router.c */
const weft__route *weft__route_match(weft_http_server *srv, weft_http_request *req,
                                     int *path_matched);
void weft__routes_free(weft_http_server *srv);

/* compress.c */
enum { WEFT__CODING_NONE, WEFT__CODING_GZIP, WEFT__CODING_DEFLATE, WEFT__CODING_BR,
       WEFT__CODING_ZSTD };
/* The coding to answer with for an Accept-Encoding value (NULL: none): the
 * highest q-value, among equals zstd, br, gzip, deflate; NONE when none is
 * wanted. */
int weft__accept_coding(const char *accept_encoding);
/* The same over a request's headers: every Accept-Encoding line counts, as
 * one comma list (RFC 9110 5.3); NONE when there is none. */
int weft__accept_coding_lines(const weft_http_header *headers, size_t n);
/* Its Content-Encoding name ("gzip", "br"...); NULL for NONE. */
const char *weft__coding_name(int coding);
/* 1 if a body of this Content-Type is worth compressing (text, JSON, XML,
 * JavaScript, SVG...; not images, archives, media or an event stream). */
int weft__compressible(const char *ctype);
/* (Re)starts d for coding, or a new encoder when d is NULL (NULL: out of
 * memory); weft__deflate_live says whether the library could start. level:
 * zlib's (br and zstd use their own, compress.c). */
weft__deflate *weft__deflate_start(weft__deflate *d, int coding, int level);
int weft__deflate_live(const weft__deflate *d);
/* Compresses in[0..n) onto out's end, flushed (the peer can decode all of
 * it now) or, with finish, ended. 0 or -ENOMEM. */
int weft__deflate_run(weft__deflate *d, const void *in, size_t n, int finish, weft__buf *out);
void weft__deflate_free(weft__deflate *d);
/* The value of header name in extra's lines (weft__head_add_header's)
 * copied into out, or NULL. */
const char *weft__extra_find(const weft__buf *extra, const char *name, char *out, size_t cap);
/* 1 if an If-None-Match value lists etag (weak comparison) or "*". */
int weft__etag_match(const char *inm, const char *etag);
/* 1 if a GET/HEAD request's If-None-Match (it wins) or If-Modified-Since
 * says the client's copy is current, for a resource with this etag (NULL:
 * none) and mtime ((time_t)-1: unknown). */
int weft__not_modified(const weft_http_request *req, const char *etag, time_t mtime);

/* reply.c */
int weft__reply_simple(weft_http_request *req, int status, const char *msg);
int weft__reply_finish(weft_http_request *req);
/* Sends the gathered pipelined responses. 0 or the stream's error. */
int weft__reply_flush(weft__conn *c);
/* Protocol upgrades (WebSocket): sends "101 Switching Protocols" with the
 * headers added by weft_http_reply_header and hands the handler the
 * connection's stream, to use until it returns; the connection then ends
 * (no further request is read from it). The server's per-phase timeouts no
 * longer apply: the protocol keeps its own. 0, -WEFT_EHTTP_STATE (already
 * answered), or the stream's error. Waits. */
int weft__reply_upgrade(weft_http_request *req, weft_stream **s);

#endif
