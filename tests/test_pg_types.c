/* PostgreSQL types both ways: every built-in type weft decodes, read in text
 * and binary format from server literals and sent as typed parameters,
 * including NULL and extremes; arrays (1 to 6 dimensions, NULL elements,
 * empty); records and a user codec for a composite type; enums. Against a
 * real server (tests/pg_env.h). */
#include <weft.h>
#include <weft/pg.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include "pg_env.h"

static const char *dsn;
static const int formats[2] = {0, WEFT_PG_BINARY};

/* Runs sql (one row expected) and returns the result. */
static weft_pg_result *one(weft_pg *c, const char *sql, const weft_pg_params *p, int flags)
{
    weft_pg_result *r = NULL;
    int rc = weft_pg_query_with(c, sql, p, flags, &r);
    if (rc != 1) fprintf(stderr, "%s: %d %s %s\n", sql, rc, weft_pg_sqlstate(c), weft_pg_errmsg(c));
    CHECK_EQ(rc, 1);
    return r;
}

/* The server's text of a value sent as p's first parameter, cast to type:
 * what the server understood. */
static void server_text(weft_pg *c, const weft_pg_params *p, const char *type, char *out, size_t n)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT ($1::%s)::text", type);
    weft_pg_result *r = one(c, sql, p, 0);
    const char *t = weft_pg_get_text(r, 0, 0);
    snprintf(out, n, "%s", t ? t : "(null)");
    weft_pg_result_free(r);
}

WEFT_TEST(test_integers_and_floats)
{
    weft_pg *c = pg_connect_ok(dsn);
    for (int f = 0; f < 2; f++) {
        weft_pg_result *r = NULL;
        CHECK_EQ(weft_pg_query_with(c, "SELECT x FROM (VALUES ('-9223372036854775808'::int8),"
                                     " (9223372036854775807::int8), (NULL::int8)) v(x)", NULL,
                                  formats[f], &r), 3);
        int64_t v;
        CHECK_EQ(weft_pg_get_bigint(r, 0, 0, &v), 0);
        WEFT_TEST_CHECK(v == INT64_MIN);
        CHECK_EQ(weft_pg_get_bigint(r, 1, 0, &v), 0);
        WEFT_TEST_CHECK(v == INT64_MAX);
        CHECK_EQ(weft_pg_get_bigint(r, 2, 0, &v), -WEFT_PG_ENULL);
        weft_pg_result_free(r);
        /* typed params: the OID sent, the value echoed back in this format */
        weft_pg_params *p = weft_pg_params_new();
        CHECK_EQ(weft_pg_params_int2(p, INT16_MIN), 0);
        CHECK_EQ(weft_pg_params_int4(p, INT32_MAX), 0);
        CHECK_EQ(weft_pg_params_int8(p, INT64_MIN), 0);
        CHECK_EQ(weft_pg_params_float4(p, -1.5f), 0);
        CHECK_EQ(weft_pg_params_float8(p, NAN), 0);
        CHECK_EQ(weft_pg_params_float8(p, -INFINITY), 0);
        CHECK_EQ(weft_pg_params_float8(p, 1e308), 0);
        CHECK_EQ(weft_pg_params_boolean(p, 1), 0);
        CHECK_EQ(weft_pg_params_boolean(p, 0), 0);
        CHECK_EQ(weft_pg_query_with(c, "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9,"
                                     " pg_typeof($1)::text, pg_typeof($5)::text", p, formats[f], &r), 1);
        WEFT_TEST_CHECK(!strcmp(weft_pg_get_text(r, 0, 9), "smallint"));
        WEFT_TEST_CHECK(!strcmp(weft_pg_get_text(r, 0, 10), "double precision"));
        int32_t i;
        CHECK_EQ(weft_pg_get_int(r, 0, 0, &i), 0);
        CHECK_EQ(i, INT16_MIN);
        CHECK_EQ(weft_pg_get_int(r, 0, 1, &i), 0);
        CHECK_EQ(i, INT32_MAX);
        CHECK_EQ(weft_pg_get_int(r, 0, 2, &i), -ERANGE);
        CHECK_EQ(weft_pg_get_bigint(r, 0, 2, &v), 0);
        WEFT_TEST_CHECK(v == INT64_MIN);
        double d;
        CHECK_EQ(weft_pg_get_double(r, 0, 3, &d), 0);
        WEFT_TEST_CHECK(d == -1.5);
        CHECK_EQ(weft_pg_get_double(r, 0, 4, &d), 0);
        WEFT_TEST_CHECK(isnan(d));
        CHECK_EQ(weft_pg_get_double(r, 0, 5, &d), 0);
        WEFT_TEST_CHECK(isinf(d) && d < 0);
        CHECK_EQ(weft_pg_get_double(r, 0, 6, &d), 0);
        WEFT_TEST_CHECK(d == 1e308);
        int b;
        CHECK_EQ(weft_pg_get_bool(r, 0, 7, &b), 0);
        CHECK_EQ(b, 1);
        CHECK_EQ(weft_pg_get_bool(r, 0, 8, &b), 0);
        CHECK_EQ(b, 0);
        weft_pg_result_free(r);
        weft_pg_params_free(p);
    }
    weft_pg_free(c);
    return 0;
}

