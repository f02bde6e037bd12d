/* The client's cookie jar, one case per rule of RFC 6265bis and of what
 * curl and browsers add (issue 15): end to end against weft's server over
 * http and https on loopback where the rule concerns what goes on the wire,
 * through weft_http_client_cookie_set/_header for hosts that need DNS. */
#include <weft/http.h>
#include <weft/test.h>
#include "http/cookie.h"
#include "run_cmd.h"
#include "tls_cert.h"
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static weft_http_server *S;
static int port;
static char out[1 << 16];

/* /set answers with every Set-Cookie line given in ?lines, separated by '|'. */
static int h_set(weft_http_request *req, void *arg)
{
    char q[4096];
    snprintf(q, sizeof q, "%s", (const char *)arg);
    for (char *save, *l = strtok_r(q, "|", &save); l; l = strtok_r(NULL, "|", &save))
        weft_http_reply_header(req, "Set-Cookie", l);
    return weft_http_respond(req, 200, NULL, "ok", 2);
}

static int h_echo(weft_http_request *req, void *arg)
{
    const char *ck = weft_http_request_header(req, "cookie");
    return weft_http_respond(req, 200, NULL, ck ? ck : "", ck ? strlen(ck) : 0);
}

static char set_lines[8192];

static int start(weft_tls_ctx *tls)
{
    S = weft_http_server_new(&(weft_http_server_opts){.tls = tls});
    weft_http_server_route(S, "GET", "/set", h_set, set_lines);
    weft_http_server_route(S, "GET", "/{p...}", h_echo, NULL);
    int r = weft_http_server_listen(S, "127.0.0.1", 0);
    port = weft_http_server_port(S);
    return r;
}

static int stop(void) { return weft_http_server_close(S, 1); }

static const char *url(const char *scheme, const char *host, const char *path)
{
    static char u[4][256];
    static int i;
    char *p = u[i++ % 4];
    snprintf(p, 256, "%s://%s:%d%s", scheme, host, port, path);
    return p;
}

/* GETs u and returns the Cookie header the server received ("" if none). */
static const char *sent(weft_http_client *c, const char *u)
{
    static char got[8192];
    weft_http_response *r;
    got[0] = 0;
    if (weft_http_client_get(c, u, &r)) return "(request failed)";
    const char *d;
    size_t n;
    if (!weft_http_response_body(r, &d, &n)) snprintf(got, sizeof got, "%s", d);
    weft_http_response_free(r);
    return got;
}

/* The Cookie header value the jar would send to u. */
static const char *would_send(weft_http_client *c, const char *u)
{
    static char h[16384];
    if (weft_http_client_cookie_header(c, u, h, sizeof h) < 0) return "(error)";
    return h;
}

#define EQ(a, b) (!strcmp((a), (b)) || (fprintf(stderr, "got [%s] want [%s]\n", (a), (b)), 0))

/* The issue's reproduction: a plain-http server on 127.0.0.1 sets a Secure
 * cookie, an expired one, a Max-Age=1 one and an unprefixed-rule-breaking
 * __Host- one. Two seconds later only the valid ones may come back (all
 * six did before). */
WEFT_TEST(issue_reproduction)
{
    char fut[128];
    time_t t = time(NULL) + 86400;
    strftime(fut, sizeof fut, "fut=1; Expires=%a, %d %b %Y %H:%M:%S GMT", gmtime(&t));
    snprintf(set_lines, sizeof set_lines,
             "sec=1; Secure|old=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT|short=1; Max-Age=1|"
             "__Host-x=1; Path=/|%s|plain=1",
             fut);
    WEFT_TEST_CHECK(start(NULL) == 0);
    weft_http_client *c = weft_http_client_new(NULL);
    WEFT_TEST_CHECK(EQ(sent(c, url("http", "127.0.0.1", "/set")), "ok"));
    WEFT_TEST_CHECK(EQ(sent(c, url("http", "127.0.0.1", "/a")), "short=1; fut=1; plain=1"));
    weft_sleep(2.1);
    WEFT_TEST_CHECK(EQ(sent(c, url("http", "127.0.0.1", "/a")), "fut=1; plain=1"));
    WEFT_TEST_CHECK(weft_http_client_cookies(c, NULL, NULL) == 2);
    weft_http_client_close(c);
    return stop();
}

