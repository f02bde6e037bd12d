/* weft fetch: many URLs at once through one client session, at most N in
 * flight. One line per URL on stdout (status, bytes, seconds, URL), a live
 * progress bar on stderr when it is a terminal, a summary at the end. Exit
 * status 0 when every URL gave a 2xx, else 1.
 *
 * With -o DIR each body goes to DIR/<index>-<last path segment>, created
 * new (O_EXCL|O_NOFOLLOW beneath DIR's descriptor): an existing file or a
 * symlink there is never written through or replaced, the URL fails with
 * "File exists" instead (a list from elsewhere must not be able to aim
 * writes at files the user owns; use a fresh directory). A body that fails
 * half-way is removed, so a file left in DIR is a whole one. URLs are
 * printed with control and non-ASCII bytes escaped (\xNN), since a hostile
 * -i list could otherwise drive the terminal.
 *
 * With -v each request's phases go to stderr as the client's trace events
 * report them, "*<index>" first: DNS, each connect attempt, TLS, whether
 * the connection was new or reused, the request sent, the response head
 * (time to first byte), redirects; each with its duration or its time
 * since the request started.
 *
 * With --loops N (default: one per CPU it may run on, at most -c) the work is
 * spread over N loops, each with a session of its own (a session belongs to
 * the loop that made it) and its share of the -c workers; they take URLs
 * from one shared counter, so a slow loop takes fewer. */
#include "cmd.h"
#include <weft/http.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fetch_state {
    char **urls;
    size_t n, next, done, ok, failed; /* shared by the loops: atomics */
    unsigned long long bytes;
    int conc, loops;
    double timeout, t0;
    const char *outdir;
    int dirfd;               /* outdir, opened once */
    int bar;
    int verbose;
} fetch_state;

/* One loop's part: its session and its workers. */
typedef struct fetch_part {
    fetch_state *st;
    weft_http_client *c;
    int workers;
} fetch_part;

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define ADD(x, v) __atomic_fetch_add(&(x), (v), __ATOMIC_RELAXED)

/* One request's timings for -v. */
typedef struct trace_state {
    size_t index;
    double t0, dns, conn, tls, sent;
} trace_state;

static void print_url(FILE *f, const char *u);

static void print_addr(const struct sockaddr *sa)
{
    char host[NI_MAXHOST];
    if (weft_getnameinfo(sa, sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                     : sizeof(struct sockaddr_in),
                         host, sizeof host, NI_NUMERICHOST) < 0)
        snprintf(host, sizeof host, "?");
    int port = ntohs(sa->sa_family == AF_INET6 ? ((const struct sockaddr_in6 *)sa)->sin6_port
                                               : ((const struct sockaddr_in *)sa)->sin_port);
    fprintf(stderr, sa->sa_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, port);
}

static void print_err(int err)
{
    if (err) fprintf(stderr, " failed: %s", weft_strerror(err));
    fputc('\n', stderr);
}

#define MS(t) (((t)) * 1e3)

/* The session's trace function: one stderr line per phase. */
static void trace_fn(void *arg, const weft_http_trace_info *ev)
{
    (void)arg;
    trace_state *t = ev->ctx;
    double now = ev->time;
    fprintf(stderr, "*%zu ", t->index);
    switch (ev->event) {
    case WEFT_HTTP_TRACE_REQUEST_START:
        t->t0 = now;
        fprintf(stderr, "%s ", ev->method);
        print_url(stderr, ev->url);
        fputc('\n', stderr);
        return;
    case WEFT_HTTP_TRACE_DNS_START: t->dns = now; fprintf(stderr, "  dns %s ...\n", ev->host); return;
    case WEFT_HTTP_TRACE_DNS_END:
        fprintf(stderr, "  dns %s %.3f ms", ev->host, MS(now - t->dns));
        break;
    case WEFT_HTTP_TRACE_CONNECT_START:
        t->conn = now;
        fprintf(stderr, "  connect ");
        print_addr(ev->addr);
        fprintf(stderr, " ...\n");
        return;
    case WEFT_HTTP_TRACE_CONNECT_END:
        fprintf(stderr, "  connect ");
        print_addr(ev->addr);
        fprintf(stderr, " %.3f ms", MS(now - t->conn));
        break;
    case WEFT_HTTP_TRACE_TLS_START: t->tls = now; fprintf(stderr, "  tls ...\n"); return;
    case WEFT_HTTP_TRACE_TLS_END: fprintf(stderr, "  tls %.3f ms", MS(now - t->tls)); break;
    case WEFT_HTTP_TRACE_CONN_REUSED: fprintf(stderr, "  connection reused\n"); return;
    case WEFT_HTTP_TRACE_CONN_CREATE_START: fprintf(stderr, "  new connection\n"); return;
    case WEFT_HTTP_TRACE_CONN_CREATED:
        fprintf(stderr, "  connection %s at %.3f ms", ev->error ? "lost" : "ready",
                MS(now - t->t0));
        break;
    case WEFT_HTTP_TRACE_REQUEST_SENT:
        t->sent = now;
        fprintf(stderr, "  request sent at %.3f ms\n", MS(now - t->t0));
        return;
    case WEFT_HTTP_TRACE_RESPONSE_HEADERS:
        fprintf(stderr, "  %d headers at %.3f ms (waited %.3f ms)\n", ev->status,
                MS(now - t->t0), MS(now - t->sent));
        return;
    case WEFT_HTTP_TRACE_REDIRECT:
        fprintf(stderr, "  redirect %d to ", ev->status);
        print_url(stderr, ev->location);
        fputc('\n', stderr);
        return;
    case WEFT_HTTP_TRACE_REQUEST_END:
        fprintf(stderr, "  done at %.3f ms", MS(now - t->t0));
        break;
    default: fprintf(stderr, "  %s\n", weft_http_trace_name(ev->event)); return;
    }
    print_err(ev->error);
}

