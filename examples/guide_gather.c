/* docs/guide.md, "Gathering results": weft_gather awaits a set of tasks and
 * returns their results in spawn order, whatever order they finish in. */
#include <stdio.h>
#include <weft.h>

static int factorial(void *arg)
{
    int n = (int)(long)arg, f = 1;
    for (int i = 2; i <= n; i++) {
        printf("  factorial(%d): computing %d...\n", n, i);
        if (weft_sleep(0.01) < 0) return -1; /* a wait: the others run */
        f *= i;
    }
    return f;
}

static int main_task(void *arg)
{
    (void)arg;
    weft_task *t[3];
    for (int i = 0; i < 3; i++) t[i] = weft_spawn(factorial, (void *)(long)(i + 2));
    int results[3];
    int r = weft_gather(t, 3, results); /* 0, or the first negative result */
    if (r < 0) return r;
    printf("results: %d %d %d\n", results[0], results[1], results[2]);
    return 0;
}

int main(void) { return weft_run(main_task, NULL) < 0; }
