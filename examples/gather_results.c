/* gather_results: weft_gather returns results in the order the tasks were
 * given, whatever order they finish in (the asyncio docs' factorial example).
 *
 *     L = await asyncio.gather(factorial("A", 4), factorial("B", 2),
 *                              factorial("C", 3))
 *
 * A takes longest and B finishes first, yet results[] is {24, 2, 6}. A task's
 * result is its function's int return value; an error is a negative one. */
#include <stdio.h>
#include <weft.h>

struct job {
    const char *name;
    int number;
};

static int factorial(void *arg)
{
    const struct job *j = arg;
    int f = 1;
    for (int i = 2; i <= j->number; i++) {
        printf("Task %s: compute factorial(%d), currently i=%d...\n", j->name, j->number, i);
        fflush(stdout);
        int r = weft_sleep(0.5); /* pretend each step waits on something */
        if (r < 0) return r;
        f *= i;
    }
    printf("Task %s: factorial(%d) = %d\n", j->name, j->number, f);
    return f;
}

static int main_task(void *arg)
{
    (void)arg;
    static const struct job jobs[3] = {{"A", 4}, {"B", 2}, {"C", 3}};
    weft_task *tasks[3];
    int results[3];
    double start = weft_now();
    for (int i = 0; i < 3; i++)
        if (!(tasks[i] = weft_spawn(factorial, (void *)&jobs[i]))) return -1;
    int r = weft_gather(tasks, 3, results);
    if (r < 0) return r;
    printf("results in spawn order: [%d, %d, %d] after %.2f s\n", results[0], results[1],
           results[2], weft_now() - start);
    /* Checked so that `make demo` notices if gather ever reorders. */
    return results[0] == 24 && results[1] == 2 && results[2] == 6 ? 0 : -1;
}

int main(void)
{
    int r = weft_run(main_task, NULL);
    if (r < 0) fprintf(stderr, "gather_results: %s\n", weft_strerror(r));
    return r != 0;
}
