/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libntfs-3g device operations over an unlocked BitLocker volume (DESIGN.md
 * §1: block device -> BitLocker layer -> libntfs-3g).
 *
 * Reads go through ul_bitlocker_read(), so libntfs-3g sees exactly the
 * volume 'unloop bitlocker unlock --output' and dislocker-file write: the
 * relocated first sectors in place, the metadata areas as zeros.
 *
 * Writes go through ul_bitlocker_write(), its inverse (encrypting, the
 * relocated first sectors to their copy, BitLocker's own areas refused).
 */
#include "bitlocker-volume.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ntfs-3g/types.h>
#include <ntfs-3g/device.h>

#include "../shared/bitlocker.h"
#include "../shared/ul-errno.h"
#include "cli.h"

struct ul_blvol {
    int refs;
    char *path;
    uint64_t offset, length;
    int rfd;                    /* read-only, for the whole life */
    int wfd;                    /* read-write while a device is open for writing */
    struct ul_bitlocker *bl;
    const struct ul_bitlocker_info *info;
    s64 pos;
};

/* ------------------------------------------------------------------ */
/* The raw range, for shared/bitlocker.c and the write path            */

static int raw_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    const struct ul_blvol *bv = ctx;

    if (off > bv->length || len > bv->length - off)
        return -UL_ERANGE;
    return cli_pread_all(bv->rfd, buf, len, bv->offset + off);
}

static int raw_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    const struct ul_blvol *bv = ctx;

    if (bv->wfd < 0)
        return -EROFS;
    if (off > bv->length || len > bv->length - off)
        return -EIO;
    return cli_pwrite_all(bv->wfd, buf, len, bv->offset + off);
}

static int range_size(int fd, uint64_t *ret)
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

static void blvol_free(struct ul_blvol *bv)
{
    ul_bitlocker_close(bv->bl); /* wipes the FVEK and every derived key */
    bv->info = NULL;
    if (bv->wfd >= 0)
        close(bv->wfd);
    if (bv->rfd >= 0)
        close(bv->rfd);
    free(bv->path);
    free(bv);
}

int ul_blvol_open(const char *path, uint64_t offset, uint64_t length, struct ul_blvol **ret,
                  char *err, size_t errlen)
{
    struct ul_blvol *bv = calloc(1, sizeof(*bv));
    uint64_t size = 0;
    const char *why = NULL;
    int r = 0;

    *ret = NULL;
    if (!bv || !(bv->path = strdup(path))) {
        free(bv);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    bv->refs = 1;
    bv->wfd = -1;
    bv->offset = offset;
    bv->rfd = open(path, O_RDONLY | O_CLOEXEC);
    r = bv->rfd < 0 ? -errno : range_size(bv->rfd, &size);
    if (r < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(-r));
        goto fail;
    }
    if (offset > size || length > size - offset) {
        r = -ENXIO;
        snprintf(err, errlen, "%s: the volume lies past the end (truncated image?)", path);
        goto fail;
    }
    bv->length = length ? length : size - offset;
    struct ul_bitlocker_dev dev = { raw_read, bv, bv->length, raw_write };
    r = ul_bitlocker_open(&dev, &cli_mem, &bv->bl, &why);
    if (r < 0) {
        snprintf(err, errlen, "%s: %s", path, why ? why : strerror(-r));
        goto fail;
    }
    bv->info = ul_bitlocker_get_info(bv->bl);
    *ret = bv;
    return 0;
fail:
    blvol_free(bv);
    return r;
}

struct ul_bitlocker *ul_blvol_bitlocker(struct ul_blvol *bv)
{
    return bv->bl;
}

void ul_blvol_unref(struct ul_blvol *bv)
{
    if (bv && --bv->refs == 0)
        blvol_free(bv);
}

/* ------------------------------------------------------------------ */
/* libntfs-3g device operations                                        */

static int dev_open(struct ntfs_device *dev, int flags)
{
    struct ul_blvol *bv = dev->d_private;
    bool rw = (flags & O_ACCMODE) == O_RDWR;

    if (NDevOpen(dev)) {
        errno = EBUSY;
        return -1;
    }
    if (!ul_bitlocker_is_unlocked(bv->bl)) {
        errno = EACCES;
        return -1;
    }
    if (rw) {
        bv->wfd = open(bv->path, O_RDWR | O_CLOEXEC);
        if (bv->wfd < 0) {
            errno = errno == EACCES ? EROFS : errno;
            return -1;
        }
        /* Another writer on the same range would corrupt the volume. */
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
                            .l_start = (off_t)bv->offset, .l_len = (off_t)bv->length };
        if (fcntl(bv->wfd, F_SETLK, &fl) < 0) {
            int e = errno == EAGAIN || errno == EACCES ? EBUSY : errno;
            close(bv->wfd);
            bv->wfd = -1;
            errno = e;
            return -1;
        }
        NDevClearReadOnly(dev);
    } else {
        NDevSetReadOnly(dev);
    }
    struct stat st;
    if (fstat(bv->rfd, &st) == 0 && S_ISBLK(st.st_mode))
        NDevSetBlock(dev);
    bv->pos = 0;
    NDevSetOpen(dev);
    return 0;
}

