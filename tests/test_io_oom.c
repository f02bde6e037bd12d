/* Out of memory in the io and http layers, for real: a child process under
 * an address-space limit (RLIMIT_AS) receives more than it can buffer.
 *   - A stream asked to buffer more than memory allows (peek with a huge
 *     min and a huge limit) fails with -ENOMEM, and nothing is lost: every
 *     byte that arrived is still read afterwards, in order.
 *   - An HTTP handler reading a body that outgrows memory gets -ENOMEM, the
 *     client gets a 500 (or the connection ends), and the server, still
 *     under the limit, serves the next request.
 * Skipped under sanitizers and emulators (their shadow memory and address
 * space limits do not mix). */
#define _GNU_SOURCE
#include <weft/http.h>
#include <weft/io.h>
#include "core_util.h"
#include <fcntl.h>
#include <sys/socket.h>

#define TOTAL (96L << 20) /* bytes sent: more than the limit leaves room for */
static char block[65536];

/* Byte i of the stream is (i * 7 + i / 65536) & 0xff: order is checked. */
static unsigned char byte_at(long i) { return (unsigned char)((i * 7 + i / 65536) & 0xff); }

static int writer(void *arg)
{
    int fd = (int)(intptr_t)arg;
    for (long off = 0; off < TOTAL; off += (long)sizeof block) {
        for (size_t k = 0; k < sizeof block; k++) block[k] = (char)byte_at(off + (long)k);
        if (weft_write_all(fd, block, sizeof block) < 0) return -1;
    }
    weft_close(fd);
    return 0;
}

static int stream_main(void *arg)
{
    (void)arg;
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    weft_stream *s = weft_stream_from_fd(sv[0]);
    CHECK(s);
    weft_task *w = weft_spawn(writer, (void *)(intptr_t)sv[1]);
    CHECK(w);
    weft_stream_set_limit(s, 1L << 30);
    static char rd[65536];
    limit_as(48L << 20);

    const char *data;
    ssize_t r = weft_stream_peek(s, &data, 512L << 20);
    CHECK_EQ(r, -ENOMEM);
    size_t held = weft_stream_buffered(s);
    fprintf(stderr, "peek failed with %zu bytes buffered\n", held);
    CHECK(held >= (1 << 20));

    long got = 0;
    while ((r = weft_stream_read(s, rd, sizeof rd)) > 0) {
        for (ssize_t k = 0; k < r; k++)
            if ((unsigned char)rd[k] != byte_at(got + k)) {
                fprintf(stderr, "byte %ld differs\n", got + k);
                CHECK(0);
            }
        got += r;
    }
    CHECK_EQ(r, 0);
    CHECK_EQ(got, TOTAL); /* nothing lost */
    CHECK_EQ(weft_await(w), 0);
    weft_stream_close(s);
    return 0;
}

/* ---- an HTTP body bigger than memory ------------------------------------------------ */

static int body_result;
static int h_body(weft_http_request *req, void *arg)
{
    (void)arg;
    const char *d;
    size_t n;
    body_result = weft_http_request_body(req, &d, &n);
    if (body_result < 0) return body_result;
    return weft_http_respond(req, 200, NULL, "", 0);
}

static int h_ok(weft_http_request *req, void *arg)
{
    (void)arg;
    return weft_http_respond(req, 200, "text/plain", "ok", 2);
}

static long sent;
static ssize_t gen(void *arg, void *buf, size_t n)
{
    (void)arg;
    if (sent >= TOTAL) return 0;
    if (n > 65536) n = 65536;
    memset(buf, 'x', n);
    sent += (long)n;
    return (ssize_t)n;
}

static int http_main(void *arg)
{
    (void)arg;
    weft_http_server_opts so = {.max_body_bytes = 1L << 30};
    weft_http_server *hs = weft_http_server_new(&so);
    CHECK(hs);
    CHECK_EQ(weft_http_server_route(hs, "POST", "/body", h_body, NULL), 0);
    CHECK_EQ(weft_http_server_route(hs, "GET", "/ok", h_ok, NULL), 0);
    CHECK_EQ(weft_http_server_listen(hs, "127.0.0.1", 0), 0);
    char url[64], ok[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/body", weft_http_server_port(hs));
    snprintf(ok, sizeof ok, "http://127.0.0.1:%d/ok", weft_http_server_port(hs));
    weft_http_client *c = weft_http_client_new(NULL);
    weft_http_response *r;
    CHECK_EQ(weft_http_client_get(c, ok, &r), 0); /* warm: tasks, buffers */
    weft_http_response_free(r);
    limit_as(48L << 20);

    weft_http_req_opts o = {.body_fn = gen};
    int e = weft_http_client_request(c, "POST", url, &o, &r);
    if (e == 0) {
        CHECK_EQ(weft_http_response_status(r), 500);
        weft_http_response_free(r);
    } else {
        fprintf(stderr, "client: %s\n", weft_strerror(e));
        CHECK(e == -ECONNRESET || e == -EPIPE || e == -WEFT_EHTTP_CLOSED);
    }
    CHECK_EQ(body_result, -ENOMEM);
    /* Still under the limit, the server goes on. */
    CHECK_EQ(weft_http_client_get(c, ok, &r), 0);
    CHECK_EQ(weft_http_response_status(r), 200);
    weft_http_response_free(r);
    weft_http_client_close(c);
    CHECK_EQ(weft_http_server_close(hs, 1), 0);
    return 0;
}

static void child_stream(void *a)
{
    (void)a;
    CHECK_EQ(weft_run(stream_main, NULL), 0);
    exit(0);
}

static void child_http(void *a)
{
    (void)a;
    CHECK_EQ(weft_run(http_main, NULL), 0);
    exit(0);
}

static void t_stream(void) { oom_in_child(child_stream); }
static void t_http(void) { oom_in_child(child_http); }

int main(int argc, char **argv)
{
    return run_tests((test_case[]){{"stream", t_stream}, {"http", t_http}, {0}}, argc, argv);
}
