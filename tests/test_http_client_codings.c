/* The client decodes br and zstd bodies (issue 15), made by the reference
 * command-line encoders (brotli, zstd) and served as they are: whole, in
 * small chunks, several zstd frames; a body cut short, a zstd frame asking
 * for a window past RFC 9659's 8 MiB, and bombs past max_body_bytes fail
 * clearly. gzip/deflate are test_http_client(_defects)'s. */
#include <weft/http.h>
#include <weft/test.h>
#include "check.h"
#include "run_cmd.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TEXT_LEN 200000
static char text[TEXT_LEN + 1];
static char dir[] = "/tmp/weft_codings_XXXXXX";
static char url[128];

typedef struct blob {
    const char *coding;
    char *data;
    size_t len;
} blob;

enum { BR, ZSTD, ZSTD2, BR_CUT, ZSTD_CUT, ZSTD_BIGWIN, BR_BOMB, ZSTD_BOMB, ZSTD_LEGACY,
       ZSTD_THEN_LEGACY, GZIP_END, GZIP_IDLE, ZSTD_END, ZSTD_IDLE, GZIP_GZIP, NBLOBS };

#define IDLE_BYTES (8 << 20) /* coded bytes that decode to nothing: 8 times the limit */
static blob blobs[NBLOBS];

