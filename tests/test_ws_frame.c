/* The WebSocket frame codec (src/http/ws_frame.c) without sockets: heads
 * (lengths at each boundary, 2^63, masks, opcodes, control-frame rules),
 * masking at any offset, UTF-8 (autobahn section 6's kinds of invalid
 * sequences, split at every byte), close payloads (section 7.9's codes),
 * the message rules (section 5's fragmentation cases). The fuzz target's
 * corpus is replayed by test_http_fuzz_corpus. */
#include "check.h"
#include "http/ws_frame.h"
#include <stdio.h>

static void t_heads(void)
{
    weft__ws_head h;
    uint8_t b[WEFT__WS_MAX_HEAD];
    static const uint64_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 1ull << 32, (1ull << 63) - 1};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
        for (int m = 0; m < 2; m++) {
            uint8_t key[4] = {1, 2, 3, (uint8_t)i};
            size_t k = weft__ws_head_build(b, 1, 0, WEFT__WS_BINARY, lens[i], m ? key : NULL);
            CHECK_EQ(k, (lens[i] < 126 ? 2 : lens[i] < 65536 ? 4 : 10) + (m ? 4 : 0));
            for (size_t j = 0; j < k; j++) CHECK_EQ(weft__ws_head_parse(b, j, m, &h), 0);
            CHECK_EQ(weft__ws_head_parse(b, k, m, &h), (int)k);
            CHECK(h.len == lens[i] && h.fin && h.opcode == WEFT__WS_BINARY && h.masked == m);
            if (m) CHECK(!memcmp(h.key, key, 4));
            /* The wrong side of the mask rule. */
            CHECK_EQ(weft__ws_head_parse(b, k, !m, &h), -1002);
        }
    /* 2^63: the top bit of a 64-bit length. */
    static const uint8_t huge[] = {0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0};
    CHECK_EQ(weft__ws_head_parse(huge, sizeof huge, 0, &h), -1002);
    /* Reserved opcodes 3-7 and 11-15 (autobahn 4.1.x, 4.2.x). */
    for (int op = 0; op < 16; op++) {
        uint8_t f[2] = {(uint8_t)(0x80 | op), 0};
        int bad = (op > 2 && op < 8) || op > 10;
        CHECK_EQ(weft__ws_head_parse(f, 2, 0, &h), bad ? -1002 : 2);
    }
    /* Control frames: fragmented (5.1/5.2), over 125 bytes (2.5). */
    uint8_t ping_frag[2] = {0x09, 0}, ping_big[4] = {0x89, 126, 0, 126}, ping125[2] = {0x89, 125};
    CHECK_EQ(weft__ws_head_parse(ping_frag, 2, 0, &h), -1002);
    CHECK_EQ(weft__ws_head_parse(ping_big, 4, 0, &h), -1002);
    CHECK_EQ(weft__ws_head_parse(ping125, 2, 0, &h), 2);
    /* Lengths not in their shortest form (5.2 "MUST"; wsproto refuses
     * them too), and the smallest of each form that is. */
    uint8_t l16_125[4] = {0x82, 126, 0, 125}, l16_126[4] = {0x82, 126, 0, 126};
    uint8_t l64_ffff[10] = {0x82, 127, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    uint8_t l64_10000[10] = {0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0};
    CHECK_EQ(weft__ws_head_parse(l16_125, 4, 0, &h), -1002);
    CHECK_EQ(weft__ws_head_parse(l16_126, 4, 0, &h), 4);
    CHECK_EQ(weft__ws_head_parse(l64_ffff, 10, 0, &h), -1002);
    CHECK_EQ(weft__ws_head_parse(l64_10000, 10, 0, &h), 10);
}

static void t_mask(void)
{
    uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d}, a[100], b[100];
    for (int i = 0; i < 100; i++) a[i] = b[i] = (uint8_t)(i * 7);
    weft__ws_mask(a, 100, key, 0);
    for (int i = 0; i < 100; i++) CHECK_EQ(a[i], (uint8_t)(b[i] ^ key[i & 3]));
    /* In pieces of every size and offset: the same as in one go. */
    for (size_t piece = 1; piece < 20; piece++) {
        memcpy(a, b, 100);
        for (size_t off = 0; off < 100; off += piece)
            weft__ws_mask(a + off, off + piece > 100 ? 100 - off : piece, key, off);
        for (int i = 0; i < 100; i++) CHECK_EQ(a[i], (uint8_t)(b[i] ^ key[i & 3]));
    }
}

