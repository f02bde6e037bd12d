/* Issue 10, item 23 (the fetch half): the real `weft fetch` binary against
 * a weft server on loopback. Its output files are whole (a short write, here
 * from RLIMIT_FSIZE, is an error and leaves no cut file), a symlink or file
 * already at an output path is never written through, and URLs are printed
 * with terminal control bytes escaped. */
#include <weft/http.h>
#include <weft/test.h>
#include "check.h"
#include "weft_cmd.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char body[200000];

static int h_file(weft_http_request *req, void *arg)
{
    size_t n = (size_t)atoi(weft_http_request_param(req, "size"));
    if (n > sizeof body) n = sizeof body;
    /* In pieces, so the client writes the file in several pwrites. */
    int r = weft_http_reply_start(req, 200, "application/octet-stream", (int64_t)n);
    for (size_t off = 0; r >= 0 && off < n; off += 7000)
        r = (int)weft_http_reply_write(req, body + off, n - off < 7000 ? n - off : 7000);
    return r < 0 ? r : weft_http_reply_end(req);
}

/* Runs argv (stdout into out, NUL-terminated); returns the exit status. */
static int run(char *const argv[], char *out, size_t cap)
{
    return run_weft(argv, NULL, 0, out, cap, NULL, 0);
}

static char dir[64];
static char url[128];
static int port;

static void sub(char *path, size_t cap, const char *name) { snprintf(path, cap, "%s/%s", dir, name); }

static int file_is(const char *path, const char *want, size_t n)
{
    static char got[sizeof body + 1];
    int fd = open(path, O_RDONLY | O_NOFOLLOW);
    if (fd < 0) return 0;
    ssize_t k = read(fd, got, sizeof got);
    close(fd);
    return k == (ssize_t)n && !memcmp(got, want, n);
}