/* Runs a shell line that writes a file; reads the file into b. */
static void make(int i, const char *coding, const char *line, const char *file)
{
    char cmd[1024], path[256];
    snprintf(cmd, sizeof cmd, "cd %s && %s", dir, line);
    CHECK_EQ(system(cmd), 0);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "rb");
    CHECK(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    blobs[i].data = malloc((size_t)n + 1);
    CHECK(fread(blobs[i].data, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    blobs[i].len = (size_t)n;
    blobs[i].coding = coding;
}

/* Blob i is the n bytes at p followed by the one at q (either may be
 * empty). */
static void join(int i, const char *coding, const void *p, size_t n, const void *q, size_t m)
{
    blobs[i].data = malloc(n + m + 1);
    CHECK(blobs[i].data);
    if (n) memcpy(blobs[i].data, p, n);
    if (m) memcpy(blobs[i].data + n, q, m);
    blobs[i].len = n + m;
    blobs[i].coding = coding;
}

/* A zstd v0.7 frame (the format before 1.0, magic 0xFD2FB527), made by
 * hand as no tool makes them now: window log 27 (128 MiB), one raw block
 * "legacy", the end block. */
static const char legacy_frame[] = "\x27\xb5\x2f\xfd\x00\x88\x40\x00\x06legacy\xc0\x00\x00";

/* Blob i: IDLE_BYTES of coded input that decodes to nothing (empty gzip
 * members, or one zstd skippable frame), then blob end. */
static void idle_then(int i, const char *coding, int end)
{
    blobs[i].data = malloc(IDLE_BYTES + blobs[end].len);
    CHECK(blobs[i].data);
    char *p = blobs[i].data;
    if (!strcmp(coding, "gzip")) {
        /* an empty member: header, an empty final stored block, crc and size 0 */
        static const char member[] = "\x1f\x8b\x08\0\0\0\0\0\0\x03\x03\0\0\0\0\0\0\0\0\0";
        for (size_t k = 0; k + 20 <= IDLE_BYTES; k += 20, p += 20) memcpy(p, member, 20);
    } else {
        uint32_t n = IDLE_BYTES - 8;
        memcpy(p, "\x50\x2a\x4d\x18", 4);
        for (int k = 0; k < 4; k++) p[4 + k] = (char)(n >> (8 * k));
        memset(p + 8, 0, n);
        p += IDLE_BYTES;
    }
    memcpy(p, blobs[end].data, blobs[end].len);
    blobs[i].len = (size_t)(p - blobs[i].data) + blobs[end].len;
    blobs[i].coding = coding;
}

/* /b/N: blob N as sent by an origin, in 1000-byte chunks (?chunked=1) or
 * with its length. */
static int h_blob(weft_http_request *req, void *arg)
{
    (void)arg;
    const char *p = weft_http_request_path(req);
    int i = atoi(p + 3);
    blob *b = &blobs[i];
    weft_http_reply_header(req, "Content-Encoding", b->coding);
    char v[4] = "";
    weft_http_request_query_get(req, "chunked", v, sizeof v);
    if (!v[0]) return weft_http_respond(req, 200, "application/octet-stream", b->data, b->len);
    int r = weft_http_reply_start(req, 200, "application/octet-stream", -1);
    for (size_t off = 0; r >= 0 && off < b->len; off += 1000)
        r = (int)weft_http_reply_write(req, b->data + off, b->len - off < 1000 ? b->len - off : 1000);
    return r < 0 ? r : weft_http_reply_end(req);
}

/* /twice/N: blob N with its Content-Encoding on two lines (a proxy that
 * compressed a gzip body again adds a line of its own), "gzip" each. */
static int h_twice(weft_http_request *req, void *arg)
{
    (void)arg;
    blob *b = &blobs[atoi(weft_http_request_path(req) + 7)];
    weft_http_reply_header(req, "Content-Encoding", "gzip");
    weft_http_reply_header(req, "Content-Encoding", "gzip");
    return weft_http_respond(req, 200, "application/octet-stream", b->data, b->len);
}

/* GETs blob i; the body (decoded) in *body, or the error. */
static int get(weft_http_client *c, int i, int chunked, const char **body, size_t *len)
{
    char u[192];
    snprintf(u, sizeof u, "%s/b/%d%s", url, i, chunked ? "?chunked=1" : "");
    weft_http_response *r = NULL;
    int rc = weft_http_client_request(c, "GET", u, NULL, &r);
    if (rc == 0) rc = weft_http_response_body(r, body, len);
    static char keep[TEXT_LEN + 1];
    if (rc == 0) {
        size_t n = *len < sizeof keep ? *len : sizeof keep;
        memcpy(keep, *body, n);
        *body = keep;
    }
    weft_http_response_free(r);
    return rc;
}

WEFT_TEST(decodes_br_and_zstd)
{
    weft_http_server *s = weft_http_server_new(NULL);
    weft_http_server_route(s, "GET", "/b/{n}", h_blob, NULL);
    weft_http_server_route(s, "GET", "/twice/{n}", h_twice, NULL);
    WEFT_TEST_CHECK(weft_http_server_listen(s, "127.0.0.1", 0) == 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", weft_http_server_port(s));
    weft_http_client *c = weft_http_client_new(&(weft_http_client_opts){.max_body_bytes = 1 << 20});
    const char *body;
    size_t len;
    /* Content-Encoding on two lines is one list ("gzip, gzip", RFC 9110
     * 5.3): kept as sent, as that value on one line is. Only the first line
     * was read: one gzip taken off, the body still gzip, and nothing told
     * the caller it was not decoded. */
    {
        char u[192];
        snprintf(u, sizeof u, "%s/twice/%d", url, GZIP_GZIP);
        weft_http_response *r = NULL;
        WEFT_TEST_CHECK(weft_http_client_request(c, "GET", u, NULL, &r) == 0);
        int g = weft_http_response_body(r, &body, &len);
        WEFT_TEST_CHECK(g == 0);
        WEFT_TEST_CHECK((len == blobs[GZIP_GZIP].len && !memcmp(body, blobs[GZIP_GZIP].data, len)) ||
                        (fprintf(stderr, "gzip on two lines: %zu bytes, not the %zu sent\n", len,
                                 blobs[GZIP_GZIP].len), 0));
        weft_http_response_free(r);
    }
    for (int chunked = 0; chunked < 2; chunked++) {
        for (int i = BR; i <= ZSTD2; i++) {
            int g = get(c, i, chunked, &body, &len);
            WEFT_TEST_CHECK(g == 0 || (fprintf(stderr, "blob %d chunked %d: %s\n", i, chunked, weft_strerror(g)), 0));
            size_t want = i == ZSTD2 ? 2 * TEXT_LEN : TEXT_LEN;
            WEFT_TEST_CHECK(len == want || (fprintf(stderr, "blob %d: %zu bytes\n", i, len), 0));
            WEFT_TEST_CHECK(!memcmp(body, text, TEXT_LEN));
        }
        /* cut short: an error, never a short success */
        WEFT_TEST_CHECK(get(c, BR_CUT, chunked, &body, &len) == -WEFT_EHTTP_DECODE);
        WEFT_TEST_CHECK(get(c, ZSTD_CUT, chunked, &body, &len) == -WEFT_EHTTP_DECODE);
        /* a 128 MiB window asked for: refused, not allocated */
        WEFT_TEST_CHECK(get(c, ZSTD_BIGWIN, chunked, &body, &len) == -WEFT_EHTTP_DECODE);
        /* zstd before 1.0 (libzstd decodes v0.5-v0.7 when a read holds the
         * whole magic number): not RFC 8878's format, and its window is not
         * bounded by windowLogMax, so this 18-byte frame had 128 MiB
         * allocated; refused as the first frame and after a good one */
        int g = get(c, ZSTD_LEGACY, chunked, &body, &len);
        WEFT_TEST_CHECK(g == -WEFT_EHTTP_DECODE ||
                        (fprintf(stderr, "legacy frame: %d, %zu bytes\n", g, g ? 0 : len), 0));
        g = get(c, ZSTD_THEN_LEGACY, chunked, &body, &len);
        WEFT_TEST_CHECK(g == -WEFT_EHTTP_DECODE ||
                        (fprintf(stderr, "frame then legacy: %d, %zu bytes\n", g, g ? 0 : len), 0));
        /* 64 MiB of zeros in a few KiB: stopped at the 1 MiB limit */
        WEFT_TEST_CHECK(get(c, BR_BOMB, chunked, &body, &len) == -WEFT_EHTTP_BODY_SIZE);
        WEFT_TEST_CHECK(get(c, ZSTD_BOMB, chunked, &body, &len) == -WEFT_EHTTP_BODY_SIZE);
        /* 8 MiB of coding that decodes to nothing (empty gzip members, a
         * zstd skippable frame) before 3 bytes: as chunk extensions, no
         * body bytes to count, so a server sending it endlessly held the
         * client whatever its limit; stopped past the limit */
        for (int i = GZIP_END; i <= ZSTD_END; i += 2) {
            WEFT_TEST_CHECK(get(c, i, chunked, &body, &len) == 0 && len == 3);
            g = get(c, i + 1, chunked, &body, &len);
            WEFT_TEST_CHECK(g == -WEFT_EHTTP_BODY_SIZE ||
                            (fprintf(stderr, "blob %d: %d, %zu bytes\n", i + 1, g, g ? 0 : len), 0));
        }
    }
    weft_http_client_close(c);
    return weft_http_server_close(s, 1);
}

int main(int argc, char **argv)
{
    CHECK(mkdtemp(dir));
    for (int i = 0; i < TEXT_LEN; i++) text[i] = "weft decodes the body as it reads\n"[i % 34];
    char path[256];
    snprintf(path, sizeof path, "%s/text", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(text, 1, TEXT_LEN, f) == TEXT_LEN);
    fclose(f);
    make(BR, "br", "brotli -c text > t.br", "t.br");
    make(ZSTD, "zstd", "zstd -q -c text > t.zst", "t.zst");
    make(ZSTD2, "zstd", "cat t.zst t.zst > t2.zst", "t2.zst"); /* two frames */
    make(BR_CUT, "br", "head -c $(($(stat -c %s t.br) - 3)) t.br > cut.br", "cut.br");
    make(ZSTD_CUT, "zstd", "head -c $(($(stat -c %s t.zst) - 3)) t.zst > cut.zst", "cut.zst");
    make(ZSTD_BIGWIN, "zstd", "cat text | zstd -q --long=27 -c > win.zst", "win.zst");
    make(BR_BOMB, "br", "head -c 67108864 /dev/zero | brotli -c > bomb.br", "bomb.br");
    make(ZSTD_BOMB, "zstd", "head -c 67108864 /dev/zero | zstd -q -c > bomb.zst", "bomb.zst");
    make(GZIP_END, "gzip", "printf end | gzip -c > end.gz", "end.gz");
    make(GZIP_GZIP, "gzip", "printf twice | gzip -c | gzip -c > twice.gz", "twice.gz");
    make(ZSTD_END, "zstd", "printf end | zstd -q -c > end.zst", "end.zst");
    idle_then(GZIP_IDLE, "gzip", GZIP_END);
    idle_then(ZSTD_IDLE, "zstd", ZSTD_END);
    join(ZSTD_LEGACY, "zstd", legacy_frame, sizeof legacy_frame - 1, "", 0);
    join(ZSTD_THEN_LEGACY, "zstd", blobs[ZSTD].data, blobs[ZSTD].len, legacy_frame,
         sizeof legacy_frame - 1);
    static const weft_test_case cases[] = {WEFT_TEST_CASE(decodes_br_and_zstd)};
    int rc = weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) rc = 1;
    for (int i = 0; i < NBLOBS; i++) free(blobs[i].data);
    return rc;
}
