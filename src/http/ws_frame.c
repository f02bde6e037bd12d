/* WebSocket framing without I/O (RFC 6455 section 5): see ws_frame.h. Kept
 * apart from the connection so that a fuzzer drives it byte by byte. */
#include "http/ws_frame.h"
#include <string.h>

int weft__ws_head_parse(const uint8_t *d, size_t n, int want_mask, weft__ws_head *h)
{
    if (n < 2) return 0;
    h->fin = d[0] >> 7;
    h->rsv = (d[0] >> 4) & 7;
    h->opcode = d[0] & 15;
    h->masked = d[1] >> 7;
    uint64_t len = d[1] & 127;
    size_t need = 2;
    int control = h->opcode >= 8;
    /* Unknown opcodes end the connection whatever else the head says. */
    if ((h->opcode > WEFT__WS_BINARY && h->opcode < WEFT__WS_CLOSE) || h->opcode > WEFT__WS_PONG)
        return -1002;
    if (control && (!h->fin || len > 125)) return -1002;
    if (h->masked != (want_mask ? 1 : 0)) return -1002;
    if (len == 126) {
        if (n < 4) return 0;
        len = (uint64_t)d[2] << 8 | d[3];
        /* "The minimal number of bytes MUST be used" (5.2): a peer that
         * writes lengths its own way is refused, as wsproto does. */
        if (len < 126) return -1002;
        need = 4;
    } else if (len == 127) {
        if (n < 10) return 0;
        /* The top bit must be clear (5.2): 2^63 and up is no length. */
        if (d[2] & 0x80) return -1002;
        len = 0;
        for (int i = 2; i < 10; i++) len = len << 8 | d[i];
        if (len <= 0xffff) return -1002;
        need = 10;
    }
    if (h->masked) {
        if (n < need + 4) return 0;
        memcpy(h->key, d + need, 4);
        need += 4;
    }
    h->len = len;
    return (int)need;
}

size_t weft__ws_head_build(uint8_t *out, int fin, int rsv, int opcode, uint64_t len,
                           const uint8_t *key)
{
    size_t k = 2;
    out[0] = (uint8_t)((fin ? 0x80 : 0) | (rsv & 7) << 4 | (opcode & 15));
    uint8_t m = key ? 0x80 : 0;
    if (len < 126) {
        out[1] = m | (uint8_t)len;
    } else if (len <= 0xffff) {
        out[1] = m | 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        k = 4;
    } else {
        out[1] = m | 127;
        for (int i = 0; i < 8; i++) out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        k = 10;
    }
    if (key) {
        memcpy(out + k, key, 4);
        k += 4;
    }
    return k;
}

void weft__ws_mask(uint8_t *p, size_t n, const uint8_t key[4], uint64_t offset)
{
    uint8_t k[8];
    for (int i = 0; i < 8; i++) k[i] = key[(offset + (uint64_t)i) & 3];
    size_t i = 0;
    /* Eight bytes at a time once the key is rotated to this offset: the
     * mask repeats every 4 bytes, so k serves every 8-byte word. */
    if (n >= 8) {
        uint64_t kw;
        memcpy(&kw, k, 8);
        for (; i + 8 <= n; i += 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            w ^= kw;
            memcpy(p + i, &w, 8);
        }
    }
    for (; i < n; i++) p[i] ^= k[i & 7];
}

/* A state is (continuation bytes still due) << 16 | (lowest allowed next
 * byte) << 8 | (highest): the first continuation after E0, ED, F0 and F4
 * has a narrower range, which is what rules out overlong forms, surrogates
 * and code points past U+10FFFF. */
#define U8(need, lo, hi) ((need) << 16 | (lo) << 8 | (hi))

int weft__utf8_step(int state, const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (state == 0) {
            /* ASCII runs, eight bytes at a time. */
            while (i + 8 <= n) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                if (w & 0x8080808080808080ull) break;
                i += 8;
            }
            if (i >= n) break;
            uint8_t c = p[i++];
            if (c < 0x80) continue;
            if (c >= 0xC2 && c <= 0xDF) state = U8(1, 0x80, 0xBF);
            else if (c == 0xE0) state = U8(2, 0xA0, 0xBF);
            else if (c == 0xED) state = U8(2, 0x80, 0x9F);
            else if (c >= 0xE1 && c <= 0xEF) state = U8(2, 0x80, 0xBF);
            else if (c == 0xF0) state = U8(3, 0x90, 0xBF);
            else if (c >= 0xF1 && c <= 0xF3) state = U8(3, 0x80, 0xBF);
            else if (c == 0xF4) state = U8(3, 0x80, 0x8F);
            else return -1;
        } else {
            uint8_t c = p[i++];
            int need = state >> 16, lo = (state >> 8) & 0xff, hi = state & 0xff;
            if (c < lo || c > hi) return -1;
            state = need > 1 ? U8(need - 1, 0x80, 0xBF) : 0;
        }
    }
    return state;
}

int weft__ws_close_code_ok(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

int weft__ws_close_parse(const uint8_t *p, size_t n, int *code)
{
    *code = 1005;
    if (n == 0) return 0;
    if (n == 1) return WEFT__WS_PROTOCOL;
    int c = p[0] << 8 | p[1];
    if (!weft__ws_close_code_ok(c)) return WEFT__WS_PROTOCOL;
    if (weft__utf8_step(0, p + 2, n - 2) != 0) return WEFT__WS_BAD_DATA;
    *code = c;
    return 0;
}

int weft__ws_rx_frame(weft__ws_rx *rx, const weft__ws_head *h)
{
    int rsv1 = h->rsv & 4;
    if (h->rsv & 3) return -1002;
    if (h->opcode >= 8) return rsv1 ? -1002 : 0;
    if (h->opcode == WEFT__WS_CONT) {
        /* RSV1 marks a whole message as compressed: only its first frame
         * carries it (RFC 7692 6). */
        if (!rx->in_msg || rsv1) return -1002;
    } else {
        if (rx->in_msg) return -1002;
        if (rsv1 && !rx->allow_rsv1) return -1002;
        rx->in_msg = 1;
        rx->opcode = h->opcode;
        rx->compressed = rsv1 ? 1 : 0;
        rx->utf8 = 0;
    }
    return 0;
}

int weft__ws_rx_data(weft__ws_rx *rx, const uint8_t *p, size_t n, int msg_end)
{
    if (rx->opcode == WEFT__WS_TEXT) {
        rx->utf8 = weft__utf8_step(rx->utf8, p, n);
        if (rx->utf8 < 0 || (msg_end && rx->utf8 != 0)) return -1007;
    }
    if (msg_end) rx->in_msg = 0;
    return 0;
}
