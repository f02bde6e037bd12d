/* `weft ws` (tools/weft/ws.c) against weft's own WebSocket server: lines
 * piped in come back in order (the close waits for them), --binary sends
 * stdin whole, a server's close is reported with its code and reason and
 * fails the exit status, a refused upgrade names the HTTP status, and the
 * load mode prints its rate and percentiles. */
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include "weft_cmd.h"
#include <weft/ws.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

static int port;

static int echo(weft_http_request *req, void *arg)
{
    weft_ws *ws;
    if (weft_ws_upgrade(req, NULL, &ws)) return 0;
    weft_ws_msg m;
    int t;
    while ((t = weft_ws_receive(ws, &m)) > 0) {
        if (t == WEFT_WS_TEXT && m.len == 4 && !memcmp(m.data, "quit", 4)) {
            weft_ws_close(ws, 4001, "told to quit");
            break;
        }
        weft_ws_send(ws, m.type, m.data, m.len);
    }
    weft_ws_free(ws);
    return 0;
}

/* Runs `weft ws args` with in on stdin; stdout and stderr into out/err. */
static int run(char *const argv[], const char *in, size_t inlen, char *out, size_t cap, char *err)
{
    return run_weft(argv, in, inlen, out, cap, err, 1024);
}

static int main_task(void *arg)
{
    weft_http_server *srv = weft_http_server_new(NULL);
    weft_http_server_route(srv, "GET", "/ws", echo, NULL);
    CHECK_EQ(weft_http_server_listen(srv, "127.0.0.1", 0), 0);
    port = weft_http_server_port(srv);
    char url[64], bad[64], out[4096], err[1024];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ws", port);
    snprintf(bad, sizeof bad, "ws://127.0.0.1:%d/nothing", port);

    char *lines[] = {weft_bin, "ws", url, NULL};
    static const char in[] = "one\ntwo \xCE\xBA\r\n\nlast";
    CHECK_EQ(run(lines, in, sizeof in - 1, out, sizeof out, err), 0);
    WEFT_TEST_CHECK(!strcmp(out, "one\ntwo \xCE\xBA\n\nlast\n"));

    /* stdin a regular file: no read ever waits, so every line is sent
     * before the printer would have started; the echoes still come back
     * (it printed nothing and failed with "Device or resource busy"). */
    char file[] = "/tmp/weft-ws-in-XXXXXX";
    int fd = mkstemp(file);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, "f1\nf2\n", 6), 6);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "exec \"$0\" ws %s < %s", url, file);
    char *from_file[] = {"/bin/sh", "-c", cmd, weft_bin, NULL};
    CHECK_EQ(run(from_file, "", 0, out, sizeof out, err), 0);
    WEFT_TEST_CHECK(!strcmp(out, "f1\nf2\n"));
    unlink(file);

    char *bin[] = {weft_bin, "ws", "--binary", url, NULL};
    CHECK_EQ(run(bin, "\x00\x01\xff", 3, out, sizeof out, err), 0);
    WEFT_TEST_CHECK(!memcmp(out, "\x00\x01\xff", 3));

    CHECK_EQ(run(lines, "a\nquit\nb\n", 9, out, sizeof out, err), 1);
    WEFT_TEST_CHECK(!strncmp(out, "a\n", 2));
    WEFT_TEST_CHECK(strstr(err, "4001 told to quit"));

    char *refused[] = {weft_bin, "ws", bad, NULL};
    CHECK_EQ(run(refused, "", 0, out, sizeof out, err), 1);
    WEFT_TEST_CHECK(strstr(err, "HTTP 404"));

    char *load[] = {weft_bin, "ws", "-n", "50", "--concurrency", "3", url, NULL};
    CHECK_EQ(run(load, "", 0, out, sizeof out, err), 0);
    WEFT_TEST_CHECK(strstr(out, "150 messages in "));
    WEFT_TEST_CHECK(strstr(out, "p99 "));
    weft_http_server_close(srv, 1);
    return 0;
}

int main(void)
{
    CHECK(find_weft() == 0);
    weft_test_options o = {.timeout_s = 60}; /* six runs of the weft command */
    return weft_test_run("weft_ws", main_task, NULL, &o);
}
