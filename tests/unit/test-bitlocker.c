/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bitlocker: volumes built here byte by byte (metadata entries, AES-CCM
 * wrapped keys from mbedTLS, sectors encrypted by the module's own
 * encrypt path) for every sector cipher, 512- and 4096-byte sectors, To Go,
 * partially encrypted and converting volumes, and every malformation the
 * parser must refuse; stretched keys checked against Python's hashlib (an
 * independent SHA-256); and a real volume made by Windows
 * (../shared/testdata/bitlocker/) unlocked with its .BEK file, its
 * decrypted SHA-256 compared with the one images.conf lists.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ccm.h>
#include <mbedtls/sha256.h>

#include "bitlocker-unlock.h"
#include "bitlocker.h"
#include "crc32.h"
#include "fake-volume.h"
#include "ul-errno.h"

/* ------------------------------------------------------------ helpers */

static void *mem_alloc(void *ctx, size_t size) { (void)ctx; return calloc(1, size); }
static void mem_free(void *ctx, void *p) { (void)ctx; free(p); }
static const struct ul_mem_ops mem_ops = { mem_alloc, mem_free };
static const struct ul_mem mem = { &mem_ops, NULL };

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> 8 * i);
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> 8 * i);
}

/* A memory volume with fault injection. */
struct disk {
    uint8_t *d;
    uint64_t size;          /* what the reader reports (may be < alloc) */
    uint64_t alloc;
    uint64_t fail_off;      /* reads touching this byte fail ... */
    bool fail;              /* ... when set */
    bool out_of_range;
};

static int disk_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    struct disk *k = ctx;
    if (off > k->size || len > k->size - off) {
        k->out_of_range = true;
        return -UL_EIO;
    }
    if (k->fail && k->fail_off >= off && k->fail_off < off + len)
        return -UL_EIO;
    memcpy(buf, k->d + off, len);
    return 0;
}

static int disk_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
    struct disk *k = ctx;
    if (off > k->size || len > k->size - off) {
        k->out_of_range = true;
        return -UL_EIO;
    }
    if (k->fail && k->fail_off >= off && k->fail_off < off + len)
        return -UL_EIO;
    memcpy(k->d + off, buf, len);
    return 0;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint8_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint8_t)rng;
}

/* ------------------------------------------------------------ a builder */

#define VOL_SIZE  0x100000u
#define META1     0x20000u
#define META2     0x50000u
#define META3     0x80000u
#define HDR_OFF   0x30000u
#define AREA      0x10000u

static const uint8_t bl_guid[16] = { 0x3b, 0xd6, 0x67, 0x49, 0x29, 0x2e, 0xd8, 0x4a,
                                     0x83, 0x99, 0xf6, 0xa3, 0x39, 0xe3, 0xd0, 0x01 };

/* Keys of the test volume. */
static const uint8_t vmk_key[32] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 9, 10, 11,
                                     12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
                                     27, 28, 29, 30, 31, 32 };
static const uint8_t clear_key[32] = { [0] = 0xc1, [5] = 0xc2, [31] = 0xc3 };
static const uint8_t ext_key[32] = { [0] = 0xe1, [7] = 0xe2, [31] = 0xe3 };
static const uint8_t ext_guid[16] = { 0x59, 0xf7, 0x81, 0x43, 0xf8, 0xc4, 0xe0, 0x4d,
                                      0xbb, 0x61, 0xfc, 0x33, 0xa8, 0x31, 0xbd, 0xa5 };

/* The recovery password and password of the test volume, with their
 * stretched keys as Python's hashlib computes them (the stretch of
 * [bde: Recovery key] / [bde: User key] written out in 8 lines there). */
static const char test_rp[] = "235818-357951-253979-013365-241120-245575-342914-591910";
static const uint8_t rp_raw[16] = { 0xbe, 0x53, 0x1d, 0x7f, 0x31, 0x5a, 0xbf, 0x04,
                                    0xa0, 0x55, 0x35, 0x57, 0xc6, 0x79, 0x32, 0xd2 };
static const uint8_t rp_salt[16] = { 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
                                     0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f };
static const uint8_t rp_key[32] = { 0xe3, 0x11, 0x1e, 0x79, 0x74, 0x8d, 0x99, 0x78,
                                    0x15, 0xb2, 0x23, 0xd7, 0x3b, 0x00, 0x5a, 0x6d,
                                    0x88, 0x76, 0x7b, 0xe9, 0xe6, 0xaf, 0xb1, 0x07,
                                    0x75, 0x0b, 0xd4, 0x66, 0x83, 0x71, 0xbf, 0x68 };
static const char test_pw[] = "p\xc3\xa4ssw\xc3\xb6rd-\xf0\x9d\x84\x9e"; /* "pässwörd-𝄞" */
static const uint8_t pw_salt[16] = { 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
                                     0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f };
static const uint8_t pw_key[32] = { 0x25, 0x12, 0x64, 0x36, 0x2f, 0x4f, 0x89, 0xca,
                                    0x6f, 0xde, 0x9e, 0x46, 0x2d, 0xca, 0xf9, 0xd1,
                                    0x42, 0xf8, 0xa7, 0xc0, 0x88, 0xba, 0x08, 0xd1,
                                    0x9e, 0xdc, 0x19, 0x24, 0xe7, 0x85, 0x90, 0x60 };

struct spec {
    uint16_t method;
    uint32_t ss;
    uint64_t encrypted;     /* 0: all */
    uint16_t state;         /* 0: encrypted (4) */
    uint32_t convert;
    bool to_go;
    bool no_clear, rp, pw, startup;
    bool no_fvek;
    bool bad_entry;         /* an entry whose size runs past the list */
    uint16_t version;       /* 0: 2 */
};

struct built {
    struct disk k;
    uint8_t *plain;         /* what the volume holds, decrypted */
    uint8_t *expect;        /* what ul_bitlocker_read must return */
    struct spec s;
};

/* An entry: header then body; returns its size. */
static size_t entry(uint8_t *p, uint16_t type, uint16_t vt, const void *body, size_t n)
{
    put16(p, (uint16_t)(8 + n));
    put16(p + 2, type);
    put16(p + 4, vt);
    put16(p + 6, 1);
    if (n)
        memcpy(p + 8, body, n);
    return 8 + n;
}

static size_t key_entry(uint8_t *p, uint32_t method, const uint8_t *key, size_t klen)
{
    uint8_t b[4 + 64];
    put32(b, method);
    memcpy(b + 4, key, klen);
    return entry(p, 0, 1, b, 4 + klen);
}

/* An AES-CCM entry wrapping a key entry of payload under wrap_key. */
static size_t ccm_entry(uint8_t *p, uint16_t type, const uint8_t wrap_key[32],
                        const uint8_t *key, size_t klen, uint32_t method)
{
    uint8_t plain[128], body[12 + 16 + 128];
    size_t n = key_entry(plain, method, key, klen);
    mbedtls_ccm_context c;
    for (int i = 0; i < 12; i++)
        body[i] = rnd();
    mbedtls_ccm_init(&c);
    assert_int_equal(mbedtls_ccm_setkey(&c, MBEDTLS_CIPHER_ID_AES, wrap_key, 256), 0);
    assert_int_equal(mbedtls_ccm_encrypt_and_tag(&c, n, body, 12, NULL, 0, plain, body + 28,
                                                 body + 12, 16), 0);
    mbedtls_ccm_free(&c);
    return entry(p, type, 5, body, 28 + n);
}

/* A VMK entry with its nested entries already in nested[0..nlen). */
static size_t vmk_entry(uint8_t *p, const uint8_t guid[16], uint16_t prot, const uint8_t *nested,
                        size_t nlen)
{
    uint8_t body[28 + 512];
    memcpy(body, guid, 16);
    put64(body + 16, 0x01d6318b31bafe02ull);
    put16(body + 24, 0);
    put16(body + 26, prot);
    memcpy(body + 28, nested, nlen);
    return entry(p, 2, 8, body, 28 + nlen);
}

