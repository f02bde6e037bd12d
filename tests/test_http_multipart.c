/* multipart/form-data: the server's streaming reader against what aiohttp's
 * FormData and curl -F send (and hand-made bodies), differentially with
 * aiohttp's own reader (tests/multipart_peer.py); the client's form bodies
 * (fields, memory parts, a file streamed from disk with a Content-Length
 * known up front) read by aiohttp's server; the framing parser fed in
 * every split; each refusal with its status. */
#include <weft/http_json.h>
#include <weft/http_multipart.h>
#include <weft/test.h>
#include "http/multipart_parse.h"
#include "free_port.h"
#include "run_cmd.h"
#include "peer_proc.h"
#include <openssl/evp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char out[1 << 16];
static char dir[] = "/tmp/weft-mp-XXXXXX";
static weft_http_multipart_opts mopts;

static void hex(const unsigned char *d, size_t n, char *o)
{
    for (size_t i = 0; i < n; i++) sprintf(o + 2 * i, "%02x", d[i]);
}

/* Answers the parts it read as aiohttp's side of multipart_peer.py does:
 * [{name, filename, content_type, len, sha256}]. Parts named "save" are
 * written to disk through weft_http_multipart_save (max 1000 bytes) and
 * read back from there. */
static int h_parts(weft_http_request *req, void *arg)
{
    weft_http_multipart *m;
    if (weft_http_request_multipart(req, &mopts, &m)) return 0;
    json_t *list = json_array();
    const weft_http_part *p;
    int e;
    while ((e = weft_http_multipart_next(m, &p)) == 1) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        EVP_DigestInit_ex(md, EVP_sha256(), NULL);
        int64_t len = 0;
        if (!strcmp(p->name, "save")) {
            char path[128];
            snprintf(path, sizeof path, "%s/saved", dir);
            len = weft_http_multipart_save(m, path, 1000);
            if (len < 0) {
                e = (int)len;
                EVP_MD_CTX_free(md);
                break;
            }
            char *d;
            size_t n;
            weft_file_read(path, &d, &n);
            EVP_DigestUpdate(md, d, n);
            free(d);
            unlink(path);
        } else {
            char buf[7000]; /* odd size: reads end mid-way through pieces */
            ssize_t n;
            while ((n = weft_http_multipart_read(m, buf, sizeof buf)) > 0) {
                EVP_DigestUpdate(md, buf, (size_t)n);
                len += n;
            }
            if (n < 0) {
                e = (int)n;
                EVP_MD_CTX_free(md);
                break;
            }
        }
        unsigned char dg[32];
        char hx[65];
        EVP_DigestFinal_ex(md, dg, NULL);
        EVP_MD_CTX_free(md);
        hex(dg, 32, hx);
        json_array_append_new(list, json_pack("{s:s, s:s?, s:s?, s:I, s:s}", "name", p->name,
                                              "filename", p->filename, "content_type",
                                              p->content_type, "len", (json_int_t)len, "sha256",
                                              hx));
    }
    weft_http_multipart_free(m);
    if (e == 0) e = weft_http_respond_json(req, 200, list);
    else e = 0; /* answered already (400, 413) */
    json_decref(list);
    return e;
}

/* The body's length and whether it came with Content-Length. */
static int h_len(weft_http_request *req, void *arg)
{
    const char *b;
    size_t n;
    int e = weft_http_request_body(req, &b, &n);
    if (e) return e;
    char out[64];
    int k = snprintf(out, sizeof out, "%zu %s", n,
                     weft_http_request_header(req, "content-length") ? "cl" : "chunked");
    return weft_http_respond(req, 200, NULL, out, (size_t)k);
}

static weft_http_server *serve_parts(size_t max_body)
{
    weft_http_server *S = weft_http_server_new(&(weft_http_server_opts){.max_body_bytes = max_body});
    if (!S) return NULL;
    weft_http_server_route(S, "POST", "/parts", h_parts, NULL);
    if (weft_http_server_listen(S, "127.0.0.1", 0)) return NULL;
    return S;
}

