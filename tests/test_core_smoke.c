#include <weft.h>
#include "check.h"
static int child(void *a) { weft_sleep(0.01); return (int)(long)a * 2; }
static int main_task(void *a)
{
    weft_task *t[10];
    for (long i = 0; i < 10; i++) t[i] = weft_spawn(child, (void *)i);
    int res[10];
    CHECK_EQ(weft_gather(t, 10, res), 0);
    for (int i = 0; i < 10; i++) CHECK_EQ(res[i], i * 2);
    return 42;
}
static void smoke(void) { CHECK_EQ(weft_run(main_task, NULL), 42); }
int main(int argc, char **argv) { return run_tests((test_case[]){{"smoke", smoke}, {0}}, argc, argv); }
