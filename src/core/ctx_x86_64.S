/* Context switch for x86-64 System V. Saves only what the ABI says a callee
 * preserves (rbx, rbp, r12-r15; the FP control words are left shared by all
 * tasks of a thread), so a switch is a handful of moves: that is the whole
 * reason for hand-written assembly instead of ucontext, which also saves the
 * signal mask with a system call. */
#if defined(__x86_64__)
    .text

/* void weft__ctx_switch(void **save_sp, void *load_sp) */
    .globl weft__ctx_switch
    .hidden weft__ctx_switch
    .type weft__ctx_switch, @function
/* Unwind rules at every instruction: a SIGUSR1 dump (debug mode) unwinds
 * the interrupted code with backtrace(), and without them a signal that
 * came mid-switch had libgcc take a pushed register for the return
 * address: it crashed in the handler. The other task's stack is laid out
 * alike, so the same rules hold across the swap of rsp. */
weft__ctx_switch:
    .cfi_startproc
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    pushq %rbx
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbx, 0
    pushq %r12
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r12, 0
    pushq %r13
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r13, 0
    pushq %r14
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r14, 0
    pushq %r15
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %r15, 0
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r15
    popq %r14
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r14
    popq %r13
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r13
    popq %r12
    .cfi_adjust_cfa_offset -8
    .cfi_restore %r12
    popq %rbx
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbx
    popq %rbp
    .cfi_adjust_cfa_offset -8
    .cfi_restore %rbp
    ret
    .cfi_endproc
    .size weft__ctx_switch, .-weft__ctx_switch

/* First code a new task runs: the task pointer was left in r12. rbp is 0
 * so frame-pointer walks stop here. */
    .globl weft__ctx_entry
    .hidden weft__ctx_entry
    .type weft__ctx_entry, @function
weft__ctx_entry:
    .cfi_startproc
    .cfi_undefined rip
    movq %r12, %rdi
    andq $-16, %rsp
    call weft__task_main
    ud2
    .cfi_endproc
    .size weft__ctx_entry, .-weft__ctx_entry

/* void *weft__ctx_make(char *top, weft_task *t): builds the frame that
 * weft__ctx_switch pops on the first switch; returns the sp to load. */
    .globl weft__ctx_make
    .hidden weft__ctx_make
    .type weft__ctx_make, @function
weft__ctx_make:
    andq $-16, %rdi
    leaq weft__ctx_entry(%rip), %rax
    movq %rax, -16(%rdi)        /* return address */
    movq $0, -24(%rdi)          /* rbp */
    movq $0, -32(%rdi)          /* rbx */
    movq %rsi, -40(%rdi)        /* r12 = task */
    movq $0, -48(%rdi)          /* r13 */
    movq $0, -56(%rdi)          /* r14 */
    movq $0, -64(%rdi)          /* r15 */
    leaq -64(%rdi), %rax
    ret
    .size weft__ctx_make, .-weft__ctx_make
#endif
    .section .note.GNU-stack,"",@progbits