static int rm_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* aiohttp's FormData, curl -F and raw bodies, read by weft and by aiohttp. */
WEFT_TEST(differential)
{
    strcpy(dir, "/tmp/weft-mp-XXXXXX");
    WEFT_TEST_CHECK(mkdtemp(dir));
    mopts = (weft_http_multipart_opts){0};
    weft_http_server *S = serve_parts(64 << 20);
    WEFT_TEST_CHECK(S);
    char u[64], py[256];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/parts", weft_http_server_port(S));
    snprintf(py, sizeof py, "%s/multipart_peer.py", getenv("WEFT_TEST_DIR"));
    char *a[] = {"/usr/bin/python3", py, "diff", u, dir, NULL};
    int rc = run_cmd(a, out, sizeof out);
    weft_http_server_close(S, 1);
    rm_dir();
    fprintf(stderr, "%s", out);
    WEFT_TEST_CHECK(rc == 0);
    WEFT_TEST_CHECK(strstr(out, "OK "));
    return 0;
}

static weft_process *py;

static int aiohttp_start(int port)
{
    char ps[16], path[256];
    snprintf(ps, sizeof ps, "%d", port);
    snprintf(path, sizeof path, "%s/multipart_peer.py", getenv("WEFT_TEST_DIR"));
    char *argv[] = {"/usr/bin/python3", path, "serve", ps, NULL};
    return peer_start(argv, port, &py);
}

static void aiohttp_stop(void) { peer_stop(py); }

/* sha256 of data as hex. */
static void sha_hex(const void *d, size_t n, char o[65])
{
    unsigned char dg[32];
    EVP_Digest(d, n, dg, NULL, EVP_sha256(), NULL);
    hex(dg, 32, o);
}

static int part_is(json_t *p, const char *name, const char *filename, const char *ctype,
                   const void *data, size_t len)
{
    char h[65];
    sha_hex(data, len, h);
    json_t *fn = json_object_get(p, "filename"), *ct = json_object_get(p, "content_type");
    return !strcmp(json_string_value(json_object_get(p, "name")), name) &&
           (filename ? fn && !strcmp(json_string_value(fn), filename) : json_is_null(fn)) &&
           (ctype ? ct && !strcmp(json_string_value(ct), ctype) : json_is_null(ct)) &&
           json_integer_value(json_object_get(p, "len")) == (json_int_t)len &&
           !strcmp(json_string_value(json_object_get(p, "sha256")), h);
}

/* weft's client sends a form to aiohttp's server: fields, memory parts and
 * a 3 MiB file streamed from disk with its Content-Length known up front. */
