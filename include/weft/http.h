/* weft/http.h: HTTP/1.1 client session and server (aiohttp's ClientSession
 * and aiohttp.web), on weft streams, parsing by llhttp.
 *
 * Everything that "waits" must be called inside a task. Errors are negative
 * errno values or the HTTP codes below (negated); weft_strerror names them.
 * As in weft/io.h, a cancelled task (past its weft_timeout deadline) gets
 * -ECANCELED (-ETIMEDOUT) from every waiting function at once, with nothing
 * read, sent or taken from the pool, even when the bytes are already
 * buffered; the close functions still close and free, without waiting.
 * Header names compare case-insensitively everywhere. */
#ifndef WEFT_HTTP_H
#define WEFT_HTTP_H

#include <weft.h>
#include <weft/io.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- error codes (ranges: weft.h) ----------------------------------------- */
/* X(NAME, code, text): WEFT_<NAME> = code, and weft_strerror's text. */
#define WEFT_HTTP_ERRORS(X)                                                             \
    /* malformed message (smuggling attempts included) */                               \
    X(EHTTP_PARSE, 10200, "malformed HTTP message")                                     \
    /* header section over the limit (server: 431) */                                   \
    X(EHTTP_HEADERS_SIZE, 10201, "HTTP header section too large")                       \
    /* body over the limit (server: 413) */                                             \
    X(EHTTP_BODY_SIZE, 10202, "HTTP body too large")                                    \
    /* URL unparsable or scheme unsupported */                                          \
    X(EHTTP_URL, 10203, "bad or unsupported URL")                                       \
    /* no connection slot within pool_timeout_s */                                      \
    X(EHTTP_POOL_TIMEOUT, 10204, "timed out waiting for a pool connection")             \
    /* connect (DNS, TCP, TLS) took too long */                                         \
    X(EHTTP_CONNECT_TIMEOUT, 10205, "HTTP connect timed out")                           \
    /* a single read waited over read_timeout_s */                                      \
    X(EHTTP_READ_TIMEOUT, 10206, "HTTP read timed out")                                 \
    /* the whole request over total_timeout_s */                                        \
    X(EHTTP_TOTAL_TIMEOUT, 10207, "HTTP request timed out (total)")                     \
    /* raise_for_status: the status was >= 400 */                                       \
    X(EHTTP_STATUS, 10208, "HTTP error status")                                         \
    /* more redirects than max_redirects */                                             \
    X(EHTTP_REDIRECTS, 10209, "too many HTTP redirects")                                \
    /* connection closed before a complete response */                                  \
    X(EHTTP_CLOSED, 10210, "connection closed before a complete HTTP response")         \
    /* gzip/deflate body could not be decoded */                                        \
    X(EHTTP_DECODE, 10211, "HTTP content decoding failed")                              \
    /* server: request head too slow (408) */                                           \
    X(EHTTP_HEADER_TIMEOUT, 10212, "HTTP request head too slow")                        \
    /* call out of order (e.g. header after start) */                                   \
    X(EHTTP_STATE, 10213, "HTTP call out of order")                                     \
    /* an https URL redirected to http (see allow_insecure_redirects) */                \
    X(EHTTP_INSECURE_REDIRECT, 10214, "HTTP redirect from https to http refused")       \
    /* the proxy answered CONNECT with a non-2xx status (407: its credentials   */      \
    /* are missing or wrong) */                                                         \
    X(EHTTP_PROXY, 10215, "the HTTP proxy refused the tunnel (CONNECT)")                \
    /* a body is not valid JSON (weft/http_json.h) */                                   \
    X(EHTTP_JSON, 10230, "HTTP body is not valid JSON")                                 \
    /* a body's Content-Type is not the one expected (server: 415) */                   \
    X(EHTTP_CONTENT_TYPE, 10231, "unexpected HTTP Content-Type")                       \
    /* a malformed multipart/form-data body (weft/http_multipart.h) */                  \
    X(EHTTP_MULTIPART, 10232, "malformed multipart/form-data body")
enum { WEFT_HTTP_ERRORS(WEFT_ERR_ENUM_) };

/* One header line; both strings NUL-terminated, owned by the message. */
typedef struct weft_http_header {
    const char *name;
    const char *value;
} weft_http_header;

/* ==================================================================== * Server
 * ======================================================================== */

typedef struct weft_http_server weft_http_server;
/* One request and its response, valid only inside its handler. */
typedef struct weft_http_request weft_http_request;

/* A route handler, run in the connection's task. Returns >= 0, or < 0 on
 * failure: if no response was started yet the client gets 500, and the
 * connection is closed either way. A handler that returns without
 * responding gets an empty 200 sent for it, so no client is left waiting. */
typedef int (*weft_http_handler)(weft_http_request *req, void *arg);
/* Middleware: wraps every routed request; call weft_http_next(req) to run
 * the rest of the chain (and the handler), or respond and return without. */
typedef int (*weft_http_middleware)(weft_http_request *req, void *arg);

