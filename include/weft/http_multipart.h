/* weft/http_multipart.h: multipart/form-data (RFC 7578) both ways: a
 * client body of fields and files streamed from disk (aiohttp's FormData,
 * curl -F), and a streaming reader for handlers (aiohttp's
 * request.multipart()): part by part, each part's body read in pieces, so
 * an upload never has to fit in memory. */
#ifndef WEFT_HTTP_MULTIPART_H
#define WEFT_HTTP_MULTIPART_H

#include <weft/http.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ===========================================================================
 * Client: building a form body
 * ======================================================================== */

typedef struct weft_http_formdata weft_http_formdata;

/* An empty form with a random boundary. NULL and errno on failure. Does
 * not wait. */
weft_http_formdata *weft_http_formdata_new(void);
/* Frees the form and closes its files. NULL is a no-op. Does not wait. */
void weft_http_formdata_free(weft_http_formdata *f);
/* Adds a text field (value copied). Field names and file names are sent
 * as browsers send them: '"', CR and LF as %22, %0D, %0A. 0, -ENOMEM,
 * -EINVAL (NULL name or value). Does not wait. */
int weft_http_formdata_add(weft_http_formdata *f, const char *name, const char *value);
/* Adds a file part from memory (len bytes copied). filename NULL: none;
 * content_type NULL: application/octet-stream. 0, -ENOMEM, -EINVAL (CR or
 * LF in content_type). Does not wait. */
int weft_http_formdata_add_data(weft_http_formdata *f, const char *name, const char *filename,
                                const char *content_type, const void *data, size_t len);
/* Adds the file at path, streamed from disk when the form is sent (never
 * read whole). It is opened now and its size taken now, so the body's
 * length is known before sending (Content-Length, no chunking); if it has
 * another size when sent, the request fails with -EIO before the form is
 * complete, so the server never takes a partial file for a whole one.
 * filename NULL: path's last component; content_type NULL:
 * application/octet-stream. 0, -errno from open (-ENOENT, -EACCES,
 * -EISDIR: not a regular file), -EINVAL, -ENOMEM. Waits (opens off the
 * loop). */
int weft_http_formdata_add_file(weft_http_formdata *f, const char *name, const char *path,
                                const char *filename, const char *content_type);
/* The body's exact length in bytes. Does not wait. */
int64_t weft_http_formdata_length(const weft_http_formdata *f);
/* The Content-Type value, "multipart/form-data; boundary=...". Lives as
 * long as f. Does not wait. */
const char *weft_http_formdata_content_type(const weft_http_formdata *f);
/* weft_http_client_request with f as the body: Content-Type and
 * Content-Length set (the caller's Content-Type, if any, is replaced),
 * files read from disk (off the loop) piece by piece as the
 * connection takes them. A 307/308 redirect is returned as it is, the body
 * not sent twice. f can be sent again afterwards. Errors as weft_http_client_request, and -EIO (a
 * file changed size). Waits. */
int weft_http_client_request_formdata(weft_http_client *c, const char *method, const char *url,
                                      weft_http_formdata *f, const weft_http_req_opts *opt,
                                      weft_http_response **out);

/* ===========================================================================
 * Server: reading a form in a handler
 * ======================================================================== */

typedef struct weft_http_multipart weft_http_multipart;

/* Limits on top of the server's max_body_bytes (which bounds the whole
 * body, framing included). Zero fields take the defaults. */
typedef struct weft_http_multipart_opts {
    size_t max_parts;        /* default 128 (a form of many empty parts costs
                                the server per part) */
    size_t max_header_bytes; /* one part's head; default 8 KiB */
    uint64_t max_part_bytes; /* one part's body; default: only max_body_bytes */
} weft_http_multipart_opts;

/* One part's head. Strings live until the next weft_http_multipart_next. */
typedef struct weft_http_part {
    const char *name;         /* the field name (Content-Disposition's name) */
    const char *filename;     /* as sent, NULL when none: never use it as a
                                 path (it may hold "/", "..", "\\") */
    const char *content_type; /* NULL when the part has none (text) */
    const weft_http_header *headers; /* all of the part's header lines */
    size_t nheaders;
} weft_http_part;

/* Starts reading the request's body as multipart/form-data. Nothing is
 * read yet. 0; -WEFT_EHTTP_CONTENT_TYPE (not multipart/form-data: the
 * client gets 415) or -WEFT_EHTTP_MULTIPART (no usable boundary: 400);
 * -ENOMEM. opt may be NULL. Does not wait. */
int weft_http_request_multipart(weft_http_request *req, const weft_http_multipart_opts *opt,
                                weft_http_multipart **out);
/* Goes to the next part (skipping what was not read of the current one):
 * 1 and *part set, 0 after the last part. Errors, each answered for the
 * handler if it has not answered yet (the server then drains the rest of
 * the body, as for any handler that leaves some, so that the client can
 * read the answer):
 * -WEFT_EHTTP_MULTIPART (broken framing or a part head that is not a
 * form-data one: 400), -WEFT_EHTTP_HEADERS_SIZE (a part head over
 * max_header_bytes: 400), -E2BIG (over max_parts: 400),
 * -WEFT_EHTTP_BODY_SIZE (413), and the read errors of
 * weft_http_request_read. Waits. */
int weft_http_multipart_next(weft_http_multipart *m, const weft_http_part **part);
/* Reads up to n bytes of the current part's body; 0 at its end.
 * -WEFT_EHTTP_BODY_SIZE past max_part_bytes (413), or as
 * weft_http_multipart_next. Waits. */
ssize_t weft_http_multipart_read(weft_http_multipart *m, void *buf, size_t n);
/* Reads the rest of the current part into memory owned by m (valid until
 * the next call on m), NUL-terminated; max bytes at most (0: 64 KiB):
 * past it -WEFT_EHTTP_BODY_SIZE (413). Waits. */
int weft_http_multipart_text(weft_http_multipart *m, const char **data, size_t *len, size_t max);
/* Writes the rest of the current part into a new file at path (mode 0600;
 * an existing file is an error, -EEXIST), max bytes at most (0: no limit
 * but max_part_bytes): past it the file is removed and
 * -WEFT_EHTTP_BODY_SIZE returned (413 sent). Also removed on any other
 * error, a cancel or an expired deadline included. The bytes written, or -errno. Waits (disk writes off the loop). */
int64_t weft_http_multipart_save(weft_http_multipart *m, const char *path, uint64_t max);
/* Frees the reader (the rest of the body is drained by the server as for
 * any handler). NULL is a no-op. Does not wait. */
void weft_http_multipart_free(weft_http_multipart *m);

#ifdef __cplusplus
}
#endif
#endif
