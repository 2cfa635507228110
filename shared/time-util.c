/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "time-util.h"
#include "string-util.h"

#include <stdbool.h>

/* Days from civil, after H. Hinnant's public-domain date algorithms. */
int64_t ul_time_from_fields(int year, int month, int day, int hour, int min, int sec)
{
    if (year < 1970 || year > 9999 || month < 1 || month > 12 || day < 1 || day > 31 ||
        hour < 0 || hour > 23 || min < 0 || min > 59 || sec < 0 || sec > 60)
        return -1;
    static const uint8_t mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > mdays[month - 1] || (month == 2 && day == 29 && !leap))
        return -1;
    int64_t y = year - (month <= 2);
    int64_t era = y / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = (month + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return days * 86400 + hour * 3600 + min * 60 + sec;
}

void ul_time_to_fields(int64_t secs, int *year, int *month, int *day, int *hour, int *min,
                       int *sec)
{
    if (secs < 0)
        secs = 0;
    int64_t days = secs / 86400, rem = secs % 86400;
    *hour = (int)(rem / 3600);
    *min = (int)(rem % 3600 / 60);
    *sec = (int)(rem % 60);
    days += 719468;
    int64_t era = days / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = (int)(yoe + era * 400 + (*month <= 2));
}

void ul_time_format(int64_t secs, char *buf, size_t size)
{
    int y, mo, d, h, mi, s;
    ul_time_to_fields(secs, &y, &mo, &d, &h, &mi, &s);
    ul_snprintf(buf, size, "%04d-%02d-%02d %02d:%02d:%02d", y, mo, d, h, mi, s);
}

void ul_time_format_iso(int64_t secs, char *buf, size_t size)
{
    int y, mo, d, h, mi, s;
    ul_time_to_fields(secs, &y, &mo, &d, &h, &mi, &s);
    ul_snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo, d, h, mi, s);
}

struct ul_time ul_clock_now(const struct ul_clock *clock)
{
    struct ul_time t = { 0 };
    if (clock && clock->ops && clock->ops->now && clock->ops->now(clock->ctx, &t) < 0)
        t.valid = false;
    return t;
}
