/* A WebSocket connection over a weft_stream: frames read straight out of
 * the stream's buffer (peek/consume, so a receive cut short by a cancel or
 * deadline resumes where it stopped), messages sent whole under a lock,
 * control frames answered by the reader, the close handshake, and a
 * watchdog task for the heartbeat and the idle timeout. The handshakes are
 * in ws_server.c and ws_client.c, the frame codec in ws_frame.c. */
#include "http/ws_internal.h"
#include "error_table.h"
#include <weft/debug.h>
#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>

#define DEF(x, v) ((x) ? (x) : (v))
/* Payload bytes read (compressed) or masked (client) per step. */
#define CHUNK 16384

static int watchdog_main(void *arg);
static void release_lock(weft_ws *ws);
static int write_frame_now(weft_ws *ws, int fin, int rsv, int op, const void *data, size_t len);

/* WebSocket's codes for weft_strerror (the table in weft/ws.h): here, with
 * the weft_ws every client and server makes. */
WEFT__ERROR_TABLE(ws, WEFT_WS_ERRORS)

weft_ws *weft__ws_new(weft_stream *s, int client, const weft_ws_opts *opt, char *protocol,
                      const weft__ws_pmd *pmd)
{
    weft_ws *ws = calloc(1, sizeof *ws);
    if (!ws) {
        free(protocol);
        return NULL;
    }
    if (opt) ws->o = *opt;
    ws->o.max_message = DEF(ws->o.max_message, (size_t)4 << 20);
    /* "No limit" is far beyond memory anyway; kept where max + 1 and the
     * raw bound below cannot wrap. */
    if (ws->o.max_message > SIZE_MAX / 4) ws->o.max_message = SIZE_MAX / 4;
    ws->o.close_timeout_s = DEF(ws->o.close_timeout_s, 5);
    ws->o.send_queue = DEF(ws->o.send_queue, (size_t)256 << 10);
    ws->o.deflate_level = DEF(ws->o.deflate_level, 6);
    ws->o.protocols = NULL, ws->o.headers = NULL, ws->o.nheaders = 0; /* not kept */
    ws->s = s;
    ws->client = (uint8_t)client;
    ws->protocol = protocol;
    ws->refs = 1;
    ws->last_rx = weft_now();
    ws->send_lock = weft_lock_new();
    ws->closed = weft_event_new();
    if (pmd && pmd->on) {
        ws->pmd = *pmd;
        ws->rx.allow_rsv1 = 1;
        /* What we receive was compressed with the peer's window. */
        ws->zrx = weft__ws_zrx_new();
        ws->ztx = weft__ws_ztx_new(ws->o.deflate_level, client ? pmd->client_bits : pmd->server_bits);
    }
    if (!ws->send_lock || !ws->closed || (pmd && pmd->on && (!ws->zrx || !ws->ztx))) goto fail;
    weft_stream_set_write_buffer(s, ws->o.send_queue);
    if (ws->o.heartbeat_s > 0 || ws->o.idle_s > 0) {
        ws->watchdog = weft_spawn_named("websocket watchdog", watchdog_main, ws);
        if (!ws->watchdog) goto fail;
        ws->refs++;
    }
    return ws;
fail:
    weft_lock_free(ws->send_lock);
    weft_event_free(ws->closed);
    weft__ws_zrx_free(ws->zrx);
    weft__ws_ztx_free(ws->ztx);
    free(ws->protocol);
    free(ws);
    errno = ENOMEM;
    return NULL;
}

void weft__ws_accept_key(const char *key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char in[128];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int n = snprintf(in, sizeof in, "%s%s", key, guid);
    if (n < 0 || (size_t)n >= sizeof in) n = 0; /* keys are checked to be 24 bytes */
    EVP_Digest(in, (size_t)n, md, &mdlen, EVP_sha1(), NULL);
    EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
}

/* ---- sending ------------------------------------------------------------------ */

/* Writes the pending pong, the lock held, without waiting: the stream's
 * high-water mark is lifted for its few bytes. A reader must never wait
 * to answer a ping: if both ends waited so (each with a sender stuck on a
 * full socket, holding its lock), neither would read again. */
