/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the GPT reader and the boot sector probe: the
 * partition table of the disk being rescued is untrusted input.  The input
 * is a disk, read with 512-byte sectors and, when it holds at least four,
 * with 4096-byte ones.  Each size is tried twice: as a disk exactly as long
 * as the input, and as a disk as long as the primary header's AlternateLBA
 * says, with the sectors past the input reading as zeros, so that a table
 * cut from a real disk (the corpus holds the first 34 sectors) parses and
 * the fuzzer reaches the entry checks.  Any input must be refused cleanly;
 * a table that is accepted must describe partitions that lie inside the
 * disk's usable range, in order, and apart.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gpt.h"
#include "ul-errno.h"

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond))                                                               \
            __builtin_trap();                                                      \
    } while (0)

struct disk {
    const uint8_t *data;
    size_t size;
    uint32_t ss;
    uint64_t sectors;
};

static int disk_read(void *ctx, uint64_t lba, uint32_t count, void *buf)
{
    const struct disk *k = ctx;

    /* The parser must never ask for a sector outside the disk. */
    CHECK(count > 0 && lba < k->sectors && count <= k->sectors - lba);
    for (uint32_t i = 0; i < count; i++) {
        uint8_t *dst = (uint8_t *)buf + (size_t)i * k->ss;
        uint64_t off = (lba + i) * k->ss;
        size_t have = 0;
        if (lba + i < k->size / k->ss)
            have = k->ss;
        memcpy(dst, k->data + (have ? off : 0), have);
        memset(dst + have, 0, k->ss - have);
    }
    return 0;
}

static uint8_t scratch[256 * 1024];
static struct ul_gpt gpt;

static void check_table(const struct disk *k, size_t scratch_size)
{
    int r = ul_gpt_read(disk_read, (void *)k, k->ss, k->sectors, scratch, scratch_size, &gpt);

    if (r < 0) {
        CHECK(r == -UL_EBADMSG || r == -UL_ENOENT || r == -UL_E2BIG);
        CHECK(gpt.n == 0);
        return;
    }
    CHECK(r == 0);
    CHECK(gpt.sector_size == k->ss && gpt.disk_sectors == k->sectors);
    CHECK(gpt.n <= UL_GPT_MAX_PARTS);
    CHECK(gpt.first_usable_lba >= 2 && gpt.last_usable_lba < k->sectors - 1);
    for (uint32_t i = 0; i < gpt.n; i++) {
        const struct ul_gpt_part *p = &gpt.parts[i];
        CHECK(p->first_lba <= p->last_lba);
        CHECK(p->first_lba >= gpt.first_usable_lba && p->last_lba <= gpt.last_usable_lba);
        CHECK(p->last_lba < k->sectors);
        CHECK(p->index >= 1 && p->index <= UL_GPT_MAX_ENTRIES);
        CHECK(i == 0 || p->index > gpt.parts[i - 1].index);
        CHECK(!ul_guid_is_null(&p->type));
        CHECK(p->kind == ul_gpt_type_kind(&p->type));
        size_t len = strnlen(p->name, sizeof(p->name));
        CHECK(len <= 36);
        for (size_t c = 0; c < len; c++)
            CHECK(p->name[c] >= 0x20 && p->name[c] < 0x7f);
        for (uint32_t j = 0; j < i; j++)
            CHECK(p->last_lba < gpt.parts[j].first_lba || gpt.parts[j].last_lba < p->first_lba);
    }
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void run_disk(const uint8_t *data, size_t size, uint32_t ss)
{
    struct disk k = { .data = data, .size = size, .ss = ss, .sectors = size / ss };

    check_table(&k, sizeof(scratch));
    /* A scratch buffer that holds only the usual 16 KiB array. */
    check_table(&k, 16384 + ss);

    /* The disk the primary header describes, if it is larger. */
    if (k.sectors >= 2) {
        uint64_t alt = le64(data + ss + 32);
        if (alt >= k.sectors && alt < (1ull << 40)) {
            k.sectors = alt + 1;
            check_table(&k, sizeof(scratch));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run_disk(data, size, 512);
    if (size >= 4 * 4096)
        run_disk(data, size, 4096);

    /* The probe reads one sector at most. */
    enum ul_fs_kind fs = ul_probe_boot_sector(data, size);
    CHECK(fs <= UL_FS_FAT);
    CHECK(size >= 512 || fs == UL_FS_UNKNOWN);

    /* GUID text: whatever parses formats back to the same GUID. */
    char s[40];
    struct ul_guid g, h;
    size_t n = size < sizeof(s) - 1 ? size : sizeof(s) - 1;
    memcpy(s, data, n);
    s[n] = '\0';
    if (ul_guid_parse(s, &g) == 0) {
        char t[UL_GUID_STR_LEN + 1];
        ul_guid_format(&g, t);
        CHECK(ul_guid_parse(t, &h) == 0 && ul_guid_equal(&g, &h));
    }
    return 0;
}
