/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * gpt: tables written by sfdisk (util-linux, an independent implementation)
 * checked field by field against `sfdisk --json`; hand-built tables for
 * 4096-byte sectors and for every malformation the parser must refuse;
 * the boot sector probe on real NTFS and BitLocker volumes made by Windows
 * (../shared/testdata/) and on FAT made by mkfs.fat.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "crc32.h"
#include "gpt.h"
#include "ul-errno.h"

/* ------------------------------------------------------------ a memory disk */

struct disk {
    uint8_t *d;
    uint32_t ss;
    uint64_t sectors;
    uint64_t fail_lba;  /* reads touching this LBA fail with -UL_EIO ... */
    bool fail;          /* ... when set */
    bool fail_all;      /* every read fails */
    bool out_of_range;  /* the parser asked for a sector past the end */
    unsigned reads;
};

static int disk_read(void *ctx, uint64_t lba, uint32_t count, void *buf)
{
    struct disk *k = ctx;

    k->reads++;
    if (count == 0 || lba >= k->sectors || count > k->sectors - lba) {
        k->out_of_range = true;
        return -UL_EIO;
    }
    if (k->fail_all)
        return -UL_EIO;
    if (k->fail && k->fail_lba >= lba && k->fail_lba < lba + count)
        return -UL_EIO;
    memcpy(buf, k->d + lba * k->ss, (size_t)count * k->ss);
    return 0;
}

static struct disk *disk_new(uint32_t ss, uint64_t sectors)
{
    struct disk *k = calloc(1, sizeof(*k));
    assert_non_null(k);
    k->ss = ss;
    k->sectors = sectors;
    k->d = calloc(sectors, ss);
    assert_non_null(k->d);
    return k;
}

static void disk_free(struct disk *k)
{
    if (k) {
        free(k->d);
        free(k);
    }
}

static uint8_t scratch[1 << 20];
static struct ul_gpt gpt;

static int read_gpt(struct disk *k)
{
    int r = ul_gpt_read(disk_read, k, k->ss, k->sectors, scratch, sizeof(scratch), &gpt);
    assert_false(k->out_of_range);
    if (r < 0)
        assert_int_equal(gpt.n, 0);
    return r;
}

/* --------------------------------------------------------- hand-built GPTs */

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> 8 * i);
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> 8 * i);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return le32(p) | (uint64_t)le32(p + 4) << 32;
}

struct part_spec {
    const char *type, *guid;
    uint64_t first, last, attrs;
    const char *name;
    uint32_t slot; /* 0: next free slot */
};

#define ESP   "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
#define MSR   "E3C9E316-0B5C-4DB8-817D-F92DF00215AE"
#define BASIC "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
#define WINRE "DE94BBA4-06D1-4D40-A16A-BFD50179D6AC"
#define LINUX "0FC63DAF-8483-4772-8E79-3D69D8477DE4"

static uint8_t *hdr(struct disk *k, uint64_t lba)
{
    return k->d + lba * k->ss;
}

/* Recompute the header CRC from the header's own size field (bounded by
 * the sector so tests can store bad sizes). */
static void fix_hdr_crc(struct disk *k, uint64_t lba)
{
    uint8_t *h = hdr(k, lba);
    uint32_t size = le32(h + 12);
    if (size > k->ss)
        size = k->ss;
    put_le32(h + 16, 0);
    put_le32(h + 16, ul_crc32(h, size));
}

/* Recompute the entry array CRC, then the header CRC. */
static void fix_crcs(struct disk *k, uint64_t lba)
{
    uint8_t *h = hdr(k, lba);
    uint64_t elba = le64(h + 72);
    uint64_t bytes = (uint64_t)le32(h + 80) * le32(h + 84);
    if (elba < k->sectors && bytes <= (k->sectors - elba) * k->ss)
        put_le32(h + 88, ul_crc32(k->d + elba * k->ss, bytes));
    fix_hdr_crc(k, lba);
}

static void fix_both(struct disk *k)
{
    fix_crcs(k, 1);
    fix_crcs(k, k->sectors - 1);
}

static void write_entry(uint8_t *e, const struct part_spec *p)
{
    struct ul_guid g;
    assert_int_equal(ul_guid_parse(p->type, &g), 0);
    memcpy(e, g.b, 16);
    assert_int_equal(ul_guid_parse(p->guid ? p->guid : "01234567-89ab-cdef-0123-456789abcdef", &g), 0);
    memcpy(e + 16, g.b, 16);
    put_le64(e + 32, p->first);
    put_le64(e + 40, p->last);
    put_le64(e + 48, p->attrs);
    for (size_t i = 0; p->name && p->name[i] && i < 36; i++)
        put_le16(e + 56 + 2 * i, (uint8_t)p->name[i]);
}

/* A spec-shaped GPT: protective MBR, primary header at 1, entries from 2,
 * the backup entries just before the backup header at the last LBA. */
static struct disk *build(uint32_t ss, uint64_t sectors, uint32_t nent, uint32_t esize,
                          const struct part_spec *p, size_t np)
{
    struct disk *k = disk_new(ss, sectors);
    uint64_t asz = ((uint64_t)nent * esize + ss - 1) / ss;
    uint64_t last = sectors - 1;
    struct ul_guid dg;

    /* Protective MBR (UEFI 5.2.3). */
    k->d[446 + 4] = 0xEE;
    put_le32(k->d + 446 + 8, 1);
    put_le32(k->d + 446 + 12, sectors - 1 > 0xffffffff ? 0xffffffff : (uint32_t)(sectors - 1));
    k->d[510] = 0x55, k->d[511] = 0xAA;

    uint8_t *ent = k->d + 2 * ss;
    for (size_t i = 0, slot = 0; i < np; i++) {
        slot = p[i].slot ? p[i].slot - 1 : slot;
        write_entry(ent + slot * esize, &p[i]);
        slot++;
    }
    memcpy(k->d + (last - asz) * ss, ent, asz * ss);

    assert_int_equal(ul_guid_parse("5b0e6c3a-1f6e-4a7c-9d3b-2a1c0e9f8d7b", &dg), 0);
    for (int b = 0; b < 2; b++) {
        uint64_t my = b ? last : 1, alt = b ? 1 : last;
        uint8_t *h = hdr(k, my);
        memcpy(h, "EFI PART", 8);
        put_le32(h + 8, 0x00010000);
        put_le32(h + 12, 92);
        put_le64(h + 24, my);
        put_le64(h + 32, alt);
        put_le64(h + 40, 2 + asz);
        put_le64(h + 48, last - asz - 1);
        memcpy(h + 56, dg.b, 16);
        put_le64(h + 72, b ? last - asz : 2);
        put_le32(h + 80, nent);
        put_le32(h + 84, esize);
        fix_crcs(k, my);
    }
    return k;
}