static int dev_close(struct ntfs_device *dev)
{
    struct ul_blvol *bv = dev->d_private;
    int r = 0;

    if (!NDevOpen(dev)) {
        errno = EBADF;
        return -1;
    }
    if (bv->wfd >= 0) {
        if (NDevDirty(dev) && fsync(bv->wfd) < 0)
            r = -1;
        if (close(bv->wfd) < 0)
            r = -1;
        bv->wfd = -1;
    }
    NDevClearOpen(dev);
    return r;
}

static s64 dev_seek(struct ntfs_device *dev, s64 offset, int whence)
{
    struct ul_blvol *bv = dev->d_private;
    s64 base;

    switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = bv->pos; break;
    case SEEK_END: base = (s64)bv->length; break;
    default: errno = EINVAL; return -1;
    }
    if ((offset < 0 && base + offset < 0) || base + offset > (s64)bv->length) {
        errno = EINVAL;
        return -1;
    }
    bv->pos = base + offset;
    return bv->pos;
}

static s64 dev_pread(struct ntfs_device *dev, void *buf, s64 count, s64 offset)
{
    struct ul_blvol *bv = dev->d_private;

    if (offset < 0 || count < 0) {
        errno = EINVAL;
        return -1;
    }
    if ((uint64_t)offset >= bv->length)
        return 0;
    if ((uint64_t)count > bv->length - (uint64_t)offset)
        count = (s64)(bv->length - (uint64_t)offset);
    int r = ul_bitlocker_read(bv->bl, (uint64_t)offset, buf, (size_t)count);
    if (r < 0) {
        errno = r == -UL_ERANGE ? EINVAL : EIO;
        return -1;
    }
    return count;
}

static s64 dev_pwrite(struct ntfs_device *dev, const void *buf, s64 count, s64 offset)
{
    struct ul_blvol *bv = dev->d_private;

    cli_power_cut_hook();

    if (NDevReadOnly(dev) || bv->wfd < 0) {
        errno = EROFS;
        return -1;
    }
    if (offset < 0 || count < 0) {
        errno = EINVAL;
        return -1;
    }
    if ((uint64_t)offset >= bv->length) {
        errno = count ? ENOSPC : 0;
        return count ? -1 : 0;
    }
    if ((uint64_t)count > bv->length - (uint64_t)offset)
        count = (s64)(bv->length - (uint64_t)offset);
    NDevSetDirty(dev);
    int r = ul_bitlocker_write(bv->bl, (uint64_t)offset, buf, (size_t)count);
    if (r < 0) {
        errno = r == -UL_ERANGE ? EINVAL : -r;
        return -1;
    }
    return count;
}

static s64 dev_read(struct ntfs_device *dev, void *buf, s64 count)
{
    struct ul_blvol *bv = dev->d_private;
    s64 n = dev_pread(dev, buf, count, bv->pos);
    if (n > 0)
        bv->pos += n;
    return n;
}

static s64 dev_write(struct ntfs_device *dev, const void *buf, s64 count)
{
    struct ul_blvol *bv = dev->d_private;
    s64 n = dev_pwrite(dev, buf, count, bv->pos);
    if (n > 0)
        bv->pos += n;
    return n;
}

static int dev_sync(struct ntfs_device *dev)
{
    struct ul_blvol *bv = dev->d_private;

    if (NDevReadOnly(dev) || bv->wfd < 0)
        return 0;
    if (fsync(bv->wfd) < 0)
        return -1;
    NDevClearDirty(dev);
    return 0;
}

/* The volume looks like a regular file of its own length. */
static int dev_stat(struct ntfs_device *dev, struct stat *buf)
{
    struct ul_blvol *bv = dev->d_private;

    if (fstat(bv->rfd, buf) < 0)
        return -1;
    buf->st_mode = (buf->st_mode & ~(mode_t)S_IFMT) | S_IFREG;
    buf->st_size = (off_t)bv->length;
    buf->st_blocks = (blkcnt_t)((bv->length + 511) / 512);
    return 0;
}

static int dev_ioctl(struct ntfs_device *dev, unsigned long request, void *argp)
{
    struct ul_blvol *bv = dev->d_private;

    switch (request) {
    case BLKGETSIZE64:
        *(uint64_t *)argp = bv->length;
        return 0;
    case BLKGETSIZE:
        *(unsigned long *)argp = (unsigned long)(bv->length / 512);
        return 0;
    case BLKSSZGET:
        *(int *)argp = (int)bv->info->sector_size;
        return 0;
    default:
        break;
    }
    errno = ENOTTY;
    return -1;
}

static struct ntfs_device_operations blvol_dev_ops = {
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

static void blvol_release(void *priv)
{
    ul_blvol_unref(priv);
}

void ul_blvol_ntfs_dev(struct ul_blvol *bv, struct ul_ntfs_dev *ret)
{
    bv->refs++;
    *ret = (struct ul_ntfs_dev){ .name = bv->path, .ops = &blvol_dev_ops, .priv = bv,
                                 .release = blvol_release };
}
