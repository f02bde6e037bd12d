/* weft_stream over socketpairs and pipes: reads, limits, peek, writes,
 * back-pressure, half-close, cancellation. */
#define _GNU_SOURCE
#include <weft.h>
#include <weft/io.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

static void pair(weft_stream **a, weft_stream **b)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    *a = weft_stream_from_fd(sv[0]);
    *b = weft_stream_from_fd(sv[1]);
    CHECK(*a && *b);
}

/* ---- read, read_exactly ---- */

static int writer_big(void *arg)
{
    weft_stream *a = arg;
    static char big[300000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)(i * 7);
    CHECK_EQ(weft_stream_write(a, big, sizeof big), (long)sizeof big);
    CHECK_EQ(weft_stream_close(a), 0);
    return 0;
}

static int t_roundtrip(void *arg)
{
    weft_stream *a, *b;
    pair(&a, &b);
    CHECK_EQ(weft_stream_write(a, "hello world", 11), 11);
    char buf[64];
    CHECK_EQ(weft_stream_read_exactly(b, buf, 5), 5);
    WEFT_TEST_CHECK(!memcmp(buf, "hello", 5));
    CHECK_EQ(weft_stream_read(b, buf, sizeof buf), 6);
    WEFT_TEST_CHECK(!memcmp(buf, " world", 6));
    /* a writer bigger than both the socket buffer and the high-water mark */
    weft_task *w = weft_spawn(writer_big, a);
    static char got[300000];
    CHECK_EQ(weft_stream_read_exactly(b, got, sizeof got), (long)sizeof got);
    for (size_t i = 0; i < sizeof got; i++) CHECK_EQ(got[i], (char)(i * 7));
    CHECK_EQ(weft_stream_read(b, buf, sizeof buf), 0); /* EOF */
    CHECK_EQ(weft_stream_read(b, buf, sizeof buf), 0); /* stays at EOF */
    CHECK_EQ(weft_await(w), 0);
    CHECK_EQ(weft_stream_close(b), 0);
    return 0;
}

static int t_exactly_eof(void *arg)
{
    weft_stream *a, *b;
    pair(&a, &b);
    CHECK_EQ(weft_stream_write(a, "abc", 3), 3);
    CHECK_EQ(weft_stream_close(a), 0);
    char buf[16];
    CHECK_EQ(weft_stream_read_exactly(b, buf, 10), -WEFT_EINCOMPLETE);
    WEFT_TEST_CHECK(
        !strcmp(weft_strerror(-WEFT_EINCOMPLETE), "stream ended before the expected bytes"));
    CHECK_EQ(weft_stream_read(b, buf, sizeof buf), 0);
    weft_stream_close(b);
    return 0;
}

/* ---- read_until, read_line, limits ---- */

static int t_until(void *arg)
{
    weft_stream *a, *b;
    pair(&a, &b);
    CHECK_EQ(weft_stream_write(a, "GET / HTTP/1.1\r\nHost: x\r\n\r\nline2\npartial", 40), 40);
    char buf[128];
    CHECK_EQ(weft_stream_read_until(b, "\r\n\r\n", 4, buf, sizeof buf), 27);
    WEFT_TEST_CHECK(!memcmp(buf, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27));
    CHECK_EQ(weft_stream_read_line(b, buf, sizeof buf), 6);
    WEFT_TEST_CHECK(!memcmp(buf, "line2\n", 6));
    CHECK_EQ(weft_stream_close(a), 0);
    /* EOF without the delimiter: an error, and the bytes are still there */
    CHECK_EQ(weft_stream_read_line(b, buf, sizeof buf), -WEFT_EINCOMPLETE);
    CHECK_EQ(weft_stream_buffered(b), 7);
    CHECK_EQ(weft_stream_read(b, buf, sizeof buf), 7);
    WEFT_TEST_CHECK(!memcmp(buf, "partial", 7));
    CHECK_EQ(weft_stream_read_until(b, "", 0, buf, sizeof buf), -EINVAL);
    weft_stream_close(b);
    return 0;
}