static void write_pong(weft_ws *ws)
{
    if (!ws->pong_pending || ws->close_sent || ws->err) return;
    ws->pong_pending = 0;
    size_t q = weft_stream_write_buffered(ws->s);
    weft_stream_set_write_buffer(ws->s, q + ws->pong_len + WEFT__WS_MAX_HEAD + 1);
    write_frame_now(ws, 1, 0, WEFT__WS_PONG, ws->pong, ws->pong_len);
    weft_stream_set_write_buffer(ws->s, ws->o.send_queue);
}

/* Releases the send lock, answering a ping that came while it was held. */
static void release_lock(weft_ws *ws)
{
    write_pong(ws);
    weft_lock_release(ws->send_lock);
}

/* The reader's answer to a ping: now if the lock is free, else by the
 * sender that holds it, as it lets go. Only the latest ping is answered
 * then (RFC 6455 5.5.3 allows that). */
static void answer_ping(weft_ws *ws, const uint8_t *p, size_t n)
{
    memcpy(ws->pong, p, n);
    ws->pong_len = (uint8_t)n;
    ws->pong_pending = 1;
    if (weft_lock_try_acquire(ws->send_lock)) release_lock(ws);
}

/* A frame cut short on the wire (a cancel or deadline while it was partly
 * queued) leaves the peer inside it: nothing sent later could be framed,
 * so the connection ends at once (the peer reads a truncated frame and
 * the end: 1006) and every later call gets -WEFT_EWS_CUT. Returns r, the
 * sender's own error. */
static int cut(weft_ws *ws, int r)
{
    if (!ws->err) ws->err = -WEFT_EWS_CUT;
    ws->close_sent = 1; /* no close frame can follow a broken one */
    weft_stream_shutdown_now(ws->s, WEFT_READABLE | WEFT_WRITABLE);
    weft_event_set(ws->closed);
    return r;
}

/* Waits until the stream's queue has room for a frame head, so that a
 * frame's first write queues at least its first byte at once: then a
 * cancel or deadline that stops the frame before that write leaves
 * nothing of it on the wire, and one that stops it after has cut it. */
static int wait_head_room(weft_ws *ws)
{
    while (weft_stream_write_buffered(ws->s) + WEFT__WS_MAX_HEAD > ws->o.send_queue) {
        int r = weft_stream_drain(ws->s);
        if (r) return r;
    }
    return 0;
}

/* Writes one frame; the caller holds the send lock (or knows nobody else
 * can be writing). A client masks a copy, CHUNK bytes at a time. A frame
 * interrupted after its first write cuts the connection (see cut). */
static int write_frame(weft_ws *ws, int fin, int rsv, int op, const void *data, size_t len)
{
    int r = wait_head_room(ws);
    if (r) return r;
    r = write_frame_now(ws, fin, rsv, op, data, len);
    if (r == -ECANCELED || r == -ETIMEDOUT) return cut(ws, r);
    return r;
}

static int write_frame_now(weft_ws *ws, int fin, int rsv, int op, const void *data, size_t len)
{
    uint8_t head[WEFT__WS_MAX_HEAD], key[4];
    if (ws->client) arc4random_buf(key, 4);
    size_t hl = weft__ws_head_build(head, fin, rsv, op, len, ws->client ? key : NULL);
    if (!ws->client) {
        struct iovec iov[2] = {{head, hl}, {(void *)data, len}};
        ssize_t w = weft_stream_writev(ws->s, iov, len ? 2 : 1);
        return w < 0 ? (int)w : 0;
    }
    if (weft__buf_reserve(&ws->tx, CHUNK)) return -ENOMEM;
    size_t off = 0;
    do {
        size_t k = len - off < CHUNK ? len - off : CHUNK;
        if (k) memcpy(ws->tx.p, (const char *)data + off, k);
        weft__ws_mask((uint8_t *)ws->tx.p, k, key, off);
        struct iovec iov[2] = {{head, hl}, {ws->tx.p, k}};
        ssize_t w = off == 0 ? weft_stream_writev(ws->s, iov, k ? 2 : 1)
                             : weft_stream_write(ws->s, ws->tx.p, k);
        if (w < 0) return (int)w;
        off += k;
    } while (off < len);
    return 0;
}

