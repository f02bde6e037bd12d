/* Deadlines far in the future (a sleep of 1e300 s or DBL_MAX, a month) must
 * not break the poll: while such a timer is the nearest one, the loop still
 * hears of I/O and of the thread pool. (A timeout beyond time_t's range
 * made epoll_pwait2 fail with EINVAL on every turn: a spinning loop that
 * never saw an event again.) */
#include "check.h" /* CHECK_EQ prints both values (test.h has no such check); CHECK in helpers */
#include "core_util.h"
#include <weft/test.h>
#include <float.h>

static double far_s;
static int sleeper(void *a) { return weft_sleep(far_s); }
static int blocker(void *a)
{
    usleep(50 * 1000);
    return 7;
}

static int far_main(void *a)
{
    far_s = *(double *)a;
    weft_task *t = weft_spawn(sleeper, NULL);
    WEFT_TEST_CHECK(t != NULL);
    CHECK_EQ(weft_yield(), 0); /* t sleeps now: its timer is the only one */
    CHECK_EQ(weft_to_thread(blocker, NULL), 7);
    weft_cancel(t);
    CHECK_EQ(weft_await(t), -ECANCELED);
    return 0;
}

int main(int argc, char **argv)
{
    /* A loop that never sees the pool's wake-up spins without waiting: the
     * body's deadline cannot fire, weft_test_run's SIGALRM (2 * 14 + 1 s)
     * ends it before ctest's limit. */
    static const struct { const char *name; double s; } cases[] = {
        {"huge", 1e300}, {"dbl_max", DBL_MAX}, {"month", 30 * 86400.0}};
    weft_test_options o = {.timeout_s = 14};
    int failed = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int pick = argc < 2;
        for (int k = 1; k < argc; k++) pick |= !strcmp(argv[k], cases[i].name);
        if (pick) failed += weft_test_run(cases[i].name, far_main, (void *)&cases[i].s, &o);
    }
    return failed ? 1 : 0;
}
