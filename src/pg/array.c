/* Arrays and records (composite values) from their wire bytes, text or
 * binary. Parsers of what a server sent: every count, dimension and length
 * is checked against the bytes left, so a hostile value cannot make weft
 * read past it or allocate more than its own size suggests. The decoded
 * object is one allocation (free()) holding copies of the elements, each
 * NUL-terminated, with bytea handed out decoded and numeric as text. No
 * libpq here (fuzz/fuzz_pg_values.c). */
#define _GNU_SOURCE
#include "pg_values.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Elements gathered before the final allocation: offsets into one growing
 * buffer (pointers would move with it). */
typedef struct item {
    size_t off;
    int len; /* -1: NULL */
    unsigned oid;
    int binary;
} item;

typedef struct gather {
    item *items;
    int n, cap;
    char *buf;
    size_t used, size;
} gather;

static void gather_free(gather *g)
{
    free(g->items);
    free(g->buf);
}

static int buf_room(gather *g, size_t n)
{
    if (n > (size_t)INT_MAX || g->used + n + 1 > (size_t)INT_MAX * 2u) return -EINVAL;
    if (g->used + n + 1 <= g->size) return 0;
    size_t size = g->size ? g->size : 256;
    while (size < g->used + n + 1) size *= 2;
    char *b = realloc(g->buf, size);
    if (!b) return -ENOMEM;
    g->buf = b;
    g->size = size;
    return 0;
}

/* Adds one element: data (len bytes, or NULL for SQL NULL) in its format,
 * normalized (bytea decoded, numeric as text). */
static int add(gather *g, const char *data, size_t len, unsigned oid, int binary)
{
    if (g->n == g->cap) {
        int cap = g->cap ? 2 * g->cap : 16;
        item *it = realloc(g->items, (size_t)cap * sizeof *it);
        if (!it) return -ENOMEM;
        g->items = it;
        g->cap = cap;
    }
    item *it = &g->items[g->n];
    it->oid = oid;
    it->binary = binary;
    it->len = -1;
    it->off = 0;
    if (!data) {
        g->n++;
        return 0;
    }
    char *owned = NULL;
    int rc = 0;
    if (oid == WEFT_PG_BYTEA && !binary) {
        size_t n;
        char *tmp = malloc(len + 1);
        if (!tmp) return -ENOMEM;
        memcpy(tmp, data, len);
        tmp[len] = 0;
        rc = pg__bytea_unescape(tmp, len, &owned, &n);
        free(tmp);
        if (rc < 0) return rc;
        data = owned;
        len = n;
        it->binary = 1;
    } else if (oid == WEFT_PG_NUMERIC && binary) {
        if (len > (size_t)INT_MAX) return -EINVAL;
        if ((rc = pg__numeric_text(data, (int)len, &owned)) < 0) return rc;
        data = owned;
        len = strlen(owned);
        it->binary = 0;
    }
    if ((rc = buf_room(g, len)) == 0) {
        memcpy(g->buf + g->used, data, len);
        g->buf[g->used + len] = 0;
        it->off = g->used;
        it->len = (int)len;
        g->used += len + 1;
        g->n++;
    }
    free(owned);
    return rc;
}

/* One block: head (head_size bytes, its value array at vals_off) then the
 * values, then the bytes. */
static void *finish(gather *g, size_t head_size, weft_pg_value **vals)
{
    size_t vsize = (size_t)g->n * sizeof(weft_pg_value);
    char *block = malloc(head_size + vsize + g->used + 1);
    if (!block) return NULL;
    memset(block, 0, head_size);
    weft_pg_value *v = (weft_pg_value *)(block + head_size);
    char *bytes = block + head_size + vsize;
    if (g->used) memcpy(bytes, g->buf, g->used);
    for (int i = 0; i < g->n; i++) {
        item *it = &g->items[i];
        v[i].data = it->len < 0 ? NULL : bytes + it->off;
        v[i].len = it->len;
        v[i].oid = it->oid;
        v[i].binary = it->binary;
    }
    *vals = v;
    return block;
}

static int32_t rd32(const char **p) /* caller checked 4 bytes */
{
    int32_t x = (int32_t)pg__be(*p, 4);
    *p += 4;
    return x;
}

/* ---- arrays ------------------------------------------------------------------------ */

