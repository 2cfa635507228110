/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The libntfs-3g device operations the CLI's two volume kinds share
 * (ntfs-window.h): a byte window of fixed length with a position, bounds,
 * the read-only and dirty flags, the power-cut test hook, and a stat that
 * makes the window look like a regular file of its own length.  What lies
 * under the window (a range of a file, an unlocked BitLocker volume) is the
 * backend's.
 */
#include "ntfs-window.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h> /* va_list, for ntfs-3g/logging.h */
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ntfs-3g/device.h>

#include "cli.h"

static struct cli_window *win(struct ntfs_device *dev)
{
    return dev->d_private;
}

static int dev_open(struct ntfs_device *dev, int flags)
{
    struct cli_window *w = win(dev);
    bool rw = (flags & O_ACCMODE) == O_RDWR;
    struct stat st;
    int r;

    if (NDevOpen(dev)) {
        errno = EBUSY;
        return -1;
    }
    r = w->ops->open(w, rw);
    if (r < 0) {
        errno = -r;
        return -1;
    }
    if (fstat(w->stat_fd, &st) == 0 && S_ISBLK(st.st_mode))
        NDevSetBlock(dev);
    if (rw)
        NDevClearReadOnly(dev);
    else
        NDevSetReadOnly(dev);
    w->pos = 0;
    NDevSetOpen(dev);
    return 0;
}

static int dev_close(struct ntfs_device *dev)
{
    struct cli_window *w = win(dev);
    int r = 0;

    if (!NDevOpen(dev)) {
        errno = EBADF;
        return -1;
    }
    if (w->sync_fd >= 0 && NDevDirty(dev) && fsync(w->sync_fd) < 0)
        r = -1;
    if (w->ops->close(w) < 0)
        r = -1;
    NDevClearOpen(dev);
    return r;
}

static s64 dev_seek(struct ntfs_device *dev, s64 offset, int whence)
{
    struct cli_window *w = win(dev);
    s64 base;

    switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = w->pos; break;
    case SEEK_END: base = (s64)w->length; break;
    default: errno = EINVAL; return -1;
    }
    if ((offset < 0 && base + offset < 0) || base + offset > (s64)w->length) {
        errno = EINVAL;
        return -1;
    }
    w->pos = base + offset;
    return w->pos;
}

static s64 dev_pread(struct ntfs_device *dev, void *buf, s64 count, s64 offset)
{
    struct cli_window *w = win(dev);

    if (offset < 0 || count < 0) {
        errno = EINVAL;
        return -1;
    }
    if ((uint64_t)offset >= w->length)
        return 0;
    if ((uint64_t)count > w->length - (uint64_t)offset)
        count = (s64)(w->length - (uint64_t)offset);
    int r = w->ops->pread(w, (uint64_t)offset, buf, (size_t)count);
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return count;
}

static s64 dev_pwrite(struct ntfs_device *dev, const void *buf, s64 count, s64 offset)
{
    struct cli_window *w = win(dev);

    cli_power_cut_hook();

    if (NDevReadOnly(dev) || w->sync_fd < 0) {
        errno = EROFS;
        return -1;
    }
    if (offset < 0 || count < 0) {
        errno = EINVAL;
        return -1;
    }
    if ((uint64_t)offset >= w->length) {
        errno = count ? ENOSPC : 0;
        return count ? -1 : 0;
    }
    if ((uint64_t)count > w->length - (uint64_t)offset)
        count = (s64)(w->length - (uint64_t)offset);
    NDevSetDirty(dev);
    int r = w->ops->pwrite(w, (uint64_t)offset, buf, (size_t)count);
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return count;
}

static s64 dev_read(struct ntfs_device *dev, void *buf, s64 count)
{
    struct cli_window *w = win(dev);
    s64 n = dev_pread(dev, buf, count, w->pos);
    if (n > 0)
        w->pos += n;
    return n;
}

static s64 dev_write(struct ntfs_device *dev, const void *buf, s64 count)
{
    struct cli_window *w = win(dev);
    s64 n = dev_pwrite(dev, buf, count, w->pos);
    if (n > 0)
        w->pos += n;
    return n;
}

static int dev_sync(struct ntfs_device *dev)
{
    struct cli_window *w = win(dev);

    if (NDevReadOnly(dev) || w->sync_fd < 0)
        return 0;
    if (fsync(w->sync_fd) < 0)
        return -1;
    NDevClearDirty(dev);
    return 0;
}

/* The window looks like a regular file of its own length. */
static int dev_stat(struct ntfs_device *dev, struct stat *buf)
{
    struct cli_window *w = win(dev);

    if (fstat(w->stat_fd, buf) < 0)
        return -1;
    buf->st_mode = (buf->st_mode & ~(mode_t)S_IFMT) | S_IFREG;
    buf->st_size = (off_t)w->length;
    buf->st_blocks = (blkcnt_t)((w->length + 511) / 512);
    return 0;
}

static int dev_ioctl(struct ntfs_device *dev, unsigned long request, void *argp)
{
    struct cli_window *w = win(dev);

    switch (request) {
    case BLKGETSIZE64:
        *(uint64_t *)argp = w->length;
        return 0;
    case BLKGETSIZE:
        *(unsigned long *)argp = (unsigned long)(w->length / 512);
        return 0;
    case BLKSSZGET:
        if (w->sector_size) {
            *(int *)argp = (int)w->sector_size;
            return 0;
        }
        /* the disk's logical sector size; a file has none to tell */
        if (NDevBlock(dev))
            return ioctl(w->stat_fd, BLKSSZGET, argp);
        break;
    default:
        break;
    }
    /* No geometry, no block size changes, no discard through a window. */
    errno = ENOTTY;
    return -1;
}

struct ntfs_device_operations cli_window_dev_ops = {
    .open = dev_open,
    .close = dev_close,
    .seek = dev_seek,
    .read = dev_read,
    .write = dev_write,
    .pread = dev_pread,
    .pwrite = dev_pwrite,
    .sync = dev_sync,
    .stat = dev_stat,
    .ioctl = dev_ioctl,
};

int cli_window_size(int fd, uint64_t *ret)
{
    struct stat st;

    if (fstat(fd, &st) < 0)
        return -errno;
    if (S_ISBLK(st.st_mode))
        return ioctl(fd, BLKGETSIZE64, ret) < 0 ? -errno : 0;
    if (!S_ISREG(st.st_mode))
        return -EINVAL;
    *ret = (uint64_t)st.st_size;
    return 0;
}

int cli_window_lock(int fd, uint64_t offset, uint64_t length)
{
    /* Another writer on the same range would corrupt the volume. */
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
                        .l_start = (off_t)offset, .l_len = (off_t)length };
    if (fcntl(fd, F_SETLK, &fl) < 0)
        return errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
    return 0;
}
