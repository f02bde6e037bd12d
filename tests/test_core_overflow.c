/* Stack overflow: a task that recurses too deep dies with a message naming
 * it (never silent corruption). Run in forked children. */
#include "core_util.h"

static __attribute__((noinline)) int recurse(volatile char *prev, int depth)
{
    volatile char frame[512];
    frame[0] = (char)depth;
    frame[511] = prev ? prev[0] : 0;
    if (depth > 1 << 30) return 0; /* never: keeps the compiler from objecting */
    return recurse(frame, depth + 1) + frame[1];
}
static int deep(void *a) { return recurse(NULL, 0); }
static int sane(void *a)
{
    weft_sleep(0.001);
    return 0;
}

static int named_main(void *a)
{
    weft_task *others[10];
    for (int i = 0; i < 10; i++) others[i] = weft_spawn(sane, NULL);
    weft_task *t = weft_spawn_named("deep-recursion", deep, NULL);
    weft_await(t);
    weft_gather(others, 10, NULL);
    return 0;
}
static void child_named(void *a)
{
    weft_options o = {.stack_size = (size_t)(long)a};
    weft_run_with(&o, named_main, NULL);
    fprintf(stderr, "survived the overflow\n");
}

static int unnamed_main(void *a)
{
    weft_task *t = weft_spawn(deep, NULL);
    return weft_await(t);
}
static void child_unnamed(void *a)
{
    weft_options o = {.debug = 1};
    weft_run_with(&o, unnamed_main, NULL);
    fprintf(stderr, "survived the overflow\n");
}

/* After many stacks (past any per-process guard budget), still caught. */
static int late_main(void *a)
{
    enum { N = 20000 };
    static weft_task *t[N];
    for (int i = 0; i < N; i++) t[i] = weft_spawn(sane, NULL);
    weft_sleep(0.0005); /* all hold a stack now */
    weft_task *d = weft_spawn_named("late", deep, NULL);
    weft_await(d);
    weft_gather(t, N, NULL);
    return 0;
}
static void child_late(void *a)
{
    weft_run(late_main, NULL);
    fprintf(stderr, "survived the overflow\n");
}

static void expect_overflow(void (*fn)(void *), void *arg, const char *want)
{
    char *err;
    int st = in_child(fn, arg, &err);
    if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT) || !strstr(err, want)) {
        fprintf(stderr, "status %#x, stderr:\n%s\nwanted: %s\n", st, err, want);
        CHECK(0);
    }
    CHECK(!strstr(err, "survived"));
    free(err);
}

static void t_named(void)
{
    expect_overflow(child_named, (void *)0L,
                    "weft: stack overflow in task 'deep-recursion' (id 12): its 262144-byte "
                    "stack is exhausted; raise weft_options.stack_size");
    expect_overflow(child_named, (void *)(64L * 1024),
                    "stack overflow in task 'deep-recursion' (id 12): its 65536-byte stack");
}
static void t_unnamed(void)
{
    /* debug mode knows the spawn site */
    expect_overflow(child_unnamed, NULL, "stack overflow in task '(unnamed)' (id 2, spawned at ");
    expect_overflow(child_unnamed, NULL, "test_core_overflow.c:");
}
static void t_late(void)
{
    if (slow_machine()) return; /* 20,000 stacks under an emulator: too slow */
    expect_overflow(child_late, NULL, "stack overflow in task 'late'");
}

int main(int argc, char **argv)
{
    return run_tests((test_case[]){{"named", t_named},
                                   {"unnamed", t_unnamed},
                                   {"late", t_late},
                                   {0}},
                     argc, argv);
}
