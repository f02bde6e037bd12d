/* docs/guide.md, "Tasks": two tasks wait at the same time, so the program
 * takes as long as the longer wait (0.2 s), not the sum (0.3 s). */
#include <stdio.h>
#include <weft.h>

typedef struct {
    double delay;
    const char *what;
} say;

static int say_after(void *arg)
{
    say *s = arg;
    int r = weft_sleep(s->delay);
    if (r < 0) return r; /* cancelled */
    printf("%s\n", s->what);
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    say a = {0.1, "hello"}, b = {0.2, "world"};
    double t0 = weft_now();
    weft_task *ta = weft_spawn_named("hello", say_after, &a); /* starts at once */
    weft_task *tb = weft_spawn_named("world", say_after, &b);
    weft_await(ta); /* every task is awaited (or detached): debug mode checks */
    weft_await(tb);
    printf("finished in %.2f s\n", weft_now() - t0);
    return 0;
}

int main(void) { return weft_run(main_task, NULL) < 0; }
