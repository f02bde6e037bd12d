/* weft's WebSocket server against a raw-socket client (tests/ws_raw.h):
 * the autobahn testsuite's sections as a checklist, each case as raw
 * frames over a real socket to a route handler that echoes:
 *  1 framing (lengths at each boundary), 2 ping/pong, 3 reserved bits,
 *  4 opcodes, 5 fragmentation, 6 UTF-8 (fail fast, across fragments),
 *  7 close handling, 9 limits; and the handshake's refusals (curl's view
 *  of the 101 is in test_ws_peers). */
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has none); run_tests */
#include "ws_raw.h"
#include <weft/ws.h>
#include <math.h>
#include <stdlib.h>

static int port;
static int last_err, last_code, handled;
static int handled_at_connect; /* handled when the last connection opened */
static weft_ws_opts limited = {.max_message = 1000};
static weft_ws_opts idle_o = {.idle_s = 0.3};
static weft_ws_opts hb_o = {.heartbeat_s = 0.4};
static weft_ws_opts proto_o = {.protocols = "chat.v2, chat.v1"};

static int echo_handler(weft_http_request *req, void *arg)
{
    weft_ws *ws;
    int r = weft_ws_upgrade(req, arg, &ws);
    if (r) {
        last_err = r;
        return 0;
    }
    weft_ws_msg m;
    while ((r = weft_ws_receive(ws, &m)) > 0) weft_ws_send(ws, m.type, m.data, m.len);
    last_err = r;
    last_code = weft_ws_close_code(ws);
    weft_ws_free(ws);
    handled++;
    return 0;
}

static weft_stream *raw_connect_with(const char *path, const char *extra, char *head, size_t cap)
{
    weft_stream *s = NULL;
    handled_at_connect = handled;
    CHECK_EQ(weft_tcp_connect("127.0.0.1", port, NULL, &s), 0);
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                     "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s\r\n",
                     path, extra ? extra : "");
    CHECK_EQ(weft_stream_write(s, req, (size_t)n), n);
    CHECK(raw_head(s, head, cap) > 0);
    return s;
}

