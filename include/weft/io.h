/* weft/io.h: streams and sockets (asyncio's streams, transports, subprocess
 * and signal modules). Everything that "waits" must be called inside a task;
 * errors are negative errno values or weft codes (weft_strerror names them).
 *
 * Error-code ranges (negated when returned): io 10000-10099, TLS
 * 10100-10199, HTTP 10200-10399, PostgreSQL 10400-10599.
 *
 * Cancellation and deadlines are checked first (weft.h): a cancelled task,
 * or one past its weft_timeout deadline, gets -ECANCELED (-ETIMEDOUT) from
 * every function marked "waits" at once, also when the call could have
 * completed without waiting: buffered bytes stay buffered, a queued
 * datagram stays queued, nothing is sent, connected, created or reaped.
 * Closing functions (weft_stream_close, weft_server_close,
 * weft_process_close_stdin) are the exception: they still close and free,
 * skipping only their waits, and return that error. */
#ifndef WEFT_IO_H
#define WEFT_IO_H

#include <weft.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <netdb.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- error codes (ranges: weft.h) ----------------------------------------- */
/* X(NAME, code, text): WEFT_<NAME> = code, and weft_strerror's text. */
#define WEFT_IO_ERRORS(X)                                                               \
    /* EOF before the requested bytes / delimiter */                                    \
    X(EINCOMPLETE, 10001, "stream ended before the expected bytes")                     \
    /* delimiter not found within the limit; nothing consumed */                        \
    X(ELIMIT, 10002, "limit reached before the delimiter (nothing consumed)")
#define WEFT_DNS_ERRORS(X)                                                              \
    X(EDNS, 10003, "name not resolved (host not found)")                                \
    X(EDNSAGAIN, 10004, "temporary name resolution failure")
#define WEFT_TLS_ERRORS(X)                                                              \
    /* TLS protocol error / handshake failure (weft_tls_error says more) */             \
    X(ETLS, 10100, "TLS error")                                                         \
    /* the peer's certificate failed verification */                                    \
    X(ETLSCERT, 10101, "TLS certificate verification failed")                           \
    X(ETLSHOST, 10102, "TLS certificate does not match the host name")                 \
    /* data whose end only the close marks ended without close_notify: */              \
    /* maybe cut by whoever could end the connection (weft_stream_tls_truncated) */     \
    X(ETLSTRUNC, 10103, "TLS connection closed without close_notify (data may be cut)")
enum { WEFT_IO_ERRORS(WEFT_ERR_ENUM_) WEFT_DNS_ERRORS(WEFT_ERR_ENUM_) WEFT_TLS_ERRORS(WEFT_ERR_ENUM_) };

/* ---- DNS ------------------------------------------------------------------ */

/* Resolves host:port without stalling the loop. family: AF_UNSPEC/AF_INET/
 * AF_INET6; socktype: SOCK_STREAM or SOCK_DGRAM (0: SOCK_STREAM). A numeric
 * address ("127.0.0.1", "::1") is answered at once, as is a NULL or "" host
 * (the wildcard addresses, for servers); neither needs a task. Names go,
 * when /etc/nsswitch.conf's hosts line is "files dns", to c-ares on the
 * loop (/etc/hosts, then the name servers of /etc/resolv.conf, with its
 * timeout and attempts), else to getaddrinfo on a small process-wide thread
 * pool (so nss modules apply); WEFT_DNS=c-ares or WEFT_DNS=getaddrinfo in
 * the environment forces one. Answers are cached for 30 s, failures for
 * 5 s (process-wide). A cancelled or timed-out caller returns at once (with
 * c-ares its query ends; a getaddrinfo call finishes in the background and
 * still fills the cache). *out (set to NULL on error) is a list in the
 * resolver's order with port filled in, freed with weft_addrinfo_free
 * (never freeaddrinfo). Returns 0, -WEFT_EDNS (no such host, or no address
 * of that family), -WEFT_EDNSAGAIN (no answer in time, server failure),
 * -EBADMSG (an answer that does not parse), -EINVAL (bad family or port),
 * -ECANCELED, -ETIMEDOUT, -ENOMEM, -EPERM (a name outside a task). Waits
 * (names only, cached ones included). */
