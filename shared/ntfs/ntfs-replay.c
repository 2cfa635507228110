/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * $LogFile replay through ntfs-3g's ntfsrecover (see ntfs-replay.h).
 *
 * ntfsrecover.c and playlog.c are compiled unchanged from Debian's source
 * package (shared/ntfs/replay.mk) with a few names redirected to this file:
 *   main                 -> ul_ntfsrecover_main, called with argv
 *                           {"ntfsrecover", "volume"}: its default, sync mode
 *                           (the name only reaches the hooks below)
 *   exit                 -> ul_ntfs_replay_exit: longjmp back here (main()
 *                           calls exit(1) on failure, after its own cleanup)
 *   ntfs_mount           -> ul_ntfs_replay_mount: libntfs-3g's
 *                           ntfs_device_mount() over our overlay device
 *   fopen, fread, fclose -> the device through our overlay: ntfsrecover reads
 *   fseek, ftell            the boot sector with stdio (to tell a volume from
 *                           a copy of a $LogFile, and for the geometry it
 *                           keeps in globals); the name is never opened
 *   printf, fprintf      -> captured here, never printed (the first "**"
 *                           line and the last line make the error message)
 *   ntfs_log_set_handler -> ignored: the caller's libntfs-3g handler stays
 *   ntfs_gpl, ntfs_bugs  -> strings here (ntfsprogs/utils.c is not built)
 *   redocount            -> ul_ntfsrecover_redocount, the count of actions
 *                           played, read after main() returns
 * Every other global of the two files is made local to their combined object
 * (objcopy), so none can clash with ours or libntfs-3g's.
 *
 * What ntfsrecover does, read in its sources (2022.10.3), and why the glue
 * does more around it:
 * - on a clean log it still rewrites both restart pages (reset_logfile()),
 *   and on a wiped log (no restart page) it fails: the glue checks the log
 *   first and leaves such a volume untouched;
 * - it applies the actions one by one, straight to the device, and stops at
 *   the first one it cannot play, which would leave a half-replayed volume;
 *   it ignores the result of reset_logfile(): so it runs against an
 *   in-memory overlay of the device (its writes kept in 4 KiB chunks), the
 *   result is checked with libntfs-3g's own $LogFile check, and only then
 *   written to the volume, $LogFile last (ov_commit());
 * - it refuses a log of version 2.0 (Windows kept metadata cached: Fast
 *   Startup, or an abrupt stop) unless given --kill-fast-restart; so does
 *   this glue (-EPERM), before running it.
 */
#include "ntfs-replay.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ntfs-3g/types.h>
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/device.h>
#include <ntfs-3g/inode.h>
#include <ntfs-3g/layout.h>
#include <ntfs-3g/logfile.h>
#include <ntfs-3g/logging.h>
#include <ntfs-3g/volume.h>

/* The overlay keeps what the replay writes in chunks of this size (aligned
 * to it): a $LogFile page, a usual cluster. */
#define OV_CHUNK 4096u
/* The most the replay may change before the volume is written (the overlay
 * lives in memory; a replay touches the pages of one log, usually a few
 * hundred KiB, more with large clusters). */
#define OV_MAX_BYTES ((size_t)256 << 20)
/* Largest single write when the overlay is written out. */
#define OV_FLUSH_BYTES ((size_t)64 << 10)

/* ------------------------------------------------------------------ */
/* The names ntfsrecover.c and playlog.c are compiled with (replay.mk)  */

int ul_ntfsrecover_main(int argc, char *argv[]);
extern unsigned int ul_ntfsrecover_redocount;

