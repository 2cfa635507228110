/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the BitLocker metadata parser: the volume being
 * rescued is untrusted input.  The input is
 *   [0, 512)   the volume header;
 *   [512]      flags: bit i (0..2) damages metadata copy i's signature;
 *   [513, ...) a metadata area, served at each of the three offsets the
 *              header names (so a block cut from a real volume parses
 *              wherever its header puts it), zeros past the input;
 * on a 256 MiB volume whose other sectors hold a fixed pattern.  Any input
 * must be refused cleanly; an accepted one must describe a layout inside
 * the volume.  Then the cheap key paths run on it: the clear key, and the
 * metadata bytes read as a .BEK file (the password paths are a 2^20-round
 * stretch each, too slow to fuzz; their parsers are fuzzed here without it).
 * After an unlock, a few sectors are read and the metadata areas must read
 * as zeros.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bitlocker.h"
#include "ul-errno.h"

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond))                                                               \
            __builtin_trap();                                                      \
    } while (0)

#define VOL_SIZE (256ull << 20)
#define AREA 0x10000u

struct vol {
    const uint8_t *hdr;         /* 512 bytes */
    const uint8_t *meta;
    size_t meta_len;
    uint64_t moff[3];
    uint8_t flags;
};

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint8_t byte_at(const struct vol *v, uint64_t off)
{
    if (off < 512)
        return v->hdr[off];
    for (int i = 0; i < 3; i++) {
        if (off >= v->moff[i] && off - v->moff[i] < AREA) {
            uint64_t k = off - v->moff[i];
            uint8_t b = k < v->meta_len ? v->meta[k] : 0;
            if (k == 0 && (v->flags >> i & 1))
                b ^= 0xff;
            return b;
        }
    }
    return (uint8_t)((off >> 9) * 131 + (off & 511));
}

static int vol_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    const struct vol *v = ctx;
    uint8_t *p = buf;
    /* The parser must never read outside the volume. */
    CHECK(off <= VOL_SIZE && len <= VOL_SIZE - off);
    while (len) {
        /* Whole runs of a metadata area at a time: the parser reads 3 x 64 KiB. */
        size_t run = 0;
        for (int i = 0; i < 3 && !run; i++) {
            if (off < 512 || off < v->moff[i] || off - v->moff[i] >= AREA)
                continue;
            uint64_t k = off - v->moff[i];
            run = AREA - k < len ? (size_t)(AREA - k) : len;
            size_t have = k < v->meta_len ? v->meta_len - (size_t)k : 0;
            if (have > run)
                have = run;
            memcpy(p, v->meta + k, have);
            memset(p + have, 0, run - have);
            if (k == 0 && (v->flags >> i & 1))
                p[0] ^= 0xff;
        }
        if (!run) {
            *p = byte_at(v, off);
            run = 1;
        }
        p += run;
        off += run;
        len -= run;
    }
    return 0;
}

static void *mem_alloc(void *ctx, size_t size) { (void)ctx; return calloc(1, size); }
static void mem_free(void *ctx, void *p) { (void)ctx; free(p); }
static const struct ul_mem_ops mem_ops = { mem_alloc, mem_free };
static const struct ul_mem mem = { &mem_ops, NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 513)
        return 0;
    struct vol v = { .hdr = data, .meta = data + 513, .meta_len = size - 513, .flags = data[512] };
    size_t mo = memcmp(data + 3, "MSWIN4.1", 8) == 0 ? 0x1b8 : 0xb0;
    for (int i = 0; i < 3; i++)
        v.moff[i] = le64(data + mo + 8 * i);

    /* The .BEK parser and the recovery password parser on the same bytes. */
    struct ul_guid g;
    (void)ul_bitlocker_bek_guid(v.meta, v.meta_len, &g);
    char rp[64];
    size_t n = v.meta_len < sizeof(rp) - 1 ? v.meta_len : sizeof(rp) - 1;
    memcpy(rp, v.meta, n);
    rp[n] = 0;
    uint8_t key[16];
    enum ul_bitlocker_rp_error e;
    int group;
    if (ul_bitlocker_parse_recovery_password(rp, key, &e, &group) < 0)
        CHECK(e != UL_BITLOCKER_RP_OK && group >= 0 && group <= 8);

    struct ul_bitlocker_dev dev = { .read = vol_read, .ctx = &v, .size = VOL_SIZE };
    struct ul_bitlocker *bl = NULL;
    const char *why = NULL;
    int r = ul_bitlocker_open(&dev, &mem, &bl, &why);
    if (r < 0) {
        CHECK(bl == NULL && why != NULL);
        return 0;
    }
    const struct ul_bitlocker_info *in = ul_bitlocker_get_info(bl);
    CHECK(in->copy_used >= 0 && in->copy_used < 3 && !in->copy_error[in->copy_used]);
    CHECK(in->n_protectors <= UL_BITLOCKER_MAX_PROTECTORS);
    CHECK(in->encrypted_size <= VOL_SIZE);
    CHECK(in->sector_size >= 512 && in->sector_size <= 4096);
    CHECK((uint64_t)in->header_sectors * in->sector_size <= VOL_SIZE);
    CHECK(in->description[sizeof(in->description) - 1] == 0);
    for (uint32_t i = 0; i < in->n_protectors; i++)
        (void)ul_bitlocker_protector_name(in->protectors[i].type);

    int prot = -1;
    if (ul_bitlocker_unlock_clear_key(bl, &prot, NULL) < 0)
        (void)ul_bitlocker_unlock_bek(bl, v.meta, v.meta_len, &prot, NULL);
    if (ul_bitlocker_is_unlocked(bl)) {
        CHECK(prot >= 0 && (uint32_t)prot < in->n_protectors);
        static uint8_t buf[3 * 4096];
        CHECK(ul_bitlocker_read(bl, 0, buf, 3 * in->sector_size) == 0);
        CHECK(ul_bitlocker_read(bl, VOL_SIZE - 4097, buf, 4097) == 0);
        CHECK(ul_bitlocker_read(bl, VOL_SIZE - 1, buf, 2) == -UL_ERANGE);
        for (int i = 0; i < 3; i++) {
            uint64_t m = in->metadata_offset[i];
            if (m % in->sector_size || m > VOL_SIZE - sizeof(buf))
                continue;
            CHECK(ul_bitlocker_read(bl, m, buf, sizeof(buf)) == 0);
            for (size_t k = 0; k < sizeof(buf); k++)
                CHECK(buf[k] == 0);
        }
    }
    ul_bitlocker_close(bl);
    return 0;
}
