/* weft/ws.h: WebSockets (RFC 6455, permessage-deflate of RFC 7692), both
 * sides: aiohttp's web.WebSocketResponse and session.ws_connect.
 *
 * A WebSocket is read by one task at a time, message by message, as a
 * stream is read line by line:
 *
 *     weft_ws *ws;
 *     if (weft_ws_upgrade(req, NULL, &ws) == 0) {          // in a route handler
 *         weft_ws_msg m;
 *         while (weft_ws_receive(ws, &m) > 0)
 *             weft_ws_send(ws, m.type, m.data, m.len);      // echo
 *         weft_ws_free(ws);
 *     }
 *
 * Any number of tasks may send on one WebSocket at once: each message goes
 * out whole, never interleaved with another. Pings are answered by the
 * reading task (while it waits in weft_ws_receive), so a WebSocket should
 * always have a task reading it. As everywhere in weft, a cancelled task
 * (past its weft_timeout deadline) gets -ECANCELED (-ETIMEDOUT) from every
 * waiting call at once, and nothing is lost: a receive cut short goes on
 * where it stopped at the next call (so a receive with a deadline is a
 * weft_timeout around it). Errors are negative errno values or the codes
 * below (negated); weft_strerror names them. */
#ifndef WEFT_WS_H
#define WEFT_WS_H

#include <weft/http.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- error codes (ranges: weft.h) ----------------------------------------- */
/* X(NAME, code, text): WEFT_<NAME> = code, and weft_strerror's text. */
#define WEFT_WS_ERRORS(X)                                                               \
    /* the peer broke RFC 6455: closed with 1002 */                                     \
    X(EWS_PROTOCOL, 10300, "WebSocket protocol error (closed with 1002)")               \
    /* invalid UTF-8 in a text message: closed with 1007 */                             \
    X(EWS_UTF8, 10301, "WebSocket text not valid UTF-8 (closed with 1007)")             \
    /* a message over max_message: closed with 1009 */                                  \
    X(EWS_TOO_BIG, 10302, "WebSocket message too big (closed with 1009)")               \
    /* the upgrade was refused or its answer is wrong */                                \
    X(EWS_HANDSHAKE, 10303, "WebSocket handshake failed")                               \
    /* the connection ended without a close frame (1006), or the WebSocket is   */      \
    /* already closed */                                                                \
    X(EWS_CLOSED, 10304, "WebSocket closed")                                            \
    /* heartbeat: the peer did not answer a ping */                                     \
    X(EWS_PING_TIMEOUT, 10305, "WebSocket peer did not answer a ping")                  \
    /* nothing received for idle_s: closed with 1001 */                                 \
    X(EWS_IDLE, 10306, "WebSocket idle timeout")                                        \
    /* the peer fell behind (send queue full): closed with 1013 */                      \
    X(EWS_BEHIND, 10307, "WebSocket peer fell behind (closed with 1013)")               \
    /* the peer never answered our close frame */                                       \
    X(EWS_CLOSE_TIMEOUT, 10308, "WebSocket peer did not answer the close")             \
    /* a send was cancelled (or its deadline passed) with its frame partly      */      \
    /* written: nothing can be framed after it, so the connection was ended     */      \
    /* (the peer sees 1006) */                                                          \
    X(EWS_CUT, 10309, "WebSocket send cut short mid-frame: connection ended")
enum { WEFT_WS_ERRORS(WEFT_ERR_ENUM_) };

/* Message types (RFC 6455 opcodes). */
#define WEFT_WS_TEXT 1
#define WEFT_WS_BINARY 2

typedef struct weft_ws weft_ws;

