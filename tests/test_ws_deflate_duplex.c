/* A client with permessage-deflate sends a big message while another of
 * its tasks receives compressed messages: the sender, waiting on a slow
 * peer, must not have its frame's bytes overwritten by the receiver
 * (they once shared one scratch buffer: the client sent the server's own
 * bytes in its frame). weft's server at the other end checks every byte
 * it gets; the message is bigger than loopback's socket buffers, so the
 * sender does wait. */
#include <weft/http.h>
#include <weft/test.h>
#include <weft/ws.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BIG = 12 << 20, SMALL = 40, PIECE = 20000 };
static unsigned char *big;
static int server_got_ok = -1;

static void fill(unsigned char *p, size_t n)
{
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) x = x * 1103515245u + 12345u, p[i] = (unsigned char)(x >> 24);
}

static int handler(weft_http_request *req, void *arg)
{
    weft_ws_opts o = {.deflate = 1, .max_message = 2 * BIG};
    weft_ws *ws;
    if (weft_ws_upgrade(req, &o, &ws)) return 0;
    /* Compressed messages to the client while it is sending, not reading
     * its message yet: its sender waits on a full socket meanwhile. */
    weft_sleep(0.3); /* the client is deep in its send by now */
    for (int i = 0; i < SMALL; i++) {
        /* Bigger than the client's scratch chunk, and incompressible. */
        if (weft_ws_send(ws, WEFT_WS_BINARY, big + i * PIECE, PIECE)) break;
        if (i % 10 == 0) weft_sleep(0.005);
    }
    weft_ws_msg m;
    int t = weft_ws_receive(ws, &m);
    server_got_ok = t == WEFT_WS_BINARY && m.len == BIG && !memcmp(m.data, big, BIG);
    if (!server_got_ok) fprintf(stderr, "server: receive %d, %zu bytes\n", t, t > 0 ? m.len : 0);
    weft_ws_close(ws, 1000, NULL);
    weft_ws_free(ws);
    return 0;
}

static int receiver(void *arg)
{
    weft_ws *ws = arg;
    weft_ws_msg m;
    int n = 0;
    while (n < SMALL && weft_ws_receive(ws, &m) == WEFT_WS_BINARY && m.len == PIECE &&
           !memcmp(m.data, big + n * PIECE, PIECE))
        n++;
    return n;
}

WEFT_TEST(send_while_receiving_compressed)
{
    big = malloc(BIG);
    fill(big, BIG); /* incompressible: the deflated message stays big */
    weft_http_server *srv = weft_http_server_new(NULL);
    weft_http_server_route(srv, "GET", "/ws", handler, NULL);
    WEFT_TEST_CHECK(weft_http_server_listen(srv, "127.0.0.1", 0) == 0);
    weft_http_client *c = weft_http_client_new(NULL);
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ws", weft_http_server_port(srv));
    weft_ws_opts o = {.deflate = 1, .deflate_level = 1, .send_queue = 16384};
    weft_ws *ws;
    WEFT_TEST_CHECK(weft_ws_connect(c, url, &o, &ws) == 0);
    WEFT_TEST_CHECK(weft_ws_deflate(ws));
    weft_task *rt = weft_spawn(receiver, ws);
    WEFT_TEST_CHECK(weft_ws_send(ws, WEFT_WS_BINARY, big, BIG) == 0);
    WEFT_TEST_CHECK(weft_await(rt) == SMALL);
    for (int i = 0; i < 2000 && server_got_ok < 0; i++) weft_sleep(0.005);
    WEFT_TEST_CHECK(server_got_ok == 1);
    weft_ws_free(ws);
    weft_http_client_close(c);
    weft_http_server_close(srv, 1);
    free(big);
    return 0;
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(send_while_receiving_compressed))
