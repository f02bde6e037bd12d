/* The client owns a request's framing: a caller's Content-Length or
 * Transfer-Encoding header went out next to the client's own (or alone,
 * on a GET), so the server and any proxy between could read the body
 * differently, and a pooled connection lost its place: a GET carrying
 * "Content-Length: 40" and no body had its next request eaten as that
 * body. Refused with -EINVAL before anything is sent, as the server
 * refuses them from handlers. A real weft server on loopback. */
#include <weft/http.h>
#include <weft/test.h>
#include "check.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int hits;

static int h_hello(weft_http_request *req, void *arg)
{
    (void)arg;
    hits++;
    return weft_http_respond(req, 200, "text/plain", "hi", 2);
}

static int get(weft_http_client *c, const char *method, const char *url,
               const weft_http_req_opts *o)
{
    weft_http_response *r;
    int e = weft_http_client_request(c, method, url, o, &r);
    if (e) return e;
    const char *d;
    size_t n;
    e = weft_http_response_body(r, &d, &n);
    int st = weft_http_response_status(r);
    weft_http_response_free(r);
    return e ? e : st;
}

static ssize_t one_piece(void *arg, void *buf, size_t n)
{
    int *left = arg;
    if (!*left || n < 5) return 0;
    *left = 0;
    memcpy(buf, "hello", 5);
    return 5;
}

WEFT_TEST(caller_framing_headers_refused)
{
    weft_http_server *s = weft_http_server_new(NULL);
    weft_http_server_route(s, "GET", "/hello", h_hello, NULL);
    weft_http_server_route(s, "POST", "/hello", h_hello, NULL);
    CHECK_EQ(weft_http_server_listen(s, "127.0.0.1", 0), 0);
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hello", weft_http_server_port(s));
    weft_http_client *c = weft_http_client_new(NULL);
    WEFT_TEST_CHECK(get(c, "GET", url, NULL) == 200); /* a pooled connection */
    const char *names[] = {"Content-Length", "content-length", "Transfer-Encoding",
                           "TRANSFER-ENCODING"};
    const char *values[] = {"40", "0", "chunked", "chunked"};
    for (int i = 0; i < 4; i++) {
        weft_http_header h = {names[i], values[i]};
        int left = 1;
        weft_http_req_opts plain = {.headers = &h, .nheaders = 1};
        weft_http_req_opts body = {.headers = &h, .nheaders = 1, .body = "abc", .body_len = 3};
        weft_http_req_opts fn = {.headers = &h, .nheaders = 1, .body_fn = one_piece,
                                 .body_arg = &left};
        weft_http_req_opts sized = fn;
        sized.body_size = 5;
        hits = 0;
        WEFT_TEST_CHECK(get(c, "GET", url, &plain) == -EINVAL);
        WEFT_TEST_CHECK(get(c, "POST", url, &body) == -EINVAL);
        WEFT_TEST_CHECK(get(c, "POST", url, &fn) == -EINVAL);
        WEFT_TEST_CHECK(get(c, "POST", url, &sized) == -EINVAL);
        WEFT_TEST_CHECK(hits == 0);
        /* The pooled connection is still in step. */
        WEFT_TEST_CHECK(get(c, "GET", url, NULL) == 200);
        WEFT_TEST_CHECK(hits == 1);
    }
    weft_http_client_close(c);
    return weft_http_server_close(s, 1);
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(caller_framing_headers_refused))
