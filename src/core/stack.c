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
 * budget well inside vm.max_map_count. That limit is the process's, so the
 * budget is too: one counter shared by every loop thread. Every guard's
 * result is checked; a stack whose guard could not be made (past the budget,
 * or mprotect failing with ENOMEM at the map limit) gets a canary word at the
 * bottom instead, checked when its task ends. An overflow into a guard page
 * is caught by a SIGSEGV handler on an alternate stack, which names the task
 * before aborting (overflow.c).
 *
 * Reuse comes before fresh memory: a stack that is given back goes on a LIFO
 * free list (the warmest first; its link lives in its own top page, warm
 * anyway, so the pool needs no side table), and only when that is empty is
 * a never-used stack taken, in address order, from the newest slab. A
 * slab's pages are not touched when it is mapped: each fresh stack's top
 * page is populated in a batch just before it is handed out. */
#define _GNU_SOURCE
#include "internal.h"
#include <errno.h>
#include <fcntl.h>
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
#define FRESH_BATCH 64 /* fresh stack tops populated per system call, at most */
#define FRESH_STEP 16  /* the same while a timer is pending */
#define MPROTECT_BUDGET 8192 /* stacks guarded by mprotect at most, per process: 2 mappings each */

enum { GUARD_MADV_BATCH, GUARD_MADV, GUARD_MPROTECT, GUARD_CANARY };

struct weft__stack_slab {
    struct weft__stack_slab *next;
    char *base;
    size_t count;
    size_t guarded;     /* stacks [0, guarded) have a guard page, the rest a canary */
    size_t mprotected;  /* of the guarded, how many by mprotect (the budget's share) */
    unsigned *vg;       /* valgrind stack ids, when running under it */
};

/* Stacks guarded by mprotect in the whole process: vm.max_map_count, which
 * the budget protects, counts every thread's mappings. */
static size_t mprotect_used;
/* Slabs grow, and fresh stack tops are populated, only on the scheduler's
 * stack (task.c next_direct leaves a start that needs either to the
 * scheduler, weft__stack_ready): a task's stack may be small and deep in
 * use. The iovec batch (4 KiB) stays off the stack all the same, so it
 * costs no task stack if a caller on one is ever added. */
static __thread struct iovec iov_buf[256];

/* Whether MADV_GUARD_INSTALL really guards: old kernels refuse it, but
 * qemu-user, for one, accepts it and does nothing, which would make an
 * overflow silent. write(2) from a guard page fails with EFAULT, so one
 * probe per process tells. */
static int guard_advice_works(void)
{
    static int known; /* 0: not probed, 1: works, 2: does not */
    int k = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (k) return k == 1;
    int ok = 0, fds[2];
    char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
        if (madvise(p, PAGE, MADV_GUARD_INSTALL) == 0 && pipe2(fds, O_CLOEXEC) == 0) {
            ok = write(fds[1], p, 1) < 0 && errno == EFAULT;
            close(fds[0]);
            close(fds[1]);
        }
        munmap(p, PAGE);
    }
    __atomic_store_n(&known, ok ? 1 : 2, __ATOMIC_RELAXED);
    return ok;
}

static size_t round_page(size_t n) { return (n + PAGE - 1) & ~(size_t)(PAGE - 1); }

int weft__stacks_init(weft__loop *L)
{
    size_t sz = L->opt.stack_size ? L->opt.stack_size : 256 * 1024;
    if (sz < 16 * 1024) sz = 16 * 1024;
    if (sz > (1u << 30)) sz = 1u << 30;
    L->stack_size = round_page(sz);
    L->guard_mode = GUARD_MADV_BATCH;
    L->pidfd = -1;
#ifdef WEFT_VALGRIND
    if (!RUNNING_ON_VALGRIND) /* it does not know pidfds: say so quietly */
#endif
        L->pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    if (L->pidfd < 0) L->guard_mode = GUARD_MADV;
    if (!guard_advice_works()) L->guard_mode = GUARD_MPROTECT;
    return 0;
}

