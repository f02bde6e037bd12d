/* weft's HTTP against real peers on loopback: curl, wrk and Python's
 * aiohttp client against the server; the client against nginx, started
 * here with its own configuration in a temporary directory. */
#include <weft/http.h>
#include <weft/test.h>
#include "tls_cert.h"
#include "free_port.h"
#include "run_cmd.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static weft_http_server *S;
static int port;
static char dir[64];
static char out[1 << 16];

/* Runs argv to its end, its stdout in out; returns its exit status. */
static int run(char *const argv[]) { return run_cmd(argv, out, sizeof out); }

static int h_hello(weft_http_request *req, void *arg)
{
    return weft_http_respond(req, 200, "text/plain", "Hello, World!", 13);
}

static int h_echo(weft_http_request *req, void *arg)
{
    const char *b;
    size_t n;
    int r = weft_http_request_body(req, &b, &n);
    if (r < 0) return r;
    return weft_http_respond(req, 200, NULL, b, n);
}

static int h_stream(weft_http_request *req, void *arg)
{
    int r = weft_http_reply_start(req, 200, "text/plain", -1);
    for (int i = 0; r >= 0 && i < 100; i++) r = (int)weft_http_reply_write(req, "0123456789", 10);
    return r < 0 ? r : weft_http_reply_end(req);
}

static int make_dir(void)
{
    strcpy(dir, "/tmp/weft-peers-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    char p[128];
    snprintf(p, sizeof p, "%s/www", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/www/file.txt", dir);
    FILE *f = fopen(p, "w");
    for (int i = 0; i < 1024; i++) fputc('a' + i % 26, f);
    fclose(f);
    snprintf(p, sizeof p, "%s/www/big.txt", dir);
    f = fopen(p, "w");
    for (int i = 0; i < 200000; i++) fputc('a' + i % 26, f);
    fclose(f);
    return 0;
}

static void rm_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) {}
}

static int start(void)
{
    if (make_dir()) return -1;
    S = weft_http_server_new(NULL);
    weft_http_server_route(S, "GET", "/", h_hello, NULL);
    weft_http_server_route(S, "POST", "/echo", h_echo, NULL);
    weft_http_server_route(S, "GET", "/stream", h_stream, NULL);
    char www[128];
    snprintf(www, sizeof www, "%s/www", dir);
    weft_http_server_static(S, "/static", www);
    int r = weft_http_server_listen(S, "127.0.0.1", 0);
    port = weft_http_server_port(S);
    return r;
}

static int stop_grace(double grace_s)
{
    int r = weft_http_server_close(S, grace_s);
    rm_dir();
    return r;
}
static int stop(void) { return stop_grace(1); }

