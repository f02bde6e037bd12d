/* JSON bodies against a real peer: Python's aiohttp client posting to
 * weft's server (json=, resp.json()), and weft's client against an aiohttp
 * server (request.json(), web.json_response); the refusals (wrong
 * Content-Type, broken or ambiguous JSON, too deep, too large) each
 * answered with a clear status and error. */
#include <weft/http_json.h>
#include <weft/test.h>
#include "free_port.h"
#include "run_cmd.h"
#include "peer_proc.h"
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static char out[1 << 16];

/* {"a": [numbers], ...} -> {"sum": total, "echo": the whole document}. */
static int h_sum(weft_http_request *req, void *arg)
{
    json_t *v;
    int e = weft_http_request_json(req, &v, NULL);
    if (e) return 0; /* answered already (415, 400, 413); keep the connection */
    json_t *a = json_object_get(v, "a");
    double sum = 0;
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x) sum += json_number_value(x);
    json_t *reply = json_pack("{s:f, s:O}", "sum", sum, "echo", v);
    e = weft_http_respond_json(req, 200, reply);
    json_decref(reply);
    json_decref(v);
    return e;
}

static const char *py_client =
    "import asyncio, aiohttp, sys, json\n"
    "async def main(base):\n"
    "    async with aiohttp.ClientSession() as s:\n"
    "        doc = {'a': [1, 2, 3.5], 'name': 'h\\u00e9llo \\u2603 \\U0001d11e', 'n': None,\n"
    "               'nested': {'t': True, 'f': False, 'l': [[], {}]}}\n"
    "        async with s.post(base + '/sum', json=doc) as r:\n"
    "            assert r.status == 200, r.status\n"
    "            assert r.content_type == 'application/json'\n"
    "            got = await r.json()\n"
    "            assert got == {'sum': 6.5, 'echo': doc}, got\n"
    "        async def post(body, ct):\n"
    "            async with s.post(base + '/sum', data=body, headers={'Content-Type': ct}) as r:\n"
    "                return r.status, await r.text()\n"
    "        st, t = await post(b'{\"a\": [1]}', 'text/plain')\n"
    "        assert st == 415 and 'application/json' in t, (st, t)\n"
    "        st, t = await post(b'{\"a\": [1]}', 'application/vnd.x+json; charset=utf-8')\n"
    "        assert st == 200 and json.loads(t)['sum'] == 1, (st, t)\n"
    "        st, t = await post(b'{\"a\": [1,]}', 'application/json')\n"
    "        assert st == 400 and 'invalid JSON' in t and 'line 1' in t, (st, t)\n"
    "        st, t = await post(b'{\"a\": [1], \"a\": [2]}', 'application/json')\n"
    "        assert st == 400 and 'duplicate' in t, (st, t)\n"
    "        st, t = await post(b'{\"s\": \"x\\\\u0000y\"}', 'application/json')\n"
    "        assert st == 400, (st, t)\n"
    "        st, t = await post(b'{\"s\": \"\\xff\"}', 'application/json')\n"
    "        assert st == 400, (st, t)\n"
    "        st, t = await post(b'', 'application/json')\n"
    "        assert st == 400, (st, t)\n"
    "        st, t = await post(b'[' * 129 + b']' * 129, 'application/json')\n"
    "        assert st == 400 and 'deeper' in t, (st, t)\n"
    "        st, t = await post(b'[' * 128 + b']' * 128, 'application/json')\n"
    "        assert st == 200, (st, t)\n"
    "        st, t = await post(b'[\"' + b'x' * 70000 + b'\"]', 'application/json')\n"
    "        assert st == 413, (st, t)\n"
    "        st, t = await post(b'42', 'application/json')\n"
    "        assert st == 200 and json.loads(t) == {'sum': 0, 'echo': 42}, (st, t)\n"
    "    print('OK')\n"
    "asyncio.run(main(sys.argv[1]))\n";

/* aiohttp's client against weft's server: every case in one session (the
 * connection kept through the refusals, since the handler returns 0). */
WEFT_TEST(aiohttp_client)
{
    weft_http_server *S = weft_http_server_new(&(weft_http_server_opts){.max_body_bytes = 65536});
    WEFT_TEST_CHECK(S);
    weft_http_server_route(S, "POST", "/sum", h_sum, NULL);
    WEFT_TEST_CHECK(weft_http_server_listen(S, "127.0.0.1", 0) == 0);
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d", weft_http_server_port(S));
    char *a[] = {"/usr/bin/python3", "-c", (char *)py_client, u, NULL};
    int rc = run_cmd(a, out, sizeof out);
    weft_http_server_close(S, 1);
    WEFT_TEST_CHECK(rc == 0);
    WEFT_TEST_CHECK(!strcmp(out, "OK\n"));
    return 0;
}