static size_t stretch_entry(uint8_t *p, const uint8_t salt[16], const uint8_t wrap[32])
{
    uint8_t body[20 + 128];
    put32(body, 0x1000);
    memcpy(body + 4, salt, 16);
    /* Windows nests a second wrapped key here; it is not the VMK's. */
    size_t n = ccm_entry(body + 20, 0, wrap, ext_key, 32, 0x2000);
    return entry(p, 0, 3, body, 20 + n);
}

static size_t fvek_len(uint16_t method)
{
    switch (method) {
    case UL_BITLOCKER_AES_128_CBC: return 16;
    case UL_BITLOCKER_AES_256_CBC: return 32;
    case UL_BITLOCKER_AES_128_XTS: return 32;
    case UL_BITLOCKER_AES_256_XTS: return 64;
    default: return 64;
    }
}

static const uint8_t fvek_bytes[64] = { 0xf0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                        16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29,
                                        30, 31, 0x77, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42,
                                        43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56,
                                        57, 58, 59, 60, 61, 62, 0x3f };

/* The metadata block for spec s (with a clear key protector when clear). */
static size_t build_block(uint8_t *b, const struct spec *s, bool clear)
{
    uint32_t ss = s->ss;
    uint64_t enc = s->encrypted ? s->encrypted : VOL_SIZE;
    size_t pos = 64 + 48, n;
    uint8_t nested[512];

    memset(b, 0, AREA);
    /* description */
    {
        const char *d = "TESTPC C: 1/1/2024";
        uint8_t u[64] = { 0 };
        size_t l = strlen(d);
        for (size_t i = 0; i < l; i++)
            u[2 * i] = (uint8_t)d[i];
        pos += entry(b + pos, 7, 2, u, 2 * l + 2);
    }
    if (clear) {
        n = key_entry(nested, 0x2000, clear_key, 32);
        n += ccm_entry(nested + n, 0, clear_key, vmk_key, 32, 0x2000);
        uint8_t g[16] = { 0xcc };
        pos += vmk_entry(b + pos, g, UL_BITLOCKER_PROT_CLEAR_KEY, nested, n);
    }
    if (s->rp) {
        uint8_t g[16] = { 0x0d, 0xea };
        n = entry(nested, 0, 2, "D\0i\0s\0k\0P\0a\0s\0s\0w\0o\0r\0d\0\0", 26);
        n += stretch_entry(nested + n, rp_salt, rp_key);
        n += ccm_entry(nested + n, 0, rp_key, vmk_key, 32, 0x2000);
        pos += vmk_entry(b + pos, g, UL_BITLOCKER_PROT_RECOVERY_PASSWORD, nested, n);
    }
    if (s->pw) {
        uint8_t g[16] = { 0x9a, 0x55 };
        n = stretch_entry(nested, pw_salt, pw_key);
        n += ccm_entry(nested + n, 0, pw_key, vmk_key, 32, 0x2000);
        pos += vmk_entry(b + pos, g, UL_BITLOCKER_PROT_PASSWORD, nested, n);
    }
    if (s->startup) {
        n = ccm_entry(nested, 0, ext_key, vmk_key, 32, 0x2000);
        pos += vmk_entry(b + pos, ext_guid, UL_BITLOCKER_PROT_STARTUP_KEY, nested, n);
    }
    /* a TPM protector nobody here can open */
    {
        uint8_t g[16] = { 0x79 };
        n = entry(nested, 0, 6, "tpm-blob", 8);
        pos += vmk_entry(b + pos, g, UL_BITLOCKER_PROT_TPM, nested, n);
    }
    if (!s->no_fvek)
        pos += ccm_entry(b + pos, 3, vmk_key, fvek_bytes, fvek_len(s->method), s->method);
    {
        uint8_t os[16];
        put64(os, HDR_OFF);
        put64(os + 8, 16 * ss > 0x2000 ? 16 * ss : 0x2000);
        pos += entry(b + pos, 0xf, 0xf, os, 16);
    }
    if (s->bad_entry) {
        put16(b + pos, 200);            /* runs past the dataset */
        put16(b + pos + 4, 2);
        pos += 8;
    }
    size_t ds = pos - 64;
    pos = (pos + 15) & ~(size_t)15;
    /* block header */
    memcpy(b, "-FVE-FS-", 8);
    put16(b + 8, (uint16_t)(pos / 16));
    put16(b + 10, s->version ? s->version : 2);
    put16(b + 12, s->state ? s->state : 4);
    put16(b + 14, 4);
    put64(b + 16, enc);
    put32(b + 24, s->convert);
    put32(b + 28, 16);
    put64(b + 32, META1);
    put64(b + 40, META2);
    put64(b + 48, META3);
    put64(b + 56, HDR_OFF);
    /* dataset header */
    put32(b + 64, (uint32_t)ds);
    put32(b + 68, 1);
    put32(b + 72, 48);
    put32(b + 76, (uint32_t)ds);
    memset(b + 80, 0xd5, 16);
    put32(b + 96, 7);
    put16(b + 100, s->method);
    put64(b + 104, 0x01d5323a9a3fa8e6ull);
    /* validation */
    put16(b + pos, 8);
    put16(b + pos + 2, 1);
    put32(b + pos + 4, ul_crc32(b, pos));
    return pos;
}

static void write_header(uint8_t *v, const struct spec *s)
{
    memset(v, 0, 512);
    v[0] = 0xeb, v[1] = 0x58, v[2] = 0x90;
    put16(v + 11, (uint16_t)s->ss);
    v[13] = 8;
    if (s->to_go) {
        memcpy(v + 3, "MSWIN4.1", 8);
        memcpy(v + 0x1a8, bl_guid, 16);
        put64(v + 0x1b8, META1);
        put64(v + 0x1c0, META2);
        put64(v + 0x1c8, META3);
    } else {
        memcpy(v + 3, "-FVE-FS-", 8);
        memcpy(v + 0xa0, bl_guid, 16);
        put64(v + 0xb0, META1);
        put64(v + 0xb8, META2);
        put64(v + 0xc0, META3);
    }
    v[510] = 0x55, v[511] = 0xaa;
}

static void write_meta(uint8_t *img, const struct spec *s, bool clear)
{
    static uint8_t b[AREA];
    build_block(b, s, clear);
    for (uint64_t off = META1; off <= META3; off += META2 - META1) {
        memcpy(img + off, b, AREA);
        /* past the block: leftovers the presented volume must hide */
        for (size_t i = 0x2000; i < AREA; i++)
            img[off + i] = 0xaa;
    }
}

static bool in_zero(const struct spec *s, uint64_t v)
{
    uint64_t enc = s->encrypted ? s->encrypted : VOL_SIZE;
    uint64_t hdr_area = 16 * s->ss > 0x2000 ? 16 * s->ss : 0x2000;
    if ((v >= META1 && v < META1 + AREA) || (v >= META2 && v < META2 + AREA) ||
        (v >= META3 && v < META3 + AREA) || (v >= HDR_OFF && v < HDR_OFF + hdr_area))
        return true;
    return s->state == UL_BITLOCKER_STATE_CONVERTING && v >= enc && v < enc + s->convert;
}

static struct built *build(const struct spec *sp)
{
    struct built *w = calloc(1, sizeof(*w));
    struct spec s = *sp;
    if (!s.ss)
        s.ss = 512;
    w->s = s;
    uint32_t ss = s.ss;
    uint64_t enc = s.encrypted ? s.encrypted : VOL_SIZE;
    w->plain = malloc(VOL_SIZE);
    w->expect = malloc(VOL_SIZE);
    w->k.d = malloc(VOL_SIZE);
    w->k.size = w->k.alloc = VOL_SIZE;
    for (size_t i = 0; i < VOL_SIZE; i++)
        w->plain[i] = rnd();
    memcpy(w->plain + 3, "NTFS    ", 8);
    for (uint64_t v = 0; v < VOL_SIZE; v++)
        w->expect[v] = in_zero(&s, v) ? 0 : w->plain[v];