int weft_resolve(const char *host, int port, int family, int socktype, struct addrinfo **out);
/* Frees a list from weft_resolve. NULL is a no-op. */
void weft_addrinfo_free(struct addrinfo *ai);
/* The host name of the address sa (a reverse lookup, through the same
 * resolver as weft_resolve: /etc/hosts, then a PTR query) into host
 * (hostlen bytes, NI_MAXHOST is always enough), NUL-terminated. flags:
 * NI_NUMERICHOST (the address as text, at once, no task needed),
 * NI_NAMEREQD (no name is -WEFT_EDNS instead of the numeric form),
 * NI_NOFQDN (the first label only for local hosts). Returns 0, -WEFT_EDNS,
 * -WEFT_EDNSAGAIN, -EBADMSG, -ENOSPC (hostlen too small), -EINVAL (not an
 * IPv4 or IPv6 address, another flag), -ECANCELED, -ETIMEDOUT, -ENOMEM,
 * -EPERM (outside a task). Not cached. Waits (unless NI_NUMERICHOST). */
int weft_getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, size_t hostlen,
                     int flags);

/* ---- streams -------------------------------------------------------------- */

/* A buffered reader/writer over a socket, a pipe or TLS. One task reads and
 * one task writes at a time (a second concurrent reader gets -EBUSY). Any
 * task may close or abort it, even while others wait on it: their calls
 * then return -EPIPE. Cancellation and weft_timeout deadlines end any wait
 * (-ECANCELED, -ETIMEDOUT) without breaking the stream: a later call
 * continues where it stopped. */
typedef struct weft_stream weft_stream;

/* Wraps a connected fd (a socket or a pipe; made non-blocking, owned by the
 * stream from now: close it only through the stream). Ignores SIGPIPE for
 * the process if it had its default action, so that writing to a closed
 * peer returns -EPIPE. NULL and errno (EBADF, ENOMEM) on failure, the fd
 * then left open. Does not wait. */
weft_stream *weft_stream_from_fd(int fd);
/* The fd (-1 for NULL). For getsockopt and the like; do not read or close it. */
int weft_stream_fd(const weft_stream *s);

/* Reads up to n bytes: buffered ones first, else waits for some (n >= 4 KiB
 * into an empty buffer reads straight into buf). Returns bytes read, 0 at
 * end of stream (and on every later call), or -errno (-ECONNRESET,
 * -ECANCELED, -ETIMEDOUT, -EBUSY, -EPIPE after close). Waits. */
ssize_t weft_stream_read(weft_stream *s, void *buf, size_t n);
/* Reads exactly n bytes and returns n. -WEFT_EINCOMPLETE if the stream ends
 * first (the bytes that did arrive are consumed). Interrupted by
 * cancellation or a deadline, it consumes nothing: the bytes that arrived
 * stay buffered for the next call. Waits. */
ssize_t weft_stream_read_exactly(weft_stream *s, void *buf, size_t n);
/* Reads through the first occurrence of delim into buf and returns its
 * length including delim (buf is not NUL-terminated). At most min(cap,
 * limit) bytes are searched: -WEFT_ELIMIT if that many arrive without delim
 * (asyncio's LimitOverrunError), with nothing consumed: the bytes stay
 * buffered (peek, read, or a larger cap get them). -WEFT_EINCOMPLETE at end
 * of stream without delim, the bytes again left buffered. -EINVAL for an
 * empty delim. Waits. */
ssize_t weft_stream_read_until(weft_stream *s, const char *delim, size_t dlen, char *buf,
                               size_t cap);
/* read_until "\n". Waits. */
ssize_t weft_stream_read_line(weft_stream *s, char *buf, size_t cap);
/* Zero-copy access for parsers: waits until at least min bytes are buffered
 * (min 0 counts as 1), then points *data at the buffered bytes and returns
 * how many there are, which may be more than min. Fewer than min only at end
 * of stream (0: nothing left). -WEFT_ELIMIT at once if min exceeds the
 * stream's limit. The bytes stay buffered until weft_stream_consume; *data
 * is valid until the next call on the stream. Waits. */
