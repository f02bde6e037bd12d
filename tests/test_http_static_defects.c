/* Issue 10, items 2, 8 and 9: static files. Item 2 (a directory path as
 * long as PATH_MAX) was an ASan stack-buffer-overflow; item 8 a symlinked
 * index.html that left the root (real symlinks in a temp dir, through
 * openat2 and through the O_NOFOLLOW walk used without it); item 9 a file
 * sent in clear inside a TLS connection (a real handshake, the bytes on
 * the wire captured between client and server). */
#define _GNU_SOURCE
#include <weft/http.h>
#include <weft/test.h>
#include "http_talk.h"
#include "tls_cert.h"
#include "http/static_open.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char out[1 << 18];
static char dir[64];

static int put_file(const char *rel, const char *text)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

static int link_at(const char *target, const char *rel)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    return symlink(target, p);
}

static int mk(const char *rel)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    return mkdir(p, 0755);
}

static int rm_tree_blocking(void *arg)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", (const char *)arg);
    return system(cmd);
}

/* rm -rf on the thread pool: the loop (and its debug checks) keep going. */
static void rm_tree(void) { weft_to_thread(rm_tree_blocking, dir); }

static weft_http_server *static_server(const weft_http_server_opts *o)
{
    char www[PATH_MAX];
    snprintf(www, sizeof www, "%s/www", dir);
    weft_http_server *srv = weft_http_server_new(o);
    if (srv && weft_http_server_static(srv, "/s", www)) {
        weft_http_server_close(srv, 0);
        return NULL;
    }
    return srv;
}

static const char *get(weft_http_server *srv, const char *path)
{
    static char req[16384];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    if (n < 0 || (size_t)n >= sizeof req) return strcpy(out, "(request too long)");
    http_talk(srv, req, (size_t)n, out, sizeof out);
    return out;
}

/* ---- item 2 ---- */

/* A directory whose real path is 4090 characters: the old handler
 * appended "/index.html" to it in a PATH_MAX buffer. Made one level at a
 * time (each mkdirat beneath the last), as the whole path is too long for
 * one call at the end. */
