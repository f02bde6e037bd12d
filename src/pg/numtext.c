/* Floats to and from text in the "C" locale whatever the process's locale:
 * the server always writes and reads "3.25", while snprintf and strtod follow
 * LC_NUMERIC (de_DE writes "3,25" and stops reading "3.25" at the dot). */
#define _GNU_SOURCE
#include "pg_internal.h"
#include <errno.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

/* (locale_t)0 if newlocale failed; callers then fail rather than guess. */
static locale_t get_c_locale(void)
{
    pthread_once(&c_locale_once, make_c_locale);
    return c_locale;
}

int pg__double_text(char *buf, size_t n, double v)
{
    locale_t c = get_c_locale();
    if (!c) return -ENOMEM;
    locale_t old = uselocale(c); /* per thread: other threads keep theirs */
    int len = snprintf(buf, n, "%.17g", v);
    uselocale(old);
    return len;
}

double pg__text_double(const char *s, char **end)
{
    locale_t c = get_c_locale();
    if (!c) {
        *end = (char *)s; /* nothing read */
        return 0;
    }
    return strtod_l(s, end, c);
}
