/* Debug mode under signals (issue 10 item 15), each case in a forked child
 * so a crash or a spin is a failed case, not a dead test:
 *  - a SIGUSR1 storm while the program dumps with weft_dump_tasks (a nested
 *    dump reset the outer one's sink to NULL: it crashed);
 *  - SIGUSR1 just as a loop starts (the handler, installed before the loop
 *    pointer was set, resent the signal to its own thread: 100% CPU
 *    forever), with the child's CPU time bounded;
 *  - the user's own strtok parse across a watchdog capture (the watchdog
 *    thread used strtok, whose state is the process's);
 *  - the resource registry growing under SIGUSR1 (the old array was freed
 *    before the new one was published, while the handler may walk it);
 *  - tasks ending under SIGUSR1 (a task's debug record was freed before
 *    its pointer was cleared: a dump in between followed glibc's free-list
 *    links written into it and crashed). */
#include "core_util.h"
#include "debug/debug_int.h" /* white-box: the registry's array (src/core on the path) */
#include "loops_internal.h"  /* white-box: a loop's port (its SIGUSR1 flag) */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <weft/debug.h>

static pthread_t loop_thread;
static atomic_int stop_storm;
static double storm_every;

/* Sends SIGUSR1 to the loop's thread every storm_every seconds. */
static void *storm(void *a)
{
    while (!atomic_load(&stop_storm)) {
        pthread_kill(loop_thread, SIGUSR1);
        usleep((useconds_t)(storm_every * 1e6));
    }
    return NULL;
}

static pthread_t storm_start(double every)
{
    loop_thread = pthread_self();
    storm_every = every;
    atomic_store(&stop_storm, 0);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, storm, NULL), 0);
    return th;
}

static void storm_stop(pthread_t th)
{
    atomic_store(&stop_storm, 1);
    pthread_join(th, NULL);
    weft_sleep(0.02); /* a signal still on its way lands while the handler is there */
}

static int sleeper(void *a) { return weft_sleep(30); }

static void expect_clean_exit(void (*fn)(void *), const char *must_say)
{
    char *err;
    int st = in_child(fn, NULL, &err);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || (must_say && !strstr(err, must_say))) {
        size_t n = strlen(err);
        fprintf(stderr, "child status %#x; its stderr ends:\n%s\n", st, err + (n > 3000 ? n - 3000 : 0));
        CHECK(0);
    }
    free(err);
}

/* ---- SIGUSR1 during weft_dump_tasks ---------------------------------------- */

static int dump_storm_main(void *a)
{
    weft_task *t[20];
    for (int i = 0; i < 20; i++) t[i] = weft_spawn(sleeper, NULL);
    weft_sleep(0.001);
    FILE *devnull = fopen("/dev/null", "w");
    CHECK(devnull);
    pthread_t th = storm_start(0.02);
    double end = mono() + (slow_machine() ? 2.0 : 0.6);
    int dumps = 0;
    while (mono() < end) weft_dump_tasks(devnull), dumps++;
    storm_stop(th);
    fclose(devnull);
    for (int i = 0; i < 20; i++) weft_cancel(t[i]);
    weft_gather(t, 20, NULL);
    fprintf(stderr, "%d dumps under the storm\n", dumps);
    return 0;
}
static void dump_storm_child(void *a)
{
    weft_options o = {.debug = 1};
    CHECK_EQ(weft_run_with(&o, dump_storm_main, NULL), 0);
}
static void dump_storm(void) { expect_clean_exit(dump_storm_child, "SIGUSR1 task dump"); }

/* ---- SIGUSR1 at loop start-up --------------------------------------------------- */

static atomic_int startups_done;

static int handler_installed(void)
{
    struct sigaction cur;
    sigaction(SIGUSR1, NULL, &cur);
    return cur.sa_handler != SIG_DFL;
}

/* The moment a loop installs its SIGUSR1 handler, before it runs: one
 * signal per start-up, then wait for the handler to go. */