static const struct part_spec windows[] = {
    { ESP, "11111111-2222-3333-4444-555555555555", 2048, 4095, 0, "EFI system partition", 0 },
    { MSR, NULL, 4096, 6143, 0, "Microsoft reserved partition", 0 },
    { BASIC, NULL, 6144, 18000, 0, "Basic data partition", 0 },
    { WINRE, NULL, 18001, 19900, 0x8000000000000001ull, "", 0 },
};

static struct disk *windows_disk(void)
{
    return build(512, 20000, 128, 128, windows, 4);
}

static void check_windows(void)
{
    assert_int_equal(gpt.n, 4);
    assert_int_equal(gpt.parts[0].kind, UL_PART_ESP);
    assert_int_equal(gpt.parts[1].kind, UL_PART_MSR);
    assert_int_equal(gpt.parts[2].kind, UL_PART_BASIC_DATA);
    assert_int_equal(gpt.parts[3].kind, UL_PART_WINRE);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(gpt.parts[i].index, i + 1);
        assert_int_equal(gpt.parts[i].first_lba, windows[i].first);
        assert_int_equal(gpt.parts[i].last_lba, windows[i].last);
        assert_string_equal(gpt.parts[i].name, windows[i].name);
    }
    assert_int_equal(gpt.parts[3].attrs, 0x8000000000000001ull);
    char s[37];
    ul_guid_format(&gpt.parts[0].guid, s);
    assert_string_equal(s, "11111111-2222-3333-4444-555555555555");
    ul_guid_format(&gpt.disk_guid, s);
    assert_string_equal(s, "5b0e6c3a-1f6e-4a7c-9d3b-2a1c0e9f8d7b");
}

static void test_built_512(void **state)
{
    (void)state;
    struct disk *k = windows_disk();
    assert_int_equal(read_gpt(k), 0);
    assert_false(gpt.used_backup);
    assert_true(gpt.protective_mbr);
    assert_int_equal(gpt.sector_size, 512);
    assert_int_equal(gpt.disk_sectors, 20000);
    assert_int_equal(gpt.first_usable_lba, 34);
    assert_int_equal(gpt.last_usable_lba, 20000 - 34);
    check_windows();
    disk_free(k);
}

static void test_built_4096(void **state)
{
    (void)state;
    /* 4Kn: 128 entries fill 4 sectors, so the first usable LBA is 6. */
    static const struct part_spec p[] = {
        { ESP, NULL, 256, 2815, 0, "EFI system partition", 0 },
        { MSR, NULL, 2816, 3839, 0, "Microsoft reserved partition", 0 },
        { BASIC, NULL, 3840, 8000, 0, "Basic data partition", 0 },
    };
    struct disk *k = build(4096, 8192, 128, 128, p, 3);
    assert_int_equal(read_gpt(k), 0);
    assert_int_equal(gpt.first_usable_lba, 6);
    assert_int_equal(gpt.last_usable_lba, 8192 - 6);
    assert_int_equal(gpt.n, 3);
    assert_int_equal(gpt.parts[2].kind, UL_PART_BASIC_DATA);
    assert_int_equal(gpt.parts[2].first_lba, 3840);
    assert_int_equal(gpt.parts[2].last_lba, 8000);

    /* Read as a 512-byte disk, the headers are not where they should be. */
    struct disk as512 = { .d = k->d, .ss = 512, .sectors = k->sectors * 8 };
    assert_int_equal(ul_gpt_read(disk_read, &as512, 512, as512.sectors, scratch,
                                 sizeof(scratch), &gpt), -UL_ENOENT);
    assert_false(as512.out_of_range);

    /* Corrupt the primary: the backup at the last 4 KiB sector is used. */
    hdr(k, 1)[0] ^= 1;
    assert_int_equal(read_gpt(k), 0);
    assert_true(gpt.used_backup);
    assert_int_equal(gpt.n, 3);
    disk_free(k);
}

static void test_unused_slots_and_index(void **state)
{
    (void)state;
    static const struct part_spec p[] = {
        { LINUX, NULL, 100, 199, 0, "a", 5 },
        { BASIC, NULL, 40, 99, 0, "b", 2 },
        { LINUX, NULL, 300, 300, 0, "c", 128 },
    };
    struct disk *k = build(512, 1000, 128, 128, p, 3);
    assert_int_equal(read_gpt(k), 0);
    assert_int_equal(gpt.n, 3);
    /* Array order, not disk order; index is the 1-based slot. */
    assert_int_equal(gpt.parts[0].index, 2);
    assert_int_equal(gpt.parts[1].index, 5);
    assert_int_equal(gpt.parts[2].index, 128);
    assert_int_equal(gpt.parts[0].kind, UL_PART_BASIC_DATA);
    assert_int_equal(gpt.parts[1].kind, UL_PART_OTHER);
    disk_free(k);
}

