/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Replaying an NTFS volume's $LogFile the way Windows does at its next mount
 * (DESIGN.md §4): ntfs-3g's ntfsrecover (ntfsprogs/ntfsrecover.c +
 * playlog.c from Debian's ntfs-3g source package, compiled unchanged by
 * shared/ntfs/replay.mk) run as a library over a libntfs-3g device we hand in.
 *
 * Both builds use this: the CLI (Debian's libntfs-3g) and unloop.efi (our
 * libntfs-3g build with efi/libc).  No <efi.h> here.
 *
 * Not thread-safe, not reentrant: ntfsrecover keeps its state in globals.
 * Calls in sequence in one process are fine (main() re-initialises what it
 * uses; the glue resets getopt).
 */
#ifndef UL_NTFS_REPLAY_H
#define UL_NTFS_REPLAY_H

#include <stddef.h>

/* struct ul_ntfs_dev: how to make a libntfs-3g device for the volume, any
 * number of times.  The replay opens and closes it several times (read-only
 * while replaying, read-write once to write the result); its release hook is
 * not called. */
#include "ul-ntfs.h"

/* Replay the committed transactions in $LogFile as Windows would at its next
 * mount (what `ntfsrecover DEVICE` does: sync mode), then leave the log
 * clean.
 *
 * A log that is clean (whatever its version), or wiped (mkntfs, ntfs-3g
 * after a reset), is left alone: nothing is written, and 0 is returned.
 * Otherwise ntfsrecover runs against an in-memory overlay of the device, so
 * the volume itself is written only once the whole replay succeeded and the
 * overlay's result passed libntfs-3g's own $LogFile check.  Then the changed
 * metadata is written first, $MFTMirr with the records it copies next, and
 * the two $LogFile restart pages last, each followed by a sync: a power cut
 * before the last leaves the log unclean and the replay can simply run again
 * (ntfsrecover skips the records whose LSN shows them done).
 *
 * 0: replayed, or nothing to replay; *replayed (if non-NULL) is the number of
 *    log actions ntfsrecover played (its "after playing N actions"; 0 when
 *    nothing was to replay).
 * <0: negative errno, with a sentence in msg (if non-NULL):
 *    -EPERM  the log is unclean and of version 2.0 (Windows kept metadata in
 *            its cache: Fast Startup, or an abrupt stop), which ntfsrecover
 *            does not replay without --kill-fast-restart;
 *    -EIO    the log or the volume is corrupt, or an action cannot be
 *            replayed;
 *    -ENOMEM, or the device's error;
 *    nothing was written, except when writing the result failed part-way
 *    (the message says "failed after N of M bytes"): then run it again.
 */
int ul_ntfs_replay_log(const struct ul_ntfs_dev *d, unsigned *replayed, char *msg, size_t msglen);

#endif