static int slow_line_writer(void *arg)
{
    weft_stream *a = arg;
    /* a line of 100 bytes in pieces, then its end */
    for (int i = 0; i < 10; i++) {
        CHECK_EQ(weft_stream_write(a, "0123456789", 10), 10);
        weft_sleep(0.001);
    }
    CHECK_EQ(weft_stream_write(a, "\nnext\n", 6), 6);
    return 0;
}

static int t_line_limit(void *arg)
{
    weft_stream *a, *b;
    pair(&a, &b);
    weft_task *w = weft_spawn(slow_line_writer, a);
    char buf[256];
    /* cap 50: the line is longer, nothing is consumed */
    CHECK_EQ(weft_stream_read_line(b, buf, 50), -WEFT_ELIMIT);
    WEFT_TEST_CHECK(weft_stream_buffered(b) >= 50);
    /* the stream's own limit applies too */
    weft_stream_set_limit(b, 64);
    CHECK_EQ(weft_stream_read_line(b, buf, sizeof buf), -WEFT_ELIMIT);
    const char *p;
    CHECK_EQ(weft_stream_peek(b, &p, 65), -WEFT_ELIMIT);
    weft_stream_set_limit(b, 0);
    /* a larger cap gets the whole line: nothing was lost */
    CHECK_EQ(weft_stream_read_line(b, buf, sizeof buf), 101);
    for (int i = 0; i < 100; i++) CHECK_EQ(buf[i], '0' + i % 10);
    CHECK_EQ(weft_stream_read_line(b, buf, sizeof buf), 5);
    WEFT_TEST_CHECK(!memcmp(buf, "next\n", 5));
    CHECK_EQ(weft_await(w), 0);
    weft_stream_close(a);
    weft_stream_close(b);
    return 0;
}

/* ---- peek / consume ---- */

static int t_peek(void *arg)
{
    weft_stream *a, *b;
    pair(&a, &b);
    weft_task *w = weft_spawn(slow_line_writer, a);
    const char *p;
    ssize_t n = weft_stream_peek(b, &p, 25);
    WEFT_TEST_CHECK(n >= 25);
    WEFT_TEST_CHECK(!memcmp(p, "0123456789012345678901234", 25));
    weft_stream_consume(b, 20);
    CHECK_EQ(weft_stream_buffered(b), (size_t)n - 20);
    n = weft_stream_peek(b, &p, 0); /* returns what is there without waiting */
    WEFT_TEST_CHECK(n >= 5);
    WEFT_TEST_CHECK(!memcmp(p, "01234", 5));
    weft_stream_consume(b, (size_t)n);
    CHECK_EQ(weft_await(w), 0);
    CHECK_EQ(weft_stream_close(a), 0);
    char buf[256];
    CHECK_EQ(weft_stream_read_line(b, buf, sizeof buf), 101 - 20 - n);
    n = weft_stream_peek(b, &p, 100); /* EOF: fewer than min */
    CHECK_EQ(n, 5);
    weft_stream_consume(b, 5);
    CHECK_EQ(weft_stream_peek(b, &p, 1), 0);
    weft_stream_close(b);
    return 0;
}

/* ---- writes: gathering, back-pressure, half-close ---- */

static int t_writev(void *arg)
{
    weft_stream *a, *b;
    pair(&a, &b);
    struct iovec iov[3] = {{"ab", 2}, {"", 0}, {"cdef", 4}};
    CHECK_EQ(weft_stream_writev(a, iov, 3), 6);
    char buf[16];
    CHECK_EQ(weft_stream_read_exactly(b, buf, 6), 6);
    WEFT_TEST_CHECK(!memcmp(buf, "abcdef", 6));
    weft_stream_close(a);
    weft_stream_close(b);
    return 0;
}

static size_t max_buffered;
static int fast_writer(void *arg)
{
    weft_stream *a = arg;
    char chunk[4096];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 1000; i++) { /* 4 MB */
        CHECK_EQ(weft_stream_write(a, chunk, sizeof chunk), (long)sizeof chunk);
        size_t q = weft_stream_write_buffered(a);
        if (q > max_buffered) max_buffered = q;
    }
    CHECK_EQ(weft_stream_close(a), 0);
    return 0;
}

