/* Forms and query strings: percent-decoding with its refusals, pair
 * parsing and its limit, encoding, and both ends over loopback: weft's
 * client and curl --data-urlencode posting to a weft handler that decodes
 * the body and the query. */
#include <weft/http.h>
#include <weft/test.h>
#include "run_cmd.h"
#include <stdlib.h>
#include <string.h>

#define EQ(a, b) (!strcmp((a), (b)) || (fprintf(stderr, "got [%s] want [%s]\n", (a), (b)), 0))

WEFT_TEST(percent_decode)
{
    char o[64];
#define DEC(s, form) weft_http_percent_decode(s, strlen(s), o, sizeof o, form)
    WEFT_TEST_CHECK(DEC("a%20b%2Fc%2fd", 0) == 7 && EQ(o, "a b/c/d"));
    WEFT_TEST_CHECK(DEC("a+b", 0) == 3 && EQ(o, "a+b"));
    WEFT_TEST_CHECK(DEC("a+b", 1) == 3 && EQ(o, "a b"));
    WEFT_TEST_CHECK(DEC("%e2%82%ac", 0) == 3 && EQ(o, "\xe2\x82\xac"));
    WEFT_TEST_CHECK(DEC("", 0) == 0 && EQ(o, ""));
    static const char *const bad[] = {"%", "%2", "a%g0", "%0g", "%00", "a%00b", "%%41", "%+1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) WEFT_TEST_CHECK(DEC(bad[i], 1) == -EINVAL);
    /* A raw NUL inside the given length is refused too. */
    WEFT_TEST_CHECK(weft_http_percent_decode("a\0b", 3, o, sizeof o, 0) == -EINVAL);
    WEFT_TEST_CHECK(weft_http_percent_decode("abcd", 4, o, 4, 0) == -ENOSPC);
    WEFT_TEST_CHECK(weft_http_percent_decode("abc", 3, o, 4, 0) == 3);
#undef DEC
    return 0;
}

static char seen[1024];
static int collect(void *arg, const char *name, const char *value)
{
    size_t l = strlen(seen);
    snprintf(seen + l, sizeof seen - l, "[%s|%s]", name, value);
    return 0;
}

WEFT_TEST(parse_and_encode)
{
    const char *f = "a=1&b=x+y%21&&c&=e&a=2&d=";
    seen[0] = 0;
    WEFT_TEST_CHECK(weft_http_form_parse(f, strlen(f), collect, NULL) == 6);
    WEFT_TEST_CHECK(EQ(seen, "[a|1][b|x y!][c|][|e][a|2][d|]"));
    char o[32];
    WEFT_TEST_CHECK(weft_http_form_get(f, strlen(f), "a", o, sizeof o) == 1 && EQ(o, "1"));
    WEFT_TEST_CHECK(weft_http_form_get(f, strlen(f), "b", o, sizeof o) == 4 && EQ(o, "x y!"));
    WEFT_TEST_CHECK(weft_http_form_get(f, strlen(f), "zz", o, sizeof o) == -ENOENT);
    WEFT_TEST_CHECK(weft_http_form_get(f, strlen(f), "b", o, 3) == -ENOSPC);
    WEFT_TEST_CHECK(weft_http_form_get("a=%zz&b=1", 9, "b", o, sizeof o) == -EINVAL);
    /* Only len bytes are read (a body is not NUL-terminated). */
    WEFT_TEST_CHECK(weft_http_form_get("a=12345", 4, "a", o, sizeof o) == 2 && EQ(o, "12"));
    /* Over the field limit: -E2BIG, not a million callbacks. */
    size_t n = 3 * (WEFT_HTTP_FORM_MAX_FIELDS + 1);
    char *many = malloc(n + 1);
    for (size_t i = 0; i < n; i += 3) memcpy(many + i, "a=&", 3);
    WEFT_TEST_CHECK(weft_http_form_parse(many, n, NULL, NULL) == -E2BIG);
    WEFT_TEST_CHECK(weft_http_form_parse(many, n - 3, NULL, NULL) == WEFT_HTTP_FORM_MAX_FIELDS);
    free(many);
    weft_http_header fields[] = {{"name", "Jo Doe"}, {"q&a", "1+1=2; 100%"}, {"e", "\xe2\x82\xac~"}};
    char *enc = weft_http_form_encode(fields, 3);
    WEFT_TEST_CHECK(enc && EQ(enc, "name=Jo+Doe&q%26a=1%2B1%3D2%3B+100%25&e=%E2%82%AC%7E"));
    seen[0] = 0;
    WEFT_TEST_CHECK(weft_http_form_parse(enc, strlen(enc), collect, NULL) == 3);
    WEFT_TEST_CHECK(EQ(seen, "[name|Jo Doe][q&a|1+1=2; 100%][e|\xe2\x82\xac~]"));
    free(enc);
    enc = weft_http_form_encode(NULL, 0);
    WEFT_TEST_CHECK(enc && EQ(enc, ""));
    free(enc);
    return 0;
}

/* Answers "<query x>|<body fields>" for a form POST. */
static int h_form(weft_http_request *req, void *arg)
{
    const char *b;
    size_t n;
    int r = weft_http_request_body(req, &b, &n);
    if (r < 0) return r;
    char x[64] = "-", out[1024];
    weft_http_request_query_get(req, "x", x, sizeof x);
    seen[0] = 0;
    r = weft_http_form_parse(b, n, collect, NULL);
    if (r < 0) return weft_http_respond(req, 400, NULL, "bad form", 8);
    int l = snprintf(out, sizeof out, "%s|%s", x, seen);
    return weft_http_respond(req, 200, NULL, out, (size_t)l);
}

WEFT_TEST(over_the_wire)
{
    weft_http_server *S = weft_http_server_new(NULL);
    weft_http_server_route(S, "POST", "/form", h_form, NULL);
    WEFT_TEST_CHECK(weft_http_server_listen(S, "127.0.0.1", 0) == 0);
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/form?x=a%%20b&y=2", weft_http_server_port(S));
    weft_http_client *c = weft_http_client_new(NULL);
    weft_http_header fields[] = {{"who", "Zoë & co"}, {"n", "1"}};
    char *enc = weft_http_form_encode(fields, 2);
    weft_http_header h = {"Content-Type", "application/x-www-form-urlencoded"};
    weft_http_req_opts o = {.headers = &h, .nheaders = 1, .body = enc, .body_len = strlen(enc)};
    weft_http_response *r;
    WEFT_TEST_CHECK(weft_http_client_request(c, "POST", u, &o, &r) == 0);
    const char *d;
    size_t n;
    WEFT_TEST_CHECK(weft_http_response_body(r, &d, &n) == 0 && EQ(d, "a b|[who|Zoë & co][n|1]"));
    weft_http_response_free(r);
    free(enc);
    o.body = "a=%zz", o.body_len = 5;
    WEFT_TEST_CHECK(weft_http_client_request(c, "POST", u, &o, &r) == 0);
    WEFT_TEST_CHECK(weft_http_response_status(r) == 400);
    weft_http_response_free(r);
    weft_http_client_close(c);
    /* curl encodes, weft decodes. */
    static char out[4096];
    char *a[] = {"curl", "-s", "--data-urlencode", "who=Zoë & co", "--data-urlencode",
                 "pct=100%+1", u, NULL};
    WEFT_TEST_CHECK(run_cmd(a, out, sizeof out) == 0 && EQ(out, "a b|[who|Zoë & co][pct|100%+1]"));
    return weft_http_server_close(S, 1);
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(percent_decode), WEFT_TEST_CASE(parse_and_encode),
               WEFT_TEST_CASE(over_the_wire))
