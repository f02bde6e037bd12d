/* weft debug mode: task dumps and a registry of resources that must be
 * closed, reported at loop close when never closed.
 *
 * Debug mode is on when weft_options.debug is 1 or WEFT_DEBUG=1 is in the
 * environment. WEFT_TRACE=file.json additionally writes a Chrome trace-event
 * timeline (open it in https://ui.perfetto.dev or chrome://tracing). Reports
 * go to stderr, one line each, prefixed "weft: ". */
#ifndef WEFT_DEBUG_H
#define WEFT_DEBUG_H

#include <stdio.h>
#include "../weft.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if the calling thread runs a loop in debug mode, else 0. Layers use it
 * to skip debug-only work. Does not wait. */
int weft_debug_enabled(void);

/* Records obj (any address, typically an opaque object just made) as an open
 * resource of the given kind ("stream", "http session", ...), created at
 * file:line. At loop close every object still tracked is reported as never
 * closed, with its kind and creation site. kind and file are not copied
 * (string literals). A no-op outside debug mode or outside a loop; tracking
 * an address twice replaces the first record. Does not wait. Use the macro
 * WEFT_DEBUG_TRACK to capture the caller's file and line. */
void weft_debug_track(const void *obj, const char *kind, const char *file, int line);
/* Forgets obj (call it when the object is closed/freed). Unknown addresses
 * and NULL are ignored. Does not wait. */
void weft_debug_untrack(const void *obj);
#define WEFT_DEBUG_TRACK(obj, kind) weft_debug_track((obj), (kind), __FILE__, __LINE__)
/* As weft_debug_track for library code, which has no useful __FILE__: the
 * creation site is the code address `caller`, reported as function+offset
 * (object+offset for addr2line). A library's public constructor passes
 * WEFT_DEBUG_CALLER, its own return address, i.e. the user's call. */
void weft_debug_track_at(const void *obj, const char *kind, const void *caller);
#define WEFT_DEBUG_CALLER __builtin_return_address(0)

/* Prints every task of the calling thread's loop to f: id, name, state, what
 * it waits on (sleep deadline, fd, semaphore, queue, another task...), spawn
 * site (debug mode only), run time so far (debug mode only), and the
 * backtrace of where it is suspended (from its saved context by frame
 * pointers; the running task's own stack otherwise). Then the tracked
 * resources still open. In a run of several loops, each loop follows under
 * "loop N (thread T):": each dumps itself between two of its turns, and one
 * that does not answer within 0.5 s (a task keeps it busy) is reported as
 * busy, naming that task in debug mode; the caller's thread blocks for that
 * long at most. Outside a loop it prints one line saying so. In debug mode
 * SIGUSR1 prints the same dump to stderr at any moment, even while a task
 * blocks the loop, for every loop of the run that is in debug mode. Does
 * not wait (as a task: it never yields). */
void weft_dump_tasks(FILE *f);

#ifdef __cplusplus
}
#endif
#endif
