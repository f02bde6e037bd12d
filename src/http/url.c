/* URL parsing for the client: absolute http(s) URLs and Location values. */
#include "http/client_internal.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

/* A host as it may go into a request line and a Host header: a DNS name
 * (letters, digits, '-', '.', '_', '~'; an internationalised name must
 * come as punycode, "xn--...") or an IPv6 literal (hex digits, ':', '.',
 * and a "%25" zone). Anything else, a control, DEL or a byte past ASCII
 * above all, is refused: it would be sent as it is, and servers and
 * proxies read such a Host each their own way. */
static int host_ok(const char *h, int ipv6)
{
    for (const unsigned char *p = (const unsigned char *)h; *p; p++) {
        int c = *p;
        if (isalnum(c) && c < 0x80) continue;
        if (ipv6 ? (c == ':' || c == '.' || c == '%') : (c == '-' || c == '.' || c == '_' || c == '~'))
            continue;
        return 0;
    }
    return 1;
}

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
    /* userinfo (user:pass@) is kept apart, for Basic auth, and left out of
     * every formatted URL, so credentials never reach a log or a redirect.
     * The last '@' ends it (an '@' in a password is often not escaped). */
    u->userinfo[0] = 0;
    const char *at = NULL;
    for (const char *p = s; p < s + hl; p++)
        if (*p == '@') at = p;
    if (at) {
        size_t ul = (size_t)(at - s);
        if (ul >= sizeof u->userinfo) return -WEFT_EHTTP_URL;
        memcpy(u->userinfo, s, ul);
        u->userinfo[ul] = 0;
        for (const char *p = u->userinfo; *p; p++)
            if ((unsigned char)*p <= ' ' || *p == 0x7f) return -WEFT_EHTTP_URL;
        hl -= ul + 1;
        s = at + 1;
        if (hl == 0) return -WEFT_EHTTP_URL;
    }
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
        /* Digits only: strtol also took " 80", "+80" and "-0" */
        size_t nd = strspn(colon + 1, "0123456789");
        if (nd == 0 || colon[1 + nd] != 0 || nd > 5) return -WEFT_EHTTP_URL;
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (*end || p <= 0 || p > 65535) return -WEFT_EHTTP_URL;
        u->port = (int)p;
    }
    if (!*host || !host_ok(host, u->ipv6)) return -WEFT_EHTTP_URL;
    u->host = host;
    /* The target: a byte past ASCII is percent-encoded (as browsers and
     * yarl do), since a request line is ASCII (RFC 9112 3.2); controls,
     * spaces and DEL are refused. */
    /* The bound is the one the length check above puts on a target given
     * already encoded (hl + length + 4 <= buf), so that a URL's formatted
     * form parses again: with room counted per input byte, a target grown
     * by encoding past it came out as a URL this refused (fuzz_http_url). */
    char *t = b + hl + 1, *tend = u->buf + sizeof u->buf - 3;
    size_t tl = strcspn(rest, "#");
    if (rest[0] != '/') *t++ = '/';
    u->target = b + hl + 1;
    for (size_t i = 0; i < tl; i++) {
        unsigned char c = (unsigned char)rest[i];
        if (c <= ' ' || c == 0x7f) return -WEFT_EHTTP_URL;
        if (t + (c < 0x80 ? 1 : 3) > tend) return -WEFT_EHTTP_URL;
        if (c < 0x80) *t++ = (char)c;
        else t += sprintf(t, "%%%02X", c);
    }
    *t = 0;
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

/* The length of s's scheme ("http" in "http:..."), 0 when s has none
 * (RFC 3986 3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"). */
static size_t scheme_len(const char *s)
{
    if (!isalpha((unsigned char)s[0])) return 0;
    size_t i = 1;
    while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.') i++;
    return s[i] == ':' ? i : 0;
}

/* Appends path (n bytes, starting with '/') to out at *o with its "." and
 * ".." segments removed (RFC 3986 5.2.4), so that "../" cannot climb above
 * the root and the server sees the path a browser would send. */
