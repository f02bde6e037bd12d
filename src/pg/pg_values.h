/* Internals of the value codecs (values.c, array.c, encode.c): pure
 * functions on wire bytes, no libpq, so fuzz targets link them alone. */
#ifndef WEFT_PG_VALUES_H
#define WEFT_PG_VALUES_H

#include <weft/pg.h>
#include <stddef.h>
#include <stdint.h>

#define PG_EPOCH_USEC 946684800000000LL /* 2000-01-01 in Unix microseconds */
#define PG_EPOCH_DAYS 10957             /* 2000-01-01 in days since 1970 */

/* A big-endian integer of n (2, 4 or 8) bytes at p, unaligned. One load
 * and a byte swap (every caller's n is a constant, so the switch folds): a
 * byte loop cost 57 instructions an int4 array element (callgrind). */
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define pg__bswap16(x) (x)
#define pg__bswap32(x) (x)
#define pg__bswap64(x) (x)
#else
#define pg__bswap16(x) __builtin_bswap16(x)
#define pg__bswap32(x) __builtin_bswap32(x)
#define pg__bswap64(x) __builtin_bswap64(x)
#endif
static inline uint64_t pg__be(const char *p, int n)
{
    switch (n) {
    case 2: {
        uint16_t v;
        __builtin_memcpy(&v, p, 2);
        return pg__bswap16(v);
    }
    case 4: {
        uint32_t v;
        __builtin_memcpy(&v, p, 4);
        return pg__bswap32(v);
    }
    case 8: {
        uint64_t v;
        __builtin_memcpy(&v, p, 8);
        return pg__bswap64(v);
    }
    default: {
        uint64_t v = 0;
        for (int i = 0; i < n; i++) v = (v << 8) | (unsigned char)p[i];
        return v;
    }
    }
}
static inline void pg__put_be(char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8) p[i] = (char)(v & 0xff);
}

/* Binary numeric -> malloc'd exact decimal text; -EINVAL for what no
 * server sends, -ENOMEM. */
int pg__numeric_text(const char *v, int len, char **text);
/* Decimal text -> binary numeric in a malloc'd buffer (*len bytes); -EINVAL
 * for what is not a plain decimal, NaN or +-Infinity. */
int pg__numeric_binary(const char *s, char **out, int *len);
/* Text bytea (hex "\x..." or escape format) -> malloc'd bytes; -EINVAL. */
int pg__bytea_unescape(const char *s, size_t n, char **out, size_t *outn);
/* The element OID of a built-in array type, 0 if unknown; and back. */
unsigned pg__array_elem(unsigned array_oid);
unsigned pg__array_of(unsigned elem_oid);

/* copybin.c: a binary COPY stream (COPY ... TO STDOUT (FORMAT binary))
 * parsed in the pieces it arrives in, each row handed to a callback as
 * ncols values of types oids (NULL: 0), valid during the call. */
typedef struct pg_copy_parser {
    int ncols;
    const unsigned *oids;
    int state;           /* 0: header next, 1: tuples, 2: trailer seen */
    int err;             /* a failed parse: every later call returns it */
    int64_t rows;
    char *pend;          /* a partial item kept for the next piece */
    size_t npend, pendcap;
    char *row;           /* the handed-out values' bytes */
    size_t rowcap;
    weft_pg_value *vals;
} pg_copy_parser;
void pg__copy_parser_init(pg_copy_parser *p, int ncols, const unsigned *oids);
void pg__copy_parser_free(pg_copy_parser *p);
/* Feeds n bytes: 0, -EINVAL (malformed: a wrong signature, field count or
 * length, bytes after the trailer), -ENOMEM, or fn's negative return. */
int pg__copy_parse(pg_copy_parser *p, const char *data, size_t n,
                   int (*fn)(void *arg, const weft_pg_value *row, int n), void *arg);
/* At the end of the stream: 0 if it ended with its trailer, else -EINVAL. */
int pg__copy_parse_end(const pg_copy_parser *p);

#endif
