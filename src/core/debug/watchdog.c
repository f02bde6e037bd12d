/* Debug mode's watchdog: finds out *where* a task blocks the loop.
 *
 * The slow-task report is made when the task finally gives the loop back,
 * which names the task but not the call that blocked. So a watchdog thread
 * samples the loop every slow_task_s/2; when one run has lasted longer than
 * slow_task_s it reads /proc/self/task/<loop thread>/syscall, which tells
 * whether the thread sits in a system call (and which one) with its stack
 * and instruction pointers, and scans that stack for return addresses into
 * loaded code. The loop thread symbolizes them when it reports.
 *
 * No signal is sent: a signal would cut a blocking sleep short (nanosleep is
 * never restarted), changing what the program does in debug mode. The price
 * is that the scan is a heuristic: it lists code addresses found on the
 * stack, which may include stale ones from earlier calls, and a task that
 * computes (in no system call) is only reported as computing. */
#define _GNU_SOURCE
#include "debug_int.h"
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAXRANGES 64

struct weft__watchdog {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    pid_t tid;                  /* the loop's thread */
    double period, slow;
    _Atomic uint64_t seq;       /* run slices begun */
    _Atomic(double) start;      /* start of the current run, 0: none */
    _Atomic(uintptr_t) lo, hi;  /* the running task's stack */
    /* the capture, under mu */
    uint64_t cap_seq;           /* run it belongs to, 0: none */
    long cap_sys;               /* system call number, -1: computing */
    int cap_n;
    uintptr_t cap_pcs[WEFT__WATCH_FRAMES];
    /* executable mappings, to recognise return addresses */
    uintptr_t rlo[MAXRANGES], rhi[MAXRANGES];
    int nranges;
};

static int on_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct weft__watchdog *w = arg;
    for (int i = 0; i < info->dlpi_phnum && w->nranges < MAXRANGES; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        if (p->p_type != PT_LOAD || !(p->p_flags & PF_X)) continue;
        w->rlo[w->nranges] = info->dlpi_addr + p->p_vaddr;
        w->rhi[w->nranges++] = info->dlpi_addr + p->p_vaddr + p->p_memsz;
    }
    return 0;
}

static int is_code(const struct weft__watchdog *w, uintptr_t v)
{
    for (int i = 0; i < w->nranges; i++)
        if (v >= w->rlo[i] && v < w->rhi[i]) return 1;
    return 0;
}

/* Reading a stack we do not own: ASan's redzones are expected there. */
#if defined(__clang__) || defined(__GNUC__)
__attribute__((no_sanitize_address))
#endif
static int scan(const struct weft__watchdog *w, uintptr_t sp, uintptr_t pc, uintptr_t lo,
                uintptr_t hi, uintptr_t *pcs)
{
    int n = 0;
    if (pc && is_code(w, pc)) pcs[n++] = pc;
    if (sp < lo || sp >= hi) return n;
    for (uintptr_t a = sp & ~(uintptr_t)7; a + 8 <= hi && n < WEFT__WATCH_FRAMES; a += 8) {
        uintptr_t v = *(const volatile uintptr_t *)a;
        if (is_code(w, v) && (n == 0 || pcs[n - 1] != v)) pcs[n++] = v;
        /* the task's first frame: what lies above is its stack's setup */
        if (v - (uintptr_t)weft__ctx_entry < 32) break;
    }
    return n;
}

static void capture(struct weft__watchdog *w, uint64_t seq)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)w->tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return;
    buf[n] = 0;
    long nr = -1;
    uintptr_t pcs[WEFT__WATCH_FRAMES];
    int np = 0;
    if (strncmp(buf, "running", 7) != 0) {
        /* "nr a1 a2 a3 a4 a5 a6 sp pc", or "-1 sp pc" outside a call */
        char *tok[9], *save;
        int k = 0;
        /* strtok_r: strtok's state is the process's, and this thread would
         * reset a parse the user's code has under way (issue 10 item 15). */
        for (char *s = strtok_r(buf, " \n", &save); s && k < 9; s = strtok_r(NULL, " \n", &save))
            tok[k++] = s;
        if (k < 3) return;
        nr = strtol(tok[0], NULL, 0);
        uintptr_t sp = strtoull(tok[k - 2], NULL, 0), pc = strtoull(tok[k - 1], NULL, 0);
        np = scan(w, sp, pc, atomic_load(&w->lo), atomic_load(&w->hi), pcs);
    }
    pthread_mutex_lock(&w->mu);
    if (atomic_load(&w->seq) == seq) { /* still the same run: the capture is its */
        w->cap_seq = seq;
        w->cap_sys = nr;
        w->cap_n = np;
        memcpy(w->cap_pcs, pcs, (size_t)np * sizeof *pcs);
    }
    pthread_mutex_unlock(&w->mu);
}

static void *watch(void *arg)
{
    struct weft__watchdog *w = arg;
    uint64_t done = 0;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double until = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 + w->period;
        ts.tv_sec = (time_t)until;
        ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        if (w->stop) break;
        uint64_t seq = atomic_load(&w->seq);
        double start = atomic_load(&w->start);
        if (start > 0 && seq != done && weft__clock() - start >= w->slow) {
            done = seq;
            pthread_mutex_unlock(&w->mu);
            capture(w, seq);
            pthread_mutex_lock(&w->mu);
        }
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

struct weft__watchdog *weft__watchdog_start(weft__loop *L)
{
    struct weft__watchdog *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->tid = (pid_t)syscall(SYS_gettid);
    w->slow = L->opt.slow_task_s;
    w->period = w->slow / 2 < 0.005 ? 0.005 : w->slow / 2 > 1 ? 1 : w->slow / 2;
    dl_iterate_phdr(on_object, w);
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    /* The watchdog must not take signals meant for the program. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&w->thread, NULL, watch, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return NULL;
    }
    return w;
}

void weft__watchdog_stop(struct weft__watchdog *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

void weft__watchdog_run(struct weft__watchdog *w, weft__loop *L, weft_task *t, double start)
{
    if (start > 0) {
        atomic_store(&w->hi, (uintptr_t)t->stack);
        atomic_store(&w->lo, (uintptr_t)t->stack - L->stack_size);
        atomic_fetch_add(&w->seq, 1);
    }
    atomic_store(&w->start, start);
}

int weft__watchdog_take(struct weft__watchdog *w, long *sys, uintptr_t *pcs)
{
    int n = -1;
    pthread_mutex_lock(&w->mu);
    if (w->cap_seq && w->cap_seq == atomic_load(&w->seq)) {
        *sys = w->cap_sys;
        n = w->cap_n;
        memcpy(pcs, w->cap_pcs, (size_t)n * sizeof *pcs);
        w->cap_seq = 0;
    }
    pthread_mutex_unlock(&w->mu);
    return n;
}

const char *weft__syscall_name(long nr)
{
    static const struct { long nr; const char *name; } known[] = {
#define K(x) {SYS_##x, #x}
        K(read), K(write), K(readv), K(writev), K(pread64), K(pwrite64), K(openat),
        K(nanosleep), K(clock_nanosleep), K(ppoll), K(pselect6), K(epoll_pwait),
        K(connect), K(accept4), K(recvfrom), K(sendto), K(recvmsg), K(sendmsg),
        K(wait4), K(waitid), K(futex), K(fsync), K(fdatasync), K(flock), K(fcntl),
#ifdef SYS_poll
        K(poll), K(select), K(accept), K(epoll_wait), K(open),
#endif
#undef K
    };
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (known[i].nr == nr) return known[i].name;
    return NULL;
}
