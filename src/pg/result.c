/* Results and typed accessors. Each accessor reads a value in text or binary
 * format (the result's column says which), so callers choose the wire format
 * for speed without changing how they read values. */
#define _GNU_SOURCE
#include "pg_internal.h"
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    OID_BOOL = 16, OID_BYTEA = 17, OID_NAME = 19, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23,
    OID_TEXT = 25, OID_OID = 26, OID_JSON = 114, OID_XML = 142, OID_FLOAT4 = 700,
    OID_FLOAT8 = 701, OID_UNKNOWN = 705, OID_BPCHAR = 1042, OID_VARCHAR = 1043,
    OID_TIMESTAMP = 1114, OID_TIMESTAMPTZ = 1184, OID_NUMERIC = 1700
};

#define PG_EPOCH_USEC 946684800000000LL /* 2000-01-01 in Unix microseconds */

void pg__result_forget(weft_pg_result *r)
{
    for (size_t i = 0; i < r->ndecoded; i++) free(r->decoded[i]);
    free(r->decoded);
    r->decoded = NULL;
    r->ndecoded = 0;
}

void weft_pg_result_free(weft_pg_result *r)
{
    if (!r) return;
    PQclear(r->res);
    pg__result_forget(r);
    free(r);
}

int weft_pg_nrows(const weft_pg_result *r) { return r ? PQntuples(r->res) : 0; }
int64_t weft_pg_result_rows(const weft_pg_result *r) { return r ? pg__rows64(r->res) : 0; }
int weft_pg_ncols(const weft_pg_result *r) { return r ? PQnfields(r->res) : 0; }
const char *weft_pg_colname(const weft_pg_result *r, int col)
{
    return r ? PQfname(r->res, col) : NULL;
}
int weft_pg_colindex(const weft_pg_result *r, const char *name)
{
    return r && name ? PQfnumber(r->res, name) : -1;
}
unsigned weft_pg_coltype(const weft_pg_result *r, int col)
{
    return r ? (unsigned)PQftype(r->res, col) : 0;
}

int weft_pg_isnull(const weft_pg_result *r, int row, int col)
{
    if (!r || row < 0 || col < 0 || row >= PQntuples(r->res) || col >= PQnfields(r->res))
        return -EINVAL;
    return PQgetisnull(r->res, row, col);
}

typedef struct cell {
    const char *v;
    int len;
    unsigned type;
    int bin;
} cell;

static int get_cell(const weft_pg_result *r, int row, int col, cell *c)
{
    int n = weft_pg_isnull(r, row, col);
    if (n < 0) return n;
    if (n) return -WEFT_PG_ENULL;
    c->v = PQgetvalue(r->res, row, col);
    c->len = PQgetlength(r->res, row, col);
    c->type = (unsigned)PQftype(r->res, col);
    c->bin = PQfformat(r->res, col) == 1;
    return 0;
}

static uint64_t be(const char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = (v << 8) | (unsigned char)p[i];
    return v;
}

static int is_int(unsigned t) { return t == OID_INT2 || t == OID_INT4 || t == OID_INT8 || t == OID_OID; }

int weft_pg_get_bigint(const weft_pg_result *r, int row, int col, int64_t *v)
{
    cell c;
    int rc = get_cell(r, row, col, &c);
    if (rc < 0) return rc;
    if (!is_int(c.type)) return -WEFT_PG_ETYPE;
    if (c.bin) {
        if (c.len == 2) *v = (int16_t)be(c.v, 2);
        else if (c.len == 4) *v = c.type == OID_OID ? (int64_t)(uint32_t)be(c.v, 4) : (int32_t)be(c.v, 4);
        else if (c.len == 8) *v = (int64_t)be(c.v, 8);
        else return -WEFT_PG_ETYPE;
        return 0;
    }
    char *end;
    errno = 0;
    long long x = strtoll(c.v, &end, 10);
    if (end == c.v || *end) return -WEFT_PG_ETYPE;
    if (errno == ERANGE) return -ERANGE;
    *v = x;
    return 0;
}

int weft_pg_get_int(const weft_pg_result *r, int row, int col, int32_t *v)
{
    int64_t x;
    int rc = weft_pg_get_bigint(r, row, col, &x);
    if (rc < 0) return rc;
    if (x < INT32_MIN || x > INT32_MAX) return -ERANGE;
    *v = (int32_t)x;
    return 0;
}

