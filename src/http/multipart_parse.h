/* multipart/form-data parsing without I/O (RFC 7578 on RFC 2046's
 * framing): multipart_parse.c finds boundaries and part heads in a buffer
 * and reads a part's head; multipart.c feeds it a request body, and
 * fuzz_http_multipart drives it alone. Not installed. */
#ifndef WEFT_HTTP_MULTIPART_PARSE_H
#define WEFT_HTTP_MULTIPART_PARSE_H

#include <weft/http.h>
#include <stddef.h>

#define WEFT__MP_MAX_BOUNDARY 70 /* RFC 2046 */
#define WEFT__MP_MAX_HEADERS 32  /* header lines in one part's head */

typedef struct weft__mp {
    char delim[WEFT__MP_MAX_BOUNDARY + 5]; /* "\r\n--" boundary */
    size_t dlen;
    int state;
    int dropped;            /* preamble bytes were skipped */
    size_t max_head;        /* a part's head, CRLFs included */
    size_t max_parts;
    size_t nparts;
} weft__mp;

enum {
    WEFT__MP_NEED,     /* more input wanted (what could be used was) */
    WEFT__MP_HEAD,     /* out, outlen: a part's head, without its blank line */
    WEFT__MP_DATA,     /* out, outlen: body bytes of the current part */
    WEFT__MP_PART_END, /* the current part ended */
    WEFT__MP_DONE      /* the closing boundary: the rest is epilogue */
};

/* Reads the boundary parameter of a Content-Type value that must be
 * multipart/form-data, into m (with its limits). 0, -WEFT_EHTTP_CONTENT_TYPE
 * (another type), -WEFT_EHTTP_MULTIPART (no boundary, or one RFC 2046 does
 * not allow). */
int weft__mp_init(weft__mp *m, const char *content_type, size_t max_head, size_t max_parts);
/* Parses from in[0..n) and returns the input bytes used (a caller may use
 * fewer of a DATA event's: the rest comes again as data), with *ev the
 * event. Needs in[0..n) to hold a whole part head before it reports it
 * (max_head + 4 bytes). -WEFT_EHTTP_MULTIPART on malformed framing,
 * -WEFT_EHTTP_HEADERS_SIZE for a head over max_head, -E2BIG past
 * max_parts. Does not wait. */
long weft__mp_feed(weft__mp *m, const char *in, size_t n, int *ev, const char **out,
                   size_t *outlen);

/* A part head, read. Strings point into the arena given. */
typedef struct weft__mp_head {
    const char *name;       /* the form field's name ("" allowed) */
    const char *filename;   /* NULL: none */
    const char *content_type; /* NULL: none */
    weft_http_header headers[WEFT__MP_MAX_HEADERS];
    size_t nheaders;
} weft__mp_head;

/* Reads a part's head (header lines separated by CRLF): each a token, a
 * colon and a value without control bytes; exactly one Content-Disposition
 * "form-data" with a name; at most one Content-Type. Quoted parameters are
 * unescaped (a backslash escapes only '"' and '\\', as Go reads them, so a
 * Windows path keeps its backslashes); name* and filename* (RFC 8187,
 * UTF-8 only) win over their plain forms. arena needs 2 * len + 64 bytes.
 * 0 or -WEFT_EHTTP_MULTIPART. Does not wait. */
int weft__mp_head_parse(const char *head, size_t len, char *arena, size_t cap, weft__mp_head *h);

#endif
