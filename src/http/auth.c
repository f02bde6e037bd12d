/* Basic credentials (RFC 7617) for Authorization and Proxy-Authorization:
 * from a login and password, or from a URL's user:pass@, percent-decoded. */
#include "http/client_internal.h"
#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>

int weft_http_basic_auth(const char *login, const char *password, char *out, size_t cap)
{
    char plain[768];
    int n = snprintf(plain, sizeof plain, "%s:%s", login, password ? password : "");
    /* A colon in the login cannot be told from the separator (RFC 7617 2);
     * control bytes would reach the header. */
    if (n < 0 || (size_t)n >= sizeof plain || strchr(login, ':')) return -EINVAL;
    for (int i = 0; i < n; i++)
        if ((unsigned char)plain[i] < 0x20 || plain[i] == 0x7f) return -EINVAL;
    size_t need = 6 + 4 * (((size_t)n + 2) / 3) + 1;
    if (need > cap) return -ENOSPC;
    memcpy(out, "Basic ", 6);
    EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)plain, n);
    return 0;
}

static int hexval(int c)
{
    return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* Percent-decodes s[0..n) into out; -EINVAL on a bad escape or a NUL. */
static int pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n || hexval((unsigned char)s[i + 1]) < 0 ||
                hexval((unsigned char)s[i + 2]) < 0)
                return -EINVAL;
            c = hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]);
            i += 2;
            if (!c) return -EINVAL;
        }
        if (o + 1 >= cap) return -EINVAL;
        out[o++] = (char)c;
    }
    out[o] = 0;
    return 0;
}

int weft__basic_from_userinfo(const char *ui, char *out, size_t cap)
{
    const char *colon = strchr(ui, ':');
    size_t ul = colon ? (size_t)(colon - ui) : strlen(ui);
    char user[256], pass[256];
    if (pct_decode(ui, ul, user, sizeof user) ||
        pct_decode(colon ? colon + 1 : "", colon ? strlen(colon + 1) : 0, pass, sizeof pass))
        return -WEFT_EHTTP_URL;
    int e = weft_http_basic_auth(user, pass, out, cap);
    return e == -EINVAL ? -WEFT_EHTTP_URL : e;
}

int weft__authz(const weft_http_client *c, const weft__url *u, const weft_http_req_opts *o,
                char *out, size_t cap)
{
    out[0] = 0;
    const char *tok = NULL;
    if (o && (o->auth_login || o->bearer_token)) {
        if (o->auth_login) return weft_http_basic_auth(o->auth_login, o->auth_password, out, cap);
        tok = o->bearer_token;
    } else if (u->userinfo[0]) {
        return weft__basic_from_userinfo(u->userinfo, out, cap);
    } else if (c->o.auth_login) {
        return weft_http_basic_auth(c->o.auth_login, c->o.auth_password, out, cap);
    } else {
        tok = c->o.bearer_token;
    }
    if (!tok) return 0;
    if (!weft__header_ok("Authorization", tok)) return -EINVAL;
    int n = snprintf(out, cap, "Bearer %s", tok);
    return n < 0 || (size_t)n >= cap ? -ENOSPC : 0;
}
