/* Reading a Set-Cookie line (RFC 6265bis 5.6) and a cookie-date (RFC 6265
 * 5.1.1). Only syntax here: what the jar accepts is cookie.c's call. */
#include "http/cookie.h"
#include <ctype.h>
#include <stdlib.h>
#include <strings.h>

static int is_ws(char c) { return c == ' ' || c == '\t'; }

/* Trims blanks off [*s, *s + *n). */
static void trim(const char **s, size_t *n)
{
    while (*n && is_ws(**s)) (*s)++, (*n)--;
    while (*n && is_ws((*s)[*n - 1])) (*n)--;
}

/* Control bytes (6265bis: %x00-08 / %x0A-1F / %x7F) make the whole cookie
 * void: they would end or split the Cookie header it goes back in. weft
 * refuses an inner HTAB as well, which 6265bis allows: it would split the
 * fields of a cookie file. */
static int has_ctl(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) return 1;
    }
    return 0;
}

static int is_delim(unsigned char c)
{
    return c == 0x09 || (c >= 0x20 && c <= 0x2f) || (c >= 0x3b && c <= 0x40) ||
           (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e);
}

/* 1*max DIGIT at t, then nothing or a non-digit; the value, -1 if not. */
static int digits(const char *t, size_t n, size_t min, size_t max, size_t *used)
{
    size_t i = 0;
    int v = 0;
    while (i < n && i < max && isdigit((unsigned char)t[i])) v = v * 10 + (t[i++] - '0');
    if (i < min || (i < n && isdigit((unsigned char)t[i]))) return -1;
    *used = i;
    return v;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t weft__cookie_date(const char *s, size_t n)
{
    static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    int hour = -1, min = 0, sec = 0, dom = -1, mon = -1, year = -1;
    size_t i = 0;
    while (i < n) {
        while (i < n && is_delim((unsigned char)s[i])) i++;
        size_t st = i;
        while (i < n && !is_delim((unsigned char)s[i])) i++;
        const char *t = s + st;
        size_t tl = i - st, u;
        if (!tl) continue;
        if (hour < 0) {
            /* time-field ":" time-field ":" time-field, each 1*2DIGIT */
            int h = digits(t, tl, 1, 2, &u), m = -1, x = -1;
            size_t p = u;
            if (h >= 0 && p < tl && t[p] == ':') {
                m = digits(t + p + 1, tl - p - 1, 1, 2, &u), p += 1 + u;
                if (m >= 0 && p < tl && t[p] == ':') x = digits(t + p + 1, tl - p - 1, 1, 2, &u);
            }
            if (x >= 0) {
                hour = h, min = m, sec = x;
                continue;
            }
        }
        if (dom < 0 && (dom = digits(t, tl, 1, 2, &u)) >= 0) continue;
        if (mon < 0 && tl >= 3) {
            for (int k = 0; k < 12; k++)
                if (!strncasecmp(t, months + 3 * k, 3)) mon = k + 1;
            if (mon > 0) continue;
        }
        if (year < 0 && (year = digits(t, tl, 2, 4, &u)) >= 0) continue;
    }
    if (year >= 70 && year <= 99) year += 1900;
    else if (year >= 0 && year <= 69) year += 2000;
    if (hour < 0 || dom < 1 || mon < 1 || year < 1601 || hour > 23 || min > 59 || sec > 59)
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100) || year % 400 == 0;
    if (dom > mdays[mon - 1] || (mon == 2 && dom == 29 && !leap)) return -1;
    return days_from_civil(year, mon, dom) * 86400 + hour * 3600 + min * 60 + sec;
}

/* Max-Age: an optional '-' and digits (6265bis 5.6.2); saturates. */
static int parse_max_age(const char *v, size_t n, int64_t *out)
{
    size_t i = v[0] == '-';
    if (n <= i) return -1;
    int64_t x = 0;
    for (size_t k = i; k < n; k++) {
        if (!isdigit((unsigned char)v[k])) return -1;
        if (x < INT64_MAX / 20) x = x * 10 + (v[k] - '0');
    }
    *out = i ? -x : x;
    return 0;
}

weft__setcookie *weft__setcookie_parse(const char *line)
{
    size_t len = strlen(line);
    weft__setcookie *c = calloc(1, sizeof *c + len + 8);
    if (!c) return NULL;
    char *o = c->buf;
    /* Each part is copied NUL-terminated into buf after the previous. */
#define KEEP(dst, s, n) (memcpy(o, s, n), o[n] = 0, (dst) = o, o += (n) + 1)
    size_t first = strcspn(line, ";");
    const char *eq = memchr(line, '=', first);
    const char *nm = line, *val = eq ? eq + 1 : NULL;
    size_t nl = eq ? (size_t)(eq - line) : 0, vl = eq ? first - (size_t)(val - line) : 0;
    /* 6265bis takes "x" as a nameless cookie; weft refuses it, as curl
     * does: a nameless value can pose as a prefixed name on the wire. */
    if (!eq) goto bad;
    trim(&nm, &nl);
    trim(&val, &vl);
    if (!nl || nl + vl > WEFT__COOKIE_MAX_NV || has_ctl(nm, nl) || has_ctl(val, vl)) goto bad;
    KEEP(c->name, nm, nl);
    KEEP(c->value, val, vl);
    for (const char *a = line + first; *a == ';';) {
        a++;
        size_t al = strcspn(a, ";");
        const char *next = a + al;
        const char *an = a, *av = memchr(a, '=', al);
        size_t anl = av ? (size_t)(av - a) : al, avl = 0;
        if (av) av++, avl = al - anl - 1;
        else av = "";
        trim(&an, &anl);
        trim(&av, &avl);
        a = next;
        if (avl > WEFT__COOKIE_MAX_ATTR) continue;
#define IS(x) (anl == sizeof x - 1 && !strncasecmp(an, x, anl))
        if (IS("expires")) {
            int64_t t = weft__cookie_date(av, avl);
            if (t != -1) c->expires = t, c->have_expires = 1;
        } else if (IS("max-age")) {
            if (avl && !parse_max_age(av, avl, &c->max_age)) c->have_max_age = 1;
        } else if (IS("domain")) {
            if (!avl) continue;
            if (av[0] == '.') av++, avl--;
            KEEP(c->domain, av, avl);
            for (char *p = c->domain; *p; p++) *p = (char)tolower((unsigned char)*p);
        } else if (IS("path")) {
            c->have_path_attr = 1;
            c->path = NULL;
            /* Control bytes (a tab, a CR) would corrupt the cookie file. */
            if (avl && av[0] == '/' && !has_ctl(av, avl)) KEEP(c->path, av, avl);
        } else if (IS("secure")) {
            c->secure = 1;
        } else if (IS("httponly")) {
            c->http_only = 1;
        }
#undef IS
    }
#undef KEEP
    return c;
bad:
    free(c);
    return NULL;
}
