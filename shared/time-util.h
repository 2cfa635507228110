/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef UL_TIME_UTIL_H
#define UL_TIME_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "ops.h"

/* Seconds since 1970 of a proleptic Gregorian date; -1 if a field is out of range. */
int64_t ul_time_from_fields(int year, int month, int day, int hour, int min, int sec);
void ul_time_to_fields(int64_t secs, int *year, int *month, int *day, int *hour, int *min,
                       int *sec);
/* "YYYY-MM-DD HH:MM:SS"; buf needs 20 bytes. */
void ul_time_format(int64_t secs, char *buf, size_t size);
/* "YYYY-MM-DDTHH:MM:SSZ" (ISO 8601, UTC); buf needs 21 bytes. */
void ul_time_format_iso(int64_t secs, char *buf, size_t size);
/* Reads the clock; on failure returns an invalid time rather than an error. */
struct ul_time ul_clock_now(const struct ul_clock *clock);

#endif
