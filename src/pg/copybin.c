/* The binary COPY format read back (COPY ... TO STDOUT (FORMAT binary)):
 * a parser of what a server sent, fed the stream in whatever pieces it
 * arrives in. Every count and length is checked against the bytes there
 * are; a tuple split across pieces is kept until it is whole. Rows are
 * handed out as weft_pg_values, each copied into a row buffer with the NUL
 * weft promises after a value, numeric as text (as arrays and records hand
 * it out). No libpq here (fuzz/fuzz_pg_copy.c). */
#define _GNU_SOURCE
#include "pg_values.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const char signature[11] = "PGCOPY\n\377\r\n";

void pg__copy_parser_init(pg_copy_parser *p, int ncols, const unsigned *oids)
{
    memset(p, 0, sizeof *p);
    p->ncols = ncols;
    p->oids = oids;
}

void pg__copy_parser_free(pg_copy_parser *p)
{
    free(p->pend);
    free(p->row);
    free(p->vals);
    memset(p, 0, sizeof *p);
}

/* Bytes the item at d (n bytes there) takes: > 0 when it is whole, 0 when
 * more is needed, -EINVAL when malformed. */
static long item_size(const pg_copy_parser *p, const char *d, size_t n)
{
    if (p->state == 0) { /* header: signature, flags, extension length, extension */
        if (n < 19) return memcmp(d, signature, n < 11 ? n : 11) ? -EINVAL : 0;
        if (memcmp(d, signature, 11)) return -EINVAL;
        uint32_t flags = (uint32_t)pg__be(d + 11, 4);
        int32_t ext = (int32_t)pg__be(d + 15, 4);
        /* bit 16: OIDs included (gone since PostgreSQL 12); the low 16 bits
         * are critical flags a reader must refuse if it does not know them */
        if (flags & 0x1FFFF || ext < 0) return -EINVAL;
        return n - 19 < (size_t)ext ? 0 : 19 + (long)ext;
    }
    if (p->state == 2) return -EINVAL; /* bytes after the trailer */
    if (n < 2) return 0;
    int16_t count = (int16_t)pg__be(d, 2);
    if (count == -1) return 2;
    if (count != p->ncols) return -EINVAL;
    size_t off = 2;
    for (int i = 0; i < count; i++) {
        if (n - off < 4) return 0;
        int32_t len = (int32_t)pg__be(d + off, 4);
        off += 4;
        if (len < -1) return -EINVAL;
        if (len > 0) {
            if (n - off < (size_t)len) return 0;
            off += (size_t)len;
        }
        if (off > LONG_MAX / 2) return -EINVAL;
    }
    return (long)off;
}

/* The whole tuple at d (size bytes, checked by item_size) to fn. */
static int emit(pg_copy_parser *p, const char *d, size_t size,
                int (*fn)(void *arg, const weft_pg_value *row, int n), void *arg)
{
    if (!p->vals && p->ncols) {
        p->vals = calloc((size_t)p->ncols, sizeof *p->vals);
        if (!p->vals) return -ENOMEM;
    }
    /* the values' bytes with a NUL each; a binary numeric becomes text of
     * at most 4 digits per group up to its weight, then dscale decimals,
     * with sign and point (or "-Infinity") */
    size_t need = size + (size_t)p->ncols;
    for (size_t off = 2, i = 0; i < (size_t)p->ncols; i++) {
        int32_t len = (int32_t)pg__be(d + off, 4);
        if (p->oids && p->oids[i] == WEFT_PG_NUMERIC && len >= 8) {
            int weight = (int16_t)pg__be(d + off + 6, 2), dscale = (int16_t)pg__be(d + off + 10, 2);
            need += 16 + (weight >= 0 ? ((size_t)weight + 1) * 4 : 1) + (dscale > 0 ? (size_t)dscale : 0);
        }
        off += 4 + (len > 0 ? (size_t)len : 0);
    }
    if (need > p->rowcap) {
        char *r = realloc(p->row, need);
        if (!r) return -ENOMEM;
        p->row = r;
        p->rowcap = need;
    }
    char *out = p->row;
    size_t off = 2;
    for (int i = 0; i < p->ncols; i++) {
        weft_pg_value *v = &p->vals[i];
        int32_t len = (int32_t)pg__be(d + off, 4);
        off += 4;
        v->oid = p->oids ? p->oids[i] : 0;
        v->binary = 1;
        if (len < 0) {
            v->data = NULL;
            v->len = -1;
            continue;
        }
        if (v->oid == WEFT_PG_NUMERIC) {
            char *text;
            int rc = pg__numeric_text(d + off, len, &text);
            if (rc < 0) return rc;
            size_t tl = strlen(text);
            memcpy(out, text, tl + 1);
            free(text);
            v->data = out;
            v->len = (int)tl;
            v->binary = 0;
            out += tl + 1;
        } else {
            memcpy(out, d + off, (size_t)len);
            out[len] = 0;
            v->data = out;
            v->len = len;
            out += (size_t)len + 1;
        }
        off += (size_t)len;
    }
    return fn(arg, p->vals, p->ncols);
}

/* Parses the items at d (n bytes); returns the bytes used (a partial item
 * at the end is left) or an error. */
static long parse(pg_copy_parser *p, const char *d, size_t n,
                  int (*fn)(void *arg, const weft_pg_value *row, int n), void *arg)
{
    size_t used = 0;
    for (;;) {
        long size = item_size(p, d + used, n - used);
        if (size <= 0) return size < 0 ? size : (long)used;
        if (p->state == 0) {
            p->state = 1;
        } else if (size == 2 && (int16_t)pg__be(d + used, 2) == -1) {
            p->state = 2;
        } else {
            int rc = emit(p, d + used, (size_t)size, fn, arg);
            if (rc < 0) return rc;
            p->rows++;
        }
        used += (size_t)size;
        if (used == n) return (long)used;
    }
}

int pg__copy_parse(pg_copy_parser *p, const char *data, size_t n,
                   int (*fn)(void *arg, const weft_pg_value *row, int n), void *arg)
{
    if (p->err) return p->err;
    if (!p->npend) { /* the usual case: whole tuples, parsed in place */
        long used = parse(p, data, n, fn, arg);
        if (used < 0) return p->err = (int)used;
        data += used;
        n -= (size_t)used;
        if (!n) return 0;
    }
    /* a partial item: gathered until whole */
    if (n > (size_t)INT_MAX || p->npend + n > (size_t)INT_MAX) return p->err = -EINVAL;
    if (p->npend + n > p->pendcap) {
        size_t cap = p->pendcap ? p->pendcap : 4096;
        while (cap < p->npend + n) cap *= 2;
        char *b = realloc(p->pend, cap);
        if (!b) return p->err = -ENOMEM;
        p->pend = b;
        p->pendcap = cap;
    }
    memcpy(p->pend + p->npend, data, n);
    p->npend += n;
    long used = parse(p, p->pend, p->npend, fn, arg);
    if (used < 0) return p->err = (int)used;
    memmove(p->pend, p->pend + used, p->npend - (size_t)used);
    p->npend -= (size_t)used;
    return 0;
}

int pg__copy_parse_end(const pg_copy_parser *p)
{
    if (p->err) return p->err;
    return p->state == 2 && !p->npend ? 0 : -EINVAL;
}