WEFT_TEST(curl)
{
    WEFT_TEST_CHECK(start() == 0);
    char u[128], u2[128], body[160], fs[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", port);
    /* Two transfers on one connection: the second makes no new connect. */
    char *a1[] = {"curl", "-s", "-w", " %{http_code} %{num_connects}\n", u, u, NULL};
    WEFT_TEST_CHECK(run(a1) == 0);
    WEFT_TEST_CHECK(strstr(out, "Hello, World! 200 1\nHello, World! 200 0\n"));
    /* A chunked upload with Expect: 100-continue. */
    snprintf(u2, sizeof u2, "http://127.0.0.1:%d/echo", port);
    char data[3000];
    memset(data, 'z', sizeof data - 1);
    data[sizeof data - 1] = 0;
    snprintf(body, sizeof body, "@%s/up", dir);
    char up[128];
    snprintf(up, sizeof up, "%s/up", dir);
    FILE *f = fopen(up, "w");
    fputs(data, f);
    fclose(f);
    char *a2[] = {"curl", "-s", "-H", "Transfer-Encoding: chunked", "-H", "Expect: 100-continue",
                  "--data-binary", body, u2, NULL};
    WEFT_TEST_CHECK(run(a2) == 0);
    WEFT_TEST_CHECK(!strcmp(out, data));
    /* A streamed response, a range of a static file, a traversal attempt. */
    snprintf(u2, sizeof u2, "http://127.0.0.1:%d/stream", port);
    char *a3[] = {"curl", "-s", u2, NULL};
    WEFT_TEST_CHECK(run(a3) == 0 && strlen(out) == 1000);
    snprintf(fs, sizeof fs, "http://127.0.0.1:%d/static/file.txt", port);
    char *a4[] = {"curl", "-s", "-r", "26-28", fs, NULL};
    WEFT_TEST_CHECK(run(a4) == 0 && !strcmp(out, "abc"));
    snprintf(fs, sizeof fs, "http://127.0.0.1:%d/static/../../etc/passwd", port);
    char *a5[] = {"curl", "-s", "--path-as-is", "-o", "/dev/null", "-w", "%{http_code}", fs, NULL};
    WEFT_TEST_CHECK(run(a5) == 0 && !strcmp(out, "404"));
    return stop();
}

WEFT_TEST(wrk)
{
    WEFT_TEST_CHECK(start() == 0);
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", port);
    char *a[] = {"wrk", "-t1", "-c20", "-d1s", u, NULL};
    WEFT_TEST_CHECK(run(a) == 0);
    WEFT_TEST_CHECK(strstr(out, "Requests/sec:"));
    WEFT_TEST_CHECK(!strstr(out, "Non-2xx") && !strstr(out, "Socket errors"));
    return stop();
}

static const char *py =
    "import asyncio, aiohttp, sys\n"
    "async def main(base):\n"
    "    async with aiohttp.ClientSession() as s:\n"
    "        async def get(i):\n"
    "            async with s.get(base + '/') as r:\n"
    "                assert r.status == 200 and await r.text() == 'Hello, World!'\n"
    "        await asyncio.gather(*[get(i) for i in range(200)])\n"
    "        async with s.post(base + '/echo', data=b'x' * 100000) as r:\n"
    "            assert await r.read() == b'x' * 100000\n"
    "        async def gen():\n"
    "            for i in range(10): yield b'chunk'\n"
    "        async with s.post(base + '/echo', data=gen()) as r:\n"
    "            assert await r.read() == b'chunk' * 10\n"
    "        async with s.get(base + '/stream') as r:\n"
    "            assert len(await r.read()) == 1000\n"
    "        async with s.get(base + '/static/file.txt') as r:\n"
    "            assert len(await r.read()) == 1024\n"
    "    print('OK')\n"
    "asyncio.run(main(sys.argv[1]))\n";

WEFT_TEST(aiohttp)
{
    WEFT_TEST_CHECK(start() == 0);
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d", port);
    char *a[] = {"/usr/bin/python3", "-c", (char *)py, u, NULL};
    WEFT_TEST_CHECK(run(a) == 0);
    WEFT_TEST_CHECK(!strcmp(out, "OK\n"));
    return stop();
}

static int h_slow(weft_http_request *req, void *arg)
{
    int r = weft_sleep(0.3);
    if (r < 0) return r;
    return weft_http_respond(req, 200, NULL, "finished", 8);
}

static weft_http_client *GC;
static int slow_get(void *arg)
{
    weft_http_response *r;
    int e = weft_http_client_get(GC, (const char *)arg, &r);
    if (e == 0 && weft_http_response_status(r) != 200) e = -EPROTO;
    weft_http_response_free(r);
    return e;
}

/* Graceful shutdown: the request in flight completes (told to close), the
 * idle keep-alive connection ends at once, new connections are refused. */
WEFT_TEST(graceful_shutdown)
{
    WEFT_TEST_CHECK(start() == 0);
    weft_http_server_route(S, "GET", "/slow", h_slow, NULL);
    GC = weft_http_client_new(NULL);
    static char slow[128], hello[128];
    snprintf(slow, sizeof slow, "http://127.0.0.1:%d/slow", port);
    snprintf(hello, sizeof hello, "http://127.0.0.1:%d/", port);
    WEFT_TEST_CHECK(slow_get(hello) == 0); /* leaves an idle connection */
    weft_task *t = weft_spawn(slow_get, slow);
    weft_sleep(0.1);
    double t0 = weft_now();
    /* 5 s of grace, done in ~0.2 s: well under it even on a stalled machine */
    WEFT_TEST_CHECK(stop_grace(5) == 0);
    WEFT_TEST_CHECK(weft_now() - t0 < 3);
    WEFT_TEST_CHECK(weft_await(t) == 0);
    weft_http_response *r;
    WEFT_TEST_CHECK(weft_http_client_get(GC, hello, &r) == -ECONNREFUSED);
    weft_http_client_close(GC);
    return 0;
}

/* ---- the weft command ------------------------------------------------------ */

WEFT_TEST(weft_command)
{
    WEFT_TEST_CHECK(start() == 0);
    const char *b = getenv("WEFT_BUILD_DIR");
    char bin[512], u1[128], u2[128], u3[128], odir[128];
    snprintf(bin, sizeof bin, "%s/tools/weft/weft", b ? b : "build");
    snprintf(u1, sizeof u1, "http://127.0.0.1:%d/", port);
    snprintf(u2, sizeof u2, "http://127.0.0.1:%d/static/file.txt", port);
    snprintf(u3, sizeof u3, "http://127.0.0.1:%d/missing", port);
    snprintf(odir, sizeof odir, "%s/out", dir);
    mkdir(odir, 0755);
    char *ok[] = {bin, "fetch", "-c", "2", "-o", odir, u1, u2, NULL};
    WEFT_TEST_CHECK(run(ok) == 0);
    WEFT_TEST_CHECK(strstr(out, "200 13 ") && strstr(out, "200 1024 "));
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/1-file.txt", odir);
    WEFT_TEST_CHECK(stat(path, &st) == 0 && st.st_size == 1024);
    /* One failure (a 404, a refused connection) makes the exit status 1. */
    char *bad[] = {bin, "fetch", u1, u3, "http://127.0.0.1:1/", NULL};
    WEFT_TEST_CHECK(run(bad) == 1);
    WEFT_TEST_CHECK(strstr(out, "404 ") && strstr(out, "ERR "));
    char *usage[] = {bin, "fetch", NULL};
    WEFT_TEST_CHECK(run(usage) == 2);
    return stop();
}

/* ---- https: the server with TLS, our client and curl verifying it -------- */

WEFT_TEST(https)
{
    WEFT_TEST_CHECK(make_dir() == 0);
    char crt[128], key[128];
    WEFT_TEST_CHECK(tls_cert_make(dir, crt, key) == 0);
    weft_tls_ctx *sctx = weft_tls_server_ctx(&(weft_tls_opts){.cert_file = crt, .key_file = key});
    WEFT_TEST_CHECK(sctx != NULL);
    S = weft_http_server_new(&(weft_http_server_opts){.tls = sctx});
    weft_http_server_route(S, "GET", "/", h_hello, NULL);
    char www[128];
    snprintf(www, sizeof www, "%s/www", dir);
    weft_http_server_static(S, "/static", www);
    WEFT_TEST_CHECK(weft_http_server_listen(S, "127.0.0.1", 0) == 0);
    port = weft_http_server_port(S);
    weft_tls_ctx *cctx = weft_tls_client_ctx(&(weft_tls_opts){.ca_file = crt});
    weft_http_client *c = weft_http_client_new(&(weft_http_client_opts){.tls = cctx});
    char u[128];
    snprintf(u, sizeof u, "https://127.0.0.1:%d/", port);
    weft_http_response *r;
    const char *d;
    size_t n;
    for (int i = 0; i < 3; i++) {
        WEFT_TEST_CHECK(weft_http_client_get(c, u, &r) == 0);
        WEFT_TEST_CHECK(weft_http_response_body(r, &d, &n) == 0 && n == 13);
        weft_http_response_free(r);
    }
    WEFT_TEST_CHECK(weft_http_client_connections(c) == 1);
    /* A static file over TLS goes through reads and writes, not sendfile. */
    snprintf(u, sizeof u, "https://localhost:%d/static/big.txt", port);
    WEFT_TEST_CHECK(weft_http_client_get(c, u, &r) == 0);
    WEFT_TEST_CHECK(weft_http_response_body(r, &d, &n) == 0 && n == 200000);
    weft_http_response_free(r);
    WEFT_TEST_CHECK(weft_http_client_close(c) == 0);
    /* The default context trusts the system store only: the self-signed
     * certificate is refused. */
    c = weft_http_client_new(NULL);
    snprintf(u, sizeof u, "https://127.0.0.1:%d/", port);
    int e = weft_http_client_get(c, u, &r);
    WEFT_TEST_CHECK(e == -WEFT_ETLSCERT);
    weft_http_client_close(c);
    char *a[] = {"curl", "-s", "--cacert", crt, u, NULL};
    WEFT_TEST_CHECK(run(a) == 0 && !strcmp(out, "Hello, World!"));
    weft_tls_ctx_free(cctx);
    int rc = stop();
    weft_tls_ctx_free(sctx);
    return rc;
}

/* ---- the client against nginx ---------------------------------------------- */

static weft_process *nginx;

static int nginx_start(void)
{
    if (access("/usr/sbin/nginx", X_OK)) {
        fprintf(stderr, "nginx is not installed (tools/deps.sh test)\n");
        return -1;
    }
    port = free_port();
    char conf[256];
    snprintf(conf, sizeof conf, "%s/nginx.conf", dir);
    FILE *f = fopen(conf, "w");
    fprintf(f,
            "daemon off; master_process off; worker_processes 1;\n"
            "error_log %s/error.log; pid %s/nginx.pid;\n"
            "events { worker_connections 256; }\n"
            "http { access_log off; keepalive_timeout 1s;\n"
            "  client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s;\n"
            "  uwsgi_temp_path %s; scgi_temp_path %s;\n"
            "  gzip on; gzip_min_length 100; gzip_types text/plain;\n"
            "  types { text/plain txt; }\n"
            "  server { listen 127.0.0.1:%d; root %s/www;\n"
            "    location = /redir { return 301 /file.txt; }\n"
            "    location = /hello { return 200 \"hello\"; }\n"
            "  }\n}\n",
            dir, dir, dir, dir, dir, dir, dir, port, dir);
    fclose(f);
    char *argv[] = {"/usr/sbin/nginx", "-p", dir, "-c", conf, "-e", "stderr", NULL};
    weft_process_opts o = {.stdout_mode = WEFT_DEVNULL};
    if (weft_process_spawn(argv, &o, &nginx) < 0) return -1;
    /* Ready once it accepts. */
    for (int i = 0; i < 100; i++) {
        weft_stream *s;
        if (weft_tcp_connect("127.0.0.1", port, NULL, &s) == 0) {
            weft_stream_close(s);
            return 0;
        }
        weft_sleep(0.05);
    }
    return -1;
}

static void nginx_stop(void)
{
    weft_process_kill(nginx, SIGQUIT);
    weft_process_wait(nginx);
    weft_process_free(nginx);
}

static char url[256];
static const char *U(const char *path)
{
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    return url;
}

static weft_http_client *NC;
static int nget(void *arg)
{
    weft_http_response *r;
    int e = weft_http_client_get(NC, (char *)arg, &r);
    if (e == 0 && weft_http_response_status(r) != 200) e = -EPROTO;
    weft_http_response_free(r);
    return e;
}

WEFT_TEST(client_vs_nginx)
{
    WEFT_TEST_CHECK(make_dir() == 0);
    WEFT_TEST_CHECK(nginx_start() == 0);
    NC = weft_http_client_new(&(weft_http_client_opts){.limit = 10});
    weft_http_response *r;
    const char *d;
    size_t n;
    WEFT_TEST_CHECK(weft_http_client_get(NC, U("/file.txt"), &r) == 0);
    WEFT_TEST_CHECK(weft_http_response_body(r, &d, &n) == 0 && n == 1024 && d[27] == 'b');
    /* nginx gzips it (we asked): decoded on the way. */
    WEFT_TEST_CHECK(!strcmp(weft_http_response_header(r, "content-encoding"), "gzip"));
    weft_http_response_free(r);
    WEFT_TEST_CHECK(weft_http_client_get(NC, U("/big.txt"), &r) == 0);
    WEFT_TEST_CHECK(weft_http_response_body(r, &d, &n) == 0 && n == 200000 && d[199999] == 'a' + 199999 % 26);
    weft_http_response_free(r);
    WEFT_TEST_CHECK(weft_http_client_get(NC, U("/redir"), &r) == 0);
    WEFT_TEST_CHECK(weft_http_response_redirects(r) == 1 && weft_http_response_status(r) == 200);
    weft_http_response_free(r);
    WEFT_TEST_CHECK(weft_http_client_get(NC, U("/nope"), &r) == 0);
    WEFT_TEST_CHECK(weft_http_response_status(r) == 404);
    weft_http_response_free(r);
    WEFT_TEST_CHECK(weft_http_client_request(NC, "HEAD", U("/file.txt"), NULL, &r) == 0);
    WEFT_TEST_CHECK(weft_http_response_body(r, &d, &n) == 0 && n == 0);
    weft_http_response_free(r);
    /* 200 GETs, 10 connections at most, all reused. */
    static char hello[256];
    snprintf(hello, sizeof hello, "http://127.0.0.1:%d/hello", port);
    weft_task *ts[200];
    for (int i = 0; i < 200; i++) ts[i] = weft_spawn(nget, hello);
    WEFT_TEST_CHECK(weft_gather(ts, 200, NULL) == 0);
    WEFT_TEST_CHECK(weft_http_client_connections(NC) <= 10);
    /* nginx closes idle connections after 1 s: the pool notices. */
    weft_sleep(1.5);
    WEFT_TEST_CHECK(nget(hello) == 0);
    WEFT_TEST_CHECK(weft_http_client_close(NC) == 0);
    nginx_stop();
    rm_dir();
    return 0;
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(curl), WEFT_TEST_CASE(wrk), WEFT_TEST_CASE(aiohttp),
               WEFT_TEST_CASE(https), WEFT_TEST_CASE(graceful_shutdown),
               WEFT_TEST_CASE(weft_command),
               WEFT_TEST_CASE(client_vs_nginx))
