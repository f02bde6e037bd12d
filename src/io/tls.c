/* TLS on OpenSSL, as a transport under weft_stream (stream_internal.h).
 *
 * The stream keeps its buffers, back-pressure and read_until logic; TLS only
 * replaces the few operations that move bytes to and from the fd. OpenSSL
 * runs non-blocking on a small BIO of our own over the fd: SSL_read and
 * SSL_write return WANT_READ or WANT_WRITE, which become -EAGAIN plus the
 * event to wait for, in either direction (a read may need to write and the
 * reverse). The BIO rather than OpenSSL's socket BIO because it can first
 * hand OpenSSL bytes the stream had already buffered (a ClientHello that
 * came in with the last plaintext before STARTTLS), sends with MSG_NOSIGNAL,
 * and keeps the errno of a failed system call for the error we return.
 *
 * Close: a graceful close sends close_notify (best effort, without waiting
 * for the peer's). A peer that closes the connection without close_notify
 * is reported as an ordinary end of stream (SSL_OP_IGNORE_UNEXPECTED_EOF),
 * as browsers and most HTTP clients do: message framing (Content-Length,
 * chunked, read_exactly) is what tells a complete message from a cut one,
 * and read_exactly / read_until still report -WEFT_EINCOMPLETE for a cut.
 * Where nothing frames the data but the end itself (an HTTP body delimited
 * by the close), the end must be close_notify, or whoever can inject a FIN
 * truncates it: weft_stream_tls_truncated tells the two ends apart. OpenSSL
 * asks the BIO for bytes only while a record is incomplete or to start the
 * next one, and never again once close_notify came in; so an EOF seen by
 * the BIO (conn.eof) is exactly an end without close_notify. */
#define _GNU_SOURCE
#include "stream_internal.h"
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define RECORD 16384 /* the largest TLS record's payload */

struct weft_tls_ctx {
    SSL_CTX *ssl_ctx;
    int server;
    atomic_int refs;        /* the owner + each TLS stream using it */
    unsigned char *alpn;    /* wire format: length-prefixed names */
    unsigned alpn_len;
};

typedef struct conn {
    SSL *ssl;
    weft_tls_ctx *ctx;
    int fd, is_sock;
    int failed;             /* sticky: a fatal error ends the session */
    int eof;                /* the fd reported end of stream (so: no
                               close_notify came before it) */
    int sys_err;            /* errno of the BIO's last failed system call */
    const char *pre;        /* bytes the stream had buffered before TLS */
    char *pre_buf;
    size_t pre_len;
    size_t wpend;           /* an SSL_write (one record) to retry with this length */
    char *scratch;          /* RECORD bytes: gathers small iovecs into one record */
    char alpn[256];
} conn;

/* ---- errors ----------------------------------------------------------------------- */

static __thread char last_error[256];

const char *weft_tls_error(void) { return last_error; }

/* TLS's codes for weft_strerror: the table in weft/io.h. */
WEFT__ERROR_TABLE(tls, WEFT_TLS_ERRORS)

/* Records OpenSSL's reason for a failure (or what) and clears its queue. */
static void note_ssl_error(const char *what)
{
    unsigned long e = ERR_peek_last_error();
    if (e) ERR_error_string_n(e, last_error, sizeof last_error);
    else snprintf(last_error, sizeof last_error, "%s", what);
    ERR_clear_error();
}

/* ---- the BIO over the stream's fd ------------------------------------------------- */

static BIO_METHOD *bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static int bio_read(BIO *b, char *out, int len)
{
    conn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (c->pre_len) {
        size_t n = (size_t)len < c->pre_len ? (size_t)len : c->pre_len;
        memcpy(out, c->pre, n);
        c->pre += n;
        c->pre_len -= n;
        return (int)n;
    }
    for (;;) {
        ssize_t r = read(c->fd, out, (size_t)len);
        if (r > 0) return (int)r;
        if (r == 0) {
            c->eof = 1;
            return 0;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(b);
        else c->sys_err = errno;
        return -1;
    }
}

static int bio_write(BIO *b, const char *in, int len)
{
    conn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    for (;;) {
        ssize_t r = c->is_sock ? send(c->fd, in, (size_t)len, MSG_NOSIGNAL)
                               : write(c->fd, in, (size_t)len);
        if (r >= 0) return (int)r;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(b);
        else c->sys_err = errno;
        return -1;
    }
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    conn *c = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_EOF: return c->eof; /* what lets OpenSSL see a clean EOF */
    }
    return 0;
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void bio_method_make(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "weft fd");
    if (!m) return;
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    bio_method = m;
}

