/* docs/guide.md, "Fetching over HTTP": 20 downloads through one client
 * session (aiohttp.ClientSession) with at most 5 connections, from a small
 * server on 127.0.0.1 that takes 50 ms per answer. Sequentially that would
 * be 1 s; here about 4 rounds of 50 ms. */
#include <stdio.h>
#include <string.h>
#include <weft.h>
#include <weft/http.h>

static int item(weft_http_request *req, void *arg)
{
    (void)arg;
    char body[64];
    int n = snprintf(body, sizeof body, "item %s\n", weft_http_request_param(req, "n"));
    weft_sleep(0.05); /* a slow backend */
    return weft_http_respond(req, 200, "text/plain", body, (size_t)n);
}

typedef struct {
    weft_http_client *client;
    char url[64];
    size_t bytes;
} fetch;

static int fetch_one(void *arg)
{
    fetch *f = arg;
    weft_http_response *resp;
    int r = weft_http_client_get(f->client, f->url, &resp); /* waits */
    if (r < 0) return r;
    const char *body;
    r = weft_http_response_body(resp, &body, &f->bytes);
    if (r == 0 && weft_http_response_status(resp) != 200) r = -1;
    weft_http_response_free(resp);
    return r;
}

static int main_task(void *arg)
{
    (void)arg;
    weft_http_server *srv = weft_http_server_new(NULL);
    weft_http_server_route(srv, "GET", "/item/{n}", item, NULL);
    int r = weft_http_server_listen(srv, "127.0.0.1", 0);
    if (r < 0) return r;

    weft_http_client_opts co = {.limit = 5};
    weft_http_client *client = weft_http_client_new(&co);
    fetch f[20];
    weft_task *t[20];
    double t0 = weft_now();
    for (int i = 0; i < 20; i++) {
        f[i].client = client;
        snprintf(f[i].url, sizeof f[i].url, "http://127.0.0.1:%d/item/%d",
                 weft_http_server_port(srv), i);
        t[i] = weft_spawn_named("fetch", fetch_one, &f[i]);
    }
    int res[20];
    r = weft_gather(t, 20, res);
    size_t total = 0;
    for (int i = 0; i < 20; i++) total += res[i] == 0 ? f[i].bytes : 0;
    printf("20 fetches in %.2f s, %zu bytes, first error: %s\n", weft_now() - t0, total,
           r < 0 ? weft_strerror(r) : "none");
    weft_http_client_close(client);
    weft_http_server_close(srv, 1.0);
    return r;
}

int main(void) { return weft_run(main_task, NULL) < 0; }
