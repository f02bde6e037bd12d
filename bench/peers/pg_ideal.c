/* P3's ceiling: an "ideal client" with almost no client cost, to tell how
 * much of P3 the server allows. Not weft: libpq only connects and prepares
 * the statement; the batch is then written as raw protocol messages.
 *
 *   WEFT_PG_DSN=... pg_ideal P3 SECONDS [CONNECTIONS [ideal|text|describe|libpq]]
 *
 * Each of CONNECTIONS connections (sslmode=disable: raw socket access needs
 * a plain link) repeatedly gets one precomputed pipelined batch of the same
 * 1,000 `INSERT INTO weft_bench_p3 VALUES ($1, $2)` as bench_pg_bench P3,
 * and one Sync; one thread polls the sockets, and the replies are only
 * scanned for CommandComplete ('C'), ErrorResponse ('E') and ReadyForQuery
 * ('Z'). Mode "ideal" (default) sends what asyncpg's executemany sends per
 * row: Bind (binary parameters) + Execute. Mode "libpq" sends what libpq's
 * PQsendQueryPrepared sends in pipeline mode (weft's batch path): Bind (text
 * parameters) + Describe(portal) + Execute, so the two modes measure what
 * those extra bytes cost the server; "text" and "describe" add one of the
 * two each. Prints a line in bench_pg_bench's format, system `ideal`,
 * `ideal-text`, `ideal-describe` or `ideal-libpq`. */
#define _GNU_SOURCE
#include <libpq-fe.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ROWS 1000
#define MAXC 64

typedef struct buf {
    char *d;
    size_t n, cap;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2;
        b->d = realloc(b->d, b->cap);
        if (!b->d) abort();
    }
    memcpy(b->d + b->n, p, n);
    b->n += n;
}
static void put8(buf *b, char c) { put(b, &c, 1); }
static void put16(buf *b, int v)
{
    uint16_t x = htons((uint16_t)v);
    put(b, &x, 2);
}
static void put32(buf *b, int v)
{
    uint32_t x = htonl((uint32_t)v);
    put(b, &x, 4);
}
static void putstr(buf *b, const char *s) { put(b, s, strlen(s) + 1); }
/* Patches the length of the message that starts at byte `at` (its type). */
static void endmsg(buf *b, size_t at)
{
    uint32_t x = htonl((uint32_t)(b->n - at - 1));
    memcpy(b->d + at + 1, &x, 4);
}

enum { TEXT_PARAMS = 1, DESCRIBE = 2 }; /* what libpq sends that asyncpg does not */

static void make_batch(buf *b, int style)
{
    static const char text[] = "a row of the batch";
    for (int i = 0; i < ROWS; i++) {
        size_t at = b->n;
        put8(b, 'B');
        put32(b, 0);
        putstr(b, "");    /* unnamed portal */
        putstr(b, "p3");  /* the prepared statement */
        if (style & TEXT_PARAMS) {
            char num[16];
            int n = snprintf(num, sizeof num, "%d", i);
            put16(b, 2); /* parameter formats: text, text (what weft sends) */
            put16(b, 0);
            put16(b, 0);
            put16(b, 2);
            put32(b, n);
            put(b, num, (size_t)n);
        } else {
            put16(b, 1); /* one format for all: binary (what asyncpg sends) */
            put16(b, 1);
            put16(b, 2);
            put32(b, 4);
            put32(b, i);
        }
        put32(b, (int)strlen(text));
        put(b, text, strlen(text));
        put16(b, style ? 1 : 0); /* result formats (libpq sends one) */
        if (style) put16(b, 0);
        endmsg(b, at);
        if (style & DESCRIBE) {
            at = b->n;
            put8(b, 'D');
            put32(b, 0);
            put8(b, 'P');
            putstr(b, "");
            endmsg(b, at);
        }
        at = b->n;
        put8(b, 'E');
        put32(b, 0);
        putstr(b, "");
        put32(b, 0);
        endmsg(b, at);
    }
    size_t at = b->n;
    put8(b, 'S');
    put32(b, 0);
    endmsg(b, at);
}

typedef struct conn {
    PGconn *pg;
    int fd;
    size_t sent;      /* bytes of the batch written */
    int done;         /* CommandCompletes seen in this batch */
    char in[65536];
    size_t inn;       /* bytes buffered, not yet a whole message */
} conn;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_seconds(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec +
           u.ru_stime.tv_usec / 1e6;
}

/* Scans whole messages in c->in. Returns batches completed (0 or 1). */
static int scan(conn *c, long *rows)
{
    size_t off = 0;
    int batches = 0;
    while (c->inn - off >= 5) {
        uint32_t len;
        memcpy(&len, c->in + off + 1, 4);
        len = ntohl(len);
        if (c->inn - off < 1 + (size_t)len) break;
        char type = c->in[off];
        if (type == 'C') {
            c->done++;
            (*rows)++;
        } else if (type == 'E') {
            fprintf(stderr, "pg_ideal: server error: %.*s\n", (int)len - 4, c->in + off + 5);
            exit(1);
        } else if (type == 'Z') {
            if (c->done != ROWS) {
                fprintf(stderr, "pg_ideal: batch ended after %d rows\n", c->done);
                exit(1);
            }
            c->done = 0;
            c->sent = 0;
            batches++;
        }
        off += 1 + len;
    }
    memmove(c->in, c->in + off, c->inn - off);
    c->inn -= off;
    return batches;
}