static void test_empty_table(void **state)
{
    (void)state;
    struct disk *k = build(512, 100, 128, 128, NULL, 0);
    assert_int_equal(read_gpt(k), 0);
    assert_int_equal(gpt.n, 0);
    disk_free(k);
}

static void test_names(void **state)
{
    (void)state;
    static const struct part_spec p[] = { { BASIC, NULL, 40, 99, 0, "", 0 } };
    struct disk *k = build(512, 200, 128, 128, p, 1);
    uint8_t *e = k->d + 2 * 512 + 56;
    /* "Ab", U+00E9, U+1F600 as a surrogate pair, TAB, a lone low
     * surrogate, "z". */
    static const uint16_t name[] = { 'A', 'b', 0xE9, 0xD83D, 0xDE00, 9, 0xDC00, 'z', 0 };
    for (size_t i = 0; i < sizeof(name) / 2; i++)
        put_le16(e + 2 * i, name[i]);
    fix_crcs(k, 1);
    assert_int_equal(read_gpt(k), 0);
    assert_false(gpt.used_backup);
    assert_string_equal(gpt.parts[0].name, "Ab????z");

    /* 36 units with no NUL: all of them, terminated. */
    for (size_t i = 0; i < 36; i++)
        put_le16(e + 2 * i, 'a' + i % 26);
    fix_crcs(k, 1);
    assert_int_equal(read_gpt(k), 0);
    assert_int_equal(strlen(gpt.parts[0].name), 36);
    /* A high surrogate in the last unit has no partner to read. */
    put_le16(e + 70, 0xD800);
    fix_crcs(k, 1);
    assert_int_equal(read_gpt(k), 0);
    assert_int_equal(gpt.parts[0].name[35], '?');
    disk_free(k);
}

/* --------------------------------------------------------- malformations */

/* Apply edit to the primary only (the backup must then be used), and to
 * both (the read must fail with want). */
typedef void (*edit_fn)(struct disk *k, uint64_t lba);

static void check_edit(edit_fn edit, int want)
{
    struct disk *k = windows_disk();
    edit(k, 1);
    assert_int_equal(read_gpt(k), 0);
    assert_true(gpt.used_backup);
    check_windows();
    edit(k, k->sectors - 1);
    assert_int_equal(read_gpt(k), want);
    disk_free(k);
}

static void edit_signature(struct disk *k, uint64_t lba) { hdr(k, lba)[3] = 'X'; }
static void edit_hdr_byte(struct disk *k, uint64_t lba) { hdr(k, lba)[60] ^= 0x40; }
static void edit_hdr_crc(struct disk *k, uint64_t lba) { hdr(k, lba)[16] ^= 1; }
static void edit_entry_byte(struct disk *k, uint64_t lba)
{
    uint64_t elba = le64(hdr(k, lba) + 72);
    k->d[elba * k->ss + 128 + 40] ^= 1; /* second entry's last LBA */
}
static void edit_revision(struct disk *k, uint64_t lba)
{
    put_le32(hdr(k, lba) + 8, 0x00020000);
    fix_hdr_crc(k, lba);
}
static void edit_my_lba(struct disk *k, uint64_t lba)
{
    put_le64(hdr(k, lba) + 24, lba == 1 ? 2 : 1);
    fix_hdr_crc(k, lba);
}
#define EDIT_U32(name, off, val)                                                   \
    static void name(struct disk *k, uint64_t lba)                                 \
    {                                                                              \
        put_le32(hdr(k, lba) + (off), (val));                                      \
        fix_crcs(k, lba);                                                          \
    }
#define EDIT_U64(name, off, val)                                                   \
    static void name(struct disk *k, uint64_t lba)                                 \
    {                                                                              \
        put_le64(hdr(k, lba) + (off), (val));                                      \
        fix_crcs(k, lba);                                                          \
    }
EDIT_U32(edit_hdr_size_small, 12, 91)
EDIT_U32(edit_hdr_size_big, 12, 513)
EDIT_U32(edit_hdr_size_huge, 12, 0xffffffff)
EDIT_U32(edit_count_513, 80, 513)
EDIT_U32(edit_count_huge, 80, 0xffffffff)
EDIT_U32(edit_esize_0, 84, 0)
EDIT_U32(edit_esize_odd, 84, 129)
EDIT_U32(edit_esize_100, 84, 100)
EDIT_U32(edit_esize_384, 84, 384)
EDIT_U32(edit_esize_huge, 84, 0x80000000)
EDIT_U64(edit_first_usable_0, 40, 0)
EDIT_U64(edit_first_usable_1, 40, 1)
EDIT_U64(edit_last_usable_beyond, 48, 20000)
EDIT_U64(edit_last_usable_at_hdr, 48, 19999)
EDIT_U64(edit_last_usable_huge, 48, UINT64_MAX)
EDIT_U64(edit_first_after_last, 40, 19902) /* after the last partition too */
EDIT_U64(edit_entries_lba_0, 72, 0)
EDIT_U64(edit_entries_lba_hdr, 72, 1)
EDIT_U64(edit_entries_lba_usable, 72, 100)
EDIT_U64(edit_entries_lba_end, 72, 19990)
EDIT_U64(edit_entries_lba_huge, 72, UINT64_MAX - 3)

