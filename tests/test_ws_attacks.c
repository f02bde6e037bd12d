/* The WebSocket connection reviewed as an attacker (or an unlucky caller)
 * would use it, each finding with its test (issue 14 item 6):
 *  - a send cancelled, or past its deadline, with its frame partly queued:
 *    the peer would read the next message as the rest of this one, so the
 *    connection ends and later calls say why (-WEFT_EWS_CUT); a send
 *    cancelled before any of it was queued leaves the connection whole;
 *  - a message of endless empty fragments: frame heads count against the
 *    message limit, or one receive would read for ever (1009);
 *  - weft_ws_receive_part with no room, and max_message SIZE_MAX ("no
 *    limit"): both used to spin without waiting;
 *  - weft_ws_try_send (so weft_ws_broadcast) with deflate checked the room
 *    left against the uncompressed size, and incompressible data grows: a
 *    message that fits uncompressed but not deflated must be refused up
 *    front (-EAGAIN), or its write may wait on the slow peer (the old code
 *    sent it: here the kernel happened to drain; on a peer that reads
 *    nothing it waits, holding up a broadcast);
 *  - two ends each sending big messages with pings between: a reader that
 *    waited for its own sender (stuck on a full socket) to answer a ping
 *    stopped reading, and with both ends so, neither read again. */
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has none); run_tests */
#include "http/ws_internal.h"
#include "ws_raw.h"
#include <weft/ws.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>

enum { BIG = 24 << 20 };
static int port, go_read, got_msgs, last_err;
static size_t got_bytes[8];
static weft_ws_opts server_o;

/* Reads (after go_read is set) until the end, noting each message. */
static int late_reader(weft_http_request *req, void *arg)
{
    weft_ws *ws;
    if (weft_ws_upgrade(req, &server_o, &ws)) return 0;
    while (!go_read) weft_sleep(0.01);
    weft_ws_msg m;
    int r;
    while ((r = weft_ws_receive(ws, &m)) > 0)
        if (got_msgs < 8) got_bytes[got_msgs++] = m.len;
    last_err = r;
    weft_ws_free(ws);
    go_read = 2;
    return 0;
}

static weft_ws *connect_ws(weft_http_client *c, const weft_ws_opts *o)
{
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ws", port);
    weft_ws *ws;
    CHECK_EQ(weft_ws_connect(c, url, o, &ws), 0);
    return ws;
}

static unsigned char *big;

static int send_big(void *ws) { return weft_ws_send(ws, WEFT_WS_BINARY, big, BIG); }
static int send_small(void *ws) { return weft_ws_send(ws, WEFT_WS_TEXT, "small", 5); }

/* ---- cut mid-frame ---------------------------------------------------------- */

static int t_cut(void *arg)
{
    weft_http_client *c = weft_http_client_new(NULL);
    weft_ws_opts o = {.send_queue = 16384};
    weft_ws *ws = connect_ws(c, &o);
    /* The server does not read: the kernel's buffers fill, then ours. */
    CHECK_EQ(weft_timeout(0.5, send_big, ws), -ETIMEDOUT);
    CHECK_EQ(weft_ws_send(ws, WEFT_WS_TEXT, "after", 5), -WEFT_EWS_CUT);
    CHECK_EQ(weft_ws_ping(ws, "", 0), -WEFT_EWS_CUT);
    weft_ws_msg m;
    CHECK_EQ(weft_ws_receive(ws, &m), -WEFT_EWS_CUT);
    CHECK_EQ(weft_ws_close(ws, 1000, NULL), -WEFT_EWS_CUT);
    go_read = 1;
    for (int i = 0; i < 500 && go_read != 2; i++) weft_sleep(0.01);
    /* The server never took a message made of two: the connection ended
     * under it, mid-frame (how the kernel ends it decides which error). */
    CHECK_EQ(got_msgs, 0);
    WEFT_TEST_CHECK(last_err == -WEFT_EWS_CLOSED || last_err == -ECONNRESET);
    weft_ws_free(ws);
    weft_http_client_close(c);
    return 0;
}

/* A sender stopped while waiting for the lock (nothing of it queued): the
 * connection goes on, and the other sender's message arrives whole. */
static int t_cancel_before(void *arg)
{
    weft_http_client *c = weft_http_client_new(NULL);
    weft_ws_opts o = {.send_queue = 16384};
    weft_ws *ws = connect_ws(c, &o);
    weft_task *a = weft_spawn(send_big, ws);
    weft_sleep(0.2); /* a is waiting on the server, holding the lock */
    CHECK_EQ(weft_timeout(0.2, send_small, ws), -ETIMEDOUT);
    go_read = 1;
    CHECK_EQ(weft_await(a), 0);
    CHECK_EQ(weft_ws_send(ws, WEFT_WS_TEXT, "after", 5), 0);
    CHECK_EQ(weft_ws_close(ws, 1000, NULL), 0);
    for (int i = 0; i < 500 && go_read != 2; i++) weft_sleep(0.01);
    CHECK_EQ(got_msgs, 2);
    CHECK_EQ(got_bytes[0], BIG);
    CHECK_EQ(got_bytes[1], 5);
    CHECK_EQ(last_err, 0);
    weft_ws_free(ws);
    weft_http_client_close(c);
    return 0;
}

