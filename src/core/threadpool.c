/* The thread pool behind weft_to_thread.
 *
 * Workers are started on demand up to the configured count. A finished job
 * goes on a done list and the loop is woken through the backend
 * (weft__backend_wake), only when the list goes from empty to non-empty, so a
 * burst of completions costs one wake-up. The job lives on the waiting task's stack: the task never
 * leaves before its job is done, even when cancelled. */
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
    const void *locals; /* the caller's task-local values (read-only) */
    struct job *next;
} job;

struct weft__pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail;
    job *finished;
    struct weft__backend *backend; /* to wake the loop (from the workers) */
    int max, started, idle, stop;
    size_t pending;
    pthread_t *threads;
};

static void *worker(void *p)
{
    struct weft__pool *P = p;
    pthread_mutex_lock(&P->mu);
    for (;;) {
        while (!P->head && !P->stop) {
            P->idle++;
            pthread_cond_wait(&P->cv, &P->mu);
            P->idle--;
        }
        if (!P->head) break;
        job *j = P->head;
        P->head = j->next;
        if (!P->head) P->tail = NULL;
        pthread_mutex_unlock(&P->mu);
        weft__locals_job_enter(j->locals);
        int r = j->fn(j->arg);
        weft__locals_job_enter(NULL);
        pthread_mutex_lock(&P->mu);
        j->result = r;
        int poke = !P->finished;
        j->next = P->finished;
        P->finished = j;
        if (poke) weft__backend_wake(P->backend);
    }
    pthread_mutex_unlock(&P->mu);
    return NULL;
}

static struct weft__pool *pool_get(weft__loop *L)
{
    if (L->pool) return L->pool;
    struct weft__pool *P = calloc(1, sizeof *P);
    if (!P) return NULL;
    P->max = L->opt.threads > 0 ? L->opt.threads : 4;
    P->threads = calloc((size_t)P->max, sizeof(pthread_t));
    P->backend = L->backend;
    if (!P->threads) {
        free(P);
        return NULL;
    }
    pthread_mutex_init(&P->mu, NULL);
    pthread_cond_init(&P->cv, NULL);
    L->pool = P;
    return P;
}

int weft__pool_busy(weft__loop *L) { return L->pool && L->pool->pending; }

void weft__pool_on_ready(weft__loop *L)
{
    struct weft__pool *P = L->pool;
    pthread_mutex_lock(&P->mu);
    job *j = P->finished;
    P->finished = NULL;
    pthread_mutex_unlock(&P->mu);
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
    struct weft__pool *P = pool_get(L);
    if (!P) return -ENOMEM;
    job j = {.fn = fn, .arg = arg, .task = L->current,
             .locals = weft__locals_map(L, L->current)};
    pthread_mutex_lock(&P->mu);
    if (!P->idle && P->started < P->max) {
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setstacksize(&a, 1 << 20);
        if (pthread_create(&P->threads[P->started], &a, worker, P) == 0) P->started++;
        pthread_attr_destroy(&a);
        if (!P->started) {
            pthread_mutex_unlock(&P->mu);
            return -EAGAIN;
        }
    }
    if (P->tail) P->tail->next = &j; else P->head = &j;
    P->tail = &j;
    P->pending++;
    pthread_cond_signal(&P->cv);
    pthread_mutex_unlock(&P->mu);

    int err = 0;
    while (!j.done) {
        int r = weft__park(NULL, WAIT_THREAD, INFINITY, 0, err == 0);
        if (r < 0 && !err) err = r; /* keep waiting: fn may still use arg */
    }
    P->pending--;
    return err ? err : j.result;
}

void weft__pool_close(weft__loop *L)
{
    struct weft__pool *P = L->pool;
    if (!P) return;
    pthread_mutex_lock(&P->mu);
    P->stop = 1;
    pthread_cond_broadcast(&P->cv);
    pthread_mutex_unlock(&P->mu);
    for (int i = 0; i < P->started; i++) pthread_join(P->threads[i], NULL);
    pthread_mutex_destroy(&P->mu);
    pthread_cond_destroy(&P->cv);
    free(P->threads);
    free(P);
    L->pool = NULL;
}