    /* First the metadata with a clear key, to get a context that
     * encrypts; then the sectors; then the metadata the spec asks for. */
    uint8_t *img = w->k.d;
    memcpy(img, w->plain, VOL_SIZE);
    memset(img + ss, 0x55, 15 * ss);        /* sectors 1..15: not used in place */
    write_header(img, &s);
    struct spec s2 = s;
    s2.state = UL_BITLOCKER_STATE_ENCRYPTED;
    s2.convert = 0;
    s2.version = 2;
    s2.bad_entry = false;
    s2.no_fvek = false;
    write_meta(img, &s2, true);
    struct ul_bitlocker *bl;
    struct ul_bitlocker_dev dev = { .read = disk_read, .ctx = &w->k, .size = VOL_SIZE };
    assert_int_equal(ul_bitlocker_open(&dev, &mem, &bl, NULL), 0);
    assert_int_equal(ul_bitlocker_unlock_clear_key(bl, NULL, NULL), 0);
    uint8_t *sec = malloc(ss);
    for (uint64_t v = 16 * (uint64_t)ss; v < enc; v += ss) {
        if (in_zero(&s, v))
            continue;
        assert_int_equal(ul_bitlocker_encrypt_sectors(bl, v, img + v, ss), 0);
    }
    for (uint64_t i = 0; i < 16; i++) {
        uint64_t phys = HDR_OFF + i * ss;
        memcpy(sec, w->plain + i * ss, ss);
        if (phys < enc)
            assert_int_equal(ul_bitlocker_encrypt_sectors(bl, phys, sec, ss), 0);
        memcpy(img + phys, sec, ss);
    }
    free(sec);
    ul_bitlocker_close(bl);
    write_meta(img, &s, !s.no_clear);
    return w;
}

static void built_free(struct built *w)
{
    if (!w)
        return;
    free(w->plain);
    free(w->expect);
    free(w->k.d);
    free(w);
}

static int open_built(struct built *w, struct ul_bitlocker **bl, const char **why)
{
    struct ul_bitlocker_dev dev = { .read = disk_read, .ctx = &w->k, .size = w->k.size };
    int r = ul_bitlocker_open(&dev, &mem, bl, why);
    assert_false(w->k.out_of_range);
    return r;
}

static void check_all(struct built *w, struct ul_bitlocker *bl)
{
    uint8_t *got = malloc(VOL_SIZE);
    assert_int_equal(ul_bitlocker_read(bl, 0, got, VOL_SIZE), 0);
    for (size_t i = 0; i < VOL_SIZE; i++)
        if (got[i] != w->expect[i])
            fail_msg("byte 0x%zx: got %02x, want %02x", i, got[i], w->expect[i]);
    free(got);
}

/* Recomputes the validation CRC of the copy at off after an edit. */
static void reseal(uint8_t *img, uint64_t off)
{
    uint32_t size = (uint32_t)(img[off + 8] | img[off + 9] << 8) * 16;
    put32(img + off + size + 4, ul_crc32(img + off, size));
}

/* ------------------------------------------------------------ tests */

static void test_every_method(void **state)
{
    static const uint16_t methods[] = {
        UL_BITLOCKER_AES_128_CBC_ELEPHANT, UL_BITLOCKER_AES_256_CBC_ELEPHANT,
        UL_BITLOCKER_AES_128_CBC, UL_BITLOCKER_AES_256_CBC,
        UL_BITLOCKER_AES_128_XTS, UL_BITLOCKER_AES_256_XTS,
    };
    (void)state;
    for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
        for (uint32_t ss = 512; ss <= 4096; ss *= 8) {
            struct spec s = { .method = methods[m], .ss = ss };
            struct built *w = build(&s);
            struct ul_bitlocker *bl;
            assert_int_equal(open_built(w, &bl, NULL), 0);
            const struct ul_bitlocker_info *in = ul_bitlocker_get_info(bl);
            assert_int_equal(in->method, methods[m]);
            assert_int_equal(in->sector_size, ss);
            assert_false(ul_bitlocker_is_unlocked(bl));
            uint8_t b[512];
            assert_int_equal(ul_bitlocker_read(bl, 0, b, sizeof(b)), -UL_EACCES);
            int prot = -1;
            assert_int_equal(ul_bitlocker_unlock_clear_key(bl, &prot, NULL), 0);
            assert_int_equal(in->protectors[prot].type, UL_BITLOCKER_PROT_CLEAR_KEY);
            check_all(w, bl);
            /* sector 0 is the original boot sector, from its relocated copy */
            assert_int_equal(ul_bitlocker_read(bl, 0, b, sizeof(b)), 0);
            assert_memory_equal(b + 3, "NTFS    ", 8);
            ul_bitlocker_close(bl);
            built_free(w);
        }
    }
}

static void test_info(void **state)
{
    (void)state;
    struct spec s = { .method = UL_BITLOCKER_AES_128_XTS, .rp = true, .pw = true,
                      .startup = true };
    struct built *w = build(&s);
    struct ul_bitlocker *bl;
    assert_int_equal(open_built(w, &bl, NULL), 0);
    const struct ul_bitlocker_info *in = ul_bitlocker_get_info(bl);
    assert_false(in->to_go);
    assert_int_equal(in->volume_size, VOL_SIZE);
    assert_int_equal(in->encrypted_size, VOL_SIZE);
    assert_int_equal(in->state, UL_BITLOCKER_STATE_ENCRYPTED);
    assert_string_equal(in->description, "TESTPC C: 1/1/2024");
    assert_int_equal(in->copy_used, 0);
    assert_int_equal(in->header_offset, HDR_OFF);
    assert_int_equal(in->header_sectors, 16);
    assert_int_equal(in->header_area, 0x2000);
    assert_int_equal(in->metadata_offset[2], META3);
    assert_int_equal(in->n_protectors, 5);
    assert_int_equal(in->protectors[0].type, UL_BITLOCKER_PROT_CLEAR_KEY);
    assert_int_equal(in->protectors[1].type, UL_BITLOCKER_PROT_RECOVERY_PASSWORD);
    assert_int_equal(in->protectors[2].type, UL_BITLOCKER_PROT_PASSWORD);
    assert_int_equal(in->protectors[3].type, UL_BITLOCKER_PROT_STARTUP_KEY);
    assert_int_equal(in->protectors[4].type, UL_BITLOCKER_PROT_TPM);
    char g[UL_GUID_STR_LEN + 1];
    ul_guid_format(&in->protectors[3].guid, g);
    assert_string_equal(g, "4381f759-c4f8-4de0-bb61-fc33a831bda5");
    ul_guid_format(&in->volume_guid, g);
    assert_string_equal(g, "d5d5d5d5-d5d5-d5d5-d5d5-d5d5d5d5d5d5");
    assert_string_equal(ul_bitlocker_protector_name(0x0800), "recovery password");
    assert_string_equal(ul_bitlocker_protector_name(0x1234), "unknown");
    assert_string_equal(ul_bitlocker_method_name(0x8005), "AES-XTS 256-bit");
    assert_null(ul_bitlocker_method_name(0x1234));
    assert_string_equal(ul_bitlocker_state_name(5), "paused");
    ul_bitlocker_close(bl);
    built_free(w);
}

static void test_to_go(void **state)
{
    (void)state;
    struct spec s = { .method = UL_BITLOCKER_AES_256_XTS, .to_go = true };
    struct built *w = build(&s);
    struct ul_bitlocker *bl;
    assert_int_equal(open_built(w, &bl, NULL), 0);
    assert_true(ul_bitlocker_get_info(bl)->to_go);
    assert_int_equal(ul_bitlocker_unlock_clear_key(bl, NULL, NULL), 0);
    check_all(w, bl);
    ul_bitlocker_close(bl);
    built_free(w);
}

