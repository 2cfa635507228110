/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NTFS in the pre-boot app (DESIGN.md §1): a partition's EFI_DISK_IO (or
 * EFI_BLOCK_IO through a bounce buffer) as libntfs-3g's device, and the
 * hooks of our libc shim (efi/libc: pool memory, RT->GetTime, output).
 * Probing, the mount policy and the volume ops are shared/ntfs/ul-ntfs.c,
 * the same code as in the CLI.
 *
 * Built with efi/libc's headers (errno, malloc, ... from the shim) next to
 * gnu-efi's.
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

#include <ntfs-3g/types.h>
#include <ntfs-3g/device.h>

#include "efi-ntfs.h"
#include "../shared/bitlocker.h"
#include "../shared/time-util.h"
#include "../shared/ul-errno.h"

extern EFI_SYSTEM_TABLE *ST;
extern EFI_BOOT_SERVICES *BS;
extern EFI_RUNTIME_SERVICES *RT;

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

/* libntfs-3g's messages: to log, else errors on the console. */
static void lib_line(int is_error, const char *line)
{
    if (log_fn)
        log_fn(is_error, line);
    else if (is_error) {
        console_line(line);
        console_line("\n");
    }
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
    ul_ntfs_set_log(lib_line);
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
    /* Read cache: firmware caches nothing, and libntfs-3g reads one MFT
     * record or index block at a time (measured: ~44,000 reads to scan
     * 20,000 files).  Direct-mapped chunks, write-through. */
    uint8_t *cache;         /* CACHE_CHUNKS * CACHE_CHUNK, on first read */
    uint64_t *tags;         /* chunk number + 1 in each slot; 0 = empty */
    bool no_cache;          /* the allocation failed: read directly */
    bool writable;          /* opened read-write (d_open) */
    /* A BitLocker volume (struct ul_efi_bitlocker): libntfs-3g reads and
     * writes the plaintext through shared/bitlocker.c, which reads and
     * writes the partition through the cache below. */
    struct ul_bitlocker *bl;
};

#define CACHE_CHUNK (64 * 1024)
#define CACHE_CHUNKS 256    /* 16 MiB */

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
    if (d->cache)
        BS->FreePages((EFI_PHYSICAL_ADDRESS)(UINTN)d->cache,
                      (UINTN)CACHE_CHUNKS * CACHE_CHUNK / 4096);
    if (d->tags)
        BS->FreePool(d->tags);
    d->cache = NULL;
    d->tags = NULL;
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

static bool cache_ready(struct efi_dev *d)
{
    if (d->cache || d->no_cache)
        return d->cache != NULL;
    EFI_PHYSICAL_ADDRESS a = 0;
    if (BS->AllocatePages(AllocateAnyPages, EfiLoaderData, (UINTN)CACHE_CHUNKS * CACHE_CHUNK / 4096,
                          &a) != EFI_SUCCESS ||
        BS->AllocatePool(EfiLoaderData, CACHE_CHUNKS * sizeof(uint64_t), (void **)&d->tags) !=
            EFI_SUCCESS) {
        if (a)
            BS->FreePages(a, (UINTN)CACHE_CHUNKS * CACHE_CHUNK / 4096);
        d->tags = NULL;
        d->no_cache = true;     /* slower, not wrong */
        return false;
    }
    d->cache = (uint8_t *)(UINTN)a;
    memset(d->tags, 0, CACHE_CHUNKS * sizeof(uint64_t));
    return true;
}

/* [off, off+len) lies within the device (d_prw checked). */
static int cached_read(struct efi_dev *d, uint64_t off, uint8_t *buf, uint64_t len)
{
    if (!cache_ready(d))
        return dev_io(d, false, off, buf, len);
    while (len) {
        uint64_t idx = off / CACHE_CHUNK, within = off % CACHE_CHUNK;
        uint64_t n = CACHE_CHUNK - within < len ? CACHE_CHUNK - within : len;
        unsigned slot = (unsigned)(idx % CACHE_CHUNKS);
        uint8_t *c = d->cache + (UINTN)slot * CACHE_CHUNK;
        if (d->tags[slot] != idx + 1) {
            uint64_t start = idx * CACHE_CHUNK;
            uint64_t clen = d->size - start < CACHE_CHUNK ? d->size - start : CACHE_CHUNK;
            d->tags[slot] = 0;
            int r = dev_io(d, false, start, c, clen);
            if (r < 0)
                return r;
            d->tags[slot] = idx + 1;
        }
        memcpy(buf, c + within, n);
        buf += n;
        off += n;
        len -= n;
    }
    return 0;
}

/* After a write (r: its result): cached chunks get the new bytes, or are
 * dropped if the write failed (the device may hold either). */
