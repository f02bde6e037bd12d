/* weft/pg.h: an asynchronous PostgreSQL client (what asyncpg is to Python),
 * on libpq's non-blocking API. Every function that "waits" suspends only the
 * calling task and must be called inside one; the loop never stalls (host
 * names are resolved by weft_resolve, the connect handshake is driven by
 * weft_wait_fd, cancel requests run on the thread pool).
 *
 * Errors are negative: -errno values (-ECANCELED, -ETIMEDOUT, -ENOMEM,
 * -EINVAL, ...) or the weft codes below (weft_strerror names them). After a
 * server error the connection's weft_pg_sqlstate/weft_pg_errmsg tell what
 * the server said.
 *
 * Objects belong to the loop (thread) that made them. */
#ifndef WEFT_PG_H
#define WEFT_PG_H

#include <weft.h>
#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- error codes (returned negated; ranges: weft.h) ------------------------ */
/* X(NAME, code, text): WEFT_<NAME> = code, and weft_strerror's text. */
#define WEFT_PG_ERRORS(X)                                                               \
    /* the server rejected the statement: see weft_pg_sqlstate */                       \
    X(PG_ESERVER, 10400, "PostgreSQL: server error")                                    \
    /* could not connect (refused, bad host, protocol) */                               \
    X(PG_ECONNECT, 10401, "PostgreSQL: could not connect")                              \
    /* authentication failed (wrong password, no such role) */                          \
    X(PG_EAUTH, 10402, "PostgreSQL: authentication failed")                             \
    X(PG_ENODB, 10403, "PostgreSQL: database does not exist")                           \
    /* the connection is lost or unusable: replace it */                                \
    X(PG_EBROKEN, 10404, "PostgreSQL: connection lost")                                 \
    /* the value is SQL NULL */                                                         \
    X(PG_ENULL, 10405, "PostgreSQL: value is NULL")                                     \
    /* the value is not of (or not convertible to) that type */                         \
    X(PG_ETYPE, 10406, "PostgreSQL: value has another type")                            \
    /* not run: an earlier statement of its pipeline segment failed */                  \
    X(PG_EABORTED, 10407, "PostgreSQL: skipped after an earlier error in the pipeline") \
    X(PG_ECLOSED, 10408, "PostgreSQL: pool closed")                                     \
    /* wrong state (commit without begin, ...) */                                       \
    X(PG_ESTATE, 10409, "PostgreSQL: no transaction open")                              \
    /* fetchrow/fetchval: the statement returned no row */                              \
    X(PG_ENOROWS, 10410, "PostgreSQL: no row returned")                                 \
    /* fetchrow/fetchval: it returned more than one row */                              \
    X(PG_EMANYROWS, 10411, "PostgreSQL: more than one row returned")
enum { WEFT_PG_ERRORS(WEFT_ERR_ENUM_) };

/* ---- connections ------------------------------------------------------------ */

typedef struct weft_pg weft_pg;

/* Opens a connection. dsn is a libpq conninfo string ("host=db port=5432
 * user=u password=p dbname=d") or URI ("postgresql://u:p@db/d"); what it
 * leaves out comes from the environment (PGHOST...) and a service file, as
 * for libpq. Host names (from any of these) are resolved with weft_resolve
 * and handed to libpq as hostaddr (the name is kept for TLS verification);
 * of several hosts, one that does not resolve is skipped and the next tried,
 * as libpq does (-WEFT_EDNS only when none resolves); a host starting with
 * '/' is a Unix socket directory. TLS follows sslmode (libpq's default
 * "prefer": used when the server offers it). connect_timeout (seconds; dsn,
 * PGCONNECT_TIMEOUT or service file) bounds the whole attempt; default 10 s. On success *out is the connection (free it with
 * weft_pg_free). Errors: -WEFT_PG_EAUTH, -WEFT_PG_ENODB, -WEFT_PG_ECONNECT,
 * -WEFT_EDNS, -ETIMEDOUT, -ECANCELED, -EINVAL (bad dsn), -ENOMEM; *errmsg (if
 * errmsg is not NULL) then gets libpq's message, malloc'd, for the caller
 * to free. Waits. */
int weft_pg_connect(const char *dsn, weft_pg **out, char **errmsg);

/* Closes the connection and frees it; NULL is a no-op. If a cancelled query
 * is still being drained the close happens when that ends. No other task
 * may be using or waiting on c. In debug mode a connection never freed is
 * reported at loop close. Does not wait. */
void weft_pg_free(weft_pg *c);

/* The SQLSTATE ("23505") and the primary message of the last server error
 * on c, or "" when none. Valid until c's next operation; when several tasks
 * share c, read them before this task waits again (another task's query
 * may be next). */
const char *weft_pg_sqlstate(const weft_pg *c);
const char *weft_pg_errmsg(const weft_pg *c);
/* 1 while the connection is healthy as far as known, 0 once it is lost. */
int weft_pg_ok(const weft_pg *c);
/* The server's process id for this connection (for pg_cancel_backend...). */
int weft_pg_backend_pid(const weft_pg *c);
/* 1 if the connection uses TLS. */
int weft_pg_tls(const weft_pg *c);
/* 1 inside a transaction block (begun by weft_pg_begin or by SQL). */
int weft_pg_in_transaction(const weft_pg *c);

/* ---- parameters --------------------------------------------------------------
 * Values travel separately from the SQL text ($1, $2, ...): never pasted
 * into it. The calls here send scalars in text form with an unspecified
 * type, so the server infers each from its context as it does for
 * literals; bytea goes binary. The typed appends (weft_pg_params_int8,
 * _date, _array... under "types" below) send the type's OID, mostly in
 * binary. */

typedef struct weft_pg_params weft_pg_params;
weft_pg_params *weft_pg_params_new(void);         /* NULL on ENOMEM */
void weft_pg_params_free(weft_pg_params *p);       /* NULL is a no-op */
void weft_pg_params_clear(weft_pg_params *p);      /* back to zero values */
/* Each appends one value; 0, -ENOMEM, or -EOVERFLOW: a value of 2 GiB or
 * more, or values totalling about that (the protocol counts lengths in 32
 * bits), refused before anything is read or copied. After an error the
 * params are unusable: queries and batch_add with them return that error
 * (so no later value slides into the refused one's place). Strings and
 * bytes are copied. */
