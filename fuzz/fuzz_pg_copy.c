/* libFuzzer target: the binary COPY stream parser (src/pg/copybin.c), which
 * reads what a server sent for weft_pg_copy_records_out. The first byte
 * picks the column count and the piece size, the second the column types;
 * the rest is the stream. It is parsed twice, whole and in pieces: both
 * must agree on every row and value and on the outcome (a tuple split
 * across pieces is the parser's hard case), and each value handed out must
 * have its NUL and decode (or be refused) within its bytes. */
#include "pg/pg_values.h"
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const unsigned copy_oids[] = {WEFT_PG_INT4, WEFT_PG_TEXT, WEFT_PG_NUMERIC, WEFT_PG_BYTEA,
                                     WEFT_PG_TIMESTAMP, 1007 /* int4[] */, WEFT_PG_RECORD,
                                     WEFT_PG_FLOAT8};

typedef struct digest {
    uint64_t h;
    int64_t rows;
} digest;

static int take_row(void *arg, const weft_pg_value *v, int n)
{
    digest *d = arg;
    d->rows++;
    for (int i = 0; i < n; i++) {
        d->h = d->h * 31 + (uint64_t)(int64_t)v[i].len;
        if (v[i].len < 0) continue;
        assert(v[i].data[v[i].len] == 0);
        for (int k = 0; k < v[i].len; k++) d->h = d->h * 131 + (unsigned char)v[i].data[k];
        int64_t x;
        double f;
        (void)weft_pg_value_bigint(&v[i], &x);
        (void)weft_pg_value_double(&v[i], &f);
        (void)weft_pg_value_timestamp(&v[i], &x);
        weft_pg_array *a;
        if (weft_pg_value_array(&v[i], &a) == 0) free(a);
        weft_pg_record *r;
        if (weft_pg_value_record(&v[i], &r) == 0) free(r);
    }
    return 0;
}

static int parse_in(const char *s, size_t n, size_t step, int ncols, const unsigned *oids,
                    digest *d)
{
    pg_copy_parser p;
    pg__copy_parser_init(&p, ncols, oids);
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0; off += step)
        rc = pg__copy_parse(&p, s + off, n - off < step ? n - off : step, take_row, d);
    if (rc == 0) rc = pg__copy_parse_end(&p);
    assert(p.rows == d->rows);
    pg__copy_parser_free(&p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > (1 << 20)) return 0;
    int ncols = data[0] & 7;
    size_t step = (size_t)(data[0] >> 3) + 1;
    unsigned oids[8];
    for (int i = 0; i < ncols; i++)
        oids[i] = copy_oids[(data[1] + i * 3) % (sizeof copy_oids / sizeof copy_oids[0])];
    /* an exact copy: the parser must not read past the stream */
    size_t n = size - 2;
    char *s = malloc(n ? n : 1);
    memcpy(s, data + 2, n);
    digest whole = {0, 0}, pieces = {0, 0};
    int a = parse_in(s, n, n ? n : 1, ncols, oids, &whole);
    int b = parse_in(s, n, step, ncols, oids, &pieces);
    /* a malformed stream may be found at a different row in pieces only if
     * rows before it differ: they must not */
    assert(a == b);
    assert(whole.rows == pieces.rows && whole.h == pieces.h);
    free(s);
    return 0;
}