/* Limits against clients that hog a server (docs/design.md, "HTTP server",
 * has nginx's defaults beside these and the reasons):
 * - A connection's first request must arrive whole within header_timeout_s
 *   of the accept; later ones may take keepalive_s to start.
 * - A body's bytes on the wire (data, chunk sizes, extensions, trailers)
 *   may be max_body_bytes plus as much again (at least 64 KiB) for framing;
 *   it must all arrive within body_total_s; the rest of a body the handler
 *   did not read is drained for min(body_timeout_s, 5 s) at most. Past any
 *   of these the connection closes.
 * - Unsent response bytes in the kernel are kept near 128 KiB a connection
 *   (TCP_NOTSENT_LOWAT); a write that makes no headway for body_timeout_s,
 *   or an idle connection still holding unsent bytes then, is reset (RST)
 *   so that the kernel frees them at once.
 * - At max_conns, or near the descriptor limit, connections waiting for a
 *   request are closed, the longest idle first, to make room.
 * - A connection task lets the loop look at other clients every 32
 *   requests or 128 KiB of input, even when it need not wait. */
typedef struct weft_http_server_opts {
    size_t max_header_bytes;   /* request line + headers; default 16 KiB -> 431 */
    size_t max_body_bytes;     /* request body; default 1 MiB -> 413 */
    double header_timeout_s;   /* whole request head must arrive within; default 10 -> 408 */
    double keepalive_s;        /* idle time between requests; default 75 */
    double body_timeout_s;     /* each body read, each response write; default 30 */
    size_t max_conns;          /* default 10000 */
    FILE *access_log;          /* one line per request (common log format + time); NULL: none */
    weft_tls_ctx *tls;         /* non-NULL: HTTPS */
    const char *server_name;   /* the Server header; NULL: "weft", "": none;
                                  a control byte (CR, LF...) or DEL:
                                  weft_http_server_new fails (EINVAL) */
    size_t max_requests;       /* served on one connection, which then closes
                                  (nginx's keepalive_requests); default 1000;
                                  SIZE_MAX: no limit */
    double body_total_s;       /* a whole request body, from the end of its
                                  head; default 60 -> 408 and close */
    int reuseport;             /* SO_REUSEPORT: a server per loop on one port
                                  (weft serve --loops) */
    int compress;              /* 1: responses are compressed (zstd, br, gzip
                                  or deflate: the client's q-values, then that
                                  order) when the client accepts it, the Content-Type is
                                  text-like (text/ but event streams, JSON,
                                  XML, JavaScript, SVG, wasm), the status 2xx
                                  (not 204/206), no Content-Encoding was set
                                  and the body is compress_min_bytes or more
                                  (or streamed); "Vary: Accept-Encoding" then
                                  goes with it, and a strong ETag becomes
                                  weak. 0: only where a handler asks
                                  (weft_http_reply_compress) */
    int compress_level;        /* zlib's 1-9 for gzip/deflate; 0: 6 (br and
                                  zstd use quality 5 and level 3) */
    size_t compress_min_bytes; /* default 1024 */
    int one_loop;              /* 1: listen on the caller's loop only. Else, in
                                  a run of several loops, listen starts a
                                  listener on every loop (SO_REUSEPORT), each
                                  connection served on the loop that accepted
                                  it with the same routes and middleware (add
                                  them before listen; handlers run on any
                                  loop), and close closes them all */
} weft_http_server_opts;

/* A server with no routes (unrouted requests get 404, a path with a route
 * but another method 405). opt may be NULL. NULL and errno on failure. Does
 * not wait. */
weft_http_server *weft_http_server_new(const weft_http_server_opts *opt);
/* Adds a route. method: "GET", ..., or "*" for any; pattern: a path whose
 * segments may be "{name}" captures (one segment each) and whose last
 * segment may be "{name...}" (the rest of the path). The first matching
 * route wins. Strings are copied. 0, -EINVAL (bad pattern), -ENOMEM. */
int weft_http_server_route(weft_http_server *srv, const char *method, const char *pattern,
                           weft_http_handler h, void *arg);
/* Serves the files under dir for GET/HEAD paths below prefix ("/static"):
 * sendfile, Range (single), If-Modified-Since, index.html for directories.
 * Files are opened beneath dir by the kernel (openat2 RESOLVE_BENEATH):
 * relative symlinks that stay under dir are followed; absolute ones, any
 * that leave, "..", NUL and backslash get 404 (on kernels without openat2
 * every symlink gets 404). Dotfiles are served. 0 or -errno. */
int weft_http_server_static(weft_http_server *srv, const char *prefix, const char *dir);
/* Appends a middleware to the chain (run in the order added). 0 or -ENOMEM. */
int weft_http_server_use(weft_http_server *srv, weft_http_middleware mw, void *arg);
/* Starts listening (host NULL: all interfaces; port 0: any, see
 * weft_http_server_port). 0 or -errno. Waits (resolving host). */