WEFT_TEST(defect_2_deep_directory)
{
    strcpy(dir, "/tmp/weft-deep-XXXXXX");
    WEFT_TEST_CHECK(mkdtemp(dir) && mk("www") == 0);
    char www[PATH_MAX], url[PATH_MAX + 64] = "/s";
    snprintf(www, sizeof www, "%s/www", dir);
    size_t len = strlen(www);
    int fd = open(www, O_PATH | O_DIRECTORY | O_CLOEXEC);
    WEFT_TEST_CHECK(fd >= 0);
    char seg[256];
    for (int i = 0; len < 4090; i++) {
        size_t l = 4090 - len - 1 > 200 ? 200 : 4090 - len - 1;
        memset(seg, 'a' + i % 26, l);
        seg[l] = 0;
        WEFT_TEST_CHECK(mkdirat(fd, seg, 0755) == 0);
        int next = openat(fd, seg, O_PATH | O_DIRECTORY | O_CLOEXEC);
        close(fd);
        fd = next;
        WEFT_TEST_CHECK(fd >= 0);
        len += 1 + l;
        strcat(url, "/");
        strcat(url, seg);
    }
    int f = openat(fd, "index.html", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    close(fd);
    WEFT_TEST_CHECK(f >= 0 && write(f, "deep", 4) == 4 && close(f) == 0);
    weft_http_server *srv = static_server(NULL);
    WEFT_TEST_CHECK(srv);
    strcat(url, "/");
    get(srv, url);
    /* The index is reachable beneath the root (its full path is longer
     * than PATH_MAX, its path from the root is not). */
    int ok = !strncmp(out, "HTTP/1.1 200 ", 13) && strstr(out, "\r\n\r\ndeep");
    if (!ok) fprintf(stderr, "deep index: %.200s\n", out);
    /* Longer than any path can be: 404, nothing else. */
    static char huge[12000] = "/s";
    for (size_t i = 2; i < sizeof huge - 2; i += 2) memcpy(huge + i, "/a", 2);
    get(srv, huge);
    ok = ok && (!strncmp(out, "HTTP/1.1 404 ", 13) || !strncmp(out, "HTTP/1.1 414 ", 13) ||
                !strncmp(out, "HTTP/1.1 431 ", 13));
    WEFT_TEST_CHECK(weft_http_server_close(srv, 1) == 0);
    rm_tree();
    return ok ? 0 : -1;
}

/* ---- item 8 ---- */

/* www is served; www2 (its name extends www's: the old check compared
 * prefixes without the '/') and the parent hold what must stay private. */
static int make_tree(void)
{
    strcpy(dir, "/tmp/weft-root-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    char abs[PATH_MAX];
    snprintf(abs, sizeof abs, "%s/www/a.txt", dir);
    int r = mk("www") | mk("www2") | mk("www/evil") | mk("www/sub") | mk("www/linked") |
            put_file("www/a.txt", "0123456789") | put_file("www2/secret.html", "SECRET2") |
            put_file("secret.txt", "SECRET1") |
            /* the defect's own case: a symlinked index.html into the sibling */
            link_at("../../www2/secret.html", "www/evil/index.html") |
            link_at("../www2", "www/sib") | link_at("..", "www/up") |
            link_at("../secret.txt", "www/out") | link_at(abs, "www/abs") |
            /* inside the root: followed where openat2 is used */
            link_at("a.txt", "www/rel") | link_at("../a.txt", "www/sub/up.txt") |
            link_at("../a.txt", "www/linked/index.html");
    return r;
}

static const char *const escapes[] = {
    "/s/evil/", "/s/evil", "/s/evil/index.html", "/s/sib/secret.html", "/s/up/secret.txt",
    "/s/up/www2/secret.html", "/s/out", "/s/../secret.txt", "/s/%2e%2e/secret.txt",
    "/s/%2E%2E%2fsecret.txt", "/s/..%5csecret.txt", "/s/a.txt%00.html", "/s/./a.txt",
    "/s/sub/%2e%2e/%2e%2e/secret.txt", "/s/%2e%2e%2fwww2/secret.html",
    "/s/abs", /* inside, but absolute: RESOLVE_BENEATH refuses those (the root may move) */
};

WEFT_TEST(defect_8_symlink_escape)
{
    WEFT_TEST_CHECK(make_tree() == 0);
    weft_http_server *srv = static_server(NULL);
    WEFT_TEST_CHECK(srv);
    int bad = 0;
    for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++) {
        get(srv, escapes[i]);
        if (strstr(out, "SECRET") || strncmp(out, "HTTP/1.1 404 ", 13)) {
            fprintf(stderr, "%s: %.200s\n", escapes[i], out);
            bad = -1;
        }
    }
    /* Symlinks that stay beneath the root are followed (openat2 here). */
    static const char *const inside[] = {"/s/a.txt", "/s/rel", "/s/sub/up.txt", "/s/linked/"};
    for (size_t i = 0; i < sizeof inside / sizeof inside[0]; i++) {
        get(srv, inside[i]);
        if (strncmp(out, "HTTP/1.1 200 ", 13) || !strstr(out, "\r\n\r\n0123456789")) {
            fprintf(stderr, "%s: %.200s\n", inside[i], out);
            bad = -1;
        }
    }
    WEFT_TEST_CHECK(weft_http_server_close(srv, 1) == 0);
    rm_tree();
    return bad;
}

/* The walk used without openat2: the same escapes fail, and every symlink
 * is refused (it cannot tell where one leads without following it). */
WEFT_TEST(defect_8_walk_without_openat2)
{
    WEFT_TEST_CHECK(make_tree() == 0);
    char www[PATH_MAX], dec[PATH_MAX];
    snprintf(www, sizeof www, "%s/www", dir);
    int root = open(www, O_PATH | O_DIRECTORY | O_CLOEXEC);
    WEFT_TEST_CHECK(root >= 0);
    struct stat st;
    int bad = 0;
    for (size_t i = 0; i < sizeof escapes / sizeof escapes[0]; i++) {
        int fd = weft__static_open(root, escapes[i] + 3, WEFT__STATIC_WALK, dec, sizeof dec, &st);
        if (fd >= 0) {
            fprintf(stderr, "walk opened %s\n", escapes[i]);
            close(fd);
            bad = -1;
        }
    }
    static const char *const links[] = {"rel", "sub/up.txt", "linked/", "linked/index.html"};
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        int fd = weft__static_open(root, links[i], WEFT__STATIC_WALK, dec, sizeof dec, &st);
        if (fd >= 0) close(fd), bad = -1;
    }
    int fd = weft__static_open(root, "sub//../a.txt", WEFT__STATIC_WALK, dec, sizeof dec, &st);
    if (fd >= 0) close(fd), bad = -1;
    fd = weft__static_open(root, "a.txt", WEFT__STATIC_WALK, dec, sizeof dec, &st);
    if (fd < 0 || st.st_size != 10) bad = -1;
    if (fd >= 0) close(fd);
    fd = weft__static_open(root, "", WEFT__STATIC_WALK, dec, sizeof dec, &st);
    if (fd >= 0 || fd != -ENOENT) bad = -1; /* the root has no index.html */
    if (fd >= 0) close(fd);
    close(root);
    rm_tree();
    return bad;
}

