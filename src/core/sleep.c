/* Time as tasks see it: the loop's clock, weft_sleep, and weft_check (the
 * entry check of every waiting call: outside a task, cancelled, or past a
 * deadline). A sleep is a park with a deadline and nothing to wait on; the
 * timer heap that ends it is timer.c. */
#define _GNU_SOURCE
#include "internal.h"
#include <errno.h>
#include <time.h>

double weft__clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double weft_now(void) { return weft__L ? weft__L->now : weft__clock(); }

int weft_check(const char *fn)
{
    if (!fn && (!weft__L || !weft__L->current)) return -EPERM;
    return weft__enter(fn);
}

int weft_sleep(double seconds)
{
    int r = weft__enter("weft_sleep");
    if (r == -EPERM) return r;
    if (isnan(seconds) || seconds < 0) return -EINVAL;
    if (r) return r;
    if (seconds == 0) return weft_yield();
    weft__loop *L = weft__L;
    L->now = weft__clock();
    return weft__park(NULL, WAIT_SLEEP, L->now + seconds, 0, 1);
}
