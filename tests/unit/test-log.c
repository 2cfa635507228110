/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * log: filtering, the line format, the RAM buffer, one append per flush,
 * rotation to log.1 and reading the tail back, on the fake ESP.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake-volume.h"
#include "log.h"
#include "ul-errno.h"
#include "unloop-contract.h"

struct sink {
    unsigned calls;
    enum ul_log_level last_level;
    char last[300];
};

static void sink_write(void *ctx, enum ul_log_level level, const char *msg)
{
    struct sink *s = ctx;
    s->calls++;
    s->last_level = level;
    snprintf(s->last, sizeof(s->last), "%s", msg);
}

static const struct ul_log_sink_ops sink_ops = { .write = sink_write };

static struct fake_volume vol;
static struct ul_volume esp;
static struct fake_clock fclock;
static struct ul_clock clock_;
static struct sink sink;
static struct ul_log log_; /* 8 KiB: not on the stack */

/* 2023-11-14 22:13:20 */
#define NOW 1700000000

static int setup(void **state)
{
    (void)state;
    fake_volume_init(&vol);
    esp = fake_volume_get(&vol);
    memset(&fclock, 0, sizeof(fclock));
    fake_clock_set(&fclock, NOW, 0, true);
    clock_ = fake_clock_get(&fclock);
    memset(&sink, 0, sizeof(sink));
    ul_log_init(&log_, &sink_ops, &sink, &clock_, "pre-boot");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_volume_free(&vol);
    return 0;
}

static char *buffered(void)
{
    static char s[UL_LOG_BUF_SIZE + 1];
    memcpy(s, log_.buf, log_.len);
    s[log_.len] = 0;
    return s;
}

static void test_init_and_level_filter(void **state)
{
    (void)state;
    assert_int_equal(log_.level, UL_LOG_INFO);
    assert_int_equal(log_.len, 0);
    assert_int_equal(log_.lost, 0);

    ul_logf(&log_, UL_LOG_DEBUG, "hidden %d", 1);
    assert_int_equal(sink.calls, 0);
    assert_int_equal(log_.len, 0);

    ul_logf(&log_, UL_LOG_INFO, "shown %d", 2);
    ul_logf(&log_, UL_LOG_ERROR, "shown %d", 3);
    assert_int_equal(sink.calls, 2);
    assert_int_equal(sink.last_level, UL_LOG_ERROR);
    assert_string_equal(sink.last, "shown 3");

    /* Every threshold lets exactly the levels at or below it through. */
    for (int th = UL_LOG_ERROR; th <= UL_LOG_DEBUG; th++) {
        log_.level = (enum ul_log_level)th;
        for (int l = UL_LOG_ERROR; l <= UL_LOG_DEBUG; l++) {
            unsigned before = sink.calls;
            size_t len = log_.len;
            ul_logf(&log_, (enum ul_log_level)l, "x");
            assert_int_equal(sink.calls - before, l <= th);
            assert_int_equal(log_.len > len, l <= th);
        }
    }
    log_.len = 0;

    /* No sink at all is fine. */
    ul_log_init(&log_, NULL, NULL, &clock_, "cli");
    ul_logf(&log_, UL_LOG_ERROR, "only the buffer");
    assert_non_null(strstr(buffered(), "only the buffer"));
}

