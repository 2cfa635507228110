/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * GPT reader.  Section numbers are those of the UEFI 2.10 specification,
 * chapter 5.  Everything read from the disk is untrusted: each count, size
 * and LBA is checked before it is used in arithmetic or as a bound, and all
 * arithmetic on them is in uint64_t from uint32_t inputs or checked against
 * overflow first.
 */
#include "gpt.h"

#include "crc32.h"
#include "string-util.h"
#include "ul-errno.h"

/* 5.3.2 table 5-5, GPT header offsets. */
#define HDR_SIGNATURE     0
#define HDR_REVISION      8
#define HDR_SIZE          12
#define HDR_CRC           16
#define HDR_MY_LBA        24
#define HDR_ALTERNATE_LBA 32
#define HDR_FIRST_USABLE  40
#define HDR_LAST_USABLE   48
#define HDR_DISK_GUID     56
#define HDR_ENTRIES_LBA   72
#define HDR_NUM_ENTRIES   80
#define HDR_ENTRY_SIZE    84
#define HDR_ENTRIES_CRC   88
#define HDR_MIN_SIZE      92

/* 5.3.3 table 5-6, GPT partition entry offsets. */
#define ENT_TYPE  0
#define ENT_GUID  16
#define ENT_FIRST 32
#define ENT_LAST  40
#define ENT_ATTRS 48
#define ENT_NAME  56
#define ENT_NAME_UNITS 36 /* 72 bytes of UTF-16LE */
#define ENT_MIN_SIZE 128

/* 5.2.3 table 5-4: the protective MBR's partition record and its type. */
#define MBR_PART_TABLE 446
#define MBR_PART_TYPE  4
#define MBR_TYPE_GPT_PROTECTIVE 0xEE

#define GPT_SIGNATURE "EFI PART"
#define GPT_REVISION_MAJOR 0x0001u /* revision 1.0 is 0x00010000 */

static uint16_t get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
    return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/* ------------------------------------------------------------------ GUIDs */

/* Byte i of the text form comes from on-disk byte order[i]: the first three
 * fields are stored little-endian. */
static const uint8_t guid_order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };

void ul_guid_format(const struct ul_guid *g, char out[UL_GUID_STR_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        uint8_t v = g->b[guid_order[i]];
        out[o++] = hex[v >> 4];
        out[o++] = hex[v & 0xf];
    }
    out[o] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = ul_tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int ul_guid_parse(const char *s, struct ul_guid *out)
{
    struct ul_guid g;
    bool braced;
    size_t pos = 0;

    if (!s || !out)
        return -UL_EINVAL;
    braced = s[0] == '{';
    if (braced)
        pos = 1;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            if (s[pos] != '-')
                return -UL_EINVAL;
            pos++;
        }
        /* s[pos] is checked before s[pos + 1] is read, so a short string
         * stops at its NUL. */
        int hi = hex_value(s[pos]);
        if (hi < 0)
            return -UL_EINVAL;
        int lo = hex_value(s[pos + 1]);
        if (lo < 0)
            return -UL_EINVAL;
        g.b[guid_order[i]] = (uint8_t)(hi << 4 | lo);
        pos += 2;
    }
    if (braced) {
        if (s[pos] != '}')
            return -UL_EINVAL;
        pos++;
    }
    if (s[pos] != '\0')
        return -UL_EINVAL;
    *out = g;
    return 0;
}

