/* Differential: weft's decoders of binary values against libpq's own text
 * of the same values. A table of 3,000 random rows of 17 types (and the
 * extremes: int64 min/max, NaN, infinities, NULLs, dates BC and far ahead,
 * intervals with mixed signs, arrays with NULLs) is read
 * twice: by weft in binary format, and by plain libpq (PQexec, text,
 * PQgetvalue). Each weft value is printed here the way the server prints
 * it (this file's own date arithmetic, not weft's) or the text is read by
 * libc (strtoll, strtod, inet_ntop, PQunescapeBytea), and the two must
 * agree exactly. Against a real server. */
#define _GNU_SOURCE
#include <weft.h>
#include <weft/pg.h>
#include <libpq-fe.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include "pg_env.h"

static const char *dsn;

static const char fill_sql[] =
    "SET TimeZone = 'UTC'; SELECT setseed(0.17);"
    "DROP TABLE IF EXISTS diff_vals;"
    "CREATE TABLE diff_vals AS SELECT"
    " floor(random() * 65536 - 32768)::int2 AS i2,"
    " floor(random() * 4294967296 - 2147483648)::int8::int4 AS i4,"
    " floor((random() - 0.5) * 1.8e19)::numeric::int8 AS i8,"
    " ((random() - 0.5) * 10 ^ (random() * 70 - 35))::float4 AS f4,"
    " ((random() - 0.5) * 10 ^ (random() * 600 - 300))::float8 AS f8,"
    " round(((random() - 0.5) * 10 ^ (floor(random() * 40) - 20))::numeric,"
    "   floor(random() * 30)::int) AS num,"
    " random() < 0.5 AS b,"
    " date '2000-01-01' + floor((random() - 0.5) * 4000000)::int AS d,"
    " time '00:00' + random() * interval '24 hours' AS tm,"
    " timestamp '2000-01-01' + (random() - 0.5) * interval '3000000 days' AS ts,"
    " timestamptz '2000-01-01 00:00+00' + (random() - 0.5) * interval '3000000 days' AS tz,"
    " md5(random()::text)::uuid AS u,"
    " (floor(random() * 256) || '.' || floor(random() * 256) || '.' || floor(random() * 256)"
    "   || '.' || floor(random() * 256) || '/' || floor(random() * 33))::inet AS ip,"
    " md5(random()::text) || E'\\t\"\\\\' || chr(233) AS t,"
    " decode(md5(random()::text), 'hex') AS by,"
    " make_interval(0, floor((random() - 0.5) * 200)::int, 0, floor((random() - 0.5) * 2000)::int,"
    "   0, 0, round(((random() - 0.5) * 1e6)::numeric, 6)::float8) AS iv,"
    " CASE WHEN random() < 0.1 THEN '{}'::int4[] ELSE ARRAY[[floor(random() * 2e9 - 1e9)::int4,"
    "   NULL, floor(random() * 100)::int4], [-1, floor(random() * 2e9 - 1e9)::int4, 0]] END AS arr"
    " FROM generate_series(1, 3000);"
    "INSERT INTO diff_vals VALUES (-32768, -2147483648, -9223372036854775808, 'NaN', '-Infinity',"
    " 'NaN', false, '-infinity', '24:00', '-infinity', '-infinity',"
    " '00000000-0000-0000-0000-000000000000', '::/0', '', '\\x',"
    " '-1 years -2 mons +3 days -04:05:06.5', '{{1,2},{3,4}}'),"
    " (32767, 2147483647, 9223372036854775807, 'Infinity', 'Infinity', '-0.000000000000000000001',"
    " true, '4713-01-01 BC', '00:00:00.000001', '4713-01-01 00:00 BC', '99999-12-31 23:59:59.999999+00',"
    " 'ffffffff-ffff-ffff-ffff-ffffffffffff', '2001:db8::1/64', 'x', '\\xff', '00:00:00',"
    " '{-2147483648,2147483647}'),"
    " (0, 0, 0, 1.17549435e-38, 2.2250738585072014e-308, 'Infinity', NULL, 'infinity', NULL,"
    " 'infinity', 'infinity', NULL, '::ffff:1.2.3.4', NULL, NULL, '1 year 1 mon 1 day 100:00:00.000001',"
    " '{NULL}'),"
    " (NULL, NULL, NULL, NULL, NULL, '-Infinity', NULL, '5874897-12-31', NULL, NULL, NULL, NULL,"
    " '10.0.0.1', NULL, NULL, NULL, NULL)";

/* Days since 1970 to "YYYY-MM-DD[ BC]" (civil_from_days, proleptic
 * Gregorian), as the server prints dates. */
static void print_date(char *out, size_t n, int64_t days, int64_t *y_out, const char **bc)
{
    int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400, doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    *bc = y <= 0 ? " BC" : "";
    if (y <= 0) y = 1 - y;
    *y_out = y;
    snprintf(out, n, "%04" PRId64 "-%02" PRId64 "-%02" PRId64, y, m, d);
}