static void progress(fetch_state *st)
{
    if (!st->bar) return;
    size_t done = LOAD(st->done);
    int width = 30, fill = st->n ? (int)(width * done / st->n) : width;
    double el = weft_now() - st->t0;
    fprintf(stderr, "\r[%.*s%*s] %zu/%zu  %zu failed  %.1f MB  %.1f s ", fill,
            "##############################", width - fill, "", done, st->n, LOAD(st->failed),
            LOAD(st->bytes) / 1e6, el);
    fflush(stderr);
}

/* <index>-<last path segment>: unique even when names repeat. */
static void out_name(size_t i, const char *url, char *name, size_t cap)
{
    const char *q = strpbrk(url, "?#");
    size_t len = q ? (size_t)(q - url) : strlen(url);
    const char *slash = url + len;
    while (slash > url && slash[-1] != '/') slash--;
    size_t nl = (size_t)(url + len - slash);
    if (nl == 0 || nl > 200) snprintf(name, cap, "%zu-index.html", i);
    else snprintf(name, cap, "%zu-%.*s", i, (int)nl, slash);
}

/* Every byte or an error: a short pwrite (disk full, RLIMIT_FSIZE) must
 * not leave a hole or a cut file that looks whole. */
static int pwrite_all(int fd, const char *buf, size_t n, off_t off)
{
    while (n) {
        ssize_t w = weft_file_pwrite(fd, buf, n, off);
        if (w < 0) return (int)w;
        if (w == 0) return -EIO;
        buf += w, n -= (size_t)w, off += w;
    }
    return 0;
}

static int fetch_one(fetch_state *st, weft_http_client *c, size_t i, unsigned long long *nbytes)
{
    weft_http_response *r;
    trace_state ts = {.index = i};
    weft_http_req_opts ro = {.trace_ctx = &ts};
    int e = weft_http_client_request(c, "GET", st->urls[i], &ro, &r);
    if (e < 0) return e;
    char name[256];
    int fd = -1;
    if (st->outdir) {
        out_name(i, st->urls[i], name, sizeof name);
        fd = openat(st->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0) e = -errno;
    }
    static __thread char buf[65536];
    off_t off = 0;
    while (e >= 0) {
        ssize_t n = weft_http_response_read(r, buf, sizeof buf);
        if (n <= 0) {
            if (n < 0) e = (int)n;
            break;
        }
        *nbytes += (unsigned long long)n;
        if (fd >= 0) {
            e = pwrite_all(fd, buf, (size_t)n, off);
            off += n;
        }
    }
    if (fd >= 0) {
        if (close(fd) < 0 && e >= 0) e = -errno;
        if (e < 0) unlinkat(st->dirfd, name, 0);
    }
    int status = weft_http_response_status(r);
    weft_http_response_free(r);
    return e < 0 ? e : status;
}

/* The URL with control bytes, DEL, backslash and non-ASCII as \xNN. */
/* u with its control bytes escaped and without its "user:pass@": the
 * output may end up in a log or a bug report, the password must not. */
