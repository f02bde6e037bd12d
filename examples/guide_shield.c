/* docs/guide.md, "Cleaning up under cancellation": a worker holds a
 * transaction when it is cancelled. Its ROLLBACK has to wait (it talks to a
 * server), and a cancelled task's waits all fail at once: without a shield
 * the ROLLBACK never happens; inside weft_shield it runs whole, under a
 * deadline of its own, and the cancellation takes effect right after. */
#include <stdio.h>
#include <weft.h>

static int rolled_back;

/* Stands for a round trip to a database: any weft wait. */
static int send_rollback(void *arg)
{
    (void)arg;
    int r = weft_sleep(0.02);
    if (r == 0) rolled_back++;
    return r;
}

/* The cleanup's own limit: a server that does not answer must not keep
 * the task from ending. */
static int rollback_with_limit(void *arg) { return weft_timeout(1.0, send_rollback, arg); }

static int worker(void *arg)
{
    int shielded = *(int *)arg;
    /* BEGIN ... some statements ... */
    int r = weft_sleep(10); /* a long query: cancelled here */
    if (r < 0) {
        int rb = shielded ? weft_shield(rollback_with_limit, NULL) : send_rollback(NULL);
        printf("%s: rollback %s\n", shielded ? "shielded" : "plain   ",
               rb == 0 ? "sent" : weft_strerror(rb));
    }
    return r;
}

static int main_task(void *arg)
{
    (void)arg;
    for (int shielded = 0; shielded <= 1; shielded++) {
        weft_task *t = weft_spawn(worker, &shielded);
        weft_sleep(0.01);
        weft_cancel(t); /* a client went away, a deadline passed, Ctrl-C... */
        weft_await(t);
    }
    printf("rollbacks that reached the server: %d of 2\n", rolled_back);
    return rolled_back == 1 ? 0 : 1;
}

int main(void) { return weft_run(main_task, NULL) != 0; }