/* A message's frames, the lock held. Compressed messages are deflated
 * whole first (RSV1 on the first frame only). */
static int write_message(weft_ws *ws, int type, const void *data, size_t len, size_t frag)
{
    int rsv = 0;
    weft__buf z = {0};
    if (ws->ztx) {
        int no_takeover = ws->client ? ws->pmd.client_no_takeover : ws->pmd.server_no_takeover;
        int r = weft__ws_ztx_run(ws->ztx, data, len, &z, no_takeover);
        if (r) return r;
        data = z.p, len = z.len, rsv = 4;
    }
    if (!frag || frag > len) frag = len;
    if (!len) data = ""; /* NULL plus an offset is undefined, even 0 */
    size_t off = 0;
    int r = 0, op = type;
    do {
        size_t k = len - off < frag ? len - off : frag;
        r = write_frame(ws, off + k == len, rsv, op, (const char *)data + off, k);
        /* Stopped before a later fragment: the message is open on the wire. */
        if (off && (r == -ECANCELED || r == -ETIMEDOUT) && ws->err != -WEFT_EWS_CUT) cut(ws, r);
        off += k;
        op = WEFT__WS_CONT, rsv = 0;
    } while (!r && off < len);
    weft__buf_free(&z);
    return r;
}

/* The error that stops a sender: the connection's, or closed. */
static int send_state(const weft_ws *ws)
{
    if (ws->err) return ws->err;
    if (ws->close_sent || ws->ended) return -WEFT_EWS_CLOSED;
    return 0;
}

int weft_ws_send_frag(weft_ws *ws, int type, const void *data, size_t len, size_t frag)
{
    int e = weft_check("weft_ws_send");
    if (e) return e;
    if (type != WEFT_WS_TEXT && type != WEFT_WS_BINARY) return -EINVAL;
    if ((e = send_state(ws))) return e;
    if ((e = weft_lock_acquire(ws->send_lock))) return e;
    if (!(e = send_state(ws))) e = write_message(ws, type, data, len, frag);
    release_lock(ws);
    return e;
}

int weft_ws_send(weft_ws *ws, int type, const void *data, size_t len)
{
    return weft_ws_send_frag(ws, type, data, len, 0);
}

/* Sends a control frame if it can without waiting for the peer: the lock
 * free and room in the send queue. 0 or -EAGAIN. */
static int try_control(weft_ws *ws, int op, const void *data, size_t len)
{
    if (weft_stream_write_buffered(ws->s) + len + WEFT__WS_MAX_HEAD > ws->o.send_queue)
        return -EAGAIN;
    if (!weft_lock_try_acquire(ws->send_lock)) return -EAGAIN;
    int r = write_frame(ws, 1, 0, op, data, len);
    release_lock(ws);
    return r;
}

int weft_ws_try_send(weft_ws *ws, int type, const void *data, size_t len)
{
    int e = weft_check("weft_ws_try_send");
    if (e) return e;
    if (type != WEFT_WS_TEXT && type != WEFT_WS_BINARY) return -EINVAL;
    if ((e = send_state(ws))) return e;
    /* Deflate can also grow a message (incompressible data): its worst
     * case must fit, or the write would wait on a slow peer, and with it a
     * broadcast to every other one. It cannot be compressed first and
     * checked after: with context takeover, a compressed message that is
     * not sent leaves the peer's inflater behind ours. */
    size_t need = ws->ztx ? weft__ws_ztx_bound(ws->ztx, len) : len;
    if (weft_stream_write_buffered(ws->s) + need + WEFT__WS_MAX_HEAD > ws->o.send_queue)
        return -EAGAIN;
    if (!weft_lock_try_acquire(ws->send_lock)) return -EAGAIN;
    e = write_message(ws, type, data, len, 0);
    release_lock(ws);
    return e;
}

/* Ends the connection from outside the reader (watchdog, broadcast): the
 * close frame if it can go at once, then the reader's wait ends (EOF) and
 * it reports err. */