static void print_url(FILE *f, const char *u)
{
    const char *sep = strstr(u, "://"), *auth = sep ? sep + 3 : u, *at = NULL;
    for (size_t i = 0, n = strcspn(auth, "/?#"); i < n; i++)
        if (auth[i] == '@') at = auth + i;
    for (const unsigned char *p = (const unsigned char *)u; *p; p++) {
        if (at && p == (const unsigned char *)auth) p = (const unsigned char *)at + 1;
        if (!*p) break;
        if (*p < 0x20 || *p >= 0x7f || *p == '\\') fprintf(f, "\\x%02x", *p);
        else fputc(*p, f);
    }
}

static int worker(void *arg)
{
    fetch_part *part = arg;
    fetch_state *st = part->st;
    size_t i;
    while ((i = ADD(st->next, 1)) < st->n) {
        double t = weft_now();
        unsigned long long nb = 0;
        int r = fetch_one(st, part->c, i, &nb);
        double dt = weft_now() - t;
        ADD(st->bytes, nb);
        if (r >= 200 && r < 300) ADD(st->ok, 1);
        else ADD(st->failed, 1);
        ADD(st->done, 1);
        /* One write per line: other loops print theirs meanwhile. */
        char line[256];
        if (r >= 0) snprintf(line, sizeof line, "%d %llu %.3f ", r, nb, dt);
        else snprintf(line, sizeof line, "ERR %llu %.3f ", nb, dt);
        flockfile(stdout);
        if (st->bar) fprintf(stderr, "\r\033[K");
        fputs(line, stdout);
        print_url(stdout, st->urls[i]);
        if (r >= 0) fputs("\n", stdout);
        else printf(" (%s)\n", weft_strerror(r));
        if (st->bar) fflush(stdout);
        progress(st);
        funlockfile(stdout);
    }
    return 0;
}

/* On each loop: a session of its own and its share of the workers. */
static int fetch_loop(void *arg)
{
    fetch_part *part = arg;
    fetch_state *st = part->st;
    weft_http_client_opts o = {.limit = (size_t)part->workers, .total_timeout_s = st->timeout,
                               .trace = st->verbose ? trace_fn : NULL};
    part->c = weft_http_client_new(&o);
    if (!part->c) return -errno;
    weft_task **ts = calloc((size_t)part->workers, sizeof *ts);
    if (!ts) {
        weft_http_client_close(part->c);
        return -ENOMEM;
    }
    for (int i = 0; i < part->workers; i++) ts[i] = weft_spawn(worker, part);
    int r = weft_gather(ts, (size_t)part->workers, NULL);
    free(ts);
    weft_http_client_close(part->c);
    return r;
}

static int fetch_main(void *arg)
{
    fetch_state *st = arg;
    int nl = weft_loop_count();
    fetch_part *parts = calloc((size_t)nl, sizeof *parts);
    weft_task **ts = calloc((size_t)nl, sizeof *ts);
    if (!parts || !ts) {
        free(parts);
        free(ts);
        return -ENOMEM;
    }
    st->t0 = weft_now();
    for (int i = 0; i < nl; i++) {
        parts[i] = (fetch_part){.st = st, .workers = st->conc / nl + (i < st->conc % nl)};
        ts[i] = weft_spawn_on(weft_loop_at(i), fetch_loop, &parts[i]);
    }
    int r = weft_gather(ts, (size_t)nl, NULL);
    free(ts);
    free(parts);
    double el = weft_now() - st->t0;
    if (st->bar) fprintf(stderr, "\r\033[K");
    fprintf(stderr, "%zu URLs: %zu ok, %zu failed, %llu bytes in %.3f s (%.0f req/s, at most %d at "
            "once, on %d loop%s)\n",
            st->n, st->ok, st->failed, st->bytes, el, el > 0 ? st->n / el : 0.0, st->conc, nl,
            nl == 1 ? "" : "s");
    return r;
}

/* Appends a copy of url to the list. 0 or -ENOMEM. */
static int add_url(fetch_state *st, size_t *cap, const char *url)
{
    if (st->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        char **u = realloc(st->urls, ncap * sizeof *u);
        if (!u) return -ENOMEM;
        st->urls = u, *cap = ncap;
    }
    char *copy = strdup(url);
    if (!copy) return -ENOMEM;
    st->urls[st->n++] = copy;
    return 0;
}

static int read_list(const char *file, fetch_state *st, size_t *cap)
{
    FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
    if (!f) return -errno;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    int e = 0;
    while (!e && (len = getline(&line, &lcap, f)) > 0) {
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
            line[--len] = 0;
        if (!len || line[0] == '#') continue;
        e = add_url(st, cap, line);
    }
    if (!e && ferror(f)) e = -EIO;
    free(line);
    if (f != stdin) fclose(f);
    return e;
}