void ul_ntfs_replay_exit(int status) __attribute__((noreturn));
ntfs_volume *ul_ntfs_replay_mount(const char *name, ntfs_mount_flags flags);
FILE *ul_ntfs_replay_fopen(const char *path, const char *mode);
size_t ul_ntfs_replay_fread(void *buf, size_t size, size_t n, FILE *f);
int ul_ntfs_replay_fclose(FILE *f);
int ul_ntfs_replay_fseek(FILE *f, long offset, int whence);
long ul_ntfs_replay_ftell(FILE *f);
int ul_ntfs_replay_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int ul_ntfs_replay_fprintf(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ul_ntfs_replay_set_log_handler(ntfs_log_handler *handler);
extern const char *ul_ntfs_replay_gpl;
extern const char *ul_ntfs_replay_bugs;

const char *ul_ntfs_replay_gpl = "unloop runs ntfsrecover from ntfs-3g, GNU GPL version 2 or later.\n";
const char *ul_ntfs_replay_bugs = "";

/* ------------------------------------------------------------------ */
/* Overlay device: reads fall through to the caller's device, writes    */
/* stay in memory until ov_commit()                                     */

struct ov_chunk {
    uint64_t idx;           /* byte offset / OV_CHUNK */
    uint32_t len;           /* bytes of data that exist on the device (the
                               last chunk of a device may be short) */
    uint8_t *data;          /* OV_CHUNK bytes; NULL: free slot */
};

/* Where some metadata lies on the device, and in which pass of ov_commit()
 * it is written. */
enum {
    PASS_OTHER,             /* what the replay changed */
    PASS_MIRRORED,          /* $MFTMirr and the $MFT records it copies */
    PASS_LOG,               /* $LogFile: last, it then says "clean" */
    PASSES
};

struct ov_extent {
    uint64_t start, len;    /* bytes */
    int pass;
};

struct overlay {
    const struct ul_ntfs_dev *d;
    struct ntfs_device *inner;  /* the caller's device, opened per outer open */
    bool inner_open;
    s64 pos;                    /* for seek/read/write of the outer device */
    struct ov_chunk *tab;       /* open addressing, linear probing */
    size_t n, cap;              /* cap: 0 or a power of 2, n <= cap / 2 */
    int err;                    /* first write error (errno), for the message */
};

static size_t ov_slot(const struct overlay *ov, uint64_t idx)
{
    uint64_t h = idx * 0x9e3779b97f4a7c15ULL;
    size_t i = (size_t)(h >> 32) & (ov->cap - 1);
    while (ov->tab[i].data && ov->tab[i].idx != idx)
        i = (i + 1) & (ov->cap - 1);
    return i;
}

static struct ov_chunk *ov_lookup(const struct overlay *ov, uint64_t idx)
{
    if (!ov->n)
        return NULL;
    struct ov_chunk *c = &ov->tab[ov_slot(ov, idx)];
    return c->data ? c : NULL;
}

static int ov_grow(struct overlay *ov)
{
    size_t cap = ov->cap ? ov->cap * 2 : 256;
    struct ov_chunk *old = ov->tab;
    size_t old_cap = ov->cap;

    ov->tab = calloc(cap, sizeof(*ov->tab));
    if (!ov->tab) {
        ov->tab = old;
        return -1;
    }
    ov->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].data)
            ov->tab[ov_slot(ov, old[i].idx)] = old[i];
    free(old);
    return 0;
}

static s64 inner_pread(struct overlay *ov, void *buf, s64 count, s64 offset)
{
    s64 done = 0;
    while (done < count) {
        s64 n = ov->inner->d_ops->pread(ov->inner, (char *)buf + done, count - done,
                                        offset + done);
        if (n < 0)
            return done ? done : -1;
        if (n == 0)
            break;
        done += n;
    }
    return done;
}

static s64 inner_pwrite(struct overlay *ov, const void *buf, s64 count, s64 offset)
{
    s64 done = 0;
    while (done < count) {
        s64 n = ov->inner->d_ops->pwrite(ov->inner, (const char *)buf + done, count - done,
                                         offset + done);
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        done += n;
    }
    return done;
}

/* The overlay's copy of chunk idx, read from the device first unless the
 * caller overwrites it whole. */
