/* docs/guide.md, "Limiting concurrency": 20 jobs of 50 ms, at most 4 at once
 * (asyncio.Semaphore): about 5 rounds, 0.25 s. */
#include <stdio.h>
#include <weft.h>

static weft_sem *slots;
static int running, most;

static int job(void *arg)
{
    (void)arg;
    int r = weft_sem_acquire(slots);
    if (r < 0) return r;
    if (++running > most) most = running;
    r = weft_sleep(0.05); /* the work: a download, a query... */
    running--;
    weft_sem_release(slots); /* on every path out, like `async with sem:` */
    return r;
}

static int main_task(void *arg)
{
    (void)arg;
    slots = weft_sem_new(4);
    weft_task *t[20];
    double t0 = weft_now();
    for (int i = 0; i < 20; i++) t[i] = weft_spawn(job, NULL);
    int r = weft_gather(t, 20, NULL);
    printf("20 jobs in %.2f s, at most %d at once\n", weft_now() - t0, most);
    weft_sem_free(slots);
    return r;
}

int main(void) { return weft_run(main_task, NULL) < 0; }
