/* A fake PostgreSQL server for tests that need replies a real server never
 * sends (row counts past 2^31, hostile binary values, a server that stops
 * reading): just enough of the v3 protocol, in a thread of its own with
 * blocking sockets, on 127.0.0.1 and a port the kernel picks.
 *
 * It answers the startup with AuthenticationOk, BackendKeyData and
 * ReadyForQuery (SSL/GSS requests get 'N'), then answers each statement from
 * a table of replies matched by a substring of its SQL text, over the simple
 * protocol (Query) and the extended one (Parse/Bind/Describe/Execute/Sync).
 * One thread per connection; the replies table must outlive the server. */
#ifndef WEFT_TESTS_PG_FAKE_H
#define WEFT_TESTS_PG_FAKE_H
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { PG_FAKE_COMMAND, PG_FAKE_ROW, PG_FAKE_COPY_IN, PG_FAKE_COPY_OUT, PG_FAKE_RAW };

typedef struct pg_fake_reply {
    const char *match; /* answers SQL containing this */
    int kind;          /* PG_FAKE_* */
    const char *tag;   /* CommandComplete tag ("UPDATE 4294967295") */
    unsigned type;     /* PG_FAKE_ROW: the column's type OID */
    int format;        /* 0 text, 1 binary: as sent, whatever was asked */
    const char *value; /* one row, one column; PG_FAKE_RAW: the server's messages */
    int len;           /* value's length */
} pg_fake_reply;
/* PG_FAKE_RAW: value's len bytes go out as they are (whole messages, any
 * a real server would never send); then, with a tag, COPY data is read as
 * after a CopyInResponse and answered with CommandComplete (tag); then
 * ReadyForQuery. Over the extended protocol, Execute sends value alone. */

typedef struct pg_fake {
    int lfd, port;
    const pg_fake_reply *replies;
    /* COPY IN bookkeeping, for the length tests (written by the server
     * thread, read by the test once the copy returned) */
    volatile long long copy_bytes;     /* CopyData bytes received */
    volatile long long copy_max_msg;   /* largest CopyData message */
    volatile long long copy_min_msg;   /* smallest (0 if none) */
    long long copy_close_after;        /* > 0: close the link after that many */
    volatile int open_conns;           /* accepted and not yet closed */
    pthread_t th;
} pg_fake;

typedef struct pg_fake_conn {
    pg_fake *f;
    int fd;
    char *stmt_sql[64];   /* named statements: name -> SQL */
    char *stmt_name[64];
    char *unnamed;        /* the unnamed statement's SQL */
    const pg_fake_reply *portal;
    int failed;           /* an error was sent: skip to Sync */
} pg_fake_conn;

static int pg_fake_read_full(int fd, void *b, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, (char *)b + got, n - got);
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

static int pg_fake_write_full(int fd, const void *b, size_t n)
{
    for (size_t done = 0; done < n;) {
        ssize_t r = write(fd, (const char *)b + done, n - done);
        if (r <= 0) return -1;
        done += (size_t)r;
    }
    return 0;
}

/* Sends one message: type, then big-endian length, then body. */
static int pg_fake_send(int fd, char type, const void *body, size_t n)
{
    char h[5];
    uint32_t len = htonl((uint32_t)(n + 4));
    h[0] = type;
    memcpy(h + 1, &len, 4);
    if (pg_fake_write_full(fd, h, 5) < 0) return -1;
    return n ? pg_fake_write_full(fd, body, n) : 0;
}

static void pg_fake_put16(char *p, int v) { uint16_t x = htons((uint16_t)v); memcpy(p, &x, 2); }
static void pg_fake_put32(char *p, int v) { uint32_t x = htonl((uint32_t)v); memcpy(p, &x, 4); }

static const pg_fake_reply *pg_fake_find(pg_fake *f, const char *sql)
{
    for (const pg_fake_reply *r = f->replies; r && r->match; r++)
        if (strstr(sql, r->match)) return r;
    return NULL;
}

