/* Routing on method and path with {param} captures. Routes are few and
 * tried in order: a linear walk over pre-split segments costs less than
 * building a tree for the dozen routes a typical server has. */
#include "http/server_internal.h"
#include <errno.h>
#include <stdlib.h>
#include <strings.h>

int weft_http_server_route(weft_http_server *srv, const char *method, const char *pattern,
                           weft_http_handler h, void *arg)
{
    if (!srv || !method || !pattern || pattern[0] != '/' || !h) return -EINVAL;
    weft__route *r = calloc(1, sizeof *r);
    if (!r) return -ENOMEM;
    r->h = h;
    r->arg = arg;
    r->method = strdup(method);
    r->pattern = strdup(pattern + 1);
    size_t n = 1;
    for (const char *p = pattern; *p; p++) n += *p == '/';
    r->segs = calloc(n, sizeof *r->segs);
    if (!r->method || !r->pattern || !r->segs) goto nomem;
    char *save, *tok;
    /* "/" is one empty segment, so that it matches only "/". */
    if (!*r->pattern) r->segs[r->nseg++] = r->pattern;
    for (tok = strtok_r(r->pattern, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        size_t tl = strlen(tok);
        if (tok[0] == '{') {
            if (tok[tl - 1] != '}' || tl < 3 || r->rest) goto bad;
            if (tl > 5 && !strcmp(tok + tl - 4, "...}")) r->rest = 1;
        } else if (strchr(tok, '{') || strchr(tok, '}')) {
            goto bad;
        } else if (r->rest) {
            goto bad;
        }
        r->segs[r->nseg++] = tok;
    }
    *srv->routes_tail = r;
    srv->routes_tail = &r->next;
    return 0;
bad:
    free(r->method), free(r->pattern), free(r->segs), free(r);
    return -EINVAL;
nomem:
    free(r->method), free(r->pattern), free(r->segs), free(r);
    return -ENOMEM;
}

static void capture(weft_http_request *req, const char *seg, char *val)
{
    if (req->nparams == WEFT_HTTP_MAX_PARAMS) return;
    size_t nl = strlen(seg) - 2;
    if (nl > 3 && !strncmp(seg + 1 + nl - 3, "...", 3)) nl -= 3;
    req->pname[req->nparams] = seg + 1;
    req->pname_len[req->nparams] = nl;
    req->pval[req->nparams++] = val;
}

/* Matches the path's segments against r, splitting a copy of the path in
 * req's connection buffer for captures. */
static int match(const weft__route *r, weft_http_request *req, char *path)
{
    req->nparams = 0;
    char *p = path + 1;  /* past the leading '/' */
    for (int i = 0; i < r->nseg; i++) {
        const char *seg = r->segs[i];
        char *end = strchr(p, '/');
        if (r->rest && i == r->nseg - 1) {
            capture(req, seg, p); /* may be empty: "/s/" matches "/s/{p...}" */
            return 1;
        }
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (seg[0] == '{') {
            if (!len) return 0;
            capture(req, seg, p);
        } else if (strlen(seg) != len || memcmp(seg, p, len)) {
            return 0;
        }
        if (i == r->nseg - 1) return end == NULL;
        if (!end) return 0;
        *end = 0;  /* terminates the capture; restored by the next copy */
        p = end + 1;
    }
    return 0;
}

const weft__route *weft__route_match(weft_http_server *srv, weft_http_request *req,
                                     int *path_matched)
{
    weft__conn *c = req->c;
    const char *path = req->h->path;
    size_t plen = strlen(path);
    *path_matched = 0;
    if (path[0] != '/') return NULL;
    for (weft__route *r = srv->routes; r; r = r->next) {
        c->pathbuf.len = 0;
        if (weft__buf_add(&c->pathbuf, path, plen)) return NULL;
        if (!match(r, req, c->pathbuf.p)) continue;
        *path_matched = 1;
        if (r->method[0] == '*' || !strcmp(r->method, req->h->method) ||
            (!strcmp(req->h->method, "HEAD") && !strcmp(r->method, "GET")))
            return r;
    }
    req->nparams = 0;
    return NULL;
}

const char *weft_http_request_param(const weft_http_request *req, const char *name)
{
    size_t nl = strlen(name);
    for (int i = 0; i < req->nparams; i++)
        if (req->pname_len[i] == nl && !memcmp(req->pname[i], name, nl)) return req->pval[i];
    return NULL;
}

void weft__routes_free(weft_http_server *srv)
{
    for (weft__route *r = srv->routes, *n; r; r = n) {
        n = r->next;
        if (r->own_arg) free(r->arg);
        free(r->method), free(r->pattern), free(r->segs), free(r);
    }
    srv->routes = NULL;
    srv->routes_tail = &srv->routes;
}
