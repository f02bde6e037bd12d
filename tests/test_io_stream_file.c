/* weft_stream_readable_now and weft_stream_sendfile (issue 11: http no
 * longer peeks or sendfiles on the raw fd): over socketpairs, a real file,
 * and TLS. */
#define _GNU_SOURCE
#include <weft.h>
#include <weft/io.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include "tls_cert.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define FILE_BYTES (3 * 1024 * 1024 + 17)

static char dir[] = "/tmp/weft_sfXXXXXX";
static char path[160], crt[128], key[128];

static void pair(weft_stream **a, weft_stream **b)
{
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    *a = weft_stream_from_fd(sv[0]);
    *b = weft_stream_from_fd(sv[1]);
    CHECK(*a && *b);
}

static unsigned char byte_at(size_t i) { return (unsigned char)(i * 31 + (i >> 12)); }

static void make_file(void)
{
    FILE *f = fopen(path, "w");
    CHECK(f);
    for (size_t i = 0; i < FILE_BYTES; i++) fputc(byte_at(i), f);
    CHECK_EQ(fclose(f), 0);
}

/* ---- readable_now ---- */

static int t_readable_now(void *x)
{
    weft_stream *a, *b;
    pair(&a, &b);
    CHECK_EQ(weft_stream_readable_now(b), 0);
    CHECK_EQ(weft_stream_write(a, "hi", 2), 2);
    CHECK_EQ(weft_stream_readable_now(b), 1);
    CHECK_EQ(weft_stream_readable_now(b), 1); /* nothing consumed */
    char buf[4];
    CHECK_EQ(weft_stream_read(b, buf, 1), 1);   /* "i" stays buffered */
    CHECK_EQ(weft_stream_readable_now(b), 1);
    CHECK_EQ(weft_stream_read(b, buf, 1), 1);
    CHECK_EQ(weft_stream_readable_now(b), 0);
    CHECK_EQ(weft_stream_close(a), 0); /* the peer leaves: end of stream is readable */
    CHECK_EQ(weft_stream_readable_now(b), 1);
    CHECK_EQ(weft_stream_read(b, buf, 1), 0);
    CHECK_EQ(weft_stream_readable_now(b), 1);
    CHECK_EQ(weft_stream_readable_now(NULL), -EINVAL);
    weft_stream_close(b);
    return 0;
}

/* ---- sendfile ---- */

typedef struct sink {
    weft_stream *s;
    size_t got, bad, skip; /* skip: bytes before the file's */
} sink;

static int sink_main(void *p)
{
    sink *k = p;
    char buf[65536];
    for (;;) {
        ssize_t n = weft_stream_read(k->s, buf, sizeof buf);
        CHECK(n >= 0);
        if (!n) break;
        for (ssize_t i = 0; i < n; i++, k->got++) {
            if (k->got < k->skip) continue;
            if ((unsigned char)buf[i] != byte_at(k->got - k->skip)) k->bad++;
        }
    }
    return 0;
}

static void send_all(weft_stream *a, int fd)
{
    off_t off = 0;
    size_t left = FILE_BYTES;
    while (left) {
        ssize_t n = weft_stream_sendfile(a, fd, &off, left);
        CHECK(n > 0);
        left -= (size_t)n;
    }
    CHECK_EQ(off, (off_t)FILE_BYTES);
    CHECK_EQ(weft_stream_sendfile(a, fd, &off, 10), 0); /* end of file */
}