static struct ov_chunk *ov_chunk_get(struct overlay *ov, uint64_t idx, bool whole)
{
    struct ov_chunk *c = ov_lookup(ov, idx);
    if (c)
        return c;
    if ((ov->n + 1) * (size_t)OV_CHUNK > OV_MAX_BYTES) {
        errno = ENOMEM;
        return NULL;
    }
    if ((ov->n + 1) * 2 > ov->cap && ov_grow(ov) < 0)
        return NULL;
    uint8_t *data = malloc(OV_CHUNK);
    if (!data)
        return NULL;
    s64 len = OV_CHUNK;
    if (!whole) {
        len = inner_pread(ov, data, OV_CHUNK, (s64)(idx * OV_CHUNK));
        if (len < 0) {
            free(data);
            return NULL;
        }
        memset(data + len, 0, OV_CHUNK - (size_t)len);
    }
    c = &ov->tab[ov_slot(ov, idx)];
    c->idx = idx;
    c->len = (uint32_t)len;
    c->data = data;
    ov->n++;
    return c;
}

static void ov_drop(struct overlay *ov)
{
    for (size_t i = 0; i < ov->cap; i++)
        free(ov->tab[i].data);
    free(ov->tab);
    ov->tab = NULL;
    ov->n = ov->cap = 0;
}

static int ov_open(struct ntfs_device *dev, int flags)
{
    struct overlay *ov = dev->d_private;

    if (NDevOpen(dev) || ov->inner_open) {
        errno = EBUSY;
        return -1;
    }
    /* The volume itself is only read until ov_commit(). */
    if (ov->inner->d_ops->open(ov->inner, O_RDONLY))
        return -1;
    ov->inner_open = true;
    ov->pos = 0;
    if ((flags & O_ACCMODE) == O_RDONLY)
        NDevSetReadOnly(dev);
    if (NDevBlock(ov->inner))
        NDevSetBlock(dev);
    NDevSetOpen(dev);
    return 0;
}

static int ov_close(struct ntfs_device *dev)
{
    struct overlay *ov = dev->d_private;

    if (!NDevOpen(dev)) {
        errno = EBADF;
        return -1;
    }
    NDevClearOpen(dev);
    ov->inner_open = false;
    return ov->inner->d_ops->close(ov->inner);
}

static s64 ov_pread(struct ntfs_device *dev, void *buf, s64 count, s64 offset)
{
    struct overlay *ov = dev->d_private;
    s64 done = 0;

    if (count < 0 || offset < 0) {
        errno = EINVAL;
        return -1;
    }
    while (done < count) {
        uint64_t off = (uint64_t)(offset + done);
        const struct ov_chunk *c = ov_lookup(ov, off / OV_CHUNK);
        if (c) {
            size_t in = (size_t)(off % OV_CHUNK);
            size_t n = OV_CHUNK - in;
            if ((s64)n > count - done)
                n = (size_t)(count - done);
            memcpy((char *)buf + done, c->data + in, n);
            done += (s64)n;
            continue;
        }
        /* Straight from the device up to the next chunk the overlay has. */
        uint64_t end = (off / OV_CHUNK + 1) * OV_CHUNK;
        while (end < (uint64_t)(offset + count) && !ov_lookup(ov, end / OV_CHUNK))
            end += OV_CHUNK;
        if (end > (uint64_t)(offset + count))
            end = (uint64_t)(offset + count);
        s64 n = inner_pread(ov, (char *)buf + done, (s64)(end - off), (s64)off);
        if (n < 0)
            return done ? done : -1;
        done += n;
        if ((uint64_t)n < end - off)
            break;      /* end of the device */
    }
    return done;
}

static s64 ov_pwrite(struct ntfs_device *dev, const void *buf, s64 count, s64 offset)
{
    struct overlay *ov = dev->d_private;
    s64 done = 0;

    if (NDevReadOnly(dev)) {
        errno = EROFS;
        return -1;
    }
    if (count < 0 || offset < 0) {
        errno = EINVAL;
        return -1;
    }
    NDevSetDirty(dev);
    while (done < count) {
        uint64_t off = (uint64_t)(offset + done);
        size_t in = (size_t)(off % OV_CHUNK);
        size_t n = OV_CHUNK - in;
        if ((s64)n > count - done)
            n = (size_t)(count - done);
        struct ov_chunk *c = ov_chunk_get(ov, off / OV_CHUNK, n == OV_CHUNK);
        if (!c) {
            if (!ov->err)
                ov->err = errno ? errno : EIO;
            return done ? done : -1;
        }
        memcpy(c->data + in, (const char *)buf + done, n);
        if (c->len < in + n)
            c->len = (uint32_t)(in + n);
        done += (s64)n;
    }
    return done;
}