/* An IP host only ever gets host-only cookies: 127.0.0.1 set Domain=0.1
 * and the cookie went to 127.1.0.1. */
WEFT_TEST(ip_host_only)
{
    snprintf(set_lines, sizeof set_lines, "d=1; Domain=0.1|e=1; Domain=127.0.0.1|f=1");
    WEFT_TEST_CHECK(start(NULL) == 0);
    weft_http_client *c = weft_http_client_new(NULL);
    sent(c, url("http", "127.0.0.1", "/set"));
    WEFT_TEST_CHECK(EQ(sent(c, url("http", "127.0.0.1", "/")), "e=1; f=1"));
    WEFT_TEST_CHECK(EQ(would_send(c, url("http", "127.1.0.1", "/")), ""));
    WEFT_TEST_CHECK(EQ(would_send(c, url("http", "1.127.0.0.1", "/")), ""));
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "http://127.0.0.1/", "g=1; Domain=0.0.1") ==
                    -EPERM);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "http://[::1]/", "g=1; Domain=1") == -EPERM);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "http://[::1]/", "g=1") == 0);
    WEFT_TEST_CHECK(EQ(would_send(c, "http://[::1]/"), "g=1"));
    weft_http_client_close(c);
    return stop();
}

/* Secure: set only from https, sent only over https (end to end with TLS). */
WEFT_TEST(secure_over_https_only)
{
    char dir[] = "/tmp/weft-cookies-XXXXXX", crt[128], key[128];
    WEFT_TEST_CHECK(mkdtemp(dir) && tls_cert_make(dir, crt, key) == 0);
    weft_tls_ctx *sctx = weft_tls_server_ctx(&(weft_tls_opts){.cert_file = crt, .key_file = key});
    weft_tls_ctx *cctx = weft_tls_client_ctx(&(weft_tls_opts){.ca_file = crt});
    snprintf(set_lines, sizeof set_lines, "s=1; Secure; Path=/|__Secure-t=1; Secure|"
                                          "__Host-h=1; Secure; Path=/|p=1");
    WEFT_TEST_CHECK(start(sctx) == 0);
    weft_http_client *c = weft_http_client_new(&(weft_http_client_opts){.tls = cctx});
    sent(c, url("https", "127.0.0.1", "/set"));
    WEFT_TEST_CHECK(EQ(sent(c, url("https", "127.0.0.1", "/")), "s=1; __Secure-t=1; __Host-h=1; p=1"));
    WEFT_TEST_CHECK(EQ(would_send(c, url("http", "127.0.0.1", "/")), "p=1"));
    /* An http response may not replace or shadow the Secure one. */
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, url("http", "127.0.0.1", "/"), "s=evil") == -EPERM);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, url("http", "127.0.0.1", "/"),
                                                "s=evil; Path=/deeper") == -EPERM);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, url("http", "127.0.0.1", "/"), "other=1") == 0);
    WEFT_TEST_CHECK(EQ(would_send(c, url("https", "127.0.0.1", "/deeper")),
                       "s=1; __Secure-t=1; __Host-h=1; p=1; other=1"));
    weft_http_client_close(c);
    int rc = stop();
    weft_tls_ctx_free(cctx);
    weft_tls_ctx_free(sctx);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)!system(cmd);
    return rc;
}

/* A Secure cookie sent from http is dropped, not stored as a plain one. */
WEFT_TEST(secure_never_set_from_http)
{
    weft_http_client *c = weft_http_client_new(NULL);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "http://www.example.com/", "a=1; Secure") == -EPERM);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "http://www.example.com/", "a=1; secure") == -EPERM);
    WEFT_TEST_CHECK(weft_http_client_cookies(c, NULL, NULL) == 0);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "https://www.example.com/", "a=1; Secure") == 0);
    WEFT_TEST_CHECK(EQ(would_send(c, "http://www.example.com/"), ""));
    WEFT_TEST_CHECK(EQ(would_send(c, "https://www.example.com/"), "a=1"));
    weft_http_client_close(c);
    return 0;
}

