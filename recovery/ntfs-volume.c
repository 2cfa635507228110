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
#include "ntfs-window.h"

/* ------------------------------------------------------------------ */
/* Device: a byte range of a file or block device                      */

struct range_dev {
    struct cli_window w; /* first: the device's private pointer */
    char *path;
    int fd;
    uint64_t offset;
};

static struct range_dev *range_of(struct cli_window *w)
{
    return (struct range_dev *)w;
}

/* Opens the file and checks the range (length 0: to the end). */
static int range_open(struct cli_window *w, bool rw)
{
    struct range_dev *rd = range_of(w);
    uint64_t size = 0;
    int r;

    rd->fd = open(rd->path, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (rd->fd < 0)
        return errno == EACCES && rw ? -EROFS : -errno;
    r = cli_window_size(rd->fd, &size);
    if (r < 0)
        goto fail;
    if (rd->offset > size) {
        r = -ENXIO;
        goto fail;
    }
    if (w->length == 0)
        w->length = size - rd->offset;
    if (w->length > size - rd->offset) {
        r = -ENXIO;
        goto fail;
    }
    if (rw && (r = cli_window_lock(rd->fd, rd->offset, w->length)) < 0)
        goto fail;
    w->stat_fd = rd->fd;
    w->sync_fd = rw ? rd->fd : -1;
    return 0;
fail:
    close(rd->fd);
    rd->fd = -1;
    return r;
}

static int range_close(struct cli_window *w)
{
    struct range_dev *rd = range_of(w);
    int r = close(rd->fd);
    rd->fd = w->stat_fd = w->sync_fd = -1;
    return r;
}

static int range_pread(struct cli_window *w, uint64_t off, void *buf, size_t len)
{
    struct range_dev *rd = range_of(w);
    return cli_pread_all(rd->fd, buf, len, rd->offset + off);
}

static int range_pwrite(struct cli_window *w, uint64_t off, const void *buf, size_t len)
{
    struct range_dev *rd = range_of(w);
    return cli_pwrite_all(rd->fd, buf, len, rd->offset + off);
}

static const struct cli_window_ops range_ops = {
    .open = range_open,
    .close = range_close,
    .pread = range_pread,
    .pwrite = range_pwrite,
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
    rd->w = (struct cli_window){ .ops = &range_ops, .length = length, .stat_fd = -1,
                                 .sync_fd = -1 };
    rd->fd = -1;
    rd->offset = offset;
    return rd;
}

int ul_ntfs_probe(const char *path, uint64_t offset, uint64_t length, struct ul_ntfs_probe *out)
{
    struct range_dev rd = { .w = { .ops = &range_ops, .length = length, .stat_fd = -1,
                                   .sync_fd = -1 },
                            .path = (char *)path, .fd = -1, .offset = offset };
    struct ul_ntfs_dev d = { .name = path, .ops = &cli_window_dev_ops, .priv = &rd.w };
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
    struct ul_ntfs_dev d = { .name = rd->path, .ops = &cli_window_dev_ops, .priv = &rd->w,
                             .release = range_release };
    return ul_ntfs_open_dev(&d, flags, ret, err, errlen);
}