static s64 ov_seek(struct ntfs_device *dev, s64 offset, int whence)
{
    struct overlay *ov = dev->d_private;
    s64 base;

    switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = ov->pos; break;
    case SEEK_END:
        base = ov->inner->d_ops->seek(ov->inner, 0, SEEK_END);
        if (base < 0)
            return -1;
        break;
    default:
        errno = EINVAL;
        return -1;
    }
    if (base + offset < 0) {
        errno = EINVAL;
        return -1;
    }
    ov->pos = base + offset;
    return ov->pos;
}

static s64 ov_read(struct ntfs_device *dev, void *buf, s64 count)
{
    struct overlay *ov = dev->d_private;
    s64 n = ov_pread(dev, buf, count, ov->pos);
    if (n > 0)
        ov->pos += n;
    return n;
}

static s64 ov_write(struct ntfs_device *dev, const void *buf, s64 count)
{
    struct overlay *ov = dev->d_private;
    s64 n = ov_pwrite(dev, buf, count, ov->pos);
    if (n > 0)
        ov->pos += n;
    return n;
}

static int ov_sync(struct ntfs_device *dev)
{
    return 0;   /* nothing reaches the device before ov_commit() */
}

static int ov_stat(struct ntfs_device *dev, struct stat *buf)
{
    struct overlay *ov = dev->d_private;
    if (!ov->inner->d_ops->stat) {
        errno = EOPNOTSUPP;
        return -1;
    }
    return ov->inner->d_ops->stat(ov->inner, buf);
}

static int ov_ioctl(struct ntfs_device *dev, unsigned long request, void *argp)
{
    struct overlay *ov = dev->d_private;
    if (!ov->inner->d_ops->ioctl) {
        errno = EOPNOTSUPP;
        return -1;
    }
    return ov->inner->d_ops->ioctl(ov->inner, request, argp);
}

static struct ntfs_device_operations ov_ops = {
    .open = ov_open,
    .close = ov_close,
    .seek = ov_seek,
    .read = ov_read,
    .write = ov_write,
    .pread = ov_pread,
    .pwrite = ov_pwrite,
    .sync = ov_sync,
    .stat = ov_stat,
    .ioctl = ov_ioctl,
};

static ntfs_volume *ov_mount(struct overlay *ov, ntfs_mount_flags flags)
{
    struct ntfs_device *dev = ntfs_device_alloc(ov->d->name, 0, &ov_ops, ov);
    if (!dev)
        return NULL;
    ntfs_volume *vol = ntfs_device_mount(dev, flags);
    if (!vol) {
        int e = errno;
        if (NDevOpen(dev))
            ov_close(dev);
        ntfs_device_free(dev);
        errno = e;
    }
    return vol;
}

static int pass_of(uint64_t off, const struct ov_extent *ext, size_t n)
{
    int pass = PASS_OTHER;
    for (size_t i = 0; i < n; i++)
        if (off >= ext[i].start && off - ext[i].start < ext[i].len && ext[i].pass > pass)
            pass = ext[i].pass;
    return pass;
}

