/* The client's URL parser and Location resolver (src/http/url.c) as a fuzz
 * input, shared by fuzz_http_url.c (libFuzzer) and the corpus replay test.
 * The input is "URL\nLOCATION". Checked: a URL that parses has a host, a
 * port in 1..65535 and a target starting with '/' made of printable ASCII;
 * its formatted form parses again to the same scheme, host, port and
 * target (so what is logged or followed is what was asked), and never
 * carries the user:pass@ part; a Location that resolves against it gives a
 * URL that parses, also without credentials from the base. */
#ifndef WEFT_FUZZ_URL_H
#define WEFT_FUZZ_URL_H
#include "http/client_internal.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Not assert: the replay test is built with NDEBUG. */
#define URL_MUST(c)        \
    do {                   \
        if (!(c)) abort(); \
    } while (0)

static void url_check_parsed(const weft__url *u)
{
    URL_MUST(u->host && u->host[0]);
    URL_MUST(u->port >= 1 && u->port <= 65535);
    URL_MUST(u->target && u->target[0] == '/');
    for (const char *p = u->target; *p; p++) URL_MUST((unsigned char)*p > ' ' && *p != 0x7f);
    for (const char *p = u->host; *p; p++) URL_MUST((unsigned char)*p > ' ' && *p != 0x7f);
}

static inline int weft_fuzz_url(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    char *loc = strchr(s, '\n');
    if (loc) *loc++ = 0;
    static weft__url u, again, joined;
    static char out[4096], out2[4096], jout[8192];
    if (weft__url_parse(s, &u) == 0) {
        url_check_parsed(&u);
        weft__url_format(&u, out, sizeof out);
        /* no user:pass@ in the formatted authority */
        const char *auth = strstr(out, "://") + 3;
        size_t alen = strcspn(auth, "/");
        URL_MUST(!memchr(auth, '@', alen));
        URL_MUST(weft__url_parse(out, &again) == 0);
        url_check_parsed(&again);
        URL_MUST(again.tls == u.tls && again.port == u.port && again.ipv6 == u.ipv6);
        URL_MUST(!strcmp(again.host, u.host) && !strcmp(again.target, u.target));
        URL_MUST(again.userinfo[0] == 0);
        weft__url_format(&again, out2, sizeof out2);
        URL_MUST(!strcmp(out, out2));
        if (loc && weft__url_join(&u, loc, jout, sizeof jout) == 0) {
            URL_MUST(weft__url_parse(jout, &joined) == 0);
            url_check_parsed(&joined);
            /* the base's credentials never come along: only a Location
             * that writes its own user:pass@ has any */
            if (!strchr(loc, '@')) URL_MUST(joined.userinfo[0] == 0);
        }
    }
    free(s);
    return 0;
}
#endif
