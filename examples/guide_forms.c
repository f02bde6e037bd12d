/* docs/guide.md, "Forms, cookies, proxies": a login form posted by a
 * client session, a session cookie kept by its jar and sent back, the jar
 * saved in curl's cookie file format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>
#include <weft/http.h>

static int login(weft_http_request *req, void *arg)
{
    (void)arg;
    const char *body;
    size_t len;
    char user[64];
    int r = weft_http_request_body(req, &body, &len);
    if (r < 0) return r;
    if (weft_http_form_get(body, len, "user", user, sizeof user) < 0)
        return weft_http_respond(req, 400, "text/plain", "no user\n", 8);
    /* HttpOnly and SameSite matter to browsers; Path=/ sends it everywhere.
     * A value a browser would misread (a space, a ';') is -EINVAL. */
    char value[80];
    snprintf(value, sizeof value, "%s-42", user);
    weft_http_set_cookie k = {.name = "session", .value = value, .path = "/",
                              .http_only = 1, .same_site = WEFT_HTTP_SAMESITE_LAX};
    if (weft_http_reply_cookie(req, &k) < 0)
        return weft_http_respond(req, 400, "text/plain", "bad user\n", 9);
    return weft_http_respond(req, 200, "text/plain", "welcome\n", 8);
}

static int me(weft_http_request *req, void *arg)
{
    (void)arg;
    char sid[80], out[128];
    int n = weft_http_request_cookie(req, "session", sid, sizeof sid) < 0
                ? snprintf(out, sizeof out, "no session cookie\n")
                : snprintf(out, sizeof out, "you sent: session=%s\n", sid);
    return weft_http_respond(req, 200, "text/plain", out, (size_t)n);
}

static int main_task(void *arg)
{
    (void)arg;
    weft_http_server *srv = weft_http_server_new(NULL);
    weft_http_server_route(srv, "POST", "/login", login, NULL);
    weft_http_server_route(srv, "GET", "/me", me, NULL);
    int r = weft_http_server_listen(srv, "127.0.0.1", 0);
    if (r < 0) return r;
    char url[64];
    weft_http_client *client = weft_http_client_new(NULL);

    /* A form body: encoded pairs and their Content-Type. */
    weft_http_header fields[] = {{"user", "ada"}, {"password", "n0t & easy"}};
    char *form = weft_http_form_encode(fields, 2);
    weft_http_header type = {"Content-Type", "application/x-www-form-urlencoded"};
    weft_http_req_opts o = {.headers = &type, .nheaders = 1, .body = form,
                            .body_len = strlen(form)};
    snprintf(url, sizeof url, "http://127.0.0.1:%d/login", weft_http_server_port(srv));
    weft_http_response *resp;
    r = weft_http_client_request(client, "POST", url, &o, &resp); /* waits */
    free(form);
    if (r < 0) return r;
    weft_http_response_free(resp);

    /* The jar sends the cookie back to the same host. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/me", weft_http_server_port(srv));
    r = weft_http_client_get(client, url, &resp);
    if (r < 0) return r;
    const char *body;
    size_t len;
    weft_http_response_body(resp, &body, &len);
    printf("%s", body);
    weft_http_response_free(resp);

    /* curl -b cookies.txt reads this file; weft_http_client_cookies_load
     * reads it back. */
    r = weft_http_client_cookies_save(client, "/tmp/weft-guide-cookies.txt");
    printf("saved %zu cookie(s): %s\n", weft_http_client_cookies(client, NULL, NULL),
           r ? weft_strerror(r) : "ok");
    remove("/tmp/weft-guide-cookies.txt");
    weft_http_client_close(client);
    weft_http_server_close(srv, 1.0);
    return 0;
}

int main(void) { return weft_run(main_task, NULL) < 0; }
