/* The jar in the Netscape cookie file format (curl's -b/-c files, which
 * wget, Python's MozillaCookieJar and browsers' exporters read and write):
 * one cookie a line, seven tab-separated fields
 *   domain  include-subdomains  path  secure  expires  name  value
 * a leading "." and TRUE for domain cookies, expires 0 for session
 * cookies, "#HttpOnly_" before the domain of HttpOnly ones; other lines
 * starting with '#' are comments. Loaded cookies pass the jar's rules
 * (public suffixes, IP hosts, prefixes, expiry) like received ones. And
 * the session's public jar API. */
#include "http/client_internal.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

static int by_creation(const void *a, const void *b)
{
    const weft__cookie *x = *(weft__cookie *const *)a, *y = *(weft__cookie *const *)b;
    return x->created < y->created ? -1 : x->created > y->created;
}

int weft__jar_save(weft__jar *j, FILE *f, int64_t now)
{
    weft__jar_expire(j, now);
    fputs("# Netscape HTTP Cookie File\n# Written by weft. Cookies are credentials: keep "
          "this file private.\n\n",
          f);
    /* Oldest first, so that loading keeps the order they are sent in. */
    size_t n = 0;
    weft__cookie **all = malloc((j->n ? j->n : 1) * sizeof *all);
    if (!all) return -ENOMEM;
    for (weft__cookie *k = j->list; k; k = k->next) all[n++] = k;
    qsort(all, n, sizeof *all, by_creation);
    for (size_t i = 0; i < n; i++) {
        const weft__cookie *k = all[i];
        fprintf(f, "%s%s%s\t%s\t%s\t%s\t%lld\t%s\t%s\n", k->http_only ? "#HttpOnly_" : "",
                k->host_only ? "" : ".", k->domain, k->host_only ? "FALSE" : "TRUE", k->path,
                k->secure ? "TRUE" : "FALSE", (long long)k->expires, k->name, k->value);
    }
    free(all);
    return ferror(f) ? -EIO : 0;
}

/* Splits line at tabs into at most n fields; returns the count. */
static size_t split_tabs(char *line, char **f, size_t n)
{
    size_t k = 0;
    for (char *p = line; k < n;) {
        f[k++] = p;
        p = strchr(p, '\t');
        if (!p) break;
        *p++ = 0;
    }
    return k;
}

/* A cookie from one file line, or NULL (comment, malformed, no memory). */
static weft__cookie *parse_line(char *line)
{
    line[strcspn(line, "\r\n")] = 0;
    int http_only = 0;
    if (!strncmp(line, "#HttpOnly_", 10)) line += 10, http_only = 1;
    else if (line[0] == '#' || !line[0]) return NULL;
    char *f[8];
    size_t nf = split_tabs(line, f, 8);
    if (nf == 6) f[6] = "", nf = 7; /* an empty value loses its tab in some writers */
    if (nf != 7) return NULL;
    char *dom = f[0], *end;
    int sub = !strcasecmp(f[1], "TRUE");
    if (dom[0] == '.') dom++, sub = 1;
    long long exp = strtoll(f[4], &end, 10);
    if (!*dom || *end || exp < 0 || f[2][0] != '/' || !f[5][0]) return NULL;
    /* Same syntax rules as a Set-Cookie line (no control bytes, sizes). */
    char probe[WEFT__COOKIE_MAX_NV + 8];
    size_t nl = strlen(f[5]), vl = strlen(f[6]);
    if (nl + vl > WEFT__COOKIE_MAX_NV) return NULL;
    memcpy(probe, f[5], nl);
    probe[nl] = '=';
    memcpy(probe + nl + 1, f[6], vl + 1);
    weft__setcookie *p = weft__setcookie_parse(probe);
    int ok = p && !strcmp(p->name, f[5]) && !strcmp(p->value, f[6]);
    free(p);
    if (!ok) return NULL;
    weft__cookie *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    k->domain = strdup(dom);
    for (char *c = k->domain; c && *c; c++) *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
    k->path = strdup(f[2]);
    k->name = strdup(f[5]);
    k->value = strdup(f[6]);
    k->host_only = (uint8_t)!sub;
    k->secure = (uint8_t)!strcasecmp(f[3], "TRUE");
    k->http_only = (uint8_t)http_only;
    k->expires = exp;
    if (!k->domain || !k->path || !k->name || !k->value) {
        weft__cookie_free(k);
        return NULL;
    }
    return k;
}

