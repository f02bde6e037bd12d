/* Static files: sendfile on plain streams, Range (one range), conditional
 * GET by ETag and modification time, compression when the server asks. Which file a request path names is decided by
 * static_open.c, beneath the served directory. open/fstat run on the
 * loop's thread: they are a few microseconds on a local disk, far less
 * than a hop to the thread pool. */
#define _GNU_SOURCE /* O_PATH */
#include "http/server_internal.h"
#include "http/static_open.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct static_dir {
    char root[PATH_MAX]; /* realpath of the directory, taken once */
} static_dir;

static const char *mime_type(const char *path)
{
    static const char *const map[][2] = {
        {".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"},
        {".txt", "text/plain; charset=utf-8"}, {".css", "text/css"},
        {".js", "text/javascript"},            {".json", "application/json"},
        {".png", "image/png"},                 {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},               {".gif", "image/gif"},
        {".svg", "image/svg+xml"},             {".ico", "image/x-icon"},
        {".pdf", "application/pdf"},           {".wasm", "application/wasm"},
        {".md", "text/markdown; charset=utf-8"},
    };
    const char *dot = strrchr(path, '.');
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            if (!strcasecmp(dot, map[i][0])) return map[i][1];
    return "application/octet-stream";
}

/* Parses a single "bytes=" range against size. 1: *off and *len set; 0: no
 * usable range (send everything); -1: unsatisfiable (416). */
static int parse_range(const char *v, off_t size, off_t *off, off_t *len)
{
    if (strncmp(v, "bytes=", 6) || strchr(v, ',')) return 0;
    v += 6;
    char *end;
    if (*v == '-') {
        long long n = strtoll(v + 1, &end, 10);
        if (*end || n <= 0 || v[1] < '0' || v[1] > '9') return 0;
        if (size == 0) return -1;
        if (n > size) n = size;
        *off = size - n;
        *len = n;
        return 1;
    }
    if (*v < '0' || *v > '9') return 0;
    long long a = strtoll(v, &end, 10), b;
    if (*end != '-') return 0;
    if (end[1] == 0) b = size - 1;
    else {
        if (end[1] < '0' || end[1] > '9') return 0;
        b = strtoll(end + 1, &end, 10);
        if (*end || b < a) return 0;
        if (b >= size) b = size - 1;
    }
    if (a >= size) return -1;
    *off = a;
    *len = b - a + 1;
    return 1;
}

static int send_body(weft_http_request *req, int fd, off_t off, off_t len)
{
    weft__conn *c = req->c;
    /* Asked of this stream, not of the server's options: a TLS stream can
     * come through weft_http_server_serve_stream on a server without
     * o.tls, and sendfile would put the file on it in clear (issue 10
     * item 9). TLS encrypts in user space: read and write. */
    if (weft_stream_is_tls(c->s) || req->zcoding) { /* zcoding: compressed on the way */
        char buf[16384];
        while (len > 0) {
            ssize_t n = pread(fd, buf, len < (off_t)sizeof buf ? (size_t)len : sizeof buf, off);
            if (n <= 0) return n ? -errno : -EIO;
            ssize_t w = weft_http_reply_write(req, buf, (size_t)n);
            if (w < 0) return (int)w;
            off += n, len -= n;
        }
        return 0;
    }
    int r = weft__reply_flush(c);
    if (r == 0) r = weft_stream_drain(c->s);
    if (r < 0) return r;
    while (len > 0) {
        c->state = C_WRITE; /* each wait bounded like any write (see reply.c) */
        c->deadline = weft_now() + c->srv->o.body_timeout_s;
        ssize_t n = weft_stream_sendfile(c->s, fd, &off, (size_t)len);
        c->state = C_HANDLER;
        if (n == 0) return -EIO; /* the file shrank under us */
        if (n < 0) return (int)n;
        len -= n;
        req->sent += (uint64_t)n;
    }
    req->remaining = 0;
    return 0;
}

/* Sends the open regular file fd (st: its fstat) as the response, then
 * closes it. */