WEFT_TEST(public_suffixes)
{
    weft_http_client *c = weft_http_client_new(NULL);
    const char *refused[][2] = {
        {"http://www.example.com/", "a=1; Domain=com"},
        {"http://www.example.com/", "a=1; Domain=.com"},
        {"http://www.example.co.uk/", "a=1; Domain=co.uk"},
        {"http://me.github.io/", "a=1; Domain=github.io"},
        {"http://a.localhost/", "a=1; Domain=localhost"}, /* unlisted TLD: the "*" rule */
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        WEFT_TEST_CHECK(weft_http_client_cookie_set(c, refused[i][0], refused[i][1]) == -EPERM);
    WEFT_TEST_CHECK(weft_http_client_cookies(c, NULL, NULL) == 0);
    /* A registrable domain is fine; a suffix naming the host itself gives a
     * host-only cookie (6265bis 5.7 step 5). */
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "http://www.example.co.uk/",
                                                "b=1; Domain=example.co.uk") == 0);
    WEFT_TEST_CHECK(EQ(would_send(c, "http://shop.example.co.uk/"), "b=1"));
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "http://github.io/", "c=1; Domain=github.io") == 0);
    WEFT_TEST_CHECK(EQ(would_send(c, "http://github.io/"), "c=1"));
    WEFT_TEST_CHECK(EQ(would_send(c, "http://me.github.io/"), ""));
    weft_http_client_close(c);
    return 0;
}

WEFT_TEST(host_only_vs_domain)
{
    weft_http_client *c = weft_http_client_new(NULL);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "http://www.Example.com/", "host=1") == 0);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "http://www.example.com/", "dom=1; Domain=EXAMPLE.com") == 0);
    /* Not a superdomain of the host, or no label boundary: refused. */
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "http://www.example.com/", "x=1; Domain=other.com") == -EPERM);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "http://www.example.com/", "x=1; Domain=ample.com") == -EPERM);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "http://www.example.com/", "x=1; Domain=a.www.example.com") == -EPERM);
    WEFT_TEST_CHECK(EQ(would_send(c, "http://www.example.com/"), "host=1; dom=1"));
    WEFT_TEST_CHECK(EQ(would_send(c, "http://example.com/"), "dom=1"));
    WEFT_TEST_CHECK(EQ(would_send(c, "http://a.b.example.com/"), "dom=1"));
    WEFT_TEST_CHECK(EQ(would_send(c, "http://badexample.com/"), ""));
    WEFT_TEST_CHECK(EQ(would_send(c, "http://sub.www.example.com/"), "dom=1"));
    weft_http_client_close(c);
    return 0;
}

WEFT_TEST(paths)
{
    weft_http_client *c = weft_http_client_new(NULL);
    /* default-path: the request path up to its last '/' */
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "http://h.example/a/b/c?x=/y", "d=1") == 0);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "http://h.example/top", "r=1") == 0);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "http://h.example/", "p=1; Path=/docs") == 0);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "http://h.example/a/b/c", "bad=1; Path=rel") == 0);
    WEFT_TEST_CHECK(EQ(would_send(c, "http://h.example/a/b"), "d=1; bad=1; r=1"));
    WEFT_TEST_CHECK(EQ(would_send(c, "http://h.example/a/b/x?q"), "d=1; bad=1; r=1"));
    WEFT_TEST_CHECK(EQ(would_send(c, "http://h.example/a/bc"), "r=1"));
    WEFT_TEST_CHECK(EQ(would_send(c, "http://h.example/a"), "r=1"));
    WEFT_TEST_CHECK(EQ(would_send(c, "http://h.example/docs"), "p=1; r=1"));
    WEFT_TEST_CHECK(EQ(would_send(c, "http://h.example/docs/web"), "p=1; r=1"));
    WEFT_TEST_CHECK(EQ(would_send(c, "http://h.example/docsets"), "r=1"));
    weft_http_client_close(c);
    return 0;
}

static struct { int64_t e; char n; } seen[8];
static int ns;
static int collect(void *arg, const weft_http_cookie *k)
{
    if (ns < 8) seen[ns].e = k->expires, seen[ns++].n = k->name[0];
    return 0;
}