/* A thread swaps www/race between a file inside and a symlink out while
 * requests run: whatever the timing, the secret never comes back (the old
 * code checked the path, then opened it again). */
static atomic_int stop_swap;
static void *swapper(void *arg)
{
    char in[PATH_MAX], out_link[PATH_MAX], race[PATH_MAX];
    snprintf(in, sizeof in, "%s/www/in.tmp", dir);
    snprintf(out_link, sizeof out_link, "%s/www/out.tmp", dir);
    snprintf(race, sizeof race, "%s/www/race", dir);
    while (!atomic_load(&stop_swap)) {
        int fd = open(in, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            if (write(fd, "inside", 6)) {}
            close(fd);
        }
        rename(in, race);
        if (symlink("../secret.txt", out_link) == 0) rename(out_link, race);
    }
    return arg;
}

WEFT_TEST(defect_8_swap_race)
{
    WEFT_TEST_CHECK(make_tree() == 0);
    weft_http_server *srv = static_server(NULL);
    WEFT_TEST_CHECK(srv);
    pthread_t th;
    atomic_store(&stop_swap, 0);
    WEFT_TEST_CHECK(pthread_create(&th, NULL, swapper, NULL) == 0);
    int leaked = 0, served = 0;
    for (int i = 0; i < 1500 && !leaked; i++) {
        get(srv, "/s/race");
        leaked = strstr(out, "SECRET") != NULL;
        served += strstr(out, "\r\n\r\ninside") != NULL;
    }
    atomic_store(&stop_swap, 1);
    pthread_join(th, NULL);
    WEFT_TEST_CHECK(weft_http_server_close(srv, 1) == 0);
    rm_tree();
    fprintf(stderr, "swap race: %d of 1500 served the inside file, leaked: %d\n", served, leaked);
    return leaked ? -1 : 0;
}

/* ---- item 9 ---- */

static char certdir[64], crt[128], key[128];

/* Outside the loop (the openssl command takes a while). */
static int make_cert(void)
{
    strcpy(certdir, "/tmp/weft-cert-XXXXXX");
    return mkdtemp(certdir) ? tls_cert_make(certdir, crt, key) : -1;
}

/* Copies one direction of the connection, keeping what passed (the
 * server's bytes as they are on the wire). */
typedef struct relay {
    weft_stream *from, *to;
    char *seen;
    size_t n, cap;
} relay;

static int relay_task(void *arg)
{
    relay *r = arg;
    char buf[16384];
    ssize_t n;
    while ((n = weft_stream_read(r->from, buf, sizeof buf)) > 0) {
        if (r->seen && r->n + (size_t)n <= r->cap) memcpy(r->seen + r->n, buf, (size_t)n);
        r->n += (size_t)n;
        if (weft_stream_write(r->to, buf, (size_t)n) < 0) break;
    }
    weft_stream_shutdown(r->to);
    return 0;
}

typedef struct tls_side {
    weft_http_server *srv;
    weft_stream *s;
    weft_tls_ctx *ctx;
} tls_side;

/* What an application does with a connection it accepted itself: TLS
 * first, then the HTTP server on the TLS stream (the server has no o.tls). */
