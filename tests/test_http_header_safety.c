/* What a caller gives must not reach the wire in a shape peers read
 * differently (issue 15): a URL host with a control byte, DEL, a space or
 * a byte past ASCII is refused before any connection (through a proxy the
 * host would be in the request line); a path byte past ASCII is
 * percent-encoded; a header value with a control byte (other than HTAB)
 * or DEL is refused, on the client and in the server's replies. */
#include <weft/http.h>
#include <weft/test.h>
#include <errno.h>
#include <string.h>

static int seen;         /* requests the server got */
static char last[512];   /* the last one's path and headers */

static int h_any(weft_http_request *req, void *arg)
{
    seen++;
    const char *x = weft_http_request_header(req, "x-a");
    snprintf(last, sizeof last, "%s %s|%s", weft_http_request_method(req),
             weft_http_request_path(req), x ? x : "-");
    if (!strcmp(weft_http_request_path(req), "/redir")) {
        weft_http_reply_header(req, "Location", "http://ex\xc3\xa4mple.test/");
        return weft_http_respond(req, 302, NULL, "", 0);
    }
    /* Replies are held to the same rule. */
    if (weft_http_reply_header(req, "X-R", "a\x01" "b") != -EINVAL ||
        weft_http_reply_header(req, "X-R", "a\x7f") != -EINVAL ||
        weft_http_reply_header(req, "X-R", "tab\tok \xc3\xa9") != 0)
        return -EPROTO;
    return weft_http_respond(req, 200, NULL, "ok", 2);
}

/* Every request through a "proxy" (this server, which would see the URL's
 * host in its request line): nothing may arrive for a bad host. */
WEFT_TEST(bad_hosts)
{
    weft_http_server *S = weft_http_server_new(NULL);
    weft_http_server_route(S, "*", "/{p...}", h_any, NULL);
    WEFT_TEST_CHECK(weft_http_server_listen(S, "127.0.0.1", 0) == 0);
    char px[64];
    snprintf(px, sizeof px, "http://127.0.0.1:%d", weft_http_server_port(S));
    weft_http_client *c = weft_http_client_new(&(weft_http_client_opts){.proxy = px});
    const char *bad[] = {
        "http://a\x7f" "b.test/",          /* DEL */
        "http://ex\xc3\xa4mple.test/",     /* UTF-8: punycode is wanted */
        "http://a\x01" "b.test/",          /* a control */
        "http://a\x1b[31m.test/",          /* an escape sequence */
        "http://a b.test/",                /* a space */
        "http://a%0d%0aX:1.test/",         /* encoded CRLF, sent as is otherwise */
        "http://a\"b.test/",
        "http://[::1\x7f]/",               /* inside an IPv6 literal */
        "http://user@\xff.test:80/",
    };
    weft_http_response *r;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int e = weft_http_client_request(c, "GET", bad[i], NULL, &r);
        if (e != -WEFT_EHTTP_URL) fprintf(stderr, "%zu: %d\n", i, e);
        WEFT_TEST_CHECK(e == -WEFT_EHTTP_URL && !r);
    }
    WEFT_TEST_CHECK(seen == 0);
    /* A good host goes through (the server answers as if it were it). */
    WEFT_TEST_CHECK(weft_http_client_get(c, "http://good-host_1.test/x", &r) == 0);
    WEFT_TEST_CHECK(seen == 1 && !strcmp(last, "GET /x|-"));
    weft_http_response_free(r);
    /* A proxy URL with a bad host is refused the same way. */
    weft_http_req_opts o = {.proxy = "http://pr\x7foxy.test:3128"};
    WEFT_TEST_CHECK(weft_http_client_request(c, "GET", "http://a.test/", &o, &r) == -WEFT_EHTTP_URL);
    weft_http_client_close(c);
    weft_http_server_close(S, 1);
    return 0;
}

WEFT_TEST(paths_and_headers)
{
    seen = 0;
    weft_http_server *S = weft_http_server_new(NULL);
    weft_http_server_route(S, "*", "/{p...}", h_any, NULL);
    WEFT_TEST_CHECK(weft_http_server_listen(S, "127.0.0.1", 0) == 0);
    int port = weft_http_server_port(S);
    weft_http_client *c = weft_http_client_new(NULL);
    char u[128];
    weft_http_response *r;
    /* A path past ASCII goes percent-encoded. */
    snprintf(u, sizeof u, "http://127.0.0.1:%d/caf\xc3\xa9?q=\xe2\x98\x83", port);
    WEFT_TEST_CHECK(weft_http_client_get(c, u, &r) == 0);
    WEFT_TEST_CHECK(!strcmp(last, "GET /caf%C3%A9|-"));
    WEFT_TEST_CHECK(!strcmp(weft_http_response_header(r, "x-r"), "tab\tok \xc3\xa9"));
    weft_http_response_free(r);
    /* Controls in a path: refused. */
    snprintf(u, sizeof u, "http://127.0.0.1:%d/a\x7f", port);
    WEFT_TEST_CHECK(weft_http_client_get(c, u, &r) == -WEFT_EHTTP_URL);
    /* Header values: controls and DEL refused, nothing sent; HTAB and
     * bytes past ASCII (obs-text) kept. */
    snprintf(u, sizeof u, "http://127.0.0.1:%d/h", port);
    const char *badv[] = {"a\x01" "b", "a\x7f", "\x1b[2J", "a\x00", "x\x0b" "y", "a\rb", "a\nb"};
    int before = seen;
    for (size_t i = 0; i < sizeof badv / sizeof *badv; i++) {
        if (i == 3) continue; /* a NUL ends the C string: "a" is fine */
        weft_http_header h = {"X-A", badv[i]};
        weft_http_req_opts o = {.headers = &h, .nheaders = 1};
        WEFT_TEST_CHECK(weft_http_client_request(c, "GET", u, &o, &r) == -EINVAL && !r);
    }
    WEFT_TEST_CHECK(seen == before);
    weft_http_header ok = {"X-A", "tab\there \xc3\xa9t\xc3\xa9"};
    weft_http_req_opts o = {.headers = &ok, .nheaders = 1};
    WEFT_TEST_CHECK(weft_http_client_request(c, "GET", u, &o, &r) == 0);
    WEFT_TEST_CHECK(!strcmp(last, "GET /h|tab\there \xc3\xa9t\xc3\xa9"));
    weft_http_response_free(r);
    /* A redirect to a host past ASCII: refused, not followed. */
    snprintf(u, sizeof u, "http://127.0.0.1:%d/redir", port);
    before = seen;
    WEFT_TEST_CHECK(weft_http_client_get(c, u, &r) == -WEFT_EHTTP_URL);
    WEFT_TEST_CHECK(seen == before + 1);
    weft_http_client_close(c);
    /* Session and server strings: the same rule. */
    errno = 0;
    WEFT_TEST_CHECK(!weft_http_client_new(&(weft_http_client_opts){.user_agent = "ua\x01"}) &&
                    errno == EINVAL);
    errno = 0;
    WEFT_TEST_CHECK(!weft_http_server_new(&(weft_http_server_opts){.server_name = "s\x7f"}) &&
                    errno == EINVAL);
    weft_http_server_close(S, 1);
    return 0;
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(bad_hosts), WEFT_TEST_CASE(paths_and_headers))
