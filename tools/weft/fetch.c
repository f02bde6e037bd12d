/* weft fetch: many URLs at once through one client session, at most N in
 * flight. One line per URL on stdout (status, bytes, seconds, URL), a live
 * progress bar on stderr when it is a terminal, a summary at the end. Exit
 * status 0 when every URL gave a 2xx, else 1. */
#include "cmd.h"
#include <weft/http.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fetch_state {
    char **urls;
    size_t n, next, done, ok, failed;
    unsigned long long bytes;
    int conc;
    double timeout, t0;
    const char *outdir;
    int bar;
    weft_http_client *c;
} fetch_state;

static void progress(fetch_state *st)
{
    if (!st->bar) return;
    int width = 30, fill = st->n ? (int)(width * st->done / st->n) : width;
    double el = weft_now() - st->t0;
    fprintf(stderr, "\r[%.*s%*s] %zu/%zu  %zu failed  %.1f MB  %.1f s ", fill,
            "##############################", width - fill, "", st->done, st->n, st->failed,
            st->bytes / 1e6, el);
    fflush(stderr);
}

/* DIR/<index>-<last path segment>: unique even when names repeat. */
static int open_out(fetch_state *st, size_t i, const char *url)
{
    const char *q = strpbrk(url, "?#");
    size_t len = q ? (size_t)(q - url) : strlen(url);
    const char *slash = url + len;
    while (slash > url && slash[-1] != '/') slash--;
    size_t nl = (size_t)(url + len - slash);
    char path[4096];
    if (nl == 0 || (nl > 200)) snprintf(path, sizeof path, "%s/%zu-index.html", st->outdir, i);
    else snprintf(path, sizeof path, "%s/%zu-%.*s", st->outdir, i, (int)nl, slash);
    return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

static int fetch_one(fetch_state *st, size_t i, unsigned long long *nbytes)
{
    weft_http_response *r;
    int e = weft_http_client_request(st->c, "GET", st->urls[i], NULL, &r);
    if (e < 0) return e;
    int fd = st->outdir ? open_out(st, i, st->urls[i]) : -1;
    if (st->outdir && fd < 0) e = -errno;
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
            ssize_t w = weft_file_pwrite(fd, buf, (size_t)n, off);
            if (w < 0) e = (int)w;
            off += n;
        }
    }
    if (fd >= 0) close(fd);
    int status = weft_http_response_status(r);
    weft_http_response_free(r);
    return e < 0 ? e : status;
}

static int worker(void *arg)
{
    fetch_state *st = arg;
    while (st->next < st->n) {
        size_t i = st->next++;
        double t = weft_now();
        unsigned long long nb = 0;
        int r = fetch_one(st, i, &nb);
        double dt = weft_now() - t;
        st->done++;
        st->bytes += nb;
        if (r >= 200 && r < 300) st->ok++;
        else st->failed++;
        if (st->bar) fprintf(stderr, "\r\033[K");
        if (r >= 0) printf("%d %llu %.3f %s\n", r, nb, dt, st->urls[i]);
        else printf("ERR %llu %.3f %s (%s)\n", nb, dt, st->urls[i], weft_strerror(r));
        if (st->bar) fflush(stdout);
        progress(st);
    }
    return 0;
}

static int fetch_main(void *arg)
{
    fetch_state *st = arg;
    weft_http_client_opts o = {.limit = (size_t)st->conc, .total_timeout_s = st->timeout};
    st->c = weft_http_client_new(&o);
    if (!st->c) return -errno;
    st->t0 = weft_now();
    size_t nw = (size_t)st->conc < st->n ? (size_t)st->conc : st->n;
    weft_task **ts = calloc(nw ? nw : 1, sizeof *ts);
    for (size_t i = 0; i < nw; i++) ts[i] = weft_spawn(worker, st);
    int r = weft_gather(ts, nw, NULL);
    free(ts);
    double el = weft_now() - st->t0;
    if (st->bar) fprintf(stderr, "\r\033[K");
    fprintf(stderr, "%zu URLs: %zu ok, %zu failed, %llu bytes in %.3f s (%.0f req/s, at most %d at once)\n",
            st->n, st->ok, st->failed, st->bytes, el, el > 0 ? st->n / el : 0.0, st->conc);
    weft_http_client_close(st->c);
    return r;
}

static int read_list(const char *file, fetch_state *st, size_t *cap)
{
    FILE *f = strcmp(file, "-") ? fopen(file, "r") : stdin;
    if (!f) return -errno;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) > 0) {
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
            line[--len] = 0;
        if (!len || line[0] == '#') continue;
        if (st->n == *cap) {
            *cap = *cap ? *cap * 2 : 64;
            st->urls = realloc(st->urls, *cap * sizeof *st->urls);
        }
        st->urls[st->n++] = strdup(line);
    }
    free(line);
    if (f != stdin) fclose(f);
    return 0;
}

int weft_cmd_fetch(int argc, char **argv)
{
    fetch_state st = {.conc = 10};
    size_t cap = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-c") && i + 1 < argc) st.conc = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-o") && i + 1 < argc) st.outdir = argv[++i];
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) st.timeout = atof(argv[++i]);
        else if (!strcmp(argv[i], "-i") && i + 1 < argc) {
            if (read_list(argv[++i], &st, &cap) < 0) {
                fprintf(stderr, "weft fetch: cannot read %s\n", argv[i]);
                return 2;
            }
        } else if (argv[i][0] != '-') {
            if (st.n == cap) {
                cap = cap ? cap * 2 : 64;
                st.urls = realloc(st.urls, cap * sizeof *st.urls);
            }
            st.urls[st.n++] = strdup(argv[i]);
        } else {
            fprintf(stderr, "weft fetch: bad argument %s\n", argv[i]);
            return 2;
        }
    }
    if (st.n == 0 || st.conc < 1) {
        fprintf(stderr, "usage: weft fetch [-c N] [-o DIR] [--timeout S] URL... | -i FILE\n");
        return 2;
    }
    st.bar = isatty(2);
    int r = weft_run(fetch_main, &st);
    for (size_t i = 0; i < st.n; i++) free(st.urls[i]);
    free(st.urls);
    return r < 0 || st.failed ? 1 : 0;
}
