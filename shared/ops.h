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

/* File times as Windows FILETIME: 100 ns units since 1601-01-01 UTC; 0 = unknown.
 * On NTFS these are the $STANDARD_INFORMATION times (never the $FILE_NAME
 * copies in directory indexes, which lag behind). */
struct ul_times {
    uint64_t creation;
    uint64_t modification;      /* last data change */
    uint64_t mft_change;        /* last metadata change */
    uint64_t access;
};

struct ul_stat {
    uint64_t size;
    bool is_dir;
    struct ul_times times;      /* zeros where the volume cannot tell */
    uint64_t file_id;           /* NTFS MFT reference, inode number; 0 = unknown */
};

/* Called once per directory entry ("." and ".." are never passed); a
 * non-zero return stops the listing and is returned by list(). */
typedef int (*ul_list_cb)(void *arg, const char *name, const struct ul_stat *st);

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

    /* Optional (NULL where the volume cannot): */
    /* Every entry of a directory, with its stat. Names are UTF-8. */
    int (*list)(void *ctx, const char *dir, ul_list_cb cb, void *arg);
    /* Move a file to another directory of the same volume (no data copy);
     * -UL_EEXIST if the target exists.  May be two steps underneath (NTFS:
     * link, then unlink): after a power cut both names can exist for one
     * file (same file_id), which journal replay resolves. */
    int (*move)(void *ctx, const char *from, const char *to);
    /* Set the four times (e.g. to put back what a move changed). */
    int (*set_times)(void *ctx, const char *path, const struct ul_times *times);
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
    /* Optional: microseconds from an arbitrary start, for debug timings. */
    uint64_t (*micros)(void *ctx);
};

struct ul_clock {
    const struct ul_clock_ops *ops;
    void *ctx;
};

#endif