static int array_binary(const weft_pg_value *v, gather *g, weft_pg_array *a)
{
    const char *p = v->data, *end = v->data + v->len;
    if (end - p < 12) return -EINVAL;
    int32_t ndim = rd32(&p), flags = rd32(&p);
    a->elem_oid = (unsigned)rd32(&p);
    if (ndim < 0 || ndim > WEFT_PG_MAXDIM || (flags != 0 && flags != 1)) return -EINVAL;
    if (end - p < 8 * (ptrdiff_t)ndim) return -EINVAL;
    int64_t n = ndim ? 1 : 0;
    for (int i = 0; i < ndim; i++) {
        a->dims[i] = rd32(&p);
        a->lbounds[i] = rd32(&p);
        if (a->dims[i] < 0) return -EINVAL;
        n *= a->dims[i];
        /* each element takes at least its 4-byte length */
        if (n > (end - p) / 4 + 1) return -EINVAL;
    }
    if (n > (end - p) / 4) return -EINVAL;
    a->ndim = n ? ndim : 0;
    a->n = (int)n;
    for (int64_t i = 0; i < n; i++) {
        if (end - p < 4) return -EINVAL;
        int32_t len = rd32(&p);
        if (len < -1 || len > end - p) return -EINVAL;
        int rc = add(g, len < 0 ? NULL : p, len < 0 ? 0 : (size_t)len, a->elem_oid, 1);
        if (rc < 0) return rc;
        if (len > 0) p += len;
    }
    return p == end ? 0 : -EINVAL;
}

typedef struct tparse {
    const char *p, *end;
    gather *g;
    weft_pg_array *a;
    int leaf; /* the depth elements sit at, -1 until the first */
    int seen[WEFT_PG_MAXDIM];
    char delim;
} tparse;

/* One element of a text array: quoted (backslash escapes) or bare (NULL
 * bare is SQL NULL). */
static int text_elem(tparse *t)
{
    char *tmp = malloc((size_t)(t->end - t->p) + 1), *q = tmp;
    if (!tmp) return -ENOMEM;
    int rc = -EINVAL, null = 0;
    if (t->p < t->end && *t->p == '"') {
        t->p++;
        for (;;) {
            if (t->p >= t->end) goto out;
            char ch = *t->p++;
            if (ch == '"') break;
            if (ch == '\\') {
                if (t->p >= t->end) goto out;
                ch = *t->p++;
            }
            *q++ = ch;
        }
    } else {
        while (t->p < t->end && *t->p != t->delim && *t->p != '}' && *t->p != '{' &&
               *t->p != '"' && *t->p != '\\')
            *q++ = *t->p++;
        if (q == tmp) goto out;
        null = q - tmp == 4 && !strncasecmp(tmp, "NULL", 4);
    }
    rc = add(t->g, null ? NULL : tmp, (size_t)(q - tmp), t->a->elem_oid, 0);
out:
    free(tmp);
    return rc;
}

static int text_level(tparse *t, int depth)
{
    if (depth >= WEFT_PG_MAXDIM) return -EINVAL;
    if (t->p >= t->end || *t->p != '{') return -EINVAL;
    t->p++;
    int count = 0, rc;
    if (t->p < t->end && *t->p == '}') {
        t->p++;
        return depth == 0 && t->leaf < 0 ? 1 : -EINVAL; /* 1: empty */
    }
    for (;;) {
        if (t->p < t->end && *t->p == '{') {
            if (t->leaf >= 0 && t->leaf <= depth) return -EINVAL;
            if ((rc = text_level(t, depth + 1)) < 0) return rc;
            if (rc == 1) return -EINVAL;
        } else {
            if (t->leaf < 0) t->leaf = depth;
            if (t->leaf != depth) return -EINVAL;
            if ((rc = text_elem(t)) < 0) return rc;
        }
        count++;
        if (t->p >= t->end) return -EINVAL;
        char ch = *t->p++;
        if (ch == '}') break;
        if (ch != t->delim) return -EINVAL;
    }
    if (!t->seen[depth]) {
        t->seen[depth] = 1;
        t->a->dims[depth] = count;
    } else if (t->a->dims[depth] != count) {
        return -EINVAL; /* not rectangular */
    }
    return 0;
}

