/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The quarantine journal: an append-only file of fixed 512-byte records,
 * each with a CRC-32.  An intent record is on disk before a file moves, a
 * done record after; replay after a power cut finds every intent without
 * its done record and finishes or rolls it back by looking at where the
 * file actually is (DESIGN §4).  A torn last record fails its CRC and is
 * simply overwritten by the next append.  Lives on the Windows volume
 * (UL_JOURNAL_PATH), with a copy on the ESP (UL_JOURNAL_ESP_PATH) so a
 * technician can see what happened even when NTFS cannot be read.
 *
 * Record layout (little-endian):
 *   0 "ULJ1"  4 u32 seq  8 u8 type  9 u8 rule  10 u16 reserved  12 u32 flags
 *  16 u64 run_id  24 u64 file_id  32 u64 size  40 4 x u64 times (FILETIME:
 *  creation, modification, mft_change, access)  72 u16 src_len  74 u16 dst_len
 *  76 src[214]  290 dst[214]  504 u32 reserved  508 u32 crc32 of bytes 0..507
 */
#ifndef UL_JOURNAL_H
#define UL_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops.h"

#define UL_QUARANTINE_DIR "\\unloop.quarantine"
#define UL_JOURNAL_PATH "\\unloop.quarantine\\journal"
#define UL_JOURNAL_ESP_PATH "\\EFI\\unloop\\journal"
#define UL_JREC_SIZE 512u
#define UL_JPATH_MAX 214u          /* bytes including the NUL */
#define UL_JOURNAL_MAX_RECORDS 8192u

enum ul_jtype {
    UL_J_INTENT_MOVE = 1,    /* about to move src -> dst (quarantine) */
    UL_J_DONE_MOVE = 2,
    UL_J_INTENT_RESTORE = 3, /* about to move dst -> src (restore) */
    UL_J_DONE_RESTORE = 4,
    UL_J_ABORTED = 5,        /* the intent before it was rolled back: nothing moved */
};

struct ul_jrec {
    uint32_t seq;
    uint8_t type;
    uint8_t rule;
    uint32_t flags;
    uint64_t run_id;         /* YYYYMMDDhhmmss as a number: readable in hex dumps too */
    uint64_t file_id;
    uint64_t size;
    struct ul_times times;   /* the file's times before it moved */
    char src[UL_JPATH_MAX];  /* original path */
    char dst[UL_JPATH_MAX];  /* path in quarantine */
};

void ul_jrec_encode(const struct ul_jrec *rec, uint8_t out[UL_JREC_SIZE]);
/* -UL_EBADMSG: bad magic, CRC, type or path lengths. */
int ul_jrec_decode(const uint8_t *in, size_t len, struct ul_jrec *out);

struct ul_journal {
    const struct ul_volume *vol;
    const char *path;
    uint32_t n;              /* valid records */
    uint64_t next_off;       /* where the next record goes */
    bool torn_tail;          /* bytes after the valid records (a cut append) */
};

/*
 * Parse a journal image: the valid records up to the first invalid one
 * (or a seq out of order).  Returns the number of valid records; *ret_torn
 * tells if anything followed them.  recs may be NULL to count only.
 */
uint32_t ul_journal_parse(const uint8_t *data, size_t len, struct ul_jrec *recs, uint32_t max,
                          bool *ret_torn);

/* Open (or prepare to create) the journal at path on vol. */
int ul_journal_open(struct ul_journal *j, const struct ul_volume *vol, const char *path);
/* Append one record (seq assigned) and flush it to the medium. */
int ul_journal_append(struct ul_journal *j, struct ul_jrec *rec);
/* Read record i (0-based). */
int ul_journal_get(const struct ul_journal *j, uint32_t i, struct ul_jrec *out);

const char *ul_jtype_name(uint8_t type);
/* run_id from a time (seconds since 1970 of the clock in use) and back to "YYYYMMDD-hhmmss". */
uint64_t ul_run_id_from_time(int64_t secs);
void ul_run_id_format(uint64_t run_id, char out[16]);

#endif
