/* weft_spawn_eager: the new task runs at once until its first wait, then
 * the caller goes on ahead of every other ready task; a task that never
 * waits is done on return; task-locals, debug mode, bursts that make the
 * stack pool grow, nesting, errors. */
#include <weft.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

static char order[64];
static int pos;
static void mark(char c) { order[pos++] = c, order[pos] = 0; }

static int no_wait(void *arg) { return (int)(intptr_t)arg; }

WEFT_TEST(done_on_return)
{
    weft_task *t = weft_spawn_eager(no_wait, (void *)(intptr_t)42);
    WEFT_TEST_CHECK(t);
    WEFT_TEST_CHECK(weft_done(t));
    CHECK_EQ(weft_await(t), 42);
    return 0;
}

static int waits_once(void *arg)
{
    mark('E');
    weft_yield();
    mark('e');
    return 0;
}
static int plain(void *arg)
{
    mark('P');
    return 0;
}

/* P is queued first, yet E runs before the caller's next line (C), and the
 * caller before P; E's second half comes after P (it queued behind it). */
WEFT_TEST(runs_first_caller_next)
{
    pos = 0;
    weft_task *p = weft_spawn(plain, NULL);
    weft_task *e = weft_spawn_eager(waits_once, NULL);
    mark('C');
    WEFT_TEST_CHECK(!weft_done(e));
    CHECK_EQ(weft_await(p), 0);
    CHECK_EQ(weft_await(e), 0);
    WEFT_TEST_CHECK(strcmp(order, "ECPe") == 0);
    return 0;
}

static int seen;
static int reads_caller_state(void *arg)
{
    seen = *(int *)arg;
    return 0;
}

/* fn sees the caller's variables as they are at the call. */
WEFT_TEST(sees_state_at_call)
{
    int v = 1;
    weft_task *t = weft_spawn_eager(reads_caller_state, &v);
    v = 2;
    CHECK_EQ(seen, 1);
    CHECK_EQ(weft_await(t), 0);
    return 0;
}

static int key;
static int reads_local(void *arg)
{
    CHECK(weft_local_get(&key) == arg);
    weft_local_set(&key, NULL); /* its own copy: the caller keeps its value */
    return 0;
}

WEFT_TEST(task_locals_copied)
{
    int v;
    CHECK_EQ(weft_local_set(&key, &v), 0);
    CHECK_EQ(weft_await(weft_spawn_eager(reads_local, &v)), 0);
    WEFT_TEST_CHECK(weft_local_get(&key) == &v);
    return 0;
}

static int depth_task(void *arg)
{
    intptr_t d = (intptr_t)arg;
    if (d == 0) return 0;
    weft_task *t = weft_spawn_eager(depth_task, (void *)(d - 1));
    CHECK(weft_done(t));
    return weft_await(t) + 1;
}

/* Eager tasks spawning eager tasks, 200 deep: each has its own stack. */
WEFT_TEST(nested)
{
    weft_task *t = weft_spawn_eager(depth_task, (void *)(intptr_t)200);
    WEFT_TEST_CHECK(weft_done(t));
    CHECK_EQ(weft_await(t), 200);
    return 0;
}

static int waiter(void *arg)
{
    CHECK_EQ(weft_event_wait(arg), 0);
    return 1;
}

/* 20,000 tasks that all park (on an event: no timer can end one early on a
 * loaded machine): the stack pool must grow many times, which is done on
 * the scheduler's stack, and every caller still goes on. Then 200,000 that
 * never wait reuse one stack. */
WEFT_TEST(bursts)
{
    enum { N = 20000 };
    static weft_task *t[N];
    weft_event *go = weft_event_new();
    for (int i = 0; i < N; i++) {
        t[i] = weft_spawn_eager(waiter, go);
        WEFT_TEST_CHECK(t[i]);
        WEFT_TEST_CHECK(!weft_done(t[i]));
    }
    weft_event_set(go);
    int sum = 0;
    for (int i = 0; i < N; i++) sum += weft_await(t[i]);
    CHECK_EQ(sum, N);
    weft_event_free(go);
    for (int i = 0; i < 200000; i++) {
        weft_task *x = weft_spawn_eager(no_wait, (void *)(intptr_t)(i & 0xff));
        WEFT_TEST_CHECK(weft_done(x));
        CHECK_EQ(weft_await(x), i & 0xff);
    }
    return 0;
}

static int cancel_me(void *arg)
{
    return weft_sleep(10);
}

/* The eager task can be cancelled at its first wait like any other; the
 * caller's own cancellation is not checked by the spawn (it is no wait). */
WEFT_TEST(cancel)
{
    weft_task *t = weft_spawn_eager(cancel_me, NULL);
    weft_cancel(t);
    CHECK_EQ(weft_await(t), -ECANCELED);
    weft_cancel(weft_current());
    weft_task *u = weft_spawn_eager(no_wait, (void *)(intptr_t)5);
    WEFT_TEST_CHECK(u && weft_done(u));
    CHECK_EQ(weft_sleep(0), -ECANCELED); /* the caller's next wait sees it */
    weft_detach(u);
    return 0;
}

static void errors(void)
{
    errno = 0;
    CHECK(weft_spawn_eager(no_wait, NULL) == NULL);
    CHECK_EQ(errno, EPERM);
}

WEFT_TEST(null_fn)
{
    errno = 0;
    WEFT_TEST_CHECK(weft_spawn_eager(NULL, NULL) == NULL);
    CHECK_EQ(errno, EINVAL);
    return 0;
}

int main(int argc, char **argv)
{
    errors(); /* outside any loop */
    /* bursts' 220,000 tasks take 19 s under valgrind in debug mode: past
     * weft_test_run's default limit of 10 s (an explicit one still wins) */
    setenv("WEFT_TEST_TIMEOUT", "120", 0);
    static const weft_test_case cases[] = {
        WEFT_TEST_CASE(done_on_return), WEFT_TEST_CASE(runs_first_caller_next),
        WEFT_TEST_CASE(sees_state_at_call), WEFT_TEST_CASE(task_locals_copied),
        WEFT_TEST_CASE(nested), WEFT_TEST_CASE(bursts), WEFT_TEST_CASE(cancel),
        WEFT_TEST_CASE(null_fn)};
    return weft_test_main(cases, sizeof cases / sizeof *cases, argc, argv);
}
