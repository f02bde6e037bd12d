/* The body shared by the HTTP fuzz targets: a message in pieces through the
 * head parser, the head copy and the body decoder, as the server and the
 * client drive them. The first input byte picks the piece size. */
#ifndef WEFT_FUZZ_HTTP_H
#define WEFT_FUZZ_HTTP_H
#include "http/internal.h"
#include <stdint.h>
#include <stdlib.h>

/* What an accepted head must satisfy whatever the input: a crash here is a
 * finding like any ASan report. */
static void weft_fuzz_check_head(const weft__head *H, int type)
{
    for (size_t i = 0; i < H->nheaders; i++) {
        if (!H->headers[i].name[0]) abort();
        for (const char *c = H->headers[i].name; *c; c++)
            if (*c == ':' || *c == ' ' || *c == '\t' || (unsigned char)*c < 0x21) abort();
        for (const char *c = H->headers[i].value; *c; c++)
            if (*c == '\r' || *c == '\n') abort();
    }
    if (H->content_length < -1 || (H->chunked && H->content_length != -1)) abort();
    if (type == HTTP_REQUEST && (H->minor > 1 || !H->method[0] || !H->path[0])) abort();
}

static int weft_fuzz_http(const uint8_t *data, size_t size, int type)
{
    if (size < 1) return 0;
    size_t step = (size_t)data[0] % 64 + 1;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    static weft__parser P;
    static char arena[8192 + 4 * WEFT_HTTP_MAX_HEADERS + 16];
    static weft__head H;
    weft__parser_init(&P, type, 8192);
    long h = 0;
    for (size_t have = step < n ? step : n;; have = have + step < n ? have + step : n) {
        h = weft__parser_head(&P, in, have);
        if (h != 0 || have == n) break;
    }
    if (h <= 0) return 0;
    if (weft__parser_copy_head(&P, in, arena, sizeof arena, &H) < 0) return 0;
    weft_fuzz_check_head(&H, type);
    if (type == HTTP_RESPONSE && (H.status == 204 || H.status == 304)) weft__parser_no_body(&P);
    char *out = malloc(step);
    size_t off = (size_t)h;
    while (out && off < n && !P.msg_done) {
        size_t k = n - off < step ? n - off : step, got;
        long r = weft__parser_body(&P, in + off, k, out, &got);
        if (r < 0) break;
        /* Decoding never grows, and stops only at the message's end. */
        if (got > (size_t)r || (size_t)r > k || ((size_t)r < k && !P.msg_done)) abort();
        off += (size_t)r;
    }
    if (out && off == n && !P.msg_done) weft__parser_eof(&P);
    free(out);
    return 0;
}
#endif
