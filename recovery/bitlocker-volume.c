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
#include "ntfs-window.h"

struct ul_blvol {
    struct cli_window w;        /* first: the libntfs-3g device's private pointer */
    int refs;
    char *path;
    uint64_t offset, length;
    int rfd;                    /* read-only, for the whole life */
    int wfd;                    /* read-write while a device is open for writing */
    struct ul_bitlocker *bl;
    const struct ul_bitlocker_info *info;
};

static const struct cli_window_ops blvol_ops; /* below */

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
    r = bv->rfd < 0 ? -errno : cli_window_size(bv->rfd, &size);
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
    bv->w = (struct cli_window){ .ops = &blvol_ops, .length = bv->length, .stat_fd = bv->rfd,
                                 .sync_fd = -1 };
    struct ul_bitlocker_dev dev = { raw_read, bv, bv->length, raw_write };
    r = ul_bitlocker_open(&dev, &cli_mem, &bv->bl, &why);
    if (r < 0) {
        snprintf(err, errlen, "%s: %s", path, why ? why : strerror(-r));
        goto fail;
    }
    bv->info = ul_bitlocker_get_info(bv->bl);
    bv->w.sector_size = bv->info->sector_size;
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
/* The window libntfs-3g sees: the decrypted volume                    */

static struct ul_blvol *blvol_of(struct cli_window *w)
{
    return (struct ul_blvol *)w;
}

static int blvol_open(struct cli_window *w, bool rw)
{
    struct ul_blvol *bv = blvol_of(w);

    if (!ul_bitlocker_is_unlocked(bv->bl))
        return -EACCES;
    if (rw) {
        bv->wfd = open(bv->path, O_RDWR | O_CLOEXEC);
        if (bv->wfd < 0)
            return errno == EACCES ? -EROFS : -errno;
        int r = cli_window_lock(bv->wfd, bv->offset, bv->length);
        if (r < 0) {
            close(bv->wfd);
            bv->wfd = -1;
            return r;
        }
    }
    w->stat_fd = bv->rfd;
    w->sync_fd = bv->wfd;
    return 0;
}

static int blvol_close(struct cli_window *w)
{
    struct ul_blvol *bv = blvol_of(w);
    int r = 0;

    if (bv->wfd >= 0 && close(bv->wfd) < 0)
        r = -1;
    bv->wfd = w->sync_fd = -1;
    return r;
}

static int blvol_pread(struct cli_window *w, uint64_t off, void *buf, size_t len)
{
    int r = ul_bitlocker_read(blvol_of(w)->bl, off, buf, len);
    return r == -UL_ERANGE ? -EINVAL : r < 0 ? -EIO : 0;
}

static int blvol_pwrite(struct cli_window *w, uint64_t off, const void *buf, size_t len)
{
    int r = ul_bitlocker_write(blvol_of(w)->bl, off, buf, len);
    return r == -UL_ERANGE ? -EINVAL : r;
}

static const struct cli_window_ops blvol_ops = {
    .open = blvol_open,
    .close = blvol_close,
    .pread = blvol_pread,
    .pwrite = blvol_pwrite,
};

static void blvol_release(void *priv)
{
    ul_blvol_unref(priv);
}

void ul_blvol_ntfs_dev(struct ul_blvol *bv, struct ul_ntfs_dev *ret)
{
    bv->refs++;
    *ret = (struct ul_ntfs_dev){ .name = bv->path, .ops = &cli_window_dev_ops, .priv = &bv->w,
                                 .release = blvol_release };
}
