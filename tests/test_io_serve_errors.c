/* weft_tcp_serve's failures leave an errno value in errno, never one of
 * weft's codes (it left a positive WEFT_EDNS there, which strerror calls
 * "Unknown error 10003"); weft_tcp_start_server, the int constructor,
 * gives the code itself. Both on a name that does not resolve and on a
 * port in use. */
#include <weft/test.h>
#include <weft/io.h>
#include <string.h>

static int h(weft_stream *s, void *arg) { return 0; }

WEFT_TEST(dns_failure)
{
    errno = 0;
    weft_server *srv = weft_tcp_serve("no-such-host.invalid", 0, h, NULL);
    WEFT_TEST_CHECK(srv == NULL);
    /* NXDOMAIN; a sandbox without a name server says "try again" */
    WEFT_TEST_CHECK(errno == EADDRNOTAVAIL || errno == EAGAIN);
    WEFT_TEST_CHECK(errno < WEFT_ERRBASE && strcmp(strerror(errno), "Unknown error") != 0);
    weft_server *out = (weft_server *)1;
    int r = weft_tcp_start_server("no-such-host.invalid", 0, h, NULL, NULL, &out);
    WEFT_TEST_CHECK(r == -WEFT_EDNS || r == -WEFT_EDNSAGAIN);
    WEFT_TEST_CHECK(out == NULL);
    return 0;
}

WEFT_TEST(port_in_use)
{
    weft_server *a;
    WEFT_TEST_CHECK(weft_tcp_start_server("127.0.0.1", 0, h, NULL, NULL, &a) == 0 && a);
    int port = weft_server_port(a);
    weft_server *b;
    WEFT_TEST_CHECK(weft_tcp_start_server("127.0.0.1", port, h, NULL, NULL, &b) == -EADDRINUSE);
    errno = 0;
    WEFT_TEST_CHECK(weft_tcp_serve("127.0.0.1", port, h, NULL) == NULL && errno == EADDRINUSE);
    WEFT_TEST_CHECK(weft_tcp_start_server("127.0.0.1", 0, NULL, NULL, NULL, NULL) == -EINVAL);
    WEFT_TEST_CHECK(weft_server_close(a, 1) == 0);
    return 0;
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(dns_failure), WEFT_TEST_CASE(port_in_use))
