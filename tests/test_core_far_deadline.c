/* Deadlines far in the future (a sleep of 1e300 s or DBL_MAX, a month) must
 * not break the poll: while such a timer is the nearest one, the loop still
 * hears of I/O and of the thread pool. (A timeout beyond time_t's range
 * made epoll_pwait2 fail with EINVAL on every turn: a spinning loop that
 * never saw an event again.) */
#include "check.h"
#include "core_util.h"
#include <float.h>
#include <signal.h>
#include <unistd.h>

static double far_s;
static int sleeper(void *a) { return weft_sleep(far_s); }
static int blocker(void *a)
{
    usleep(50 * 1000);
    return 7;
}

static int far_main(void *a)
{
    weft_task *t = weft_spawn(sleeper, NULL);
    CHECK(t != NULL);
    CHECK_EQ(weft_yield(), 0); /* t sleeps now: its timer is the only one */
    CHECK_EQ(weft_to_thread(blocker, NULL), 7);
    weft_cancel(t);
    CHECK_EQ(weft_await(t), -ECANCELED);
    return 0;
}

static void run_far(double s)
{
    far_s = s;
    alarm(30); /* a loop that never sees the pool's wake-up fails here, not at ctest's limit */
    CHECK_EQ(weft_run(far_main, NULL), 0);
    alarm(0);
}

static void t_huge(void) { run_far(1e300); }
static void t_dbl_max(void) { run_far(DBL_MAX); }
static void t_month(void) { run_far(30 * 86400.0); }

int main(int argc, char **argv)
{
    return run_tests((test_case[]){{"huge", t_huge}, {"dbl_max", t_dbl_max}, {"month", t_month}, {0}},
                     argc, argv);
}
