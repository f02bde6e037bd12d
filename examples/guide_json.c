/* docs/guide.md, "JSON": a handler that reads a JSON body and answers
 * JSON, and a client session that posts a document and parses the reply.
 * Values are jansson's json_t (json_pack builds one, json_decref frees). */
#include <stdio.h>
#include <weft.h>
#include <weft/http_json.h>

static int add(weft_http_request *req, void *arg)
{
    (void)arg;
    json_t *in;
    /* Not JSON, or not declared as JSON: answered (400/415) for us. */
    if (weft_http_request_json(req, &in, NULL) < 0) return 0;
    json_int_t a = 0, b = 0;
    if (json_unpack(in, "{s:I, s:I}", "a", &a, "b", &b) < 0) {
        json_decref(in);
        return weft_http_respond(req, 422, "text/plain", "need a and b\n", 13);
    }
    json_decref(in);
    json_t *out = json_pack("{s:I}", "sum", a + b);
    int r = weft_http_respond_json(req, 200, out);
    json_decref(out);
    return r;
}

static int main_task(void *arg)
{
    (void)arg;
    weft_http_server *srv = weft_http_server_new(NULL);
    weft_http_server_route(srv, "POST", "/add", add, NULL);
    int r = weft_http_server_listen(srv, "127.0.0.1", 0);
    if (r < 0) return r;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/add", weft_http_server_port(srv));

    weft_http_client *client = weft_http_client_new(NULL);
    json_t *doc = json_pack("{s:i, s:i}", "a", 2, "b", 40);
    weft_http_response *resp;
    r = weft_http_client_request_json(client, "POST", url, doc, NULL, &resp); /* waits */
    json_decref(doc);
    if (r == 0) {
        json_t *reply;
        json_error_t err;
        r = weft_http_response_json(resp, &reply, &err); /* waits for the body */
        if (r == 0) {
            printf("sum = %lld\n", (long long)json_integer_value(json_object_get(reply, "sum")));
            json_decref(reply);
        } else {
            printf("bad reply: %s (%s)\n", weft_strerror(r), err.text);
        }
        weft_http_response_free(resp);
    }
    weft_http_client_close(client);
    weft_http_server_close(srv, 1.0);
    return r;
}

int main(void) { return weft_run(main_task, NULL) < 0; }
