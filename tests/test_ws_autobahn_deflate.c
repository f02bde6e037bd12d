/* autobahn's sections 12 and 13 (permessage-deflate) against weft's server
 * and client, with Node's `ws` as the peer (tests/ws_deflate_peer.js):
 *  12: messages of autobahn's sizes (16 bytes to 128 KiB, whole and in
 *      frames of 256 to 32768 bytes) from three kinds of data (JSON text,
 *      a bitmap, incompressible bytes), echoed, with the default offer;
 *  13: the same with each of autobahn's parameter sets: the client asking
 *      for server_no_context_takeover and server_max_window_bits 9 or 15
 *      (weft's server must compress within them: Node inflates with the
 *      window agreed and forgets its context when asked, so a reference
 *      past either fails there), and the server asking weft's client for
 *      client_no_context_takeover and client_max_window_bits 9 or 15;
 *      13.7's several offers in one header as a raw handshake (Node makes
 *      one offer only).
 * The data repeats both near and far (past 512 bytes, and from message to
 * message), so a window or a context kept wrongly shows. autobahn sends
 * 1,000 messages per case; a few per size keep this test to seconds. */
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has none); run_tests */
#include "http/ws_internal.h"
#include "ws_raw.h"
#include <weft/ws.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

/* autobahn's MSG_SIZES: (payload size, fragment size). */
static const int sizes[][2] = {
    {16, 0},       {64, 0},       {256, 0},        {1024, 0},       {4096, 0},     {8192, 0},
    {16384, 0},    {32768, 0},    {65536, 0},      {131072, 0},     {8192, 256},   {16384, 256},
    {32768, 256},  {65536, 256},  {131072, 256},   {131072, 1024},  {131072, 4096}, {131072, 32768},
};
#define NSIZES (sizeof sizes / sizeof *sizes)
/* Section 13 uses a sample of them. */
static const int sample13[] = {0, 1, 3, 10, 8, 16};

static int port;
static weft__ws_pmd agreed[16];
static int nagreed;

static int echo(weft_http_request *req, void *arg)
{
    weft_ws_opts o = {.deflate = 1, .max_message = 1 << 20};
    weft_ws *ws;
    if (weft_ws_upgrade(req, &o, &ws)) return 0;
    if (nagreed < 16) agreed[nagreed++] = ws->pmd;
    weft_ws_msg m;
    while (weft_ws_receive(ws, &m) > 0) weft_ws_send(ws, m.type, m.data, m.len);
    weft_ws_free(ws);
    return 0;
}

/* A line of the peer's output, without its newline; its length or <= 0. */
static ssize_t peer_line(weft_stream *s, char *line, size_t cap)
{
    ssize_t n = weft_stream_read_line(s, line, cap);
    if (n > 0 && line[n - 1] == '\n') line[--n] = 0;
    if (n <= 0) line[0] = 0;
    return n;
}

/* ---- weft's server, Node's client ------------------------------------------ */

static void plan(char *out, size_t cap, int section)
{
    static const char *kinds[] = {"json", "bitmap", "random"};
    size_t k = 0;
    out[0] = 0;
    if (section == 12) {
        for (int d = 0; d < 3; d++)
            for (size_t i = 0; i < NSIZES; i++)
                k += (size_t)snprintf(out + k, cap - k, "%s%s:%d:%d:1", k ? "," : "", kinds[d],
                                      sizes[i][0], sizes[i][1]);
    } else {
        for (size_t i = 0; i < sizeof sample13 / sizeof *sample13; i++)
            k += (size_t)snprintf(out + k, cap - k, "%sjson:%d:%d:3", k ? "," : "",
                                  sizes[sample13[i]][0], sizes[sample13[i]][1]);
    }
    CHECK(k < cap);
}

/* Node's options for autobahn's client offers (13.1-13.6; 12 is Node's
 * default offer), and what weft's server must then agree: the parameters
 * as Node reads them, and weft's own. */