WEFT_TEST(test_numeric)
{
    weft_pg *c = pg_connect_ok(dsn);
    static const char *vals[] = {"0", "-12.3400", "0.0001", "10000", "-0.000000001",
        "123456789012345678901234567890.123456789", "99999999", "NaN", "Infinity", "-Infinity",
        "1.5"};
    for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++)
        for (int f = 0; f < 2; f++) {
            weft_pg_params *p = weft_pg_params_new();
            CHECK_EQ(weft_pg_params_numeric(p, vals[k]), 0);
            char st[128];
            server_text(c, p, "numeric", st, sizeof st);
            WEFT_TEST_CHECK(!strcmp(st, vals[k])); /* the server got it exactly */
            weft_pg_result *r = one(c, "SELECT $1", p, formats[f]);
            const char *t;
            CHECK_EQ(weft_pg_get_numeric(r, 0, 0, &t), 0);
            if (strcmp(t, vals[k])) fprintf(stderr, "numeric %s came back %s\n", vals[k], t);
            WEFT_TEST_CHECK(!strcmp(t, vals[k]));
            weft_pg_result_free(r);
            weft_pg_params_free(p);
        }
    weft_pg_params *p = weft_pg_params_new();
    CHECK_EQ(weft_pg_params_numeric(p, "1e5"), -EINVAL);
    CHECK_EQ(weft_pg_params_numeric(p, "1.2.3"), -EINVAL);
    CHECK_EQ(weft_pg_params_numeric(p, ""), -EINVAL);
    weft_pg_params_free(p);
    weft_pg_free(c);
    return 0;
}

WEFT_TEST(test_dates_and_times)
{
    weft_pg *c = pg_connect_ok(dsn);
    CHECK_EQ(weft_pg_exec(c, "SET TimeZone = 'Asia/Kolkata'"), 0); /* +05:30 in text */
    static const struct { const char *lit; int32_t days; } dates[] = {
        {"1970-01-01", 0}, {"1969-12-31", -1}, {"1900-03-01", -25508}, {"2200-01-01", 84006},
        {"0044-03-15 BC", -735160}, {"infinity", INT32_MAX}, {"-infinity", INT32_MIN}};
    for (size_t k = 0; k < sizeof dates / sizeof dates[0]; k++)
        for (int f = 0; f < 2; f++) {
            char sql[96];
            snprintf(sql, sizeof sql, "SELECT '%s'::date", dates[k].lit);
            weft_pg_result *r = one(c, sql, NULL, formats[f]);
            int32_t d;
            CHECK_EQ(weft_pg_get_date(r, 0, 0, &d), 0);
            if (d != dates[k].days) fprintf(stderr, "%s: %d\n", dates[k].lit, d);
            CHECK_EQ(d, dates[k].days);
            weft_pg_result_free(r);
            weft_pg_params *p = weft_pg_params_new();
            CHECK_EQ(weft_pg_params_date(p, dates[k].days), 0);
            char st[64];
            server_text(c, p, "date", st, sizeof st);
            WEFT_TEST_CHECK(!strcmp(st, dates[k].lit));
            r = one(c, "SELECT $1", p, formats[f]);
            CHECK_EQ(weft_pg_get_date(r, 0, 0, &d), 0);
            CHECK_EQ(d, dates[k].days);
            weft_pg_result_free(r);
            weft_pg_params_free(p);
        }
    static const struct { const char *lit; int64_t usec; } times[] = {
        {"00:00:00", 0}, {"23:59:59.999999", 86399999999LL}, {"24:00:00", 86400000000LL},
        {"12:30:00.5", 45000500000LL}};
    for (size_t k = 0; k < sizeof times / sizeof times[0]; k++)
        for (int f = 0; f < 2; f++) {
            weft_pg_params *p = weft_pg_params_new();
            CHECK_EQ(weft_pg_params_time(p, times[k].usec), 0);
            char st[64];
            server_text(c, p, "time", st, sizeof st);
            WEFT_TEST_CHECK(!strcmp(st, times[k].lit));
            weft_pg_result *r = one(c, "SELECT $1", p, formats[f]);
            int64_t t;
            CHECK_EQ(weft_pg_get_time(r, 0, 0, &t), 0);
            CHECK_EQ(t, times[k].usec);
            weft_pg_result_free(r);
            weft_pg_params_free(p);
        }
    /* timestamps before 1970 and after 2100, with and without zone */
    static const int64_t stamps[] = {0, -1, -2208988800000000LL /* 1900 */, 7258118400123456LL,
                                     -62135596800000000LL /* 0001-01-01 */, INT64_MAX, INT64_MIN};
    for (size_t k = 0; k < sizeof stamps / sizeof stamps[0]; k++)
        for (int f = 0; f < 2; f++)
            for (int tz = 0; tz < 2; tz++) {
                weft_pg_params *p = weft_pg_params_new();
                CHECK_EQ((tz ? weft_pg_params_timestamptz : weft_pg_params_timestamp)(p, stamps[k]), 0);
                weft_pg_result *r = one(c, "SELECT $1", p, formats[f]);
                int64_t t;
                CHECK_EQ(weft_pg_get_timestamp(r, 0, 0, &t), 0);
                WEFT_TEST_CHECK(t == stamps[k]);
                weft_pg_result_free(r);
                weft_pg_params_free(p);
            }
    static const struct { const char *lit; weft_pg_interval v; } ivs[] = {
        {"00:00:00", {0, 0, 0}},
        {"1 year 2 mons -3 days -04:05:06.5", {-14706500000LL, -3, 14}},
        {"-178000000 years", {0, 0, -2136000000}},
        {"1 day", {0, 1, 0}},
        {"2562047788:00:54.775807", {INT64_MAX, 0, 0}}};
    for (size_t k = 0; k < sizeof ivs / sizeof ivs[0]; k++)
        for (int f = 0; f < 2; f++) {
            weft_pg_params *p = weft_pg_params_new();
            CHECK_EQ(weft_pg_params_interval(p, &ivs[k].v), 0);
            char st[96];
            server_text(c, p, "interval", st, sizeof st);
            if (strcmp(st, ivs[k].lit)) fprintf(stderr, "interval: %s\n", st);
            WEFT_TEST_CHECK(!strcmp(st, ivs[k].lit));
            weft_pg_result *r = one(c, "SELECT $1", p, formats[f]);
            weft_pg_interval iv;
            CHECK_EQ(weft_pg_get_interval(r, 0, 0, &iv), 0);
            WEFT_TEST_CHECK(iv.usec == ivs[k].v.usec && iv.days == ivs[k].v.days &&
                            iv.months == ivs[k].v.months);
            weft_pg_result_free(r);
            weft_pg_params_free(p);
        }
    weft_pg_free(c);
    return 0;
}

