/* The thread pool behind weft_to_thread, one per run: its workers serve
 * every loop of the run (a run with N loops does not start N pools).
 *
 * The shared part (queue, workers) hangs off loop 0, which is closed last
 * (after the other loops' threads are joined); each loop has a small home
 * record of its own: its done list and its poller to wake. Workers are
 * started on demand up to the configured count. A finished job goes on its
 * loop's done list and that loop is woken through the backend
 * (weft__backend_wake) only when the list goes from empty to non-empty, so
 * a burst of completions costs one wake-up. The job lives on the waiting
 * task's stack: the task never leaves before its job is done, even when
 * cancelled, so no loop can close with a job of its own in the pool. */
#define _GNU_SOURCE
#include "backend.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

typedef struct job {
    weft_fn fn;
    void *arg;
    int result;
    int done;
    weft_task *task;
    struct weft__pool *home; /* the loop that waits for it */
    const void *locals; /* the caller's task-local values (read-only) */
    struct job *next;
} job;

typedef struct weft__pool_shared shared_pool;
struct weft__pool_shared {
    pthread_mutex_t mu; /* the queue, the counts and every home's done list */
    pthread_cond_t cv;
    job *head, *tail;
    int max, started, idle, stop;
    pthread_t *threads;
};

/* A loop's part (L->pool). */
struct weft__pool {
    shared_pool *S;
    job *finished;                 /* under S->mu */
    struct weft__backend *backend; /* to wake the loop (from the workers) */
    size_t pending;                /* this loop's jobs not yet done (loop-only) */
};

static void *worker(void *p)
{
    shared_pool *S = p;
    pthread_mutex_lock(&S->mu);
    for (;;) {
        while (!S->head && !S->stop) {
            S->idle++;
            pthread_cond_wait(&S->cv, &S->mu);
            S->idle--;
        }
        if (!S->head) break;
        job *j = S->head;
        S->head = j->next;
        if (!S->head) S->tail = NULL;
        pthread_mutex_unlock(&S->mu);
        weft__locals_job_enter(j->locals);
        int r = j->fn(j->arg);
        weft__locals_job_enter(NULL);
        pthread_mutex_lock(&S->mu);
        j->result = r;
        struct weft__pool *H = j->home;
        int poke = !H->finished;
        j->next = H->finished;
        H->finished = j;
        if (poke) weft__backend_wake(H->backend);
    }
    pthread_mutex_unlock(&S->mu);
    return NULL;
}

static shared_pool *shared_new(const weft__loop *L)
{
    shared_pool *S = calloc(1, sizeof *S);
    if (!S) return NULL;
    S->max = L->opt.threads > 0 ? L->opt.threads : 4;
    S->threads = calloc((size_t)S->max, sizeof(pthread_t));
    if (!S->threads) {
        free(S);
        return NULL;
    }
    pthread_mutex_init(&S->mu, NULL);
    pthread_cond_init(&S->cv, NULL);
    return S;
}

/* Taken once per loop, on its first weft_to_thread: two loops may ask for
 * the shared part at the same moment. */
static pthread_mutex_t create_mu = PTHREAD_MUTEX_INITIALIZER;

static struct weft__pool *pool_get(weft__loop *L)
{
    if (weft__likely(L->pool != NULL)) return L->pool;
    struct weft__pool *H = calloc(1, sizeof *H);
    if (!H) return NULL;
    H->backend = L->backend;
    weft__loop *L0 = L->index == 0 ? L : weft__fleet_loop(L, 0);
    pthread_mutex_lock(&create_mu);
    if (!L0->pool_shared) L0->pool_shared = shared_new(L0);
    H->S = L0->pool_shared;
    pthread_mutex_unlock(&create_mu);
    if (!H->S) {
        free(H);
        return NULL;
    }
    L->pool = H;
    return H;
}

int weft__pool_busy(weft__loop *L) { return L->pool && L->pool->pending; }

void weft__pool_on_ready(weft__loop *L)
{
    struct weft__pool *H = L->pool;
    pthread_mutex_lock(&H->S->mu);
    job *j = H->finished;
    H->finished = NULL;
    pthread_mutex_unlock(&H->S->mu);
    while (j) {
        job *next = j->next;
        j->done = 1;
        if (j->task->state == T_WAITING && RUN(j->task)->wait_kind == WAIT_THREAD) weft__wake(j->task, 0);
        j = next;
    }
}

int weft_to_thread(weft_fn fn, void *arg)
{
    int e = weft__enter("weft_to_thread");
    if (e) return e;
    if (!fn) return -EINVAL;
    weft__loop *L = weft__L;
    struct weft__pool *H = pool_get(L);
    if (!H) return -ENOMEM;
    shared_pool *S = H->S;
    job j = {.fn = fn, .arg = arg, .task = L->current, .home = H,
             .locals = weft__locals_map(L, L->current)};
    pthread_mutex_lock(&S->mu);
    if (!S->idle && S->started < S->max) {
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setstacksize(&a, 1 << 20);
        if (pthread_create(&S->threads[S->started], &a, worker, S) == 0) S->started++;
        pthread_attr_destroy(&a);
        if (!S->started) {
            pthread_mutex_unlock(&S->mu);
            return -EAGAIN;
        }
    }
    if (S->tail) S->tail->next = &j; else S->head = &j;
    S->tail = &j;
    H->pending++;
    pthread_cond_signal(&S->cv);
    pthread_mutex_unlock(&S->mu);

    int err = 0;
    while (!j.done) {
        int r = weft__park(NULL, WAIT_THREAD, INFINITY, 0, err == 0);
        if (r < 0 && !err) err = r; /* keep waiting: fn may still use arg */
    }
    H->pending--;
    return err ? err : j.result;
}

/* A loop's home goes with it; the shared part with loop 0, the last loop of
 * the run to close, when no job of any loop can be left. */
void weft__pool_close(weft__loop *L)
{
    free(L->pool);
    L->pool = NULL;
    pthread_mutex_lock(&create_mu);
    shared_pool *S = L->pool_shared;
    L->pool_shared = NULL;
    pthread_mutex_unlock(&create_mu);
    if (!S) return;
    pthread_mutex_lock(&S->mu);
    S->stop = 1;
    pthread_cond_broadcast(&S->cv);
    pthread_mutex_unlock(&S->mu);
    for (int i = 0; i < S->started; i++) pthread_join(S->threads[i], NULL);
    pthread_mutex_destroy(&S->mu);
    pthread_cond_destroy(&S->cv);
    free(S->threads);
    free(S);
}
