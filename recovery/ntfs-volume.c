/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The CLI's NTFS volumes: a byte range of a file or block device presented
 * to libntfs-3g as the whole device, so a partition inside a disk image is
 * opened without loop devices, FUSE or root.  Everything else (probing,
 * mount policy, the volume ops) is shared/ntfs/ul-ntfs.c.
 */
#include "ntfs-volume.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ntfs-3g/types.h>
#include <ntfs-3g/device.h>

#include "cli.h"

/* ------------------------------------------------------------------ */
/* Device: a byte range of a file or block device                      */

struct range_dev {
    char *path;
    int fd;
    uint64_t offset;
    uint64_t length; /* 0 until opened when the caller said "to the end" */
    s64 pos;
};

static int range_size(int fd, const struct stat *st, uint64_t *ret)
{
    if (S_ISBLK(st->st_mode)) {
        uint64_t n;
        if (ioctl(fd, BLKGETSIZE64, &n) < 0)
            return -errno;
        *ret = n;
        return 0;
    }
    if (!S_ISREG(st->st_mode))
        return -EINVAL;
    *ret = (uint64_t)st->st_size;
    return 0;
}

/* Opens the file and checks the range; fd stays open on success. */
static int range_open_fd(struct range_dev *rd, bool rw)
{
    struct stat st;
    uint64_t size = 0;
    int r;

    rd->fd = open(rd->path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (rd->fd < 0)
        return -errno;
    if (fstat(rd->fd, &st) < 0) {
        r = -errno;
        goto fail;
    }
    r = range_size(rd->fd, &st, &size);
    if (r < 0)
        goto fail;
    if (rd->offset > size) {
        r = -ENXIO;
        goto fail;
    }
    if (rd->length == 0)
        rd->length = size - rd->offset;
    if (rd->length > size - rd->offset) {
        r = -ENXIO;
        goto fail;
    }
    if (rw) {
        /* Another writer on the same range would corrupt the volume. */
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
                            .l_start = (off_t)rd->offset, .l_len = (off_t)rd->length };
        if (fcntl(rd->fd, F_SETLK, &fl) < 0) {
            r = errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
            goto fail;
        }
    }
    return 0;
fail:
    close(rd->fd);
    rd->fd = -1;
    return r;
}

static int dev_open(struct ntfs_device *dev, int flags)
{
    struct range_dev *rd = dev->d_private;
    bool rw = (flags & O_ACCMODE) == O_RDWR;
    struct stat st;
    int r;

    if (NDevOpen(dev)) {
        errno = EBUSY;
        return -1;
    }
    r = range_open_fd(rd, rw);
    if (r < 0) {
        errno = r == -EACCES && rw ? EROFS : -r;
        return -1;
    }
    if (fstat(rd->fd, &st) == 0 && S_ISBLK(st.st_mode))
        NDevSetBlock(dev);
    if (rw)
        NDevClearReadOnly(dev);
    else
        NDevSetReadOnly(dev);
    rd->pos = 0;
    NDevSetOpen(dev);
    return 0;
}

static int dev_close(struct ntfs_device *dev)
{
    struct range_dev *rd = dev->d_private;
    int r = 0;

    if (!NDevOpen(dev)) {
        errno = EBADF;
        return -1;
    }
    if (NDevDirty(dev) && fsync(rd->fd) < 0)
        r = -1;
    if (close(rd->fd) < 0)
        r = -1;
    rd->fd = -1;
    NDevClearOpen(dev);
    return r;
}

static s64 dev_seek(struct ntfs_device *dev, s64 offset, int whence)
{
    struct range_dev *rd = dev->d_private;
    s64 base;

    switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = rd->pos; break;
    case SEEK_END: base = (s64)rd->length; break;
    default: errno = EINVAL; return -1;
    }
    if ((offset < 0 && base + offset < 0) || base + offset > (s64)rd->length) {
        errno = EINVAL;
        return -1;
    }
    rd->pos = base + offset;
    return rd->pos;
}

