/* SPDX-License-Identifier: GPL-2.0-or-later */
/* x86-64 System V: rbx, rbp, r12-r15, rsp, return address (setjmp.c). */
#ifndef UL_LIBC_SETJMP_H
#define UL_LIBC_SETJMP_H
typedef unsigned long jmp_buf[8];
int setjmp(jmp_buf env) __attribute__((returns_twice));
void longjmp(jmp_buf env, int val) __attribute__((noreturn));
#endif
