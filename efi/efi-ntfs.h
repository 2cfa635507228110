/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NTFS in the pre-boot app: libntfs-3g (built from Debian's source by
 * efi/ntfs.mk) over EFI_DISK_IO / EFI_BLOCK_IO, presented to the core as
 * struct ul_volume_ops (DESIGN.md §1, "Volume stack for NTFS").
 *
 * Paths are UTF-8 with backslashes from the volume root, matched ignoring
 * case.  Every function returns 0 or a negative UL_E* code (libntfs-3g's
 * errno values are Linux numbers, as UL_E* are).
 */
#ifndef UL_EFI_NTFS_H
#define UL_EFI_NTFS_H

#include <efi.h>

#include "../shared/ops.h"

enum {
    UL_EFI_NTFS_RDONLY = 1u << 0,
    /* After a session that wrote, set VOLUME_IS_DIRTY on close so that
     * Windows checks the volume at its next boot (DESIGN.md §4). */
    UL_EFI_NTFS_MARK_DIRTY = 1u << 3,
};

struct ul_efi_ntfs;

/* Route the libc shim (efi/libc) to pool memory and RT->GetTime, and
 * libntfs-3g's messages to log (NULL: errors only, on ConOut).  Call once
 * before anything else here. */
typedef void (*ul_efi_ntfs_log_fn)(int is_error, const char *line);
void ul_efi_ntfs_init(ul_efi_ntfs_log_fn log);

/* Is the partition on this handle NTFS ("NTFS    " at offset 3)? 1 yes,
 * 0 no, < 0 when it cannot be read. */
int ul_efi_ntfs_probe(EFI_HANDLE part);

/* Mount the NTFS volume on this EFI_BLOCK_IO handle (a partition).  A
 * read-write mount refuses, as libntfs-3g does, a volume with an unclean
 * $LogFile or a hibernation image (nothing is written then). */
int ul_efi_ntfs_open(EFI_HANDLE part, unsigned flags, struct ul_efi_ntfs **ret);
/* Mark dirty if asked and written, unmount, flush.  NULL is fine. */
int ul_efi_ntfs_close(struct ul_efi_ntfs *v);

/* ctx = struct ul_efi_ntfs *. */
extern const struct ul_volume_ops ul_efi_ntfs_ops;

#endif
