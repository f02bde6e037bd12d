/* The client's multipart/form-data bodies (RFC 7578, as browsers write
 * them: WHATWG's "multipart/form-data encoding algorithm"). Each part's
 * head is rendered when it is added and files are only opened and sized
 * then, so the body's length is known before a byte is sent; the body is
 * produced piece by piece as the connection takes it, files read with
 * pread off the loop. */
#define _GNU_SOURCE /* memmem */
#include "http/internal.h"
#include <weft/http_multipart.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fpart {
    char *head;              /* header lines and the blank line */
    size_t head_len;
    char *data;              /* memory parts */
    int fd;                  /* file parts: -1 for memory ones */
    uint64_t size;
} fpart;

struct weft_http_formdata {
    char boundary[48];
    char ctype[96];
    fpart *parts;
    size_t n, cap;
    /* where sending is: part cur, its piece (0 delimiter, 1 head, 2 data,
     * 3 CRLF), pos bytes into that piece; cur == n: the closing line */
    size_t cur;
    int piece;
    uint64_t pos;
};

static void new_boundary(weft_http_formdata *f)
{
    unsigned char r[16];
    arc4random_buf(r, sizeof r);
    char *p = f->boundary + sprintf(f->boundary, "weft-");
    for (size_t i = 0; i < sizeof r; i++) p += sprintf(p, "%02x", r[i]);
    snprintf(f->ctype, sizeof f->ctype, "multipart/form-data; boundary=%s", f->boundary);
}

/* 128 random bits make a boundary that a file holds by chance unlikely
 * beyond concern; memory parts are checked all the same, since a caller
 * may post what it got from elsewhere (an earlier form). */
static void check_boundary(weft_http_formdata *f)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->parts[i].fd < 0 && memmem(f->parts[i].data, f->parts[i].size, f->boundary,
                                         strlen(f->boundary))) {
            new_boundary(f);
            i = (size_t)-1; /* the new one is checked against every part */
        }
}

weft_http_formdata *weft_http_formdata_new(void)
{
    weft_http_formdata *f = calloc(1, sizeof *f);
    if (f) new_boundary(f);
    return f;
}

void weft_http_formdata_free(weft_http_formdata *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->parts[i].head);
        free(f->parts[i].data);
        if (f->parts[i].fd >= 0) close(f->parts[i].fd);
    }
    free(f->parts);
    free(f);
}

/* Appends s to b as a quoted parameter value, escaped as browsers do. */
static int add_quoted(weft__buf *b, const char *s)
{
    int r = weft__buf_str(b, "\"");
    for (; *s && !r; s++)
        r = *s == '"' ? weft__buf_str(b, "%22")
          : *s == '\r' ? weft__buf_str(b, "%0D")
          : *s == '\n' ? weft__buf_str(b, "%0A")
                       : weft__buf_add(b, s, 1);
    return r | weft__buf_str(b, "\"");
}

/* Adds a part; takes data (memory) or fd (file). */
static int add_part(weft_http_formdata *f, const char *name, const char *filename,
                    const char *ctype, char *data, int fd, uint64_t size)
{
    if (!name || (ctype && !weft__header_ok("Content-Type", ctype))) return -EINVAL;
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 8;
        fpart *p = realloc(f->parts, cap * sizeof *p);
        if (!p) return -ENOMEM;
        f->parts = p, f->cap = cap;
    }
    weft__buf b = {0};
    int r = weft__buf_str(&b, "Content-Disposition: form-data; name=");
    r |= add_quoted(&b, name);
    if (filename) r |= weft__buf_str(&b, "; filename=") | add_quoted(&b, filename);
    r |= weft__buf_str(&b, "\r\n");
    if (ctype) r |= weft__buf_fmt(&b, "Content-Type: %s\r\n", ctype);
    r |= weft__buf_str(&b, "\r\n");
    if (r) {
        weft__buf_free(&b);
        return -ENOMEM;
    }
    f->parts[f->n++] = (fpart){b.p, b.len, data, fd, size};
    if (data) check_boundary(f);
    return 0;
}

int weft_http_formdata_add(weft_http_formdata *f, const char *name, const char *value)
{
    if (!value) return -EINVAL;
    char *d = strdup(value);
    if (!d) return -ENOMEM;
    int r = add_part(f, name, NULL, NULL, d, -1, strlen(value));
    if (r) free(d);
    return r;
}

int weft_http_formdata_add_data(weft_http_formdata *f, const char *name, const char *filename,
                                const char *ctype, const void *data, size_t len)
{
    char *d = malloc(len ? len : 1);
    if (!d) return -ENOMEM;
    if (len) memcpy(d, data, len);
    int r = add_part(f, name, filename, ctype ? ctype : "application/octet-stream", d, -1, len);
    if (r) free(d);
    return r;
}

typedef struct open_job {
    const char *path;
    int fd;
    struct stat st;
} open_job;