/* Takes up to n stacks from the process's mprotect budget; returns how many. */
static size_t budget_take(size_t n)
{
    size_t used = __atomic_load_n(&mprotect_used, __ATOMIC_RELAXED), k;
    do {
        k = used >= MPROTECT_BUDGET ? 0 : MPROTECT_BUDGET - used;
        if (k > n) k = n;
        if (!k) return 0;
    } while (!__atomic_compare_exchange_n(&mprotect_used, &used, used + k, 1, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
    return k;
}

static void budget_give(size_t n)
{
    if (n) __atomic_fetch_sub(&mprotect_used, n, __ATOMIC_RELAXED);
}

/* Guards the slab's stacks from the first on, each by the loop's mode,
 * falling to the next mode when one fails: returns how many are guarded.
 * Once a mode fails it is not tried again for later slabs. */
static size_t guard_stacks(weft__loop *L, struct weft__stack_slab *s)
{
    size_t n = s->count, S = L->stack_size, i = 0;
    if (L->guard_mode == GUARD_MADV_BATCH) {
        struct iovec *iov = iov_buf;
        while (i < n) {
            size_t k = 0;
            for (; k < 128 && i + k < n; k++) {
                iov[k].iov_base = s->base + (i + k) * S;
                iov[k].iov_len = PAGE;
            }
            long r = syscall(SYS_process_madvise, L->pidfd, iov, k, MADV_GUARD_INSTALL, 0);
            if (r != (long)(k * PAGE)) break; /* a partial batch is redone below: idempotent */
            i += k;
        }
        if (i == n) return n;
        L->guard_mode = GUARD_MADV;
    }
    if (L->guard_mode == GUARD_MADV) {
        for (; i < n; i++)
            if (madvise(s->base + i * S, PAGE, MADV_GUARD_INSTALL) != 0) break;
        if (i == n) return n;
        L->guard_mode = GUARD_MPROTECT;
    }
    if (L->guard_mode == GUARD_MPROTECT) {
        size_t k = budget_take(n - i), done = 0;
        while (done < k && mprotect(s->base + (i + done) * S, PAGE, PROT_NONE) == 0) done++;
        budget_give(k - done);
        s->mprotected = done;
        i += done;
        /* Out of budget or out of mappings (ENOMEM at vm.max_map_count):
         * canaries from here on, for this loop. */
        if (i < n) L->guard_mode = GUARD_CANARY;
    }
    return i;
}

static void guard_slab(weft__loop *L, struct weft__stack_slab *s)
{
    s->mprotected = 0;
    s->guarded = L->guard_mode == GUARD_CANARY ? 0 : guard_stacks(L, s);
    /* Canary: written lazily would cost a page per stack up front; the
     * bottom page is only touched here, on this fallback path. */
    for (size_t i = s->guarded; i < s->count; i++)
        *(uint64_t *)(s->base + i * L->stack_size) = CANARY;
}

static void count_guards(const struct weft__stack_slab *s, size_t *guarded, size_t *canaries)
{
    *guarded += s->guarded;
    *canaries += s->count - s->guarded;
}

void weft__stacks_guards(const weft__loop *L, size_t *guarded, size_t *canaries)
{
    *guarded = *canaries = 0;
    for (const struct weft__stack_slab *s = L->slabs; s; s = s->next) count_guards(s, guarded, canaries);
    if (L->stack_reserve) count_guards(L->stack_reserve, guarded, canaries);
}

/* A new slab of n stacks, mapped and guarded, not yet in the pool. */
static struct weft__stack_slab *slab_new(weft__loop *L, size_t n)
{
    size_t S = L->stack_size;
    struct weft__stack_slab *s = malloc(sizeof *s);
    if (!s) return NULL;
    void *p = mmap(NULL, n * S, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (p == MAP_FAILED) {
        free(s);
        return NULL;
    }
    s->base = p;
    s->count = n;
    s->vg = NULL;
#ifdef WEFT_VALGRIND
    /* valgrind must know each stack, or it takes every switch for a huge
     * stack-pointer move and reports the task's frames as invalid. */
    if (RUNNING_ON_VALGRIND) {
        s->vg = malloc(n * sizeof *s->vg);
        for (size_t i = 0; s->vg && i < n; i++)
            s->vg[i] = VALGRIND_STACK_REGISTER(s->base + i * S + PAGE, s->base + (i + 1) * S - 1);
    }
#endif
    guard_slab(L, s);
    return s;
}

static void slab_free(weft__loop *L, struct weft__stack_slab *s)
{
#ifdef WEFT_VALGRIND
    for (size_t i = 0; s->vg && i < s->count; i++) VALGRIND_STACK_DEREGISTER(s->vg[i]);
#endif
    free(s->vg);
    budget_give(s->mprotected);
    munmap(s->base, s->count * L->stack_size);
    free(s);
}

/* Slabs grow with the pool: 64 stacks, then up to 1024 per mapping. */
static size_t next_count(weft__loop *L)
{
    return L->nstacks < 64 ? 64 : L->nstacks > 1024 ? 1024 : L->nstacks;
}

/* Runs on the scheduler's stack only (see next_direct in task.c). The new
 * slab's stacks are not touched here: they are handed out in address order
 * from the fresh range (weft__stack_get), each populated just before use. */
static int grow(weft__loop *L)
{
    size_t S = L->stack_size;
    struct weft__stack_slab *s = L->stack_reserve;
    L->stack_reserve = NULL;
    if (!s && !(s = slab_new(L, next_count(L)))) return -ENOMEM;
    s->next = L->slabs;
    L->slabs = s;
    L->fresh = L->fresh_ready = s->base + S;
    L->fresh_end = s->base + (s->count + 1) * S;
    L->nstacks += s->count;
    L->nstacks_free += s->count;
    /* Past the first slab the workload is a big one: map the next slab now
     * and have its top pages populated on the helper thread while this one
     * is used (prefault.c). Highest first: the fresh range is handed out
     * lowest first, so if the loop catches up, the two work from opposite
     * ends. */
    if (L->nstacks > 64) {
        struct weft__stack_slab *r = slab_new(L, next_count(L));
        if (r) {
            L->stack_reserve = r;
            weft__prefault(L, r->base + r->count * S - PAGE, S, r->count, PAGE);
        }
    }
    return 0;
}

/* Populates the top pages of the next fresh stacks in one system call. A
 * page faulted in by a first touch costs a trap each, which on a VM is most
 * of the price (measured here, bench/page_probe.c: 60-80 us a page touched,
 * 2.5-4 us a page populated in bulk). The batch grows with the number of
 * stacks in use, so a program with three tasks does not commit 64 pages.
 * Best effort: on kernels before 5.14 the pages fault in on first use. */
static void populate(weft__loop *L, struct iovec *iov, size_t k)
{
    if (L->pidfd >= 0 && syscall(SYS_process_madvise, L->pidfd, iov, k, MADV_POPULATE_WRITE, 0) >= 0)
        return;
    /* Kernels before 6.13 refuse this advice through process_madvise: one
     * call per page still saves the trap (16-22 us here, against 60-80). */
    for (size_t i = 0; i < k; i++) madvise(iov[i].iov_base, PAGE, MADV_POPULATE_WRITE);
}

/* While a timer is pending the batch goes in steps of FRESH_STEP pages,
 * and stops once one is due: 64 fresh pages can take over a millisecond
 * on a VM (more when the host must back them too), and a due timer must
 * not wait for them (M4: a chain of sleeps pays every late wake-up again
 * at each link). The run of starts is then cut (as prepare in task.c
 * does every 16 starts), so the scheduler fires the timer next. */
static void populate_fresh(weft__loop *L)
{
    size_t S = L->stack_size, in_use = L->nstacks - L->nstacks_free;
    size_t k = in_use < 4 ? 4 : in_use > FRESH_BATCH ? FRESH_BATCH : in_use;
    size_t left = (size_t)(L->fresh_end - L->fresh) / S;
    if (k > left) k = left;
    struct iovec *iov = iov_buf;
    for (size_t i = 0; i < k; i++) {
        iov[i].iov_base = L->fresh + i * S - PAGE;
        iov[i].iov_len = PAGE;
    }
    size_t done = 0;
    while (done < k) {
        size_t n = k - done;
        if (L->nheap && n > FRESH_STEP) n = FRESH_STEP;
        populate(L, iov + done, n);
        done += n;
        if (done < k && L->heap[0].when <= weft__clock()) {
            if (L->budget) {
                L->clock_due = L->budget + 1;
                L->budget = 0;
            }
            break;
        }
    }
    L->fresh_ready = L->fresh + done * S;
}

/* A stack never used before, from the newest slab (grown if spent). */
static char *fresh_get(weft__loop *L)
{
    if (L->fresh == L->fresh_end && grow(L) < 0) return NULL;
    if (L->fresh >= L->fresh_ready) populate_fresh(L);
    char *top = L->fresh;
    L->fresh += L->stack_size;
    L->nstacks_free--;
    return top;
}

char *weft__stack_get(weft__loop *L)
{
    char *top = L->stack_free;
    if (weft__unlikely(!top)) return fresh_get(L);
    L->stack_free = *(char **)(top - sizeof(char *));
    L->nstacks_free--;
    return top;
}

void weft__stack_put(weft__loop *L, char *top)
{
    if (weft__unlikely(L->guard_mode == GUARD_CANARY)) {
        uint64_t *bottom = (uint64_t *)(top - L->stack_size);
        /* Only stacks without a guard have the word; reading a guard would
         * fault, so find the stack's slab first. */
        for (struct weft__stack_slab *s = L->slabs; s; s = s->next) {
            if ((char *)bottom >= s->base && (char *)bottom < s->base + s->count * L->stack_size) {
                size_t i = (size_t)((char *)bottom - s->base) / L->stack_size;
                if (i >= s->guarded && *bottom != CANARY) {
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
        slab_free(L, s);
        s = next;
    }
    L->slabs = NULL;
    if (L->stack_reserve) slab_free(L, L->stack_reserve);
    L->stack_reserve = NULL;
    L->stack_free = L->fresh = L->fresh_end = L->fresh_ready = NULL;
    if (L->pidfd >= 0) close(L->pidfd);
    L->pidfd = -1;
}