/* Microseconds in a day to "HH:MM:SS[.ffffff]" without trailing zeros. */
static void print_clock(char *out, size_t n, int64_t us)
{
    int len = snprintf(out, n, "%02" PRId64 ":%02" PRId64 ":%02" PRId64, us / 3600000000,
                       us / 60000000 % 60, us / 1000000 % 60);
    if (us % 1000000) {
        len += snprintf(out + len, n - (size_t)len, ".%06" PRId64, us % 1000000);
        while (out[len - 1] == '0') out[--len] = 0;
    }
}

static void print_ts(char *out, size_t n, int64_t usec, int tz)
{
    if (usec == INT64_MAX || usec == INT64_MIN) {
        snprintf(out, n, "%s", usec == INT64_MAX ? "infinity" : "-infinity");
        return;
    }
    int64_t days = usec >= 0 ? usec / 86400000000 : -((-usec + 86399999999) / 86400000000), y;
    const char *bc;
    char date[72], clock[32];
    print_date(date, sizeof date, days, &y, &bc);
    print_clock(clock, sizeof clock, usec - days * 86400000000);
    snprintf(out, n, "%s %s%s%s", date, clock, tz ? "+00" : "", bc);
}

/* An interval as the server prints it (IntervalStyle postgres): each part
 * with its own sign, a '+' on a positive part after a negative one. */
static void print_interval(char *out, size_t n, const weft_pg_interval *iv)
{
    int64_t parts[3] = {iv->months / 12, iv->months % 12, iv->days};
    static const char *const units[3] = {"year", "mon", "day"};
    int zero = 1, before = 0;
    size_t k = 0;
    out[0] = 0;
    for (int i = 0; i < 3; i++) {
        if (!parts[i]) continue;
        k += (size_t)snprintf(out + k, n - k, "%s%s%" PRId64 " %s%s", zero ? "" : " ",
                              before && parts[i] > 0 ? "+" : "", parts[i], units[i],
                              parts[i] != 1 ? "s" : "");
        before = parts[i] < 0;
        zero = 0;
    }
    if (zero || iv->usec) {
        int64_t u = iv->usec < 0 ? -iv->usec : iv->usec;
        char clock[48];
        int len = snprintf(clock, sizeof clock, "%02" PRId64 ":%02" PRId64 ":%02" PRId64,
                           u / 3600000000, u / 60000000 % 60, u / 1000000 % 60);
        if (u % 1000000) {
            len += snprintf(clock + len, sizeof clock - (size_t)len, ".%06" PRId64, u % 1000000);
            while (clock[len - 1] == '0') clock[--len] = 0;
        }
        snprintf(out + k, n - k, "%s%s%s", zero ? "" : " ",
                 iv->usec < 0 ? "-" : before ? "+" : "", clock);
    }
}

/* An int4 array as the server prints it: nested braces, NULL. */
static void print_array(char *out, size_t n, const weft_pg_array *a)
{
    size_t k = 0;
    if (!a->ndim) {
        snprintf(out, n, "{}");
        return;
    }
    int idx[WEFT_PG_MAXDIM] = {0};
    for (int e = 0; e < a->n; e++) {
        int open = 0; /* dimensions starting here */
        for (int d = a->ndim - 1; d >= 0 && idx[d] == 0; d--) open++;
        if (e) out[k++] = ',';
        for (int i = 0; i < open; i++) out[k++] = '{';
        int32_t v;
        if (a->elems[e].len < 0) k += (size_t)snprintf(out + k, n - k, "NULL");
        else if (weft_pg_value_int(&a->elems[e], &v) == 0) k += (size_t)snprintf(out + k, n - k, "%d", v);
        for (int d = a->ndim - 1; d >= 0; d--) { /* advance; close what ends */
            if (++idx[d] < a->dims[d]) break;
            idx[d] = 0;
            out[k++] = '}';
        }
    }
    out[k] = 0;
}

