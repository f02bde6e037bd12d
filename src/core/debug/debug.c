/* Debug mode: spawn sites, slow-task reports, the reports at main's end and
 * at loop close (tasks never awaited, errors nobody read, resources never
 * closed), the resource registry, and the blocking-fd check.
 *
 * Costs nothing when off: the core calls these hooks only behind one test of
 * opt.debug, and the registry functions return at once when the loop has no
 * debug state. */
#define _GNU_SOURCE
#include "debug_int.h"
#include "weft/debug.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__thread unsigned long weft__debug_leaks;

static int env_on(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

void weft__debug_open(weft__loop *L)
{
    if (env_on("WEFT_DEBUG")) L->opt.debug = 1;
    const char *tr = getenv("WEFT_TRACE");
    int trace = tr && *tr;
    if (!L->opt.debug && !trace) return;
    struct weft__dbgstate *d = calloc(1, sizeof *d);
    if (!d) {
        L->opt.debug = 0;
        return;
    }
    L->dbgs = d;
    d->reports = L->opt.debug != 0;
    L->opt.debug = 1; /* the hooks serve both reports and the trace */
    if (trace) d->trace = weft__trace_open(L) == 0;
    if (d->reports) {
        weft__dump_signal_install(L);
        d->watchdog = weft__watchdog_start(L);
    }
}

int weft_debug_enabled(void) { return weft__L && weft__L->dbgs && weft__L->dbgs->reports; }

/* ---- labels ---------------------------------------------------------------- */

const char *weft__site(const weft_task *t, char *buf, size_t n)
{
    if (!t->dbg || !t->dbg->file) return "?";
    if (t->dbg->line <= 0) return t->dbg->file;
    snprintf(buf, n, "%s:%d", t->dbg->file, t->dbg->line);
    return buf;
}

const char *weft__task_label(const weft_task *t, char *buf, size_t n)
{
    char site[256];
    if (!t->dbg) {
        if (t->name) snprintf(buf, n, "task '%s' (id %u)", t->name, t->id);
        else snprintf(buf, n, "task %u", t->id);
        return buf;
    }
    if (t->name) snprintf(buf, n, "task '%s' (id %u, spawned at %s)", t->name, t->id,
                          weft__site(t, site, sizeof site));
    else snprintf(buf, n, "task %u (spawned at %s)", t->id, weft__site(t, site, sizeof site));
    return buf;
}

const char *weft__wait_name(int kind)
{
    static const char *const names[] = {"nothing", "sleep",  "task",   "semaphore",
                                        "lock",    "event",  "condition", "queue",
                                        "fd",      "thread", "group",  "yield",
                                        "room",    "connections", "channel",
                                        "dns",     "barrier"};
    return kind >= 0 && kind < (int)(sizeof names / sizeof *names) ? names[kind] : "?";
}

static double sleep_until(weft__loop *L, const weft_task *t)
{
    if (!RUN(t)->timer_seq) return INFINITY;
    for (size_t i = 0; i < L->nheap; i++)
        if (L->heap[i].task == t && L->heap[i].seq == RUN(t)->timer_seq) return L->heap[i].when;
    return INFINITY;
}

/* The task t waits for (await, gather, wait_for): the one whose watchers
 * list has t. Only dumps pay for this scan. */
static __thread const weft_task *find_waiter, *find_found;
static void find_awaited(weft__loop *L, weft_task *o)
{
    (void)L;
    for (weft__watch *w = o->watchers; w; w = w->next)
        if (w->waiter == find_waiter) find_found = o;
}
static const weft_task *awaited_by(const weft_task *t)
{
    find_waiter = t;
    find_found = NULL;
    weft__each_task(find_awaited);
    return find_found;
}

const char *weft__wait_desc(weft__loop *L, const weft_task *t, char *buf, size_t n)
{
    char lab[512];
    double until = sleep_until(L, t);
    char dl[64] = "";
    if (until < INFINITY) snprintf(dl, sizeof dl, ", until now%+.3f s", until - weft__clock());
    switch (RUN(t)->wait_kind) {
    case WAIT_SLEEP: snprintf(buf, n, "sleep%s", dl); break;
    case WAIT_FD: {
        int ev = (int)(intptr_t)RUN(t)->xfer;
        snprintf(buf, n, "fd %d (%s%s)%s", RUN(t)->wait_fd, ev & WEFT_READABLE ? "r" : "",
                 ev & WEFT_WRITABLE ? "w" : "", dl);
        break;
    }
    case WAIT_ROOM: {
        /* Room in an io object (a stream's write buffer, a server's
         * connection slots), which the io layer names by its wait list and,
         * if it has one, its fd. */
        const weft__dbgobj *o = weft__dbg_find_near(L, RUN(t)->wlist);
        char site[512], fd[32] = "";
        if (RUN(t)->wait_fd >= 0) snprintf(fd, sizeof fd, " on fd %d", RUN(t)->wait_fd);
        if (o) snprintf(buf, n, "room in %s %p%s (created at %s)%s", o->kind, o->obj,
                        fd, weft__obj_site(o, site, sizeof site), dl);
        else snprintf(buf, n, "room in %p%s%s", (void *)RUN(t)->wlist, fd, dl);
        break;
    }
    case WAIT_TASK: {
        const weft_task *o = awaited_by(t);
        snprintf(buf, n, "%s%s", o ? weft__task_label(o, lab, sizeof lab) : "task(s)", dl);
        break;
    }
    case WAIT_SEM: case WAIT_LOCK: case WAIT_EVENT: case WAIT_COND: case WAIT_QUEUE: {
        const weft__dbgobj *o = weft__dbg_find_near(L, RUN(t)->wlist);
        char site[512];
        if (o) snprintf(buf, n, "%s %p (%s created at %s)%s", weft__wait_name(RUN(t)->wait_kind),
                        (void *)RUN(t)->wlist, o->kind, weft__obj_site(o, site, sizeof site), dl);
        else snprintf(buf, n, "%s %p%s", weft__wait_name(RUN(t)->wait_kind), (void *)RUN(t)->wlist, dl);
        break;
    }
    default: snprintf(buf, n, "%s%s", weft__wait_name(RUN(t)->wait_kind), dl);
    }
    return buf;
}

/* ---- hooks ------------------------------------------------------------------- */

void weft__debug_spawned(weft__loop *L, weft_task *t, const char *file, int line)
{
    t->dbg = calloc(1, sizeof *t->dbg);
    if (!t->dbg) return;
    t->dbg->file = file;
    t->dbg->line = line;
    t->dbg->parent = L->current ? L->current->id : 0;
    if (L->dbgs && L->dbgs->trace) weft__trace_spawn(L, t);
}

void weft__debug_run_begin(weft__loop *L, weft_task *t)
{
    struct weft__debug *d = t->dbg;
    if (!d) return;
    double now = weft__clock();
    if (d->wait_start > 0 && L->dbgs && L->dbgs->trace)
        weft__trace_slice(L, t, RUN(t)->wait_kind ? weft__wait_name(RUN(t)->wait_kind) : "ready", "wait",
                          d->wait_start, now);
    d->wait_start = 0;
    d->run_start = now;
    weft__dump_busy(L, t, now);
    if (L->dbgs && L->dbgs->watchdog) weft__watchdog_run(L->dbgs->watchdog, L, t, now);
}

/* What the watchdog saw while the slow run went on. */
static void blocked_where(struct weft__watchdog *w)
{
    uintptr_t pcs[WEFT__WATCH_FRAMES];
    long sys;
    int n = weft__watchdog_take(w, &sys, pcs);
    if (n < 0) return;
    const char *name = sys >= 0 ? weft__syscall_name(sys) : NULL;
    if (sys < 0) fprintf(stderr, "      it was computing (in no system call) when sampled\n");
    else if (name) fprintf(stderr, "      it was blocked in the system call %s(), called from "
                                   "(stack scan, innermost first):\n", name);
    else fprintf(stderr, "      it was blocked in system call %ld, called from (stack scan, "
                         "innermost first):\n", sys);
    weft__print_pcs(stderr, (void *const *)pcs, n);
}

void weft__debug_run_end(weft__loop *L, weft_task *t)
{
    struct weft__debug *d = t->dbg;
    if (!d || d->run_start == 0) return;
    double now = weft__clock(), ran = now - d->run_start;
    if (L->dbgs && L->dbgs->trace) {
        weft__trace_slice(L, t, "run", "run", d->run_start, now);
        d->wait_start = now;
    }
    d->ran += ran;
    d->run_start = 0;
    weft__dump_busy(L, t, 0);
    if (ran >= L->opt.slow_task_s && L->dbgs && L->dbgs->reports) {
        char lab[512];
        weft__report("%s ran %.3f s without waiting: it blocked the loop (a blocking call or "
                     "long computation; use weft_to_thread for blocking work)",
                     weft__task_label(t, lab, sizeof lab), ran);
        if (L->dbgs->watchdog) blocked_where(L->dbgs->watchdog);
    }
    if (L->dbgs && L->dbgs->watchdog) weft__watchdog_run(L->dbgs->watchdog, L, t, 0);
}

void weft__debug_task_done(weft__loop *L, weft_task *t, int result)
{
    if (L->dbgs && L->dbgs->trace && t->dbg) weft__trace_done(L, t, result);
}

static void pending_at_main_end(weft__loop *L, weft_task *t)
{
    if (t == L->main || t->state == T_DONE || (t->flags & (F_AWAITED | F_DETACHED))) return;
    char lab[512], w[512];
    weft__debug_leaks++;
    weft__report("%s was never awaited nor detached and is still pending when main returned "
                 "(state %s, waiting on %s): cancelling it",
                 weft__task_label(t, lab, sizeof lab),
                 t->state == T_WAITING ? "waiting" : "ready", t->state == T_WAITING
                     ? weft__wait_desc(L, t, w, sizeof w) : "nothing");
    if (t->dbg) t->dbg->reported = 1;
}

void weft__debug_main_done(weft__loop *L)
{
    if (L->dbgs && L->dbgs->reports) weft__each_task(pending_at_main_end);
}

static void at_close(weft__loop *L, weft_task *t)
{
    if (t->state != T_DONE || (t->flags & (F_AWAITED | F_DETACHED))) return;
    if (t->dbg && t->dbg->reported) return;
    char lab[512];
    weft__debug_leaks++;
    if (t->result < 0 && t->result != -ECANCELED)
        weft__report("%s failed with '%s' and nobody read the error (never awaited)",
                     weft__task_label(t, lab, sizeof lab), weft_strerror(t->result));
    else
        weft__report("%s was never awaited nor detached", weft__task_label(t, lab, sizeof lab));
}

static void free_dbg(weft__loop *L, weft_task *t)
{
    (void)L;
    weft__debug_drop(t); /* the slab is unmapped next, without weft__task_free */
}

void weft__debug_close(weft__loop *L)
{
    struct weft__dbgstate *d = L->dbgs;
    if (!d) return;
    weft__watchdog_stop(d->watchdog);
    d->watchdog = NULL;
    if (d->reports) {
        weft__each_task(at_close);
        for (size_t i = 0; i < d->capobjs; i++) {
            weft__dbgobj *o = &d->objs[i];
            char site[512];
            if ((uintptr_t)o->obj > 1 && ++weft__debug_leaks)
                weft__report("%s %p created at %s was never closed", o->kind, o->obj,
                             weft__obj_site(o, site, sizeof site));
        }
        weft__dump_signal_remove(L);
    }
    if (d->trace) weft__trace_close(L);
    weft__each_task(free_dbg);
    free(d->fd_seen);
    free(d->objs);
    free(d);
    L->dbgs = NULL;
}

/* A regular file or block device never says EAGAIN: a read waits for the
 * disk whatever O_NONBLOCK says, so setting it would only hide the report;
 * those get the advice that helps (the thread-pool file calls). */
void weft__debug_check_fd(int fd, const char *fn)
{
    weft__loop *L = weft__L;
    if (!L->dbgs || !L->dbgs->reports) return;
    struct weft__dbgstate *d = L->dbgs;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return;
    struct stat st;
    int file = fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode));
    if ((fl & O_NONBLOCK) && !file) return;
    /* Once per fd and loop: a read loop must not flood stderr. */
    size_t byte = (size_t)fd / 8;
    if (byte >= d->fd_seen_bytes) {
        size_t n = byte + 64;
        unsigned char *b = realloc(d->fd_seen, n);
        if (!b) return;
        memset(b + d->fd_seen_bytes, 0, n - d->fd_seen_bytes);
        d->fd_seen = b;
        d->fd_seen_bytes = n;
    }
    if (d->fd_seen[byte] & (1u << (fd % 8))) return;
    d->fd_seen[byte] |= (unsigned char)(1u << (fd % 8));
    char lab[512] = "outside a task";
    weft__debug_leaks++;
    if (L->current) weft__task_label(L->current, lab, sizeof lab);
    if (file)
        weft__report("%s(%d) in %s: fd %d is a %s, which O_NONBLOCK does not make "
                     "non-blocking: this call waits for the disk with the whole loop "
                     "(use weft_file_pread/weft_file_pwrite, or weft_to_thread)",
                     fn, fd, lab, fd, S_ISREG(st.st_mode) ? "regular file" : "block device");
    else
        weft__report("%s(%d) in %s: fd %d is in blocking mode, so this call may block the "
                     "whole loop (set O_NONBLOCK)", fn, fd, lab, fd);
}