WEFT_TEST(defect_23_fetch_outputs)
{
    for (size_t i = 0; i < sizeof body; i++) body[i] = (char)(i * 7 + i / 251);
    CHECK(find_weft() == 0);
    strcpy(dir, "/tmp/weft_fetchd_XXXXXX");
    CHECK(mkdtemp(dir));
    weft_http_server *s = weft_http_server_new(NULL);
    weft_http_server_route(s, "GET", "/file/{size}", h_file, NULL);
    WEFT_TEST_CHECK(weft_http_server_listen(s, "127.0.0.1", 0) == 0);
    port = weft_http_server_port(s);
    static char out[65536];
    char od[128], path[256], victim[256];

    /* A whole file, written in several pieces. */
    sub(od, sizeof od, "whole");
    CHECK_EQ(mkdir(od, 0755), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/file/200000", port);
    char *a1[] = {weft_bin, "fetch", "-o", od, url, NULL};
    WEFT_TEST_CHECK(run(a1, out, sizeof out) == 0);
    WEFT_TEST_CHECK(!strncmp(out, "200 200000 ", 11));
    snprintf(path, sizeof path, "%s/0-200000", od);
    WEFT_TEST_CHECK(file_is(path, body, 200000));

    /* A symlink already at the output path is not followed: its target
     * keeps its bytes and the URL fails. So does a plain file there. */
    sub(victim, sizeof victim, "victim");
    FILE *f = fopen(victim, "w");
    CHECK(f);
    fputs("precious", f);
    fclose(f);
    sub(od, sizeof od, "trap");
    CHECK_EQ(mkdir(od, 0755), 0);
    snprintf(path, sizeof path, "%s/0-200000", od);
    CHECK_EQ(symlink(victim, path), 0);
    WEFT_TEST_CHECK(run(a1, out, sizeof out) == 1);
    WEFT_TEST_CHECK(!strncmp(out, "ERR ", 4) && strstr(out, "File exists"));
    WEFT_TEST_CHECK(file_is(victim, "precious", 8));
    CHECK_EQ(unlink(path), 0);
    f = fopen(path, "w");
    CHECK(f);
    fputs("mine", f);
    fclose(f);
    WEFT_TEST_CHECK(run(a1, out, sizeof out) == 1);
    WEFT_TEST_CHECK(file_is(path, "mine", 4));

    /* A short write (RLIMIT_FSIZE at 51,200 bytes; SIGXFSZ ignored, so the
     * next write gets EFBIG) fails the URL and leaves no cut file. Before,
     * the short write was taken for a whole one: exit 0, 51,200 bytes. */
    sub(od, sizeof od, "short");
    CHECK_EQ(mkdir(od, 0755), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/file/60000", port);
    char *a2[] = {"/bin/sh", "-c", "ulimit -f 100; trap '' XFSZ; exec \"$0\" \"$@\"",
                  weft_bin, "fetch", "-o", od, url, NULL};
    WEFT_TEST_CHECK(run(a2, out, sizeof out) == 1);
    WEFT_TEST_CHECK(!strncmp(out, "ERR ", 4));
    snprintf(path, sizeof path, "%s/0-60000", od);
    WEFT_TEST_CHECK(access(path, F_OK) < 0 && errno == ENOENT);

    /* URLs from a list are printed with control bytes escaped. */
    sub(path, sizeof path, "list");
    f = fopen(path, "w");
    CHECK(f);
    fprintf(f, "http://127.0.0.1:%d/a\x1b]0;pwned\x07\x1b[2J\n", port);
    fprintf(f, "http://127.0.0.1:%d/\x9b" "31m\\x\n", port);
    fclose(f);
    char *a3[] = {weft_bin, "fetch", "-i", path, NULL};
    WEFT_TEST_CHECK(run(a3, out, sizeof out) == 1);
    fprintf(stderr, "%s", out);
    WEFT_TEST_CHECK(!strchr(out, '\x1b') && !strchr(out, '\x07') && !strchr(out, '\x9b'));
    WEFT_TEST_CHECK(strstr(out, "/a\\x1b]0;pwned\\x07\\x1b[2J"));
    WEFT_TEST_CHECK(strstr(out, "/\\x9b31m\\x5cx"));

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ(system(cmd), 0);
    return weft_http_server_close(s, 1);
}

/* --loops 2: every URL fetched once, by sessions on two loops (each loop
 * has its own: a session belongs to one loop), and the summary says so. */
WEFT_TEST(fetch_loops)
{
    CHECK(find_weft() == 0);
    weft_http_server *s = weft_http_server_new(NULL);
    weft_http_server_route(s, "GET", "/file/{size}", h_file, NULL);
    WEFT_TEST_CHECK(weft_http_server_listen(s, "127.0.0.1", 0) == 0);
    int p = weft_http_server_port(s);
    char u[8][96];
    char *argv[16] = {weft_bin, "fetch", "--loops", "2", "-c", "4"};
    for (int i = 0; i < 8; i++) {
        snprintf(u[i], sizeof u[i], "http://127.0.0.1:%d/file/%d", p, 1000 + i);
        argv[6 + i] = u[i];
    }
    static char out[65536], err[4096];
    WEFT_TEST_CHECK(run_weft(argv, NULL, 0, out, sizeof out, err, sizeof err) == 0);
    fprintf(stderr, "%s%s", out, err);
    for (int i = 0; i < 8; i++) {
        char line[64];
        snprintf(line, sizeof line, "200 %d ", 1000 + i);
        WEFT_TEST_CHECK(strstr(out, line) != NULL);
    }
    WEFT_TEST_CHECK(strstr(err, "8 URLs: 8 ok, 0 failed") && strstr(err, "on 2 loops)"));
    /* more loops than workers: one a worker */
    char *one[] = {weft_bin, "fetch", "--loops", "3", "-c", "1", u[0], NULL};
    WEFT_TEST_CHECK(run_weft(one, NULL, 0, out, sizeof out, err, sizeof err) == 0);
    WEFT_TEST_CHECK(strstr(err, "on 1 loop)") != NULL);
    return weft_http_server_close(s, 1);
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(defect_23_fetch_outputs), WEFT_TEST_CASE(fetch_loops))
