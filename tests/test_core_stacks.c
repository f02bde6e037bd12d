/* Stacks: heavy stack use in many tasks switching in the middle of it,
 * data integrity across switches, stack memory shared between tasks, and
 * stack reuse. Written to be run under ASan (fiber annotations) and
 * valgrind (registered stacks) without reports. */
#include "core_util.h"
#include <weft/test.h>

static unsigned mix(unsigned x) { return x * 2654435761u + 12345; }

/* Recursion with a sizeable frame, yielding at every level, checking each
 * frame's contents after the switches. */
static __attribute__((noinline)) int deep(unsigned seed, int depth)
{
    unsigned frame[256]; /* 1 KiB */
    for (int i = 0; i < 256; i++) frame[i] = mix(seed + (unsigned)i);
    if (weft_yield() < 0) return -1;
    int below = depth > 0 ? deep(seed * 31 + 7, depth - 1) : 0;
    if (below < 0) return below;
    for (int i = 0; i < 256; i++)
        if (frame[i] != mix(seed + (unsigned)i)) return -1000 - depth;
    return below + 1;
}

static int heavy(void *a)
{
    unsigned seed = (unsigned)(long)a;
    char big[48 * 1024]; /* well inside the default 256 KiB */
    memset(big, (int)(seed & 0xff), sizeof big);
    CHECK_EQ(weft_sleep(0.0001 * (seed % 5)), 0);
    for (size_t i = 0; i < sizeof big; i += 997) CHECK_EQ((unsigned char)big[i], seed & 0xff);
    int r = deep(seed, 40);
    CHECK_EQ(r, 41);
    /* snprintf and friends on the task stack */
    char line[256];
    snprintf(line, sizeof line, "%u %.3f %s", seed, seed / 7.0, "ok");
    CHECK(strstr(line, "ok") != NULL);
    return 0;
}

static int t_heavy_main(void *a)
{
    int n = slow_machine() ? 200 : 2000;
    weft_task **t = malloc((size_t)n * sizeof *t);
    for (int round = 0; round < 2; round++) { /* the second round reuses the stacks */
        for (long i = 0; i < n; i++) t[i] = weft_spawn(heavy, (void *)(i + 1000 * round));
        CHECK_EQ(weft_gather(t, (size_t)n, NULL), 0);
    }
    free(t);
    return 0;
}

/* A task hands a pointer to its stack buffer to another, which fills it
 * while the owner waits: stack memory stays valid while a task is parked. */
typedef struct {
    char *buf;
    size_t n;
    weft_event *done;
} job;
static int filler(void *a)
{
    job *j = a; /* lives on the owner's stack */
    for (size_t i = 0; i < j->n; i++) {
        j->buf[i] = (char)(i % 251);
        if (i % 4096 == 0) weft_yield();
    }
    weft_event_set(j->done);
    return 0;
}
static int owner(void *a)
{
    char buf[20000];
    job j = {buf, sizeof buf, weft_event_new()};
    weft_task *f = weft_spawn(filler, &j);
    CHECK_EQ(weft_event_wait(j.done), 0);
    CHECK_EQ(weft_await(f), 0);
    for (size_t i = 0; i < sizeof buf; i++) CHECK_EQ(buf[i], (char)(i % 251));
    weft_event_free(j.done);
    return 0;
}
static int t_shared_main(void *a)
{
    weft_task *t[50];
    for (int i = 0; i < 50; i++) t[i] = weft_spawn(owner, NULL);
    CHECK_EQ(weft_gather(t, 50, NULL), 0);
    return 0;
}

/* Tasks that end without waiting run on a handed-over stack: their frames
 * must still be fresh (no leftovers visible, no poisoning complaints). */
static int no_wait(void *a)
{
    char tmp[4096];
    memset(tmp, 0x5a, sizeof tmp);
    return tmp[(long)a % sizeof tmp] == 0x5a ? 0 : -1;
}
static int t_handoff_main(void *a)
{
    enum { N = 20000 };
    static weft_task *t[N];
    for (long i = 0; i < N; i++) t[i] = weft_spawn(no_wait, (void *)i);
    CHECK_EQ(weft_gather(t, N, NULL), 0);
    return 0;
}

/* Loops run one after another reuse addresses: nothing stale may remain. */
static void t_rerun(void)
{
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(weft_run(t_handoff_main, NULL), 0);
        CHECK_EQ(weft_run(t_shared_main, NULL), 0);
    }
}

/* A small configured stack is honoured and usable. */
static int small_user(void *a)
{
    char buf[8 * 1024];
    memset(buf, 1, sizeof buf);
    weft_yield();
    return buf[100] == 1 ? 0 : -1;
}
static int t_small_main(void *a)
{
    weft_task *t[100];
    for (int i = 0; i < 100; i++) t[i] = weft_spawn(small_user, NULL);
    return weft_gather(t, 100, NULL);
}
static void t_small(void)
{
    weft_options o = {.stack_size = 16 * 1024};
    CHECK_EQ(weft_run_with(&o, t_small_main, NULL), 0);
    o.stack_size = 1; /* rounded up to the minimum */
    CHECK_EQ(weft_run_with(&o, t_small_main, NULL), 0);
}

static const weft_test_case cases[] = {
    {"heavy", t_heavy_main},
    {"shared", t_shared_main},
    {"handoff", t_handoff_main},
};
/* weft_run itself: stacks reused across runs, weft_options.stack_size
 * rounded up */
static const test_case plain[] = {
    {"rerun", t_rerun},
    {"small", t_small},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    return RUN_CASES_THEN_PLAIN(cases, plain, argc, argv);
}
