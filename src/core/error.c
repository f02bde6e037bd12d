/* Error names: errno's own (with the core's wording for the few it gives a
 * meaning), and weft's codes (WEFT_ERRBASE and up), whose tables the
 * higher layers register (error_table.h). */
#define _GNU_SOURCE /* strerrorname_np */
#include "internal.h"
#include "error_table.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

/* The core's table: errno values whose strerror text does not say what
 * they mean from weft (ECANCELED is "Operation canceled", EPIPE "Broken
 * pipe" also for a closed queue). X(NAME, text). */
#define WEFT_CORE_ERRNO_TEXTS(X)                                              \
    X(ECANCELED, "cancelled") /* weft_cancel, a shield's end, a group's */   \
    X(ETIMEDOUT, "timed out") /* weft_timeout, timeout_s arguments */        \
    X(EPIPE, "closed")        /* a closed queue, channel or stream */

#define MAX_TABLES 16
static struct {
    const weft__errdesc *t;
    size_t n;
} tables[MAX_TABLES];
static int ntables;

void weft__error_table(const weft__errdesc *t, size_t n)
{
    for (int i = 0; i < ntables; i++)
        if (tables[i].t == t) return;
    if (ntables < MAX_TABLES) tables[ntables++] = (typeof(tables[0])){t, n};
}

static const weft__errdesc *find(int code)
{
    for (int i = 0; i < ntables; i++)
        for (size_t k = 0; k < tables[i].n; k++)
            if (tables[i].t[k].code == code) return &tables[i].t[k];
    return NULL;
}

/* |err|, or -1 for INT_MIN (which has none). */
static int code_of(int err)
{
    if (err == INT_MIN) return -1;
    return err < 0 ? -err : err;
}

const char *weft_strerror(int err)
{
    int code = code_of(err);
    if (code == 0) return "success";
    if (code < 0) return "unknown error";
    if (code >= WEFT_ERRBASE) {
        const weft__errdesc *d = find(code);
        return d ? d->text : "unknown weft error";
    }
    switch (code) {
#define TEXT_CASE(name, text) \
    case name: return text;
        WEFT_CORE_ERRNO_TEXTS(TEXT_CASE)
#undef TEXT_CASE
    }
    return strerror(code);
}

const char *weft_err_name(int err)
{
    int code = code_of(err);
    if (code == 0) return "0";
    if (code < 0) return "unknown";
    if (code >= WEFT_ERRBASE) {
        const weft__errdesc *d = find(code);
        return d ? d->name : "unknown";
    }
    const char *s = strerrorname_np(code); /* glibc 2.32 */
    return s ? s : "unknown";
}
