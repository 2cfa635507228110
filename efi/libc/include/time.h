/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef UL_LIBC_TIME_H
#define UL_LIBC_TIME_H
#include <sys/types.h>
struct timespec { time_t tv_sec; long tv_nsec; };
time_t time(time_t *t);
#endif
