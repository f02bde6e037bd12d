/* JSON bodies on both sides, through jansson (docs/design.md, "JSON"):
 * weft reads and writes the bytes, jansson parses and serialises them.
 * The one thing weft scans itself is the nesting depth, before jansson
 * sees the text: jansson's parser recurses per level up to 2048 levels,
 * several hundred KiB of stack, and a task's stack may be far smaller (256
 * KiB by default, less if the program chose so). */
#include "http/server_internal.h"
#include <weft/http_json.h>
#include <errno.h>
#include <stdlib.h>
#include <strings.h>

/* Deeper documents are refused before parsing: serde_json's limit, far
 * past what real documents nest, and a few KiB of a task's stack. */
#define JSON_MAX_DEPTH 128
#define PARSE_FLAGS (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES)
#define DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)

int weft_http_is_json_type(const char *ct)
{
    if (!ct) return 0;
    while (*ct == ' ' || *ct == '\t') ct++;
    size_t n = strcspn(ct, "; \t");
    if (n < 12 || strncasecmp(ct, "application/", 12)) return 0;
    const char *sub = ct + 12;
    size_t sn = n - 12;
    return (sn == 4 && !strncasecmp(sub, "json", 4)) ||
           (sn > 5 && !strncasecmp(sub + sn - 5, "+json", 5));
}

/* 1 if [ and { nest deeper than JSON_MAX_DEPTH outside strings. Malformed
 * text is jansson's to report: this only counts. */
static int too_deep(const char *s, size_t n)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > JSON_MAX_DEPTH) return 1;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return 0;
}

/* Parses data[0..n) into *out. 0 or -WEFT_EHTTP_JSON with *err set. */
static int parse(const char *data, size_t n, json_t **out, json_error_t *err)
{
    *out = NULL;
    if (too_deep(data, n)) {
        memset(err, 0, sizeof *err);
        snprintf(err->text, sizeof err->text, "nested deeper than %d levels", JSON_MAX_DEPTH);
        return -WEFT_EHTTP_JSON;
    }
    *out = json_loadb(data, n, PARSE_FLAGS, err);
    return *out ? 0 : -WEFT_EHTTP_JSON;
}

/* ---- client ------------------------------------------------------------------- */

int weft_http_client_request_json(weft_http_client *c, const char *method, const char *url,
                                  const json_t *body, const weft_http_req_opts *opt,
                                  weft_http_response **out)
{
    *out = NULL;
    weft_http_req_opts o = opt ? *opt : (weft_http_req_opts){0};
    char *text = NULL;
    if (body) {
        text = json_dumps(body, DUMP_FLAGS);
        if (!text) return -EINVAL;
        o.body = text, o.body_len = strlen(text);
        o.body_fn = NULL;
    }
    weft_http_header *hs = malloc((o.nheaders + 2) * sizeof *hs);
    if (!hs) {
        free(text);
        return -ENOMEM;
    }
    size_t n = o.nheaders;
    if (n) memcpy(hs, o.headers, n * sizeof *hs);
    if (body && !weft__header_find(hs, n, "content-type"))
        hs[n++] = (weft_http_header){"Content-Type", "application/json"};
    if (!weft__header_find(hs, n, "accept"))
        hs[n++] = (weft_http_header){"Accept", "application/json"};
    o.headers = hs, o.nheaders = n;
    int e = weft_http_client_request(c, method, url, &o, out);
    free(hs);
    free(text);
    return e;
}

int weft_http_response_json(weft_http_response *r, json_t **out, json_error_t *err)
{
    json_error_t own;
    if (!err) err = &own;
    *out = NULL;
    memset(err, 0, sizeof *err);
    if (!weft_http_is_json_type(weft_http_response_header(r, "content-type"))) {
        snprintf(err->text, sizeof err->text, "Content-Type is not JSON");
        return -WEFT_EHTTP_CONTENT_TYPE;
    }
    const char *d;
    size_t n;
    int e = weft_http_response_body(r, &d, &n);
    return e ? e : parse(d, n, out, err);
}

/* ---- server -------------------------------------------------------------------- */

int weft_http_request_json(weft_http_request *req, json_t **out, json_error_t *err)
{
    json_error_t own;
    if (!err) err = &own;
    *out = NULL;
    memset(err, 0, sizeof *err);
    int e = weft_check("weft_http_request_json");
    if (e) return e;
    if (!weft_http_is_json_type(weft_http_request_header(req, "content-type"))) {
        snprintf(err->text, sizeof err->text, "Content-Type is not JSON");
        if (!req->replied) weft__reply_simple(req, 415, "expected Content-Type: application/json");
        return -WEFT_EHTTP_CONTENT_TYPE;
    }
    const char *d;
    size_t n;
    if ((e = weft_http_request_body(req, &d, &n))) return e;
    if ((e = parse(d, n, out, err)) && !req->replied) {
        char msg[256];
        if (err->line > 0)
            snprintf(msg, sizeof msg, "invalid JSON: %s (line %d, column %d)", err->text,
                     err->line, err->column);
        else
            snprintf(msg, sizeof msg, "invalid JSON: %s", err->text);
        weft__reply_simple(req, 400, msg);
    }
    return e;
}

int weft_http_respond_json(weft_http_request *req, int status, const json_t *v)
{
    int e = weft_check("weft_http_respond_json");
    if (e) return e;
    if (!v) return -EINVAL;
    char *text = json_dumps(v, DUMP_FLAGS);
    if (!text) return -EINVAL;
    e = weft_http_respond(req, status, "application/json", text, strlen(text));
    free(text);
    return e;
}
