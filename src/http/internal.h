/* Internals shared by the HTTP modules. Not installed. */
#ifndef WEFT_HTTP_INTERNAL_H
#define WEFT_HTTP_INTERNAL_H

#include <weft/http.h>
#include "error_table.h"
#include <llhttp.h>
#include <stdint.h>
#include <string.h>

#define WEFT_HTTP_MAX_HEADERS 100

typedef struct weft__span {
    uint32_t off, len;
} weft__span;

/* An incremental llhttp wrapper. The head is parsed over a buffer that only
 * grows at its end between calls (the stream's unconsumed bytes), so spans
 * are kept as offsets from its start and stay valid when the buffer moves.
 * llhttp only tokenizes the head; weft checks the whole head against RFC
 * 9112 itself, decides the body's framing from the headers it kept, and
 * decodes bodies itself (see parser.c for why). */
typedef struct weft__parser {
    llhttp_t p;
    size_t parsed;          /* head bytes already given to llhttp */
    size_t max_head;
    weft__span method, url, reason;
    weft__span hname[WEFT_HTTP_MAX_HEADERS], hval[WEFT_HTTP_MAX_HEADERS];
    unsigned nheaders;
    uint8_t in_value;       /* last header callback was a value */
    uint8_t head_done, msg_done, too_many, bad_value;
    uint16_t status;        /* a rejected request's answer: 400, 413, 431, 501, 505 */
    /* The body's framing, decided when the head is complete. */
    uint8_t framing;        /* WEFT__BODY_* */
    uint8_t chunk_state;    /* where the chunked decoder is (parser.c) */
    uint8_t chunk_digits;   /* hex digits of the current chunk size */
    uint8_t te_close;       /* HTTP/1.0 with Transfer-Encoding: close after it */
    uint8_t tname_len;      /* the current trailer name's length (capped) */
    char tname[18];         /* its first bytes, lower case */
    int64_t content_length; /* -1: none; at most INT64_MAX */
    uint64_t remaining;     /* body bytes (length) or chunk bytes still due */
    uint64_t overhead;      /* chunk extensions, trailers, size zeros: wire
                               bytes that are not data, counted against the
                               body limit like data */
    const char *base;       /* start of the current buffer (during execute) */
    char *out;              /* body bytes go here (during execute) */
    size_t outlen;
} weft__parser;

enum { WEFT__BODY_NONE, WEFT__BODY_LENGTH, WEFT__BODY_CHUNKED, WEFT__BODY_EOF };

/* A parsed head, its strings NUL-terminated in a caller's arena. */
typedef struct weft__head {
    const char *method;     /* requests */
    const char *path, *query; /* from the target (origin or absolute form) */
    const char *scheme, *authority; /* an absolute-form target's ("http",
                                       "host:port"); "" for origin-form */
    int status;             /* responses */
    const char *reason;
    weft_http_header headers[WEFT_HTTP_MAX_HEADERS];
    size_t nheaders;
    int64_t content_length; /* -1: none */
    uint8_t chunked, keep_alive, expect_continue, minor, upgrade;
} weft__head;

/* type: HTTP_REQUEST or HTTP_RESPONSE; max_head bounds the head. */
void weft__parser_init(weft__parser *P, int type, size_t max_head);
/* Parses the head at the start of data[0..n) (n only grows between calls).
 * Returns the head's length once complete, 0 if more bytes are needed,
 * -WEFT_EHTTP_HEADERS_SIZE past max_head or too many headers,
 * -WEFT_EHTTP_BODY_SIZE for a Content-Length past 2^64, -WEFT_EHTTP_PARSE
 * on malformed input or framing weft refuses. On failure P->status is the
 * status a server answers with (400, 413, 431, 501 or 505). */
long weft__parser_head(weft__parser *P, const char *data, size_t n);
/* Copies the parsed head (data as given to weft__parser_head) into arena
 * (cap bytes; needs at most head length + 4 * WEFT_HTTP_MAX_HEADERS).
 * 0 or -WEFT_EHTTP_HEADERS_SIZE. */
int weft__parser_copy_head(weft__parser *P, const char *data, char *arena, size_t cap,
                           weft__head *h);
/* After the head: decodes body bytes from in[0..n) into out (which has room
 * for n bytes: decoding never grows). Returns input bytes consumed (stops at
 * the message's end, leaving what follows) and sets *outlen; P->msg_done
 * once the body is complete; P->overhead grows by the chunk framing that is
 * not data. -WEFT_EHTTP_PARSE on malformed chunking. */
long weft__parser_body(weft__parser *P, const char *in, size_t n, char *out, size_t *outlen);
/* The connection ended: 1 if that completes the message (read-until-close
 * bodies), else 0. */
int weft__parser_eof(weft__parser *P);
/* Makes a response to a HEAD request (or a 2xx to CONNECT) have no body. */
void weft__parser_no_body(weft__parser *P);

/* A growable byte buffer reused across messages. */
typedef struct weft__buf {
    char *p;
    size_t len, cap;
} weft__buf;
int weft__buf_reserve(weft__buf *b, size_t extra);
int weft__buf_add(weft__buf *b, const void *d, size_t n);
int weft__buf_str(weft__buf *b, const char *s);
int weft__buf_fmt(weft__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void weft__buf_free(weft__buf *b);

/* The IMF-fixdate of now, cached per second ("Sun, 06 Nov 1994 08:49:37 GMT"). */
const char *weft__http_date(void);
void weft__http_fmt_date(time_t t, char out[40]);
time_t weft__http_parse_date(const char *s);
/* Case-insensitive header lookup. */
const char *weft__header_find(const weft_http_header *h, size_t n, const char *name);
/* 1 if the comma-separated header value contains token (case-insensitive). */
int weft__has_token(const char *value, const char *token);
/* 1 if s may be sent as a header name/value (no CR, LF, NUL; names: tokens). */
int weft__header_ok(const char *name, const char *value);

/* Streaming decoding of a content coding (decode.c): gzip, deflate (zlib-
 * wrapped or raw), br, zstd. */
typedef struct weft__inflate weft__inflate;
enum { WEFT__DECODE_DEFLATE, WEFT__DECODE_GZIP, WEFT__DECODE_BR, WEFT__DECODE_ZSTD };
weft__inflate *weft__inflate_new(int kind);
/* Decodes from *in (advanced) into out (at most 4 GiB - 1 of cap is used
 * a call, for every coding); returns bytes produced, 0 when it
 * needs more input (or the stream ended: see weft__inflate_done), or
 * -WEFT_EHTTP_DECODE. Input after the end starts a new gzip member or zstd
 * frame; for deflate and br, or when it is not one, it is
 * -WEFT_EHTTP_DECODE. */
long weft__inflate_run(weft__inflate *z, const char **in, size_t *inlen, char *out, size_t cap);
int weft__inflate_done(const weft__inflate *z);
/* 1 if the last call filled its output: call again (with no input if none
 * is left) before reading more. */
int weft__inflate_pending(const weft__inflate *z);
void weft__inflate_free(weft__inflate *z);

/* A weft_http_form_fn that copies the value of the first pair called
 * a->name into a->out (got: its length, or -ENOSPC; stays -ENOENT when
 * none is), then stops. */
typedef struct weft__get_args {
    const char *name;
    char *out;
    size_t cap;
    ssize_t got;
} weft__get_args;
int weft__get_one(void *arg, const char *name, const char *value);

#endif