WEFT_TEST(client_to_aiohttp)
{
    strcpy(dir, "/tmp/weft-mp-XXXXXX");
    WEFT_TEST_CHECK(mkdtemp(dir));
    int port = free_port();
    WEFT_TEST_CHECK(aiohttp_start(port) == 0);
    size_t big_len = 3 << 20;
    char *big = malloc(big_len), path[128];
    for (size_t i = 0; i < big_len; i++) big[i] = (char)(i * 7 + (i >> 12));
    snprintf(path, sizeof path, "%s/big.bin", dir);
    WEFT_TEST_CHECK(weft_file_write(path, big, big_len) == 0);

    weft_http_client *c = weft_http_client_new(NULL);
    weft_http_formdata *f = weft_http_formdata_new();
    WEFT_TEST_CHECK(weft_http_formdata_add(f, "a", "1") == 0);
    WEFT_TEST_CHECK(weft_http_formdata_add(f, "text", "two\r\nlines & \"quotes\"") == 0);
    WEFT_TEST_CHECK(weft_http_formdata_add_data(f, "mem", "m.txt", "text/plain", "hello", 5) == 0);
    WEFT_TEST_CHECK(weft_http_formdata_add_file(f, "big", path, NULL, NULL) == 0);
    WEFT_TEST_CHECK(weft_http_formdata_add_file(f, "named", path, "other.bin", "image/png") == 0);
    WEFT_TEST_CHECK(weft_http_formdata_add_data(f, "empty", "e", NULL, "", 0) == 0);
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/parts", port);
    weft_http_response *r = NULL;
    json_t *got = NULL;
    int fail = 0;
#define T(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); fail = 1; goto done; } } while (0)
    /* Sent twice: a form can be reused. */
    for (int round = 0; round < 2; round++) {
        T(weft_http_client_request_formdata(c, "POST", u, f, NULL, &r) == 0);
        T(weft_http_response_status(r) == 200);
        char len[32];
        snprintf(len, sizeof len, "%lld", (long long)weft_http_formdata_length(f));
        T(!strcmp(weft_http_response_header(r, "x-length"), len));
        T(!strcmp(weft_http_response_header(r, "x-te"), "-"));
        T(weft_http_response_json(r, &got, NULL) == 0);
        T(json_array_size(got) == 6);
        T(part_is(json_array_get(got, 0), "a", NULL, NULL, "1", 1));
        const char *t = "two\r\nlines & \"quotes\"";
        T(part_is(json_array_get(got, 1), "text", NULL, NULL, t, strlen(t)));
        T(part_is(json_array_get(got, 2), "mem", "m.txt", "text/plain", "hello", 5));
        T(part_is(json_array_get(got, 3), "big", "big.bin", "application/octet-stream", big,
                  big_len));
        T(part_is(json_array_get(got, 4), "named", "other.bin", "image/png", big, big_len));
        T(part_is(json_array_get(got, 5), "empty", "e", "application/octet-stream", "", 0));
        json_decref(got), got = NULL;
        weft_http_response_free(r), r = NULL;
    }

    /* The file shrinks, then grows, after it was added: the request fails
     * with -EIO before the form is complete. */
    weft_http_formdata *g = weft_http_formdata_new();
    T(weft_http_formdata_add_file(g, "f", path, NULL, NULL) == 0);
    T(truncate(path, 1000) == 0);
    int e = weft_http_client_request_formdata(c, "POST", u, g, NULL, &r);
    T(e == -EIO && !r);
    T(truncate(path, (off_t)big_len + 1) == 0);
    e = weft_http_client_request_formdata(c, "POST", u, g, NULL, &r);
    T(e == -EIO && !r);
    weft_http_formdata_free(g);

    /* Bad input: nothing added. */
    T(weft_http_formdata_add_file(f, "x", dir, NULL, NULL) == -EISDIR);
    T(weft_http_formdata_add_file(f, "x", "/nonexistent/file", NULL, NULL) == -ENOENT);
    T(weft_http_formdata_add_data(f, "x", "y", "text/plain\r\nX-Evil: 1", "a", 1) == -EINVAL);
    T(weft_http_formdata_add(f, NULL, "v") == -EINVAL);
#undef T
done:
    json_decref(got);
    weft_http_response_free(r);
    weft_http_formdata_free(f);
    weft_http_client_close(c);
    aiohttp_stop();
    free(big);
    rm_dir();
    return fail ? -1 : 0;
}

/* Posts body with Content-Type ct to the weft server; status and body. */
static int post_raw(weft_http_client *c, const char *u, const char *ct, const char *body,
                    size_t len, char *reply, size_t cap)
{
    weft_http_header h = {"Content-Type", ct};
    weft_http_req_opts o = {.headers = &h, .nheaders = ct ? 1 : 0, .body = body, .body_len = len};
    weft_http_response *r;
    int e = weft_http_client_request(c, "POST", u, &o, &r);
    if (e) return e;
    const char *d;
    size_t n;
    int st = weft_http_response_status(r);
    if (weft_http_response_body(r, &d, &n) == 0) snprintf(reply, cap, "%s", d);
    weft_http_response_free(r);
    return st;
}

#define CT "multipart/form-data; boundary=B"
#define PART(name) "--B\r\nContent-Disposition: form-data; name=\"" name "\"\r\n\r\n"