typedef struct weft_ws_opts {
    size_t max_message;      /* weft_ws_receive: whole messages (inflated) up to
                                this; default 4 MiB -> close 1009 */
    double heartbeat_s;      /* a ping every heartbeat_s; no pong within half of
                                it ends the connection (-WEFT_EWS_PING_TIMEOUT);
                                0: none */
    double idle_s;           /* nothing received for idle_s: close 1001
                                (-WEFT_EWS_IDLE); 0: none */
    double close_timeout_s;  /* weft_ws_close waits this long for the peer's
                                close frame; default 5 */
    size_t send_queue;       /* bytes queued for a slow peer before a sender
                                waits (weft_ws_try_send: before it gives up);
                                default 256 KiB */
    const char *protocols;   /* subprotocols, comma-separated. Client: offered;
                                server: spoken, in order of preference (the
                                first the client also offers is chosen) */
    int deflate;             /* 1: offer (client) / accept (server)
                                permessage-deflate */
    int deflate_level;       /* zlib level for sending, 1-9; default 6 */
    /* Server: called with the request's Origin header (NULL if none);
     * returns non-zero to accept. NULL: any origin. Refused: 403. */
    int (*check_origin)(const char *origin, void *arg);
    void *origin_arg;
    /* Client: extra handshake headers (Authorization, Origin...). */
    const weft_http_header *headers;
    size_t nheaders;
} weft_ws_opts;

/* Server, in a route handler (so routing, middleware and limits have
 * applied): checks that req asks for a WebSocket (GET, HTTP/1.1, Upgrade:
 * websocket, Connection: upgrade, a 16-byte Sec-WebSocket-Key, version 13),
 * negotiates subprotocol and permessage-deflate, sends 101 (with any header
 * added by weft_http_reply_header) and stores the WebSocket in *out. The
 * handler then owns the connection until it returns; weft_ws_free it
 * before. A request that is not a valid upgrade is answered (400; 426 with
 * Sec-WebSocket-Version: 13 for another version; 403 from check_origin)
 * and -WEFT_EWS_HANDSHAKE returned. opt may be NULL. Waits. */
int weft_ws_upgrade(weft_http_request *req, const weft_ws_opts *opt, weft_ws **out);

/* Client: opens url (ws:// or wss://) through session c: its connect and
 * read timeouts, TLS context, cookies (sent, and stored from the answer)
 * and user agent apply; redirects are not followed. Masks every frame with
 * a fresh random key and checks Sec-WebSocket-Accept, the subprotocol and
 * the extensions the server chose. On success *out is the WebSocket (it
 * does not count against c's connection limits), to weft_ws_free, and
 * must not outlive c. -WEFT_EWS_HANDSHAKE (any answer but a valid 101;
 * weft_ws_status tells the status), -WEFT_EHTTP_URL, connect errors.
 * Waits. */
int weft_ws_connect(weft_http_client *c, const char *url, const weft_ws_opts *opt,
                    weft_ws **out);
/* The HTTP status of the last failed weft_ws_connect on this thread (0 if
 * it failed before an answer). Does not wait. */
int weft_ws_connect_status(void);

/* A received message: data (NUL-terminated, not counted in len) belongs
 * to the WebSocket and stays valid until the next receive. */
typedef struct weft_ws_msg {
    int type;                /* WEFT_WS_TEXT or WEFT_WS_BINARY */
    const char *data;
    size_t len;
} weft_ws_msg;

/* Waits for the next whole message (answering pings meanwhile). Returns
 * its type (> 0); 0 once the peer closed (the close handshake is then
 * answered and complete: weft_ws_close_code has its code); or an error,
 * after which the connection is closed (with the code the error names)
 * and every later call fails the same way: -WEFT_EWS_PROTOCOL,
 * -WEFT_EWS_UTF8, -WEFT_EWS_TOO_BIG, -WEFT_EWS_CLOSED,
 * -WEFT_EWS_PING_TIMEOUT, -WEFT_EWS_IDLE, -ECONNRESET... -EBUSY if another
 * task is receiving, unless that task is weft_ws_close reading the peer's
 * answer: then it waits for the close and returns what the close found
 * (0, or the close's error). Waits. */