ssize_t weft_stream_peek(weft_stream *s, const char **data, size_t min);
/* 1 if a read would return without waiting: bytes are buffered, or the
 * kernel holds bytes, end of stream or an error for the socket (a MSG_PEEK
 * of one byte, nothing consumed); 0 if it would wait. An idle keep-alive
 * connection that reports 1 was closed by its peer or got bytes nobody
 * asked for. For a pipe, 1 only for what the stream already knows. -EINVAL
 * (NULL), -EPIPE (closed). Does not wait. */
int weft_stream_readable_now(weft_stream *s);
/* Drops n buffered bytes (at most what is buffered). Does not wait. */
void weft_stream_consume(weft_stream *s, size_t n);
/* Bytes buffered and not yet consumed. */
size_t weft_stream_buffered(const weft_stream *s);
/* Most bytes the read buffer grows to (default 64 KiB; 0: the default):
 * bounds peek's min and read_until's search. */
void weft_stream_set_limit(weft_stream *s, size_t limit);

/* Sends n bytes. With nothing queued they go straight to the kernel; what it
 * does not take is queued and sent in the background by a small task, so
 * the writer goes on without waiting for a slow peer... until more than the
 * high-water mark (default 64 KiB) is queued: then it waits for the queue to
 * drop under the mark (back-pressure: memory per stream stays bounded, and
 * the call doubles as asyncio's drain()). Returns n, or -errno: -EPIPE /
 * -ECONNRESET (the peer is gone; the error sticks to every later write),
 * -EPIPE after shutdown, -EBUSY (another task is writing), -ECANCELED or
 * -ETIMEDOUT (part of the bytes may have been queued and will be sent).
 * Waits. */
ssize_t weft_stream_write(weft_stream *s, const void *buf, size_t n);
ssize_t weft_stream_writev(weft_stream *s, const struct iovec *iov, int iovcnt);
/* Sets the high-water mark for weft_stream_write (0: the default, 64 KiB). */
void weft_stream_set_write_buffer(weft_stream *s, size_t high);
/* Bytes accepted by write but not yet handed to the kernel. */
size_t weft_stream_write_buffered(const weft_stream *s);
/* Waits until everything queued is handed to the kernel. 0, or the write
 * error, -ECANCELED, -ETIMEDOUT. Waits. */
int weft_stream_drain(weft_stream *s);
/* Sends up to len bytes of the file fd from *off (sendfile(2): the kernel
 * copies them, they never enter user space), after whatever earlier writes
 * queued. Waits for room only when none is free, and returns as soon as some
 * bytes went (like write(2)): the count (> 0; *off advanced by it), 0 when
 * the file ends at *off, or -errno (-EPIPE, -ECONNRESET, -EBUSY while
 * another task writes, -ECANCELED, -ETIMEDOUT, -EINVAL). A call sends at most
 * 1 GiB: loop for more. On a TLS stream the bytes are read and written
 * through the stream (encrypted), at most 16 KiB a call. Waits. */
ssize_t weft_stream_sendfile(weft_stream *s, int fd, off_t *off, size_t len);
/* Sends what is queued, then ends the sending side (TCP FIN, TLS
 * close_notify): the peer reads end of stream; reading still works. Later
 * writes return -EPIPE. Waits. */
int weft_stream_shutdown(weft_stream *s);
/* Stops the socket under s at once, from any task, without waiting or
 * flushing (shutdown(2)): with WEFT_READABLE a read waiting in another task,
 * and every later one, sees end of stream after the bytes already buffered;
 * with WEFT_WRITABLE a write waiting for the peer fails (-EPIPE) and bytes
 * not yet sent are lost. For ending another task's wait on a peer that went
 * quiet (an idle keep-alive connection at server close, a stuck write past
 * its timeout); s stays usable for closing. 0, or -EINVAL, -EPIPE (aborted),
 * -ENOTSOCK. Does not wait. */
int weft_stream_shutdown_now(weft_stream *s, int events);
/* Drains (bounded by any weft_timeout deadline), closes, frees. On a TLS
 * stream sends close_notify. If the drain fails, the queued bytes are
 * dropped and a TCP peer gets a reset (never a silently truncated stream).
 * Returns 0 or the drain's error; s is freed either way. A cancelled caller
 * (past its deadline) gets -ECANCELED (-ETIMEDOUT), and the close is still
 * graceful if nothing was queued. NULL is a no-op. Waits. */
