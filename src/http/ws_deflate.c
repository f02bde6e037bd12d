/* permessage-deflate (RFC 7692): the negotiation of its parameters and the
 * zlib streams behind it.
 *
 * Receiving always inflates with a 32 KiB window: it reads data made with
 * any smaller one, so what the peer's compressor agreed to does not matter
 * to us, and we never ask the peer for no_context_takeover. Sending uses
 * the window agreed and resets the compressor after each message when
 * no_context_takeover was agreed for our side. A window of 8 bits is
 * declined (an offer naming it is skipped; an answer naming it fails the
 * handshake): zlib compresses with 9 at least, which a peer that asked for
 * 8 may not be able to read. */
#include "http/ws_internal.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <zlib.h>

/* ---- negotiation ------------------------------------------------------------- */

/* Parses one extension's parameters (after its name, up to ',' or end).
 * Returns 0, or -1 for an unknown, repeated or badly valued parameter. */
static int parse_params(const char **sp, weft__ws_pmd *p)
{
    const char *s = *sp;
    int seen = 0;
    p->server_bits = p->client_bits = 15;
    p->server_no_takeover = p->client_no_takeover = p->client_bits_asked = 0;
    int ok = 0;
    for (;;) {
        while (*s == ' ' || *s == '\t') s++;
        if (!*s || *s == ',') break;
        if (*s != ';') return ok = -1;
        s++;
        while (*s == ' ' || *s == '\t') s++;
        const char *name = s;
        while (*s && *s != '=' && *s != ';' && *s != ',' && *s != ' ' && *s != '\t') s++;
        size_t nl = (size_t)(s - name);
        while (*s == ' ' || *s == '\t') s++;
        int val = -1;
        if (*s == '=') {
            s++;
            while (*s == ' ' || *s == '\t') s++;
            int quoted = *s == '"';
            if (quoted) s++;
            if (*s < '0' || *s > '9') return -1;
            val = 0;
            while (*s >= '0' && *s <= '9' && val < 100) val = val * 10 + (*s++ - '0');
            if (quoted && *s++ != '"') return -1;
            if (val < 8 || val > 15) return -1;
        }
#define IS(lit) (nl == sizeof(lit) - 1 && !strncasecmp(name, lit, nl))
        int bit;
        if (IS("server_no_context_takeover") && val < 0) bit = 1, p->server_no_takeover = 1;
        else if (IS("client_no_context_takeover") && val < 0) bit = 2, p->client_no_takeover = 1;
        else if (IS("server_max_window_bits") && val >= 0) bit = 4, p->server_bits = val;
        else if (IS("client_max_window_bits")) {
            bit = 8;
            p->client_bits_asked = 1;
            if (val >= 0) p->client_bits = val;
        } else return -1;
#undef IS
        if (seen & bit) return -1;
        seen |= bit;
    }
    *sp = s;
    return ok;
}

int weft__ws_pmd_parse(const char *value, int server, weft__ws_pmd *p)
{
    memset(p, 0, sizeof *p);
    const char *s = value;
    while (s && *s) {
        while (*s == ' ' || *s == '\t' || *s == ',') s++;
        const char *name = s;
        while (*s && *s != ';' && *s != ',' && *s != ' ' && *s != '\t') s++;
        int pmd = (size_t)(s - name) == 18 && !strncasecmp(name, "permessage-deflate", 18);
        weft__ws_pmd q;
        int bad = parse_params(&s, &q);
        if (bad) {
            /* A broken answer fails the handshake; a broken offer is skipped. */
            if (pmd && !server) return -1;
            while (*s && *s != ',') s++;
            continue;
        }
        if (!pmd) {
            if (!server) return -1; /* an extension we never offered */
            continue;
        }
        if (server) {
            if (q.server_bits == 8) continue;
            /* We compress with what the client allows and never restrict
             * what it sends (we inflate any window). */
            q.client_bits = 15;
        } else if (q.client_bits == 8) {
            return -1;
        }
        if (q.client_bits == 8) q.client_bits = 9;
        *p = q;
        p->on = 1;
        return 1;
    }
    return 0;
}

void weft__ws_pmd_format(const weft__ws_pmd *p, int server, char *out, size_t cap)
{
    if (!server) {
        /* We can compress with any window the server names. */
        snprintf(out, cap, "permessage-deflate; client_max_window_bits");
        return;
    }
    char bits[40] = "";
    if (p->server_bits < 15) snprintf(bits, sizeof bits, "; server_max_window_bits=%d", p->server_bits);
    snprintf(out, cap, "permessage-deflate%s%s%s", p->server_no_takeover ? "; server_no_context_takeover" : "",
             p->client_no_takeover ? "; client_no_context_takeover" : "", bits);
}

/* ---- inflating ------------------------------------------------------------------ */

struct weft__ws_zrx {
    z_stream z;
    weft__buf in;
    size_t off;
};