static void test_partial_and_converting(void **state)
{
    (void)state;
    /* paused half way: past 0x60000 the sectors are plaintext on disk */
    struct spec s = { .method = UL_BITLOCKER_AES_128_CBC_ELEPHANT, .encrypted = 0x60000,
                      .state = UL_BITLOCKER_STATE_PAUSED };
    struct built *w = build(&s);
    struct ul_bitlocker *bl;
    assert_int_equal(open_built(w, &bl, NULL), 0);
    assert_int_equal(ul_bitlocker_get_info(bl)->encrypted_size, 0x60000);
    assert_int_equal(ul_bitlocker_unlock_clear_key(bl, NULL, NULL), 0);
    check_all(w, bl);
    assert_memory_equal(w->k.d + 0xa0000, w->plain + 0xa0000, 512);
    ul_bitlocker_close(bl);
    built_free(w);

    /* converting: the 0x8000 bytes being converted read as zeros */
    struct spec s2 = { .method = UL_BITLOCKER_AES_128_XTS, .encrypted = 0x60000,
                       .state = UL_BITLOCKER_STATE_CONVERTING, .convert = 0x8000 };
    w = build(&s2);
    assert_int_equal(open_built(w, &bl, NULL), 0);
    assert_int_equal(ul_bitlocker_unlock_clear_key(bl, NULL, NULL), 0);
    check_all(w, bl);
    uint8_t b[1024];
    assert_int_equal(ul_bitlocker_read(bl, 0x60000 + 0x7e00, b, sizeof(b)), 0);
    for (int i = 0; i < 512; i++)
        assert_int_equal(b[i], 0);
    assert_memory_equal(b + 512, w->plain + 0x68000, 512);
    ul_bitlocker_close(bl);
    built_free(w);

    /* a conversion area past the end is refused */
    struct spec s3 = { .method = UL_BITLOCKER_AES_128_XTS, .encrypted = 0xf0000,
                       .state = UL_BITLOCKER_STATE_CONVERTING, .convert = 0x20000 };
    w = build(&s3);
    assert_int_equal(open_built(w, &bl, NULL), -UL_ERANGE);
    built_free(w);
}

static void test_unaligned_reads(void **state)
{
    (void)state;
    struct spec s = { .method = UL_BITLOCKER_AES_256_CBC, .ss = 4096 };
    struct built *w = build(&s);
    struct ul_bitlocker *bl;
    assert_int_equal(open_built(w, &bl, NULL), 0);
    assert_int_equal(ul_bitlocker_unlock_clear_key(bl, NULL, NULL), 0);
    static const struct { uint64_t off; size_t len; } cases[] = {
        { 1, 1 }, { 4095, 2 }, { 100, 9000 }, { 0x1ffff, 0x10002 }, { 0x2fff0, 0x20 },
        { VOL_SIZE - 7, 7 }, { 0, 0 }, { 8191, 4097 },
    };
    uint8_t *b = malloc(0x20000);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(b, 0xee, 0x20000);
        assert_int_equal(ul_bitlocker_read(bl, cases[i].off, b, cases[i].len), 0);
        assert_memory_equal(b, w->expect + cases[i].off, cases[i].len);
    }
    assert_int_equal(ul_bitlocker_read(bl, VOL_SIZE - 1, b, 2), -UL_ERANGE);
    assert_int_equal(ul_bitlocker_read(bl, UINT64_MAX, b, 2), -UL_ERANGE);
    /* the raw cipher wants whole sectors */
    assert_int_equal(ul_bitlocker_decrypt_sectors(bl, 512, b, 4096), -UL_EINVAL);
    assert_int_equal(ul_bitlocker_decrypt_sectors(bl, 4096, b, 100), -UL_EINVAL);
    /* a read error is passed on */
    w->k.fail = true;
    w->k.fail_off = 0x70000;
    assert_int_equal(ul_bitlocker_read(bl, 0x6f000, b, 0x2000), -UL_EIO);
    w->k.fail_off = HDR_OFF + 4096; /* the relocated copy of sector 1 */
    assert_int_equal(ul_bitlocker_read(bl, 4096, b, 4096), -UL_EIO);
    free(b);
    ul_bitlocker_close(bl);
    built_free(w);
}

/* A volume whose size is not a whole number of sectors: the last partial
 * sector reads as it is on disk (it is never encrypted). */
static void test_odd_size(void **state)
{
    (void)state;
    struct spec s = { .method = UL_BITLOCKER_AES_128_XTS, .ss = 4096, .encrypted = 0xf0000,
                      .state = UL_BITLOCKER_STATE_PAUSED };
    struct built *w = build(&s);
    struct ul_bitlocker *bl;
    w->k.size = VOL_SIZE - 100;
    assert_int_equal(open_built(w, &bl, NULL), 0);
    assert_int_equal(ul_bitlocker_unlock_clear_key(bl, NULL, NULL), 0);
    uint8_t *b = malloc(VOL_SIZE);
    assert_int_equal(ul_bitlocker_read(bl, 0, b, VOL_SIZE - 100), 0);
    assert_memory_equal(b, w->expect, VOL_SIZE - 100);
    assert_int_equal(ul_bitlocker_read(bl, VOL_SIZE - 4000, b, 3900), 0);
    assert_memory_equal(b, w->expect + VOL_SIZE - 4000, 3900);
    assert_int_equal(ul_bitlocker_read(bl, VOL_SIZE - 4000, b, 3901), -UL_ERANGE);
    free(b);
    ul_bitlocker_close(bl);
    built_free(w);
}

static void test_recovery_password_parse(void **state)
{
    (void)state;
    uint8_t k[16];
    enum ul_bitlocker_rp_error e;
    int g;

    assert_int_equal(ul_bitlocker_parse_recovery_password(test_rp, k, &e, &g), 0);
    assert_memory_equal(k, rp_raw, 16);
    assert_int_equal(e, UL_BITLOCKER_RP_OK);
    /* other separators, none, surrounding white space */
    assert_int_equal(ul_bitlocker_parse_recovery_password(
        " 235818 357951 253979 013365 241120 245575 342914 591910\n", k, &e, &g), 0);
    assert_memory_equal(k, rp_raw, 16);
    assert_int_equal(ul_bitlocker_parse_recovery_password(
        "235818357951253979013365241120245575342914591910", k, &e, &g), 0);
    assert_memory_equal(k, rp_raw, 16);

    static const struct {
        const char *s;
        enum ul_bitlocker_rp_error e;
        int group;
    } bad[] = {
        /* check digit: the last digit of group 8 off by one */
        { "235818-357951-253979-013365-241120-245575-342914-591911", UL_BITLOCKER_RP_CHECK, 8 },
        /* a group not divisible by 11 (its check digit cannot match) */
        { "235818-357951-253979-013366-241120-245575-342914-591910", UL_BITLOCKER_RP_CHECK, 4 },
        { "100000-357951-253979-013365-241120-245575-342914-591910", UL_BITLOCKER_RP_CHECK, 1 },
        /* divisible by 11 but >= 720896 */
        { "235818-357951-720896-013365-241120-245575-342914-591910", UL_BITLOCKER_RP_RANGE, 3 },
        { "235818-357951-999999-013365-241120-245575-342914-591910", UL_BITLOCKER_RP_RANGE, 3 },
        /* wrong length, wrong characters */
        { "235818-357951-253979-013365-241120-245575-342914", UL_BITLOCKER_RP_FORMAT, 0 },
        { "235818-357951-253979-013365-241120-245575-342914-5919100", UL_BITLOCKER_RP_FORMAT, 0 },
        { "235818-357951-253979-013365-241120-245575-342914-59191", UL_BITLOCKER_RP_FORMAT, 0 },
        { "235818-357951-253979-013365-241120-245575-342914-591910-", UL_BITLOCKER_RP_FORMAT, 0 },
        { "235818--357951-253979-013365-241120-245575-342914-591910", UL_BITLOCKER_RP_FORMAT, 0 },
        { "23581a-357951-253979-013365-241120-245575-342914-591910", UL_BITLOCKER_RP_FORMAT, 0 },
        { "", UL_BITLOCKER_RP_FORMAT, 0 },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(k, 0x5a, sizeof(k));
        assert_int_equal(ul_bitlocker_parse_recovery_password(bad[i].s, k, &e, &g), -UL_EINVAL);
        assert_int_equal(e, bad[i].e);
        assert_int_equal(g, bad[i].group);
        /* nothing of a half-parsed key is left behind */
        for (int j = 0; j < 16; j++)
            assert_int_equal(k[j], 0);
    }
    assert_int_equal(ul_bitlocker_parse_recovery_password(NULL, k, NULL, NULL), -UL_EINVAL);

    /* groups as typed at a prompt */
    assert_int_equal(ul_bitlocker_rp_check_group("591910", 6), UL_BITLOCKER_RP_OK);
    assert_int_equal(ul_bitlocker_rp_check_group("000000", 6), UL_BITLOCKER_RP_OK);
    assert_int_equal(ul_bitlocker_rp_check_group("720885", 6), UL_BITLOCKER_RP_OK);
    assert_int_equal(ul_bitlocker_rp_check_group("720896", 6), UL_BITLOCKER_RP_RANGE);
    assert_int_equal(ul_bitlocker_rp_check_group("591911", 6), UL_BITLOCKER_RP_CHECK);
    assert_int_equal(ul_bitlocker_rp_check_group("59191", 5), UL_BITLOCKER_RP_FORMAT);
    assert_int_equal(ul_bitlocker_rp_check_group("59 910", 6), UL_BITLOCKER_RP_FORMAT);
    /* the check digit rule is divisibility by 11, for every 6-digit group */
    for (uint32_t v = 0; v < 1000000; v += 7) {
        char six[7];
        snprintf(six, sizeof(six), "%06u", v);
        enum ul_bitlocker_rp_error want = v % 11   ? UL_BITLOCKER_RP_CHECK
                                          : v >= 720896 ? UL_BITLOCKER_RP_RANGE
                                                        : UL_BITLOCKER_RP_OK;
        assert_int_equal(ul_bitlocker_rp_check_group(six, 6), want);
    }
    assert_string_equal(ul_bitlocker_rp_error_name(UL_BITLOCKER_RP_RANGE),
                        "group too large (each group must be below 720896)");
}

