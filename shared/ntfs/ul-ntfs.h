/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NTFS through libntfs-3g, for every binary (DESIGN.md §1, "Volume stack for
 * NTFS"): a device (the caller's struct ntfs_device_operations: a byte range
 * of a file in the CLI, a partition's EFI_DISK_IO in unloop.efi) ->
 * libntfs-3g -> struct ul_volume_ops for the core.
 *
 * This glue is compiled twice: against Debian's libntfs-3g for the CLI, and
 * against libntfs-3g built from Debian's source package with efi/libc for
 * unloop.efi.  It includes no firmware or OS header.
 *
 * Paths are UTF-8 with backslashes from the volume root, matched ignoring
 * case as on Windows.  Every function returns 0 or a negative errno (Linux
 * numbers, the same as UL_E*).
 */
#ifndef UL_NTFS_H
#define UL_NTFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../ops.h"

struct ntfs_device_operations;

/* How to make a libntfs-3g device for the volume, as often as needed (each
 * mount consumes one). */
struct ul_ntfs_dev {
    const char *name;                       /* for messages: a path, "partition 3" */
    struct ntfs_device_operations *ops;
    void *priv;                             /* dev->d_private */
    /* Called once when the volume no longer needs priv (ul_ntfs_close(), or
     * a failed ul_ntfs_open()); NULL if the caller keeps it. */
    void (*release)(void *priv);
};

enum {
    /* Read-only: nothing is written, whatever the state of the volume. */
    UL_NTFS_RDONLY = 1u << 0,
    /*
     * An unclean $LogFile (Windows died with the volume mounted, the normal
     * case after a blue screen) is reset (emptied) before writing, which
     * discards what Windows had logged but not yet applied.  Without it such
     * a volume is refused for writing.
     */
    UL_NTFS_RESET_LOG = 1u << 1,
    /*
     * A hibernated / Fast-Startup volume (hiberfil.sys starting with
     * "hibr"/"HIBR") has its hibernation image invalidated (the 4 KiB header
     * zeroed, or the file removed if it is shorter) before writing.  Without
     * it such a volume is refused for writing.
     */
    UL_NTFS_REMOVE_HIBERFILE = 1u << 2,
    /* Before the first write of a session, set VOLUME_IS_DIRTY so that
     * Windows runs chkdsk at its next boot. */
    UL_NTFS_MARK_DIRTY = 1u << 3,
    /*
     * A $MFTMirr that does not match $MFT (a write cut short by a power loss:
     * libntfs-3g writes a record to $MFT, then to its mirror) is repaired
     * before writing, as chkdsk and ntfsfix do: from $MFT, or from the mirror
     * where the $MFT copy is torn.  Only on a volume whose $LogFile is clean
     * (Windows was not in the middle of anything).  Without it, or read-only,
     * such a volume is refused with -EUCLEAN.
     */
    UL_NTFS_FIX_MIRROR = 1u << 4,
    /*
     * An unclean $LogFile is replayed as Windows would at its next mount
     * (ntfs-3g's ntfsrecover, shared/ntfs/ntfs-replay.h) before writing.  If
     * the replay fails, the volume is refused, or with UL_NTFS_RESET_LOG too
     * the log is reset.  Without this flag, UL_NTFS_RESET_LOG resets at once.
     */
    UL_NTFS_REPLAY_LOG = 1u << 5,
};

#ifndef EUCLEAN
#define EUCLEAN 117
#endif

struct ul_ntfs;

/* What a read-only look at a volume tells (ul_ntfs_probe_dev()). */
struct ul_ntfs_probe {
    bool is_ntfs;           /* "NTFS    " at offset 3 and libntfs-3g reads it */
    bool is_bitlocker;      /* "-FVE-FS-" at offset 3 */
    bool mirror_mismatch;   /* $MFTMirr differs from $MFT: not mountable as is */
    char label[128];        /* UTF-8 */
    uint64_t serial;        /* boot sector, offset 0x48 */
    uint32_t sector_size;
    uint32_t cluster_size;
    uint64_t size;          /* bytes the volume covers (clusters * cluster size) */
    uint8_t major_ver, minor_ver;
    uint16_t volume_flags;  /* $VOLUME_INFORMATION flags */
    bool dirty;             /* VOLUME_IS_DIRTY: chkdsk pending; fine to read */
    bool log_clean;         /* $LogFile clean or empty: writing needs no reset */
    bool log_empty;         /* no restart pages (mkntfs, ntfs-3g, a reset) */
    bool log_cached;        /* restart page version 2.0: Windows kept metadata
                               in its cache (Fast Startup or abrupt stop) */
    bool hibernated;        /* hiberfil.sys holds a hibernation image */
};

/* Where libntfs-3g's messages go (errors and warnings; is_error set for
 * errors), one line each, without a newline.  NULL: only kept for the
 * sentences this glue returns.  Not thread-safe; call before opening. */
void ul_ntfs_set_log(void (*fn)(int is_error, const char *line));

/*
 * Look at the volume read-only.  Returns 0 with out filled in also when the
 * volume is not NTFS, is BitLocker or cannot be mounted (is_ntfs false);
 * < 0 only when the device cannot be read.  err (may be NULL) receives a
 * sentence saying why a volume is not readable NTFS.
 */
int ul_ntfs_probe_dev(const struct ul_ntfs_dev *d, struct ul_ntfs_probe *out, char *err,
                      size_t errlen);

/*
 * Open the volume.  Refuses, having written nothing:
 *   -EINVAL      not NTFS
 *   -EACCES      BitLocker ("BitLocker volume: unlock it first")
 *   -EUCLEAN     $MFTMirr does not match $MFT (read-only or no UL_NTFS_FIX_MIRROR),
 *                or cannot be repaired
 * and, unless UL_NTFS_RDONLY:
 *   -EOPNOTSUPP  unclean $LogFile not replayed (no UL_NTFS_REPLAY_LOG, or the
 *                replay failed) and no UL_NTFS_RESET_LOG
 *   -EPERM       hibernated and no UL_NTFS_REMOVE_HIBERFILE
 * and other negative errnos from the device or libntfs-3g.  err (may be
 * NULL) receives a sentence for the user.  Takes d->priv over (see release).
 */
int ul_ntfs_open_dev(const struct ul_ntfs_dev *d, unsigned flags, struct ul_ntfs **ret,
                     char *err, size_t errlen);
/* Unmount (which syncs), release the device.  NULL is fine.  Returns 0 or the
 * first error. */
int ul_ntfs_close(struct ul_ntfs *v);

/* What the last open did to the volume before mounting it, for the log. */
struct ul_ntfs_repairs {
    bool log_replayed;      /* $LogFile replayed (UL_NTFS_REPLAY_LOG) */
    unsigned replayed_actions;
    bool mirror_fixed;      /* $MFTMirr rewritten */
    bool log_reset;         /* $LogFile emptied (UL_NTFS_RESET_LOG) */
    bool hiberfile_removed; /* hibernation image invalidated */
};
void ul_ntfs_get_repairs(const struct ul_ntfs *v, struct ul_ntfs_repairs *ret);

/* The volume label (UTF-8), "" when there is none. */
const char *ul_ntfs_label(const struct ul_ntfs *v);

/* A sentence for an errno that libntfs-3g or this glue returned. */
const char *ul_ntfs_strerror(int err);

/* ctx = struct ul_ntfs *. */
extern const struct ul_volume_ops ul_ntfs_volume_ops;

#endif
