/* Task stacks: pooled, lazily committed, guarded.
 *
 * Stacks are carved from large anonymous mappings ("slabs") made with
 * MAP_NORESERVE, so only pages a task touches cost memory; a task parked
 * after a few calls costs one page. Adjacent slabs merge into one kernel
 * mapping, so a million stacks do not approach vm.max_map_count.
 *
 * Each stack's lowest page is a guard. Linux 6.13+ installs guards with
 * MADV_GUARD_INSTALL, which does not split the mapping (one process_madvise
 * call guards a whole slab). On older kernels the guard is an mprotect'ed
 * page, which costs two mappings per stack, so it is used only while under a
 * budget well inside vm.max_map_count; stacks past it get a canary word at
 * the bottom, checked whenever the task switches out. An overflow into a
 * guard page is caught by a SIGSEGV handler on an alternate stack, which
 * names the task before aborting.
 *
 * A stack's free-list link lives in its top page, which is warm anyway, so
 * the pool needs no side table. Freed stacks are reused LIFO (the warmest
 * first). */
#define _GNU_SOURCE
#include "internal.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#ifdef __has_include
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define WEFT_VALGRIND 1
#endif
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define PAGE 4096
#define CANARY 0x7765667467756172ULL /* "weftguar" */
#define MPROTECT_BUDGET 16384        /* stacks guarded by mprotect at most */

enum { GUARD_MADV_BATCH, GUARD_MADV, GUARD_MPROTECT, GUARD_CANARY };

struct weft__stack_slab {
    struct weft__stack_slab *next;
    char *base;
    size_t count;
    int guard_mode; /* mode used for this slab's stacks */
};

static size_t round_page(size_t n) { return (n + PAGE - 1) & ~(size_t)(PAGE - 1); }

int weft__stacks_init(weft__loop *L)
{
    size_t sz = L->opt.stack_size ? L->opt.stack_size : 256 * 1024;
    if (sz < 16 * 1024) sz = 16 * 1024;
    L->stack_size = round_page(sz);
    L->guard_mode = GUARD_MADV_BATCH;
    L->pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (L->pidfd < 0) L->guard_mode = GUARD_MADV;
    return 0;
}

static int guard_slab(weft__loop *L, struct weft__stack_slab *s)
{
    size_t n = s->count, S = L->stack_size;
    if (L->guard_mode == GUARD_MADV_BATCH) {
        struct iovec iov[128];
        size_t i = 0;
        int ok = 1;
        while (i < n && ok) {
            size_t k = 0;
            for (; k < 128 && i + k < n; k++) {
                iov[k].iov_base = s->base + (i + k) * S;
                iov[k].iov_len = PAGE;
            }
            long r = syscall(SYS_process_madvise, L->pidfd, iov, k, MADV_GUARD_INSTALL, 0);
            if (r != (long)(k * PAGE)) ok = 0;
            i += k;
        }
        if (ok) return GUARD_MADV_BATCH;
        L->guard_mode = GUARD_MADV;
    }
    if (L->guard_mode == GUARD_MADV) {
        if (madvise(s->base, PAGE, MADV_GUARD_INSTALL) == 0) {
            for (size_t i = 1; i < n; i++) madvise(s->base + i * S, PAGE, MADV_GUARD_INSTALL);
            return GUARD_MADV;
        }
        L->guard_mode = GUARD_MPROTECT;
    }
    if (L->guard_mode == GUARD_MPROTECT) {
        static __thread size_t used;
        if (used + n <= MPROTECT_BUDGET) {
            for (size_t i = 0; i < n; i++) mprotect(s->base + i * S, PAGE, PROT_NONE);
            used += n;
            return GUARD_MPROTECT;
        }
    }
    /* Canary: written lazily would cost a page per stack up front; the
     * bottom page is only touched here, on this fallback path. */
    for (size_t i = 0; i < n; i++) *(uint64_t *)(s->base + i * S) = CANARY;
    return GUARD_CANARY;
}

/* Pre-faults the top page of every stack of a new slab in one system call.
 * Every stack handed out touches that page at once, and here a page fault
 * costs 5-11 us while populating in bulk costs about 1.5 us a page: for a
 * million parked tasks that is seconds. Best effort: without pidfd or on an
 * old kernel the pages just fault in on first use. */
static void populate_tops(weft__loop *L, struct weft__stack_slab *s)
{
    if (L->pidfd < 0) return;
    struct iovec iov[256];
    size_t n = s->count, S = L->stack_size;
    for (size_t i = 0; i < n;) {
        size_t k = 0;
        for (; k < 256 && i + k < n; k++) {
            iov[k].iov_base = s->base + (i + k + 1) * S - PAGE;
            iov[k].iov_len = PAGE;
        }
        if (syscall(SYS_process_madvise, L->pidfd, iov, k, MADV_POPULATE_WRITE, 0) < 0) return;
        i += k;
    }
}