int weft_pg_params_text(weft_pg_params *p, const char *s); /* s NULL: SQL NULL */
/* Any integer up to 64 bits, untyped as a literal is (pairs with
 * weft_pg_get_bigint; weft_pg_params_int4/_int8 send it typed). */
int weft_pg_params_bigint(weft_pg_params *p, int64_t v);
int weft_pg_params_double(weft_pg_params *p, double v);
int weft_pg_params_bool(weft_pg_params *p, int v);
int weft_pg_params_bytea(weft_pg_params *p, const void *data, size_t n);
int weft_pg_params_null(weft_pg_params *p);
int weft_pg_params_count(const weft_pg_params *p);

/* ---- queries ---------------------------------------------------------------- */

typedef struct weft_pg_result weft_pg_result;

#define WEFT_PG_BINARY 1   /* results in binary format (the accessors decode both) */
#define WEFT_PG_NOCACHE 2  /* do not prepare and cache this statement */

/* Runs one statement with parameters p (NULL: none) and stores its result in
 * *out (NULL: discard it). Statements are prepared once per connection and
 * cached by their text (up to 256), so a repeated query costs one round
 * trip; the first run of a new one sends Parse and Execute together in a
 * pipeline. Returns the number of rows returned or affected (>= 0), or:
 * -WEFT_PG_ESERVER (sqlstate/errmsg tell why; the connection stays usable),
 * -WEFT_PG_EBROKEN, -ECANCELED and -ETIMEDOUT (the statement is cancelled
 * on the server too and the connection comes back usable once the server
 * has stopped), -ENOMEM, -EINVAL. Calls from several tasks on one
 * connection are pipelined: each statement is sent without waiting for the
 * replies of those before it, each gets its own result in order, and an
 * error fails only its own statement. A call cancelled (or timed out)
 * after its statement was sent returns at once; its replies are read and
 * dropped by the next caller, and the statement is cancelled on the server
 * unless another task's statement was already sent behind it (a cancel
 * request cannot name a statement); those then wait for it to end. Other
 * operations on the connection (exec, batches, cursors, transactions,
 * COPY) wait their turn and are never interleaved. Waits. */
int weft_pg_query(weft_pg *c, const char *sql, const weft_pg_params *p, weft_pg_result **out);
int weft_pg_query_with(weft_pg *c, const char *sql, const weft_pg_params *p, int flags,
                     weft_pg_result **out);
/* Row counts. A count is 64-bit on the wire ("UPDATE 4294967295"): every
 * call above and below that returns rows as an int returns INT_MAX for a
 * count of INT_MAX or more (the statement ran; the count is only clamped,
 * never negative, so it cannot pass for an error code). The _count variants
 * return 0 or an error, and the exact count in *rows (if rows is not NULL).
 * weft_pg_query_count: as weft_pg_query_with. Waits. */
int weft_pg_query_count(weft_pg *c, const char *sql, const weft_pg_params *p, int flags,
                        weft_pg_result **out, int64_t *rows);
/* Runs sql, which may hold several statements separated by ';' and no
 * parameters (the simple query protocol). Returns rows affected by the last
 * statement or an error as weft_pg_query. Waits. */
int weft_pg_exec(weft_pg *c, const char *sql);
/* weft_pg_exec with the exact count in *rows: 0 or an error. Waits. */
int weft_pg_exec_count(weft_pg *c, const char *sql, int64_t *rows);
/* Prepares sql into the connection's cache ahead of use; returns the number
 * of its parameters, or an error as weft_pg_query. Waits. */
int weft_pg_prepare(weft_pg *c, const char *sql);

/* Result access. Rows and columns count from 0. The result is owned by the
 * caller: weft_pg_result_free (NULL is a no-op). */
void weft_pg_result_free(weft_pg_result *r);
int weft_pg_result_nrows(const weft_pg_result *r);
/* Rows r returned, or affected by its command (UPDATE, INSERT...): 64-bit;
 * 0 for NULL. */
int64_t weft_pg_result_rows(const weft_pg_result *r);
int weft_pg_result_ncols(const weft_pg_result *r);
const char *weft_pg_colname(const weft_pg_result *r, int col); /* NULL if out of range */
int weft_pg_colindex(const weft_pg_result *r, const char *name); /* -1 if none */
unsigned weft_pg_coltype(const weft_pg_result *r, int col);    /* the type's OID */
/* 1 if the value is NULL, 0 if not, -EINVAL if row/col is out of range. */
int weft_pg_result_isnull(const weft_pg_result *r, int row, int col);
/* Typed accessors: 0 and *v set, or -WEFT_PG_ENULL (NULL value), -EINVAL
 * (row/col out of range), -WEFT_PG_ETYPE (another type or unparsable),
 * -ERANGE (does not fit). They read text and binary results alike.
 * int: int2/int4/int8 (and oid); bigint: the same; double: float4/float8
 * (and the integers, numeric in text form); bool: bool. */
int weft_pg_get_int(const weft_pg_result *r, int row, int col, int32_t *v);
int weft_pg_get_bigint(const weft_pg_result *r, int row, int col, int64_t *v);
int weft_pg_get_double(const weft_pg_result *r, int row, int col, double *v);
int weft_pg_get_bool(const weft_pg_result *r, int row, int col, int *v);
/* timestamp and timestamptz as microseconds since 1970-01-01 00:00 UTC (a
 * timestamp without zone is taken as UTC); +-infinity map to INT64_MAX/MIN.
 * -ERANGE past int64 microseconds (the server's own range, to 294276 AD, goes
 * further); -EINVAL for text not exactly as the server prints it (DateStyle
 * ISO), trailing bytes included. */
int weft_pg_get_timestamp(const weft_pg_result *r, int row, int col, int64_t *usec);
/* The value as text: a pointer into the result (valid while r lives), NULL
 * for SQL NULL or out of range. For binary results it works for the text
 * types (text, varchar, name, json...) only; use weft_pg_get_numeric for
 * numeric. */
