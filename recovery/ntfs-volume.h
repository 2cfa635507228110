/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Volume ops over an NTFS volume inside a file or block device (a partition
 * of a disk image or disk, or a bare volume image), through libntfs-3g with
 * our own device operations: no mount, no FUSE, no root for image files.
 *
 * Paths are UTF-8 with backslashes from the volume root, matched ignoring
 * case as on Windows.  Every function returns 0 or a negative errno.
 */
#ifndef UL_NTFS_VOLUME_H
#define UL_NTFS_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../shared/ops.h"

enum {
    /* Read-only: nothing is written, whatever the state of the volume. */
    UL_NTFS_RDONLY = 1u << 0,
    /*
     * An unclean $LogFile (Windows died with the volume mounted, the normal
     * case after a blue screen) is reset (emptied) before writing, which
     * discards what Windows had logged but not yet applied.  Without it such
     * a volume is refused for writing (DESIGN §4: replay first, issue #3).
     */
    UL_NTFS_RESET_LOG = 1u << 1,
    /*
     * A hibernated / Fast-Startup volume (hiberfil.sys starting with
     * "hibr"/"HIBR") has its hibernation image invalidated (the 4 KiB header
     * zeroed, or the file removed if it is shorter) before writing.  Without
     * it such a volume is refused for writing.
     */
    UL_NTFS_REMOVE_HIBERFILE = 1u << 2,
    /* On close after a session that wrote anything, set VOLUME_IS_DIRTY so
     * that Windows runs chkdsk at its next boot. */
    UL_NTFS_MARK_DIRTY = 1u << 3,
};

struct ul_ntfs;

/* What a read-only look at a volume tells (ul_ntfs_probe()). */
struct ul_ntfs_probe {
    bool is_ntfs;           /* "NTFS    " at offset 3 and libntfs-3g reads it */
    bool is_bitlocker;      /* "-FVE-FS-" at offset 3 */
    char label[128];        /* UTF-8 */
    uint64_t serial;        /* boot sector, offset 0x48 */
    uint32_t sector_size;
    uint32_t cluster_size;
    uint64_t size;          /* bytes the volume covers (sectors * sector size) */
    uint8_t major_ver, minor_ver;
    uint16_t volume_flags;  /* $VOLUME_INFORMATION flags */
    bool dirty;             /* VOLUME_IS_DIRTY: chkdsk pending; fine to read */
    bool log_clean;         /* $LogFile clean or empty: writing needs no reset */
    bool log_empty;         /* no restart pages (mkntfs, ntfs-3g, a reset) */
    bool log_cached;        /* restart page version 2.0: Windows kept metadata
                               in its cache (Fast Startup or abrupt stop) */
    bool hibernated;        /* hiberfil.sys holds a hibernation image */
};

/*
 * Look at the volume at [offset, offset + length) of path (length 0: to the
 * end of the file or device), read-only.  Returns 0 with out filled in also
 * when the volume is not NTFS or is BitLocker (is_ntfs false); < 0 only
 * when path cannot be read.
 */
int ul_ntfs_probe(const char *path, uint64_t offset, uint64_t length, struct ul_ntfs_probe *out);

/*
 * Open the volume.  Without UL_NTFS_RDONLY, refuses (nothing written):
 *   -EINVAL      not NTFS
 *   -EACCES      BitLocker ("BitLocker volume: unlock it first")
 *   -EOPNOTSUPP  unclean $LogFile and no UL_NTFS_RESET_LOG
 *   -EPERM       hibernated and no UL_NTFS_REMOVE_HIBERFILE
 * and other negative errnos from the device or libntfs-3g.  err (may be
 * NULL) receives a sentence for the user.
 */
int ul_ntfs_open(const char *path, uint64_t offset, uint64_t length, unsigned flags,
                 struct ul_ntfs **ret, char *err, size_t errlen);
/* Mark dirty (UL_NTFS_MARK_DIRTY, after writes), unmount, sync.  NULL is fine.
 * Returns 0 or the first error. */
int ul_ntfs_close(struct ul_ntfs *v);

/* A sentence for an errno that libntfs-3g or this adapter returned. */
const char *ul_ntfs_strerror(int err);

/* ctx = struct ul_ntfs *. */
extern const struct ul_volume_ops ul_ntfs_volume_ops;

#endif