/* The two slow ones (each a 2^20-round stretch): right recovery password,
 * right and wrong password. */
static void test_recovery_password_unlock(void **state)
{
    (void)state;
    struct spec s = { .method = UL_BITLOCKER_AES_128_XTS, .no_clear = true, .rp = true };
    struct built *w = build(&s);
    struct ul_bitlocker *bl;
    const char *why = NULL;
    int prot = -1;
    assert_int_equal(open_built(w, &bl, NULL), 0);
    /* no clear key, no password protector on this one */
    assert_int_equal(ul_bitlocker_unlock_clear_key(bl, NULL, &why), -UL_ENOENT);
    assert_non_null(why);
    assert_int_equal(ul_bitlocker_unlock_password(bl, "x", 1, NULL, NULL), -UL_ENOENT);
    assert_int_equal(ul_bitlocker_unlock_recovery_password(bl, "1234", NULL, &why), -UL_EINVAL);
    assert_int_equal(ul_bitlocker_unlock_recovery_password(bl, test_rp, &prot, &why), 0);
    assert_int_equal(ul_bitlocker_get_info(bl)->protectors[prot].type,
                     UL_BITLOCKER_PROT_RECOVERY_PASSWORD);
    check_all(w, bl);
    ul_bitlocker_close(bl);
    built_free(w);
}

static void test_password_unlock(void **state)
{
    (void)state;
    struct spec s = { .method = UL_BITLOCKER_AES_256_CBC_ELEPHANT, .no_clear = true, .pw = true };
    struct built *w = build(&s);
    struct ul_bitlocker *bl;
    const char *why = NULL;
    assert_int_equal(open_built(w, &bl, NULL), 0);
    assert_int_equal(ul_bitlocker_unlock_password(bl, "password", 8, NULL, &why), -UL_EACCES);
    assert_non_null(strstr(why, "wrong key"));
    assert_false(ul_bitlocker_is_unlocked(bl));
    /* not UTF-8: refused before any work */
    assert_int_equal(ul_bitlocker_unlock_password(bl, "\xff\xfe", 2, NULL, NULL), -UL_EINVAL);
    assert_int_equal(ul_bitlocker_unlock_password(bl, "a\0b", 3, NULL, NULL), -UL_EINVAL);
    assert_int_equal(ul_bitlocker_unlock_password(bl, "", 0, NULL, NULL), -UL_EINVAL);
    assert_int_equal(ul_bitlocker_unlock_password(bl, test_pw, strlen(test_pw), NULL, &why), 0);
    check_all(w, bl);
    ul_bitlocker_close(bl);
    built_free(w);
}

static void test_stretch_vector(void **state)
{
    (void)state;
    uint8_t initial[32], out[32];
    /* SHA-256 of the 16-byte key, then the stretch: hashlib's answer */
    assert_int_equal(mbedtls_sha256_ret(rp_raw, 16, initial, 0), 0);
    assert_int_equal(ul_bitlocker_stretch(initial, rp_salt, out), 0);
    assert_memory_equal(out, rp_key, 32);
}

/* A .BEK file as Windows writes them (the layout of the one in testdata). */
static size_t make_bek(uint8_t *f, const uint8_t guid[16], const uint8_t key[32])
{
    uint8_t nested[128], body[16 + 8 + 128];
    size_t n = entry(nested, 0, 2, "E\0x\0t\0e\0r\0n\0a\0l\0K\0e\0y\0\0", 24);
    n += key_entry(nested + n, 0x2002, key, 32);
    memcpy(body, guid, 16);
    put64(body + 16, 0x01d6318b305f5220ull);
    memcpy(body + 24, nested, n);
    size_t e = entry(f + 48, 6, 9, body, 24 + n);
    memset(f, 0, 48);
    put32(f, (uint32_t)(48 + e));
    put32(f + 4, 1);
    put32(f + 8, 48);
    put32(f + 12, (uint32_t)(48 + e));
    memcpy(f + 16, guid, 16);
    return 48 + e;
}

static void test_bek(void **state)
{
    (void)state;
    struct spec s = { .method = UL_BITLOCKER_AES_128_CBC, .no_clear = true, .startup = true };
    struct built *w = build(&s);
    struct ul_bitlocker *bl;
    uint8_t f[512];
    const char *why;
    struct ul_guid g;
    assert_int_equal(open_built(w, &bl, NULL), 0);

    size_t n = make_bek(f, ext_guid, ext_key);
    assert_int_equal(n, 156);
    assert_int_equal(ul_bitlocker_bek_guid(f, n, &g), 0);
    assert_memory_equal(g.b, ext_guid, 16);

    /* a key for another volume */
    uint8_t other[16] = { 1, 2, 3 };
    n = make_bek(f, other, ext_key);
    assert_int_equal(ul_bitlocker_unlock_bek(bl, f, n, NULL, &why), -UL_ENOENT);
    /* the right GUID, the wrong key */
    uint8_t wrong[32] = { 9 };
    n = make_bek(f, ext_guid, wrong);
    assert_int_equal(ul_bitlocker_unlock_bek(bl, f, n, NULL, &why), -UL_EACCES);
    /* malformed files: short, bad header, an entry past the end */
    n = make_bek(f, ext_guid, ext_key);
    assert_int_equal(ul_bitlocker_unlock_bek(bl, f, 40, NULL, NULL), -UL_EINVAL);
    assert_int_equal(ul_bitlocker_unlock_bek(bl, f, n - 1, NULL, NULL), -UL_EINVAL);
    f[8] = 47;
    assert_int_equal(ul_bitlocker_unlock_bek(bl, f, n, NULL, NULL), -UL_EINVAL);
    f[8] = 48;
    put16(f + 48, 0x200);
    assert_int_equal(ul_bitlocker_unlock_bek(bl, f, n, NULL, NULL), -UL_EINVAL);
    assert_false(ul_bitlocker_is_unlocked(bl));

    n = make_bek(f, ext_guid, ext_key);
    int prot = -1;
    assert_int_equal(ul_bitlocker_unlock_bek(bl, f, n, &prot, &why), 0);
    assert_int_equal(ul_bitlocker_get_info(bl)->protectors[prot].type,
                     UL_BITLOCKER_PROT_STARTUP_KEY);
    check_all(w, bl);
    /* a failed unlock later leaves it unlocked */
    n = make_bek(f, ext_guid, wrong);
    assert_int_equal(ul_bitlocker_unlock_bek(bl, f, n, NULL, NULL), -UL_EACCES);
    assert_true(ul_bitlocker_is_unlocked(bl));
    ul_bitlocker_close(bl);
    built_free(w);
}

