/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The log: each line goes at once to a sink (the console, which OVMF and
 * most firmware mirror to serial) and into a RAM buffer that ul_log_flush()
 * appends to UL_LOG_PATH in one write, rotating to UL_LOG_OLD_PATH when the
 * file would pass its size limit.  One ESP write per run, at most.
 * Never log keys or passwords (DEVELOPERS.md).
 */
#ifndef UL_LOG_H
#define UL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops.h"

enum ul_log_level {
    UL_LOG_ERROR = 0,
    UL_LOG_WARNING,
    UL_LOG_NOTICE,
    UL_LOG_INFO,
    UL_LOG_DEBUG,
};

struct ul_log_sink_ops {
    void (*write)(void *ctx, enum ul_log_level level, const char *msg);
};

#define UL_LOG_BUF_SIZE 8192

struct ul_log {
    const struct ul_log_sink_ops *sink;
    void *sink_ctx;
    const struct ul_clock *clock;
    enum ul_log_level level;    /* lines above this level are dropped */
    const char *origin;         /* "pre-boot", "cli": who wrote the line */
    char buf[UL_LOG_BUF_SIZE];
    size_t len;
    uint32_t lost;              /* lines that did not fit in buf */
};

void ul_log_init(struct ul_log *log, const struct ul_log_sink_ops *sink, void *sink_ctx,
                 const struct ul_clock *clock, const char *origin);
void ul_logf(struct ul_log *log, enum ul_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ul_vlogf(struct ul_log *log, enum ul_log_level level, const char *fmt, va_list ap);
/* Logs and returns err, for "return ul_log_err(log, r, ...)". */
int ul_log_err(struct ul_log *log, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Append the buffered lines to the log file; max_bytes bounds the file. */
int ul_log_flush(struct ul_log *log, const struct ul_volume *esp, uint32_t max_bytes);
/* The last lines of the log file (whole lines only), NUL-terminated. */
int ul_log_read_tail(const struct ul_volume *esp, char *buf, size_t size, size_t *ret_len);

const char *ul_log_level_name(enum ul_log_level level);

#endif