WEFT_TEST(test_text_like_uuid_inet)
{
    weft_pg *c = pg_connect_ok(dsn);
    static const uint8_t u[16] = {0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d,
                                  0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11};
    /* 1 MiB of json and bytea */
    size_t big = 1 << 20;
    char *json = malloc(big + 1), *bytes = malloc(big);
    memset(json, ' ', big);
    json[0] = '[';
    memcpy(json + big - 4, "42]", 3);
    json[big - 1] = ' ';
    json[big] = 0;
    for (size_t i = 0; i < big; i++) bytes[i] = (char)(i * 7);
    for (int f = 0; f < 2; f++) {
        weft_pg_params *p = weft_pg_params_new();
        CHECK_EQ(weft_pg_params_uuid(p, u), 0);
        CHECK_EQ(weft_pg_params_typed_text(p, WEFT_PG_VARCHAR, "h\xc3\xa9llo"), 0);
        CHECK_EQ(weft_pg_params_json(p, "{\"a\": [1, 2]}", 13), 0);
        CHECK_EQ(weft_pg_params_jsonb(p, "{\"a\": [1, 2]}", 13), 0);
        weft_pg_inet in4 = {4, 24, 0, {192, 168, 0, 1}}, c6 = {6, 32, 1, {0x20, 0x01, 0x0d, 0xb8}};
        CHECK_EQ(weft_pg_params_inet(p, &in4), 0);
        CHECK_EQ(weft_pg_params_inet(p, &c6), 0);
        CHECK_EQ(weft_pg_params_jsonb(p, json, big), 0);
        CHECK_EQ(weft_pg_params_bytea(p, bytes, big), 0);
        CHECK_EQ(weft_pg_params_typed_text(p, WEFT_PG_TEXT, NULL), 0);
        weft_pg_result *r = NULL;
        CHECK_EQ(weft_pg_query_with(c, "SELECT $1, $2, $3, $4, $5, $6, $1::text, $5::text, $6::text,"
                                     " $7, $8, $9, jsonb_array_length($7)", p, formats[f], &r), 1);
        uint8_t back[16];
        CHECK_EQ(weft_pg_get_uuid(r, 0, 0, back), 0);
        WEFT_TEST_CHECK(!memcmp(back, u, 16));
        WEFT_TEST_CHECK(!strcmp(weft_pg_get_text(r, 0, 6), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
        WEFT_TEST_CHECK(!strcmp(weft_pg_get_text(r, 0, 1), "h\xc3\xa9llo"));
        const char *s;
        size_t n;
        CHECK_EQ(weft_pg_get_json(r, 0, 2, &s, &n), 0);
        WEFT_TEST_CHECK(n == 13 && !memcmp(s, "{\"a\": [1, 2]}", 13));
        CHECK_EQ(weft_pg_get_json(r, 0, 3, &s, &n), 0);
        WEFT_TEST_CHECK(!strcmp(s, "{\"a\": [1, 2]}"));
        weft_pg_inet back4, back6;
        CHECK_EQ(weft_pg_get_inet(r, 0, 4, &back4), 0);
        WEFT_TEST_CHECK(back4.family == 4 && back4.bits == 24 && !back4.cidr &&
                        !memcmp(back4.addr, in4.addr, 4));
        WEFT_TEST_CHECK(!strcmp(weft_pg_get_text(r, 0, 7), "192.168.0.1/24"));
        CHECK_EQ(weft_pg_get_inet(r, 0, 5, &back6), 0);
        WEFT_TEST_CHECK(back6.family == 6 && back6.bits == 32 && back6.cidr &&
                        !memcmp(back6.addr, c6.addr, 16));
        WEFT_TEST_CHECK(!strcmp(weft_pg_get_text(r, 0, 8), "2001:db8::/32"));
        CHECK_EQ(weft_pg_get_json(r, 0, 9, &s, &n), 0);
        WEFT_TEST_CHECK(n == 4 && !strcmp(s, "[42]")); /* jsonb drops the whitespace */
        const void *bb;
        CHECK_EQ(weft_pg_get_bytea(r, 0, 10, &bb, &n), 0);
        WEFT_TEST_CHECK(n == big && !memcmp(bb, bytes, big));
        WEFT_TEST_CHECK(weft_pg_get_text(r, 0, 11) == NULL);
        weft_pg_value v;
        CHECK_EQ(weft_pg_get_value(r, 0, 11, &v), 0);
        WEFT_TEST_CHECK(v.len == -1 && v.data == NULL && v.oid == WEFT_PG_TEXT);
        int32_t len;
        CHECK_EQ(weft_pg_get_int(r, 0, 12, &len), 0);
        CHECK_EQ(len, 1);
        /* wrong type asked for */
        int64_t x;
        CHECK_EQ(weft_pg_get_bigint(r, 0, 0, &x), -WEFT_PG_ETYPE);
        CHECK_EQ(weft_pg_get_uuid(r, 0, 1, back), -WEFT_PG_ETYPE);
        weft_pg_result_free(r);
        weft_pg_params_free(p);
    }
    free(json);
    free(bytes);
    weft_pg_free(c);
    return 0;
}

static void check_dims(const weft_pg_array *a, int ndim, const int *dims)
{
    CHECK_EQ(a->ndim, ndim);
    int n = ndim ? 1 : 0;
    for (int i = 0; i < ndim; i++) {
        CHECK_EQ(a->dims[i], dims[i]);
        n *= dims[i];
    }
    CHECK_EQ(a->n, n);
}

WEFT_TEST(test_arrays)
{
    weft_pg *c = pg_connect_ok(dsn);
    for (int f = 0; f < 2; f++) {
        weft_pg_array *a;
        weft_pg_result *r = one(c, "SELECT ARRAY[1, NULL, -3]::int4[]", NULL, formats[f]);
        CHECK_EQ(weft_pg_get_array(r, 0, 0, &a), 0);
        check_dims(a, 1, (int[]){3});
        CHECK_EQ(a->elem_oid, WEFT_PG_INT4);
        int32_t i;
        CHECK_EQ(weft_pg_value_int(&a->elems[0], &i), 0);
        CHECK_EQ(i, 1);
        CHECK_EQ(weft_pg_value_int(&a->elems[1], &i), -WEFT_PG_ENULL);
        CHECK_EQ(weft_pg_value_int(&a->elems[2], &i), 0);
        CHECK_EQ(i, -3);
        free(a);
        weft_pg_result_free(r);
        /* text with quoting: a string "NULL" is not NULL, commas, quotes,
         * backslashes, braces, empty strings */
        r = one(c, "SELECT ARRAY[['NULL', NULL, 'a,b'], ['\"q\"', 'back\\\\slash', ''],"
                   " ['{x}', ' sp ', 'é']]::text[]", NULL, formats[f]);
        CHECK_EQ(weft_pg_get_array(r, 0, 0, &a), 0);
        check_dims(a, 2, (int[]){3, 3});
        static const char *want[9] = {"NULL", NULL, "a,b", "\"q\"", "back\\\\slash", "", "{x}", " sp ", "é"};
        for (int k = 0; k < 9; k++) {
            const char *s;
            size_t n;
            if (!want[k]) {
                CHECK_EQ(weft_pg_value_text(&a->elems[k], &s, &n), -WEFT_PG_ENULL);
                continue;
            }
            CHECK_EQ(weft_pg_value_text(&a->elems[k], &s, &n), 0);
            if (strcmp(s, want[k])) fprintf(stderr, "elem %d: [%s]\n", k, s);
            WEFT_TEST_CHECK(!strcmp(s, want[k]) && n == strlen(want[k]));
        }
        free(a);
        weft_pg_result_free(r);
        /* empty, and 6 dimensions (PostgreSQL's maximum) with lower bounds */
        r = one(c, "SELECT '{}'::int8[]", NULL, formats[f]);
        CHECK_EQ(weft_pg_get_array(r, 0, 0, &a), 0);
        check_dims(a, 0, NULL);
        free(a);
        weft_pg_result_free(r);
        r = one(c, "SELECT array_fill(7, ARRAY[2,1,2,1,2,3], ARRAY[0,1,1,1,1,-2])::int2[]", NULL, formats[f]);
        CHECK_EQ(weft_pg_get_array(r, 0, 0, &a), 0);
        check_dims(a, 6, (int[]){2, 1, 2, 1, 2, 3});
        CHECK_EQ(a->lbounds[0], 0);
        CHECK_EQ(a->lbounds[5], -2);
        for (int k = 0; k < a->n; k++) {
            CHECK_EQ(weft_pg_value_int(&a->elems[k], &i), 0);
            CHECK_EQ(i, 7);
        }
        free(a);
        weft_pg_result_free(r);
        /* bytea and numeric elements come out decoded and as text */
        r = one(c, "SELECT ARRAY['\\x00ff'::bytea, NULL], ARRAY[1.50, -0.001, 'NaN']::numeric[],"
                   " ARRAY['2001-02-03 04:05:06'::timestamp], ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid],"
                   " ARRAY['1 day'::interval], ARRAY['10.0.0.0/8'::cidr], ARRAY['[1]'::jsonb],"
                   " ARRAY[true, false], ARRAY['1999-12-31'::date], ARRAY[1.5::float8, 'inf']",
                NULL, formats[f]);
        CHECK_EQ(weft_pg_get_array(r, 0, 0, &a), 0);
        const void *bb;
        size_t n;
        CHECK_EQ(weft_pg_value_bytea(&a->elems[0], &bb, &n), 0);
        WEFT_TEST_CHECK(n == 2 && !memcmp(bb, "\x00\xff", 2));
        CHECK_EQ(weft_pg_value_bytea(&a->elems[1], &bb, &n), -WEFT_PG_ENULL);
        free(a);
        CHECK_EQ(weft_pg_get_array(r, 0, 1, &a), 0);
        const char *t;
        CHECK_EQ(weft_pg_value_numeric(&a->elems[0], &t), 0);
        WEFT_TEST_CHECK(!strcmp(t, "1.50"));
        CHECK_EQ(weft_pg_value_numeric(&a->elems[1], &t), 0);
        WEFT_TEST_CHECK(!strcmp(t, "-0.001"));
        CHECK_EQ(weft_pg_value_numeric(&a->elems[2], &t), 0);
        WEFT_TEST_CHECK(!strcmp(t, "NaN"));
        free(a);
        int64_t ts;
        CHECK_EQ(weft_pg_get_array(r, 0, 2, &a), 0);
        CHECK_EQ(weft_pg_value_timestamp(&a->elems[0], &ts), 0);
        CHECK_EQ(ts, 981173106000000LL);
        free(a);
        uint8_t u[16];
        CHECK_EQ(weft_pg_get_array(r, 0, 3, &a), 0);
        CHECK_EQ(weft_pg_value_uuid(&a->elems[0], u), 0);
        CHECK_EQ(u[15], 0x11);
        free(a);
        weft_pg_interval iv;
        CHECK_EQ(weft_pg_get_array(r, 0, 4, &a), 0);
        CHECK_EQ(weft_pg_value_interval(&a->elems[0], &iv), 0);
        CHECK_EQ(iv.days, 1);
        free(a);
        weft_pg_inet in;
        CHECK_EQ(weft_pg_get_array(r, 0, 5, &a), 0);
        CHECK_EQ(weft_pg_value_inet(&a->elems[0], &in), 0);
        WEFT_TEST_CHECK(in.cidr && in.bits == 8 && in.addr[0] == 10);
        free(a);
        CHECK_EQ(weft_pg_get_array(r, 0, 6, &a), 0);
        CHECK_EQ(weft_pg_value_text(&a->elems[0], &t, &n), 0);
        WEFT_TEST_CHECK(!strcmp(t, "[1]"));
        free(a);
        int bo;
        CHECK_EQ(weft_pg_get_array(r, 0, 7, &a), 0);
        CHECK_EQ(weft_pg_value_bool(&a->elems[1], &bo), 0);
        CHECK_EQ(bo, 0);
        free(a);
        int32_t dd;
        CHECK_EQ(weft_pg_get_array(r, 0, 8, &a), 0);
        CHECK_EQ(weft_pg_value_date(&a->elems[0], &dd), 0);
        CHECK_EQ(dd, 10956);
        free(a);
        double d;
        CHECK_EQ(weft_pg_get_array(r, 0, 9, &a), 0);
        CHECK_EQ(weft_pg_value_double(&a->elems[1], &d), 0);
        WEFT_TEST_CHECK(isinf(d));
        free(a);
        weft_pg_result_free(r);
        /* not an array */
        r = one(c, "SELECT 1", NULL, formats[f]);
        CHECK_EQ(weft_pg_get_array(r, 0, 0, &a), -WEFT_PG_ETYPE);
        weft_pg_result_free(r);
    }
    weft_pg_free(c);
    return 0;
}

WEFT_TEST(test_array_params)
{
    weft_pg *c = pg_connect_ok(dsn);
    for (int f = 0; f < 2; f++) {
        /* int8[2][3] with a NULL */
        weft_pg_params *e = weft_pg_params_new(), *p = weft_pg_params_new();
        for (int k = 0; k < 6; k++)
            CHECK_EQ(k == 4 ? weft_pg_params_null(e) : weft_pg_params_int8(e, k == 0 ? INT64_MIN : k), 0);
        CHECK_EQ(weft_pg_params_array(p, 0, WEFT_PG_INT8, 2, (int[]){2, 3}, e), 0);
        weft_pg_params_clear(e);
        /* numeric and text elements (sent as text, made binary) */
        CHECK_EQ(weft_pg_params_numeric(e, "-1.25"), 0);
        CHECK_EQ(weft_pg_params_numeric(e, "NaN"), 0);
        CHECK_EQ(weft_pg_params_array(p, 0, WEFT_PG_NUMERIC, 1, (int[]){2}, e), 0);
        weft_pg_params_clear(e);
        CHECK_EQ(weft_pg_params_typed_text(e, WEFT_PG_TEXT, "a\"b,{c}"), 0);
        CHECK_EQ(weft_pg_params_typed_text(e, WEFT_PG_TEXT, NULL), 0);
        CHECK_EQ(weft_pg_params_array(p, 0, WEFT_PG_TEXT, 1, (int[]){2}, e), 0);
        weft_pg_params_clear(e);
        CHECK_EQ(weft_pg_params_array(p, 0, WEFT_PG_INT4, 0, NULL, e), 0); /* empty */
        /* six dimensions of 2 */
        for (int k = 0; k < 64; k++) CHECK_EQ(weft_pg_params_int4(e, k), 0);
        CHECK_EQ(weft_pg_params_array(p, 0, WEFT_PG_INT4, 6, (int[]){2, 2, 2, 2, 2, 2}, e), 0);
        weft_pg_params_clear(e);
        CHECK_EQ(weft_pg_params_jsonb(e, "{\"k\": 1}", 8), 0);
        CHECK_EQ(weft_pg_params_array(p, 0, WEFT_PG_JSONB, 1, (int[]){1}, e), 0);
        /* bad input: counts that do not match, 7 dimensions, mixed types */
        CHECK_EQ(weft_pg_params_array(p, 0, WEFT_PG_JSONB, 1, (int[]){2}, e), -EINVAL);
        CHECK_EQ(weft_pg_params_array(p, 0, WEFT_PG_JSONB, 7, (int[]){1, 1, 1, 1, 1, 1, 1}, e), -EINVAL);
        CHECK_EQ(weft_pg_params_array(p, 0, WEFT_PG_INT4, 1, (int[]){1}, e), -EINVAL);
        weft_pg_result *r = NULL;
        CHECK_EQ(weft_pg_query_with(c, "SELECT $1::text, $2::text, $3::text, $4::text, $5[2][2][2][2][2][2],"
                                     " $6::text, $1", p, formats[f], &r), 1);
        WEFT_TEST_CHECK(
            !strcmp(weft_pg_get_text(r, 0, 0), "{{-9223372036854775808,1,2},{3,NULL,5}}"));
        WEFT_TEST_CHECK(!strcmp(weft_pg_get_text(r, 0, 1), "{-1.25,NaN}"));
        WEFT_TEST_CHECK(!strcmp(weft_pg_get_text(r, 0, 2), "{\"a\\\"b,{c}\",NULL}"));
        WEFT_TEST_CHECK(!strcmp(weft_pg_get_text(r, 0, 3), "{}"));
        int32_t i;
        CHECK_EQ(weft_pg_get_int(r, 0, 4, &i), 0);
        CHECK_EQ(i, 63);
        WEFT_TEST_CHECK(!strcmp(weft_pg_get_text(r, 0, 5), "{\"{\\\"k\\\": 1}\"}"));
        weft_pg_array *a;
        CHECK_EQ(weft_pg_get_array(r, 0, 6, &a), 0);
        check_dims(a, 2, (int[]){2, 3});
        int64_t v;
        CHECK_EQ(weft_pg_value_bigint(&a->elems[0], &v), 0);
        WEFT_TEST_CHECK(v == INT64_MIN);
        CHECK_EQ(weft_pg_value_bigint(&a->elems[4], &v), -WEFT_PG_ENULL);
        free(a);
        weft_pg_result_free(r);
        weft_pg_params_free(e);
        weft_pg_params_free(p);
    }
    weft_pg_free(c);
    return 0;
}

typedef struct point3 { double x, y; char label[16]; int has_label; } point3;

static int point3_encode(weft_pg_params *p, unsigned oid, const void *value, void *arg)
{
    (void)arg;
    const point3 *pt = value;
    weft_pg_params *f = weft_pg_params_new();
    weft_pg_params_float8(f, pt->x);
    weft_pg_params_float8(f, pt->y);
    weft_pg_params_typed_text(f, WEFT_PG_TEXT, pt->has_label ? pt->label : NULL);
    int rc = weft_pg_params_record(p, oid, f);
    weft_pg_params_free(f);
    return rc;
}

static int point3_decode(const weft_pg_value *v, void *out, void *arg)
{
    (*(int *)arg)++;
    point3 *pt = out;
    weft_pg_record *rec;
    int rc = weft_pg_value_record(v, &rec);
    if (rc < 0) return rc;
    if (rec->n != 3) rc = -EINVAL;
    /* text records have fields of OID 0: read them as the column types */
    weft_pg_value fx = rec->fields[0], fy = rec->fields[1];
    if (!v->binary) fx.oid = fy.oid = WEFT_PG_FLOAT8;
    if (!rc) rc = weft_pg_value_double(&fx, &pt->x);
    if (!rc) rc = weft_pg_value_double(&fy, &pt->y);
    const char *s;
    size_t n;
    pt->has_label = 0;
    if (!rc && rec->fields[2].len >= 0) {
        rc = weft_pg_value_text(&rec->fields[2], &s, &n);
        if (!rc) {
            snprintf(pt->label, sizeof pt->label, "%s", s);
            pt->has_label = 1;
        }
    }
    free(rec);
    return rc;
}

WEFT_TEST(test_records_and_codecs)
{
    weft_pg *c = pg_connect_ok(dsn);
    CHECK_EQ(weft_pg_exec(c, "DROP TYPE IF EXISTS pg_types_point3; DROP TYPE IF EXISTS pg_types_mood;"
                             " CREATE TYPE pg_types_point3 AS (x float8, y float8, label text);"
                             " CREATE TYPE pg_types_mood AS ENUM ('sad', 'ok', 'happy')"), 0);
    int decodes = 0;
    weft_pg_codec codec = {point3_encode, point3_decode, &decodes};
    CHECK_EQ(weft_pg_set_type_codec(c, "pg_types_point3", &codec), 0);
    CHECK_EQ(weft_pg_set_type_codec(c, "no_such_type_here", &codec), -WEFT_PG_ESERVER);
    unsigned oid, arr;
    CHECK_EQ(weft_pg_type_oid(c, "pg_types_point3", &oid, &arr), 0);
    WEFT_TEST_CHECK(oid >= 16384 && arr >= 16384);
    for (int f = 0; f < 2; f++) {
        weft_pg_params *p = weft_pg_params_new();
        point3 in = {1.5, -2.25, "a \"q\", b", 1}, in2 = {0, 1e300, "", 0};
        CHECK_EQ(weft_pg_params_custom(c, p, "pg_types_point3", &in), 0);
        CHECK_EQ(weft_pg_params_custom(c, p, "pg_types_point3", &in2), 0);
        CHECK_EQ(weft_pg_params_custom(c, p, "unregistered", &in2), -ENOENT);
        weft_pg_result *r = NULL;
        CHECK_EQ(weft_pg_query_with(c, "SELECT $1, $2, ($1).label, ROW(1, 'x', NULL::int)", p, formats[f], &r), 1);
        point3 out;
        CHECK_EQ(weft_pg_get_custom(c, r, 0, 0, &out), 0);
        WEFT_TEST_CHECK(out.x == 1.5 && out.y == -2.25 && out.has_label &&
                        !strcmp(out.label, in.label));
        CHECK_EQ(weft_pg_get_custom(c, r, 0, 1, &out), 0);
        WEFT_TEST_CHECK(out.x == 0 && out.y == 1e300 && !out.has_label);
        WEFT_TEST_CHECK(!strcmp(weft_pg_get_text(r, 0, 2), in.label));
        CHECK_EQ(weft_pg_get_custom(c, r, 0, 3, &out), -ENOENT); /* anonymous record */
        weft_pg_record *rec;
        CHECK_EQ(weft_pg_get_record(r, 0, 3, &rec), 0);
        CHECK_EQ(rec->n, 3);
        WEFT_TEST_CHECK(!strcmp(rec->fields[1].data, "x"));
        WEFT_TEST_CHECK(rec->fields[2].len == -1);
        free(rec);
        weft_pg_result_free(r);
        weft_pg_params_free(p);
        /* enums: binary and text are the label; arrays of them by OID */
        unsigned mood, moods;
        CHECK_EQ(weft_pg_type_oid(c, "pg_types_mood", &mood, &moods), 0);
        p = weft_pg_params_new();
        weft_pg_params *e = weft_pg_params_new();
        CHECK_EQ(weft_pg_params_typed_text(p, mood, "happy"), 0);
        CHECK_EQ(weft_pg_params_typed_text(e, mood, "ok"), 0);
        CHECK_EQ(weft_pg_params_typed_text(e, mood, "sad"), 0);
        CHECK_EQ(weft_pg_params_array(p, moods, mood, 1, (int[]){2}, e), 0);
        CHECK_EQ(weft_pg_query_with(c, "SELECT $1, $1 > 'ok', $2, pg_typeof($2)::text", p, formats[f], &r), 1);
        weft_pg_value v;
        const char *s;
        size_t n;
        CHECK_EQ(weft_pg_get_value(r, 0, 0, &v), 0);
        CHECK_EQ(v.oid, mood);
        CHECK_EQ(weft_pg_value_text(&v, &s, &n), f ? -WEFT_PG_ETYPE : 0); /* binary: an unknown OID */
        v.binary = 0; /* an enum's binary form is its label */
        CHECK_EQ(weft_pg_value_text(&v, &s, &n), 0);
        WEFT_TEST_CHECK(!strcmp(s, "happy"));
        int b;
        CHECK_EQ(weft_pg_get_bool(r, 0, 1, &b), 0);
        CHECK_EQ(b, 1);
        weft_pg_array *a;
        CHECK_EQ(weft_pg_get_array(r, 0, 2, &a), 0);
        CHECK_EQ(a->n, 2);
        WEFT_TEST_CHECK(!strcmp(a->elems[1].data, "sad"));
        free(a);
        WEFT_TEST_CHECK(!strcmp(weft_pg_get_text(r, 0, 3), "pg_types_mood[]"));
        weft_pg_result_free(r);
        weft_pg_params_free(p);
        weft_pg_params_free(e);
    }
    WEFT_TEST_CHECK(decodes >= 4);
    CHECK_EQ(weft_pg_exec(c, "DROP TYPE pg_types_point3; DROP TYPE pg_types_mood"), 0);
    weft_pg_free(c);
    return 0;
}

/* weft_pg_get_row gives what weft_pg_get_value gives cell by cell: past
 * the 32 columns whose types a result caches, for NULL and for an empty
 * (not NULL) value, after a partial read by cell, in both formats. */
WEFT_TEST(test_get_row)
{
    weft_pg *c = pg_connect_ok(dsn);
    char sql[1024] = "SELECT 1::int4, NULL::text, ''::text, true, 'abc'::name, 7::int8";
    for (int i = 6; i < 36; i++) /* 36 columns */
        snprintf(sql + strlen(sql), sizeof sql - strlen(sql), ", %s", i % 3 ? "2::int2" : "NULL::int2");
    strcat(sql, " FROM generate_series(1, 3)");
    for (int f = 0; f < 2; f++) {
        weft_pg_result *r = NULL;
        CHECK_EQ(weft_pg_query_with(c, sql, NULL, formats[f], &r), 3);
        weft_pg_value one_v, row[40];
        CHECK_EQ(weft_pg_get_value(r, 1, 3, &one_v), 0); /* one column's type cached first */
        for (int i = 0; i < 3; i++) {
            memset(row, 0x5a, sizeof row);
            CHECK_EQ(weft_pg_get_row(r, i, row, 40), 36);
            for (int k = 0; k < 36; k++) {
                CHECK_EQ(weft_pg_get_value(r, i, k, &one_v), 0);
                CHECK_EQ(row[k].len, one_v.len);
                CHECK_EQ(row[k].oid, one_v.oid);
                CHECK_EQ(row[k].binary, one_v.binary);
                WEFT_TEST_CHECK(row[k].data == one_v.data);
            }
            CHECK_EQ(row[0].binary, f);
            WEFT_TEST_CHECK(row[1].len == -1 && !row[1].data);
            WEFT_TEST_CHECK(row[2].len == 0 && row[2].data && !row[2].data[0]);
            WEFT_TEST_CHECK(row[6].len == -1 && row[7].len >= 1 && row[35].oid == WEFT_PG_INT2);
            int64_t x;
            CHECK_EQ(weft_pg_value_bigint(&row[5], &x), 0);
            CHECK_EQ(x, 7);
        }
        /* fewer than there are: only those written */
        memset(row, 0x5a, sizeof row);
        CHECK_EQ(weft_pg_get_row(r, 0, row, 2), 2);
        CHECK_EQ(row[2].len, 0x5a5a5a5a);
        CHECK_EQ(weft_pg_get_row(r, 0, row, 0), 0);
        CHECK_EQ(weft_pg_get_row(r, 3, row, 40), -EINVAL);
        CHECK_EQ(weft_pg_get_row(r, -1, row, 40), -EINVAL);
        CHECK_EQ(weft_pg_get_row(r, 0, NULL, 1), -EINVAL);
        CHECK_EQ(weft_pg_get_row(r, 0, row, -1), -EINVAL);
        CHECK_EQ(weft_pg_get_row(NULL, 0, row, 1), -EINVAL);
        weft_pg_result_free(r);
    }
    for (int f = 0; f < 2; f++) { /* "char" (typcategory's type) reads as text in both formats */
        weft_pg_result *r = NULL;
        CHECK_EQ(weft_pg_query_with(c, "SELECT 'x'::\"char\", ','::\"char\"", NULL, formats[f], &r), 1);
        weft_pg_value two[2];
        CHECK_EQ(weft_pg_get_row(r, 0, two, 2), 2);
        for (int k = 0; k < 2; k++) {
            const char *text;
            size_t len;
            CHECK_EQ(two[k].oid, WEFT_PG_CHAR);
            CHECK_EQ(weft_pg_value_text(&two[k], &text, &len), 0);
            WEFT_TEST_CHECK(len == 1 && text[0] == "x,"[k]);
        }
        weft_pg_result_free(r);
    }
    weft_pg_result *r = NULL; /* a row without columns */
    CHECK_EQ(weft_pg_query_with(c, "SELECT", NULL, 0, &r), 1);
    weft_pg_value v;
    CHECK_EQ(weft_pg_get_row(r, 0, &v, 1), -EINVAL);
    weft_pg_result_free(r);
    weft_pg_free(c);
    return 0;
}

int main(int argc, char **argv)
{
    dsn = pg_env_dsn();
    static const weft_test_case cases[] = {
        {"integers_and_floats", test_integers_and_floats},
        {"numeric", test_numeric},
        {"dates_and_times", test_dates_and_times},
        {"text_like_uuid_inet", test_text_like_uuid_inet},
        {"arrays", test_arrays},
        {"array_params", test_array_params},
        {"records_and_codecs", test_records_and_codecs},
        {"get_row", test_get_row},
    };
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