static void test_damaged_copies(void **state)
{
    (void)state;
    struct spec s = { .method = UL_BITLOCKER_AES_128_XTS };
    struct built *w = build(&s);
    struct ul_bitlocker *bl;
    const char *why;
    static const uint64_t offs[3] = { META1, META2, META3 };

    /* each copy alone damaged: the next valid one is used */
    for (int c = 0; c < 3; c++) {
        w->k.d[offs[c] + 200] ^= 0x40;
        assert_int_equal(open_built(w, &bl, NULL), 0);
        const struct ul_bitlocker_info *in = ul_bitlocker_get_info(bl);
        assert_int_equal(in->copy_used, c == 0 ? 1 : 0);
        assert_string_equal(in->copy_error[c], "CRC-32 mismatch");
        assert_int_equal(ul_bitlocker_unlock_clear_key(bl, NULL, NULL), 0);
        check_all(w, bl);
        ul_bitlocker_close(bl);
        w->k.d[offs[c] + 200] ^= 0x40;
    }
    /* two damaged */
    w->k.d[META1 + 9] ^= 1;
    memset(w->k.d + META2, 0, 8);
    assert_int_equal(open_built(w, &bl, NULL), 0);
    assert_int_equal(ul_bitlocker_get_info(bl)->copy_used, 2);
    assert_string_equal(ul_bitlocker_get_info(bl)->copy_error[1], "no -FVE-FS- signature");
    ul_bitlocker_close(bl);
    /* all three */
    w->k.d[META3 + 300] ^= 1;
    bl = (struct ul_bitlocker *)1;
    assert_int_equal(open_built(w, &bl, &why), -UL_EBADMSG);
    assert_null(bl);
    assert_non_null(strstr(why, "all three"));
    built_free(w);

    /* an entry that runs past its list, under a valid CRC */
    struct spec s2 = { .method = UL_BITLOCKER_AES_128_XTS, .bad_entry = true };
    w = build(&s2);
    assert_int_equal(open_built(w, &bl, &why), -UL_EBADMSG);
    built_free(w);

    /* Vista metadata; an unknown version */
    struct spec s3 = { .method = UL_BITLOCKER_AES_128_XTS, .version = 1 };
    w = build(&s3);
    assert_int_equal(open_built(w, &bl, &why), -UL_EOPNOTSUPP);
    built_free(w);
    struct spec s4 = { .method = UL_BITLOCKER_AES_128_XTS, .version = 3 };
    w = build(&s4);
    assert_int_equal(open_built(w, &bl, &why), -UL_EBADMSG);
    built_free(w);
}

static void test_malformed_fields(void **state)
{
    (void)state;
    struct spec s = { .method = UL_BITLOCKER_AES_128_XTS };
    struct built *w = build(&s);
    struct ul_bitlocker *bl;
    const char *why;
    uint8_t *d = w->k.d;
    uint8_t save[AREA * 3];
    static const uint64_t offs[3] = { META1, META2, META3 };
    for (int c = 0; c < 3; c++)
        memcpy(save + c * AREA, d + offs[c], AREA);

    /* Each edit goes into all three copies, resealed, so only the field
     * check can refuse it. */
    struct edit {
        size_t at;
        int width;
        uint64_t v;
        int want;
    } edits[] = {
        { 8, 2, 0, -UL_EBADMSG },                  /* metadata size 0 */
        { 8, 2, 0xffff, -UL_EBADMSG },             /* larger than the area */
        { 8, 2, 6, -UL_EBADMSG },                  /* smaller than the headers */
        { 64 + 8, 4, 47, -UL_EBADMSG },            /* dataset header size */
        { 64, 4, 0xfffffff0u, -UL_EBADMSG },       /* dataset size */
        { 64, 4, 20, -UL_EBADMSG },
        { 16, 8, VOL_SIZE + 512, -UL_ERANGE },     /* encrypted size past the end */
        { 56, 8, 0x31000, -UL_EBADMSG },           /* header offset != its entry's */
        { 28, 4, 0x1000000, -UL_ERANGE },          /* header sectors past the end */
        { 24, 4, 0x200000, 0 },                    /* conversion size, not converting */
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        for (int c = 0; c < 3; c++) {
            uint8_t *b = d + offs[c];
            if (edits[i].at == 8) {
                /* the size moves the validation: reseal at the old place
                 * would not do, so write the CRC where the new size says */
                put16(b + 8, (uint16_t)edits[i].v);
                uint32_t size = (uint32_t)edits[i].v * 16;
                if (size >= 112 && size + 8 <= AREA)
                    put32(b + size + 4, ul_crc32(b, size));
                continue;
            }
            for (int k = 0; k < edits[i].width; k++)
                b[edits[i].at + k] = (uint8_t)(edits[i].v >> 8 * k);
            reseal(d, offs[c]);
        }
        bl = NULL;
        int r = open_built(w, &bl, &why);
        if (r != edits[i].want)
            fail_msg("edit %zu: got %d, want %d (%s)", i, r, edits[i].want, why);
        ul_bitlocker_close(bl);
        for (int c = 0; c < 3; c++)
            memcpy(d + offs[c], save + c * AREA, AREA);
    }

    /* the volume header: bad sector size, metadata offsets */
    put16(d + 11, 500);
    assert_int_equal(open_built(w, &bl, &why), -UL_EBADMSG);
    put16(d + 11, 512);
    put64(d + 0xb0, META1 + 1);                    /* not on a sector */
    assert_int_equal(open_built(w, &bl, NULL), 0);
    assert_string_equal(ul_bitlocker_get_info(bl)->copy_error[0],
                        "offset not on a sector boundary");
    ul_bitlocker_close(bl);
    put64(d + 0xb0, UINT64_MAX - 10);              /* wraps */
    assert_int_equal(open_built(w, &bl, NULL), 0);
    assert_string_equal(ul_bitlocker_get_info(bl)->copy_error[0], "offset not on a sector boundary");
    ul_bitlocker_close(bl);
    put64(d + 0xb0, 0xfffffffffffffe00ull);
    assert_int_equal(open_built(w, &bl, NULL), 0);
    assert_string_equal(ul_bitlocker_get_info(bl)->copy_error[0], "outside the volume");
    ul_bitlocker_close(bl);
    put64(d + 0xb0, META1);

    /* not BitLocker at all; Vista's header; an unreadable header */
    memcpy(d + 3, "NTFS    ", 8);
    assert_int_equal(open_built(w, &bl, &why), -UL_ENOENT);
    memcpy(d + 3, "-FVE-FS-", 8);
    d[0xa0] ^= 1;
    assert_int_equal(open_built(w, &bl, &why), -UL_EOPNOTSUPP);
    d[0xa0] ^= 1;
    w->k.fail = true;
    w->k.fail_off = 0;
    assert_int_equal(open_built(w, &bl, &why), -UL_EIO);
    /* a copy that cannot be read is skipped */
    w->k.fail_off = META1 + 5;
    assert_int_equal(open_built(w, &bl, &why), 0);
    assert_string_equal(ul_bitlocker_get_info(bl)->copy_error[0], "read error");
    ul_bitlocker_close(bl);
    w->k.fail = false;

    /* no FVEK entry: the VMK opens, the unlock fails cleanly */
    built_free(w);
    struct spec s2 = { .method = UL_BITLOCKER_AES_128_XTS, .no_fvek = true };
    w = build(&s2);
    assert_int_equal(open_built(w, &bl, NULL), 0);
    assert_int_equal(ul_bitlocker_unlock_clear_key(bl, NULL, &why), -UL_EBADMSG);
    assert_false(ul_bitlocker_is_unlocked(bl));
    ul_bitlocker_close(bl);
    built_free(w);

    /* an unknown method: listed, not unlocked */
    /* (build() needs a cipher to encrypt with: built as XTS, then relabelled) */
    struct spec s4 = { .method = UL_BITLOCKER_AES_128_XTS };
    w = build(&s4);
    for (int c = 0; c < 3; c++) {
        put16(w->k.d + offs[c] + 100, 0x8009);
        reseal(w->k.d, offs[c]);
    }
    assert_int_equal(open_built(w, &bl, NULL), 0);
    assert_int_equal(ul_bitlocker_get_info(bl)->method, 0x8009);
    assert_int_equal(ul_bitlocker_unlock_clear_key(bl, NULL, &why), -UL_EOPNOTSUPP);
    ul_bitlocker_close(bl);
    built_free(w);
}

