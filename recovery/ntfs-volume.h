/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The CLI's NTFS volumes: a partition of a disk image or disk, or a bare
 * volume image, through libntfs-3g with our own device operations: no mount,
 * no FUSE, no root for image files.  The flags, the probe results and the
 * volume ops are shared/ntfs/ul-ntfs.h's.
 */
#ifndef UL_NTFS_VOLUME_H
#define UL_NTFS_VOLUME_H

#include "../shared/ntfs/ul-ntfs.h"

/*
 * Look at the volume at [offset, offset + length) of path (length 0: to the
 * end of the file or device), read-only.  Returns 0 with out filled in also
 * when the volume is not NTFS or is BitLocker (is_ntfs false); < 0 only
 * when path cannot be read.
 */
int ul_ntfs_probe(const char *path, uint64_t offset, uint64_t length, struct ul_ntfs_probe *out);

/* Open that volume: ul_ntfs_open_dev() over the byte range. */
int ul_ntfs_open(const char *path, uint64_t offset, uint64_t length, unsigned flags,
                 struct ul_ntfs **ret, char *err, size_t errlen);

#endif
