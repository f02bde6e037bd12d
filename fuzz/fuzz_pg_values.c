/* libFuzzer target: the PostgreSQL value decoders (src/pg/values.c,
 * src/pg/array.c), which parse what a server sent. The first byte picks the
 * type OID and format, the rest is the value; every decoder runs on it (the
 * wrong-type ones must refuse it cleanly). Arrays and records are walked
 * and each element decoded again, as a caller would. ASan catches any read
 * past the value. Binary numeric decoded to text must encode back to the
 * same number. */
#include "pg/pg_values.h"
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const unsigned oids[] = {
    WEFT_PG_BOOL, WEFT_PG_BYTEA, WEFT_PG_INT8, WEFT_PG_INT2, WEFT_PG_INT4, WEFT_PG_TEXT,
    WEFT_PG_OID, WEFT_PG_JSON, WEFT_PG_CIDR, WEFT_PG_FLOAT4, WEFT_PG_FLOAT8, WEFT_PG_INET,
    WEFT_PG_DATE, WEFT_PG_TIME, WEFT_PG_TIMESTAMP, WEFT_PG_TIMESTAMPTZ, WEFT_PG_INTERVAL,
    WEFT_PG_NUMERIC, WEFT_PG_UUID, WEFT_PG_JSONB, WEFT_PG_RECORD,
    1007 /* int4[] */, 1231 /* numeric[] */, 1001 /* bytea[] */, 1009 /* text[] */,
    2287 /* record[] */, 1020 /* box[] */, 1115 /* timestamp[] */, 1187 /* interval[] */};

static void decode_all(const weft_pg_value *v, int depth)
{
    int64_t i64;
    int32_t i32;
    double d;
    int b;
    weft_pg_interval iv;
    weft_pg_inet in;
    uint8_t u[16];
    const char *s;
    const void *p;
    size_t n;
    (void)weft_pg_value_bigint(v, &i64);
    (void)weft_pg_value_int(v, &i32);
    (void)weft_pg_value_double(v, &d);
    (void)weft_pg_value_bool(v, &b);
    (void)weft_pg_value_timestamp(v, &i64);
    (void)weft_pg_value_date(v, &i32);
    (void)weft_pg_value_time(v, &i64);
    (void)weft_pg_value_interval(v, &iv);
    (void)weft_pg_value_uuid(v, u);
    (void)weft_pg_value_inet(v, &in);
    if (weft_pg_value_text(v, &s, &n) == 0) assert(s[n] == 0 || v->binary);
    if (weft_pg_value_bytea(v, &p, &n) == 0) assert(n == (size_t)v->len);
    (void)weft_pg_value_numeric(v, &s);
    if (depth > 2) return;
    weft_pg_array *a;
    if (weft_pg_value_array(v, &a) == 0) {
        assert(a->ndim >= 0 && a->ndim <= WEFT_PG_MAXDIM);
        for (int k = 0; k < a->n; k++) {
            const weft_pg_value *e = &a->elems[k];
            assert(e->len < 0 || e->data[e->len] == 0);
            decode_all(e, depth + 1);
        }
        free(a);
    }
    weft_pg_record *r;
    if (weft_pg_value_record(v, &r) == 0) {
        for (int k = 0; k < r->n; k++) decode_all(&r->fields[k], depth + 1);
        free(r);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1 << 20)) return 0;
    weft_pg_value v;
    v.oid = oids[(data[0] & 0x7f) % (sizeof oids / sizeof oids[0])];
    v.binary = data[0] >> 7;
    /* a copy of exactly the value's bytes plus the NUL weft guarantees */
    char *copy = malloc(size);
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = 0;
    v.data = copy;
    v.len = (int)size - 1;
    decode_all(&v, 0);
    if (v.oid == WEFT_PG_NUMERIC && v.binary) {
        char *text, *bin, *text2;
        int blen;
        if (pg__numeric_text(v.data, v.len, &text) == 0) {
            assert(pg__numeric_binary(text, &bin, &blen) == 0);
            assert(pg__numeric_text(bin, blen, &text2) == 0);
            assert(!strcmp(text, text2));
            free(text2);
            free(bin);
            free(text);
        }
    }
    if (v.oid == WEFT_PG_NUMERIC && !v.binary && strlen(copy) == (size_t)v.len) {
        char *bin, *text;
        int blen;
        if (pg__numeric_binary(copy, &bin, &blen) == 0) {
            assert(pg__numeric_text(bin, blen, &text) == 0);
            free(text);
            free(bin);
        }
    }
    free(copy);
    return 0;
}
