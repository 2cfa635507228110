/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A portable GUID Partition Table reader (UEFI 2.10 spec, chapter 5 "GUID
 * Partition Table (GPT) Disk Layout"), and a probe for the volume boot
 * sectors unloop cares about.  Freestanding: no allocation, no I/O of its
 * own; the caller hands in a sector reader and a scratch buffer.  The same
 * code runs over EFI_BLOCK_IO in efi/ and over a disk image or block device
 * in recovery/.
 */
#ifndef UL_GPT_H
#define UL_GPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A GUID in on-disk (mixed-endian) byte order: the first three fields
 * little-endian, the last eight bytes as they stand (UEFI spec appendix A). */
struct ul_guid {
    uint8_t b[16];
};

#define UL_GUID_STR_LEN 36 /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */

/* Lower-case 8-4-4-4-12 form, NUL-terminated. */
void ul_guid_format(const struct ul_guid *g, char out[UL_GUID_STR_LEN + 1]);
/* Parses the 8-4-4-4-12 form, either case, optionally inside one pair of
 * braces ("{...}", as the BCD writes them); the string must end right
 * after it.  0, or -UL_EINVAL. */
int ul_guid_parse(const char *s, struct ul_guid *out);
bool ul_guid_equal(const struct ul_guid *a, const struct ul_guid *b);
bool ul_guid_is_null(const struct ul_guid *g);

/* The partition types unloop acts on (UEFI spec table 5-7 for the ESP;
 * Microsoft "PARTITION_INFORMATION_GPT" for the others). */
#define UL_GPT_TYPE_ESP         "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
#define UL_GPT_TYPE_MSR         "e3c9e316-0b5c-4db8-817d-f92df00215ae"
#define UL_GPT_TYPE_BASIC_DATA  "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7"
#define UL_GPT_TYPE_WINRE       "de94bba4-06d1-4d40-a16a-bfd50179d6ac"

enum ul_part_kind {
    UL_PART_OTHER,
    UL_PART_ESP,
    UL_PART_MSR,
    UL_PART_BASIC_DATA,
    UL_PART_WINRE,
};

enum ul_part_kind ul_gpt_type_kind(const struct ul_guid *type);

/* The most used entries one table may hold: Windows creates at most 128
 * and the spec's minimum array (16 KiB of 128-byte entries) holds 128. */
#define UL_GPT_MAX_PARTS 128
/* The most entries (used or not) a header may declare; a bound on the
 * work a hostile header can ask for, four times the usual 128. */
#define UL_GPT_MAX_ENTRIES 512

struct ul_gpt_part {
    uint32_t index;            /* 1-based slot in the entry array */
    struct ul_guid type, guid; /* PartitionTypeGUID, UniquePartitionGUID */
    uint64_t first_lba, last_lba; /* inclusive */
    uint64_t attrs;
    /* The UTF-16LE name with each non-ASCII or control character (a
     * surrogate pair counts as one) replaced by '?'; NUL-terminated. */
    char name[72];
    enum ul_part_kind kind;
};

struct ul_gpt {
    uint32_t sector_size;
    uint64_t disk_sectors;
    struct ul_guid disk_guid;
    uint64_t first_usable_lba, last_usable_lba;
    bool used_backup;   /* the primary was invalid; this is the backup's table */
    bool protective_mbr; /* LBA 0 has a type 0xEE entry (informational only) */
    uint32_t n;         /* used entries, in array order */
    struct ul_gpt_part parts[UL_GPT_MAX_PARTS];
};

/* Reads count sectors starting at lba into buf (count * sector_size bytes).
 * Returns 0, or a negative UL_E* code that ul_gpt_read() passes on. */
typedef int (*ul_read_sectors_fn)(void *ctx, uint64_t lba, uint32_t count, void *buf);

/*
 * Reads and validates the GPT of a disk of disk_sectors sectors of
 * sector_size bytes (a power of two, 512..65536).  The primary header at
 * LBA 1 is checked as UEFI 5.3.2 says: signature "EFI PART", revision 1.x,
 * 92 <= HeaderSize <= sector_size, header CRC32, MyLBA, the usable range
 * inside the disk and clear of both headers, the entry array outside the
 * usable range, entry count <= UL_GPT_MAX_ENTRIES, entry size 128 * 2^n,
 * the entry array CRC32; then every used entry (non-null type GUID) must
 * have first <= last inside the usable range and overlap no other.  If the
 * primary fails any of this the backup header at the last LBA is checked
 * the same way and, if good, used (out->used_backup).
 *
 * scratch (scratch_size bytes, any alignment) holds one sector, then the
 * whole entry array rounded up to sectors; it is overwritten.
 *
 * Returns 0 and fills *out, or:
 *   -UL_EINVAL   bad arguments (sector size, NULL pointers);
 *   -UL_ENOENT   neither header location has the "EFI PART" signature
 *                (not a GPT disk: MBR, blank, or too small for a GPT);
 *   -UL_EBADMSG  a GPT signature is there, but no valid table;
 *   -UL_E2BIG    scratch cannot hold a sector or the entry array, or a
 *                valid table has more than UL_GPT_MAX_PARTS used entries;
 *   or the reader's own error.
 * When both copies fail, an error that is not about the table itself
 * (reader errors, -UL_E2BIG) wins over -UL_EBADMSG, which wins over
 * -UL_ENOENT.  On error *out has n == 0.
 */
int ul_gpt_read(ul_read_sectors_fn read, void *ctx, uint32_t sector_size, uint64_t disk_sectors,
                void *scratch, size_t scratch_size, struct ul_gpt *out);

/* What a volume's first sector says it holds. */
enum ul_fs_kind {
    UL_FS_UNKNOWN,
    UL_FS_NTFS,            /* "NTFS    " at offset 3 */
    UL_FS_BITLOCKER,       /* "-FVE-FS-" at offset 3 (Vista and 7+ volumes) */
    UL_FS_BITLOCKER_TOGO,  /* "MSWIN4.1" at 3 and the BitLocker GUID at 0x1a8 */
    UL_FS_FAT,             /* a FAT12/16/32 BIOS parameter block */
};

/* Probes the first sector of a volume (len >= 512 for anything but
 * UL_FS_UNKNOWN to be possible). */
enum ul_fs_kind ul_probe_boot_sector(const uint8_t *sector, size_t len);

#endif
