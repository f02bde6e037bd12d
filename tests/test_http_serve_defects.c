/* Issue 10, item 23 (the serve half): `weft serve DIR` listened on every
 * interface and served .git/ and .env. The real command, its listening
 * socket read back from /proc/net/tcp, and raw GETs. */
#define _GNU_SOURCE
#include <weft/http.h>
#include <weft/test.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char dir[64], bin[512];

static int put(const char *rel, const char *text)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

static int mk(const char *rel)
{
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    return mkdir(p, 0755);
}

typedef struct served {
    weft_process *p;
    int port;
    char addr[64];
} served;

/* Starts `weft serve ARGS... DIR` and reads the address from its first
 * line ("serving DIR on http://HOST:PORT/"). */
static int start(served *s, const char *a1, const char *a2)
{
    char *argv[8] = {bin, "serve", "--port", "0"};
    int n = 4;
    if (a1) argv[n++] = (char *)a1;
    if (a2) argv[n++] = (char *)a2;
    argv[n++] = dir;
    argv[n] = NULL;
    weft_process_opts o = {.stderr_mode = WEFT_PIPE, .stdout_mode = WEFT_DEVNULL};
    int r = weft_process_spawn(argv, &o, &s->p);
    if (r) return r;
    char line[512];
    ssize_t got = weft_stream_read_line(weft_process_stderr(s->p), line, sizeof line - 1);
    if (got <= 0) return -EIO;
    line[got] = 0;
    char *u = strstr(line, "http://"), *colon = u ? strrchr(u + 7, ':') : NULL;
    if (!colon) return -EIO;
    snprintf(s->addr, sizeof s->addr, "%.*s", (int)(colon - u - 7), u + 7);
    s->port = atoi(colon + 1);
    return s->port > 0 ? 0 : -EIO;
}

static void stop(served *s)
{
    weft_process_kill(s->p, SIGTERM);
    weft_process_wait(s->p);
    weft_process_free(s->p);
}

/* The local address of the listening TCP socket on port, as /proc shows
 * it ("0100007F" is 127.0.0.1, "00000000" any); "" if none. */
static void listen_addr(int port, char out[16])
{
    out[0] = 0;
    FILE *f = fopen("/proc/net/tcp", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        unsigned a, p, st;
        if (sscanf(line, " %*d: %8X:%4X %*8X:%*4X %2X", &a, &p, &st) == 3 && (int)p == port &&
            st == 0x0A)
            snprintf(out, 16, "%08X", a);
    }
    if (f) fclose(f);
}

static int status_of(weft_http_client *c, const served *s, const char *path, char *body,
                     size_t cap)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s->port, path);
    weft_http_response *r;
    int e = weft_http_client_get(c, url, &r);
    if (e) return e;
    int st = weft_http_response_status(r);
    const char *d;
    size_t n;
    body[0] = 0;
    if (weft_http_response_body(r, &d, &n) == 0) snprintf(body, cap, "%.*s", (int)n, d);
    weft_http_response_free(r);
    return st;
}

static const char *const hidden[] = {
    "/.env", "/.git/config", "/%2egit/config", "/%2Eenv", "/sub/.hidden", "/sub%2f.hidden",
};

WEFT_TEST(defect_23_serve_defaults)
{
    const char *b = getenv("WEFT_BUILD_DIR");
    snprintf(bin, sizeof bin, "%s/tools/weft/weft", b ? b : "build");
    strcpy(dir, "/tmp/weft-serve-XXXXXX");
    WEFT_TEST_CHECK(mkdtemp(dir));
    WEFT_TEST_CHECK((mk(".git") | mk("sub") | put(".env", "SECRET=1") |
                     put(".git/config", "SECRET git") | put("sub/.hidden", "SECRET h") |
                     put("a.txt", "public")) == 0);
    weft_http_client *c = weft_http_client_new(NULL);
    char body[256], where[16];
    int bad = 0;
    served s;
    WEFT_TEST_CHECK(start(&s, NULL, NULL) == 0);
    listen_addr(s.port, where);
    if (strcmp(s.addr, "127.0.0.1") || strcmp(where, "0100007F")) {
        fprintf(stderr, "default: says %s, listens on %s\n", s.addr, where);
        bad = -1;
    }
    for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++) {
        int st = status_of(c, &s, hidden[i], body, sizeof body);
        if (st != 404 || strstr(body, "SECRET")) {
            fprintf(stderr, "%s: %d %s\n", hidden[i], st, body);
            bad = -1;
        }
    }
    if (status_of(c, &s, "/a.txt", body, sizeof body) != 200 || strcmp(body, "public")) bad = -1;
    stop(&s);
    /* Asked for: every interface, and dotfiles. */
    WEFT_TEST_CHECK(start(&s, "--host", "0.0.0.0") == 0);
    listen_addr(s.port, where);
    if (strcmp(where, "00000000")) fprintf(stderr, "--host 0.0.0.0 listens on %s\n", where), bad = -1;
    stop(&s);
    WEFT_TEST_CHECK(start(&s, "--dotfiles", NULL) == 0);
    if (status_of(c, &s, "/.env", body, sizeof body) != 200 || strcmp(body, "SECRET=1")) bad = -1;
    stop(&s);
    weft_http_client_close(c);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) {}
    return bad;
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(defect_23_serve_defaults))
