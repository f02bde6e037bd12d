/* Task-locals: a spawned task starts with a copy of its spawner's values at
 * spawn time, across weft_spawn, groups, gather; setting never affects
 * another task; a weft_to_thread job sees its caller's values, read-only. */
#include "core_util.h"
#include <weft/test.h>

static int key_a, key_b; /* keys are addresses */

static int read_a(void *a)
{
    (void)a;
    return (int)(intptr_t)weft_local_get(&key_a);
}

WEFT_TEST(t_basic)
{
    WEFT_TEST_CHECK(weft_local_get(&key_a) == NULL);
    CHECK_EQ(weft_local_set(&key_a, (void *)1), 0);
    WEFT_TEST_CHECK(weft_local_get(&key_a) == (void *)1);
    WEFT_TEST_CHECK(weft_local_get(&key_b) == NULL);
    CHECK_EQ(weft_local_set(&key_a, (void *)2), 0);
    WEFT_TEST_CHECK(weft_local_get(&key_a) == (void *)2);
    /* many keys: the map grows */
    static char many[100];
    for (int i = 0; i < 100; i++) CHECK_EQ(weft_local_set(&many[i], (void *)(intptr_t)(i + 10)), 0);
    for (int i = 0; i < 100; i++) WEFT_TEST_CHECK(weft_local_get(&many[i]) == (void *)(intptr_t)(i + 10));
    WEFT_TEST_CHECK(weft_local_get(&key_a) == (void *)2);
    CHECK_EQ(weft_local_set(&key_a, NULL), 0);
    WEFT_TEST_CHECK(weft_local_get(&key_a) == NULL);
    return 0;
}

/* A child sees the value at its spawn, not a later one, and its own sets stay
 * its own. */
static int child_sets(void *a)
{
    (void)a;
    int seen = (int)(intptr_t)weft_local_get(&key_a);
    CHECK_EQ(weft_local_set(&key_a, (void *)99), 0);
    CHECK_EQ(weft_local_set(&key_b, (void *)98), 0);
    weft_yield();
    CHECK(weft_local_get(&key_a) == (void *)99);
    return seen;
}
static int grandchild_parent(void *a)
{
    (void)a;
    CHECK_EQ(weft_local_set(&key_b, (void *)7), 0);
    weft_task *g = weft_spawn(read_a, NULL); /* inherits key_a from two levels up */
    return weft_await(g) * 100 + (int)(intptr_t)weft_local_get(&key_b);
}
WEFT_TEST(t_spawn)
{
    weft_task *none = weft_spawn(read_a, NULL); /* spawned before any set */
    CHECK_EQ(weft_local_set(&key_a, (void *)1), 0);
    weft_task *t1 = weft_spawn(child_sets, NULL);
    CHECK_EQ(weft_local_set(&key_a, (void *)2), 0); /* after t1's spawn, before it runs */
    weft_task *t2 = weft_spawn(read_a, NULL);
    CHECK_EQ(weft_await(none), 0);
    CHECK_EQ(weft_await(t1), 1);
    CHECK_EQ(weft_await(t2), 2);
    WEFT_TEST_CHECK(weft_local_get(&key_a) == (void *)2); /* the child's set stayed its own */
    WEFT_TEST_CHECK(weft_local_get(&key_b) == NULL);
    CHECK_EQ(weft_await(weft_spawn(grandchild_parent, NULL)), 207);
    WEFT_TEST_CHECK(weft_local_get(&key_b) == NULL);
    return 0;
}

WEFT_TEST(t_gather)
{
    enum { N = 50 };
    weft_task *t[N];
    for (int i = 0; i < N; i++) {
        CHECK_EQ(weft_local_set(&key_a, (void *)(intptr_t)(i + 1)), 0);
        t[i] = weft_spawn(i % 2 ? child_sets : read_a, NULL);
    }
    int res[N];
    CHECK_EQ(weft_gather(t, N, res), 0);
    for (int i = 0; i < N; i++) CHECK_EQ(res[i], i + 1);
    WEFT_TEST_CHECK(weft_local_get(&key_a) == (void *)(intptr_t)N);
    return 0;
}