int weft_stream_close(weft_stream *s);
/* Closes at once without flushing (queued data dropped; TCP sends RST) and
 * frees. Tasks waiting on s get -EPIPE. NULL is a no-op. Does not wait. */
void weft_stream_abort(weft_stream *s);
/* The peer's address (sockets only); 0 or -errno. */
int weft_stream_peer(const weft_stream *s, struct sockaddr_storage *addr, socklen_t *len);

/* ---- TCP and Unix sockets ------------------------------------------------- */

typedef struct weft_tls_ctx weft_tls_ctx;

/* The phases weft_tcp_connect reports to a trace function, in this order
 * (TCP_START/TCP_END once per address tried; DNS only for a name, not a
 * numeric address; TLS only with opt->tls). */
enum {
    WEFT_CONNECT_DNS_START, WEFT_CONNECT_DNS_END, WEFT_CONNECT_TCP_START,
    WEFT_CONNECT_TCP_END, WEFT_CONNECT_TLS_START, WEFT_CONNECT_TLS_END
};
/* Called in the connecting task (TCP_* of raced addresses: in the attempt
 * tasks it spawns) as each phase starts or ends: addr is the
 * address for TCP_* (else NULL), err 0 or the phase's -errno for the *_END
 * ones. It must not wait. */
typedef void (*weft_connect_trace_fn)(void *arg, int phase, const struct sockaddr *addr, int err);

typedef struct weft_connect_opts {
    double timeout_s;          /* whole connect (DNS, each address, TLS); 0: none */
    int family;                /* AF_UNSPEC (default), AF_INET, AF_INET6 */
    weft_tls_ctx *tls;         /* non-NULL: TLS after connecting */
    const char *server_name;   /* TLS SNI and verified name; default: host */
    weft_connect_trace_fn trace; /* NULL: none */
    void *trace_arg;
    double happy_eyeballs_delay_s; /* with IPv6 and IPv4 addresses: the next
                                      attempt starts this long after the last
                                      unless it failed sooner; 0: 0.25 s
                                      (RFC 8305); < 0: one at a time */
    double dns_ttl_s;          /* a cached DNS answer is used while at most
                                  this old; 0: 30 s (weft_resolve's); < 0:
                                  never (a lookup per connect) */
} weft_connect_opts;

/* asyncio.open_connection: resolves host, tries its addresses and stores
 * a stream in *out. One family: each address in turn, in the resolver's
 * order. Both: Happy Eyeballs (RFC 8305), the families alternating from
 * the resolver's first, each attempt started happy_eyeballs_delay_s after
 * the last unless that failed first; the first connection wins, the
 * others are closed, and TLS runs on the winner only. *out gets the
 * stream (TCP_NODELAY on, as asyncio does; NULL on error). The whole attempt runs
 * under opt->timeout_s and under any enclosing weft_timeout. opt may be
 * NULL. Returns 0, -ECONNREFUSED, -ETIMEDOUT, -WEFT_EDNS, -WEFT_EDNSAGAIN,
 * -ECANCELED, -ENETUNREACH..., -EINVAL (no host, port not in 1-65535), TLS
 * errors. When every address fails, the error of the first one is returned
 * unless it only said "not this family" (EAFNOSUPPORT, EADDRNOTAVAIL,
 * E*UNREACH). Waits. */
int weft_tcp_connect(const char *host, int port, const weft_connect_opts *opt,
                     weft_stream **out);
/* Connects to a Unix-domain stream socket (opt: timeout_s and tls apply).
 * -ENOENT, -ECONNREFUSED, -ENAMETOOLONG; a listener with a full backlog is
 * retried with short sleeps until the deadline. Waits. */
int weft_unix_connect(const char *path, const weft_connect_opts *opt, weft_stream **out);

/* A connection handler: runs as its own task; the stream is closed (and
 * freed) by the server when the handler returns (unless the handler closed
 * or aborted it itself). Its result is ignored. */
typedef int (*weft_handler)(weft_stream *s, void *arg);
typedef struct weft_server weft_server;

