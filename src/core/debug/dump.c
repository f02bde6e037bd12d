/* Task dumps: weft_dump_tasks and, in debug mode, SIGUSR1.
 *
 * A parked task's backtrace comes from its saved context: weft__ctx_switch
 * pushed the frame pointer and return address at known offsets of the saved
 * sp, and the build keeps frame pointers, so the walk is a loop over frame
 * records bounded by the task's own stack. The running task (the one calling
 * the dump, or the one a signal interrupted) is unwound by glibc's
 * backtrace(), which follows unwind tables through the signal frame and stops
 * at weft__ctx_entry (its CFI marks the return address undefined).
 *
 * SIGUSR1 dumps from the signal handler itself, like Python's faulthandler:
 * that is the only way to see a loop that a task keeps blocked. The handler
 * formats into a stack buffer and write(2)s; it reads loop structures that
 * the interrupted code may be changing, so a dump taken at the wrong instant
 * can show a half-updated list (never crash: task slots are never unmapped
 * while the loop lives). */
#define _GNU_SOURCE
#include "debug_int.h"
#include "loops_internal.h"
#include "sigreg.h"
#include "weft/debug.h"
#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define MAXFRAMES 48

/* Output to a FILE (normal calls) or an fd (signal handler). */
typedef struct {
    FILE *f;
    int fd;
} sink;

static __attribute__((format(printf, 2, 3))) void out(const sink *s, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof buf) n = (int)sizeof buf - 1;
    if (s->f) fwrite(buf, 1, (size_t)n, s->f);
    else (void)!write(s->fd, buf, (size_t)n);
}

static void out_raw(const sink *s, const char *p, size_t n)
{
    if (s->f) fwrite(p, 1, n, s->f);
    else (void)!write(s->fd, p, n);
}

static void print_frames(const sink *s, void *const *pcs, int n)
{
    for (int i = 0; i < n; i++) {
        const char *fn;
        uintptr_t off, objoff;
        /* Return addresses point after the call: look up pc-1 so a call that
         * ends a function is not attributed to the next one. */
        uintptr_t pc = (uintptr_t)pcs[i];
        const char *obj = weft__symbolize(pc - (i > 0), &fn, &off, &objoff);
        const char *base = obj ? strrchr(obj, '/') : NULL;
        out(s, "      #%-2d %#lx %s+%#lx (%s+%#lx)\n", i, (unsigned long)pc, fn ? fn : "??",
            (unsigned long)off, base ? base + 1 : obj ? obj : "?", (unsigned long)objoff);
    }
}

/* Reading another stack's frames crosses ASan's redzones by design. */
#if defined(__clang__) || defined(__GNUC__)
#define NO_ASAN __attribute__((no_sanitize_address))
#else
#define NO_ASAN
#endif

void weft__print_pcs(FILE *f, void *const *pcs, int n)
{
    sink s = {f, -1};
    print_frames(&s, pcs, n);
}

/* Walks frame records from (pc, fp), staying inside [lo, hi). */
static NO_ASAN int walk(void **pcs, uintptr_t pc, uintptr_t fp, uintptr_t lo, uintptr_t hi)
{
    int n = 0;
    if (pc) pcs[n++] = (void *)pc;
    while (n < MAXFRAMES && fp >= lo && fp + 16 <= hi && (fp & 7) == 0) {
        uintptr_t *rec = (uintptr_t *)fp;
        uintptr_t next = rec[0], ret = rec[1];
        if (!ret) break;
        pcs[n++] = (void *)ret;
        if (next <= fp) break; /* frames grow up the stack; anything else is the end */
        fp = next;
    }
    return n;
}

/* The saved context's frame, as weft__ctx_switch laid it out. */
static NO_ASAN int parked_frames(weft__loop *L, const weft_task *t, void **pcs)
{
    uintptr_t *sp = t->sp;
    uintptr_t hi = (uintptr_t)t->stack, lo = hi - L->stack_size;
    if (!sp || (uintptr_t)sp < lo || (uintptr_t)sp >= hi) return 0;
#if defined(__x86_64__)
    return walk(pcs, sp[6], sp[5], lo, hi); /* r15 r14 r13 r12 rbx rbp ret */
#elif defined(__aarch64__)
    return walk(pcs, sp[11], sp[10], lo, hi); /* x19..x28, x29 at +80, x30 at +88 */
#else
    return 0;
#endif
}