/* Runs every connection until deadline; returns batches completed. */
static long run(conn *cs, int n, const buf *batch, double deadline, long *rows)
{
    struct pollfd pf[MAXC];
    long batches = 0;
    int active = n;
    int stopping[MAXC] = {0};
    while (active > 0) {
        for (int i = 0; i < n; i++) {
            pf[i].fd = stopping[i] ? -1 : cs[i].fd;
            pf[i].events = POLLIN | (cs[i].sent < batch->n ? POLLOUT : 0);
        }
        if (poll(pf, (nfds_t)n, 1000) < 0 && errno != EINTR) {
            perror("poll");
            exit(1);
        }
        for (int i = 0; i < n; i++) {
            conn *c = &cs[i];
            if (stopping[i]) continue;
            if ((pf[i].revents & POLLOUT) && c->sent < batch->n) {
                ssize_t w = send(c->fd, batch->d + c->sent, batch->n - c->sent, MSG_DONTWAIT);
                if (w > 0) c->sent += (size_t)w;
                else if (w < 0 && errno != EAGAIN) {
                    perror("send");
                    exit(1);
                }
            }
            if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t r = recv(c->fd, c->in + c->inn, sizeof c->in - c->inn, MSG_DONTWAIT);
                if (r == 0) {
                    fprintf(stderr, "pg_ideal: connection closed\n");
                    exit(1);
                }
                if (r < 0 && errno != EAGAIN) {
                    perror("recv");
                    exit(1);
                }
                if (r > 0) {
                    c->inn += (size_t)r;
                    if (scan(c, rows)) {
                        batches++;
                        if (now() >= deadline) {
                            stopping[i] = 1;
                            active--;
                        }
                    }
                }
            }
        }
    }
    return batches;
}

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

int main(int argc, char **argv)
{
    const char *dsn = getenv("WEFT_PG_DSN");
    if (argc < 3 || !dsn || strcmp(argv[1], "P3")) {
        fprintf(stderr, "usage: WEFT_PG_DSN=... %s P3 SECONDS [CONNECTIONS [ideal|text|describe|libpq]]\n",
                argv[0]);
        return 2;
    }
    double seconds = atof(argv[2]);
    int n = argc > 3 ? atoi(argv[3]) : 10;
    static const char *const modes[] = {"ideal", "text", "describe", "libpq"};
    int style = 0;
    for (int m = 0; m < 4 && argc > 4; m++)
        if (!strcmp(argv[4], modes[m])) style = m;
    if (n < 1 || n > MAXC) return 2;
    char full[1024];
    snprintf(full, sizeof full, "%s sslmode=disable", dsn); /* the last value wins */
    conn *cs = calloc((size_t)n, sizeof *cs);
    for (int i = 0; i < n; i++) {
        cs[i].pg = PQconnectdb(full);
        if (PQstatus(cs[i].pg) != CONNECTION_OK) {
            fprintf(stderr, "pg_ideal: %s", PQerrorMessage(cs[i].pg));
            return 1;
        }
        PQsetNoticeProcessor(cs[i].pg, quiet, NULL); /* "table does not exist, skipping" */
        if (i == 0) {
            PGresult *r = PQexec(cs[0].pg, "DROP TABLE IF EXISTS weft_bench_p3;"
                                           " CREATE UNLOGGED TABLE weft_bench_p3(a int, b text)");
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                fprintf(stderr, "pg_ideal: %s", PQerrorMessage(cs[0].pg));
                return 1;
            }
            PQclear(r);
        }
        PGresult *r = PQprepare(cs[i].pg, "p3", "INSERT INTO weft_bench_p3 VALUES ($1, $2)", 0,
                                NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "pg_ideal: prepare: %s", PQerrorMessage(cs[i].pg));
            return 1;
        }
        PQclear(r);
        cs[i].fd = PQsocket(cs[i].pg);
    }
    buf batch = {0};
    make_batch(&batch, style);
    long rows = 0;
    run(cs, n, &batch, now() + 0.5, &rows); /* warm-up, as the other clients */
    rows = 0;
    double t0 = now(), cpu0 = cpu_seconds();
    long q = run(cs, n, &batch, t0 + seconds, &rows);
    double el = now() - t0, cpu = cpu_seconds() - cpu0;
    printf("P3 %s queries_per_s=%.0f rows_per_s=%.0f client_cpu_us_per_query=%.1f conns=%d"
           " seconds=%.1f\n",
           style ? (const char *[]){"", "ideal-text", "ideal-describe", "ideal-libpq"}[style] : "ideal", q / el, rows / el, cpu * 1e6 / q, n, el);
    for (int i = 0; i < n; i++) PQfinish(cs[i].pg);
    free(batch.d);
    free(cs);
    return 0;
}
