/* Value decoders: a value's wire bytes (text or binary format) to C types.
 * These are parsers of what a server sent: every length is checked against
 * the bytes there are, and text must be exactly what the server prints
 * (trailing bytes are -EINVAL). No libpq here (fuzz/fuzz_pg_values.c). */
#define _GNU_SOURCE
#include "pg_values.h"
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double pg__text_double(const char *s, char **end); /* numtext.c */

static int check(const weft_pg_value *v)
{
    if (!v) return -EINVAL;
    if (v->len < 0 || !v->data) return -WEFT_PG_ENULL;
    return 0;
}

static int is_int(unsigned t)
{
    return t == WEFT_PG_INT2 || t == WEFT_PG_INT4 || t == WEFT_PG_INT8 || t == WEFT_PG_OID;
}

/* Text that must be consumed whole: the parse stopped at end. */
static int whole(const weft_pg_value *v, const char *end)
{
    return end == v->data + v->len && end != v->data;
}

/* Out of line: inlined, its frame (strtoll, errno) was paid by the fast path too. */
__attribute__((noinline)) static int bigint_general(const weft_pg_value *v, int64_t *out)
{
    int rc = check(v);
    if (rc) return rc;
    if (!is_int(v->oid)) return -WEFT_PG_ETYPE;
    if (v->binary) {
        if (v->len == 2) *out = (int16_t)pg__be(v->data, 2);
        else if (v->len == 4)
            *out = v->oid == WEFT_PG_OID ? (int64_t)(uint32_t)pg__be(v->data, 4)
                                         : (int32_t)pg__be(v->data, 4);
        else if (v->len == 8) *out = (int64_t)pg__be(v->data, 8);
        else return -EINVAL;
        return 0;
    }
    char *end;
    errno = 0;
    long long x = strtoll(v->data, &end, 10);
    if (!whole(v, end)) return -WEFT_PG_ETYPE;
    if (errno == ERANGE) return -ERANGE;
    *out = x;
    return 0;
}

/* Binary integers, what arrays and binary results hold, first and
 * without the general path's frame (an int4[] element took 68
 * instructions through it, 12 with this: callgrind). */
int weft_pg_value_bigint(const weft_pg_value *v, int64_t *out)
{
    if (v && v->data && v->len >= 0 && v->binary) {
        switch (v->oid) {
        case WEFT_PG_INT8:
            if (v->len != 8) break;
            *out = (int64_t)pg__be(v->data, 8);
            return 0;
        case WEFT_PG_INT4:
            if (v->len != 4) break;
            *out = (int32_t)pg__be(v->data, 4);
            return 0;
        case WEFT_PG_OID:
            if (v->len != 4) break;
            *out = (int64_t)(uint32_t)pg__be(v->data, 4);
            return 0;
        case WEFT_PG_INT2:
            if (v->len != 2) break;
            *out = (int16_t)pg__be(v->data, 2);
            return 0;
        }
    }
    if (v && v->data && v->len >= 0 && !is_int(v->oid))
        return -WEFT_PG_ETYPE; /* a miss pays no frame either (is_int: 4 compares) */
    return bigint_general(v, out);
}

int weft_pg_value_int(const weft_pg_value *v, int32_t *out)
{
    if (v && v->binary && v->data && v->len == 4 && v->oid == WEFT_PG_INT4) {
        *out = (int32_t)pg__be(v->data, 4);
        return 0;
    }
    int64_t x;
    int rc = weft_pg_value_bigint(v, &x);
    if (rc < 0) return rc;
    if (x < INT32_MIN || x > INT32_MAX) return -ERANGE;
    *out = (int32_t)x;
    return 0;
}