static void edit_entry(struct disk *k, uint64_t lba, unsigned slot, int field, uint64_t v)
{
    uint64_t elba = le64(hdr(k, lba) + 72);
    put_le64(k->d + elba * k->ss + slot * 128 + field, v);
    fix_crcs(k, lba);
}
static void edit_overlap(struct disk *k, uint64_t lba) { edit_entry(k, lba, 1, 32, 4095); }
static void edit_overlap_inside(struct disk *k, uint64_t lba)
{
    /* slot 5 inside the basic data partition */
    struct part_spec p = { LINUX, NULL, 10000, 10001, 0, "x", 0 };
    uint64_t elba = le64(hdr(k, lba) + 72);
    write_entry(k->d + elba * k->ss + 4 * 128, &p);
    fix_crcs(k, lba);
}
static void edit_duplicate(struct disk *k, uint64_t lba)
{
    uint64_t elba = le64(hdr(k, lba) + 72);
    memcpy(k->d + elba * k->ss + 127 * 128, k->d + elba * k->ss, 128);
    fix_crcs(k, lba);
}
static void edit_first_gt_last(struct disk *k, uint64_t lba) { edit_entry(k, lba, 3, 40, 18000); }
static void edit_before_usable(struct disk *k, uint64_t lba) { edit_entry(k, lba, 0, 32, 33); }
static void edit_beyond_usable(struct disk *k, uint64_t lba) { edit_entry(k, lba, 3, 40, 19967); }
static void edit_beyond_disk(struct disk *k, uint64_t lba) { edit_entry(k, lba, 3, 40, 50000); }
static void edit_beyond_huge(struct disk *k, uint64_t lba) { edit_entry(k, lba, 3, 40, UINT64_MAX); }

static void test_backup_and_both_bad(void **state)
{
    (void)state;
    static const struct {
        edit_fn fn;
        int want;
    } cases[] = {
        { edit_signature, -UL_ENOENT },
        { edit_hdr_byte, -UL_EBADMSG },
        { edit_hdr_crc, -UL_EBADMSG },
        { edit_entry_byte, -UL_EBADMSG },
        { edit_revision, -UL_EBADMSG },
        { edit_my_lba, -UL_EBADMSG },
        { edit_hdr_size_small, -UL_EBADMSG },
        { edit_hdr_size_big, -UL_EBADMSG },
        { edit_hdr_size_huge, -UL_EBADMSG },
        { edit_count_513, -UL_EBADMSG },
        { edit_count_huge, -UL_EBADMSG },
        { edit_esize_0, -UL_EBADMSG },
        { edit_esize_odd, -UL_EBADMSG },
        { edit_esize_100, -UL_EBADMSG },
        { edit_esize_384, -UL_EBADMSG },
        { edit_esize_huge, -UL_EBADMSG },
        { edit_first_usable_0, -UL_EBADMSG },
        { edit_first_usable_1, -UL_EBADMSG },
        { edit_last_usable_beyond, -UL_EBADMSG },
        { edit_last_usable_at_hdr, -UL_EBADMSG },
        { edit_last_usable_huge, -UL_EBADMSG },
        { edit_first_after_last, -UL_EBADMSG },
        { edit_entries_lba_0, -UL_EBADMSG },
        { edit_entries_lba_hdr, -UL_EBADMSG },
        { edit_entries_lba_usable, -UL_EBADMSG },
        { edit_entries_lba_end, -UL_EBADMSG },
        { edit_entries_lba_huge, -UL_EBADMSG },
        { edit_overlap, -UL_EBADMSG },
        { edit_overlap_inside, -UL_EBADMSG },
        { edit_duplicate, -UL_EBADMSG },
        { edit_first_gt_last, -UL_EBADMSG },
        { edit_before_usable, -UL_EBADMSG },
        { edit_beyond_usable, -UL_EBADMSG },
        { edit_beyond_disk, -UL_EBADMSG },
        { edit_beyond_huge, -UL_EBADMSG },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_edit(cases[i].fn, cases[i].want);
    }
}

static void test_one_copy_bad_other_missing(void **state)
{
    (void)state;
    /* A damaged primary and no backup at all is a damaged GPT, not "no
     * GPT". */
    struct disk *k = windows_disk();
    edit_hdr_crc(k, 1);
    memset(hdr(k, k->sectors - 1), 0, 512);
    assert_int_equal(read_gpt(k), -UL_EBADMSG);
    disk_free(k);
}

static void test_valid_variants(void **state)
{
    (void)state;
    struct disk *k;

    /* A header size up to the sector, the rest zero and covered by CRC. */
    k = windows_disk();
    put_le32(hdr(k, 1) + 12, 512);
    fix_hdr_crc(k, 1);
    assert_int_equal(read_gpt(k), 0);
    assert_false(gpt.used_backup);
    disk_free(k);

    /* Revision 1.x with a later minor number is accepted. */
    k = windows_disk();
    put_le32(hdr(k, 1) + 8, 0x00010001);
    fix_hdr_crc(k, 1);
    assert_int_equal(read_gpt(k), 0);
    assert_false(gpt.used_backup);
    disk_free(k);

    /* 256-byte entries (128 * 2^1), and fewer entries than 128. */
    static const struct part_spec p[] = { { BASIC, NULL, 40, 99, 0, "wide", 0 } };
    k = build(512, 400, 16, 256, p, 1);
    assert_int_equal(read_gpt(k), 0);
    assert_false(gpt.used_backup);
    assert_string_equal(gpt.parts[0].name, "wide");
    disk_free(k);

    /* 512 entries: the bound, inclusive. */
    static const struct part_spec q[] = { { BASIC, NULL, 200, 299, 0, "q", 0 } };
    k = build(512, 1000, 512, 128, q, 1);
    assert_int_equal(read_gpt(k), 0);
    assert_false(gpt.used_backup);
    disk_free(k);

    /* No protective MBR: read anyway, and say so. */
    k = windows_disk();
    memset(k->d, 0, 512);
    assert_int_equal(read_gpt(k), 0);
    assert_false(gpt.protective_mbr);
    disk_free(k);
}

static void test_too_many_used(void **state)
{
    (void)state;
    static struct part_spec p[129];
    for (int i = 0; i < 129; i++)
        p[i] = (struct part_spec){ LINUX, NULL, 200 + 2 * i, 201 + 2 * i, 0, "p", 0 };
    struct disk *k = build(512, 1000, 256, 128, p, 128);
    assert_int_equal(read_gpt(k), 0);
    assert_int_equal(gpt.n, 128);
    assert_int_equal(gpt.parts[127].last_lba, 201 + 2 * 127);
    disk_free(k);
    k = build(512, 1000, 256, 128, p, 129);
    assert_int_equal(read_gpt(k), -UL_E2BIG);
    disk_free(k);
}

