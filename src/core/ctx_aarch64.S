/* Context switch for AArch64 (AAPCS64): saves the callee-saved x19-x30 and
 * d8-d15 on the stack and swaps sp. */
#if defined(__aarch64__)
    .text

/* void weft__ctx_switch(void **save_sp, void *load_sp) */
    .globl weft__ctx_switch
    .hidden weft__ctx_switch
    .type weft__ctx_switch, %function
weft__ctx_switch:
    sub sp, sp, #160
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    mov x2, sp
    str x2, [x0]
    mov sp, x1
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    add sp, sp, #160
    ret
    .size weft__ctx_switch, .-weft__ctx_switch

/* First code of a new task: x19 holds the task; x29 = 0 ends frame walks. */
    .globl weft__ctx_entry
    .hidden weft__ctx_entry
    .type weft__ctx_entry, %function
weft__ctx_entry:
    mov x0, x19
    mov x29, #0
    mov x30, #0
    bl weft__task_main
    brk #0
    .size weft__ctx_entry, .-weft__ctx_entry

/* void *weft__ctx_make(char *top, weft_task *t) */
    .globl weft__ctx_make
    .hidden weft__ctx_make
    .type weft__ctx_make, %function
weft__ctx_make:
    and x0, x0, #~15
    sub x0, x0, #176            /* 160-byte frame, 16 spare at the top */
    mov x2, #0
    mov x3, #0
    stp x1, x2, [x0, #0]        /* x19 = task, x20 */
    stp x2, x3, [x0, #16]
    stp x2, x3, [x0, #32]
    stp x2, x3, [x0, #48]
    stp x2, x3, [x0, #64]
    adrp x4, weft__ctx_entry
    add x4, x4, :lo12:weft__ctx_entry
    stp x2, x4, [x0, #80]       /* x29 = 0, x30 = entry */
    stp x2, x3, [x0, #96]
    stp x2, x3, [x0, #112]
    stp x2, x3, [x0, #128]
    stp x2, x3, [x0, #144]
    ret
    .size weft__ctx_make, .-weft__ctx_make
#endif
    .section .note.GNU-stack,"",@progbits