static void *startup_signals(void *a)
{
    while (!atomic_load(&startups_done)) {
        if (!handler_installed()) continue;
        pthread_kill(loop_thread, SIGUSR1);
        while (handler_installed() && !atomic_load(&startups_done)) usleep(100);
    }
    return NULL;
}

static int brief(void *a) { return weft_sleep(0.002); }

static void startup_child(void *a)
{
    alarm(slow_machine() ? 120 : 20); /* a spinning thread never ends by itself */
    loop_thread = pthread_self();
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, startup_signals, NULL), 0);
    weft_options o = {.debug = 1};
    int runs = slow_machine() ? 10 : 40;
    for (int i = 0; i < runs; i++) CHECK_EQ(weft_run_with(&o, brief, NULL), 0);
    atomic_store(&startups_done, 1);
    pthread_join(th, NULL);
}

static double children_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

static void startup_signal(void)
{
    double before = children_cpu();
    expect_clean_exit(startup_child, NULL);
    double cpu = children_cpu() - before;
    fprintf(stderr, "child CPU time %.3f s\n", cpu);
    CHECK(cpu < (slow_machine() ? 60 : 5));
}

/* ---- the user's strtok across a watchdog capture ------------------------------- */

static int strtok_main(void *a)
{
    char line[] = "alpha,beta,gamma,delta";
    const char *want[] = {"alpha", "beta", "gamma", "delta"};
    char *tok = strtok(line, ",");
    for (int i = 0; i < 4; i++) {
        CHECK(tok && strcmp(tok, want[i]) == 0);
        /* Blocks the loop in a system call, past slow_task_s: the watchdog
         * reads /proc/.../syscall and parses it. */
        usleep(80000);
        tok = strtok(NULL, ",");
    }
    CHECK(tok == NULL);
    return 0;
}
static void strtok_child(void *a)
{
    weft_options o = {.debug = 1, .slow_task_s = 0.02};
    CHECK_EQ(weft_run_with(&o, strtok_main, NULL), 0);
}
static void user_strtok(void) { expect_clean_exit(strtok_child, "blocked the loop"); }

/* ---- the registry growing under SIGUSR1 ------------------------------------------- */

/* The registry's array of the moment; free() of it raises SIGUSR1 on the
 * spot, so the dump runs in the instant between the free and whatever grow
 * does next: deterministic, where the storm alone would need luck. Not
 * under ASan, TSan or valgrind, which own free(); there the storm alone runs. */
static void *volatile registry_array;
static void *volatile task_record; /* a task's debug record, likewise */
/* A loop closing (below): hold_at's free waits until poke_at's was done. */
static void *volatile hold_at, *volatile poke_at;
static weft__port *volatile poke_port;
static atomic_int poked;
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#if !UNDER_ASAN && !defined(UNDER_TSAN)
extern void __libc_free(void *);
void free(void *p)
{
    __libc_free(p);
    if (p && p == registry_array) {
        registry_array = NULL;
        pthread_kill(pthread_self(), SIGUSR1);
    }
    if (p && p == task_record) {
        task_record = NULL;
        pthread_kill(pthread_self(), SIGUSR1);
    }
    if (p && p == hold_at) {
        hold_at = NULL;
        double until = mono() + 5;
        while (!atomic_load(&poked) && mono() < until) sched_yield();
    }
    if (p && p == poke_at) {
        /* as if loop 0's handler had seen this loop live just before it
         * began to close, and its pthread_kill lands now */
        poke_at = NULL;
        __atomic_store_n(&poke_port->sig_pending, 1, __ATOMIC_RELEASE);
        pthread_kill(pthread_self(), SIGUSR1);
        atomic_store(&poked, 1);
    }
}
#endif

enum { OBJS = 3000 }; /* the array passes 128 KiB: glibc unmaps it when freed */
static char objs[OBJS];

