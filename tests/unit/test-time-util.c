/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * time-util: conversions between seconds and calendar fields, with glibc's
 * timegm() and gmtime_r() as the oracle, and the two text formats against
 * strftime().
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fake-volume.h"
#include "time-util.h"
#include "unloop-contract.h"
#include "ul-errno.h"

static int64_t oracle_timegm(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                     .tm_hour = h, .tm_min = mi, .tm_sec = s };
    return (int64_t)timegm(&tm);
}

static void check_secs(int64_t secs)
{
    struct tm tm;
    time_t t = (time_t)secs;
    int y, mo, d, h, mi, s;

    assert_non_null(gmtime_r(&t, &tm));
    ul_time_to_fields(secs, &y, &mo, &d, &h, &mi, &s);
    if (y != tm.tm_year + 1900 || mo != tm.tm_mon + 1 || d != tm.tm_mday || h != tm.tm_hour ||
        mi != tm.tm_min || s != tm.tm_sec)
        fail_msg("to_fields(%lld) = %04d-%02d-%02d %02d:%02d:%02d, gmtime %04d-%02d-%02d "
                 "%02d:%02d:%02d", (long long)secs, y, mo, d, h, mi, s, tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    int64_t back = ul_time_from_fields(y, mo, d, h, mi, s);
    if (y > 9999) { /* past the documented range */
        assert_int_equal(back, -1);
        return;
    }
    if (back != secs)
        fail_msg("from_fields(to_fields(%lld)) = %lld", (long long)secs, (long long)back);
}

static int days_in_month(int y, int m)
{
    static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* Every day from 1970 to 2199, each at a different time of day. */
static void test_every_day_against_timegm(void **state)
{
    (void)state;
    unsigned k = 0;
    for (int y = 1970; y < 2200; y++) {
        for (int m = 1; m <= 12; m++) {
            for (int d = 1; d <= days_in_month(y, m); d++, k++) {
                int h = (int)(k * 7 % 24), mi = (int)(k * 13 % 60), s = (int)(k * 31 % 60);
                int64_t want = oracle_timegm(y, m, d, h, mi, s);
                int64_t got = ul_time_from_fields(y, m, d, h, mi, s);
                if (got != want)
                    fail_msg("from_fields(%04d-%02d-%02d %02d:%02d:%02d) = %lld, timegm %lld",
                             y, m, d, h, mi, s, (long long)got, (long long)want);
                check_secs(got);
            }
        }
    }
}

/* Far years, century rules and the ends of the range. */
static void test_far_years_and_leap_rules(void **state)
{
    (void)state;
    static const int years[] = { 1970, 1972, 1999, 2000, 2001, 2004, 2038, 2096, 2100,
                                 2104, 2200, 2300, 2400, 2401, 3000, 4000, 5555, 9996, 9999 };
    for (size_t i = 0; i < sizeof(years) / sizeof(years[0]); i++) {
        int y = years[i];
        for (int m = 1; m <= 12; m++) {
            int dim = days_in_month(y, m);
            static const int days[] = { 1, 15, 28, 29, 30, 31 };
            for (size_t j = 0; j < sizeof(days) / sizeof(days[0]); j++) {
                if (days[j] > dim)
                    continue;
                int64_t want = oracle_timegm(y, m, days[j], 23, 59, 59);
                assert_int_equal(ul_time_from_fields(y, m, days[j], 23, 59, 59), want);
                check_secs(want);
                check_secs(want + 1);
            }
        }
    }
    /* Leap days exist exactly where the Gregorian rules say. */
    assert_int_equal(ul_time_from_fields(2000, 3, 1, 0, 0, 0) -
                     ul_time_from_fields(2000, 2, 28, 0, 0, 0), 2 * 86400);
    assert_int_equal(ul_time_from_fields(2100, 3, 1, 0, 0, 0) -
                     ul_time_from_fields(2100, 2, 28, 0, 0, 0), 86400);
    assert_int_equal(ul_time_from_fields(2024, 3, 1, 0, 0, 0) -
                     ul_time_from_fields(2024, 2, 28, 0, 0, 0), 2 * 86400);
    assert_int_equal(ul_time_from_fields(1970, 1, 1, 0, 0, 0), 0);
    assert_int_equal(ul_time_from_fields(2038, 1, 19, 3, 14, 8), 2147483648LL);
    assert_int_equal(ul_time_from_fields(9999, 12, 31, 23, 59, 59), 253402300799LL);

    /* Random seconds over the whole range. */
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        check_secs((int64_t)(x % 253402300800ull));
    }
}

static void test_out_of_range_fields(void **state)
{
    (void)state;
    static const int bad[][6] = {
        { 1969, 12, 31, 23, 59, 59 }, { 10000, 1, 1, 0, 0, 0 }, { 0, 1, 1, 0, 0, 0 },
        { -1, 1, 1, 0, 0, 0 },        { 2024, 0, 1, 0, 0, 0 },   { 2024, 13, 1, 0, 0, 0 },
        { 2024, 1, 0, 0, 0, 0 },      { 2024, 1, 32, 0, 0, 0 },  { 2024, 1, 1, 24, 0, 0 },
        { 2024, 1, 1, -1, 0, 0 },     { 2024, 1, 1, 0, 60, 0 },  { 2024, 1, 1, 0, -1, 0 },
        { 2024, 1, 1, 0, 0, 61 },     { 2024, 1, 1, 0, 0, -1 },  { 2024, 255, 255, 255, 255, 255 },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const int *f = bad[i];
        if (ul_time_from_fields(f[0], f[1], f[2], f[3], f[4], f[5]) != -1)
            fail_msg("from_fields(%d-%d-%d %d:%d:%d) accepted", f[0], f[1], f[2], f[3], f[4],
                     f[5]);
    }
    /* A leap second (an RTC may report :60) counts as the next minute's :00,
     * as timegm() does. */
    assert_int_equal(ul_time_from_fields(2016, 12, 31, 23, 59, 60),
                     oracle_timegm(2016, 12, 31, 23, 59, 60));
}

static void test_negative_seconds_clamp(void **state)
{
    (void)state;
    int y, mo, d, h, mi, s;
    ul_time_to_fields(-1, &y, &mo, &d, &h, &mi, &s);
    assert_int_equal(y, 1970);
    assert_int_equal(mo, 1);
    assert_int_equal(d, 1);
    assert_int_equal(h + mi + s, 0);
    ul_time_to_fields(INT64_MIN, &y, &mo, &d, &h, &mi, &s);
    assert_int_equal(y, 1970);
}

static void test_formats(void **state)
{
    (void)state;
    char buf[32], want[32];
    static const int64_t samples[] = { 0, 1, 59, 86399, 86400, 951782400 /* 2000-02-29 */,
                                       1709251199, 2147483647, 4102444800, 253402300799LL };

    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        time_t t = (time_t)samples[i];
        struct tm tm;
        gmtime_r(&t, &tm);

        strftime(want, sizeof(want), "%Y-%m-%d %H:%M:%S", &tm);
        memset(buf, 'Z', sizeof(buf));
        ul_time_format(samples[i], buf, 20); /* the documented size is enough */
        assert_string_equal(buf, want);

        strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
        memset(buf, 'Z', sizeof(buf));
        ul_time_format_iso(samples[i], buf, 21);
        assert_string_equal(buf, want);
    }
    ul_time_format(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01 00:00:00");
    ul_time_format_iso(951782400 + 3723, buf, sizeof(buf));
    assert_string_equal(buf, "2000-02-29T01:02:03Z");

    /* Too small a buffer truncates and terminates; nothing past it is touched. */
    memset(buf, 'Z', sizeof(buf));
    ul_time_format(0, buf, 11);
    assert_string_equal(buf, "1970-01-01");
    assert_int_equal(buf[11], 'Z');
    memset(buf, 'Z', sizeof(buf));
    ul_time_format_iso(0, buf, 1);
    assert_string_equal(buf, "");
    assert_int_equal(buf[1], 'Z');
}

static void test_clock_now(void **state)
{
    (void)state;
    struct fake_clock fc = { 0 };
    struct ul_clock clock = fake_clock_get(&fc);
    struct ul_time t;

    fake_clock_set(&fc, 1700000000, 60, true);
    t = ul_clock_now(&clock);
    assert_true(t.valid);
    assert_int_equal(t.secs, 1700000000);
    assert_int_equal(t.tz, 60);

    fake_clock_set(&fc, 1700000000, UL_TZ_UNSPECIFIED, false);
    t = ul_clock_now(&clock);
    assert_false(t.valid);

    /* A failing clock yields an invalid time, not an error. */
    fake_clock_set(&fc, 1700000000, 0, true);
    fake_clock_fail(&fc, -UL_EIO);
    t = ul_clock_now(&clock);
    assert_false(t.valid);
    assert_int_equal(fc.calls, 3);

    /* No clock at all. */
    assert_false(ul_clock_now(NULL).valid);
    struct ul_clock none = { 0 };
    assert_false(ul_clock_now(&none).valid);
    static const struct ul_clock_ops no_now = { 0 };
    struct ul_clock empty = { .ops = &no_now };
    assert_false(ul_clock_now(&empty).valid);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_day_against_timegm),
        cmocka_unit_test(test_far_years_and_leap_rules),
        cmocka_unit_test(test_out_of_range_fields),
        cmocka_unit_test(test_negative_seconds_clamp),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_clock_now),
    };
    return cmocka_run_group_tests_name("time-util", tests, NULL, NULL);
}