const char *weft_pg_get_text(const weft_pg_result *r, int row, int col);
/* numeric as its exact decimal text ("-12.3400", "NaN") in a buffer of the
 * result (valid while r lives), decoded once per value. -EINVAL for a binary
 * value no server sends (a base-10000 digit >= 10000, a wrong length). */
int weft_pg_get_numeric(const weft_pg_result *r, int row, int col, const char **text);
/* bytea: *data points to n bytes owned by the result (decoded once from
 * text form when needed). */
int weft_pg_get_bytea(const weft_pg_result *r, int row, int col, const void **data,
                      size_t *n);

/* ---- types ---------------------------------------------------------------------
 * Every value, in a result or inside an array or record, is a weft_pg_value:
 * its bytes as the server sent them, in text or binary format, with its
 * type's OID. The weft_pg_value_* decoders read both formats and check
 * every length against the bytes there are (a hostile or buggy server
 * cannot make them read past a value). The weft_pg_get_* accessors above
 * are weft_pg_get_value followed by the decoder of the same name. */

/* OIDs of the built-in types weft knows (pg_type.oid, stable across servers). */
enum {
    WEFT_PG_BOOL = 16, WEFT_PG_BYTEA = 17, WEFT_PG_CHAR = 18, WEFT_PG_NAME = 19, WEFT_PG_INT8 = 20,
    WEFT_PG_INT2 = 21, WEFT_PG_INT4 = 23, WEFT_PG_TEXT = 25, WEFT_PG_OID = 26,
    WEFT_PG_JSON = 114, WEFT_PG_XML = 142, WEFT_PG_CIDR = 650, WEFT_PG_FLOAT4 = 700,
    WEFT_PG_FLOAT8 = 701, WEFT_PG_UNKNOWN = 705, WEFT_PG_INET = 869, WEFT_PG_BPCHAR = 1042,
    WEFT_PG_VARCHAR = 1043, WEFT_PG_DATE = 1082, WEFT_PG_TIME = 1083,
    WEFT_PG_TIMESTAMP = 1114, WEFT_PG_TIMESTAMPTZ = 1184, WEFT_PG_INTERVAL = 1186,
    WEFT_PG_NUMERIC = 1700, WEFT_PG_RECORD = 2249, WEFT_PG_UUID = 2950, WEFT_PG_JSONB = 3802
};

typedef struct weft_pg_value {
    const char *data; /* len bytes, followed by a NUL weft guarantees; NULL for SQL NULL */
    int len;          /* -1 for SQL NULL */
    unsigned oid;     /* the type; 0 when the server did not say (text records) */
    int binary;       /* 1: binary format, 0: text */
} weft_pg_value;

/* The cell as a value (pointing into r, valid while r lives). 0, or
 * -EINVAL (row/col out of range); a NULL cell is a value with len -1. */
int weft_pg_get_value(const weft_pg_result *r, int row, int col, weft_pg_value *v);
/* The first n cells of a row (all of them if n is larger) into vals[0..]:
 * what weft_pg_get_value gives for each, at a fraction of the cost per cell
 * when every value of a row is read. Returns how many it filled, or -EINVAL
 * (row out of range, n < 0, a result without columns). */
int weft_pg_get_row(const weft_pg_result *r, int row, weft_pg_value *vals, int n);

typedef struct weft_pg_interval {
    int64_t usec; /* the time part */
    int32_t days;
    int32_t months;
} weft_pg_interval;

typedef struct weft_pg_inet {
    int family;       /* 4 or 6 */
    int bits;         /* netmask length (32 or 128 for a host address) */
    int cidr;         /* 1 for the cidr type */
    uint8_t addr[16]; /* network order; 4 bytes used for IPv4 */
} weft_pg_inet;

/* Decoders. Each returns 0 and sets *out, or -WEFT_PG_ENULL (NULL),
 * -WEFT_PG_ETYPE (another type), -EINVAL (bytes no server sends for that
 * type: wrong length, unparsable text, trailing bytes), -ERANGE (does not
 * fit). Types accepted as for the weft_pg_get_* calls:
 *  bigint/int: int2, int4, int8, oid; double: float4, float8, the integers,
 *  numeric (rounded); bool; timestamp: see weft_pg_get_timestamp. */
int weft_pg_value_bigint(const weft_pg_value *v, int64_t *out);
int weft_pg_value_int(const weft_pg_value *v, int32_t *out);
int weft_pg_value_double(const weft_pg_value *v, double *out);
int weft_pg_value_bool(const weft_pg_value *v, int *out);
int weft_pg_value_timestamp(const weft_pg_value *v, int64_t *usec);
/* date as days since 1970-01-01 (negative before); +-infinity are
 * INT32_MAX/INT32_MIN. */
int weft_pg_value_date(const weft_pg_value *v, int32_t *days);
/* time (without zone) as microseconds since midnight. */
int weft_pg_value_time(const weft_pg_value *v, int64_t *usec);
int weft_pg_value_interval(const weft_pg_value *v, weft_pg_interval *out);
int weft_pg_value_uuid(const weft_pg_value *v, uint8_t out[16]);
/* inet and cidr. */
int weft_pg_value_inet(const weft_pg_value *v, weft_pg_inet *out);
/* The text of text-like types (text, varchar, char, name, json, jsonb, xml,
 * enums and any type in text format): *s points into the value (jsonb's
 * binary version byte skipped), *n its length. The one-byte "char" type
 * (pg_type's typcategory...) in binary is its byte as it is (its text
 * format writes a byte >= 0x80 as \ooo and a 0 byte as ""). */
int weft_pg_value_text(const weft_pg_value *v, const char **s, size_t *n);
/* bytea in binary format (arrays and records hand out bytea decoded). */
int weft_pg_value_bytea(const weft_pg_value *v, const void **data, size_t *n);
/* numeric's exact decimal text, from the text format (arrays and records
 * hand out numeric as text; results: use weft_pg_get_numeric). */
int weft_pg_value_numeric(const weft_pg_value *v, const char **text);

