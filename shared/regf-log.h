/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Replaying a hive's transaction logs (BCD.LOG1/BCD.LOG2) into its primary
 * file before it is edited, as Windows does when it loads a dirty hive.
 *
 * Format and recovery rules: M. Suhanov, "Windows registry file format
 * specification", sections "Format of transaction log files", "Dirty state
 * of a hive" and "Multiple transaction log files".  Both log formats are
 * handled: the new one (Windows 8.1+: "HvLE" log entries with dirty page
 * references and two Marvin32 hashes) and the old one (before 8.1: a "DIRT"
 * dirty vector with one bit per 512-byte page, then those pages).
 *
 * The primary lives in one caller buffer; logs are read-only byte ranges.
 * Every log is validated in full before the first byte of the primary is
 * written, so a failure leaves the buffer unchanged.  No allocation, no I/O.
 */
#ifndef UL_REGF_LOG_H
#define UL_REGF_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UL_REGF_LOG_HEADER 512u        /* base block copy at the start of a log */

enum ul_regf_log_format {
    UL_REGF_LOG_NONE = 0,
    UL_REGF_LOG_OLD = 1,               /* "DIRT" dirty vector (Windows XP .. 8) */
    UL_REGF_LOG_NEW = 2,               /* "HvLE" log entries (Windows 8.1 ..) */
};

struct ul_regf_log_file {
    const uint8_t *data;
    size_t len;                        /* 0 = the file is absent */
};

struct ul_regf_replay_info {
    bool was_dirty;                    /* the primary needed recovery (seqs differ or bad checksum) */
    bool base_block_recovered;         /* the primary's base block was invalid and came from a log */
    uint32_t logs_used;                /* bit 0: LOG1, bit 1: LOG2 */
    uint32_t entries_applied;          /* HvLE entries (new format) */
    uint32_t pages_applied;            /* dirty pages written (new: references, old: 512-byte pages) */
    uint32_t new_seq;                  /* both sequence numbers of the result */
    int format;                        /* enum ul_regf_log_format */
    const char *error;                 /* static message on failure, else NULL */
};

/*
 * Bring a primary hive up to date from its logs (logs[0] = LOG1, logs[1] =
 * LOG2; either may be absent).
 *
 * Returns 0 when the primary was clean (nothing changes: the specification
 * says a clean hive's logs are ignored, even if they hold newer entries) or
 * when it was dirty and has been recovered: then buf[0..*len) is a clean hive
 * (seq1 == seq2, file type 0, hive bins data size from the log, checksum
 * valid), possibly grown up to cap.
 *
 * Errors (buf and *len unchanged, info->error says why):
 *   -UL_ENOENT   the hive is dirty and no log file was given
 *   -UL_EBADMSG  the primary is not a regf file, or the logs are invalid or
 *                hold nothing that applies to this dirty hive
 *   -UL_ENOSPC   the recovered hive would not fit in cap bytes
 *   -UL_EINVAL   bad arguments
 */
int ul_regf_replay(uint8_t *buf, size_t *len, size_t cap, const struct ul_regf_log_file logs[2],
                   struct ul_regf_replay_info *info);

/*
 * Marvin32 (N. Ferguson, Microsoft) as the hive writer uses it for the
 * Hash-1/Hash-2 fields of a log entry: the 64-bit state (high dword = s1,
 * low dword = s0) after the final block, not folded to 32 bits.
 */
#define UL_REGF_MARVIN_SEED UINT64_C(0x82EF4D887A4E55C5)
uint64_t ul_marvin32(const void *data, size_t len, uint64_t seed);

#endif
