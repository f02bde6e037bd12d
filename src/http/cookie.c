/* The session's cookie jar, RFC 6265bis's storage model (5.7) and
 * retrieval (5.8), with the rules curl and browsers add:
 * - Secure cookies are only set from https and only sent over https; an
 *   http response cannot shadow a Secure cookie of the same name.
 * - A Domain attribute must cover the host that set it and must not be a
 *   public suffix (libpsl, the list curl uses: "com", "co.uk",
 *   "github.io"); when it equals the host it is a host-only cookie. An IP
 *   host only ever gets host-only cookies.
 * - Expires and Max-Age (which wins) are kept, capped at 400 days; an
 *   expired cookie deletes its namesake and is not stored.
 * - __Secure- needs Secure; __Host- needs Secure, no Domain and Path=/.
 * - Limits: name+value 4 KiB, 50 cookies and 64 KiB per registrable domain
 *   and 3000 in all (least recently used go first), 50 Set-Cookie lines per
 *   response, a Cookie header of at most 8190 bytes. */
#include "http/client_internal.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

static const psl_ctx_t *psl;
static pthread_once_t psl_once = PTHREAD_ONCE_INIT;

/* The newer of libpsl's built-in list and the system's file (what curl
 * does); loaded once per process and never freed (read-only after). */
static void psl_load(void)
{
    psl = psl_latest(NULL);
    if (!psl) psl = psl_builtin();
}

/* 1 when d is a public suffix; also when no list could be loaded, so that
 * without one no Domain attribute is taken (host-only cookies still are).
 * Trailing dots (a fully qualified "co.uk.") are looked past: libpsl lists
 * "co.uk" only, and "evil.co.uk." must not set a cookie for every
 * "*.co.uk." host. */
int weft__cookie_public_suffix(const char *d)
{
    pthread_once(&psl_once, psl_load);
    if (!psl) return 1;
    size_t n = strlen(d);
    while (n && d[n - 1] == '.') n--;
    if (n == 0) return 1;
    if (!d[n]) return psl_is_public_suffix2(psl, d, PSL_TYPE_ANY);
    char *bare = strndup(d, n);
    int r = !bare || psl_is_public_suffix2(psl, bare, PSL_TYPE_ANY);
    free(bare);
    return r;
}

/* The key per-domain limits count under: the registrable domain
 * ("example.co.uk" for "a.example.co.uk"), else the domain itself. */
static const char *limit_key(const char *d)
{
    if (weft__host_is_ip(d)) return d;
    pthread_once(&psl_once, psl_load);
    const char *r = psl ? psl_registrable_domain(psl, d) : NULL;
    return r ? r : d;
}

int64_t weft__cookie_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec;
}

int weft__host_is_ip(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    return strchr(host, ':') ? inet_pton(AF_INET6, host, &a6) == 1 : inet_aton(host, &a4) != 0;
}

void weft__cookie_free(weft__cookie *k)
{
    if (!k) return;
    free(k->name), free(k->value), free(k->domain), free(k->path), free(k);
}

/* RFC 6265 5.1.3, with 6265bis's rule that an IP host only matches itself. */
static int domain_match(const char *host, const char *domain)
{
    size_t hl = strlen(host), dl = strlen(domain);
    if (hl == dl) return !strcasecmp(host, domain);
    return dl < hl && host[hl - dl - 1] == '.' && !strcasecmp(host + hl - dl, domain) &&
           !weft__host_is_ip(host);
}

/* RFC 6265 5.1.4: req is the request path (up to '?' or its end). */
static int path_match(const char *req, size_t rl, const char *path)
{
    size_t pl = strlen(path);
    if (pl > rl || strncmp(req, path, pl)) return 0;
    return pl == rl || path[pl - 1] == '/' || req[pl] == '/';
}

static size_t req_path_len(const weft__url *u) { return strcspn(u->target, "?"); }

/* The default-path of u (5.1.4): its path up to, not including, its last
 * '/', or "/". */
static char *default_path(const weft__url *u)
{
    size_t n = req_path_len(u);
    while (n && u->target[n - 1] != '/') n--;
    if (n > 0) n--;
    return n == 0 ? strdup("/") : strndup(u->target, n);
}

static void unlink_at(weft__jar *j, weft__cookie **pp)
{
    weft__cookie *k = *pp;
    *pp = k->next;
    j->n--;
    weft__cookie_free(k);
}