int weft_pg_get_date(const weft_pg_result *r, int row, int col, int32_t *days);
int weft_pg_get_time(const weft_pg_result *r, int row, int col, int64_t *usec);
int weft_pg_get_interval(const weft_pg_result *r, int row, int col, weft_pg_interval *out);
int weft_pg_get_uuid(const weft_pg_result *r, int row, int col, uint8_t out[16]);
int weft_pg_get_inet(const weft_pg_result *r, int row, int col, weft_pg_inet *out);
/* json and jsonb (text or binary) as text: *s points into r, n bytes. Kept
 * as text, not parsed: see docs/design.md (PostgreSQL, json). */
int weft_pg_get_json(const weft_pg_result *r, int row, int col, const char **s, size_t *n);

/* Arrays (1 to 6 dimensions, NULL elements, empty) and records (composite
 * types, row()): decoded into one allocation that owns copies of the
 * elements, freed with free(). Elements are weft_pg_values in the
 * array's format, in row-major order, except that bytea elements are handed
 * out decoded (binary) and numeric as text, so weft_pg_value_bytea and
 * weft_pg_value_numeric read them. A text-format array of a type weft does
 * not know has elements of OID 0 (their text as the server printed it).
 * 0, or -WEFT_PG_ENULL, -WEFT_PG_ETYPE (not an array / record), -EINVAL
 * (malformed: any length, count or dimension that does not fit the bytes),
 * -ENOMEM. */
#define WEFT_PG_MAXDIM 6
typedef struct weft_pg_array {
    unsigned elem_oid;
    int ndim;                     /* 0 for an empty array */
    int dims[WEFT_PG_MAXDIM];     /* sizes */
    int lbounds[WEFT_PG_MAXDIM];  /* lower bounds (1 unless given) */
    int n;                        /* elements: the product of dims */
    weft_pg_value *elems;
} weft_pg_array;
int weft_pg_value_array(const weft_pg_value *v, weft_pg_array **out);
int weft_pg_get_array(const weft_pg_result *r, int row, int col, weft_pg_array **out);

typedef struct weft_pg_record {
    int n;                 /* fields */
    weft_pg_value *fields; /* text records: fields of OID 0, as printed */
} weft_pg_record;
int weft_pg_value_record(const weft_pg_value *v, weft_pg_record **out);
int weft_pg_get_record(const weft_pg_result *r, int row, int col, weft_pg_record **out);

/* Typed parameters: sent in binary (text for numeric and json) with their
 * type's OID, so the server does not guess. Errors as the other appends
 * (0, -ENOMEM, -EOVERFLOW), and -EINVAL for a value no such type holds. */
int weft_pg_params_int2(weft_pg_params *p, int16_t v);
int weft_pg_params_int4(weft_pg_params *p, int32_t v);
int weft_pg_params_int8(weft_pg_params *p, int64_t v);
int weft_pg_params_float4(weft_pg_params *p, float v);
int weft_pg_params_float8(weft_pg_params *p, double v);
int weft_pg_params_boolean(weft_pg_params *p, int v);
/* text (s NULL: NULL) as the type oid (WEFT_PG_TEXT, WEFT_PG_VARCHAR, an
 * enum's OID...; 0: let the server infer, as weft_pg_params_text). */
int weft_pg_params_typed_text(weft_pg_params *p, unsigned oid, const char *s);
/* numeric from its decimal text ("-12.50", "NaN", "Infinity"; no exponent):
 * checked and sent in binary. */
int weft_pg_params_numeric(weft_pg_params *p, const char *decimal);
int weft_pg_params_uuid(weft_pg_params *p, const uint8_t uuid[16]);
int weft_pg_params_date(weft_pg_params *p, int32_t days);       /* since 1970-01-01 */
int weft_pg_params_time(weft_pg_params *p, int64_t usec);       /* since midnight */
int weft_pg_params_timestamp(weft_pg_params *p, int64_t usec);  /* Unix microseconds */
int weft_pg_params_timestamptz(weft_pg_params *p, int64_t usec);
int weft_pg_params_interval(weft_pg_params *p, const weft_pg_interval *v);
int weft_pg_params_json(weft_pg_params *p, const char *json, size_t n);
int weft_pg_params_jsonb(weft_pg_params *p, const char *json, size_t n);
int weft_pg_params_inet(weft_pg_params *p, const weft_pg_inet *v); /* cidr if v->cidr */
/* A value already in binary wire format, of type oid (user codecs). */
int weft_pg_params_binary(weft_pg_params *p, unsigned oid, const void *data, size_t n);
/* An array of type array_oid (0: the server infers it; weft fills it in for
 * the built-in element types) with ndim dimensions of sizes dims (ndim 0:
 * empty), elements taken in row-major order from elems (built with the
 * typed appends above, weft_pg_params_null for NULL elements; all of type
 * elem_oid). Sent in binary. -EINVAL for a count or type that does not
 * match, more than 6 dimensions. */
int weft_pg_params_array(weft_pg_params *p, unsigned array_oid, unsigned elem_oid, int ndim,
                         const int *dims, const weft_pg_params *elems);
/* A record of composite type oid, its fields from fields (typed appends;
 * NULL fields with weft_pg_params_null). Sent in binary. */
int weft_pg_params_record(weft_pg_params *p, unsigned oid, const weft_pg_params *fields);

/* ---- user types (asyncpg's set_type_codec) -------------------------------------- */

/* The OID of a type by name ("mood", "myschema.point3", "int4[]"), and of
 * its array type (0 if none), looked up once per connection and cached.
 * 0, -WEFT_PG_ESERVER (no such type), or an error as weft_pg_query. Waits. */
int weft_pg_type_oid(weft_pg *c, const char *name, unsigned *oid, unsigned *array_oid);

typedef struct weft_pg_codec {
    /* value -> one appended parameter (any weft_pg_params_* call; for a
     * composite, weft_pg_params_record). oid is the type's. */
    int (*encode)(weft_pg_params *p, unsigned oid, const void *value, void *arg);
    /* v (text or binary, never NULL) -> *out; for a composite,
     * weft_pg_value_record gives the fields. 0 or a negative error. */
    int (*decode)(const weft_pg_value *v, void *out, void *arg);
    void *arg;
} weft_pg_codec;
/* Registers codec for the type called name on c (its OID looked up as by
 * weft_pg_type_oid; for a pool, call it from the init hook). The codec is
 * copied; a second call for the same type replaces it. 0 or an error as
 * weft_pg_type_oid. Waits. */
