/* A one-shot reply channel across loops: the requester frees the chan as
 * soon as its get returns the reply. The putter, on another loop, must be
 * done with the chan by then (its get returning is the requester's proof
 * that nobody uses the chan any more): under ASan/TSan a putter still
 * inside weft_chan_put or weft_chan_close (holding the chan's mutex) shows
 * under TSan (make tsan) as the destroy of a locked mutex; elsewhere as a
 * use after free when the timing hits. */
#include "core_util.h"

static int reply(void *a)
{
    return weft_chan_put(a, (void *)42L);
}
static int closer(void *a)
{
    weft_chan_close(a);
    return 0;
}

static int t_main(void *a)
{
    for (int i = 0; i < 2000; i++) {
        weft_chan *c = weft_chan_new(1);
        CHECK(c);
        weft_task *t = weft_spawn_on(weft_loop_at(1), i & 1 ? reply : closer, c);
        CHECK(t);
        void *it = NULL;
        int r = weft_chan_get(c, &it);
        CHECK(i & 1 ? r == 0 && it == (void *)42L : r == -EPIPE);
        weft_chan_free(c); /* the reply came: the chan is ours alone */
        CHECK_EQ(weft_await(t), 0);
    }
    return 0;
}
static void t_reply_then_free(void)
{
    weft_options o = {.loops = 2};
    CHECK_EQ(weft_run_with(&o, t_main, NULL), 0);
}

int main(int argc, char **argv)
{
    return run_tests((test_case[]){{"reply_then_free", t_reply_then_free}, {NULL, NULL}}, argc, argv);
}