static void kill_ws(weft_ws *ws, int err, int code, const char *why)
{
    if (ws->err || ws->ended) return;
    ws->err = err;
    if (!ws->close_sent && code) {
        uint8_t p[64] = {(uint8_t)(code >> 8), (uint8_t)code};
        size_t n = strlen(why);
        memcpy(p + 2, why, n);
        if (try_control(ws, WEFT__WS_CLOSE, p, n + 2) == 0) ws->close_sent = 1;
    }
    weft_stream_shutdown_now(ws->s, WEFT_READABLE | (err == -WEFT_EWS_BEHIND ? WEFT_WRITABLE : 0));
    weft_event_set(ws->closed);
}

size_t weft_ws_broadcast(weft_ws *const *wss, size_t n, int type, const void *data, size_t len)
{
    size_t sent = 0;
    for (size_t i = 0; i < n; i++) {
        weft_ws *ws = wss[i];
        if (!ws || send_state(ws)) continue;
        int r = weft_ws_try_send(ws, type, data, len);
        if (r == 0) sent++;
        else if (r == -EAGAIN) kill_ws(ws, -WEFT_EWS_BEHIND, WEFT__WS_TRY_LATER, "too slow");
    }
    return sent;
}

static int send_control(weft_ws *ws, int op, const void *data, size_t len)
{
    int e = weft_lock_acquire(ws->send_lock);
    if (e) return e;
    e = write_frame(ws, 1, 0, op, data, len);
    release_lock(ws);
    return e;
}

int weft_ws_ping(weft_ws *ws, const void *data, size_t len)
{
    int e = weft_check("weft_ws_ping");
    if (e) return e;
    if (len > 125) return -EINVAL;
    if ((e = send_state(ws))) return e;
    return send_control(ws, WEFT__WS_PING, data, len);
}

/* ---- receiving ------------------------------------------------------------------ */

/* The connection failed on our side of the protocol: the peer is told why
 * (close with code, if it can be sent), reading stops, and err sticks. */
static int fail(weft_ws *ws, int code, int err)
{
    if (ws->err) return ws->err;
    ws->err = err;
    if (!ws->close_sent && code) {
        uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
        if (send_control(ws, WEFT__WS_CLOSE, p, 2) == 0) ws->close_sent = 1;
    }
    weft_stream_shutdown_now(ws->s, WEFT_READABLE);
    weft_event_set(ws->closed);
    return err;
}

static int fail_code(weft_ws *ws, int code)
{
    int err = code == WEFT__WS_BAD_DATA  ? -WEFT_EWS_UTF8
              : code == WEFT__WS_TOO_BIG ? -WEFT_EWS_TOO_BIG
                                         : -WEFT_EWS_PROTOCOL;
    return fail(ws, code, err);
}

/* The stream ended or failed under the reader: an error we set from
 * outside (watchdog, broadcast) explains it; else the peer went away
 * without a close frame (1006). */
static int lost(weft_ws *ws, ssize_t r)
{
    if (r == -ECANCELED || r == -ETIMEDOUT) return (int)r; /* ours: nothing lost */
    if (ws->err) return ws->err;
    ws->peer_code = 1006;
    /* A stream cut inside a control frame (read_exactly) is the same end. */
    ws->err = r < 0 && r != -EPIPE && r != -WEFT_EINCOMPLETE ? (int)r : -WEFT_EWS_CLOSED;
    weft_event_set(ws->closed);
    return ws->err;
}

/* A whole receive's message has taken more bytes on the wire than any
 * message within the limit needs: heads, and deflate's worst expansion. */
static int raw_over(const weft_ws *ws)
{
    size_t max = ws->o.max_message;
    return ws->room != UINT64_MAX && ws->raw > max + max / 16 + 4096;
}

/* The peer's close frame arrived: answer it (the same code) unless we
 * started the handshake. */