typedef struct weft_serve_opts {
    int backlog;            /* default 511 */
    size_t max_conns;       /* concurrent connections; 0: 10000. Past it,
                               accepting pauses until one ends */
    weft_tls_ctx *tls;      /* non-NULL: TLS server */
    int reuseport;          /* SO_REUSEPORT */
    double tls_handshake_s; /* TLS: a client that has not finished the
                               handshake by then is dropped (it holds a
                               connection slot); 0: 60 s, as asyncio */
    int one_loop;           /* 1: listen on the caller's loop only. Else, in a
                               run of several loops, a listener on every loop
                               (SO_REUSEPORT; a Unix socket is shared), each
                               connection handled on the loop that accepted
                               it, max_conns per loop */
} weft_serve_opts;

/* asyncio.start_server: listens on host:port (NULL or "" host: all
 * interfaces, IPv4 and IPv6 on one port; a name: each of its addresses;
 * port 0: the kernel picks, see weft_server_port) and runs handler(stream,
 * arg) as a task per connection (TCP_NODELAY on). Out of descriptors
 * (EMFILE), it backs off (10-200 ms sleeps) rather than spin, and resumes
 * by itself. When a handler returns, the server drains its stream (up to
 * 10 s) and, if the client sent more than the handler read, reads and drops
 * it for up to 2 s before closing, so that the kernel does not answer with
 * a reset that could destroy the reply in flight. 0 and *out, or -errno
 * (-EADDRINUSE, -EACCES, -EINVAL, -ENOMEM, -ECANCELED...) or a DNS code
 * (-WEFT_EDNS: the name does not resolve). opt may be NULL. Must be called
 * in a task; waits only to resolve a name. */
int weft_tcp_start_server(const char *host, int port, weft_handler handler, void *arg,
                          const weft_serve_opts *opt, weft_server **out);
/* The same, older spellings (the contract's weft_tcp_serve): NULL and
 * errno on failure, an errno value only (a DNS failure is EADDRNOTAVAIL,
 * a temporary one EAGAIN: weft_tcp_start_server gives the weft code). */
weft_server *weft_tcp_serve(const char *host, int port, weft_handler handler, void *arg);
weft_server *weft_tcp_serve_with(const char *host, int port, weft_handler handler, void *arg,
                                 const weft_serve_opts *opt);
/* The same on a Unix-domain socket path (an existing socket file is
 * replaced; any other file there fails with EADDRINUSE). The socket file is
 * removed by weft_server_close. */
weft_server *weft_unix_serve(const char *path, weft_handler handler, void *arg,
                             const weft_serve_opts *opt);
/* The port actually bound (useful with port 0); -EINVAL for a Unix server. */
int weft_server_port(const weft_server *srv);
/* Connections being handled now (on every loop of the server). */
size_t weft_server_connections(const weft_server *srv);
/* Graceful close: stops accepting at once (connections still in the
 * kernel's backlog are reset), lets handlers finish for up to grace_s
 * seconds, then cancels the rest (their streams are reset) and waits for
 * them; frees srv. A server listening on several loops closes on all of
 * them at once; it is closed from the loop that made it (else -EXDEV). Returns 0; -ECANCELED or -ETIMEDOUT if the caller was
 * cancelled or its deadline passed during the grace period (the handlers are
 * then cancelled at once, and srv is still freed). NULL is a no-op. Waits. */
int weft_server_close(weft_server *srv, double grace_s);

/* ---- UDP ------------------------------------------------------------------- */

/* A non-blocking UDP socket bound to host:port (NULL host: the wildcard of
 * family, IPv4 first for AF_UNSPEC; port 0: any). Returns the fd or -errno
 * (-EADDRINUSE, -EINVAL, DNS errors). Close with weft_close. Waits
 * (resolving a name). */
int weft_udp_bind(const char *host, int port, int family);
/* One datagram each; the task waits while the socket is not ready. Returns
 * bytes sent/received or -errno (-ECANCELED, -ETIMEDOUT, -EMSGSIZE...).
 * recv_from: from/fromlen may be NULL. Wait. */
ssize_t weft_udp_send_to(int fd, const void *buf, size_t n, const struct sockaddr *to,
                         socklen_t tolen);
ssize_t weft_udp_recv_from(int fd, void *buf, size_t n, struct sockaddr_storage *from,
                           socklen_t *fromlen);