int weft_pg_value_double(const weft_pg_value *v, double *out)
{
    int rc = check(v);
    if (rc) return rc;
    if (is_int(v->oid)) {
        int64_t x;
        if ((rc = weft_pg_value_bigint(v, &x)) == 0) *out = (double)x;
        return rc;
    }
    if (v->oid != WEFT_PG_FLOAT4 && v->oid != WEFT_PG_FLOAT8 && v->oid != WEFT_PG_NUMERIC)
        return -WEFT_PG_ETYPE;
    const char *text = v->data;
    char *owned = NULL;
    size_t tlen = (size_t)v->len;
    if (v->binary && v->oid == WEFT_PG_NUMERIC) {
        if ((rc = pg__numeric_text(v->data, v->len, &owned)) < 0) return rc;
        text = owned;
        tlen = strlen(owned);
    } else if (v->binary) {
        if (v->len == 4) {
            uint32_t u = (uint32_t)pg__be(v->data, 4);
            float f;
            memcpy(&f, &u, 4);
            *out = f;
        } else if (v->len == 8) {
            uint64_t u = pg__be(v->data, 8);
            memcpy(out, &u, 8);
        } else {
            return -EINVAL;
        }
        return 0;
    }
    char *end;
    errno = 0;
    double x = pg__text_double(text, &end); /* accepts NaN, Infinity, -Infinity */
    rc = end == text || end != text + tlen ? -WEFT_PG_ETYPE : 0;
    /* ERANGE on overflow (inf) and on underflow to 0 or a subnormal: only
     * overflow loses the value, so only it is refused */
    if (!rc && errno == ERANGE && (x == HUGE_VAL || x == -HUGE_VAL)) rc = -ERANGE;
    free(owned);
    if (!rc) *out = x;
    return rc;
}

int weft_pg_value_bool(const weft_pg_value *v, int *out)
{
    int rc = check(v);
    if (rc) return rc;
    if (v->oid != WEFT_PG_BOOL) return -WEFT_PG_ETYPE;
    if (v->len != 1) return -EINVAL;
    if (v->binary) *out = v->data[0] != 0;
    else if (v->data[0] == 't' || v->data[0] == 'f') *out = v->data[0] == 't';
    else return -EINVAL;
    return 0;
}

/* ---- dates and times ------------------------------------------------------------ */

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
        if (__builtin_mul_overflow(x, (int64_t)10, &x) ||
            __builtin_add_overflow(x, (int64_t)(*p - '0'), &x))
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

/* "YYYY-MM-DD" (4 or more year digits) as days since 1970; the year is
 * returned too, for a " BC" suffix the caller applies via bc. */
static int read_date(const char **s, int64_t *y, int64_t *mo, int64_t *d)
{
    int rc;
    if ((rc = read_digits(s, 4, 0, y)) || (rc = read_char(s, '-')) ||
        (rc = read_digits(s, 2, 2, mo)) || (rc = read_char(s, '-')) ||
        (rc = read_digits(s, 2, 2, d)))
        return rc;
    if (*y > INT32_MAX) return -ERANGE; /* keeps y - 399 from overflowing */
    return 0;
}

static int civil_days(int64_t y, int64_t mo, int64_t d, int64_t *days)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && is_leap(y)))
        return -EINVAL;
    return days_from_civil(y, (unsigned)mo, (unsigned)d, days);
}

/* "HH:MM:SS[.ffffff]" as microseconds; 24:00:00 is valid (the server allows it). */
static int read_clock(const char **s, int64_t *usec)
{
    int64_t h, mi, se, frac = 0;
    int rc;
    if ((rc = read_digits(s, 2, 2, &h)) || (rc = read_char(s, ':')) ||
        (rc = read_digits(s, 2, 2, &mi)) || (rc = read_char(s, ':')) ||
        (rc = read_digits(s, 2, 2, &se)))
        return rc;
    if (**s == '.') {
        const char *start = ++*s;
        if ((rc = read_digits(s, 1, 6, &frac))) return rc;
        for (long n = *s - start; n < 6; n++) frac *= 10;
    }
    if (h > 24 || mi > 59 || se > 60 || (h == 24 && (mi || se || frac))) return -EINVAL;
    *usec = ((h * 60 + mi) * 60 + se) * 1000000 + frac;
    return 0;
}

