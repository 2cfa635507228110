/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef UL_LIBC_SYS_TIME_H
#define UL_LIBC_SYS_TIME_H
#include <sys/types.h>
#include <time.h>
struct timeval { time_t tv_sec; suseconds_t tv_usec; };
struct timezone;
int gettimeofday(struct timeval *tv, void *tz);
#endif
