/* weft's WebSockets against real peers, both ways, with and without
 * permessage-deflate: Python's aiohttp (/usr/bin/python3) and Node's `ws`
 * (Debian's node-ws) as clients of weft's server and as servers for weft's
 * client; curl for the server's 101 head. Each peer runs as a child
 * process; a peer missing from the machine fails the test (tools/deps.sh
 * installs them). */
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has none); run_tests */
#include <weft/ws.h>
#include <stdio.h>
#include <stdlib.h>

static int port, deflated, served;

static int echo(weft_http_request *req, void *arg)
{
    weft_ws_opts o = {.deflate = 1, .protocols = "chat"};
    weft_ws *ws;
    if (weft_ws_upgrade(req, &o, &ws)) return 0;
    deflated += weft_ws_deflate(ws);
    weft_ws_msg m;
    while (weft_ws_receive(ws, &m) > 0) weft_ws_send(ws, m.type, m.data, m.len);
    served++;
    weft_ws_free(ws);
    return 0;
}

/* Runs argv to its end (20 s at most); its stdout (first line) into out. */
static int run_peer(char *const argv[], char *out, size_t cap)
{
    weft_process_opts po = {.stdout_mode = WEFT_PIPE};
    weft_process *p;
    CHECK_EQ(weft_process_spawn(argv, &po, &p), 0);
    ssize_t n = weft_stream_read_line(weft_process_stdout(p), out, cap - 1);
    out[n > 0 ? n : 0] = 0;
    int st = weft_process_wait(p);
    weft_process_free(p);
    return st;
}

/* Starts a peer server that prints its port first. */
static weft_process *start_server(char *const argv[], int *peer_port)
{
    weft_process_opts po = {.stdout_mode = WEFT_PIPE};
    weft_process *p;
    CHECK_EQ(weft_process_spawn(argv, &po, &p), 0);
    char line[64];
    ssize_t n = weft_stream_read_line(weft_process_stdout(p), line, sizeof line - 1);
    CHECK(n > 0);
    line[n] = 0;
    *peer_port = atoi(line);
    CHECK(*peer_port > 0);
    return p;
}

/* weft's client: text and binary echoed, with deflate; the close agreed. */
static void client_round(int peer_port, int want_deflate, const char *proto)
{
    weft_http_client *c = weft_http_client_new(NULL);
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ws", peer_port);
    weft_ws_opts o = {.deflate = want_deflate, .protocols = proto};
    weft_ws *ws;
    CHECK_EQ(weft_ws_connect(c, url, &o, &ws), 0);
    CHECK_EQ(weft_ws_deflate(ws), want_deflate);
    if (proto) CHECK(weft_ws_protocol(ws) && !strcmp(weft_ws_protocol(ws), proto));
    static char big[300000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)(i % 7 ? 'a' + i % 26 : i);
    for (int round = 0; round < 3; round++) {
        weft_ws_msg m;
        CHECK_EQ(weft_ws_send(ws, WEFT_WS_TEXT, "hello \xCE\xBA\xCF\x8C\xCF\x83\xCE\xBC\xCE\xB5", 16), 0);
        CHECK_EQ(weft_ws_receive(ws, &m), WEFT_WS_TEXT);
        CHECK(m.len == 16 && !memcmp(m.data, "hello \xCE\xBA", 8));
        CHECK_EQ(weft_ws_send_frag(ws, WEFT_WS_BINARY, big, sizeof big, round ? 65536 : 0), 0);
        CHECK_EQ(weft_ws_receive(ws, &m), WEFT_WS_BINARY);
        CHECK(m.len == sizeof big && !memcmp(m.data, big, sizeof big));
    }
    CHECK_EQ(weft_ws_close(ws, 1000, "done"), 0);
    weft_ws_free(ws);
    weft_http_client_close(c);
}

