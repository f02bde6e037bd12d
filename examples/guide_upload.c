/* docs/guide.md, "Uploads": a form with a field and a file posted by a
 * client session (the file streamed from disk), read part by part by a
 * handler that writes the file part to disk under a size limit. */
#include <stdio.h>
#include <string.h>
#include <weft.h>
#include <weft/http_multipart.h>

static int upload(weft_http_request *req, void *arg)
{
    (void)arg;
    weft_http_multipart *form;
    /* Not multipart/form-data: answered (415/400) for us. */
    if (weft_http_request_multipart(req, NULL, &form) < 0) return 0;
    const weft_http_part *part;
    char reply[256] = "";
    int r;
    while ((r = weft_http_multipart_next(form, &part)) == 1) {
        if (part->filename) {
            /* Our own name for it: a client's filename is never a path. */
            int64_t n = weft_http_multipart_save(form, "/tmp/weft-guide-upload", 1 << 20);
            if (n < 0) { r = (int)n; break; }
            snprintf(reply + strlen(reply), sizeof reply - strlen(reply), "%s: %lld bytes\n",
                     part->filename, (long long)n);
        } else {
            const char *text;
            size_t len;
            if ((r = weft_http_multipart_text(form, &text, &len, 1024)) < 0) break;
            snprintf(reply + strlen(reply), sizeof reply - strlen(reply), "%s = %s\n",
                     part->name, text);
        }
    }
    weft_http_multipart_free(form);
    remove("/tmp/weft-guide-upload");
    if (r < 0) return 0; /* answered: 400 or 413 */
    return weft_http_respond(req, 200, "text/plain", reply, strlen(reply));
}

static int main_task(void *arg)
{
    (void)arg;
    weft_http_server *srv = weft_http_server_new(NULL);
    weft_http_server_route(srv, "POST", "/upload", upload, NULL);
    int r = weft_http_server_listen(srv, "127.0.0.1", 0);
    if (r < 0) return r;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/upload", weft_http_server_port(srv));

    weft_file_write("/tmp/weft-guide-notes.txt", "some notes\n", 11);
    weft_http_formdata *f = weft_http_formdata_new();
    weft_http_formdata_add(f, "title", "My notes");
    weft_http_formdata_add_file(f, "file", "/tmp/weft-guide-notes.txt", NULL, "text/plain");
    weft_http_client *client = weft_http_client_new(NULL);
    weft_http_response *resp;
    r = weft_http_client_request_formdata(client, "POST", url, f, NULL, &resp); /* waits */
    if (r == 0) {
        const char *body;
        size_t len;
        if (weft_http_response_body(resp, &body, &len) == 0) printf("%s", body);
        weft_http_response_free(resp);
    }
    weft_http_formdata_free(f);
    remove("/tmp/weft-guide-notes.txt");
    weft_http_client_close(client);
    weft_http_server_close(srv, 1.0);
    return r;
}

int main(void) { return weft_run(main_task, NULL) < 0; }