int weft_http_server_listen(weft_http_server *srv, const char *host, int port);
/* The port listen bound (useful with port 0); -EINVAL before listen. */
int weft_http_server_port(const weft_http_server *srv);
/* Graceful shutdown: stops accepting, idle keep-alive connections close, in
 * flight requests get up to grace_s seconds, then are cancelled. Frees srv
 * (also when never started). 0 or -errno. NULL is a no-op. Waits. */
int weft_http_server_close(weft_http_server *srv, double grace_s);
/* Serves one already accepted connection with srv's routes and limits
 * until it closes (what listen does per connection); s stays the caller's
 * to close. Every such call must have returned before
 * weft_http_server_close. 0 or -ENOMEM. Waits. */
int weft_http_server_serve_stream(weft_http_server *srv, weft_stream *s);

/* ---- the request (in a handler) ---- */
const char *weft_http_request_method(const weft_http_request *req);
/* The path as sent, without the query; "%xx" is not decoded. */
const char *weft_http_request_path(const weft_http_request *req);
/* The query string without '?', or "" */
const char *weft_http_request_query(const weft_http_request *req);
/* First header of that name, or NULL. */
const char *weft_http_request_header(const weft_http_request *req, const char *name);
/* All headers in order; *n gets their count. */
const weft_http_header *weft_http_request_headers(const weft_http_request *req, size_t *n);
/* A route capture by name, or NULL. */
const char *weft_http_request_param(const weft_http_request *req, const char *name);
/* Reads up to n bytes of the body (chunked decoded); 0 at its end. A body
 * over max_body_bytes gives -WEFT_EHTTP_BODY_SIZE (and the client 413 if
 * nothing was sent yet). Sends "100 Continue" first when the client asked.
 * Waits. */
ssize_t weft_http_request_read(weft_http_request *req, void *buf, size_t n);
/* Reads the whole body (max_body_bytes at most) into memory owned by req.
 * 0 or -errno / -WEFT_EHTTP_BODY_SIZE. A call interrupted by a cancel or
 * deadline keeps what it read: the next call goes on from there. Waits. */
int weft_http_request_body(weft_http_request *req, const char **data, size_t *len);
/* ---- proxies (a forward proxy written on weft: examples/proxy.c) ----
 * A server answers requests meant for a proxy only when it has a proxy
 * handler: CONNECT otherwise gets 501 ("this server is not a proxy"), and
 * an absolute-form target ("GET http://host/path") is served by the routes
 * as its path on this server, as RFC 9112 3.2.2 asks of an origin server
 * (its authority is then the Host). */

/* Hands every CONNECT request, and every request with an absolute-form
 * target, to h (after the middleware) instead of the routes. After a
 * CONNECT the connection ends when h returns, tunnel or not; a 2xx to it
 * comes only from weft_http_reply_tunnel (weft_http_respond and
 * weft_http_reply_start give -EINVAL), and h answering nothing sends 500.
 * 0 or -EINVAL (h NULL). Does not wait. */
int weft_http_server_proxy(weft_http_server *srv, weft_http_handler h, void *arg);
/* The scheme of an absolute-form target ("http"), "" otherwise. */
const char *weft_http_request_scheme(const weft_http_request *req);
/* The authority ("host:port") of an absolute-form or CONNECT target, ""
 * otherwise; for absolute-form also the Host header's value. */
const char *weft_http_request_authority(const weft_http_request *req);
/* Answers a CONNECT with "200" (no body, no framing headers, as RFC 9110
 * 9.3.6 asks) and hands the handler the connection's stream for the
 * tunnel, to use until it returns (bytes the client sent after its head
 * are already there to read); the server's timeouts no longer apply to
 * it. 0, -WEFT_EHTTP_STATE (not a CONNECT, or already answered), or the
 * stream's error. Waits. */
int weft_http_reply_tunnel(weft_http_request *req, weft_stream **s);
/* Runs the rest of the middleware chain and the handler (404 when no
 * route matched); returns what they return. Waits (through them). */
int weft_http_next(weft_http_request *req);

/* ---- forms, query strings, percent-decoding (both sides; none waits) ----
 * application/x-www-form-urlencoded as browsers, curl --data-urlencode and
 * aiohttp send it: "a=1&b=x+y%21". */

/* Most name=value pairs weft_http_form_parse takes (PHP's max_input_vars):
 * a body of "&&&..." or a million fields must not cost a handler more. */
#define WEFT_HTTP_FORM_MAX_FIELDS 1000
/* Percent-decodes s[0..n) into out (NUL-terminated); form: '+' is a
 * space. Its length, -EINVAL (a '%' without two hex digits, or a NUL byte
 * raw or as %00: it would cut the C string a caller compares or opens),
 * -ENOSPC. A decoded path may hold "/", "..", "\": check it before use
 * (static routes do). */