static int remove_dots(const char *in, size_t n, char *out, size_t cap, size_t *o)
{
#define POP() do { while (*o > start && out[*o - 1] != '/') (*o)--; if (*o > start) (*o)--; } while (0)
    size_t start = *o, i = 0;
    while (i < n) {
        const char *s = in + i;
        size_t r = n - i, k;
        if (r >= 3 && !memcmp(s, "/./", 3)) {
            i += 2;
        } else if (r == 2 && !memcmp(s, "/.", 2)) {
            i += 2, s = "/", r = k = 1;
            goto copy;
        } else if (r >= 4 && !memcmp(s, "/../", 4)) {
            i += 3;
            POP();
        } else if (r == 3 && !memcmp(s, "/..", 3)) {
            i += 3;
            POP();
            s = "/", r = k = 1;
            goto copy;
        } else {
            k = 1;
            while (k < r && s[k] != '/') k++;
            i += k;
        copy:
            if (*o + k >= cap) return -WEFT_EHTTP_URL;
            memcpy(out + *o, s, k);
            *o += k;
        }
    }
    out[*o] = 0;
    return 0;
#undef POP
}

static int join_raw(const weft__url *base, const char *loc, char *out, size_t cap)
{
    size_t sl = scheme_len(loc);
    if (sl) {
        /* Only http(s) with an authority; "ftp:", "javascript:" and the
         * like are refused, never taken for a relative path. */
        int web = (sl == 4 && !strncasecmp(loc, "http", 4)) || (sl == 5 && !strncasecmp(loc, "https", 5));
        if (!web || strncmp(loc + sl, "://", 3) || strlen(loc) >= cap) return -WEFT_EHTTP_URL;
        strcpy(out, loc);
        return 0;
    }
    int n;
    if (loc[0] == '/' && loc[1] == '/') {
        n = snprintf(out, cap, "%s:%s", base->tls ? "https" : "http", loc);
        return n < 0 || (size_t)n >= cap ? -WEFT_EHTTP_URL : 0;
    }
    weft__url o = *base;
    o.target = "";
    weft__url_format(&o, out, cap);
    size_t len = strlen(out);
    if (len + 1 >= cap) return -WEFT_EHTTP_URL;
    size_t rp = strcspn(loc, "?#");                     /* the reference's path */
    size_t bp = strcspn(base->target, "?");            /* the base's path */
    const char *rest = loc + rp;                        /* its query and fragment */
    int e = 0;
    if (rp == 0) {
        /* "?q" keeps the base path; "" or "#f" is the base itself. */
        if (*rest != '?') rest = base->target + bp;
        e = remove_dots(base->target, bp, out, cap, &len);
    } else if (loc[0] == '/') {
        e = remove_dots(loc, rp, out, cap, &len);
    } else {
        /* Relative to the base path's directory. */
        char merged[2048];
        size_t dir = bp;
        while (dir && base->target[dir - 1] != '/') dir--;
        n = snprintf(merged, sizeof merged, "%.*s%.*s", (int)dir, base->target, (int)rp, loc);
        if (n < 0 || (size_t)n >= sizeof merged) return -WEFT_EHTTP_URL;
        e = remove_dots(merged, (size_t)n, out, cap, &len);
    }
    if (e) return e;
    n = snprintf(out + len, cap - len, "%s", rest);
    return n < 0 || (size_t)n >= cap - len ? -WEFT_EHTTP_URL : 0;
}

/* A Location that resolves to what weft__url_parse refuses (a network-path
 * reference "//host~x:/y" makes an authority with an empty port) is refused
 * here, so a redirect fails at the Location rather than as a request to a
 * URL the caller never gave (found by fuzz_http_url). */
int weft__url_join(const weft__url *base, const char *loc, char *out, size_t cap)
{
    int rc = join_raw(base, loc, out, cap);
    if (rc < 0) return rc;
    weft__url check;
    return weft__url_parse(out, &check) == 0 ? 0 : -WEFT_EHTTP_URL;
}