static void test_line_format(void **state)
{
    (void)state;
    /* UTC (the OS side): a 'Z' after the time. */
    ul_logf(&log_, UL_LOG_WARNING, "state slot %d is damaged", 1);
    assert_string_equal(buffered(), "2023-11-14 22:13:20Z pre-boot warning: state slot 1 is "
                                    "damaged\r\n");
    log_.len = 0;

    /* Firmware local time: no zone letter. */
    fake_clock_set(&fclock, NOW + 61, UL_TZ_UNSPECIFIED, true);
    ul_logf(&log_, UL_LOG_NOTICE, "menu");
    assert_string_equal(buffered(), "2023-11-14 22:14:21 pre-boot notice: menu\r\n");
    log_.len = 0;

    /* A zone other than UTC: no 'Z' either (the time is not UTC). */
    fake_clock_set(&fclock, NOW, 60, true);
    ul_logf(&log_, UL_LOG_INFO, "x");
    assert_string_equal(buffered(), "2023-11-14 22:13:20 pre-boot info: x\r\n");
    log_.len = 0;

    /* No clock: the line says so and keeps its columns. */
    fake_clock_set(&fclock, NOW, 0, false);
    ul_logf(&log_, UL_LOG_ERROR, "e");
    assert_string_equal(buffered(), "(no clock)          pre-boot error: e\r\n");
    log_.len = 0;
    fake_clock_fail(&fclock, -UL_EIO);
    ul_logf(&log_, UL_LOG_ERROR, "e");
    assert_non_null(strstr(buffered(), "(no clock)"));
    log_.len = 0;

    /* Every level has its name in the line. */
    fake_clock_set(&fclock, NOW, 0, true);
    log_.level = UL_LOG_DEBUG;
    static const char *const names[] = { "error", "warning", "notice", "info", "debug" };
    for (int l = UL_LOG_ERROR; l <= UL_LOG_DEBUG; l++) {
        char want[64];
        log_.len = 0;
        ul_logf(&log_, (enum ul_log_level)l, "m");
        snprintf(want, sizeof(want), " pre-boot %s: m\r\n", names[l]);
        assert_non_null(strstr(buffered(), want));
        assert_string_equal(ul_log_level_name((enum ul_log_level)l), names[l]);
    }
    assert_string_equal(ul_log_level_name((enum ul_log_level)77), "?");

    /* The origin names the writer. */
    ul_log_init(&log_, NULL, NULL, &clock_, "cli");
    ul_logf(&log_, UL_LOG_INFO, "blessed");
    assert_string_equal(buffered(), "2023-11-14 22:13:20Z cli info: blessed\r\n");
    ul_log_init(&log_, NULL, NULL, NULL, NULL);
    ul_logf(&log_, UL_LOG_INFO, "anon");
    assert_non_null(strstr(buffered(), "info: anon\r\n"));

    /* ul_log_err returns the error and names it. */
    ul_log_init(&log_, &sink_ops, &sink, &clock_, "pre-boot");
    assert_int_equal(ul_log_err(&log_, -UL_EIO, "cannot write %s", "state"), -UL_EIO);
    assert_non_null(strstr(buffered(), "error: cannot write state: EIO"));

    /* A very long message is cut but the line still ends the line. */
    char big[600];
    memset(big, 'm', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    log_.len = 0;
    ul_logf(&log_, UL_LOG_INFO, "%s", big);
    const char *b = buffered();
    assert_true(strlen(b) < 330);
    assert_int_equal(b[strlen(b) - 2], '\r');
    assert_int_equal(b[strlen(b) - 1], '\n');
}

static void test_overflow_counted_as_lost(void **state)
{
    (void)state;
    unsigned n = 0;
    while (log_.lost == 0) {
        ul_logf(&log_, UL_LOG_INFO, "line %u of a log that is far too long for its buffer", n);
        n++;
        assert_true(n < 10000);
    }
    size_t full = log_.len;
    assert_true(full <= UL_LOG_BUF_SIZE);
    for (int i = 0; i < 9; i++)
        ul_logf(&log_, UL_LOG_INFO, "more %d", i);
    /* Short lines may still fit after a long one was refused. */
    assert_true(log_.lost >= 1);
    assert_true(log_.len <= UL_LOG_BUF_SIZE);
    assert_int_equal(sink.calls, n + 9); /* the console saw them all */

    uint32_t lost = log_.lost;
    assert_int_equal(ul_log_flush(&log_, &esp, 1u << 20), 0);
    assert_int_equal(log_.lost, 0);
    assert_int_equal(log_.len, 0);
    char *f = fake_volume_read_string(&vol, UL_LOG_PATH);
    assert_non_null(f);
    assert_non_null(strstr(f, "line 0 of"));
    char note[64];
    snprintf(note, sizeof(note), "(%u log lines did not fit and were lost)\r\n", lost);
    bool said = strstr(f, note) != NULL;
    free(f);
    if (!said)
        fail_msg("the flushed log does not say \"%s\"", note);
}

static void test_flush_appends(void **state)
{
    (void)state;
    /* Nothing buffered: no write, not even a directory. */
    assert_int_equal(ul_log_flush(&log_, &esp, 65536), 0);
    assert_int_equal(vol.n_writes, 0);
    assert_false(fake_volume_exists(&vol, UL_DIR_PATH));

    ul_logf(&log_, UL_LOG_INFO, "first run");
    assert_int_equal(ul_log_flush(&log_, &esp, 65536), 0);
    assert_true(fake_volume_is_dir(&vol, UL_DIR_PATH));
    assert_int_equal(vol.n_writes, 1);
    assert_int_equal(log_.len, 0);

    ul_logf(&log_, UL_LOG_INFO, "second run");
    ul_logf(&log_, UL_LOG_INFO, "second run, line 2");
    assert_int_equal(ul_log_flush(&log_, &esp, 65536), 0);
    assert_int_equal(vol.n_writes, 2); /* one write per flush */
    assert_int_equal(vol.write_log[1].off, vol.write_log[0].len);

    char *f = fake_volume_read_string(&vol, UL_LOG_PATH);
    assert_string_equal(f, "2023-11-14 22:13:20Z pre-boot info: first run\r\n"
                           "2023-11-14 22:13:20Z pre-boot info: second run\r\n"
                           "2023-11-14 22:13:20Z pre-boot info: second run, line 2\r\n");
    free(f);
    assert_false(fake_volume_exists(&vol, UL_LOG_OLD_PATH));
}

static void test_flush_errors_keep_the_buffer(void **state)
{
    (void)state;
    ul_logf(&log_, UL_LOG_INFO, "keep me");
    size_t len = log_.len;

    fake_volume_fail_write(&vol, 1, -UL_ENOSPC);
    assert_int_equal(ul_log_flush(&log_, &esp, 65536), -UL_ENOSPC);
    assert_int_equal(log_.len, len);
    /* and a later flush still writes it */
    assert_int_equal(ul_log_flush(&log_, &esp, 65536), 0);
    char *f = fake_volume_read_string(&vol, UL_LOG_PATH);
    assert_non_null(strstr(f, "keep me"));
    free(f);

    ul_logf(&log_, UL_LOG_INFO, "again");
    fake_volume_fail_path(&vol, UL_LOG_PATH, -UL_EIO);
    assert_int_equal(ul_log_flush(&log_, &esp, 65536), -UL_EIO);
    fake_volume_fail_path(&vol, NULL, 0);

    /* A directory in the log's place. */
    fake_volume_reset(&vol);
    assert_int_equal(fake_volume_mkdir_p(&vol, UL_LOG_PATH), 0);
    assert_int_equal(ul_log_flush(&log_, &esp, 65536), -UL_EISDIR);

    /* No \EFI on a blank ESP: created. */
    fake_volume_reset(&vol);
    assert_int_equal(ul_log_flush(&log_, &esp, 65536), 0);
    assert_true(fake_volume_exists(&vol, UL_LOG_PATH));
}

static void test_rotation(void **state)
{
    (void)state;
    char old[1000];
    memset(old, 'o', sizeof(old));
    for (size_t i = 99; i < sizeof(old); i += 100)
        old[i] = '\n';
    assert_int_equal(fake_volume_put(&vol, UL_LOG_PATH, old, sizeof(old)), 0);
    assert_int_equal(fake_volume_put(&vol, UL_LOG_OLD_PATH, "ancient\n", 8), 0);

    /* Fits: appended. */
    ul_logf(&log_, UL_LOG_INFO, "fits");
    size_t line = log_.len;
    assert_int_equal(ul_log_flush(&log_, &esp, (uint32_t)(sizeof(old) + line)), 0);
    size_t len;
    assert_non_null(fake_volume_peek(&vol, UL_LOG_PATH, &len));
    assert_int_equal(len, sizeof(old) + line);
    char *o = fake_volume_read_string(&vol, UL_LOG_OLD_PATH);
    assert_string_equal(o, "ancient\n");
    free(o);

    /* One byte too many: log becomes log.1 (replacing it), the new log starts empty. */
    ul_logf(&log_, UL_LOG_INFO, "rotates");
    assert_int_equal(ul_log_flush(&log_, &esp, (uint32_t)(sizeof(old) + line + log_.len - 1)),
                     0);
    o = fake_volume_read_string(&vol, UL_LOG_OLD_PATH);
    assert_non_null(o);
    assert_int_equal(strlen(o), sizeof(old) + line);
    assert_memory_equal(o, old, sizeof(old));
    assert_null(strstr(o, "ancient"));
    free(o);
    char *f = fake_volume_read_string(&vol, UL_LOG_PATH);
    assert_string_equal(f, "2023-11-14 22:13:20Z pre-boot info: rotates\r\n");
    free(f);

    /* Rotation with no log.1 yet. */
    fake_volume_reset(&vol);
    assert_int_equal(fake_volume_put(&vol, UL_LOG_PATH, old, sizeof(old)), 0);
    ul_logf(&log_, UL_LOG_INFO, "x");
    assert_int_equal(ul_log_flush(&log_, &esp, sizeof(old)), 0);
    assert_true(fake_volume_exists(&vol, UL_LOG_OLD_PATH));
    assert_non_null(fake_volume_peek(&vol, UL_LOG_PATH, &len));
    assert_int_equal(len, vol.write_log[0].len);

    /* A failing rotation is reported, and the buffer kept. */
    fake_volume_reset(&vol);
    assert_int_equal(fake_volume_put(&vol, UL_LOG_PATH, old, sizeof(old)), 0);
    ul_logf(&log_, UL_LOG_INFO, "y");
    fake_volume_fail_path(&vol, UL_LOG_OLD_PATH, -UL_EACCES);
    assert_int_equal(ul_log_flush(&log_, &esp, sizeof(old)), -UL_EACCES);
    assert_true(log_.len > 0);
}

/* Many flushes under a small limit: the pair never outgrows twice the limit. */
static void test_rotation_bounds_total_size(void **state)
{
    (void)state;
    const uint32_t max = 2048;
    for (int run = 0; run < 200; run++) {
        ul_logf(&log_, UL_LOG_INFO, "run %d: attempt counted", run);
        if (run % 3 == 0)
            ul_logf(&log_, UL_LOG_WARNING, "run %d: boot loop detected, recovery step 2", run);
        assert_int_equal(ul_log_flush(&log_, &esp, max), 0);
        size_t a, b = 0;
        assert_non_null(fake_volume_peek(&vol, UL_LOG_PATH, &a));
        fake_volume_peek(&vol, UL_LOG_OLD_PATH, &b);
        assert_true(a <= max);
        assert_true(b <= max);
    }
    char *f = fake_volume_read_string(&vol, UL_LOG_PATH);
    assert_non_null(strstr(f, "run 199:"));
    free(f);
}

/* The longest suffix of text that starts a line and is at most max long. */
static size_t aligned_suffix(const char *text, size_t len, size_t max)
{
    for (size_t start = 0; start <= len; start++)
        if ((start == 0 || text[start - 1] == '\n') && len - start <= max)
            return len - start;
    return 0;
}

static void test_read_tail(void **state)
{
    (void)state;
    char buf[512];
    size_t got;

    assert_int_equal(ul_log_read_tail(&esp, buf, sizeof(buf), &got), -UL_ENOENT);
    assert_int_equal(got, 0);
    assert_string_equal(buf, "");
    assert_int_equal(ul_log_read_tail(&esp, buf, 1, &got), -UL_EINVAL);

    char text[3000];
    size_t len = 0;
    for (int i = 0; len < 2500; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "line %d %.*s\r\n", i, i % 37,
                                "..........................................");
    assert_int_equal(fake_volume_put(&vol, UL_LOG_PATH, text, len), 0);

    /* The whole file when it fits. */
    assert_int_equal(ul_log_read_tail(&esp, buf, sizeof(buf), &got), 0);
    assert_true(got < sizeof(buf));

    for (size_t size = 2; size <= sizeof(buf); size++) {
        memset(buf, 'Z', sizeof(buf));
        assert_int_equal(ul_log_read_tail(&esp, buf, size, &got), 0);
        assert_int_equal(strlen(buf), got);
        assert_true(got <= size - 1);
        /* a suffix of the file that starts at a line */
        assert_memory_equal(buf, text + len - got, got);
        assert_true(got == len || text[len - got - 1] == '\n');
        /* and no line is dropped that could have been shown with room to spare */
        if (got < aligned_suffix(text, len, size - 2))
            fail_msg("size %zu: %zu bytes, %zu would fit", size, got,
                     aligned_suffix(text, len, size - 2));
    }

    /* A small file is returned whole. */
    fake_volume_reset(&vol);
    assert_int_equal(fake_volume_put(&vol, UL_LOG_PATH, "a\nbb\n", 5), 0);
    assert_int_equal(ul_log_read_tail(&esp, buf, sizeof(buf), &got), 0);
    assert_string_equal(buf, "a\nbb\n");

    /* NUL bytes (a torn FAT write leaves zeros) do not cut the text short. */
    fake_volume_reset(&vol);
    assert_int_equal(fake_volume_put(&vol, UL_LOG_PATH, "one\n\0\0\0two\n", 11), 0);
    assert_int_equal(ul_log_read_tail(&esp, buf, sizeof(buf), &got), 0);
    assert_int_equal(got, 11);
    assert_string_equal(buf, "one\n???two\n");

    /* A single line longer than the buffer: nothing rather than half a line. */
    fake_volume_reset(&vol);
    memset(text, 'x', 1000);
    text[999] = '\n';
    assert_int_equal(fake_volume_put(&vol, UL_LOG_PATH, text, 1000), 0);
    assert_int_equal(ul_log_read_tail(&esp, buf, 100, &got), 0);
    assert_int_equal(got, 0);
    assert_string_equal(buf, "");
}

/* Flush then read back: what ul_run's "Show log" does. */
static void test_flush_then_tail(void **state)
{
    (void)state;
    char buf[4096];
    size_t got;
    for (int i = 0; i < 300; i++) {
        ul_logf(&log_, UL_LOG_INFO, "boot %d", i);
        if (i % 50 == 49)
            assert_int_equal(ul_log_flush(&log_, &esp, 65536), 0);
    }
    assert_int_equal(ul_log_flush(&log_, &esp, 65536), 0);
    assert_int_equal(ul_log_read_tail(&esp, buf, sizeof(buf), &got), 0);
    assert_non_null(strstr(buf, "info: boot 299\r\n"));
    assert_int_equal(strncmp(buf, "2023-11-14", 10), 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_init_and_level_filter),
        T(test_line_format),
        T(test_overflow_counted_as_lost),
        T(test_flush_appends),
        T(test_flush_errors_keep_the_buffer),
        T(test_rotation),
        T(test_rotation_bounds_total_size),
        T(test_read_tail),
        T(test_flush_then_tail),
    };
    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
