/* Unwinding from inside weft__ctx_switch, as a SIGUSR1 dump (debug mode)
 * does when its signal lands mid-switch: every instruction of a few task
 * switches is single-stepped (x86-64's trap flag), and at each one inside
 * weft__ctx_switch the SIGTRAP handler unwinds with backtrace(): the frame
 * after the interrupted one must be code. Without unwind rules for the
 * switch's pushes, the unwinder took a pushed register for the return
 * address (here the saved rbp, a stack address; in a dump whatever the
 * registers held, and the handler crashed: a storm of SIGUSR1 over task
 * churn killed 3 processes in 6). */
#include "core_util.h"
#include "core/internal.h"
#include <dlfcn.h>
#include <execinfo.h>
#include <ucontext.h>

#if defined(__x86_64__)
#define TRAP_FLAG 0x100L

static volatile sig_atomic_t stepping;
static volatile int steps, bad;
static volatile uintptr_t bad_pc, bad_ret;

static void on_trap(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    (void)si;
    ucontext_t *uc = ucv;
    if (!stepping) {
        uc->uc_mcontext.gregs[REG_EFL] &= ~TRAP_FLAG;
        return;
    }
    uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    if (pc < (uintptr_t)weft__ctx_switch || pc >= (uintptr_t)weft__ctx_entry) return;
    void *f[64];
    int n = backtrace(f, 64), i = 0;
    while (i < n && (uintptr_t)f[i] != pc) i++;
    steps++;
    Dl_info info;
    if (i + 1 >= n || !dladdr(f[i + 1], &info)) {
        if (!bad) bad_pc = pc, bad_ret = i + 1 < n ? (uintptr_t)f[i + 1] : 0;
        bad++;
    }
}

static int other(void *a)
{
    (void)a;
    return weft_yield();
}

static int main_task(void *a)
{
    (void)a;
    weft_task *t = weft_spawn(other, NULL);
    CHECK(t);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_trap;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGTRAP, &sa, &old) == 0);
    void *prime[2];
    backtrace(prime, 2); /* the unwinder loaded before the first trap */
    stepping = 1;
    __asm__ volatile("pushfq; orq %0, (%%rsp); popfq" ::"i"(TRAP_FLAG) : "cc", "memory");
    weft_yield(); /* into other, a new task (its first switch), and back */
    weft_yield(); /* into other again, back as it ends */
    stepping = 0;
    __asm__ volatile("nop"); /* one more trap: the handler clears the flag */
    CHECK(sigaction(SIGTRAP, &old, NULL) == 0);
    CHECK_EQ(weft_await(t), 0);
    fprintf(stderr, "%d instructions inside weft__ctx_switch unwound\n", steps);
    CHECK(steps >= 40); /* four switches of 20 instructions or so */
    if (bad) {
        fprintf(stderr, "%d of them unwound to no code: at %#lx the return address was %#lx\n",
                bad, (unsigned long)bad_pc, (unsigned long)bad_ret);
        CHECK(0);
    }
    return 0;
}
#endif

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

int main(void)
{
#if defined(__x86_64__)
    if (under_valgrind()) {
        fprintf(stderr, "skipped under valgrind (no trap flag)\n");
        return 0;
    }
#ifdef UNDER_TSAN
    /* its runtime, stepped through, takes the traps inside its own code */
    fprintf(stderr, "skipped under ThreadSanitizer\n");
    return 0;
#endif
    CHECK_EQ(weft_run(main_task, NULL), 0);
#else
    /* ctx_aarch64.S has no unwind rules at all: an unwinder stops there */
    fprintf(stderr, "x86-64 only\n");
#endif
    return 0;
}