ssize_t weft_http_percent_decode(const char *s, size_t n, char *out, size_t cap, int form);
/* Called per decoded pair, in order; nonzero stops (and is returned). */
typedef int (*weft_http_form_fn)(void *arg, const char *name, const char *value);
/* Decodes a form or query string pair by pair ("a" alone is a = ""; empty
 * pairs are skipped). The number of pairs, fn's nonzero return, -EINVAL
 * (bad escape), -E2BIG (over WEFT_HTTP_FORM_MAX_FIELDS), -ENOMEM. */
int weft_http_form_parse(const char *form, size_t len, weft_http_form_fn fn, void *arg);
/* The first value of name in a form or query string, decoded into out. Its
 * length, -ENOENT, or as weft_http_form_parse / -ENOSPC. */
ssize_t weft_http_form_get(const char *form, size_t len, const char *name, char *out, size_t cap);
/* The same on the request's query string. */
ssize_t weft_http_request_query_get(const weft_http_request *req, const char *name, char *out,
                                    size_t cap);
/* Encodes n name/value pairs as a form body (for a request body with
 * "Content-Type: application/x-www-form-urlencoded", or a query string).
 * A malloc'ed string (free() it), NULL when out of memory. */
char *weft_http_form_encode(const weft_http_header *fields, size_t n);

/* ---- cookies on the server (the client's jar is further down) ---- */

/* Calls fn(arg, name, value) per cookie of the request's Cookie header(s),
 * in order (a browser sends the longest path first). Pairs without '=' or
 * whose name is not a token (or is over 255 bytes) are skipped; a value in
 * double quotes loses them; values are not percent-decoded. The number of
 * cookies, fn's nonzero return, -E2BIG (over WEFT_HTTP_FORM_MAX_FIELDS).
 * Does not wait. */
int weft_http_request_cookies(const weft_http_request *req, weft_http_form_fn fn, void *arg);
/* The value of the first cookie called name, copied into out
 * (NUL-terminated). Its length, -ENOENT, -ENOSPC. Does not wait. */
ssize_t weft_http_request_cookie(const weft_http_request *req, const char *name, char *out,
                                 size_t cap);

enum { WEFT_HTTP_SAMESITE_UNSET, WEFT_HTTP_SAMESITE_LAX, WEFT_HTTP_SAMESITE_STRICT,
       WEFT_HTTP_SAMESITE_NONE };
/* A Set-Cookie line's fields (RFC 6265bis); zero means "no attribute". */
typedef struct weft_http_set_cookie {
    const char *name;    /* a token */
    const char *value;   /* cookie-octets (no space, '"', ',', ';', backslash,
                            control or non-ASCII byte), or all that in
                            double quotes; "" allowed. Percent-encode
                            anything else yourself */
    const char *path;    /* starting with '/', no ';' or control byte */
    const char *domain;  /* a host name, one leading '.' allowed */
    int64_t max_age;     /* seconds; 0: none; < 0: "Max-Age=0" (delete now) */
    int64_t expires;     /* Unix time, years 1 to 9999; 0: none */
    int secure, http_only;
    int same_site;       /* WEFT_HTTP_SAMESITE_*; NONE needs secure */
    int partitioned;     /* CHIPS; needs secure */
} weft_http_set_cookie;
/* 0 if k makes a Set-Cookie line browsers take as meant; -EINVAL if not:
 * a field as above broken (expires outside years 1-9999 too), name +
 * value over 4096 bytes, SameSite=None or
 * Partitioned without Secure, a "__Secure-" name without Secure, a
 * "__Host-" one without Secure, with a Domain or with a Path other than
 * "/". Does not wait. */
int weft_http_set_cookie_check(const weft_http_set_cookie *k);
/* Writes k as a Set-Cookie value ("n=v; Max-Age=60; Path=/; Secure;
 * HttpOnly; SameSite=Lax") into out. Its length, -EINVAL (as
 * weft_http_set_cookie_check), -ENOSPC, -ENOMEM. Does not wait. */
ssize_t weft_http_set_cookie_format(const weft_http_set_cookie *k, char *out, size_t cap);
/* Adds that Set-Cookie header to the response. 0, -EINVAL, -ENOMEM,
 * -WEFT_EHTTP_STATE (the response started). Does not wait. */
int weft_http_reply_cookie(weft_http_request *req, const weft_http_set_cookie *k);

/* ---- the response ("reply" on the server, "response" in the client) ---- */
/* Adds a response header (copied) before the response starts.
 * -WEFT_EHTTP_STATE once started; -EINVAL on a control byte (CR, LF, any
 * other but HTAB) or DEL in the value, a
 * name that is not a token, or Content-Length/Transfer-Encoding (the
 * framing is the server's: a second one would let a client or proxy read
 * the body differently). */
int weft_http_reply_header(weft_http_request *req, const char *name, const char *value);
/* A whole response in one write: status line, headers, Content-Length and
 * the body (not sent for HEAD, 204, 304). content_type NULL: none.
 * body is not kept. 0, -WEFT_EHTTP_STATE (a response was already started),
 * -EINVAL (status not 200-999: a 1xx is interim, never a final answer, and
 * 100/101 are the server's own; CR/LF in content_type: nothing is sent), or
 * the stream's error (the connection then closes). Waits. */
