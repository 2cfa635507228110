/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * setjmp/longjmp for x86-64 code built with the System V ABI (all of
 * unloop.efi but the firmware calls): the callee-saved registers rbx, rbp,
 * r12-r15, the stack pointer as the caller sees it after the return, and the
 * return address.  No floating point state: the EFI build uses none.
 * Used to get back from third-party code that calls exit() (ntfsrecover).
 */
#include <setjmp.h>

#if !defined(__x86_64__)
#error "efi/libc/setjmp.c: x86-64 only"
#endif

__asm__(
    ".text\n"
    ".globl setjmp\n"
    ".type setjmp, @function\n"
    "setjmp:\n"
    "    movq %rbx, 0(%rdi)\n"
    "    movq %rbp, 8(%rdi)\n"
    "    movq %r12, 16(%rdi)\n"
    "    movq %r13, 24(%rdi)\n"
    "    movq %r14, 32(%rdi)\n"
    "    movq %r15, 40(%rdi)\n"
    "    leaq 8(%rsp), %rdx\n"
    "    movq %rdx, 48(%rdi)\n"
    "    movq (%rsp), %rdx\n"
    "    movq %rdx, 56(%rdi)\n"
    "    xorl %eax, %eax\n"
    "    ret\n"
    ".size setjmp, .-setjmp\n"
    "\n"
    ".globl longjmp\n"
    ".type longjmp, @function\n"
    "longjmp:\n"
    "    movl %esi, %eax\n"
    "    testl %eax, %eax\n"
    "    jnz 1f\n"
    "    movl $1, %eax\n"
    "1:\n"
    "    movq 0(%rdi), %rbx\n"
    "    movq 8(%rdi), %rbp\n"
    "    movq 16(%rdi), %r12\n"
    "    movq 24(%rdi), %r13\n"
    "    movq 32(%rdi), %r14\n"
    "    movq 40(%rdi), %r15\n"
    "    movq 48(%rdi), %rsp\n"
    "    jmpq *56(%rdi)\n"
    ".size longjmp, .-longjmp\n");