/* ISO text exactly as the server prints it (DateStyle ISO):
 * "2024-01-02 03:04:05.123456+05:30", the zone only for timestamptz, " BC"
 * last. A value past int64 microseconds is -ERANGE. */
static int parse_timestamp(const char *s, int64_t *usec)
{
    if (!strcmp(s, "infinity")) { *usec = INT64_MAX; return 0; }
    if (!strcmp(s, "-infinity")) { *usec = INT64_MIN; return 0; }
    int64_t y, mo, d, clock, off = 0, t;
    int rc;
    if ((rc = read_date(&s, &y, &mo, &d)) || (rc = read_char(&s, ' ')) ||
        (rc = read_clock(&s, &clock)))
        return rc;
    if (clock >= 86400LL * 1000000) return -EINVAL;
    if ((*s == '+' || *s == '-') && (rc = read_offset(&s, &off))) return rc;
    if (!strcmp(s, " BC")) y = 1 - y; /* 1 BC is year 0 */
    else if (*s) return -EINVAL;
    if ((rc = civil_days(y, mo, d, &t))) return rc;
    if (__builtin_mul_overflow(t, (int64_t)86400, &t) || __builtin_add_overflow(t, -off, &t) ||
        __builtin_mul_overflow(t, (int64_t)1000000, &t) || __builtin_add_overflow(t, clock, &t) ||
        t == INT64_MAX || t == INT64_MIN) /* those two mean +-infinity */
        return -ERANGE;
    *usec = t;
    return 0;
}

