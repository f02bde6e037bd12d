/* Task groups whose members start late: weft_group_spawn_into, members
 * that become tasks only when their turn comes, their order against other
 * ready tasks, cancellation of members not yet started, and loop teardown
 * with members pending. */
#include <weft.h>
#include <weft/debug.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "core_util.h"
#include <weft/test.h>

static int give(void *a) { return (int)(intptr_t)a; }

/* Many members that never wait: each result lands in its slot. */
WEFT_TEST(t_results)
{
    enum { N = 200000 };
    int *res = malloc(N * sizeof *res);
    for (int i = 0; i < N; i++) res[i] = -1;
    weft_group *g = weft_group_new();
    for (int i = 0; i < N; i++) CHECK_EQ(weft_group_spawn_into(g, give, (void *)(intptr_t)i, &res[i]), 0);
    CHECK_EQ(weft_group_wait(g), 0);
    for (int i = 0; i < N; i++)
        if (res[i] != i) CHECK_EQ(res[i], i);
    free(res);
    CHECK_EQ(weft_group_spawn_into(NULL, give, NULL, NULL), -EINVAL);
    return 0;
}

/* A batch keeps one fn and strided slots until a member breaks the
 * pattern (group.c): members with another function, slots out of order,
 * NULL slots, each breaking it in a small block and in a big (mapped) one,
 * still run their own function and fill their own slot. */
static int negate(void *a) { return -(int)(intptr_t)a - 1; }
static weft_fn mixed_fn(int i) { return i % 1000 == 999 || (i > 40 && i < 60) || i >= 120000 ? negate : give; }
/* Member i's slot: in order up to 90,000, then from the end backwards,
 * every 7th with none. */
static int mixed_slot(int i, int n) { return i < 90000 ? i : i % 7 == 0 ? -1 : n - 1 - (i - 90000); }
WEFT_TEST(t_mixed_members)
{
    enum { N = 150000 };
    int *res = malloc(N * sizeof *res);
    for (int i = 0; i < N; i++) res[i] = INT32_MAX;
    weft_group *g = weft_group_new();
    for (int i = 0; i < N; i++) {
        int s = mixed_slot(i, N);
        CHECK_EQ(weft_group_spawn_into(g, mixed_fn(i), (void *)(intptr_t)i, s < 0 ? NULL : &res[s]), 0);
    }
    /* The first failure is member 41's: the rest still ran (none waits). */
    CHECK_EQ(weft_group_wait(g), -42);
    int filled = 0;
    for (int i = 0; i < N; i++) {
        int s = mixed_slot(i, N);
        if (s < 0) continue;
        int want = mixed_fn(i) == negate ? -i - 1 : i;
        if (res[s] != want) CHECK_EQ(res[s], want);
        filled++;
    }
    for (int i = 0; i < N; i++) /* slots nobody was given stay untouched */
        if (res[i] == INT32_MAX) filled++;
    CHECK_EQ(filled, N);
    free(res);
    return 0;
}

/* Pending members cost 8 bytes each in the usual shape (one function,
 * slots &res[i]): 400,000 of them add well under the 24 bytes each that
 * (fn, arg, slot) records took. */
static long rss_kib(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = -1;
    fclose(f);
    return rss * 4;
}
WEFT_TEST(t_compact_pending)
{
    enum { N = 400000 };
    int *res = malloc(N * sizeof *res);
    for (int i = 0; i < N; i++) res[i] = -1; /* resident before measuring */
    weft_group *g = weft_group_new();
    long before = rss_kib();
    for (int i = 0; i < N; i++) CHECK_EQ(weft_group_spawn_into(g, give, (void *)(intptr_t)i, &res[i]), 0);
    long grew = rss_kib() - before;
    WEFT_TEST_CHECK(before > 0);
    WEFT_TEST_CHECK(grew * 1024 < (long)N * 12); /* 8 bytes a member, plus block headers */
    WEFT_TEST_CHECK(grew * 1024 > (long)N * 6);  /* and it is measured: the args are there */
    CHECK_EQ(weft_group_wait(g), 0);
    for (int i = 0; i < N; i++)
        if (res[i] != i) CHECK_EQ(res[i], i);
    free(res);
    return 0;
}

/* Start order is spawn order, across groups and plain tasks alike. */
static char order[64];
static int norder;
static int mark(void *a)
{
    order[norder++] = (char)(intptr_t)a;
    return 0;
}
WEFT_TEST(t_fifo)
{
    norder = 0;
    weft_group *g = weft_group_new(), *h = weft_group_new();
    weft_group_spawn(g, mark, (void *)'a');
    weft_group_spawn(g, mark, (void *)'b');
    weft_task *t = weft_spawn(mark, (void *)'c'); /* closes g's batch */
    weft_group_spawn(g, mark, (void *)'d');
    weft_group_spawn(h, mark, (void *)'e');
    weft_group_spawn(g, mark, (void *)'f');
    weft_group_spawn(g, mark, (void *)'g');
    CHECK_EQ(weft_group_wait(g), 0);
    CHECK_EQ(weft_group_wait(h), 0);
    CHECK_EQ(weft_await(t), 0);
    order[norder] = 0;
    WEFT_TEST_CHECK(!strcmp(order, "abcdefg"));
    return 0;
}