static int t_backpressure(void *arg)
{
    weft_stream *a, *b;
    pair(&a, &b);
    weft_stream_set_write_buffer(a, 32 * 1024);
    weft_task *w = weft_spawn(fast_writer, a);
    /* read slowly: the writer must wait rather than queue 4 MB */
    char buf[65536];
    size_t total = 0;
    double t0 = weft_now();
    for (;;) {
        ssize_t n = weft_stream_read(b, buf, sizeof buf);
        WEFT_TEST_CHECK(n >= 0);
        if (!n) break;
        total += (size_t)n;
        if (weft_now() - t0 < 0.2) weft_sleep(0.002);
    }
    CHECK_EQ(total, 4096 * 1000);
    CHECK_EQ(weft_await(w), 0);
    WEFT_TEST_CHECK(max_buffered > 0);            /* it did queue... */
    WEFT_TEST_CHECK(max_buffered <= 32 * 1024);   /* ...but no more than the mark */
    weft_stream_close(b);
    return 0;
}

/* Bytes queued under the mark are sent by the stream itself while the
 * writer waits on something else entirely (a proxy waiting on its other
 * side): nobody has to call drain. */
static size_t g_sent;
static weft_event *g_done;
static int queue_then_wait(void *arg)
{
    weft_stream *a = arg;
    char chunk[1000];
    memset(chunk, 'q', sizeof chunk);
    while (!weft_stream_write_buffered(a)) { /* until the kernel is full */
        CHECK_EQ(weft_stream_write(a, chunk, sizeof chunk), (long)sizeof chunk);
        g_sent += sizeof chunk;
    }
    CHECK_EQ(weft_event_wait(g_done), 0); /* not touching the stream */
    return 0;
}

static weft_stream *g_rd;
static int read_all_sent(void *arg)
{
    static char buf[1 << 20];
    CHECK(g_sent <= sizeof buf);
    return (int)weft_stream_read_exactly(g_rd, buf, g_sent);
}

static int t_background(void *arg)
{
    weft_stream *a, *b;
    pair(&a, &b);
    g_done = weft_event_new();
    weft_task *w = weft_spawn(queue_then_wait, a);
    weft_sleep(0.02); /* it filled the socket and now waits on the event */
    WEFT_TEST_CHECK(!weft_done(w));
    WEFT_TEST_CHECK(weft_stream_write_buffered(a) > 0);
    g_rd = b;
    CHECK_EQ(weft_timeout(5, read_all_sent, NULL), (long)g_sent);
    CHECK_EQ(weft_stream_write_buffered(a), 0);
    weft_event_set(g_done);
    CHECK_EQ(weft_await(w), 0);
    weft_event_free(g_done);
    weft_stream_close(a);
    weft_stream_close(b);
    return 0;
}

static int t_halfclose(void *arg)
{
    weft_stream *a, *b;
    pair(&a, &b);
    CHECK_EQ(weft_stream_write(a, "question", 8), 8);
    CHECK_EQ(weft_stream_shutdown(a), 0);
    CHECK_EQ(weft_stream_write(a, "more", 4), -EPIPE);
    char buf[32];
    CHECK_EQ(weft_stream_read_exactly(b, buf, 8), 8);
    CHECK_EQ(weft_stream_read(b, buf, sizeof buf), 0); /* the peer's EOF */
    CHECK_EQ(weft_stream_write(b, "answer", 6), 6);    /* the other way still works */
    CHECK_EQ(weft_stream_close(b), 0);
    CHECK_EQ(weft_stream_read_exactly(a, buf, 6), 6);
    WEFT_TEST_CHECK(!memcmp(buf, "answer", 6));
    CHECK_EQ(weft_stream_close(a), 0);
    return 0;
}

/* ---- cancellation and timeouts ---- */

static weft_stream *g_b;
static char g_buf[16];
static int read10(void *arg) { return (int)weft_stream_read_exactly(g_b, g_buf, 10); }

