/* weft/http_json.h: JSON bodies for the HTTP client and server (aiohttp's
 * json= / resp.json() / request.json() / web.json_response), through
 * jansson (Debian's libjansson-dev; docs/design.md, "JSON", says why that
 * library). Values are jansson's json_t: build them with json_pack or
 * json_object_set_new, read them with json_unpack or json_object_get, and
 * json_decref what these functions hand out.
 *
 * Parsing is strict RFC 8259 with two refusals on top, both because two
 * JSON parsers that read one document differently are an attack (a proxy
 * checks one meaning, the application acts on another): duplicate object
 * keys (jansson's JSON_REJECT_DUPLICATES) and "\u0000" inside a string
 * (it would cut the C string a caller reads). Any value may be at the top
 * (not only an object or array); nesting is limited to 2048 levels. */
#ifndef WEFT_HTTP_JSON_H
#define WEFT_HTTP_JSON_H

#include <weft/http.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if a Content-Type value names JSON: "application/json" or any
 * "application/...+json" (RFC 6839: application/problem+json), parameters
 * ignored, case-insensitive; 0 otherwise (NULL included). Does not wait. */
int weft_http_is_json_type(const char *content_type);

/* ---- client ---- */

/* weft_http_client_request with body serialised as compact UTF-8 JSON
 * ("Content-Type: application/json" unless opt's headers name one) and
 * "Accept: application/json" unless they name an Accept. body NULL: no
 * body, only the Accept. -EINVAL when body cannot be serialised (jansson
 * refuses it), else as weft_http_client_request. Waits. */
int weft_http_client_request_json(weft_http_client *c, const char *method, const char *url,
                                  const json_t *body, const weft_http_req_opts *opt,
                                  weft_http_response **out);
/* Reads the rest of r's body (max_body_bytes at most) and parses it into
 * *out (json_decref it). -WEFT_EHTTP_CONTENT_TYPE when the response's
 * Content-Type is not JSON (weft_http_is_json_type; the body is then left
 * unread: read it as text to see what came instead), -WEFT_EHTTP_JSON when
 * the body is not JSON (err, if not NULL, gets jansson's message, line and
 * column), or as weft_http_response_body. Waits. */
int weft_http_response_json(weft_http_response *r, json_t **out, json_error_t *err);

/* ---- server (in a handler) ---- */

/* Reads the request body (max_body_bytes at most) and parses it into *out
 * (json_decref it). The request must say it is JSON: a missing or other
 * Content-Type gets 415 and -WEFT_EHTTP_CONTENT_TYPE (browsers send
 * text/plain and type-less bodies cross-origin without asking, so this
 * check keeps such forged requests out of JSON handlers); a body that is
 * not JSON gets 400 with jansson's message and -WEFT_EHTTP_JSON (err, if
 * not NULL, gets the message too); a body too large gets 413 and
 * -WEFT_EHTTP_BODY_SIZE. The answer is sent only if the handler has sent
 * none; a handler returning the error closes the connection, one that
 * returns 0 keeps it. Waits. */
int weft_http_request_json(weft_http_request *req, json_t **out, json_error_t *err);
/* Replies with v as compact JSON, "Content-Type: application/json" (as
 * weft_http_respond). -EINVAL when v cannot be serialised (nothing sent),
 * else as weft_http_respond. v stays the caller's. Waits. */
int weft_http_respond_json(weft_http_request *req, int status, const json_t *v);

#ifdef __cplusplus
}
#endif
#endif