static void cache_written(struct efi_dev *d, uint64_t off, const uint8_t *buf, uint64_t len, int r)
{
    if (!d->cache)
        return;
    while (len) {
        uint64_t idx = off / CACHE_CHUNK, within = off % CACHE_CHUNK;
        uint64_t n = CACHE_CHUNK - within < len ? CACHE_CHUNK - within : len;
        unsigned slot = (unsigned)(idx % CACHE_CHUNKS);
        if (d->tags[slot] == idx + 1) {
            if (r < 0)
                d->tags[slot] = 0;
            else
                memcpy(d->cache + (UINTN)slot * CACHE_CHUNK + within, buf, n);
        }
        buf += n;
        off += n;
        len -= n;
    }
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
    int r;
    if (d->bl) {
        r = write ? ul_bitlocker_write(d->bl, (uint64_t)offset, buf, (size_t)count)
                  : ul_bitlocker_read(d->bl, (uint64_t)offset, buf, (size_t)count);
    } else if (write) {
        r = dev_io(d, true, (uint64_t)offset, buf, (uint64_t)count);
        cache_written(d, (uint64_t)offset, buf, (uint64_t)count, r);
    } else {
        r = cached_read(d, (uint64_t)offset, buf, (uint64_t)count);
    }
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
    struct efi_dev *d = dev->d_private;
    d->writable = (flags & O_ACCMODE) != O_RDONLY;
    if (!d->writable)
        NDevSetReadOnly(dev);
    else
        NDevClearReadOnly(dev);
    d->pos = 0;
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
    ((struct efi_dev *)dev->d_private)->writable = false;
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


static void efi_dev_release(void *priv)
{
    dev_unbind(priv);
    free(priv);
}

int ul_efi_ntfs_probe(EFI_HANDLE part, struct ul_ntfs_probe *out)
{
    struct efi_dev d;
    int r = dev_bind(part, &d);
    if (r < 0)
        return r;
    struct ul_ntfs_dev nd = { .name = "partition", .ops = &efi_dev_ops, .priv = &d };
    r = ul_ntfs_probe_dev(&nd, out, NULL, 0);
    dev_unbind(&d);
    return r;
}

int ul_efi_ntfs_open(EFI_HANDLE part, unsigned flags, struct ul_ntfs **ret, char *err,
                     size_t errlen)
{
    struct efi_dev *d = calloc(1, sizeof(*d));
    int r;

    *ret = NULL;
    if (!d)
        return -ENOMEM;
    r = dev_bind(part, d);
    if (r < 0) {
        efi_dev_release(d);
        if (err && errlen)
            snprintf(err, errlen, "partition: cannot use its block device: %s", strerror(-r));
        return r;
    }
    struct ul_ntfs_dev nd = { .name = "the NTFS volume", .ops = &efi_dev_ops, .priv = d,
                              .release = efi_dev_release };
    return ul_ntfs_open_dev(&nd, flags, ret, err, errlen);
}

/* ------------------------------------------------------------------ */
/* BitLocker: the partition's raw sectors for shared/bitlocker.c        */

struct ul_efi_bitlocker {
    struct efi_dev d;           /* first: the NTFS device's d_private */
    int refs;
};

static int bl_raw_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    struct efi_dev *d = ctx;
    if (off > d->size || len > d->size - off)
        return -UL_ERANGE;
    return cached_read(d, off, buf, len);
}

static int bl_raw_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    struct efi_dev *d = ctx;
    if (!d->writable)
        return -UL_EROFS;
    if (off > d->size || len > d->size - off)
        return -UL_ERANGE;
    int r = dev_io(d, true, off, (void *)buf, len);
    cache_written(d, off, buf, len, r);
    return r;
}

int ul_efi_bitlocker_open(EFI_HANDLE part, const struct ul_mem *mem,
                          struct ul_efi_bitlocker **ret, const char **ret_why)
{
    struct ul_efi_bitlocker *b = calloc(1, sizeof(*b));
    int r;

    *ret = NULL;
    if (!b) {
        *ret_why = "out of memory";
        return -UL_ENOMEM;
    }
    b->refs = 1;
    r = dev_bind(part, &b->d);
    if (r < 0) {
        *ret_why = "the partition's block device cannot be used";
        free(b);
        return r;
    }
    struct ul_bitlocker_dev bd = { .read = bl_raw_read, .ctx = &b->d, .size = b->d.size,
                                   .write = bl_raw_write };
    r = ul_bitlocker_open(&bd, mem, &b->d.bl, ret_why);
    if (r < 0) {
        dev_unbind(&b->d);
        free(b);
        return r;
    }
    *ret = b;
    return 0;
}

struct ul_bitlocker *ul_efi_bitlocker_get(struct ul_efi_bitlocker *b)
{
    return b->d.bl;
}

void ul_efi_bitlocker_unref(struct ul_efi_bitlocker *b)
{
    if (!b || --b->refs > 0)
        return;
    ul_bitlocker_close(b->d.bl);    /* wipes the FVEK and every derived key */
    b->d.bl = NULL;
    dev_unbind(&b->d);              /* the cache held ciphertext only */
    free(b);
}

static void bl_release(void *priv)
{
    ul_efi_bitlocker_unref(priv);
}

int ul_efi_bitlocker_ntfs_probe(struct ul_efi_bitlocker *b, struct ul_ntfs_probe *out)
{
    struct ul_ntfs_dev nd = { .name = "the unlocked BitLocker volume", .ops = &efi_dev_ops,
                              .priv = &b->d };
    return ul_ntfs_probe_dev(&nd, out, NULL, 0);
}

int ul_efi_bitlocker_ntfs_open(struct ul_efi_bitlocker *b, unsigned flags, struct ul_ntfs **ret,
                               char *err, size_t errlen)
{
    b->refs++;
    struct ul_ntfs_dev nd = { .name = "the unlocked BitLocker volume", .ops = &efi_dev_ops,
                              .priv = &b->d, .release = bl_release };
    return ul_ntfs_open_dev(&nd, flags, ret, err, errlen);
}