/* ---- resource registry: open addressing on the object's address ------------ */

#define DELETED ((const void *)1)

static size_t slot_of(const void *p, size_t cap)
{
    uintptr_t h = (uintptr_t)p;
    h ^= h >> 17;
    h *= 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & (cap - 1);
}

static int grow(struct weft__dbgstate *d)
{
    size_t cap = d->capobjs ? d->capobjs * 2 : 64;
    weft__dbgobj *n = calloc(cap, sizeof *n);
    if (!n) return -1;
    for (size_t i = 0; i < d->capobjs; i++) {
        weft__dbgobj *o = &d->objs[i];
        if ((uintptr_t)o->obj <= 1) continue;
        size_t j = slot_of(o->obj, cap);
        while (n[j].obj) j = (j + 1) & (cap - 1);
        n[j] = *o;
    }
    /* A SIGUSR1 dump on this thread may walk the array at any instruction:
     * publish the new one, then its size, and only then free the old (the
     * old was once freed first: issue 10 item 15). The fences keep the
     * compiler from reordering; the handler runs on this thread. */
    weft__dbgobj *old = d->objs;
    d->objs = n;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    d->capobjs = cap;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    free(old);
    d->used = d->nobjs;
    return 0;
}

static weft__dbgobj *lookup(struct weft__dbgstate *d, const void *p)
{
    if (!d->capobjs) return NULL;
    for (size_t j = slot_of(p, d->capobjs);; j = (j + 1) & (d->capobjs - 1)) {
        if (d->objs[j].obj == p) return &d->objs[j];
        if (!d->objs[j].obj) return NULL;
    }
}