static int array_text(const weft_pg_value *v, gather *g, weft_pg_array *a)
{
    tparse t = {v->data, v->data + v->len, g, a, -1, {0}, v->oid == 1020 ? ';' : ','};
    a->elem_oid = pg__array_elem(v->oid);
    for (int i = 0; i < WEFT_PG_MAXDIM; i++) a->lbounds[i] = 1;
    int nb = 0;
    if (t.p < t.end && *t.p == '[') { /* "[0:2][1:3]=" lower bounds */
        while (t.p < t.end && *t.p == '[') {
            if (nb >= WEFT_PG_MAXDIM) return -EINVAL;
            t.p++;
            char *e;
            errno = 0;
            long lo = strtol(t.p, &e, 10);
            if (e == t.p || e >= t.end || *e != ':' || errno || lo < INT_MIN || lo > INT_MAX)
                return -EINVAL;
            t.p = e + 1;
            long hi = strtol(t.p, &e, 10);
            if (e == t.p || e >= t.end || *e != ']' || errno || hi < lo - 1 || hi > INT_MAX)
                return -EINVAL;
            t.p = e + 1;
            a->lbounds[nb] = (int)lo;
            nb++;
        }
        if (t.p >= t.end || *t.p++ != '=') return -EINVAL;
    }
    int rc = text_level(&t, 0);
    if (rc < 0) return rc;
    if (t.p != t.end) return -EINVAL;
    if (rc == 1) { /* {} */
        a->ndim = 0;
        a->n = 0;
        return nb ? -EINVAL : 0;
    }
    a->ndim = t.leaf + 1;
    if (nb && nb != a->ndim) return -EINVAL;
    int64_t n = 1;
    for (int i = 0; i < a->ndim; i++) n *= a->dims[i];
    if (n != g->n) return -EINVAL;
    a->n = g->n;
    return 0;
}

/* A binary array whose elements are kept as they come (every type but
 * numeric, which is turned into text): validated and measured in one pass,
 * then copied into one block, with no gather to grow (P4's int4[100] rows
 * spent a third of their decode in the gather's reallocs and copies).
 * 1: not such an array, use the general path. */
static int array_binary_direct(const weft_pg_value *v, weft_pg_array **out)
{
    const char *p = v->data, *end = v->data + v->len;
    if (end - p < 12) return -EINVAL;
    weft_pg_array a = {0};
    int32_t ndim = rd32(&p), flags = rd32(&p);
    a.elem_oid = (unsigned)rd32(&p);
    if (a.elem_oid == WEFT_PG_NUMERIC) return 1;
    if (ndim < 0 || ndim > WEFT_PG_MAXDIM || (flags != 0 && flags != 1)) return -EINVAL;
    if (end - p < 8 * (ptrdiff_t)ndim) return -EINVAL;
    int64_t n = ndim ? 1 : 0;
    for (int i = 0; i < ndim; i++) {
        a.dims[i] = rd32(&p);
        a.lbounds[i] = rd32(&p);
        if (a.dims[i] < 0) return -EINVAL;
        n *= a.dims[i];
        if (n > (end - p) / 4 + 1) return -EINVAL; /* each element takes its 4-byte length */
    }
    if (n > (end - p) / 4) return -EINVAL;
    a.ndim = n ? ndim : 0;
    a.n = (int)n;
    const char *first = p;
    size_t bytes = 0;
    for (int64_t i = 0; i < n; i++) {
        if (end - p < 4) return -EINVAL;
        int32_t len = rd32(&p);
        if (len < -1 || len > end - p) return -EINVAL;
        if (len >= 0) {
            bytes += (size_t)len + 1; /* and a NUL, as every value has */
            p += len;
        }
    }
    if (p != end) return -EINVAL;
    size_t vsize = (size_t)n * sizeof(weft_pg_value);
    weft_pg_array *r = malloc(sizeof *r + vsize + bytes + 1);
    if (!r) return -ENOMEM;
    *r = a;
    weft_pg_value *vals = (weft_pg_value *)(r + 1);
    char *b = (char *)(vals + n);
    p = first;
    for (int64_t i = 0; i < n; i++) {
        int32_t len = rd32(&p);
        vals[i].oid = a.elem_oid;
        vals[i].binary = 1;
        vals[i].len = len;
        if (len < 0) {
            vals[i].data = NULL;
            continue;
        }
        if (len == 4) memcpy(b, p, 4); /* int4, float4, date: no call */
        else if (len == 8) memcpy(b, p, 8);
        else memcpy(b, p, (size_t)len);
        b[len] = 0;
        vals[i].data = b;
        b += len + 1;
        p += len;
    }
    r->elems = vals;
    *out = r;
    return 0;
}

