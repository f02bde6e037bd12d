/* Debug mode and the io layer: a stream never closed is reported at loop
 * close with the user's call as its creation site; a closed one is not. */
#define _GNU_SOURCE
#include "capture.h"
#include <weft.h>
#include <weft/io.h>

static weft_stream *leaked;

static __attribute__((noinline)) int streams_main(void *arg)
{
    (void)arg;
    int p[2], q[2];
    CHECK(pipe(p) == 0 && pipe(q) == 0);
    leaked = weft_stream_from_fd(p[0]);
    weft_stream *closed = weft_stream_from_fd(q[0]);
    CHECK(leaked && closed);
    CHECK_EQ(weft_stream_close(closed), 0);
    close(p[1]);
    close(q[1]);
    return 0;
}

static void test_stream_never_closed(void)
{
    weft_options o = {.debug = 1};
    capture_begin();
    CHECK_EQ(weft_run_with(&o, streams_main, NULL), 0);
    char *out = capture_end();
    int n = 0;
    for (char *p = out; (p = strstr(p, "was never closed")); p++) n++;
    CHECK_EQ(n, 1);
    CHECK(strstr(out, "stream 0x") && strstr(out, "created at streams_main+"));
    free(out);
    weft_stream_abort(leaked); /* frees it (and its fd), for the leak checker */
}

static int echo_once(weft_stream *s, void *arg)
{
    (void)arg;
    char c;
    return (int)weft_stream_read(s, &c, 1);
}

/* The objects below leak on purpose: tell LeakSanitizer (make asan). */
extern void __lsan_ignore_object(const void *p) __attribute__((weak));
static weft_server *leaked_srv;
static weft_stream *leaked_conn;

static __attribute__((noinline)) int tcp_main(void *arg)
{
    (void)arg;
    leaked_srv = weft_tcp_serve("127.0.0.1", 0, echo_once, NULL);
    CHECK(leaked_srv);
    CHECK_EQ(weft_tcp_connect("127.0.0.1", weft_server_port(leaked_srv), NULL, &leaked_conn), 0);
    weft_server *closed = weft_tcp_serve("127.0.0.1", 0, echo_once, NULL);
    CHECK(closed);
    CHECK_EQ(weft_server_close(closed, 0), 0);
    return 0;
}

static void test_server_and_connection(void)
{
    weft_options o = {.debug = 1};
    capture_begin();
    CHECK_EQ(weft_run_with(&o, tcp_main, NULL), 0);
    char *out = capture_end();
    int n = 0;
    for (char *p = out; (p = strstr(p, "was never closed")); p++) n++;
    CHECK_EQ(n, 2);
    CHECK(strstr(out, "server 0x") && strstr(out, "created at tcp_main+"));
    CHECK(strstr(out, "stream 0x"));
    free(out);
    if (__lsan_ignore_object) {
        __lsan_ignore_object(leaked_srv);
        __lsan_ignore_object(leaked_conn);
    }
}

int main(int argc, char **argv)
{
    unsetenv("WEFT_DEBUG");
    static const test_case tests[] = {{"stream_never_closed", test_stream_never_closed},
                                      {"server_and_connection", test_server_and_connection},
                                      {NULL, NULL}};
    return run_tests(tests, argc, argv);
}