static const char py_client[] =
    "import asyncio, aiohttp, sys\n"
    "async def main(port):\n"
    "    async with aiohttp.ClientSession() as s:\n"
    "        for compress in (0, 15):\n"
    "            async with s.ws_connect(f'http://127.0.0.1:{port}/ws', compress=compress,\n"
    "                                    protocols=('chat',)) as ws:\n"
    "                assert ws.protocol == 'chat', ws.protocol\n"
    "                await ws.send_str('hello \\u03ba\\u03cc\\u03c3\\u03bc\\u03b5')\n"
    "                m = await ws.receive()\n"
    "                assert m.type == aiohttp.WSMsgType.TEXT and m.data == 'hello \\u03ba\\u03cc\\u03c3\\u03bc\\u03b5', m\n"
    "                data = bytes(range(256)) * 1000\n"
    "                await ws.send_bytes(data)\n"
    "                m = await ws.receive()\n"
    "                assert m.type == aiohttp.WSMsgType.BINARY and m.data == data\n"
    "                await ws.close(code=1000, message=b'bye')\n"
    "                assert ws.close_code == 1000, ws.close_code\n"
    "    print('ok')\n"
    "asyncio.run(main(int(sys.argv[1])))\n";

static const char py_server[] =
    "import asyncio\n"
    "from aiohttp import web\n"
    "async def h(req):\n"
    "    ws = web.WebSocketResponse(compress=True, protocols=('chat',))\n"
    "    await ws.prepare(req)\n"
    "    async for m in ws:\n"
    "        if m.type == web.WSMsgType.TEXT: await ws.send_str(m.data)\n"
    "        elif m.type == web.WSMsgType.BINARY: await ws.send_bytes(m.data)\n"
    "    return ws\n"
    "async def main():\n"
    "    app = web.Application(); app.router.add_get('/ws', h)\n"
    "    r = web.AppRunner(app); await r.setup()\n"
    "    site = web.TCPSite(r, '127.0.0.1', 0); await site.start()\n"
    "    print(site._server.sockets[0].getsockname()[1], flush=True)\n"
    "    await asyncio.sleep(60)\n"
    "asyncio.run(main())\n";

static const char node_client[] =
    "const WebSocket = require('ws');\n"
    "const ws = new WebSocket('ws://127.0.0.1:' + process.argv[1] + '/ws', ['chat'], {perMessageDeflate: process.argv[2] === '1'});\n"
    "let n = 0;\n"
    "ws.on('open', () => { ws.send('hi node'); ws.send(Buffer.alloc(100000, 7)); });\n"
    "ws.on('message', (d, bin) => {\n"
    "  n++;\n"
    "  if (n === 1 && (bin || d.toString() !== 'hi node')) process.exit(2);\n"
    "  if (n === 2) { if (!bin || d.length !== 100000 || d[99999] !== 7) process.exit(3); ws.close(1000, 'done'); }\n"
    "});\n"
    "ws.on('close', (code) => { console.log('closed ' + code); process.exit(code === 1000 ? 0 : 4); });\n"
    "ws.on('error', (e) => { console.error(e); process.exit(5); });\n";

static const char node_server[] =
    "const { WebSocketServer } = require('ws');\n"
    "const wss = new WebSocketServer({host: '127.0.0.1', port: 0, perMessageDeflate: true,\n"
    "  handleProtocols: (ps) => ps.has('chat') ? 'chat' : false});\n"
    "wss.on('listening', () => console.log(wss.address().port));\n"
    "wss.on('connection', (ws) => ws.on('message', (d, bin) => ws.send(d, {binary: bin})));\n"
    "setTimeout(() => process.exit(0), 60000);\n";

static int t_aiohttp(void *arg)
{
    char ps[16], out[64];
    snprintf(ps, sizeof ps, "%d", port);
    char *argv[] = {"/usr/bin/python3", "-c", (char *)py_client, ps, NULL};
    CHECK_EQ(run_peer(argv, out, sizeof out), 0);
    WEFT_TEST_CHECK(!strncmp(out, "ok", 2));
    CHECK_EQ(served, 2);
    CHECK_EQ(deflated, 1); /* compress=15 only */
    int pp;
    char *sargv[] = {"/usr/bin/python3", "-c", (char *)py_server, NULL};
    weft_process *p = start_server(sargv, &pp);
    client_round(pp, 1, "chat");
    client_round(pp, 0, NULL);
    weft_process_free(p);
    return 0;
}