bool ul_guid_equal(const struct ul_guid *a, const struct ul_guid *b)
{
    return ul_memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

bool ul_guid_is_null(const struct ul_guid *g)
{
    for (size_t i = 0; i < sizeof(g->b); i++)
        if (g->b[i])
            return false;
    return true;
}

enum ul_part_kind ul_gpt_type_kind(const struct ul_guid *type)
{
    static const struct {
        const char *guid;
        enum ul_part_kind kind;
    } kinds[] = {
        { UL_GPT_TYPE_ESP, UL_PART_ESP },
        { UL_GPT_TYPE_MSR, UL_PART_MSR },
        { UL_GPT_TYPE_BASIC_DATA, UL_PART_BASIC_DATA },
        { UL_GPT_TYPE_WINRE, UL_PART_WINRE },
    };
    char s[UL_GUID_STR_LEN + 1];

    ul_guid_format(type, s);
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (ul_strcmp(s, kinds[i].guid) == 0)
            return kinds[i].kind;
    return UL_PART_OTHER;
}

/* -------------------------------------------------------------- the table */

struct reader {
    ul_read_sectors_fn read;
    void *ctx;
    uint32_t sector_size;
    uint64_t disk_sectors;
    uint8_t *scratch;
    size_t scratch_size;
};

/* The header fields that outlive the scratch buffer. */
struct header {
    uint64_t first_usable, last_usable;
    uint64_t entries_lba;
    uint32_t num_entries, entry_size, entries_crc;
    uint64_t entries_sectors;
    struct ul_guid disk_guid;
};

static int read_sectors(const struct reader *r, uint64_t lba, uint64_t count)
{
    /* Callers have checked count * sector_size <= scratch_size and that
     * the range lies inside the disk. */
    int err = r->read(r->ctx, lba, (uint32_t)count, r->scratch);
    if (err > 0)
        err = -UL_EIO;
    return err;
}

static bool has_signature(const uint8_t *sector)
{
    return ul_memcmp(sector + HDR_SIGNATURE, GPT_SIGNATURE, 8) == 0;
}

/* Does [a, a+an) meet [b, b+bn)?  No range here reaches 2^64. */
static bool ranges_meet(uint64_t a, uint64_t an, uint64_t b, uint64_t bn)
{
    return an && bn && a < b + bn && b < a + an;
}

/* Reads and checks the header at lba (5.3.2: "Validating a GPT header").
 * -UL_ENOENT when the signature is missing, -UL_EBADMSG for any other
 * inconsistency. */
static int read_header(const struct reader *r, uint64_t lba, struct header *h)
{
    uint8_t *p = r->scratch;
    uint32_t hdr_size, crc, entry_size;
    uint64_t first, last, last_lba = r->disk_sectors - 1;
    int err;

    err = read_sectors(r, lba, 1);
    if (err < 0)
        return err;
    if (!has_signature(p))
        return -UL_ENOENT;
    /* Revision 1.0 is all any spec version has defined; a later minor
     * revision is meant to stay readable, a new major one is not. */
    if (get_le32(p + HDR_REVISION) >> 16 != GPT_REVISION_MAJOR)
        return -UL_EBADMSG;
    hdr_size = get_le32(p + HDR_SIZE);
    if (hdr_size < HDR_MIN_SIZE || hdr_size > r->sector_size)
        return -UL_EBADMSG;
    /* The CRC covers HeaderSize bytes with its own field zeroed. */
    crc = get_le32(p + HDR_CRC);
    ul_memset(p + HDR_CRC, 0, 4);
    if (ul_crc32(p, hdr_size) != crc)
        return -UL_EBADMSG;
    if (get_le64(p + HDR_MY_LBA) != lba)
        return -UL_EBADMSG;

    /* The usable range lies between the two headers (5.3.1 figure 5-2);
     * it may be empty only if no partition is used, which the entry check
     * then enforces, so first <= last + 1 is the bound. */
    first = get_le64(p + HDR_FIRST_USABLE);
    last = get_le64(p + HDR_LAST_USABLE);
    if (first < 2 || last >= last_lba || first > last + 1)
        return -UL_EBADMSG;

    /* 5.3.2: SizeOfPartitionEntry is 128 * 2^n. */
    entry_size = get_le32(p + HDR_ENTRY_SIZE);
    if (entry_size < ENT_MIN_SIZE || entry_size % ENT_MIN_SIZE ||
        (entry_size & (entry_size - 1)))
        return -UL_EBADMSG;
    h->num_entries = get_le32(p + HDR_NUM_ENTRIES);
    if (h->num_entries > UL_GPT_MAX_ENTRIES)
        return -UL_EBADMSG;
    h->entry_size = entry_size;
    h->entries_crc = get_le32(p + HDR_ENTRIES_CRC);

    /* Both factors are at most 2^32, so this cannot overflow. */
    uint64_t bytes = (uint64_t)h->num_entries * entry_size;
    h->entries_sectors = (bytes + r->sector_size - 1) / r->sector_size;
    /* The array lies between LBA 2 and the last LBA, clear of this header
     * and of the usable range ("must not overlap"; 5.3.1). */
    h->entries_lba = get_le64(p + HDR_ENTRIES_LBA);
    if (h->entries_sectors) {
        if (h->entries_lba < 2 || h->entries_lba >= last_lba ||
            h->entries_sectors > last_lba - h->entries_lba)
            return -UL_EBADMSG;
        if (ranges_meet(h->entries_lba, h->entries_sectors, lba, 1) ||
            ranges_meet(h->entries_lba, h->entries_sectors, first, last + 1 - first))
            return -UL_EBADMSG;
    }
    /* The array is valid yet may not fit the caller's buffer. */
    if (h->entries_sectors > r->scratch_size / r->sector_size)
        return -UL_E2BIG;

    h->first_usable = first;
    h->last_usable = last;
    ul_memcpy(h->disk_guid.b, p + HDR_DISK_GUID, 16);
    return 0;
}

/* UTF-16LE to ASCII, one '?' per code point outside printable ASCII. */
static void copy_name(char *dst, size_t dst_size, const uint8_t *src)
{
    size_t o = 0;

    for (size_t i = 0; i < ENT_NAME_UNITS && o + 1 < dst_size; i++) {
        uint16_t u = get_le16(src + 2 * i);
        if (u == 0)
            break;
        if (u >= 0xD800 && u <= 0xDBFF && i + 1 < ENT_NAME_UNITS) {
            uint16_t lo = get_le16(src + 2 * (i + 1));
            if (lo >= 0xDC00 && lo <= 0xDFFF)
                i++;
        }
        dst[o++] = u >= 0x20 && u < 0x7f ? (char)u : '?';
    }
    dst[o] = '\0';
}

static int read_table(const struct reader *r, uint64_t lba, struct ul_gpt *out)
{
    struct header h;
    int err;

    err = read_header(r, lba, &h);
    if (err < 0)
        return err;
    if (h.entries_sectors) {
        err = read_sectors(r, h.entries_lba, h.entries_sectors);
        if (err < 0)
            return err;
    }
    if (ul_crc32(r->scratch, (size_t)h.num_entries * h.entry_size) != h.entries_crc)
        return -UL_EBADMSG;

    out->disk_guid = h.disk_guid;
    out->first_usable_lba = h.first_usable;
    out->last_usable_lba = h.last_usable;
    for (uint32_t i = 0; i < h.num_entries; i++) {
        const uint8_t *e = r->scratch + (size_t)i * h.entry_size;
        struct ul_gpt_part *part;

        struct ul_guid type;
        ul_memcpy(type.b, e + ENT_TYPE, 16);
        if (ul_guid_is_null(&type))
            continue; /* 5.3.3: a zero type GUID marks an unused entry */

        uint64_t first = get_le64(e + ENT_FIRST), last = get_le64(e + ENT_LAST);
        if (first > last || first < h.first_usable || last > h.last_usable)
            return -UL_EBADMSG;
        for (uint32_t j = 0; j < out->n; j++)
            if (first <= out->parts[j].last_lba && out->parts[j].first_lba <= last)
                return -UL_EBADMSG;
        if (out->n == UL_GPT_MAX_PARTS)
            return -UL_E2BIG;

        part = &out->parts[out->n++];
        part->index = i + 1;
        part->type = type;
        ul_memcpy(part->guid.b, e + ENT_GUID, 16);
        part->first_lba = first;
        part->last_lba = last;
        part->attrs = get_le64(e + ENT_ATTRS);
        copy_name(part->name, sizeof(part->name), e + ENT_NAME);
        part->kind = ul_gpt_type_kind(&type);
    }
    return 0;
}

static void reset(struct ul_gpt *out, uint32_t sector_size, uint64_t disk_sectors)
{
    ul_memset(out, 0, sizeof(*out));
    out->sector_size = sector_size;
    out->disk_sectors = disk_sectors;
}

/* Which of two failures to report: trouble outside the table (the reader,
 * the buffer) first, then a damaged GPT, then no GPT at all. */
static int worse(int a, int b)
{
    if (a != -UL_EBADMSG && a != -UL_ENOENT)
        return a;
    if (b != -UL_EBADMSG && b != -UL_ENOENT)
        return b;
    if (a == -UL_EBADMSG || b == -UL_EBADMSG)
        return -UL_EBADMSG;
    return -UL_ENOENT;
}

static bool has_protective_mbr(const uint8_t *mbr)
{
    if (mbr[510] != 0x55 || mbr[511] != 0xAA)
        return false;
    for (int i = 0; i < 4; i++)
        if (mbr[MBR_PART_TABLE + 16 * i + MBR_PART_TYPE] == MBR_TYPE_GPT_PROTECTIVE)
            return true;
    return false;
}

int ul_gpt_read(ul_read_sectors_fn read, void *ctx, uint32_t sector_size, uint64_t disk_sectors,
                void *scratch, size_t scratch_size, struct ul_gpt *out)
{
    struct reader r = {
        .read = read, .ctx = ctx, .sector_size = sector_size,
        .disk_sectors = disk_sectors, .scratch = scratch, .scratch_size = scratch_size,
    };
    bool pmbr;
    int err, err2;

    if (!read || !scratch || !out)
        return -UL_EINVAL;
    if (sector_size < 512 || sector_size > 65536 || (sector_size & (sector_size - 1)))
        return -UL_EINVAL;
    reset(out, sector_size, disk_sectors);
    if (scratch_size < sector_size)
        return -UL_E2BIG;
    /* LBA 0 (protective MBR), 1 (header), 2.. (entries) and the backup
     * header: anything smaller cannot hold a GPT. */
    if (disk_sectors < 4)
        return -UL_ENOENT;

    /* 5.2.3: the protective MBR is only reported; some tools write a
     * hybrid MBR and firmware reads the GPT regardless, so an unreadable LBA 0
     * does not stop the search either. */
    pmbr = read_sectors(&r, 0, 1) == 0 && has_protective_mbr(r.scratch);

    err = read_table(&r, 1, out);
    if (err == 0) {
        out->protective_mbr = pmbr;
        return 0;
    }
    reset(out, sector_size, disk_sectors);
    err2 = read_table(&r, disk_sectors - 1, out);
    if (err2 == 0) {
        out->used_backup = true;
        out->protective_mbr = pmbr;
        return 0;
    }
    reset(out, sector_size, disk_sectors);
    return worse(err, err2);
}

/* --------------------------------------------------------- boot sectors */

/* The BitLocker identifier {4967d63b-2e29-4ad8-8399-f6a339e3d001}, on-disk
 * byte order.  libyal libbde "BitLocker Drive Encryption (BDE) format",
 * volume header: at 0xa0 in the Windows 7 header, at 0x1a8 (424) in the
 * BitLocker To Go header, whose OEM name is "MSWIN4.1" so that a FAT
 * driver mounts the discovery volume. */
static const uint8_t bitlocker_guid[16] = {
    0x3b, 0xd6, 0x67, 0x49, 0x29, 0x2e, 0xd8, 0x4a,
    0x83, 0x99, 0xf6, 0xa3, 0x39, 0xe3, 0xd0, 0x01,
};
#define TOGO_GUID_OFFSET 0x1a8

/* A FAT BIOS parameter block as Microsoft's "FAT: General Overview of
 * On-Disk Format" (fatgen103) defines it: a jump, a power-of-two sector
 * and cluster size, at least one reserved sector and one FAT, a valid
 * media byte and the 0x55AA signature. */
static bool is_fat(const uint8_t *s)
{
    uint16_t bps = get_le16(s + 11);
    uint8_t spc = s[13], media = s[21];

    if (!(s[0] == 0xEB && s[2] == 0x90) && s[0] != 0xE9)
        return false;
    if (bps < 512 || bps > 4096 || (bps & (bps - 1)))
        return false;
    if (spc == 0 || (spc & (spc - 1)))
        return false;
    if (get_le16(s + 14) == 0 || s[16] == 0)
        return false;
    if (media != 0xF0 && media < 0xF8)
        return false;
    return s[510] == 0x55 && s[511] == 0xAA;
}

enum ul_fs_kind ul_probe_boot_sector(const uint8_t *sector, size_t len)
{
    if (!sector || len < 512)
        return UL_FS_UNKNOWN;
    if (ul_memcmp(sector + 3, "NTFS    ", 8) == 0)
        return UL_FS_NTFS;
    if (ul_memcmp(sector + 3, "-FVE-FS-", 8) == 0)
        return UL_FS_BITLOCKER;
    if (ul_memcmp(sector + 3, "MSWIN4.1", 8) == 0 &&
        ul_memcmp(sector + TOGO_GUID_OFFSET, bitlocker_guid, 16) == 0)
        return UL_FS_BITLOCKER_TOGO;
    if (is_fat(sector))
        return UL_FS_FAT;
    return UL_FS_UNKNOWN;
}