WEFT_TEST(expiry)
{
    weft_http_client *c = weft_http_client_new(NULL);
    const char *u = "http://h.example/";
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, u, "a=1") == 0);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, u, "b=1; Expires=Wed, 09 Jun 2100 10:18:14 GMT") == 0);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, u, "c=1; Max-Age=100; Expires=Thu, 01 Jan 1970 00:00:00 GMT") == 0);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, u, "d=1; Expires=not a date") == 0);
    WEFT_TEST_CHECK(EQ(would_send(c, u), "a=1; b=1; c=1; d=1"));
    /* An expired one (by date or Max-Age <= 0) deletes its namesake. */
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, u, "a=; Expires=Sun, 06 Nov 1994 08:49:37 GMT") == 0);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, u, "b=; Max-Age=0") == 0);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, u, "c=; Max-Age=-5") == 0);
    WEFT_TEST_CHECK(EQ(would_send(c, u), "d=1"));
    /* Max-Age wins over Expires; both are capped at 400 days. */
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, u, "e=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=60") == 0);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, u, "f=1; Max-Age=999999999999999999999") == 0);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, u, "g=1; Expires=Fri, 31 Dec 9999 23:59:59 GMT") == 0);
    int64_t now = time(NULL);
    ns = 0;
    WEFT_TEST_CHECK(weft_http_client_cookies(c, collect, NULL) == 4);
    for (int i = 0; i < ns; i++) {
        if (seen[i].n == 'd') WEFT_TEST_CHECK(seen[i].e == 0);
        if (seen[i].n == 'e') WEFT_TEST_CHECK(seen[i].e >= now + 59 && seen[i].e <= now + 62);
        if (seen[i].n == 'f' || seen[i].n == 'g')
            WEFT_TEST_CHECK(seen[i].e > now + 399 * 86400 && seen[i].e <= now + 400 * 86400 + 2);
    }
    weft_http_client_close(c);
    return 0;
}

/* RFC 6265 5.1.1's date algorithm, the three HTTP formats and its edges. */
WEFT_TEST(cookie_dates)
{
#define D(s) weft__cookie_date(s, strlen(s))
    WEFT_TEST_CHECK(D("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
    WEFT_TEST_CHECK(D("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
    WEFT_TEST_CHECK(D("Sun Nov  6 08:49:37 1994") == 784111777);
    WEFT_TEST_CHECK(D("6 nov 1994 8:49:37") == 784111777);
    WEFT_TEST_CHECK(D("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
    WEFT_TEST_CHECK(D("Tue, 29 Feb 2000 00:00:00 GMT") == 951782400);
    WEFT_TEST_CHECK(D("Wed, 30 Feb 2000 00:00:00 GMT") == -1);
    WEFT_TEST_CHECK(D("Mon, 29 Feb 1900 00:00:00 GMT") == -1);
    WEFT_TEST_CHECK(D("Sun, 06 Nov 1994 24:00:00 GMT") == -1);
    WEFT_TEST_CHECK(D("Sun, 06 Nov 1600 08:49:37 GMT") == -1);
    WEFT_TEST_CHECK(D("Sun, 06 Nov 1994") == -1);
    WEFT_TEST_CHECK(D("") == -1);
    WEFT_TEST_CHECK(D("06 Nov 1994 08:49:37 123") > 0); /* the later number is ignored */
#undef D
    return 0;
}

WEFT_TEST(prefixes)
{
    weft_http_client *c = weft_http_client_new(NULL);
    const char *s = "https://h.example/", *p = "http://h.example/";
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, s, "__Secure-a=1") == -EPERM);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, p, "__Secure-a=1; Secure") == -EPERM);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, s, "__secure-a=1") == -EPERM);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, s, "__Secure-a=1; Secure") == 0);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, s, "__Host-b=1; Path=/") == -EPERM);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, s, "__Host-b=1; Secure") == -EPERM); /* no Path=/ */
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, s, "__Host-b=1; Secure; Path=/x") == -EPERM);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, s, "__Host-b=1; Secure; Path=/; Domain=h.example") == -EPERM);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, s, "__HOST-b=1; Secure; Path=/; Domain=example") == -EPERM);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, p, "__Host-b=1; Secure; Path=/") == -EPERM);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, s, "__Host-b=1; Secure; Path=/") == 0);
    WEFT_TEST_CHECK(weft_http_client_cookies(c, NULL, NULL) == 2);
    weft_http_client_close(c);
    return 0;
}

