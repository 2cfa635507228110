/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The BitLocker layer of the CLI's NTFS volume stack (DESIGN.md §1): a byte
 * range of a file or block device that holds a BitLocker volume, unlocked
 * through shared/bitlocker.c and presented to libntfs-3g as the plaintext
 * volume (the one 'unloop bitlocker unlock --output' writes).  Reads
 * decrypt; writes encrypt and go through to the range.
 */
#ifndef UL_BITLOCKER_VOLUME_H
#define UL_BITLOCKER_VOLUME_H

#include <stdint.h>

#include "../shared/ntfs/ul-ntfs.h"

struct ul_bitlocker;
struct ul_blvol;

/*
 * Opens [offset, offset + length) of path (length 0: to the end) read-only
 * and reads its BitLocker metadata; it is not unlocked yet.  Returns 0, a
 * negative errno for I/O, or the UL_E* code of ul_bitlocker_open(); err
 * gets a sentence.  The result holds one reference.
 */
int ul_blvol_open(const char *path, uint64_t offset, uint64_t length, struct ul_blvol **ret,
                  char *err, size_t errlen);
/* The BitLocker context, to unlock it (shared/bitlocker.h). */
struct ul_bitlocker *ul_blvol_bitlocker(struct ul_blvol *bv);
/*
 * A libntfs-3g device over the unlocked volume for ul_ntfs_probe_dev() /
 * ul_ntfs_open_dev(); it takes a reference, dropped by its release.
 */
void ul_blvol_ntfs_dev(struct ul_blvol *bv, struct ul_ntfs_dev *ret);
/* Drops a reference; the last one wipes the keys and closes the file.
 * NULL is fine. */
void ul_blvol_unref(struct ul_blvol *bv);

#endif