int weft_pg_value_timestamp(const weft_pg_value *v, int64_t *usec)
{
    int rc = check(v);
    if (rc) return rc;
    if (v->oid != WEFT_PG_TIMESTAMP && v->oid != WEFT_PG_TIMESTAMPTZ) return -WEFT_PG_ETYPE;
    if (!v->binary) return strlen(v->data) != (size_t)v->len ? -EINVAL : parse_timestamp(v->data, usec);
    if (v->len != 8) return -EINVAL;
    int64_t t = (int64_t)pg__be(v->data, 8), u;
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

int weft_pg_value_date(const weft_pg_value *v, int32_t *days)
{
    int rc = check(v);
    if (rc) return rc;
    if (v->oid != WEFT_PG_DATE) return -WEFT_PG_ETYPE;
    if (v->binary) {
        if (v->len != 4) return -EINVAL;
        int32_t d = (int32_t)pg__be(v->data, 4);
        if (d == INT32_MAX || d == INT32_MIN) {
            *days = d;
            return 0;
        }
        int64_t x = (int64_t)d + PG_EPOCH_DAYS;
        if (x >= INT32_MAX || x <= INT32_MIN) return -ERANGE;
        *days = (int32_t)x;
        return 0;
    }
    const char *s = v->data;
    if (strlen(s) != (size_t)v->len) return -EINVAL;
    if (!strcmp(s, "infinity")) { *days = INT32_MAX; return 0; }
    if (!strcmp(s, "-infinity")) { *days = INT32_MIN; return 0; }
    int64_t y, mo, d, t;
    if ((rc = read_date(&s, &y, &mo, &d))) return rc;
    if (!strcmp(s, " BC")) y = 1 - y;
    else if (*s) return -EINVAL;
    if ((rc = civil_days(y, mo, d, &t))) return rc;
    if (t >= INT32_MAX || t <= INT32_MIN) return -ERANGE;
    *days = (int32_t)t;
    return 0;
}

int weft_pg_value_time(const weft_pg_value *v, int64_t *usec)
{
    int rc = check(v);
    if (rc) return rc;
    if (v->oid != WEFT_PG_TIME) return -WEFT_PG_ETYPE;
    if (v->binary) {
        if (v->len != 8) return -EINVAL;
        int64_t t = (int64_t)pg__be(v->data, 8);
        if (t < 0 || t > 86400LL * 1000000) return -EINVAL;
        *usec = t;
        return 0;
    }
    const char *s = v->data;
    if (strlen(s) != (size_t)v->len) return -EINVAL;
    if ((rc = read_clock(&s, usec))) return rc;
    return *s ? -EINVAL : 0;
}

/* IntervalStyle postgres, as the server prints it by default:
 * "1 year 2 mons -3 days -04:05:06.5", any part left out. */
static int parse_interval(const char *s, weft_pg_interval *out)
{
    int64_t months = 0, days = 0, usec = 0;
    int seen_clock = 0;
    while (*s) {
        int neg = 0;
        if (*s == '-' || *s == '+') neg = *s++ == '-';
        int64_t n;
        const char *num = s;
        int rc = read_digits(&s, 1, 0, &n);
        if (rc) return rc;
        if (*s == ':') { /* the clock part, last */
            int64_t h = n, mi, se, frac = 0;
            s++;
            if (seen_clock || s - num > 19) return -EINVAL;
            if ((rc = read_digits(&s, 2, 2, &mi)) || (rc = read_char(&s, ':')) ||
                (rc = read_digits(&s, 2, 2, &se)))
                return rc;
            if (*s == '.') {
                const char *start = ++s;
                if ((rc = read_digits(&s, 1, 6, &frac))) return rc;
                for (long k = s - start; k < 6; k++) frac *= 10;
            }
            if (mi > 59 || se > 59) return -EINVAL;
            int64_t t;
            if (__builtin_mul_overflow(h, (int64_t)3600000000LL, &t) ||
                __builtin_add_overflow(t, (mi * 60 + se) * 1000000 + frac, &t))
                return -ERANGE;
            usec = neg ? -t : t;
            seen_clock = 1;
        } else {
            static const struct { const char *unit; int kind; int64_t mul; } units[] = {
                {" years", 0, 12}, {" year", 0, 12}, {" mons", 0, 1}, {" mon", 0, 1},
                {" days", 1, 1}, {" day", 1, 1}};
            size_t i, k = sizeof units / sizeof units[0];
            for (i = 0; i < k; i++)
                if (!strncmp(s, units[i].unit, strlen(units[i].unit))) break;
            if (i == k || seen_clock) return -EINVAL;
            s += strlen(units[i].unit);
            int64_t *acc = units[i].kind ? &days : &months, t;
            if (__builtin_mul_overflow(n, units[i].mul, &t) ||
                __builtin_add_overflow(*acc, neg ? -t : t, acc))
                return -ERANGE;
        }
        if (*s == ' ') {
            s++;
            if (!*s) return -EINVAL;
        } else if (*s) {
            return -EINVAL;
        }
    }
    if (months > INT32_MAX || months < INT32_MIN || days > INT32_MAX || days < INT32_MIN)
        return -ERANGE;
    out->months = (int32_t)months;
    out->days = (int32_t)days;
    out->usec = usec;
    return 0;
}

int weft_pg_value_interval(const weft_pg_value *v, weft_pg_interval *out)
{
    int rc = check(v);
    if (rc) return rc;
    if (v->oid != WEFT_PG_INTERVAL) return -WEFT_PG_ETYPE;
    if (v->binary) {
        if (v->len != 16) return -EINVAL;
        out->usec = (int64_t)pg__be(v->data, 8);
        out->days = (int32_t)pg__be(v->data + 8, 4);
        out->months = (int32_t)pg__be(v->data + 12, 4);
        return 0;
    }
    if (strlen(v->data) != (size_t)v->len) return -EINVAL;
    if (!strcmp(v->data, "00:00:00")) {
        memset(out, 0, sizeof *out);
        return 0;
    }
    return parse_interval(v->data, out);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int weft_pg_value_uuid(const weft_pg_value *v, uint8_t out[16])
{
    int rc = check(v);
    if (rc) return rc;
    if (v->oid != WEFT_PG_UUID) return -WEFT_PG_ETYPE;
    if (v->binary) {
        if (v->len != 16) return -EINVAL;
        memcpy(out, v->data, 16);
        return 0;
    }
    if (v->len != 36) return -EINVAL;
    int k = 0;
    for (int i = 0; i < 36;) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (v->data[i++] != '-') return -EINVAL;
            continue;
        }
        int hi = hexval(v->data[i]), lo = hexval(v->data[i + 1]);
        if (hi < 0 || lo < 0) return -EINVAL;
        out[k++] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    return 0;
}

int weft_pg_value_inet(const weft_pg_value *v, weft_pg_inet *out)
{
    int rc = check(v);
    if (rc) return rc;
    if (v->oid != WEFT_PG_INET && v->oid != WEFT_PG_CIDR) return -WEFT_PG_ETYPE;
    weft_pg_inet r = {0};
    r.cidr = v->oid == WEFT_PG_CIDR;
    if (v->binary) {
        /* family (2: IPv4, 3: IPv6), bits, is_cidr, address length, address */
        if (v->len < 4) return -EINVAL;
        int fam = (unsigned char)v->data[0], nb = (unsigned char)v->data[3];
        r.bits = (unsigned char)v->data[1];
        if (fam == 2 && nb == 4) r.family = 4;
        else if (fam == 3 && nb == 16) r.family = 6;
        else return -EINVAL;
        if (v->len != 4 + nb || r.bits > nb * 8) return -EINVAL;
        memcpy(r.addr, v->data + 4, (size_t)nb);
        *out = r;
        return 0;
    }
    char buf[64];
    if ((size_t)v->len >= sizeof buf || strlen(v->data) != (size_t)v->len) return -EINVAL;
    memcpy(buf, v->data, (size_t)v->len + 1);
    char *slash = strchr(buf, '/');
    if (slash) *slash = 0;
    if (inet_pton(AF_INET, buf, r.addr) == 1) r.family = 4;
    else if (inet_pton(AF_INET6, buf, r.addr) == 1) r.family = 6;
    else return -EINVAL;
    int max = r.family == 4 ? 32 : 128;
    r.bits = max;
    if (slash) {
        const char *s = slash + 1;
        int64_t b;
        if (read_digits(&s, 1, 3, &b) || *s || b > max) return -EINVAL;
        r.bits = (int)b;
    }
    *out = r;
    return 0;
}

int weft_pg_value_text(const weft_pg_value *v, const char **s, size_t *n)
{
    int rc = check(v);
    if (rc) return rc;
    if (!v->binary) {
        *s = v->data;
        *n = (size_t)v->len;
        return 0;
    }
    switch (v->oid) {
    case WEFT_PG_JSONB:
        if (v->len < 1 || v->data[0] != 1) return -EINVAL; /* format version 1 */
        *s = v->data + 1;
        *n = (size_t)v->len - 1;
        return 0;
    case WEFT_PG_TEXT: case WEFT_PG_VARCHAR: case WEFT_PG_BPCHAR: case WEFT_PG_NAME: case WEFT_PG_CHAR:
    case WEFT_PG_JSON: case WEFT_PG_XML: case WEFT_PG_UNKNOWN:
        *s = v->data;
        *n = (size_t)v->len;
        return 0;
    }
    return -WEFT_PG_ETYPE;
}

int weft_pg_value_bytea(const weft_pg_value *v, const void **data, size_t *n)
{
    int rc = check(v);
    if (rc) return rc;
    if (v->oid != WEFT_PG_BYTEA) return -WEFT_PG_ETYPE;
    if (!v->binary) return -WEFT_PG_ETYPE; /* results: weft_pg_get_bytea decodes text */
    *data = v->data;
    *n = (size_t)v->len;
    return 0;
}

int weft_pg_value_numeric(const weft_pg_value *v, const char **text)
{
    int rc = check(v);
    if (rc) return rc;
    if (v->oid != WEFT_PG_NUMERIC || v->binary) return -WEFT_PG_ETYPE;
    *text = v->data;
    return 0;
}

/* ---- numeric --------------------------------------------------------------------- */

/* Binary numeric: ndigits, weight, sign, dscale, then base-10000 digits.
 * -EINVAL for what no server sends: a digit >= 10000 (65535 printed as
 * "6553"), a length other than 8 + 2 * ndigits, an unknown sign, a dscale
 * past the server's 16383. */
int pg__numeric_text(const char *v, int len, char **text)
{
    if (len < 8) return -EINVAL;
    int nd = (int16_t)pg__be(v, 2), weight = (int16_t)pg__be(v + 2, 2);
    unsigned sign = (unsigned)pg__be(v + 4, 2);
    int dscale = (int16_t)pg__be(v + 6, 2);
    if (nd < 0 || dscale < 0 || dscale > 0x3FFF || len != 8 + 2 * nd) return -EINVAL;
    for (int i = 0; i < nd; i++)
        if (pg__be(v + 8 + 2 * i, 2) >= 10000) return -EINVAL;
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
        int dig = i < nd ? (int)pg__be(v + 8 + 2 * i, 2) : 0;
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
            int dig = g >= 0 && g < nd ? (int)pg__be(v + 8 + 2 * g, 2) : 0;
            static const int pow10[4] = {1000, 100, 10, 1};
            *p++ = (char)('0' + dig / pow10[k % 4] % 10);
        }
    }
    *p = 0;
    /* no "-0.00" (digits past dscale were cut): the server never sends a
     * negative zero, and weft's encoder could not make one back */
    if (out[0] == '-' && !out[1 + strspn(out + 1, "0.")]) memmove(out, out + 1, strlen(out));
    *text = out;
    return 0;
}

