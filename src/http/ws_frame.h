/* WebSocket framing (RFC 6455 section 5) without I/O: frame heads parsed
 * and built, masking, UTF-8 checked across fragments, the rules a message's
 * frames must follow, close payloads (7.4). The connection code (ws.c) and
 * the fuzz target drive it. Not installed. */
#ifndef WEFT_HTTP_WS_FRAME_H
#define WEFT_HTTP_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

enum {
    WEFT__WS_CONT = 0x0,
    WEFT__WS_TEXT = 0x1,
    WEFT__WS_BINARY = 0x2,
    WEFT__WS_CLOSE = 0x8,
    WEFT__WS_PING = 0x9,
    WEFT__WS_PONG = 0xA,
};

/* Close codes (RFC 6455 7.4.1) weft sends itself. */
enum {
    WEFT__WS_NORMAL = 1000,
    WEFT__WS_GOING_AWAY = 1001,
    WEFT__WS_PROTOCOL = 1002,
    WEFT__WS_BAD_DATA = 1007,
    WEFT__WS_POLICY = 1008,
    WEFT__WS_TOO_BIG = 1009,
    WEFT__WS_INTERNAL = 1011,
    WEFT__WS_TRY_LATER = 1013,
};

/* The longest frame head: 2 bytes, 8 of length, 4 of mask. */
#define WEFT__WS_MAX_HEAD 14

typedef struct weft__ws_head {
    uint8_t fin, rsv, opcode, masked; /* rsv: the three bits, RSV1 = 4 */
    uint8_t key[4];
    uint64_t len;
} weft__ws_head;

/* Parses the frame head at data[0..n). Returns its length once complete, 0
 * if more bytes are needed, or -code (the close code to answer with,
 * 1002) for a head no peer may send: a 64-bit length with its top bit set,
 * a length not in its shortest form (126 for what 7 bits hold, 127 for
 * what 16 bits hold),
 * an unknown opcode, a control frame that is fragmented or over 125 bytes.
 * want_mask: 1 (a server) requires a mask, 0 (a client) refuses one; both
 * breaches are -1002. Reserved bits are left for weft__ws_rx_frame. */
int weft__ws_head_parse(const uint8_t *data, size_t n, int want_mask, weft__ws_head *h);
/* Writes a frame head into out (WEFT__WS_MAX_HEAD bytes) and returns its
 * length. key NULL: unmasked. */
size_t weft__ws_head_build(uint8_t *out, int fin, int rsv, int opcode, uint64_t len,
                           const uint8_t *key);
/* XORs p[0..n) with key, starting at byte `offset` of the payload (so a
 * payload may be unmasked in pieces). */
void weft__ws_mask(uint8_t *p, size_t n, const uint8_t key[4], uint64_t offset);

/* Incremental UTF-8 validation: state 0 at a character boundary. Returns
 * the new state, or -1 on an invalid sequence (overlong forms, surrogates,
 * past U+10FFFF, stray continuation bytes), found at the first byte that
 * makes it so. */
int weft__utf8_step(int state, const uint8_t *p, size_t n);

/* 1 if a close frame may carry this code (RFC 6455 7.4, the IANA registry):
 * 1000-1003, 1007-1014, 3000-4999. 1004-1006 and 1015 are never sent. */
int weft__ws_close_code_ok(int code);
/* Checks a close frame's payload: empty, or a valid code and a UTF-8
 * reason. Sets *code (1005, "no status", when empty) and returns 0, or the
 * close code to answer with (1002: a one-byte payload or a bad code;
 * 1007: a reason that is not UTF-8). */
int weft__ws_close_parse(const uint8_t *p, size_t n, int *code);

/* The receiving side's message state: which frames may come next. */
typedef struct weft__ws_rx {
    uint8_t in_msg;       /* a fragmented message is open */
    uint8_t opcode;       /* its type (text/binary) */
    uint8_t compressed;   /* its first frame had RSV1 (permessage-deflate) */
    uint8_t allow_rsv1;   /* permessage-deflate was negotiated */
    int utf8;             /* weft__utf8_step state of the open text message */
} weft__ws_rx;

/* Checks a parsed head against the message state and updates it: reserved
 * bits (RSV1 only with deflate, only on a message's first frame, never on
 * a control frame), a data frame inside an open message, a continuation
 * with none open. 0 or -1002. A control frame leaves the state alone. */
int weft__ws_rx_frame(weft__ws_rx *rx, const weft__ws_head *h);
/* Takes n bytes of the open message's (decompressed) payload: a text
 * message's UTF-8 is checked across frames, an invalid byte seen at once.
 * msg_end: these are its last bytes; the message is then closed (a text
 * message must end on a character boundary). 0 or -1007. */
int weft__ws_rx_data(weft__ws_rx *rx, const uint8_t *p, size_t n, int msg_end);

#endif
