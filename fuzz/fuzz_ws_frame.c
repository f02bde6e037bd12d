/* libFuzzer target: WebSocket frames (src/http/ws_frame.c), both ways.
 * The input is read as a stream of frames, in pieces of a size the first
 * byte picks, as a server (masked frames) or a client (unmasked) would read
 * it: heads, the message rules, unmasking in pieces, UTF-8 across
 * fragments, close payloads. Every frame accepted is then built again
 * (with a fresh key when masked) and must parse back to the same head and
 * payload: a difference aborts, like any ASan report.
 *
 * With the first byte's top bit set, permessage-deflate is on
 * (src/http/ws_deflate.c): a compressed message's payload goes through the
 * inflater as the connection feeds it (raw bytes in pieces, the stripped
 * tail at the end), its output taken in steps into buffers of exactly the
 * size asked (so ASan sees any overrun), and a message that inflates past
 * LIMIT is stopped there: the bytes produced may never exceed LIMIT + one
 * step, whatever the input (a decompression bomb). A whole message is then
 * compressed again, with the window and context takeover the second byte
 * picks, and must inflate back to the same bytes. The input is also read as
 * a Sec-WebSocket-Extensions value: an offer the server accepts must give
 * an answer that our client accepts with the same parameters. */
#include "http/ws_internal.h"
#include <stdlib.h>
#include <string.h>

#define MAX_PAYLOAD 4096
#define LIMIT 65536 /* the message limit in deflate mode */

static weft__ws_zrx *zrx, *zcheck;
static weft__ws_ztx *ztx[2][16]; /* [no_takeover][window bits] */
static uint8_t *msg;             /* the inflated message */
static size_t msg_len, checked; /* bytes, of which UTF-8-checked */

/* An offer as a server reads it, answered, and the answer as our client
 * reads it: the same parameters, or the handshake would fail. */
static void negotiate(const uint8_t *data, size_t size)
{
    char v[512];
    size_t n = size < sizeof v - 1 ? size : sizeof v - 1;
    memcpy(v, data, n);
    v[n] = 0;
    weft__ws_pmd p, q;
    int r = weft__ws_pmd_parse(v, 1, &p);
    if (r != 0 && r != 1) abort();
    weft__ws_pmd_parse(v, 0, &q); /* any answer: no crash, any result */
    if (r != 1) return;
    if (p.server_bits < 9 || p.server_bits > 15 || p.client_bits < 9 || p.client_bits > 15) abort();
    char ans[160];
    weft__ws_pmd_format(&p, 1, ans, sizeof ans);
    if (weft__ws_pmd_parse(ans, 0, &q) != 1) abort();
    if (q.server_bits != p.server_bits || q.server_no_takeover != p.server_no_takeover ||
        q.client_no_takeover != p.client_no_takeover)
        abort();
}

/* Inflates what was fed, in steps of `step` bytes, into msg. Returns 0, 1
 * once the message passed LIMIT (stopped: 1009), -1 for corrupt data. */
static int drain(size_t step)
{
    for (;;) {
        size_t cap = step;
        if (cap > LIMIT + 1 - msg_len) cap = LIMIT + 1 - msg_len;
        uint8_t *out = malloc(cap); /* exactly cap: an overrun is an ASan report */
        long k = weft__ws_zrx_run(zrx, out, cap);
        if (k > (long)cap) abort();
        if (k > 0) memcpy(msg + msg_len, out, (size_t)k), msg_len += (size_t)k;
        free(out);
        if (k < 0) return -1;
        if (msg_len > LIMIT) return 1;
        if (k == 0) return 0;
    }
}

/* A whole inflated message, compressed again and inflated back. */
static void recompress(int bits, int no_takeover)
{
    weft__ws_ztx **t = &ztx[no_takeover][bits];
    if (!*t) *t = weft__ws_ztx_new(6, bits);
    weft__buf z = {0};
    if (weft__ws_ztx_run(*t, msg, msg_len, &z, no_takeover)) abort();
    if (z.len > weft__ws_ztx_bound(*t, msg_len)) abort(); /* try_send's room check */
    if (no_takeover) weft__ws_zrx_reset(zcheck);
    static uint8_t back[LIMIT + 1];
    size_t got = 0;
    weft__ws_zrx_feed(zcheck, z.p, z.len);
    weft__ws_zrx_feed(zcheck, "\0\0\xff\xff", 4);
    long k;
    while ((k = weft__ws_zrx_run(zcheck, back + got, sizeof back - got)) > 0) got += (size_t)k;
    if (k < 0 || got != msg_len || memcmp(back, msg, msg_len)) abort();
    weft__buf_free(&z);
}

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
    int want_mask = data[0] & 1, allow_rsv1 = (data[0] >> 1) & 1, z = data[0] >> 7;
    size_t step = (size_t)(data[0] >> 2) % 32 + 1;
    data++, size--;
    int bits = 15, no_takeover = 0;
    if (z) {
        if (size < 1) return 0;
        bits = 9 + data[0] % 7, no_takeover = (data[0] >> 3) & 1;
        allow_rsv1 = 1;
        data++, size--;
        negotiate(data, size);
        if (!zrx) zrx = weft__ws_zrx_new(), zcheck = weft__ws_zrx_new(), msg = malloc(LIMIT + 1);
        /* Each input is a fresh connection. */
        weft__ws_zrx_reset(zrx);
        weft__ws_zrx_reset(zcheck);
        for (int i = 0; i < 16; i++) weft__ws_ztx_free(ztx[no_takeover][i]), ztx[no_takeover][i] = NULL;
        msg_len = checked = 0;
    }
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
        } else if (h.opcode < 8 && rx.compressed && z) {
            if (h.opcode != WEFT__WS_CONT) msg_len = checked = 0;
            /* Raw bytes in pieces, inflated as they come. */
            int r = 0;
            for (uint64_t off = 0; off < h.len && !r; off += step) {
                size_t n = h.len - off < step ? (size_t)(h.len - off) : step;
                weft__ws_zrx_feed(zrx, payload + off, n);
                r = drain(step * 7 + 1);
            }
            if (!r && h.fin) {
                weft__ws_zrx_feed(zrx, "\0\0\xff\xff", 4);
                r = drain(step * 7 + 1);
            }
            if (msg_len > LIMIT + 1) abort(); /* the bomb got through */
            if (r) return 0;
            if (weft__ws_rx_data(&rx, msg + checked, msg_len - checked, h.fin) < 0) return 0;
            checked = msg_len;
            if (h.fin) {
                recompress(bits, no_takeover);
                if (no_takeover) weft__ws_zrx_reset(zrx);
            }
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