weft__ws_zrx *weft__ws_zrx_new(void)
{
    weft__ws_zrx *z = calloc(1, sizeof *z);
    if (!z) return NULL;
    if (inflateInit2(&z->z, -15) != Z_OK) {
        free(z);
        return NULL;
    }
    return z;
}

void weft__ws_zrx_free(weft__ws_zrx *z)
{
    if (!z) return;
    inflateEnd(&z->z);
    weft__buf_free(&z->in);
    free(z);
}

void weft__ws_zrx_reset(weft__ws_zrx *z)
{
    inflateReset(&z->z);
    z->off = z->in.len = 0;
}

int weft__ws_zrx_feed(weft__ws_zrx *z, const void *in, size_t n)
{
    if (z->off == z->in.len) z->off = z->in.len = 0;
    return weft__buf_add(&z->in, in, n) ? -ENOMEM : 0;
}

long weft__ws_zrx_run(weft__ws_zrx *z, void *out, size_t cap)
{
    if (cap > UINT_MAX) cap = UINT_MAX;
    z->z.next_in = z->in.p ? (Bytef *)z->in.p + z->off : NULL;
    size_t avail = z->in.len - z->off;
    uInt give = avail > UINT_MAX ? UINT_MAX : (uInt)avail; /* zlib counts in uInt */
    z->z.avail_in = give;
    z->z.next_out = out;
    z->z.avail_out = (uInt)cap;
    int rc = inflate(&z->z, Z_SYNC_FLUSH);
    z->off += give - z->z.avail_in;
    long produced = (long)(cap - z->z.avail_out);
    if (rc == Z_STREAM_END) {
        /* A final block (BFINAL): what follows starts a new stream. */
        if (inflateReset(&z->z) != Z_OK) return -1;
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        return -1;
    }
    return produced;
}

/* ---- deflating ------------------------------------------------------------------ */

struct weft__ws_ztx {
    z_stream z;
};

weft__ws_ztx *weft__ws_ztx_new(int level, int window_bits)
{
    weft__ws_ztx *z = calloc(1, sizeof *z);
    if (!z) return NULL;
    if (window_bits < 9) window_bits = 9;
    if (level < 1 || level > 9) level = 6;
    if (deflateInit2(&z->z, level, Z_DEFLATED, -window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(z);
        return NULL;
    }
    return z;
}

size_t weft__ws_ztx_bound(weft__ws_ztx *z, size_t n)
{
    /* deflateBound covers the blocks; the sync flush adds an empty stored
     * block (5 bytes) and up to a byte of padding, of which 4 are removed. */
    uLong b = deflateBound(&z->z, n > ULONG_MAX - 64 ? ULONG_MAX - 64 : (uLong)n);
    return (size_t)b + 8;
}

void weft__ws_ztx_free(weft__ws_ztx *z)
{
    if (!z) return;
    deflateEnd(&z->z);
    free(z);
}

int weft__ws_ztx_run(weft__ws_ztx *z, const void *in, size_t n, weft__buf *out, int no_takeover)
{
    out->len = 0;
    if (n == 0) {
        /* An empty message is the one byte 0x00 (as RFC 7692 7.2.3 shows): the
         * start of an empty stored block, which the receiver completes with
         * 00 00 ff ff. zlib emits nothing for a second flush in a row, and
         * that nothing would leave the peer's inflater inside a stored
         * block that the next message's bytes then fill (found by the
         * wsproto differential test). The stream is at a byte boundary
         * here: fresh, or after the last message's flush. */
        if (weft__buf_add(out, "", 1)) return -ENOMEM;
        if (no_takeover) deflateReset(&z->z);
        return 0;
    }
    z->z.next_in = (Bytef *)in;
    size_t left = n;
    int rc;
    do {
        if (weft__buf_reserve(out, 1024 + left / 2)) return -ENOMEM;
        uInt take = left > UINT_MAX ? UINT_MAX : (uInt)left;
        z->z.avail_in = take;
        z->z.next_out = (Bytef *)out->p + out->len;
        z->z.avail_out = (uInt)(out->cap - out->len > UINT_MAX ? UINT_MAX : out->cap - out->len);
        uInt room = z->z.avail_out;
        rc = deflate(&z->z, take == left ? Z_SYNC_FLUSH : Z_NO_FLUSH);
        out->len += room - z->z.avail_out;
        left -= take - z->z.avail_in;
        /* Done once all input is in and the flush left room to spare. */
        if (!left && z->z.avail_out) break;
    } while (rc == Z_OK || rc == Z_BUF_ERROR);
    /* Z_SYNC_FLUSH ends with an empty stored block: 00 00 ff ff. */
    if (out->len >= 4 && !memcmp(out->p + out->len - 4, "\0\0\xff\xff", 4)) out->len -= 4;
    if (no_takeover) deflateReset(&z->z);
    return 0;
}
