/* URL parsing for the client: absolute http(s) URLs and Location values. */
#include "http/client_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

int weft__url_parse(const char *s, weft__url *u)
{
    u->tls = u->ipv6 = 0;
    if (!strncasecmp(s, "http://", 7)) u->tls = 0, s += 7;
    else if (!strncasecmp(s, "https://", 8)) u->tls = 1, s += 8;
    else return -WEFT_EHTTP_URL;
    u->default_port = u->port = u->tls ? 443 : 80;
    size_t hl = strcspn(s, "/?#");
    const char *rest = s + hl;
    if (hl == 0 || hl + strlen(rest) + 4 > sizeof u->buf) return -WEFT_EHTTP_URL;
    /* userinfo is not supported: refuse rather than send it as the host. */
    if (memchr(s, '@', hl)) return -WEFT_EHTTP_URL;
    char *b = u->buf;
    memcpy(b, s, hl);
    b[hl] = 0;
    char *host = b, *colon;
    if (host[0] == '[') {
        char *close = strchr(host, ']');
        if (!close) return -WEFT_EHTTP_URL;
        *close = 0;
        host++;
        u->ipv6 = 1;
        colon = close[1] == ':' ? close + 1 : NULL;
        if (close[1] && !colon) return -WEFT_EHTTP_URL;
    } else {
        colon = strchr(host, ':');
    }
    if (colon) {
        *colon = 0;
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (*end || p <= 0 || p > 65535 || colon[1] == 0) return -WEFT_EHTTP_URL;
        u->port = (int)p;
    }
    if (!*host) return -WEFT_EHTTP_URL;
    for (const char *p = host; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '/' || *p == '\\') return -WEFT_EHTTP_URL;
    u->host = host;
    char *t = b + hl + 1;
    size_t tl = strcspn(rest, "#");
    if (rest[0] != '/') *t++ = '/';
    memcpy(t, rest, tl);
    t[tl] = 0;
    u->target = b + hl + 1;
    for (const char *p = u->target; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f) return -WEFT_EHTTP_URL;
    return 0;
}

void weft__url_format(const weft__url *u, char *out, size_t cap)
{
    const char *lb = u->ipv6 ? "[" : "", *rb = u->ipv6 ? "]" : "";
    if (u->port == u->default_port)
        snprintf(out, cap, "%s://%s%s%s%s", u->tls ? "https" : "http", lb, u->host, rb,
                 u->target);
    else
        snprintf(out, cap, "%s://%s%s%s:%d%s", u->tls ? "https" : "http", lb, u->host, rb,
                 u->port, u->target);
}

int weft__url_join(const weft__url *base, const char *loc, char *out, size_t cap)
{
    if (!strncasecmp(loc, "http://", 7) || !strncasecmp(loc, "https://", 8)) {
        if (strlen(loc) >= cap) return -WEFT_EHTTP_URL;
        strcpy(out, loc);
        return 0;
    }
    char origin[1024];
    weft__url o = *base;
    o.target = "";
    weft__url_format(&o, origin, sizeof origin);
    int n;
    if (loc[0] == '/' && loc[1] == '/')
        n = snprintf(out, cap, "%s:%s", base->tls ? "https" : "http", loc);
    else if (loc[0] == '/')
        n = snprintf(out, cap, "%s%s", origin, loc);
    else {
        /* Relative to the base path's directory. */
        const char *q = strchr(base->target, '?');
        size_t plen = q ? (size_t)(q - base->target) : strlen(base->target);
        while (plen && base->target[plen - 1] != '/') plen--;
        n = snprintf(out, cap, "%s%.*s%s", origin, (int)plen, base->target, loc);
    }
    return n < 0 || (size_t)n >= cap ? -WEFT_EHTTP_URL : 0;
}
