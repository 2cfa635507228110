/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NTFS in the pre-boot app (DESIGN.md §1): a partition's EFI_DISK_IO or
 * EFI_BLOCK_IO -> libntfs-3g through our struct ntfs_device_operations ->
 * struct ul_volume_ops for the core (shared/quarantine.c).
 *
 * The volume-ops half has the semantics of recovery/ntfs-volume.c (the CLI's
 * adapter over Debian's libntfs-3g); the libntfs-3g pitfalls listed there
 * apply here too, in short:
 * - lookups ignore case (ntfs_set_ignore_case()), but then ntfs_readdir()
 *   lower-cases names, so list() turns case sensitivity on around it;
 * - ntfs_delete() closes both inodes; a dirty inode is closed "in" its
 *   directory (ntfs_inode_close_in_dir()) and never open twice;
 * - ntfs_delete() of a Win32 name without a DOS name fails with ENOENT, so
 *   such a name is switched to the POSIX namespace first;
 * - without lookup caches (ntfs_device_mount() makes none), names are looked
 *   up with ntfs_mbstoucs() + ntfs_inode_lookup_by_name().
 *
 * Built with efi/libc's headers (errno, malloc, ... from the shim) next to
 * gnu-efi's.  Under UL_EFI_NTFS_TEST this file is the test application
 * build/efi/ntfs/efi-ntfs-test.efi instead (see the end of the file).
 */
#include <efi.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ulibc.h>

#include <types.h>
#include <attrib.h>
#include <device.h>
#include <dir.h>
#include <index.h>
#include <inode.h>
#include <layout.h>
#include <logging.h>
#include <unistr.h>
#include <volume.h>

#include "efi-ntfs.h"
#include "../shared/string-util.h"
#include "../shared/time-util.h"

extern EFI_SYSTEM_TABLE *ST;
extern EFI_BOOT_SERVICES *BS;
extern EFI_RUNTIME_SERVICES *RT;

#ifndef UL_EFI_NTFS_TEST

#define MAX_COMPONENTS 128
#define MAX_NAME_UTF16 255
#define BOUNCE_SIZE (64 * 1024)

static EFI_GUID block_io_guid = EFI_BLOCK_IO_PROTOCOL_GUID;
static EFI_GUID disk_io_guid = EFI_DISK_IO_PROTOCOL_GUID;

static int efi_to_errno(EFI_STATUS st)
{
    switch (st) {
    case EFI_SUCCESS: return 0;
    case EFI_NO_MEDIA: case EFI_MEDIA_CHANGED: case EFI_NOT_FOUND: return ENODEV;
    case EFI_WRITE_PROTECTED: return EROFS;
    case EFI_OUT_OF_RESOURCES: return ENOMEM;
    case EFI_INVALID_PARAMETER: case EFI_BAD_BUFFER_SIZE: return EINVAL;
    case EFI_UNSUPPORTED: return EOPNOTSUPP;
    default: return EIO;
    }
}

/* ------------------------------------------------------------------ */
/* libc shim hooks and logging                                         */

static ul_efi_ntfs_log_fn log_fn;

static void console_line(const char *s)
{
    CHAR16 buf[200];
    UINTN n = 0;
    for (; *s; s++) {
        if (n + 3 >= sizeof(buf) / sizeof(buf[0])) {
            buf[n] = 0;
            ST->ConOut->OutputString(ST->ConOut, buf);
            n = 0;
        }
        if (*s == '\n')
            buf[n++] = L'\r';
        buf[n++] = (CHAR16)(unsigned char)*s;
    }
    buf[n] = 0;
    ST->ConOut->OutputString(ST->ConOut, buf);
}

static void libc_write(int is_err, const char *text, size_t len)
{
    char line[256];
    size_t n = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
    memcpy(line, text, n);
    line[n] = 0;
    if (log_fn)
        log_fn(is_err, line);
    else if (is_err)
        console_line(line);
}

static void *pool_alloc(size_t size)
{
    void *p = NULL;
    if (BS->AllocatePool(EfiLoaderData, size, &p) != EFI_SUCCESS)
        return NULL;
    return p;
}

static void pool_free(void *p)
{
    BS->FreePool(p);
}

/* The RTC is local time on most Windows machines; libntfs-3g stamps "now"
 * only on what it changes (the core puts times back with set_times). */
static int64_t rtc_seconds(void)
{
    EFI_TIME t;
    if (RT->GetTime(&t, NULL) != EFI_SUCCESS)
        return -1;
    int64_t secs = ul_time_from_fields(t.Year, t.Month, t.Day, t.Hour, t.Minute, t.Second);
    if (secs >= 0 && t.TimeZone != EFI_UNSPECIFIED_TIMEZONE)
        secs += (int64_t)t.TimeZone * 60;    /* UEFI: local = UTC - TimeZone */
    return secs;
}

/* libntfs-3g's ntfs_log_*(): one line per message to the log hook. */
static int log_handler(const char *function, const char *file, int line, u32 level,
                       void *data, const char *format, va_list args)
{
    char buf[300];
    int saved = errno;
    bool is_err = level & (NTFS_LOG_LEVEL_ERROR | NTFS_LOG_LEVEL_PERROR |
                           NTFS_LOG_LEVEL_CRITICAL);
    int n = snprintf(buf, sizeof(buf), "libntfs-3g: ");
    n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, format, args);
    if ((size_t)n < sizeof(buf) && (level & NTFS_LOG_LEVEL_PERROR))
        snprintf(buf + n, sizeof(buf) - (size_t)n, ": %s", strerror(saved));
    size_t len = strlen(buf);
    while (len && buf[len - 1] == '\n')
        buf[--len] = 0;
    if (log_fn)
        log_fn(is_err, buf);
    else if (is_err) {
        console_line(buf);
        console_line("\n");
    }
    errno = saved;
    return (int)len;
}