WEFT_TEST(malformed)
{
    weft_http_client *c = weft_http_client_new(NULL);
    const char *u = "http://h.example/";
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, u, "novalue") == -EINVAL);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, u, "=x") == -EINVAL);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, u, " ; a=1") == -EINVAL);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, u, "a=b\x01" "c") == -EINVAL);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, u, "a=b\tc") == -EINVAL);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, u, "a=b\x7f") == -EINVAL);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "ftp://h/", "a=1") == -WEFT_EHTTP_URL);
    static char big[5000];
    memset(big, 'v', sizeof big - 1);
    memcpy(big, "n=", 2);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, u, big) == -EINVAL);
    big[4096] = 0; /* name + value = 4095 */
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, u, big) == 0);
    /* An attribute value over 1024 bytes is ignored, not the cookie. */
    static char attr[2000];
    snprintf(attr, sizeof attr, "q=1; Path=/%01500d", 0);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, u, attr) == 0);
    WEFT_TEST_CHECK(strstr(would_send(c, u), "q=1") != NULL);
    /* Blanks around name and value are trimmed; the value's quotes kept. */
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, u, "  sp = \"x y\" ; Path = / ") == 0);
    WEFT_TEST_CHECK(strstr(would_send(c, u), "sp=\"x y\"") != NULL);
    weft_http_client_close(c);
    return 0;
}

static const char *cd_suffix;
static int cd_n;
static size_t cd_bytes;
static int count_one(void *arg, const weft_http_cookie *k)
{
    size_t dl = strlen(k->domain), sl = strlen(cd_suffix);
    if (dl >= sl && !strcmp(k->domain + dl - sl, cd_suffix))
        cd_n++, cd_bytes += strlen(k->name) + strlen(k->value);
    return 0;
}

/* Cookies whose domain ends in suffix; *bytes gets their name+value bytes. */
static int count_domain(weft_http_client *c, const char *suffix, size_t *bytes)
{
    cd_suffix = suffix, cd_n = 0, cd_bytes = 0;
    weft_http_client_cookies(c, count_one, NULL);
    *bytes = cd_bytes;
    return cd_n;
}

WEFT_TEST(limits)
{
    weft_http_client *c = weft_http_client_new(NULL);
    char line[5000], u[128];
    size_t bytes;
    /* 60 on one registrable domain (over several hosts): 50 stay, the
     * least recently used go, a cookie just sent survives. */
    for (int i = 0; i < 60; i++) {
        snprintf(u, sizeof u, "http://h%d.example.com/", i % 3);
        snprintf(line, sizeof line, "c%d=1", i);
        WEFT_TEST_CHECK(weft_http_client_cookie_set(c, u, line) == 0);
        if (i == 0) would_send(c, "http://h0.example.com/"); /* c0 used */
        if (i > 0 && i % 10 == 0) would_send(c, "http://h0.example.com/");
    }
    WEFT_TEST_CHECK(count_domain(c, "example.com", &bytes) == 50);
    WEFT_TEST_CHECK(strstr(would_send(c, "http://h0.example.com/"), "c0=1") != NULL);
    WEFT_TEST_CHECK(strstr(would_send(c, "http://h2.example.com/"), "c59=1") != NULL);
    /* Bytes per domain: 20 cookies of 4 KiB are more than 64 KiB. */
    memset(line, 'v', 4000);
    for (int i = 0; i < 20; i++) {
        int k = snprintf(line, 32, "big%d=", i);
        line[k] = 'v';
        line[4000] = 0;
        WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "http://big.example.org/", line) == 0);
    }
    WEFT_TEST_CHECK(count_domain(c, "example.org", &bytes) < 20 && bytes <= 64 * 1024);
    /* The Cookie header stays within 8190 bytes; the rest is left out. */
    size_t h = strlen(would_send(c, "http://big.example.org/"));
    WEFT_TEST_CHECK(h > 4000 && h <= 8190);
    /* 3000 in all. */
    for (int d = 0; d < 62; d++)
        for (int i = 0; i < 50; i++) {
            snprintf(u, sizeof u, "http://d%d.example/", d);
            snprintf(line, sizeof line, "k%d=1", i);
            WEFT_TEST_CHECK(weft_http_client_cookie_set(c, u, line) == 0);
        }
    WEFT_TEST_CHECK(weft_http_client_cookies(c, NULL, NULL) == 3000);
    weft_http_client_close(c);
    return 0;
}

