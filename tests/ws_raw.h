/* A raw WebSocket peer for tests: frames built and read byte by byte over
 * a weft stream, so that tests can send what no well-behaved library would
 * (reserved bits, bad lengths, unmasked frames) and see exactly what weft
 * answers. Frame heads are parsed with weft's own codec, which
 * test_ws_frame checks on its own. */
#ifndef WEFT_TESTS_WS_RAW_H
#define WEFT_TESTS_WS_RAW_H
#include "check.h"
#include "http/ws_frame.h"
#include <weft/io.h>
#include <stdint.h>
#include <string.h>

/* Sends one frame; mask: a client's (a fixed, non-zero key). */
static inline void raw_frame(weft_stream *s, int fin, int rsv, int op, const void *p, size_t n,
                             int mask)
{
    uint8_t head[WEFT__WS_MAX_HEAD], key[4] = {0x12, 0x34, 0x56, 0x78};
    size_t hl = weft__ws_head_build(head, fin, rsv, op, n, mask ? key : NULL);
    uint8_t *copy = malloc(n + 1);
    memcpy(copy, p, n);
    if (mask) weft__ws_mask(copy, n, key, 0);
    struct iovec iov[2] = {{head, hl}, {copy, n}};
    weft_stream_writev(s, iov, 2);
    free(copy);
}

/* Reads one frame: its head into *h and payload (unmasked) into buf (cap
 * bytes; the rest is dropped); returns the payload length, or -1 at EOF or
 * on an error (a reset). want_mask: frames from a client. */
static inline long raw_read(weft_stream *s, weft__ws_head *h, uint8_t *buf, size_t cap,
                            int want_mask)
{
    const char *d;
    size_t need = 2;
    int k;
    for (;;) {
        ssize_t n = weft_stream_peek(s, &d, need);
        if (n < (ssize_t)need) return -1;
        k = weft__ws_head_parse((const uint8_t *)d, (size_t)n, want_mask, h);
        if (k < 0) return -2;
        if (k > 0) break;
        need++;
    }
    weft_stream_consume(s, (size_t)k);
    uint64_t left = h->len, off = 0;
    while (left) {
        uint8_t tmp[4096];
        size_t take = left < sizeof tmp ? (size_t)left : sizeof tmp;
        if (weft_stream_read_exactly(s, tmp, take) != (ssize_t)take) return -1;
        if (h->masked) weft__ws_mask(tmp, take, h->key, off);
        if (off < cap) memcpy(buf + off, tmp, cap - off < take ? cap - off : take);
        off += take;
        left -= take;
    }
    return (long)h->len;
}

/* Reads frames until a close; returns its code (1005: none), or -1 if the
 * connection ended without one. Data frames before it are skipped. */
static inline int raw_close_code(weft_stream *s, int want_mask)
{
    weft__ws_head h;
    uint8_t buf[256];
    for (;;) {
        long n = raw_read(s, &h, buf, sizeof buf, want_mask);
        if (n < 0) return -1;
        if (h.opcode == WEFT__WS_CLOSE) return n >= 2 ? buf[0] << 8 | buf[1] : 1005;
    }
}

/* Reads the HTTP head (through the blank line) into buf; its length. */
static inline long raw_head(weft_stream *s, char *buf, size_t cap)
{
    ssize_t n = weft_stream_read_until(s, "\r\n\r\n", 4, buf, cap - 1);
    if (n < 0) return n;
    buf[n] = 0;
    return n;
}
/* Sends the upgrade request (RFC 6455's sample key) on s and checks the
 * answer is a 101. */
static inline void raw_upgrade(weft_stream *s)
{
    static const char req[] = "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    CHECK_EQ(weft_stream_write(s, req, sizeof req - 1), (ssize_t)sizeof req - 1);
    char head[1024];
    CHECK(raw_head(s, head, sizeof head) > 0 && strstr(head, " 101 "));
}
#endif