int pg__numeric_binary(const char *s, char **out, int *len)
{
    unsigned sign = 0;
    const char *special[] = {"NaN", "Infinity", "-Infinity"};
    const unsigned special_sign[] = {0xC000, 0xD000, 0xF000};
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, special[i])) {
            char *b = calloc(1, 8);
            if (!b) return -ENOMEM;
            pg__put_be(b + 4, special_sign[i], 2);
            *out = b;
            *len = 8;
            return 0;
        }
    if (*s == '-' || *s == '+') sign = *s++ == '-' ? 0x4000 : 0;
    const char *ip = s;
    while (*s >= '0' && *s <= '9') s++;
    size_t ni = (size_t)(s - ip), nf = 0;
    const char *fp = NULL;
    if (*s == '.') {
        fp = ++s;
        while (*s >= '0' && *s <= '9') s++;
        nf = (size_t)(s - fp);
    }
    if (*s || ni + nf == 0 || ni > 131072 || nf > 16383) return -EINVAL;
    while (ni > 1 && *ip == '0') ip++, ni--; /* leading zeros */
    /* Digits in groups of 4 aligned on the decimal point. */
    size_t ig = (ni + 3) / 4, fg = (nf + 3) / 4, ng = ig + fg;
    char *b = malloc(8 + 2 * ng + 1);
    if (!b) return -ENOMEM;
    int first = -1, last = -1;
    for (size_t g = 0; g < ng; g++) {
        int d = 0;
        for (int k = 0; k < 4; k++) {
            long pos = (long)g * 4 + k - (long)(ig * 4 - ni); /* index into int digits */
            int digit = 0;
            if (g < ig) digit = pos >= 0 ? ip[pos] - '0' : 0;
            else {
                size_t fpos = (g - ig) * 4 + (size_t)k;
                digit = fpos < nf ? fp[fpos] - '0' : 0;
            }
            d = d * 10 + digit;
        }
        pg__put_be(b + 8 + 2 * g, (uint64_t)d, 2);
        if (d) {
            if (first < 0) first = (int)g;
            last = (int)g;
        }
    }
    int nd = first < 0 ? 0 : last - first + 1;
    int weight = first < 0 ? 0 : (int)ig - 1 - first;
    if (nd > 32767) { /* the format counts digit groups in 16 bits */
        free(b);
        return -EINVAL;
    }
    if (first > 0) memmove(b + 8, b + 8 + 2 * first, 2 * (size_t)nd);
    pg__put_be(b, (uint64_t)nd, 2);
    pg__put_be(b + 2, (uint64_t)(uint16_t)(int16_t)weight, 2);
    pg__put_be(b + 4, nd ? sign : 0, 2);
    pg__put_be(b + 6, (uint64_t)nf, 2);
    *out = b;
    *len = 8 + 2 * nd;
    return 0;
}

