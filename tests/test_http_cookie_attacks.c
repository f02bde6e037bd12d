/* Attacks on the client's cookie jar found in review: ways a cookie could
 * reach hosts it must not (issue 15). Through weft_http_client_cookie_set
 * and _header only: the hosts need no DNS. */
#include <weft/http.h>
#include <weft/test.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EQ(a, b) (!strcmp((a), (b)))

static const char *would_send(weft_http_client *c, const char *u)
{
    static char h[16384];
    if (weft_http_client_cookie_header(c, u, h, sizeof h) < 0) return "(error)";
    return h;
}

/* A fully qualified host ends in a dot; libpsl does not know "co.uk." as
 * a public suffix, so Domain=co.uk. set from evil.co.uk. would reach every
 * *.co.uk. host. Any number of trailing dots must not hide the suffix. */
WEFT_TEST(public_suffix_with_trailing_dot)
{
    weft_http_client *c = weft_http_client_new(NULL);
    const char *refused[][2] = {
        {"http://evil.co.uk./", "a=1; Domain=co.uk."},
        {"http://evil.co.uk./", "a=1; Domain=.co.uk."},
        {"http://me.github.io./", "a=1; Domain=github.io."},
        {"http://evil.com./", "a=1; Domain=com."},
        {"http://evil.co.uk../", "a=1; Domain=co.uk.."},
    };
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        WEFT_TEST_CHECK(weft_http_client_cookie_set(c, refused[i][0], refused[i][1]) == -EPERM);
    WEFT_TEST_CHECK(EQ(would_send(c, "http://victim.co.uk./"), ""));
    WEFT_TEST_CHECK(EQ(would_send(c, "http://you.github.io./"), ""));
    WEFT_TEST_CHECK(weft_http_client_cookies(c, NULL, NULL) == 0);
    /* A registrable domain with a trailing dot is still fine. */
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "http://www.example.co.uk./",
                                                "b=1; Domain=example.co.uk.") == 0);
    WEFT_TEST_CHECK(EQ(would_send(c, "http://shop.example.co.uk./"), "b=1"));
    weft_http_client_close(c);
    return 0;
}

/* The same suffix from a cookie file. */
WEFT_TEST(public_suffix_with_trailing_dot_in_file)
{
    char path[] = "/tmp/weft-cookie-attack-XXXXXX";
    int fd = mkstemp(path);
    WEFT_TEST_CHECK(fd >= 0);
    const char *txt = ".co.uk.\tTRUE\t/\tFALSE\t0\ta\t1\n"
                      "github.io.\tTRUE\t/\tFALSE\t0\tb\t1\n"
                      ".example.co.uk.\tTRUE\t/\tFALSE\t0\tc\t1\n";
    WEFT_TEST_CHECK(write(fd, txt, strlen(txt)) == (ssize_t)strlen(txt));
    close(fd);
    weft_http_client *c = weft_http_client_new(NULL);
    WEFT_TEST_CHECK(weft_http_client_cookies_load(c, path) == 1);
    WEFT_TEST_CHECK(EQ(would_send(c, "http://victim.co.uk./"), ""));
    WEFT_TEST_CHECK(EQ(would_send(c, "http://www.example.co.uk./"), "c=1"));
    unlink(path);
    weft_http_client_close(c);
    return 0;
}

/* A name that ends in an IPv4 address's digits may not set a cookie for
 * that address: an IP literal Domain only ever names the host itself. */
WEFT_TEST(ip_literal_domain_from_a_name)
{
    weft_http_client *c = weft_http_client_new(NULL);
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "http://a.10.0.0.1/", "a=1; Domain=10.0.0.1") == -EPERM);
    WEFT_TEST_CHECK(EQ(would_send(c, "http://10.0.0.1/"), ""));
    WEFT_TEST_CHECK(weft_http_client_cookie_set(c, "http://10.0.0.1/", "b=1; Domain=10.0.0.1") == 0);
    WEFT_TEST_CHECK(EQ(would_send(c, "http://10.0.0.1/"), "b=1"));
    weft_http_client_close(c);
    return 0;
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(public_suffix_with_trailing_dot), WEFT_TEST_CASE(ip_literal_domain_from_a_name),
               WEFT_TEST_CASE(public_suffix_with_trailing_dot_in_file))
