/* Barrier (asyncio.Barrier): `parties` tasks meet, then all go on.
 *
 * The last to arrive wakes the others with 0 and the barrier starts its next
 * round at once, so a fast task coming round again cannot join the round
 * that is still waking. A waiter that leaves early (cancelled, past its
 * deadline) breaks the barrier, as in asyncio: the round can no longer
 * complete, so the others are woken with -EPIPE rather than left waiting
 * for someone who will not come; it stays broken. */
#include "internal.h"
#include <errno.h>
#include <stdlib.h>

struct weft_barrier {
    int parties;
    int arrived;   /* in the current round */
    int broken;
    weft__wlist waiters;
    weft__loop *home; /* the loop that made it: -EXDEV from others */
};

weft_barrier *weft_barrier_new(int parties)
{
    if (parties < 1) {
        errno = EINVAL;
        return NULL;
    }
    weft_barrier *b = calloc(1, sizeof *b);
    if (b) {
        b->parties = parties;
        b->home = weft__L;
    }
    return b;
}

int weft_barrier_wait(weft_barrier *b)
{
    if (!b) return -EINVAL;
    int r = weft__enter_home(b->home, "weft_barrier_wait");
    if (r) return r;
    if (b->broken) return -EPIPE;
    int index = b->arrived++;
    if (b->arrived == b->parties) {
        b->arrived = 0;
        weft__wl_wake_all(&b->waiters, 0);
        return index;
    }
    r = weft__wait(&b->waiters, WAIT_BARRIER, -1, INFINITY, 0, 1);
    if (r == 0) return index; /* released: kept even if cancelled since */
    if (r != -EPIPE && !b->broken) { /* this waiter left: nobody can complete the round */
        b->broken = 1;
        weft__wl_wake_all(&b->waiters, -EPIPE);
    }
    return r;
}

void weft_barrier_free(weft_barrier *b)
{
    if (!b) return;
    weft__wl_wake_all(&b->waiters, -EPIPE);
    free(b);
}