static int chunk_cmp(const void *a, const void *b)
{
    const struct ov_chunk *x = a, *y = b;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * Write what the overlay holds to the device, in passes, each followed by a
 * sync: first what the replay changed, then $MFTMirr and the $MFT records it
 * copies (back to back: libntfs-3g refuses a volume whose two copies differ),
 * last the $LogFile, which then says "clean" only once the metadata is down.
 * A power cut before the last pass leaves the log unclean and the replay can
 * run again: ntfsrecover skips the records whose LSN shows them done.  (A cut
 * between the two copies of a mirrored record leaves them different, which
 * libntfs-3g refuses to mount until chkdsk or ntfsfix repairs it.)  The
 * passes are decided per 512-byte sector (a 4 KiB chunk may hold the end of
 * one file and the start of another when clusters are smaller).  The
 * overlay's table is sorted in place (it is no longer a hash table after).
 */
static int ov_commit(struct overlay *ov, const struct ov_extent *ext, size_t next,
                     size_t *ret_written)
{
    struct ntfs_device *in = ov->inner;
    uint8_t *buf = malloc(OV_FLUSH_BYTES);
    size_t written = 0, n = 0;
    int r = 0;

    *ret_written = 0;
    if (!buf)
        return -ENOMEM;
    for (size_t i = 0; i < ov->cap; i++)
        if (ov->tab[i].data)
            ov->tab[n++] = ov->tab[i];
    for (size_t i = n; i < ov->cap; i++)
        ov->tab[i].data = NULL;
    qsort(ov->tab, n, sizeof(*ov->tab), chunk_cmp);

    if (in->d_ops->open(in, O_RDWR)) {
        r = errno ? -errno : -EIO;
        free(buf);
        return r;
    }
    for (int pass = 0; pass < PASSES && !r; pass++) {
        uint64_t run = 0;       /* device offset of buf[0] */
        size_t len = 0;
        for (size_t i = 0; i <= n && !r; i++) {
            for (uint32_t s = 0; i < n && s < ov->tab[i].len && !r; s += 512) {
                uint64_t off = ov->tab[i].idx * OV_CHUNK + s;
                uint32_t k = ov->tab[i].len - s < 512 ? ov->tab[i].len - s : 512;
                if (pass_of(off, ext, next) != pass)
                    continue;
                if (len && (run + len != off || len + k > OV_FLUSH_BYTES)) {
                    if (inner_pwrite(ov, buf, (s64)len, (s64)run) < 0)
                        r = errno ? -errno : -EIO;
                    else
                        written += len;
                    len = 0;
                }
                if (!len)
                    run = off;
                memcpy(buf + len, ov->tab[i].data + s, k);
                len += k;
            }
        }
        if (!r && len) {
            if (inner_pwrite(ov, buf, (s64)len, (s64)run) < 0)
                r = errno ? -errno : -EIO;
            else
                written += len;
        }
        if (!r && in->d_ops->sync && in->d_ops->sync(in))
            r = errno ? -errno : -EIO;
    }
    if (in->d_ops->close(in) && !r)
        r = errno ? -errno : -EIO;
    free(buf);
    *ret_written = written;
    return r;
}

/* ------------------------------------------------------------------ */
/* The state of $LogFile                                               */

struct log_state {
    bool empty;             /* wiped: no restart page (mkntfs, ntfs-3g) */
    bool clean;
    bool cached;            /* restart page version 2.0 */
    struct ov_extent *ext;  /* where $LogFile, $MFTMirr and the records it
                               copies lie on the device */
    size_t next, cap;
};

static int set_msg(char *msg, size_t msglen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int set_msg(char *msg, size_t msglen, int code, const char *fmt, ...)
{
    if (msg && msglen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, msglen, fmt, ap);
        va_end(ap);
    }
    return code;
}

static int errno_or(int fallback)
{
    return errno > 0 ? -errno : -fallback;
}

static int add_extent(struct log_state *st, uint64_t start, uint64_t len, int pass)
{
    if (st->next && st->ext[st->next - 1].pass == pass &&
        st->ext[st->next - 1].start + st->ext[st->next - 1].len == start) {
        st->ext[st->next - 1].len += len;
        return 0;
    }
    if (st->next == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 8;
        struct ov_extent *p = realloc(st->ext, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        st->ext = p;
        st->cap = cap;
    }
    st->ext[st->next++] = (struct ov_extent){ .start = start, .len = len, .pass = pass };
    return 0;
}

/* The first bytes of an attribute, cluster by cluster. */
static int attr_extents(ntfs_volume *vol, ntfs_attr *na, s64 bytes, int pass,
                        struct log_state *st)
{
    s64 clusters = (bytes + vol->cluster_size - 1) >> vol->cluster_size_bits;
    for (VCN vcn = 0; vcn < clusters; vcn++) {
        LCN lcn = ntfs_attr_vcn_to_lcn(na, vcn);
        if (lcn < 0)
            return errno_or(EIO);
        int r = add_extent(st, (uint64_t)lcn << vol->cluster_size_bits, vol->cluster_size,
                           pass);
        if (r < 0)
            return r;
    }
    return 0;
}

static int metadata_extents(ntfs_volume *vol, ntfs_attr *log_na, struct log_state *st)
{
    s64 mirrored = (s64)vol->mftmirr_size << vol->mft_record_size_bits;
    int r = attr_extents(vol, log_na, log_na->data_size, PASS_LOG, st);
    if (r == 0)
        r = attr_extents(vol, vol->mftmirr_na, mirrored, PASS_MIRRORED, st);
    if (r == 0)
        r = attr_extents(vol, vol->mft_na, mirrored, PASS_MIRRORED, st);
    return r;
}

/* Mount the overlay read-only and look at $LogFile.  The test for "clean" is
 * ntfs_is_logfile_clean()'s (logfile.c), done here because that function
 * reports an unclean log as an error, and unclean is what we expect. */
static int probe_log(struct overlay *ov, struct log_state *st, char *msg, size_t msglen)
{
    RESTART_PAGE_HEADER *rp = NULL;
    ntfs_volume *vol;
    ntfs_inode *ni = NULL;
    ntfs_attr *na = NULL;
    int r = 0;

    memset(st, 0, sizeof(*st));
    errno = 0;
    vol = ov_mount(ov, NTFS_MNT_RDONLY);
    if (!vol) {
        r = errno_or(EIO);
        return set_msg(msg, msglen, r, "%s: libntfs-3g cannot mount the volume: %s",
                       ov->d->name, strerror(-r));
    }
    ni = ntfs_inode_open(vol, FILE_LogFile);
    na = ni ? ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0) : NULL;
    if (!na) {
        r = errno_or(EIO);
        set_msg(msg, msglen, r, "%s: cannot open $LogFile: %s", ov->d->name, strerror(-r));
        goto out;
    }
    if (!ntfs_check_logfile(na, &rp)) {
        r = set_msg(msg, msglen, -EIO, "%s: $LogFile is corrupt (no valid restart page)",
                    ov->d->name);
        goto out;
    }
    st->empty = NVolLogFileEmpty(vol);
    if (rp) {
        const RESTART_AREA *ra =
            (const RESTART_AREA *)((const u8 *)rp + le16_to_cpu(rp->restart_area_offset));
        st->clean = ra->client_in_use_list == LOGFILE_NO_CLIENT ||
                    (ra->flags & RESTART_VOLUME_IS_CLEAN);
        st->cached = sle16_to_cpu(rp->major_ver) == 2 && sle16_to_cpu(rp->minor_ver) == 0;
    } else {
        st->clean = st->empty;
    }
    r = metadata_extents(vol, na, st);
    if (r < 0)
        set_msg(msg, msglen, r, "%s: cannot map $LogFile or $MFTMirr: %s", ov->d->name,
                strerror(-r));
out:
    free(rp);
    if (na)
        ntfs_attr_close(na);
    if (ni)
        ntfs_inode_close(ni);
    ntfs_umount(vol, FALSE);
    return r;
}

/* ------------------------------------------------------------------ */
/* Running ntfsrecover                                                 */

static struct {
    struct overlay *ov;     /* non-NULL while ntfsrecover runs */
    jmp_buf exit_jmp;
    int exit_status;
    bool file_open;         /* the device as a FILE (fopen) */
    s64 file_pos;
    char line[256];         /* the output line being assembled */
    size_t line_len;
    char first_err[256];    /* first line starting with "**" (an error) */
    char last_err[256];     /* last such line */
    char last[256];         /* last non-empty line */
} R;

/* Only ntfsrecover's main() calls exit(), so only from run_ntfsrecover(). */
void ul_ntfs_replay_exit(int status)
{
    R.exit_status = status ? status : 1;
    longjmp(R.exit_jmp, 1);
}

ntfs_volume *ul_ntfs_replay_mount(const char *name, ntfs_mount_flags flags)
{
    if (!R.ov) {
        errno = ENODEV;
        return NULL;
    }
    return ov_mount(R.ov, flags);
}

/* The one "file" ntfsrecover opens is the device: opened read-only and
 * read through the overlay.  The FILE pointer is only a token. */
static char ov_file_token;

FILE *ul_ntfs_replay_fopen(const char *path, const char *mode)
{
    if (!R.ov || R.file_open || strcmp(mode, "rb")) {
        errno = EINVAL;
        return NULL;
    }
    R.file_open = true;
    R.file_pos = 0;
    return (FILE *)(void *)&ov_file_token;
}

size_t ul_ntfs_replay_fread(void *buf, size_t size, size_t n, FILE *f)
{
    struct overlay *ov = R.ov;
    if (!ov || !R.file_open || f != (FILE *)(void *)&ov_file_token || !size ||
        n > INT32_MAX / size) {
        errno = EINVAL;
        return 0;
    }
    if (ov->inner->d_ops->open(ov->inner, O_RDONLY))
        return 0;
    s64 got = inner_pread(ov, buf, (s64)(size * n), R.file_pos);
    ov->inner->d_ops->close(ov->inner);
    if (got <= 0)
        return 0;
    R.file_pos += got;
    return (size_t)got / size;
}

int ul_ntfs_replay_fclose(FILE *f)
{
    R.file_open = false;
    return 0;
}

/* Only used on a copy of a $LogFile, which a volume never is. */
int ul_ntfs_replay_fseek(FILE *f, long offset, int whence)
{
    errno = ESPIPE;
    return -1;
}

long ul_ntfs_replay_ftell(FILE *f)
{
    errno = ESPIPE;
    return -1;
}

void ul_ntfs_replay_set_log_handler(ntfs_log_handler *handler)
{
}

static void output_line(void)
{
    char *s = R.line;
    size_t n = R.line_len;

    R.line_len = 0;
    while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    s[n] = 0;
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return;
    if (s[0] == '*' && s[1] == '*') {
        for (s += 2; *s == ' '; s++)
            ;
        if (!R.first_err[0])
            snprintf(R.first_err, sizeof(R.first_err), "%s", s);
        snprintf(R.last_err, sizeof(R.last_err), "%s", s);
    }
    snprintf(R.last, sizeof(R.last), "%s", s);
}

static int capture(const char *fmt, va_list ap)
{
    char buf[512];
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1;

    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n') {
            output_line();
            continue;
        }
        if (R.line_len + 1 < sizeof(R.line))
            R.line[R.line_len++] = buf[i];
    }
    return n;
}