/* A member fails while many have not started: those start cancelled, see
 * -ECANCELED at their first wait, and their slots say so. */
static int fail_now(void *a) { return -EIO; }
static int waits(void *a) { return weft_sleep(10); }
WEFT_TEST(t_fail_cancels_pending)
{
    enum { N = 5000 };
    static int res[N];
    weft_group *g = weft_group_new();
    CHECK_EQ(weft_group_spawn_into(g, waits, NULL, &res[0]), 0);
    CHECK_EQ(weft_group_spawn_into(g, fail_now, NULL, &res[1]), 0);
    for (int i = 2; i < N; i++) CHECK_EQ(weft_group_spawn_into(g, waits, NULL, &res[i]), 0);
    double t0 = weft_now();
    CHECK_EQ(weft_group_wait(g), -EIO);
    WEFT_TEST_CHECK(weft_now() - t0 < 5);
    CHECK_EQ(res[0], -ECANCELED);
    CHECK_EQ(res[1], -EIO);
    for (int i = 2; i < N; i++)
        if (res[i] != -ECANCELED) CHECK_EQ(res[i], -ECANCELED);
    return 0;
}

/* The waiter is cancelled while members are pending: all of them end. */
static int started;
static int counted_wait(void *a)
{
    started++;
    return weft_sleep(10);
}
static int outer(void *a)
{
    weft_group *g = weft_group_new();
    for (int i = 0; i < 1000; i++) weft_group_spawn(g, counted_wait, NULL);
    return weft_group_wait(g);
}
WEFT_TEST(t_waiter_cancelled)
{
    started = 0;
    weft_task *o = weft_spawn(outer, NULL);
    weft_yield(); /* outer spawns its members and waits; some start */
    weft_cancel(o);
    CHECK_EQ(weft_await(o), -ECANCELED);
    CHECK_EQ(started, 1000);
    return 0;
}

/* A dump taken while members are pending counts tasks only; and a loop
 * whose main ends while a group's members are pending still ends: its
 * waiter is cancelled and the pending members start cancelled. */
static int group_owner(void *a)
{
    weft_group *g = weft_group_new();
    for (int i = 0; i < 100; i++) weft_group_spawn(g, counted_wait, NULL);
    return weft_group_wait(g);
}
static int teardown_main(void *a)
{
    weft_detach(weft_spawn(group_owner, NULL));
    weft_yield(); /* the owner spawns and waits; its members are queued after us */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    weft_dump_tasks(f);
    fclose(f);
    CHECK(strstr(buf, "weft: 2 task(s) alive, 0 ready, 100 group member(s) not started yet\n"));
    free(buf);
    return 0;
}
static void t_teardown(void)
{
    started = 0;
    CHECK_EQ(weft_run(teardown_main, NULL), 0);
    CHECK_EQ(started, 100);
}

/* Out of memory while members start (an address-space limit, in a child):
 * a member that gets no stack ends with -ENOMEM in its slot, the group
 * fails with it, the others end cancelled, and the loop carries on. */
enum { OOM_N = 20000 };
static int oom_res[OOM_N];
static int naps(void *a) { return weft_sleep(0.2); }
static int oom_main(void *a)
{
    for (int i = 0; i < OOM_N; i++) oom_res[i] = 1;
    weft_group *g = weft_group_new();
    for (int i = 0; i < OOM_N; i++) CHECK_EQ(weft_group_spawn_into(g, naps, NULL, &oom_res[i]), 0);
    CHECK_EQ(weft_group_wait(g), -ENOMEM);
    int nomem = 0;
    for (int i = 0; i < OOM_N; i++) {
        if (oom_res[i] == -ENOMEM) nomem++;
        else CHECK_EQ(oom_res[i], -ECANCELED);
    }
    CHECK(nomem > 0);
    CHECK_EQ(weft_sleep(0.001), 0); /* still a working loop */
    return 0;
}
static void child_oom(void *a)
{
    limit_as(48L << 20);
    CHECK_EQ(weft_run(oom_main, NULL), 0);
    exit(0);
}
static void t_oom(void)
{
    oom_in_child(child_oom);
}

static const weft_test_case cases[] = {
    {"results", t_results},
    {"mixed_members", t_mixed_members},
    {"compact_pending", t_compact_pending},
    {"fifo", t_fifo},
    {"fail_cancels_pending", t_fail_cancels_pending},
    {"waiter_cancelled", t_waiter_cancelled},
};
/* teardown: weft_run's end starting and cancelling members, read in a task
 * dump that weft_test_run's own task would change; oom: a loop under an
 * address-space limit in a child, out of memory on purpose */
static const test_case plain[] = {
    {"teardown", t_teardown},
    {"oom", t_oom},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    return RUN_CASES_THEN_PLAIN(cases, plain, argc, argv);
}
