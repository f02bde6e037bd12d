/* T1: what TLS costs a weft_stream. One loop runs a server and a client on
 * loopback TCP: (1) bulk, the client sends MB mebibytes in 64 KiB writes and
 * the server reads them, over plain TCP and over TLS 1.3 (AES-GCM, ECDSA
 * P-256 certificate made at start with the openssl command); (2) N full
 * handshakes (connect, handshake, one byte each way, close).
 * Usage: bench_tls_stream [MB=512] [N=500]. Prints `T1 ...` lines. */
#define _GNU_SOURCE
#include "bench.h"
#include <weft/io.h>
#include <string.h>
#include <unistd.h>

static long mb, nhs;

/* CPU seconds of the process: on a shared machine wall time includes waiting
 * for a core, so the CPU figures are the ones to compare. */
static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}
static char dir[64], crt[128], key[128];
static weft_tls_ctx *sctx, *cctx;

static int sink(weft_stream *s, void *arg)
{
    static char buf[1 << 16];
    ssize_t r;
    while ((r = weft_stream_read(s, buf, sizeof buf)) > 0) {
    }
    if (r == 0) weft_stream_write(s, "k", 1);
    return 0;
}

static int pong(weft_stream *s, void *arg)
{
    char c;
    if (weft_stream_read_exactly(s, &c, 1) == 1) weft_stream_write(s, &c, 1);
    return 0;
}

/* Returns MiB/s of wall time; *cpu_mbps gets MiB per CPU second. */
static double bulk(int tls, double *cpu_mbps)
{
    weft_serve_opts so = {.tls = tls ? sctx : NULL};
    weft_server *srv = weft_tcp_serve_with("127.0.0.1", 0, sink, NULL, &so);
    weft_connect_opts co = {.tls = tls ? cctx : NULL, .server_name = "localhost"};
    weft_stream *s;
    if (!srv || weft_tcp_connect("127.0.0.1", weft_server_port(srv), &co, &s) < 0) exit(1);
    static char buf[1 << 16];
    memset(buf, 'x', sizeof buf);
    double t0 = bench_now(), c0 = cpu_now();
    for (long i = 0; i < mb * 16; i++)
        if (weft_stream_write(s, buf, sizeof buf) < 0) exit(1);
    weft_stream_shutdown(s);
    char k;
    if (weft_stream_read_exactly(s, &k, 1) != 1) exit(1);
    double dt = bench_now() - t0;
    *cpu_mbps = (double)mb / (cpu_now() - c0);
    weft_stream_close(s);
    weft_server_close(srv, 1);
    return (double)mb / dt;
}

/* Returns handshakes per wall second; *cpu_us gets CPU microseconds per
 * handshake (client and server sides together). */
static double handshakes(double *cpu_us)
{
    weft_serve_opts so = {.tls = sctx};
    weft_server *srv = weft_tcp_serve_with("127.0.0.1", 0, pong, NULL, &so);
    weft_connect_opts co = {.tls = cctx, .server_name = "localhost"};
    double t0 = bench_now(), c0 = cpu_now();
    for (long i = 0; i < nhs; i++) {
        weft_stream *s;
        char c = 'p';
        if (weft_tcp_connect("127.0.0.1", weft_server_port(srv), &co, &s) < 0 ||
            weft_stream_write(s, &c, 1) != 1 || weft_stream_read_exactly(s, &c, 1) != 1)
            exit(1);
        weft_stream_close(s);
    }
    double dt = bench_now() - t0;
    *cpu_us = (cpu_now() - c0) * 1e6 / (double)nhs;
    weft_server_close(srv, 1);
    return (double)nhs / dt;
}

static int main_task(void *arg)
{
    weft_tls_opts so = {.cert_file = crt, .key_file = key}, co = {.ca_file = crt};
    sctx = weft_tls_server_ctx(&so);
    cctx = weft_tls_client_ctx(&co);
    if (!sctx || !cctx) return fprintf(stderr, "tls ctx: %s\n", weft_tls_error()), 1;
    double cplain, ctls, cus;
    double plain = bulk(0, &cplain), tls = bulk(1, &ctls);
    printf("T1 weft bulk_plain_MBps=%.0f bulk_tls_MBps=%.0f plain_MB_per_cpu_s=%.0f "
           "tls_MB_per_cpu_s=%.0f tls_over_plain_cpu=%.2f\n",
           plain, tls, cplain, ctls, ctls / cplain);
    double hs = handshakes(&cus);
    printf("T1 weft handshakes_per_s=%.0f cpu_us_per_handshake=%.0f\n", hs, cus);
    weft_tls_ctx_free(sctx);
    weft_tls_ctx_free(cctx);
    return 0;
}

int main(int argc, char **argv)
{
    mb = bench_arg(argc, argv, 1, 512);
    nhs = bench_arg(argc, argv, 2, 500);
    strcpy(dir, "/tmp/weft_bench_tls_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    snprintf(crt, sizeof crt, "%s/c.pem", dir);
    snprintf(key, sizeof key, "%s/k.pem", dir);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s -out %s -subj /CN=localhost -addext subjectAltName=DNS:localhost "
             "-days 1 >/dev/null 2>&1",
             key, crt);
    if (system(cmd) != 0) return fprintf(stderr, "openssl req failed\n"), 1;
    int rc = weft_run(main_task, NULL);
    unlink(crt);
    unlink(key);
    rmdir(dir);
    return rc;
}
