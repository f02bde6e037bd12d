/* Typed parameters: values encoded in binary with their type's OID sent,
 * so the server neither guesses a type nor parses text. numeric goes
 * binary too (checked here: a typo fails before the round trip); json as
 * its text (json's binary format is its text), jsonb with its version
 * byte. Arrays and records are built from a params list of their
 * elements, which the typed appends above have already encoded. */
#define _GNU_SOURCE
#include "pg_internal.h"
#include "pg_values.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static int push_be(weft_pg_params *p, uint64_t v, int n, unsigned oid)
{
    char b[8];
    pg__put_be(b, v, n);
    return pg__params_push(p, b, (size_t)n, 1, oid);
}

int weft_pg_params_int2(weft_pg_params *p, int16_t v) { return push_be(p, (uint16_t)v, 2, WEFT_PG_INT2); }
int weft_pg_params_int4(weft_pg_params *p, int32_t v) { return push_be(p, (uint32_t)v, 4, WEFT_PG_INT4); }
int weft_pg_params_int8(weft_pg_params *p, int64_t v) { return push_be(p, (uint64_t)v, 8, WEFT_PG_INT8); }
int weft_pg_params_float4(weft_pg_params *p, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    return push_be(p, u, 4, WEFT_PG_FLOAT4);
}
int weft_pg_params_float8(weft_pg_params *p, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    return push_be(p, u, 8, WEFT_PG_FLOAT8);
}
int weft_pg_params_boolean(weft_pg_params *p, int v) { return push_be(p, v != 0, 1, WEFT_PG_BOOL); }

int weft_pg_params_typed_text(weft_pg_params *p, unsigned oid, const char *s)
{
    return pg__params_push(p, s, s ? strlen(s) : 0, 0, oid);
}

int weft_pg_params_numeric(weft_pg_params *p, const char *decimal)
{
    if (!decimal) return pg__params_push(p, NULL, 0, 1, WEFT_PG_NUMERIC);
    char *b;
    int n, rc = pg__numeric_binary(decimal, &b, &n);
    if (rc < 0) return rc;
    rc = pg__params_push(p, b, (size_t)n, 1, WEFT_PG_NUMERIC);
    free(b);
    return rc;
}

int weft_pg_params_uuid(weft_pg_params *p, const uint8_t uuid[16])
{
    return pg__params_push(p, uuid, uuid ? 16 : 0, 1, WEFT_PG_UUID);
}

int weft_pg_params_date(weft_pg_params *p, int32_t days)
{
    int64_t d = days == INT32_MAX || days == INT32_MIN ? days : (int64_t)days - PG_EPOCH_DAYS;
    return push_be(p, (uint32_t)(int32_t)d, 4, WEFT_PG_DATE);
}

int weft_pg_params_time(weft_pg_params *p, int64_t usec)
{
    if (usec < 0 || usec > 86400LL * 1000000) return -EINVAL;
    return push_be(p, (uint64_t)usec, 8, WEFT_PG_TIME);
}

static int push_ts(weft_pg_params *p, int64_t usec, unsigned oid)
{
    int64_t t = usec;
    if (usec != INT64_MAX && usec != INT64_MIN && __builtin_sub_overflow(usec, PG_EPOCH_USEC, &t))
        return -ERANGE;
    return push_be(p, (uint64_t)t, 8, oid);
}
int weft_pg_params_timestamp(weft_pg_params *p, int64_t usec) { return push_ts(p, usec, WEFT_PG_TIMESTAMP); }
int weft_pg_params_timestamptz(weft_pg_params *p, int64_t usec) { return push_ts(p, usec, WEFT_PG_TIMESTAMPTZ); }

int weft_pg_params_interval(weft_pg_params *p, const weft_pg_interval *v)
{
    if (!v) return pg__params_push(p, NULL, 0, 1, WEFT_PG_INTERVAL);
    char b[16];
    pg__put_be(b, (uint64_t)v->usec, 8);
    pg__put_be(b + 8, (uint32_t)v->days, 4);
    pg__put_be(b + 12, (uint32_t)v->months, 4);
    return pg__params_push(p, b, 16, 1, WEFT_PG_INTERVAL);
}

int weft_pg_params_json(weft_pg_params *p, const char *json, size_t n)
{
    return pg__params_push(p, json, json ? n : 0, 0, WEFT_PG_JSON);
}

int weft_pg_params_jsonb(weft_pg_params *p, const char *json, size_t n)
{
    if (!json) return pg__params_push(p, NULL, 0, 0, WEFT_PG_JSONB);
    return pg__params_push(p, json, n, 0, WEFT_PG_JSONB); /* text: the server validates it */
}

int weft_pg_params_inet(weft_pg_params *p, const weft_pg_inet *v)
{
    if (!v) return pg__params_push(p, NULL, 0, 1, WEFT_PG_INET);
    int nb = v->family == 4 ? 4 : v->family == 6 ? 16 : 0;
    if (!nb || v->bits < 0 || v->bits > nb * 8) return -EINVAL;
    char b[20] = {(char)(v->family == 4 ? 2 : 3), (char)v->bits, (char)(v->cidr != 0), (char)nb};
    memcpy(b + 4, v->addr, (size_t)nb);
    return pg__params_push(p, b, 4 + (size_t)nb, 1, v->cidr ? WEFT_PG_CIDR : WEFT_PG_INET);
}

