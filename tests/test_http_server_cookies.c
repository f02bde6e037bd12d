/* Server-side cookies (issue 15): the request's Cookie header read pair by
 * pair, and Set-Cookie lines built from fields, each refused (-EINVAL)
 * where a browser would drop or misread it. Against curl's cookie jar
 * (curl -c writes what it took from weft's Set-Cookie lines, curl -b sends
 * them back) and Python's http.cookies, which must read every attribute
 * as weft meant it. */
#include <weft/http.h>
#include <weft/test.h>
#include "check.h"
#include "run_cmd.h"
#include "tls_cert.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/weft_scookie_XXXXXX";
static char crt[128], key[128];

#define EQ(a, b) (!strcmp((a), (b)) || (fprintf(stderr, "got  [%s]\nwant [%s]\n", (a), (b)), 0))

static int add_pair(void *arg, const char *name, const char *value)
{
    char *out = arg;
    size_t n = strlen(out);
    snprintf(out + n, 4096 - n, "%s%s=%s", n ? "|" : "", name, value);
    return 0;
}

/* Echoes the cookies as weft read them: "n=v|n=v" and, after a newline,
 * the value of the cookie named by ?name ("-" if none). */
static int h_echo(weft_http_request *req, void *arg)
{
    (void)arg;
    char out[4096] = "", one[256], name[64] = "";
    int n = weft_http_request_cookies(req, add_pair, out);
    weft_http_request_query_get(req, "name", name, sizeof name);
    ssize_t k = weft_http_request_cookie(req, name, one, sizeof one);
    size_t len = strlen(out);
    snprintf(out + len, sizeof out - len, "\n%d %s", n, k >= 0 ? one : k == -ENOENT ? "-" : "?");
    return weft_http_respond(req, 200, "text/plain", out, strlen(out));
}

static int64_t expires_at;

/* Sets a cookie of each kind. */
static int h_set(weft_http_request *req, void *arg)
{
    (void)arg;
    weft_http_set_cookie ks[] = {
        {.name = "sid", .value = "abc123", .path = "/", .http_only = 1, .secure = 1,
         .same_site = WEFT_HTTP_SAMESITE_LAX},
        {.name = "pref", .value = "\"dark\"", .path = "/app", .max_age = 3600},
        {.name = "wide", .value = "1", .domain = "example.test", .path = "/",
         .expires = expires_at},
        {.name = "__Host-tok", .value = "t", .path = "/", .secure = 1,
         .same_site = WEFT_HTTP_SAMESITE_STRICT},
        {.name = "gone", .value = "", .path = "/", .max_age = -1},
    };
    for (size_t i = 0; i < sizeof ks / sizeof *ks; i++) {
        int r = weft_http_reply_cookie(req, &ks[i]);
        if (r) return r;
    }
    return weft_http_respond(req, 200, "text/plain", "set", 3);
}

static int h_set_gone(weft_http_request *req, void *arg)
{
    (void)arg;
    weft_http_set_cookie k = {.name = "pref", .value = "", .path = "/app", .max_age = -1};
    weft_http_reply_cookie(req, &k);
    return weft_http_respond(req, 200, "text/plain", "gone", 4);
}

static weft_http_server *start(int *port, weft_tls_ctx *tls)
{
    weft_http_server *s = weft_http_server_new(&(weft_http_server_opts){.tls = tls});
    weft_http_server_route(s, "GET", "/set", h_set, NULL);
    weft_http_server_route(s, "GET", "/app/unset", h_set_gone, NULL);
    weft_http_server_route(s, "GET", "/{p...}", h_echo, NULL);
    CHECK_EQ(weft_http_server_listen(s, "127.0.0.1", 0), 0);
    *port = weft_http_server_port(s);
    return s;
}