static int t_cancel_read(void *arg)
{
    weft_stream *a, *b;
    pair(&a, &b);
    g_b = b;
    CHECK_EQ(weft_stream_write(a, "12345", 5), 5);
    /* a deadline interrupts read_exactly: the 5 bytes are kept */
    CHECK_EQ(weft_timeout(0.05, read10, NULL), -ETIMEDOUT);
    CHECK_EQ(weft_stream_buffered(b), 5);
    /* so is cancellation */
    weft_task *t = weft_spawn(read10, NULL);
    weft_sleep(0.01);
    weft_cancel(t);
    CHECK_EQ(weft_await(t), -ECANCELED);
    CHECK_EQ(weft_stream_buffered(b), 5);
    /* a second reader at once is refused */
    t = weft_spawn(read10, NULL);
    weft_sleep(0.01);
    char x[4];
    CHECK_EQ(weft_stream_read(b, x, 4), -EBUSY);
    CHECK_EQ(weft_stream_write(a, "67890", 5), 5);
    CHECK_EQ(weft_await(t), 10);
    WEFT_TEST_CHECK(!memcmp(g_buf, "1234567890", 10));
    weft_stream_close(a);
    weft_stream_close(b);
    return 0;
}

static weft_stream *g_a;
static int write_lots(void *arg)
{
    static char chunk[65536];
    for (;;) {
        ssize_t n = weft_stream_write(g_a, chunk, sizeof chunk);
        if (n < 0) return (int)n;
    }
}

static int close_a(void *arg) { return weft_stream_close(g_a); }

static int t_cancel_write(void *arg)
{
    weft_stream *a, *b;
    pair(&a, &b);
    g_a = a;
    /* nobody reads b: the writer stalls over the mark until cancelled */
    weft_task *t = weft_spawn(write_lots, NULL);
    weft_sleep(0.05);
    WEFT_TEST_CHECK(!weft_done(t));
    weft_cancel(t);
    CHECK_EQ(weft_await(t), -ECANCELED);
    CHECK_EQ(weft_timeout(0.05, write_lots, NULL), -ETIMEDOUT);
    /* closing gives up draining under a deadline too */
    CHECK_EQ(weft_timeout(0.05, close_a, NULL), -ETIMEDOUT);
    weft_stream_close(b);
    return 0;
}

/* abort from another task wakes a blocked reader */
static int t_abort(void *arg)
{
    weft_stream *a, *b;
    pair(&a, &b);
    g_b = b;
    weft_task *t = weft_spawn(read10, NULL);
    weft_sleep(0.01);
    weft_stream_abort(b);
    CHECK_EQ(weft_await(t), -EPIPE);
    char buf[4];
    CHECK_EQ(weft_stream_read(a, buf, 4), 0);
    weft_stream_close(a);
    return 0;
}

/* ---- pipes ---- */

static int t_pipe(void *arg)
{
    int p[2];
    WEFT_TEST_CHECK(pipe2(p, O_CLOEXEC) == 0);
    weft_stream *r = weft_stream_from_fd(p[0]), *w = weft_stream_from_fd(p[1]);
    WEFT_TEST_CHECK(r && w);
    CHECK_EQ(weft_stream_write(w, "one\ntwo\n", 8), 8);
    CHECK_EQ(weft_stream_close(w), 0);
    char buf[16];
    CHECK_EQ(weft_stream_read_line(r, buf, sizeof buf), 4);
    CHECK_EQ(weft_stream_read_line(r, buf, sizeof buf), 4);
    CHECK_EQ(weft_stream_read_line(r, buf, sizeof buf), -WEFT_EINCOMPLETE);
    CHECK_EQ(weft_stream_close(r), 0);
    /* writing to a pipe nobody reads: -EPIPE, not a SIGPIPE death */
    WEFT_TEST_CHECK(pipe2(p, O_CLOEXEC) == 0);
    w = weft_stream_from_fd(p[1]);
    close(p[0]);
    CHECK_EQ(weft_stream_write(w, "x", 1), -EPIPE);
    weft_stream_close(w);
    WEFT_TEST_CHECK(weft_stream_from_fd(-1) == NULL);
    return 0;
}

static const weft_test_case cases[] = {
    {"roundtrip", t_roundtrip},
    {"exactly_eof", t_exactly_eof},
    {"until", t_until},
    {"line_limit", t_line_limit},
    {"peek", t_peek},
    {"writev", t_writev},
    {"backpressure", t_backpressure},
    {"halfclose", t_halfclose},
    {"background", t_background},
    {"cancel_read", t_cancel_read},
    {"cancel_write", t_cancel_write},
    {"abort", t_abort},
    {"pipe", t_pipe},
};

int main(int argc, char **argv)
{
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