/* Group members start with the values their spawner had at each spawn, also
 * when several spawns with different values share the ready queue's tail. */
WEFT_TEST(t_group)
{
    enum { N = 3000 };
    static int res[N];
    weft_group *g = weft_group_new();
    for (int i = 0; i < N; i++) {
        if (i % 7 == 0) CHECK_EQ(weft_local_set(&key_a, (void *)(intptr_t)(i + 1)), 0);
        CHECK_EQ(weft_group_spawn_into(g, i % 3 ? read_a : child_sets, NULL, &res[i]), 0);
    }
    CHECK_EQ(weft_group_wait(g), 0);
    for (int i = 0; i < N; i++) CHECK_EQ(res[i], i / 7 * 7 + 1);
    return 0;
}

/* weft_to_thread: the job sees its caller's values and cannot set any. */
static int job(void *a)
{
    int *set_result = a;
    *set_result = weft_local_set(&key_b, (void *)1);
    return (int)(intptr_t)weft_local_get(&key_a);
}
static int thread_caller(void *a)
{
    (void)a;
    CHECK_EQ(weft_local_set(&key_a, (void *)(intptr_t)(weft_task_id(weft_current()) % 1000 + 1)),
             0);
    int set_result = 0;
    int r = weft_to_thread(job, &set_result);
    CHECK_EQ(set_result, -EPERM);
    CHECK(weft_local_get(&key_b) == NULL);
    return r == (int)(intptr_t)weft_local_get(&key_a) ? 0 : -1;
}
WEFT_TEST(t_to_thread)
{
    int set_result = 0;
    CHECK_EQ(weft_to_thread(job, &set_result), 0); /* no values: NULL */
    CHECK_EQ(weft_local_set(&key_a, (void *)5), 0);
    CHECK_EQ(weft_to_thread(job, &set_result), 5);
    /* many callers at once, each with its own value */
    weft_task *t[40];
    for (int i = 0; i < 40; i++) t[i] = weft_spawn(thread_caller, NULL);
    CHECK_EQ(weft_gather(t, 40, NULL), 0);
    CHECK_EQ(weft_to_thread(job, &set_result), 5);
    return 0;
}

/* Many tasks setting and inheriting: slots are reused (refcounts right:
 * under ASan a miscount would be a use-after-free or a double free). */
static int churn(void *a)
{
    intptr_t i = (intptr_t)a;
    if (i % 2) CHECK_EQ(weft_local_set(&key_b, a), 0);
    if (i % 5 == 0) weft_yield();
    weft_task *c = weft_spawn(read_a, NULL);
    int r = weft_await(c);
    if (i % 2) CHECK(weft_local_get(&key_b) == a);
    return r;
}
WEFT_TEST(t_churn)
{
    CHECK_EQ(weft_local_set(&key_a, (void *)3), 0);
    for (int round = 0; round < 20; round++) {
        weft_task *t[500];
        for (int i = 0; i < 500; i++) t[i] = weft_spawn(churn, (void *)(intptr_t)i);
        int res[500];
        CHECK_EQ(weft_gather(t, 500, res), 0);
        for (int i = 0; i < 500; i++) CHECK_EQ(res[i], 3);
    }
    return 0;
}

static void t_outside(void)
{
    CHECK(weft_local_get(&key_a) == NULL);
    CHECK_EQ(weft_local_set(&key_a, (void *)1), -EPERM);
}

static const weft_test_case cases[] = {
    {"basic", t_basic},
    {"spawn", t_spawn},
    {"gather", t_gather},
    {"group", t_group},
    {"to_thread", t_to_thread},
    {"churn", t_churn},
};
/* outside any loop */
static const test_case plain[] = {
    {"outside", t_outside},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    return RUN_CASES_THEN_PLAIN(cases, plain, argc, argv);
}