static int grow_main(void *a)
{
    /* Each dump lists every tracked object (thousands of lines): a faster
     * storm keeps the loop dumping and it never gets on. */
    pthread_t th = storm_start(0.05);
    for (int i = 0; i < OBJS; i++) {
        weft_debug_track(&objs[i], "fake", __FILE__, __LINE__);
        if (!under_valgrind()) registry_array = weft__L->dbgs->objs;
        if (i % 100 == 99) weft_sleep(0.001);
    }
    registry_array = NULL;
    storm_stop(th);
    for (int i = 0; i < OBJS; i++) weft_debug_untrack(&objs[i]);
    return 0;
}
static void grow_child(void *a)
{
    weft_options o = {.debug = 1};
    CHECK_EQ(weft_run_with(&o, grow_main, NULL), 0);
}
static void grow_storm(void) { expect_clean_exit(grow_child, "SIGUSR1 task dump"); }

/* ---- tasks ending under SIGUSR1 ----------------------------------------------------- */

static int quick(void *a) { return 0; }

/* Tasks spawned and ended in batches: the first of each batch's record
 * raises SIGUSR1 as it is freed (not under ASan, TSan or valgrind, which
 * own free(): there the tasks just end). */
static int ending_main(void *a)
{
    for (int i = 0; i < 200; i++) {
        weft_task *t[8];
        for (int k = 0; k < 8; k++) CHECK((t[k] = weft_spawn(quick, NULL)));
        if (!under_valgrind()) task_record = t[0]->dbg;
        CHECK_EQ(weft_gather(t, 8, NULL), 0);
    }
    task_record = NULL;
    return 0;
}
static void ending_child(void *a)
{
    weft_options o = {.debug = 1};
    CHECK_EQ(weft_run_with(&o, ending_main, NULL), 0);
}
static void tasks_ending(void)
{
#if !UNDER_ASAN && !defined(UNDER_TSAN)
    int hooked = !under_valgrind();
#else
    int hooked = 0;
#endif
    expect_clean_exit(ending_child, hooked ? "SIGUSR1 task dump" : NULL);
}

/* ---- a loop closing under a forwarded SIGUSR1 --------------------------------------- */

/* Loop 0 answers SIGUSR1 and forwards it to each other loop that is live
 * (sig_live), flagging it. A loop that began to close between that check
 * and the signal's arrival took the flag as "dump your loop" and dumped it
 * half freed. Made deterministic by the test's free(): loop 0 is held in
 * its close before it gives up the handler (at its watchdog's free), and
 * loop 1 is flagged and signalled at the end of its debug state's close
 * (the free of that state, its resource registry already freed: big
 * enough that glibc unmapped it, so a dump walking it crashes). */
enum { LOOP1_OBJS = 5000 };
static char loop1_objs[LOOP1_OBJS];

static int loop1_setup(void *a)
{
    for (int i = 0; i < LOOP1_OBJS; i++) weft_debug_track(&loop1_objs[i], "fake", __FILE__, __LINE__);
    poke_port = weft__L->port;
    poke_at = weft__L->dbgs;
    return 0;
}

static int closing_main(void *a)
{
    CHECK_EQ(weft_call(weft_loop_at(1), loop1_setup, NULL), 0);
    hold_at = weft__L->dbgs->watchdog;
    CHECK(hold_at);
    return 0;
}

static void closing_child(void *a)
{
    weft_options o = {.loops = 2, .debug = 1};
    weft_run_with(&o, closing_main, NULL); /* the unclosed objects make it fail */
    CHECK(atomic_load(&poked));
}

static void loop_closing(void)
{
#if !UNDER_ASAN && !defined(UNDER_TSAN)
    if (!under_valgrind()) expect_clean_exit(closing_child, "was never closed");
#endif
}

int main(int argc, char **argv)
{
#if defined(__aarch64__)
    /* here aarch64 means qemu-user, where the storms, paced for native
     * speed, outlast every dump budget: skipped (77), run natively and under ASan */
    fprintf(stderr, "skipped under qemu-user\n");
    return 77;
#endif
    return run_tests((test_case[]){{"defect_15_dump_storm", dump_storm},
                                   {"defect_15_startup_signal", startup_signal},
                                   {"defect_15_user_strtok", user_strtok},
                                   {"defect_15_grow_storm", grow_storm},
                                   {"tasks_ending", tasks_ending},
                                   {"loop_closing", loop_closing},
                                   {0}},
                     argc, argv);
}
