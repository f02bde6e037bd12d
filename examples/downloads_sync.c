/* downloads_sync: three "downloads" of 2 s each, one after the other, the
 * way a plain blocking program does them: about 6 s in all.
 * Compare with downloads_async.c, which is the same program on weft and takes
 * about 2 s. Sleeping stands in for waiting on the network. */
#include <stdio.h>
#include <time.h>
#include <weft.h>

static double start;

static int download(const char *url)
{
    printf("%5.2f s  start  %s\n", weft_now() - start, url);
    fflush(stdout);
    /* Blocks the whole thread: nothing else can happen for 2 s. */
    struct timespec two_s = {2, 0};
    nanosleep(&two_s, NULL);
    printf("%5.2f s  done   %s\n", weft_now() - start, url);
    return 0;
}

int main(void)
{
    const char *urls[] = {"https://example.com/a", "https://example.com/b",
                          "https://example.com/c"};
    start = weft_now(); /* outside a loop weft_now() is the monotonic clock */
    for (int i = 0; i < 3; i++) download(urls[i]);
    printf("3 downloads took %.2f s\n", weft_now() - start);
    return 0;
}
