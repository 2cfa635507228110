/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef UL_LIBC_TIME_H
#define UL_LIBC_TIME_H
#include <sys/types.h>
struct timespec { time_t tv_sec; long tv_nsec; };
struct tm {
    int tm_sec, tm_min, tm_hour, tm_mday, tm_mon, tm_year, tm_wday, tm_yday, tm_isdst;
};
time_t time(time_t *t);
struct tm *gmtime(const time_t *t);
#endif