static __thread const sink *dump_sink;
static __thread void *dump_pc;      /* where the running task is: start its backtrace here */

static const char *state_name(int st)
{
    static const char *const n[] = {"free", "new", "ready", "running", "waiting", "done", "batch", "remote"};
    return st >= 0 && st <= T_REMOTE ? n[st] : "?";
}

static void dump_one(weft__loop *L, weft_task *t)
{
    const sink *s = dump_sink;
    char site[256], w[512];
    out(s, "  task %u%s%s%s: %s", t->id, t->name ? " '" : "", t->name ? t->name : "",
        t->name ? "'" : "", state_name(t->state));
    if (t->flags & F_CANCELLED) out(s, " (cancel requested)");
    if (t->flags & F_DETACHED) out(s, " (detached)");
    if (t->state == T_WAITING) out(s, ", waits on %s", weft__wait_desc(L, t, w, sizeof w));
    if (t->state == T_DONE) out(s, ", result %d (%s)", t->result, weft_strerror(t->result));
    if (t->dbg) {
        out(s, ", spawned at %s", weft__site(t, site, sizeof site));
        if (t->dbg->parent) out(s, " by task %u", t->dbg->parent);
        double now_run = t->dbg->run_start > 0 ? weft__clock() - t->dbg->run_start : 0;
        out(s, ", ran %.6f s", t->dbg->ran + now_run);
        if (now_run > 0) out(s, " (%.6f s in this run, without waiting)", now_run);
    }
    out(s, "\n");
    void *pcs[MAXFRAMES];
    int n = 0;
    if (t == L->current) {
        void *all[MAXFRAMES + 16];
        int k = backtrace(all, MAXFRAMES + 16), i = 0;
        while (i < k && all[i] != dump_pc) i++;
        if (i == k) i = 0; /* not found: show everything */
        for (; i < k && n < MAXFRAMES; i++) pcs[n++] = all[i];
        out(s, "    running, at:\n");
    } else if (t->state == T_WAITING || (t->state == T_READY && t->stack)) {
        n = parked_frames(L, t, pcs);
        out(s, "    suspended at:\n");
    }
    print_frames(s, pcs, n);
}

static void dump_loop(weft__loop *L, const sink *s)
{
    /* Counted here rather than kept up to date on every switch; bounded in
     * case a signal caught the list mid-update. */
    size_t nready = 0;
    for (weft_task *t = L->ready_head; t && nready <= L->live; t = t->next) nready++;
    for (weft_task *t = L->backlog_head; t && nready <= L->live; t = t->next) nready++;
    out(s, "weft: %zu task(s) alive, %zu ready", L->live - L->batches, nready - L->batches);
    if (L->members_pending) /* group members get a task only when they start */
        out(s, ", %zu group member(s) not started yet", L->members_pending);
    out(s, "\n");
    /* A SIGUSR1 dump may interrupt weft_dump_tasks on this thread: it
     * puts back the sink it found, so the interrupted dump goes on with its
     * own (it used to find NULL and crash: issue 10 item 15). */
    const sink *outer = dump_sink;
    dump_sink = s;
    weft__each_task(dump_one);
    struct weft__dbgstate *d = L->dbgs;
    if (d && d->nobjs) {
        out(s, "  open resources:\n");
        for (size_t i = 0; i < d->capobjs; i++)
            if ((uintptr_t)d->objs[i].obj > 1) {
                char site[512];
                out(s, "    %s %p created at %s\n", d->objs[i].kind, d->objs[i].obj,
                    weft__obj_site(&d->objs[i], site, sizeof site));
            }
    }
    dump_sink = outer;
}

/* Which loop a dump is of: said only in a run of several loops (a run of
 * one prints as it always has). */
