/* weft_process_communicate: feed stdin while draining stdout and stderr.
 *
 * One task per pipe, in a group: a child that writes a lot to stderr before
 * reading its stdin (or fills stdout while we are still writing) never
 * deadlocks, because every pipe always has a task on it. The readers append
 * straight into the caller's weft_process_output, so what arrived before a
 * deadline or a cancellation stays there and a second call continues. */
#include <weft/io.h>
#include <weft.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define OUTPUT_MAX ((size_t)1 << 30) /* -EFBIG past this: a runaway child */
#define READ_CHUNK 65536

typedef struct {
    weft_process *p;
    const char *input;
    size_t len;
    weft_process_output *res;
} comm;

typedef struct {
    weft_stream *s;
    char **buf;
    size_t *len;
} reader;

/* Room for n more bytes plus the NUL; the buffer stays valid on failure. */
static int reserve(char **buf, size_t len, size_t *cap, size_t n)
{
    if (len + n + 1 <= *cap) return 0;
    size_t want = *cap ? *cap : 4096;
    while (want < len + n + 1) want *= 2;
    char *nb = realloc(*buf, want);
    if (!nb) return -ENOMEM;
    *buf = nb;
    *cap = want;
    return 0;
}

static int read_all(void *arg)
{
    reader *rd = arg;
    /* The capacity is not kept between calls: a second call starts from
     * the exact size, which realloc keeps. */
    size_t cap = *rd->buf ? *rd->len + 1 : 0;
    for (;;) {
        if (*rd->len >= OUTPUT_MAX) return -EFBIG;
        int e = reserve(rd->buf, *rd->len, &cap, READ_CHUNK);
        if (e) return e;
        ssize_t r = weft_stream_read(rd->s, *rd->buf + *rd->len, cap - 1 - *rd->len);
        if (r < 0) return (int)r;
        (*rd->buf)[*rd->len + (size_t)r] = 0;
        if (r == 0) return 0;
        *rd->len += (size_t)r;
    }
}

static int write_all(void *arg)
{
    comm *c = arg;
    weft_stream *in = weft_process_stdin(c->p);
    ssize_t w = c->len ? weft_stream_write(in, c->input, c->len) : 0;
    int e = weft_process_close_stdin(c->p);
    if (w < 0) e = (int)w;
    /* A child that exits without reading all its input is not an error
     * (Python ignores BrokenPipeError here too). */
    return e == -EPIPE || e == -ECONNRESET ? 0 : e;
}

static int communicate(void *arg)
{
    comm *c = arg;
    weft_process_output *res = c->res;
    weft_group *g = weft_group_new();
    if (!g) return -ENOMEM;
    reader rd[2] = {
        {weft_process_stdout(c->p), &res->out, &res->out_len},
        {weft_process_stderr(c->p), &res->err, &res->err_len},
    };
    int e = 0;
    if (weft_process_stdin(c->p)) e = weft_group_spawn(g, write_all, c);
    for (int i = 0; i < 2 && !e; i++) {
        if (!rd[i].s) continue;
        /* A pipe that was never read still yields "" rather than NULL. */
        size_t cap = *rd[i].buf ? *rd[i].len + 1 : 0;
        e = reserve(rd[i].buf, *rd[i].len, &cap, 0);
        if (!e) e = weft_group_spawn(g, read_all, &rd[i]);
    }
    int ge = weft_group_wait(g);
    if (e) return e;
    if (ge) return ge;
    return weft_process_wait(c->p);
}

int weft_process_communicate(weft_process *p, const void *input, size_t len,
                             weft_process_output *res, double timeout_s)
{
    int e = weft_check("weft_process_communicate");
    if (e) return e;
    if (!p || (len && !input)) return -EINVAL;
    weft_process_output scratch = {0};
    comm c = {p, input, len, res ? res : &scratch};
    int r = timeout_s < 0 ? communicate(&c) : weft_timeout(timeout_s, communicate, &c);
    /* Stdin is closed whatever happened (the writer closes it even when
     * cancelled; here for a writer that never started): input is dropped. */
    if (weft_process_stdin(p)) weft_process_close_stdin(p);
    weft_process_output_free(&scratch);
    return r;
}

void weft_process_output_free(weft_process_output *res)
{
    if (!res) return;
    free(res->out);
    free(res->err);
    memset(res, 0, sizeof *res);
}
