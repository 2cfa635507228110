/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NTFS in the pre-boot app: libntfs-3g (built from Debian's source by
 * efi/ntfs.mk) over a partition's EFI_DISK_IO / EFI_BLOCK_IO, with the glue
 * the CLI uses too (shared/ntfs/ul-ntfs.h: flags, probe, volume ops).
 */
#ifndef UL_EFI_NTFS_H
#define UL_EFI_NTFS_H

#include <efi.h>

#include "../shared/ntfs/ul-ntfs.h"

/* Route the libc shim (efi/libc) to pool memory and RT->GetTime, and
 * libntfs-3g's messages to log (NULL: errors only, on ConOut).  Call once
 * before anything else here. */
typedef void (*ul_efi_ntfs_log_fn)(int is_error, const char *line);
void ul_efi_ntfs_init(ul_efi_ntfs_log_fn log);

/* ul_ntfs_probe_dev() on the partition of this EFI_BLOCK_IO handle: 0 with
 * out filled in (out->is_ntfs says whether it is readable NTFS), < 0 when
 * it cannot be read. */
int ul_efi_ntfs_probe(EFI_HANDLE part, struct ul_ntfs_probe *out);

/* ul_ntfs_open_dev() on that partition. */
int ul_efi_ntfs_open(EFI_HANDLE part, unsigned flags, struct ul_ntfs **ret, char *err,
                     size_t errlen);

/*
 * A BitLocker volume on a partition (DESIGN.md §1: block device ->
 * BitLocker layer -> libntfs-3g): its metadata read by shared/bitlocker.c,
 * not unlocked yet (unlock it through ul_efi_bitlocker_get()).  Each NTFS
 * volume opened over it holds a reference; the last unref wipes the keys.
 * Returns 0 or the UL_E* code of ul_bitlocker_open() with *ret_why.
 */
struct ul_mem;
struct ul_bitlocker;
struct ul_efi_bitlocker;
int ul_efi_bitlocker_open(EFI_HANDLE part, const struct ul_mem *mem,
                          struct ul_efi_bitlocker **ret, const char **ret_why);
struct ul_bitlocker *ul_efi_bitlocker_get(struct ul_efi_bitlocker *b);
void ul_efi_bitlocker_unref(struct ul_efi_bitlocker *b);
/* ul_efi_ntfs_probe() / ul_efi_ntfs_open() on the unlocked plaintext. */
int ul_efi_bitlocker_ntfs_probe(struct ul_efi_bitlocker *b, struct ul_ntfs_probe *out);
int ul_efi_bitlocker_ntfs_open(struct ul_efi_bitlocker *b, unsigned flags, struct ul_ntfs **ret,
                               char *err, size_t errlen);

#endif