static int on_close(weft_ws *ws, const uint8_t *p, size_t n)
{
    int code, bad = weft__ws_close_parse(p, n, &code);
    if (bad) return fail_code(ws, bad);
    ws->peer_code = code;
    size_t rl = n > 2 ? n - 2 : 0;
    memcpy(ws->peer_reason, p + 2, rl);
    ws->peer_reason[rl] = 0;
    ws->close_rcvd = 1;
    if (!ws->close_sent) {
        ws->close_sent = 1;
        send_control(ws, WEFT__WS_CLOSE, p, code == 1005 ? 0 : 2);
    }
    weft_event_set(ws->closed);
    return 0;
}

/* Reads the next frame head; control frames are read and handled here
 * whole. 1: a data frame is in ws->h; 0: a control frame was handled;
 * < 0: an error. */
static int read_head(weft_ws *ws)
{
    const char *d;
    if (!ws->have_head) {
        size_t need = 2;
        int k;
        for (;;) {
            ssize_t n = weft_stream_peek(ws->s, &d, need);
            if (n < (ssize_t)need) return lost(ws, n);
            k = weft__ws_head_parse((const uint8_t *)d, (size_t)n, !ws->client, &ws->h);
            if (k < 0) return fail_code(ws, -k);
            if (k > 0) break;
            uint8_t l7 = (uint8_t)d[1] & 127;
            need = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + ((uint8_t)d[1] & 0x80 ? 4 : 0);
        }
        if (weft__ws_rx_frame(&ws->rx, &ws->h) < 0) return fail_code(ws, WEFT__WS_PROTOCOL);
        weft_stream_consume(ws->s, (size_t)k);
        ws->have_head = 1;
        ws->got = 0;
        ws->last_rx = weft_now();
        if (ws->h.opcode == WEFT__WS_TEXT || ws->h.opcode == WEFT__WS_BINARY) {
            ws->msg_type = ws->h.opcode;
            ws->tail_fed = 0;
            ws->raw = 0;
        }
        if (ws->h.opcode < 8) {
            /* Heads count: a message of endless empty fragments would
             * otherwise keep a whole receive reading for ever. */
            ws->raw += (uint64_t)k;
            if (raw_over(ws)) return fail_code(ws, WEFT__WS_TOO_BIG);
        }
    }
    weft__ws_head *h = &ws->h;
    if (h->opcode < 8) {
        /* Over the limit of a whole receive: refused before its payload is
         * read (a compressed one is counted as it inflates). */
        if (!ws->rx.compressed && h->len - ws->got > ws->room) return fail_code(ws, WEFT__WS_TOO_BIG);
        return 1;
    }
    uint8_t p[126];
    /* Consumes nothing when cut short: the next call reads it again. */
    ssize_t n = h->len ? weft_stream_read_exactly(ws->s, p, (size_t)h->len) : 0;
    if (n < (ssize_t)h->len || n < 0) return lost(ws, n < 0 ? n : -WEFT_EWS_CLOSED);
    ws->have_head = 0;
    ws->last_rx = weft_now();
    if (h->masked) weft__ws_mask(p, (size_t)h->len, h->key, 0);
    if (h->opcode == WEFT__WS_PING) {
        /* After our close, nothing but the close may follow (5.5.1). */
        if (!ws->close_sent) answer_ping(ws, p, (size_t)h->len);
        return 0;
    }
    if (h->opcode == WEFT__WS_PONG) return 0; /* last_rx is the heartbeat's evidence */
    return on_close(ws, p, (size_t)h->len);
}

/* The compressed path: raw payload goes to the inflater, whose output is
 * the message. Returns bytes into buf, 0 with *last at the message's end,
 * or -1 when the frame's payload is used up (the next frame follows). */
