/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A libntfs-3g device over a window of fixed length (ntfs-window.c): the
 * CLI's range-of-a-file volumes (ntfs-volume.c) and unlocked BitLocker
 * volumes (bitlocker-volume.c) differ only in their backend.
 *
 * The backend embeds struct cli_window and passes its address as the
 * device's private pointer (struct ul_ntfs_dev .priv).
 */
#ifndef UL_NTFS_WINDOW_H
#define UL_NTFS_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ntfs-3g/types.h>

struct cli_window;

struct cli_window_ops {
    /* Make the window usable (read-write if rw): set length if it was 0,
     * stat_fd, and sync_fd (>= 0 only when writable).  0 or -errno. */
    int (*open)(struct cli_window *w, bool rw);
    /* Undo open (the device was synced if dirty).  0, or -1 with errno. */
    int (*close)(struct cli_window *w);
    /* The whole range, inside [0, length): 0 or -errno. */
    int (*pread)(struct cli_window *w, uint64_t off, void *buf, size_t len);
    int (*pwrite)(struct cli_window *w, uint64_t off, const void *buf, size_t len);
};

struct cli_window {
    const struct cli_window_ops *ops;
    uint64_t length;
    s64 pos;
    int stat_fd;          /* fstat()ed for the device's stat and block flag */
    int sync_fd;          /* fsync()ed; -1 while read-only */
    uint32_t sector_size; /* 0: ask the block device, if it is one */
};

extern struct ntfs_device_operations cli_window_dev_ops;

/* The size of a regular file or block device: 0 or -errno (-EINVAL for others). */
int cli_window_size(int fd, uint64_t *ret);
/* An exclusive write lock on [offset, offset+length) of fd: 0 or -errno
 * (-EBUSY when another process holds one). */
int cli_window_lock(int fd, uint64_t offset, uint64_t length);

#endif
