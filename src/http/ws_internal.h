/* The WebSocket connection's insides, shared by ws.c (frames over a
 * stream), ws_server.c and ws_client.c (the handshakes) and ws_deflate.c.
 * Not installed. */
#ifndef WEFT_HTTP_WS_INTERNAL_H
#define WEFT_HTTP_WS_INTERNAL_H

#include <weft/ws.h>
#include "http/internal.h"
#include "http/ws_frame.h"

/* permessage-deflate parameters agreed in the handshake (RFC 7692 7.1). */
typedef struct weft__ws_pmd {
    int on;
    int server_no_takeover, client_no_takeover;
    int server_bits, client_bits;  /* the window each side compresses with, 9-15 */
    int client_bits_asked;         /* server: the offer had client_max_window_bits */
} weft__ws_pmd;

typedef struct weft__ws_zrx weft__ws_zrx;
typedef struct weft__ws_ztx weft__ws_ztx;

struct weft_ws {
    weft_stream *s;
    weft_ws_opts o;
    uint8_t client;          /* masks its frames, takes unmasked ones */
    uint8_t reading;         /* a task is in a receive */
    uint8_t close_reading;   /* ...and it is weft_ws_close, reading the answer */
    uint8_t have_head;       /* h is the frame being read */
    uint8_t close_sent, close_rcvd, ended, freed, tail_fed;
    int err;                 /* sticky: every later call returns it */
    int refs;                /* the user's and the watchdog's */
    weft__ws_rx rx;
    weft__ws_head h;
    uint64_t got;            /* payload bytes of h taken so far */
    uint64_t room;           /* weft_ws_receive: bytes the message may still grow */
    uint64_t raw;            /* bytes of the message on the wire so far: frame
                                heads, and compressed payload */
    int msg_type;
    uint8_t msg_ready;       /* msg holds a delivered message: emptied at the next receive */
    weft__buf msg;           /* weft_ws_receive's message */
    weft__buf tx;            /* a client's masked copy (the sender's, held across
                                its waits: the reader must never use it) */
    weft__buf zin;           /* the reader's unmasked copy of compressed input */
    int peer_code;
    char peer_reason[124];
    char *protocol;
    weft_lock *send_lock;    /* one message (all its frames) at a time */
    uint8_t pong_pending;    /* a ping to answer when the lock is let go */
    uint8_t pong_len;
    uint8_t pong[125];
    weft_event *closed;      /* set once the peer's close arrived, or on error */
    weft_task *watchdog;     /* heartbeat and idle timeout */
    double last_rx, ping_sent;
    weft__ws_pmd pmd;
    weft__ws_zrx *zrx;
    weft__ws_ztx *ztx;
};

/* ws.c */
/* A WebSocket over s (client: masks). NULL and errno. Takes ownership of
 * protocol (may be NULL). */
weft_ws *weft__ws_new(weft_stream *s, int client, const weft_ws_opts *opt, char *protocol,
                      const weft__ws_pmd *pmd);
/* The base64 Sec-WebSocket-Accept value for key (29 bytes with the NUL). */
void weft__ws_accept_key(const char *key, char out[29]);

/* ws_deflate.c (RFC 7692) */
/* Parses a Sec-WebSocket-Extensions value: the first permessage-deflate
 * offer (server) or answer (client) into *p. Server: 1 if one was
 * acceptable; client: 1 if the answer is valid for what we offered, -1 if
 * it is not (the handshake then fails), 0 if there is none. */
int weft__ws_pmd_parse(const char *value, int server, weft__ws_pmd *p);
/* The header value a server answers with / a client offers. */
void weft__ws_pmd_format(const weft__ws_pmd *p, int server, char *out, size_t cap);
/* Inflating what the peer sent: always with a 32 KiB window, which reads
 * whatever window the peer compressed with. */
weft__ws_zrx *weft__ws_zrx_new(void);
void weft__ws_zrx_free(weft__ws_zrx *z);
/* Forgets the window and any queued input: the next message starts a new
 * stream. */
void weft__ws_zrx_reset(weft__ws_zrx *z);
/* Queues n compressed bytes. 0 or -ENOMEM. */
int weft__ws_zrx_feed(weft__ws_zrx *z, const void *in, size_t n);
/* Inflates queued bytes into out: bytes produced (0: it needs more input),
 * or -1 for corrupt data. */
long weft__ws_zrx_run(weft__ws_zrx *z, void *out, size_t cap);
/* Compressing what we send, with the window agreed (8 counts as 9: zlib's
 * smallest, which RFC 7692 7.1.2.1 cannot accept, so it is never agreed). */
weft__ws_ztx *weft__ws_ztx_new(int level, int window_bits);
/* The most bytes weft__ws_ztx_run can make of n (its flush included). */
size_t weft__ws_ztx_bound(weft__ws_ztx *z, size_t n);
void weft__ws_ztx_free(weft__ws_ztx *z);
/* Compresses a whole message into out (emptied first), the trailing
 * 00 00 ff ff removed (RFC 7692 7.2.1); no_takeover: the next message
 * starts afresh. 0 or -ENOMEM. */
int weft__ws_ztx_run(weft__ws_ztx *z, const void *in, size_t n, weft__buf *out, int no_takeover);

#endif
