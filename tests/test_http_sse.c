/* Server-Sent Events (issue 15) both ways against independent peers:
 * weft's handler helper read by Node's EventSource (undici, as browsers
 * parse: multi-line data, types, ids, retry and the reconnection with
 * Last-Event-ID it drives); weft's reader on an aiohttp server that writes
 * the awkward cases of the format in pieces (BOM, CR and CRLF line ends
 * split across writes, comments, fields without a colon or a space, bad
 * retry values, an event without data, one cut by the end); and the exact
 * bytes weft writes, keep-alive comments included. */
#include <weft/http.h>
#include <weft/test.h>
#include "check.h"
#include "run_cmd.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char multi[] = "line1\nline2\r\nline3\rline4";

/* The first connection: retry, a multi-line event, a typed one with an id,
 * a keep-alive comment, empty data, data ending in a newline, then the
 * stream ends. A reconnection with Last-Event-ID: 2 gets "done". */
static int h_events(weft_http_request *req, void *arg)
{
    (void)arg;
    const char *last = weft_http_request_header(req, "last-event-id");
    int r = weft_http_sse_start(req);
    if (r) return r;
    if (last) {
        char data[64];
        snprintf(data, sizeof data, "resumed after %s", last);
        weft_http_sse_event done = {.event = "done", .data = data, .len = strlen(data)};
        return weft_http_sse_send(req, &done);
    }
    weft_http_sse_event evs[] = {
        {.retry_ms = 100},
        {.data = multi, .len = sizeof multi - 1},
        {.event = "update", .id = "1", .data = "x", .len = 1},
        {.data = "", .len = 0},
        {.id = "2", .data = "tail\n", .len = 5},
    };
    for (size_t i = 0; i < sizeof evs / sizeof *evs; i++) {
        if ((r = weft_http_sse_send(req, &evs[i]))) return r;
        if (i == 2 && (r = weft_http_sse_comment(req, "keepalive"))) return r;
    }
    return 0;
}

static weft_http_server *start(int *port)
{
    weft_http_server *s = weft_http_server_new(&(weft_http_server_opts){.compress = 1});
    weft_http_server_route(s, "GET", "/events", h_events, NULL);
    CHECK_EQ(weft_http_server_listen(s, "127.0.0.1", 0), 0);
    *port = weft_http_server_port(s);
    return s;
}

static char out[65536];

/* What weft writes, byte for byte (and not compressed, though the server
 * compresses text). */
WEFT_TEST(wire_format)
{
    int port;
    weft_http_server *s = start(&port);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/events", port);
    weft_http_client *c = weft_http_client_new(NULL);
    weft_http_response *r;
    WEFT_TEST_CHECK(weft_http_client_request(c, "GET", url, NULL, &r) == 0);
    WEFT_TEST_CHECK(!strcmp(weft_http_response_header(r, "content-type"),
                            "text/event-stream; charset=utf-8"));
    WEFT_TEST_CHECK(!strcmp(weft_http_response_header(r, "cache-control"), "no-cache"));
    WEFT_TEST_CHECK(!weft_http_response_header(r, "content-encoding"));
    const char *d;
    size_t n;
    WEFT_TEST_CHECK(weft_http_response_body(r, &d, &n) == 0);
    const char *want = "retry: 100\n\n"
                       "data: line1\ndata: line2\ndata: line3\ndata: line4\n\n"
                       "event: update\nid: 1\ndata: x\n\n"
                       ": keepalive\n\n"
                       "data: \n\n"
                       "id: 2\ndata: tail\ndata: \n\n";
    WEFT_TEST_CHECK(!strcmp(d, want) || (fprintf(stderr, "got [%s]\n", d), 0));
    weft_http_response_free(r);
    weft_http_client_close(c);
    return weft_http_server_close(s, 1);
}

/* Node's EventSource reads the stream, reconnects after retry with
 * Last-Event-ID, and closes on "done". */
WEFT_TEST(node_eventsource)
{
    if (access("/usr/bin/node", X_OK)) {
        fprintf(stderr, "node (Debian's nodejs) is missing: tools/deps.sh test installs it\n");
        return -1;
    }
    int port;
    weft_http_server *s = start(&port);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/events", port);
    char *argv[] = {"/usr/bin/node", "--no-warnings", "--experimental-eventsource", "-e",
                    "const es = new EventSource(process.argv[1]); const got = [];\n"
                    "const on = (e) => { got.push([e.type, e.data, e.lastEventId]);\n"
                    "  if (e.type === 'done') { es.close(); console.log(JSON.stringify(got)); process.exit(0); } };\n"
                    "es.onmessage = on; es.addEventListener('update', on);\n"
                    "es.addEventListener('done', on);\n"
                    "setTimeout(() => { console.log('timeout', JSON.stringify(got)); process.exit(1); }, 4000);\n",
                    url, NULL};
    int st = run_cmd(argv, out, sizeof out);
    WEFT_TEST_CHECK(st == 0 || (fprintf(stderr, "node: %d %s\n", st, out), 0));
    const char *want = "[[\"message\",\"line1\\nline2\\nline3\\nline4\",\"\"],"
                       "[\"update\",\"x\",\"1\"],[\"message\",\"\",\"1\"],"
                       "[\"message\",\"tail\\n\",\"2\"],[\"done\",\"resumed after 2\",\"2\"]]\n";
    WEFT_TEST_CHECK(!strcmp(out, want) || (fprintf(stderr, "got  %swant %s", out, want), 0));
    return weft_http_server_close(s, 1);
}

