/* Choosing a loop's backend (backend.h has the seam). The build compiles in
 * every backend of its WEFT_BACKENDS list and passes the list here as
 * WEFT_BACKEND_LIST, X(epoll)X(poll): the first is the default.
 *
 * Chosen at run time, per loop, rather than at build time, so that one
 * build runs its suites on each backend (WEFT_BACKEND=poll ctest -L
 * backend) and a user can try another poller without rebuilding. The
 * environment is read once per loop, when it opens, never on a hot path. */
#define _GNU_SOURCE
#include "backend.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifndef WEFT_BACKEND_LIST
#define WEFT_BACKEND_LIST X(epoll)
#endif

#define X(name) extern WEFT__BACKEND(name);
WEFT_BACKEND_LIST
#undef X

#define X(name) &weft__backend_ops_##name,
static const struct weft__backend_ops *const backends[] = {WEFT_BACKEND_LIST};
#undef X
#define NBACKENDS (sizeof backends / sizeof backends[0])

int weft__backend_init(weft__loop *L)
{
    const char *want = getenv("WEFT_BACKEND");
    const struct weft__backend_ops *ops = backends[0];
    if (want && *want) {
        ops = NULL;
        for (size_t i = 0; i < NBACKENDS && !ops; i++)
            if (strcmp(backends[i]->name, want) == 0) ops = backends[i];
    }
    if (!ops) {
        char names[256] = "";
        for (size_t i = 0; i < NBACKENDS; i++) {
            if (i) strncat(names, ", ", sizeof names - strlen(names) - 1);
            strncat(names, backends[i]->name, sizeof names - strlen(names) - 1);
        }
        weft__report("WEFT_BACKEND=%s: no such backend in this build (it has: %s)", want, names);
        return -EINVAL;
    }
    return ops->init(L);
}
