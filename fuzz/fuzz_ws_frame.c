/* libFuzzer target: WebSocket frames (src/http/ws_frame.c), both ways.
 * The input is read as a stream of frames, in pieces of a size the first
 * byte picks, as a server (masked frames) or a client (unmasked) would read
 * it: heads, the message rules, unmasking in pieces, UTF-8 across
 * fragments, close payloads. Every frame accepted is then built again
 * (with a fresh key when masked) and must parse back to the same head and
 * payload: a difference aborts, like any ASan report. */
#include "http/ws_frame.h"
#include <stdlib.h>
#include <string.h>

#define MAX_PAYLOAD 4096

static void roundtrip(const weft__ws_head *h, const uint8_t *payload, int want_mask)
{
    static uint8_t buf[WEFT__WS_MAX_HEAD + MAX_PAYLOAD];
    uint8_t key[4] = {payload[0 % (h->len ? h->len : 1)] ^ 0x5a, 1, 2, 3};
    size_t k = weft__ws_head_build(buf, h->fin, h->rsv, h->opcode, h->len, want_mask ? key : NULL);
    memcpy(buf + k, payload, h->len);
    if (want_mask) weft__ws_mask(buf + k, h->len, key, 0);
    weft__ws_head g;
    /* Every prefix of a head is "need more", never an error. */
    for (size_t i = 0; i < k; i++)
        if (weft__ws_head_parse(buf, i, want_mask, &g) != 0) abort();
    if (weft__ws_head_parse(buf, k + h->len, want_mask, &g) != (int)k) abort();
    if (g.fin != h->fin || g.rsv != h->rsv || g.opcode != h->opcode || g.len != h->len) abort();
    if (want_mask) weft__ws_mask(buf + k, g.len, g.key, 0);
    if (memcmp(buf + k, payload, h->len)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int want_mask = data[0] & 1, allow_rsv1 = (data[0] >> 1) & 1;
    size_t step = (size_t)(data[0] >> 2) % 32 + 1;
    data++, size--;
    weft__ws_rx rx = {.allow_rsv1 = (uint8_t)allow_rsv1};
    static uint8_t payload[MAX_PAYLOAD];
    size_t pos = 0;
    while (pos < size) {
        weft__ws_head h;
        int k = 0;
        /* The head arrives a piece at a time. */
        for (size_t have = 0;;) {
            have = have + step < size - pos ? have + step : size - pos;
            k = weft__ws_head_parse(data + pos, have, want_mask, &h);
            if (k != 0 || have == size - pos) break;
        }
        if (k <= 0) return 0;
        if (k > WEFT__WS_MAX_HEAD) abort();
        if (h.opcode >= 8 && (h.len > 125 || !h.fin)) abort();
        if (weft__ws_rx_frame(&rx, &h) < 0) return 0;
        pos += (size_t)k;
        if (h.len > MAX_PAYLOAD || h.len > size - pos) return 0;
        memcpy(payload, data + pos, h.len);
        /* Unmasked in pieces, as the connection does as bytes arrive. */
        for (uint64_t off = 0; off < h.len; off += step) {
            size_t n = h.len - off < step ? (size_t)(h.len - off) : step;
            if (h.masked) weft__ws_mask(payload + off, n, h.key, off);
        }
        pos += h.len;
        if (h.opcode == WEFT__WS_CLOSE) {
            int code;
            int bad = weft__ws_close_parse(payload, h.len, &code);
            if (!bad && code != 1005 && !weft__ws_close_code_ok(code)) abort();
            if (bad) return 0;
        } else if (h.opcode < 8) {
            int bad = 0;
            for (uint64_t off = 0; off < h.len && !bad; off += step) {
                size_t n = h.len - off < step ? (size_t)(h.len - off) : step;
                bad = weft__ws_rx_data(&rx, payload + off, n, 0) < 0;
            }
            if (bad || weft__ws_rx_data(&rx, NULL, 0, h.fin) < 0) return 0;
        }
        roundtrip(&h, payload, want_mask);
    }
    return 0;
}
