/* Raw bytes to a weft HTTP server over a socket pair, for byte-exact
 * server tests: one fresh connection per call, served by
 * weft_http_server_serve_stream in its own task, everything the server
 * says read until it closes. */
#ifndef WEFT_TESTS_HTTP_TALK_H
#define WEFT_TESTS_HTTP_TALK_H
#include <weft/http.h>
#include <string.h>
#include <sys/socket.h>

static int http_talk_serve_(void *a)
{
    void **args = a;
    weft_http_server_serve_stream(args[0], args[1]);
    weft_stream_close(args[1]);
    return 0;
}

/* Sends raw (then half-closes: the server sees end of input after it) and
 * reads the whole answer into out (NUL-terminated, at most cap - 1 bytes).
 * Returns the bytes read. Waits. */
static inline size_t http_talk(weft_http_server *srv, const char *raw, size_t n, char *out,
                               size_t cap)
{
    int sv[2];
    out[0] = 0;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv)) return 0;
    weft_stream *a = weft_stream_from_fd(sv[0]), *b = weft_stream_from_fd(sv[1]);
    void *args[2] = {srv, b};
    weft_task *t = weft_spawn(http_talk_serve_, args);
    weft_stream_write(a, raw, n);
    weft_stream_shutdown(a);
    size_t got = 0;
    ssize_t r;
    while (got < cap - 1 && (r = weft_stream_read(a, out + got, cap - 1 - got)) > 0)
        got += (size_t)r;
    out[got] = 0;
    weft_stream_close(a);
    weft_await(t);
    return got;
}

#endif