void ul_efi_ntfs_init(ul_efi_ntfs_log_fn log)
{
    static const struct ul_libc_hooks hooks = {
        .alloc = pool_alloc,
        .free = pool_free,
        .write = libc_write,
        .clock = rtc_seconds,
    };
    log_fn = log;
    ul_libc_init(&hooks);
    ntfs_log_set_handler(log_handler);
    ntfs_log_clear_levels(NTFS_LOG_LEVEL_INFO | NTFS_LOG_LEVEL_QUIET |
                          NTFS_LOG_LEVEL_PROGRESS | NTFS_LOG_LEVEL_VERBOSE);
}

/* ------------------------------------------------------------------ */
/* Device: a partition through EFI_DISK_IO, or EFI_BLOCK_IO + bounce    */

struct efi_dev {
    EFI_BLOCK_IO *bio;
    EFI_DISK_IO *dio;       /* NULL: bounce through bio */
    UINT32 media_id;
    UINT32 block_size;
    uint64_t size;          /* bytes */
    uint64_t pos;           /* for seek/read/write */
    uint8_t *bounce;        /* BOUNCE_SIZE, page aligned (IoAlign) */
};

static int dev_bind(EFI_HANDLE part, struct efi_dev *d)
{
    EFI_STATUS st;

    memset(d, 0, sizeof(*d));
    st = BS->HandleProtocol(part, &block_io_guid, (void **)&d->bio);
    if (st != EFI_SUCCESS)
        return -efi_to_errno(st);
    if (!d->bio->Media->MediaPresent)
        return -ENODEV;
    d->media_id = d->bio->Media->MediaId;
    d->block_size = d->bio->Media->BlockSize;
    if (!d->block_size || d->block_size > BOUNCE_SIZE || (d->block_size & (d->block_size - 1)))
        return -EINVAL;
    d->size = (d->bio->Media->LastBlock + 1) * (uint64_t)d->block_size;
    if (BS->HandleProtocol(part, &disk_io_guid, (void **)&d->dio) != EFI_SUCCESS)
        d->dio = NULL;
    if (!d->dio) {
        EFI_PHYSICAL_ADDRESS a = 0;
        st = BS->AllocatePages(AllocateAnyPages, EfiLoaderData, BOUNCE_SIZE / 4096, &a);
        if (st != EFI_SUCCESS)
            return -efi_to_errno(st);
        d->bounce = (uint8_t *)(UINTN)a;
    }
    return 0;
}

static void dev_unbind(struct efi_dev *d)
{
    if (d->bounce)
        BS->FreePages((EFI_PHYSICAL_ADDRESS)(UINTN)d->bounce, BOUNCE_SIZE / 4096);
    d->bounce = NULL;
}

/* Read or write [off, off+len) of the partition; the range is checked. */
static int dev_io(struct efi_dev *d, bool write, uint64_t off, void *buf, uint64_t len)
{
    EFI_STATUS st;
    uint8_t *p = buf;

    if (d->dio) {
        st = write ? d->dio->WriteDisk(d->dio, d->media_id, off, len, p)
                   : d->dio->ReadDisk(d->dio, d->media_id, off, len, p);
        return -efi_to_errno(st);
    }
    while (len) {
        uint64_t first = off / d->block_size;
        uint32_t skip = (uint32_t)(off % d->block_size);
        uint64_t span = skip + len;
        if (span > BOUNCE_SIZE)
            span = BOUNCE_SIZE;
        span = (span + d->block_size - 1) / d->block_size * d->block_size;
        uint64_t n = span - skip < len ? span - skip : len;
        bool partial = skip || n % d->block_size;
        if (!write || partial) {
            st = d->bio->ReadBlocks(d->bio, d->media_id, first, span, d->bounce);
            if (st != EFI_SUCCESS)
                return -efi_to_errno(st);
        }
        if (write) {
            memcpy(d->bounce + skip, p, n);
            st = d->bio->WriteBlocks(d->bio, d->media_id, first, span, d->bounce);
            if (st != EFI_SUCCESS)
                return -efi_to_errno(st);
        } else {
            memcpy(p, d->bounce + skip, n);
        }
        p += n;
        off += n;
        len -= n;
    }
    return 0;
}

static s64 d_prw(struct ntfs_device *dev, bool write, void *buf, s64 count, s64 offset)
{
    struct efi_dev *d = dev->d_private;

    if (count < 0 || offset < 0) {
        errno = EINVAL;
        return -1;
    }
    if (write && NDevReadOnly(dev)) {
        errno = EROFS;
        return -1;
    }
    if ((uint64_t)offset >= d->size)
        return 0;
    if ((uint64_t)count > d->size - (uint64_t)offset)
        count = (s64)(d->size - (uint64_t)offset);
    if (count == 0)
        return 0;
    int r = dev_io(d, write, (uint64_t)offset, buf, (uint64_t)count);
    if (r < 0) {
        errno = -r;
        return -1;
    }
    if (write)
        NDevSetDirty(dev);
    return count;
}

static int d_open(struct ntfs_device *dev, int flags)
{
    if (NDevOpen(dev)) {
        errno = EBUSY;
        return -1;
    }
    if ((flags & O_ACCMODE) == O_RDONLY)
        NDevSetReadOnly(dev);
    else
        NDevClearReadOnly(dev);
    ((struct efi_dev *)dev->d_private)->pos = 0;
    NDevSetOpen(dev);
    NDevSetBlock(dev);
    return 0;
}

static int d_sync(struct ntfs_device *dev)
{
    struct efi_dev *d = dev->d_private;
    if (NDevReadOnly(dev) || !NDevDirty(dev))
        return 0;
    EFI_STATUS st = d->bio->FlushBlocks(d->bio);
    if (st != EFI_SUCCESS) {
        errno = efi_to_errno(st);
        return -1;
    }
    NDevClearDirty(dev);
    return 0;
}