static const struct {
    const char *options, *params;
    int server_no_takeover, server_bits;
} offers[] = {
    {"{}", "{}", 0, 15},
    {"{\"clientNoContextTakeover\":true}", "{\"client_no_context_takeover\":true}", 0, 15},
    {"{\"clientNoContextTakeover\":true,\"serverNoContextTakeover\":true}",
     "{\"server_no_context_takeover\":true,\"client_no_context_takeover\":true}", 1, 15},
    {"{\"clientNoContextTakeover\":true,\"serverMaxWindowBits\":9}",
     "{\"client_no_context_takeover\":true,\"server_max_window_bits\":9}", 0, 9},
    {"{\"clientNoContextTakeover\":true,\"serverMaxWindowBits\":15}", "{\"client_no_context_takeover\":true}", 0,
     15},
    {"{\"clientNoContextTakeover\":true,\"serverNoContextTakeover\":true,\"serverMaxWindowBits\":9}",
     "{\"server_no_context_takeover\":true,\"client_no_context_takeover\":true,\"server_max_window_bits\":9}", 1,
     9},
    {"{\"clientNoContextTakeover\":true,\"serverNoContextTakeover\":true,\"serverMaxWindowBits\":15}",
     "{\"server_no_context_takeover\":true,\"client_no_context_takeover\":true}", 1, 15},
};
#define NOFFERS (sizeof offers / sizeof *offers)

static int t_server(void *arg)
{
    static char runs[65536], p12[8192], p13[1024];
    plan(p12, sizeof p12, 12);
    plan(p13, sizeof p13, 13);
    size_t k = (size_t)snprintf(runs, sizeof runs, "[");
    for (size_t i = 0; i < NOFFERS; i++)
        k += (size_t)snprintf(runs + k, sizeof runs - k, "%s{\"options\":%s,\"plan\":\"%s\"}", i ? "," : "",
                              offers[i].options, i ? p13 : p12);
    snprintf(runs + k, sizeof runs - k, "]");
    char ps[16], script[1024];
    snprintf(ps, sizeof ps, "%d", port);
    const char *dir = getenv("WEFT_TEST_DIR");
    snprintf(script, sizeof script, "%s/ws_deflate_peer.js", dir ? dir : "tests");
    char *argv[] = {"node", script, "client", ps, runs, NULL};
    weft_process_opts po = {.stdout_mode = WEFT_PIPE};
    weft_process *p;
    CHECK_EQ(weft_process_spawn(argv, &po, &p), 0);
    char line[512];
    for (size_t i = 0; i < NOFFERS; i++) {
        char want[256];
        snprintf(want, sizeof want, "ext %zu %s", i, offers[i].params);
        ssize_t n = peer_line(weft_process_stdout(p), line, sizeof line);
        if (n <= 0 || strcmp(line, want)) fprintf(stderr, "node: '%s', expected '%s'\n", line, want);
        WEFT_TEST_CHECK(n > 0 && !strcmp(line, want));
        n = peer_line(weft_process_stdout(p), line, sizeof line);
        if (n <= 0 || strncmp(line, "ok ", 3)) fprintf(stderr, "node: '%s' (offer %zu)\n", line, i);
        WEFT_TEST_CHECK(n > 0 && !strncmp(line, "ok ", 3));
    }
    CHECK_EQ(weft_process_wait(p), 0);
    weft_process_free(p);
    CHECK_EQ(nagreed, (int)NOFFERS);
    for (size_t i = 0; i < NOFFERS; i++) {
        WEFT_TEST_CHECK(agreed[i].on);
        CHECK_EQ(agreed[i].server_no_takeover, offers[i].server_no_takeover);
        CHECK_EQ(agreed[i].server_bits, offers[i].server_bits);
        CHECK_EQ(agreed[i].client_no_takeover, i > 0);
    }
    return 0;
}

/* 13.7: several offers in one header; the first weft can take wins (an
 * 8-bit window it cannot honour is skipped). Raw, as Node offers one. */
