/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NTFS through libntfs-3g, shared by the CLI and unloop.efi (ul-ntfs.h).
 *
 * libntfs-3g facts this file relies on (2022.10.3, read in its sources):
 * - ntfs_device_mount() checks hiberfil.sys and $LogFile only for read-write
 *   mounts; NTFS_MNT_FORENSIC skips both checks.  A restart page of version
 *   2.0 is refused with EPERM even with NTFS_MNT_RECOVER, so resetting the
 *   log is done here: a FORENSIC mount, ntfs_logfile_reset(), unmount, then
 *   the ordinary checked mount.
 * - Every mount compares the first records of $MFT with $MFTMirr and refuses
 *   the volume (EIO) if they differ.  libntfs-3g writes a record to $MFT and
 *   then to the mirror (ntfs_mft_records_write()), so a power cut between
 *   the two leaves exactly that.  ntfs_volume_startup() loads both without
 *   comparing them, which is what the repair below uses (as ntfsfix does).
 * - ntfs_set_ignore_case() makes lookups ignore case, and ntfs_readdir() then
 *   hands out lower-cased names; list() turns case sensitivity back on around
 *   ntfs_readdir() to report names as stored.
 * - ntfs_delete() closes both the inode and the directory.  Closing a dirty
 *   inode updates the index entry of each of its names by opening the
 *   parent; an inode must never be open twice while one copy is dirty, so a
 *   directory is closed before the file in it (close_both(): not
 *   ntfs_inode_close_in_dir(), which frees the directory it was given when a
 *   name of the file is not in that directory's index).
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
#include "ul-ntfs.h"
#include "ntfs-replay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ntfs-3g/types.h>
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/device.h>
#include <ntfs-3g/dir.h>
#include <ntfs-3g/index.h>
#include <ntfs-3g/inode.h>
#include <ntfs-3g/layout.h>
#include <ntfs-3g/logfile.h>
#include <ntfs-3g/logging.h>
#include <ntfs-3g/mft.h>
#include <ntfs-3g/mst.h>
#include <ntfs-3g/unistr.h>
#include <ntfs-3g/volume.h>

#define HIBERFILE_HEADER 4096 /* what libntfs-3g (and Windows) look at */
#define MAX_COMPONENTS 128
#define MAX_NAME_UTF16 255

static int errno_or(int fallback)
{
    return errno ? -errno : -fallback;
}

/* ------------------------------------------------------------------ */
/* libntfs-3g's messages: to the caller's log, the last error kept      */

static void (*log_fn)(int is_error, const char *line);
static char last_lib_error[300];

static int log_handler(const char *function, const char *file, int line, u32 level,
                       void *data, const char *format, va_list args)
{
    char buf[300];
    int saved = errno;
    (void)function; (void)file; (void)line; (void)data;
    bool is_err = level & (NTFS_LOG_LEVEL_ERROR | NTFS_LOG_LEVEL_PERROR |
                           NTFS_LOG_LEVEL_CRITICAL);
    int n = vsnprintf(buf, sizeof(buf), format, args);
    if (n < 0)
        n = 0;
    if ((size_t)n < sizeof(buf) && (level & NTFS_LOG_LEVEL_PERROR))
        snprintf(buf + n, sizeof(buf) - (size_t)n, ": %s", strerror(saved));
    size_t len = strlen(buf);
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
        buf[--len] = 0;
    if (is_err) {
        snprintf(last_lib_error, sizeof(last_lib_error), "%s", buf);
        len = strlen(last_lib_error);
        while (len && last_lib_error[len - 1] == '.')
            last_lib_error[--len] = 0;
    }
    if (log_fn && len) {
        char line_buf[320];
        snprintf(line_buf, sizeof(line_buf), "libntfs-3g: %s", buf);
        log_fn(is_err, line_buf);
    }
    errno = saved;
    return (int)len;
}

void ul_ntfs_set_log(void (*fn)(int is_error, const char *line))
{
    log_fn = fn;
}

static void setup_logging(void)
{
    /* libntfs-3g prints to stdout by default: the CLI's stdout may be JSON. */
    ntfs_log_set_handler(log_handler);
    ntfs_log_set_levels(NTFS_LOG_LEVEL_ERROR | NTFS_LOG_LEVEL_PERROR |
                        NTFS_LOG_LEVEL_CRITICAL | NTFS_LOG_LEVEL_WARNING);
    ntfs_log_clear_levels(NTFS_LOG_LEVEL_INFO | NTFS_LOG_LEVEL_QUIET |
                          NTFS_LOG_LEVEL_PROGRESS | NTFS_LOG_LEVEL_VERBOSE);
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
    case EUCLEAN:
        return "the copy of the first MFT records ($MFTMirr) does not match $MFT (a write "
               "was cut short)";
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

/* " (libntfs-3g: ...)" when libntfs-3g said something, else "". */
static const char *lib_said(char *buf, size_t size)
{
    if (!last_lib_error[0])
        return "";
    snprintf(buf, size, " (libntfs-3g: %s)", last_lib_error);
    return buf;
}

/* ------------------------------------------------------------------ */
/* Mounting                                                            */

struct ul_ntfs {
    ntfs_volume *vol;
    struct ul_ntfs_dev dev;
    unsigned flags;
    bool modified;
    struct ul_ntfs_repairs repairs;
};

static struct ntfs_device *dev_new(const struct ul_ntfs_dev *d)
{
    return ntfs_device_alloc(d->name, 0, d->ops, d->priv);
}

/* Free a device that no volume took over. */
static void dev_free(struct ntfs_device *dev)
{
    if (NDevOpen(dev))
        dev->d_ops->close(dev);
    ntfs_device_free(dev);
}

static int do_mount(const struct ul_ntfs_dev *d, ntfs_mount_flags mflags, ntfs_volume **ret)
{
    struct ntfs_device *dev = dev_new(d);
    if (!dev)
        return -ENOMEM;
    errno = 0;
    ntfs_volume *vol = ntfs_device_mount(dev, mflags);
    if (!vol) {
        int r = errno_or(EIO);
        dev_free(dev);
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

static int read_boot_sector(const struct ul_ntfs_dev *d, uint8_t bs[512])
{
    struct ntfs_device *dev = dev_new(d);
    int r = 0;
    if (!dev)
        return -ENOMEM;
    errno = 0;
    if (dev->d_ops->open(dev, O_RDONLY) < 0) {
        r = errno_or(EIO);
        ntfs_device_free(dev);
        return r;
    }
    s64 n = dev->d_ops->pread(dev, bs, 512, 0);
    if (n < 0)
        r = errno_or(EIO);
    else if (n < 512)
        r = -EINVAL;
    dev_free(dev);
    return r;
}

static uint64_t le64_at(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* $LogFile state; works on a volume that is only started up, too. */
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

/* ------------------------------------------------------------------ */
/* $MFTMirr against $MFT                                               */

/* Is this record, as read by ntfs_attr_mst_pread() (fixups applied), whole?
 * A torn record fails the fixup check and is marked "BAAD". */
static bool record_whole(const MFT_RECORD *m)
{
    return ntfs_is_mft_record(m->magic);
}

static bool record_same(ntfs_volume *vol, const MFT_RECORD *a, const MFT_RECORD *b)
{
    u32 used = le32_to_cpu(a->bytes_in_use);
    if (used <= sizeof(MFT_RECORD) || used > vol->mft_record_size)
        return false;
    return memcmp(a, b, used) == 0;
}

/*
 * Compare the records libntfs-3g compares at mount (the first mftmirr_size,
 * system files only) on a volume that is only started up.  With repair,
 * rewrite both copies of each differing record: from $MFT where its record
 * is whole, else from a whole mirror record (the state before the cut
 * write).  Returns the number of
 * records that differed (0: none), or < 0 when they cannot be read or both
 * copies of a record are torn.
 */
static int mirror_compare(ntfs_volume *vol, bool repair)
{
    s64 n = vol->mftmirr_size;
    size_t rs = vol->mft_record_size;
    int differ = 0, r = 0;

    if (n <= 0 || n > FILE_first_user)
        n = n <= 0 ? 0 : FILE_first_user;
    if (n == 0 || !vol->mft_na || !vol->mftmirr_na)
        return -EIO;
    u8 *m = malloc((size_t)n * rs), *m2 = malloc((size_t)n * rs);
    if (!m || !m2) {
        r = -ENOMEM;
        goto out;
    }
    errno = 0;
    if (ntfs_attr_mst_pread(vol->mft_na, 0, n, (u32)rs, m) != n ||
        ntfs_attr_mst_pread(vol->mftmirr_na, 0, n, (u32)rs, m2) != n) {
        r = errno_or(EIO);
        goto out;
    }
    for (s64 i = 0; i < n; i++) {
        MFT_RECORD *a = (MFT_RECORD *)(m + i * rs), *b = (MFT_RECORD *)(m2 + i * rs);
        if (!(a->flags & MFT_RECORD_IN_USE) && record_whole(a))
            continue;   /* not compared at mount */
        if (record_whole(a) && record_whole(b) && record_same(vol, a, b))
            continue;
        differ++;
        if (!repair)
            continue;
        MFT_RECORD *good = record_whole(a) ? a : record_whole(b) ? b : NULL;
        if (!good) {
            r = -EUCLEAN;   /* both copies torn: chkdsk's job */
            goto out;
        }
        /* Both copies from one buffer, as ntfsfix does: the update sequence
         * number is part of what the mount compares, so writing the mirror
         * alone (which bumps its USN) would never make them match. */
        errno = 0;
        if (ntfs_mft_record_write(vol, (MFT_REF)i, good) < 0) {
            r = errno_or(EIO);
            goto out;
        }
    }
    if (repair && differ && ntfs_device_sync(vol->dev) < 0)
        r = errno_or(EIO);
out:
    free(m);
    free(m2);
    return r < 0 ? r : differ;
}

/*
 * Why does a mount fail?  If $MFT and $MFTMirr differ, *mismatch is set,
 * and *log_clean tells whether $LogFile is clean.  With repair (and a clean
 * log), the mirror is repaired; *repaired says so.
 */
static int mirror_check(const struct ul_ntfs_dev *d, bool repair, bool *mismatch,
                        bool *repaired)
{
    struct ntfs_device *dev = dev_new(d);
    struct ul_ntfs_probe lp = { 0 };
    int r;

    *mismatch = *repaired = false;
    if (!dev)
        return -ENOMEM;
    errno = 0;
    ntfs_volume *vol = ntfs_volume_startup(dev, repair ? NTFS_MNT_NONE : NTFS_MNT_RDONLY);
    if (!vol) {
        r = errno_or(EIO);
        dev_free(dev);
        return r;
    }
    r = mirror_compare(vol, false);
    if (r > 0) {
        *mismatch = true;
        r = 0;
        if (repair) {
            r = probe_logfile(vol, &lp);
            if (r == 0 && !lp.log_clean)
                r = -EOPNOTSUPP; /* Windows was mid-flight: replay first, not this */
            if (r == 0) {
                r = mirror_compare(vol, true);
                *repaired = r > 0;
                r = r < 0 ? r : 0;
            }
        }
    }
    ntfs_umount(vol, TRUE);
    return r;
}

static int probe_i(const struct ul_ntfs_dev *d, struct ul_ntfs_probe *out, char *err,
                   size_t errlen)
{
    uint8_t bs[512];
    ntfs_volume *vol;
    char said[340];
    int r;

    memset(out, 0, sizeof(*out));
    r = read_boot_sector(d, bs);
    if (r == -EINVAL)
        return set_err(err, errlen, r, "%s: not an NTFS volume (shorter than a sector)",
                       d->name);
    if (r < 0)
        return set_err(err, errlen, r, "%s: %s", d->name, strerror(-r));
    if (memcmp(bs + 3, "-FVE-FS-", 8) == 0) {
        out->is_bitlocker = true;
        return set_err(err, errlen, -EACCES, "%s: BitLocker volume: unlock it first", d->name);
    }
    if (memcmp(bs + 3, "NTFS    ", 8) != 0)
        return set_err(err, errlen, -EINVAL, "%s: not an NTFS volume (no NTFS signature)",
                       d->name);
    r = do_mount(d, NTFS_MNT_RDONLY, &vol);
    if (r < 0) {
        lib_said(said, sizeof(said));
        bool mismatch, repaired;
        if (mirror_check(d, false, &mismatch, &repaired) == 0 && mismatch) {
            out->mirror_mismatch = true;
            return set_err(err, errlen, -EUCLEAN, "%s: %s%s", d->name,
                           ul_ntfs_strerror(-EUCLEAN), said);
        }
        return set_err(err, errlen, r, "%s: cannot read the NTFS volume: %s%s", d->name,
                       ul_ntfs_strerror(r), said);
    }
    out->is_ntfs = true;
    r = probe_mounted(vol, bs, out);
    int r2 = do_umount(vol);
    if (r == 0)
        r = r2;
    if (r < 0)
        return set_err(err, errlen, r, "%s: cannot read the NTFS volume: %s", d->name,
                       ul_ntfs_strerror(r));
    return 0;
}

int ul_ntfs_probe_dev(const struct ul_ntfs_dev *d, struct ul_ntfs_probe *out, char *err,
                      size_t errlen)
{
    setup_logging();
    int r = probe_i(d, out, err, errlen);
    /* a volume that is not (readable) NTFS is a result, not an error */
    if (r == -EACCES || r == -EINVAL || r == -EIO || r == -EUCLEAN)
        return 0;
    return r;
}

/* MFT reference of name in dir, or (u64)-1 with errno (ENOENT: no such name).
 * Ignores case when the volume does (ntfs_set_ignore_case()). */
static u64 lookup(ntfs_inode *dir, const char *name);
static int close_both(ntfs_inode *dir, ntfs_inode *ni, int r);

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
    mref = lookup(root, "hiberfil.sys");
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
        return close_both(root, ni, r);
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

static int open_i(struct ul_ntfs *v, char *err, size_t errlen)
{
    const struct ul_ntfs_dev *d = &v->dev;
    unsigned flags = v->flags;
    bool rdonly = flags & UL_NTFS_RDONLY;
    struct ul_ntfs_probe p;
    ntfs_volume *vol;
    char said[340];
    int r;

    r = probe_i(d, &p, err, errlen);
    if (r == -EUCLEAN && !rdonly && (flags & UL_NTFS_FIX_MIRROR)) {
        bool mismatch, repaired;
        r = mirror_check(d, true, &mismatch, &repaired);
        if (r == -EOPNOTSUPP)
            return set_err(err, errlen, -EUCLEAN,
                           "%s: %s, and the NTFS journal ($LogFile) holds transactions "
                           "Windows did not finish; not repairing it (chkdsk /f on Windows "
                           "can)", d->name, ul_ntfs_strerror(-EUCLEAN));
        if (r < 0)
            return set_err(err, errlen, r == -EUCLEAN ? r : -EUCLEAN,
                           "%s: %s, and it cannot be repaired: %s", d->name,
                           ul_ntfs_strerror(-EUCLEAN), ul_ntfs_strerror(r));
        if (repaired) {
            v->repairs.mirror_fixed = true;
            v->modified = true;     /* chkdsk at the next boot, too */
        }
        r = probe_i(d, &p, err, errlen);
    } else if (r == -EUCLEAN && !rdonly && err && errlen) {
        size_t len = strlen(err);
        snprintf(err + len, errlen - len, "; not repairing it without the policy");
    }
    if (r < 0)
        return r;

    bool reset_log = false, fix_hiber = false;
    if (!rdonly) {
        if (p.hibernated && !(flags & UL_NTFS_REMOVE_HIBERFILE))
            return set_err(err, errlen, -EPERM,
                           "%s: not writing: Windows is hibernated on this volume (Fast "
                           "Startup: hiberfil.sys holds a hibernation image)", d->name);
        char why[512] = "";
        if (!p.log_clean && (flags & UL_NTFS_REPLAY_LOG)) {
            /* What Windows would do at its next mount: apply what it had
             * committed, then mount.  Nothing is written if it fails. */
            unsigned n = 0;
            char msg[400];
            r = ul_ntfs_replay_log(d, &n, msg, sizeof(msg));
            if (r == 0) {
                v->repairs.log_replayed = true;
                v->repairs.replayed_actions = n;
                v->modified = true;
                r = probe_i(d, &p, err, errlen);
                if (r < 0)
                    return r;
                if (!p.log_clean)
                    snprintf(why, sizeof(why), "it is still unclean after the replay");
            } else {
                /* msg starts with the volume's name, said already */
                size_t nl = strlen(d->name);
                const char *m = strncmp(msg, d->name, nl) == 0 && msg[nl] == ':' ?
                                msg + nl + 1 + (msg[nl + 1] == ' ') : msg;
                snprintf(why, sizeof(why), "it cannot be replayed: %s", m);
            }
        } else if (!p.log_clean) {
            snprintf(why, sizeof(why), "replaying it is not allowed here");
        }
        if (!p.log_clean && !(flags & UL_NTFS_RESET_LOG))
            return set_err(err, errlen, -EOPNOTSUPP,
                           "%s: not writing: the NTFS journal ($LogFile) holds transactions "
                           "Windows did not finish, and %s", d->name, why);
        reset_log = !p.log_clean;
        fix_hiber = p.hibernated;
    }

    if (reset_log || fix_hiber) {
        /* FORENSIC: read-write without the checks that refuse this volume */
        r = do_mount(d, NTFS_MNT_FORENSIC, &vol);
        if (r == 0) {
            v->modified = true;
            if (fix_hiber) {
                r = invalidate_hiberfile(vol);
                v->repairs.hiberfile_removed = r == 0;
            }
            if (r == 0 && reset_log) {
                if (ntfs_logfile_reset(vol) < 0)
                    r = errno_or(EIO);
                else
                    v->repairs.log_reset = true;
            }
            int r2 = do_umount(vol);
            if (r == 0)
                r = r2;
        }
        if (r < 0)
            return set_err(err, errlen, r, "%s: cannot %s: %s", d->name,
                           fix_hiber ? "invalidate the hibernation image" : "reset $LogFile",
                           ul_ntfs_strerror(r));
    }

    r = do_mount(d, rdonly ? NTFS_MNT_RDONLY : NTFS_MNT_NONE, &v->vol);
    if (r < 0)
        return set_err(err, errlen, r, "%s: cannot open the NTFS volume: %s%s", d->name,
                       ul_ntfs_strerror(r), lib_said(said, sizeof(said)));
    /* Windows semantics: names match ignoring case (volume's $UpCase). */
    if (ntfs_set_ignore_case(v->vol) < 0) {
        r = errno_or(ENOMEM);
        do_umount(v->vol);
        v->vol = NULL;
        return set_err(err, errlen, r, "%s: cannot switch to case-insensitive names",
                       d->name);
    }
    return 0;
}

int ul_ntfs_open_dev(const struct ul_ntfs_dev *d, unsigned flags, struct ul_ntfs **ret,
                     char *err, size_t errlen)
{
    struct ul_ntfs *v;
    int r;

    *ret = NULL;
    if (err && errlen)
        err[0] = 0;
    setup_logging();
    v = calloc(1, sizeof(*v));
    if (!v) {
        if (d->release)
            d->release(d->priv);
        return set_err(err, errlen, -ENOMEM, "out of memory");
    }
    v->dev = *d;
    v->flags = flags;
    r = open_i(v, err, errlen);
    if (r < 0) {
        if (d->release)
            d->release(d->priv);
        free(v);
        return r;
    }
    *ret = v;
    return 0;
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
    if (v->dev.release)
        v->dev.release(v->dev.priv);
    free(v);
    return r;
}

const char *ul_ntfs_label(const struct ul_ntfs *v)
{
    return v && v->vol && v->vol->vol_name ? v->vol->vol_name : "";
}

void ul_ntfs_get_repairs(const struct ul_ntfs *v, struct ul_ntfs_repairs *ret)
{
    *ret = v->repairs;
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
static int writable(struct ul_ntfs *v);
static int drop_dangling_entry(struct ul_ntfs *v, ntfs_inode *dir, const char *name);
static int complete_link(struct ul_ntfs *v, ntfs_inode *dir, ntfs_inode *ni, const char *leaf);

static int walk(struct ul_ntfs *v, const struct path_parts *pp, ntfs_inode **ret_dir,
                ntfs_inode **ret_ni, u64 *trail)
{
    ntfs_volume *vol = v->vol;
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
        ntfs_inode *ni = ntfs_inode_open(vol, mref);
        if (!ni) {
            int r = errno_or(EIO);
            /* An index entry whose file record is not in use (or is another
             * file now): what a create cut short leaves.  On a volume opened
             * for writing, drop it, and the name is free. */
            bool dangling = r == -ENOENT;   /* the record is not in use */
            if (r == -EIO && !NVolReadOnly(vol)) {
                /* in use by another file (its sequence number moved on)?
                 * A read error is not a reason to drop an entry. */
                ntfs_inode *o = ntfs_inode_open(vol, MREF(mref));
                dangling = o && le16_to_cpu(o->mrec->sequence_number) != MSEQNO(mref);
                if (o)
                    ntfs_inode_close(o);
            }
            if (dangling && !NVolReadOnly(vol) &&
                drop_dangling_entry(v, dir, pp->comp[i]) == 0) {
                if (last) {
                    *ret_dir = dir;
                    return 0;
                }
                r = -ENOENT;
            }
            ntfs_inode_close(dir);
            return r;
        }
        if (last) {
            /* Found through dir's index, the record must name dir too (a
             * link cut short): heal it before anyone acts on the file, or
             * dropping its other name would free a file still indexed here. */
            if (!NVolReadOnly(vol)) {
                int r = complete_link(v, dir, ni, pp->comp[i]);
                if (r < 0) {
                    ntfs_inode_close(dir);
                    ntfs_inode_close(ni);
                    return r;
                }
                if (r > 0)
                    ntfs_log_warning("gave MFT record %llu back its name in directory %llu (a "
                                     "move had been cut short)\n",
                                     (unsigned long long)ni->mft_no,
                                     (unsigned long long)dir->mft_no);
            }
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

static int walk_existing(struct ul_ntfs *v, const char *path, struct path_parts *pp,
                         ntfs_inode **ret_dir, ntfs_inode **ret_ni)
{
    int r = split_path(path, pp);
    if (r < 0)
        return r;
    r = walk(v, pp, ret_dir, ret_ni, NULL);
    if (r < 0)
        return r;
    if (!*ret_ni) {
        ntfs_inode_close(*ret_dir);
        *ret_dir = NULL;
        return -ENOENT;
    }
    return 0;
}

/*
 * Close dir, then ni; returns r, or the first close error when r is 0.
 * Closing a dirty ni updates the index entry of each of its names, opening
 * each parent directory: dir goes first so that it is never open twice.
 * Not ntfs_inode_close_in_dir(ni, dir): for a file with a name in another
 * directory, or a name with no index entry (what a cut move leaves), it
 * looks that name up in dir, fails, and closes dir, which the caller then
 * closes again (libntfs-3g 2022.10.3, inode.c ntfs_inode_sync_file_name()).
 */
static int close_both(ntfs_inode *dir, ntfs_inode *ni, int r)
{
    if (dir && ntfs_inode_close(dir) && !r)
        r = errno_or(EIO);
    if (ni && ntfs_inode_close(ni) && !r)
        r = errno_or(EIO);
    return r;
}

/* ------------------------------------------------------------------ */
/* Names a cut move left half made                                     */

/*
 * A move is ntfs_link() + ntfs_delete(): each changes a directory index and
 * the file's MFT record, in two device writes, and libntfs-3g keeps no
 * journal.  A power cut between them leaves a name in one and not the
 * other: (a) an index entry whose file's record lacks that $FILE_NAME, or
 * (b) a $FILE_NAME with no index entry.  chkdsk would repair both; the
 * quarantine journal's replay must act on the file first, so they are
 * repaired here, toward the name that is in the index (the one ntfsls and
 * our lookups see): (a) the record gets the name back from the index entry,
 * (b) the stale $FILE_NAME is removed, as long as an indexed name remains.
 */

/* Is fn (a $FILE_NAME of the file mft_no) in its parent's index?  1, 0, or
 * < 0.  dir is the parent when already open (else it is opened here). */
static int name_indexed(ntfs_volume *vol, ntfs_inode *dir, const FILE_NAME_ATTR *fn,
                        u64 mft_no)
{
    ntfs_inode *parent = dir && dir->mft_no == MREF_LE(fn->parent_directory) ? dir : NULL;
    int r;

    if (!parent) {
        parent = ntfs_inode_open(vol, MREF_LE(fn->parent_directory));
        if (!parent)
            return errno == ENOENT ? 0 : errno_or(EIO);
    }
    ntfs_index_context *icx = ntfs_index_ctx_get(parent, NTFS_INDEX_I30, 4);
    if (!icx) {
        r = errno_or(ENOMEM);
    } else {
        errno = 0;
        if (ntfs_index_lookup(fn, sizeof(FILE_NAME_ATTR), icx) == 0)
            r = MREF_LE(icx->entry->indexed_file) == mft_no;
        else
            r = errno == ENOENT ? 0 : errno_or(EIO);
        ntfs_index_ctx_put(icx);
    }
    if (parent != dir)
        ntfs_inode_close(parent);   /* lookups only: never dirty */
    return r;
}

/* (b): remove one $FILE_NAME of ni that no index holds, if an indexed one
 * remains.  1 removed, 0 nothing to do, < 0 error. */
static int drop_one_stale_name(ntfs_volume *vol, ntfs_inode *dir, ntfs_inode *ni)
{
    ntfs_attr_search_ctx *actx = ntfs_attr_get_search_ctx(ni, NULL);
    int indexed = 0, stale = 0, r = 0;

    if (!actx)
        return errno_or(ENOMEM);
    /* first pass: count; second: remove the first stale one */
    for (int pass = 0; pass < 2 && r >= 0; pass++) {
        ntfs_attr_reinit_search_ctx(actx);
        while (!ntfs_attr_lookup(AT_FILE_NAME, AT_UNNAMED, 0, CASE_SENSITIVE, 0, NULL, 0,
                                 actx)) {
            const FILE_NAME_ATTR *fn = (const FILE_NAME_ATTR *)
                ((u8 *)actx->attr + le16_to_cpu(actx->attr->value_offset));
            int in = name_indexed(vol, dir, fn, ni->mft_no);
            if (in < 0) {
                r = in;
                break;
            }
            if (pass == 0) {
                in ? indexed++ : stale++;
                continue;
            }
            if (in)
                continue;
            if (ntfs_attr_record_rm(actx) < 0) {
                r = errno_or(EIO);
                break;
            }
            ni->mrec->link_count = cpu_to_le16(le16_to_cpu(ni->mrec->link_count) - 1);
            ntfs_inode_mark_dirty(ni);
            r = 1;
            break;
        }
        if (pass == 0 && (!stale || !indexed))
            break;      /* nothing stale, or no good name to keep */
    }
    ntfs_attr_put_search_ctx(actx);
    return r;
}

/* The $I30 lookup key for name in dir (a $FILE_NAME value with the parent
 * and the name; lookups compare only the name) and an index context for
 * it.  The caller frees key and puts icx.  0 or a negative errno. */
static int name_key(ntfs_inode *dir, const char *name, FILE_NAME_ATTR **ret_key,
                    ntfs_index_context **ret_icx)
{
    ntfschar *u;
    int len = to_utf16(name, &u);
    if (len < 0)
        return len;
    FILE_NAME_ATTR *key = calloc(1, sizeof(FILE_NAME_ATTR) + (size_t)len * sizeof(ntfschar));
    ntfs_index_context *icx = key ? ntfs_index_ctx_get(dir, NTFS_INDEX_I30, 4) : NULL;
    if (!icx) {
        free(key);
        free(u);
        return -ENOMEM;
    }
    key->parent_directory = MK_LE_MREF(dir->mft_no, le16_to_cpu(dir->mrec->sequence_number));
    key->file_name_length = (u8)len;
    key->file_name_type = FILE_NAME_POSIX;
    memcpy(key->file_name, u, (size_t)len * sizeof(ntfschar));
    free(u);
    *ret_key = key;
    *ret_icx = icx;
    return 0;
}

/* (a): ni was found in dir under leaf; give its record that name if it
 * lacks every name in dir.  1 added, 0 nothing to do, < 0 error. */
static int complete_link(struct ul_ntfs *v, ntfs_inode *dir, ntfs_inode *ni, const char *leaf)
{
    ntfs_attr_search_ctx *actx = ntfs_attr_get_search_ctx(ni, NULL);
    bool has = false;
    int r = 0;

    if (!actx)
        return errno_or(ENOMEM);
    while (!has && !ntfs_attr_lookup(AT_FILE_NAME, AT_UNNAMED, 0, CASE_SENSITIVE, 0, NULL, 0,
                                     actx)) {
        const FILE_NAME_ATTR *fn = (const FILE_NAME_ATTR *)
            ((u8 *)actx->attr + le16_to_cpu(actx->attr->value_offset));
        has = MREF_LE(fn->parent_directory) == dir->mft_no;
    }
    ntfs_attr_put_search_ctx(actx);
    if (has)
        return 0;

    if ((r = writable(v)) < 0)
        return r;
    FILE_NAME_ATTR *key;
    ntfs_index_context *icx;
    if ((r = name_key(dir, leaf, &key, &icx)) < 0)
        return r;
    errno = 0;
    if (ntfs_index_lookup(key, sizeof(FILE_NAME_ATTR), icx) < 0) {
        r = errno == ENOENT ? 0 : errno_or(EIO);
    } else if (MREF_LE(icx->entry->indexed_file) == ni->mft_no) {
        /* the index entry's key is the whole $FILE_NAME value */
        u16 klen = le16_to_cpu(icx->entry->key_length);
        if (ntfs_attr_add(ni, AT_FILE_NAME, AT_UNNAMED, 0, (u8 *)icx->data, klen) < 0) {
            r = errno_or(EIO);
        } else {
            ni->mrec->link_count = cpu_to_le16(le16_to_cpu(ni->mrec->link_count) + 1);
            ntfs_inode_mark_dirty(ni);
            r = 1;
        }
    }
    ntfs_index_ctx_put(icx);
    free(key);
    return r;
}

/* Remove dir's index entry for name, whose file record is gone (walk()).
 * 0 removed, < 0 not (nothing changed then). */
static int drop_dangling_entry(struct ul_ntfs *v, ntfs_inode *dir, const char *name)
{
    FILE_NAME_ATTR *key;
    ntfs_index_context *icx;
    int r = writable(v);
    if (r < 0 || (r = name_key(dir, name, &key, &icx)) < 0)
        return r;
    errno = 0;
    if (ntfs_index_lookup(key, sizeof(FILE_NAME_ATTR), icx) < 0)
        r = errno_or(ENOENT);
    else if (ntfs_index_rm(icx) < 0)
        r = errno_or(EIO);
    else
        ntfs_log_warning("removed the index entry of '%s', whose file record is not in use "
                         "(a create had been cut short)\n", name);
    ntfs_index_ctx_put(icx);
    free(key);
    return r;
}

/* Both repairs for a file about to be changed (writable volume only). */
static int repair_names(struct ul_ntfs *v, ntfs_inode *dir, ntfs_inode *ni, const char *leaf)
{
    int r = complete_link(v, dir, ni, leaf);
    for (int i = 0; r >= 0 && i < 8; i++) {
        int d = drop_one_stale_name(v->vol, dir, ni);
        if (d <= 0) {
            r = d < 0 ? d : r;
            break;
        }
        r = 1;
    }
    if (r > 0)
        ntfs_log_warning("repaired the names of MFT record %llu (a move had been cut short)\n",
                         (unsigned long long)ni->mft_no);
    return r < 0 ? r : 0;
}

/* What libntfs-3g keeps open (MFT, cluster bitmap) goes to the disk, and
 * the disk is flushed: the ops promise "on the medium when this returns". */
static int flush(struct ul_ntfs *v, int r)
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
static int writable(struct ul_ntfs *v)
{
    if (NVolReadOnly(v->vol))
        return -EROFS;
    if ((v->flags & UL_NTFS_MARK_DIRTY) && !(v->vol->flags & VOLUME_IS_DIRTY)) {
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
    struct path_parts pp;
    ntfs_inode *dir, *ni;
    int r;

    *ret_read = 0;
    r = walk_existing(v, path, &pp, &dir, &ni);
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
    struct ul_ntfs *v = ctx;
    struct path_parts pp;
    ntfs_inode *dir, *ni;
    int r;

    if ((r = writable(v)) < 0 || (r = split_path(path, &pp)) < 0)
        return r;
    if (pp.n == 0)
        return -EISDIR;
    if (off + len < off || off + len > (uint64_t)INT64_MAX)
        return -EFBIG;
    r = walk(v, &pp, &dir, &ni, NULL);
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
    struct ul_ntfs *v = ctx;
    struct path_parts pp;
    ntfs_inode *dir, *ni;
    int r = walk_existing(v, path, &pp, &dir, &ni);
    if (r < 0)
        return r;
    fill_stat(ni, ret);
    return close_both(dir, ni, 0);
}

static int v_mkdir(void *ctx, const char *path)
{
    struct ul_ntfs *v = ctx;
    struct path_parts pp;
    ntfs_inode *dir, *ni;
    int r;

    if ((r = writable(v)) < 0 || (r = split_path(path, &pp)) < 0)
        return r;
    if (pp.n == 0)
        return -EEXIST;
    r = walk(v, &pp, &dir, &ni, NULL);
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
    struct ul_ntfs *v = ctx;
    struct path_parts pp;
    ntfs_inode *dir, *ni;
    int r;

    if ((r = writable(v)) < 0)
        return r;
    r = walk_existing(v, path, &pp, &dir, &ni);
    if (r < 0)
        return r;
    if (!dir)
        return close_both(NULL, ni, -EBUSY);    /* the root */
    if ((r = repair_names(v, dir, ni, pp.comp[pp.n - 1])) < 0)
        return flush(v, close_both(dir, ni, r));
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
static int relink(struct ul_ntfs *v, const char *from, const char *to, bool same_dir)
{
    struct path_parts pf, pt;
    ntfs_inode *fdir, *ni, *tdir, *tni;
    u64 trail[MAX_COMPONENTS];
    int r;

    if ((r = writable(v)) < 0 || (r = split_path(to, &pt)) < 0)
        return r;
    r = walk_existing(v, from, &pf, &fdir, &ni);
    if (r < 0)
        return r;
    if (!fdir || pt.n == 0)
        return close_both(fdir, ni, -EBUSY);
    u64 from_dir = fdir->mft_no, from_no = ni->mft_no;
    r = repair_names(v, fdir, ni, pf.comp[pf.n - 1]);
    r = close_both(fdir, ni, r);    /* never an inode open twice */
    if (r < 0)
        return flush(v, r);

    r = walk(v, &pt, &tdir, &tni, trail);
    if (r < 0)
        return r;
    if (tni) {
        /* Only "a" -> "A" in one directory names the same file again. */
        bool case_only = tni->mft_no == from_no && tdir->mft_no == from_dir &&
                         strcmp(pf.comp[pf.n - 1], pt.comp[pt.n - 1]) != 0;
        ntfs_inode_close(tni);      /* lookups only: never dirty */
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
    /* The record with both names reaches the disk before the old name is
     * dropped: a cut now leaves a plain hard link, not a half-made name. */
    if (r == 0 && !fdir && (ntfs_inode_sync(ni) || ntfs_device_sync(v->vol->dev)))
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
    struct ul_ntfs *v = ctx;
    struct path_parts pp;
    ntfs_inode *dir, *ni;
    int r;

    if ((r = writable(v)) < 0)
        return r;
    r = walk_existing(v, path, &pp, &dir, &ni);
    if (r < 0)
        return r;
    if (dir && (r = repair_names(v, dir, ni, pp.comp[pp.n - 1])) < 0)
        return flush(v, close_both(dir, ni, r));
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

    (void)pos; (void)dt_type;
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
    struct ul_ntfs *v = ctx;
    struct listing l = { 0 };
    struct path_parts pp;
    ntfs_inode *dir, *ni;
    s64 pos = 0;
    int r;

    r = walk_existing(v, path, &pp, &dir, &ni);
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