int ul_ntfs_replay_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = capture(fmt, ap);
    va_end(ap);
    return n;
}

int ul_ntfs_replay_fprintf(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = capture(fmt, ap);
    va_end(ap);
    return n;
}

/* Returns main()'s exit status: 0 success. */
static int run_ntfsrecover(struct overlay *ov)
{
    /* A fixed device argument: the name is not used to open anything (the
     * mount goes through ov) and must never look like an option. */
    static char arg0[] = "ntfsrecover", arg1[] = "volume";
    char *argv[] = { arg0, arg1, NULL };
    int saved_optind = optind, saved_opterr = opterr, saved_optopt = optopt;
    char *saved_optarg = optarg;
    volatile int status;

    R.ov = ov;
    R.exit_status = 0;
    R.file_open = false;
    R.line_len = 0;
    R.first_err[0] = R.last_err[0] = R.last[0] = 0;
    /* 0 makes getopt start afresh, GNU extensions included (ntfsrecover's
     * option string starts with '-'); it may have run before. */
    optind = 0;
    opterr = 0;
    if (setjmp(R.exit_jmp) == 0)
        status = ul_ntfsrecover_main(2, argv);
    else
        status = R.exit_status;
    if (R.line_len)
        output_line();
    R.ov = NULL;
    optind = saved_optind;
    opterr = saved_opterr;
    optopt = saved_optopt;
    optarg = saved_optarg;
    return status;
}