static int pg_fake_error(pg_fake_conn *k, const char *msg)
{
    char b[512];
    int n = snprintf(b, sizeof b, "SERROR%cC42601%cM%s%c", 0, 0, msg, 0);
    b[n++] = 0;
    return pg_fake_send(k->fd, 'E', b, (size_t)n);
}

static int pg_fake_row_desc(pg_fake_conn *k, const pg_fake_reply *r)
{
    if (!r || r->kind != PG_FAKE_ROW) return pg_fake_send(k->fd, 'n', NULL, 0); /* NoData */
    char b[64];
    pg_fake_put16(b, 1);
    memcpy(b + 2, "v", 2);
    char *p = b + 4;
    pg_fake_put32(p, 0), p += 4;           /* table */
    pg_fake_put16(p, 0), p += 2;           /* column */
    pg_fake_put32(p, (int)r->type), p += 4;
    pg_fake_put16(p, -1), p += 2;          /* size */
    pg_fake_put32(p, -1), p += 4;          /* typmod */
    pg_fake_put16(p, r->format), p += 2;
    return pg_fake_send(k->fd, 'T', b, (size_t)(p - b));
}

static int pg_fake_rows(pg_fake_conn *k, const pg_fake_reply *r)
{
    if (r->kind == PG_FAKE_ROW) {
        size_t n = 6 + (size_t)(r->len > 0 ? r->len : 0);
        char *b = malloc(n);
        if (!b) return -1;
        pg_fake_put16(b, 1);
        pg_fake_put32(b + 2, r->len);
        if (r->len > 0) memcpy(b + 6, r->value, (size_t)r->len);
        int rc = pg_fake_send(k->fd, 'D', b, n);
        free(b);
        if (rc < 0) return rc;
    }
    return pg_fake_send(k->fd, 'C', r->tag, strlen(r->tag) + 1);
}

static int pg_fake_copy_read(pg_fake_conn *k, const pg_fake_reply *r);

/* COPY: CopyInResponse and read the data, or CopyOutResponse and one row. */
static int pg_fake_copy(pg_fake_conn *k, const pg_fake_reply *r)
{
    char b[3] = {0, 0, 0}; /* text format, no columns */
    if (r->kind == PG_FAKE_COPY_OUT) {
        if (pg_fake_send(k->fd, 'H', b, 3) < 0 || pg_fake_send(k->fd, 'd', "1\n", 2) < 0 ||
            pg_fake_send(k->fd, 'c', NULL, 0) < 0)
            return -1;
        return pg_fake_send(k->fd, 'C', r->tag, strlen(r->tag) + 1);
    }
    if (pg_fake_send(k->fd, 'G', b, 3) < 0) return -1;
    return pg_fake_copy_read(k, r);
}

/* The client's COPY data after a CopyInResponse, up to CopyDone or CopyFail. */
static int pg_fake_copy_read(pg_fake_conn *k, const pg_fake_reply *r)
{
    for (;;) {
        char h[5];
        if (pg_fake_read_full(k->fd, h, 5) < 0) return -1;
        uint32_t len;
        memcpy(&len, h + 1, 4);
        len = ntohl(len);
        if (len < 4) return -1;
        size_t n = len - 4;
        if (h[0] == 'd') {
            k->f->copy_bytes += (long long)n;
            if ((long long)n > k->f->copy_max_msg) k->f->copy_max_msg = (long long)n;
            if (!k->f->copy_min_msg || (long long)n < k->f->copy_min_msg)
                k->f->copy_min_msg = (long long)n;
        }
        char buf[65536];
        while (n) { /* skip the body */
            size_t m = n < sizeof buf ? n : sizeof buf;
            if (pg_fake_read_full(k->fd, buf, m) < 0) return -1;
            n -= m;
        }
        if (k->f->copy_close_after > 0 && k->f->copy_bytes >= k->f->copy_close_after) return -1;
        if (h[0] == 'c') return pg_fake_send(k->fd, 'C', r->tag, strlen(r->tag) + 1);
        if (h[0] == 'f') return pg_fake_error(k, "copy failed");
    }
}

