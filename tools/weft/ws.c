/* weft ws URL: a wscat-like WebSocket client, and a load tool.
 *   each line of stdin goes out as a text message; each message received
 *   is printed (text on its own line, binary as its bytes); at the end of
 *   stdin a close is sent and what arrives is printed until the server's
 *   close. --binary sends all of stdin as one binary message.
 *   -n N --concurrency C [--size B]: C connections send N messages of B
 *   bytes each (default 64), one at a time, and wait for each echo; prints
 *   messages/s and latency percentiles.
 * Exit status 0 when everything was sent and the close was clean. */
#include "cmd.h"
#include <weft/ws.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct ws_args {
    const char *url;
    int binary, insecure;
    long n, conc;
    size_t size;
    /* load mode */
    double *lat;             /* n * conc round-trip times */
    long done, failed;
} ws_args;

static weft_http_client *session(const ws_args *a, weft_tls_ctx **tls)
{
    weft_http_client_opts o = {.connect_timeout_s = 10};
    *tls = NULL;
    if (a->insecure) {
        weft_tls_opts to = {.insecure = 1};
        o.tls = *tls = weft_tls_client_ctx(&to);
    }
    return weft_http_client_new(&o);
}

/* Prints every message until the close (0) or an error. */
static int printer(void *arg)
{
    weft_ws *ws = arg;
    weft_ws_msg m;
    int t;
    while ((t = weft_ws_receive(ws, &m)) > 0) {
        fwrite(m.data, 1, m.len, stdout);
        if (t == WEFT_WS_TEXT) fputc('\n', stdout);
        fflush(stdout);
    }
    return t;
}

static int send_stdin(ws_args *a, weft_ws *ws)
{
    weft_stream *in = weft_stream_from_fd(dup(0));
    if (!in) return -errno;
    weft_stream_set_limit(in, 1 << 20);
    int r = 0;
    if (a->binary) {
        char *all = NULL;
        size_t len = 0;
        char buf[65536];
        ssize_t n;
        while ((n = weft_stream_read(in, buf, sizeof buf)) > 0) {
            char *p = realloc(all, len + (size_t)n);
            if (!p) {
                n = -ENOMEM;
                break;
            }
            all = p;
            memcpy(all + len, buf, (size_t)n);
            len += (size_t)n;
        }
        r = n < 0 ? (int)n : weft_ws_send(ws, WEFT_WS_BINARY, all, len);
        free(all);
    } else {
        static char line[1 << 20];
        ssize_t n;
        while ((n = weft_stream_read_line(in, line, sizeof line)) > 0 ||
               n == -WEFT_EINCOMPLETE) {
            if (n == -WEFT_EINCOMPLETE) { /* a last line without its newline */
                n = weft_stream_read(in, line, sizeof line);
                if (n <= 0) break;
            } else {
                n--;
            }
            if (n > 0 && line[n - 1] == '\r') n--;
            if ((r = weft_ws_send(ws, WEFT_WS_TEXT, line, (size_t)n)) < 0) break;
        }
        if (n < 0 && n != -WEFT_EINCOMPLETE && !r) r = (int)n;
    }
    weft_stream_close(in);
    return r;
}

static int interactive(ws_args *a)
{
    weft_tls_ctx *tls;
    weft_http_client *c = session(a, &tls);
    weft_ws *ws;
    int r = weft_ws_connect(c, a->url, NULL, &ws);
    if (r < 0) {
        int st = weft_ws_connect_status();
        fprintf(stderr, "weft ws: %s: %s", a->url, weft_strerror(r));
        if (st) fprintf(stderr, " (HTTP %d)", st);
        fputc('\n', stderr);
        weft_http_client_close(c);
        weft_tls_ctx_free(tls);
        return r;
    }
    /* Eager: reading before anything is sent, so echoes are printed, not
     * left to weft_ws_close (which discards what comes before the peer's
     * close) when stdin is a file and the lines all go without a wait. */
    weft_task *pr = weft_spawn_eager(printer, ws);
    int sent = send_stdin(a, ws);
    int closed = weft_ws_close(ws, 1000, NULL);
    int got = weft_await(pr);
    int code = weft_ws_close_code(ws);
    if (code && (code != 1000 || weft_ws_close_reason(ws)[0]))
        fprintf(stderr, "weft ws: closed by the server: %d %s\n", code, weft_ws_close_reason(ws));
    if (sent < 0) fprintf(stderr, "weft ws: send: %s\n", weft_strerror(sent));
    if (got < 0) fprintf(stderr, "weft ws: %s\n", weft_strerror(got));
    else if (closed < 0 && closed != -WEFT_EWS_CLOSED)
        fprintf(stderr, "weft ws: close: %s\n", weft_strerror(closed));
    weft_ws_free(ws);
    weft_http_client_close(c);
    weft_tls_ctx_free(tls);
    int ok = sent >= 0 && got >= 0 && (closed >= 0 || closed == -WEFT_EWS_CLOSED) &&
             (code == 1000 || code == 1005);
    return ok ? 0 : -1;
}

/* ---- load mode ------------------------------------------------------------- */

typedef struct load_conn {
    ws_args *a;
    weft_http_client *c;
    long idx;
} load_conn;