const char weft_fetch_usage[] =
    "usage: weft fetch [-v] [-c N] [--loops N] [-o DIR] [--timeout S] URL... | -i FILE\n"
    "  fetch URLs concurrently, through a client session per loop\n"
    "  -v, --verbose        each request's phases (DNS, connect, TLS...) timed on stderr\n"
    "  -c, --concurrency N  at most N at once (default 10)\n"
    "      --loops N        spread over N loops (default: one per CPU, at most -c)\n"
    "  -o, --output DIR     each body to DIR/<index>-<name>, created new\n"
    "      --timeout S      give up on a request after S seconds in all\n"
    "  -i, --input FILE     URLs from FILE, one a line ('-': stdin, '#': comment)\n"
    "  -h, --help           this text;  -V, --version  the version\n";

/* Parses argv into st: -1 to go on, else the exit status (0 for --help
 * and --version, 2 for bad usage). */
static int parse(int argc, char **argv, fetch_state *st, size_t *cap)
{
    static const struct option opts[] = {
        {"concurrency", required_argument, 0, 'c'}, {"output", required_argument, 0, 'o'},
        {"timeout", required_argument, 0, 't'},     {"input", required_argument, 0, 'i'},
        {"loops", required_argument, 0, 'L'},
        {"verbose", no_argument, 0, 'v'},           WEFT_CMD_COMMON_OPTS,
        {0, 0, 0, 0}};
    long conc = 10, loops = 0;
    int c, e;
    /* '-': URLs come back in place (as 1), so -i lists and URLs keep the
     * order they were given in. */
    while ((c = getopt_long(argc, argv, "-:c:o:i:vhV", opts, NULL)) != -1) {
        switch (c) {
        case 1:
            if (add_url(st, cap, optarg) < 0) {
                fprintf(stderr, "weft fetch: out of memory\n");
                return WEFT_CMD_USAGE;
            }
            break;
        case 'c':
            if (weft_cmd_long("fetch", "-c", optarg, 1, 100000, &conc) < 0) return WEFT_CMD_USAGE;
            break;
        case 'L':
            if (weft_cmd_long("fetch", "--loops", optarg, 1, 1024, &loops) < 0) return WEFT_CMD_USAGE;
            break;
        case 'o': st->outdir = optarg; break;
        case 'v': st->verbose = 1; break;
        case 't':
            if (weft_cmd_double("fetch", "--timeout", optarg, 0, 1e9, &st->timeout) < 0)
                return WEFT_CMD_USAGE;
            break;
        case 'i':
            if ((e = read_list(optarg, st, cap)) < 0) {
                fprintf(stderr, "weft fetch: cannot read %s: %s\n", optarg, weft_strerror(e));
                return WEFT_CMD_USAGE;
            }
            break;
        case 'h': fputs(weft_fetch_usage, stdout); return 0;
        case 'V': return weft_cmd_version();
        default: return weft_cmd_bad_option("fetch", c, argv, opts, weft_fetch_usage);
        }
    }
    st->conc = (int)conc;
    st->loops = (int)loops;
    if (st->n == 0) return weft_cmd_usage_error("fetch", "no URL given", weft_fetch_usage);
    if (st->outdir) {
        st->dirfd = open(st->outdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (st->dirfd < 0) {
            fprintf(stderr, "weft fetch: cannot open %s: %s\n", st->outdir, strerror(errno));
            return WEFT_CMD_USAGE;
        }
    }
    return -1;
}

int weft_cmd_fetch(int argc, char **argv)
{
    fetch_state st = {.dirfd = -1};
    size_t cap = 0;
    int status = parse(argc, argv, &st, &cap);
    if (status < 0) {
        st.bar = isatty(2) && !st.verbose; /* the bar would overwrite the trace */
        /* Every core by default, but no loop without a worker. */
        weft_options o = {.loops = st.loops > 0 ? st.loops : weft_cpu_count()};
        if (o.loops > st.conc) o.loops = st.conc;
        if (o.loops < 1) o.loops = 1;
        int r = weft_run_with(&o, fetch_main, &st);
        status = r < 0 || st.failed ? 1 : 0;
    }
    if (st.dirfd >= 0) close(st.dirfd);
    for (size_t i = 0; i < st.n; i++) free(st.urls[i]);
    free(st.urls);
    return status;
}
