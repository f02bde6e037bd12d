/* Between weft_resolve's front (dns.c: numeric addresses, the cache, the
 * getaddrinfo pool) and its c-ares resolver (dns_ares.c). Not installed. */
#ifndef WEFT_IO_DNS_INTERNAL_H
#define WEFT_IO_DNS_INTERNAL_H

#include "io_internal.h"
#include <netdb.h>

/* Looks host up on the loop with c-ares (/etc/hosts, then DNS): 0 with
 * *out a list in weft_addrinfo_free's format, port 0; or -WEFT_EDNS,
 * -WEFT_EDNSAGAIN, -EBADMSG (an answer that does not parse), -ENOMEM,
 * -ECANCELED, -ETIMEDOUT. Waits. */
int weft__ares_getaddrinfo(const char *host, int family, int socktype, struct addrinfo **out);
/* The name of sa (NI_NAMEREQD, NI_NOFQDN honoured) into host: 0, or as
 * above, -ENOSPC (hostlen too small). Waits. */
int weft__ares_getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host,
                           size_t hostlen, int flags);

#endif
