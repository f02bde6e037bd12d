/* The server's insides, shared by server.c (connections), reply.c
 * (responses), router.c and static.c. Not installed. */
#ifndef WEFT_HTTP_SERVER_INTERNAL_H
#define WEFT_HTTP_SERVER_INTERNAL_H

#include "http/internal.h"

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

struct weft_http_server {
    weft_http_server_opts o;
    weft__route *routes, **routes_tail;
    weft__mw *mws;
    int nmw;
    weft_server *tcp;
    int (*tcp_close)(weft_server *, double); /* set by listen */
    weft_task *reaper;
    weft__conn *conns;       /* all live connections (for timeouts, shutdown) */
    int closing;
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
    double t0;
};

struct weft__conn {
    weft__conn *prev, *next;
    weft_http_server *srv;
    weft_stream *s;
    double deadline;         /* the reaper ends the connection past it */
    uint8_t state;           /* C_IDLE, C_HEAD, C_BODY, C_HANDLER, C_WRITE */
    uint8_t timed_out;
    uint8_t corked;          /* gather responses in pend (pipelining) */
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
    char peer[64];           /* for the access log */
};

enum { C_IDLE, C_HEAD, C_BODY, C_HANDLER, C_WRITE };

/* router.c */
const weft__route *weft__route_match(weft_http_server *srv, weft_http_request *req,
                                     int *path_matched);
void weft__routes_free(weft_http_server *srv);

/* reply.c */
int weft__reply_simple(weft_http_request *req, int status, const char *msg);
int weft__reply_finish(weft_http_request *req);
/* Sends the gathered pipelined responses. 0 or the stream's error. */
int weft__reply_flush(weft__conn *c);

#endif