static int load_one(void *arg)
{
    load_conn *lc = arg;
    ws_args *a = lc->a;
    weft_ws *ws;
    int r = weft_ws_connect(lc->c, a->url, NULL, &ws);
    if (r < 0) {
        a->failed += a->n;
        return r;
    }
    char *msg = malloc(a->size + 1);
    memset(msg, 'x', a->size);
    for (long i = 0; i < a->n; i++) {
        weft_ws_msg m;
        double t0 = weft_now();
        if ((r = weft_ws_send(ws, WEFT_WS_TEXT, msg, a->size)) < 0) break;
        if ((r = weft_ws_receive(ws, &m)) != WEFT_WS_TEXT || m.len != a->size) {
            if (r >= 0) r = -WEFT_EWS_PROTOCOL;
            break;
        }
        a->lat[lc->idx * a->n + i] = weft_now() - t0;
        a->done++;
    }
    if (r < 0) a->failed += 1;
    int cr = weft_ws_close(ws, 1000, NULL);
    weft_ws_free(ws);
    free(msg);
    return r < 0 ? r : cr;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static int load(ws_args *a)
{
    weft_tls_ctx *tls;
    weft_http_client *c = session(a, &tls);
    a->lat = calloc((size_t)(a->n * a->conc), sizeof *a->lat);
    load_conn *lc = calloc((size_t)a->conc, sizeof *lc);
    weft_group *g = weft_group_new();
    if (!c || !a->lat || !lc || !g) return -ENOMEM;
    double t0 = weft_now();
    int *res = calloc((size_t)a->conc, sizeof *res);
    for (long i = 0; i < a->conc; i++) {
        lc[i] = (load_conn){a, c, i};
        weft_group_spawn_into(g, load_one, &lc[i], &res[i]);
    }
    weft_group_wait(g);
    double el = weft_now() - t0;
    long n = a->done;
    double *lat = a->lat;
    long k = 0;
    for (long i = 0; i < a->n * a->conc; i++)
        if (lat[i] > 0) lat[k++] = lat[i];
    qsort(lat, (size_t)k, sizeof *lat, cmp_double);
#define PCT(p) (k ? lat[(long)((p) * (k - 1))] * 1e3 : 0.0)
    printf("%ld messages in %.3f s over %ld connections: %.0f messages/s\n", n, el, a->conc,
           el > 0 ? n / el : 0.0);
    printf("round trip ms: p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n", PCT(0.5), PCT(0.9),
           PCT(0.99), PCT(1.0));
#undef PCT
    int bad = 0;
    for (long i = 0; i < a->conc; i++) bad |= res[i] < 0;
    if (bad) fprintf(stderr, "weft ws: %ld connection(s) failed\n", a->failed);
    free(res);
    free(lc);
    free(a->lat);
    weft_http_client_close(c);
    weft_tls_ctx_free(tls);
    return bad || n != a->n * a->conc ? -1 : 0;
}

static int ws_main(void *arg)
{
    ws_args *a = arg;
    return a->n ? load(a) : interactive(a);
}

const char weft_ws_usage[] =
    "usage: weft ws [--binary] [-k] URL\n"
    "       weft ws -n N --concurrency C [--size B] URL\n"
    "  WebSocket client: stdin lines out as text messages, messages received printed\n"
    "      --binary          send all of stdin as one binary message\n"
    "  -k, --insecure        do not check the server's certificate\n"
    "  load mode: C connections send N messages of B bytes each, each echo awaited\n"
    "  -n N                  messages per connection\n"
    "  -c, --concurrency C   connections (default 1)\n"
    "      --size B          bytes per message (default 64)\n"
    "  -h, --help            this text;  -V, --version  the version\n";

/* -1 to go on, else the exit status (see fetch.c's parse). */
static int parse(int argc, char **argv, ws_args *a)
{
    static const struct option opts[] = {
        {"binary", no_argument, 0, 'b'},           {"insecure", no_argument, 0, 'k'},
        {"concurrency", required_argument, 0, 'c'}, {"size", required_argument, 0, 's'},
        WEFT_CMD_COMMON_OPTS,                       {0, 0, 0, 0}};
    long size = 64;
    int c;
    while ((c = getopt_long(argc, argv, ":kn:c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'b': a->binary = 1; break;
        case 'k': a->insecure = 1; break;
        case 'n':
            if (weft_cmd_long("ws", "-n", optarg, 1, 1L << 30, &a->n) < 0) return WEFT_CMD_USAGE;
            break;
        case 'c':
            if (weft_cmd_long("ws", "--concurrency", optarg, 1, 100000, &a->conc) < 0)
                return WEFT_CMD_USAGE;
            break;
        case 's':
            if (weft_cmd_long("ws", "--size", optarg, 0, 1L << 30, &size) < 0) return WEFT_CMD_USAGE;
            break;
        case 'h': fputs(weft_ws_usage, stdout); return 0;
        case 'V': return weft_cmd_version();
        default: return weft_cmd_bad_option("ws", c, argv, opts, weft_ws_usage);
        }
    }
    a->size = (size_t)size;
    if (optind < argc) a->url = argv[optind++];
    if (!a->url) return weft_cmd_usage_error("ws", "no URL given", weft_ws_usage);
    if (optind < argc) {
        char what[256];
        snprintf(what, sizeof what, "one URL only (%.100s is extra)", argv[optind]);
        return weft_cmd_usage_error("ws", what, weft_ws_usage);
    }
    if (a->conc && !a->n)
        return weft_cmd_usage_error("ws", "--concurrency needs -n (load mode)", weft_ws_usage);
    if (a->n && !a->conc) a->conc = 1;
    return -1;
}

int weft_cmd_ws(int argc, char **argv)
{
    ws_args a = {0};
    int status = parse(argc, argv, &a);
    if (status >= 0) return status;
    return weft_run(ws_main, &a) < 0 ? 1 : 0;
}
