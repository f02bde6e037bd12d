/* The error tables (one per layer, WEFT_<LAYER>_ERRORS in the public
 * headers): every code lies in its layer's range (weft.h) and no code is
 * used twice; weft_strerror gives each its table's text and weft_err_name
 * its constant's name, negated or not; the codes keep the values they have
 * always had (programs compiled against them compare numbers); the core's
 * wording for errno values, errno names, and what nothing names. */
#include <weft/test.h>
#include <weft/io.h>
#include <weft/http.h>
#include <weft/ws.h>
#include <weft/pg.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

typedef struct row {
    int code;
    const char *name, *text;
    int lo, hi; /* its layer's range */
} row;

#define IO_ROW(n, c, t) {c, "WEFT_" #n, t, WEFT_ERR_IO_MIN, WEFT_ERR_IO_MAX},
#define DNS_ROW(n, c, t) {c, "WEFT_" #n, t, WEFT_ERR_DNS_MIN, WEFT_ERR_DNS_MAX},
#define TLS_ROW(n, c, t) {c, "WEFT_" #n, t, WEFT_ERR_TLS_MIN, WEFT_ERR_TLS_MAX},
#define HTTP_ROW(n, c, t) {c, "WEFT_" #n, t, WEFT_ERR_HTTP_MIN, WEFT_ERR_HTTP_MAX},
#define WS_ROW(n, c, t) {c, "WEFT_" #n, t, WEFT_ERR_WS_MIN, WEFT_ERR_WS_MAX},
#define PG_ROW(n, c, t) {c, "WEFT_" #n, t, WEFT_ERR_PG_MIN, WEFT_ERR_PG_MAX},
static const row rows[] = {
    WEFT_IO_ERRORS(IO_ROW) WEFT_DNS_ERRORS(DNS_ROW) WEFT_TLS_ERRORS(TLS_ROW)
    WEFT_HTTP_ERRORS(HTTP_ROW) WEFT_WS_ERRORS(WS_ROW) WEFT_PG_ERRORS(PG_ROW)};
#define NROWS (sizeof rows / sizeof *rows)

/* A static link takes a layer's table only with an object of that layer
 * (each table sits in a file every user of the layer links): these pull
 * them in, as any program getting those codes would. */
__attribute__((used)) static void *const pull[] = {
    (void *)weft_stream_read, (void *)weft_resolve, (void *)weft_tls_client_ctx,
    (void *)weft_http_client_new, (void *)weft_ws_send, (void *)weft_pg_connect};

/* Nested ranges are the two a header says are nested; others are apart. */
WEFT_TEST(ranges)
{
    WEFT_TEST_CHECK(WEFT_ERRBASE == WEFT_ERR_IO_MIN);
    WEFT_TEST_CHECK(WEFT_ERR_DNS_MIN >= WEFT_ERR_IO_MIN && WEFT_ERR_DNS_MAX <= WEFT_ERR_IO_MAX);
    WEFT_TEST_CHECK(WEFT_ERR_WS_MIN >= WEFT_ERR_HTTP_MIN && WEFT_ERR_WS_MAX <= WEFT_ERR_HTTP_MAX);
    WEFT_TEST_CHECK(WEFT_ERR_IO_MAX < WEFT_ERR_TLS_MIN && WEFT_ERR_TLS_MAX < WEFT_ERR_HTTP_MIN);
    WEFT_TEST_CHECK(WEFT_ERR_HTTP_MAX < WEFT_ERR_PG_MIN && WEFT_ERR_PG_MAX == WEFT_ERRMAX);
    for (size_t i = 0; i < NROWS; i++) {
        const row *r = &rows[i];
        if (r->code < r->lo || r->code > r->hi) {
            fprintf(stderr, "%s = %d is outside its range %d-%d\n", r->name, r->code, r->lo, r->hi);
            return -1;
        }
        /* io's and HTTP's own codes stay out of the ranges nested in theirs */
        if (r->lo == WEFT_ERR_IO_MIN)
            WEFT_TEST_CHECK(r->code < WEFT_ERR_DNS_MIN || r->code > WEFT_ERR_DNS_MAX);
        if (r->lo == WEFT_ERR_HTTP_MIN)
            WEFT_TEST_CHECK(r->code < WEFT_ERR_WS_MIN || r->code > WEFT_ERR_WS_MAX);
        for (size_t k = 0; k < i; k++)
            if (rows[k].code == r->code) {
                fprintf(stderr, "%s and %s are both %d\n", rows[k].name, r->name, r->code);
                return -1;
            }
    }
    return 0;
}

