/* Internals shared by the PostgreSQL modules (src/pg). Not installed.
 * The pg layer sees only include/weft.h, include/weft/io.h and libpq. */
#ifndef WEFT_PG_INTERNAL_H
#define WEFT_PG_INTERNAL_H

#include <weft.h>
#include <weft/pg.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#define PG_STMT_CACHE 256 /* prepared statements kept per connection */

typedef struct pg_stmt {
    char *sql;
    uint64_t hash;
    int nparams;
    int pending;  /* Parse sent, answer not yet read */
    int ntypes;     /* the parameter OIDs it was prepared with (types NULL: */
    unsigned *types;/* all 0, the server inferred them) */
    char name[24];
} pg_stmt;

typedef struct pg_ap pg_ap;

typedef struct pg_type_entry { /* codec.c: a type looked up by name */
    char *name;
    unsigned oid, array_oid;
    int has_codec;
    weft_pg_codec codec;
    struct pg_type_entry *next;
} pg_type_entry;
void pg__types_free(weft_pg *c);
/* hooks.c: runs fn(arg) under c's command timeout (if set and no shorter
 * deadline applies is not known: weft_timeout nests, the earlier wins). */
int pg__timed(weft_pg *c, weft_fn fn, void *arg);
void pg__install_notice_receiver(weft_pg *c);

typedef struct pg_nq { /* a queued notification */
    weft_pg_notify n;
    struct pg_nq *next;
} pg_nq;

struct weft_pg {
    PGconn *pg;
    int fd;               /* the socket as registered with the loop, or -1 */
    weft_sem *busy;       /* one operation at a time: held across a query */
    int broken;           /* lost: every operation fails with -WEFT_PG_EBROKEN */
    int draining;         /* a background task finishes a cancelled operation */
    int aborted;          /* the lock was just handed to that task */
    int free_pending;     /* weft_pg_free came while draining */
    int tx_depth;         /* weft_pg_begin nesting */
    int rollback_to;      /* >= 0: roll back to this depth at the next lock */
    int listening;        /* LISTEN was issued (pool reset must UNLISTEN) */
    char sqlstate[6];
    char *errmsg;
    pg_stmt *stmts;
    int nstmts;
    unsigned stmt_seq;
    /* notifications */
    pg_nq *nq_head, *nq_tail;
    weft_event *nev;      /* set when notifications arrive or the lock frees */
    int nwaiters;
    /* automatic pipelining of concurrent weft_pg_query calls (autopipe.c) */
    struct pg_ap *ap_head, *ap_tail; /* the session's queue, in reply order */
    int ap_on;            /* a session holds the lock, in pipeline mode */
    int lock_waiters;     /* tasks waiting in pg__lock */
    int ap_lockers;       /* ... of which weft_pg_query calls */
    pg_type_entry *types; /* weft_pg_type_oid's cache and the user codecs */
    int stmt_cap;         /* cache size (PG_STMT_CACHE unless set) */
    int stmt_alloc;       /* slots allocated in stmts */
    int64_t nqueries;     /* statements run (weft_pg_queries) */
    double command_timeout;
    weft_pg_log_fn log_fn;
    void *log_arg;
    void (*term_fn)(weft_pg *c, void *arg);
    void *term_arg;
    weft_pg_query_log_fn qlog_fn;
    void *qlog_arg;
    /* pool bookkeeping */
    struct weft_pg_pool *pool;
    struct weft_pg *pool_next;
    double idle_since;
    int pool_dirty;       /* ran something for its last holder: reset first */
    int used;             /* an operation took the lock (pool: since acquire) */
    unsigned pool_gen;    /* the pool's generation when opened (expire_connections) */
    int reset_syncs;      /* a reset sent at release: its pipeline syncs still due */
    int reset_fixup;      /* the reset found prepared statements to sort out */
    int reset_err;        /* one of its statements failed */
};

struct weft_pg_params {
    int n, cap;
    int err;      /* an append failed (-ENOMEM, -EOVERFLOW): unusable */
    size_t bytes; /* the values' total length */
    char **values;
    int *lengths, *formats;
    unsigned *types;
};

/* A value decoded from its wire form (binary numeric, text bytea). */
typedef struct pg_decoded {
    size_t n;
    char data[]; /* n bytes and a NUL */
} pg_decoded;