int weft_pg_params_binary(weft_pg_params *p, unsigned oid, const void *data, size_t n)
{
    if (!data && n) return -EINVAL;
    return pg__params_push(p, data, n, 1, oid);
}

/* ---- arrays and records ------------------------------------------------------------ */

void pg__wbuf_put(pg_wbuf *w, const void *d, size_t n)
{
    if (w->err) return;
    if (w->n + n > (size_t)INT_MAX) {
        w->err = -EOVERFLOW;
        return;
    }
    if (w->n + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->n + n) cap *= 2;
        char *b = realloc(w->b, cap);
        if (!b) {
            w->err = -ENOMEM;
            return;
        }
        w->b = b;
        w->cap = cap;
    }
    if (n) memcpy(w->b + w->n, d, n);
    w->n += n;
}

void pg__wbuf_put32(pg_wbuf *w, uint32_t v)
{
    char b[4];
    pg__put_be(b, v, 4);
    pg__wbuf_put(w, b, 4);
}

/* Element i of src in binary: text-format values (typed_text, json) are
 * their own binary form for text-like types; jsonb gains its version byte
 * and numeric text is encoded. Other text values are refused. */
static void put_elem(pg_wbuf *w, const weft_pg_params *src, int i)
{
    const char *d = src->values[i];
    int len = src->lengths[i];
    unsigned oid = src->types[i];
    if (!d) {
        pg__wbuf_put32(w, (uint32_t)-1);
        return;
    }
    if (src->formats[i] == 1) {
        pg__wbuf_put32(w, (uint32_t)len);
        pg__wbuf_put(w, d, (size_t)len);
    } else if (oid == WEFT_PG_NUMERIC) {
        char *b;
        int n, rc = pg__numeric_binary(d, &b, &n);
        if (rc < 0) {
            if (!w->err) w->err = rc;
            return;
        }
        pg__wbuf_put32(w, (uint32_t)n);
        pg__wbuf_put(w, b, (size_t)n);
        free(b);
    } else if (oid == WEFT_PG_JSONB) {
        pg__wbuf_put32(w, (uint32_t)len + 1);
        pg__wbuf_put(w, "\1", 1);
        pg__wbuf_put(w, d, (size_t)len);
    } else if (oid == 0 || oid == WEFT_PG_INT2 || oid == WEFT_PG_INT4 || oid == WEFT_PG_INT8 ||
               oid == WEFT_PG_FLOAT4 || oid == WEFT_PG_FLOAT8 || oid == WEFT_PG_BOOL) {
        if (!w->err) w->err = -EINVAL; /* untyped text: no binary form known */
    } else {
        pg__wbuf_put32(w, (uint32_t)len); /* text, varchar, json, enums: the text */
        pg__wbuf_put(w, d, (size_t)len);
    }
}

int weft_pg_params_array(weft_pg_params *p, unsigned array_oid, unsigned elem_oid, int ndim,
                         const int *dims, const weft_pg_params *elems)
{
    if (!p) return -EINVAL;
    if (p->err) return p->err;
    if (ndim < 0 || ndim > WEFT_PG_MAXDIM || (ndim && !dims) || !elems || elems->err)
        return elems && elems->err ? elems->err : -EINVAL;
    int64_t n = ndim ? 1 : 0;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0) return -EINVAL;
        n *= dims[i];
        if (n > INT_MAX) return -EINVAL;
    }
    if (n != elems->n) return -EINVAL;
    if (n == 0) ndim = 0;
    int has_null = 0;
    for (int i = 0; i < elems->n; i++) {
        if (!elems->values[i]) has_null = 1;
        else if (elems->types[i] && elem_oid && elems->types[i] != elem_oid) return -EINVAL;
    }
    pg_wbuf w = {0};
    pg__wbuf_put32(&w, (uint32_t)ndim);
    pg__wbuf_put32(&w, (uint32_t)has_null);
    pg__wbuf_put32(&w, elem_oid);
    for (int i = 0; i < ndim; i++) {
        pg__wbuf_put32(&w, (uint32_t)dims[i]);
        pg__wbuf_put32(&w, 1);
    }
    for (int i = 0; i < elems->n; i++) put_elem(&w, elems, i);
    if (!array_oid) array_oid = pg__array_of(elem_oid);
    int rc = w.err ? w.err : pg__params_push(p, w.b, w.n, 1, array_oid);
    free(w.b);
    return rc;
}

int weft_pg_params_record(weft_pg_params *p, unsigned oid, const weft_pg_params *fields)
{
    if (!p) return -EINVAL;
    if (p->err) return p->err;
    if (!fields || fields->err) return fields ? fields->err : -EINVAL;
    pg_wbuf w = {0};
    pg__wbuf_put32(&w, (uint32_t)fields->n);
    for (int i = 0; i < fields->n; i++) {
        pg__wbuf_put32(&w, fields->types[i]);
        put_elem(&w, fields, i);
    }
    int rc = w.err ? w.err : pg__params_push(p, w.b, w.n, 1, oid);
    free(w.b);
    return rc;
}