/* ------------------------------------------------------------------ */

int ul_ntfs_replay_log(const struct ul_ntfs_dev *d, unsigned *replayed, char *msg, size_t msglen)
{
    struct overlay ov = { .d = d };
    struct log_state before, after;
    size_t written = 0;
    unsigned played = 0;
    int r;

    memset(&before, 0, sizeof(before));
    memset(&after, 0, sizeof(after));
    if (replayed)
        *replayed = 0;
    if (msg && msglen)
        msg[0] = 0;
    if (R.ov)
        return set_msg(msg, msglen, -EBUSY, "%s: a $LogFile replay is already running",
                       d->name);
    ov.inner = ntfs_device_alloc(d->name, 0, d->ops, d->priv);
    if (!ov.inner)
        return set_msg(msg, msglen, -ENOMEM, "%s: out of memory", d->name);

    r = probe_log(&ov, &before, msg, msglen);
    if (r < 0)
        goto out;
    if (before.empty || before.clean)
        goto out;       /* nothing to replay; ntfsrecover would rewrite the log */
    if (before.cached) {
        r = set_msg(msg, msglen, -EPERM,
                    "%s: $LogFile is version 2.0 (Windows kept metadata in its cache: Fast "
                    "Startup or an abrupt stop); ntfsrecover does not replay it",
                    d->name);
        goto out;
    }

    int status = run_ntfsrecover(&ov);
    played = ul_ntfsrecover_redocount;
    if (ov.err) {
        r = set_msg(msg, msglen, -ov.err,
                    "%s: $LogFile replay not written: %s (the replay changes more than %zu "
                    "MiB, or the volume could not be read)",
                    d->name, strerror(ov.err), OV_MAX_BYTES >> 20);
        goto out;
    }
    if (status != 0) {
        /* ntfsrecover marks its errors with "**"; the first is usually the
         * cause, the last what it gave up on. */
        const char *why = R.first_err[0] ? R.first_err : R.last[0] ? R.last : "no reason given";
        bool both = R.first_err[0] && strcmp(R.first_err, R.last_err);
        while (*why == '*' || *why == ' ')
            why++;
        r = set_msg(msg, msglen, -EIO,
                    "%s: $LogFile cannot be replayed, nothing written (ntfsrecover: %s%s%s)",
                    d->name, why, both ? "; " : "", both ? R.last_err : "");
        goto out;
    }

    /* ntfsrecover ignores a failure to mark the log clean: check the result
     * the way libntfs-3g will before mounting it read-write. */
    r = probe_log(&ov, &after, msg, msglen);
    if (r < 0 || after.empty || !after.clean || after.cached) {
        r = set_msg(msg, msglen, -EIO,
                    "%s: $LogFile replay not written: ntfsrecover finished but the log is "
                    "not clean afterwards",
                    d->name);
        goto out;
    }

    r = ov_commit(&ov, after.ext, after.next, &written);
    if (r < 0) {
        set_msg(msg, msglen, r,
                "%s: writing the replayed $LogFile failed after %zu of %zu bytes: %s (the "
                "log still says unclean unless its restart pages were reached; run the "
                "replay again)",
                d->name, written, ov.n * (size_t)OV_CHUNK, strerror(-r));
        goto out;
    }
    ov_drop(&ov);

    /* Read back through the caller's device. */
    free(after.ext);
    r = probe_log(&ov, &after, msg, msglen);
    if (r == 0 && (after.empty || !after.clean))
        r = set_msg(msg, msglen, -EIO,
                    "%s: the replayed $LogFile was written but reads back unclean", d->name);
    if (r == 0 && replayed)
        *replayed = played;
out:
    free(before.ext);
    free(after.ext);
    ov_drop(&ov);
    ntfs_device_free(ov.inner);
    return r;
}
