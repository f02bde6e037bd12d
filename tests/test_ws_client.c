/* weft's WebSocket client against a raw-socket server (tests/ws_raw.h)
 * that scripts each case by path: masking with fresh keys, the handshake's
 * checks (Sec-WebSocket-Accept, Upgrade, subprotocol, extensions,
 * redirects not followed, cookies sent), autobahn's framing, ping,
 * fragmentation, UTF-8 and close cases from the client's side, a server
 * that never answers the close, many tasks sending at once, and wss with a
 * certificate made at test time (weft's own server at the other end). */
#define _GNU_SOURCE
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has none); run_tests */
#include "http/ws_internal.h"
#include "tls_cert.h"
#include "ws_raw.h"
#include <weft/ws.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

static int port;
static weft_http_client *cl;
static char last_request[4096];

/* The accept value for the key in a request head. */
static void accept_for(const char *head, char out[29])
{
    const char *k = strcasestr(head, "Sec-WebSocket-Key: ");
    CHECK(k != NULL);
    char key[64];
    sscanf(k + 19, "%63[^\r]", key);
    weft__ws_accept_key(key, out);
}

static void reply_101(weft_stream *s, const char *head, const char *extra)
{
    char acc[29], out[1024];
    accept_for(head, acc);
    int n = snprintf(out, sizeof out,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n%s\r\n",
                     acc, extra ? extra : "");
    weft_stream_write(s, out, (size_t)n);
}

static int concurrent_ok;