int weft_http_respond(weft_http_request *req, int status, const char *content_type,
                      const void *body, size_t len);
/* Starts a streamed response: content_length >= 0 sends exactly that many
 * bytes, -1 uses chunked encoding (to an HTTP/1.0 client: raw, ended by
 * closing). Sends the head at once. 0, -WEFT_EHTTP_STATE, -EINVAL (as for
 * weft_http_respond), or the stream's error. Waits. */
int weft_http_reply_start(weft_http_request *req, int status, const char *content_type,
                             int64_t content_length);
/* Writes body bytes (one chunk, with chunked encoding); returns n.
 * -WEFT_EHTTP_STATE before start or after end; -EINVAL past the announced
 * Content-Length; the stream's error; -EPIPE/-ETIMEDOUT when the client
 * stopped reading for body_timeout_s. Waits. */
ssize_t weft_http_reply_write(weft_http_request *req, const void *buf, size_t n);
/* Ends a streamed response (the last chunk). -EPIPE if fewer bytes than
 * the announced Content-Length were written (the connection then closes).
 * Called for the handler if it returns without. Waits. */
int weft_http_reply_end(weft_http_request *req);
/* Serves a file (full path; no traversal check: that is for static routes)
 * with sendfile (read+write under TLS), one Range and If-Modified-Since;
 * answers 404/403 itself when it cannot be opened. Waits. */
int weft_http_respond_file(weft_http_request *req, const char *path);
/* Allows (1) or forbids (0) compressing this response, whatever the
 * server's compress option says, before it starts (a route's handler or a
 * middleware opts in or out). 0, -WEFT_EHTTP_STATE once started. */
int weft_http_reply_compress(weft_http_request *req, int on);
/* Conditional requests: a GET or HEAD answered 200 by weft_http_respond or
 * weft_http_reply_start, with an ETag header set by the handler that the
 * request's If-None-Match lists (weak comparison, or "*"), or, without
 * If-None-Match, a Last-Modified no later than its If-Modified-Since, is
 * sent as "304 Not Modified" with the same headers and no body (what the
 * handler then writes is dropped). Static files get an ETag
 * ("mtime-size", as nginx) and the same rules. */

/* The reason phrase of a status ("Not Found"), "" when unknown. */
const char *weft_http_status_text(int status);

/* ===========================================================================
 * Client session
 * ======================================================================== */

typedef struct weft_http_client weft_http_client;
typedef struct weft_http_response weft_http_response;

/* ---- tracing (aiohttp's TraceConfig): a callback per phase of a request,
 * for timings. The events of one request, in order:
 *   REQUEST_START
 *   per hop (the first URL, then each redirect's):
 *     CONN_REUSED (a pooled connection), or
 *     CONN_CREATE_START, [DNS_START, DNS_END] (a name, not an IP),
 *       then CONNECT_START/CONNECT_END per address tried, [TLS_START,
 *       TLS_END] (https), CONN_CREATED (error: 0 or why it failed)
 *     REQUEST_SENT (head and body written), RESPONSE_HEADERS (status)
 *     REDIRECT (status; location: the URL followed next)
 *   REQUEST_END (error: 0 or what weft_http_client_request returns)
 * A pooled connection found dead is replaced once: that hop then shows
 * CONN_REUSED and, after it, a CONN_CREATE_START. Through a proxy, the DNS
 * and CONNECT events are the proxy's and TLS_* the origin's (in the
 * tunnel). */
enum {
    WEFT_HTTP_TRACE_DNS_START, WEFT_HTTP_TRACE_DNS_END, /* same order as WEFT_CONNECT_* */
    WEFT_HTTP_TRACE_CONNECT_START, WEFT_HTTP_TRACE_CONNECT_END,
    WEFT_HTTP_TRACE_TLS_START, WEFT_HTTP_TRACE_TLS_END,
    WEFT_HTTP_TRACE_REQUEST_START, WEFT_HTTP_TRACE_CONN_REUSED,
    WEFT_HTTP_TRACE_CONN_CREATE_START, WEFT_HTTP_TRACE_CONN_CREATED,
    WEFT_HTTP_TRACE_REQUEST_SENT, WEFT_HTTP_TRACE_RESPONSE_HEADERS,
    WEFT_HTTP_TRACE_REDIRECT, WEFT_HTTP_TRACE_REQUEST_END
};
typedef struct weft_http_trace_info {
    int event;                   /* WEFT_HTTP_TRACE_* */
    double time;                 /* when, on weft_now()'s clock (read afresh) */
    const char *method, *url;    /* the request as sent on this hop */
    const char *host;            /* DNS_*: the name looked up (the proxy's
                                    through a proxy); else NULL */
    const struct sockaddr *addr; /* CONNECT_*: the address tried; else NULL */
    int status;                  /* RESPONSE_HEADERS, REDIRECT; else 0 */
    const char *location;        /* REDIRECT: the next URL; else NULL */
    int error;                   /* *_END, CONN_CREATED, REQUEST_END: 0 or
                                    -errno / -WEFT_E*; else 0 */
    void *ctx;                   /* the request's trace_ctx */
} weft_http_trace_info;
/* Called in the requesting task (the CONNECT_* events of a Happy Eyeballs
 * race: in its attempt tasks, on the same loop); every pointer in ev lives
 * only for the call. It must not wait (it runs between a request's
 * steps). */