static int pg_fake_raw(pg_fake_conn *k, const pg_fake_reply *r)
{
    if (pg_fake_write_full(k->fd, r->value, (size_t)r->len) < 0) return -1;
    return r->tag ? pg_fake_copy_read(k, r) : 0;
}

static int pg_fake_ready(pg_fake_conn *k)
{
    k->failed = 0;
    return pg_fake_send(k->fd, 'Z', "I", 1);
}

static const char *pg_fake_stmt(pg_fake_conn *k, const char *name)
{
    if (!*name) return k->unnamed;
    for (int i = 0; i < 64 && k->stmt_name[i]; i++)
        if (!strcmp(k->stmt_name[i], name)) return k->stmt_sql[i];
    return NULL;
}

/* One message of the extended or simple protocol. */
static int pg_fake_message(pg_fake_conn *k, char type, char *m, size_t n)
{
    if (type == 'X') return -1;
    if (type == 'S') return pg_fake_ready(k);
    if (type == 'H') return 0;
    if (k->failed) return 0; /* skipping to Sync */
    if (type == 'Q') {
        const pg_fake_reply *r = pg_fake_find(k->f, m);
        int rc;
        if (!r) rc = pg_fake_error(k, "pg_fake: no reply for this statement");
        else if (r->kind == PG_FAKE_COPY_IN || r->kind == PG_FAKE_COPY_OUT) rc = pg_fake_copy(k, r);
        else if (r->kind == PG_FAKE_RAW) rc = pg_fake_raw(k, r);
        else if ((rc = pg_fake_row_desc(k, r->kind == PG_FAKE_ROW ? r : NULL)) >= 0)
            rc = pg_fake_rows(k, r);
        if (rc < 0) return rc;
        return pg_fake_ready(k);
    }
    if (type == 'P') {
        const char *name = m, *sql = m + strlen(m) + 1;
        if (!*name) {
            free(k->unnamed);
            k->unnamed = strdup(sql);
        } else {
            int i = 0;
            while (i < 63 && k->stmt_name[i]) i++;
            k->stmt_name[i] = strdup(name);
            k->stmt_sql[i] = strdup(sql);
        }
        return pg_fake_send(k->fd, '1', NULL, 0);
    }
    if (type == 'B') {
        const char *stmt = m + strlen(m) + 1, *sql = pg_fake_stmt(k, stmt);
        k->portal = sql ? pg_fake_find(k->f, sql) : NULL;
        if (!k->portal) {
            k->failed = 1;
            return pg_fake_error(k, "pg_fake: no reply for this statement");
        }
        return pg_fake_send(k->fd, '2', NULL, 0);
    }
    if (type == 'D') {
        if (m[0] == 'S') {
            const char *sql = pg_fake_stmt(k, m + 1);
            char b[2] = {0, 0};
            if (pg_fake_send(k->fd, 't', b, 2) < 0) return -1;
            return pg_fake_row_desc(k, sql ? pg_fake_find(k->f, sql) : NULL);
        }
        return pg_fake_row_desc(k, k->portal);
    }
    if (type == 'E') {
        if (!k->portal) return pg_fake_error(k, "no portal");
        if (k->portal->kind == PG_FAKE_RAW) /* as given; no COPY data read here */
            return pg_fake_write_full(k->fd, k->portal->value, (size_t)k->portal->len);
        return pg_fake_rows(k, k->portal);
    }
    if (type == 'C') return pg_fake_send(k->fd, '3', NULL, 0);
    (void)n;
    return pg_fake_error(k, "pg_fake: unsupported message");
}

