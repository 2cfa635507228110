/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef UL_LIBC_SYSLOG_H
#define UL_LIBC_SYSLOG_H
#define LOG_EMERG 0
#define LOG_ALERT 1
#define LOG_CRIT 2
#define LOG_ERR 3
#define LOG_WARNING 4
#define LOG_NOTICE 5
#define LOG_INFO 6
#define LOG_DEBUG 7
#define LOG_PID 0x01
#define LOG_USER (1 << 3)
#define LOG_DAEMON (3 << 3)
void syslog(int prio, const char *fmt, ...);
void openlog(const char *ident, int option, int facility);
#include <stdarg.h>
void vsyslog(int prio, const char *fmt, va_list ap);
#endif