struct weft_pg_result {
    PGresult *res;
    /* Per cell (row * ncols + col), allocated at the first decode and freed
     * with the result: each value is decoded once however often it is read
     * (the header promises it; 64 reads of a 1 MB bytea made 64 copies). */
    pg_decoded **decoded;
    size_t ndecoded;
    /* The shape and the first columns' types and formats, asked of libpq
     * once instead of per cell (a cell read took seven libpq calls, the most
     * of P4's "types" rows' client time); valid until pg__result_forget,
     * which every change of res goes through. */
    int shape_known, nrows, ncols;
    uint32_t col_known, col_binary; /* bit c: column c (c < PG_COLS_CACHED) */
    unsigned col_oid[32];
};
#define PG_COLS_CACHED 32
/* result.c: frees r's decoded values (r->res is left alone) */
void pg__result_forget(weft_pg_result *r);

/* heap.c: once a process, lets glibc keep freed result memory instead of
 * trimming it after every result (see there). */
void pg__heap_keep(void);

/* numtext.c: floats as text in the "C" locale, whatever the process's.
 * pg__double_text: "%.17g" into buf (snprintf's return, or -ENOMEM);
 * pg__text_double: strtod, errno ERANGE as strtod sets it. */
int pg__double_text(char *buf, size_t n, double v);
double pg__text_double(const char *s, char **end);

/* conn.c: the engine every operation runs on */
int pg__lock(weft_pg *c);            /* take c for one operation (waits) */
/* pg__lock; with defer_reset a pool reset still in flight is left for the
 * caller (a query that pipelines its statement behind it). */
int pg__lock_ex(weft_pg *c, int defer_reset);
void pg__unlock(weft_pg *c);
/* Ends an operation: unlocks, unless pg__abort handed the lock on. */
void pg__release(weft_pg *c);
/* weft_wait_fd on c's socket, counting bytes OpenSSL holds as readable;
 * a forgotten socket (-EBADF) marks c lost. Waits. */
int pg__wait(weft_pg *c, int events);
int pg__flush(weft_pg *c);           /* send what libpq buffered (waits) */
int pg__get(weft_pg *c, PGresult **res); /* next result, NULL at the end (waits) */
/* An operation's wait failed with rc (-ECANCELED/-ETIMEDOUT) or the link
 * broke: hands c (locked) to a background task that cancels the statement
 * on the server and drains it (syncs: pipeline syncs still expected), or
 * marks c broken. The caller still calls pg__release. Returns rc (or
 * -WEFT_PG_EBROKEN). */
int pg__abort(weft_pg *c, int rc, int syncs);
int pg__lost(weft_pg *c);            /* mark broken; -WEFT_PG_EBROKEN */
/* Cancels what c's backend runs (PQcancel on the thread pool) and runs
 * read_rest(arg), which reads the cancelled statement's replies; a cancel
 * that reaches the backend before its statement does is ignored, so while
 * read_rest is still waiting after RECANCEL_S it cancels again. Returns
 * read_rest's result, or the caller's own cancellation/deadline. Waits. */
int pg__cancel_until(weft_pg *c, weft_fn read_rest, void *arg);
/* A PQsend* call refused: lost connection, or bad input (-EINVAL, libpq's
 * message kept as errmsg). */
int pg__send_failed(weft_pg *c);
/* Runs the rollback (to depth rollback_to) a cancelled task left. Waits. */
int pg__rollback_pending(weft_pg *c);
/* Records a server error from res (sqlstate, message); returns the weft code. */
int pg__server_error(weft_pg *c, const PGresult *res);
void pg__clear_error(weft_pg *c);
/* Rows returned or affected: 64-bit, and the int the older calls return
 * (clamped to INT_MAX: a count is never negative, never an error code). */
int64_t pg__rows64(const PGresult *res);
int pg__rows_int(int64_t rows);
int pg__rows(const PGresult *res);
void pg__collect_notifies(weft_pg *c);
int pg__simple(weft_pg *c, const char *sql); /* weft_pg_exec on a locked c */
int pg__simple_count(weft_pg *c, const char *sql, int64_t *rows); /* 0 or an error */
/* weft_pg_copy_in_count of a simple query whose nintro (at most
 * PG_COPY_INTROS) queries return rows before its COPY FROM STDIN ("SELECT
 * ... LIMIT 0; COPY ..."): ready(arg, their results, the COPY's column
 * count) runs before source is first asked for data; < 0 from it abandons
 * the COPY with that error.
 * Waits. */
#define PG_COPY_INTROS 2
int pg__copy_in_intro(weft_pg *c, const char *sql, int nintro,
                      int (*ready)(void *arg, PGresult *const *intro, int cols),
                      ssize_t (*source)(void *arg, const char **data), void *arg, int64_t *rows);