int weft_pg_get_double(const weft_pg_result *r, int row, int col, double *v)
{
    cell c;
    int rc = get_cell(r, row, col, &c);
    if (rc < 0) return rc;
    if (is_int(c.type)) {
        int64_t x;
        rc = weft_pg_get_bigint(r, row, col, &x);
        if (rc == 0) *v = (double)x;
        return rc;
    }
    if (c.type == OID_NUMERIC && c.bin) {
        const char *t;
        rc = weft_pg_get_numeric(r, row, col, &t);
        if (rc < 0) return rc;
        c.v = t;
        c.bin = 0;
    }
    if (c.type != OID_FLOAT4 && c.type != OID_FLOAT8 && c.type != OID_NUMERIC) return -WEFT_PG_ETYPE;
    if (c.bin) {
        if (c.len == 4) {
            uint32_t u = (uint32_t)be(c.v, 4);
            float f;
            memcpy(&f, &u, 4);
            *v = f;
        } else if (c.len == 8) {
            uint64_t u = be(c.v, 8);
            memcpy(v, &u, 8);
        } else {
            return -WEFT_PG_ETYPE;
        }
        return 0;
    }
    char *end;
    errno = 0;
    double x = pg__text_double(c.v, &end); /* accepts NaN, Infinity, -Infinity */
    if (end == c.v || *end) return -WEFT_PG_ETYPE;
    /* ERANGE on overflow (inf) and on underflow to 0 or a subnormal:
     * only overflow loses the value, so only it is refused */
    if (errno == ERANGE && (x == HUGE_VAL || x == -HUGE_VAL)) return -ERANGE;
    *v = x;
    return 0;
}

int weft_pg_get_bool(const weft_pg_result *r, int row, int col, int *v)
{
    cell c;
    int rc = get_cell(r, row, col, &c);
    if (rc < 0) return rc;
    if (c.type != OID_BOOL || c.len != 1) return -WEFT_PG_ETYPE;
    *v = c.bin ? c.v[0] != 0 : c.v[0] == 't';
    return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar;
 * -ERANGE when that does not fit (a hostile server's year can be anything). */
static int days_from_civil(int64_t y, unsigned m, unsigned d, int64_t *days)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    if (__builtin_mul_overflow(era, (int64_t)146097, days) ||
        __builtin_add_overflow(*days, (int64_t)doe - 719468, days))
        return -ERANGE;
    return 0;
}

static int is_leap(int64_t y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

/* Reads min..max digits (max 0: any number) at *s; -EINVAL if there are
 * fewer or more, -ERANGE if they overflow. */
static int read_digits(const char **s, int min, int max, int64_t *v)
{
    const char *p = *s;
    int64_t x = 0;
    int k = 0;
    for (; *p >= '0' && *p <= '9'; p++, k++)
        if (__builtin_mul_overflow(x, (int64_t)10, &x) || __builtin_add_overflow(x, (int64_t)(*p - '0'), &x))
            return -ERANGE;
    if (k < min || (max && k > max)) return -EINVAL;
    *s = p;
    *v = x;
    return 0;
}

static int read_char(const char **s, char c)
{
    if (**s != c) return -EINVAL;
    (*s)++;
    return 0;
}

/* Zone offset as the server prints it: +05, -03:30, +05:53:28; seconds east. */
static int read_offset(const char **s, int64_t *off)
{
    int sign = **s == '-' ? -1 : 1;
    int64_t oh, om = 0, os = 0;
    (*s)++;
    int rc = read_digits(s, 2, 2, &oh);
    if (!rc && **s == ':') {
        (*s)++;
        rc = read_digits(s, 2, 2, &om);
        if (!rc && **s == ':') {
            (*s)++;
            rc = read_digits(s, 2, 2, &os);
        }
    }
    if (rc) return rc;
    if (oh > 23 || om > 59 || os > 59) return -EINVAL;
    *off = sign * (oh * 3600 + om * 60 + os);
    return 0;
}

/* ISO text exactly as the server prints it (DateStyle ISO):
 * "2024-01-02 03:04:05.123456+05:30", the zone only for timestamptz, " BC"
 * last. Anything else, trailing bytes included, is -EINVAL; a value past
 * int64 microseconds is -ERANGE. */
static int parse_timestamp(const char *s, int64_t *usec)
{
    if (!strcmp(s, "infinity")) { *usec = INT64_MAX; return 0; }
    if (!strcmp(s, "-infinity")) { *usec = INT64_MIN; return 0; }
    int64_t y, mo, d, h, mi, se, frac = 0, off = 0;
    int rc;
    if ((rc = read_digits(&s, 4, 0, &y)) || (rc = read_char(&s, '-')) ||
        (rc = read_digits(&s, 2, 2, &mo)) || (rc = read_char(&s, '-')) ||
        (rc = read_digits(&s, 2, 2, &d)) || (rc = read_char(&s, ' ')) ||
        (rc = read_digits(&s, 2, 2, &h)) || (rc = read_char(&s, ':')) ||
        (rc = read_digits(&s, 2, 2, &mi)) || (rc = read_char(&s, ':')) ||
        (rc = read_digits(&s, 2, 2, &se)))
        return rc;
    if (y > INT32_MAX) return -ERANGE; /* far past int64 microseconds; keeps y - 399 from overflowing */
    if (*s == '.') {
        const char *start = ++s;
        if ((rc = read_digits(&s, 1, 6, &frac))) return rc;
        for (long n = s - start; n < 6; n++) frac *= 10;
    }
    if ((*s == '+' || *s == '-') && (rc = read_offset(&s, &off))) return rc;
    if (!strcmp(s, " BC")) y = 1 - y; /* 1 BC is year 0 */
    else if (*s) return -EINVAL;
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && is_leap(y)) || h > 23 ||
        mi > 59 || se > 59)
        return -EINVAL;
    int64_t t;
    if ((rc = days_from_civil(y, (unsigned)mo, (unsigned)d, &t))) return rc;
    if (__builtin_mul_overflow(t, (int64_t)86400, &t) ||
        __builtin_add_overflow(t, h * 3600 + mi * 60 + se - off, &t) ||
        __builtin_mul_overflow(t, (int64_t)1000000, &t) || __builtin_add_overflow(t, frac, &t) ||
        t == INT64_MAX || t == INT64_MIN) /* those two mean +-infinity */
        return -ERANGE;
    *usec = t;
    return 0;
}