typedef void (*weft_http_trace_fn)(void *arg, const weft_http_trace_info *ev);
/* The event's name ("dns_start", ...), "?" when unknown. */
const char *weft_http_trace_name(int event);

typedef struct weft_http_client_opts {
    size_t limit;            /* connections in total; default 100; a value
                                over INT_MAX (SIZE_MAX: "no limit") counts
                                as INT_MAX, as does limit_per_host */
    size_t limit_per_host;   /* per scheme+host+port; 0: only the total applies */
    double keepalive_s;      /* an idle pooled connection is closed after; default 15 */
    double pool_timeout_s;   /* waiting for a slot; 0: none */
    double connect_timeout_s;/* DNS + TCP + TLS; 0: none */
    double read_timeout_s;   /* each read; 0: none */
    double total_timeout_s;  /* a whole request, redirects and body included; 0: none */
    int max_redirects;       /* default 10; -1: do not follow redirects */
    int raise_for_status;    /* 1: a status >= 400 fails with -WEFT_EHTTP_STATUS */
    int no_decompress;       /* 1: keep gzip/deflate/br/zstd bodies as sent */
    int no_cookies;          /* 1: do not keep cookies */
    size_t max_body_bytes;   /* weft_http_response_body limit; default 64 MiB; every
                                read also ends with it once chunk extensions and
                                trailers alone exceed it, or compressed bytes
                                that decode to nothing (past 256 KiB more) */
    weft_tls_ctx *tls;       /* for https; NULL: a default verifying context */
    const char *user_agent;  /* NULL: "weft"; a control byte or DEL:
                                weft_http_client_new fails (EINVAL) */
    int allow_insecure_redirects; /* 1: follow a redirect from https to http;
                                     else it fails with
                                     -WEFT_EHTTP_INSECURE_REDIRECT (what was
                                     sent over TLS must not be resent in
                                     clear text, nor the answer trusted) */
    const char *proxy;       /* "http://[user:pass@]host[:port]": every request
                                goes through this HTTP proxy (https ones in a
                                CONNECT tunnel, TLS end to end); user:pass
                                become Proxy-Authorization (Basic) */
    int trust_env;           /* 1: with no proxy set, take http_proxy,
                                https_proxy, all_proxy and no_proxy (or the
                                same in capitals) from the environment, as
                                aiohttp's trust_env and curl do (HTTP_PROXY in
                                capitals is ignored under CGI: httpoxy) */
    const char *auth_login;  /* Basic auth sent to the first URL's origin (not
                                after a redirect leaves it) */
    const char *auth_password;
    const char *bearer_token;/* "Authorization: Bearer <token>" likewise */
    weft_http_trace_fn trace;/* every request's events (see above); NULL: none */
    void *trace_arg;
    double dns_ttl_s;        /* aiohttp's ttl_dns_cache: a cached DNS answer is
                                used while at most this old; 0: 30 s; < 0:
                                a lookup per new connection */
    double happy_eyeballs_delay_s; /* RFC 8305 (see weft_tcp_connect); 0:
                                      0.25 s; < 0: addresses one at a time */
} weft_http_client_opts;

/* A session. opt may be NULL. NULL and errno on failure. Does not wait. */
weft_http_client *weft_http_client_new(const weft_http_client_opts *opt);
/* Closes every pooled connection and waits until they are closed (TLS
 * close_notify included), then frees the session. Responses still open lose
 * their connection at once: reading them fails with -WEFT_EHTTP_CLOSED; they
 * must still be freed. 0; -ECANCELED (-ETIMEDOUT) for a cancelled caller
 * (past its deadline), the session then closed without waiting and freed
 * all the same. NULL is a no-op. Waits. */
int weft_http_client_close(weft_http_client *c);
/* Connections open now (pooled idle ones included). */
size_t weft_http_client_connections(const weft_http_client *c);

/* Streams a request body: fills buf with up to n bytes, returns how many,
 * 0 at the end, < 0 to abort the request with that error (more than n
 * aborts it with -EINVAL). */
typedef ssize_t (*weft_http_body_fn)(void *arg, void *buf, size_t n);