/* Ends a COPY that nobody asked for (or that was cancelled). Waits. */
int pg__discard_copy(weft_pg *c, ExecStatusType st);
void pg__drop_pending(weft_pg *c); /* forget statements whose Parse is unanswered */
int pg__stmts_ready(const weft_pg *c); /* cached statements the server has */
void pg__stmts_forget(weft_pg *c);     /* forget every cached statement */

/* query.c */
/* A send failed with rc before anything was flushed: leaves c clean (a
 * half-built pipeline is drained in the background). Returns rc. */
int pg__unsend(weft_pg *c, int rc, int syncs);
/* Reads the result of a statement sent with syncs (0 or 1) pipeline syncs
 * (1: its Parse was sent first) into *out. */
int pg__recv(weft_pg *c, const char *sql, int syncs, PGresult **out);
/* Parse of sql answered: keep its cache entry (ok) or drop it. */
void pg__prepare_done(weft_pg *c, const char *sql, int ok);
/* The cache entry the last statement of a batch used: the next one with
 * the same text (the same pointer) skips the lookup. */
typedef struct pg_send_hint {
    const char *sql;
    pg_stmt *s;
} pg_send_hint;
/* Sends one statement (in pipeline mode: preceded by its Parse when it is
 * new to the cache, *prepared then set). hint may be NULL. */
int pg__send_batch_item(weft_pg *c, const char *sql, const weft_pg_params *p, int flags,
                        int *prepared, pg_send_hint *hint);
weft_pg_result *pg__wrap(PGresult *res);
weft_pg_params *pg__params_dup(const weft_pg_params *p); /* NULL on ENOMEM */
/* Appends one value (data NULL: SQL NULL) in format (0 text, 1 binary) with
 * type OID type (0: inferred). 0, -ENOMEM, -EOVERFLOW (params poisoned). */
int pg__params_push(weft_pg_params *p, const void *data, size_t len, int format, unsigned type);
/* sql in the statement cache: 0 not there, 1 prepared, 2 its Parse is
 * not answered yet. */
int pg__stmt_state(weft_pg *c, const char *sql);

/* Forgets (and deallocates) sql's cached statement after SQLSTATE 0A000;
 * 1 if it had one. Waits. */
int pg__stmt_invalidate(weft_pg *c, const char *sql);

/* Prepares sql into c's cache with parameter types (NULL: inferred) and
 * describes it: *desc has its parameter and column types (PQclear it).
 * An entry already there is only described (types NULL) or replaced.
 * 0 or an error as weft_pg_query. Waits. */
int pg__prepare_describe(weft_pg *c, const char *sql, const unsigned *types, int ntypes,
                         PGresult **desc);

/* encode.c: a growing byte buffer; the first failure (-ENOMEM,
 * -EOVERFLOW past INT_MAX bytes) sticks in err and later puts do nothing. */
typedef struct pg_wbuf {
    char *b;
    size_t n, cap;
    int err;
} pg_wbuf;
void pg__wbuf_put(pg_wbuf *w, const void *d, size_t n);
void pg__wbuf_put32(pg_wbuf *w, uint32_t v);

/* reset.c: the pool's session reset. pg__reset_send sends it on an idle,
 * unlocked-but-taken c without waiting (pipeline mode, c->reset_syncs set);
 * pg__reset_collect reads its replies (waits; finish: leaves pipeline mode
 * and runs the fixup if due), 0 or an error with c marked lost. */
int pg__reset_send(weft_pg *c);
int pg__reset_collect(weft_pg *c, int finish);
/* Reads what has arrived of a reset in flight without waiting: 1 all of
 * it (c out of pipeline mode), 0 not yet, or -WEFT_PG_EBROKEN. */
int pg__reset_poll(weft_pg *c);
/* Deallocates SQL-level prepared statements; forgets weft's cache if the
 * server lost some of it. Locked c, not in pipeline mode. Waits. */
int pg__reset_fixup(weft_pg *c);
/* Forgets what the last holder left on the client side (transaction depth,
 * LISTEN, queued notifications). */
void pg__forget_session(weft_pg *c);

/* autopipe.c: one statement on c, pipelined with concurrent calls from
 * other tasks; its result into *out (NULL: discarded), its row count into
 * *rows. 0, or an error as weft_pg_query. */
int pg__ap_query(weft_pg *c, const char *sql, const weft_pg_params *p, int flags,
                 PGresult **out, int64_t *rows);

#endif