int weft_pg_set_type_codec(weft_pg *c, const char *name, const weft_pg_codec *codec);
/* Appends value through the codec registered on c for name: 0, -ENOENT
 * (none registered), or the codec's error. */
int weft_pg_params_custom(weft_pg *c, weft_pg_params *p, const char *name, const void *value);
/* Decodes v through the codec registered on c for v->oid: 0, -ENOENT
 * (none for that OID), -WEFT_PG_ENULL, or the codec's error. */
int weft_pg_value_custom(weft_pg *c, const weft_pg_value *v, void *out);
int weft_pg_get_custom(weft_pg *c, const weft_pg_result *r, int row, int col, void *out);

/* ---- convenience (asyncpg's fetchrow, fetchval, executemany, prepare) ---------- */

/* (WEFT_PG_ENOROWS, WEFT_PG_EMANYROWS: the error table at the top.) */

/* Runs sql (as weft_pg_query_with) and requires exactly one row: 0 and *out
 * (the caller frees it), -WEFT_PG_ENOROWS, -WEFT_PG_EMANYROWS (*out NULL),
 * or an error as weft_pg_query. Waits. */
int weft_pg_fetchrow(weft_pg *c, const char *sql, const weft_pg_params *p, int flags,
                     weft_pg_result **out);
/* weft_pg_fetchrow that also requires one column and gives it as *v (it
 * points into *out; a NULL value is len -1). -WEFT_PG_ETYPE for another
 * number of columns. Waits. */
int weft_pg_fetchval(weft_pg *c, const char *sql, const weft_pg_params *p, int flags,
                     weft_pg_result **out, weft_pg_value *v);
/* fetchval decoded: one row, one column, not NULL (-WEFT_PG_ENULL), of a
 * type the decoder takes. *s is malloc'd (free it). Wait. */
int weft_pg_fetch_bigint(weft_pg *c, const char *sql, const weft_pg_params *p, int64_t *v);
int weft_pg_fetch_text(weft_pg *c, const char *sql, const weft_pg_params *p, char **s);

/* Runs sql once per parameter set (n sets), pipelined: one round trip
 * for all, each row's Bind/Execute sent without waiting. Atomic, as
 * asyncpg's: the sets run as one implicit transaction (or inside the
 * caller's), so an error in any leaves none applied. Returns 0 and the
 * total rows affected in *rows (if not NULL), or the first error (its
 * index in *failed, if not NULL; -1 when the error is not one set's).
 * Waits. */
int weft_pg_executemany(weft_pg *c, const char *sql, const weft_pg_params *const *sets, int n,
                        int64_t *rows, int *failed);

/* A prepared statement: what the server says about sql's parameters and
 * columns. The statement lives in c's cache; the handle only describes it
 * and runs it. types (ntypes of them, may be NULL/0) fix parameter types
 * as OIDs (0: the server infers). 0 and *out, or an error as weft_pg_query
 * (a syntax error is -WEFT_PG_ESERVER). Waits. */
typedef struct weft_pg_stmt weft_pg_stmt;
int weft_pg_prepare_stmt(weft_pg *c, const char *sql, const unsigned *types, int ntypes,
                         weft_pg_stmt **out);
void weft_pg_stmt_free(weft_pg_stmt *s); /* NULL is a no-op */
int weft_pg_stmt_nparams(const weft_pg_stmt *s);
unsigned weft_pg_stmt_param_type(const weft_pg_stmt *s, int i); /* 0 if out of range */
int weft_pg_stmt_ncols(const weft_pg_stmt *s);
const char *weft_pg_stmt_col_name(const weft_pg_stmt *s, int i); /* NULL if out of range */
unsigned weft_pg_stmt_col_type(const weft_pg_stmt *s, int i);    /* 0 if out of range */
/* Runs the statement with p (as weft_pg_query_with; its cache entry is used
 * when p's types match those it was prepared with). Waits. */
int weft_pg_stmt_query(weft_pg_stmt *s, const weft_pg_params *p, int flags, weft_pg_result **out);

/* The plan of sql with parameters p: EXPLAIN (FORMAT JSON), with ANALYZE
 * if analyze (the statement then runs: wrap writes in a transaction you roll
 * back). *plan is the JSON text, malloc'd. 0 or an error as weft_pg_query.
 * Waits. */
int weft_pg_explain(weft_pg *c, const char *sql, const weft_pg_params *p, int analyze,
                    char **plan);

/* ---- server messages, logging, limits -------------------------------------------- */

/* Notices and warnings the server sends (RAISE NOTICE, "table does not
 * exist, skipping"...) go to fn, in the order sent, instead of being
 * dropped (asyncpg's add_log_listener; one listener per connection, NULL
 * removes it). severity is "NOTICE", "WARNING", "INFO", "DEBUG", "LOG".
 * fn runs inside whichever task is reading c and must not wait. */
typedef void (*weft_pg_log_fn)(weft_pg *c, const char *severity, const char *sqlstate,
                               const char *message, void *arg);
void weft_pg_set_log_listener(weft_pg *c, weft_pg_log_fn fn, void *arg);
/* fn is called once when c is found lost (server gone, killed, network);
 * it must not wait or free c. NULL removes it. */
void weft_pg_set_termination_listener(weft_pg *c, void (*fn)(weft_pg *c, void *arg), void *arg);
/* After each weft_pg_query* / weft_pg_exec* call on c: the statement, its
 * duration in seconds, rows returned or affected, and 0 or the error. fn
 * must not wait. NULL removes it. */
typedef void (*weft_pg_query_log_fn)(weft_pg *c, const char *sql, double seconds, int64_t rows,
                                     int rc, void *arg);
