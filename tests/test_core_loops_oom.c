/* Several loops when a task spawned on another loop can get no stack (an
 * address-space limit, in a child): its handle must still end, with
 * -ENOMEM, as a local task's does; awaiting it must not hang, nor must the
 * run's end, and cancelling it must not touch a freed record. */
#include "core_util.h"
#include <signal.h>

enum { N = 20000 };
static weft_task *h[N];
static int naps(void *a) { return weft_sleep(0.2); }
static int oom_main(void *a)
{
    for (int i = 0; i < N; i++) CHECK((h[i] = weft_spawn_on(weft_loop_at(1), naps, NULL)));
    /* Cancelled after the remote ones ended unstarted: must touch nothing freed. */
    weft_sleep(0.05);
    for (int i = N / 2; i < N; i++) weft_cancel(h[i]);
    int nomem = 0;
    for (int i = 0; i < N; i++) {
        int r = weft_await(h[i]);
        if (r == -ENOMEM) nomem++;
        else CHECK(r == 0 || r == -ECANCELED);
    }
    CHECK(nomem > 0);
    return 0;
}
static void child_oom(void *a)
{
    alarm(60); /* a hang is the failure this test is about: end it */
    limit_as(48L << 20);
    weft_options o = {.loops = 2};
    CHECK_EQ(weft_run_with(&o, oom_main, NULL), 0);
    exit(0);
}
static void t_remote_no_stack(void)
{
    oom_in_child(child_oom);
}

/* Posts whose tasks can get no stack at first are not dropped: each runs
 * once stacks are free again (the poster was told 0). Under this limit
 * about 64 stacks fit: most of the posts wait at first. */
enum { POSTS = 600 };
static long posts_ran;
static int nap_post(void *a)
{
    (void)a;
    weft_sleep(0.05);
    __atomic_add_fetch(&posts_ran, 1, __ATOMIC_SEQ_CST);
    return 0;
}
static int post_main(void *a)
{
    for (int i = 0; i < POSTS; i++) CHECK_EQ(weft_post(weft_loop_at(1), nap_post, NULL), 0);
    while (__atomic_load_n(&posts_ran, __ATOMIC_SEQ_CST) < POSTS) weft_sleep(0.01);
    return 0;
}
static void child_posts(void *a)
{
    alarm(60);
    limit_as(48L << 20);
    weft_options o = {.loops = 2};
    CHECK_EQ(weft_run_with(&o, post_main, NULL), 0);
    CHECK_EQ(posts_ran, POSTS);
    exit(0);
}
static void t_posts_no_stack(void)
{
    oom_in_child(child_posts);
}

int main(int argc, char **argv)
{
    return run_tests((test_case[]){{"remote_no_stack", t_remote_no_stack},
                                      {"posts_no_stack", t_posts_no_stack}, {NULL, NULL}}, argc, argv);
}
