/* The multipart/form-data framing parser and part-head reader under
 * random input, with its invariants checked: shared by the libFuzzer
 * target (fuzz_http_multipart.c) and the corpus replay in the suite.
 *
 * Input: byte 0 picks the piece size the body is fed in (1..256, 0: all
 * at once), then a Content-Type line up to '\n', then the body. Checked:
 * no event uses more than it was given; DATA never holds a delimiter and
 * is never empty; a HEAD fits the head limit; the parts and bytes are the
 * same whatever the piece size; part heads either parse or are refused. */
#ifndef WEFT_FUZZ_MULTIPART_H
#define WEFT_FUZZ_MULTIPART_H
#include "http/multipart_parse.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FZ_MAX_HEAD 512

/* memmem without _GNU_SOURCE (the suite includes string.h first). */
static int fz_contains(const char *h, size_t n, const char *x, size_t k)
{
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(h + i, x, k)) return 1;
    return 0;
}

/* Runs the body through a parser fed piece bytes at a time (0: all);
 * returns a digest of its events (a sum over what they said), or -1
 * refused. */
static uint64_t weft_fuzz_mp_run(const char *ct, const uint8_t *body, size_t len, size_t piece,
                                 int *refused)
{
    weft__mp m;
    *refused = 0;
    if (weft__mp_init(&m, ct, FZ_MAX_HEAD, 64)) {
        *refused = 1;
        return 0;
    }
    static char buf[FZ_MAX_HEAD + 4 + 4096 + 512];
    static char arena[2 * FZ_MAX_HEAD + 64];
    size_t have = 0, fed = 0;
    uint64_t digest = 1469598103934665603ull;
    for (;;) {
        size_t room = sizeof buf - have, take = piece ? piece : len - fed;
        if (take > room) take = room;
        if (take > len - fed) take = len - fed;
        memcpy(buf + have, body + fed, take);
        have += take, fed += take;
        int ev;
        const char *d;
        size_t n;
        long used = weft__mp_feed(&m, buf, have, &ev, &d, &n);
        if (used < 0) {
            *refused = 1;
            return 0;
        }
        if ((size_t)used > have) abort();
        if (ev == WEFT__MP_DATA) {
            if (!n || n != (size_t)used || d != buf) abort();
            if (fz_contains(d, n, m.delim, m.dlen)) abort();
            for (size_t i = 0; i < n; i++) digest = (digest ^ (uint8_t)d[i]) * 1099511628211ull;
        } else if (ev == WEFT__MP_HEAD) {
            if (n > FZ_MAX_HEAD) abort();
            weft__mp_head h;
            int r = weft__mp_head_parse(d, n, arena, sizeof arena, &h);
            if (!r && (!h.name || h.nheaders == 0 || h.nheaders > WEFT__MP_MAX_HEADERS)) abort();
            digest = (digest ^ (uint64_t)(r ? 7 : 11)) * 1099511628211ull;
        } else if (ev == WEFT__MP_PART_END) {
            digest = (digest ^ 0x100) * 1099511628211ull;
        } else if (ev == WEFT__MP_DONE) {
            return digest;
        }
        memmove(buf, buf + used, have - (size_t)used);
        have -= (size_t)used;
        if (ev == WEFT__MP_NEED && !used && (fed == len || have == sizeof buf)) {
            *refused = 1; /* cut short (or a head past its limit, refused above) */
            return 0;
        }
    }
}

static int weft_fuzz_multipart(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    size_t piece = data[0];
    const uint8_t *nl = memchr(data + 1, '\n', size - 1);
    if (!nl || nl - (data + 1) > 200) return 0;
    char ct[256];
    memcpy(ct, data + 1, (size_t)(nl - (data + 1)));
    ct[nl - (data + 1)] = 0;
    if (strlen(ct) != (size_t)(nl - (data + 1))) return 0; /* a NUL inside */
    const uint8_t *body = nl + 1;
    size_t len = size - (size_t)(body - data);
    int r1, r2;
    uint64_t a = weft_fuzz_mp_run(ct, body, len, 0, &r1);
    uint64_t b = weft_fuzz_mp_run(ct, body, len, piece, &r2);
    /* Fed whole or in pieces, the parser must read the same form. */
    if (r1 != r2 || a != b) abort();
    return 0;
}

#endif