static int t_server_offers(void *arg)
{
    static const struct {
        const char *offer, *answer;
    } cases[] = {
        {"permessage-deflate; client_no_context_takeover; client_max_window_bits; "
         "server_no_context_takeover; server_max_window_bits=9, "
         "permessage-deflate; client_no_context_takeover; server_no_context_takeover, permessage-deflate",
         "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9"},
        {"permessage-deflate; server_max_window_bits=8, permessage-deflate; server_no_context_takeover",
         "permessage-deflate; server_no_context_takeover"},
        {"x-webkit-deflate-frame, permessage-deflate; bogus=1, permessage-deflate", "permessage-deflate"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        weft_stream *s;
        CHECK_EQ(weft_tcp_connect("127.0.0.1", port, NULL, &s), 0);
        char req[1024], head[2048], want[256];
        int n = snprintf(req, sizeof req,
                         "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                         "Sec-WebSocket-Extensions: %s\r\n\r\n",
                         cases[i].offer);
        CHECK_EQ(weft_stream_write(s, req, (size_t)n), n);
        WEFT_TEST_CHECK(raw_head(s, head, sizeof head) > 0);
        snprintf(want, sizeof want, "\r\nSec-WebSocket-Extensions: %s\r\n", cases[i].answer);
        if (!strstr(head, want)) fprintf(stderr, "answer to offer %zu:\n%s", i, head);
        WEFT_TEST_CHECK(strstr(head, want));
        raw_frame(s, 1, 0, WEFT__WS_CLOSE, "\x03\xe8", 2, 1);
        CHECK_EQ(raw_close_code(s, 0), 1000);
        weft_stream_close(s);
    }
    return 0;
}

/* ---- weft's client, Node's server ------------------------------------------ */

static unsigned rnd(uint32_t *x)
{
    *x = *x * 1103515245u + 12345u;
    return *x >> 8;
}

/* Test data of three kinds, 64 KiB each, with far and near repeats. */
static unsigned char data[3][65536];

static void make_data(void)
{
    static uint32_t x = 777;
#define RND() rnd(&x)
    char words[300][24];
    for (int i = 0; i < 300; i++)
        snprintf(words[i], sizeof words[i], "%x\xc3\xa9%x", RND() % 100000, RND() % 1000);
    size_t k = 0;
    for (int i = 0; k < sizeof data[0]; i++) {
        char rec[256];
        int n = snprintf(rec, sizeof rec, "{\"id\":%d,\"name\":\"%s\",\"tags\":[\"%s\",\"%s\"],\"score\":%u},\n", i,
                         words[RND() % 300], words[RND() % 40], words[RND() % 300], RND() % 1000);
        for (int j = 0; j < n && k < sizeof data[0]; j++) data[0][k++] = (unsigned char)rec[j];
    }
    for (size_t i = 0; i < sizeof data[1]; i++)
        data[1][i] = (unsigned char)((i % 512) / 2 + (i >> 9) + RND() % 8);
    for (size_t i = 0; i < sizeof data[2]; i++) data[2][i] = (unsigned char)RND();
#undef RND
}

/* One message of n bytes from kind d at *at (wrapping); text made UTF-8 at
 * its ends ('?' for a cut character). */
static void cut(unsigned char *m, int d, size_t *at, size_t n)
{
    for (size_t i = 0; i < n; i++) m[i] = data[d][(*at + i) % sizeof data[d]];
    *at = (*at + n) % sizeof data[d];
    if (d == 0 && n) {
        if ((m[0] & 0xc0) == 0x80) m[0] = '?';
        if (m[n - 1] >= 0xc0) m[n - 1] = '?';
        /* The wrap point can split one too. */
        for (size_t i = 1; i < n; i++)
            if ((m[i] & 0xc0) == 0x80 && m[i - 1] < 0xc0 && (m[i - 1] & 0xc0) != 0x80) m[i] = '?';
    }
}

/* Node's server options for autobahn's accepts (accept1-6 of section 13)
 * and two of its own restrictions; what weft's client must then use. */
static const struct {
    const char *options;
    int client_no_takeover, client_bits, server_no_takeover, server_bits;
} accepts[] = {
    {"{}", 0, 15, 0, 15},
    {"{\"clientNoContextTakeover\":true}", 1, 15, 0, 15},
    {"{\"clientMaxWindowBits\":9}", 0, 9, 0, 15},
    {"{\"clientMaxWindowBits\":15}", 0, 15, 0, 15},
    {"{\"clientNoContextTakeover\":true,\"clientMaxWindowBits\":9}", 1, 9, 0, 15},
    {"{\"clientNoContextTakeover\":true,\"clientMaxWindowBits\":15}", 1, 15, 0, 15},
    {"{\"serverNoContextTakeover\":true,\"serverMaxWindowBits\":9}", 0, 15, 1, 9},
};
#define NACCEPTS (sizeof accepts / sizeof *accepts)

static void client_run(int peer_port, size_t i, weft_stream *out)
{
    weft_http_client *c = weft_http_client_new(NULL);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ws", peer_port);
    weft_ws_opts o = {.deflate = 1, .max_message = 1 << 20};
    weft_ws *ws;
    CHECK_EQ(weft_ws_connect(c, url, &o, &ws), 0);
    CHECK(ws->pmd.on);
    CHECK_EQ(ws->pmd.client_no_takeover, accepts[i].client_no_takeover);
    CHECK_EQ(ws->pmd.client_bits, accepts[i].client_bits);
    CHECK_EQ(ws->pmd.server_no_takeover, accepts[i].server_no_takeover);
    CHECK_EQ(ws->pmd.server_bits, accepts[i].server_bits);
    char line[256];
    CHECK(peer_line(out, line, sizeof line) > 0 && !strncmp(line, "ext ", 4));
    static unsigned char m[131072];
    size_t at[3] = {0, 0, 0};
    int kinds = i ? 1 : 3, count = i ? 3 : 1;
    for (int d = 0; d < kinds; d++) {
        for (size_t s = 0; s < (i ? sizeof sample13 / sizeof *sample13 : NSIZES); s++) {
            int z = i ? sample13[s] : (int)s;
            for (int r = 0; r < count; r++) {
                size_t n = (size_t)sizes[z][0];
                cut(m, d, &at[d], n);
                int type = d == 0 ? WEFT_WS_TEXT : WEFT_WS_BINARY;
                CHECK_EQ(weft_ws_send_frag(ws, type, m, n, (size_t)sizes[z][1]), 0);
                weft_ws_msg got;
                CHECK_EQ(weft_ws_receive(ws, &got), type);
                if (got.len != n || memcmp(got.data, m, n))
                    fprintf(stderr, "server %zu: size %zu frag %d kind %d differs\n", i, n, sizes[z][1], d);
                CHECK(got.len == n && !memcmp(got.data, m, n));
            }
        }
    }
    /* An empty message between others (a compressed one is the byte 0x00). */
    CHECK_EQ(weft_ws_send(ws, WEFT_WS_TEXT, "", 0), 0);
    weft_ws_msg got;
    CHECK_EQ(weft_ws_receive(ws, &got), WEFT_WS_TEXT);
    CHECK_EQ(got.len, 0);
    CHECK_EQ(weft_ws_send(ws, WEFT_WS_TEXT, "after", 5), 0);
    CHECK_EQ(weft_ws_receive(ws, &got), WEFT_WS_TEXT);
    CHECK(got.len == 5 && !memcmp(got.data, "after", 5));
    CHECK_EQ(weft_ws_close(ws, 1000, NULL), 0);
    weft_ws_free(ws);
    weft_http_client_close(c);
}

static int t_client(void *arg)
{
    make_data();
    char list[2048];
    size_t k = (size_t)snprintf(list, sizeof list, "[");
    for (size_t i = 0; i < NACCEPTS; i++)
        k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? "," : "", accepts[i].options);
    snprintf(list + k, sizeof list - k, "]");
    char script[1024];
    const char *dir = getenv("WEFT_TEST_DIR");
    snprintf(script, sizeof script, "%s/ws_deflate_peer.js", dir ? dir : "tests");
    char *argv[] = {"node", script, "server", list, NULL};
    weft_process_opts po = {.stdout_mode = WEFT_PIPE};
    weft_process *p;
    CHECK_EQ(weft_process_spawn(argv, &po, &p), 0);
    char line[256];
    WEFT_TEST_CHECK(peer_line(weft_process_stdout(p), line, sizeof line) > 0);
    char *s = line;
    for (size_t i = 0; i < NACCEPTS; i++) {
        int pp = (int)strtol(s, &s, 10);
        WEFT_TEST_CHECK(pp > 0);
        client_run(pp, i, weft_process_stdout(p));
    }
    weft_process_kill(p, SIGTERM);
    weft_process_wait(p);
    weft_process_free(p);
    return 0;
}