static int grow(weft__loop *L)
{
    /* Slabs grow with the pool: 64 stacks, then up to 1024 per mapping. */
    size_t n = L->nstacks < 64 ? 64 : L->nstacks > 1024 ? 1024 : L->nstacks;
    size_t S = L->stack_size;
    struct weft__stack_slab *s = malloc(sizeof *s);
    if (!s) return -ENOMEM;
    void *p = mmap(NULL, n * S, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (p == MAP_FAILED) {
        free(s);
        return -ENOMEM;
    }
    s->base = p;
    s->count = n;
    s->guard_mode = guard_slab(L, s);
    populate_tops(L, s);
    s->next = L->slabs;
    L->slabs = s;
    /* Push in reverse so the lowest address is handed out first. */
    for (size_t i = n; i-- > 0;) {
        char *top = s->base + (i + 1) * S;
#ifdef WEFT_VALGRIND
        VALGRIND_STACK_REGISTER(s->base + i * S + PAGE, top);
#endif
        *(char **)(top - sizeof(char *)) = L->stack_free;
        L->stack_free = top;
    }
    L->nstacks += n;
    L->nstacks_free += n;
    return 0;
}

char *weft__stack_get(weft__loop *L)
{
    if (weft__unlikely(!L->stack_free) && grow(L) < 0) return NULL;
    char *top = L->stack_free;
    L->stack_free = *(char **)(top - sizeof(char *));
    L->nstacks_free--;
    return top;
}

void weft__stack_put(weft__loop *L, char *top)
{
    if (weft__unlikely(L->guard_mode == GUARD_CANARY)) {
        uint64_t *bottom = (uint64_t *)(top - L->stack_size);
        /* Only canary slabs have the word; others read a guard, so check
         * the slab's mode first. */
        for (struct weft__stack_slab *s = L->slabs; s; s = s->next) {
            if ((char *)bottom >= s->base && (char *)bottom < s->base + s->count * L->stack_size) {
                if (s->guard_mode == GUARD_CANARY && *bottom != CANARY) {
                    fprintf(stderr, "weft: stack overflow detected (canary smashed) in a task "
                                    "with a %zu-byte stack; raise weft_options.stack_size\n",
                            L->stack_size);
                    abort();
                }
                break;
            }
        }
    }
    *(char **)(top - sizeof(char *)) = L->stack_free;
    L->stack_free = top;
    L->nstacks_free++;
}

void weft__stacks_close(weft__loop *L)
{
    struct weft__stack_slab *s = L->slabs;
    while (s) {
        struct weft__stack_slab *next = s->next;
        munmap(s->base, s->count * L->stack_size);
        free(s);
        s = next;
    }
    L->slabs = NULL;
    L->stack_free = NULL;
    if (L->pidfd >= 0) close(L->pidfd);
    L->pidfd = -1;
}

/* ---- overflow reporting ---------------------------------------------------- */

static __thread struct sigaction old_segv, old_bus;
static __thread stack_t old_altstack;
static __thread void *altstack_mem;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    weft__loop *L = weft__L;
    weft_task *t = L ? L->current : NULL;
    if (t && t->stack) {
        char *addr = si->si_addr;
        char *lo = t->stack - L->stack_size;
        if (addr >= lo - PAGE && addr < lo + 2 * PAGE) {
            char msg[320];
            int n = snprintf(msg, sizeof msg,
                             "weft: stack overflow in task '%s' (id %u, spawned at %s:%d): its "
                             "%zu-byte stack is exhausted; raise weft_options.stack_size\n",
                             t->name ? t->name : "(unnamed)", t->id,
                             t->dbg ? t->dbg->file : "?", t->dbg ? t->dbg->line : 0,
                             L->stack_size);
            if (n > (int)sizeof msg - 1) n = (int)sizeof msg - 1;
            if (n > 0) (void)!write(2, msg, (size_t)n);
            signal(SIGABRT, SIG_DFL);
            abort();
        }
    }
    /* Not ours: behave as if we had never been here. */
    struct sigaction *old = sig == SIGSEGV ? &old_segv : &old_bus;
    if (old->sa_flags & SA_SIGINFO && old->sa_sigaction) {
        old->sa_sigaction(sig, si, uc);
        return;
    }
    if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN && old->sa_handler) {
        old->sa_handler(sig);
        return;
    }
    signal(sig, SIG_DFL); /* the faulting instruction reruns and kills us */
}

void weft__overflow_handler_install(weft__loop *L)
{
    (void)L;
    size_t sz = 64 * 1024;
    altstack_mem = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (altstack_mem == MAP_FAILED) {
        altstack_mem = NULL;
        return;
    }
    stack_t ss = {.ss_sp = altstack_mem, .ss_size = sz};
    sigaltstack(&ss, &old_altstack);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigaction(SIGSEGV, &sa, &old_segv);
    sigaction(SIGBUS, &sa, &old_bus);
}

void weft__overflow_handler_remove(weft__loop *L)
{
    (void)L;
    if (!altstack_mem) return;
    sigaction(SIGSEGV, &old_segv, NULL);
    sigaction(SIGBUS, &old_bus, NULL);
    sigaltstack(&old_altstack, NULL);
    munmap(altstack_mem, 64 * 1024);
    altstack_mem = NULL;
}