static ssize_t inflate_part(weft_ws *ws, uint8_t *buf, size_t n, int *last)
{
    weft__ws_head *h = &ws->h;
    for (;;) {
        long out = weft__ws_zrx_run(ws->zrx, buf, n);
        if (out < 0) return fail_code(ws, WEFT__WS_BAD_DATA);
        if (out > 0) {
            if (weft__ws_rx_data(&ws->rx, buf, (size_t)out, 0) < 0)
                return fail_code(ws, WEFT__WS_BAD_DATA);
            return out;
        }
        if (ws->got < h->len) {
            const char *d;
            ssize_t a = weft_stream_peek(ws->s, &d, 1);
            if (a <= 0) return lost(ws, a);
            uint64_t left = h->len - ws->got;
            size_t k = (uint64_t)a < left ? (size_t)a : (size_t)left;
            if (k > CHUNK) k = CHUNK;
            /* Raw bytes count too: empty deflate blocks inflate to nothing,
             * and would otherwise let a whole receive read for ever. */
            ws->raw += k;
            if (raw_over(ws)) return fail_code(ws, WEFT__WS_TOO_BIG);
            if (weft__buf_reserve(&ws->zin, k)) return -ENOMEM;
            memcpy(ws->zin.p, d, k);
            if (h->masked) weft__ws_mask((uint8_t *)ws->zin.p, k, h->key, ws->got);
            if (weft__ws_zrx_feed(ws->zrx, ws->zin.p, k)) return -ENOMEM;
            weft_stream_consume(ws->s, k);
            ws->got += k;
            continue;
        }
        if (!h->fin) {
            ws->have_head = 0;
            return -1;
        }
        if (!ws->tail_fed) {
            /* The four bytes the sender stripped (RFC 7692 7.2.2). */
            ws->tail_fed = 1;
            if (weft__ws_zrx_feed(ws->zrx, "\0\0\xff\xff", 4)) return -ENOMEM;
            continue;
        }
        ws->have_head = 0;
        if (weft__ws_rx_data(&ws->rx, NULL, 0, 1) < 0) return fail_code(ws, WEFT__WS_BAD_DATA);
        /* A peer without context takeover never refers back: starting
         * afresh keeps a corrupt message from spoiling the next. */
        if (ws->client ? ws->pmd.server_no_takeover : ws->pmd.client_no_takeover)
            weft__ws_zrx_reset(ws->zrx);
        *last = 1;
        return 0;
    }
}

/* One step of the current message: see weft_ws_receive_part. */
static ssize_t part(weft_ws *ws, uint8_t *buf, size_t n, int *type, int *last)
{
    *last = 0;
    for (;;) {
        if (ws->err) return ws->err;
        if (ws->close_rcvd) {
            *type = 0;
            return 0;
        }
        int r = read_head(ws);
        if (r < 0) return r;
        if (r == 0) continue;
        weft__ws_head *h = &ws->h;
        *type = ws->msg_type;
        if (ws->rx.compressed) {
            ssize_t k = inflate_part(ws, buf, n, last);
            if (k == -1) continue;
            return k;
        }
        uint64_t left = h->len - ws->got;
        size_t k = 0;
        if (left) {
            const char *d;
            ssize_t a = weft_stream_peek(ws->s, &d, 1);
            if (a <= 0) return lost(ws, a);
            k = (uint64_t)a < left ? (size_t)a : (size_t)left;
            if (k > n) k = n;
            memcpy(buf, d, k);
            if (h->masked) weft__ws_mask(buf, k, h->key, ws->got);
            weft_stream_consume(ws->s, k);
            ws->got += k;
        }
        int end = ws->got == h->len;
        if (end) ws->have_head = 0;
        *last = end && h->fin;
        if (weft__ws_rx_data(&ws->rx, buf, k, *last) < 0) return fail_code(ws, WEFT__WS_BAD_DATA);
        if (k || *last) return (ssize_t)k;
        /* An empty frame that does not end the message: on to the next. */
    }
}

/* A receive while another task receives: -EBUSY, unless that task is
 * weft_ws_close reading the peer's answer (a receiver that had not started
 * yet when its sibling closed, as `weft ws` has with a file on stdin): the
 * connection is ending, so wait for the end and report it as a receive
 * would have, 0 for a close answered, else the error. */
static int reader_busy(weft_ws *ws)
{
    if (!ws->close_reading) return -EBUSY;
    int e = weft_event_wait(ws->closed);
    if (e) return e;
    return ws->close_rcvd ? 0 : ws->err ? ws->err : -WEFT_EWS_CLOSED;
}