/* ---- bytea text ------------------------------------------------------------------- */

int pg__bytea_unescape(const char *s, size_t n, char **out, size_t *outn)
{
    char *b = malloc(n / 2 + 1), *p = b;
    if (!b) return -ENOMEM;
    if (n >= 2 && s[0] == '\\' && s[1] == 'x') {
        if (n % 2) goto bad;
        for (size_t i = 2; i < n; i += 2) {
            int hi = hexval(s[i]), lo = hexval(s[i + 1]);
            if (hi < 0 || lo < 0) goto bad;
            *p++ = (char)(hi << 4 | lo);
        }
    } else {
        free(b);
        if (!(b = p = malloc(n + 1))) return -ENOMEM;
        for (size_t i = 0; i < n;) { /* escape format: \\ and \ooo */
            if (s[i] != '\\') {
                *p++ = s[i++];
            } else if (i + 1 < n && s[i + 1] == '\\') {
                *p++ = '\\';
                i += 2;
            } else if (i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
                       s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
                *p++ = (char)((s[i + 1] - '0') << 6 | (s[i + 2] - '0') << 3 | (s[i + 3] - '0'));
                i += 4;
            } else {
                goto bad;
            }
        }
    }
    *out = b;
    *outn = (size_t)(p - b);
    return 0;
bad:
    free(b);
    return -EINVAL;
}

