/* The body of the cookie fuzz target (fuzz_http_cookie.c), also replayed by
 * test_http_fuzz_corpus: Set-Cookie lines from one origin into a jar, then
 * the jar's rules checked on what it holds and sends, and a save/load round
 * trip that must give the same Cookie headers. The first input byte picks
 * the origin; lines are separated by '\n'. */
#ifndef WEFT_FUZZ_COOKIE_H
#define WEFT_FUZZ_COOKIE_H
#include "http/client_internal.h"
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

static const char *const weft_fuzz_cookie_urls[] = {
    "http://www.example.com/a/b", "https://www.example.com/", "http://127.0.0.1:8080/x/",
    "https://[::1]/p?q", "http://a.b.example.co.uk/", "https://github.io/",
    "http://EXAMPLE.com/docs/web", "https://x.localhost/"};
#define WEFT_FUZZ_NURLS (sizeof weft_fuzz_cookie_urls / sizeof *weft_fuzz_cookie_urls)

/* What every stored cookie satisfies, whatever the input. */
static void weft_fuzz_cookie_check(const weft__jar *j, int64_t now)
{
    size_t n = 0;
    for (const weft__cookie *k = j->list; k; k = k->next, n++) {
        if (!k->name[0] || strlen(k->name) + strlen(k->value) > WEFT__COOKIE_MAX_NV) abort();
        for (const char *s = k->name; *s; s++)
            if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '=' || *s == ';') abort();
        for (const char *s = k->value; *s; s++)
            if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == ';') abort();
        if (k->path[0] != '/' || (k->expires && k->expires <= now)) abort();
        if (!k->host_only && (weft__host_is_ip(k->domain) || weft__cookie_public_suffix(k->domain)))
            abort();
        if (!strncasecmp(k->name, "__Host-", 7) && (!k->secure || !k->host_only || strcmp(k->path, "/")))
            abort();
        if (!strncasecmp(k->name, "__Secure-", 9) && !k->secure) abort();
    }
    if (n != j->n || n > WEFT__COOKIE_MAX_TOTAL) abort();
}

/* The headers the jar sends to every test URL, concatenated into b; none
 * may hold a control byte, and over http the header must be the same with
 * the jar's Secure cookies taken out. */
static void weft_fuzz_cookie_headers(weft__jar *j, int64_t now, weft__buf *b)
{
    weft__buf alt = {0};
    for (size_t i = 0; i < WEFT_FUZZ_NURLS; i++) {
        weft__url u;
        if (weft__url_parse(weft_fuzz_cookie_urls[i], &u)) abort();
        size_t start = b->len;
        if (weft__jar_header(j, &u, now, b)) abort();
        if (b->len - start > WEFT__COOKIE_MAX_HEADER + 10) abort();
        for (size_t k = start; k + 2 < b->len; k++)
            if ((unsigned char)b->p[k] < 0x20 || b->p[k] == 0x7f) abort();
        if (u.tls) continue;
        weft__cookie *secure = NULL, **pp = &j->list;
        while (*pp)
            if ((*pp)->secure) {
                weft__cookie *k = *pp;
                *pp = k->next, k->next = secure, secure = k;
            } else {
                pp = &(*pp)->next;
            }
        alt.len = 0;
        if (weft__jar_header(j, &u, now, &alt)) abort();
        if (alt.len != b->len - start || (alt.len && memcmp(alt.p, b->p + start, alt.len))) abort();
        *pp = secure; /* back at the list's end: the order of creation is kept apart */
    }
    weft__buf_free(&alt);
}

static int weft_fuzz_cookie(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1 << 16) return 0;
    weft__url u;
    if (weft__url_parse(weft_fuzz_cookie_urls[data[0] % WEFT_FUZZ_NURLS], &u)) abort();
    const int64_t now = 1700000000;
    weft__jar j = {0};
    char *text = malloc(size);
    if (!text) return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    for (char *save, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        weft__jar_set(&j, &u, l, now);
    free(text);
    weft_fuzz_cookie_check(&j, now);
    weft__buf h1 = {0}, h2 = {0};
    weft_fuzz_cookie_headers(&j, now, &h1);
    /* Round trip through the cookie file. */
    char *mem = NULL;
    size_t memlen = 0;
    FILE *f = open_memstream(&mem, &memlen);
    if (!f) abort();
    if (weft__jar_save(&j, f, now)) abort();
    fclose(f);
    weft__jar k = {0};
    f = fmemopen(mem, memlen, "r");
    if (!f) abort();
    if (weft__jar_load(&k, f, now) != (int)j.n) abort();
    fclose(f);
    free(mem);
    weft_fuzz_cookie_check(&k, now);
    weft_fuzz_cookie_headers(&k, now, &h2);
    if (h1.len != h2.len || (h1.len && memcmp(h1.p, h2.p, h1.len))) abort();
    weft__buf_free(&h1), weft__buf_free(&h2);
    weft__jar_clear(&j, NULL), weft__jar_clear(&k, NULL);
    return 0;
}
#endif
