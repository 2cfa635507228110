/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The ops tables through which the core reaches the world.  efi/ implements
 * them over UEFI protocols, recovery/ over POSIX, tests/ with stateful fakes.
 * Paths are ASCII with backslashes, relative to the volume root
 * ("\EFI\unloop\state"); matching is case-insensitive, as on FAT and NTFS.
 * Every function returns 0 or a negative UL_E* code.
 */
#ifndef UL_OPS_H
#define UL_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ul_stat {
    uint64_t size;
    bool is_dir;
};

struct ul_volume_ops {
    /* Read up to len bytes at off; *ret_read is short at end of file.
     * -UL_ENOENT when the file does not exist. */
    int (*read)(void *ctx, const char *path, uint64_t off, void *buf, size_t len,
                size_t *ret_read);
    /* Write len bytes at off, creating the file (not its directory) if needed
     * and extending it with zeros if off is past its end.  The data must be
     * on the medium (flushed) when this returns. */
    int (*write)(void *ctx, const char *path, uint64_t off, const void *buf, size_t len);
    int (*stat)(void *ctx, const char *path, struct ul_stat *ret);
    /* Create one directory; -UL_EEXIST if it is there already. */
    int (*mkdir)(void *ctx, const char *path);
    /* Rename within one directory; -UL_EEXIST if the target exists. */
    int (*rename)(void *ctx, const char *from, const char *to);
    int (*remove)(void *ctx, const char *path);
};

struct ul_volume {
    const struct ul_volume_ops *ops;
    void *ctx;
};

/*
 * A point in time as seconds since 1970-01-01 00:00:00 of the clock's own
 * zone.  The firmware clock (RTC) is usually local time with no zone
 * (tz == UL_TZ_UNSPECIFIED); the OS side reports UTC (tz == 0).
 */
struct ul_time {
    int64_t secs;
    int16_t tz;   /* minutes from UTC, or UL_TZ_UNSPECIFIED */
    bool valid;
};

struct ul_clock_ops {
    int (*now)(void *ctx, struct ul_time *ret);
};

struct ul_clock {
    const struct ul_clock_ops *ops;
    void *ctx;
};

#endif
