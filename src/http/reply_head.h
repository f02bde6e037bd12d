/* The response head as bytes (reply_head.c): what reply.c sends and the
 * fuzz_http_reply_head target checks. Not installed. */
#ifndef WEFT_HTTP_REPLY_HEAD_H
#define WEFT_HTTP_REPLY_HEAD_H

#include "http/internal.h"
#include <stdint.h>

typedef struct weft__head_args {
    int status;
    const char *ctype;          /* NULL: no Content-Type */
    int64_t content_length;     /* >= 0; -1: chunked; -2: neither (1xx/204/304) */
    const char *server_name;    /* "": no Server header */
    int keep_alive, http10;     /* Connection: close / keep-alive as needed */
    const char *extra;          /* header lines from weft__head_add_header */
    size_t extra_len;
} weft__head_args;

/* Writes the whole head (status line through the empty line) into b from
 * its start, growing it. -EINVAL, with nothing written, when a status is
 * not three digits or the content type or server name holds CR or LF;
 * -ENOMEM. */
int weft__head_build(weft__buf *b, const weft__head_args *a);

/* Appends "name: value\r\n" to extra. -EINVAL (extra unchanged) for a
 * name that is not a token, CR/LF in the value, or Content-Length /
 * Transfer-Encoding (the framing is the server's); -ENOMEM. */
int weft__head_add_header(weft__buf *extra, const char *name, const char *value);

#endif