void weft__jar_expire(weft__jar *j, int64_t now)
{
    for (weft__cookie **pp = &j->list; *pp;)
        if ((*pp)->expires && (*pp)->expires <= now) unlink_at(j, pp);
        else pp = &(*pp)->next;
}

void weft__jar_clear(weft__jar *j, const char *domain)
{
    for (weft__cookie **pp = &j->list; *pp;)
        if (!domain || domain_match((*pp)->domain, domain)) unlink_at(j, pp);
        else pp = &(*pp)->next;
}

/* Evicts the least recently used cookie (of key's domain, if not NULL). */
static int evict_lru(weft__jar *j, const char *key)
{
    weft__cookie **best = NULL;
    for (weft__cookie **pp = &j->list; *pp; pp = &(*pp)->next)
        if ((!key || !strcmp((*pp)->key, key)) &&
            (!best || (*pp)->used < (*best)->used))
            best = pp;
    if (!best) return 0;
    unlink_at(j, best);
    return 1;
}

/* Keeps k's registrable domain within its count and byte limits and the
 * jar within its total, k included. */
static void enforce_limits(weft__jar *j, const weft__cookie *k)
{
    const char *key = k->key;
    for (;;) {
        size_t count = 0, bytes = 0;
        for (weft__cookie *x = j->list; x; x = x->next)
            if (x != k && !strcmp(x->key, key))
                count++, bytes += strlen(x->name) + strlen(x->value);
        if (count < WEFT__COOKIE_PER_DOMAIN &&
            bytes + strlen(k->name) + strlen(k->value) <= WEFT__COOKIE_BYTES_PER_DOMAIN)
            break;
        /* k is the newest use: LRU never picks it while others remain. */
        if (!evict_lru(j, key)) break;
    }
    while (j->n > WEFT__COOKIE_MAX_TOTAL && evict_lru(j, NULL)) {}
}

static int prefix_ok(const weft__cookie *k, int path_attr_root)
{
    if (!strncasecmp(k->name, "__Secure-", 9)) return k->secure;
    if (!strncasecmp(k->name, "__Host-", 7)) return k->secure && k->host_only && path_attr_root;
    return 1;
}

/* Puts k in the jar in place of its namesake (same name, domain,
 * host-only flag and path), or only removes that one when k is expired. */
static int jar_put(weft__jar *j, weft__cookie *k, int64_t now)
{
    k->created = k->used = ++j->clock;
    k->key = limit_key(k->domain);
    for (weft__cookie **pp = &j->list; *pp; pp = &(*pp)->next) {
        weft__cookie *o = *pp;
        if (!strcmp(o->name, k->name) && !strcasecmp(o->domain, k->domain) &&
            o->host_only == k->host_only && !strcmp(o->path, k->path)) {
            k->created = o->created;
            unlink_at(j, pp);
            break;
        }
    }
    if (k->expires && k->expires <= now) {
        weft__cookie_free(k);
        return 0;
    }
    k->next = j->list;
    j->list = k;
    j->n++;
    enforce_limits(j, k);
    return 0;
}

int weft__jar_add(weft__jar *j, weft__cookie *k, int64_t now)
{
    int bad = !k->host_only && (weft__cookie_public_suffix(k->domain) || weft__host_is_ip(k->domain));
    if (bad || !prefix_ok(k, !strcmp(k->path, "/"))) {
        weft__cookie_free(k);
        return -EPERM;
    }
    return jar_put(j, k, now);
}

/* 6265bis 5.7 step 16: an insecure response may not set a cookie that
 * would shadow a Secure one (same name, overlapping domain, the new path
 * within the old). */
static int shadows_secure(const weft__jar *j, const weft__cookie *k)
{
    for (const weft__cookie *o = j->list; o; o = o->next)
        if (o->secure && !strcmp(o->name, k->name) &&
            (domain_match(k->domain, o->domain) || domain_match(o->domain, k->domain)) &&
            path_match(k->path, strlen(k->path), o->path))
            return 1;
    return 0;
}