/* At most 50 Set-Cookie lines of one response are taken (curl's limit). */
WEFT_TEST(per_response_limit)
{
    size_t o = 0;
    for (int i = 0; i < 80; i++)
        o += (size_t)snprintf(set_lines + o, sizeof set_lines - o, "%sr%d=1", i ? "|" : "", i);
    WEFT_TEST_CHECK(start(NULL) == 0);
    weft_http_client *c = weft_http_client_new(NULL);
    sent(c, url("http", "127.0.0.1", "/set"));
    WEFT_TEST_CHECK(weft_http_client_cookies(c, NULL, NULL) == 50);
    weft_http_client_close(c);
    return stop();
}

static int file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = 0;
    fclose(f);
    return strstr(out, needle) != NULL;
}

/* Saved in curl's format, loaded back with the same rules; curl reads the
 * file weft wrote and weft the one curl wrote. */
WEFT_TEST(save_and_load)
{
    char dir[] = "/tmp/weft-jar-XXXXXX", path[128], cpath[128], bad[128];
    WEFT_TEST_CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/jar.txt", dir);
    snprintf(cpath, sizeof cpath, "%s/curl.txt", dir);
    snprintf(bad, sizeof bad, "%s/bad.txt", dir);
    weft_http_client *c = weft_http_client_new(NULL);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "https://www.example.com/a/b", "h=1; HttpOnly") == 0);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "https://www.example.com/", "d=2; Domain=example.com; Secure; Max-Age=3600") == 0);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "https://www.example.com/", "__Host-s=3; Secure; Path=/") == 0);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "http://127.0.0.1/", "ip=4; Path=/") == 0);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "http://127.0.0.1/", "empty=; Path=/") == 0);
    WEFT_TEST_CHECK(weft_http_client_cookies_save(c, path) == 0);
    struct stat st;
    WEFT_TEST_CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    WEFT_TEST_CHECK(file_has(path, "#HttpOnly_www.example.com\tFALSE\t/a\tFALSE\t0\th\t1\n"));
    WEFT_TEST_CHECK(file_has(path, ".example.com\tTRUE\t/\tTRUE\t"));
    char before[4][1024];
    snprintf(before[0], sizeof before[0], "%.1000s", would_send(c, "https://www.example.com/a/b"));
    snprintf(before[1], sizeof before[1], "%.1000s", would_send(c, "https://x.example.com/"));
    snprintf(before[2], sizeof before[2], "%.1000s", would_send(c, "http://127.0.0.1/"));
    weft_http_client_cookies_clear(c, "example.com");
    WEFT_TEST_CHECK(weft_http_client_cookies(c, NULL, NULL) == 2);
    weft_http_client_cookies_clear(c, NULL);
    WEFT_TEST_CHECK(weft_http_client_cookies(c, NULL, NULL) == 0);
    WEFT_TEST_CHECK(weft_http_client_cookies_load(c, path) == 5);
    WEFT_TEST_CHECK(EQ(would_send(c, "https://www.example.com/a/b"), before[0]));
    WEFT_TEST_CHECK(EQ(would_send(c, "https://x.example.com/"), before[1]));
    WEFT_TEST_CHECK(EQ(would_send(c, "http://127.0.0.1/"), before[2]));
    WEFT_TEST_CHECK(EQ(would_send(c, "https://www.example.com/a/b"), "h=1; d=2; __Host-s=3"));
    /* Lines the rules refuse are skipped: a public suffix, a domain cookie
     * for an IP, a __Host- cookie for subdomains or not Secure, expired,
     * control bytes, too few fields. */
    FILE *f = fopen(bad, "w");
    fputs("# comment\n\n.com\tTRUE\t/\tFALSE\t0\tpsl\t1\n"
          ".0.1\tTRUE\t/\tFALSE\t0\tip\t1\n"
          ".example.net\tTRUE\t/\tTRUE\t0\t__Host-x\t1\n"
          "example.net\tFALSE\t/\tFALSE\t0\t__Secure-x\t1\n"
          "example.net\tFALSE\t/\tFALSE\t1\told\t1\n"
          "example.net\tFALSE\t/\tFALSE\t0\tc\tx\x01y\n"
          "example.net\tFALSE\t/\tFALSE\t0\n"
          "example.net\tFALSE\tnoslash\tFALSE\t0\tp\t1\n"
          "example.net\tFALSE\t/\tFALSE\t0\tgood\t1\n",
          f);
    fclose(f);
    weft_http_client_cookies_clear(c, NULL);
    WEFT_TEST_CHECK(weft_http_client_cookies_load(c, bad) == 1);
    WEFT_TEST_CHECK(EQ(would_send(c, "http://example.net/"), "good=1"));
    WEFT_TEST_CHECK(weft_http_client_cookies_load(c, "/nonexistent/jar") == -ENOENT);
    /* curl sends what weft saved (-b), and weft loads what curl saved (-c). */
    snprintf(set_lines, sizeof set_lines, "fromcurl=5; Path=/; Max-Age=600|hostonly=6");
    WEFT_TEST_CHECK(start(NULL) == 0);
    weft_http_client_cookies_clear(c, NULL);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, url("http", "127.0.0.1", "/"), "w=7") == 0);
    WEFT_TEST_CHECK(weft_http_client_cookies_save(c, path) == 0);
    char *a[] = {"curl", "-s", "-b", path, "-c", cpath, (char *)url("http", "127.0.0.1", "/x"), NULL};
    WEFT_TEST_CHECK(run_cmd(a, out, sizeof out) == 0 && EQ(out, "w=7"));
    char *a2[] = {"curl", "-s", "-b", path, "-c", cpath, (char *)url("http", "127.0.0.1", "/set"), NULL};
    WEFT_TEST_CHECK(run_cmd(a2, out, sizeof out) == 0);
    weft_http_client_cookies_clear(c, NULL);
    WEFT_TEST_CHECK(weft_http_client_cookies_load(c, cpath) == 3);
    const char *got = sent(c, url("http", "127.0.0.1", "/"));
    WEFT_TEST_CHECK(strlen(got) == strlen("w=7; fromcurl=5; hostonly=6") && strstr(got, "w=7") &&
                    strstr(got, "fromcurl=5") && strstr(got, "hostonly=6"));
    weft_http_client_close(c);
    int rc = stop();
    unlink(path), unlink(cpath), unlink(bad), rmdir(dir);
    return rc;
}

