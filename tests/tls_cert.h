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

#endif
