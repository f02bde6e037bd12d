/* Cookies kept per client session: Set-Cookie stored by name, domain and
 * path; sent back to matching hosts and paths. Expiry dates are not
 * tracked (session cookies); Max-Age <= 0 deletes; the Secure flag is not
 * honoured yet (such cookies also go over plain http). */
#include "http/client_internal.h"
#include <stdlib.h>
#include <strings.h>

static void cookie_free(weft__cookie *k)
{
    free(k->name), free(k->value), free(k->domain), free(k->path), free(k);
}

static char *dup_trim(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    return strndup(s, n);
}

static void store_one(weft_http_client *c, const weft__url *u, const char *v)
{
    const char *semi = strchr(v, ';');
    size_t first = semi ? (size_t)(semi - v) : strlen(v);
    const char *eq = memchr(v, '=', first);
    if (!eq) return;
    char *name = dup_trim(v, (size_t)(eq - v));
    char *value = dup_trim(eq + 1, first - (size_t)(eq + 1 - v));
    char *domain = NULL, *path = NULL;
    int del = 0;
    for (const char *a = semi; a && *a;) {
        a++;
        const char *e = strchr(a, ';');
        size_t al = e ? (size_t)(e - a) : strlen(a);
        char *attr = dup_trim(a, al);
        if (attr) {
            char *aeq = strchr(attr, '=');
            const char *av = aeq ? aeq + 1 : "";
            if (aeq) *aeq = 0;
            if (!strcasecmp(attr, "domain") && *av) {
                free(domain);
                domain = strdup(av[0] == '.' ? av + 1 : av);
            } else if (!strcasecmp(attr, "path") && av[0] == '/') {
                free(path);
                path = strdup(av);
            } else if (!strcasecmp(attr, "max-age") && atol(av) <= 0) {
                del = 1;
            }
            free(attr);
        }
        a = e;
    }
    /* A domain attribute must cover the host that set it. */
    size_t hl = strlen(u->host), dl = domain ? strlen(domain) : 0;
    if (domain && !(dl <= hl && !strcasecmp(u->host + hl - dl, domain) &&
                    (dl == hl || u->host[hl - dl - 1] == '.'))) {
        free(name), free(value), free(domain), free(path);
        return;
    }
    for (weft__cookie **pp = &c->cookies; *pp; pp = &(*pp)->next) {
        weft__cookie *k = *pp;
        if (!strcmp(k->name, name) && !strcasecmp(k->domain, domain ? domain : u->host) &&
            !strcmp(k->path, path ? path : "/")) {
            *pp = k->next;
            cookie_free(k);
            break;
        }
    }
    weft__cookie *k = calloc(1, sizeof *k);
    if (del || !k || !name || !value) {
        free(k), free(name), free(value), free(domain), free(path);
        return;
    }
    k->host_only = domain == NULL;
    k->name = name;
    k->value = value;
    k->domain = domain ? domain : strdup(u->host);
    k->path = path ? path : strdup("/");
    if (!k->domain || !k->path) {
        cookie_free(k);
        return;
    }
    k->next = c->cookies;
    c->cookies = k;
}

void weft__cookies_store(weft_http_client *c, const weft__url *u, const weft__head *h)
{
    if (c->o.no_cookies) return;
    for (size_t i = 0; i < h->nheaders; i++)
        if (!strcasecmp(h->headers[i].name, "set-cookie")) store_one(c, u, h->headers[i].value);
}

static int matches(const weft__cookie *k, const weft__url *u)
{
    size_t hl = strlen(u->host), dl = strlen(k->domain);
    if (k->host_only) {
        if (strcasecmp(k->domain, u->host)) return 0;
    } else if (!(dl <= hl && !strcasecmp(u->host + hl - dl, k->domain) &&
                 (dl == hl || u->host[hl - dl - 1] == '.'))) {
        return 0;
    }
    size_t pl = strlen(k->path);
    if (strncmp(u->target, k->path, pl)) return 0;
    return k->path[pl - 1] == '/' || u->target[pl] == 0 || u->target[pl] == '/' ||
           u->target[pl] == '?';
}

int weft__cookies_header(weft_http_client *c, const weft__url *u, weft__buf *b)
{
    int n = 0;
    for (weft__cookie *k = c->cookies; k; k = k->next) {
        if (!matches(k, u)) continue;
        if (weft__buf_str(b, n ? "; " : "Cookie: ") || weft__buf_str(b, k->name) ||
            weft__buf_add(b, "=", 1) || weft__buf_str(b, k->value))
            return -1;
        n++;
    }
    return n ? weft__buf_add(b, "\r\n", 2) : 0;
}

void weft__cookies_free(weft_http_client *c)
{
    for (weft__cookie *k = c->cookies, *n; k; k = n) {
        n = k->next;
        cookie_free(k);
    }
    c->cookies = NULL;
}
