/* The client's cookie jar (RFC 6265bis), apart from the session so that the
 * fuzzer drives it alone: cookie_parse.c reads a Set-Cookie line,
 * cookie.c keeps and sends cookies, cookie_file.c saves and loads them in
 * the Netscape (curl) cookie file format. Not installed. */
#ifndef WEFT_HTTP_COOKIE_H
#define WEFT_HTTP_COOKIE_H

#include "http/internal.h"
#include <stdint.h>
#include <stdio.h>

typedef struct weft__url weft__url;

/* Limits (curl's and browsers' orders of magnitude; docs/design.md). */
#define WEFT__COOKIE_MAX_NV 4096          /* name + value bytes (6265bis) */
#define WEFT__COOKIE_MAX_ATTR 1024        /* one attribute value (6265bis) */
#define WEFT__COOKIE_MAX_AGE (400 * 86400) /* expiry cap, 400 days (6265bis) */
#define WEFT__COOKIE_PER_DOMAIN 50        /* per registrable domain */
#define WEFT__COOKIE_BYTES_PER_DOMAIN (64 * 1024)
#define WEFT__COOKIE_MAX_TOTAL 3000
#define WEFT__COOKIE_PER_RESPONSE 50      /* Set-Cookie lines taken from one response */
#define WEFT__COOKIE_MAX_HEADER 8190      /* Cookie header value (curl's) */

/* A Set-Cookie line split into its parts (cookie_parse.c); the strings
 * point into buf. */
typedef struct weft__setcookie {
    char *name, *value;
    char *domain;        /* Domain attribute, lower case, no leading dot; NULL: none */
    char *path;          /* Path attribute if it starts with '/'; NULL: default */
    int have_path_attr;  /* a Path attribute was given (even an invalid one) */
    int64_t max_age;     /* seconds; valid when have_max_age */
    int have_max_age;
    int64_t expires;     /* Unix seconds; valid when have_expires */
    int have_expires;
    int secure, http_only;
    char buf[];
} weft__setcookie;

/* Parses one Set-Cookie value. NULL when it is no cookie (no '=', empty
 * name, control bytes, name+value over the limit) or out of memory. Free
 * with free(). */
weft__setcookie *weft__setcookie_parse(const char *line);
/* A cookie-date (RFC 6265 5.1.1) to Unix seconds; -1 when invalid. */
int64_t weft__cookie_date(const char *s, size_t n);

typedef struct weft__cookie {
    struct weft__cookie *next;
    char *name, *value, *domain, *path;
    const char *key;     /* the registrable domain, within domain (limits) */
    int64_t expires;     /* Unix seconds; 0: session cookie */
    uint64_t created, used; /* orders: creation (for sending), last use (eviction) */
    uint8_t host_only, secure, http_only;
} weft__cookie;

typedef struct weft__jar {
    weft__cookie *list;
    size_t n;
    uint64_t clock;      /* counter behind created/used */
} weft__jar;

/* Wall-clock now in Unix seconds (Expires is absolute). */
int64_t weft__cookie_now(void);
/* Stores (or deletes, when it is expired) the cookie a response from u set.
 * 0; -EINVAL: not a cookie; -EPERM: refused by a rule (Secure from http,
 * public suffix, foreign domain, prefix, shadowing a secure cookie);
 * -ENOMEM. */
int weft__jar_set(weft__jar *j, const weft__url *u, const char *line, int64_t now);
/* Appends "Cookie: ...\r\n" for u to b when any cookie applies (0), or -1
 * when out of memory. */
int weft__jar_header(weft__jar *j, const weft__url *u, int64_t now, weft__buf *b);
/* Adds an already-built cookie (from a file) after the same checks as a
 * stored one, minus the origin's: 0, -EPERM or -ENOMEM. Takes k either way. */
int weft__jar_add(weft__jar *j, weft__cookie *k, int64_t now);
/* Removes the cookies of domain (and its subdomains), or all when NULL. */
void weft__jar_clear(weft__jar *j, const char *domain);
/* Drops expired cookies. */
void weft__jar_expire(weft__jar *j, int64_t now);
void weft__cookie_free(weft__cookie *k);
/* 1 when d is a public suffix (libpsl), or when no list could be loaded. */
int weft__cookie_public_suffix(const char *d);
/* 1 when host is an IP address literal (any form inet_aton takes too). */
int weft__host_is_ip(const char *host);
/* Netscape cookie file: writes every unexpired cookie (0 or -errno); reads
 * lines, skipping comments and ones refused by the jar's rules (the count
 * of cookies added, or -errno). */
int weft__jar_save(weft__jar *j, FILE *f, int64_t now);
int weft__jar_load(weft__jar *j, FILE *f, int64_t now);

#endif
