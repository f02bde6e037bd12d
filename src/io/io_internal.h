/* Helpers shared by the socket modules (sock.c, tcp.c, server.c, udp.c, process.c,
 * dns.c). Not installed. */
#ifndef WEFT_IO_INTERNAL_H
#define WEFT_IO_INTERNAL_H

#include "stream_internal.h"
#include <sys/un.h>

/* sock.c */
/* A non-blocking, close-on-exec socket: fd or -errno. */
int weft__socket(int family, int type);
/* Connects a non-blocking socket, waiting for the handshake (or, on a Unix
 * socket whose listener's backlog is full, retrying with short sleeps).
 * 0, -ECONNREFUSED, -ETIMEDOUT, -ECANCELED, -errno. The caller closes fd on
 * failure. Waits. */
int weft__connect_fd(int fd, const struct sockaddr *sa, socklen_t len);
/* weft_resolve, taking a cached answer only if at most ttl seconds old
 * (0: 30 s, the default; < 0: never, a fresh lookup; longer TTLs keep
 * answers longer, up to a day). */
int weft__resolve_ttl(const char *host, int port, int family, int socktype, double ttl,
                      struct addrinfo **out);
/* A listening socket on sa (SO_REUSEADDR; IPV6_V6ONLY on IPv6 so that the
 * IPv4 wildcard can share the port): fd or -errno. */
int weft__listen_on(const struct sockaddr *sa, socklen_t len, int backlog, int reuseport);
/* Fills a sockaddr_un for path: its length, or -ENAMETOOLONG / -EINVAL. */
int weft__unix_addr(const char *path, struct sockaddr_un *sun);
/* TCP_NODELAY on (asyncio's default: request/response traffic must not wait
 * for Nagle's 40 ms). */
void weft__nodelay(int fd);
/* The next delay of a retry loop: doubled, but never past max. */
static inline double weft__backoff(double d, double max) { return d * 2 < max ? d * 2 : max; }

/* dns.c */
/* Cache hits, and getaddrinfo calls made by the pool (for tests). */
void weft__dns_stats(unsigned long *hits, unsigned long *lookups);
void weft__dns_cache_clear(void);
int weft__dns_pending(void); /* lookups in flight */
/* The resolver in use: "c-ares" or "getaddrinfo" (dns.c's comment says
 * which and why). */
const char *weft__dns_resolver(void);
/* Forces it (1: c-ares, 0: getaddrinfo), for tests that run both. */
void weft__dns_use(int ares);
/* 1 if the nsswitch.conf at path lets c-ares stand in for getaddrinfo. */
int weft__dns_nsswitch_plain(const char *path);
const char *weft__addr_str(const struct sockaddr *sa, char *buf, size_t n);

/* TLS lives in tls.c (another module): referenced weakly, so that programs
 * without TLS link without it. A server or connect given a TLS context
 * always has tls.c linked in, since the context came from it. */
#pragma weak weft_stream_start_tls

#endif