static void compare(const weft_pg_result *r, int row, int col, PGresult *lp)
{
    weft_pg_value v;
    CHECK_EQ(weft_pg_get_value(r, row, col, &v), 0);
    int null = PQgetisnull(lp, row, col);
    CHECK_EQ(v.len < 0, null);
    if (null) return;
    const char *text = PQgetvalue(lp, row, col);
    char mine[128] = "";
    int64_t i64;
    double d;
    int b;
    switch (col) {
    case 0: case 1: case 2:
        CHECK_EQ(weft_pg_value_bigint(&v, &i64), 0);
        CHECK(i64 == strtoll(text, NULL, 10));
        return;
    case 3: case 4:
        CHECK_EQ(weft_pg_value_double(&v, &d), 0);
        if (col == 3) CHECK((isnan(d) && isnan(strtof(text, NULL))) || (float)d == strtof(text, NULL));
        else CHECK((isnan(d) && isnan(strtod(text, NULL))) || d == strtod(text, NULL));
        return;
    case 5: {
        const char *s;
        CHECK_EQ(weft_pg_get_numeric(r, row, col, &s), 0);
        snprintf(mine, sizeof mine, "%s", s);
        break;
    }
    case 6:
        CHECK_EQ(weft_pg_value_bool(&v, &b), 0);
        snprintf(mine, sizeof mine, "%s", b ? "t" : "f");
        break;
    case 7: {
        int32_t days;
        CHECK_EQ(weft_pg_value_date(&v, &days), 0);
        if (days == INT32_MAX || days == INT32_MIN) {
            snprintf(mine, sizeof mine, "%s", days > 0 ? "infinity" : "-infinity");
        } else {
            int64_t y;
            const char *bc;
            char date[72];
            print_date(date, sizeof date, days, &y, &bc);
            snprintf(mine, sizeof mine, "%s%s", date, bc);
        }
        break;
    }
    case 8:
        CHECK_EQ(weft_pg_value_time(&v, &i64), 0);
        print_clock(mine, sizeof mine, i64);
        break;
    case 9: case 10:
        CHECK_EQ(weft_pg_value_timestamp(&v, &i64), 0);
        print_ts(mine, sizeof mine, i64, col == 10);
        break;
    case 11: {
        uint8_t u[16];
        CHECK_EQ(weft_pg_value_uuid(&v, u), 0);
        int k = 0;
        for (int i = 0; i < 16; i++)
            k += snprintf(mine + k, sizeof mine - (size_t)k, "%s%02x",
                          i == 4 || i == 6 || i == 8 || i == 10 ? "-" : "", u[i]);
        break;
    }
    case 12: {
        weft_pg_inet in;
        CHECK_EQ(weft_pg_value_inet(&v, &in), 0);
        inet_ntop(in.family == 4 ? AF_INET : AF_INET6, in.addr, mine, sizeof mine);
        if (in.bits != (in.family == 4 ? 32 : 128))
            snprintf(mine + strlen(mine), sizeof mine - strlen(mine), "/%d", in.bits);
        break;
    }
    case 13: {
        const char *s;
        size_t n;
        CHECK_EQ(weft_pg_value_text(&v, &s, &n), 0);
        CHECK(n == strlen(text) && !memcmp(s, text, n));
        return;
    }
    case 15: {
        weft_pg_interval iv;
        CHECK_EQ(weft_pg_value_interval(&v, &iv), 0);
        print_interval(mine, sizeof mine, &iv);
        break;
    }
    case 16: {
        weft_pg_array *a;
        CHECK_EQ(weft_pg_value_array(&v, &a), 0);
        print_array(mine, sizeof mine, a);
        free(a);
        break;
    }
    case 14: {
        const void *data;
        size_t n, ln;
        CHECK_EQ(weft_pg_get_bytea(r, row, col, &data, &n), 0);
        unsigned char *bytes = PQunescapeBytea((const unsigned char *)text, &ln);
        CHECK(bytes && n == ln && !memcmp(data, bytes, n));
        PQfreemem(bytes);
        return;
    }
    }
    if (strcmp(mine, text)) fprintf(stderr, "row %d col %d: weft %s, libpq %s\n", row, col, mine, text);
    CHECK(!strcmp(mine, text));
}

WEFT_TEST(test_binary_against_libpq_text)
{
    PGconn *lp = PQconnectdb(dsn); /* plain blocking libpq: the reference */
    WEFT_TEST_CHECK(PQstatus(lp) == CONNECTION_OK);
    PGresult *res = PQexec(lp, fill_sql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) fprintf(stderr, "%s\n", PQerrorMessage(lp));
    WEFT_TEST_CHECK(PQresultStatus(res) == PGRES_COMMAND_OK);
    PQclear(res);
    static const char q[] = "SELECT * FROM diff_vals ORDER BY ctid";
    PGresult *text = PQexec(lp, q);
    WEFT_TEST_CHECK(PQresultStatus(text) == PGRES_TUPLES_OK);
    weft_pg *c = pg_connect_ok(dsn);
    CHECK_EQ(weft_pg_exec(c, "SET TimeZone = 'UTC'"), 0);
    weft_pg_result *r;
    int n = weft_pg_query_with(c, q, NULL, WEFT_PG_BINARY, &r);
    CHECK_EQ(n, 3004);
    CHECK_EQ(PQntuples(text), n);
    CHECK_EQ(weft_pg_result_ncols(r), 17);
    for (int row = 0; row < n; row++)
        for (int col = 0; col < 17; col++) compare(r, row, col, text);
    weft_pg_result_free(r);
    PQclear(text);
    PQfinish(lp);
    weft_pg_free(c);
    return 0;
}

int main(int argc, char **argv)
{
    dsn = pg_env_dsn();
    static const weft_test_case cases[] = {
        {"binary_against_libpq_text", test_binary_against_libpq_text},
    };
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