static const char py_server[] =
    "import asyncio, sys\n"
    "from aiohttp import web\n"
    "PIECES = [b'\\xef\\xbb\\xbf', b': hello\\r\\n', b'data: a\\r', b'\\ndata:b\\r\\n\\r\\n',\n"
    "  b'event: ping\\rretry: 1x\\r\\r',\n"                 /* no data: nothing, type reset */
    "  b'retry: 250\\nid: 7\\ndata\\nfoo: bar\\ndata:  two spaces\\n\\n',\n"
    "  b'id: bad\\x00id\\nevent: t\\ndata: {\"k\": 1}\\n\\n',\n"
    "  b'data: x\\n', b'\\n', b'data: cut at the end']\n"
    "async def events(req):\n"
    "    r = web.StreamResponse(headers={'Content-Type': 'text/event-stream'})\n"
    "    await r.prepare(req)\n"
    "    for p in PIECES:\n"
    "        await r.write(p)\n"
    "        await asyncio.sleep(0.01)\n"
    "    return r\n"
    "async def big(req):\n"
    "    r = web.StreamResponse(headers={'Content-Type': 'text/event-stream'})\n"
    "    await r.prepare(req)\n"
    "    await r.write(b'data: ' + b'y' * 5000 + b'\\n\\n')\n"
    "    return r\n"
    "async def main():\n"
    "    app = web.Application()\n"
    "    app.router.add_get('/events', events)\n"
    "    app.router.add_get('/big', big)\n"
    "    run = web.AppRunner(app)\n"
    "    await run.setup()\n"
    "    site = web.TCPSite(run, '127.0.0.1', 0)\n"
    "    await site.start()\n"
    "    print(site._server.sockets[0].getsockname()[1], flush=True)\n"
    "    await asyncio.sleep(60)\n"
    "asyncio.run(main())\n";

/* weft's reader against aiohttp writing the format's corner cases. */
WEFT_TEST(reader_vs_aiohttp)
{
    char *argv[] = {"/usr/bin/python3", "-c", (char *)py_server, NULL};
    weft_process *p;
    WEFT_TEST_CHECK(weft_process_spawn(argv, &(weft_process_opts){.stdout_mode = WEFT_PIPE}, &p) ==
                    0);
    char line[32];
    ssize_t n = weft_stream_read_line(weft_process_stdout(p), line, sizeof line - 1);
    WEFT_TEST_CHECK(n > 0);
    line[n] = 0;
    int port = atoi(line);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/events", port);
    weft_http_client *c = weft_http_client_new(NULL);
    weft_http_response *r;
    WEFT_TEST_CHECK(weft_http_client_request(c, "GET", url, NULL, &r) == 0);
    weft_http_sse_reader *rd = weft_http_sse_reader_new(r, 0);
    weft_http_sse_event ev;
    char got[2048] = "";
    int k;
    while ((k = weft_http_sse_next(rd, &ev)) == 1) {
        WEFT_TEST_CHECK(strlen(ev.data) == ev.len);
        size_t l = strlen(got);
        snprintf(got + l, sizeof got - l, "%s|%s|%s|%d\n", ev.event, ev.data, ev.id, ev.retry_ms);
    }
    WEFT_TEST_CHECK(k == 0);
    const char *want = "message|a\nb||-1\n"
                       "message|\n two spaces|7|250\n"
                       "t|{\"k\": 1}|7|250\n"
                       "message|x|7|250\n";
    WEFT_TEST_CHECK(!strcmp(got, want) || (fprintf(stderr, "got [%s]\n", got), 0));
    weft_http_sse_reader_free(rd);
    weft_http_response_free(r);
    /* An event over the reader's limit. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/big", port);
    WEFT_TEST_CHECK(weft_http_client_request(c, "GET", url, NULL, &r) == 0);
    rd = weft_http_sse_reader_new(r, 4096);
    WEFT_TEST_CHECK(weft_http_sse_next(rd, &ev) == -E2BIG);
    weft_http_sse_reader_free(rd);
    weft_http_response_free(r);
    weft_http_client_close(c);
    weft_process_free(p); /* kills it */
    return 0;
}

static int h_bad(weft_http_request *req, void *arg)
{
    (void)arg;
    int r = weft_http_sse_start(req);
    int bad = 0;
    bad += weft_http_sse_send(req, &(weft_http_sse_event){.event = "a\nb", .data = "x", .len = 1}) == -EINVAL;
    bad += weft_http_sse_send(req, &(weft_http_sse_event){.id = "1\r", .data = "x", .len = 1}) == -EINVAL;
    bad += weft_http_sse_send(req, &(weft_http_sse_event){0}) == -EINVAL;
    bad += weft_http_sse_comment(req, "a\nb") == -EINVAL;
    char msg[16];
    snprintf(msg, sizeof msg, "%d", bad);
    if (!r) r = weft_http_sse_send(req, &(weft_http_sse_event){.data = msg, .len = strlen(msg)});
    return r;
}

/* What would break the stream is refused, nothing of it sent. */
WEFT_TEST(refusals)
{
    weft_http_server *s = weft_http_server_new(NULL);
    weft_http_server_route(s, "GET", "/bad", h_bad, NULL);
    CHECK_EQ(weft_http_server_listen(s, "127.0.0.1", 0), 0);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/bad", weft_http_server_port(s));
    weft_http_client *c = weft_http_client_new(NULL);
    weft_http_response *r;
    WEFT_TEST_CHECK(weft_http_client_get(c, url, &r) == 0);
    const char *d;
    size_t n;
    WEFT_TEST_CHECK(weft_http_response_body(r, &d, &n) == 0 && !strcmp(d, "data: 4\n\n"));
    weft_http_response_free(r);
    weft_http_client_close(c);
    return weft_http_server_close(s, 1);
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(wire_format), WEFT_TEST_CASE(node_eventsource),
               WEFT_TEST_CASE(reader_vs_aiohttp), WEFT_TEST_CASE(refusals))
