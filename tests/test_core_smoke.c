/* The smallest program: ten tasks sleep and are gathered, and a task's
 * return value reaches its awaiter (weft_run's own is test_core_tasks'). */
#include <weft.h>
#include <weft/test.h>
#include "check.h" /* CHECK_EQ: test.h has no check that prints both values */
static int child(void *a) { weft_sleep(0.01); return (int)(long)a * 2; }
static int main_task(void *a)
{
    weft_task *t[10];
    for (long i = 0; i < 10; i++) t[i] = weft_spawn(child, (void *)i);
    int res[10];
    CHECK_EQ(weft_gather(t, 10, res), 0);
    for (int i = 0; i < 10; i++) CHECK_EQ(res[i], i * 2);
    return 42;
}
WEFT_TEST(smoke)
{
    weft_task *t = weft_spawn(main_task, NULL);
    WEFT_TEST_CHECK(t);
    CHECK_EQ(weft_await(t), 42);
    return 0;
}
WEFT_TEST_MAIN(WEFT_TEST_CASE(smoke))