/* Each refusal: its status and its message. */
WEFT_TEST(refusals)
{
    strcpy(dir, "/tmp/weft-mp-XXXXXX");
    WEFT_TEST_CHECK(mkdtemp(dir));
    mopts = (weft_http_multipart_opts){.max_parts = 3, .max_header_bytes = 200,
                                       .max_part_bytes = 2000};
    weft_http_server *S = serve_parts(1 << 20);
    WEFT_TEST_CHECK(S);
    weft_http_client *c = weft_http_client_new(NULL);
    char u[64], rep[512];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/parts", weft_http_server_port(S));
    static char big[4000];
    memset(big, 'x', sizeof big);
    struct {
        const char *ct, *body;
        int status;
        const char *msg;
    } cases[] = {
        {"text/plain", PART("a") "1\r\n--B--\r\n", 415, "multipart/form-data"},
        {NULL, PART("a") "1\r\n--B--\r\n", 415, "multipart/form-data"},
        {"multipart/form-data", PART("a") "1\r\n--B--\r\n", 400, "boundary"},
        {"multipart/form-data; boundary=\"a{b\"", "", 400, "boundary"},
        {CT, PART("a") "1\r\n", 400, "malformed"},                 /* no closing line */
        {CT, "--B\r\nContent-Disposition: form-da", 400, "malformed"}, /* cut in a head */
        {CT, "--B\r\nContent-Type: text/plain\r\n\r\n1\r\n--B--\r\n", 400, "malformed"},
        {CT, "--B\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\n1\r\n--B--\r\n", 400,
         "malformed"},
        {CT, "--B\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\n1\r\n--B--\r\n",
         400, "malformed"},
        {CT, "--B\r\nContent-Disposition: form-data; name=\"a\r\n\r\n1\r\n--B--\r\n", 400,
         "malformed"},
        {CT, "--B\r\nContent-Disposition: form-data;\r\n name=\"a\"\r\n\r\n1\r\n--B--\r\n",
         400, "malformed"}, /* folded */
        {CT, "--B\nContent-Disposition: form-data; name=\"a\"\n\n1\n--B--\n", 400, "malformed"},
        {CT, "--Bjunk\r\n" "Content-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--B--\r\n",
         400, "malformed"},
        {CT, PART("a") "1\r\n" PART("b") "2\r\n" PART("c") "3\r\n" PART("d") "4\r\n--B--\r\n",
         400, "too many"},
    };
    int fail = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rep[0] = 0;
        int st = post_raw(c, u, cases[i].ct, cases[i].body, strlen(cases[i].body), rep, sizeof rep);
        if (st != cases[i].status || !strstr(rep, cases[i].msg)) {
            fprintf(stderr, "case %zu: %d %s\n", i, st, rep);
            fail = 1;
        }
    }
    /* A part head over max_header_bytes. */
    char body[6000];
    int n = snprintf(body, sizeof body, "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n"
                     "X-Pad: %.300s\r\n\r\n1\r\n--B--\r\n", big);
    int st = post_raw(c, u, CT, body, (size_t)n, rep, sizeof rep);
    if (st != 400 || !strstr(rep, "head too large")) fprintf(stderr, "head: %d %s\n", st, rep), fail = 1;
    /* A part over max_part_bytes. */
    n = snprintf(body, sizeof body, PART("a") "%.2001s\r\n--B--\r\n", big);
    st = post_raw(c, u, CT, body, (size_t)n, rep, sizeof rep);
    if (st != 413) fprintf(stderr, "part size: %d %s\n", st, rep), fail = 1;
    /* Just at max_part_bytes: read. */
    n = snprintf(body, sizeof body, PART("a") "%.2000s\r\n--B--\r\n", big);
    st = post_raw(c, u, CT, body, (size_t)n, rep, sizeof rep);
    if (st != 200 || !strstr(rep, "\"len\":2000")) fprintf(stderr, "at size: %d %s\n", st, rep), fail = 1;
    /* Saved to disk: within its 1000 bytes, then over (the file removed). */
    n = snprintf(body, sizeof body, PART("save") "%.1000s\r\n--B--\r\n", big);
    st = post_raw(c, u, CT, body, (size_t)n, rep, sizeof rep);
    if (st != 200 || !strstr(rep, "\"len\":1000")) fprintf(stderr, "save: %d %s\n", st, rep), fail = 1;
    n = snprintf(body, sizeof body, PART("save") "%.1001s\r\n--B--\r\n", big);
    st = post_raw(c, u, CT, body, (size_t)n, rep, sizeof rep);
    char saved[128];
    snprintf(saved, sizeof saved, "%s/saved", dir);
    if (st != 413 || access(saved, F_OK) == 0) fprintf(stderr, "save over: %d %s\n", st, rep), fail = 1;
    weft_http_client_close(c);
    weft_http_server_close(S, 1);
    rm_dir();
    return fail ? -1 : 0;
}

/* The framing parser alone, given a body cut at every place (and byte by
 * byte): the same parts, the same bytes. */