static void test_truncated(void **state)
{
    (void)state;
    struct spec s = { .method = UL_BITLOCKER_AES_128_XTS };
    struct built *w = build(&s);
    struct ul_bitlocker *bl;
    const char *why;
    /* past the third copy: the metadata still reads, the size does not fit */
    w->k.size = META3 + AREA + 0x1000;
    assert_int_equal(open_built(w, &bl, &why), -UL_ERANGE);
    assert_non_null(strstr(why, "truncated"));
    /* inside the third copy */
    w->k.size = META3 + 0x100;
    assert_int_equal(open_built(w, &bl, &why), -UL_ERANGE);
    /* before every copy */
    w->k.size = META1;
    assert_int_equal(open_built(w, &bl, &why), -UL_ERANGE);
    w->k.size = 100;
    assert_int_equal(open_built(w, &bl, &why), -UL_ENOENT);
    built_free(w);
}

/* ------------------------------------------------------------ real data */

#define TESTDATA "../shared/testdata/bitlocker/"

static uint8_t *load_xz(const char *path, size_t *ret)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "xz -dc '%s'", path);
    FILE *f = popen(cmd, "r");
    if (!f)
        return NULL;
    size_t cap = 160u << 20, n = 0;
    uint8_t *b = malloc(cap);
    size_t k;
    while (b && (k = fread(b + n, 1, cap - n, f)) > 0)
        n += k;
    pclose(f);
    *ret = n;
    return b;
}

static void test_real_startup_key(void **state)
{
    (void)state;
    size_t n = 0, bn;
    uint8_t *img = load_xz(TESTDATA "bitlk-aes-xts-128-startup-key.img.xz", &n);
    if (!img || n == 0) {
        free(img);
        skip();
    }
    FILE *f = fopen(TESTDATA "4381F759-C4F8-4DE0-BB61-FC33A831BDA5.BEK", "rb");
    assert_non_null(f);
    uint8_t bek[512];
    bn = fread(bek, 1, sizeof(bek), f);
    fclose(f);

    struct disk k = { .d = img, .size = n, .alloc = n };
    struct ul_bitlocker_dev dev = { .read = disk_read, .ctx = &k, .size = n };
    struct ul_bitlocker *bl;
    /* the first copy damaged, as a crash mid-write could leave it */
    img[0x2100000 + 0x80] ^= 0xff;
    assert_int_equal(ul_bitlocker_open(&dev, &mem, &bl, NULL), 0);
    const struct ul_bitlocker_info *in = ul_bitlocker_get_info(bl);
    assert_int_equal(in->copy_used, 1);
    assert_int_equal(in->method, UL_BITLOCKER_AES_128_XTS);
    assert_int_equal(in->n_protectors, 3);
    assert_int_equal(in->protectors[2].type, UL_BITLOCKER_PROT_STARTUP_KEY);
    assert_int_equal(ul_bitlocker_unlock_bek(bl, bek, bn, NULL, NULL), 0);

    /* SHA256SUM in images.conf */
    mbedtls_sha256_context sha;
    uint8_t *buf = malloc(1 << 20), out[32];
    mbedtls_sha256_init(&sha);
    mbedtls_sha256_starts_ret(&sha, 0);
    for (uint64_t off = 0; off < n; off += 1 << 20) {
        size_t len = n - off < (1u << 20) ? n - off : 1u << 20;
        assert_int_equal(ul_bitlocker_read(bl, off, buf, len), 0);
        mbedtls_sha256_update_ret(&sha, buf, len);
    }
    mbedtls_sha256_finish_ret(&sha, out);
    mbedtls_sha256_free(&sha);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", out[i]);
    assert_string_equal(hex, "bbb68369d8f7badb2c2330349d9d0cf12e68f54eece25e718d2bb13feba23f7a");
    free(buf);
    ul_bitlocker_close(bl);
    free(img);
}


/* ul_bitlocker_write: what is written reads back, through a fresh context
 * too (so it went to disk encrypted as the reader expects); the relocated
 * first sectors land in their copy; BitLocker's own areas refuse a change
 * but accept writing what they present; partial sectors keep their
 * neighbours. */
static void test_write(void **state)
{
    (void)state;
    static const uint16_t methods[] = { UL_BITLOCKER_AES_128_XTS, UL_BITLOCKER_AES_256_CBC,
                                        UL_BITLOCKER_AES_128_CBC_ELEPHANT };
    for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
        for (uint32_t ss = 512; ss <= 4096; ss *= 8) {
            struct spec s = { .method = methods[m], .ss = ss,
                              .encrypted = VOL_SIZE - 4 * 4096 };
            struct built *w = build(&s);
            struct ul_bitlocker *bl;
            struct ul_bitlocker_dev ro = { .read = disk_read, .ctx = &w->k, .size = VOL_SIZE };
            struct ul_bitlocker_dev dev = ro;
            dev.write = disk_write;
            uint8_t buf[3 * 4096 + 100];

            /* read-only device, and before an unlock */
            assert_int_equal(ul_bitlocker_open(&ro, &mem, &bl, NULL), 0);
            assert_int_equal(ul_bitlocker_unlock_clear_key(bl, NULL, NULL), 0);
            assert_int_equal(ul_bitlocker_write(bl, 0, "x", 1), -UL_EROFS);
            ul_bitlocker_close(bl);
            assert_int_equal(ul_bitlocker_open(&dev, &mem, &bl, NULL), 0);
            assert_int_equal(ul_bitlocker_write(bl, 0, "x", 1), -UL_EACCES);
            assert_int_equal(ul_bitlocker_unlock_clear_key(bl, NULL, NULL), 0);
            assert_int_equal(ul_bitlocker_write(bl, VOL_SIZE - 1, "xy", 2), -UL_ERANGE);

            /* the boot sector, an unaligned run over sectors 1..4 (relocated),
             * the middle, and across the end of the encrypted part */
            uint64_t offs[] = { 0, ss + 7, 0x10000 + 3, VOL_SIZE - 4 * 4096 - 700 };
            for (size_t i = 0; i < 4; i++) {
                size_t n = i == 0 ? ss : sizeof(buf) - i * 33;
                for (size_t j = 0; j < n; j++)
                    buf[j] = rnd();
                assert_int_equal(ul_bitlocker_write(bl, offs[i], buf, n), 0);
                memcpy(w->expect + offs[i], buf, n);
            }
            check_all(w, bl);
            ul_bitlocker_close(bl);
            /* sector 0 on disk is still BitLocker's header */
            assert_memory_equal(w->k.d + 3, "-FVE-FS-", 8);
            assert_int_equal(ul_bitlocker_open(&dev, &mem, &bl, NULL), 0);
            assert_int_equal(ul_bitlocker_unlock_clear_key(bl, NULL, NULL), 0);
            check_all(w, bl);

            /* the metadata copy and the relocated-sector area: zeros are
             * accepted (nothing written), anything else refused */
            uint8_t *before = malloc(VOL_SIZE);
            memcpy(before, w->k.d, VOL_SIZE);
            memset(buf, 0, sizeof(buf));
            assert_int_equal(ul_bitlocker_write(bl, META2 + 100, buf, 2 * ss), 0);
            assert_int_equal(ul_bitlocker_write(bl, HDR_OFF, buf, ss), 0);
            assert_memory_equal(before, w->k.d, VOL_SIZE);
            buf[5] = 1;
            assert_int_equal(ul_bitlocker_write(bl, META1 + 10, buf, 10), -UL_EIO);
            assert_int_equal(ul_bitlocker_write(bl, HDR_OFF, buf, ss), -UL_EIO);
            assert_memory_equal(before, w->k.d, VOL_SIZE);
            /* a failing device: the error comes back */
            w->k.fail = true;
            w->k.fail_off = 0x40000;
            assert_int_equal(ul_bitlocker_write(bl, 0x40000, buf, ss), -UL_EIO);
            w->k.fail = false;
            free(before);
            ul_bitlocker_close(bl);
            assert_false(w->k.out_of_range);
            built_free(w);
        }
    }
}

/* ---- ul_bitlocker_unlock_auto: the key folder and the prompt ---- */

struct prompt_fake {
    int calls;
    const char *answers[4];     /* NULL: cancel */
    const char *last_retry;
};

