/* Stack guards on kernels without MADV_GUARD_INSTALL (issue 10 item 14).
 *
 * Each case re-runs this program with tests/guard_shim.c preloaded: guard
 * advice fails with EINVAL as on Linux before 6.13, so guards are made with
 * mprotect, and mprotect can be made to fail with ENOMEM (as at
 * vm.max_map_count) after N guards. Checked: stacks still work; what weft
 * says it guarded is what the kernel (the shim) really guarded; the mprotect
 * budget is the process's, not each thread's; a stack whose guard could not
 * be made has a canary that catches an overflow, and one with a guard dies
 * on it, naming the task.
 *
 * Skipped (exit 77) where a preload cannot work: the aarch64 build, which
 * runs under qemu-user (a re-exec would not be emulated), and any run in
 * which the shim turns out not to be loaded. */
#include "core_util.h"
#include "core/internal.h" /* white-box: weft__stacks_guards */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>

#define SKIP 77
#define BUDGET 8192 /* stack.c's MPROTECT_BUDGET */

static unsigned long guards_made(void)
{
    unsigned long *n = dlsym(RTLD_DEFAULT, "weft_shim_guards_made");
    return __atomic_load_n(n, __ATOMIC_RELAXED);
}

static void guards(size_t *g, size_t *c) { weft__stacks_guards(weft__L, g, c); }

/* ---- in the child, under the shim ------------------------------------------ */

enum { N = 300 };
static int n_started;

/* Parks until all N workers have started: each holds its stack meanwhile
 * (a long burst of starts lets due timers run first, so a plain short
 * sleep could end some before the last start, and their stacks be reused). */
static void park_until_all_started(void)
{
    while (n_started < N) weft_sleep(0.002);
}

/* Uses about 8 KiB of stack, parks, and checks its frames survived. */
static __attribute__((noinline)) int use_stack(int depth)
{
    volatile char frame[1024];
    for (int i = 0; i < 1024; i++) frame[i] = (char)(depth + i);
    int below = depth ? use_stack(depth - 1) : (park_until_all_started(), 0);
    int ok = 1;
    for (int i = 0; i < 1024; i++) ok &= frame[i] == (char)(depth + i);
    return below + ok;
}
static int worker(void *a)
{
    n_started++;
    return use_stack(7) == 8 ? 0 : -1;
}

static int many_main(void *a)
{
    static weft_task *t[N];
    for (int i = 0; i < N; i++) CHECK(t[i] = weft_spawn(worker, NULL));
    int rc[N];
    CHECK_EQ(weft_gather(t, N, rc), 0);
    for (int i = 0; i < N; i++) CHECK_EQ(rc[i], 0);
    size_t g, c;
    guards(&g, &c);
    fprintf(stderr, "guarded %zu canaries %zu shim %lu\n", g, c, guards_made());
    long ok = atol(getenv("WEFT_SHIM_MPROTECT_OK"));
    CHECK(g + c >= N);
    CHECK_EQ(g, guards_made()); /* no slab freed yet: every guard still stands */
    if (ok < 0) CHECK_EQ(c, 0);
    else CHECK_EQ(g, ok);
    return 0;
}

/* Two loop threads holding 5,000 stacks each: together past the budget,
 * which is the process's. */
enum { PER_THREAD = 5000 };
static pthread_barrier_t held;
static atomic_int release;
static size_t thread_guarded[2], thread_canaries[2];
static int started[2]; /* each thread's own: no atomics needed */

static int parked(void *a)
{
    started[(int)(long)a]++;
    while (!atomic_load(&release)) weft_sleep(0.02);
    return 0;
}

static int thread_main(void *a)
{
    int me = (int)(long)a;
    static weft_task *t[2][PER_THREAD];
    for (int i = 0; i < PER_THREAD; i++) CHECK(t[me][i] = weft_spawn(parked, a));
    while (started[me] < PER_THREAD) weft_sleep(0.001); /* each holds its stack now */
    guards(&thread_guarded[me], &thread_canaries[me]);
    pthread_barrier_wait(&held); /* both hold all their stacks */
    if (me == 0) {
        size_t g = thread_guarded[0] + thread_guarded[1];
        fprintf(stderr, "guarded %zu+%zu canaries %zu+%zu shim %lu\n", thread_guarded[0],
                thread_guarded[1], thread_canaries[0], thread_canaries[1], guards_made());
        CHECK_EQ(g, BUDGET);
        CHECK_EQ(guards_made(), BUDGET);
        atomic_store(&release, 1);
    }
    pthread_barrier_wait(&held);
    CHECK_EQ(weft_gather(t[me], PER_THREAD, NULL), 0);
    return 0;
}

static void *thread_run(void *a)
{
    weft_options o = {.stack_size = 16 * 1024};
    CHECK_EQ(weft_run_with(&o, thread_main, a), 0);
    return NULL;
}

