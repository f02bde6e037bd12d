/* say_hello: the first program of the asyncio tutorial, in C.
 *
 *     async def main():
 *         print('Hello ...')
 *         await asyncio.sleep(1)
 *         print('... World!')
 *     asyncio.run(main())
 *
 * weft_run() makes the event loop, runs main_task as its first task and
 * returns its result when it ends. weft_sleep() suspends the task, not the
 * thread: while it sleeps the loop is free to run other tasks (there are none
 * yet; see downloads_async.c). There is no `await` keyword: every weft call
 * that may wait is a suspension point. */
#include <stdio.h>
#include <weft.h>

static int main_task(void *arg)
{
    (void)arg;
    double start = weft_now();
    printf("Hello ...\n");
    fflush(stdout);
    int r = weft_sleep(1.0); /* 0, or -ECANCELED if Ctrl-C cancels us */
    if (r < 0) return r;
    printf("... World! (after %.2f s)\n", weft_now() - start);
    return 0;
}

int main(void)
{
    int r = weft_run(main_task, NULL);
    if (r < 0) fprintf(stderr, "say_hello: %s\n", weft_strerror(r));
    return r < 0;
}