static void test_scratch_bounds(void **state)
{
    (void)state;
    struct disk *k = windows_disk();
    /* 16 KiB of entries need 32 sectors. */
    assert_int_equal(ul_gpt_read(disk_read, k, 512, k->sectors, scratch, 32 * 512, &gpt), 0);
    assert_int_equal(ul_gpt_read(disk_read, k, 512, k->sectors, scratch, 32 * 512 - 1, &gpt),
                     -UL_E2BIG);
    assert_int_equal(gpt.n, 0);
    assert_int_equal(ul_gpt_read(disk_read, k, 512, k->sectors, scratch, 511, &gpt), -UL_E2BIG);
    assert_int_equal(ul_gpt_read(disk_read, k, 512, k->sectors, scratch, 0, &gpt), -UL_E2BIG);
    assert_false(k->out_of_range);
    disk_free(k);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    struct disk *k = windows_disk();
    assert_int_equal(ul_gpt_read(NULL, k, 512, k->sectors, scratch, sizeof(scratch), &gpt), -UL_EINVAL);
    assert_int_equal(ul_gpt_read(disk_read, k, 512, k->sectors, NULL, sizeof(scratch), &gpt), -UL_EINVAL);
    assert_int_equal(ul_gpt_read(disk_read, k, 512, k->sectors, scratch, sizeof(scratch), NULL), -UL_EINVAL);
    static const uint32_t bad[] = { 0, 1, 256, 511, 520, 1000, 131072, 0xffffffff };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ul_gpt_read(disk_read, k, bad[i], k->sectors, scratch, sizeof(scratch), &gpt),
                         -UL_EINVAL);
    disk_free(k);
}

static void test_not_gpt(void **state)
{
    (void)state;
    struct disk *k = disk_new(512, 4096);
    assert_int_equal(read_gpt(k), -UL_ENOENT);
    /* An MBR disk. */
    k->d[446 + 4] = 0x07;
    k->d[510] = 0x55, k->d[511] = 0xAA;
    assert_int_equal(read_gpt(k), -UL_ENOENT);
    disk_free(k);
    for (uint64_t n = 0; n < 5; n++) {
        k = disk_new(512, n ? n : 1);
        k->sectors = n;
        assert_int_equal(read_gpt(k), -UL_ENOENT);
        disk_free(k);
    }
}

static void test_truncated_disk(void **state)
{
    (void)state;
    /* The first 34 sectors of a real table, as a disk: the primary's
     * usable range runs past the end and there is no backup. */
    struct disk *k = windows_disk();
    uint64_t full = k->sectors;
    for (uint64_t n = 34; n < full; n = n * 3 + 1) {
        k->sectors = n;
        assert_int_equal(read_gpt(k), -UL_EBADMSG);
    }
    /* A disk larger than the table says: the backup is not at the end,
     * but the primary is fine (a grown image; firmware reads it). */
    k->sectors = full;
    assert_int_equal(read_gpt(k), 0);
    disk_free(k);
}

static void test_read_errors(void **state)
{
    (void)state;
    struct disk *k = windows_disk();
    k->fail = true;

    k->fail_lba = 1;
    assert_int_equal(read_gpt(k), 0);
    assert_true(gpt.used_backup);
    k->fail_lba = 5; /* in the primary entry array */
    assert_int_equal(read_gpt(k), 0);
    assert_true(gpt.used_backup);
    k->fail_lba = k->sectors - 1;
    assert_int_equal(read_gpt(k), 0);
    assert_false(gpt.used_backup);
    /* The protective MBR is only informational. */
    k->fail_lba = 0;
    assert_int_equal(read_gpt(k), 0);
    assert_false(gpt.protective_mbr);
    k->fail_all = true;
    assert_int_equal(read_gpt(k), -UL_EIO);
    k->fail_all = false;

    /* Primary unreadable, backup damaged: the I/O error is the news. */
    k->fail_lba = 1;
    edit_hdr_crc(k, k->sectors - 1);
    assert_int_equal(read_gpt(k), -UL_EIO);
    disk_free(k);
}

/* Random byte flips of a valid table: never a crash, never a read past the
 * end, and a success always describes a sane table. */
static void test_random_damage(void **state)
{
    (void)state;
    uint32_t x = 12345;
    for (int round = 0; round < 3000; round++) {
        static const struct part_spec p[] = {
            { ESP, NULL, 40, 99, 0, "e", 0 }, { BASIC, NULL, 100, 200, 0, "b", 0 },
        };
        struct disk *k = build(512, 300, round % 2 ? 128 : 8, 128, p, 2);
        int flips = 1 + round % 4;
        for (int f = 0; f < flips; f++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            uint64_t lba = x % 3 == 0 ? 1 : x % 3 == 1 ? 2 : 299;
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            k->d[lba * 512 + x % 512] ^= (uint8_t)(1u << (x >> 9) % 8);
        }
        if (round % 5 == 0)
            fix_both(k);
        int r = read_gpt(k);
        if (r == 0) {
            for (uint32_t i = 0; i < gpt.n; i++) {
                assert_true(gpt.parts[i].first_lba <= gpt.parts[i].last_lba);
                assert_true(gpt.parts[i].last_lba < k->sectors);
            }
        } else {
            assert_true(r == -UL_EBADMSG || r == -UL_ENOENT || r == -UL_E2BIG);
        }
        disk_free(k);
    }
}

/* ------------------------------------------------------------ GUID strings */

