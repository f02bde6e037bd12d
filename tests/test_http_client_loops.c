/* An HTTP client session belongs to the loop that made it (its connections
 * wait in that loop's fd records): from a task of another loop, requests
 * and close fail with -EXDEV before anything is sent, and the session still
 * works on its own loop; so do reads of a response whose body is still on
 * its connection, and its free is done on the session's loop, also while the
 * session closes on its own loop (its free there read the response's
 * connection and the session that close takes and frees: a data race under
 * ThreadSanitizer, and a use after free when close came between the two
 * reads). A real server on loop 0 answers. */
#include <weft.h>
#include <weft/http.h>
#include <weft/io.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "capture.h"
#include "check.h"
#include <stdlib.h>

static weft_http_client *sess;
static char url[64];

static int hello(weft_http_request *rq, void *arg)
{
    (void)arg;
    return weft_http_respond(rq, 200, "text/plain", "hi", 2);
}

static int use_from_other_loop(void *arg)
{
    (void)arg;
    CHECK_EQ(weft_loop_index(weft_loop_current()), 1);
    weft_http_response *r = (weft_http_response *)1;
    CHECK_EQ(weft_http_client_get(sess, url, &r), -EXDEV);
    CHECK(r == NULL);
    CHECK_EQ(weft_http_client_request(sess, "POST", url, NULL, &r), -EXDEV);
    CHECK_EQ(weft_http_client_close(sess), -EXDEV);
    return 7;
}

static weft_http_response *unread;

static int read_from_other_loop(void *arg)
{
    (void)arg;
    char buf[8];
    const char *data;
    size_t len;
    CHECK_EQ(weft_http_response_read(unread, buf, sizeof buf), -EXDEV);
    CHECK_EQ(weft_http_response_body(unread, &data, &len), -EXDEV);
    capture_begin();
    weft_http_response_free(unread); /* handed to loop 0 */
    char *said = capture_end();
    CHECK(strstr(said, "weft_http_response_free from another loop: done on the session's loop"));
    free(said);
    return 0;
}

static int big(weft_http_request *rq, void *arg)
{
    (void)arg;
    static char body[1 << 20];
    memset(body, 'b', sizeof body);
    return weft_http_respond(rq, 200, "text/plain", body, sizeof body);
}

/* Loop 1 frees a response of loop 0's session, its body unread, while
 * loop 0 closes the session. */
static int free_soon(void *arg)
{
    weft_sleep(0.01);
    weft_http_response_free(arg);
    return 0;
}

static int take_response(void *arg)
{
    weft_task *t = weft_spawn(free_soon, arg);
    CHECK(t);
    weft_detach(t);
    return 0;
}

static void free_while_session_closes(const char *bigurl)
{
    weft_http_client *c = weft_http_client_new(NULL);
    CHECK(c);
    weft_http_response *r = NULL;
    CHECK_EQ(weft_http_client_request(c, "GET", bigurl, NULL, &r), 0);
    char first[4];
    CHECK_EQ(weft_http_response_read(r, first, sizeof first), 4);
    CHECK_EQ(weft_call(weft_loop_at(1), take_response, r), 0);
    weft_sleep(0.01); /* about when loop 1 frees it */
    CHECK_EQ(weft_http_client_close(c), 0);
    weft_sleep(0.05); /* a posted free runs here */
}

/* Made outside any run: the first request's loop becomes its own. */
static int first_use(void *arg)
{
    weft_http_client *c = arg;
    weft_http_response *r = NULL;
    CHECK_EQ(weft_http_client_get(c, url, &r), 0);
    weft_http_response_free(r);
    return 0;
}

static int main_task(void *arg)
{
    weft_http_server *srv = weft_http_server_new(NULL);
    CHECK(srv);
    CHECK_EQ(weft_http_server_route(srv, "GET", "/", hello, NULL), 0);
    CHECK_EQ(weft_http_server_route(srv, "GET", "/big", big, NULL), 0);
    CHECK_EQ(weft_http_server_listen(srv, "127.0.0.1", 0), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", weft_http_server_port(srv));
    CHECK((sess = weft_http_client_new(NULL)) != NULL);
    weft_http_response *r = NULL;
    CHECK_EQ(weft_http_client_get(sess, url, &r), 0);
    CHECK_EQ(weft_http_response_status(r), 200);
    weft_http_response_free(r);
    CHECK_EQ(weft_call(weft_loop_at(1), use_from_other_loop, NULL), 7);
    /* A response with its body still on the connection, given to loop 1. */
    char bigurl[80];
    snprintf(bigurl, sizeof bigurl, "%sbig", url);
    CHECK_EQ(weft_http_client_request(sess, "GET", bigurl, NULL, &unread), 0);
    char first[4];
    CHECK_EQ(weft_http_response_status(unread), 200);
    CHECK_EQ(weft_http_response_read(unread, first, sizeof first), 4);
    CHECK_EQ(weft_call(weft_loop_at(1), read_from_other_loop, NULL), 0);
    weft_sleep(0.05); /* the posted free runs here */
    /* still whole on its own loop, pooled connection included */
    CHECK_EQ(weft_http_client_get(sess, url, &r), 0);
    CHECK_EQ(weft_http_response_status(r), 200);
    weft_http_response_free(r);
    CHECK_EQ(weft_http_client_close(sess), 0);
    capture_begin();
    for (int i = 0; i < 5; i++) free_while_session_closes(bigurl);
    free(capture_end());

    weft_http_client *late = arg;
    CHECK_EQ(weft_call(weft_loop_at(1), first_use, late), 0);
    CHECK_EQ(weft_http_client_get(late, url, &r), -EXDEV); /* bound to loop 1 now */
    CHECK_EQ(weft_call(weft_loop_at(1), (weft_fn)weft_http_client_close, late), 0);
    return weft_http_server_close(srv, 1.0);
}

int main(void)
{
    weft_options o = {.loops = 2};
    weft_http_client *late = weft_http_client_new(NULL); /* outside any run */
    CHECK(late);
    CHECK_EQ(weft_run_with(&o, main_task, late), 0);
    return 0;
}