static int many_loops(const weft__loop *L) { return L->fleet && L->fleet->n > 1; }

static void header(const sink *s, weft__loop *L, const char *what)
{
    weft__port *P = L->port;
    if (many_loops(L)) out(s, "loop %d (thread %d)%s:\n", P ? P->index : 0, P ? P->tid : 0, what);
}

/* ---- other loops of the run ------------------------------------------------------
 *
 * weft_dump_tasks asks each other loop to dump itself (an X_DUMP message,
 * answered between two of its turns, so it reads only its own structures)
 * and waits a bounded time for the answers. A loop that does not answer in
 * time is blocked by a task (or dumping its own run at the same moment,
 * waiting for this one): it is reported as busy, with the task it runs in
 * debug mode, rather than read from outside while it changes. The request
 * is shared by the asker and the answerer, freed by whichever is last, as
 * an answer may come after the asker gave up. */

#define ANSWER_WAIT_S 0.5

typedef struct dump_req {
    weft__msg m;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs, done;    /* under mu */
    char *buf;         /* the answer */
    size_t len;
} dump_req;

static void req_put(dump_req *r)
{
    pthread_mutex_lock(&r->mu);
    int last = --r->refs == 0;
    pthread_mutex_unlock(&r->mu);
    if (!last) return;
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->buf);
    free(r);
}

void weft__dump_answer(weft__loop *L, weft__msg *m)
{
    dump_req *r = (dump_req *)m;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f) {
        sink s = {f, -1};
        void *outer_pc = dump_pc;
        dump_pc = NULL;
        header(&s, L, ", a snapshot it took between two turns, slightly after the one above");
        dump_loop(L, &s);
        dump_pc = outer_pc;
        fclose(f);
    }
    pthread_mutex_lock(&r->mu);
    r->buf = buf;
    r->len = buf ? len : 0;
    r->done = 1;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    req_put(r);
}

void weft__dump_busy(weft__loop *L, weft_task *t, double now)
{
    weft__port *P = L->port;
    if (!P) return;
    __atomic_store_n(&P->busy_id, t->id, __ATOMIC_RELAXED);
    __atomic_store_n(&P->busy_name, t->name, __ATOMIC_RELAXED);
    __atomic_store(&P->busy_start, &now, __ATOMIC_RELEASE);
}

static void busy_line(const sink *s, weft__port *P)
{
    double since;
    __atomic_load(&P->busy_start, &since, __ATOMIC_ACQUIRE);
    unsigned id = __atomic_load_n(&P->busy_id, __ATOMIC_RELAXED);
    const char *name = __atomic_load_n(&P->busy_name, __ATOMIC_RELAXED);
    out(s, "loop %d (thread %d): busy, no answer within %.1f s", P->index, P->tid, ANSWER_WAIT_S);
    if (since > 0)
        out(s, ": task %u%s%s%s running for %.3f s without waiting", id, name ? " '" : "",
            name ? name : "", name ? "'" : "", weft__clock() - since);
    else out(s, " (a task runs without waiting; debug mode names it)");
    out(s, "\n");
}

static void dump_others(weft__loop *me, const sink *s)
{
    weft__fleet *F = me->fleet;
    if (!F || F->n < 2) return;
    dump_req **reqs = calloc((size_t)F->n, sizeof *reqs);
    if (!reqs) {
        out(s, "weft: no memory to ask the other loops for their tasks\n");
        return;
    }
    for (int i = 0; i < F->n; i++) {
        weft__port *P = &F->ports[i];
        if (P == me->port) continue;
        dump_req *r = calloc(1, sizeof *r);
        if (!r) {
            out(s, "loop %d: no memory to ask it for its tasks\n", i);
            continue;
        }
        pthread_mutex_init(&r->mu, NULL);
        pthread_cond_init(&r->cv, NULL);
        r->refs = 2;
        r->m.kind = X_DUMP;
        /* Not external: no generation check; a loop that has closed (its
         * port has no loop) refuses it. */
        if (weft__port_send(P, &r->m, 0) < 0) {
            out(s, "loop %d: not running\n", i);
            r->refs = 1;
            req_put(r);
            continue;
        }
        reqs[i] = r;
    }
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_nsec += (long)(ANSWER_WAIT_S * 1e9);
    dl.tv_sec += dl.tv_nsec / 1000000000L;
    dl.tv_nsec %= 1000000000L;
    for (int i = 0; i < F->n; i++) {
        dump_req *r = reqs[i];
        if (!r) continue;
        pthread_mutex_lock(&r->mu);
        while (!r->done && pthread_cond_timedwait(&r->cv, &r->mu, &dl) != ETIMEDOUT) {}
        if (r->done && r->buf) out_raw(s, r->buf, r->len);
        else if (r->done) out(s, "loop %d: no memory for its dump\n", i);
        else busy_line(s, &F->ports[i]);
        pthread_mutex_unlock(&r->mu);
        req_put(r);
    }
    free(reqs);
}