/* The scripted server: one behaviour per path. */
static int raw_server(weft_stream *s, void *arg)
{
    char head[4096];
    if (raw_head(s, head, sizeof head) <= 0) return 0;
    snprintf(last_request, sizeof last_request, "%s", head);
    char path[64] = "";
    sscanf(head, "GET %63s", path);
    weft__ws_head h;
    static uint8_t buf[1 << 20];
    if (!strcmp(path, "/echo")) {
        /* Echo, checking every client frame is masked with a new key. */
        reply_101(s, head, NULL);
        uint8_t prev[4] = {0};
        for (;;) {
            long n = raw_read(s, &h, buf, sizeof buf, 1);
            if (n < 0) return 0;
            CHECK(h.masked && memcmp(h.key, prev, 4));
            memcpy(prev, h.key, 4);
            if (h.opcode == WEFT__WS_CLOSE) {
                raw_frame(s, 1, 0, WEFT__WS_CLOSE, buf, (size_t)n, 0);
                return 0;
            }
            raw_frame(s, h.fin, 0, h.opcode, buf, (size_t)n, 0);
        }
    }
    if (!strcmp(path, "/script")) {
        /* Fragments with a ping between, then a close with a reason. */
        reply_101(s, head, NULL);
        raw_frame(s, 0, 0, WEFT__WS_TEXT, "\xCE\xBA\xE1", 3, 0);
        raw_frame(s, 1, 0, WEFT__WS_PING, "hb", 2, 0);
        raw_frame(s, 1, 0, WEFT__WS_CONT, "\xBD\xB9", 2, 0);
        raw_frame(s, 1, 0, WEFT__WS_BINARY, "", 0, 0);
        long n = raw_read(s, &h, buf, sizeof buf, 1);
        CHECK(n == 2 && h.opcode == WEFT__WS_PONG && !memcmp(buf, "hb", 2));
        raw_frame(s, 1, 0, WEFT__WS_CLOSE, "\x0f\xa0going", 7, 0); /* 4000 */
        n = raw_read(s, &h, buf, sizeof buf, 1);
        CHECK(n == 2 && h.opcode == WEFT__WS_CLOSE && buf[0] == 0x0f && buf[1] == 0xa0);
        return 0;
    }
    /* Bad servers: each frame must make the client fail with a code. */
    static const struct {
        const char *path;
        int fin, rsv, op, mask;
        const char *p;
    } bad[] = {{"/masked", 1, 0, WEFT__WS_TEXT, 1, "x"},
               {"/rsv", 1, 2, WEFT__WS_TEXT, 0, "x"},
               {"/opcode", 1, 0, 5, 0, "x"},
               {"/utf8", 1, 0, WEFT__WS_TEXT, 0, "\xED\xA0\x80"},
               {"/cont", 1, 0, WEFT__WS_CONT, 0, "x"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (!strcmp(path, bad[i].path)) {
            reply_101(s, head, NULL);
            raw_frame(s, bad[i].fin, bad[i].rsv, bad[i].op, bad[i].p, strlen(bad[i].p), bad[i].mask);
            int code = raw_close_code(s, 1);
            /* The client's verdict travels back as the close code. */
            snprintf(last_request, sizeof last_request, "%d", code);
            return 0;
        }
    if (!strcmp(path, "/bomb")) {
        /* 10 MB of zeros deflated to ~10 KB, in one compressed message. */
        reply_101(s, head, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
        static uint8_t zeros[10 << 20], z[1 << 20];
        z_stream zs = {0};
        deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
        zs.next_in = zeros, zs.avail_in = sizeof zeros, zs.next_out = z, zs.avail_out = sizeof z;
        deflate(&zs, Z_SYNC_FLUSH);
        size_t zn = sizeof z - zs.avail_out - 4;
        deflateEnd(&zs);
        raw_frame(s, 1, 4, WEFT__WS_BINARY, z, zn, 0);
        snprintf(last_request, sizeof last_request, "%d", raw_close_code(s, 1));
        return 0;
    }
    if (!strcmp(path, "/silent")) {
        /* Never answers the close. */
        reply_101(s, head, NULL);
        while (raw_read(s, &h, buf, sizeof buf, 1) >= 0) {
        }
        return 0;
    }
    if (!strcmp(path, "/concurrent")) {
        /* Each message is one whole frame of one repeated byte. */
        reply_101(s, head, NULL);
        concurrent_ok = 0;
        for (;;) {
            long n = raw_read(s, &h, buf, sizeof buf, 1);
            if (n < 0 || h.opcode == WEFT__WS_CLOSE) break;
            CHECK(h.fin && h.opcode == WEFT__WS_BINARY && n == 20000);
            for (long i = 1; i < n; i++) CHECK_EQ(buf[i], buf[0]);
            concurrent_ok++;
        }
        raw_frame(s, 1, 0, WEFT__WS_CLOSE, "\x03\xe8", 2, 0);
        return 0;
    }
    if (!strcmp(path, "/frag")) {
        reply_101(s, head, NULL);
        int ops[8], fins[8], k = 0;
        long total = 0;
        do {
            long n = raw_read(s, &h, buf, sizeof buf, 1);
            CHECK(n >= 0 && k < 8);
            ops[k] = h.opcode, fins[k] = h.fin, k++;
            total += n;
        } while (!h.fin);
        CHECK(k == 4 && ops[0] == WEFT__WS_TEXT && ops[1] == 0 && fins[3] && !fins[2] && total == 10);
        raw_frame(s, 1, 0, WEFT__WS_CLOSE, "\x03\xe8", 2, 0);
        raw_close_code(s, 1);
        return 0;
    }
    if (!strcmp(path, "/cookie")) {
        static const char a[] = "HTTP/1.1 200 OK\r\nSet-Cookie: sid=abc123; Path=/\r\nContent-Length: 0\r\n\r\n";
        weft_stream_write(s, a, sizeof a - 1);
        return 0;
    }
    /* Handshake answers that must be refused. */
    const char *ans = NULL;
    char acc[29];
    accept_for(head, acc);
    char good[256];
    snprintf(good, sizeof good, "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n", acc);
    char out[1024];
    if (!strcmp(path, "/badaccept"))
        ans = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    else if (!strcmp(path, "/redirect"))
        ans = "HTTP/1.1 302 Found\r\nLocation: /echo\r\nContent-Length: 0\r\n\r\n";
    else if (!strcmp(path, "/noupgrade"))
        snprintf(out, sizeof out, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", acc), ans = out;
    else if (!strcmp(path, "/ext"))
        snprintf(out, sizeof out, "HTTP/1.1 101 Switching Protocols\r\n%sSec-WebSocket-Extensions: x-unknown\r\n\r\n", good), ans = out;
    else if (!strcmp(path, "/proto"))
        snprintf(out, sizeof out, "HTTP/1.1 101 Switching Protocols\r\n%sSec-WebSocket-Protocol: notoffered\r\n\r\n", good), ans = out;
    if (ans) weft_stream_write(s, ans, strlen(ans));
    return 0;
}

static int connect_to(const char *path, weft_ws **ws, const weft_ws_opts *o)
{
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d%s", port, path);
    return weft_ws_connect(cl, url, o, ws);
}

static int t_echo(void)
{
    weft_ws *ws;
    CHECK_EQ(connect_to("/echo", &ws, NULL), 0);
    CHECK_EQ(weft_http_client_connections(cl), 0); /* out of the pool */
    static char big[200000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 26);
    static const size_t lens[] = {0, 1, 125, 126, 65535, 65536, sizeof big};
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
        weft_ws_msg m;
        CHECK_EQ(weft_ws_send(ws, WEFT_WS_TEXT, big, lens[i]), 0);
        CHECK_EQ(weft_ws_receive(ws, &m), WEFT_WS_TEXT);
        WEFT_TEST_CHECK(m.len == lens[i] && !memcmp(m.data, big, lens[i]) && m.data[m.len] == 0);
    }
    /* Streamed receive of a fragmented echo. */
    CHECK_EQ(weft_ws_send_frag(ws, WEFT_WS_BINARY, big, 70000, 30000), 0);
    size_t got = 0;
    int type, last = 0;
    char part[5000];
    while (!last) {
        ssize_t n = weft_ws_receive_part(ws, part, sizeof part, &type, &last);
        WEFT_TEST_CHECK(n >= 0 && type == WEFT_WS_BINARY);
        WEFT_TEST_CHECK(!memcmp(part, big + got, (size_t)n));
        got += (size_t)n;
    }
    CHECK_EQ(got, 70000);
    CHECK_EQ(weft_ws_ping(ws, "p", 1), 0);
    CHECK_EQ(weft_ws_close(ws, 1000, "done"), 0);
    CHECK_EQ(weft_ws_close_code(ws), 1000);
    CHECK_EQ(weft_ws_send(ws, WEFT_WS_TEXT, "x", 1), -WEFT_EWS_CLOSED);
    weft_ws_free(ws);
    WEFT_TEST_CHECK(strstr(last_request, "Sec-WebSocket-Version: 13\r\n"));
    return 0;
}

static int t_script(void)
{
    weft_ws *ws;
    weft_ws_msg m;
    CHECK_EQ(connect_to("/script", &ws, NULL), 0);
    CHECK_EQ(weft_ws_receive(ws, &m), WEFT_WS_TEXT);
    WEFT_TEST_CHECK(m.len == 5 && !memcmp(m.data, "\xCE\xBA\xE1\xBD\xB9", 5));
    CHECK_EQ(weft_ws_receive(ws, &m), WEFT_WS_BINARY);
    CHECK_EQ(m.len, 0);
    CHECK_EQ(weft_ws_receive(ws, &m), 0);
    CHECK_EQ(weft_ws_close_code(ws), 4000);
    WEFT_TEST_CHECK(!strcmp(weft_ws_close_reason(ws), "going"));
    CHECK_EQ(weft_ws_receive(ws, &m), 0); /* and again */
    CHECK_EQ(weft_ws_close(ws, 1000, NULL), 0); /* the handshake is complete: ends it */
    CHECK_EQ(weft_ws_close(ws, 1000, NULL), -WEFT_EWS_CLOSED);
    weft_ws_free(ws);
    return 0;
}

static int t_bad_servers(void)
{
    static const struct {
        const char *path;
        int err, code;
    } c[] = {{"/masked", WEFT_EWS_PROTOCOL, 1002}, {"/rsv", WEFT_EWS_PROTOCOL, 1002},
             {"/opcode", WEFT_EWS_PROTOCOL, 1002}, {"/utf8", WEFT_EWS_UTF8, 1007},
             {"/cont", WEFT_EWS_PROTOCOL, 1002}};
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        weft_ws *ws;
        weft_ws_msg m;
        CHECK_EQ(connect_to(c[i].path, &ws, NULL), 0);
        CHECK_EQ(weft_ws_receive(ws, &m), -c[i].err);
        CHECK_EQ(weft_ws_receive(ws, &m), -c[i].err); /* it sticks */
        weft_ws_free(ws);
        for (int k = 0; k < 200 && atoi(last_request) != c[i].code; k++) weft_sleep(0.01);
        CHECK_EQ(atoi(last_request), c[i].code);
    }
    /* Handshakes refused, each with its status. */
    static const struct {
        const char *path;
        int status;
    } h[] = {{"/badaccept", 101}, {"/redirect", 302}, {"/noupgrade", 101}, {"/ext", 101}, {"/proto", 101}};
    for (size_t i = 0; i < sizeof h / sizeof *h; i++) {
        weft_ws *ws = (weft_ws *)1;
        CHECK_EQ(connect_to(h[i].path, &ws, NULL), -WEFT_EWS_HANDSHAKE);
        WEFT_TEST_CHECK(ws == NULL);
        CHECK_EQ(weft_ws_connect_status(), h[i].status);
    }
    CHECK_EQ(weft_http_client_connections(cl), 0);
    /* A deflate bomb stops at max_message: 1009, memory bounded. */
    weft_ws *ws;
    weft_ws_msg m;
    weft_ws_opts zo = {.deflate = 1, .max_message = 1 << 20};
    CHECK_EQ(connect_to("/bomb", &ws, &zo), 0);
    CHECK_EQ(weft_ws_deflate(ws), 1);
    CHECK_EQ(weft_ws_receive(ws, &m), -WEFT_EWS_TOO_BIG);
    weft_ws_free(ws);
    for (int k = 0; k < 200 && atoi(last_request) != 1009; k++) weft_sleep(0.01);
    CHECK_EQ(atoi(last_request), 1009);
    CHECK_EQ(weft_ws_connect(cl, "ftp://127.0.0.1/x", NULL, &ws), -WEFT_EHTTP_URL);
    return 0;
}

static int recv_fn(void *a)
{
    void **args = a;
    return weft_ws_receive(args[0], args[1]);
}

static int t_close_timeout(void)
{
    weft_ws *ws;
    weft_ws_opts o = {.close_timeout_s = 0.2};
    CHECK_EQ(connect_to("/silent", &ws, &o), 0);
    double t0 = weft_now();
    CHECK_EQ(weft_ws_close(ws, 1001, "bye"), -WEFT_EWS_CLOSE_TIMEOUT);
    WEFT_TEST_CHECK(weft_now() - t0 >= 0.15 && weft_now() - t0 < 3);
    weft_ws_free(ws);
    /* Receive with a deadline: weft_timeout around it, nothing lost. */
    CHECK_EQ(connect_to("/echo", &ws, NULL), 0);
    weft_ws_msg m;
    void *args[2] = {ws, &m};
    CHECK_EQ(weft_timeout(0.05, recv_fn, args), -ETIMEDOUT);
    CHECK_EQ(weft_ws_send(ws, WEFT_WS_TEXT, "late", 4), 0);
    CHECK_EQ(weft_timeout(5, recv_fn, args), WEFT_WS_TEXT);
    WEFT_TEST_CHECK(m.len == 4 && !memcmp(m.data, "late", 4));
    weft_ws_free(ws);
    /* A receiver that starts only once its sibling's close is reading the
     * answer (`weft ws` with a file on stdin) is told of the end: 0 for an
     * answered close, the close's error for an unanswered one; it got
     * -EBUSY before. */
    CHECK_EQ(connect_to("/echo", &ws, NULL), 0);
    args[0] = ws;
    weft_task *rt = weft_spawn(recv_fn, args);
    CHECK_EQ(weft_ws_close(ws, 1000, NULL), 0);
    CHECK_EQ(weft_await(rt), 0);
    weft_ws_free(ws);
    CHECK_EQ(connect_to("/silent", &ws, &o), 0);
    args[0] = ws;
    rt = weft_spawn(recv_fn, args);
    CHECK_EQ(weft_ws_close(ws, 1001, "bye"), -WEFT_EWS_CLOSE_TIMEOUT);
    CHECK_EQ(weft_await(rt), -WEFT_EWS_CLOSE_TIMEOUT);
    weft_ws_free(ws);
    return 0;
}

static weft_ws *shared;

static int sender(void *arg)
{
    char *p = malloc(20000);
    memset(p, (int)(intptr_t)arg, 20000);
    for (int i = 0; i < 25; i++) CHECK_EQ(weft_ws_send(shared, WEFT_WS_BINARY, p, 20000), 0);
    free(p);
    return 0;
}

static int t_concurrent(void)
{
    weft_ws_opts o = {.send_queue = 16384};
    CHECK_EQ(connect_to("/concurrent", &shared, &o), 0);
    weft_task *t[4];
    for (int i = 0; i < 4; i++) t[i] = weft_spawn(sender, (void *)(intptr_t)('A' + i));
    CHECK_EQ(weft_gather(t, 4, NULL), 0);
    CHECK_EQ(weft_ws_close(shared, 1000, NULL), 0);
    weft_ws_free(shared);
    CHECK_EQ(concurrent_ok, 100);
    /* Fragmented on request: 10 bytes in frames of 3. */
    weft_ws *ws;
    CHECK_EQ(connect_to("/frag", &ws, NULL), 0);
    CHECK_EQ(weft_ws_send_frag(ws, WEFT_WS_TEXT, "0123456789", 10, 3), 0);
    weft_ws_msg m;
    CHECK_EQ(weft_ws_receive(ws, &m), 0);
    weft_ws_free(ws);
    return 0;
}

static int t_cookies(void)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/cookie", port);
    weft_http_response *r;
    CHECK_EQ(weft_http_client_get(cl, url, &r), 0);
    weft_http_response_free(r);
    weft_ws *ws;
    CHECK_EQ(connect_to("/echo", &ws, NULL), 0);
    WEFT_TEST_CHECK(strstr(last_request, "Cookie: sid=abc123"));
    weft_ws_free(ws);
    return 0;
}

/* ---- wss: weft's server over TLS, a certificate made now ------------------------ */

static char crt[128], key[128];

static int tls_echo(weft_http_request *req, void *arg)
{
    weft_ws *ws;
    if (weft_ws_upgrade(req, NULL, &ws)) return 0;
    weft_ws_msg m;
    while (weft_ws_receive(ws, &m) > 0) weft_ws_send(ws, m.type, m.data, m.len);
    weft_ws_free(ws);
    return 0;
}

static int t_wss(void)
{
    weft_tls_opts so = {.cert_file = crt, .key_file = key};
    weft_http_server_opts o = {.tls = weft_tls_server_ctx(&so)};
    WEFT_TEST_CHECK(o.tls != NULL);
    weft_http_server *srv = weft_http_server_new(&o);
    weft_http_server_route(srv, "GET", "/ws", tls_echo, NULL);
    CHECK_EQ(weft_http_server_listen(srv, "127.0.0.1", 0), 0);
    weft_tls_opts co = {.ca_file = crt};
    weft_http_client_opts cop = {.tls = weft_tls_client_ctx(&co)};
    weft_http_client *c = weft_http_client_new(&cop);
    char url[128];
    snprintf(url, sizeof url, "wss://localhost:%d/ws", weft_http_server_port(srv));
    weft_ws *ws;
    CHECK_EQ(weft_ws_connect(c, url, NULL, &ws), 0);
    weft_ws_msg m;
    CHECK_EQ(weft_ws_send(ws, WEFT_WS_TEXT, "over tls", 8), 0);
    CHECK_EQ(weft_ws_receive(ws, &m), WEFT_WS_TEXT);
    WEFT_TEST_CHECK(m.len == 8 && !memcmp(m.data, "over tls", 8));
    CHECK_EQ(weft_ws_close(ws, 1000, NULL), 0);
    weft_ws_free(ws);
    /* Without trusting the certificate the handshake fails. */
    weft_http_client *plain = weft_http_client_new(NULL);
    WEFT_TEST_CHECK(weft_ws_connect(plain, url, NULL, &ws) < 0);
    weft_http_client_close(plain);
    weft_http_client_close(c);
    weft_tls_ctx_free(cop.tls);
    weft_http_server_close(srv, 1);
    weft_tls_ctx_free(o.tls);
    return 0;
}

/* Each case runs under weft_test_run (weft/test.h): a time limit, then
 * checks for leaked tasks, unread errors, open resources and fds. run_tests
 * (check.h) only picks the cases by name. */
static const weft_test_options run_opts = {.timeout_s = 60};

static int run_one(void *fn)
{
    weft_server *srv = weft_tcp_serve("127.0.0.1", 0, raw_server, NULL);
    WEFT_TEST_CHECK(srv != NULL);
    port = weft_server_port(srv);
    cl = weft_http_client_new(NULL);
    int r = ((int (*)(void))fn)();
    weft_http_client_close(cl);
    weft_server_close(srv, 1);
    return r;
}

#define CASE(name)                                                                                 \
    static void name##_run(void)                                                                   \
    {                                                                                              \
        CHECK_EQ(weft_test_run(#name, run_one, (void *)name, &run_opts), 0);                       \
    }
CASE(t_echo)
CASE(t_script)
CASE(t_bad_servers)
CASE(t_close_timeout)
CASE(t_concurrent)
CASE(t_cookies)
CASE(t_wss)

int main(int argc, char **argv)
{
    char dir[] = "/tmp/weft-ws-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    CHECK_EQ(tls_cert_make(dir, crt, key), 0);
    static const test_case tc[] = {{"echo", t_echo_run},
                                   {"script", t_script_run},
                                   {"bad_servers", t_bad_servers_run},
                                   {"close_timeout", t_close_timeout_run},
                                   {"concurrent", t_concurrent_run},
                                   {"cookies", t_cookies_run},
                                   {"wss", t_wss_run},
                                   {NULL, NULL}};
    int r = run_tests(tc, argc, argv);
    unlink(crt), unlink(key), rmdir(dir);
    return r;
}
