/* The server's side of the WebSocket handshake (RFC 6455 4.2), from a
 * route handler: the request is checked, subprotocol and permessage-deflate
 * are agreed, and the 101 goes out through the HTTP server, which then
 * hands the handler its connection (weft__reply_upgrade). */
#include "http/server_internal.h"
#include "http/ws_internal.h"
#include <weft/debug.h>
#include <errno.h>
#include <stdlib.h>
#include <strings.h>

/* A Sec-WebSocket-Key is the base64 of 16 bytes: 22 characters and "==". */
static int key_ok(const char *k)
{
    if (!k || strlen(k) != 24 || strcmp(k + 22, "==")) return 0;
    for (int i = 0; i < 22; i++) {
        char c = k[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return 0;
    }
    /* The last character before the padding carries 2 bits: its low 4 are 0. */
    return strchr("AQgw", k[21]) != NULL;
}

/* The first of ours (in our order) that the client offered, copied. */
static char *pick_protocol(const char *ours, const char *offered)
{
    if (!ours || !offered) return NULL;
    const char *s = ours;
    while (*s) {
        while (*s == ' ' || *s == ',') s++;
        const char *e = s;
        while (*e && *e != ',' && *e != ' ') e++;
        if (e > s) {
            char tok[128];
            size_t n = (size_t)(e - s) < sizeof tok - 1 ? (size_t)(e - s) : sizeof tok - 1;
            memcpy(tok, s, n);
            tok[n] = 0;
            if (weft__has_token(offered, tok)) return strdup(tok);
        }
        s = e;
    }
    return NULL;
}

/* Refuses the upgrade with status (and its reason as the body). */
static int refuse(weft_http_request *req, int status, const char *why)
{
    if (status == 426) weft_http_reply_header(req, "Sec-WebSocket-Version", "13");
    weft_http_respond(req, status, "text/plain; charset=utf-8", why, strlen(why));
    return -WEFT_EWS_HANDSHAKE;
}

int weft_ws_upgrade(weft_http_request *req, const weft_ws_opts *opt, weft_ws **out)
{
    *out = NULL;
    int e = weft_check("weft_ws_upgrade");
    if (e) return e;
    weft_ws_opts o = opt ? *opt : (weft_ws_opts){0};
    const char *up = weft_http_request_header(req, "upgrade");
    const char *conn = weft_http_request_header(req, "connection");
    const char *ver = weft_http_request_header(req, "sec-websocket-version");
    const char *key = weft_http_request_header(req, "sec-websocket-key");
    if (strcmp(req->h->method, "GET") || req->h->minor < 1)
        return refuse(req, 400, "WebSocket needs GET and HTTP/1.1\n");
    if (!up || !weft__has_token(up, "websocket") || !conn || !weft__has_token(conn, "upgrade"))
        return refuse(req, 400, "not a WebSocket upgrade\n");
    if (!ver || strcmp(ver, "13")) return refuse(req, 426, "WebSocket version 13 only\n");
    if (!key_ok(key)) return refuse(req, 400, "bad Sec-WebSocket-Key\n");
    if (req->h->content_length > 0 || req->h->chunked)
        return refuse(req, 400, "an upgrade request has no body\n");
    if (o.check_origin && !o.check_origin(weft_http_request_header(req, "origin"), o.origin_arg))
        return refuse(req, 403, "origin not allowed\n");

    char accept[29];
    weft__ws_accept_key(key, accept);
    char *proto = pick_protocol(o.protocols, weft_http_request_header(req, "sec-websocket-protocol"));
    weft__ws_pmd pmd = {0};
    char ext[160] = "";
    if (o.deflate) {
        /* Every Sec-WebSocket-Extensions header counts, in order. */
        size_t nh;
        const weft_http_header *hs = weft_http_request_headers(req, &nh);
        for (size_t i = 0; i < nh && !pmd.on; i++)
            if (!strcasecmp(hs[i].name, "sec-websocket-extensions"))
                weft__ws_pmd_parse(hs[i].value, 1, &pmd);
        if (pmd.on) weft__ws_pmd_format(&pmd, 1, ext, sizeof ext);
    }
    int r = weft_http_reply_header(req, "Upgrade", "websocket");
    if (!r) r = weft_http_reply_header(req, "Connection", "Upgrade");
    if (!r) r = weft_http_reply_header(req, "Sec-WebSocket-Accept", accept);
    if (!r && proto) r = weft_http_reply_header(req, "Sec-WebSocket-Protocol", proto);
    if (!r && pmd.on) r = weft_http_reply_header(req, "Sec-WebSocket-Extensions", ext);
    weft_stream *s = NULL;
    if (!r) r = weft__reply_upgrade(req, &s);
    if (r) {
        free(proto);
        return r;
    }
    weft_ws *ws = weft__ws_new(s, 0, &o, proto, &pmd);
    if (!ws) return -ENOMEM;
    weft_debug_track_at(ws, "websocket", WEFT_DEBUG_CALLER);
    *out = ws;
    return 0;
}
