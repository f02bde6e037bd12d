/* The server's side of cookies: the request's Cookie header(s) read pair
 * by pair, and Set-Cookie lines built from fields (the client's jar is
 * cookie.c). A Set-Cookie that a browser would drop or misread is refused
 * here with -EINVAL rather than sent: the handler learns at once, not from
 * a user whose login silently never sticks. */
#include "http/server_internal.h"
#include <errno.h>
#include <stdio.h>
#include <strings.h>

#define COOKIE_MAX 4096 /* name + value, what browsers keep (RFC 6265 6.1) */

/* RFC 9110 tchar. */
static int tchar(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* RFC 6265 cookie-octet: visible ASCII but DQUOTE, comma, semicolon and
 * backslash. */
static int cookie_octet(unsigned char ch)
{
    return ch >= 0x21 && ch <= 0x7e && ch != '"' && ch != ',' && ch != ';' && ch != '\\';
}

static int is_token(const char *s, size_t n)
{
    if (!n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!tchar((unsigned char)s[i])) return 0;
    return 1;
}

/* Calls fn per name=value pair of one Cookie header value; a pair without
 * '=' or with a name that is not a token is skipped (as Go and browsers'
 * servers do: one odd pair must not hide the others). A value in DQUOTEs
 * loses them (Go, Python's http.cookies). */
static int header_pairs(const char *v, weft_http_form_fn fn, void *arg, int *count)
{
    char name[256], val[COOKIE_MAX + 1];
    while (*v) {
        while (*v == ' ' || *v == '\t' || *v == ';') v++;
        const char *start = v, *end = strchr(v, ';');
        if (!end) end = v + strlen(v);
        v = end;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) end--;
        const char *eq = memchr(start, '=', (size_t)(end - start));
        if (!eq) continue;
        const char *ne = eq;
        while (ne > start && (ne[-1] == ' ' || ne[-1] == '\t')) ne--;
        const char *vs = eq + 1;
        while (vs < end && (*vs == ' ' || *vs == '\t')) vs++;
        size_t nl = (size_t)(ne - start), vl = (size_t)(end - vs);
        if (vl >= 2 && vs[0] == '"' && vs[vl - 1] == '"') vs++, vl -= 2;
        if (!is_token(start, nl) || nl >= sizeof name || vl > COOKIE_MAX) continue;
        memcpy(name, start, nl);
        name[nl] = 0;
        memcpy(val, vs, vl);
        val[vl] = 0;
        if (++*count > WEFT_HTTP_FORM_MAX_FIELDS) return -E2BIG;
        int r = fn(arg, name, val);
        if (r) return r;
    }
    return 0;
}

int weft_http_request_cookies(const weft_http_request *req, weft_http_form_fn fn, void *arg)
{
    size_t n;
    const weft_http_header *h = weft_http_request_headers(req, &n);
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(h[i].name, "cookie")) continue;
        int r = header_pairs(h[i].value, fn, arg, &count);
        if (r) return r;
    }
    return count;
}

ssize_t weft_http_request_cookie(const weft_http_request *req, const char *name, char *out,
                                 size_t cap)
{
    weft__get_args a = {name, out, cap, -ENOENT};
    int r = weft_http_request_cookies(req, weft__get_one, &a);
    return r < 0 ? r : a.got;
}

/* A Path or Domain attribute's value: no control byte, no ';' (it would
 * start another attribute). */
static int attr_ok(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == ';') return 0;
    return 1;
}

/* A Domain: a host name (letters, digits, '-', '.'), one leading dot
 * allowed, no empty label. */
static int domain_ok(const char *d)
{
    if (*d == '.') d++;
    if (!*d || strlen(d) > 253) return 0;
    int label = 0;
    for (; *d; d++) {
        unsigned char ch = (unsigned char)*d;
        if (ch == '.') {
            if (!label) return 0;
            label = 0;
        } else if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
                   (ch >= 'A' && ch <= 'Z') || ch == '-') {
            label++;
        } else {
            return 0;
        }
    }
    return label > 0;
}