int weft_pg_value_array(const weft_pg_value *v, weft_pg_array **out)
{
    if (!v || !out) return -EINVAL;
    *out = NULL;
    if (v->len < 0 || !v->data) return -WEFT_PG_ENULL;
    if (!v->binary && (v->len == 0 || (v->data[0] != '{' && v->data[0] != '[')))
        return -WEFT_PG_ETYPE;
    if (v->oid && !pg__array_elem(v->oid) && v->oid < 16384) return -WEFT_PG_ETYPE;
    if (v->binary) {
        int rc = array_binary_direct(v, out);
        if (rc <= 0) return rc;
    }
    gather g = {0};
    weft_pg_array a = {0};
    int rc = v->binary ? array_binary(v, &g, &a) : array_text(v, &g, &a);
    if (rc == 0) {
        weft_pg_value *vals;
        weft_pg_array *r = finish(&g, sizeof *r, &vals);
        if (!r) {
            rc = -ENOMEM;
        } else {
            *r = a;
            r->elems = vals;
            *out = r;
        }
    }
    gather_free(&g);
    return rc;
}

/* ---- records ----------------------------------------------------------------------- */

static int record_binary(const weft_pg_value *v, gather *g)
{
    const char *p = v->data, *end = v->data + v->len;
    if (end - p < 4) return -EINVAL;
    int32_t n = rd32(&p);
    if (n < 0 || n > (end - p) / 8) return -EINVAL;
    for (int32_t i = 0; i < n; i++) {
        if (end - p < 8) return -EINVAL;
        unsigned oid = (unsigned)rd32(&p);
        int32_t len = rd32(&p);
        if (len < -1 || len > end - p) return -EINVAL;
        int rc = add(g, len < 0 ? NULL : p, len < 0 ? 0 : (size_t)len, oid, 1);
        if (rc < 0) return rc;
        if (len > 0) p += len;
    }
    return p == end ? 0 : -EINVAL;
}

/* "(1,,"a ""b""",\"c)": empty unquoted is NULL; quotes doubled or
 * backslash-escaped inside quotes. */
static int record_text(const weft_pg_value *v, gather *g)
{
    const char *p = v->data, *end = v->data + v->len;
    if (end - p < 2 || *p != '(' || end[-1] != ')') return -EINVAL;
    p++;
    end--;
    char *tmp = malloc((size_t)(end - p) + 1);
    if (!tmp) return -ENOMEM;
    int rc = 0;
    for (;;) {
        char *q = tmp;
        int quoted = 0;
        while (p < end && *p != ',') {
            if (*p == '"') {
                quoted = 1;
                p++;
                for (;;) {
                    if (p >= end) { rc = -EINVAL; goto out; }
                    if (*p == '"') {
                        if (p + 1 < end && p[1] == '"') {
                            *q++ = '"';
                            p += 2;
                            continue;
                        }
                        p++;
                        break;
                    }
                    if (*p == '\\') {
                        if (++p >= end) { rc = -EINVAL; goto out; }
                    }
                    *q++ = *p++;
                }
            } else if (*p == '\\') {
                if (++p >= end) { rc = -EINVAL; goto out; }
                *q++ = *p++;
            } else {
                *q++ = *p++;
            }
        }
        int null = q == tmp && !quoted;
        if ((rc = add(g, null ? NULL : tmp, (size_t)(q - tmp), 0, 0)) < 0) goto out;
        if (p >= end) break;
        p++; /* ',' */
    }
out:
    free(tmp);
    return rc;
}

int weft_pg_value_record(const weft_pg_value *v, weft_pg_record **out)
{
    if (!v || !out) return -EINVAL;
    *out = NULL;
    if (v->len < 0 || !v->data) return -WEFT_PG_ENULL;
    if (!v->binary && (v->len == 0 || v->data[0] != '(')) return -WEFT_PG_ETYPE;
    gather g = {0};
    int rc = v->binary ? record_binary(v, &g) : record_text(v, &g);
    if (rc == 0) {
        weft_pg_value *vals;
        weft_pg_record *r = finish(&g, sizeof *r, &vals);
        if (!r) {
            rc = -ENOMEM;
        } else {
            r->n = g.n;
            r->fields = vals;
            *out = r;
        }
    }
    gather_free(&g);
    return rc;
}
