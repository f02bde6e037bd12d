/* WebSocket peers that misbehave in ways a frame cannot show: a client
 * that stops reading while the server broadcasts (it alone is closed with
 * 1013; the others get every message). */
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include "ws_raw.h"
#include <weft/ws.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

#define NCONN 3
#define NMSG 200
#define MSG (64 * 1024)

static weft_ws *conns[NCONN];
static int nconns, results[NCONN];

static int handler(weft_http_request *req, void *arg)
{
    weft_ws *ws;
    if (weft_ws_upgrade(req, NULL, &ws)) return 0;
    int me = nconns;
    conns[nconns++] = ws;
    weft_ws_msg m;
    int r;
    while ((r = weft_ws_receive(ws, &m)) > 0) {
    }
    results[me] = r;
    conns[me] = NULL;
    weft_ws_free(ws);
    return 0;
}

static weft_stream *ws_client(int port, int small_window)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (small_window) {
        int v = 4096;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_EQ(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    weft_stream *s = weft_stream_from_fd(fd);
    raw_upgrade(s);
    return s;
}


static int reader(void *arg)
{
    weft_stream *s = arg;
    long i = 0;
    weft__ws_head h;
    static uint8_t buf[MSG];
    for (;;) {
        long n = raw_read(s, &h, buf, sizeof buf, 0);
        if (n < 0 || h.opcode != WEFT__WS_BINARY) break;
        CHECK_EQ(n, MSG);
        i++;
    }
    return (int)i;
}

static int main_task(void *arg)
{
    weft_http_server *srv = weft_http_server_new(NULL);
    weft_http_server_route(srv, "GET", "/ws", handler, NULL);
    CHECK_EQ(weft_http_server_listen(srv, "127.0.0.1", 0), 0);
    int port = weft_http_server_port(srv);
    weft_stream *c[NCONN];
    for (int i = 0; i < NCONN; i++) c[i] = ws_client(port, i == NCONN - 1);
    for (int k = 0; k < 500 && nconns < NCONN; k++) weft_sleep(0.01);
    CHECK_EQ(nconns, NCONN);
    /* Two clients read; the last never does. */
    weft_task *rd[NCONN - 1];
    for (int i = 0; i < NCONN - 1; i++) rd[i] = weft_spawn(reader, c[i]);
    static char msg[MSG];
    memset(msg, 'b', sizeof msg);
    size_t total = 0;
    for (int k = 0; k < NMSG; k++) {
        total += weft_ws_broadcast(conns, NCONN, WEFT_WS_BINARY, msg, sizeof msg);
        weft_sleep(0.001); /* let the readers and flushers run */
    }
    /* The slow one was dropped along the way, the others got everything. */
    WEFT_TEST_CHECK(total >= 2 * NMSG && total < 3 * NMSG);
    for (int k = 0; k < 500 && results[NCONN - 1] == 0; k++) weft_sleep(0.01);
    CHECK_EQ(results[NCONN - 1], -WEFT_EWS_BEHIND);
    for (int i = 0; i < NCONN - 1; i++) {
        raw_frame(c[i], 1, 0, WEFT__WS_CLOSE, "\x03\xe8", 2, 1);
        CHECK_EQ(weft_await(rd[i]), NMSG);
    }
    for (int i = 0; i < NCONN; i++) weft_stream_close(c[i]);
    for (int k = 0; k < 500 && nconns && (conns[0] || conns[1]); k++) weft_sleep(0.01);
    CHECK_EQ(results[0], 0);
    CHECK_EQ(results[1], 0);
    weft_http_server_close(srv, 1);
    return 0;
}

int main(void)
{
    weft_test_options o = {.timeout_s = 30}; /* its waits are bounded at 5 s each */
    return weft_test_run("bad_peers", main_task, NULL, &o);
}