/* ---- TLS (OpenSSL) ---------------------------------------------------------- */

typedef struct weft_tls_opts {
    const char *ca_file;     /* client: trust these CAs instead of the system
                                store; server: ask for client certificates
                                and verify them against these CAs */
    int insecure;            /* client, 1: skip verification (tests only) */
    const char *alpn;        /* comma-separated protocols, e.g. "h2,http/1.1";
                                a server picks the first of its own list that
                                the client offers (none in common: no ALPN) */
    const char *cert_file;   /* server (or client-certificate) chain, PEM */
    const char *key_file;    /* its private key, PEM */
} weft_tls_opts;

/* Client context (opt may be NULL): TLS 1.2 or later, the peer's
 * certificate verified against the system trust store and its name checked,
 * unless opt says otherwise. NULL and errno on failure: ENOENT/EACCES for a
 * file that cannot be read, EINVAL for bad PEM, a key not matching its
 * certificate or a bad ALPN list (weft_tls_error() says which), ENOMEM,
 * ECANCELED/ETIMEDOUT. A context may serve many streams, on any thread, and
 * may be freed while they run (they keep what they need). Loading files
 * (the system store takes ~0.1 s) runs on the thread pool when called inside
 * a task, which then waits; outside a task it blocks the thread. */
weft_tls_ctx *weft_tls_client_ctx(const weft_tls_opts *opt);
/* Server context: cert_file and key_file are required (else EINVAL). Errors
 * and waiting as for the client context. */
weft_tls_ctx *weft_tls_server_ctx(const weft_tls_opts *opt);
/* Drops the caller's reference; NULL is a no-op. Does not wait. */
void weft_tls_ctx_free(weft_tls_ctx *ctx);
/* Upgrades a connected stream to TLS and waits for the handshake: as a client
 * when ctx is a client context (server_name is sent as SNI, unless it is an
 * IP address, and the certificate must match it: a DNS name or an IP), as a
 * server otherwise (server_name unused). Unsent data is flushed first; bytes
 * already read ahead are handed to TLS. Afterwards every weft_stream call
 * works the same over TLS; shutdown and close send close_notify. A peer that
 * closes the connection without close_notify is reported as end of stream
 * (read returns 0): framing (a length, read_exactly, a delimiter) is what
 * detects a truncated message, as in HTTP; where the end itself is the
 * framing, ask weft_stream_tls_truncated.
 * Returns 0; -WEFT_ETLSCERT (the certificate chain does not verify),
 * -WEFT_ETLSHOST (it is not for server_name), -WEFT_ETLS (handshake failure,
 * e.g. the peer rejected our certificate or no common protocol version),
 * -EINVAL (NULL argument, already TLS, or a verifying client without
 * server_name), -EBUSY (a read or write in progress), -ECANCELED,
 * -ETIMEDOUT, -ECONNRESET...; weft_tls_error() has OpenSSL's reason. On
 * failure the stream is unusable (every call returns the error): close or
 * abort it. Waits. */
int weft_stream_start_tls(weft_stream *s, weft_tls_ctx *ctx, const char *server_name);
/* The ALPN protocol agreed, or NULL (no TLS, no ALPN, no common protocol). */
const char *weft_stream_alpn(const weft_stream *s);
/* 1 if s runs over TLS (weft_stream_start_tls succeeded on it), else 0
 * (also for NULL). Then the bytes on weft_stream_fd are not the bytes
 * written: whatever writes to the fd directly (sendfile, splice) must ask
 * this of the stream at hand. Does not wait. */
int weft_stream_is_tls(const weft_stream *s);
/* 1 if s is TLS and its end of stream (a read returned 0) came without the
 * peer's close_notify: the connection under TLS closed, which anyone on
 * the path can forge, so data delimited by that end alone (an HTTP body
 * with neither Content-Length nor chunked) may have been cut short: treat
 * it as incomplete (-WEFT_ETLSTRUNC). 0 after close_notify, before the
 * end of stream, for a plain stream and for NULL. Does not wait. */
