/* Debug mode and WebSockets (issue 14): a WebSocket never closed and freed
 * is reported at the end of the run, naming the function that opened it
 * (the client's weft_ws_connect caller, the server's route handler); one
 * that was is not; and a task dump shows a task waiting for a message in
 * weft_ws_receive. Real sockets: a weft server and client on loopback. */
#include "capture.h"
#include <weft/debug.h>
#include <weft/ws.h>

/* Kept reachable (the leak checker's view): the test leaks them on purpose. */
static weft_ws *forgot_client, *forgot_server;
static int port, handled;

__attribute__((noinline)) static int leaky_handler(weft_http_request *req, void *arg)
{
    if (weft_ws_upgrade(req, NULL, &forgot_server) == 0) handled++;
    return 0;
}

static int tidy_handler(weft_http_request *req, void *arg)
{
    weft_ws *ws;
    if (weft_ws_upgrade(req, NULL, &ws)) return 0;
    weft_ws_msg m;
    while (weft_ws_receive(ws, &m) > 0) {
    }
    weft_ws_free(ws);
    handled++;
    return 0;
}

static void url_of(char *url, size_t cap) { snprintf(url, cap, "ws://127.0.0.1:%d/ws", port); }

/* Not inlined: the report names it. */
__attribute__((noinline)) static int open_and_forget(weft_http_client *c)
{
    char url[64];
    url_of(url, sizeof url);
    return weft_ws_connect(c, url, NULL, &forgot_client);
}

static int run_server(weft_http_handler h, weft_fn body)
{
    weft_http_server *srv = weft_http_server_new(NULL);
    weft_http_server_route(srv, "GET", "/ws", h, NULL);
    CHECK_EQ(weft_http_server_listen(srv, "127.0.0.1", 0), 0);
    port = weft_http_server_port(srv);
    handled = 0;
    int r = body(NULL);
    weft_http_server_close(srv, 1);
    return r;
}

static int leak_body(void *arg)
{
    weft_http_client *c = weft_http_client_new(NULL);
    CHECK_EQ(open_and_forget(c), 0);
    for (int i = 0; i < 500 && !handled; i++) weft_sleep(0.01);
    CHECK_EQ(handled, 1);
    weft_http_client_close(c);
    return 0;
}

static int leak_main(void *arg) { return run_server(leaky_handler, leak_body); }

/* A session and a WebSocket through it to the test's server. */
static weft_ws *connect_ws(weft_http_client **c)
{
    *c = weft_http_client_new(NULL);
    char url[64];
    url_of(url, sizeof url);
    weft_ws *ws;
    CHECK_EQ(weft_ws_connect(*c, url, NULL, &ws), 0);
    return ws;
}

static int tidy_body(void *arg)
{
    weft_http_client *c;
    weft_ws *ws = connect_ws(&c);
    CHECK_EQ(weft_ws_close(ws, 1000, NULL), 0);
    weft_ws_free(ws);
    for (int i = 0; i < 500 && !handled; i++) weft_sleep(0.01);
    CHECK_EQ(handled, 1);
    weft_http_client_close(c);
    return 0;
}

static int tidy_main(void *arg) { return run_server(tidy_handler, tidy_body); }

static void t_unclosed(void)
{
    weft_options o = {.debug = 1};
    capture_begin();
    weft_run_with(&o, leak_main, NULL);
    char *txt = capture_end();
    /* One report per WebSocket, each with the function that made it. */
    char *a = strstr(txt, "websocket"), *b = a ? strstr(a + 1, "websocket") : NULL;
    CHECK(a && b);
    CHECK(strstr(txt, "open_and_forget"));
    CHECK(strstr(txt, "leaky_handler"));
    free(txt);
    capture_begin();
    CHECK_EQ(weft_run_with(&o, tidy_main, NULL), 0);
    txt = capture_end();
    CHECK(!strstr(txt, "websocket"));
    free(txt);
}

/* ---- a dump names the wait ----------------------------------------------- */

static int waiting_reader(void *arg)
{
    weft_ws_msg m;
    return weft_ws_receive(arg, &m);
}

static int dump_body(void *arg)
{
    weft_http_client *c;
    weft_ws *ws = connect_ws(&c);
    weft_task *t = weft_spawn_named("ws reader", waiting_reader, ws);
    weft_sleep(0.05); /* it is waiting for a message by now */
    FILE *f = tmpfile();
    weft_dump_tasks(f);
    long n = ftell(f);
    char *txt = calloc(1, (size_t)n + 1);
    CHECK_EQ(pread(fileno(f), txt, (size_t)n, 0), n);
    fclose(f);
    char *at = strstr(txt, "ws reader");
    if (!at || !strstr(at, "weft_ws_receive")) fputs(txt, stderr);
    CHECK(at && strstr(at, "weft_ws_receive"));
    free(txt);
    CHECK_EQ(weft_ws_close(ws, 1000, NULL), 0); /* the reader sees the answer */
    CHECK_EQ(weft_await(t), 0);
    weft_ws_free(ws);
    weft_http_client_close(c);
    return 0;
}

static int dump_main(void *arg) { return run_server(tidy_handler, dump_body); }

static void t_dump(void)
{
    weft_options o = {.debug = 1};
    CHECK_EQ(weft_run_with(&o, dump_main, NULL), 0);
}

int main(int argc, char **argv)
{
    static const test_case tc[] = {{"unclosed", t_unclosed}, {"dump", t_dump}, {NULL, NULL}};
    return run_tests(tc, argc, argv);
}