__attribute__((noinline)) void weft_dump_tasks(FILE *f)
{
    sink s = {f ? f : stderr, -1};
    if (!weft__L) {
        out(&s, "weft: no loop runs on this thread\n");
        return;
    }
    dump_pc = __builtin_return_address(0);
    header(&s, weft__L, "");
    dump_loop(weft__L, &s);
    dump_others(weft__L, &s);
    fflush(s.f);
}

/* ---- SIGUSR1 ---------------------------------------------------------------- */

static weft__loop *sig_loop;        /* the loop that installed the handler */
static pthread_t sig_thread;        /* its thread: written before sig_loop is published */
static struct sigaction sig_old;
static __thread volatile sig_atomic_t sig_busy; /* this thread's handler dumps */

/* Set by a loop's thread once in its fleet: where a SIGUSR1 forwarded to
 * this thread is flagged. */
static __thread weft__port *my_port;

void weft__dump_attached(weft__loop *L)
{
    weft__port *P = L->port;
    my_port = P;
    __atomic_store_n(&P->sig_pending, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&P->sig_live, L->dbgs && L->dbgs->reports, __ATOMIC_RELEASE);
}

/* The loops' handlers write one after another, not interleaved. A spin
 * (the handler can take no lock), bounded so that a thread stopped while
 * holding it (a debugger, a crash) costs a mixed dump, never a hang. The
 * signal is blocked while its handler runs, so a thread never waits for
 * itself. */
static int out_flag;

static void out_lock(void)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (__atomic_exchange_n(&out_flag, 1, __ATOMIC_ACQUIRE)) {
        sched_yield();
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec >= 2) return;
    }
}

static void out_unlock(void) { __atomic_store_n(&out_flag, 0, __ATOMIC_RELEASE); }

/* Dumps L, this thread's loop, from the handler. */
static void dump_signalled(weft__loop *L, void *ucv)
{
    sig_busy = 1;
    void *outer_pc = dump_pc; /* a weft_dump_tasks this signal interrupted */
    ucontext_t *uc = ucv;
#if defined(__x86_64__)
    dump_pc = (void *)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    dump_pc = (void *)uc->uc_mcontext.pc;
#else
    (void)uc;
    dump_pc = NULL;
#endif
    sink s = {NULL, 2};
    out_lock();
    out(&s, many_loops(L) ? "weft: SIGUSR1 task dump, " : "weft: SIGUSR1 task dump\n");
    header(&s, L, "");
    dump_loop(L, &s);
    out_unlock();
    dump_pc = outer_pc;
    sig_busy = 0;
}

/* The installing loop's thread dumps its loop, then passes the signal to
 * each other loop of its run that runs in debug mode, flagging it in the
 * loop's port: a thread takes a flagged signal as "dump your own loop" and
 * never passes it on, so no signal goes round (a thread whose loop has
 * just closed drops it). An unflagged signal on any other thread (kill(1)
 * picks one) goes to the installing loop's thread. A loop's thread is
 * signalled only while its loop is live (sig_live, cleared when the loop
 * closes, before its thread ends). */