WEFT_TEST(texts_and_names)
{
    for (size_t i = 0; i < NROWS; i++) {
        const row *r = &rows[i];
        WEFT_TEST_CHECK(r->text[0]);
        for (int sign = -1; sign <= 1; sign += 2) {
            const char *t = weft_strerror(sign * r->code), *n = weft_err_name(sign * r->code);
            if (strcmp(t, r->text) || strcmp(n, r->name)) {
                fprintf(stderr, "%d: weft_strerror \"%s\" (want \"%s\"), weft_err_name %s (want %s)\n",
                        sign * r->code, t, r->text, n, r->name);
                return -1;
            }
        }
    }
    return 0;
}

/* The values programs were compiled with: a renumbering would break them. */
WEFT_TEST(values_kept)
{
    static const struct { int got, want; } v[] = {
        {WEFT_EINCOMPLETE, 10001}, {WEFT_ELIMIT, 10002}, {WEFT_EDNS, 10003},
        {WEFT_EDNSAGAIN, 10004}, {WEFT_ETLS, 10100}, {WEFT_ETLSCERT, 10101},
        {WEFT_ETLSHOST, 10102}, {WEFT_ETLSTRUNC, 10103}, {WEFT_EHTTP_PARSE, 10200},
        {WEFT_EHTTP_STATE, 10213}, {WEFT_EHTTP_INSECURE_REDIRECT, 10214},
        {WEFT_EHTTP_PROXY, 10215},
        {WEFT_EHTTP_JSON, 10230}, {WEFT_EHTTP_CONTENT_TYPE, 10231},
        {WEFT_EWS_PROTOCOL, 10300}, {WEFT_EWS_CLOSE_TIMEOUT, 10308},
        {WEFT_PG_ESERVER, 10400}, {WEFT_PG_ESTATE, 10409}, {WEFT_PG_ENOROWS, 10410},
        {WEFT_PG_EMANYROWS, 10411}};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) WEFT_TEST_CHECK(v[i].got == v[i].want);
    /* still constant expressions: case labels and static assertions */
    _Static_assert(WEFT_EDNS == 10003 && -WEFT_PG_ENULL == -10405, "kept");
    switch (-WEFT_EWS_CLOSED) {
    case -WEFT_EWS_CLOSED: break;
    default: return -1;
    }
    return 0;
}

WEFT_TEST(errno_and_unknown)
{
    WEFT_TEST_CHECK(!strcmp(weft_strerror(-ECANCELED), "cancelled"));
    WEFT_TEST_CHECK(!strcmp(weft_strerror(ETIMEDOUT), "timed out"));
    WEFT_TEST_CHECK(!strcmp(weft_strerror(-EPIPE), "closed"));
    WEFT_TEST_CHECK(!strcmp(weft_strerror(-ECONNREFUSED), strerror(ECONNREFUSED)));
    WEFT_TEST_CHECK(!strcmp(weft_strerror(0), "success"));
    WEFT_TEST_CHECK(!strcmp(weft_err_name(-ECANCELED), "ECANCELED"));
    WEFT_TEST_CHECK(!strcmp(weft_err_name(ECONNREFUSED), "ECONNREFUSED"));
    WEFT_TEST_CHECK(!strcmp(weft_err_name(0), "0"));
    /* inside a range but not a code; past every range; no errno; INT_MIN */
    WEFT_TEST_CHECK(!strcmp(weft_strerror(-(WEFT_ERR_TLS_MAX)), "unknown weft error"));
    WEFT_TEST_CHECK(!strcmp(weft_err_name(-(WEFT_ERR_TLS_MAX)), "unknown"));
    WEFT_TEST_CHECK(!strcmp(weft_strerror(-(WEFT_ERRMAX + 1)), "unknown weft error"));
    WEFT_TEST_CHECK(!strcmp(weft_err_name(WEFT_ERRMAX + 1), "unknown"));
    WEFT_TEST_CHECK(!strcmp(weft_err_name(-4000), "unknown"));
    WEFT_TEST_CHECK(!strcmp(weft_strerror(INT_MIN), "unknown error"));
    WEFT_TEST_CHECK(!strcmp(weft_err_name(INT_MIN), "unknown"));
    return 0;
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(ranges), WEFT_TEST_CASE(texts_and_names), WEFT_TEST_CASE(values_kept),
               WEFT_TEST_CASE(errno_and_unknown))