static int respond_fd(weft_http_request *req, int fd, const struct stat *st, const char *ctype)
{
    char lm[40], etag[64];
    weft__http_fmt_date(st->st_mtime, lm);
    /* nginx's form: a file replaced by one of the same size and second
     * still gets a new tag most of the time (the nanoseconds are in). */
    snprintf(etag, sizeof etag, "\"%llx-%llx-%lx\"", (unsigned long long)st->st_mtime,
             (unsigned long long)st->st_size, (unsigned long)st->st_mtim.tv_nsec);
    weft_http_reply_header(req, "ETag", etag);
    weft_http_reply_header(req, "Last-Modified", lm);
    if (weft__not_modified(req, etag, st->st_mtime)) {
        close(fd);
        return weft_http_respond(req, 304, NULL, NULL, 0);
    }
    off_t off = 0, len = st->st_size;
    int status = 200;
    const char *range = weft_http_request_header(req, "range");
    char cr[96];
    if (range) {
        int pr = parse_range(range, st->st_size, &off, &len);
        if (pr < 0) {
            close(fd);
            snprintf(cr, sizeof cr, "bytes */%lld", (long long)st->st_size);
            weft_http_reply_header(req, "Content-Range", cr);
            return weft_http_respond(req, 416, NULL, NULL, 0);
        }
        if (pr > 0) {
            status = 206;
            snprintf(cr, sizeof cr, "bytes %lld-%lld/%lld", (long long)off,
                     (long long)(off + len - 1), (long long)st->st_size);
            weft_http_reply_header(req, "Content-Range", cr);
        }
    }
    weft_http_reply_header(req, "Accept-Ranges", "bytes");
    int r = weft_http_reply_start(req, status, ctype, len);
    if (r == 0 && !req->is_head) r = send_body(req, fd, off, len);
    if (req->is_head) req->remaining = 0;
    close(fd);
    if (r < 0) req->keep_alive = 0;
    return r;
}

/* The status for a file that could not be opened: a path that names
 * nothing servable is 404 whatever the reason (an escape attempt learns
 * nothing), a permission problem 403, running out of fds 503. */
static int open_error_status(int e)
{
    if (e == -EACCES || e == -EPERM) return 403;
    if (e == -EMFILE || e == -ENFILE || e == -ENOMEM) return 503;
    return 404;
}

int weft_http_respond_file(weft_http_request *req, const char *path)
{
    int e = weft_check("weft_http_respond_file");
    if (e) return e;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return weft__reply_simple(req, open_error_status(-errno), NULL);
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return weft__reply_simple(req, 404, NULL);
    }
    return respond_fd(req, fd, &st, mime_type(path));
}

static int static_handler(weft_http_request *req, void *arg)
{
    static_dir *d = arg;
    const char *rel = weft_http_request_param(req, "path");
    if (strcmp(req->h->method, "GET") && !req->is_head) {
        weft_http_reply_header(req, "Allow", "GET, HEAD");
        return weft__reply_simple(req, 405, NULL);
    }
    /* The root by its path on each request, as before: a directory put in
     * its place (a deploy by rename) is served from then on. */
    int rootfd = open(d->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) return weft__reply_simple(req, open_error_status(-errno), NULL);
    char dec[PATH_MAX];
    struct stat st;
    int fd = weft__static_open(rootfd, rel ? rel : "", 0, dec, sizeof dec, &st);
    close(rootfd);
    if (fd < 0) return weft__reply_simple(req, open_error_status(fd), NULL);
    return respond_fd(req, fd, &st, mime_type(dec));
}

int weft_http_server_static(weft_http_server *srv, const char *prefix, const char *dir)
{
    static_dir *d = calloc(1, sizeof *d);
    if (!d) return -ENOMEM;
    if (!realpath(dir, d->root)) {
        int e = -errno;
        free(d);
        return e;
    }
    char pat[PATH_MAX];
    size_t pl = strlen(prefix);
    while (pl && prefix[pl - 1] == '/') pl--;
    snprintf(pat, sizeof pat, "%.*s/{path...}", (int)pl, prefix);
    int r = weft_http_server_route(srv, "*", pat, static_handler, d);
    if (r < 0) {
        free(d);
        return r;
    }
    weft__route *last = srv->routes;
    while (last->next) last = last->next;
    last->own_arg = 1; /* freed with the routes */
    if (r == 0) {
        snprintf(pat, sizeof pat, "%.*s/", (int)pl, prefix);
        r = weft_http_server_route(srv, "*", pl ? pat : "/", static_handler, d);
    }
    return r;
}
