/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NTFS volume ops through libntfs-3g (DESIGN §1: block device -> libntfs-3g
 * through its struct ntfs_device_operations -> our volume ops).
 *
 * The device ops below present [offset, offset + length) of a file or block
 * device as the whole device, so a partition inside a disk image is opened
 * without loop devices, FUSE or root.
 *
 * libntfs-3g facts this file relies on (2022.10.3, read in its sources):
 * - ntfs_device_mount() checks hiberfil.sys and $LogFile only for read-write
 *   mounts; NTFS_MNT_FORENSIC skips both checks.  A restart page of version
 *   2.0 is refused with EPERM even with NTFS_MNT_RECOVER, so resetting the
 *   log is done here: a FORENSIC mount, ntfs_logfile_reset(), unmount, then
 *   the ordinary checked mount.
 * - ntfs_set_ignore_case() makes lookups ignore case, and ntfs_readdir() then
 *   hands out lower-cased names; list() turns case sensitivity back on around
 *   ntfs_readdir() to report names as stored.
 * - ntfs_delete() closes both the inode and the directory.  Closing a dirty
 *   inode updates the index entry of each of its names by opening the
 *   parent, unless it is passed in (ntfs_inode_close_in_dir()); an inode must
 *   never be open twice while one copy is dirty.
 * - ntfs_create() and ntfs_link() make POSIX-namespace names (what the
 *   ntfs-3g driver does); ntfs_delete() of a Win32 name removes its DOS
 *   (8.3) name too, but fails with ENOENT on a Win32 name that has no DOS
 *   name, so such a name is switched to POSIX before deleting it.
 * - ntfs_device_mount() creates no lookup caches (ntfs_mount() does), so no
 *   stale misses; ntfs_inode_update_mbsname() is still called after creating.
 *   Without a cache, ntfs_inode_lookup_by_mbsname() leaks its UTF-16 copy of
 *   the name and, case-sensitive, converts a NULL name (EINVAL), so names
 *   are looked up here with ntfs_mbstoucs() + ntfs_inode_lookup_by_name().
 */
#include "ntfs-volume.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ntfs-3g/types.h>
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/device.h>
#include <ntfs-3g/dir.h>
#include <ntfs-3g/index.h>
#include <ntfs-3g/inode.h>
#include <ntfs-3g/layout.h>
#include <ntfs-3g/logfile.h>
#include <ntfs-3g/logging.h>
#include <ntfs-3g/unistr.h>
#include <ntfs-3g/volume.h>

#define HIBERFILE_HEADER 4096 /* what libntfs-3g (and Windows) look at */
#define MAX_COMPONENTS 128
#define MAX_NAME_UTF16 255

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

/*
 * Test hook (tests/qemu power-cut runs): with UNLOOP_TEST_POWER_CUT_AFTER_WRITES=N
 * the process dies, as a machine losing power would, instead of issuing
 * device write N+1.  Nothing else reads this variable.
 */
static void power_cut_hook(void)
{
    static long left = -2;
    if (left == -2) {
        const char *e = getenv("UNLOOP_TEST_POWER_CUT_AFTER_WRITES");
        left = e && *e ? strtol(e, NULL, 10) : -1;
    }
    if (left < 0)
        return;
    if (left-- == 0)
        _exit(99);
}

