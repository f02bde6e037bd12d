/* The client's insides, shared by client.c (session, pool, requests),
 * response.c (reading responses), url.c and cookie.c. Not installed. */
#ifndef WEFT_HTTP_CLIENT_INTERNAL_H
#define WEFT_HTTP_CLIENT_INTERNAL_H

#include "http/internal.h"
#include "http/cookie.h"

typedef struct weft__url {
    char buf[2048];          /* host and path point in here */
    int tls;
    const char *host;        /* without brackets for IPv6 */
    int port;
    const char *target;      /* path?query, "/" at least */
    int default_port;
    int ipv6;
    char userinfo[256];      /* "user:pass" as written (percent-encoded), or "";
                                never part of the formatted URL */
} weft__url;

/* Parses an absolute http/https URL. 0 or -WEFT_EHTTP_URL. */
int weft__url_parse(const char *s, weft__url *u);
/* Resolves a Location value against base into out (cap bytes). 0 or
 * -WEFT_EHTTP_URL. */
int weft__url_join(const weft__url *base, const char *loc, char *out, size_t cap);
/* Writes the scheme://host:port/target form of u. */
void weft__url_format(const weft__url *u, char *out, size_t cap);

/* The proxy a request goes through (proxy.c). */
typedef struct weft__proxy {
    int on;                  /* 0: direct */
    char host[256];
    int port;
    char auth[600];          /* Proxy-Authorization value, or "" */
    char key[280];           /* "host:port": part of the pool's key */
} weft__proxy;

/* Picks the proxy for u: the request's, the session's, or (trust_env) the
 * environment's unless NO_PROXY names u's host. 0 or -WEFT_EHTTP_URL. */
int weft__proxy_for(const weft_http_client *c, const weft__url *u, const weft_http_req_opts *o,
                    weft__proxy *p);
/* Connects to u through p: TCP to the proxy for http, a CONNECT tunnel and
 * TLS (co->tls) to the origin for https; under co->timeout_s. */
int weft__proxy_connect(const weft__proxy *p, const weft__url *u, const weft_connect_opts *co,
                        const char *ua, weft_stream **out);
/* auth.c: "Basic ..." from a URL's userinfo (percent-decoded). */
int weft__basic_from_userinfo(const char *ui, char *out, size_t cap);
/* The Authorization value for the first URL u: the request's login or
 * token, else u's user:pass@, else the session's; "" when none. 0, -EINVAL,
 * -ENOSPC or -WEFT_EHTTP_URL. */
int weft__authz(const weft_http_client *c, const weft__url *u, const weft_http_req_opts *o,
                char *out, size_t cap);

typedef struct weft__host weft__host;
typedef struct weft__pconn weft__pconn;

struct weft__pconn {
    weft__pconn *next;       /* in its host's idle list */
    weft__host *host;
    weft_stream *s;
    double idle_since;
    int uses;                /* requests sent on it so far */
    int permitless;          /* idle, its permits handed to a waiter */
    weft__pconn *bprev, *bnext; /* in the session's busy list */
    int busy;
    struct weft_http_response *owner; /* while busy */
};

struct weft__host {
    weft__host *next;
    int tls, port;
    char *name;
    char *via;               /* the proxy's "host:port", NULL: direct */
    weft_sem *slots;         /* per-host limit, NULL: none */
    weft__pconn *idle;       /* most recently used first */
    size_t nidle;
    int waiting;             /* requests blocked on a slot for this host */
};

struct weft_http_client {
    weft_http_client_opts o;
    weft__host *hosts;
    weft_sem *slots;         /* total limit */
    size_t nconns;           /* open connections, idle ones included */
    int waiting;             /* requests blocked on the total limit */
    weft__pconn *busy;       /* connections serving a request */
    weft_tls_ctx *own_tls;
    weft__jar jar;           /* cookies (cookie.c) */
    weft__buf reqbuf;        /* request head being built */
    int closing;
    weft_loop *home;         /* the loop that made it (or first used it): others get -EXDEV */
};

struct weft_http_response {
    weft_http_client *c;
    weft_loop *home;         /* c's loop, kept here: another loop must not read c */
    weft__pconn *conn;       /* NULL once released */
    weft__parser P;
    weft__head H;
    char *arena;
    double deadline;         /* total timeout, INFINITY: none */
    size_t max_body;
    int redirects;
    uint8_t body_done, is_head, got_any;
    weft__inflate *z;
    weft__buf zin;           /* compressed bytes not yet inflated */
    size_t zoff;
    size_t zidle;            /* compressed bytes taken since the last decoded one */
    uint8_t raw_done;        /* the raw body ended */
    uint8_t zseen;           /* a compressed byte arrived */
    weft__buf body;
    weft__proxy px;          /* the current hop's proxy */
    char url[2048];          /* the current hop's URL, then the final one */
    char method[16];         /* the current hop's method */
    const char *tdns_host;   /* the name being connected to */
    void *tctx;              /* the request's trace_ctx */
};

/* response.c */
/* Reads the response head on r->conn (1xx skipped). 0 or -errno. */
int weft__resp_read_head(weft_http_response *r, int method_head);
ssize_t weft__resp_peek(weft_http_response *r, const char **data, size_t min);
/* r->conn of a response freed where its session's loop could not take it
 * (the run ending): the session's close, which still has the connection
 * busy, frees the struct (weft__resp_orphan_free) when it finds this. */
#define WEFT__RESP_ORPHAN ((weft__pconn *)1)
void weft__resp_orphan_free(weft_http_response *r);
/* Gives the connection back (pool when reusable, else closed). */
void weft__resp_release(weft_http_response *r, int reusable);
/* Takes r's connection out of the session (after a 101: it speaks another
 * protocol now) and returns its stream, the caller's to close; NULL if r
 * has none. Its slots are given back: it no longer counts against the
 * session's limits. */
weft_stream *weft__resp_detach(weft_http_response *r);

/* client.c */
void weft__pconn_put(weft_http_client *c, weft__pconn *pc, int reusable);
/* Removes pc from the session, gives its slots back, frees it and returns
 * its stream (not closed). */
weft_stream *weft__pconn_detach(weft_http_client *c, weft__pconn *pc);
/* weft_http_client_request with follow 0: a redirect is returned as it is
 * (a WebSocket handshake never follows one). */
int weft__client_request(weft_http_client *c, const char *method, const char *url,
                         const weft_http_req_opts *o, int follow, weft_http_response **out);

/* trace.c: an event for the session's trace function (none: nothing). */
void weft__trace(weft_http_response *r, int event, int status, int err);
void weft__trace_full(weft_http_response *r, weft_http_trace_info *ev);
/* A weft_connect_trace_fn; arg is the response. */
void weft__trace_connect(void *arg, int phase, const struct sockaddr *addr, int err);

/* cookie.c */
void weft__cookies_store(weft_http_client *c, const weft__url *u, const weft__head *h);
/* Appends a Cookie header for u to b, if any cookie applies. */
int weft__cookies_header(weft_http_client *c, const weft__url *u, weft__buf *b);
void weft__cookies_free(weft_http_client *c);

#endif