static int utf8_ok(const char *s, size_t n)
{
    int whole = weft__utf8_step(0, (const uint8_t *)s, n);
    /* Split at every byte: the same verdict (an invalid byte may be seen
     * earlier than the end, never later). */
    for (size_t cut = 0; cut <= n; cut++) {
        int st = weft__utf8_step(0, (const uint8_t *)s, cut);
        if (st >= 0) st = weft__utf8_step(st, (const uint8_t *)s + cut, n - cut);
        CHECK_EQ(st == 0, whole == 0);
    }
    return whole == 0;
}
#define CHECK_V(c) ((c) ? (void)0 : (fprintf(stderr, "%s:%d: failed\n", __FILE__, __LINE__), exit(1)))
#define OK(s) CHECK_V(utf8_ok(s, sizeof s - 1))
#define BAD(s) CHECK_V(!utf8_ok(s, sizeof s - 1))

static void t_utf8(void)
{
    OK("");
    OK("Hello-\xC2\xB5@\xC3\x9F\xC3\xB6\xC3\xA4\xC3\xBC\xC3\xA0\xC3\xA1-UTF-8!!");
    OK("\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5");
    /* Boundaries: first and last of each length, U+D7FF, U+E000, U+10FFFF. */
    OK("\x00"), OK("\xC2\x80"), OK("\xE0\xA0\x80"), OK("\xF0\x90\x80\x80");
    OK("\x7F"), OK("\xDF\xBF"), OK("\xEF\xBF\xBF"), OK("\xF4\x8F\xBF\xBF");
    OK("\xED\x9F\xBF"), OK("\xEE\x80\x80"), OK("\xEF\xBF\xBD");
    /* Past U+10FFFF, 5- and 6-byte forms. */
    BAD("\xF4\x90\x80\x80"), BAD("\xF7\xBF\xBF\xBF"), BAD("\xF8\x88\x80\x80\x80");
    BAD("\xFC\x84\x80\x80\x80\x80");
    /* Stray continuations, lone lead bytes, truncated sequences. */
    BAD("\x80"), BAD("\xBF"), BAD("\x80\xBF\x80"), BAD("\xC0 "), BAD("\xE0\x80 ");
    BAD("\xC2"), BAD("\xE0\xA0"), BAD("\xF0\x90\x80"), BAD("\xDF"), BAD("\xEF\xBF");
    BAD("\xFE"), BAD("\xFF"), BAD("\xFE\xFE\xFF\xFF");
    /* Overlong forms, including of NUL and '/'. */
    BAD("\xC0\xAF"), BAD("\xE0\x80\xAF"), BAD("\xF0\x80\x80\xAF"), BAD("\xC1\xBF");
    BAD("\xE0\x9F\xBF"), BAD("\xF0\x8F\xBF\xBF"), BAD("\xC0\x80"), BAD("\xE0\x80\x80");
    /* UTF-16 surrogates, single and paired. */
    BAD("\xED\xA0\x80"), BAD("\xED\xAD\xBF"), BAD("\xED\xBF\xBF"), BAD("\xED\xA0\x80\xED\xB0\x80");
    /* Noncharacters are valid UTF-8. */
    OK("\xEF\xBF\xBE"), OK("\xF4\x8F\xBF\xBE"), OK("\xEF\xB7\x90");
    /* The ASCII fast path next to a bad byte at every alignment. */
    char buf[40];
    for (int at = 0; at < 20; at++) {
        memset(buf, 'a', sizeof buf);
        buf[at] = (char)0xFF;
        CHECK(!utf8_ok(buf, sizeof buf));
    }
}