void weft_pg_set_query_logger(weft_pg *c, weft_pg_query_log_fn fn, void *arg);
/* Default time limit in seconds for each weft_pg_query* and weft_pg_exec*
 * call on c (0: none): past it the call returns -ETIMEDOUT and the statement
 * is cancelled on the server, as under weft_timeout. */
void weft_pg_set_command_timeout(weft_pg *c, double seconds);
/* The prepared-statement cache's size (default 256; 0: no caching). A
 * smaller size forgets (and deallocates on the server) the newest entries
 * past it. 0 or an error as weft_pg_exec. Waits. */
int weft_pg_set_stmt_cache_size(weft_pg *c, int n);
/* Statements run on c so far (queries, execs, batches, COPYs). */
int64_t weft_pg_queries(const weft_pg *c);

/* ---- large results, row by row ---------------------------------------------- */

typedef struct weft_pg_rows weft_pg_rows;
/* Starts sql and returns a cursor that yields its rows one at a time
 * (libpq's single-row mode: memory stays bounded whatever the size). The
 * connection is busy until the cursor ends or is closed. Errors as
 * weft_pg_query. Waits. */
int weft_pg_query_rows(weft_pg *c, const char *sql, const weft_pg_params *p, int flags,
                       weft_pg_rows **out);
/* Next row: 1 and *row set to a one-row result owned by the cursor (valid
 * until the next call), 0 at the end, or a negative error (the cursor is
 * then ended; -WEFT_PG_ESTATE for a COPY, which is ended). Waits. */
int weft_pg_rows_next(weft_pg_rows *it, const weft_pg_result **row);
/* Ends the cursor; rows not read are cancelled on the server and drained in
 * the background. NULL is a no-op. Does not wait. */
void weft_pg_rows_close(weft_pg_rows *it);

/* ---- transactions ------------------------------------------------------------ */

/* Begins a transaction; inside one, a savepoint (so transactions nest).
 * Returns the new depth (1 for the outermost), or an error as weft_pg_query.
 * Waits. */
int weft_pg_begin(weft_pg *c);
/* weft_pg_begin with transaction modes (outermost level only: a savepoint
 * has none, -WEFT_PG_ESTATE inside a transaction). isolation is one of the
 * WEFT_PG_ISO_* (DEFAULT: the session's default); read_only and deferrable
 * 0 or 1 (deferrable matters for SERIALIZABLE READ ONLY). Waits. */
enum { WEFT_PG_ISO_DEFAULT, WEFT_PG_ISO_READ_COMMITTED, WEFT_PG_ISO_REPEATABLE_READ,
       WEFT_PG_ISO_SERIALIZABLE };
int weft_pg_begin_opts(weft_pg *c, int isolation, int read_only, int deferrable);
/* Commits the innermost level (releases its savepoint). 0, -WEFT_PG_ESTATE
 * when no transaction is open, or an error as weft_pg_query; a commit the
 * server turns into a rollback returns -WEFT_PG_ESERVER with sqlstate
 * 40000-class or "25P02". Waits. */
int weft_pg_commit(weft_pg *c);
/* Rolls back the innermost level. 0, -WEFT_PG_ESTATE, or an error. Waits. */
int weft_pg_rollback(weft_pg *c);
/* Runs fn(c, arg) in a transaction (or savepoint): committed if fn returns
 * >= 0, rolled back otherwise (cancellation included). Returns fn's result,
 * or the commit's error. Waits. */
int weft_pg_transaction(weft_pg *c, int (*fn)(weft_pg *c, void *arg), void *arg);

/* ---- pipelined batches ---------------------------------------------------------
 * Many statements sent without waiting for each reply (libpq pipeline mode),
 * results matched in order. Statements between two sync points form a
 * segment that runs as one implicit transaction: an error there rolls the
 * segment back and skips its remaining statements (-WEFT_PG_EABORTED), and
 * the next segment runs normally. */

typedef struct weft_pg_batch weft_pg_batch;
weft_pg_batch *weft_pg_batch_new(void);           /* NULL on ENOMEM */
void weft_pg_batch_free(weft_pg_batch *b);         /* NULL is a no-op */
/* Appends a statement (p copied; NULL: no parameters). 0 or -ENOMEM. */
int weft_pg_batch_add(weft_pg_batch *b, const char *sql, const weft_pg_params *p);
/* Ends the current segment. 0 or -ENOMEM. */
int weft_pg_batch_sync(weft_pg_batch *b);
/* Runs every statement on c. Returns 0 if all succeeded, else the first
 * error (the others are still run as described above; check each with
 * weft_pg_batch_status). Clears results of an earlier run. Waits. */
int weft_pg_batch_run(weft_pg *c, weft_pg_batch *b, int flags);
int weft_pg_batch_count(const weft_pg_batch *b);
/* Statement i's outcome: rows returned/affected (>= 0), -WEFT_PG_ESERVER,
 * -WEFT_PG_EABORTED, -WEFT_PG_ESTATE for a COPY (no place in a batch: the
 * connection is dropped), or -EINVAL if not run / out of range. */
int weft_pg_batch_status(const weft_pg_batch *b, int i);
/* weft_pg_batch_status with the count 64-bit (weft_pg_batch_status clamps
 * it to INT_MAX). */
int64_t weft_pg_batch_rows(const weft_pg_batch *b, int i);
/* Statement i's rows, for statements that return rows (owned by the
 * batch, valid until its next run or free), else NULL. */
const weft_pg_result *weft_pg_batch_result(const weft_pg_batch *b, int i);
/* SQLSTATE of statement i's error, or "". */
const char *weft_pg_batch_sqlstate(const weft_pg_batch *b, int i);

/* ---- COPY ---------------------------------------------------------------------- */

/* COPY ... FROM STDIN: source(arg, &data) returns the length of the next
 * chunk it sets data to (valid until the next call; any length, sent in
 * CopyData messages of at most 1 MiB), 0 at the end, or a
 * negative error that aborts the copy (returned as is). source may wait.
 * Returns rows copied or an error as weft_pg_query; -WEFT_PG_ESTATE when
 * sql's string holds something before its COPY, or a second COPY (ended:
 * the string is one transaction, so none of it stays). Waits. */
