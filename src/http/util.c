/* Byte buffers, HTTP dates, content decoding and the HTTP error names. */
#include "http/internal.h"
#include <weft/ws.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int weft__buf_reserve(weft__buf *b, size_t extra)
{
    if (b->cap - b->len >= extra) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return -ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int weft__buf_add(weft__buf *b, const void *d, size_t n)
{
    if (weft__buf_reserve(b, n + 1)) return -ENOMEM;
    if (n) memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

int weft__buf_str(weft__buf *b, const char *s) { return weft__buf_add(b, s, strlen(s)); }

int weft__buf_fmt(weft__buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) return -EINVAL;
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return 0;
        }
        if (weft__buf_reserve(b, (size_t)n + 1)) return -ENOMEM;
    }
}

void weft__buf_free(weft__buf *b)
{
    free(b->p);
    *b = (weft__buf){0};
}

/* ---- dates ---------------------------------------------------------------- */

static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void weft__http_fmt_date(time_t t, char out[40])
{
    struct tm tm;
    /* A time gmtime cannot place (its year past an int) reads as the
     * epoch rather than as an unset tm's garbage indexes. */
    if (!gmtime_r(&t, &tm)) {
        t = 0;
        gmtime_r(&t, &tm);
    }
    snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Formatting a date costs a gmtime and a printf: once a second is enough,
 * and a thread-local keeps loops on different threads apart. */
const char *weft__http_date(void)
{
    static __thread char cached[40];
    static __thread time_t cached_t;
    time_t now = time(NULL);
    if (now != cached_t) {
        weft__http_fmt_date(now, cached);
        cached_t = now;
    }
    return cached;
}

time_t weft__http_parse_date(const char *s)
{
    struct tm tm = {0};
    char mon[4] = {0};
    /* IMF-fixdate only; the obsolete formats just fail (-1), which makes an
     * If-Modified-Since be ignored: always safe. */
    if (sscanf(s, "%*3s, %2d %3s %4d %2d:%2d:%2d GMT", &tm.tm_mday, mon, &tm.tm_year,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return (time_t)-1;
    int m = 0;
    while (m < 12 && strcmp(months[m], mon)) m++;
    if (m == 12) return (time_t)-1;
    tm.tm_mon = m;
    tm.tm_year -= 1900;
    return timegm(&tm);
}

/* ---- errors ---------------------------------------------------------------------- */

/* HTTP's codes for weft_strerror: the table in weft/http.h. */
WEFT__ERROR_TABLE(http, WEFT_HTTP_ERRORS)

const char *weft_http_status_text(int s)
{
    switch (s) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    }
    return "";
}