int weft_pg_get_timestamp(const weft_pg_result *r, int row, int col, int64_t *usec)
{
    cell c;
    int rc = get_cell(r, row, col, &c);
    if (rc < 0) return rc;
    if (c.type != OID_TIMESTAMP && c.type != OID_TIMESTAMPTZ) return -WEFT_PG_ETYPE;
    if (!c.bin) return parse_timestamp(c.v, usec);
    if (c.len != 8) return -WEFT_PG_ETYPE;
    int64_t t = (int64_t)be(c.v, 8), u;
    if (t == INT64_MAX || t == INT64_MIN) {
        *usec = t;
        return 0;
    }
    /* the server's range (to 294276 AD) goes past int64 Unix microseconds */
    if (__builtin_add_overflow(t, PG_EPOCH_USEC, &u) || u == INT64_MAX || u == INT64_MIN)
        return -ERANGE;
    *usec = u;
    return 0;
}

const char *weft_pg_get_text(const weft_pg_result *r, int row, int col)
{
    cell c;
    if (get_cell(r, row, col, &c) < 0) return NULL;
    if (!c.bin) return c.v;
    switch (c.type) {
    case OID_TEXT: case OID_VARCHAR: case OID_BPCHAR: case OID_NAME: case OID_JSON:
    case OID_XML: case OID_UNKNOWN:
        return c.v; /* libpq NUL-terminates every value */
    }
    return NULL;
}

/* The cache slot of a cell (checked by get_cell), NULL without memory.
 * The result is const to callers; its cache is not part of its value. */
static pg_decoded **decoded_slot(const weft_pg_result *cr, int row, int col)
{
    weft_pg_result *r = (weft_pg_result *)cr;
    size_t ncols = (size_t)PQnfields(r->res);
    if (!r->decoded) {
        size_t n = (size_t)PQntuples(r->res) * ncols;
        r->decoded = calloc(n, sizeof *r->decoded);
        if (!r->decoded) return NULL;
        r->ndecoded = n;
    }
    return &r->decoded[(size_t)row * ncols + (size_t)col];
}