static void t_close(void)
{
    int code;
    uint8_t p[8] = {0};
    CHECK_EQ(weft__ws_close_parse(p, 0, &code), 0);
    CHECK_EQ(code, 1005);
    CHECK_EQ(weft__ws_close_parse(p, 1, &code), 1002);
    /* Autobahn 7.7.x (valid) and 7.9.x (invalid) codes. */
    static const int good[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    static const int bad[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        p[0] = (uint8_t)(good[i] >> 8), p[1] = (uint8_t)good[i];
        CHECK_EQ(weft__ws_close_parse(p, 2, &code), 0);
        CHECK_EQ(code, good[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        p[0] = (uint8_t)(bad[i] >> 8), p[1] = (uint8_t)bad[i];
        CHECK_EQ(weft__ws_close_parse(p, 2, &code), 1002);
    }
    /* A reason that is not UTF-8 (7.5.1). */
    memcpy(p, "\x03\xe8\xce\xba\xed\xa0\x80", 7);
    CHECK_EQ(weft__ws_close_parse(p, 7, &code), 1007);
    memcpy(p, "\x03\xe8ok", 4);
    CHECK_EQ(weft__ws_close_parse(p, 4, &code), 0);
}

static weft__ws_head H(int fin, int rsv, int op)
{
    return (weft__ws_head){.fin = (uint8_t)fin, .rsv = (uint8_t)rsv, .opcode = (uint8_t)op};
}

static void t_messages(void)
{
    weft__ws_rx rx = {0};
    /* Continuation with nothing open (5.9-5.20's kinds). */
    weft__ws_head c = H(1, 0, WEFT__WS_CONT);
    CHECK_EQ(weft__ws_rx_frame(&rx, &c), -1002);
    /* Text in fragments, a ping between them, then a data frame inside an
     * open message. */
    weft__ws_head t0 = H(0, 0, WEFT__WS_TEXT), p = H(1, 0, WEFT__WS_PING);
    CHECK_EQ(weft__ws_rx_frame(&rx, &t0), 0);
    CHECK_EQ(weft__ws_rx_data(&rx, (const uint8_t *)"\xCE", 1, 0), 0);
    CHECK_EQ(weft__ws_rx_frame(&rx, &p), 0);
    CHECK_EQ(weft__ws_rx_frame(&rx, &t0), -1002);
    weft__ws_head last = H(1, 0, WEFT__WS_CONT);
    CHECK_EQ(weft__ws_rx_frame(&rx, &last), 0);
    CHECK_EQ(weft__ws_rx_data(&rx, (const uint8_t *)"\xBA", 1, 1), 0);
    CHECK_EQ(rx.in_msg, 0);
    /* A text message ending mid-character (6.x: truncated at the end). */
    weft__ws_head t1 = H(1, 0, WEFT__WS_TEXT);
    CHECK_EQ(weft__ws_rx_frame(&rx, &t1), 0);
    CHECK_EQ(weft__ws_rx_data(&rx, (const uint8_t *)"a\xCE", 2, 1), -1007);
    /* Reserved bits (3.x): RSV2/3 always, RSV1 without deflate, RSV1 on a
     * control frame or a continuation. */
    rx = (weft__ws_rx){0};
    for (int rsv = 1; rsv < 8; rsv++) {
        weft__ws_head r = H(1, rsv, WEFT__WS_TEXT);
        CHECK_EQ(weft__ws_rx_frame(&rx, &r), -1002);
    }
    rx.allow_rsv1 = 1;
    weft__ws_head z = H(0, 4, WEFT__WS_BINARY), zp = H(1, 4, WEFT__WS_PING), zc = H(1, 4, WEFT__WS_CONT);
    CHECK_EQ(weft__ws_rx_frame(&rx, &zp), -1002);
    CHECK_EQ(weft__ws_rx_frame(&rx, &z), 0);
    CHECK_EQ(rx.compressed, 1);
    CHECK_EQ(weft__ws_rx_frame(&rx, &zc), -1002);
}

int main(int argc, char **argv)
{
    static const test_case tc[] = {{"heads", t_heads},     {"mask", t_mask},
                                   {"utf8", t_utf8},       {"close", t_close},
                                   {"messages", t_messages},
                                   {NULL, NULL}};
    return run_tests(tc, argc, argv);
}
