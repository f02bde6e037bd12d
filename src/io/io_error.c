/* Names of the io error codes (WEFT_EINCOMPLETE...) for weft_strerror. */
#include "stream_internal.h"

const char *weft__io_error_name(int code)
{
    switch (code) {
    case WEFT_EINCOMPLETE: return "stream ended before the expected bytes";
    case WEFT_ELIMIT: return "limit reached before the delimiter (nothing consumed)";
    case WEFT_EDNS: return "name not resolved (host not found)";
    case WEFT_EDNSAGAIN: return "temporary name resolution failure";
    }
    return NULL;
}

/* Registered before main, while the program is still single-threaded: the
 * table in src/core/error.c is not locked. */
__attribute__((constructor)) static void io_errors_register(void)
{
    weft__error_table(WEFT_ERRBASE, WEFT_ERRBASE + 99, weft__io_error_name);
}
