/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef UL_LIBC_INTERNAL_H
#define UL_LIBC_INTERNAL_H
#include <ulibc.h>
extern struct ul_libc_hooks ul_libc;
#endif