int weft_stream_tls_truncated(const weft_stream *s);
/* OpenSSL's reason for the last TLS failure on this thread (a context that
 * failed to load, a handshake or record error: e.g. "certificate verify
 * failed: unable to get local issuer certificate"), "" if none. Read it
 * right after the failing call: the next TLS call on the thread replaces it. */
const char *weft_tls_error(void);

/* ---- subprocesses ------------------------------------------------------------ */

#define WEFT_INHERIT 0 /* the child shares the parent's fd */
#define WEFT_PIPE 1    /* a pipe, as a weft_stream */
#define WEFT_DEVNULL 2
#define WEFT_STDOUT 3  /* stderr_mode only: stderr goes where stdout goes (2>&1) */

typedef struct weft_process weft_process;
typedef struct weft_process_opts {
    char *const *env;   /* NULL: inherit the environment */
    const char *cwd;    /* NULL: inherit */
    int stdin_mode, stdout_mode, stderr_mode; /* WEFT_INHERIT/PIPE/DEVNULL (+WEFT_STDOUT) */
    /* Extra fds the child keeps, each under its own number (Python's
     * pass_fds): fds 3 and up, open in the parent, close-on-exec or not.
     * Every other fd above 2 is closed in the child, as without them. */
    const int *pass_fds;
    size_t pass_fds_count;
    /* 1: the child starts a new session (setsid: no controlling terminal,
     * its own process group), for daemons and for weft_process_kill_group. */
    int new_session;
    /* 1: the child leads a new process group (setpgid(0, 0)) in this
     * session: a terminal's Ctrl-C no longer reaches it, and
     * weft_process_kill_group reaches everything it starts. */
    int new_group;
} weft_process_opts;

/* Starts argv[0] (searched in the parent's PATH unless it contains a '/')
 * with argv; opt may be NULL (inherit everything). The child gets its
 * standard fds as asked and no other fd; every signal starts at its default
 * action, none blocked. On success *out must be freed with
 * weft_process_free. 0, or -EINVAL (empty argv, bad mode), -ENOENT (no such
 * program or cwd), -EACCES (not executable), -ENOMEM, -EMFILE. Does not wait
 * (the spawn itself blocks the thread only until the child has exec'd). */
int weft_process_spawn(char *const argv[], const weft_process_opts *opt, weft_process **out);
/* Starts `/bin/sh -c cmd` as weft_process_spawn does. The shell parses cmd:
 * pipes, redirections and globs work, and so does any shell syntax that
 * reaches cmd from outside. Never build cmd from untrusted text (a file name
 * "x; rm -rf ~" runs the rm); pass such values as argv to weft_process_spawn,
 * which no shell sees. Same results as weft_process_spawn (-EINVAL: cmd
 * NULL). Does not wait. */
int weft_process_shell(const char *cmd, const weft_process_opts *opt, weft_process **out);
/* The pipes, owned by p (do not close or free them; see close_stdin).
 * NULL unless that fd's mode was WEFT_PIPE. Do not wait. */
weft_stream *weft_process_stdin(weft_process *p);
weft_stream *weft_process_stdout(weft_process *p);
weft_stream *weft_process_stderr(weft_process *p);
pid_t weft_process_pid(const weft_process *p);
/* Flushes and closes the child's stdin, so that it sees end of input (as
 * proc.stdin.close()); weft_process_stdin is NULL afterwards. 0 or the
 * error of the flush (-EPIPE: the child closed its end; -ECANCELED,
 * -ETIMEDOUT: stdin is closed all the same). Waits. */
int weft_process_close_stdin(weft_process *p);
/* Waits for the exit and reaps the child: returns the exit status (0-255),
 * or 128+signal if killed by a signal; again the same value once reaped.
 * -ECANCELED / -ETIMEDOUT leave the child running, or exited and not yet
 * reaped (a later wait gets its status); -ECHILD if something else
 * reaped it (SIGCHLD set to SIG_IGN). Several tasks may wait. Waits. */
int weft_process_wait(weft_process *p);
/* Sends sig (through the pidfd, so never to a recycled pid). 0, -ESRCH once
 * reaped, -EINVAL bad signal. Does not wait. */