int weft__jar_load(weft__jar *j, FILE *f, int64_t now)
{
    char line[WEFT__COOKIE_MAX_NV + 4096]; /* name, value, path (a URL is 2 KiB at most), domain */
    int added = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strchr(line, '\n') && !feof(f)) {
            /* Longer than any cookie we take: skip the rest of it. */
            int ch;
            while ((ch = fgetc(f)) != EOF && ch != '\n') {}
            continue;
        }
        weft__cookie *k = parse_line(line);
        if (!k) continue;
        if (k->expires && k->expires <= now) {
            weft__cookie_free(k);
            continue;
        }
        if (!weft__jar_add(j, k, now)) added++;
    }
    return ferror(f) ? -EIO : added;
}

/* ---- public API ---- */

size_t weft_http_client_cookies(weft_http_client *c, weft_http_cookie_fn fn, void *arg)
{
    weft__jar_expire(&c->jar, weft__cookie_now());
    size_t n = 0;
    for (const weft__cookie *k = c->jar.list; k; k = k->next) {
        n++;
        weft_http_cookie v = {k->name, k->value, k->domain, k->path, k->expires,
                              k->host_only, k->secure, k->http_only};
        if (fn && fn(arg, &v)) break;
    }
    return n;
}

int weft_http_client_cookie_set(weft_http_client *c, const char *url, const char *set_cookie)
{
    weft__url u;
    int e = weft__url_parse(url, &u);
    return e ? e : weft__jar_set(&c->jar, &u, set_cookie, weft__cookie_now());
}

ssize_t weft_http_client_cookie_header(weft_http_client *c, const char *url, char *out,
                                       size_t cap)
{
    weft__url u;
    int e = weft__url_parse(url, &u);
    if (e) return e;
    weft__buf b = {0};
    if (weft__jar_header(&c->jar, &u, weft__cookie_now(), &b)) {
        weft__buf_free(&b);
        return -ENOMEM;
    }
    /* Without the "Cookie: " name and the CRLF. */
    size_t n = b.len ? b.len - 10 : 0;
    ssize_t r = n < cap ? (ssize_t)n : -ENOSPC;
    if (r >= 0 && cap) {
        if (n) memcpy(out, b.p + 8, n);
        out[n] = 0;
    }
    weft__buf_free(&b);
    return r;
}

void weft_http_client_cookies_clear(weft_http_client *c, const char *domain)
{
    weft__jar_clear(&c->jar, domain);
}

int weft_http_client_cookies_save(weft_http_client *c, const char *path)
{
    /* Written beside the target and renamed over it: a crash leaves the
     * old file or the new one, never half; 0600 since cookies are
     * credentials. */
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path) >= (int)sizeof tmp) return -ENAMETOOLONG;
    int fd = mkstemp(tmp);
    if (fd < 0) return -errno;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int e = -errno;
        close(fd), unlink(tmp);
        return e;
    }
    int e = weft__jar_save(&c->jar, f, weft__cookie_now());
    if (fflush(f) || fsync(fd)) e = e ? e : -errno;
    if (fclose(f) && !e) e = -errno;
    if (!e && rename(tmp, path)) e = -errno;
    if (e) unlink(tmp);
    return e;
}

int weft_http_client_cookies_load(weft_http_client *c, const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) return -errno;
    int n = weft__jar_load(&c->jar, f, weft__cookie_now());
    fclose(f);
    return n;
}