static s64 dev_pwrite(struct ntfs_device *dev, const void *buf, s64 count, s64 offset)
{
    struct range_dev *rd = dev->d_private;
    s64 done = 0;

    power_cut_hook();

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

/* ------------------------------------------------------------------ */
/* libntfs-3g messages: keep the last error for the user's message      */

static char last_lib_error[256];

static int log_capture(const char *function, const char *file, int line, u32 level,
                       void *data, const char *format, va_list args)
{
    (void)function; (void)file; (void)line; (void)data;
    if (!(level & (NTFS_LOG_LEVEL_ERROR | NTFS_LOG_LEVEL_PERROR | NTFS_LOG_LEVEL_CRITICAL)))
        return 0;
    int n = vsnprintf(last_lib_error, sizeof(last_lib_error), format, args);
    if (n > 0) {
        size_t len = strlen(last_lib_error);
        while (len && (last_lib_error[len - 1] == '\n' || last_lib_error[len - 1] == '.'))
            last_lib_error[--len] = 0;
    }
    return n;
}

static void setup_logging(void)
{
    /* libntfs-3g prints to stdout by default: the CLI's stdout may be JSON. */
    ntfs_log_set_handler(log_capture);
    ntfs_log_set_levels(NTFS_LOG_LEVEL_ERROR | NTFS_LOG_LEVEL_PERROR |
                        NTFS_LOG_LEVEL_CRITICAL);
    last_lib_error[0] = 0;
}

const char *ul_ntfs_strerror(int err)
{
    if (err < 0)
        err = -err;
    switch (err) {
    case EINVAL: return "not an NTFS volume, or its boot sector is corrupt";
    case EACCES: return "BitLocker volume: unlock it first";
    case EOPNOTSUPP:
        return "the NTFS journal ($LogFile) holds transactions Windows did not finish";
    case EPERM:
        return "Windows is hibernated (Fast Startup) on this volume, or kept its metadata "
               "cached";
    case EIO: return "the NTFS volume is inconsistent or the device failed to read "
                     "(run chkdsk /f on Windows)";
    case EBUSY: return "the volume is in use (mounted or opened by another writer)";
    case EROFS: return "the device is read-only";
    case ENXIO: return "the volume range lies outside the file or device";
    case ENOSPC: return "no space left on the NTFS volume";
    case ENOMEM: return "out of memory";
    case ENOENT: return "no such file or directory";
    case EEXIST: return "the target already exists";
    case ENOTDIR: return "a path component is not a directory";
    case EISDIR: return "is a directory";
    case ENOTEMPTY: return "the directory is not empty";
    case ENAMETOOLONG: return "name too long";
    case EILSEQ: return "a name cannot be converted between UTF-8 and UTF-16";
    default: return strerror(err);
    }
}

static int set_err(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int set_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ------------------------------------------------------------------ */
/* Mounting                                                            */

struct ul_ntfs {
    ntfs_volume *vol;
    struct range_dev rd;
    unsigned flags;
    bool modified;
};

static int errno_or(int fallback)
{
    return errno ? -errno : -fallback;
}

/* Mount [offset, offset+length) of path; *ret_dev owns rd while mounted. */
static int do_mount(struct range_dev *rd, ntfs_mount_flags mflags, ntfs_volume **ret)
{
    struct ntfs_device *dev;
    ntfs_volume *vol;
    int r;

    rd->fd = -1;
    dev = ntfs_device_alloc(rd->path, 0, &range_dev_ops, rd);
    if (!dev)
        return -ENOMEM;
    errno = 0;
    vol = ntfs_device_mount(dev, mflags);
    if (!vol) {
        r = errno_or(EIO);
        if (NDevOpen(dev))
            dev_close(dev);
        ntfs_device_free(dev);
        return r;
    }
    *ret = vol;
    return 0;
}

static int do_umount(ntfs_volume *vol)
{
    errno = 0;
    if (ntfs_umount(vol, FALSE) < 0)
        return errno_or(EIO);
    return 0;
}

static int read_boot_sector(const char *path, uint64_t offset, uint64_t length,
                            uint8_t bs[512])
{
    struct range_dev rd = { .path = (char *)path, .offset = offset, .length = length };
    int r = range_open_fd(&rd, false);
    if (r < 0)
        return r;
    ssize_t n = pread(rd.fd, bs, 512, (off_t)offset);
    r = n < 0 ? -errno : 0;
    if (n >= 0 && (n < 512 || rd.length < 512))
        r = -EINVAL;
    close(rd.fd);
    return r;
}

static uint64_t le64_at(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* $LogFile state on a mounted volume. */
static int probe_logfile(ntfs_volume *vol, struct ul_ntfs_probe *out)
{
    RESTART_PAGE_HEADER *rp = NULL;
    ntfs_inode *ni;
    ntfs_attr *na;
    int r = 0;

    ni = ntfs_inode_open(vol, FILE_LogFile);
    if (!ni)
        return errno_or(EIO);
    na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
    if (!na) {
        r = errno_or(EIO);
        ntfs_inode_close(ni);
        return r;
    }
    bool ok = ntfs_check_logfile(na, &rp);
    out->log_empty = NVolLogFileEmpty(vol);
    out->log_clean = ok && ntfs_is_logfile_clean(na, rp);
    /* libntfs-3g refuses version 2.0 even when clean (volume.c) */
    if (rp && le16_to_cpu(rp->major_ver) == 2 && le16_to_cpu(rp->minor_ver) == 0) {
        out->log_cached = true;
        out->log_clean = false;
    }
    free(rp);
    ntfs_attr_close(na);
    ntfs_inode_close(ni);
    return 0;
}

static int probe_mounted(ntfs_volume *vol, const uint8_t bs[512], struct ul_ntfs_probe *out)
{
    snprintf(out->label, sizeof(out->label), "%s", vol->vol_name ? vol->vol_name : "");
    out->serial = le64_at(bs + 0x48);
    out->sector_size = vol->sector_size;
    out->cluster_size = vol->cluster_size;
    out->size = (uint64_t)vol->nr_clusters * vol->cluster_size;
    out->major_ver = vol->major_ver;
    out->minor_ver = vol->minor_ver;
    out->volume_flags = le16_to_cpu(vol->flags);
    out->dirty = !!(vol->flags & VOLUME_IS_DIRTY);
    int r = probe_logfile(vol, out);
    if (r < 0)
        return r;
    errno = 0;
    if (ntfs_volume_check_hiberfile(vol, 0) < 0) {
        if (errno != EPERM)
            return errno_or(EIO);
        out->hibernated = true;
    }
    return 0;
}

static int probe_i(const char *path, uint64_t offset, uint64_t length,
                   struct ul_ntfs_probe *out, char *err, size_t errlen)
{
    uint8_t bs[512];
    ntfs_volume *vol;
    int r;

    memset(out, 0, sizeof(*out));
    r = read_boot_sector(path, offset, length, bs);
    if (r == -EINVAL)
        return set_err(err, errlen, r, "%s: not an NTFS volume (shorter than a sector)", path);
    if (r < 0)
        return set_err(err, errlen, r, "%s: %s", path, strerror(-r));
    if (memcmp(bs + 3, "-FVE-FS-", 8) == 0) {
        out->is_bitlocker = true;
        return set_err(err, errlen, -EACCES, "%s: BitLocker volume: unlock it first", path);
    }
    if (memcmp(bs + 3, "NTFS    ", 8) != 0)
        return set_err(err, errlen, -EINVAL, "%s: not an NTFS volume (no NTFS signature)",
                       path);
    struct range_dev rd = { .path = (char *)path, .offset = offset, .length = length };
    r = do_mount(&rd, NTFS_MNT_RDONLY, &vol);
    if (r < 0)
        return set_err(err, errlen, r, "%s: cannot read the NTFS volume: %s%s%s%s", path,
                       ul_ntfs_strerror(r), last_lib_error[0] ? " (libntfs-3g: " : "",
                       last_lib_error, last_lib_error[0] ? ")" : "");
    out->is_ntfs = true;
    r = probe_mounted(vol, bs, out);
    int r2 = do_umount(vol);
    if (r == 0)
        r = r2;
    if (r < 0)
        return set_err(err, errlen, r, "%s: cannot read the NTFS volume: %s", path,
                       ul_ntfs_strerror(r));
    return 0;
}

int ul_ntfs_probe(const char *path, uint64_t offset, uint64_t length, struct ul_ntfs_probe *out)
{
    setup_logging();
    int r = probe_i(path, offset, length, out, NULL, 0);
    /* a volume that is not (readable) NTFS is a result, not an error */
    if (r == -EACCES || r == -EINVAL || r == -EIO)
        return 0;
    return r;
}

/* MFT reference of name in dir, or (u64)-1 with errno (ENOENT: no such name).
 * Ignores case when the volume does (ntfs_set_ignore_case()). */
static u64 lookup_name(ntfs_inode *dir, const char *name)
{
    ntfschar *uname = NULL;
    int len = ntfs_mbstoucs(name, &uname);
    if (len < 0)
        return (u64)-1;
    errno = 0;
    u64 mref = ntfs_inode_lookup_by_name(dir, uname, len);
    int e = errno;
    free(uname);
    errno = e;
    return mref;
}

/* Zero the header of hiberfil.sys (or remove a file too short to hold one):
 * Windows then starts afresh, and libntfs-3g's check passes. */
static int invalidate_hiberfile(ntfs_volume *vol)
{
    ntfs_inode *root, *ni;
    ntfs_attr *na;
    ntfschar *uname = NULL;
    int ulen, r = 0;
    u64 mref;

    root = ntfs_inode_open(vol, FILE_root);
    if (!root)
        return errno_or(EIO);
    mref = lookup_name(root, "hiberfil.sys");
    if (mref == (u64)-1) {
        r = errno == ENOENT ? 0 : errno_or(EIO);
        ntfs_inode_close(root);
        return r;
    }
    ni = ntfs_inode_open(vol, MREF(mref));
    if (!ni) {
        r = errno_or(EIO);
        ntfs_inode_close(root);
        return r;
    }
    na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
    if (na && na->data_size >= HIBERFILE_HEADER) {
        static const char zeros[HIBERFILE_HEADER];
        if (ntfs_attr_pwrite(na, 0, HIBERFILE_HEADER, zeros) != HIBERFILE_HEADER)
            r = errno_or(EIO);
        ntfs_attr_close(na);
        if (ntfs_inode_close_in_dir(ni, root) && !r)
            r = errno_or(EIO);
        if (ntfs_inode_close(root) && !r)
            r = errno_or(EIO);
        return r;
    }
    if (na)
        ntfs_attr_close(na);
    ulen = ntfs_mbstoucs("hiberfil.sys", &uname);
    if (ulen < 0) {
        ntfs_inode_close(ni);
        ntfs_inode_close(root);
        return errno_or(EILSEQ);
    }
    /* closes ni and root */
    if (ntfs_delete(vol, NULL, ni, root, uname, (u8)ulen))
        r = errno_or(EIO);
    free(uname);
    return r;
}

int ul_ntfs_open(const char *path, uint64_t offset, uint64_t length, unsigned flags,
                 struct ul_ntfs **ret, char *err, size_t errlen)
{
    struct ul_ntfs_probe p;
    struct ul_ntfs *v;
    ntfs_volume *vol;
    int r;

    *ret = NULL;
    if (err && errlen)
        err[0] = 0;
    setup_logging();
    r = probe_i(path, offset, length, &p, err, errlen);
    if (r < 0)
        return r;

    bool rdonly = flags & UL_NTFS_RDONLY;
    bool reset_log = false, fix_hiber = false;
    if (!rdonly) {
        if (p.hibernated && !(flags & UL_NTFS_REMOVE_HIBERFILE))
            return set_err(err, errlen, -EPERM,
                           "%s: Windows is hibernated on this volume (Fast Startup: "
                           "hiberfil.sys holds a hibernation image); not writing", path);
        if (!p.log_clean && !(flags & UL_NTFS_RESET_LOG))
            return set_err(err, errlen, -EOPNOTSUPP,
                           "%s: the NTFS journal ($LogFile) holds transactions Windows did "
                           "not finish; replaying it is not in this build (ntfsrecover "
                           "integration, issue #3); not writing", path);
        reset_log = !p.log_clean;
        fix_hiber = p.hibernated;
    }

    v = calloc(1, sizeof(*v));
    if (!v)
        return set_err(err, errlen, -ENOMEM, "out of memory");
    v->rd.path = strdup(path);
    v->rd.offset = offset;
    v->rd.length = length;
    v->flags = flags;
    if (!v->rd.path) {
        free(v);
        return set_err(err, errlen, -ENOMEM, "out of memory");
    }

    if (reset_log || fix_hiber) {
        /* FORENSIC: read-write without the checks that refuse this volume */
        r = do_mount(&v->rd, NTFS_MNT_FORENSIC, &vol);
        if (r == 0) {
            v->modified = true;
            if (fix_hiber)
                r = invalidate_hiberfile(vol);
            if (r == 0 && reset_log && ntfs_logfile_reset(vol) < 0)
                r = errno_or(EIO);
            int r2 = do_umount(vol);
            if (r == 0)
                r = r2;
        }
        if (r < 0) {
            set_err(err, errlen, r, "%s: cannot %s: %s", path,
                    fix_hiber ? "invalidate the hibernation image" : "reset $LogFile",
                    ul_ntfs_strerror(r));
            goto fail;
        }
    }

    r = do_mount(&v->rd, rdonly ? NTFS_MNT_RDONLY : NTFS_MNT_NONE, &v->vol);
    if (r < 0) {
        set_err(err, errlen, r, "%s: cannot open the NTFS volume: %s%s%s%s", path,
                ul_ntfs_strerror(r), last_lib_error[0] ? " (libntfs-3g: " : "",
                last_lib_error, last_lib_error[0] ? ")" : "");
        goto fail;
    }
    /* Windows semantics: names match ignoring case (volume's $UpCase). */
    if (ntfs_set_ignore_case(v->vol) < 0) {
        r = errno_or(ENOMEM);
        do_umount(v->vol);
        set_err(err, errlen, r, "%s: cannot switch to case-insensitive names", path);
        goto fail;
    }
    *ret = v;
    return 0;
fail:
    free(v->rd.path);
    free(v);
    return r;
}

int ul_ntfs_close(struct ul_ntfs *v)
{
    int r = 0;

    if (!v)
        return 0;
    if (v->modified && (v->flags & UL_NTFS_MARK_DIRTY) && !NVolReadOnly(v->vol) &&
        !(v->vol->flags & VOLUME_IS_DIRTY)) {
        if (ntfs_volume_write_flags(v->vol, v->vol->flags | VOLUME_IS_DIRTY) < 0)
            r = errno_or(EIO);
    }
    int r2 = do_umount(v->vol); /* syncs, closes and frees the device */
    if (r == 0)
        r = r2;
    free(v->rd.path);
    free(v);
    return r;
}

/* ------------------------------------------------------------------ */
/* Paths                                                               */

struct path_parts {
    char buf[4096];
    char *comp[MAX_COMPONENTS];
    int n;
};

static int split_path(const char *path, struct path_parts *pp)
{
    if (strlen(path) >= sizeof(pp->buf))
        return -ENAMETOOLONG;
    strcpy(pp->buf, path);
    pp->n = 0;
    char *p = pp->buf;
    while (*p) {
        while (*p == '\\' || *p == '/')
            *p++ = 0;
        if (!*p)
            break;
        char *s = p;
        while (*p && *p != '\\' && *p != '/')
            p++;
        if (*p)
            *p++ = 0;
        if (!strcmp(s, ".") || !strcmp(s, ".."))
            return -EINVAL;
        if (pp->n == MAX_COMPONENTS)
            return -ENAMETOOLONG;
        pp->comp[pp->n++] = s;
    }
    return 0;
}

static bool inode_is_dir(ntfs_inode *ni)
{
    return !!(ni->mrec->flags & MFT_RECORD_IS_DIRECTORY);
}

/*
 * Open the directory holding the last component of pp (the root for a
 * one-component path) and, if it exists, the last component itself.
 * For the root path itself: *ret_dir = NULL, *ret_ni = root.
 * If trail is not NULL, it receives the MFT numbers of every directory
 * walked (for the move-into-itself check).
 */
static int walk(ntfs_volume *vol, const struct path_parts *pp, ntfs_inode **ret_dir,
                ntfs_inode **ret_ni, u64 *trail)
{
    ntfs_inode *dir, *ni;

    *ret_dir = NULL;
    *ret_ni = NULL;
    dir = ntfs_inode_open(vol, FILE_root);
    if (!dir)
        return errno_or(EIO);
    if (pp->n == 0) {
        *ret_ni = dir;
        return 0;
    }
    for (int i = 0; i < pp->n; i++) {
        if (trail)
            trail[i] = dir->mft_no;
        errno = 0;
        u64 mref = lookup_name(dir, pp->comp[i]);
        if (mref == (u64)-1) {
            int r = errno_or(ENOENT);
            if (i == pp->n - 1 && r == -ENOENT) {
                *ret_dir = dir; /* the parent exists, the leaf does not */
                return 0;
            }
            ntfs_inode_close(dir);
            return r;
        }
        ni = ntfs_inode_open(vol, MREF(mref));
        if (!ni) {
            int r = errno_or(EIO);
            ntfs_inode_close(dir);
            return r;
        }
        if (i == pp->n - 1) {
            *ret_dir = dir;
            *ret_ni = ni;
            return 0;
        }
        ntfs_inode_close(dir); /* never dirty here: lookups only */
        if (!inode_is_dir(ni)) {
            ntfs_inode_close(ni);
            return -ENOTDIR;
        }
        dir = ni;
    }
    return -EINVAL; /* not reached */
}

/* Like walk() but the leaf must exist. */
static int walk_existing(ntfs_volume *vol, const char *path, ntfs_inode **ret_dir,
                         ntfs_inode **ret_ni)
{
    struct path_parts pp;
    int r = split_path(path, &pp);
    if (r < 0)
        return r;
    r = walk(vol, &pp, ret_dir, ret_ni, NULL);
    if (r < 0)
        return r;
    if (!*ret_ni) {
        ntfs_inode_close(*ret_dir);
        *ret_dir = NULL;
        return -ENOENT;
    }
    return 0;
}

static void close_pair(ntfs_inode *dir, ntfs_inode *ni)
{
    if (ni) {
        if (dir)
            ntfs_inode_close_in_dir(ni, dir);
        else
            ntfs_inode_close(ni);
    }
    if (dir)
        ntfs_inode_close(dir);
}

static int to_utf16(const char *name, ntfschar **ret)
{
    *ret = NULL;
    int len = ntfs_mbstoucs(name, ret);
    if (len < 0)
        return errno_or(EILSEQ);
    if (len == 0 || len > MAX_NAME_UTF16) {
        free(*ret);
        *ret = NULL;
        return len ? -ENAMETOOLONG : -EINVAL;
    }
    return len;
}

/* Metadata the library keeps open (MFT, bitmaps) reaches the disk now, and
 * the device is flushed: ops say "on the medium when this returns". */
static int flush_volume(ntfs_volume *vol)
{
    int r = 0;
    if (vol->mft_ni && NInoDirty(vol->mft_ni) && ntfs_inode_sync(vol->mft_ni))
        r = errno_or(EIO);
    if (vol->lcnbmp_ni && NInoDirty(vol->lcnbmp_ni) && ntfs_inode_sync(vol->lcnbmp_ni) && !r)
        r = errno_or(EIO);
    if (ntfs_device_sync(vol->dev) && !r)
        r = errno_or(EIO);
    return r;
}

/*
 * Before the first change of a session, mark the volume dirty and put that
 * on the disk: a power cut in the middle of a libntfs-3g update (which
 * keeps no journal) then still makes Windows check the volume at its next
 * boot, as it would after its own crash.
 */
static int check_writable(struct ul_ntfs *v)
{
    if (NVolReadOnly(v->vol))
        return -EROFS;
    if (!v->modified && (v->flags & UL_NTFS_MARK_DIRTY) && !(v->vol->flags & VOLUME_IS_DIRTY)) {
        if (ntfs_volume_write_flags(v->vol, v->vol->flags | VOLUME_IS_DIRTY) < 0 ||
            ntfs_inode_sync(v->vol->vol_ni) < 0 || ntfs_device_sync(v->vol->dev) < 0)
            return errno ? -errno : -EIO;
    }
    v->modified = true;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Volume ops                                                          */

static int v_read(void *ctx, const char *path, uint64_t off, void *buf, size_t len,
                  size_t *ret_read)
{
    struct ul_ntfs *v = ctx;
    ntfs_inode *dir, *ni;
    ntfs_attr *na;
    int r;

    *ret_read = 0;
    r = walk_existing(v->vol, path, &dir, &ni);
    if (r < 0)
        return r;
    if (inode_is_dir(ni)) {
        r = -EISDIR;
        goto out;
    }
    na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
    if (!na) {
        r = errno == ENOENT ? 0 : errno_or(EIO); /* no $DATA: empty */
        goto out;
    }
    while (*ret_read < len && off + *ret_read < (uint64_t)na->data_size) {
        s64 n = ntfs_attr_pread(na, (s64)(off + *ret_read), (s64)(len - *ret_read),
                                (char *)buf + *ret_read);
        if (n < 0) {
            r = errno_or(EIO);
            break;
        }
        if (n == 0)
            break;
        *ret_read += (size_t)n;
    }
    ntfs_attr_close(na);
out:
    close_pair(dir, ni);
    return r;
}

static int create_child(ntfs_inode *dir, const char *name, mode_t type, ntfs_inode **ret)
{
    ntfschar *uname;
    int len = to_utf16(name, &uname);
    if (len < 0)
        return len;
    *ret = ntfs_create(dir, const_cpu_to_le32(0), uname, (u8)len, type);
    free(uname);
    if (!*ret)
        return errno_or(EIO);
    /* lookups cache misses (when a cache exists): forget "not found" */
    ntfs_inode_update_mbsname(dir, name, (*ret)->mft_no);
    return 0;
}

static int v_write(void *ctx, const char *path, uint64_t off, const void *buf, size_t len)
{
    struct ul_ntfs *v = ctx;
    struct path_parts pp;
    ntfs_inode *dir, *ni;
    ntfs_attr *na;
    int r;

    if ((r = check_writable(v)) < 0 || (r = split_path(path, &pp)) < 0)
        return r;
    if (pp.n == 0)
        return -EISDIR;
    if (off + len < off || off + len > (uint64_t)INT64_MAX)
        return -EFBIG;
    r = walk(v->vol, &pp, &dir, &ni, NULL);
    if (r < 0)
        return r;
    if (!inode_is_dir(dir)) {
        r = -ENOTDIR;
        goto out;
    }
    if (!ni) {
        r = create_child(dir, pp.comp[pp.n - 1], S_IFREG, &ni);
        if (r < 0)
            goto out;
    } else if (inode_is_dir(ni)) {
        r = -EISDIR;
        goto out;
    }
    na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
    if (!na) {
        r = errno_or(EIO);
        goto out;
    }
    /* Grow first with real clusters: growing by writing may leave holes
     * (and a sparse file), which a file Windows wrote never has. */
    if (off + len > (uint64_t)na->data_size &&
        ntfs_attr_truncate_solid(na, (s64)(off + len)) < 0) {
        r = errno_or(ENOSPC);
        ntfs_attr_close(na);
        goto out;
    }
    size_t done = 0;
    while (done < len) {
        s64 n = ntfs_attr_pwrite(na, (s64)(off + done), (s64)(len - done),
                                 (const char *)buf + done);
        if (n <= 0) {
            r = n < 0 ? errno_or(EIO) : -EIO;
            break;
        }
        done += (size_t)n;
    }
    ntfs_attr_close(na);
    ntfs_inode_update_times(ni, NTFS_UPDATE_MCTIME);
out:
    if (ni && ntfs_inode_close_in_dir(ni, dir) && !r)
        r = errno_or(EIO);
    if (ntfs_inode_close(dir) && !r)
        r = errno_or(EIO);
    int r2 = flush_volume(v->vol);
    return r ? r : r2;
}

static void fill_stat(ntfs_inode *ni, struct ul_stat *st)
{
    memset(st, 0, sizeof(*st));
    st->is_dir = inode_is_dir(ni);
    st->size = st->is_dir ? 0 : (uint64_t)ni->data_size;
    st->times.creation = (uint64_t)sle64_to_cpu(ni->creation_time);
    st->times.modification = (uint64_t)sle64_to_cpu(ni->last_data_change_time);
    st->times.mft_change = (uint64_t)sle64_to_cpu(ni->last_mft_change_time);
    st->times.access = (uint64_t)sle64_to_cpu(ni->last_access_time);
    /* the full reference, sequence number included, like Windows' file ID */
    st->file_id = MK_MREF(ni->mft_no, le16_to_cpu(ni->mrec->sequence_number));
}

static int v_stat(void *ctx, const char *path, struct ul_stat *ret)
{
    struct ul_ntfs *v = ctx;
    ntfs_inode *dir, *ni;
    int r = walk_existing(v->vol, path, &dir, &ni);
    if (r < 0)
        return r;
    fill_stat(ni, ret);
    close_pair(dir, ni);
    return 0;
}

static int v_mkdir(void *ctx, const char *path)
{
    struct ul_ntfs *v = ctx;
    struct path_parts pp;
    ntfs_inode *dir, *ni;
    int r;

    if ((r = check_writable(v)) < 0 || (r = split_path(path, &pp)) < 0)
        return r;
    if (pp.n == 0)
        return -EEXIST;
    r = walk(v->vol, &pp, &dir, &ni, NULL);
    if (r < 0)
        return r;
    if (ni)
        r = -EEXIST;
    else if (!inode_is_dir(dir))
        r = -ENOTDIR;
    else
        r = create_child(dir, pp.comp[pp.n - 1], S_IFDIR, &ni);
    if (ni && ntfs_inode_close_in_dir(ni, dir) && !r)
        r = errno_or(EIO);
    if (ntfs_inode_close(dir) && !r)
        r = errno_or(EIO);
    int r2 = flush_volume(v->vol);
    return r ? r : r2;
}

/*
 * ntfs_delete() cannot remove a Win32-namespace name that has no DOS name
 * (it looks for the DOS name and gives up with ENOENT).  Switch such a name
 * of ni in dir to the POSIX namespace first: the namespace byte is not part
 * of the index collation, so both copies are changed in place.
 */
static int win32_only_to_posix(ntfs_inode *ni, ntfs_inode *dir)
{
    ntfs_attr_search_ctx *actx;
    FILE_NAME_ATTR *fn, *win32 = NULL;
    u32 win32_len = 0;
    bool has_dos = false;
    int r = 0;

    actx = ntfs_attr_get_search_ctx(ni, NULL);
    if (!actx)
        return errno_or(ENOMEM);
    while (!ntfs_attr_lookup(AT_FILE_NAME, AT_UNNAMED, 0, CASE_SENSITIVE, 0, NULL, 0, actx)) {
        fn = (FILE_NAME_ATTR *)((u8 *)actx->attr + le16_to_cpu(actx->attr->value_offset));
        if (MREF_LE(fn->parent_directory) != dir->mft_no)
            continue;
        if (fn->file_name_type == FILE_NAME_DOS)
            has_dos = true;
        else if (fn->file_name_type == FILE_NAME_WIN32 && !win32) {
            win32 = fn;
            win32_len = le32_to_cpu(actx->attr->value_length);
        }
    }
    if (win32 && !has_dos) {
        ntfs_index_context *icx = ntfs_index_ctx_get(dir, NTFS_INDEX_I30, 4);
        if (!icx) {
            r = errno_or(ENOMEM);
        } else {
            if (ntfs_index_lookup(win32, (int)win32_len, icx) == 0) {
                ((FILE_NAME_ATTR *)icx->data)->file_name_type = FILE_NAME_POSIX;
                ntfs_index_entry_mark_dirty(icx);
                win32->file_name_type = FILE_NAME_POSIX;
                ntfs_inode_mark_dirty(ni);
            } else {
                r = errno_or(EIO);
            }
            ntfs_index_ctx_put(icx);
        }
    }
    ntfs_attr_put_search_ctx(actx);
    return r;
}

/* Remove the name `name` of ni from dir.  Closes ni and dir (ntfs_delete). */
static int unlink_name(ntfs_volume *vol, ntfs_inode *ni, ntfs_inode *dir, const char *name)
{
    ntfschar *uname;
    int len = to_utf16(name, &uname);
    if (len < 0) {
        close_pair(dir, ni);
        return len;
    }
    int r = win32_only_to_posix(ni, dir);
    if (r < 0) {
        free(uname);
        close_pair(dir, ni);
        return r;
    }
    errno = 0;
    if (ntfs_delete(vol, NULL, ni, dir, uname, (u8)len))
        r = errno_or(EIO);
    free(uname);
    return r;
}

static int v_remove(void *ctx, const char *path)
{
    struct ul_ntfs *v = ctx;
    struct path_parts pp;
    ntfs_inode *dir, *ni;
    int r;

    if ((r = check_writable(v)) < 0 || (r = split_path(path, &pp)) < 0)
        return r;
    if (pp.n == 0)
        return -EBUSY;
    r = walk_existing(v->vol, path, &dir, &ni);
    if (r < 0)
        return r;
    if (inode_is_dir(ni)) {
        errno = 0;
        int e = ntfs_check_empty_dir(ni);
        if (e != 0) {
            r = e < 0 ? errno_or(ENOTEMPTY) : -ENOTEMPTY;
            close_pair(dir, ni);
            return r;
        }
    }
    r = unlink_name(v->vol, ni, dir, pp.comp[pp.n - 1]);
    int r2 = flush_volume(v->vol);
    return r ? r : r2;
}

/*
 * Give `from` the name `to` and drop the old name: ntfs_link() then
 * ntfs_delete(), as the ntfs-3g driver renames.  A power cut in between
 * leaves both names on one file (same file_id).
 */
static int relink(struct ul_ntfs *v, const char *from, const char *to, bool same_dir)
{
    struct path_parts pf, pt;
    ntfs_inode *fdir, *ni, *tdir, *tni;
    u64 trail[MAX_COMPONENTS];
    ntfschar *uname;
    int r, len;

    if ((r = check_writable(v)) < 0 || (r = split_path(from, &pf)) < 0 ||
        (r = split_path(to, &pt)) < 0)
        return r;
    if (pf.n == 0 || pt.n == 0)
        return -EBUSY;
    r = walk_existing(v->vol, from, &fdir, &ni);
    if (r < 0)
        return r;
    u64 from_dir_no = fdir->mft_no, from_no = ni->mft_no;
    /* Look the target up with the source closed: no inode open twice. */
    close_pair(fdir, ni);
    r = walk(v->vol, &pt, &tdir, &tni, trail);
    if (r < 0)
        return r;
    if (tni) {
        bool self = tni->mft_no == from_no && tdir->mft_no == from_dir_no &&
                    strcmp(pf.comp[pf.n - 1], pt.comp[pt.n - 1]) != 0;
        close_pair(tdir, tni);
        if (!self)
            return -EEXIST;
        /* a change of case only: "a" -> "A" names the same file */
        r = walk(v->vol, &pt, &tdir, &tni, trail);
        if (r < 0)
            return r;
        if (tni) {
            ntfs_inode_close_in_dir(tni, tdir);
            tni = NULL;
        }
    }
    if (!inode_is_dir(tdir)) {
        ntfs_inode_close(tdir);
        return -ENOTDIR;
    }
    if (same_dir && tdir->mft_no != from_dir_no) {
        ntfs_inode_close(tdir);
        return -EXDEV;
    }
    /* a directory must not move below itself */
    trail[pt.n - 1] = tdir->mft_no;
    for (int i = 0; i < pt.n; i++) {
        if (trail[i] == from_no) {
            ntfs_inode_close(tdir);
            return -EINVAL;
        }
    }
    ni = ntfs_inode_open(v->vol, from_no);
    if (!ni) {
        r = errno_or(EIO);
        ntfs_inode_close(tdir);
        return r;
    }
    len = to_utf16(pt.comp[pt.n - 1], &uname);
    if (len < 0) {
        ntfs_inode_close(ni);
        ntfs_inode_close(tdir);
        return len;
    }
    errno = 0;
    r = ntfs_link(ni, tdir, uname, (u8)len) ? errno_or(EIO) : 0;
    free(uname);
    if (r == 0)
        ntfs_inode_update_mbsname(tdir, pt.comp[pt.n - 1], ni->mft_no);
    /*
     * Close the target directory before the delete: closing ni afterwards
     * updates the index entry of its new name by opening that directory.
     * In the same directory it is the one ntfs_delete() gets.
     */
    if (tdir->mft_no == from_dir_no) {
        fdir = tdir;
    } else {
        if (ntfs_inode_close(tdir) && !r)
            r = errno_or(EIO);
        fdir = NULL;
    }
    if (r < 0) {
        close_pair(fdir, ni);
        flush_volume(v->vol);
        return r;
    }
    if (!fdir) {
        fdir = ntfs_inode_open(v->vol, from_dir_no);
        if (!fdir) {
            r = errno_or(EIO);
            ntfs_inode_close(ni);
            flush_volume(v->vol);
            return r;
        }
    }
    r = unlink_name(v->vol, ni, fdir, pf.comp[pf.n - 1]); /* closes both */
    int r2 = flush_volume(v->vol);
    return r ? r : r2;
}

static int v_rename(void *ctx, const char *from, const char *to)
{
    return relink(ctx, from, to, true);
}

static int v_move(void *ctx, const char *from, const char *to)
{
    return relink(ctx, from, to, false);
}

static int v_set_times(void *ctx, const char *path, const struct ul_times *t)
{
    struct ul_ntfs *v = ctx;
    ntfs_inode *dir, *ni;
    int r;

    if ((r = check_writable(v)) < 0)
        return r;
    r = walk_existing(v->vol, path, &dir, &ni);
    if (r < 0)
        return r;
    /*
     * ntfs_inode_sync() writes $STANDARD_INFORMATION from these and copies
     * them into the directory index entries; nothing after this point in
     * the session stamps "now" on the inode (only link/delete/write do).
     */
    ni->creation_time = cpu_to_sle64((s64)t->creation);
    ni->last_data_change_time = cpu_to_sle64((s64)t->modification);
    ni->last_mft_change_time = cpu_to_sle64((s64)t->mft_change);
    ni->last_access_time = cpu_to_sle64((s64)t->access);
    NInoSetDirty(ni);
    NInoFileNameSetDirty(ni);
    if (dir) {
        if (ntfs_inode_close_in_dir(ni, dir))
            r = errno_or(EIO);
        if (ntfs_inode_close(dir) && !r)
            r = errno_or(EIO);
    } else if (ntfs_inode_close(ni)) {
        r = errno_or(EIO);
    }
    int r2 = flush_volume(v->vol);
    return r ? r : r2;
}

/* ---- list ---- */

struct list_entry {
    char *name;
    MFT_REF mref;
};

struct list_state {
    struct list_entry *e;
    size_t n, cap;
    bool root;
    int err;
};

static int list_filldir(void *arg, const ntfschar *name, const int name_len,
                        const int name_type, const s64 pos, const MFT_REF mref,
                        const unsigned dt_type)
{
    struct list_state *ls = arg;
    char *s = NULL;

    (void)pos; (void)dt_type;
    /* each file once: its 8.3 alias is a second index entry */
    if (name_type == FILE_NAME_DOS)
        return 0;
    if (ls->root && MREF(mref) < FILE_first_user)
        return 0; /* $MFT, $LogFile, ... */
    if (ntfs_ucstombs(name, name_len, &s, 0) < 0) {
        ls->err = errno_or(EILSEQ);
        return -1;
    }
    if (!strcmp(s, ".") || !strcmp(s, "..")) {
        free(s);
        return 0;
    }
    if (ls->n == ls->cap) {
        size_t cap = ls->cap ? 2 * ls->cap : 32;
        struct list_entry *ne = realloc(ls->e, cap * sizeof(*ne));
        if (!ne) {
            free(s);
            ls->err = -ENOMEM;
            return -1;
        }
        ls->e = ne;
        ls->cap = cap;
    }
    ls->e[ls->n++] = (struct list_entry){ s, mref };
    return 0;
}

static int v_list(void *ctx, const char *path, ul_list_cb cb, void *arg)
{
    struct ul_ntfs *v = ctx;
    struct list_state ls = { 0 };
    ntfs_inode *dir, *ni;
    s64 pos = 0;
    int r;

    r = walk_existing(v->vol, path, &dir, &ni);
    if (r < 0)
        return r;
    if (dir)
        ntfs_inode_close(dir);
    if (!inode_is_dir(ni)) {
        ntfs_inode_close(ni);
        return -ENOTDIR;
    }
    ls.root = ni->mft_no == FILE_root;
    /* With ignore-case set, ntfs_readdir() lower-cases names: not wanted. */
    NVolSetCaseSensitive(v->vol);
    errno = 0;
    if (ntfs_readdir(ni, &pos, &ls, list_filldir) && !ls.err)
        ls.err = errno_or(EIO);
    NVolClearCaseSensitive(v->vol);
    r = ls.err;
    /* Stat each entry with the directory open: entries are children. */
    for (size_t i = 0; i < ls.n && r == 0; i++) {
        ntfs_inode *c = ntfs_inode_open(v->vol, MREF(ls.e[i].mref));
        struct ul_stat st;
        if (!c) {
            r = errno_or(EIO);
            break;
        }
        fill_stat(c, &st);
        ntfs_inode_close(c);
        r = cb(arg, ls.e[i].name, &st);
    }
    ntfs_inode_close(ni);
    for (size_t i = 0; i < ls.n; i++)
        free(ls.e[i].name);
    free(ls.e);
    return r;
}

const struct ul_volume_ops ul_ntfs_volume_ops = {
    .read = v_read,
    .write = v_write,
    .stat = v_stat,
    .mkdir = v_mkdir,
    .rename = v_rename,
    .remove = v_remove,
    .list = v_list,
    .move = v_move,
    .set_times = v_set_times,
};
