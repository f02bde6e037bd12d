/* WEFT_TRACE=file.json: a timeline of every task in Chrome's trace-event
 * format (JSON array form), which Perfetto and chrome://tracing open.
 *
 * Each loop is a "process" (pid = the loop's number in this process, named
 * "weft loop N"), each task a "thread" (tid = task id, named after the task).
 * Events: "run" slices while a task holds the CPU, wait slices named after
 * what it waited on (sleep, fd, queue, task, ...), a spawn instant on the
 * parent with a flow arrow to the child's first run, and an end instant with
 * the result.
 *
 * One file per process, shared by all loops (sequential or on several
 * threads) under a mutex. When a loop closes, the file is terminated with
 * "]" so it is valid JSON at once, and closed when no loop is left; the next
 * loop reopens it, seeks back over the terminator and carries on. */
#define _GNU_SOURCE
#include "debug_int.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *tf;
static int nevents;       /* events written: the next needs a comma */
static long end_off = -1; /* where "]" starts once terminated, else -1 */
static int open_loops;
static unsigned loops;
static double base;
static char *tpath; /* the file, reopened by the next loop once all closed */

static void put_str(const char *s)
{
    putc('"', tf);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(tf, "\\%c", c);
        else if (c < 0x20) fprintf(tf, "\\u%04x", c);
        else putc(c, tf);
    }
    putc('"', tf);
}

/* Starts an event: positions the file and writes the separator. Called with
 * mu held. */
static void begin(void)
{
    if (end_off >= 0) {
        fseek(tf, end_off, SEEK_SET);
        end_off = -1;
    }
    fputs(nevents++ ? ",\n" : "\n", tf);
}

static long long us(double t) { return (long long)((t - base) * 1e6); }

int weft__trace_open(weft__loop *L)
{
    const char *path = getenv("WEFT_TRACE");
    pthread_mutex_lock(&mu);
    if (!tf && tpath && strcmp(tpath, path) == 0) {
        tf = fopen(tpath, "r+"); /* carry on after the last loop's events */
        if (tf) setvbuf(tf, NULL, _IOFBF, 1 << 16);
    }
    if (!tf) {
        tf = fopen(path, "w");
        nevents = 0;
        end_off = -1;
        free(tpath);
        tpath = strdup(path);
        if (!tf) {
            pthread_mutex_unlock(&mu);
            weft__report("WEFT_TRACE: cannot open '%s' for writing", path);
            return -1;
        }
        setvbuf(tf, NULL, _IOFBF, 1 << 16);
        fputs("[", tf);
        base = weft__clock();
    }
    open_loops++;
    L->dbgs->loop_no = ++loops;
    begin();
    fprintf(tf, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%u,\"args\":{\"name\":\"weft loop %u\"}}",
            L->dbgs->loop_no, L->dbgs->loop_no);
    pthread_mutex_unlock(&mu);
    return 0;
}

static void thread_name(weft__loop *L, weft_task *t)
{
    char name[256];
    if (t->name) snprintf(name, sizeof name, "%u %s", t->id, t->name);
    else snprintf(name, sizeof name, "task %u", t->id);
    begin();
    fprintf(tf, "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%u,\"tid\":%u,\"args\":{\"name\":",
            L->dbgs->loop_no, t->id);
    put_str(name);
    fputs("}}", tf);
}

void weft__trace_spawn(weft__loop *L, weft_task *t)
{
    unsigned pid = L->dbgs->loop_no;
    char site[256];
    long long now = us(weft__clock());
    pthread_mutex_lock(&mu);
    thread_name(L, t);
    uint32_t parent = t->dbg->parent;
    if (parent) {
        begin();
        fprintf(tf, "{\"ph\":\"i\",\"s\":\"t\",\"name\":\"spawn\",\"cat\":\"spawn\",\"pid\":%u,"
                    "\"tid\":%u,\"ts\":%lld,\"args\":{\"child\":%u,\"site\":",
                pid, parent, now, t->id);
        put_str(weft__site(t, site, sizeof site));
        fputs("}}", tf);
        begin();
        fprintf(tf, "{\"ph\":\"s\",\"name\":\"spawn\",\"cat\":\"spawn\",\"id\":%llu,\"pid\":%u,"
                    "\"tid\":%u,\"ts\":%lld}",
                ((unsigned long long)pid << 32) | t->id, pid, parent, now);
    }
    pthread_mutex_unlock(&mu);
}

void weft__trace_slice(weft__loop *L, weft_task *t, const char *name, const char *cat, double from,
                       double to)
{
    unsigned pid = L->dbgs->loop_no;
    long long a = us(from), b = us(to);
    pthread_mutex_lock(&mu);
    begin();
    fprintf(tf, "{\"ph\":\"X\",\"name\":\"%s\",\"cat\":\"%s\",\"pid\":%u,\"tid\":%u,\"ts\":%lld,"
                "\"dur\":%lld}",
            name, cat, pid, t->id, a, b - a);
    if (t->dbg->parent && t->dbg->ran == 0 && cat[0] == 'r') { /* first run: end the flow */
        begin();
        fprintf(tf, "{\"ph\":\"f\",\"bp\":\"e\",\"name\":\"spawn\",\"cat\":\"spawn\",\"id\":%llu,"
                    "\"pid\":%u,\"tid\":%u,\"ts\":%lld}",
                ((unsigned long long)pid << 32) | t->id, pid, t->id, a);
    }
    pthread_mutex_unlock(&mu);
}

void weft__trace_done(weft__loop *L, weft_task *t, int result)
{
    long long now = us(weft__clock());
    pthread_mutex_lock(&mu);
    begin();
    fprintf(tf, "{\"ph\":\"i\",\"s\":\"t\",\"name\":\"end\",\"cat\":\"end\",\"pid\":%u,\"tid\":%u,"
                "\"ts\":%lld,\"args\":{\"result\":%d,\"error\":",
            L->dbgs->loop_no, t->id, now, result);
    put_str(result < 0 ? weft_strerror(result) : "");
    fputs("}}", tf);
    pthread_mutex_unlock(&mu);
}

void weft__trace_close(weft__loop *L)
{
    (void)L;
    pthread_mutex_lock(&mu);
    if (end_off < 0) {
        end_off = ftell(tf);
        fputs("\n]\n", tf);
    }
    fflush(tf);
    /* No fd stays open between runs (tests compare /proc/self/fd). */
    if (--open_loops == 0) {
        fclose(tf);
        tf = NULL;
    }
    pthread_mutex_unlock(&mu);
}
