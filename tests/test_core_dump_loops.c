/* Task dumps of a run of several loops (issue 12): weft_dump_tasks and
 * SIGUSR1 show every loop's tasks, each under its loop's header, and a loop
 * that a task keeps busy is still reported. Real threads, real signals. */
#include "capture.h"
#include "core_util.h"
#include <pthread.h>
#include <signal.h>
#include <weft/debug.h>

static const char *const park_names[] = {"parked_on_0", "parked_on_1", "parked_on_2"};

static int park(void *a)
{
    (void)a;
    return weft_sleep(INFINITY);
}

/* On loop i: a named task parked there (left to the run's end). */
static int plant(void *a)
{
    int i = (int)(intptr_t)a;
    weft_task *t = weft_spawn_named(park_names[i], park, NULL);
    if (!t) return -1;
    weft_detach(t);
    return 0;
}

/* Computes (no waiting, no system call a signal would cut short). */
static int hog(void *a)
{
    /* weft_now is the loop's time of the turn: it stands still here. */
    double until = mono() + *(double *)a;
    while (mono() < until) {}
    return 0;
}

static double hog_s;

static int plant_hog(void *a)
{
    (void)a;
    weft_task *t = weft_spawn_named("hog", hog, &hog_s);
    if (!t) return -1;
    weft_detach(t);
    return 0;
}

static void plant_all(int with_hog)
{
    for (int i = 0; i < 3; i++) CHECK_EQ(weft_call(weft_loop_at(i), plant, (void *)(intptr_t)i), 0);
    if (with_hog) {
        CHECK_EQ(weft_call(weft_loop_at(2), plant_hog, NULL), 0);
        weft_sleep(0.1); /* it has started */
    }
}

/* The part of out from loop i's header to the next loop's header. */
static char *section(const char *out, int i)
{
    char h[32];
    snprintf(h, sizeof h, "loop %d (thread ", i);
    const char *p = strstr(out, h);
    if (!p) return NULL;
    const char *e = strstr(p + 1, "loop ");
    while (e && !(e[5] >= '0' && e[5] <= '9')) e = strstr(e + 1, "loop ");
    size_t n = e ? (size_t)(e - p) : strlen(p);
    char *s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = 0;
    return s;
}

/* Each loop's own parked task under its header, and no other's. */
static void check_sections(const char *out, int busy_loop)
{
    for (int i = 0; i < 3; i++) {
        char *s = section(out, i);
        if (!s) fprintf(stderr, "no header for loop %d in:\n%s\n", i, out);
        CHECK(s);
        if (i == busy_loop) {
            CHECK_STR_HAS(s, "busy");
            CHECK_STR_HAS(s, "'hog'");
        } else {
            CHECK_STR_HAS(s, park_names[i]);
        }
        for (int j = 0; j < 3; j++)
            if (j != i) CHECK(!strstr(s, park_names[j]));
        free(s);
    }
}

static int dump_main(void *a)
{
    int with_hog = a != NULL;
    plant_all(with_hog);
    FILE *f = tmpfile();
    CHECK(f);
    weft_dump_tasks(f);
    fflush(f);
    rewind(f);
    char *out = read_to_end(fileno(f));
    fclose(f);
    CHECK_STR_HAS(out, "snapshot");
    /* loop 0, the caller's, in full: its running task's backtrace */
    CHECK_STR_HAS(out, "running, at:");
    check_sections(out, with_hog ? 2 : -1);
    free(out);
    return 0;
}

static int run3(weft_fn fn, void *arg, int debug)
{
    weft_options o = {.loops = 3, .debug = debug};
    return weft_run_with(&o, fn, arg);
}

static void test_dump_every_loop(void)
{
    CHECK_EQ(run3(dump_main, NULL, 0), 0);
    CHECK_EQ(run3(dump_main, NULL, 1), 0);
}

static void test_dump_busy_loop(void)
{
    hog_s = 1.0;
    CHECK_EQ(run3(dump_main, (void *)1, 1), 0);
}

/* ---- SIGUSR1 ------------------------------------------------------------------- */

static int signal_main(void *a)
{
    plant_all(a != NULL);
    kill(getpid(), SIGUSR1); /* to the process: any thread may take it */
    weft_sleep(0.3);
    return 0;
}

static void signal_child(void *a)
{
    hog_s = 1.0;
    _exit(run3(signal_main, a, 1) == 0 ? 0 : 1);
}

static void check_signal(void *a)
{
    char *err;
    int st = in_child(signal_child, a, &err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    for (int i = 0; i < 3; i++) {
        char h[64];
        snprintf(h, sizeof h, "weft: SIGUSR1 task dump, loop %d (thread ", i);
        CHECK_STR_HAS(err, h);
        char *s = section(err, i);
        CHECK(s);
        CHECK_STR_HAS(s, park_names[i]);
        /* the busy loop dumps itself from its handler: its hog is running */
        if (a && i == 2) CHECK_STR_HAS(s, "'hog': running");
        free(s);
    }
    free(err);
}

static void test_signal_every_loop(void) { check_signal(NULL); }
static void test_signal_busy_loop(void) { check_signal((void *)1); }

int main(int argc, char **argv)
{
    return run_tests((test_case[]){{"dump_every_loop", test_dump_every_loop},
                                   {"dump_busy_loop", test_dump_busy_loop},
                                   {"signal_every_loop", test_signal_every_loop},
                                   {"signal_busy_loop", test_signal_busy_loop},
                                   {0}},
                     argc, argv);
}