/* ---- endless empty fragments ------------------------------------------------- */

static weft_stream *raw_ws(void)
{
    weft_stream *s;
    CHECK_EQ(weft_tcp_connect("127.0.0.1", port, NULL, &s), 0);
    raw_upgrade(s);
    return s;
}

static int close_code_of(void *s) { return raw_close_code(s, 0); }

static int t_empty_fragments(void *arg)
{
    go_read = 1;
    weft_stream *s = raw_ws();
    raw_frame(s, 0, 0, WEFT__WS_TEXT, "a", 1, 1);
    /* 6 bytes each: far more than a 1000-byte message may take. */
    for (int i = 0; i < 3000; i++) raw_frame(s, 0, 0, WEFT__WS_CONT, "", 0, 1);
    CHECK_EQ(weft_timeout(5, close_code_of, s), 1009);
    weft_stream_close(s);
    for (int i = 0; i < 500 && go_read != 2; i++) weft_sleep(0.01);
    CHECK_EQ(last_err, -WEFT_EWS_TOO_BIG);
    CHECK_EQ(got_msgs, 0);
    return 0;
}

/* ---- no room, no limit -------------------------------------------------------- */

static int part_handler(weft_http_request *req, void *arg)
{
    weft_ws_opts o = {.max_message = SIZE_MAX};
    weft_ws *ws;
    if (weft_ws_upgrade(req, &o, &ws)) return 0;
    char b[1];
    int type, last;
    last_err = (int)weft_ws_receive_part(ws, b, 0, &type, &last);
    weft_ws_msg m;
    if (weft_ws_receive(ws, &m) == WEFT_WS_TEXT) weft_ws_send(ws, m.type, m.data, m.len);
    weft_ws_free(ws);
    return 0;
}

static int t_no_room(void *arg)
{
    weft_stream *s = raw_ws();
    raw_frame(s, 1, 0, WEFT__WS_TEXT, "hello", 5, 1);
    weft__ws_head h;
    uint8_t buf[16];
    CHECK_EQ(raw_read(s, &h, buf, sizeof buf, 0), 5);
    WEFT_TEST_CHECK(h.opcode == WEFT__WS_TEXT && !memcmp(buf, "hello", 5));
    CHECK_EQ(last_err, -EINVAL);
    weft_stream_close(s);
    return 0;
}

/* ---- pings between big messages, both ways ---------------------------------- */

enum { DUPLEX_MSGS = 32, DUPLEX_SIZE = 1 << 20 };

/* Small socket buffers, so that the senders do wait on each other. */
static void small_buffers(weft_ws *ws)
{
    int fd = weft_stream_fd(ws->s), v = 65536;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
}

static int duplex_sender(void *ws)
{
    for (int i = 0; i < DUPLEX_MSGS; i++) {
        int r = weft_ws_send(ws, WEFT_WS_BINARY, big, DUPLEX_SIZE);
        if (!r) r = weft_ws_ping(ws, "p", 1);
        if (r) return r;
    }
    return 0;
}

static int duplex_handler(weft_http_request *req, void *arg)
{
    weft_ws_opts o = {.send_queue = 65536, .max_message = DUPLEX_SIZE};
    weft_ws *ws;
    if (weft_ws_upgrade(req, &o, &ws)) return 0;
    small_buffers(ws);
    weft_task *t = weft_spawn(duplex_sender, ws);
    weft_ws_msg m;
    while (weft_ws_receive(ws, &m) == WEFT_WS_BINARY) got_msgs++;
    last_err = weft_await(t);
    weft_ws_free(ws);
    go_read = 2;
    return 0;
}

static int t_duplex(void *arg)
{
    weft_http_client *c = weft_http_client_new(NULL);
    weft_ws_opts o = {.send_queue = 65536, .max_message = DUPLEX_SIZE};
    weft_ws *ws = connect_ws(c, &o);
    small_buffers(ws);
    weft_task *t = weft_spawn(duplex_sender, ws);
    weft_ws_msg m;
    int n = 0;
    while (n < DUPLEX_MSGS && weft_ws_receive(ws, &m) == WEFT_WS_BINARY) n++;
    CHECK_EQ(n, DUPLEX_MSGS);
    CHECK_EQ(weft_await(t), 0);
    CHECK_EQ(weft_ws_close(ws, 1000, NULL), 0);
    for (int i = 0; i < 500 && go_read != 2; i++) weft_sleep(0.01);
    CHECK_EQ(got_msgs, DUPLEX_MSGS);
    CHECK_EQ(last_err, 0);
    weft_ws_free(ws);
    weft_http_client_close(c);
    return 0;
}

/* ---- try_send with deflate --------------------------------------------------- */

static weft_ws *srv_ws;

