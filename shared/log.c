/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "log.h"
#include "string-util.h"
#include "time-util.h"
#include "ul-errno.h"
#include "unloop-contract.h"

void ul_log_init(struct ul_log *log, const struct ul_log_sink_ops *sink, void *sink_ctx,
                 const struct ul_clock *clock, const char *origin)
{
    ul_memset(log, 0, sizeof(*log));
    log->sink = sink;
    log->sink_ctx = sink_ctx;
    log->clock = clock;
    log->level = UL_LOG_INFO;
    log->origin = origin;
}

const char *ul_log_level_name(enum ul_log_level level)
{
    switch (level) {
    case UL_LOG_ERROR: return "error";
    case UL_LOG_WARNING: return "warning";
    case UL_LOG_NOTICE: return "notice";
    case UL_LOG_INFO: return "info";
    case UL_LOG_DEBUG: return "debug";
    }
    return "?";
}

void ul_vlogf(struct ul_log *log, enum ul_log_level level, const char *fmt, va_list ap)
{
    char msg[256], line[320], ts[24];

    if (level > log->level)
        return;
    ul_vsnprintf(msg, sizeof(msg), fmt, ap);
    if (log->sink && log->sink->write)
        log->sink->write(log->sink_ctx, level, msg);

    struct ul_time now = ul_clock_now(log->clock);
    if (now.valid)
        ul_time_format(now.secs, ts, sizeof(ts));
    else
        ul_strlcpy(ts, "(no clock)         ", sizeof(ts));
    /* Firmware time is the RTC, usually local time: say which clock it is. */
    size_t n = ul_snprintf(line, sizeof(line), "%s%s %s %s: %s\r\n", ts,
                           now.valid && now.tz == 0 ? "Z" : "", log->origin ? log->origin : "",
                           ul_log_level_name(level), msg);
    if (n >= sizeof(line))
        n = sizeof(line) - 1;
    /* The last 64 bytes are kept for ul_log_flush()'s note about lost lines:
     * without them the note itself would not fit when it matters. */
    if (log->len + n > sizeof(log->buf) - 64) {
        log->lost++;
        return;
    }
    ul_memcpy(log->buf + log->len, line, n);
    log->len += n;
}

void ul_logf(struct ul_log *log, enum ul_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ul_vlogf(log, level, fmt, ap);
    va_end(ap);
}

int ul_log_err(struct ul_log *log, int err, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    ul_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ul_logf(log, UL_LOG_ERROR, "%s: %s", msg, ul_strerror(err));
    return err;
}

int ul_log_flush(struct ul_log *log, const struct ul_volume *esp, uint32_t max_bytes)
{
    struct ul_stat st;
    uint64_t off = 0;
    int r;

    if (log->lost) {
        char note[64];
        size_t n = ul_snprintf(note, sizeof(note), "(%u log lines did not fit and were lost)\r\n",
                               log->lost);
        if (log->len + n <= sizeof(log->buf)) {
            ul_memcpy(log->buf + log->len, note, n);
            log->len += n;
        }
        log->lost = 0;
    }
    if (log->len == 0)
        return 0;

    r = esp->ops->stat(esp->ctx, UL_LOG_PATH, &st);
    if (r == 0 && !st.is_dir) {
        off = st.size;
        if (off + log->len > max_bytes) {
            /* Rotate: the previous log.1 goes, log becomes log.1. */
            r = esp->ops->remove(esp->ctx, UL_LOG_OLD_PATH);
            if (r < 0 && r != -UL_ENOENT)
                return r;
            r = esp->ops->rename(esp->ctx, UL_LOG_PATH, UL_LOG_OLD_PATH);
            if (r < 0)
                return r;
            off = 0;
        }
    } else if (r == 0) {
        return -UL_EISDIR;
    } else if (r != -UL_ENOENT) {
        return r;
    } else {
        r = esp->ops->mkdir(esp->ctx, "\\EFI");
        if (r == 0 || r == -UL_EEXIST)
            r = esp->ops->mkdir(esp->ctx, UL_DIR_PATH);
        if (r < 0 && r != -UL_EEXIST)
            return r;
    }

    size_t len = log->len;
    if (len > max_bytes)
        len = max_bytes; /* a single run's lines never exceed the buffer, but be exact */
    r = esp->ops->write(esp->ctx, UL_LOG_PATH, off, log->buf, len);
    if (r < 0)
        return r;
    log->len = 0;
    return 0;
}

int ul_log_read_tail(const struct ul_volume *esp, char *buf, size_t size, size_t *ret_len)
{
    struct ul_stat st;
    size_t got = 0;
    int r;

    if (size < 2)
        return -UL_EINVAL;
    buf[0] = 0;
    *ret_len = 0;
    r = esp->ops->stat(esp->ctx, UL_LOG_PATH, &st);
    if (r < 0)
        return r;
    uint64_t off = st.size > size - 1 ? st.size - (size - 1) : 0;
    r = esp->ops->read(esp->ctx, UL_LOG_PATH, off, buf, size - 1, &got);
    if (r < 0)
        return r;
    buf[got] = 0;
    size_t start = 0;
    if (off > 0) {
        /* Drop the partial first line. */
        while (start < got && buf[start] != '\n')
            start++;
        if (start < got)
            start++;
    }
    for (size_t i = start; i < got; i++)
        if (buf[i] == 0)
            buf[i] = '?';
    ul_memmove(buf, buf + start, got - start + 1);
    *ret_len = got - start;
    return 0;
}