int weft_pg_copy_in(weft_pg *c, const char *sql,
                    ssize_t (*source)(void *arg, const char **data), void *arg);
/* COPY ... TO STDOUT: sink(arg, data, n) gets each chunk (one row for the
 * text and csv formats); a negative return stops (the copy is cancelled
 * and that value returned). Returns rows copied or an error. Waits. */
int weft_pg_copy_out(weft_pg *c, const char *sql,
                     int (*sink)(void *arg, const char *data, size_t n), void *arg);
/* Both with the exact count in *rows: 0 or an error. Wait. */
int weft_pg_copy_in_count(weft_pg *c, const char *sql,
                          ssize_t (*source)(void *arg, const char **data), void *arg,
                          int64_t *rows);
int weft_pg_copy_out_count(weft_pg *c, const char *sql,
                           int (*sink)(void *arg, const char *data, size_t n), void *arg,
                           int64_t *rows);

/* COPY of records (asyncpg's copy_records_to_table): rows given as typed
 * values, sent in PostgreSQL's binary COPY format. Each row is a
 * weft_pg_params of one value per column, built with the typed appends
 * (weft_pg_params_int4, _timestamp, _array, _record, a codec's...) or the
 * untyped ones (text, int, double, bool), NULL with weft_pg_params_null.
 * weft asks the server the columns' types first (one statement, cached)
 * and encodes each value for its column: as it is when the types match,
 * converted where that is exact or range-checked (an int8 value into an
 * int4 column: -ERANGE if it does not fit; integers into float and numeric
 * columns; float4 and float8; timestamp and timestamptz), untyped text
 * parsed as the column's type (integers, floats, bool, numeric; as is for
 * text-like types and enums). Anything else is -WEFT_PG_ETYPE: binary input
 * is not checked by type on the server, so weft never sends a value in
 * another type's form. An error in any row (or from next) abandons the
 * whole COPY, which the server rolls back; the connection stays usable.
 * schema NULL: the search path; names are quoted as identifiers. columns
 * (ncols names; NULL and 0: every column, in table order).
 * next(arg, &row) gives the next row: 1 and *row (read before next is
 * called again), 0 at the end, or a negative error that aborts (returned
 * as is); it may wait. 0 and the rows copied in *rows (if not NULL), or an
 * error as weft_pg_copy_in (-EINVAL: a row with another number of values).
 * Waits. */
int weft_pg_copy_records_in(weft_pg *c, const char *schema, const char *table,
                            const char *const *columns, int ncols,
                            int (*next)(void *arg, const weft_pg_params **row), void *arg,
                            int64_t *rows);
/* weft_pg_copy_records_in with the rows from an array of n. Waits. */
int weft_pg_copy_records(weft_pg *c, const char *schema, const char *table,
                         const char *const *columns, int ncols,
                         const weft_pg_params *const *records, int n, int64_t *rows);
/* The rows of query (a SELECT, VALUES or TABLE name; no parameters: COPY
 * takes none) read through binary COPY, each handed to fn as ncols values
 * in binary format with their column's type OID (described first, as by
 * weft_pg_prepare_stmt), decoded with the weft_pg_value_* calls; numeric
 * comes as text and bytea as its bytes, as in arrays and records; a user
 * type's value is its binary form (an enum's is its label: read v->data,
 * or through a codec). The values
 * are valid during the call. fn returns 0, or a negative value that stops
 * the copy (cancelled on the server) and is returned. 0 and the rows
 * copied in *rows (if not NULL), or an error as weft_pg_copy_out; -EINVAL
 * if the server's stream is malformed. Waits. */
int weft_pg_copy_records_out(weft_pg *c, const char *query,
                             int (*fn)(void *arg, const weft_pg_value *row, int ncols),
                             void *arg, int64_t *rows);

/* ---- LISTEN / NOTIFY ------------------------------------------------------------ */

typedef struct weft_pg_notify {
    char *channel;
    char *payload;
    int pid; /* the notifying backend */
} weft_pg_notify;

/* LISTEN / UNLISTEN channel (quoted as an identifier). 0 or an error. Waits. */
int weft_pg_listen(weft_pg *c, const char *channel);
int weft_pg_unlisten(weft_pg *c, const char *channel);
/* Waits for the next notification on channel (NULL: any channel listened on
 * c); other channels' notifications stay queued for their waiters. Queries
 * may run on c meanwhile. *out is freed with weft_pg_notify_free. 0,
 * -WEFT_PG_EBROKEN, -ECANCELED, -ETIMEDOUT (under weft_timeout). Waits. */
int weft_pg_notify_wait(weft_pg *c, const char *channel, weft_pg_notify **out);
void weft_pg_notify_free(weft_pg_notify *n);

/* ---- pool ------------------------------------------------------------------------ */

typedef struct weft_pg_pool weft_pg_pool;
typedef struct weft_pg_pool_opts {
    int min_size;          /* connections opened by weft_pg_pool_new; default 1 */
    int max_size;          /* upper bound; default 10 */
    union {                /* seconds weft_pg_pool_acquire waits; 0: 30 s; < 0: forever */
        double acquire_timeout_s;
        double acquire_timeout; /* older spelling, without the _s of every timeout */
    };
    double check_idle_s;   /* a connection idle this long is pinged before reuse; 0: 10 s */
    /* asyncpg.create_pool's lifecycle (all optional; zero: the default) */
    int (*init)(weft_pg *c, void *arg);  /* once per new connection; < 0: it is closed
                                            and the acquire (or pool_new) fails so */
    int (*setup)(weft_pg *c, void *arg); /* on each acquire; < 0: released, acquire fails */
    int (*reset)(weft_pg *c, void *arg); /* replaces weft's reset (see release); < 0: closed */
    void *hook_arg;
    double max_inactive_s; /* an idle connection older than this is closed; 0: 300 s; < 0: never */
    int64_t max_queries;   /* statements before a connection is replaced; 0: 50,000; < 0: never */
    double command_timeout;/* each connection's weft_pg_set_command_timeout; 0: none */
    int stmt_cache_size;   /* each connection's statement cache; 0: 256; < 0: none */
} weft_pg_pool_opts;