/* no_cookies keeps nothing. */
WEFT_TEST(no_cookies_option)
{
    snprintf(set_lines, sizeof set_lines, "a=1");
    WEFT_TEST_CHECK(start(NULL) == 0);
    weft_http_client *c = weft_http_client_new(&(weft_http_client_opts){.no_cookies = 1});
    sent(c, url("http", "127.0.0.1", "/set"));
    WEFT_TEST_CHECK(EQ(sent(c, url("http", "127.0.0.1", "/")), ""));
    weft_http_client_close(c);
    return stop();
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(issue_reproduction), WEFT_TEST_CASE(ip_host_only),
               WEFT_TEST_CASE(secure_over_https_only), WEFT_TEST_CASE(secure_never_set_from_http),
               WEFT_TEST_CASE(public_suffixes), WEFT_TEST_CASE(host_only_vs_domain),
               WEFT_TEST_CASE(paths), WEFT_TEST_CASE(expiry), WEFT_TEST_CASE(cookie_dates),
               WEFT_TEST_CASE(prefixes), WEFT_TEST_CASE(malformed), WEFT_TEST_CASE(limits),
               WEFT_TEST_CASE(per_response_limit), WEFT_TEST_CASE(save_and_load),
               WEFT_TEST_CASE(no_cookies_option))