static void test_guid(void **state)
{
    (void)state;
    struct ul_guid g, h;
    char s[37];

    assert_int_equal(ul_guid_parse("C12A7328-F81F-11D2-BA4B-00A0C93EC93B", &g), 0);
    /* UEFI appendix A: the first three fields are little-endian. */
    static const uint8_t esp[16] = { 0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11,
                                     0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b };
    assert_memory_equal(g.b, esp, 16);
    ul_guid_format(&g, s);
    assert_string_equal(s, "c12a7328-f81f-11d2-ba4b-00a0c93ec93b");
    assert_int_equal(ul_gpt_type_kind(&g), UL_PART_ESP);

    assert_int_equal(ul_guid_parse("{c12a7328-f81f-11d2-ba4b-00a0c93ec93b}", &h), 0);
    assert_true(ul_guid_equal(&g, &h));
    assert_false(ul_guid_is_null(&g));

    static const char *bad[] = {
        "", "{", "c12a7328-f81f-11d2-ba4b-00a0c93ec93", "c12a7328-f81f-11d2-ba4b-00a0c93ec93bb",
        "c12a7328f81f-11d2-ba4b-00a0c93ec93b0", "c12a7328-f81f-11d2-ba4b-00a0c93ec93g",
        "{c12a7328-f81f-11d2-ba4b-00a0c93ec93b", "c12a7328-f81f-11d2-ba4b-00a0c93ec93b}",
        " c12a7328-f81f-11d2-ba4b-00a0c93ec93b", "c12a7328-f81f-11d2-ba4b_00a0c93ec93b",
        "+12a7328-f81f-11d2-ba4b-00a0c93ec93b", "c12a7328-f81f-11d2-ba4b-00a0c93ec93b\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&h, 0xAA, sizeof(h));
        assert_int_equal(ul_guid_parse(bad[i], &h), -UL_EINVAL);
        assert_int_equal(h.b[0], 0xAA); /* untouched on error */
    }
    assert_int_equal(ul_guid_parse(NULL, &h), -UL_EINVAL);

    /* Round trip through random bytes. */
    uint32_t x = 99;
    for (int i = 0; i < 1000; i++) {
        for (int j = 0; j < 16; j++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            g.b[j] = (uint8_t)x;
        }
        ul_guid_format(&g, s);
        assert_int_equal(strlen(s), 36);
        assert_int_equal(ul_guid_parse(s, &h), 0);
        assert_true(ul_guid_equal(&g, &h));
    }
    memset(&g, 0, sizeof(g));
    assert_true(ul_guid_is_null(&g));
    assert_int_equal(ul_gpt_type_kind(&g), UL_PART_OTHER);

    static const struct {
        const char *s;
        enum ul_part_kind k;
    } kinds[] = { { ESP, UL_PART_ESP }, { MSR, UL_PART_MSR }, { BASIC, UL_PART_BASIC_DATA },
                  { WINRE, UL_PART_WINRE }, { LINUX, UL_PART_OTHER } };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        assert_int_equal(ul_guid_parse(kinds[i].s, &g), 0);
        assert_int_equal(ul_gpt_type_kind(&g), kinds[i].k);
    }
}

/* ------------------------------------------------------- sfdisk as oracle */

static char tmpdir[64];

static bool have(const char *tool)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
    return system(cmd) == 0;
}