static int d_close(struct ntfs_device *dev)
{
    if (!NDevOpen(dev)) {
        errno = EBADF;
        return -1;
    }
    int r = d_sync(dev);
    NDevClearOpen(dev);
    return r;
}

static s64 d_seek(struct ntfs_device *dev, s64 offset, int whence)
{
    struct efi_dev *d = dev->d_private;
    s64 base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (s64)d->pos
             : whence == SEEK_END ? (s64)d->size : -1;
    if (base < 0 || base + offset < 0) {
        errno = EINVAL;
        return -1;
    }
    d->pos = (uint64_t)(base + offset);
    return (s64)d->pos;
}

static s64 d_pread(struct ntfs_device *dev, void *buf, s64 count, s64 offset)
{
    return d_prw(dev, false, buf, count, offset);
}

static s64 d_pwrite(struct ntfs_device *dev, const void *buf, s64 count, s64 offset)
{
    return d_prw(dev, true, (void *)buf, count, offset);
}

static s64 d_read(struct ntfs_device *dev, void *buf, s64 count)
{
    struct efi_dev *d = dev->d_private;
    s64 n = d_prw(dev, false, buf, count, (s64)d->pos);
    if (n > 0)
        d->pos += (uint64_t)n;
    return n;
}

static s64 d_write(struct ntfs_device *dev, const void *buf, s64 count)
{
    struct efi_dev *d = dev->d_private;
    s64 n = d_prw(dev, true, (void *)buf, count, (s64)d->pos);
    if (n > 0)
        d->pos += (uint64_t)n;
    return n;
}

static int d_stat(struct ntfs_device *dev, struct stat *buf)
{
    struct efi_dev *d = dev->d_private;
    memset(buf, 0, sizeof(*buf));
    buf->st_mode = S_IFBLK;
    buf->st_size = (off_t)d->size;
    buf->st_blksize = (blksize_t)d->block_size;
    return 0;
}

/* The size queries of device.c (BLKGETSIZE64 and BLKSSZGET are defined in
 * efi/ntfs-config.h so that it asks instead of probing byte by byte). */
static int d_ioctl(struct ntfs_device *dev, unsigned long request, void *argp)
{
    struct efi_dev *d = dev->d_private;
    switch (request) {
    case BLKGETSIZE64:
        *(u64 *)argp = d->size;
        return 0;
    case BLKSSZGET:
        *(int *)argp = (int)d->block_size;
        return 0;
    default:
        errno = EOPNOTSUPP;
        return -1;
    }
}

static struct ntfs_device_operations efi_dev_ops = {
    .open = d_open,
    .close = d_close,
    .seek = d_seek,
    .read = d_read,
    .write = d_write,
    .pread = d_pread,
    .pwrite = d_pwrite,
    .sync = d_sync,
    .stat = d_stat,
    .ioctl = d_ioctl,
};

int ul_efi_ntfs_probe(EFI_HANDLE part)
{
    struct efi_dev d;
    uint8_t bs[512];
    int r = dev_bind(part, &d);
    if (r < 0)
        return r;
    r = d.size >= sizeof(bs) ? dev_io(&d, false, 0, bs, sizeof(bs)) : -EINVAL;
    dev_unbind(&d);
    if (r < 0)
        return r;
    return memcmp(bs + 3, "NTFS    ", 8) == 0;
}

/* ------------------------------------------------------------------ */
/* Mounting                                                            */

struct ul_efi_ntfs {
    ntfs_volume *vol;
    struct efi_dev dev;
    unsigned flags;
    bool modified;
};

static int errno_or(int fallback)
{
    return errno ? -errno : -fallback;
}

