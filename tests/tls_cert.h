/* A self-signed certificate for localhost and 127.0.0.1, made at test time
 * with the openssl command (a client trusts it by using it as its CA
 * file). */
#ifndef WEFT_TESTS_TLS_CERT_H
#define WEFT_TESTS_TLS_CERT_H
#include <stdio.h>
#include <stdlib.h>

/* Writes dir/srv.crt and dir/srv.key; their paths go to crt and key
 * (128 bytes each). 0, or -1 if the openssl command failed. Blocks (about
 * 0.1 s): call it outside a loop or accept the debug report. */
static inline int tls_cert_make(const char *dir, char crt[128], char key[128])
{
    char cmd[1024];
    snprintf(crt, 128, "%s/srv.crt", dir);
    snprintf(key, 128, "%s/srv.key", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s -out %s -subj /CN=localhost -days 2 "
             "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1",
             key, crt);
    return system(cmd) == 0 ? 0 : -1;
}

#ifdef WEFT_IO_H
/* Makes a fresh directory from tmpl (mkdtemp), a certificate in it, and a
 * server context serving it and a client context trusting it. 0 or -1. */
static inline int tls_pair_make(char *tmpl, char crt[128], char key[128], weft_tls_ctx **srv,
                                weft_tls_ctx **cli)
{
    if (!mkdtemp(tmpl) || tls_cert_make(tmpl, crt, key)) return -1;
    *srv = weft_tls_server_ctx(&(weft_tls_opts){.cert_file = crt, .key_file = key});
    *cli = weft_tls_client_ctx(&(weft_tls_opts){.ca_file = crt});
    return *srv && *cli ? 0 : -1;
}

/* Frees what tls_pair_make made and removes its directory. 0 or -1. */
static inline int tls_pair_free(const char *dir, weft_tls_ctx *srv, weft_tls_ctx *cli)
{
    weft_tls_ctx_free(srv), weft_tls_ctx_free(cli);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}
#endif

#endif