static int has_prefix(const char *s, const char *p) { return !strncasecmp(s, p, strlen(p)); }

int weft_http_set_cookie_check(const weft_http_set_cookie *k)
{
    if (!k || !k->name || !k->value) return -EINVAL;
    size_t nl = strlen(k->name), vl = strlen(k->value);
    if (!is_token(k->name, nl) || nl + vl > COOKIE_MAX) return -EINVAL;
    const char *v = k->value;
    if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') v++, vl -= 2; /* a quoted value */
    for (size_t i = 0; i < vl; i++)
        if (!cookie_octet((unsigned char)v[i])) return -EINVAL;
    if (k->path && (k->path[0] != '/' || !attr_ok(k->path) || strlen(k->path) > 1024))
        return -EINVAL;
    if (k->domain && !domain_ok(k->domain)) return -EINVAL;
    /* An Expires is a date of years 1 to 9999 (RFC 6265 5.1.1 has four
     * digits): past that gmtime failed and the line was made from garbage. */
    if (k->expires && (k->expires < -62135596800LL || k->expires > 253402300799LL))
        return -EINVAL;
    if (k->same_site < WEFT_HTTP_SAMESITE_UNSET || k->same_site > WEFT_HTTP_SAMESITE_NONE)
        return -EINVAL;
    /* Browsers drop these: SameSite=None without Secure, and the prefixes
     * broken (RFC 6265bis 4.1.3). */
    if (k->same_site == WEFT_HTTP_SAMESITE_NONE && !k->secure) return -EINVAL;
    if ((has_prefix(k->name, "__Secure-") || has_prefix(k->name, "__Host-")) && !k->secure)
        return -EINVAL;
    if (has_prefix(k->name, "__Host-") && (k->domain || !k->path || strcmp(k->path, "/")))
        return -EINVAL;
    if (k->partitioned && !k->secure) return -EINVAL;
    return 0;
}

ssize_t weft_http_set_cookie_format(const weft_http_set_cookie *k, char *out, size_t cap)
{
    int e = weft_http_set_cookie_check(k);
    if (e) return e;
    static const char *const ss[] = {NULL, "Lax", "Strict", "None"};
    char date[40];
    weft__buf b = {0};
    int r = weft__buf_fmt(&b, "%s=%s", k->name, k->value);
    if (k->expires) {
        weft__http_fmt_date((time_t)k->expires, date);
        r |= weft__buf_fmt(&b, "; Expires=%s", date);
    }
    if (k->max_age) r |= weft__buf_fmt(&b, "; Max-Age=%lld", k->max_age < 0 ? 0LL : (long long)k->max_age);
    if (k->domain) r |= weft__buf_fmt(&b, "; Domain=%s", k->domain);
    if (k->path) r |= weft__buf_fmt(&b, "; Path=%s", k->path);
    if (k->secure) r |= weft__buf_str(&b, "; Secure");
    if (k->http_only) r |= weft__buf_str(&b, "; HttpOnly");
    if (k->same_site) r |= weft__buf_fmt(&b, "; SameSite=%s", ss[k->same_site]);
    if (k->partitioned) r |= weft__buf_str(&b, "; Partitioned");
    ssize_t len = r ? -ENOMEM : (ssize_t)b.len;
    if (len >= 0 && (size_t)len >= cap) len = -ENOSPC;
    if (len >= 0) {
        memcpy(out, b.p, b.len);
        out[b.len] = 0;
    }
    weft__buf_free(&b);
    return len;
}

int weft_http_reply_cookie(weft_http_request *req, const weft_http_set_cookie *k)
{
    char line[COOKIE_MAX + 1600];
    ssize_t n = weft_http_set_cookie_format(k, line, sizeof line);
    if (n < 0) return (int)n;
    return weft_http_reply_header(req, "Set-Cookie", line);
}