/* Each case runs under weft_test_run (weft/test.h): a time limit, then
 * checks for leaked tasks, unread errors, open resources and fds. run_tests
 * (check.h) only picks the cases by name. */
static const weft_test_options run_opts = {.timeout_s = 100};

static int run_one(void *fn)
{
    setenv("NODE_PATH", "/usr/share/nodejs", 1);
    weft_http_server *srv = weft_http_server_new(NULL);
    weft_http_server_route(srv, "GET", "/ws", echo, NULL);
    CHECK_EQ(weft_http_server_listen(srv, "127.0.0.1", 0), 0);
    port = weft_http_server_port(srv);
    nagreed = 0;
    int r = weft_timeout(90, (weft_fn)fn, NULL);
    weft_http_server_close(srv, 1);
    return r;
}

#define CASE(name)                                                                                 \
    static void name##_run(void)                                                                   \
    {                                                                                              \
        CHECK_EQ(weft_test_run(#name, run_one, (void *)name, &run_opts), 0);                       \
    }
CASE(t_server)
CASE(t_server_offers)
CASE(t_client)

int main(int argc, char **argv)
{
    static const test_case tc[] = {{"server", t_server_run},
                                   {"server_offers", t_server_offers_run},
                                   {"client", t_client_run},
                                   {NULL, NULL}};
    return run_tests(tc, argc, argv);
}