static int parse_all(const char *body, size_t len, size_t cut, char *res, size_t cap)
{
    weft__mp m;
    if (weft__mp_init(&m, CT, 1024, 100)) return -1;
    char buf[4096];
    size_t have = 0, fed = 0, o = 0;
    res[0] = 0;
    for (;;) {
        size_t take = cut ? cut : len;
        while (fed < len && take--) buf[have++] = body[fed++];
        int ev;
        const char *d;
        size_t n;
        long used = weft__mp_feed(&m, buf, have, &ev, &d, &n);
        if (used < 0) return (int)used;
        if (ev == WEFT__MP_HEAD) o += (size_t)snprintf(res + o, cap - o, "[H%.*s]", (int)n, d);
        if (ev == WEFT__MP_DATA) o += (size_t)snprintf(res + o, cap - o, "%.*s", (int)n, d);
        if (ev == WEFT__MP_PART_END) o += (size_t)snprintf(res + o, cap - o, "|");
        if (ev == WEFT__MP_DONE) return 0;
        memmove(buf, buf + used, have - (size_t)used);
        have -= (size_t)used;
        if (ev == WEFT__MP_NEED && fed == len && !used) return -2;
    }
}

WEFT_TEST(splits)
{
    const char *body = "pre\r\n--B \r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n"
                       "x\r\n--\r\n-B--\r\r\n--B\r\nContent-Disposition: form-data; name=\"b\"\r\n"
                       "\r\n\r\n--B--\r\nepilogue";
    char want[1024], got[1024];
    WEFT_TEST_CHECK(parse_all(body, strlen(body), 0, want, sizeof want) == 0);
    WEFT_TEST_CHECK(!strcmp(want, "[HContent-Disposition: form-data; name=\"a\"]x\r\n--\r\n-B--\r|"
                                  "[HContent-Disposition: form-data; name=\"b\"]|"));
    for (size_t cut = 1; cut < strlen(body); cut++) {
        WEFT_TEST_CHECK(parse_all(body, strlen(body), cut, got, sizeof got) == 0);
        WEFT_TEST_CHECK(!strcmp(got, want));
    }
    /* "--B" after preamble bytes without CRLF opens no part: the form
     * below has none, only a preamble and the closing line. */
    const char *late = "x--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--B--\r\n";
    WEFT_TEST_CHECK(parse_all(late, strlen(late), 0, got, sizeof got) == 0 && !got[0]);
    WEFT_TEST_CHECK(parse_all(late, strlen(late), 1, got, sizeof got) == 0 && !got[0]);
    return 0;
}

typedef struct sized {
    size_t give;
} sized;

static ssize_t give_fn(void *arg, void *buf, size_t n)
{
    sized *s = arg;
    size_t k = s->give < n ? s->give : n;
    memset(buf, 'z', k);
    s->give -= k;
    return (ssize_t)k;
}

/* body_size: a streamed body with a length given up front goes out with
 * Content-Length; one whose body_fn gives fewer or more bytes fails with
 * -EINVAL (the connection is dropped, the server sees a cut body). */
WEFT_TEST(body_size)
{
    weft_http_server *S = weft_http_server_new(NULL);
    WEFT_TEST_CHECK(S);
    weft_http_server_route(S, "POST", "/len", h_len, NULL);
    WEFT_TEST_CHECK(weft_http_server_listen(S, "127.0.0.1", 0) == 0);
    weft_http_client *c = weft_http_client_new(NULL);
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/len", weft_http_server_port(S));
    int fail = 0;
    size_t gives[] = {40000, 39999, 40001};
    for (int i = 0; i < 3; i++) {
        sized s = {gives[i]};
        weft_http_req_opts o = {.body_fn = give_fn, .body_arg = &s, .body_size = 40000};
        weft_http_response *r = NULL;
        int e = weft_http_client_request(c, "POST", u, &o, &r);
        const char *d = NULL;
        size_t n;
        if (i == 0 && (e || weft_http_response_body(r, &d, &n) || strcmp(d, "40000 cl")))
            fprintf(stderr, "exact: %d %s\n", e, d ? d : ""), fail = 1;
        if (i > 0 && e != -EINVAL) fprintf(stderr, "size %zu: %d\n", gives[i], e), fail = 1;
        weft_http_response_free(r);
    }
    weft_http_client_close(c);
    weft_http_server_close(S, 1);
    return fail ? -1 : 0;
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(splits), WEFT_TEST_CASE(body_size), WEFT_TEST_CASE(refusals), WEFT_TEST_CASE(differential),
               WEFT_TEST_CASE(client_to_aiohttp))