static void *pg_fake_conn_main(void *arg)
{
    pg_fake_conn *k = arg;
    char h[8];
    /* startup, after any SSLRequest / GSSENCRequest */
    for (;;) {
        if (pg_fake_read_full(k->fd, h, 8) < 0) goto out;
        uint32_t len, code;
        memcpy(&len, h, 4);
        memcpy(&code, h + 4, 4);
        len = ntohl(len), code = ntohl(code);
        if (code == 80877103 || code == 80877104) {
            if (pg_fake_write_full(k->fd, "N", 1) < 0) goto out;
            continue;
        }
        if (len < 8 || len > 10000) goto out;
        char rest[10000];
        if (pg_fake_read_full(k->fd, rest, len - 8) < 0) goto out;
        break;
    }
    char auth[4], key[8];
    pg_fake_put32(auth, 0);
    pg_fake_put32(key, 4242), pg_fake_put32(key + 4, 1);
    static const char enc[] = "client_encoding\0UTF8", ver[] = "server_version\0" "15.0";
    if (pg_fake_send(k->fd, 'R', auth, 4) < 0 || pg_fake_send(k->fd, 'S', enc, sizeof enc) < 0 ||
        pg_fake_send(k->fd, 'S', ver, sizeof ver) < 0 || pg_fake_send(k->fd, 'K', key, 8) < 0 ||
        pg_fake_ready(k) < 0)
        goto out;
    for (;;) {
        char t[5];
        if (pg_fake_read_full(k->fd, t, 5) < 0) break;
        uint32_t len;
        memcpy(&len, t + 1, 4);
        len = ntohl(len);
        if (len < 4 || len > (1u << 26)) break;
        char *m = malloc(len - 4 + 1);
        if (!m || pg_fake_read_full(k->fd, m, len - 4) < 0) {
            free(m);
            break;
        }
        m[len - 4] = 0;
        int rc = pg_fake_message(k, t[0], m, len - 4);
        free(m);
        if (rc < 0) break;
    }
out:
    close(k->fd);
    __atomic_fetch_sub(&k->f->open_conns, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 64; i++) free(k->stmt_name[i]), free(k->stmt_sql[i]);
    free(k->unnamed);
    free(k);
    return NULL;
}

static void *pg_fake_accept_main(void *arg)
{
    pg_fake *f = arg;
    for (;;) {
        int fd = accept(f->lfd, NULL, NULL);
        if (fd < 0) return NULL; /* listener shut down */
        pg_fake_conn *k = calloc(1, sizeof *k);
        pthread_t t;
        if (!k) {
            close(fd);
            continue;
        }
        k->f = f;
        k->fd = fd;
        __atomic_fetch_add(&f->open_conns, 1, __ATOMIC_SEQ_CST);
        if (pthread_create(&t, NULL, pg_fake_conn_main, k) != 0) {
            __atomic_fetch_sub(&f->open_conns, 1, __ATOMIC_SEQ_CST);
            close(fd);
            free(k);
            continue;
        }
        pthread_detach(t);
    }
}

/* Starts the server; 0 or -1. */
static int pg_fake_start(pg_fake *f, const pg_fake_reply *replies)
{
    memset(f, 0, sizeof *f);
    f->replies = replies;
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(f->lfd, 16) < 0 ||
        getsockname(f->lfd, (struct sockaddr *)&a, &al) < 0)
        return -1;
    f->port = ntohs(a.sin_port);
    return pthread_create(&f->th, NULL, pg_fake_accept_main, f) == 0 ? 0 : -1;
}

/* A dsn for it (no TLS, no password). */
static const char *pg_fake_dsn(const pg_fake *f, char *buf, size_t n)
{
    snprintf(buf, n, "host=127.0.0.1 port=%d user=fake dbname=fake sslmode=disable gssencmode=disable",
             f->port);
    return buf;
}

/* Waits (blocking, up to 5 s) until every connection's thread has closed
 * its socket, which follows its client's close: a test whose client went
 * away checks for leaked fds after this. 0, or -1 on timeout. */
static inline int pg_fake_wait_closed(pg_fake *f)
{
    for (int i = 0; i < 500 && __atomic_load_n(&f->open_conns, __ATOMIC_SEQ_CST); i++)
        usleep(10000);
    return __atomic_load_n(&f->open_conns, __ATOMIC_SEQ_CST) ? -1 : 0;
}

/* Stops accepting (connections still open end when their client closes). */
static void pg_fake_stop(pg_fake *f)
{
    shutdown(f->lfd, SHUT_RDWR);
    pthread_join(f->th, NULL);
    close(f->lfd);
}
#endif
