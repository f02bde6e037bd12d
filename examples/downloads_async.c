/* downloads_async: the same three 2 s "downloads" as downloads_sync.c, run
 * concurrently as tasks and collected with weft_gather: about 2 s in all.
 *
 *     async def download(url): await asyncio.sleep(2)
 *     await asyncio.gather(*(download(u) for u in urls))
 *
 * weft_spawn() schedules a task and returns at once; weft_sleep() parks the
 * task so the loop runs the others; weft_gather() waits for all of them. */
#include <stdio.h>
#include <weft.h>

static double start;

static int download(void *arg)
{
    const char *url = arg;
    printf("%5.2f s  start  %s\n", weft_now() - start, url);
    fflush(stdout);
    /* Suspends only this task: the other downloads run meanwhile. */
    int r = weft_sleep(2.0);
    if (r < 0) return r; /* cancelled (Ctrl-C) */
    printf("%5.2f s  done   %s\n", weft_now() - start, url);
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    static const char *urls[] = {"https://example.com/a", "https://example.com/b",
                                 "https://example.com/c"};
    weft_task *tasks[3];
    start = weft_now();
    for (int i = 0; i < 3; i++) {
        tasks[i] = weft_spawn(download, (void *)urls[i]);
        if (!tasks[i]) return -1; /* weft_run reaps the ones already spawned */
    }
    int r = weft_gather(tasks, 3, NULL); /* awaits and frees all three */
    printf("3 downloads took %.2f s\n", weft_now() - start);
    return r;
}

int main(void)
{
    int r = weft_run(main_task, NULL);
    if (r < 0) fprintf(stderr, "downloads_async: %s\n", weft_strerror(r));
    return r < 0;
}