ssize_t weft_ws_receive_part(weft_ws *ws, void *buf, size_t n, int *type, int *last)
{
    int e = weft_check("weft_ws_receive_part");
    if (e) return e;
    if (!n) return -EINVAL; /* no progress could be made */
    if (ws->reading) return reader_busy(ws);
    ws->reading = 1;
    ws->room = UINT64_MAX;
    ssize_t r = part(ws, buf, n, type, last);
    ws->reading = 0;
    return r;
}

int weft_ws_receive(weft_ws *ws, weft_ws_msg *m)
{
    int e = weft_check("weft_ws_receive");
    if (e) return e;
    if (ws->reading) return reader_busy(ws);
    ws->reading = 1;
    if (ws->msg_ready) ws->msg.len = 0, ws->msg_ready = 0;
    weft__buf *b = &ws->msg;
    size_t max = ws->o.max_message;
    int type = 0, last = 0;
    ssize_t r;
    for (;;) {
        if (weft__buf_reserve(b, CHUNK + 1)) {
            r = -ENOMEM;
            break;
        }
        /* At most one byte past the limit per step: an inflating message
         * (a deflate bomb) is stopped before its buffer outgrows it. */
        size_t cap = b->cap - b->len - 1, left = max - b->len;
        if (cap > left + 1) cap = left + 1;
        ws->room = left;
        r = part(ws, (uint8_t *)b->p + b->len, cap, &type, &last);
        if (r < 0) break;
        if (type == 0) break;
        b->len += (size_t)r;
        if (b->len > max) {
            r = fail_code(ws, WEFT__WS_TOO_BIG);
            break;
        }
        if (last) break;
    }
    ws->reading = 0;
    if (r < 0) return (int)r;
    if (type == 0) return 0;
    b->p[b->len] = 0;
    ws->msg_ready = 1;
    m->type = type;
    m->data = b->p;
    m->len = b->len;
    return type;
}

/* ---- closing ------------------------------------------------------------------- */

typedef struct close_args {
    weft_ws *ws;
    uint8_t p[125];
    size_t n;
} close_args;

static int close_body(void *arg)
{
    close_args *a = arg;
    weft_ws *ws = a->ws;
    if (!ws->close_sent) {
        int e = weft_lock_acquire(ws->send_lock);
        if (e) return e;
        /* The peer's close may have come (and been answered) meanwhile. */
        if (!ws->close_sent) e = write_frame(ws, 1, 0, WEFT__WS_CLOSE, a->p, a->n);
        ws->close_sent = 1;
        release_lock(ws);
        if (e) return e;
    }
    if (ws->reading) return weft_event_wait(ws->closed); /* that task reads the answer */
    ws->reading = ws->close_reading = 1;
    ws->room = UINT64_MAX;
    uint8_t scratch[4096];
    int type = 1, last;
    ssize_t r = 0;
    while (type && r >= 0) r = part(ws, scratch, sizeof scratch, &type, &last);
    ws->reading = ws->close_reading = 0;
    return r < 0 ? (int)r : 0;
}

/* After the handshake (or its failure) the connection ends: the client
 * closes its stream (the server ends TCP first, RFC 6455 7.1.1, so the
 * client's FIN is the answer); the server sends its FIN and leaves the
 * rest to the HTTP server, which closes the connection when the handler
 * returns. */
static void end_connection(weft_ws *ws, int graceful)
{
    if (ws->ended) return;
    ws->ended = 1;
    if (ws->client) {
        if (graceful) weft_stream_close(ws->s);
        else weft_stream_abort(ws->s);
        ws->s = NULL;
    } else if (graceful) {
        weft_stream_shutdown(ws->s);
    }
}

