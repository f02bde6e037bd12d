/* Internals shared by debug.c, dump.c and trace.c. Not installed. */
#ifndef WEFT_CORE_DEBUG_INT_H
#define WEFT_CORE_DEBUG_INT_H
#include "internal.h"
#include <stdio.h>

typedef struct weft__dbgobj {
    const void *obj; /* NULL: empty slot; (void *)1: deleted */
    const char *kind, *file;
    int line;
    const void *caller; /* creation site as a code address when file is NULL */
} weft__dbgobj;
/* "file:line", or the symbolized caller, of a tracked object. */
const char *weft__obj_site(const weft__dbgobj *o, char *buf, size_t n);

struct weft__dbgstate {
    int reports;            /* debug mode was asked for: print reports */
    int trace;              /* WEFT_TRACE is on */
    unsigned loop_no;       /* trace pid: loops of a process, from 1 */
    weft__dbgobj *objs;     /* open-addressed by address */
    size_t nobjs, capobjs, used; /* live, slots, live + deleted */
    unsigned char *fd_seen;  /* bitmap: blocking fds already reported */
    size_t fd_seen_bytes;
    struct weft__watchdog *watchdog; /* NULL: none (reports off, or no thread) */
};

/* symbols.c: fills *fn with the function holding addr (NULL if unknown) and
 * *off with the offset in it; returns the object's path (NULL if none holds
 * addr) and its offset in *objoff, for addr2line. Signal-safe. */
const char *weft__symbolize(uintptr_t addr, const char **fn, uintptr_t *off, uintptr_t *objoff);
/* task.c: calls fn on every task record in use (running, parked, or ended
 * and not yet freed) of the calling thread's loop; none outside a loop. */
void weft__each_task(void (*fn)(weft__loop *, weft_task *));

/* A task's label for reports: its name, else "task <id> spawned at <site>". */
const char *weft__task_label(const weft_task *t, char *buf, size_t n);
/* "file:line", "file" when line is 0, or "?" */
const char *weft__site(const weft_task *t, char *buf, size_t n);
const char *weft__wait_name(int kind);
/* Describes what t waits on into buf. */
const char *weft__wait_desc(weft__loop *L, const weft_task *t, char *buf, size_t n);
/* The tracked object containing address p (within 512 bytes of its start),
 * or NULL: names the semaphore or queue a task waits on. */
const weft__dbgobj *weft__dbg_find_near(weft__loop *L, const void *p);

/* Reports of leaks and misuse (not slow tasks) made on this thread. */
extern __thread unsigned long weft__debug_leaks;

/* watchdog.c: where a slow task blocks (see there) */
#define WEFT__WATCH_FRAMES 12
struct weft__watchdog *weft__watchdog_start(weft__loop *L);
void weft__watchdog_stop(struct weft__watchdog *w);
/* A run of t begins at start (> 0) or ends (start == 0). */
void weft__watchdog_run(struct weft__watchdog *w, weft__loop *L, weft_task *t, double start);
/* The capture of the current run: -1 if none, else the frame count, with
 * *sys the system call number (-1: it was computing). */
int weft__watchdog_take(struct weft__watchdog *w, long *sys, uintptr_t *pcs);
const char *weft__syscall_name(long nr);

/* dump.c */
void weft__dump_signal_install(weft__loop *L);
void weft__dump_signal_remove(weft__loop *L);
/* Publishes the running task (now 0: none) for other loops' dumps. */
void weft__dump_busy(weft__loop *L, weft_task *t, double now);
/* Prints symbolized code addresses, one line each, as dumps do. */
void weft__print_pcs(FILE *f, void *const *pcs, int n);

/* trace.c: all called only when dbgs->trace */
int weft__trace_open(weft__loop *L);
void weft__trace_spawn(weft__loop *L, weft_task *t);
void weft__trace_slice(weft__loop *L, weft_task *t, const char *name, const char *cat, double from,
                       double to);
void weft__trace_done(weft__loop *L, weft_task *t, int result);
void weft__trace_close(weft__loop *L);
#endif