static int t_sendfile(void *x)
{
    weft_stream *a, *b;
    pair(&a, &b);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    WEFT_TEST_CHECK(fd >= 0);
    /* A queued write goes out before the file (a response head). */
    sink k = {.s = b, .skip = 5};
    weft_task *t = weft_spawn(sink_main, &k);
    CHECK_EQ(weft_stream_write(a, "head:", 5), 5);
    send_all(a, fd);
    CHECK_EQ(weft_stream_close(a), 0);
    CHECK_EQ(weft_await(t), 0);
    CHECK_EQ(k.got, (size_t)FILE_BYTES + 5);
    CHECK_EQ(k.bad, (size_t)0);
    weft_stream_close(b);

    /* Bad arguments: a clear error, the stream unharmed. */
    pair(&a, &b);
    off_t off = 0;
    CHECK_EQ(weft_stream_sendfile(a, -1, &off, 10), -EINVAL);
    CHECK_EQ(weft_stream_sendfile(a, fd, NULL, 10), -EINVAL);
    CHECK_EQ(weft_stream_sendfile(NULL, fd, &off, 10), -EINVAL);
    CHECK_EQ(weft_stream_sendfile(a, fd, &off, 0), 0);
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    WEFT_TEST_CHECK(weft_stream_sendfile(a, sv[0], &off, 10) < 0); /* not a file */
    close(sv[0]), close(sv[1]);
    CHECK_EQ(weft_stream_write(a, "ok", 2), 2);
    char buf[4];
    CHECK_EQ(weft_stream_read_exactly(b, buf, 2), 2);
    weft_stream_close(a);
    weft_stream_close(b);

    /* The peer gone: -EPIPE (or a reset), no SIGPIPE death. */
    pair(&a, &b);
    weft_stream_abort(b);
    off = 0;
    ssize_t n = weft_stream_sendfile(a, fd, &off, FILE_BYTES);
    WEFT_TEST_CHECK(n == -EPIPE || n == -ECONNRESET);
    weft_stream_abort(a);
    close(fd);
    return 0;
}

/* A peer that does not read: sendfile waits for room, a deadline ends the
 * wait, and the stream continues afterwards. */
typedef struct filler {
    weft_stream *a;
    int fd;
    off_t off;
} filler;

static int fill(void *p)
{
    filler *f = p;
    for (;;) {
        ssize_t n = weft_stream_sendfile(f->a, f->fd, &f->off, FILE_BYTES - (size_t)f->off);
        if (n <= 0) return (int)n;
    }
}

static int t_sendfile_wait(void *x)
{
    weft_stream *a, *b;
    pair(&a, &b);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    WEFT_TEST_CHECK(fd >= 0);
    filler f = {a, fd, 0};
    CHECK_EQ(weft_timeout(0.2, fill, &f), -ETIMEDOUT);
    WEFT_TEST_CHECK(f.off > 0 && f.off < FILE_BYTES);
    off_t off = f.off;
    /* Another task reading now: the rest goes. */
    sink k = {.s = b};
    weft_task *t = weft_spawn(sink_main, &k);
    while (off < FILE_BYTES)
        WEFT_TEST_CHECK(weft_stream_sendfile(a, fd, &off, FILE_BYTES - (size_t)off) > 0);
    CHECK_EQ(weft_stream_close(a), 0);
    CHECK_EQ(weft_await(t), 0);
    CHECK_EQ(k.got, (size_t)FILE_BYTES);
    CHECK_EQ(k.bad, (size_t)0);
    weft_stream_close(b);
    close(fd);
    return 0;
}

/* ---- TLS: the file goes encrypted, through the stream ---- */

static weft_tls_ctx *sctx, *cctx;

static int tls_server(void *p)
{
    weft_stream *s = p;
    CHECK_EQ(weft_stream_start_tls(s, sctx, NULL), 0);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    send_all(s, fd);
    close(fd);
    CHECK_EQ(weft_stream_close(s), 0);
    return 0;
}

static int t_sendfile_tls(void *x)
{
    weft_tls_opts so = {.cert_file = crt, .key_file = key}, co = {.ca_file = crt};
    sctx = weft_tls_server_ctx(&so);
    cctx = weft_tls_client_ctx(&co);
    WEFT_TEST_CHECK(sctx && cctx);
    weft_stream *c, *s;
    pair(&c, &s);
    weft_task *t = weft_spawn(tls_server, s);
    CHECK_EQ(weft_stream_start_tls(c, cctx, "localhost"), 0);
    sink k = {.s = c};
    CHECK_EQ(sink_main(&k), 0);
    CHECK_EQ(k.got, (size_t)FILE_BYTES);
    CHECK_EQ(k.bad, (size_t)0);
    CHECK_EQ(weft_await(t), 0);
    weft_stream_close(c);
    weft_tls_ctx_free(sctx);
    weft_tls_ctx_free(cctx);
    return 0;
}

static const weft_test_case cases[] = {
    {"readable_now", t_readable_now},
    {"sendfile", t_sendfile},
    {"sendfile_wait", t_sendfile_wait},
    {"sendfile_tls", t_sendfile_tls},
};

int main(int argc, char **argv)
{
    CHECK(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/file", dir);
    make_file();
    CHECK_EQ(tls_cert_make(dir, crt, key), 0);
    int rc = weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)!system(cmd);
    return rc;
}
