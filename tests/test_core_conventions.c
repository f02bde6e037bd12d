/* The API conventions of weft.h's header comment, and the older spellings
 * next to them: this file compiles against both, and each old name keeps
 * its old meaning (weft_sem_try_acquire's 1/0) while the new one follows
 * the convention (_nowait: 0 or -EAGAIN). */
#include <weft/test.h>
#include <string.h>

WEFT_TEST(nowait)
{
    weft_sem *s = weft_sem_new(1);
    WEFT_TEST_CHECK(weft_sem_acquire_nowait(s) == 0);
    WEFT_TEST_CHECK(weft_sem_acquire_nowait(s) == -EAGAIN);
    weft_sem_release(s);
    WEFT_TEST_CHECK(weft_sem_try_acquire(s) == 1); /* older spelling: 1 / 0 */
    WEFT_TEST_CHECK(weft_sem_try_acquire(s) == 0);
    weft_sem_free(s);

    weft_lock *l = weft_lock_new();
    WEFT_TEST_CHECK(weft_lock_acquire_nowait(l) == 0);
    WEFT_TEST_CHECK(weft_lock_acquire_nowait(l) == -EAGAIN);
    weft_lock_release(l);
    WEFT_TEST_CHECK(weft_lock_try_acquire(l) == 1);
    WEFT_TEST_CHECK(weft_lock_try_acquire(l) == 0);
    weft_lock_release(l);
    weft_lock_free(l);

    weft_queue *q = weft_queue_new(1);
    void *item;
    WEFT_TEST_CHECK(weft_queue_get_nowait(q, &item) == -EAGAIN);
    WEFT_TEST_CHECK(weft_queue_put_nowait(q, (void *)1) == 0);
    WEFT_TEST_CHECK(weft_queue_put_nowait(q, (void *)2) == -EAGAIN);
    WEFT_TEST_CHECK(weft_queue_try_put(q, (void *)2) == -EAGAIN); /* same meaning */
    WEFT_TEST_CHECK(weft_queue_get_nowait(q, &item) == 0 && item == (void *)1);
    WEFT_TEST_CHECK(weft_queue_try_put(q, (void *)3) == 0);
    WEFT_TEST_CHECK(weft_queue_try_get(q, &item) == 0 && item == (void *)3);
    weft_queue_close(q);
    WEFT_TEST_CHECK(weft_queue_get_nowait(q, &item) == -EPIPE);
    weft_queue_free(q);

    weft_chan *c = weft_chan_new(1);
    WEFT_TEST_CHECK(weft_chan_get_nowait(c, &item) == -EAGAIN);
    WEFT_TEST_CHECK(weft_chan_put_nowait(c, (void *)4) == 0);
    WEFT_TEST_CHECK(weft_chan_put_nowait(c, (void *)5) == -EAGAIN);
    WEFT_TEST_CHECK(weft_chan_try_get(c, &item) == 0 && item == (void *)4);
    WEFT_TEST_CHECK(weft_chan_try_put(c, (void *)6) == 0);
    WEFT_TEST_CHECK(weft_chan_get_nowait(c, &item) == 0 && item == (void *)6);
    weft_chan_close(c);
    WEFT_TEST_CHECK(weft_chan_put_nowait(c, (void *)7) == -EPIPE);
    weft_chan_free(c);
    return 0;
}

/* Both spellings of the test harness's options struct name one type. */
WEFT_TEST(opts_names)
{
    weft_test_opts a = {.timeout_s = 1};
    weft_test_options *b = &a;
    WEFT_TEST_CHECK(b->timeout_s == 1);
    return 0;
}

WEFT_TEST_MAIN(WEFT_TEST_CASE(nowait), WEFT_TEST_CASE(opts_names))