static pg_decoded *decoded_new(const void *p, size_t n)
{
    pg_decoded *d = malloc(sizeof *d + n + 1);
    if (!d) return NULL;
    d->n = n;
    memcpy(d->data, p, n);
    d->data[n] = 0;
    return d;
}

/* Binary numeric: ndigits, weight, sign, dscale, then base-10000 digits.
 * -EINVAL for what no server sends: a digit >= 10000 (65535 printed as
 * "6553"), a length other than 8 + 2 * ndigits, an unknown sign, a dscale
 * past the server's 16383. */
static int numeric_text(const char *v, int len, char **text)
{
    if (len < 8) return -EINVAL;
    int nd = (int16_t)be(v, 2), weight = (int16_t)be(v + 2, 2);
    unsigned sign = (unsigned)be(v + 4, 2);
    int dscale = (int16_t)be(v + 6, 2);
    if (nd < 0 || dscale < 0 || dscale > 0x3FFF || len != 8 + 2 * nd) return -EINVAL;
    for (int i = 0; i < nd; i++)
        if (be(v + 8 + 2 * i, 2) >= 10000) return -EINVAL;
    const char *special = sign == 0xC000 ? "NaN" : sign == 0xD000 ? "Infinity"
                        : sign == 0xF000 ? "-Infinity" : NULL;
    if (special) return (*text = strdup(special)) ? 0 : -ENOMEM;
    if (sign != 0 && sign != 0x4000) return -EINVAL;
    int intdigits = weight >= 0 ? (weight + 1) * 4 : 1;
    char *out = malloc((size_t)intdigits + (size_t)dscale + 8), *p = out;
    if (!out) return -ENOMEM;
    if (sign == 0x4000) *p++ = '-';
    int started = 0;
    for (int i = 0; i <= weight; i++) {
        int dig = i < nd ? (int)be(v + 8 + 2 * i, 2) : 0;
        char b[12];
        snprintf(b, sizeof b, "%04d", dig);
        for (int k = 0; k < 4; k++)
            if (started || b[k] != '0' || (i == weight && k == 3)) {
                *p++ = b[k];
                started = 1;
            }
    }
    if (weight < 0) *p++ = '0';
    if (dscale > 0) {
        *p++ = '.';
        for (int k = 0; k < dscale; k++) {
            int g = weight + 1 + k / 4; /* digit group holding this decimal */
            int dig = g >= 0 && g < nd ? (int)be(v + 8 + 2 * g, 2) : 0;
            static const int pow10[4] = {1000, 100, 10, 1};
            *p++ = (char)('0' + dig / pow10[k % 4] % 10);
        }
    }
    *p = 0;
    *text = out;
    return 0;
}

int weft_pg_get_numeric(const weft_pg_result *r, int row, int col, const char **text)
{
    cell c;
    int rc = get_cell(r, row, col, &c);
    if (rc < 0) return rc;
    if (c.type != OID_NUMERIC) return -WEFT_PG_ETYPE;
    if (!c.bin) {
        *text = c.v;
        return 0;
    }
    pg_decoded **slot = decoded_slot(r, row, col);
    if (!slot) return -ENOMEM;
    if (!*slot) {
        char *s;
        if ((rc = numeric_text(c.v, c.len, &s)) < 0) return rc;
        *slot = decoded_new(s, strlen(s));
        free(s);
        if (!*slot) return -ENOMEM;
    }
    *text = (*slot)->data;
    return 0;
}

int weft_pg_get_bytea(const weft_pg_result *r, int row, int col, const void **data, size_t *n)
{
    cell c;
    int rc = get_cell(r, row, col, &c);
    if (rc < 0) return rc;
    if (c.type != OID_BYTEA) return -WEFT_PG_ETYPE;
    if (c.bin) {
        *data = c.v;
        *n = (size_t)c.len;
        return 0;
    }
    pg_decoded **slot = decoded_slot(r, row, col);
    if (!slot) return -ENOMEM;
    if (!*slot) {
        size_t len;
        unsigned char *b = PQunescapeBytea((const unsigned char *)c.v, &len);
        if (!b) return -ENOMEM;
        /* PQunescapeBytea's memory must go back through PQfreemem; the
         * copy is plain malloc memory, freed like every decoded value */
        *slot = decoded_new(b, len);
        PQfreemem(b);
        if (!*slot) return -ENOMEM;
    }
    *data = (*slot)->data;
    *n = (*slot)->n;
    return 0;
}