static int open_sized(void *arg)
{
    open_job *j = arg;
    j->fd = open(j->path, O_RDONLY | O_CLOEXEC);
    if (j->fd < 0) return -errno;
    if (fstat(j->fd, &j->st)) return -errno;
    return S_ISDIR(j->st.st_mode) ? -EISDIR : S_ISREG(j->st.st_mode) ? 0 : -EINVAL;
}

int weft_http_formdata_add_file(weft_http_formdata *f, const char *name, const char *path,
                                const char *filename, const char *ctype)
{
    if (!path || !name) return -EINVAL;
    open_job j = {path, -1, {0}};
    int r = weft_to_thread(open_sized, &j);
    if (!r) {
        if (!filename) {
            const char *slash = strrchr(path, '/');
            filename = slash ? slash + 1 : path;
        }
        r = add_part(f, name, filename, ctype ? ctype : "application/octet-stream", NULL, j.fd,
                     (uint64_t)j.st.st_size);
    }
    if (r && j.fd >= 0) close(j.fd);
    return r;
}

int64_t weft_http_formdata_length(const weft_http_formdata *f)
{
    uint64_t bl = strlen(f->boundary), total = 2 + bl + 4; /* "--B--\r\n" */
    for (size_t i = 0; i < f->n; i++) total += 2 + bl + 2 + f->parts[i].head_len + f->parts[i].size + 2;
    return (int64_t)total;
}

const char *weft_http_formdata_content_type(const weft_http_formdata *f) { return f->ctype; }

/* Copies what is left of piece s[0..len) from f->pos into buf. */
static size_t put(weft_http_formdata *f, const char *s, size_t len, char *buf, size_t room)
{
    size_t k = len - (size_t)f->pos < room ? len - (size_t)f->pos : room;
    memcpy(buf, s + f->pos, k);
    f->pos += k;
    return k;
}

/* The body_fn: fills buf with the next bytes of the body. */
static ssize_t fill(void *arg, void *out, size_t n)
{
    weft_http_formdata *f = arg;
    char *buf = out, delim[64];
    size_t got = 0;
    int dl = snprintf(delim, sizeof delim, "--%s\r\n", f->boundary);
    while (got < n) {
        if (f->cur == f->n) {
            char end[64];
            int el = snprintf(end, sizeof end, "--%s--\r\n", f->boundary);
            if (f->pos >= (uint64_t)el) break;
            got += put(f, end, (size_t)el, buf + got, n - got);
            continue;
        }
        fpart *p = &f->parts[f->cur];
        size_t k = 0;
        if (f->piece == 0) k = put(f, delim, (size_t)dl, buf + got, n - got);
        else if (f->piece == 1) k = put(f, p->head, p->head_len, buf + got, n - got);
        else if (f->piece == 3) k = put(f, "\r\n", 2, buf + got, n - got);
        else if (p->fd < 0) k = put(f, p->data, p->size, buf + got, n - got);
        else if (f->pos < p->size) {
            size_t want = p->size - f->pos < n - got ? (size_t)(p->size - f->pos) : n - got;
            ssize_t r = weft_file_pread(p->fd, buf + got, want, (off_t)f->pos);
            if (r < 0) return r;
            if (r == 0) return -EIO; /* the file shrank since it was added */
            f->pos += (uint64_t)r;
            k = (size_t)r;
        } else {
            /* Whole: a byte more means it grew, and what was sent is not
             * the file any more. */
            char c;
            ssize_t r = weft_file_pread(p->fd, &c, 1, (off_t)p->size);
            if (r != 0) return r < 0 ? r : -EIO;
        }
        got += k;
        uint64_t plen = f->piece == 0 ? (uint64_t)dl : f->piece == 1 ? p->head_len
                      : f->piece == 2 ? p->size : 2;
        if (f->pos >= plen && !(f->piece == 2 && p->fd >= 0 && k)) {
            f->pos = 0;
            if (++f->piece == 4) f->piece = 0, f->cur++;
        }
    }
    return (ssize_t)got;
}

int weft_http_client_request_formdata(weft_http_client *c, const char *method, const char *url,
                                      weft_http_formdata *f, const weft_http_req_opts *opt,
                                      weft_http_response **out)
{
    *out = NULL;
    weft_http_req_opts o = opt ? *opt : (weft_http_req_opts){0};
    weft_http_header *hs = malloc((o.nheaders + 1) * sizeof *hs);
    if (!hs) return -ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < o.nheaders; i++)
        if (strcasecmp(o.headers[i].name, "content-type")) hs[n++] = o.headers[i];
    hs[n++] = (weft_http_header){"Content-Type", f->ctype};
    o.headers = hs, o.nheaders = n;
    o.body = NULL, o.body_len = 0;
    o.body_fn = fill, o.body_arg = f;
    o.body_size = weft_http_formdata_length(f);
    f->cur = 0, f->piece = 0, f->pos = 0;
    int e = weft_http_client_request(c, method, url, &o, out);
    free(hs);
    return e;
}