typedef struct weft_http_req_opts {
    const weft_http_header *headers;  /* extra headers; they override defaults
                                         (Content-Length and Transfer-Encoding
                                         are the client's, from the body
                                         fields: -EINVAL) */
    size_t nheaders;
    const void *body;                 /* body from memory (Content-Length) */
    size_t body_len;
    weft_http_body_fn body_fn;        /* or streamed (chunked) */
    void *body_arg;
    int64_t body_size;                /* with body_fn: the body's exact size,
                                         sent as Content-Length instead of
                                         chunked (a body_fn that gives more or
                                         fewer bytes fails the request with
                                         -EINVAL); 0: unknown, chunked */
    double total_timeout_s;           /* overrides the session's if > 0 */
    const char *proxy;                /* overrides the session's and the
                                         environment's; "": go direct */
    const char *auth_login;           /* overrides the session's auth and the
                                         URL's user:pass@ */
    const char *auth_password;
    const char *bearer_token;
    void *trace_ctx;                  /* given to the session's trace
                                         function as ev->ctx */
} weft_http_req_opts;

/* Sends method url (http:// or https://) and waits for the response head.
 * Follows redirects (303, and 301/302 for POST, become GET without body
 * and without the caller's Content-* headers; 307/308 keep them, except a
 * streamed body_fn body, which cannot be sent twice: that 307/308 response
 * is returned as it is). When a redirect leaves the origin (scheme, host,
 * port), the caller's Authorization, Proxy-Authorization, Cookie and Host
 * headers are dropped for the rest of the request (the cookie jar still
 * applies its own). https -> http fails unless allow_insecure_redirects.
 * Redirect bodies are discarded unread past 64 KiB (the connection is then
 * closed) and never decoded. A pooled connection found dead before or while
 * sending an idempotent request is replaced once. On success *out is the
 * response: free it with weft_http_response_free. A URL's host (the
 * first's, a redirect's, a proxy's) must be a DNS name in ASCII (letters,
 * digits, '-', '.', '_', '~'; punycode for others) or an IP literal, else
 * -WEFT_EHTTP_URL before anything is sent; path bytes past ASCII are sent
 * percent-encoded; a header value with a control byte other than HTAB, or
 * DEL, is -EINVAL. Errors: -WEFT_EHTTP_*, -ECONNREFUSED, -WEFT_EDNS, TLS
 * errors, -ECANCELED. Waits. */
int weft_http_client_request(weft_http_client *c, const char *method, const char *url,
                             const weft_http_req_opts *opt, weft_http_response **out);
/* GET, whole body read: the commonest case in one call. */
int weft_http_client_get(weft_http_client *c, const char *url, weft_http_response **out);

/* Writes "Basic <base64(login:password)>" (RFC 7617) into out: the value
 * of an Authorization header. 0, -EINVAL (a ':' in login, control bytes,
 * over 700 bytes), -ENOSPC. Does not wait. */
int weft_http_basic_auth(const char *login, const char *password, char *out, size_t cap);

/* The status code (200) and the reason phrase as the server sent it ("OK";
 * may be ""). Strings returned by these accessors belong to r and live until
 * weft_http_response_free. None of them waits. */
int weft_http_response_status(const weft_http_response *r);
const char *weft_http_response_reason(const weft_http_response *r);
/* First header of that name (case-insensitive), or NULL. */
const char *weft_http_response_header(const weft_http_response *r, const char *name);
/* All headers in the order received; *n gets their count. */
const weft_http_header *weft_http_response_headers(const weft_http_response *r, size_t *n);
/* The final URL (after redirects) and how many redirects were followed. */
const char *weft_http_response_url(const weft_http_response *r);
int weft_http_response_redirects(const weft_http_response *r);
/* Reads up to n bytes of the body (decoded); 0 at the end. Interrupted by
 * the caller's cancel or weft_timeout deadline it consumes nothing and
 * keeps the connection: a later call goes on. While the body is still
 * arriving, a response is read only on its session's loop (-EXDEV from
 * another, as the session's calls). A body cut by the connection's end is
 * -WEFT_EHTTP_CLOSED; over https, a body delimited only by the close (no
 * Content-Length, not chunked) that ends without TLS close_notify is
 * -WEFT_ETLSTRUNC (maybe cut by an attacker; RFC 9112 9.8). Waits. */
ssize_t weft_http_response_read(weft_http_response *r, void *buf, size_t n);
/* Reads the rest of the body into memory owned by r (max_body_bytes at
 * most: -WEFT_EHTTP_BODY_SIZE). NUL-terminated. 0 or -errno. Waits. */
int weft_http_response_body(weft_http_response *r, const char **data, size_t *len);
/* Releases the response: its connection goes back to the pool when the body
 * was read to the end, else it is closed. From another loop of the run it
 * is reported and done on the session's loop. Where that loop can no
 * longer be reached (the run ending or over) with the body still on the
 * connection, it is reported, the response's memory is freed and its
 * connection is left to the session's close (never closed from a thread
 * that does not own it). NULL is a no-op. Does not wait. */
void weft_http_response_free(weft_http_response *r);

/* ---- Server-Sent Events (text/event-stream, WHATWG HTML 9.2) ----------- */

