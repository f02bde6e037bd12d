/* The client through an HTTP proxy: which proxy a URL goes through (the
 * request's, the session's, or the environment's when trust_env, with
 * NO_PROXY), and the connection: plain TCP to the proxy for http URLs
 * (requests then carry absolute-form targets), a CONNECT tunnel for https
 * URLs with TLS to the origin inside it, so the proxy sees neither the
 * requests nor the answers. */
#include "http/client_internal.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

/* Fills p from a proxy URL ("http://[user:pass@]host[:port]", or without
 * the scheme). "" means no proxy. */
static int proxy_parse(const char *s, weft__proxy *p)
{
    memset(p, 0, sizeof *p);
    if (!*s) return 0;
    char full[2048];
    weft__url u;
    if (snprintf(full, sizeof full, "%s%s", strstr(s, "://") ? "" : "http://", s) >=
        (int)sizeof full)
        return -WEFT_EHTTP_URL;
    /* An https:// proxy (TLS to the proxy itself) is not supported. */
    if (weft__url_parse(full, &u) || u.tls) return -WEFT_EHTTP_URL;
    if (strlen(u.host) >= sizeof p->host) return -WEFT_EHTTP_URL;
    strcpy(p->host, u.host);
    p->port = u.port; /* 80 by default, as for curl's http:// proxies */
    if (u.userinfo[0]) {
        int e = weft__basic_from_userinfo(u.userinfo, p->auth, sizeof p->auth);
        if (e) return e;
    }
    snprintf(p->key, sizeof p->key, "%s%s%s:%d", u.ipv6 ? "[" : "", p->host, u.ipv6 ? "]" : "",
             p->port);
    p->on = 1;
    return 0;
}

/* NO_PROXY: comma or blank separated names; "*" matches every host; a name
 * matches itself and its subdomains (a leading dot is the same); a ":port"
 * suffix is ignored. IP addresses match exactly (no CIDR). */
static int no_proxy_match(const char *list, const char *host)
{
    size_t hl = strlen(host);
    int ip = weft__host_is_ip(host); /* "0.0.1" must not cover 127.0.0.1 */
    for (const char *p = list; *p;) {
        p += strspn(p, ", \t");
        size_t n = strcspn(p, ", \t");
        const char *e = p;
        p += n;
        if (!n) continue;
        if (n == 1 && *e == '*') return 1;
        if (*e == '.') e++, n--;
        if (n && e[0] == '[') {
            const char *rb = memchr(e, ']', n);
            if (rb) n = (size_t)(rb - e - 1), e++;
        } else {
            const char *colon = memchr(e, ':', n);
            if (colon && !memchr(colon + 1, ':', n - (size_t)(colon + 1 - e))) n = (size_t)(colon - e);
        }
        if (!n || n > hl || (ip && n != hl)) continue;
        if (!strncasecmp(host + hl - n, e, n) && (n == hl || host[hl - n - 1] == '.')) return 1;
    }
    return 0;
}

static const char *env(const char *lower, const char *upper)
{
    const char *v = getenv(lower);
    if (v && *v) return v;
    v = upper ? getenv(upper) : NULL;
    return v && *v ? v : NULL;
}

int weft__proxy_for(const weft_http_client *c, const weft__url *u, const weft_http_req_opts *o,
                    weft__proxy *p)
{
    memset(p, 0, sizeof *p);
    if (o && o->proxy) return proxy_parse(o->proxy, p);
    if (c->o.proxy) return proxy_parse(c->o.proxy, p);
    if (!c->o.trust_env) return 0;
    const char *v;
    if (u->tls) {
        v = env("https_proxy", "HTTPS_PROXY");
    } else {
        /* HTTP_PROXY in capitals is what a CGI program gets from a
         * client's "Proxy:" header (httpoxy): ignored under CGI, as curl
         * and Go do. */
        v = env("http_proxy", getenv("REQUEST_METHOD") ? NULL : "HTTP_PROXY");
    }
    if (!v) v = env("all_proxy", "ALL_PROXY");
    if (!v) return 0;
    const char *np = env("no_proxy", "NO_PROXY");
    if (np && no_proxy_match(np, u->host)) return 0;
    return proxy_parse(v, p);
}

/* The CONNECT exchange on s, to u's host and port. 0 once the proxy said
 * 2xx; -WEFT_EHTTP_PROXY for any other answer; -errno. */
static int tunnel(weft_stream *s, const weft__url *u, const weft__proxy *p, const char *ua)
{
    weft__buf b = {0};
    const char *lb = u->ipv6 ? "[" : "", *rb = u->ipv6 ? "]" : "";
    int e = weft__buf_fmt(&b, "CONNECT %s%s%s:%d HTTP/1.1\r\nHost: %s%s%s:%d\r\n", lb, u->host, rb,
                          u->port, lb, u->host, rb, u->port);
    if (p->auth[0]) e |= weft__buf_fmt(&b, "Proxy-Authorization: %s\r\n", p->auth);
    if (ua[0]) e |= weft__buf_fmt(&b, "User-Agent: %s\r\n", ua);
    e |= weft__buf_str(&b, "\r\n");
    ssize_t w = e ? -ENOMEM : weft_stream_write(s, b.p, b.len);
    weft__buf_free(&b);
    if (w < 0) return (int)w;
    weft__parser P;
    weft__parser_init(&P, HTTP_RESPONSE, 16384);
    const char *data;
    long n;
    for (;;) {
        ssize_t got = weft_stream_peek(s, &data, P.parsed + 1);
        if (got < 0) return (int)got;
        if ((size_t)got <= P.parsed) return -WEFT_EHTTP_CLOSED;
        n = weft__parser_head(&P, data, (size_t)got);
        if (n < 0) return (int)n;
        if (n > 0) break;
    }
    int status = (int)P.p.status_code;
    weft_stream_consume(s, (size_t)n);
    return status >= 200 && status < 300 ? 0 : -WEFT_EHTTP_PROXY;
}

typedef struct pconnect_args {
    const weft__proxy *p;
    const weft__url *u;
    const weft_connect_opts *co;
    const char *ua;
    weft_stream **out;
} pconnect_args;

static int pconnect(void *arg)
{
    pconnect_args *a = arg;
    const weft_connect_opts *co = a->co;
    weft_stream *s = NULL;
    /* The proxy's DNS and TCP phases are traced; its connection is plain. */
    weft_connect_opts pco = {.trace = co->trace, .trace_arg = co->trace_arg,
                             .dns_ttl_s = co->dns_ttl_s,
                             .happy_eyeballs_delay_s = co->happy_eyeballs_delay_s};
    int e = weft_tcp_connect(a->p->host, a->p->port, &pco, &s);
    if (e) return e;
    if (a->u->tls) {
        e = tunnel(s, a->u, a->p, a->ua);
        if (!e) {
            if (co->trace) co->trace(co->trace_arg, WEFT_CONNECT_TLS_START, NULL, 0);
            e = weft_stream_start_tls(s, co->tls, a->u->host);
            if (co->trace) co->trace(co->trace_arg, WEFT_CONNECT_TLS_END, NULL, e);
        }
    }
    if (e) {
        weft_stream_abort(s);
        return e;
    }
    *a->out = s;
    return 0;
}

int weft__proxy_connect(const weft__proxy *p, const weft__url *u, const weft_connect_opts *co,
                        const char *ua, weft_stream **out)
{
    pconnect_args a = {p, u, co, ua, out};
    *out = NULL;
    return co->timeout_s > 0 ? weft_timeout(co->timeout_s, pconnect, &a) : pconnect(&a);
}