int weft__jar_set(weft__jar *j, const weft__url *u, const char *line, int64_t now)
{
    weft__setcookie *p = weft__setcookie_parse(line);
    if (!p) return -EINVAL;
    int e = -EPERM;
    weft__cookie *k = calloc(1, sizeof *k);
    char host[256];
    if (!k || strlen(u->host) >= sizeof host) goto out;
    for (size_t i = 0;; i++)
        if (!(host[i] = (char)tolower((unsigned char)u->host[i]))) break;
    k->secure = (uint8_t)p->secure;
    k->http_only = (uint8_t)p->http_only;
    if (k->secure && !u->tls) goto out;
    if (p->have_max_age)
        k->expires = p->max_age <= 0 ? 1 : now + (p->max_age < WEFT__COOKIE_MAX_AGE ? p->max_age
                                                                                  : WEFT__COOKIE_MAX_AGE);
    else if (p->have_expires)
        k->expires = p->expires <= 0 ? 1 : p->expires > now + WEFT__COOKIE_MAX_AGE
                                               ? now + WEFT__COOKIE_MAX_AGE : p->expires;
    const char *dom = p->domain && *p->domain ? p->domain : NULL;
    if (dom && (weft__host_is_ip(host) || weft__host_is_ip(dom) || weft__cookie_public_suffix(dom))) {
        /* Only the host itself may name itself (it is then host-only); an
         * IP literal never covers other hosts (a name "a.1.2.3.4" must not
         * set cookies for the address 1.2.3.4). */
        if (strcmp(dom, host)) goto out;
        dom = NULL;
    }
    if (dom && !domain_match(host, dom)) goto out;
    k->host_only = dom == NULL;
    e = -ENOMEM;
    k->domain = strdup(dom ? dom : host);
    k->path = p->path ? strdup(p->path) : default_path(u);
    k->name = strdup(p->name);
    k->value = strdup(p->value);
    if (!k->domain || !k->path || !k->name || !k->value) goto out;
    e = -EPERM;
    if (!prefix_ok(k, p->have_path_attr && p->path && !strcmp(p->path, "/"))) goto out;
    if (!u->tls && shadows_secure(j, k)) goto out;
    free(p);
    return jar_put(j, k, now);
out:
    weft__cookie_free(k);
    free(p);
    return e;
}

static int by_path_then_age(const void *a, const void *b)
{
    const weft__cookie *x = *(weft__cookie *const *)a, *y = *(weft__cookie *const *)b;
    size_t xl = strlen(x->path), yl = strlen(y->path);
    if (xl != yl) return xl > yl ? -1 : 1;
    return x->created < y->created ? -1 : x->created > y->created;
}

int weft__jar_header(weft__jar *j, const weft__url *u, int64_t now, weft__buf *b)
{
    weft__jar_expire(j, now);
    weft__cookie *stack[64], **sel = stack;
    if (j->n > 64 && !(sel = malloc(j->n * sizeof *sel))) return -1;
    size_t n = 0, rl = req_path_len(u);
    for (weft__cookie *k = j->list; k; k = k->next) {
        if (k->secure && !u->tls) continue;
        if (k->host_only ? strcasecmp(k->domain, u->host) : !domain_match(u->host, k->domain))
            continue;
        if (path_match(u->target, rl, k->path)) sel[n++] = k;
    }
    /* Longer paths first, then older ones (6265bis 5.8.3). */
    qsort(sel, n, sizeof *sel, by_path_then_age);
    int r = 0;
    size_t len = 0, sent = 0;
    for (size_t i = 0; i < n && !r; i++) {
        size_t add = (sent ? 2 : 0) + strlen(sel[i]->name) + 1 + strlen(sel[i]->value);
        if (len + add > WEFT__COOKIE_MAX_HEADER) continue;
        sel[i]->used = ++j->clock;
        r = weft__buf_str(b, sent ? "; " : "Cookie: ") || weft__buf_str(b, sel[i]->name) ||
            weft__buf_add(b, "=", 1) || weft__buf_str(b, sel[i]->value);
        len += add, sent++;
    }
    if (!r && sent) r = weft__buf_add(b, "\r\n", 2);
    if (sel != stack) free(sel);
    return r ? -1 : 0;
}

/* ---- the session's side ---- */

void weft__cookies_store(weft_http_client *c, const weft__url *u, const weft__head *h)
{
    if (c->o.no_cookies) return;
    int64_t now = weft__cookie_now();
    int taken = 0;
    for (size_t i = 0; i < h->nheaders && taken < WEFT__COOKIE_PER_RESPONSE; i++)
        if (!strcasecmp(h->headers[i].name, "set-cookie"))
            weft__jar_set(&c->jar, u, h->headers[i].value, now), taken++;
}

int weft__cookies_header(weft_http_client *c, const weft__url *u, weft__buf *b)
{
    return weft__jar_header(&c->jar, u, weft__cookie_now(), b);
}

void weft__cookies_free(weft_http_client *c) { weft__jar_clear(&c->jar, NULL); }
