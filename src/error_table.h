/* The hook through which each layer gives weft_strerror and weft_err_name
 * (src/core/error.c) its error table, the one its public header lists as
 * WEFT_<LAYER>_ERRORS(X). Not installed. A layer registers from a
 * constructor, before main, while the program is still single-threaded:
 * the list is not locked. Registering the same table twice is a no-op; at
 * most 16 tables.
 *
 * In the layer's file that its every user links (static links take only
 * the objects something refers to):
 *     WEFT__ERROR_TABLE(dns, WEFT_DNS_ERRORS)
 * tests/test_core_errors.c checks each table's codes lie in its range
 * (weft.h) and that none is used twice. */
#ifndef WEFT_ERROR_TABLE_H
#define WEFT_ERROR_TABLE_H
#include <stddef.h>

typedef struct weft__errdesc {
    int code;
    const char *name; /* "WEFT_EDNS" */
    const char *text; /* weft_strerror's */
} weft__errdesc;

void weft__error_table(const weft__errdesc *table, size_t n);

#define WEFT__ERRDESC_(name, code, text) {(code), "WEFT_" #name, (text)},
#define WEFT__ERROR_TABLE(layer, MAP)                                                   \
    static const weft__errdesc layer##_error_table[] = {MAP(WEFT__ERRDESC_)};          \
    __attribute__((constructor)) static void layer##_error_table_register(void)       \
    {                                                                                   \
        weft__error_table(layer##_error_table,                                          \
                          sizeof layer##_error_table / sizeof *layer##_error_table);    \
    }

#endif
