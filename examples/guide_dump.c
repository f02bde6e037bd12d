/* docs/guide.md, "Seeing what every task is doing": weft_dump_tasks (and
 * SIGUSR1 in debug mode) prints each task, what it waits on and where. */
#include <stdio.h>
#include <weft.h>
#include <weft/debug.h>

static weft_lock *lock;

static int holder(void *arg)
{
    (void)arg;
    weft_lock_acquire(lock);
    int r = weft_sleep(10); /* holds the lock while it sleeps */
    weft_lock_release(lock);
    return r;
}

static int contender(void *arg)
{
    (void)arg;
    int r = weft_lock_acquire(lock); /* waits for holder */
    if (r == 0) weft_lock_release(lock);
    return r;
}

static int main_task(void *arg)
{
    (void)arg;
    lock = weft_lock_new();
    weft_task *h = weft_spawn_named("holder", holder, NULL);
    weft_task *c = weft_spawn_named("contender", contender, NULL);
    weft_sleep(0.01); /* let them reach their waits */
    weft_dump_tasks(stdout); /* or: kill -USR1 <pid> in debug mode */
    weft_cancel(h);
    weft_cancel(c);
    weft_await(h);
    weft_await(c);
    weft_lock_free(lock);
    return 0;
}

int main(void)
{
    weft_options o = {.debug = 1}; /* spawn sites in the dump */
    return weft_run_with(&o, main_task, NULL) < 0;
}