/* ---- contexts ----------------------------------------------------------------------- */

/* "h2,http/1.1" -> "\2h2\10http/1.1". */
static int alpn_wire(const char *list, unsigned char **out, unsigned *outlen)
{
    size_t n = strlen(list);
    unsigned char *w = malloc(n + 1);
    if (!w) return -ENOMEM;
    size_t len = 0;
    for (const char *p = list;;) {
        const char *e = strchr(p, ',');
        size_t k = e ? (size_t)(e - p) : strlen(p);
        if (k == 0 || k > 255) {
            free(w);
            snprintf(last_error, sizeof last_error, "bad ALPN list \"%s\"", list);
            return -EINVAL;
        }
        w[len++] = (unsigned char)k;
        memcpy(w + len, p, k);
        len += k;
        if (!e) break;
        p = e + 1;
    }
    *out = w;
    *outlen = (unsigned)len;
    return 0;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg)
{
    weft_tls_ctx *ctx = arg;
    unsigned char *sel;
    if (SSL_select_next_proto(&sel, outlen, ctx->alpn, ctx->alpn_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK; /* no common protocol: go on without ALPN */
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static void ctx_unref(weft_tls_ctx *ctx)
{
    if (!ctx || atomic_fetch_sub(&ctx->refs, 1) != 1) return;
    SSL_CTX_free(ctx->ssl_ctx);
    free(ctx->alpn);
    free(ctx);
}

void weft_tls_ctx_free(weft_tls_ctx *ctx) { ctx_unref(ctx); }

/* Loads a PEM file, naming a missing file by its errno. */
static int load_fail(const char *file, const char *what)
{
    if (access(file, R_OK) < 0) {
        int e = errno;
        snprintf(last_error, sizeof last_error, "%s %s: %s", what, file, strerror(e));
        ERR_clear_error();
        return -e;
    }
    note_ssl_error(what);
    return -EINVAL;
}

static weft_tls_ctx *ctx_new(const weft_tls_opts *opt, int server)
{
    weft_tls_opts none = {0};
    if (!opt) opt = &none;
    last_error[0] = 0;
    int err = 0;
    if (server && (!opt->cert_file || !opt->key_file)) {
        snprintf(last_error, sizeof last_error, "a server needs cert_file and key_file");
        errno = EINVAL;
        return NULL;
    }
    weft_tls_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return NULL;
    atomic_init(&ctx->refs, 1);
    ctx->server = server;
    SSL_CTX *sc = ctx->ssl_ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!sc) {
        note_ssl_error("SSL_CTX_new");
        err = -ENOMEM;
        goto fail;
    }
    SSL_CTX_set_min_proto_version(sc, TLS1_2_VERSION);
    SSL_CTX_set_mode(sc, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
    SSL_CTX_set_options(sc, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    if (opt->alpn && (err = alpn_wire(opt->alpn, &ctx->alpn, &ctx->alpn_len)) < 0) goto fail;
    if (opt->cert_file) {
        if (SSL_CTX_use_certificate_chain_file(sc, opt->cert_file) != 1) {
            err = load_fail(opt->cert_file, "certificate");
            goto fail;
        }
        if (!opt->key_file || SSL_CTX_use_PrivateKey_file(sc, opt->key_file, SSL_FILETYPE_PEM) != 1) {
            err = opt->key_file ? load_fail(opt->key_file, "private key") : -EINVAL;
            goto fail;
        }
        if (SSL_CTX_check_private_key(sc) != 1) {
            note_ssl_error("key does not match certificate");
            err = -EINVAL;
            goto fail;
        }
    }
    if (server) {
        /* TLS 1.2 suites: forward-secret AEAD only (Mozilla's "intermediate"
         * list), in the server's order of preference: testssl.sh flagged
         * OpenSSL's default (CBC suites, LUCKY13; static-RSA key exchange;
         * the client's order). TLS 1.3's suites are all AEAD already. */
        if (SSL_CTX_set_cipher_list(sc, "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                        "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
                                        "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384") != 1) {
            note_ssl_error("SSL_CTX_set_cipher_list");
            err = -EINVAL;
            goto fail;
        }
        SSL_CTX_set_options(sc, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
        if (ctx->alpn) SSL_CTX_set_alpn_select_cb(sc, alpn_select, ctx);
        if (opt->ca_file) { /* ask for and verify client certificates */
            if (SSL_CTX_load_verify_locations(sc, opt->ca_file, NULL) != 1) {
                err = load_fail(opt->ca_file, "CA file");
                goto fail;
            }
            SSL_CTX_set_client_CA_list(sc, SSL_load_client_CA_file(opt->ca_file));
            SSL_CTX_set_verify(sc, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        }
    } else {
        if (ctx->alpn && SSL_CTX_set_alpn_protos(sc, ctx->alpn, ctx->alpn_len) != 0) {
            note_ssl_error("ALPN");
            err = -EINVAL;
            goto fail;
        }
        if (!opt->insecure) {
            int ok = opt->ca_file ? SSL_CTX_load_verify_locations(sc, opt->ca_file, NULL)
                                  : SSL_CTX_set_default_verify_paths(sc);
            if (ok != 1) {
                err = opt->ca_file ? load_fail(opt->ca_file, "CA file") : -EINVAL;
                if (!opt->ca_file) note_ssl_error("system trust store");
                goto fail;
            }
            SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, NULL);
        }
    }
    return ctx;
fail:
    ctx_unref(ctx);
    errno = -err;
    return NULL;
}

/* Loading the system trust store parses some 140 certificates: 70-100 ms
 * here, far too long to hold the loop. Inside a task the context is made on
 * the thread pool (OpenSSL is thread-safe); the reason of a failure is
 * thread-local, so it is carried back. */
typedef struct ctx_job {
    const weft_tls_opts *opt;
    int server, err;
    weft_tls_ctx *ctx;
    char reason[sizeof last_error];
} ctx_job;

static int ctx_job_run(void *arg)
{
    ctx_job *j = arg;
    j->ctx = ctx_new(j->opt, j->server);
    j->err = errno;
    memcpy(j->reason, last_error, sizeof last_error);
    return 0;
}

static weft_tls_ctx *ctx_make(const weft_tls_opts *opt, int server)
{
    if (!weft_current()) return ctx_new(opt, server);
    ctx_job j = {.opt = opt, .server = server};
    int rc = weft_to_thread(ctx_job_run, &j);
    memcpy(last_error, j.reason, sizeof last_error);
    if (rc < 0) {
        ctx_unref(j.ctx);
        errno = -rc;
        return NULL;
    }
    errno = j.err;
    return j.ctx;
}

weft_tls_ctx *weft_tls_client_ctx(const weft_tls_opts *opt) { return ctx_make(opt, 0); }
weft_tls_ctx *weft_tls_server_ctx(const weft_tls_opts *opt) { return ctx_make(opt, 1); }

/* ---- the transport ------------------------------------------------------------------- */

/* Turns an SSL call's failure into -EAGAIN (+ *want), 0 (end of stream) or
 * a sticky error. */
static ssize_t ssl_fail(conn *c, int ret, int *want, int handshake)
{
    switch (SSL_get_error(c->ssl, ret)) {
    case SSL_ERROR_WANT_READ:
        *want = WEFT_READABLE;
        return -EAGAIN;
    case SSL_ERROR_WANT_WRITE:
        *want = WEFT_WRITABLE;
        return -EAGAIN;
    case SSL_ERROR_ZERO_RETURN: /* close_notify, or EOF without it */
        if (!handshake) return 0;
        snprintf(last_error, sizeof last_error, "connection closed during the TLS handshake");
        return c->failed = -WEFT_ETLS;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        if (c->sys_err) {
            snprintf(last_error, sizeof last_error, "%s", strerror(c->sys_err));
            return c->failed = -c->sys_err;
        }
        if (!handshake) return 0;
        snprintf(last_error, sizeof last_error, "connection closed during the TLS handshake");
        return c->failed = -WEFT_ETLS;
    }
    long v = SSL_get_verify_result(c->ssl);
    if (handshake && v != X509_V_OK) {
        snprintf(last_error, sizeof last_error, "certificate verify failed: %s",
                 X509_verify_cert_error_string(v));
        ERR_clear_error();
        return c->failed = v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH
                               ? -WEFT_ETLSHOST
                               : -WEFT_ETLSCERT;
    }
    note_ssl_error("TLS protocol error");
    return c->failed = -WEFT_ETLS;
}

static ssize_t tls_read(weft_stream *s, void *buf, size_t n, int *want)
{
    conn *c = weft__stream_tstate(s);
    if (c->failed) return c->failed;
    ERR_clear_error();
    int r = SSL_read(c->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
    return r > 0 ? r : ssl_fail(c, r, want, 0);
}

static ssize_t tls_writev(weft_stream *s, const struct iovec *iov, int iovcnt, int *want)
{
    conn *c = weft__stream_tstate(s);
    if (c->failed) return c->failed;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) total += iov[i].iov_len;
    /* One record per SSL_write. After WANT_WRITE OpenSSL holds that record
     * and must be called again with at least its length (same bytes; they
     * may move); the stream offers again at most what it buffers, its
     * high-water mark. So no call offers more than a record or that mark: a
     * whole 1 MB write left pending could never be retried from a 64 KiB
     * buffer (issue 10 item 13). One record a call costs nothing measurable:
     * OpenSSL loops over records inside SSL_write anyway. */
    size_t most = s->high < RECORD ? s->high : RECORD;
    size_t len = c->wpend ? c->wpend : total < most ? total : most;
    if (len > total) { /* a retry with fewer bytes: the mark was lowered meanwhile */
        snprintf(last_error, sizeof last_error,
                 "a pending TLS write of %zu bytes was offered %zu", len, total);
        return c->failed = -EINVAL;
    }
    const char *p = iov[0].iov_base;
    if (iov[0].iov_len < len) {
        if (!c->scratch && !(c->scratch = malloc(RECORD))) return -ENOMEM;
        size_t got = 0;
        for (int i = 0; i < iovcnt && got < len; i++) {
            size_t k = iov[i].iov_len < len - got ? iov[i].iov_len : len - got;
            memcpy(c->scratch + got, iov[i].iov_base, k);
            got += k;
        }
        p = c->scratch;
    }
    ERR_clear_error();
    int r = SSL_write(c->ssl, p, (int)len);
    if (r > 0) {
        c->wpend = 0;
        return r;
    }
    ssize_t e = ssl_fail(c, r, want, 0);
    if (e == -EAGAIN) c->wpend = len;
    return e == 0 ? -EPIPE : e;
}

static int tls_shutdown(weft_stream *s, int *want)
{
    conn *c = weft__stream_tstate(s);
    if (c->failed) return c->failed;
    ERR_clear_error();
    int r = SSL_shutdown(c->ssl); /* 0: sent ours; 1: both sides done */
    if (r < 0) {
        ssize_t e = ssl_fail(c, r, want, 0);
        if (e == -EAGAIN) return -EAGAIN;
        if (e < 0) return (int)e;
    }
    /* Then the transport's own end, so a peer reading the socket sees EOF. */
    if (c->is_sock) shutdown(c->fd, SHUT_WR);
    return 0;
}

static void conn_free(conn *c)
{
    SSL_free(c->ssl); /* frees the BIO too */
    ctx_unref(c->ctx);
    free(c->pre_buf);
    free(c->scratch);
    free(c);
}

static void tls_close(weft_stream *s, int graceful)
{
    conn *c = weft__stream_tstate(s);
    if (graceful && !c->failed && SSL_is_init_finished(c->ssl) &&
        !(SSL_get_shutdown(c->ssl) & SSL_SENT_SHUTDOWN))
        SSL_shutdown(c->ssl); /* best effort: close_notify if the socket takes it */
    ERR_clear_error();
    conn_free(c);
}

static const char *tls_alpn(const weft_stream *s)
{
    conn *c = weft__stream_tstate(s);
    return c->alpn[0] ? c->alpn : NULL;
}

/* The end of stream came without close_notify: see the top of the file. */
static int tls_truncated(const weft_stream *s)
{
    const conn *c = weft__stream_tstate(s);
    return c->eof;
}

static const weft__transport tls_transport = {
    .name = "tls",
    .read = tls_read,
    .writev = tls_writev,
    .shutdown = tls_shutdown,
    .close = tls_close,
    .alpn = tls_alpn,
    .truncated = tls_truncated,
};

/* ---- upgrading a stream ---------------------------------------------------------------- */

/* Sets SNI and the name the certificate must match (a DNS name or an IP). */
static int set_peer_name(SSL *ssl, const char *name)
{
    unsigned char ip[16];
    int is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
    if (is_ip) return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1;
    /* SNI carries host names only (RFC 6066). */
    return SSL_set_tlsext_host_name(ssl, name) == 1 && SSL_set1_host(ssl, name) == 1;
}

static conn *conn_new(weft_stream *s, weft_tls_ctx *ctx, const char *name)
{
    pthread_once(&bio_once, bio_method_make);
    conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->fd = weft_stream_fd(s);
    int type = 0;
    socklen_t tl = sizeof type;
    c->is_sock = getsockopt(c->fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0;
    c->ssl = SSL_new(ctx->ssl_ctx);
    BIO *bio = bio_method ? BIO_new(bio_method) : NULL;
    if (!c->ssl || !bio) {
        BIO_free(bio);
        SSL_free(c->ssl);
        free(c);
        return NULL;
    }
    BIO_set_data(bio, c);
    SSL_set_bio(c->ssl, bio, bio);
    atomic_fetch_add(&ctx->refs, 1);
    c->ctx = ctx;
    if (ctx->server) {
        SSL_set_accept_state(c->ssl);
    } else {
        SSL_set_connect_state(c->ssl);
        if (name && !set_peer_name(c->ssl, name)) {
            conn_free(c);
            return NULL;
        }
    }
    return c;
}

int weft_stream_start_tls(weft_stream *s, weft_tls_ctx *ctx, const char *server_name)
{
    int e = weft_check("weft_stream_start_tls");
    if (e == -EPERM) return e;
    if (!s || !ctx) return -EINVAL;
    if (e) return e; /* the stream stays as it was: plain, and usable */
    last_error[0] = 0;
    if (weft__stream_tp(s) != &weft__plain_transport) return -EINVAL;
    /* A verifying client needs the name to check the certificate against. */
    if (!ctx->server && !server_name && SSL_CTX_get_verify_mode(ctx->ssl_ctx) != SSL_VERIFY_NONE) {
        snprintf(last_error, sizeof last_error, "certificate verification needs a server name");
        return -EINVAL;
    }
    int rc = weft_stream_drain(s);
    if (rc < 0) return rc;
    conn *c = conn_new(s, ctx, server_name);
    if (!c) return -ENOMEM;
    /* Bytes read ahead of the handshake belong to it. */
    const char *data;
    size_t n = weft__stream_take_buffered(s, &data);
    if (n) {
        if (!(c->pre_buf = malloc(n))) {
            conn_free(c);
            return -ENOMEM;
        }
        memcpy(c->pre_buf, data, n);
        c->pre = c->pre_buf;
        c->pre_len = n;
        weft_stream_consume(s, n);
    }
    /* The stream is TLS from here on; if the handshake fails the stream is
     * left failed (every read/write returns the error): close or abort it. */
    rc = weft__stream_set_transport(s, &tls_transport, c);
    if (rc < 0) {
        conn_free(c);
        return rc;
    }
    weft__stream_enter(s); /* an abort meanwhile frees c, not s */
    for (;;) {
        ERR_clear_error();
        int r = SSL_do_handshake(c->ssl);
        if (r == 1) break;
        int want = 0;
        ssize_t e = ssl_fail(c, r, &want, 1);
        if (e == -EAGAIN) e = weft__stream_wait(s, want);
        if (e < 0) {
            /* Cancelled or failed: a half handshake is no use. */
            if (!s->dead && !c->failed) c->failed = (int)e;
            weft__stream_leave(s);
            return (int)e;
        }
    }
    weft__stream_leave(s);
    const unsigned char *proto;
    unsigned plen;
    SSL_get0_alpn_selected(c->ssl, &proto, &plen);
    if (plen) {
        memcpy(c->alpn, proto, plen);
        c->alpn[plen] = 0;
    }
    return 0;
}

const char *weft_stream_alpn(const weft_stream *s)
{
    if (!s) return NULL;
    const weft__transport *tp = weft__stream_tp(s);
    return tp->alpn ? tp->alpn(s) : NULL;
}
