/* Differential test of request framing against h11 (issue 10): a weft
 * server on loopback whose one handler echoes each request it framed
 * (method, path, query, body: hex in an X-Echo header), and
 * tests/h11_diff.py, which sends a few hundred raw requests (the classic
 * smuggling set) and checks that weft never frames them laxer than h11:
 * the requests weft served must be a prefix of those h11 serves. Needs
 * /usr/bin/python3 with h11 (Debian python3-h11; tools/deps.sh test). */
#include <weft/http.h>
#include <weft/io.h>
#include <weft/test.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Appends the hex of s[0..n) and a terminator t (0: none) at *o. */
static void put_hex(char **o, const char *s, size_t n, char t)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        *(*o)++ = digits[(unsigned char)s[i] >> 4];
        *(*o)++ = digits[(unsigned char)s[i] & 15];
    }
    if (t) *(*o)++ = t;
    **o = 0;
}

static int echo(weft_http_request *req, void *arg)
{
    (void)arg;
    const char *body;
    size_t n;
    int r = weft_http_request_body(req, &body, &n);
    if (r < 0) return r;
    const char *m = weft_http_request_method(req), *p = weft_http_request_path(req),
               *q = weft_http_request_query(req);
    char *e = malloc(2 * (strlen(m) + strlen(p) + strlen(q) + n) + 8), *o = e;
    if (!e) return -ENOMEM;
    put_hex(&o, m, strlen(m), '.');
    put_hex(&o, p, strlen(p), '.');
    put_hex(&o, q, strlen(q), '.');
    put_hex(&o, body, n, 0);
    r = weft_http_reply_header(req, "X-Echo", e);
    free(e);
    return r < 0 ? r : weft_http_respond(req, 200, NULL, "", 0);
}

WEFT_TEST(framing_matches_h11)
{
    weft_http_server_opts o = {.max_body_bytes = 8192};
    weft_http_server *srv = weft_http_server_new(&o);
    WEFT_TEST_CHECK(srv);
    weft_http_server_use(srv, echo, NULL);
    WEFT_TEST_CHECK(weft_http_server_listen(srv, "127.0.0.1", 0) == 0);
    char port[16], script[1024];
    snprintf(port, sizeof port, "%d", weft_http_server_port(srv));
    const char *dir = getenv("WEFT_TEST_DIR");
    snprintf(script, sizeof script, "%s/h11_diff.py", dir ? dir : "tests");
    char *argv[] = {"/usr/bin/python3", script, port, NULL};
    weft_process *p;
    int r = weft_process_spawn(argv, NULL, &p);
    if (r == 0) {
        r = weft_process_wait(p);
        weft_process_free(p);
    }
    weft_http_server_close(srv, 1);
    if (r) fprintf(stderr, "h11_diff.py: %d\n", r);
    return r ? -1 : 0;
}

int main(int argc, char **argv)
{
    static const weft_test_case cases[] = {WEFT_TEST_CASE(framing_matches_h11)};
    if (system("/usr/bin/python3 -c 'import h11' 2>/dev/null") != 0) {
        fprintf(stderr, "needs /usr/bin/python3 with h11: apt-get install python3-h11\n");
        return 1;
    }
    /* Several hundred connections, each answered at once: generous. */
    weft_test_options opt = {.timeout_s = 240};
    if (argc > 1) return weft_test_main(cases, 1, argc, argv);
    return weft_test_run("framing_matches_h11", framing_matches_h11, NULL, &opt) ? 1 : 0;
}
