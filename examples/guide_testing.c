/* docs/guide.md, "Testing": weft/test.h runs each test as a task on a fresh
 * loop, with a time limit, and fails it if a task, fd or tracked resource
 * leaked. Built as a program, it is a ctest test; with another framework
 * call weft_test_run() and assert it returns 0. */
#include <weft/test.h>

static int producer(void *arg)
{
    for (long i = 1; i <= 3; i++)
        if (weft_queue_put(arg, (void *)i) < 0) return -1;
    weft_queue_close(arg);
    return 0;
}

WEFT_TEST(queue_delivers_in_order)
{
    weft_queue *q = weft_queue_new(1);
    weft_task *p = weft_spawn(producer, q);
    void *item;
    long expect = 1;
    while (weft_queue_get(q, &item) == 0) WEFT_TEST_CHECK((long)item == expect++);
    WEFT_TEST_CHECK(expect == 4);
    WEFT_TEST_CHECK(weft_await(p) == 0);
    weft_queue_free(q);
    return 0;
}

static int slow(void *arg)
{
    (void)arg;
    return weft_sleep(10);
}

WEFT_TEST(wait_for_times_out)
{
    double t0 = weft_now();
    WEFT_TEST_CHECK(weft_wait_for(weft_spawn(slow, NULL), 0.05) == -ETIMEDOUT);
    WEFT_TEST_CHECK(weft_now() - t0 < 1);
    return 0;
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(queue_delivers_in_order), WEFT_TEST_CASE(wait_for_times_out))