static int threads(void)
{
    pthread_barrier_init(&held, NULL, 2);
    pthread_t th[2];
    for (long i = 0; i < 2; i++) CHECK_EQ(pthread_create(&th[i], NULL, thread_run, (void *)i), 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    return 0;
}

/* Recurses until its frames are 256 bytes past the bottom of its stack:
 * a small overflow, as a big frame or a deep call chain makes, that only a
 * guard or a canary can catch. */
#define STACK (64 * 1024)
static char *floor_at;
static __attribute__((noinline)) int dig(int depth)
{
    volatile char frame[256];
    for (int i = 0; i < 256; i++) frame[i] = 0x55;
    if ((char *)frame > floor_at) return dig(depth + 1) + frame[depth & 255];
    return frame[0];
}
static int overflower(void *a)
{
    char here;
    floor_at = (char *)((uintptr_t)&here - STACK - 256);
    return dig(0) & 1;
}
static int idle(void *a) { return weft_sleep(30); }

static int overflow_main(void *a)
{
    /* The overflow runs into the stack below: keep it an idle task's. */
    weft_task *i = weft_spawn(idle, NULL);
    weft_sleep(0.001);
    size_t g, c;
    guards(&g, &c);
    fprintf(stderr, "guarded %zu canaries %zu shim %lu\n", g, c, guards_made());
    CHECK_EQ(g, guards_made());
    weft_task *t = weft_spawn_named("overflower", overflower, NULL);
    weft_await(t);
    weft_cancel(i);
    weft_await(i);
    fprintf(stderr, "survived the overflow\n");
    return 0;
}

static int child(const char *what)
{
    if (!dlsym(RTLD_DEFAULT, "weft_shim_guards_made")) return SKIP;
    if (!strcmp(what, "many")) return weft_run(many_main, NULL);
    if (!strcmp(what, "threads")) return threads();
    weft_options o = {.stack_size = STACK};
    return weft_run_with(&o, overflow_main, NULL);
}

/* ---- in the parent ------------------------------------------------------------ */

static char *self;

typedef struct shim_run {
    const char *what;
    long mprotect_ok;
} shim_run;

static void exec_under_shim(void *arg)
{
    shim_run *r = arg;
    char ok[32];
    snprintf(ok, sizeof ok, "%ld", r->mprotect_ok);
    setenv("WEFT_SHIM_MPROTECT_OK", ok, 1);
    setenv("LD_PRELOAD", GUARD_SHIM, 1);
    execl(self, self, "child", r->what, (char *)NULL);
    _exit(SKIP);
}

/* Runs this program's case `what` under the shim; returns its wait status
 * and stderr. */
static int run(const char *what, long mprotect_ok, char **err)
{
    shim_run r = {what, mprotect_ok};
    int st = in_child(exec_under_shim, &r, err);
    if (WIFEXITED(st) && WEXITSTATUS(st) == SKIP) {
        fprintf(stderr, "skipped: the preload shim could not be used here\n%s", *err);
        exit(SKIP);
    }
    return st;
}

static void expect_clean(const char *what, long mprotect_ok)
{
    char *err;
    int st = run(what, mprotect_ok, &err);
    fprintf(stderr, "%s", err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    free(err);
}

static void expect_death(long mprotect_ok, const char *want)
{
    char *err;
    int st = run("overflow", mprotect_ok, &err);
    fprintf(stderr, "%s", err);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    CHECK_STR_HAS(err, want);
    CHECK(!strstr(err, "survived"));
    free(err);
}

/* Old kernel, no map pressure: every stack guarded by mprotect. */
static void old_kernel(void) { expect_clean("many", -1); }
/* mprotect fails after 100 guards: 100 guarded, the rest canaries, all work. */
static void enomem(void) { expect_clean("many", 100); }
static void budget_per_process(void) { expect_clean("threads", -1); }
static void guard_catches(void) { expect_death(-1, "stack overflow in task 'overflower'"); }
static void canary_catches(void) { expect_death(0, "canary smashed"); }

int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[1], "child")) return child(argv[2]);
#if defined(__aarch64__)
    fprintf(stderr, "skipped: aarch64 runs under qemu-user, where a preload shim is not emulated\n");
    return SKIP;
#endif
    self = realpath("/proc/self/exe", NULL);
    CHECK(self);
    int rc = run_tests((test_case[]){{"defect_14_old_kernel", old_kernel},
                                     {"defect_14_enomem", enomem},
                                     {"defect_14_budget_per_process", budget_per_process},
                                     {"defect_14_guard_catches", guard_catches},
                                     {"defect_14_canary_catches", canary_catches},
                                     {0}},
                       argc, argv);
    free(self);
    return rc;
}