static void on_sigusr1(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    (void)si;
    int saved = errno;
    weft__loop *L = __atomic_load_n(&sig_loop, __ATOMIC_ACQUIRE);
    if (!L) goto out;
    weft__port *mine = my_port;
    if (mine && __atomic_exchange_n(&mine->sig_pending, 0, __ATOMIC_ACQ_REL)) {
        /* Live still: the forwarding loop checked sig_live before flagging,
         * but this loop may have begun to close since, and a dump then
         * walked its half-freed state (its resource registry unmapped: a
         * crash). Cleared by this thread before its loop frees anything,
         * so seen here in order. */
        if (weft__L && weft__L->port == mine && !sig_busy &&
            __atomic_load_n(&mine->sig_live, __ATOMIC_ACQUIRE))
            dump_signalled(weft__L, ucv);
        goto out;
    }
    if (!pthread_equal(pthread_self(), sig_thread)) { /* pass it to the loop's thread */
        pthread_kill(sig_thread, SIGUSR1);
        goto out;
    }
    /* The loop's thread, before the loop runs (the handler is installed
     * first) or after: nothing to dump. Forwarding here, as a check of
     * weft__L alone once did, resent the signal to this very thread, which
     * took it again on return: 100% CPU forever (issue 10 item 15). */
    if (weft__L != L || sig_busy) goto out;
    dump_signalled(L, ucv);
    weft__fleet *F = L->fleet;
    for (int i = 0; F && i < F->n; i++) {
        weft__port *P = &F->ports[i];
        if (P == L->port || !__atomic_load_n(&P->sig_live, __ATOMIC_ACQUIRE)) continue;
        __atomic_store_n(&P->sig_pending, 1, __ATOMIC_RELEASE);
        pthread_kill(P->thread, SIGUSR1);
    }
out:
    errno = saved;
}

/* Installed and removed through the signal registry's lock: debug mode's
 * handler is not a slot (the dump runs in the handler), but a loop's end
 * must not put SIG_DFL back under another loop's weft_signal_wait(SIGUSR1),
 * which then killed the process (issue 10 item 16's one owner per signal). */
static struct sigaction sig_mine;
/* Loops of one run open and close on their own threads: installing and
 * removing are serialised, or two loops in debug mode could both see no
 * owner, and the one that then lost the registry to the other cleared the
 * winner's sig_loop (SIGUSR1 dumps silently off) and overwrote
 * sig_thread. The handler itself takes no lock: it reads sig_loop. */
static pthread_mutex_t sig_mu = PTHREAD_MUTEX_INITIALIZER;

static void install(weft__loop *L)
{
    if (sig_loop) return; /* one loop per process answers SIGUSR1 */
    struct sigaction cur;
    if (sigaction(SIGUSR1, NULL, &cur) < 0 || cur.sa_handler != SIG_DFL) return;
    void *prime[2];
    backtrace(prime, 2); /* loads the unwinder now, not inside the handler */
    const char *fn;
    uintptr_t off, objoff;
    weft__symbolize((uintptr_t)&weft_dump_tasks, &fn, &off, &objoff);
    sig_thread = pthread_self();
    __atomic_store_n(&sig_loop, L, __ATOMIC_RELEASE);
    memset(&sig_mine, 0, sizeof sig_mine);
    sig_mine.sa_sigaction = on_sigusr1;
    sig_mine.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sig_mine.sa_mask);
    if (!weft__sig_own(SIGUSR1, &sig_mine, &sig_old))
        __atomic_store_n(&sig_loop, NULL, __ATOMIC_RELEASE); /* someone took it meanwhile */
}

void weft__dump_signal_install(weft__loop *L)
{
    pthread_mutex_lock(&sig_mu);
    install(L);
    pthread_mutex_unlock(&sig_mu);
}

void weft__dump_signal_remove(weft__loop *L)
{
    if (L->port) __atomic_store_n(&L->port->sig_live, 0, __ATOMIC_RELEASE);
    pthread_mutex_lock(&sig_mu);
    if (sig_loop == L) {
        weft__sig_disown(SIGUSR1, &sig_mine, &sig_old);
        __atomic_store_n(&sig_loop, NULL, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&sig_mu);
}
