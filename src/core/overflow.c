/* Stack overflow reporting: a SIGSEGV/SIGBUS handler, on an alternate
 * stack, that names the task whose guard page was hit before aborting
 * (stack.c makes the guards). Apart from stack.c because it is signal
 * handling, with process-wide state of its own (docs/design.md "Process-wide
 * state"), not stack management.
 *
 * The handlers are the process's, shared by every loop thread: installed
 * by the first loop to start, restored by the last to end. The alternate
 * stack they run on is per thread. */
#define _GNU_SOURCE
#include "internal.h"
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096

static struct sigaction old_segv, old_bus;
static pthread_mutex_t handler_mu = PTHREAD_MUTEX_INITIALIZER;
static int handler_users;
static __thread stack_t old_altstack;
static __thread void *altstack_mem;
#define ALTSTACK (64 * 1024)

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    weft__loop *L = weft__L;
    weft_task *t = L ? L->current : NULL;
    if (t && t->stack) {
        char *addr = si->si_addr;
        char *lo = t->stack - L->stack_size;
        if (addr >= lo - PAGE && addr < lo + 2 * PAGE) {
            char msg[400], at[200] = "";
            if (t->dbg && t->dbg->file) snprintf(at, sizeof at, ", spawned at %s:%d", t->dbg->file, t->dbg->line);
            int n = snprintf(msg, sizeof msg,
                             "weft: stack overflow in task '%s' (id %u%s): its %zu-byte stack "
                             "is exhausted; raise weft_options.stack_size\n",
                             t->name ? t->name : "(unnamed)", t->id, at, L->stack_size);
            if (n > (int)sizeof msg - 1) n = (int)sizeof msg - 1;
            if (n > 0) (void)!write(2, msg, (size_t)n);
            signal(SIGABRT, SIG_DFL);
            abort();
        }
    }
    /* Not ours: behave as if we had never been here. */
    struct sigaction *old = sig == SIGSEGV ? &old_segv : &old_bus;
    if (old->sa_flags & SA_SIGINFO && old->sa_sigaction) {
        old->sa_sigaction(sig, si, uc);
        return;
    }
    if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN && old->sa_handler) {
        old->sa_handler(sig);
        return;
    }
    signal(sig, SIG_DFL); /* the faulting instruction reruns and kills us */
}

void weft__overflow_handler_install(weft__loop *L)
{
    (void)L;
    altstack_mem = mmap(NULL, ALTSTACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (altstack_mem == MAP_FAILED) {
        altstack_mem = NULL;
        return;
    }
    stack_t ss = {.ss_sp = altstack_mem, .ss_size = ALTSTACK};
    sigaltstack(&ss, &old_altstack);
    pthread_mutex_lock(&handler_mu);
    if (handler_users++ == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_fault;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
        sigaction(SIGSEGV, &sa, &old_segv);
        sigaction(SIGBUS, &sa, &old_bus);
    }
    pthread_mutex_unlock(&handler_mu);
}

void weft__overflow_handler_remove(weft__loop *L)
{
    (void)L;
    if (!altstack_mem) return;
    pthread_mutex_lock(&handler_mu);
    if (--handler_users == 0) {
        sigaction(SIGSEGV, &old_segv, NULL);
        sigaction(SIGBUS, &old_bus, NULL);
    }
    pthread_mutex_unlock(&handler_mu);
    sigaltstack(&old_altstack, NULL);
    munmap(altstack_mem, ALTSTACK);
    altstack_mem = NULL;
}