static int make_tmpdir(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/unloop-test-gpt-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return system(cmd);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc(n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* The value of "key" in the JSON text after *pos (a number or a string),
 * and *pos moved past it; NULL if absent. */
static const char *json_get(const char **pos, const char *key, char *val, size_t size)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = strstr(*pos, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    size_t n = 0;
    if (*p == '"') {
        p++;
        while (*p && *p != '"' && n + 1 < size)
            val[n++] = *p++;
    } else {
        while (*p && (*p == '-' || (*p >= '0' && *p <= '9')) && n + 1 < size)
            val[n++] = *p++;
    }
    val[n] = 0;
    *pos = p;
    return val;
}

static struct disk *disk_from_file(const char *path)
{
    size_t len;
    struct disk *k = calloc(1, sizeof(*k));
    assert_non_null(k);
    k->d = slurp(path, &len);
    k->ss = 512;
    k->sectors = len / 512;
    return k;
}

/* Compare gpt with `sfdisk --json image`. */
static void check_against_sfdisk(const char *img)
{
    char jpath[128], v[128], s[37];
    size_t len;

    snprintf(jpath, sizeof(jpath), "%s/out.json", tmpdir);
    assert_int_equal(run("sfdisk --json '%s' > '%s' 2>/dev/null", img, jpath), 0);
    char *json = (char *)slurp(jpath, &len);
    const char *p = json;

    assert_non_null(json_get(&p, "id", v, sizeof(v)));
    ul_guid_format(&gpt.disk_guid, s);
    assert_int_equal(strcasecmp(s, v), 0);
    assert_non_null(json_get(&p, "firstlba", v, sizeof(v)));
    assert_int_equal(strtoull(v, NULL, 10), gpt.first_usable_lba);
    assert_non_null(json_get(&p, "lastlba", v, sizeof(v)));
    assert_int_equal(strtoull(v, NULL, 10), gpt.last_usable_lba);

    uint32_t i = 0;
    for (; json_get(&p, "start", v, sizeof(v)); i++) {
        assert_true(i < gpt.n);
        const struct ul_gpt_part *pt = &gpt.parts[i];
        uint64_t start = strtoull(v, NULL, 10);
        assert_int_equal(pt->first_lba, start);
        assert_non_null(json_get(&p, "size", v, sizeof(v)));
        assert_int_equal(pt->last_lba - pt->first_lba + 1, strtoull(v, NULL, 10));
        assert_non_null(json_get(&p, "type", v, sizeof(v)));
        ul_guid_format(&pt->type, s);
        assert_int_equal(strcasecmp(s, v), 0);
        assert_non_null(json_get(&p, "uuid", v, sizeof(v)));
        ul_guid_format(&pt->guid, s);
        assert_int_equal(strcasecmp(s, v), 0);
        assert_non_null(json_get(&p, "name", v, sizeof(v)));
        assert_string_equal(pt->name, v);
    }
    assert_int_equal(i, gpt.n);
    free(json);
}

static const char windows_script[] =
    "label: gpt\n"
    "size=2MiB, type=" ESP ", name=\"EFI system partition\"\n"
    "size=1MiB, type=" MSR ", name=\"Microsoft reserved partition\"\n"
    "size=4MiB, type=" BASIC ", name=\"Basic data partition\"\n"
    "type=" WINRE ", name=\"Recovery\", attrs=\"RequiredPartition,GUID:63\"\n";

static void make_image(const char *img, const char *size, const char *script)
{
    char spath[128];
    snprintf(spath, sizeof(spath), "%s/script", tmpdir);
    FILE *f = fopen(spath, "w");
    assert_non_null(f);
    fputs(script, f);
    fclose(f);
    assert_int_equal(run("rm -f '%s' && truncate -s %s '%s' && sfdisk -q '%s' < '%s' >/dev/null",
                         img, size, img, img, spath), 0);
}

static void test_sfdisk_windows(void **state)
{
    (void)state;
    char img[128];
    if (!have("sfdisk"))
        skip();
    snprintf(img, sizeof(img), "%s/win.img", tmpdir);
    make_image(img, "10M", windows_script);

    struct disk *k = disk_from_file(img);
    assert_int_equal(read_gpt(k), 0);
    assert_false(gpt.used_backup);
    assert_true(gpt.protective_mbr);
    assert_int_equal(gpt.n, 4);
    assert_int_equal(gpt.parts[0].kind, UL_PART_ESP);
    assert_int_equal(gpt.parts[1].kind, UL_PART_MSR);
    assert_int_equal(gpt.parts[2].kind, UL_PART_BASIC_DATA);
    assert_int_equal(gpt.parts[3].kind, UL_PART_WINRE);
    assert_int_equal(gpt.parts[3].attrs, 1ull | 1ull << 63);
    assert_int_equal(gpt.parts[0].first_lba, 2048);
    check_against_sfdisk(img);

    /* Primary header damaged: the same table from the backup. */
    struct ul_gpt primary = gpt;
    k->d[512 + 60] ^= 1;
    assert_int_equal(read_gpt(k), 0);
    assert_true(gpt.used_backup);
    assert_int_equal(gpt.n, 4);
    assert_memory_equal(gpt.parts, primary.parts, sizeof(gpt.parts));
    k->d[512 + 60] ^= 1;

    /* Primary entries damaged (CRC mismatch): the backup again. */
    k->d[2 * 512 + 40] ^= 1;
    assert_int_equal(read_gpt(k), 0);
    assert_true(gpt.used_backup);
    assert_memory_equal(gpt.parts, primary.parts, sizeof(gpt.parts));

    /* Both copies damaged. */
    k->d[(k->sectors - 1) * 512 + 60] ^= 1;
    assert_int_equal(read_gpt(k), -UL_EBADMSG);
    disk_free(k);

    /* sfdisk's own view of a damaged primary agrees: it reads the backup
     * (and says so on stderr). */
    FILE *f = fopen(img, "r+b");
    assert_non_null(f);
    fseek(f, 512 + 60, SEEK_SET);
    fputc(0x5a, f);
    fclose(f);
    k = disk_from_file(img);
    assert_int_equal(read_gpt(k), 0);
    assert_true(gpt.used_backup);
    check_against_sfdisk(img);
    disk_free(k);
}

static void test_sfdisk_truncated(void **state)
{
    (void)state;
    char img[128];
    if (!have("sfdisk"))
        skip();
    snprintf(img, sizeof(img), "%s/trunc.img", tmpdir);
    make_image(img, "10M", windows_script);
    assert_int_equal(run("truncate -s 5M '%s'", img), 0);
    struct disk *k = disk_from_file(img);
    assert_int_equal(read_gpt(k), -UL_EBADMSG);
    disk_free(k);
    /* Only the first 34 sectors (the seed corpus shape). */
    assert_int_equal(run("truncate -s %d '%s'", 34 * 512, img), 0);
    k = disk_from_file(img);
    assert_int_equal(read_gpt(k), -UL_EBADMSG);
    disk_free(k);
}

static void test_sfdisk_many(void **state)
{
    (void)state;
    char img[128];
    if (!have("sfdisk"))
        skip();
    /* 128 partitions: the whole default array in use. */
    snprintf(img, sizeof(img), "%s/many.img", tmpdir);
    char *script = malloc(128 * 128);
    assert_non_null(script);
    size_t n = (size_t)sprintf(script, "label: gpt\nfirst-lba: 34\n");
    for (int i = 0; i < 128; i++)
        n += (size_t)sprintf(script + n, "start=%d, size=8, type=%s, name=\"p%d\"\n", 34 + 8 * i,
                             i % 2 ? BASIC : LINUX, i + 1);
    make_image(img, "2M", script);
    free(script);
    struct disk *k = disk_from_file(img);
    assert_int_equal(read_gpt(k), 0);
    assert_int_equal(gpt.n, 128);
    assert_string_equal(gpt.parts[127].name, "p128");
    check_against_sfdisk(img);
    disk_free(k);

    /* A custom table-length (sfdisk header "table-length"). */
    snprintf(img, sizeof(img), "%s/short.img", tmpdir);
    make_image(img, "1M", "label: gpt\ntable-length: 4\nsize=100, type=" ESP ", name=\"esp\"\n");
    k = disk_from_file(img);
    assert_int_equal(read_gpt(k), 0);
    assert_int_equal(gpt.n, 1);
    check_against_sfdisk(img);
    disk_free(k);
}

/* ------------------------------------------------------- boot sector probe */

/* The first 4 KiB of an xz-compressed image; false if it is missing. */
static bool first_sectors(const char *path, uint8_t *buf, size_t len)
{
    char cmd[512];
    if (access(path, R_OK) != 0 || !have("xz"))
        return false;
    snprintf(cmd, sizeof(cmd), "xz -dc '%s' 2>/dev/null | head -c %zu", path, len);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(buf, 1, len, p);
    pclose(p);
    assert_int_equal(n, len);
    return true;
}

static void test_probe_real(void **state)
{
    (void)state;
    static const char *bitlocker[] = {
        "../shared/testdata/bitlocker/bitlk-aes-cbc-128.img.xz",
        "../shared/testdata/bitlocker/bitlk-aes-cbc-elephant-128.img.xz",
        "../shared/testdata/bitlocker/bitlk-aes-xts-128.img.xz",
        "../shared/testdata/bitlocker/bitlk-aes-xts-128-startup-key.img.xz",
    };
    uint8_t buf[4096];
    int seen = 0;

    if (first_sectors("../shared/testdata/ntfs/dfvfs-windows_volume.raw.xz", buf, sizeof(buf))) {
        assert_int_equal(ul_probe_boot_sector(buf, sizeof(buf)), UL_FS_NTFS);
        assert_int_equal(ul_probe_boot_sector(buf, 512), UL_FS_NTFS);
        assert_int_equal(ul_probe_boot_sector(buf, 511), UL_FS_UNKNOWN);
        seen++;
    }
    for (size_t i = 0; i < 4; i++) {
        if (!first_sectors(bitlocker[i], buf, sizeof(buf)))
            continue;
        assert_int_equal(ul_probe_boot_sector(buf, 512), UL_FS_BITLOCKER);
        seen++;
    }
    if (!seen)
        skip();
}

static void test_probe_fat_and_togo(void **state)
{
    (void)state;
    uint8_t buf[512];
    char img[128];

    memset(buf, 0, sizeof(buf));
    assert_int_equal(ul_probe_boot_sector(buf, sizeof(buf)), UL_FS_UNKNOWN);
    assert_int_equal(ul_probe_boot_sector(NULL, 512), UL_FS_UNKNOWN);
    memset(buf, 0xff, sizeof(buf));
    assert_int_equal(ul_probe_boot_sector(buf, sizeof(buf)), UL_FS_UNKNOWN);

    if (!have("mkfs.fat"))
        skip();
    static const char *flavours[] = { "-F 12", "-F 16", "-F 32", "-F 32 -S 4096" };
    for (size_t i = 0; i < 4; i++) {
        snprintf(img, sizeof(img), "%s/fat.img", tmpdir);
        assert_int_equal(run("rm -f '%s' && truncate -s 64M '%s' && mkfs.fat %s '%s' >/dev/null 2>&1",
                             img, img, flavours[i], img), 0);
        FILE *f = fopen(img, "rb");
        assert_non_null(f);
        assert_int_equal(fread(buf, 1, sizeof(buf), f), sizeof(buf));
        fclose(f);
        assert_int_equal(ul_probe_boot_sector(buf, sizeof(buf)), UL_FS_FAT);

        /* A BitLocker To Go discovery volume: OEM name "MSWIN4.1" and the
         * BitLocker GUID at 0x1a8 (libbde BDE format, To Go header). */
        static const uint8_t bde_guid[16] = { 0x3b, 0xd6, 0x67, 0x49, 0x29, 0x2e, 0xd8, 0x4a,
                                              0x83, 0x99, 0xf6, 0xa3, 0x39, 0xe3, 0xd0, 0x01 };
        memcpy(buf + 3, "MSWIN4.1", 8);
        assert_int_equal(ul_probe_boot_sector(buf, sizeof(buf)), UL_FS_FAT);
        memcpy(buf + 0x1a8, bde_guid, 16);
        assert_int_equal(ul_probe_boot_sector(buf, sizeof(buf)), UL_FS_BITLOCKER_TOGO);
        /* The same GUID at the Windows 7 offset is no To Go header. */
        memset(buf + 0x1a8, 0, 16);
        memcpy(buf + 0xa0, bde_guid, 16);
        assert_int_equal(ul_probe_boot_sector(buf, sizeof(buf)), UL_FS_FAT);

        /* Damaged BPBs are not FAT. */
        uint8_t bad[512];
        memcpy(bad, buf, 512);
        bad[510] = 0;
        assert_int_equal(ul_probe_boot_sector(bad, 512), UL_FS_UNKNOWN);
        memcpy(bad, buf, 512);
        bad[13] = 3; /* sectors per cluster */
        assert_int_equal(ul_probe_boot_sector(bad, 512), UL_FS_UNKNOWN);
        memcpy(bad, buf, 512);
        bad[16] = 0; /* no FATs */
        assert_int_equal(ul_probe_boot_sector(bad, 512), UL_FS_UNKNOWN);
        memcpy(bad, buf, 512);
        bad[11] = 0, bad[12] = 3; /* 768-byte sectors */
        assert_int_equal(ul_probe_boot_sector(bad, 512), UL_FS_UNKNOWN);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guid),
        cmocka_unit_test(test_built_512),
        cmocka_unit_test(test_built_4096),
        cmocka_unit_test(test_unused_slots_and_index),
        cmocka_unit_test(test_empty_table),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_backup_and_both_bad),
        cmocka_unit_test(test_one_copy_bad_other_missing),
        cmocka_unit_test(test_valid_variants),
        cmocka_unit_test(test_too_many_used),
        cmocka_unit_test(test_scratch_bounds),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_not_gpt),
        cmocka_unit_test(test_truncated_disk),
        cmocka_unit_test(test_read_errors),
        cmocka_unit_test(test_random_damage),
        cmocka_unit_test(test_sfdisk_windows),
        cmocka_unit_test(test_sfdisk_truncated),
        cmocka_unit_test(test_sfdisk_many),
        cmocka_unit_test(test_probe_real),
        cmocka_unit_test(test_probe_fat_and_togo),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