static const char *py_server =
    "import sys, json\n"
    "from aiohttp import web\n"
    "async def echo(request):\n"
    "    data = await request.json()\n"
    "    return web.json_response({'got': data, 'ct': request.content_type,\n"
    "                              'accept': request.headers.get('Accept')})\n"
    "async def html(request):\n"
    "    return web.Response(text='<p>hi</p>', content_type='text/html')\n"
    "async def broken(request):\n"
    "    return web.Response(text='{\"a\": tru}', content_type='application/json')\n"
    "async def problem(request):\n"
    "    return web.Response(text='{\"title\": \"nope\"}', status=422,\n"
    "                        content_type='application/problem+json')\n"
    "app = web.Application()\n"
    "app.router.add_post('/echo', echo)\n"
    "app.router.add_get('/html', html)\n"
    "app.router.add_get('/broken', broken)\n"
    "app.router.add_get('/problem', problem)\n"
    "web.run_app(app, host='127.0.0.1', port=int(sys.argv[1]), print=None)\n";

static weft_process *py;

static int aiohttp_start(int port)
{
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    char *argv[] = {"/usr/bin/python3", "-c", (char *)py_server, ps, NULL};
    return peer_start(argv, port, &py);
}

static void aiohttp_stop(void) { peer_stop(py); }

/* weft's client against aiohttp's server. */
WEFT_TEST(aiohttp_server)
{
    int port = free_port();
    WEFT_TEST_CHECK(aiohttp_start(port) == 0);
    weft_http_client *c = weft_http_client_new(NULL);
    char u[128];
    int fail = 0;
#define T(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); fail = 1; goto done; } } while (0)
    weft_http_response *r = NULL;
    json_t *doc = json_pack("{s:[i,f,s], s:n, s:{s:b}}", "a", 1, 2.5, "h\xc3\xa9llo \xe2\x98\x83",
                            "z", "o", "t", 1);
    json_t *got = NULL;
    json_error_t err;

    /* A JSON body goes out, the aiohttp handler reads it with request.json()
     * and the reply parses back to the same document. */
    snprintf(u, sizeof u, "http://127.0.0.1:%d/echo", port);
    T(weft_http_client_request_json(c, "POST", u, doc, NULL, &r) == 0);
    T(weft_http_response_status(r) == 200);
    T(weft_http_response_json(r, &got, &err) == 0);
    T(json_equal(json_object_get(got, "got"), doc));
    T(!strcmp(json_string_value(json_object_get(got, "ct")), "application/json"));
    T(!strcmp(json_string_value(json_object_get(got, "accept")), "application/json"));
    json_decref(got), got = NULL;
    weft_http_response_free(r), r = NULL;

    /* The caller's own Content-Type and Accept win. */
    weft_http_header hs[] = {{"Content-Type", "application/vnd.weft+json"}, {"Accept", "*/*"}};
    weft_http_req_opts o = {.headers = hs, .nheaders = 2};
    T(weft_http_client_request_json(c, "POST", u, doc, &o, &r) == 0);
    T(weft_http_response_json(r, &got, NULL) == 0);
    T(!strcmp(json_string_value(json_object_get(got, "ct")), "application/vnd.weft+json"));
    T(!strcmp(json_string_value(json_object_get(got, "accept")), "*/*"));
    json_decref(got), got = NULL;
    weft_http_response_free(r), r = NULL;

    /* Not JSON: the body stays readable as what it is. */
    snprintf(u, sizeof u, "http://127.0.0.1:%d/html", port);
    T(weft_http_client_request_json(c, "GET", u, NULL, NULL, &r) == 0);
    T(weft_http_response_json(r, &got, &err) == -WEFT_EHTTP_CONTENT_TYPE && !got);
    const char *body;
    size_t len;
    T(weft_http_response_body(r, &body, &len) == 0 && !strcmp(body, "<p>hi</p>"));
    weft_http_response_free(r), r = NULL;

    /* Broken JSON: jansson's message, with the place. */
    snprintf(u, sizeof u, "http://127.0.0.1:%d/broken", port);
    T(weft_http_client_request_json(c, "GET", u, NULL, NULL, &r) == 0);
    T(weft_http_response_json(r, &got, &err) == -WEFT_EHTTP_JSON && !got);
    T(err.line == 1 && err.text[0]);
    weft_http_response_free(r), r = NULL;

    /* application/problem+json is JSON (RFC 6839's +json suffix). */
    snprintf(u, sizeof u, "http://127.0.0.1:%d/problem", port);
    T(weft_http_client_request_json(c, "GET", u, NULL, NULL, &r) == 0);
    T(weft_http_response_status(r) == 422);
    T(weft_http_response_json(r, &got, NULL) == 0);
    T(!strcmp(json_string_value(json_object_get(got, "title")), "nope"));
    json_decref(got), got = NULL;
    weft_http_response_free(r), r = NULL;

    /* A value jansson cannot serialise (one that contains itself) is
     * refused, nothing sent. */
    json_t *bad = json_object(), *arr = json_array();
    json_object_set(bad, "x", arr);
    json_array_append(arr, bad);
    snprintf(u, sizeof u, "http://127.0.0.1:%d/echo", port);
    int be = weft_http_client_request_json(c, "POST", u, bad, NULL, &r);
    json_array_clear(arr);
    json_decref(arr), json_decref(bad);
    T(be == -EINVAL && !r);
#undef T
done:
    json_decref(got);
    json_decref(doc);
    weft_http_response_free(r);
    weft_http_client_close(c);
    aiohttp_stop();
    return fail ? -1 : 0;
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(aiohttp_client), WEFT_TEST_CASE(aiohttp_server))