/* What the handler read from headers curl sent as given. */
WEFT_TEST(request_cookies)
{
    int port;
    weft_http_server *s = start(&port, NULL);
    char url[128], out[8192];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x?name=b", port);
    char *a1[] = {"curl", "-sS", "-b", "a=1; b=\"two\"; bad; c=x=y;  sp = 3 ;; n@me=4; e=", url,
                  NULL};
    WEFT_TEST_CHECK(run_cmd(a1, out, sizeof out) == 0);
    WEFT_TEST_CHECK(EQ(out, "a=1|b=two|c=x=y|sp=3|e=\n5 two"));
    /* Two Cookie headers: both read, the first of a name wins. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x?name=a", port);
    char *a2[] = {"curl", "-sS", "-H", "Cookie: a=first", "-H", "Cookie: z=9; a=second", url, NULL};
    WEFT_TEST_CHECK(run_cmd(a2, out, sizeof out) == 0);
    WEFT_TEST_CHECK(EQ(out, "a=first|z=9|a=second\n3 first"));
    /* None at all; a name not there. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x?name=q", port);
    char *a3[] = {"curl", "-sS", url, NULL};
    WEFT_TEST_CHECK(run_cmd(a3, out, sizeof out) == 0);
    WEFT_TEST_CHECK(EQ(out, "\n0 -"));
    return weft_http_server_close(s, 1);
}

/* The row from its fifth field (name=value) on. */
static const char *field5(const char *row)
{
    for (int i = 0; i < 4 && row; i++) row = strchr(row, ' ') + 1;
    return row;
}

/* Reads curl's Netscape cookie file into "domain sub path secure name=value
 * [httponly]" lines, sorted by name, expiry checked against want_exp. */
static int jar_lines(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[1024], rows[16][512];
    int n = 0;
    while (fgets(line, sizeof line, f) && n < 16) {
        int ho = !strncmp(line, "#HttpOnly_", 10);
        if (!ho && (line[0] == '#' || line[0] == '\n')) continue;
        char dom[128], sub[8], p[128], sec[8], name[64], val[128] = "";
        long long exp;
        int k = sscanf(line + (ho ? 10 : 0), "%127s\t%7s\t%127s\t%7s\t%lld\t%63s\t%127[^\n]", dom,
                       sub, p, sec, &exp, name, val);
        if (k < 6) continue;
        long long now = time(NULL);
        const char *when = exp == 0 ? "session" : exp > now + 3500 && exp < now + 3700 ? "1h"
                           : exp == expires_at ? "fixed" : "other";
        snprintf(rows[n++], 512, "%s %s %s %s %s=%s %s%s", dom, sub, p, sec, name, val, when,
                 ho ? " httponly" : "");
    }
    fclose(f);
    out[0] = 0;
    for (int i = 0; i < n; i++) /* names are distinct: order by them */
        for (int j = i + 1; j < n; j++)
            if (strcmp(field5(rows[i]), field5(rows[j])) > 0) {
                char t[512];
                strcpy(t, rows[i]), strcpy(rows[i], rows[j]), strcpy(rows[j], t);
            }
    for (int i = 0; i < n; i++) {
        strncat(out, rows[i], cap - strlen(out) - 2);
        strcat(out, "\n");
    }
    return n;
}

/* curl takes each Set-Cookie as meant (over https, with a name that can
 * have a domain cookie), sends the right ones back, and drops one that
 * Max-Age=-1 (sent as Max-Age=0) deletes. */
WEFT_TEST(curl_jar)
{
    expires_at = (int64_t)time(NULL) + 86400 * 3;
    weft_tls_ctx *tls = weft_tls_server_ctx(&(weft_tls_opts){.cert_file = crt, .key_file = key});
    WEFT_TEST_CHECK(tls);
    int port;
    weft_http_server *s = start(&port, tls);
    char resolve[128], url[128], jar[160], out[8192], want[1024];
    snprintf(resolve, sizeof resolve, "www.example.test:%d:127.0.0.1", port);
    snprintf(jar, sizeof jar, "%s/jar.txt", dir);
    snprintf(url, sizeof url, "https://www.example.test:%d/set", port);
    char *a1[] = {"curl", "-sSk", "--resolve", resolve, "-c", jar, "-o", "/dev/null", url, NULL};
    WEFT_TEST_CHECK(run_cmd(a1, out, sizeof out) == 0);
    WEFT_TEST_CHECK(jar_lines(jar, out, sizeof out) == 4);
    WEFT_TEST_CHECK(EQ(out, "www.example.test FALSE / TRUE __Host-tok=t session\n"
                            "www.example.test FALSE /app FALSE pref=\"dark\" 1h\n"
                            "www.example.test FALSE / TRUE sid=abc123 session httponly\n"
                            ".example.test TRUE / FALSE wide=1 fixed\n"));
    /* Back to weft: /app gets pref too, longest path first. */
    snprintf(url, sizeof url, "https://www.example.test:%d/app/x?name=pref", port);
    char *a2[] = {"curl", "-sSk", "--resolve", resolve, "-b", jar, "-c", jar, url, NULL};
    WEFT_TEST_CHECK(run_cmd(a2, out, sizeof out) == 0);
    snprintf(want, sizeof want, "pref=dark|");
    WEFT_TEST_CHECK(!strncmp(out, want, strlen(want)) || (fprintf(stderr, "[%s]\n", out), 0));
    WEFT_TEST_CHECK(strstr(out, "sid=abc123") && strstr(out, "__Host-tok=t") &&
                    strstr(out, "wide=1") && strstr(out, "\n4 dark"));
    /* Another host under the domain gets the domain cookie only. */
    char resolve2[128];
    snprintf(resolve2, sizeof resolve2, "api.example.test:%d:127.0.0.1", port);
    snprintf(url, sizeof url, "https://api.example.test:%d/?name=wide", port);
    char *a3[] = {"curl", "-sSk", "--resolve", resolve2, "-b", jar, url, NULL};
    WEFT_TEST_CHECK(run_cmd(a3, out, sizeof out) == 0);
    WEFT_TEST_CHECK(EQ(out, "wide=1\n1 1"));
    /* Max-Age=0 deletes pref from curl's jar. */
    snprintf(url, sizeof url, "https://www.example.test:%d/app/unset", port);
    char *a4[] = {"curl", "-sSk", "--resolve", resolve, "-b", jar, "-c", jar, "-o", "/dev/null",
                  url, NULL};
    WEFT_TEST_CHECK(run_cmd(a4, out, sizeof out) == 0);
    WEFT_TEST_CHECK(jar_lines(jar, out, sizeof out) == 3 && !strstr(out, "pref"));
    weft_tls_ctx_free(tls);
    return weft_http_server_close(s, 1);
}

/* The exact lines, and every refusal. */
WEFT_TEST(format_and_refusals)
{
    char out[8192];
    weft_http_set_cookie k = {.name = "a", .value = "1", .path = "/p", .domain = ".ex.com",
                              .max_age = 60, .expires = 784111777, .secure = 1,
                              .http_only = 1, .same_site = WEFT_HTTP_SAMESITE_NONE,
                              .partitioned = 1};
    WEFT_TEST_CHECK(weft_http_set_cookie_format(&k, out, sizeof out) > 0);
    WEFT_TEST_CHECK(EQ(out, "a=1; Expires=Sun, 06 Nov 1994 08:49:37 GMT; Max-Age=60; "
                            "Domain=.ex.com; Path=/p; Secure; HttpOnly; SameSite=None; "
                            "Partitioned"));
    weft_http_set_cookie d = {.name = "a", .value = "", .max_age = -5};
    WEFT_TEST_CHECK(weft_http_set_cookie_format(&d, out, sizeof out) == 13 &&
                    EQ(out, "a=; Max-Age=0"));
    WEFT_TEST_CHECK(weft_http_set_cookie_format(&d, out, 13) == -ENOSPC);
    static char big[5000];
    memset(big, 'x', 4095);
    const weft_http_set_cookie bad[] = {
        {.name = "", .value = "1"},
        {.name = "a b", .value = "1"},
        {.name = "a;b", .value = "1"},
        {.name = "a=b", .value = "1"},
        {.name = "a\r\nX: y", .value = "1"},
        {.name = "a", .value = "x y"},
        {.name = "a", .value = "x;y"},
        {.name = "a", .value = "x,y"},
        {.name = "a", .value = "\"x\"y\""},
        {.name = "a", .value = "x\\y"},
        {.name = "a", .value = "\xc3\xa9"},
        {.name = "a", .value = "\x01"},
        {.name = "ab", .value = big},
        {.name = "a", .value = "1", .path = "rel"},
        {.name = "a", .value = "1", .path = "/a;Domain=evil.com"},
        {.name = "a", .value = "1", .path = "/a\r\nX: y"},
        {.name = "a", .value = "1", .domain = "ex ample.com"},
        {.name = "a", .value = "1", .domain = "ex..com"},
        {.name = "a", .value = "1", .domain = ""},
        {.name = "a", .value = "1", .domain = "a.com;Secure"},
        {.name = "a", .value = "1", .same_site = WEFT_HTTP_SAMESITE_NONE},
        {.name = "a", .value = "1", .same_site = 9},
        {.name = "a", .value = "1", .partitioned = 1},
        {.name = "__Secure-a", .value = "1"},
        {.name = "__secure-a", .value = "1"},
        {.name = "__Host-a", .value = "1", .path = "/"},
        {.name = "__Host-a", .value = "1", .secure = 1},
        {.name = "__Host-a", .value = "1", .secure = 1, .path = "/x"},
        {.name = "__Host-a", .value = "1", .secure = 1, .path = "/", .domain = "ex.com"},
        {.name = NULL, .value = "1"},
        {.name = "a", .value = NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (weft_http_set_cookie_check(&bad[i]) != -EINVAL ||
            weft_http_set_cookie_format(&bad[i], out, sizeof out) != -EINVAL) {
            fprintf(stderr, "bad[%zu] taken\n", i);
            return -1;
        }
    }
    big[4094] = 0; /* a name and 4094 bytes: 4096, the most */
    WEFT_TEST_CHECK(weft_http_set_cookie_format(&(weft_http_set_cookie){.name = "ab", .value = big},
                                                out, sizeof out) == 4097);
    /* Review: an Expires that gmtime cannot place (INT64_MAX, "never")
     * was formatted from an unset struct tm (day and month names indexed
     * by garbage); past year 9999 there is no cookie-date either. */
    int64_t far[] = {INT64_MAX, INT64_MIN, 253402300800LL, -62135596801LL};
    for (size_t i = 0; i < sizeof far / sizeof *far; i++)
        WEFT_TEST_CHECK(weft_http_set_cookie_format(
                            &(weft_http_set_cookie){.name = "a", .value = "b", .expires = far[i]},
                            out, sizeof out) == -EINVAL);
    WEFT_TEST_CHECK(weft_http_set_cookie_format(
                        &(weft_http_set_cookie){.name = "a", .value = "b",
                                                .expires = 253402300799LL},
                        out, sizeof out) > 0 &&
                    !strcmp(out, "a=b; Expires=Fri, 31 Dec 9999 23:59:59 GMT"));
    return 0;
}

/* Python's http.cookies reads the attributes back as set. */
WEFT_TEST(python_reads_attributes)
{
    char line[1024], out[4096];
    weft_http_set_cookie k = {.name = "sid", .value = "abc", .path = "/app",
                              .domain = "example.test", .max_age = 120, .expires = 784111777,
                              .secure = 1, .http_only = 1,
                              .same_site = WEFT_HTTP_SAMESITE_STRICT};
    WEFT_TEST_CHECK(weft_http_set_cookie_format(&k, line, sizeof line) > 0);
    char *argv[] = {"/usr/bin/python3", "-c",
                    "import sys, http.cookies as h\n"
                    "c = h.SimpleCookie(); c.load(sys.argv[1]); m = c['sid']\n"
                    "print(m.value, m['path'], m['domain'], m['max-age'], m['expires'],"
                    " m['secure'], m['httponly'], m['samesite'], sep='|')\n",
                    line, NULL};
    WEFT_TEST_CHECK(run_cmd(argv, out, sizeof out) == 0);
    WEFT_TEST_CHECK(EQ(out, "abc|/app|example.test|120|Sun, 06 Nov 1994 08:49:37 GMT|True|True|"
                            "Strict\n"));
    return 0;
}

int main(int argc, char **argv)
{
    CHECK(mkdtemp(dir));
    CHECK_EQ(tls_cert_make(dir, crt, key), 0);
    static const weft_test_case cases[] = {
        WEFT_TEST_CASE(request_cookies), WEFT_TEST_CASE(curl_jar),
        WEFT_TEST_CASE(format_and_refusals), WEFT_TEST_CASE(python_reads_attributes)};
    int rc = weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) rc = 1;
    return rc;
}