static int t_node(void *arg)
{
    setenv("NODE_PATH", "/usr/share/nodejs", 1);
    char ps[16], out[64];
    snprintf(ps, sizeof ps, "%d", port);
    for (int d = 0; d < 2; d++) {
        char *argv[] = {"node", "-e", (char *)node_client, ps, d ? "1" : "0", NULL};
        CHECK_EQ(run_peer(argv, out, sizeof out), 0);
        WEFT_TEST_CHECK(!strncmp(out, "closed 1000", 11));
    }
    CHECK_EQ(served, 2);
    CHECK_EQ(deflated, 1);
    int pp;
    char *sargv[] = {"node", "-e", (char *)node_server, NULL};
    weft_process *p = start_server(sargv, &pp);
    client_round(pp, 1, "chat");
    client_round(pp, 0, NULL);
    weft_process_free(p);
    return 0;
}

static int t_curl(void *arg)
{
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ws", port);
    char *argv[] = {"curl", "-sS", "-i", "-N", "--http1.1", "--max-time", "1",
                    "-H", "Connection: Upgrade", "-H", "Upgrade: websocket",
                    "-H", "Sec-WebSocket-Version: 13",
                    "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                    "-H", "Sec-WebSocket-Protocol: x, chat", url, NULL};
    weft_process_opts po = {.stdout_mode = WEFT_PIPE, .stderr_mode = WEFT_DEVNULL};
    weft_process *p;
    CHECK_EQ(weft_process_spawn(argv, &po, &p), 0);
    char head[2048];
    ssize_t n = weft_stream_read_until(weft_process_stdout(p), "\r\n\r\n", 4, head, sizeof head - 1);
    WEFT_TEST_CHECK(n > 0);
    head[n] = 0;
    WEFT_TEST_CHECK(!strncmp(head, "HTTP/1.1 101 Switching Protocols\r\n", 34));
    WEFT_TEST_CHECK(strstr(head, "\r\nUpgrade: websocket\r\n"));
    WEFT_TEST_CHECK(strstr(head, "\r\nConnection: Upgrade\r\n"));
    WEFT_TEST_CHECK(strstr(head, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    WEFT_TEST_CHECK(strstr(head, "\r\nSec-WebSocket-Protocol: chat\r\n"));
    WEFT_TEST_CHECK(!strstr(head, "Content-Length") && !strstr(head, "Transfer-Encoding"));
    weft_process_wait(p);
    weft_process_free(p);
    return 0;
}

/* Each case runs under weft_test_run (weft/test.h): a time limit, then
 * checks for leaked tasks, unread errors, open resources and fds. run_tests
 * (check.h) only picks the cases by name. */
static const weft_test_options run_opts = {.timeout_s = 70};

static int run_one(void *fn)
{
    weft_http_server *srv = weft_http_server_new(NULL);
    weft_http_server_route(srv, "GET", "/ws", echo, NULL);
    CHECK_EQ(weft_http_server_listen(srv, "127.0.0.1", 0), 0);
    port = weft_http_server_port(srv);
    served = deflated = 0;
    int r = weft_timeout(60, (weft_fn)fn, NULL);
    weft_http_server_close(srv, 1);
    return r;
}

#define CASE(name)                                                                                 \
    static void name##_run(void)                                                                   \
    {                                                                                              \
        CHECK_EQ(weft_test_run(#name, run_one, (void *)name, &run_opts), 0);                       \
    }
CASE(t_aiohttp)
CASE(t_node)
CASE(t_curl)

int main(int argc, char **argv)
{
    static const test_case tc[] = {
        {"aiohttp", t_aiohttp_run}, {"node", t_node_run}, {"curl", t_curl_run}, {NULL, NULL}};
    return run_tests(tc, argc, argv);
}