static int tls_server_task(void *arg)
{
    tls_side *t = arg;
    if (weft_stream_start_tls(t->s, t->ctx, NULL) == 0) weft_http_server_serve_stream(t->srv, t->s);
    weft_stream_close(t->s);
    return 0;
}

static weft_stream *pair_end(int fd) { return weft_stream_from_fd(fd); }

WEFT_TEST(defect_9_tls_no_sendfile)
{
    WEFT_TEST_CHECK(make_tree() == 0 && crt[0]);
    /* 100 KB of lines that say what they are. */
    static char text[100000];
    for (size_t i = 0; i + 25 <= sizeof text; i += 25) memcpy(text + i, "PLAINTEXT-FILE-MARKER-42\n", 25);
    text[sizeof text - 1] = 0;
    WEFT_TEST_CHECK(put_file("www/big.txt", text) == 0);
    weft_http_server *srv = static_server(NULL);
    weft_tls_opts so = {.cert_file = crt, .key_file = key}, co = {.ca_file = crt};
    weft_tls_ctx *sctx = weft_tls_server_ctx(&so), *cctx = weft_tls_client_ctx(&co);
    WEFT_TEST_CHECK(srv && sctx && cctx);
    int a[2], b[2]; /* client a[0] <-> a[1] relay b[0] <-> b[1] server */
    WEFT_TEST_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a) == 0);
    WEFT_TEST_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b) == 0);
    weft_stream *cli = pair_end(a[0]), *ra = pair_end(a[1]), *rb = pair_end(b[0]);
    tls_side side = {srv, pair_end(b[1]), sctx};
    static char wire[1 << 20];
    relay down = {rb, ra, wire, 0, sizeof wire}, up = {ra, rb, NULL, 0, 0};
    weft_task *ts = weft_spawn(tls_server_task, &side);
    weft_task *td = weft_spawn(relay_task, &down), *tu = weft_spawn(relay_task, &up);
    int r = weft_stream_start_tls(cli, cctx, "localhost");
    const char *req = "GET /s/big.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    if (r == 0) r = (int)weft_stream_write(cli, req, strlen(req));
    size_t got = 0;
    ssize_t n = 0;
    while (r >= 0 && got < sizeof out - 1 &&
           (n = weft_stream_read(cli, out + got, sizeof out - 1 - got)) > 0)
        got += (size_t)n;
    out[got] = 0;
    weft_stream_close(cli);
    weft_await(ts);
    weft_await(tu);
    weft_await(td);
    weft_stream_close(ra);
    weft_stream_close(rb);
    int in_clear = memmem(wire, down.n < sizeof wire ? down.n : sizeof wire,
                          "PLAINTEXT-FILE-MARKER", 21) != NULL;
    char *body = strstr(out, "\r\n\r\n");
    int whole = !strncmp(out, "HTTP/1.1 200 ", 13) && body && !strcmp(body + 4, text);
    fprintf(stderr, "tls: start %d, read %zu bytes (last %zd), %zu on the wire, in clear: %d\n", r,
            got, n, down.n, in_clear);
    weft_tls_ctx_free(sctx);
    weft_tls_ctx_free(cctx);
    WEFT_TEST_CHECK(weft_http_server_close(srv, 1) == 0);
    rm_tree();
    WEFT_TEST_CHECK(!in_clear);
    WEFT_TEST_CHECK(whole);
    return 0;
}

int main(int argc, char **argv)
{
    /* A loaded machine: generous, the cases are bounded by counts. */
    setenv("WEFT_TEST_TIMEOUT", "120", 0);
    if (make_cert()) {
        fprintf(stderr, "making a certificate with the openssl command failed\n");
        return 1;
    }
    static const weft_test_case cases[] = {
        WEFT_TEST_CASE(defect_2_deep_directory), WEFT_TEST_CASE(defect_8_symlink_escape),
        WEFT_TEST_CASE(defect_8_walk_without_openat2), WEFT_TEST_CASE(defect_8_swap_race),
        WEFT_TEST_CASE(defect_9_tls_no_sendfile)};
    int r = weft_test_main(cases, sizeof cases / sizeof cases[0], argc, argv);
    strcpy(dir, certdir);
    rm_tree_blocking(dir);
    return r;
}