/* Makes a pool for dsn (copied) and opens min_size connections. opts may be
 * NULL. Errors as weft_pg_connect (nothing is left open). Waits. */
int weft_pg_pool_new(const char *dsn, const weft_pg_pool_opts *opts, weft_pg_pool **out);
/* Closes idle connections now and the others when released, then frees the
 * pool once none is out. Tasks waiting in weft_pg_pool_acquire are woken
 * at once with -WEFT_PG_ECLOSED (a connect in progress finishes and is
 * closed). NULL is a no-op. Does not wait. */
void weft_pg_pool_free(weft_pg_pool *p);
/* Takes a connection: an idle one (checked: lost ones are replaced, one idle
 * too long is pinged, one whose last holder's reset is pending is reset) or a new one while
 * below max_size, else waits for a release. Its weft_pg_sqlstate/errmsg
 * start empty (not the last holder's). 0 and *out, or -ETIMEDOUT
 * (acquire_timeout or an enclosing deadline), -ECANCELED, -WEFT_PG_ECLOSED,
 * connect errors. Waits. */
int weft_pg_pool_acquire(weft_pg_pool *p, weft_pg **out);
/* Gives c back. A connection that ran anything since it was acquired is
 * reset: a rollback if in a transaction, then RESET SESSION AUTHORIZATION,
 * RESET ROLE, RESET ALL, CLOSE ALL, UNLISTEN *, pg_advisory_unlock_all(),
 * DISCARD TEMP, DISCARD SEQUENCES, and statements made with SQL PREPARE are
 * deallocated: the next holder gets none of this one's role, settings, temp
 * tables or locks. Not DISCARD ALL, which would also drop weft's
 * prepared-statement cache. The reset is sent here, without waiting, and
 * its replies are read by the connection's next operation: a
 * weft_pg_query pipelines its statement behind it (acquire, query, release
 * cost one round trip), other operations read them first. (Only SQL-level
 * PREPAREd statements are deallocated after, not before, that first
 * query.) A connection whose reset could not be sent (a cancelled
 * statement still draining; a pool with its own reset hook) is reset at
 * its next acquire. A lost connection is closed. Never waits: safe on
 * every path, cancelled ones included. */
void weft_pg_pool_release(weft_pg_pool *p, weft_pg *c);
/* Acquires, runs fn(c, arg), releases whatever fn returns (cancellation
 * included). Returns fn's result or the acquire error. Waits. */
int weft_pg_pool_run(weft_pg_pool *p, int (*fn)(weft_pg *c, void *arg), void *arg);
/* weft_pg_query_with on a pooled connection, released before returning.
 * Returns as weft_pg_query, or an acquire error. Waits. */
int weft_pg_pool_query(weft_pg_pool *p, const char *sql, const weft_pg_params *params,
                       int flags, weft_pg_result **out);
/* Why a pooled query failed, copied out before the connection went back
 * (its weft_pg_sqlstate/weft_pg_errmsg then belong to its next user). */
typedef struct weft_pg_error {
    char sqlstate[6];  /* the server's SQLSTATE ("23505"), or "" if the server
                          did not answer (acquire error, cancel, lost link) */
    char message[256]; /* the server's primary message or libpq's, else
                          weft_strerror's name of the code; truncated to fit */
} weft_pg_error;
/* weft_pg_pool_query that also fills *err (if not NULL): on failure as
 * above, on success with empty strings. Waits. */
int weft_pg_pool_query_with(weft_pg_pool *p, const char *sql, const weft_pg_params *params,
                           int flags, weft_pg_result **out, weft_pg_error *err);
/* Connections open (idle + in use) and idle. */
int weft_pg_pool_size(const weft_pg_pool *p);
int weft_pg_pool_idle(const weft_pg_pool *p);
typedef struct weft_pg_pool_stats {
    int size, idle, in_use; /* open; idle; acquired and not released */
    int waiting;            /* tasks waiting in weft_pg_pool_acquire */
    int64_t acquired;       /* acquires that succeeded */
    int64_t opened, closed; /* connections over the pool's life */
} weft_pg_pool_stats;
/* The pool's counters now. */
void weft_pg_pool_stats_get(const weft_pg_pool *p, weft_pg_pool_stats *out);
/* Replaces every connection (after a schema change, say): idle ones are
 * closed now, those in use when released; none is cut off mid-statement.
 * Called from another loop of the run (or another thread), it is reported
 * and done on the pool's own loop, as release and free are. Does not wait. */
void weft_pg_pool_expire_connections(weft_pg_pool *p);

/* ---- deprecated names ------------------------------------------------------
 * Older spellings, kept so code written against them compiles and behaves
 * as before; the compiler names the replacement (docs/design.md, "API
 * conventions"). */
#if defined(__GNUC__) || defined(__clang__)
#define WEFT_PG_DEPRECATED(msg) __attribute__((deprecated(msg)))
#else
#define WEFT_PG_DEPRECATED(msg)
#endif
WEFT_PG_DEPRECATED("use weft_pg_query_with")
int weft_pg_query_ex(weft_pg *c, const char *sql, const weft_pg_params *p, int flags,
                     weft_pg_result **out);
WEFT_PG_DEPRECATED("use weft_pg_pool_query_with")
int weft_pg_pool_query_err(weft_pg_pool *p, const char *sql, const weft_pg_params *params,
                           int flags, weft_pg_result **out, weft_pg_error *err);
WEFT_PG_DEPRECATED("use weft_pg_result_nrows")
int weft_pg_nrows(const weft_pg_result *r);
WEFT_PG_DEPRECATED("use weft_pg_result_ncols")
int weft_pg_ncols(const weft_pg_result *r);
WEFT_PG_DEPRECATED("use weft_pg_result_isnull")
int weft_pg_isnull(const weft_pg_result *r, int row, int col);
WEFT_PG_DEPRECATED("use weft_pg_params_bigint (the same), or the typed weft_pg_params_int8/_int4")
int weft_pg_params_int(weft_pg_params *p, int64_t v);

#ifdef __cplusplus
}
#endif
#endif