static int fake_prompt(void *ctx, const struct ul_rp_prompt *p, char out[UL_BITLOCKER_RP_SIZE])
{
    struct prompt_fake *f = ctx;
    const char *a = f->answers[f->calls++];
    f->last_retry = p->retry;
    if (!a)
        return -UL_ECANCELED;
    strcpy(out, a);
    return 0;
}

static struct ul_log ulog;

static bool log_has(const char *s)
{
    return strstr(ulog.buf, s) != NULL;
}

static void test_unlock_auto(void **state)
{
    (void)state;
    static const char wrong_rp[] = "000000-000011-000022-000033-000044-000055-000066-000077";
    struct spec s = { .method = UL_BITLOCKER_AES_128_XTS, .no_clear = true, .rp = true,
                      .startup = true };
    struct built *w = build(&s);
    struct fake_volume esp;
    struct ul_bitlocker *bl;
    struct ul_bitlocker_unlocked how;
    char why[200];
    const char *whyp = NULL;
    uint8_t bek[512];

    fake_volume_init(&esp);
    struct ul_volume ev = fake_volume_get(&esp);
    ul_log_init(&ulog, NULL, NULL, NULL, "test");
    struct prompt_fake pf = { 0 };
    struct ul_bitlocker_keysrc src = { .dir_vol = &ev, .key_dir = "\\EFI\\unloop\\keys",
                                       .prompt_timeout = 5, .mem = &mem, .log = &ulog };

    /* No folder, no prompt: no key, and the reason names the protectors. */
    assert_int_equal(open_built(w, &bl, NULL), 0);
    assert_int_equal(ul_bitlocker_unlock_auto(bl, &src, "partition 3", &how, why, sizeof(why),
                                              &whyp), -UL_ENOENT);
    assert_non_null(strstr(whyp, "no key"));
    assert_non_null(strstr(whyp, "TPM"));
    assert_non_null(strstr(whyp, "recovery password 0000EA0D"));
    assert_false(ul_bitlocker_is_unlocked(bl));

    /* A folder with things that are not keys for it: a .BEK of another
     * volume, a CSV for other IDs, a text file with no key, a CSV whose
     * entry for this volume has a mistyped group. */
    assert_int_equal(fake_volume_mkdir_p(&esp, "\\EFI\\unloop\\keys"), 0);
    uint8_t other[16] = { 7, 7, 7 };
    size_t n = make_bek(bek, other, ext_key);
    assert_int_equal(fake_volume_put(&esp, "\\EFI\\unloop\\keys\\OTHER.BEK", bek, n), 0);
    const char *csv_other = "ComputerName,KeyID,RecoveryKey\r\n"
                            "PC1,{11111111-2222-3333-4444-555555555555},"
                            "235818-357951-253979-013365-241120-245575-342914-591910\r\n";
    assert_int_equal(fake_volume_put(&esp, "\\EFI\\unloop\\keys\\site.csv", csv_other,
                                     strlen(csv_other)), 0);
    assert_int_equal(fake_volume_put(&esp, "\\EFI\\unloop\\keys\\README.txt", "hello\n", 6), 0);
    const char *typo = "0000ea0d-0000-0000-0000-000000000000 "
                       "235818-357951-253979-013365-241120-245575-342914-591911\n";
    assert_int_equal(fake_volume_put(&esp, "\\EFI\\unloop\\keys\\typo.txt", typo,
                                     strlen(typo)), 0);
    assert_int_equal(ul_bitlocker_unlock_auto(bl, &src, "partition 3", &how, why, sizeof(why),
                                              &whyp), -UL_EACCES);
    assert_non_null(strstr(whyp, "do not unlock"));
    assert_true(log_has("typo.txt"));
    assert_true(log_has("README.txt is not a key file"));
    assert_false(log_has("591911"));        /* never a key in the log */
    assert_false(log_has("591910"));
    ul_bitlocker_close(bl);

    /* The prompt: a wrong key, then the right one. */
    ul_log_init(&ulog, NULL, NULL, NULL, "test");
    fake_volume_reset(&esp);
    assert_int_equal(fake_volume_mkdir_p(&esp, "\\EFI\\unloop\\keys"), 0);
    pf = (struct prompt_fake){ .answers = { wrong_rp, test_rp } };
    src.prompt = fake_prompt;
    src.prompt_ctx = &pf;
    assert_int_equal(open_built(w, &bl, NULL), 0);
    assert_int_equal(ul_bitlocker_unlock_auto(bl, &src, "partition 3", &how, why, sizeof(why),
                                              &whyp), 0);
    assert_int_equal(pf.calls, 2);
    assert_non_null(pf.last_retry);
    assert_non_null(strstr(how.source, "prompt"));
    assert_int_equal(ul_bitlocker_get_info(bl)->protectors[how.protector].type,
                     UL_BITLOCKER_PROT_RECOVERY_PASSWORD);
    assert_false(log_has("000011"));
    check_all(w, bl);
    ul_bitlocker_close(bl);
    /* Esc at the prompt: no key. */
    pf = (struct prompt_fake){ 0 };
    assert_int_equal(open_built(w, &bl, NULL), 0);
    assert_int_equal(ul_bitlocker_unlock_auto(bl, &src, "partition 3", &how, why, sizeof(why),
                                              &whyp), -UL_ENOENT);
    assert_int_equal(pf.calls, 1);
    ul_bitlocker_close(bl);
    src.prompt = NULL;

    /* A key file with the right entry (manage-bde style), found without a prompt. */
    const char *mbde = "Volume C: [OS]\r\nAll Key Protectors\r\n\r\n    Numerical Password:\r\n"
                       "      ID: {0000EA0D-0000-0000-0000-000000000000}\r\n      Password:\r\n"
                       "        235818-357951-253979-013365-241120-245575-342914-591910\r\n";
    assert_int_equal(fake_volume_put(&esp, "\\EFI\\unloop\\keys\\pc.txt", mbde, strlen(mbde)),
                     0);
    assert_int_equal(open_built(w, &bl, NULL), 0);
    assert_int_equal(ul_bitlocker_unlock_auto(bl, &src, "partition 3", &how, why, sizeof(why),
                                              &whyp), 0);
    assert_string_equal(how.source, "\\EFI\\unloop\\keys\\pc.txt");
    check_all(w, bl);
    ul_bitlocker_close(bl);

    /* The startup key comes first (no stretch needed). */
    n = make_bek(bek, ext_guid, ext_key);
    assert_int_equal(fake_volume_put(&esp, "\\EFI\\unloop\\keys\\4381F759.BEK", bek, n), 0);
    assert_int_equal(open_built(w, &bl, NULL), 0);
    assert_int_equal(ul_bitlocker_unlock_auto(bl, &src, "partition 3", &how, why, sizeof(why),
                                              &whyp), 0);
    assert_string_equal(how.source, "\\EFI\\unloop\\keys\\4381F759.BEK");
    assert_int_equal(ul_bitlocker_get_info(bl)->protectors[how.protector].type,
                     UL_BITLOCKER_PROT_STARTUP_KEY);
    ul_bitlocker_close(bl);
    built_free(w);

    /* Protection suspended: the clear key, with nothing else. */
    struct spec sc = { .method = UL_BITLOCKER_AES_128_XTS };
    w = build(&sc);
    src.dir_vol = NULL;
    assert_int_equal(open_built(w, &bl, NULL), 0);
    assert_int_equal(ul_bitlocker_unlock_auto(bl, &src, "partition 3", &how, why, sizeof(why),
                                              &whyp), 0);
    assert_non_null(strstr(how.source, "clear key"));
    ul_bitlocker_close(bl);
    built_free(w);
    fake_volume_free(&esp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_method),
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_to_go),
        cmocka_unit_test(test_partial_and_converting),
        cmocka_unit_test(test_unaligned_reads),
        cmocka_unit_test(test_odd_size),
        cmocka_unit_test(test_recovery_password_parse),
        cmocka_unit_test(test_bek),
        cmocka_unit_test(test_damaged_copies),
        cmocka_unit_test(test_malformed_fields),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_stretch_vector),
        cmocka_unit_test(test_recovery_password_unlock),
        cmocka_unit_test(test_password_unlock),
        cmocka_unit_test(test_write),
        cmocka_unit_test(test_unlock_auto),
        cmocka_unit_test(test_real_startup_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