static int holding_handler(weft_http_request *req, void *arg)
{
    weft_ws_opts o = {.deflate = 1, .send_queue = 262144};
    weft_ws *ws;
    if (weft_ws_upgrade(req, &o, &ws)) return 0;
    srv_ws = ws;
    while (!go_read) weft_sleep(0.01);
    srv_ws = NULL;
    weft_ws_free(ws);
    go_read = 2;
    return 0;
}

static int try_send_room(void *arg) { return weft_ws_try_send(srv_ws, WEFT_WS_BINARY, big, (size_t)(intptr_t)arg); }

static int t_try_send_deflate(void *arg)
{
    weft_http_client *c = weft_http_client_new(NULL);
    weft_ws_opts o = {.deflate = 1};
    weft_ws *ws = connect_ws(c, &o);
    WEFT_TEST_CHECK(weft_ws_deflate(ws));
    small_buffers(ws); /* and it never reads */
    for (int i = 0; i < 500 && !srv_ws; i++) weft_sleep(0.01);
    WEFT_TEST_CHECK(srv_ws);
    int fd = weft_stream_fd(srv_ws->s), v = 65536;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    /* Incompressible messages until half the server's queue is full (the
     * kernel's buffers are, then). */
    int n = 0;
    while (n < 5000 && weft_stream_write_buffered(srv_ws->s) < 131072) {
        CHECK_EQ(weft_ws_try_send(srv_ws, WEFT_WS_BINARY, big, 16384), 0);
        n++;
        weft_sleep(0.0005); /* the flusher hands what it can to the kernel */
    }
    WEFT_TEST_CHECK(n < 5000);
    /* Until the kernel takes no more: the queue stays as it is. */
    size_t q;
    do {
        q = weft_stream_write_buffered(srv_ws->s);
        weft_sleep(0.05);
    } while (q != weft_stream_write_buffered(srv_ws->s));
    /* Exactly the room left, uncompressed (some 128 KiB): deflated, it is
     * bigger by more than the head's slack (5 bytes a stored block). */
    long room = 262144 - (long)weft_stream_write_buffered(srv_ws->s) - WEFT__WS_MAX_HEAD;
    WEFT_TEST_CHECK(room > 65536 && room < 262144);
    CHECK_EQ(weft_timeout(1, try_send_room, (void *)(intptr_t)room), -EAGAIN);
    go_read = 1;
    for (int i = 0; i < 500 && go_read != 2; i++) weft_sleep(0.01);
    weft_ws_free(ws);
    weft_http_client_close(c);
    return 0;
}

/* Each case runs under weft_test_run (weft/test.h): a time limit, then
 * checks for leaked tasks, unread errors, open resources and fds. run_tests
 * (check.h) only picks the cases by name. */
static const weft_test_options run_opts = {.timeout_s = 40};

static int run_one(void *fn)
{
    weft_http_server *srv = weft_http_server_new(NULL);
    weft_http_handler h = fn == (void *)t_no_room           ? part_handler
                          : fn == (void *)t_duplex          ? duplex_handler
                          : fn == (void *)t_try_send_deflate ? holding_handler
                                                            : late_reader;
    weft_http_server_route(srv, "GET", "/ws", h, NULL);
    CHECK_EQ(weft_http_server_listen(srv, "127.0.0.1", 0), 0);
    port = weft_http_server_port(srv);
    go_read = got_msgs = last_err = 0;
    int r = weft_timeout(30, (weft_fn)fn, NULL);
    weft_http_server_close(srv, 1);
    return r;
}

static void cut_run(void)
{
    big = calloc(1, BIG);
    server_o = (weft_ws_opts){.max_message = 2 * BIG};
    CHECK_EQ(weft_test_run("t_cut", run_one, (void *)t_cut, &run_opts), 0);
    CHECK_EQ(weft_test_run("t_cancel_before", run_one, (void *)t_cancel_before, &run_opts), 0);
    free(big);
}

static void fragments_run(void)
{
    server_o = (weft_ws_opts){.max_message = 1000};
    CHECK_EQ(weft_test_run("t_empty_fragments", run_one, (void *)t_empty_fragments, &run_opts), 0);
}

static void no_room_run(void)
{
    CHECK_EQ(weft_test_run("t_no_room", run_one, (void *)t_no_room, &run_opts), 0);
}

static void try_send_run(void)
{
    big = malloc(262144);
    uint32_t x = 99;
    for (int i = 0; i < 262144; i++) x = x * 1103515245u + 12345u, big[i] = (unsigned char)(x >> 24);
    CHECK_EQ(weft_test_run("t_try_send_deflate", run_one, (void *)t_try_send_deflate, &run_opts),
             0);
    free(big);
}

static void duplex_run(void)
{
    big = calloc(1, DUPLEX_SIZE);
    CHECK_EQ(weft_test_run("t_duplex", run_one, (void *)t_duplex, &run_opts), 0);
    free(big);
}

int main(int argc, char **argv)
{
    static const test_case tc[] = {{"cut", cut_run},
                                   {"empty_fragments", fragments_run},
                                   {"no_room", no_room_run},
                                   {"duplex_pings", duplex_run},
                                   {"try_send_deflate", try_send_run},
                                   {NULL, NULL}};
    return run_tests(tc, argc, argv);
}
