/* docs/guide.md, "The event loop": weft_run is asyncio.run. */
#include <stdio.h>
#include <weft.h>

static int main_task(void *arg)
{
    (void)arg;
    printf("hello\n");
    weft_sleep(0.1); /* suspends this task; the loop could run others meanwhile */
    printf("world\n");
    return 0;
}

int main(void) { return weft_run(main_task, NULL) < 0; }