typedef struct weft_http_sse_event {
    const char *event;   /* the type; sending: NULL for none ("message");
                            no CR/LF */
    const char *data;    /* any bytes but NUL; line ends (CRLF, LF, CR)
                            become separate "data:" lines, which the reader
                            joins with LF. Sending: NULL for none */
    size_t len;
    const char *id;      /* sending: NULL for none; no CR/LF. Read: the last
                            event id the stream set, "" if none */
    int retry_ms;        /* the reconnection time; sending: <= 0 for none;
                            read: the last one set, -1 if none */
} weft_http_sse_event;

/* Starts an event stream in a handler: 200, text/event-stream, chunked,
 * Cache-Control: no-cache (never compressed). Headers added before go with
 * it. 0 or as weft_http_reply_start. Waits. */
int weft_http_sse_start(weft_http_request *req);
/* Sends one event (written at once, one chunk). 0, -EINVAL (CR/LF in
 * event or id, or nothing to send), or as weft_http_reply_write (the
 * client gone: -EPIPE). Waits. */
int weft_http_sse_send(weft_http_request *req, const weft_http_sse_event *ev);
/* Sends a comment line (": text"; readers ignore it): a keep-alive that
 * stops proxies and load balancers from closing an idle stream, typically
 * every 15-30 s when no event went. text may be NULL; no CR/LF (-EINVAL).
 * Waits. */
int weft_http_sse_comment(weft_http_request *req, const char *text);

/* The client's reader over a response body (read it with nothing else). */
typedef struct weft_http_sse_reader weft_http_sse_reader;
/* max_event_bytes bounds one event's lines (0: 1 MiB). NULL on ENOMEM.
 * Does not wait. */
weft_http_sse_reader *weft_http_sse_reader_new(weft_http_response *r, size_t max_event_bytes);
/* The next event into *ev (its strings live until the next call): 1, 0 at
 * the end of the stream (an event cut by it is dropped, as browsers do),
 * -E2BIG (an event over the limit), or the body's read error. Waits. */
int weft_http_sse_next(weft_http_sse_reader *rd, weft_http_sse_event *ev);
void weft_http_sse_reader_free(weft_http_sse_reader *rd);

/* ---- the session's cookie jar (RFC 6265bis; docs/design.md, "Cookies") ----
 * Responses' Set-Cookie lines are kept unless no_cookies: Secure cookies
 * are set only from https and sent only over https; a Domain must cover
 * the host and not be a public suffix (libpsl); IP hosts get host-only
 * cookies; Expires/Max-Age are kept (400 days at most); __Secure- and
 * __Host- prefixes are enforced; at most 50 cookies (64 KiB) per
 * registrable domain and 3000 in all, least recently used dropped first.
 * None of these functions waits. */
typedef struct weft_http_cookie {
    const char *name, *value;
    const char *domain;  /* the host (host_only) or the domain, no leading dot */
    const char *path;
    int64_t expires;     /* Unix time in seconds; 0: a session cookie */
    int host_only;       /* sent to that exact host only (no Domain attribute) */
    int secure;          /* sent over https only */
    int http_only;
} weft_http_cookie;
/* Called per cookie; the strings live until the jar changes. Nonzero stops. */
typedef int (*weft_http_cookie_fn)(void *arg, const weft_http_cookie *k);

/* Calls fn (may be NULL) for each unexpired cookie; returns how many the
 * jar holds (expired ones are dropped first). */
size_t weft_http_client_cookies(weft_http_client *c, weft_http_cookie_fn fn, void *arg);
/* Stores set_cookie (a Set-Cookie value) as if a response from url had
 * sent it, with every rule above. 0 (also when it deleted a cookie:
 * expired), -EINVAL (not a cookie: no '=', empty name, control bytes, over
 * 4 KiB), -EPERM (refused by a rule), -WEFT_EHTTP_URL, -ENOMEM. */
int weft_http_client_cookie_set(weft_http_client *c, const char *url, const char *set_cookie);
/* Writes the Cookie header value a request to url would carry (no name, no
 * CRLF; "" if none) into out. Its length, -ENOSPC if cap is too small,
 * -WEFT_EHTTP_URL. */
ssize_t weft_http_client_cookie_header(weft_http_client *c, const char *url, char *out,
                                       size_t cap);
/* Removes the cookies of domain and its subdomains, or all (domain NULL). */
void weft_http_client_cookies_clear(weft_http_client *c, const char *domain);
/* Saves the jar to path in the Netscape/curl cookie file format (curl -b/-c
 * reads it), mode 0600, replaced atomically. 0 or -errno. Blocking file
 * I/O on the calling thread. */
int weft_http_client_cookies_save(weft_http_client *c, const char *path);
/* Adds the cookies of a Netscape/curl cookie file; lines that are
 * malformed, expired or refused by the jar's rules are skipped. The count
 * added, or -errno. Blocking file I/O on the calling thread. */
int weft_http_client_cookies_load(weft_http_client *c, const char *path);

#ifdef __cplusplus
}
#endif
#endif
