/* semaphore_limit: 1,000 tasks, at most 10 running their "request" at once.
 *
 *     sem = asyncio.Semaphore(10)
 *     async def fetch(i):
 *         async with sem:
 *             await asyncio.sleep(0.01)
 *
 * All 1,000 tasks start at once and queue on the semaphore (FIFO); each holds
 * a permit for 10 ms, so the run takes 1000 / 10 * 10 ms = 1.00 s at best.
 * The program counts how many held a permit at the same time to show the
 * limit holds. */
#include <stdio.h>
#include <weft.h>

#define TASKS 1000
#define LIMIT 10

static weft_sem *sem;
static int active, most_active;

static int fetch(void *arg)
{
    (void)arg;
    int r = weft_sem_acquire(sem); /* waits while 10 others hold a permit */
    if (r < 0) return r;           /* cancelled: no permit is held */
    if (++active > most_active) most_active = active;
    r = weft_sleep(0.010); /* the "request" */
    active--;
    weft_sem_release(sem); /* on every path once acquired, like `async with` */
    return r;
}

static int main_task(void *arg)
{
    (void)arg;
    static weft_task *tasks[TASKS];
    if (!(sem = weft_sem_new(LIMIT))) return -1;
    double start = weft_now();
    for (int i = 0; i < TASKS; i++)
        if (!(tasks[i] = weft_spawn(fetch, NULL))) return -1;
    int r = weft_gather(tasks, TASKS, NULL);
    double took = weft_now() - start;
    weft_sem_free(sem);
    if (r < 0) return r;
    printf("%d tasks, semaphore of %d: at most %d at once, took %.2f s (ideal %.2f s)\n", TASKS,
           LIMIT, most_active, took, TASKS / LIMIT * 0.010);
    return most_active == LIMIT ? 0 : -1;
}

int main(void)
{
    int r = weft_run(main_task, NULL);
    if (r < 0) fprintf(stderr, "semaphore_limit: %s\n", weft_strerror(r));
    return r != 0;
}