static s64 dev_pread(struct ntfs_device *dev, void *buf, s64 count, s64 offset)
{
    struct range_dev *rd = dev->d_private;
    s64 done = 0;

    if (offset < 0 || count < 0) {
        errno = EINVAL;
        return -1;
    }
    if ((uint64_t)offset >= rd->length)
        return 0;
    if ((uint64_t)count > rd->length - (uint64_t)offset)
        count = (s64)(rd->length - (uint64_t)offset);
    while (done < count) {
        ssize_t n = pread(rd->fd, (char *)buf + done, (size_t)(count - done),
                          (off_t)(rd->offset + (uint64_t)offset + (uint64_t)done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return done ? done : -1;
        if (n == 0)
            break;
        done += n;
    }
    return done;
}

static s64 dev_pwrite(struct ntfs_device *dev, const void *buf, s64 count, s64 offset)
{
    struct range_dev *rd = dev->d_private;
    s64 done = 0;

    cli_power_cut_hook();

    if (NDevReadOnly(dev)) {
        errno = EROFS;
        return -1;
    }
    if (offset < 0 || count < 0) {
        errno = EINVAL;
        return -1;
    }
    if ((uint64_t)offset >= rd->length) {
        errno = count ? ENOSPC : 0;
        return count ? -1 : 0;
    }
    if ((uint64_t)count > rd->length - (uint64_t)offset)
        count = (s64)(rd->length - (uint64_t)offset);
    NDevSetDirty(dev);
    while (done < count) {
        ssize_t n = pwrite(rd->fd, (const char *)buf + done, (size_t)(count - done),
                           (off_t)(rd->offset + (uint64_t)offset + (uint64_t)done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return done ? done : -1;
        done += n;
    }
    return done;
}

static s64 dev_read(struct ntfs_device *dev, void *buf, s64 count)
{
    struct range_dev *rd = dev->d_private;
    s64 n = dev_pread(dev, buf, count, rd->pos);
    if (n > 0)
        rd->pos += n;
    return n;
}

static s64 dev_write(struct ntfs_device *dev, const void *buf, s64 count)
{
    struct range_dev *rd = dev->d_private;
    s64 n = dev_pwrite(dev, buf, count, rd->pos);
    if (n > 0)
        rd->pos += n;
    return n;
}

static int dev_sync(struct ntfs_device *dev)
{
    struct range_dev *rd = dev->d_private;

    if (NDevReadOnly(dev))
        return 0;
    if (fsync(rd->fd) < 0)
        return -1;
    NDevClearDirty(dev);
    return 0;
}

/* The range looks like a regular file of its own length. */
static int dev_stat(struct ntfs_device *dev, struct stat *buf)
{
    struct range_dev *rd = dev->d_private;

    if (fstat(rd->fd, buf) < 0)
        return -1;
    buf->st_mode = (buf->st_mode & ~(mode_t)S_IFMT) | S_IFREG;
    buf->st_size = (off_t)rd->length;
    buf->st_blocks = (blkcnt_t)((rd->length + 511) / 512);
    return 0;
}

static int dev_ioctl(struct ntfs_device *dev, unsigned long request, void *argp)
{
    struct range_dev *rd = dev->d_private;

    switch (request) {
    case BLKGETSIZE64:
        *(uint64_t *)argp = rd->length;
        return 0;
    case BLKGETSIZE:
        *(unsigned long *)argp = (unsigned long)(rd->length / 512);
        return 0;
    case BLKSSZGET:
        /* the disk's logical sector size; a file has none to tell */
        if (NDevBlock(dev))
            return ioctl(rd->fd, BLKSSZGET, argp);
        break;
    default:
        break;
    }
    /* No geometry, no block size changes, no discard through a window. */
    errno = ENOTTY;
    return -1;
}

static struct ntfs_device_operations range_dev_ops = {
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


static void range_release(void *priv)
{
    struct range_dev *rd = priv;
    free(rd->path);
    free(rd);
}

static struct range_dev *range_new(const char *path, uint64_t offset, uint64_t length)
{
    struct range_dev *rd = calloc(1, sizeof(*rd));
    if (!rd)
        return NULL;
    rd->path = strdup(path);
    if (!rd->path) {
        free(rd);
        return NULL;
    }
    rd->fd = -1;
    rd->offset = offset;
    rd->length = length;
    return rd;
}

int ul_ntfs_probe(const char *path, uint64_t offset, uint64_t length, struct ul_ntfs_probe *out)
{
    struct range_dev rd = { .path = (char *)path, .fd = -1, .offset = offset, .length = length };
    struct ul_ntfs_dev d = { .name = path, .ops = &range_dev_ops, .priv = &rd };
    return ul_ntfs_probe_dev(&d, out, NULL, 0);
}

int ul_ntfs_open(const char *path, uint64_t offset, uint64_t length, unsigned flags,
                 struct ul_ntfs **ret, char *err, size_t errlen)
{
    struct range_dev *rd = range_new(path, offset, length);
    *ret = NULL;
    if (!rd) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    struct ul_ntfs_dev d = { .name = rd->path, .ops = &range_dev_ops, .priv = rd,
                             .release = range_release };
    return ul_ntfs_open_dev(&d, flags, ret, err, errlen);
}
