/* weft_http_multipart_save removes its file whatever stops it: a deadline
 * around the save that expires mid-part (the removal ran through
 * weft_to_thread, which refused at once in the expired scope, so the
 * partial upload stayed on disk and the next save there got -EEXIST), and
 * a client that vanishes mid-part. A raw client over loopback. */
#include <weft/http_multipart.h>
#include <weft/test.h>
#include "check.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/weft-mpcut-XXXXXX";
static char path[128];
static int64_t saved_rc;
static int finished;

typedef struct save_args {
    weft_http_multipart *m;
} save_args;

static int do_save(void *arg)
{
    save_args *a = arg;
    saved_rc = weft_http_multipart_save(a->m, path, 0);
    return saved_rc < 0 ? (int)saved_rc : 0;
}

static int h_save(weft_http_request *req, void *arg)
{
    double limit = *(double *)arg;
    weft_http_multipart *m;
    const weft_http_part *p;
    int r = weft_http_request_multipart(req, NULL, &m);
    if (r) return r;
    r = weft_http_multipart_next(m, &p);
    if (r == 1) {
        save_args a = {m};
        r = limit > 0 ? weft_timeout(limit, do_save, &a) : do_save(&a);
    }
    weft_http_multipart_free(m);
    finished = 1;
    return weft_http_respond(req, 200, "text/plain", "done", 4);
}

/* Sends a head announcing a big body, a part's head and 1000 bytes of it,
 * then stops (closing when vanish). The answer, if any, into out. */
static int send_partial(int port, int vanish, char *out, size_t cap)
{
    weft_stream *s;
    CHECK_EQ(weft_tcp_connect("127.0.0.1", port, NULL, &s), 0);
    char buf[2048];
    int n = snprintf(buf, sizeof buf,
                     "POST /save HTTP/1.1\r\nHost: a\r\n"
                     "Content-Type: multipart/form-data; boundary=B\r\n"
                     "Content-Length: 100000\r\n\r\n"
                     "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\n");
    memset(buf + n, 'a', 1000);
    CHECK(weft_stream_write(s, buf, (size_t)n + 1000) > 0);
    size_t len = 0;
    if (!vanish) {
        ssize_t k;
        while (len + 1 < cap && !strstr(out, "done") &&
               (k = weft_stream_read(s, out + len, cap - 1 - len)) > 0)
            len += (size_t)k, out[len] = 0;
    }
    out[len] = 0;
    weft_stream_close(s);
    return 0;
}

static int run(double limit, int vanish)
{
    weft_http_server *S = weft_http_server_new(NULL);
    weft_http_server_route(S, "POST", "/save", h_save, &limit);
    CHECK_EQ(weft_http_server_listen(S, "127.0.0.1", 0), 0);
    unlink(path);
    finished = 0;
    saved_rc = 1;
    char out[4096] = "";
    send_partial(weft_http_server_port(S), vanish, out, sizeof out);
    for (int i = 0; i < 200 && !finished; i++) weft_sleep(0.01);
    int ok = finished && saved_rc < 0 && access(path, F_OK) != 0;
    if (!ok)
        fprintf(stderr, "finished %d, save %lld, file %s\n", finished, (long long)saved_rc,
                access(path, F_OK) ? "gone" : "left behind");
    if (!vanish) ok = ok && strstr(out, "HTTP/1.1 200 ") != NULL;
    weft_http_server_close(S, 0.5);
    return ok ? 0 : -1;
}

WEFT_TEST(deadline_mid_part) { return run(0.2, 0); }
WEFT_TEST(client_vanishes_mid_part) { return run(0, 1); }

int main(int argc, char **argv)
{
    CHECK(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/upload", dir);
    static const weft_test_case cases[] = {WEFT_TEST_CASE(deadline_mid_part),
                                           WEFT_TEST_CASE(client_vanishes_mid_part)};
    int rc = weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
    unlink(path);
    rmdir(dir);
    return rc;
}
