/* Error names: errno's own, and weft's codes (WEFT_ERRBASE and up), which
 * the higher layers register their tables for. */
#include "internal.h"
#include "error_table.h"
#include <errno.h>
#include <limits.h>
#include <string.h>

#define MAX_TABLES 8
static struct {
    int lo, hi;
    const char *(*name)(int);
} tables[MAX_TABLES];
static int ntables;

/* Lets a layer (TLS, HTTP, PostgreSQL) name its codes in [lo, hi]. */
void weft__error_table(int lo, int hi, const char *(*name)(int))
{
    for (int i = 0; i < ntables; i++)
        if (tables[i].lo == lo) return;
    if (ntables < MAX_TABLES) tables[ntables++] = (typeof(tables[0])){lo, hi, name};
}

const char *weft_strerror(int err)
{
    if (err == 0) return "success";
    if (err == INT_MIN) return "unknown error";
    int code = err < 0 ? -err : err;
    if (code >= WEFT_ERRBASE) {
        for (int i = 0; i < ntables; i++)
            if (code >= tables[i].lo && code <= tables[i].hi) {
                const char *s = tables[i].name(code);
                if (s) return s;
            }
        return "unknown weft error";
    }
    switch (code) {
    case ECANCELED: return "cancelled";
    case ETIMEDOUT: return "timed out";
    case EPIPE: return "closed";
    }
    return strerror(code);
}