/* ---- array types ------------------------------------------------------------------ */

static const unsigned array_map[][2] = {
    {1000, WEFT_PG_BOOL}, {1001, WEFT_PG_BYTEA}, {1003, WEFT_PG_NAME}, {1016, WEFT_PG_INT8},
    {1005, WEFT_PG_INT2}, {1007, WEFT_PG_INT4}, {1009, WEFT_PG_TEXT}, {1028, WEFT_PG_OID},
    {199, WEFT_PG_JSON}, {143, WEFT_PG_XML}, {651, WEFT_PG_CIDR}, {1021, WEFT_PG_FLOAT4},
    {1022, WEFT_PG_FLOAT8}, {1041, WEFT_PG_INET}, {1014, WEFT_PG_BPCHAR},
    {1015, WEFT_PG_VARCHAR}, {1182, WEFT_PG_DATE}, {1183, WEFT_PG_TIME},
    {1115, WEFT_PG_TIMESTAMP}, {1185, WEFT_PG_TIMESTAMPTZ}, {1187, WEFT_PG_INTERVAL},
    {1231, WEFT_PG_NUMERIC}, {2287, WEFT_PG_RECORD}, {2951, WEFT_PG_UUID},
    {3807, WEFT_PG_JSONB}};

unsigned pg__array_elem(unsigned array_oid)
{
    for (size_t i = 0; i < sizeof array_map / sizeof array_map[0]; i++)
        if (array_map[i][0] == array_oid) return array_map[i][1];
    return 0;
}

unsigned pg__array_of(unsigned elem_oid)
{
    for (size_t i = 0; i < sizeof array_map / sizeof array_map[0]; i++)
        if (array_map[i][1] == elem_oid) return array_map[i][0];
    return 0;
}