int ul_efi_ntfs_open(EFI_HANDLE part, unsigned flags, struct ul_efi_ntfs **ret)
{
    struct ntfs_device *dev;
    struct ul_efi_ntfs *v;
    int r;

    *ret = NULL;
    v = calloc(1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    v->flags = flags;
    r = dev_bind(part, &v->dev);
    if (r < 0)
        goto fail;
    dev = ntfs_device_alloc("efi-partition", 0, &efi_dev_ops, &v->dev);
    if (!dev) {
        r = -ENOMEM;
        goto fail;
    }
    errno = 0;
    v->vol = ntfs_device_mount(dev, (flags & UL_EFI_NTFS_RDONLY) ? NTFS_MNT_RDONLY
                                                                : NTFS_MNT_NONE);
    if (!v->vol) {
        r = errno_or(EIO);
        if (NDevOpen(dev))
            d_close(dev);
        ntfs_device_free(dev);
        goto fail;
    }
    /* Windows semantics: names match ignoring case (the volume's $UpCase). */
    if (ntfs_set_ignore_case(v->vol) < 0) {
        r = errno_or(ENOMEM);
        ntfs_umount(v->vol, FALSE);
        goto fail;
    }
    *ret = v;
    return 0;
fail:
    dev_unbind(&v->dev);
    free(v);
    return r;
}

int ul_efi_ntfs_close(struct ul_efi_ntfs *v)
{
    int r = 0;

    if (!v)
        return 0;
    if (v->modified && (v->flags & UL_EFI_NTFS_MARK_DIRTY) && !NVolReadOnly(v->vol) &&
        !(v->vol->flags & VOLUME_IS_DIRTY) &&
        ntfs_volume_write_flags(v->vol, v->vol->flags | VOLUME_IS_DIRTY) < 0)
        r = errno_or(EIO);
    errno = 0;
    if (ntfs_umount(v->vol, FALSE) < 0 && r == 0)   /* syncs, closes, frees dev */
        r = errno_or(EIO);
    dev_unbind(&v->dev);
    free(v);
    return r;
}

/* ------------------------------------------------------------------ */
/* Paths                                                               */

struct path_parts {
    char buf[1024];
    char *comp[MAX_COMPONENTS];
    int n;
};

static int split_path(const char *path, struct path_parts *pp)
{
    if (strlen(path) >= sizeof(pp->buf))
        return -ENAMETOOLONG;
    strcpy(pp->buf, path);
    pp->n = 0;
    for (char *p = pp->buf; *p;) {
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

static bool is_dir(ntfs_inode *ni)
{
    return (ni->mrec->flags & MFT_RECORD_IS_DIRECTORY) != 0;
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

/* MFT reference of name in dir, or (u64)-1 with errno set. */
static u64 lookup(ntfs_inode *dir, const char *name)
{
    ntfschar *u;
    int len = to_utf16(name, &u);
    if (len < 0) {
        errno = -len;
        return (u64)-1;
    }
    errno = 0;
    u64 mref = ntfs_inode_lookup_by_name(dir, u, len);
    int e = errno;
    free(u);
    errno = e;
    return mref;
}

/*
 * Open the parent directory of pp's last component and, when it exists, the
 * component itself (*ret_ni, else NULL).  The root itself: *ret_dir = NULL,
 * *ret_ni = root.  trail (may be NULL) gets the MFT number of each directory
 * walked through.
 */
static int walk(ntfs_volume *vol, const struct path_parts *pp, ntfs_inode **ret_dir,
                ntfs_inode **ret_ni, u64 *trail)
{
    ntfs_inode *dir = ntfs_inode_open(vol, FILE_root);

    *ret_dir = *ret_ni = NULL;
    if (!dir)
        return errno_or(EIO);
    if (pp->n == 0) {
        *ret_ni = dir;
        return 0;
    }
    for (int i = 0;; i++) {
        bool last = i == pp->n - 1;
        if (trail)
            trail[i] = dir->mft_no;
        u64 mref = lookup(dir, pp->comp[i]);
        if (mref == (u64)-1) {
            int r = errno_or(ENOENT);
            if (last && r == -ENOENT) {
                *ret_dir = dir;
                return 0;
            }
            ntfs_inode_close(dir);
            return r;
        }
        ntfs_inode *ni = ntfs_inode_open(vol, MREF(mref));
        if (!ni) {
            int r = errno_or(EIO);
            ntfs_inode_close(dir);
            return r;
        }
        if (last) {
            *ret_dir = dir;
            *ret_ni = ni;
            return 0;
        }
        ntfs_inode_close(dir);  /* lookups only: never dirty */
        if (!is_dir(ni)) {
            ntfs_inode_close(ni);
            return -ENOTDIR;
        }
        dir = ni;
    }
}

static int walk_existing(ntfs_volume *vol, const char *path, struct path_parts *pp,
                         ntfs_inode **ret_dir, ntfs_inode **ret_ni)
{
    int r = split_path(path, pp);
    if (r < 0)
        return r;
    r = walk(vol, pp, ret_dir, ret_ni, NULL);
    if (r < 0)
        return r;
    if (!*ret_ni) {
        ntfs_inode_close(*ret_dir);
        *ret_dir = NULL;
        return -ENOENT;
    }
    return 0;
}

/* Close ni (in dir, which updates its index entry there) and dir; returns
 * r, or the first close error when r is 0. */
static int close_both(ntfs_inode *dir, ntfs_inode *ni, int r)
{
    if (ni) {
        int c = dir ? ntfs_inode_close_in_dir(ni, dir) : ntfs_inode_close(ni);
        if (c && !r)
            r = errno_or(EIO);
    }
    if (dir && ntfs_inode_close(dir) && !r)
        r = errno_or(EIO);
    return r;
}

/* What libntfs-3g keeps open (MFT, cluster bitmap) goes to the disk, and
 * the disk is flushed: the ops promise "on the medium when this returns". */
static int flush(struct ul_efi_ntfs *v, int r)
{
    ntfs_volume *vol = v->vol;
    if (vol->mft_ni && NInoDirty(vol->mft_ni) && ntfs_inode_sync(vol->mft_ni) && !r)
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
static int writable(struct ul_efi_ntfs *v)
{
    if (NVolReadOnly(v->vol))
        return -EROFS;
    if (!v->modified && (v->flags & UL_EFI_NTFS_MARK_DIRTY) && !(v->vol->flags & VOLUME_IS_DIRTY)) {
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
    struct ul_efi_ntfs *v = ctx;
    struct path_parts pp;
    ntfs_inode *dir, *ni;
    int r;

    *ret_read = 0;
    r = walk_existing(v->vol, path, &pp, &dir, &ni);
    if (r < 0)
        return r;
    if (is_dir(ni))
        return close_both(dir, ni, -EISDIR);
    ntfs_attr *na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
    if (!na)    /* no unnamed $DATA: an empty file */
        return close_both(dir, ni, errno == ENOENT ? 0 : errno_or(EIO));
    while (*ret_read < len && off + *ret_read < (uint64_t)na->data_size) {
        s64 n = ntfs_attr_pread(na, (s64)(off + *ret_read), (s64)(len - *ret_read),
                                (char *)buf + *ret_read);
        if (n <= 0) {
            r = n < 0 ? errno_or(EIO) : 0;
            break;
        }
        *ret_read += (size_t)n;
    }
    ntfs_attr_close(na);
    return close_both(dir, ni, r);
}

static int create_in(ntfs_inode *dir, const char *name, mode_t type, ntfs_inode **ret)
{
    ntfschar *u;
    int len = to_utf16(name, &u);
    if (len < 0)
        return len;
    errno = 0;
    *ret = ntfs_create(dir, const_cpu_to_le32(0), u, (u8)len, type);
    free(u);
    if (!*ret)
        return errno_or(EIO);
    ntfs_inode_update_mbsname(dir, name, (*ret)->mft_no);
    return 0;
}

static int v_write(void *ctx, const char *path, uint64_t off, const void *buf, size_t len)
{
    struct ul_efi_ntfs *v = ctx;
    struct path_parts pp;
    ntfs_inode *dir, *ni;
    int r;

    if ((r = writable(v)) < 0 || (r = split_path(path, &pp)) < 0)
        return r;
    if (pp.n == 0)
        return -EISDIR;
    if (off + len < off || off + len > (uint64_t)INT64_MAX)
        return -EFBIG;
    r = walk(v->vol, &pp, &dir, &ni, NULL);
    if (r < 0)
        return r;
    if (!is_dir(dir))
        r = -ENOTDIR;
    else if (!ni)
        r = create_in(dir, pp.comp[pp.n - 1], S_IFREG, &ni);
    else if (is_dir(ni))
        r = -EISDIR;
    if (r == 0) {
        ntfs_attr *na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
        if (!na) {
            r = errno_or(EIO);
        } else {
            /* Allocate real clusters before writing past the end: writing
             * there would make a sparse file, which Windows never writes. */
            if (off + len > (uint64_t)na->data_size &&
                ntfs_attr_truncate_solid(na, (s64)(off + len)) < 0)
                r = errno_or(ENOSPC);
            for (size_t done = 0; r == 0 && done < len;) {
                s64 n = ntfs_attr_pwrite(na, (s64)(off + done), (s64)(len - done),
                                         (const char *)buf + done);
                if (n <= 0)
                    r = n < 0 ? errno_or(EIO) : -EIO;
                else
                    done += (size_t)n;
            }
            ntfs_attr_close(na);
            ntfs_inode_update_times(ni, NTFS_UPDATE_MCTIME);
        }
    }
    return flush(v, close_both(dir, ni, r));
}

static void fill_stat(ntfs_inode *ni, struct ul_stat *st)
{
    memset(st, 0, sizeof(*st));
    st->is_dir = is_dir(ni);
    st->size = st->is_dir ? 0 : (uint64_t)ni->data_size;
    /* ntfs_inode_open() loads these from $STANDARD_INFORMATION */
    st->times.creation = (uint64_t)sle64_to_cpu(ni->creation_time);
    st->times.modification = (uint64_t)sle64_to_cpu(ni->last_data_change_time);
    st->times.mft_change = (uint64_t)sle64_to_cpu(ni->last_mft_change_time);
    st->times.access = (uint64_t)sle64_to_cpu(ni->last_access_time);
    st->file_id = MK_MREF(ni->mft_no, le16_to_cpu(ni->mrec->sequence_number));
}

static int v_stat(void *ctx, const char *path, struct ul_stat *ret)
{
    struct ul_efi_ntfs *v = ctx;
    struct path_parts pp;
    ntfs_inode *dir, *ni;
    int r = walk_existing(v->vol, path, &pp, &dir, &ni);
    if (r < 0)
        return r;
    fill_stat(ni, ret);
    return close_both(dir, ni, 0);
}

static int v_mkdir(void *ctx, const char *path)
{
    struct ul_efi_ntfs *v = ctx;
    struct path_parts pp;
    ntfs_inode *dir, *ni;
    int r;

    if ((r = writable(v)) < 0 || (r = split_path(path, &pp)) < 0)
        return r;
    if (pp.n == 0)
        return -EEXIST;
    r = walk(v->vol, &pp, &dir, &ni, NULL);
    if (r < 0)
        return r;
    if (ni)
        r = -EEXIST;
    else if (!is_dir(dir))
        r = -ENOTDIR;
    else
        r = create_in(dir, pp.comp[pp.n - 1], S_IFDIR, &ni);
    return flush(v, close_both(dir, ni, r));
}

/* A Win32 name of ni in dir with no DOS name becomes a POSIX name, in the
 * MFT record and in the index (the namespace byte does not take part in
 * the collation): ntfs_delete() cannot remove it otherwise. */
static int win32_to_posix(ntfs_inode *ni, ntfs_inode *dir)
{
    ntfs_attr_search_ctx *actx = ntfs_attr_get_search_ctx(ni, NULL);
    FILE_NAME_ATTR *win32 = NULL;
    u32 win32_len = 0;
    bool dos = false;
    int r = 0;

    if (!actx)
        return errno_or(ENOMEM);
    while (!ntfs_attr_lookup(AT_FILE_NAME, AT_UNNAMED, 0, CASE_SENSITIVE, 0, NULL, 0, actx)) {
        FILE_NAME_ATTR *fn = (FILE_NAME_ATTR *)((u8 *)actx->attr +
                                                le16_to_cpu(actx->attr->value_offset));
        if (MREF_LE(fn->parent_directory) != dir->mft_no)
            continue;
        if (fn->file_name_type == FILE_NAME_DOS) {
            dos = true;
        } else if (fn->file_name_type == FILE_NAME_WIN32 && !win32) {
            win32 = fn;
            win32_len = le32_to_cpu(actx->attr->value_length);
        }
    }
    if (win32 && !dos) {
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

/* Drop the name `name` of ni in dir; closes both (as ntfs_delete() does). */
static int drop_name(ntfs_volume *vol, ntfs_inode *ni, ntfs_inode *dir, const char *name)
{
    ntfschar *u;
    int len = to_utf16(name, &u);
    if (len < 0)
        return close_both(dir, ni, len);
    int r = win32_to_posix(ni, dir);
    if (r < 0) {
        free(u);
        return close_both(dir, ni, r);
    }
    errno = 0;
    if (ntfs_delete(vol, NULL, ni, dir, u, (u8)len))
        r = errno_or(EIO);
    free(u);
    return r;
}

static int v_remove(void *ctx, const char *path)
{
    struct ul_efi_ntfs *v = ctx;
    struct path_parts pp;
    ntfs_inode *dir, *ni;
    int r;

    if ((r = writable(v)) < 0)
        return r;
    r = walk_existing(v->vol, path, &pp, &dir, &ni);
    if (r < 0)
        return r;
    if (!dir)
        return close_both(NULL, ni, -EBUSY);    /* the root */
    if (is_dir(ni)) {
        errno = 0;
        int e = ntfs_check_empty_dir(ni);
        if (e)
            return close_both(dir, ni, e < 0 ? errno_or(ENOTEMPTY) : -ENOTEMPTY);
    }
    return flush(v, drop_name(v->vol, ni, dir, pp.comp[pp.n - 1]));
}

/*
 * New name `to` for `from`, then drop the old one: ntfs_link() +
 * ntfs_delete(), as the ntfs-3g driver renames.  A power cut in between
 * leaves one file with both names (same file_id): journal replay's case.
 */
static int relink(struct ul_efi_ntfs *v, const char *from, const char *to, bool same_dir)
{
    struct path_parts pf, pt;
    ntfs_inode *fdir, *ni, *tdir, *tni;
    u64 trail[MAX_COMPONENTS];
    int r;

    if ((r = writable(v)) < 0 || (r = split_path(to, &pt)) < 0)
        return r;
    r = walk_existing(v->vol, from, &pf, &fdir, &ni);
    if (r < 0)
        return r;
    if (!fdir || pt.n == 0)
        return close_both(fdir, ni, -EBUSY);
    u64 from_dir = fdir->mft_no, from_no = ni->mft_no;
    close_both(fdir, ni, 0);    /* never an inode open twice */

    r = walk(v->vol, &pt, &tdir, &tni, trail);
    if (r < 0)
        return r;
    if (tni) {
        /* Only "a" -> "A" in one directory names the same file again. */
        bool case_only = tni->mft_no == from_no && tdir->mft_no == from_dir &&
                         strcmp(pf.comp[pf.n - 1], pt.comp[pt.n - 1]) != 0;
        ntfs_inode_close_in_dir(tni, tdir);
        if (!case_only) {
            ntfs_inode_close(tdir);
            return -EEXIST;
        }
    }
    if (!is_dir(tdir))
        r = -ENOTDIR;
    else if (same_dir && tdir->mft_no != from_dir)
        r = -EXDEV;
    if (r == 0) {
        trail[pt.n - 1] = tdir->mft_no;
        for (int i = 0; i < pt.n; i++)
            if (trail[i] == from_no)
                r = -EINVAL;    /* a directory into itself */
    }
    if (r < 0) {
        ntfs_inode_close(tdir);
        return r;
    }
    ni = ntfs_inode_open(v->vol, from_no);
    if (!ni) {
        r = errno_or(EIO);
        ntfs_inode_close(tdir);
        return r;
    }
    ntfschar *u;
    int len = to_utf16(pt.comp[pt.n - 1], &u);
    if (len < 0) {
        ntfs_inode_close(ni);
        ntfs_inode_close(tdir);
        return len;
    }
    errno = 0;
    r = ntfs_link(ni, tdir, u, (u8)len) ? errno_or(EIO) : 0;
    free(u);
    if (r == 0)
        ntfs_inode_update_mbsname(tdir, pt.comp[pt.n - 1], ni->mft_no);
    /* Close the target directory first unless it is also the source one:
     * closing ni later updates its new name's index entry by opening it. */
    fdir = NULL;
    if (tdir->mft_no == from_dir)
        fdir = tdir;
    else if (ntfs_inode_close(tdir) && r == 0)
        r = errno_or(EIO);
    if (r == 0 && !fdir) {
        fdir = ntfs_inode_open(v->vol, from_dir);
        if (!fdir)
            r = errno_or(EIO);
    }
    if (r < 0)
        return flush(v, close_both(fdir, ni, r));
    return flush(v, drop_name(v->vol, ni, fdir, pf.comp[pf.n - 1]));
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
    struct ul_efi_ntfs *v = ctx;
    struct path_parts pp;
    ntfs_inode *dir, *ni;
    int r;

    if ((r = writable(v)) < 0)
        return r;
    r = walk_existing(v->vol, path, &pp, &dir, &ni);
    if (r < 0)
        return r;
    /* Written to $STANDARD_INFORMATION and the index entries when ni is
     * synced (closed); nothing later in the session restamps it. */
    ni->creation_time = cpu_to_sle64((s64)t->creation);
    ni->last_data_change_time = cpu_to_sle64((s64)t->modification);
    ni->last_mft_change_time = cpu_to_sle64((s64)t->mft_change);
    ni->last_access_time = cpu_to_sle64((s64)t->access);
    NInoSetDirty(ni);
    NInoFileNameSetDirty(ni);
    return flush(v, close_both(dir, ni, 0));
}

struct entry {
    char *name;
    MFT_REF mref;
};

struct listing {
    struct entry *e;
    size_t n, cap;
    bool root;
    int err;
};

static int filldir(void *arg, const ntfschar *name, const int name_len, const int name_type,
                   const s64 pos, const MFT_REF mref, const unsigned dt_type)
{
    struct listing *l = arg;
    char *s = NULL;

    if (name_type == FILE_NAME_DOS)
        return 0;   /* the 8.3 alias of an entry listed under its long name */
    if (l->root && MREF(mref) < FILE_first_user)
        return 0;   /* $MFT, $LogFile, ... */
    if (ntfs_ucstombs(name, name_len, &s, 0) < 0) {
        l->err = errno_or(EILSEQ);
        return -1;
    }
    if (!strcmp(s, ".") || !strcmp(s, "..")) {
        free(s);
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        struct entry *ne = realloc(l->e, cap * sizeof(*ne));
        if (!ne) {
            free(s);
            l->err = -ENOMEM;
            return -1;
        }
        l->e = ne;
        l->cap = cap;
    }
    l->e[l->n++] = (struct entry){ s, mref };
    return 0;
}

static int v_list(void *ctx, const char *path, ul_list_cb cb, void *arg)
{
    struct ul_efi_ntfs *v = ctx;
    struct listing l = { 0 };
    struct path_parts pp;
    ntfs_inode *dir, *ni;
    s64 pos = 0;
    int r;

    r = walk_existing(v->vol, path, &pp, &dir, &ni);
    if (r < 0)
        return r;
    if (dir)
        ntfs_inode_close(dir);
    if (!is_dir(ni)) {
        ntfs_inode_close(ni);
        return -ENOTDIR;
    }
    l.root = ni->mft_no == FILE_root;
    /* ignore-case makes ntfs_readdir() lower-case the names it hands out */
    NVolSetCaseSensitive(v->vol);
    errno = 0;
    if (ntfs_readdir(ni, &pos, &l, filldir) && !l.err)
        l.err = errno_or(EIO);
    NVolClearCaseSensitive(v->vol);
    r = l.err;
    for (size_t i = 0; i < l.n && r == 0; i++) {
        ntfs_inode *c = ntfs_inode_open(v->vol, MREF(l.e[i].mref));
        struct ul_stat st;
        if (!c) {
            r = errno_or(EIO);
            break;
        }
        fill_stat(c, &st);
        ntfs_inode_close(c);
        r = cb(arg, l.e[i].name, &st);
    }
    ntfs_inode_close(ni);
    for (size_t i = 0; i < l.n; i++)
        free(l.e[i].name);
    free(l.e);
    return r;
}

const struct ul_volume_ops ul_efi_ntfs_ops = {
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

#else /* UL_EFI_NTFS_TEST */

/* ------------------------------------------------------------------ */
/* build/efi/ntfs/efi-ntfs-test.efi                                    */
/*
 * For every logical-partition EFI_BLOCK_IO handle holding NTFS: mount it
 * read-only, stat and list the CrowdStrike channel file of the test image
 * (images/test-machine.manifest), and, when \EFI\unloop\unloop.conf on the
 * ESP has a line "ntfs_test_move=1", mount read-write and move that file
 * into \unloop.quarantine\test\ and back, putting its times back.  Ends
 * QEMU through isa-debug-exit: status (0 << 1) | 1 = 1 on success, 3 on
 * failure.
 */

EFI_SYSTEM_TABLE *ST;
EFI_BOOT_SERVICES *BS;
EFI_RUNTIME_SERVICES *RT;

#define DIR_CS "\\Windows\\System32\\drivers\\CrowdStrike"
#define FILE_CS DIR_CS "\\C-00000291-00000000-00000032.sys"
#define QDIR "\\unloop.quarantine"
#define QDIR_TEST QDIR "\\test"
#define FILE_Q QDIR_TEST "\\C-00000291-00000000-00000032.sys"

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    char buf[400];
    CHAR16 w[420];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    UINTN n = 0;
    for (const char *p = buf; *p && n < 416; p++) {
        if (*p == '\n')
            w[n++] = L'\r';
        w[n++] = (CHAR16)(unsigned char)*p;
    }
    w[n] = 0;
    ST->ConOut->OutputString(ST->ConOut, w);
}

static void log_line(int is_error, const char *line)
{
    out("%s%s\n", is_error ? "ERROR " : "", line);
}

/* FILETIME (100 ns since 1601) as "YYYY-MM-DD HH:MM:SS.fffffff UTC". */
static const char *ft(uint64_t t, char *buf, size_t size)
{
    char s[24];
    int64_t secs = (int64_t)(t / 10000000) - 11644473600LL;
    ul_time_format(secs, s, sizeof(s));
    snprintf(buf, size, "%s.%07u", s, (unsigned)(t % 10000000));
    return buf;
}

static void print_stat(const char *what, const struct ul_stat *st)
{
    char a[40], b[40];
    out("  %s: size %llu, mtime %s, ctime %s, file_id 0x%llx\n", what,
        (unsigned long long)st->size, ft(st->times.modification, a, sizeof(a)),
        ft(st->times.creation, b, sizeof(b)), (unsigned long long)st->file_id);
}

static int list_cb(void *arg, const char *name, const struct ul_stat *st)
{
    char a[40];
    out("    %-40s %s %10llu  %s\n", name, st->is_dir ? "<DIR>" : "     ",
        (unsigned long long)st->size, ft(st->times.modification, a, sizeof(a)));
    return 0;
}

static int list_dir(struct ul_efi_ntfs *v, const char *dir)
{
    out("  listing %s:\n", dir);
    int r = ul_efi_ntfs_ops.list(v, dir, list_cb, NULL);
    if (r < 0)
        out("  list %s: error %d (%s)\n", dir, r, strerror(-r));
    return r;
}

static bool want_move_test(EFI_HANDLE image)
{
    static EFI_GUID li_guid = LOADED_IMAGE_PROTOCOL;
    static EFI_GUID sfs_guid = SIMPLE_FILE_SYSTEM_PROTOCOL;
    EFI_LOADED_IMAGE *li;
    EFI_FILE_IO_INTERFACE *sfs;
    EFI_FILE_HANDLE root, f;
    char buf[2048];
    UINTN n = sizeof(buf) - 1;
    bool yes = false;

    if (BS->HandleProtocol(image, &li_guid, (void **)&li) != EFI_SUCCESS ||
        BS->HandleProtocol(li->DeviceHandle, &sfs_guid, (void **)&sfs) != EFI_SUCCESS ||
        sfs->OpenVolume(sfs, &root) != EFI_SUCCESS)
        return false;
    if (root->Open(root, &f, L"\\EFI\\unloop\\unloop.conf", EFI_FILE_MODE_READ, 0) ==
        EFI_SUCCESS) {
        if (f->Read(f, &n, buf) == EFI_SUCCESS) {
            buf[n] = 0;
            for (char *p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (!strncmp(p, "ntfs_test_move=1", 16))
                    yes = true;
        }
        f->Close(f);
    }
    root->Close(root);
    return yes;
}

static int check(int r, const char *what)
{
    if (r < 0)
        out("  FAIL %s: %d (%s)\n", what, r, strerror(-r));
    else
        out("  ok   %s\n", what);
    return r;
}

static int move_test(EFI_HANDLE part)
{
    struct ul_efi_ntfs *v;
    struct ul_stat before, st;
    int r;

    out("move test: mounting read-write\n");
    r = ul_efi_ntfs_open(part, 0, &v);
    if (check(r, "mount read-write") < 0)
        return r;
    const struct ul_volume_ops *ops = &ul_efi_ntfs_ops;
    r = check(ops->stat(v, FILE_CS, &before), "stat " FILE_CS);
    if (r == 0) {
        r = ops->mkdir(v, QDIR);
        check(r == -EEXIST ? 0 : r, "mkdir " QDIR);
        r = ops->mkdir(v, QDIR_TEST);
        r = check(r == -EEXIST ? 0 : r, "mkdir " QDIR_TEST);
    }
    if (r == 0)
        r = check(ops->move(v, FILE_CS, FILE_Q), "move to " FILE_Q);
    if (r == 0 && check(ops->stat(v, FILE_Q, &st), "stat " FILE_Q) == 0)
        print_stat("quarantined", &st);
    if (r == 0) {
        r = ops->stat(v, FILE_CS, &st);
        r = check(r == -ENOENT ? 0 : r < 0 ? r : -EEXIST, "original name gone");
    }
    if (r == 0)
        list_dir(v, QDIR_TEST);
    if (r == 0)
        r = check(ops->move(v, FILE_Q, FILE_CS), "move back to " FILE_CS);
    if (r == 0)
        r = check(ops->set_times(v, FILE_CS, &before.times), "set_times (put back)");
    if (r == 0 && check(ops->stat(v, FILE_CS, &st), "stat after restore") == 0) {
        print_stat("restored", &st);
        if (st.size != before.size || st.file_id != before.file_id ||
            memcmp(&st.times, &before.times, sizeof(st.times)))
            r = check(-EINVAL, "size, file_id and times as before");
        else
            check(0, "size, file_id and times as before");
    }
    int r2 = check(ul_efi_ntfs_close(v), "unmount");
    return r ? r : r2;
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab);

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    static EFI_GUID bio_guid = EFI_BLOCK_IO_PROTOCOL_GUID;
    EFI_HANDLE *handles = NULL;
    UINTN count = 0;
    int failures = 0, found = 0;

    ST = systab;
    BS = systab->BootServices;
    RT = systab->RuntimeServices;
    ul_efi_ntfs_init(log_line);

    out("\nefi-ntfs-test: libntfs-3g %s inside UEFI\n", PACKAGE_VERSION);
    bool move = want_move_test(image);
    out("move test: %s\n", move ? "enabled (ntfs_test_move=1)" : "disabled");

    if (BS->LocateHandleBuffer(ByProtocol, &bio_guid, NULL, &count, &handles) != EFI_SUCCESS)
        count = 0;
    for (UINTN i = 0; i < count; i++) {
        EFI_BLOCK_IO *bio;
        if (BS->HandleProtocol(handles[i], &bio_guid, (void **)&bio) != EFI_SUCCESS ||
            !bio->Media->LogicalPartition || !bio->Media->MediaPresent)
            continue;
        int p = ul_efi_ntfs_probe(handles[i]);
        out("partition %u: %llu blocks of %u bytes: %s\n", (unsigned)i,
            (unsigned long long)bio->Media->LastBlock + 1, (unsigned)bio->Media->BlockSize,
            p < 0 ? "unreadable" : p ? "NTFS" : "not NTFS");
        if (p <= 0)
            continue;
        found++;

        struct ul_efi_ntfs *v;
        int r = ul_efi_ntfs_open(handles[i], UL_EFI_NTFS_RDONLY, &v);
        if (check(r, "mount read-only") < 0) {
            failures++;
            continue;
        }
        struct ul_stat st;
        r = ul_efi_ntfs_ops.stat(v, FILE_CS, &st);
        if (check(r, "stat " FILE_CS) == 0)
            print_stat("channel file", &st);
        else
            failures++;
        uint8_t head[8];
        size_t got = 0;
        r = ul_efi_ntfs_ops.read(v, FILE_CS, 0, head, sizeof(head), &got);
        if (check(r, "read first 8 bytes") == 0)
            out("  first bytes: %02x %02x %02x %02x %02x %02x %02x %02x (%zu read)\n",
                head[0], head[1], head[2], head[3], head[4], head[5], head[6], head[7], got);
        else
            failures++;
        if (list_dir(v, DIR_CS) < 0)
            failures++;
        if (check(ul_efi_ntfs_close(v), "unmount") < 0)
            failures++;
        if (move && move_test(handles[i]) < 0)
            failures++;
    }
    if (handles)
        BS->FreePool(handles);
    if (!found) {
        out("no NTFS partition found\n");
        failures++;
    }
    out("efi-ntfs-test: %s\n", failures ? "FAILED" : "PASSED");
    /* isa-debug-exit: QEMU exits with (value << 1) | 1 */
    uint8_t code = failures ? 1 : 0;
    __asm__ __volatile__("outb %0, %1" : : "a"(code), "Nd"((uint16_t)0xf4));
    return failures ? EFI_ABORTED : EFI_SUCCESS;
}

#endif /* UL_EFI_NTFS_TEST */