int weft_process_kill(weft_process *p, int sig);
/* Sends sig to the child's whole process group (the child and what it
 * started, unless they moved to groups of their own): the child must have
 * been spawned with new_session or new_group. Still works after the child
 * was reaped, for what it left behind. 0, -EINVAL (no group of its own, bad
 * signal), -ESRCH (nothing left in the group). Does not wait. */
int weft_process_kill_group(weft_process *p, int sig);

/* What weft_process_communicate collected: NUL-terminated (the NUL is not
 * counted in the lengths); NULL where that stream was not a pipe. Free with
 * weft_process_output_free. */
typedef struct weft_process_output {
    char *out;
    size_t out_len;
    char *err;
    size_t err_len;
} weft_process_output;
/* asyncio's communicate(): writes the len bytes of input to the child's
 * stdin (if it is a pipe; input NULL or len 0 writes nothing) and closes it,
 * while reading stdout and stderr (those that are pipes) to their end, then
 * waits for the exit, all at once so a child that fills one pipe while
 * another waits never deadlocks. timeout_s < 0: no limit. Returns the exit
 * status as weft_process_wait, with *res filled (res may be NULL to drop
 * the output). On -ETIMEDOUT / -ECANCELED the child is left running (kill it
 * or communicate again: nothing read is lost, res holds what arrived so far,
 * and a later call continues; stdin is closed, unwritten input dropped);
 * -ENOMEM, -EFBIG (either output past 1 GiB) also leave res with what was
 * read. -EPIPE from the child closing stdin early is not an error (as
 * Python). Waits. */
int weft_process_communicate(weft_process *p, const void *input, size_t len,
                             weft_process_output *res, double timeout_s);
/* Frees res's buffers and zeroes it; NULL is a no-op. */
void weft_process_output_free(weft_process_output *res);

/* Closes its pipes (unsent data dropped), kills (SIGKILL) and reaps it if it
 * has not been reaped, frees. NULL is a no-op. Does not wait. */
void weft_process_free(weft_process *p);

/* ---- signals ----------------------------------------------------------------- */

/* Waits for one of the n signals (SIGINT, SIGTERM, SIGHUP, ...) and returns
 * its number. While a task waits, those signals are delivered to it instead
 * of their default action (for SIGINT: instead of cancelling the main task);
 * outside any wait they keep their usual disposition, so a signal that comes
 * when nobody waits is not queued for later. A signal goes to the task that
 * started waiting for it first; several loops (threads) waiting for the same
 * signal each get it. -EINVAL: n <= 0, or a signal that cannot be waited for
 * (SIGKILL, SIGSTOP, the faults SIGSEGV/SIGBUS/SIGILL/SIGFPE, out of range);
 * -ECANCELED, -ETIMEDOUT; -EAGAIN past 64 loops waiting at once. Waits. */
int weft_signal_wait(const int *sigs, int n);

/* ---- files (without stalling the loop) ---------------------------------------- */

/* Each runs as one job on the loop's thread pool (weft_to_thread), so a
 * slow disk or a blocking FIFO holds a worker, never the loop. A cancelled
 * call still lets its job finish (it uses the caller's memory), then returns
 * -ECANCELED. Outside a task: -EPERM. */

/* Reads a whole file into a malloc'd buffer, NUL-terminated (the caller
 * frees it); *len gets its size (len may be NULL). Works for files whose
 * size stat does not know (/proc, FIFOs). -ENOENT, -EACCES, -EISDIR,
 * -ENOMEM, -EINVAL (NULL path or data); *data untouched on error. Waits. */
int weft_file_read(const char *path, char **data, size_t *len);
/* Writes (creates/truncates) a file with mode 0644 (less the umask). 0 or
 * -errno (-ENOENT, -EACCES, -EISDIR, -ENOSPC, -EINVAL). Waits. */
int weft_file_write(const char *path, const void *data, size_t len);
/* stat(2). 0 or -errno. Waits. */
int weft_file_stat(const char *path, struct stat *st);
/* pread(2)/pwrite(2) on fd: bytes done (short at end of file), or -errno
 * (-EBADF, -EINVAL for a negative offset). Waits. */
ssize_t weft_file_pread(int fd, void *buf, size_t n, off_t off);
ssize_t weft_file_pwrite(int fd, const void *buf, size_t n, off_t off);

#ifdef __cplusplus
}
#endif
#endif