static weft_stream *raw_connect(const char *path)
{
    char head[2048];
    weft_stream *s = raw_connect_with(path, NULL, head, sizeof head);
    CHECK(!strncmp(head, "HTTP/1.1 101 ", 13));
    /* RFC 6455 4.2.2's worked example. */
    CHECK(strstr(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    CHECK(strstr(head, "Upgrade: websocket\r\n") && strstr(head, "Connection: Upgrade\r\n"));
    return s;
}

/* Reads one data frame and checks it is (op, p, n). */
static void expect_msg(weft_stream *s, int op, const void *p, size_t n)
{
    weft__ws_head h;
    uint8_t *buf = malloc(n + 1);
    long got = raw_read(s, &h, buf, n + 1, 0);
    CHECK_EQ(got, (long)n);
    CHECK_EQ(h.opcode, op);
    CHECK(h.fin && !h.masked && !h.rsv);
    CHECK(!memcmp(buf, p, n));
    free(buf);
}

/* Waits for the handler of the last connection to end. */
static void wait_handled(void)
{
    int before = handled_at_connect;
    for (int i = 0; i < 500 && handled == before; i++) weft_sleep(0.01);
    CHECK(handled > before);
}

/* Sends our close (1000) and checks the server answers it and ends. */
static void close_ok(weft_stream *s)
{
    raw_frame(s, 1, 0, WEFT__WS_CLOSE, "\x03\xe8" "bye", 5, 1);
    CHECK_EQ(raw_close_code(s, 0), 1000);
    uint8_t b;
    CHECK_EQ(weft_stream_read(s, &b, 1), 0); /* the server ends TCP first */
    weft_stream_close(s);
    wait_handled();
    CHECK_EQ(last_err, 0);
    CHECK_EQ(last_code, 1000);
}

/* Sends raw frames and checks the server fails the connection with code,
 * and the handler got err. */
static void expect_fail(weft_stream *s, int code, int err)
{
    CHECK_EQ(raw_close_code(s, 0), code);
    weft_stream_close(s);
    wait_handled();
    CHECK_EQ(last_err, -err);
}

/* ---- 1: framing --------------------------------------------------------------- */

static int t_framing_body(void *arg)
{
    static const size_t lens[] = {0, 125, 126, 127, 128, 65535, 65536, 1 << 20};
    weft_stream *s = raw_connect("/ws");
    uint8_t *p = malloc(1 << 20);
    for (size_t i = 0; i < (1 << 20); i++) p[i] = (uint8_t)('a' + i % 26);
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        raw_frame(s, 1, 0, WEFT__WS_TEXT, p, lens[i], 1);
        expect_msg(s, WEFT__WS_TEXT, p, lens[i]);
        raw_frame(s, 1, 0, WEFT__WS_BINARY, p, lens[i], 1);
        expect_msg(s, WEFT__WS_BINARY, p, lens[i]);
    }
    /* 1.1.8's kind: a big message written a byte at a time. */
    uint8_t head[WEFT__WS_MAX_HEAD], key[4] = {9, 8, 7, 6}, body[300];
    memcpy(body, p, 300);
    size_t hl = weft__ws_head_build(head, 1, 0, WEFT__WS_BINARY, 300, key);
    weft__ws_mask(body, 300, key, 0);
    for (size_t i = 0; i < hl; i++) weft_stream_write(s, head + i, 1);
    for (size_t i = 0; i < 300; i++) weft_stream_write(s, body + i, 1), weft_stream_drain(s);
    expect_msg(s, WEFT__WS_BINARY, p, 300);
    free(p);
    close_ok(s);
    return 0;
}

/* Unmasked frames from a client; a 2^63 length. */
static int t_framing_bad_body(void *arg)
{
    weft_stream *s = raw_connect("/ws");
    raw_frame(s, 1, 0, WEFT__WS_TEXT, "hi", 2, 0);
    expect_fail(s, 1002, WEFT_EWS_PROTOCOL);
    s = raw_connect("/ws");
    static const uint8_t huge[] = {0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    weft_stream_write(s, huge, sizeof huge);
    expect_fail(s, 1002, WEFT_EWS_PROTOCOL);
    return 0;
}

/* ---- 2: ping/pong --------------------------------------------------------------- */

static int t_ping_body(void *arg)
{
    weft_stream *s = raw_connect("/ws");
    uint8_t p[125];
    for (int i = 0; i < 125; i++) p[i] = (uint8_t)(i * 3); /* binary payload (2.4) */
    raw_frame(s, 1, 0, WEFT__WS_PING, "", 0, 1);
    expect_msg(s, WEFT__WS_PONG, "", 0);
    raw_frame(s, 1, 0, WEFT__WS_PING, p, 125, 1);
    expect_msg(s, WEFT__WS_PONG, p, 125);
    /* Unsolicited pongs are ignored (2.7, 2.8). */
    raw_frame(s, 1, 0, WEFT__WS_PONG, "x", 1, 1);
    /* Ten pings, each answered in order (2.10). */
    for (int i = 0; i < 10; i++) raw_frame(s, 1, 0, WEFT__WS_PING, p, (size_t)i, 1);
    for (int i = 0; i < 10; i++) expect_msg(s, WEFT__WS_PONG, p, (size_t)i);
    close_ok(s);
    /* A ping of 126 bytes (2.5). */
    s = raw_connect("/ws");
    uint8_t big[126] = {0};
    raw_frame(s, 1, 0, WEFT__WS_PING, big, 126, 1);
    expect_fail(s, 1002, WEFT_EWS_PROTOCOL);
    return 0;
}

/* ---- 3, 4: reserved bits and opcodes -------------------------------------------- */

static int t_reserved_body(void *arg)
{
    for (int rsv = 1; rsv < 8; rsv++) {
        weft_stream *s = raw_connect("/ws");
        /* 3.3's kind: an echo first, then the bad frame, then a ping that
         * must not be answered. */
        raw_frame(s, 1, 0, WEFT__WS_TEXT, "ok", 2, 1);
        raw_frame(s, 1, rsv, rsv & 1 ? WEFT__WS_PING : WEFT__WS_TEXT, "bad", 3, 1);
        raw_frame(s, 1, 0, WEFT__WS_PING, "", 0, 1);
        expect_msg(s, WEFT__WS_TEXT, "ok", 2);
        expect_fail(s, 1002, WEFT_EWS_PROTOCOL);
    }
    for (int op = 3; op < 16; op++) {
        if (op >= 8 && op <= 10) continue;
        weft_stream *s = raw_connect("/ws");
        raw_frame(s, 1, 0, op, "", 0, 1);
        expect_fail(s, 1002, WEFT_EWS_PROTOCOL);
    }
    return 0;
}

/* ---- 5: fragmentation -------------------------------------------------------------- */

static int t_fragments_body(void *arg)
{
    weft_stream *s = raw_connect("/ws");
    /* In two and in many fragments, with pings between (5.6-5.8, 5.19). */
    raw_frame(s, 0, 0, WEFT__WS_TEXT, "frag", 4, 1);
    raw_frame(s, 1, 0, WEFT__WS_CONT, "ment", 4, 1);
    expect_msg(s, WEFT__WS_TEXT, "fragment", 8);
    raw_frame(s, 0, 0, WEFT__WS_BINARY, "a", 1, 1);
    raw_frame(s, 1, 0, WEFT__WS_PING, "p1", 2, 1);
    raw_frame(s, 0, 0, WEFT__WS_CONT, "", 0, 1);
    raw_frame(s, 0, 0, WEFT__WS_CONT, "b", 1, 1);
    raw_frame(s, 1, 0, WEFT__WS_PING, "p2", 2, 1);
    raw_frame(s, 1, 0, WEFT__WS_CONT, "c", 1, 1);
    expect_msg(s, WEFT__WS_PONG, "p1", 2);
    expect_msg(s, WEFT__WS_PONG, "p2", 2);
    expect_msg(s, WEFT__WS_BINARY, "abc", 3);
    close_ok(s);
    /* A fragmented ping (5.3-5.5). */
    s = raw_connect("/ws");
    raw_frame(s, 0, 0, WEFT__WS_PING, "a", 1, 1);
    raw_frame(s, 1, 0, WEFT__WS_CONT, "b", 1, 1);
    expect_fail(s, 1002, WEFT_EWS_PROTOCOL);
    /* A continuation with nothing to continue (5.9-5.14). */
    s = raw_connect("/ws");
    raw_frame(s, 1, 0, WEFT__WS_CONT, "x", 1, 1);
    expect_fail(s, 1002, WEFT_EWS_PROTOCOL);
    s = raw_connect("/ws");
    raw_frame(s, 0, 0, WEFT__WS_CONT, "x", 1, 1);
    raw_frame(s, 1, 0, WEFT__WS_TEXT, "y", 1, 1);
    expect_fail(s, 1002, WEFT_EWS_PROTOCOL);
    /* A new message inside an open one (5.18). */
    s = raw_connect("/ws");
    raw_frame(s, 0, 0, WEFT__WS_TEXT, "x", 1, 1);
    raw_frame(s, 1, 0, WEFT__WS_TEXT, "y", 1, 1);
    expect_fail(s, 1002, WEFT_EWS_PROTOCOL);
    return 0;
}

/* ---- 6: UTF-8 ------------------------------------------------------------------------ */

static int t_utf8_body(void *arg)
{
    static const char good[] = "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5";
    weft_stream *s = raw_connect("/ws");
    /* Split at every byte (6.2.x, 6.4.x). */
    for (size_t cut = 0; cut <= sizeof good - 1; cut++) {
        raw_frame(s, 0, 0, WEFT__WS_TEXT, good, cut, 1);
        raw_frame(s, 1, 0, WEFT__WS_CONT, good + cut, sizeof good - 1 - cut, 1);
        expect_msg(s, WEFT__WS_TEXT, good, sizeof good - 1);
    }
    close_ok(s);
    /* Invalid in one frame; invalid in the first fragment of an unfinished
     * message (6.4.1: fail fast, before the message ends); a text message
     * ending inside a character. */
    static const char *const bad[] = {"\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80",
                                      "\xF4\x90\x80\x80", "\xC0\xAF", "\xCE"};
    for (size_t i = 0; i < 4; i++) {
        s = raw_connect("/ws");
        raw_frame(s, 1, 0, WEFT__WS_TEXT, bad[i], strlen(bad[i]), 1);
        expect_fail(s, 1007, WEFT_EWS_UTF8);
    }
    s = raw_connect("/ws");
    raw_frame(s, 0, 0, WEFT__WS_TEXT, "\xF4\x90", 2, 1); /* no end ever sent */
    expect_fail(s, 1007, WEFT_EWS_UTF8);
    return 0;
}

/* ---- 7: closing ------------------------------------------------------------------------ */

static int t_close_body(void *arg)
{
    /* An empty close is answered with an empty close (7.3.1). */
    weft_stream *s = raw_connect("/ws");
    raw_frame(s, 1, 0, WEFT__WS_CLOSE, "", 0, 1);
    CHECK_EQ(raw_close_code(s, 0), 1005);
    weft_stream_close(s);
    wait_handled();
    CHECK_EQ(last_err, 0);
    CHECK_EQ(last_code, 1005);
    /* Frames after the close are ignored (7.1.3-7.1.5). */
    s = raw_connect("/ws");
    raw_frame(s, 1, 0, WEFT__WS_CLOSE, "\x0b\xb8", 2, 1); /* 3000 */
    raw_frame(s, 1, 0, WEFT__WS_TEXT, "late", 4, 1);
    raw_frame(s, 1, 0, WEFT__WS_PING, "late", 4, 1);
    CHECK_EQ(raw_close_code(s, 0), 3000);
    weft__ws_head h;
    uint8_t buf[8];
    CHECK_EQ(raw_read(s, &h, buf, sizeof buf, 0), -1); /* no pong, no echo: the end */
    weft_stream_close(s);
    wait_handled();
    CHECK_EQ(last_code, 3000);
    /* A one-byte payload (7.3.2), bad codes (7.9.x), a reason that is not
     * UTF-8 (7.5.1). */
    static const char *const bad[] = {"\x03", "\x00\x00", "\x03\xe7", "\x03\xed", "\x03\xee",
                                      "\x03\xec", "\x03\xf7", "\x13\x88"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        s = raw_connect("/ws");
        raw_frame(s, 1, 0, WEFT__WS_CLOSE, bad[i], i == 0 ? 1 : 2, 1);
        expect_fail(s, 1002, WEFT_EWS_PROTOCOL);
    }
    s = raw_connect("/ws");
    raw_frame(s, 1, 0, WEFT__WS_CLOSE, "\x03\xe8\xCE\xBA\xED\xA0\x80", 7, 1);
    expect_fail(s, 1007, WEFT_EWS_UTF8);
    /* A client that disconnects mid-frame: the handler gets an error, not
     * a message. */
    s = raw_connect("/ws");
    static const uint8_t partial[] = {0x81, 0x85, 1, 2, 3, 4, 'a'};
    weft_stream_write(s, partial, sizeof partial);
    weft_stream_close(s);
    wait_handled();
    CHECK_EQ(last_err, -WEFT_EWS_CLOSED);
    CHECK_EQ(last_code, 1006);
    return 0;
}

/* ---- 9: limits -------------------------------------------------------------------------- */

static int t_limits_body(void *arg)
{
    static uint8_t p[1001];
    memset(p, 'x', sizeof p);
    weft_stream *s = raw_connect("/limited");
    raw_frame(s, 1, 0, WEFT__WS_BINARY, p, 1000, 1);
    expect_msg(s, WEFT__WS_BINARY, p, 1000);
    raw_frame(s, 1, 0, WEFT__WS_BINARY, p, 1001, 1);
    expect_fail(s, 1009, WEFT_EWS_TOO_BIG);
    /* Over the limit in fragments. */
    s = raw_connect("/limited");
    for (int i = 0; i < 3; i++) raw_frame(s, 0, 0, i ? WEFT__WS_CONT : WEFT__WS_TEXT, p, 400, 1);
    expect_fail(s, 1009, WEFT_EWS_TOO_BIG);
    /* A head announcing 2^62 bytes is refused at once. */
    s = raw_connect("/limited");
    static const uint8_t huge[] = {0x82, 0xff, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4};
    weft_stream_write(s, huge, sizeof huge);
    expect_fail(s, 1009, WEFT_EWS_TOO_BIG);
    return 0;
}

/* ---- timeouts: idle, heartbeat ----------------------------------------------------------- */

static int t_timeouts_body(void *arg)
{
    /* Idle: nothing sent for 0.3 s -> 1001. */
    weft_stream *s = raw_connect("/idle");
    double t0 = weft_now();
    expect_fail(s, 1001, WEFT_EWS_IDLE);
    WEFT_TEST_CHECK(weft_now() - t0 >= 0.25);
    /* Heartbeat: a ping arrives; answered, the connection stays; then a
     * peer that stops answering is dropped. */
    s = raw_connect("/hb");
    weft__ws_head h;
    uint8_t buf[8];
    CHECK_EQ(raw_read(s, &h, buf, sizeof buf, 0), 0);
    CHECK_EQ(h.opcode, WEFT__WS_PING);
    raw_frame(s, 1, 0, WEFT__WS_PONG, "", 0, 1);
    CHECK_EQ(raw_read(s, &h, buf, sizeof buf, 0), 0);
    CHECK_EQ(h.opcode, WEFT__WS_PING);
    /* No pong now: within heartbeat/2 the connection ends. */
    CHECK_EQ(raw_read(s, &h, buf, sizeof buf, 0), -1);
    weft_stream_close(s);
    wait_handled();
    CHECK_EQ(last_err, -WEFT_EWS_PING_TIMEOUT);
    return 0;
}

/* ---- the handshake ------------------------------------------------------------------------- */

static int t_handshake_body(void *arg)
{
    char head[2048];
    /* Subprotocol: ours in our order, among those offered. */
    weft_stream *s = raw_connect_with("/proto", "Sec-WebSocket-Protocol: chat.v1, chat.v2\r\n", head, sizeof head);
    WEFT_TEST_CHECK(strstr(head, "Sec-WebSocket-Protocol: chat.v2\r\n"));
    close_ok(s);
    s = raw_connect_with("/proto", "Sec-WebSocket-Protocol: other\r\n", head, sizeof head);
    WEFT_TEST_CHECK(!strstr(head, "Sec-WebSocket-Protocol"));
    close_ok(s);
    /* Refusals: each gets its status and the handler its error. */
    static const struct {
        const char *req;
        const char *status;
    } bad[] = {
        {"GET /ws HTTP/1.1\r\nHost: h\r\n\r\n", "400"},
        {"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n", "426"},
        {"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: short==\r\nSec-WebSocket-Version: 13\r\n\r\n", "400"},
        {"POST /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
         "Content-Length: 0\r\n\r\n", "400"},
        {"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
         "Origin: http://evil.example\r\n\r\n", "403"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_EQ(weft_tcp_connect("127.0.0.1", port, NULL, &s), 0);
        weft_stream_write(s, bad[i].req, strlen(bad[i].req));
        WEFT_TEST_CHECK(raw_head(s, head, sizeof head) > 0);
        WEFT_TEST_CHECK(!strncmp(head + 9, bad[i].status, 3));
        if (i == 1) WEFT_TEST_CHECK(strstr(head, "Sec-WebSocket-Version: 13\r\n"));
        weft_stream_close(s);
        CHECK_EQ(last_err, -WEFT_EWS_HANDSHAKE);
    }
    /* Frames pipelined right behind the upgrade request are read. */
    CHECK_EQ(weft_tcp_connect("127.0.0.1", port, NULL, &s), 0);
    static const char req[] = "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    weft_stream_write(s, req, sizeof req - 1);
    raw_frame(s, 1, 0, WEFT__WS_TEXT, "early", 5, 1);
    WEFT_TEST_CHECK(raw_head(s, head, sizeof head) > 0);
    expect_msg(s, WEFT__WS_TEXT, "early", 5);
    close_ok(s);
    return 0;
}

static int origin_ok(const char *origin, void *arg)
{
    return !origin || strcmp(origin, "http://evil.example");
}

static weft_ws_opts default_o = {.check_origin = origin_ok};

static int serve(void *arg)
{
    weft_http_server *srv = weft_http_server_new(NULL);
    weft_http_server_route(srv, "GET", "/ws", echo_handler, &default_o);
    weft_http_server_route(srv, "*", "/ws", echo_handler, &default_o);
    weft_http_server_route(srv, "GET", "/limited", echo_handler, &limited);
    weft_http_server_route(srv, "GET", "/idle", echo_handler, &idle_o);
    weft_http_server_route(srv, "GET", "/hb", echo_handler, &hb_o);
    weft_http_server_route(srv, "GET", "/proto", echo_handler, &proto_o);
    CHECK_EQ(weft_http_server_listen(srv, "127.0.0.1", 0), 0);
    port = weft_http_server_port(srv);
    weft_sleep(INFINITY);
    weft_http_server_close(srv, 0);
    return 0;
}

/* Each case runs under weft_test_run (weft/test.h): a time limit, then
 * checks for leaked tasks, unread errors, open resources and fds. run_tests
 * (check.h) only picks the cases by name. */
static const weft_test_options run_opts = {.timeout_s = 60};

static int run_one(void *fn)
{
    weft_task *t = weft_spawn(serve, NULL);
    while (!port) weft_sleep(0.001);
    int r = ((int (*)(void *))fn)(NULL);
    weft_cancel(t);
    weft_await(t);
    port = 0;
    return r;
}

#define CASE(name)                                                                                 \
    static void name##_run(void)                                                                   \
    {                                                                                              \
        CHECK_EQ(weft_test_run(#name, run_one, (void *)name##_body, &run_opts), 0);                \
    }

CASE(t_framing)
CASE(t_framing_bad)
CASE(t_ping)
CASE(t_reserved)
CASE(t_fragments)
CASE(t_utf8)
CASE(t_close)
CASE(t_limits)
CASE(t_timeouts)
CASE(t_handshake)

int main(int argc, char **argv)
{
    static const test_case tc[] = {
        {"framing", t_framing_run},   {"framing_bad", t_framing_bad_run},
        {"ping", t_ping_run},         {"reserved", t_reserved_run},
        {"fragments", t_fragments_run}, {"utf8", t_utf8_run},
        {"close", t_close_run},       {"limits", t_limits_run},
        {"timeouts", t_timeouts_run}, {"handshake", t_handshake_run},
        {NULL, NULL}};
    return run_tests(tc, argc, argv);
}
