/* `weft serve --cert --key` (issue 15): HTTPS with a certificate made at
 * test time, spoken to by curl (which must verify it against that
 * certificate and refuse it without); TLS below 1.2 refused; --compress;
 * --cert without --key, and files that are not a certificate, refused
 * with a clear message. */
#include <weft/http.h>
#include <weft/test.h>
#include "check.h"
#include "run_cmd.h"
#include "tls_cert.h"
#include "weft_cmd.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/weft_serve_tls_XXXXXX";
static char crt[128], key[128];
static char out[1 << 16];

/* Starts `weft serve --cert --key [extra] dir` and reads its port from the
 * line it prints. */
static weft_process *serve(const char *extra, int *port)
{
    char *argv[16];
    int k = 0;
    argv[k++] = weft_bin, argv[k++] = "serve", argv[k++] = "--port", argv[k++] = "0";
    argv[k++] = "--loops", argv[k++] = "1", argv[k++] = "--cert", argv[k++] = crt;
    argv[k++] = "--key", argv[k++] = key;
    if (extra) argv[k++] = (char *)extra;
    argv[k++] = dir, argv[k] = NULL;
    weft_process *p;
    CHECK_EQ(weft_process_spawn(argv, &(weft_process_opts){.stderr_mode = WEFT_PIPE}, &p), 0);
    char line[512];
    ssize_t n = weft_stream_read_line(weft_process_stderr(p), line, sizeof line - 1);
    CHECK(n > 0);
    line[n] = 0;
    char fmt[300];
    snprintf(fmt, sizeof fmt, "serving %s on https://127.0.0.1:%%d/", dir);
    CHECK(sscanf(line, fmt, port) == 1 || (fprintf(stderr, "[%s]\n", line), 0));
    return p;
}

static int stop(weft_process *p)
{
    weft_process_kill(p, SIGTERM);
    int st = weft_process_wait(p);
    weft_process_free(p);
    return st;
}

WEFT_TEST(curl_https)
{
    int port;
    weft_process *p = serve(NULL, &port);
    char url[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/hello.txt", port);
    char *ok[] = {"curl", "-sS", "--cacert", crt, url, NULL};
    WEFT_TEST_CHECK(run_cmd(ok, out, sizeof out) == 0 && !strcmp(out, "hello over tls\n"));
    /* By name too (the certificate says localhost). */
    snprintf(url, sizeof url, "https://localhost:%d/hello.txt", port);
    char *byname[] = {"curl", "-sS", "--cacert", crt, url, NULL};
    WEFT_TEST_CHECK(run_cmd(byname, out, sizeof out) == 0 && !strcmp(out, "hello over tls\n"));
    /* Not trusted without it: curl's "peer certificate cannot be
     * authenticated" (60). */
    char *untrusted[] = {"curl", "-sS", url, NULL};
    WEFT_TEST_CHECK(run_cmd(untrusted, out, sizeof out) == 60);
    /* TLS 1.1 and below: no handshake. */
    char *old[] = {"curl", "-sS", "--cacert", crt, "--tlsv1.0", "--tls-max", "1.1", url, NULL};
    int st = run_cmd(old, out, sizeof out);
    WEFT_TEST_CHECK(st != 0 && st < 128);
    /* TLS 1.2: forward-secret AEAD suites only (what testssl.sh checks:
     * no CBC, so no LUCKY13; no static-RSA key exchange), the server's
     * order first. */
    char cmd[256];
    const char *refused[] = {"ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384", "AES128-SHA",
                             "AES256-GCM-SHA384"};
    for (int i = 0; i < 4; i++) {
        snprintf(cmd, sizeof cmd, "openssl s_client -connect 127.0.0.1:%d -tls1_2 -cipher %s "
                 "</dev/null 2>&1", port, refused[i]);
        char *sc[] = {"sh", "-c", cmd, NULL};
        WEFT_TEST_CHECK(run_cmd(sc, out, sizeof out) != 0 || (fprintf(stderr, "%s taken\n", refused[i]), 0));
    }
    snprintf(cmd, sizeof cmd, "openssl s_client -connect 127.0.0.1:%d -tls1_2 -cipher "
             "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256 </dev/null 2>&1", port);
    char *good[] = {"sh", "-c", cmd, NULL};
    WEFT_TEST_CHECK(run_cmd(good, out, sizeof out) == 0);
    WEFT_TEST_CHECK(strstr(out, "Cipher is ECDHE-ECDSA-AES128-GCM-SHA256") ||
                    (fprintf(stderr, "%s", out), 0)); /* the server's first choice */
    /* Plain HTTP to the TLS port gets nothing served. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/hello.txt", port);
    char *plain[] = {"curl", "-sS", "-m", "5", url, NULL};
    WEFT_TEST_CHECK(run_cmd(plain, out, sizeof out) != 0 && !strstr(out, "hello"));
    WEFT_TEST_CHECK(stop(p) == 0);
    return 0;
}

WEFT_TEST(compress_over_tls)
{
    int port;
    weft_process *p = serve("--compress", &port);
    char url[128];
    snprintf(url, sizeof url, "https://127.0.0.1:%d/big.txt", port);
    char *argv[] = {"curl", "-sS", "--cacert", crt, "--compressed", "-D", "/dev/stdout", "-o",
                    "/dev/null", url, NULL};
    WEFT_TEST_CHECK(run_cmd(argv, out, sizeof out) == 0);
    /* curl offers gzip, deflate, br and zstd alike: the server picks zstd */
    WEFT_TEST_CHECK(strstr(out, "Content-Encoding: zstd") || (fprintf(stderr, "%s", out), 0));
    WEFT_TEST_CHECK(stop(p) == 0);
    return 0;
}

WEFT_TEST(bad_usage)
{
    static char err[4096];
    char *nokey[] = {weft_bin, "serve", "--cert", crt, dir, NULL};
    WEFT_TEST_CHECK(run_weft(nokey, "", 0, NULL, 0, err, sizeof err) == 2);
    WEFT_TEST_CHECK(strstr(err, "--cert and --key go together"));
    /* The key where the certificate should be. */
    char *swapped[] = {weft_bin, "serve", "--port", "0", "--cert", key, "--key", key, dir, NULL};
    WEFT_TEST_CHECK(run_weft(swapped, "", 0, NULL, 0, err, sizeof err) == 1);
    WEFT_TEST_CHECK(strstr(err, "weft serve: cannot use") || (fprintf(stderr, "%s", err), 0));
    char *missing[] = {weft_bin, "serve", "--port", "0", "--cert", "/nonexistent.pem", "--key",
                       key, dir, NULL};
    WEFT_TEST_CHECK(run_weft(missing, "", 0, NULL, 0, err, sizeof err) == 1);
    WEFT_TEST_CHECK(strstr(err, "No such file"));
    return 0;
}

int main(int argc, char **argv)
{
    CHECK(mkdtemp(dir));
    CHECK_EQ(tls_cert_make(dir, crt, key), 0);
    CHECK_EQ(find_weft(), 0);
    char path[256];
    snprintf(path, sizeof path, "%s/hello.txt", dir);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fputs("hello over tls\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/big.txt", dir);
    f = fopen(path, "w");
    CHECK(f);
    for (int i = 0; i < 2000; i++) fputs("some text, compressible\n", f);
    fclose(f);
    static const weft_test_case cases[] = {WEFT_TEST_CASE(curl_https),
                                           WEFT_TEST_CASE(compress_over_tls),
                                           WEFT_TEST_CASE(bad_usage)};
    int rc = weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) rc = 1;
    return rc;
}
