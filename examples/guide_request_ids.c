/* docs/guide.md, "Request ids with task-locals": each request's task sets
 * its id once; every log line written on its behalf (by helpers, by tasks
 * it spawns, by blocking code it runs with weft_to_thread) finds it without
 * passing it down. */
#include <stdio.h>
#include <weft.h>

static const char request_id; /* the key: any address of yours */

static void log_line(const char *what)
{
    const char *id = weft_local_get(&request_id);
    printf("[%s] %s\n", id ? id : "-", what);
}

static int audit(void *arg) /* a task the handler spawns: it inherits the id */
{
    (void)arg;
    weft_sleep(0.001);
    log_line("audit written");
    return 0;
}

static int checksum(void *arg) /* blocking work: sees its caller's values */
{
    (void)arg;
    log_line("checksum computed on a worker thread");
    return 0;
}

static int handle(void *arg)
{
    weft_local_set(&request_id, arg);
    log_line("request received");
    weft_task *a = weft_spawn(audit, NULL);
    weft_to_thread(checksum, NULL);
    weft_await(a);
    log_line("response sent");
    return 0;
}

static int main_task(void *arg)
{
    (void)arg;
    weft_task *t[2] = {weft_spawn(handle, "req-1"), weft_spawn(handle, "req-2")};
    int r = weft_gather(t, 2, NULL);
    log_line("server idle"); /* main set nothing: "-" */
    return r;
}

int main(void) { return weft_run(main_task, NULL) != 0; }