int weft_ws_receive(weft_ws *ws, weft_ws_msg *m);
/* Streaming receive, for messages of any size: up to n bytes of the
 * current message into buf. Returns the bytes (maybe 0 for an empty
 * message), *type the message's type and *last 1 with its last bytes; or
 * 0 with *type 0 once the peer closed; or an error as weft_ws_receive.
 * UTF-8 is checked as bytes arrive, so a text part may end inside a
 * character. Do not mix with weft_ws_receive within one message. Waits. */
ssize_t weft_ws_receive_part(weft_ws *ws, void *buf, size_t n, int *type, int *last);
/* (n must be at least 1: -EINVAL otherwise.) */

/* Sends one message (type WEFT_WS_TEXT, whose data must be UTF-8 (not
 * checked), or WEFT_WS_BINARY). Waits while the peer is more than
 * send_queue bytes behind (back-pressure). 0; -EINVAL (bad type);
 * -WEFT_EWS_CLOSED after a close; the connection's error. Cancelled (or
 * past a deadline) before any of the message was queued, it returns
 * -ECANCELED (-ETIMEDOUT) and the connection goes on; once part of it was,
 * the peer would read the next message's bytes as the rest of this one, so
 * the connection is ended then, and every later call on it gets
 * -WEFT_EWS_CUT. Waits. */
int weft_ws_send(weft_ws *ws, int type, const void *data, size_t len);
/* As weft_ws_send, in frames of at most frag bytes each (0: one frame).
 * Waits. */
int weft_ws_send_frag(weft_ws *ws, int type, const void *data, size_t len, size_t frag);
/* As weft_ws_send, but never waits for the peer: -EAGAIN, with nothing
 * sent, when the message would not fit in send_queue or another task is
 * held up sending on ws. Does not wait. */
int weft_ws_try_send(weft_ws *ws, int type, const void *data, size_t len);
/* Sends one message to n WebSockets without letting one slow peer hold up
 * the others: each gets it with weft_ws_try_send, and one that cannot
 * take it (its peer is more than send_queue behind) is closed with 1013
 * (its reader gets -WEFT_EWS_BEHIND). NULL entries and closed WebSockets
 * are skipped. Returns how many got the message. Does not wait. */
size_t weft_ws_broadcast(weft_ws *const *ws, size_t n, int type, const void *data, size_t len);
/* Sends a ping with up to 125 bytes of payload (its pong is consumed by the
 * reader). 0, -EINVAL (over 125), or the connection's error. Waits. */
int weft_ws_ping(weft_ws *ws, const void *data, size_t len);

/* The close handshake: sends a close frame with code (1000-1003,
 * 1007-1014, 3000-4999; 0 for none) and reason (UTF-8, 123 bytes at most;
 * NULL: none), then waits up to close_timeout_s for the peer's close
 * (reading and dropping messages meanwhile, or letting the task that is
 * receiving see it), and ends the connection. 0; -EINVAL (bad code or
 * reason: nothing sent); -WEFT_EWS_CLOSE_TIMEOUT; -WEFT_EWS_CLOSED if it
 * was already closed. Waits. */
int weft_ws_close(weft_ws *ws, int code, const char *reason);
/* The peer's close code (1005: its close frame had none), 1006 if the
 * connection ended without one, 0 while open. Does not wait. */
int weft_ws_close_code(const weft_ws *ws);
/* The peer's close reason ("" if none). Does not wait. */
const char *weft_ws_close_reason(const weft_ws *ws);
/* The subprotocol agreed, or NULL. Does not wait. */
const char *weft_ws_protocol(const weft_ws *ws);
/* 1 if permessage-deflate was negotiated. Does not wait. */
int weft_ws_deflate(const weft_ws *ws);
/* Ends the connection if weft_ws_close did not (at once: no close
 * handshake; a client's connection is reset) and frees ws. Tasks still
 * waiting on ws must have returned. NULL is a no-op. Does not wait. */
void weft_ws_free(weft_ws *ws);

#ifdef __cplusplus
}
#endif
#endif
