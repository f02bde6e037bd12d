/* The client's side of the WebSocket handshake (RFC 6455 4.1): a GET sent
 * through the session's own request path (connect, TLS, timeouts, cookies,
 * user agent; redirects returned, not followed), and a 101 answer checked
 * to the letter before its connection is taken out of the pool. */
#include "http/client_internal.h"
#include "http/ws_internal.h"
#include <weft/debug.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

static _Thread_local int last_status;

int weft_ws_connect_status(void) { return last_status; }

/* ws:// and wss:// become http:// and https:// (what the session speaks);
 * http(s) URLs are taken as they are, as aiohttp does. */
static int http_url(const char *url, char *out, size_t cap)
{
    const char *rest;
    const char *scheme;
    if (!strncasecmp(url, "ws://", 5)) scheme = "http://", rest = url + 5;
    else if (!strncasecmp(url, "wss://", 6)) scheme = "https://", rest = url + 6;
    else if (!strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8)) scheme = "", rest = url;
    else return -WEFT_EHTTP_URL;
    int n = snprintf(out, cap, "%s%s", scheme, rest);
    return n < 0 || (size_t)n >= cap ? -WEFT_EHTTP_URL : 0;
}

/* Checks the 101 against what we asked; the agreed subprotocol and
 * deflate parameters come out. */
static int check_answer(weft_http_response *r, const char *accept, const weft_ws_opts *o,
                        char **proto, weft__ws_pmd *pmd)
{
    const char *up = weft_http_response_header(r, "upgrade");
    const char *conn = weft_http_response_header(r, "connection");
    const char *acc = weft_http_response_header(r, "sec-websocket-accept");
    const char *p = weft_http_response_header(r, "sec-websocket-protocol");
    if (!up || !weft__has_token(up, "websocket") || !conn || !weft__has_token(conn, "upgrade"))
        return -WEFT_EWS_HANDSHAKE;
    if (!acc || strcmp(acc, accept)) return -WEFT_EWS_HANDSHAKE;
    /* A subprotocol we did not offer, or more than one. */
    if (p && (!o->protocols || strchr(p, ',') || !weft__has_token(o->protocols, p)))
        return -WEFT_EWS_HANDSHAKE;
    size_t nh;
    const weft_http_header *hs = weft_http_response_headers(r, &nh);
    for (size_t i = 0; i < nh; i++) {
        if (strcasecmp(hs[i].name, "sec-websocket-extensions")) continue;
        /* Anything but one permessage-deflate that we offered fails. */
        if (!o->deflate || pmd->on || weft__ws_pmd_parse(hs[i].value, 0, pmd) != 1)
            return -WEFT_EWS_HANDSHAKE;
    }
    if (p && !(*proto = strdup(p))) return -ENOMEM;
    return 0;
}

int weft_ws_connect(weft_http_client *c, const char *url, const weft_ws_opts *opt, weft_ws **out)
{
    *out = NULL;
    last_status = 0;
    int e = weft_check("weft_ws_connect");
    if (e) return e;
    weft_ws_opts o = opt ? *opt : (weft_ws_opts){0};
    char hurl[2048];
    if ((e = http_url(url, hurl, sizeof hurl))) return e;
    unsigned char raw[16];
    char key[25], accept[29], ext[64];
    arc4random_buf(raw, sizeof raw);
    EVP_EncodeBlock((unsigned char *)key, raw, sizeof raw);
    weft__ws_accept_key(key, accept);
    size_t nh = 0, cap = o.nheaders + 6;
    weft_http_header *hs = calloc(cap, sizeof *hs);
    if (!hs) return -ENOMEM;
    hs[nh++] = (weft_http_header){"Upgrade", "websocket"};
    hs[nh++] = (weft_http_header){"Connection", "Upgrade"};
    hs[nh++] = (weft_http_header){"Sec-WebSocket-Key", key};
    hs[nh++] = (weft_http_header){"Sec-WebSocket-Version", "13"};
    if (o.protocols) hs[nh++] = (weft_http_header){"Sec-WebSocket-Protocol", o.protocols};
    if (o.deflate) {
        weft__ws_pmd_format(NULL, 0, ext, sizeof ext);
        hs[nh++] = (weft_http_header){"Sec-WebSocket-Extensions", ext};
    }
    for (size_t i = 0; i < o.nheaders; i++) hs[nh++] = o.headers[i];
    weft_http_req_opts ro = {.headers = hs, .nheaders = nh};
    weft_http_response *r = NULL;
    e = weft__client_request(c, "GET", hurl, &ro, 0, &r);
    free(hs);
    if (e == -WEFT_EHTTP_STATUS && r) last_status = weft_http_response_status(r);
    if (e) return e;
    last_status = weft_http_response_status(r);
    char *proto = NULL;
    weft__ws_pmd pmd = {0};
    if (last_status != 101) e = -WEFT_EWS_HANDSHAKE;
    else e = check_answer(r, accept, &o, &proto, &pmd);
    weft_stream *s = e ? NULL : weft__resp_detach(r);
    weft_http_response_free(r);
    if (!e && !s) e = -WEFT_EHTTP_CLOSED;
    if (e) {
        free(proto);
        return e;
    }
    last_status = 0;
    weft_ws *ws = weft__ws_new(s, 1, &o, proto, &pmd);
    if (!ws) {
        weft_stream_abort(s);
        return -ENOMEM;
    }
    weft_debug_track_at(ws, "websocket", WEFT_DEBUG_CALLER);
    *out = ws;
    return 0;
}
