/* docs/guide.md, "Pitfalls, and how debug mode catches them": each mistake
 * runs on its own loop in debug mode; the reports go to stderr. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <weft.h>

static int run(const char *title, weft_fn fn)
{
    printf("--- %s\n", title);
    fflush(stdout);
    weft_options o = {.debug = 1}; /* or WEFT_DEBUG=1 in the environment */
    int r = weft_run_with(&o, fn, NULL);
    fflush(stderr);
    return r;
}

/* 1. A blocking call inside a task stalls every task (time.sleep in asyncio). */
static int blocking_sleep(void *arg)
{
    (void)arg;
    usleep(200 * 1000); /* should be weft_sleep(0.2), or weft_to_thread */
    return 0;
}
static int pitfall_blocking(void *arg)
{
    (void)arg;
    return weft_await(weft_spawn_named("sleepy", blocking_sleep, NULL));
}

/* 2. A task spawned and forgotten: never awaited. */
static int quick(void *arg) { return (int)(long)arg; }
static int pitfall_forgotten(void *arg)
{
    (void)arg;
    weft_spawn_named("forgotten", quick, NULL); /* the result is dropped */
    return weft_sleep(0.01);
}

/* 3. A task that fails, and nobody reads its error. */
static int pitfall_lost_error(void *arg)
{
    (void)arg;
    weft_spawn_named("failing", quick, (void *)(long)-ECONNRESET);
    return weft_sleep(0.01);
}

/* 4. A resource never closed, and a task left waiting on it. */
static int consumer(void *arg)
{
    void *item;
    return weft_queue_get(arg, &item);
}
static int pitfall_unclosed(void *arg)
{
    (void)arg;
    weft_queue *q = weft_queue_new(0); /* never weft_queue_free'd */
    weft_spawn_named("consumer", consumer, q);
    return weft_sleep(0.01);
}

/* 5. An fd in blocking mode given to weft_read: read(2) would block the loop. */
static int pitfall_blocking_fd(void *arg)
{
    (void)arg;
    int p[2];
    if (pipe(p) < 0) return -errno; /* should be pipe2(p, O_NONBLOCK) */
    char c;
    weft_write(p[1], "x", 1);
    weft_read(p[0], &c, 1);
    close(p[0]);
    close(p[1]);
    return 0;
}

/* 6. Every task waits for something only another task could do. */
static int waiter(void *arg) { return weft_event_wait(arg); }
static int pitfall_deadlock(void *arg)
{
    (void)arg;
    weft_event *never = weft_event_new();
    int r = weft_await(weft_spawn_named("waiter", waiter, never)); /* nobody sets it */
    weft_event_free(never);
    return r == -ECANCELED ? 0 : r;
}

int main(void)
{
    run("1. a blocking call in a task", pitfall_blocking);
    run("2. a task never awaited", pitfall_forgotten);
    run("3. an error nobody read", pitfall_lost_error);
    run("4. a resource never closed", pitfall_unclosed);
    run("5. a blocking-mode fd", pitfall_blocking_fd);
    run("6. a deadlock", pitfall_deadlock);
    printf("--- 7. a wait outside any task\n");
    fflush(stdout);
    return weft_sleep(1) == -EPERM ? 0 : 1; /* reported, returns -EPERM */
}