int weft_ws_close(weft_ws *ws, int code, const char *reason)
{
    int e = weft_check("weft_ws_close");
    if (e) return e;
    size_t rl = reason ? strlen(reason) : 0;
    if ((code && !weft__ws_close_code_ok(code)) || (!code && rl) || rl > 123 ||
        (rl && weft__utf8_step(0, (const uint8_t *)reason, rl) != 0))
        return -EINVAL;
    if (ws->ended) return -WEFT_EWS_CLOSED;
    close_args a = {.ws = ws, .n = code ? 2 + rl : 0};
    a.p[0] = (uint8_t)(code >> 8), a.p[1] = (uint8_t)code;
    if (rl) memcpy(a.p + 2, reason, rl);
    int r = 0;
    if (!ws->close_rcvd && !ws->err) {
        r = weft_timeout(ws->o.close_timeout_s, close_body, &a);
        if (r == -ETIMEDOUT) {
            /* Ours, or the caller's own deadline: the latter is the caller's. */
            r = weft_check(NULL) ? -ETIMEDOUT : -WEFT_EWS_CLOSE_TIMEOUT;
            if (!ws->err) ws->err = -WEFT_EWS_CLOSE_TIMEOUT;
        }
    } else if (ws->err && !ws->close_rcvd) {
        r = ws->err;
    }
    /* Over either way (an unanswered close sets no event on its own): a
     * receiver waiting for the close's reading (reader_busy) may go. */
    weft_event_set(ws->closed);
    end_connection(ws, r == 0);
    return r;
}

int weft_ws_close_code(const weft_ws *ws) { return ws->peer_code; }
const char *weft_ws_close_reason(const weft_ws *ws) { return ws->peer_reason; }
const char *weft_ws_protocol(const weft_ws *ws) { return ws->protocol; }
int weft_ws_deflate(const weft_ws *ws) { return ws->pmd.on; }

static void ws_release(weft_ws *ws)
{
    if (--ws->refs) return;
    weft_lock_free(ws->send_lock);
    weft_event_free(ws->closed);
    weft__ws_zrx_free(ws->zrx);
    weft__ws_ztx_free(ws->ztx);
    weft__buf_free(&ws->msg);
    weft__buf_free(&ws->tx);
    weft__buf_free(&ws->zin);
    free(ws->protocol);
    free(ws);
}

void weft_ws_free(weft_ws *ws)
{
    if (!ws) return;
    weft_debug_untrack(ws);
    end_connection(ws, 0);
    ws->freed = 1;
    if (ws->watchdog) {
        weft_cancel(ws->watchdog);
        weft_detach(ws->watchdog);
        ws->watchdog = NULL;
    }
    ws_release(ws);
}

/* ---- heartbeat and idle timeout ----------------------------------------------- */

/* Sleeps until the next thing to check: a ping to send, a pong overdue,
 * the idle limit. Any frame received counts as an answer (the peer is
 * there), as aiohttp does. Pings are sent only when they can go at once: a
 * sender waiting on a slow peer holds the lock, and that peer is still
 * reading, if slowly. */
static int watchdog_main(void *arg)
{
    weft_ws *ws = arg;
    double hb = ws->o.heartbeat_s, idle = ws->o.idle_s;
    double next_ping = hb > 0 ? weft_now() + hb : INFINITY;
    ws->ping_sent = 0;
    while (!ws->freed && !ws->err && !ws->ended) {
        double now = weft_now(), due = next_ping;
        int waiting_pong = ws->ping_sent > 0 && ws->last_rx < ws->ping_sent;
        if (waiting_pong && ws->ping_sent + hb / 2 < due) due = ws->ping_sent + hb / 2;
        if (idle > 0 && ws->last_rx + idle < due) due = ws->last_rx + idle;
        if (due > now && weft_sleep(due - now) < 0) break;
        if (ws->freed || ws->err || ws->ended || ws->close_rcvd) break;
        now = weft_now();
        if (idle > 0 && now - ws->last_rx >= idle) {
            kill_ws(ws, -WEFT_EWS_IDLE, WEFT__WS_GOING_AWAY, "idle timeout");
            break;
        }
        waiting_pong = ws->ping_sent > 0 && ws->last_rx < ws->ping_sent;
        if (waiting_pong && now - ws->ping_sent >= hb / 2) {
            kill_ws(ws, -WEFT_EWS_PING_TIMEOUT, 0, "");
            break;
        }
        if (now >= next_ping) {
            if (!ws->close_sent && try_control(ws, WEFT__WS_PING, "", 0) == 0) ws->ping_sent = now;
            next_ping = now + hb;
        }
    }
    ws_release(ws);
    return 0;
}