static weft__dbgobj *lookup(struct weft__dbgstate *d, const void *p);

const char *weft__obj_site(const weft__dbgobj *o, char *buf, size_t n)
{
    if (o->file) snprintf(buf, n, "%s:%d", o->file, o->line);
    else if (!o->caller) snprintf(buf, n, "?");
    else {
        const char *fn;
        uintptr_t off, objoff;
        const char *obj = weft__symbolize((uintptr_t)o->caller - 1, &fn, &off, &objoff);
        const char *base = obj ? strrchr(obj, '/') : NULL;
        snprintf(buf, n, "%s+%#lx (%s+%#lx)", fn ? fn : "??", (unsigned long)off + 1,
                 base ? base + 1 : obj ? obj : "?", (unsigned long)objoff + 1);
    }
    return buf;
}

void weft_debug_track_at(const void *obj, const char *kind, const void *caller)
{
    if ((uintptr_t)obj <= 1) return;
    weft_debug_track(obj, kind, NULL, 0);
    weft__dbgobj *o = weft__L && weft__L->dbgs ? lookup(weft__L->dbgs, obj) : NULL;
    if (o) o->caller = caller;
}

void weft_debug_track(const void *obj, const char *kind, const char *file, int line)
{
    weft__loop *L = weft__L;
    if (!L || !L->dbgs || (uintptr_t)obj <= 1) return;
    struct weft__dbgstate *d = L->dbgs;
    weft__dbgobj *o = lookup(d, obj);
    if (!o) {
        if ((d->used + 1) * 2 > d->capobjs && grow(d) < 0) return;
        size_t j = slot_of(obj, d->capobjs);
        while ((uintptr_t)d->objs[j].obj > 1) j = (j + 1) & (d->capobjs - 1);
        o = &d->objs[j];
        if (!o->obj) d->used++;
        d->nobjs++;
    }
    o->caller = NULL;
    o->kind = kind ? kind : "object";
    o->file = file;
    o->line = line;
    __atomic_signal_fence(__ATOMIC_SEQ_CST); /* a dump sees a slot whole or empty */
    o->obj = obj;
}

void weft_debug_untrack(const void *obj)
{
    weft__loop *L = weft__L;
    if (!L || !L->dbgs || (uintptr_t)obj <= 1) return;
    weft__dbgobj *o = lookup(L->dbgs, obj);
    if (!o) return;
    o->obj = DELETED;
    L->dbgs->nobjs--;
}

const weft__dbgobj *weft__dbg_find_near(weft__loop *L, const void *p)
{
    struct weft__dbgstate *d = L->dbgs;
    const weft__dbgobj *best = NULL;
    if (!d || !p) return NULL;
    for (size_t i = 0; i < d->capobjs; i++) {
        const weft__dbgobj *o = &d->objs[i];
        if ((uintptr_t)o->obj <= 1 || (const char *)o->obj > (const char *)p ||
            (const char *)p - (const char *)o->obj >= 512)
            continue;
        if (!best || o->obj > best->obj) best = o;
    }
    return best;
}
