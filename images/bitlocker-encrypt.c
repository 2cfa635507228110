/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bitlocker-encrypt: converts a plain NTFS volume in place into a BitLocker
 * volume (Windows 7 and later format, FVE metadata version 2), for test
 * images.  A host tool, not part of unloop.
 *
 *   bitlocker-encrypt --recovery-password RP [--password PW] [--bek-dir DIR]
 *                     [--clear-key] [--method aes-xts-128|aes-xts-256|
 *                     aes-cbc-128|aes-cbc-256] [--offset BYTES --length BYTES]
 *                     [--description TEXT] [--seed N] [--quiet] IMAGE
 *
 * --recovery-password is required (48 digits, 8 groups of 6, each divisible
 * by 11); --password adds a user password protector, --bek-dir a startup
 * key protector whose {GUID}.BEK file is written to DIR, --clear-key a clear
 * key (protection suspended).  --offset/--length select the partition inside
 * a disk image (default: the whole file).  --seed N makes every random value
 * (VMK, FVEK, salts, GUIDs, the startup key) and the timestamps
 * deterministic; without it they come from /dev/urandom and the clock.
 *
 * Where the BitLocker areas go.  Windows keeps the three FVE metadata
 * copies (64 KiB each) and the relocated first sectors inside NTFS files
 * ("FVE2.{GUID}.[123]" and "FVE2.{GUID}" in System Volume Information,
 * [bde: Metadata files]).  This tool does not touch NTFS; it needs free space
 * after the end of the NTFS volume instead (the boot sector's total sector
 * count plus the backup boot sector), 256 KiB rounded up to 64 KiB, and puts
 * the areas there: metadata copy 1, the relocated first 8 KiB, copy 2,
 * copy 3.  The whole partition is encrypted (the encrypted size is the
 * partition's), the first 8 KiB are moved, encrypted at their new place,
 * into the relocated area as Windows 7 does [bde: Virtual sector(s)], and
 * sector 0 becomes the BitLocker volume header ("-FVE-FS-").
 *
 * Layouts: libyal libbde "BitLocker Drive Encryption (BDE) format" (cited as
 * [bde: Section]); the field values Windows writes that the document leaves
 * open (key entry methods, the validation block with its SHA-256 of the
 * metadata, the BEK file's entries) were read from volumes made by Windows
 * 10 (tests' testdata/bitlocker) and are noted where used.  Crypto is
 * mbedTLS's (AES, AES-XTS, AES-CCM, SHA-256, CTR-DRBG); the recovery
 * password parser and the key stretch are shared/bitlocker.c's.
 *
 * Exit status: 0 done, 1 refused or failed (the image is left unchanged
 * when the refusal comes before the first write, which covers every check
 * of the arguments and the volume), 2 usage.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/aes.h>
#include <mbedtls/ccm.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "../shared/bitlocker.h"
#include "../shared/crc32.h"

#define META_AREA       0x10000u        /* one metadata copy [bde: Virtual sector(s)] */
#define HEADER_BYTES    8192u           /* the relocated first sectors (Windows 7: 16 x 512) */
#define TAIL_BYTES      (4 * META_AREA) /* copy 1, relocated sectors, copy 2, copy 3 */
#define CHUNK           (1u << 20)

/* [bde: FVE metadata entry types] and [bde: FVE metadata value types]. */
#define ENTRY_PROPERTY  0x0000
#define ENTRY_VMK       0x0002
#define ENTRY_FVEK      0x0003
#define ENTRY_STARTUP   0x0006
#define ENTRY_DESC      0x0007
#define ENTRY_VHEADER   0x000f
#define VT_KEY          0x0001
#define VT_STRING       0x0002
#define VT_STRETCH      0x0003
#define VT_AES_CCM      0x0005
#define VT_VMK          0x0008
#define VT_EXTERNAL     0x0009
#define VT_OFFSET_SIZE  0x000f

/* Methods of the key entries, as Windows 10 writes them (read from the
 * testdata volumes; [bde: Encryption methods] lists the ranges). */
#define KM_STRETCH_RP   0x1000  /* recovery password stretch; the raw key inside */
#define KM_STRETCH_PW   0x1001  /* user password / startup key stretch */
#define KM_EXTERNAL     0x2002  /* the key in a .BEK file */
#define KM_VMK          0x2003  /* the VMK inside its AES-CCM wrappers */
#define KM_VALIDATION   0x2005  /* the SHA-256 of the metadata, wrapped with the VMK */
#define KM_CLEAR        0x2000  /* a clear key (no reference volume; libbde calls 0x2000-0x2005 AES-CCM 256) */

/* ------------------------------------------------------------- errors */

static const char *prog = "bitlocker-encrypt";
static bool quiet;

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void info(const char *fmt, ...)
{
    va_list ap;
    if (quiet)
        return;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------- bytes */

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

/* A growing byte buffer for building entries. */
struct buf {
    uint8_t d[8192];
    size_t n;
};

static uint8_t *grow(struct buf *b, size_t n)
{
    if (n > sizeof(b->d) - b->n)
        die("internal error: metadata too large");
    uint8_t *p = b->d + b->n;
    memset(p, 0, n);
    b->n += n;
    return p;
}

static void append(struct buf *b, const void *p, size_t n)
{
    memcpy(grow(b, n), p, n);
}

static void wipe(void *p, size_t n)
{
    mbedtls_platform_zeroize(p, n);
}

/* An FVE metadata entry [bde: FVE metadata entry]: size, entry type, value
 * type, version 1, then body. */
static void entry(struct buf *b, uint16_t type, uint16_t vt, uint16_t version, const void *body,
                  size_t len)
{
    if (len > 0xffff - 8)
        die("internal error: entry too large");
    uint8_t *p = grow(b, 8 + len);
    put16(p, (uint16_t)(8 + len));
    put16(p + 2, type);
    put16(p + 4, vt);
    put16(p + 6, version);
    if (len)
        memcpy(p + 8, body, len);
}

/* A key entry [bde: FVE key]: u32 method, key bytes.  Windows writes the
 * ones inside AES-CCM payloads with version 0 (read from testdata). */
static void key_entry(struct buf *b, uint16_t type, uint16_t version, uint32_t method,
                      const uint8_t *key, size_t len)
{
    uint8_t body[4 + 64];
    put32(body, method);
    memcpy(body + 4, key, len);
    entry(b, type, VT_KEY, version, body, 4 + len);
    wipe(body, sizeof(body));
}

/* A UTF-16LE string entry with its terminating NUL [bde: FVE metadata value
 * types]; UTF-8 in, BMP and surrogate pairs out. */
static void string_entry(struct buf *b, uint16_t type, const char *s)
{
    uint8_t u16[1024];
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        uint32_t c = *p++;
        int more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
        if (c >= 0x80 && !more)
            die("description is not valid UTF-8");
        c &= more == 3 ? 0x07 : more == 2 ? 0x0f : more == 1 ? 0x1f : 0x7f;
        for (; more; more--) {
            if ((*p & 0xc0) != 0x80)
                die("description is not valid UTF-8");
            c = c << 6 | (*p++ & 0x3f);
        }
        if (n + 6 > sizeof(u16))
            die("description too long");
        if (c >= 0x10000) {
            c -= 0x10000;
            put16(u16 + n, (uint16_t)(0xd800 | c >> 10));
            put16(u16 + n + 2, (uint16_t)(0xdc00 | (c & 0x3ff)));
            n += 4;
        } else {
            put16(u16 + n, (uint16_t)c);
            n += 2;
        }
    }
    put16(u16 + n, 0);
    entry(b, type, VT_STRING, 1, u16, n + 2);
}

/* ------------------------------------------------------------- random */

/* CTR-DRBG, seeded from /dev/urandom, or deterministically from --seed: the
 * entropy callback then hands out SHA-256(seed || counter) blocks. */
struct entropy {
    bool seeded;
    uint64_t seed, counter;
};

static int entropy_cb(void *ctx, unsigned char *out, size_t len)
{
    struct entropy *e = ctx;

    if (!e->seeded) {
        while (len) {
            ssize_t r = getrandom(out, len, 0);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
            out += r;
            len -= (size_t)r;
        }
        return 0;
    }
    while (len) {
        uint8_t in[16 + 8], h[32];
        memcpy(in, "unloop-bl-seed\0\0", 16);
        put64(in + 16, e->seed ^ (e->counter++ << 48));
        if (mbedtls_sha256_ret(in, sizeof(in), h, 0))
            return MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED;
        size_t n = len < 32 ? len : 32;
        memcpy(out, h, n);
        out += n;
        len -= n;
    }
    return 0;
}

static mbedtls_ctr_drbg_context drbg;

static void rnd(void *p, size_t n)
{
    if (mbedtls_ctr_drbg_random(&drbg, p, n))
        die("random generator failed");
}

/* A random (version 4) GUID, in the on-disk order (the first three fields
 * little-endian). */
static void rnd_guid(uint8_t g[16])
{
    rnd(g, 16);
    g[7] = (uint8_t)((g[7] & 0x0f) | 0x40);
    g[8] = (uint8_t)((g[8] & 0x3f) | 0x80);
}

static void guid_str(const uint8_t g[16], char out[37])
{
    snprintf(out, 37, "%08" PRIX32 "-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X", get32(g),
             get16(g + 4), get16(g + 6), g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

/* ------------------------------------------------------------- keys */

struct keys {
    uint8_t vmk[32];
    uint8_t fvek[64];
    size_t fvek_len;
    uint64_t now;                   /* FILETIME for every timestamp and nonce */
    uint32_t counter;               /* the next AES-CCM nonce counter */
};

/* An AES-CCM entry [bde: FVE AES-CCM encrypted key]: the nonce (FILETIME
 * and counter, 12 bytes), the 16-byte tag, the encrypted payload. */
static void ccm_entry(struct buf *b, struct keys *k, uint16_t type, const uint8_t key[32],
                      const uint8_t *plain, size_t len)
{
    uint8_t body[12 + 16 + 256];
    mbedtls_ccm_context ccm;

    if (len > 256)
        die("internal error: AES-CCM payload too large");
    put64(body, k->now);
    put32(body + 8, k->counter++);
    mbedtls_ccm_init(&ccm);
    if (mbedtls_ccm_setkey(&ccm, MBEDTLS_CIPHER_ID_AES, key, 256) ||
        mbedtls_ccm_encrypt_and_tag(&ccm, len, body, 12, NULL, 0, plain, body + 28, body + 12,
                                    16))
        die("AES-CCM failed");
    mbedtls_ccm_free(&ccm);
    entry(b, type, VT_AES_CCM, 1, body, 28 + len);
    wipe(body, sizeof(body));
}

/* The VMK as the payload every protector wraps: a key entry, method 0x2003. */
static void vmk_payload(const struct keys *k, struct buf *pl)
{
    pl->n = 0;
    key_entry(pl, ENTRY_PROPERTY, 0, KM_VMK, k->vmk, 32);
}

/* A VMK entry [bde: FVE Volume Master Key (VMK)]: key GUID, modification
 * time, u16 0, u16 protection type, then the nested entries in nested. */
static void vmk_entry(struct buf *meta, const struct keys *k, const uint8_t guid[16],
                      uint16_t protection, uint16_t version, const struct buf *nested)
{
    struct buf body;
    body.n = 0;
    uint8_t *p = grow(&body, 28);
    memcpy(p, guid, 16);
    put64(p + 16, k->now);
    put16(p + 24, 0);
    put16(p + 26, protection);
    append(&body, nested->d, nested->n);
    entry(meta, ENTRY_VMK, VT_VMK, version, body.d, body.n);
    wipe(&body, sizeof(body));
}

/* A protector that stretches a password: stretch-key entry (method, salt,
 * nested) then the VMK wrapped with the stretched key. */
static void stretch_protector(struct buf *meta, struct keys *k, const uint8_t guid[16],
                              uint16_t protection, uint32_t method,
                              const uint8_t initial[32], const uint8_t *raw, size_t raw_len)
{
    struct buf nested, stretch, pl;
    uint8_t salt[16], key[32];

    rnd(salt, sizeof(salt));
    if (ul_bitlocker_stretch(initial, salt, key) < 0)
        die("key stretch failed");
    stretch.n = 0;
    uint8_t *p = grow(&stretch, 20);
    put32(p, method);
    memcpy(p + 4, salt, 16);
    if (raw) {
        /* Windows keeps the recovery key itself, wrapped with the VMK, in
         * the stretch entry (entry type 0x12; read from testdata). */
        pl.n = 0;
        key_entry(&pl, ENTRY_PROPERTY, 0, KM_STRETCH_RP, raw, raw_len);
        ccm_entry(&stretch, k, 0x0012, k->vmk, pl.d, pl.n);
    }
    nested.n = 0;
    entry(&nested, ENTRY_PROPERTY, VT_STRETCH, 1, stretch.d, stretch.n);
    vmk_payload(k, &pl);
    ccm_entry(&nested, k, ENTRY_PROPERTY, key, pl.d, pl.n);
    vmk_entry(meta, k, guid, protection, 1, &nested);
    wipe(&pl, sizeof(pl));
    wipe(key, sizeof(key));
    wipe(&nested, sizeof(nested));
    wipe(&stretch, sizeof(stretch));
}

/* UTF-8 to UTF-16LE for a user password, at most max_chars characters;
 * -1 if malformed or too long. */
static int utf8_to_utf16(const char *s, size_t max_chars, uint8_t *out, size_t size,
                         size_t *ret_len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0, chars = 0;

    while (*p) {
        if (chars++ == max_chars)
            return -1;
        uint32_t c = *p++;
        int more = c >= 0xf8 ? -1 : c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
        if (more < 0 || (c >= 0x80 && c < 0xc0))
            return -1;
        c &= more == 3 ? 0x07 : more == 2 ? 0x0f : more == 1 ? 0x1f : 0x7f;
        for (int i = 0; i < more; i++) {
            if ((*p & 0xc0) != 0x80)
                return -1;
            c = c << 6 | (*p++ & 0x3f);
        }
        if ((more == 1 && c < 0x80) || (more == 2 && c < 0x800) || (more == 3 && c < 0x10000) ||
            (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff || n + 4 > size)
            return -1;
        if (c >= 0x10000) {
            c -= 0x10000;
            put16(out + n, (uint16_t)(0xd800 | c >> 10));
            put16(out + n + 2, (uint16_t)(0xdc00 | (c & 0x3ff)));
            n += 4;
        } else {
            put16(out + n, (uint16_t)c);
            n += 2;
        }
    }
    *ret_len = n;
    return 0;
}

/* ------------------------------------------------------------- methods */

static const struct method {
    const char *name;
    uint16_t id;            /* [bde: Encryption methods] */
    size_t key_len;         /* FVEK key bytes (XTS: both keys) */
} methods[] = {
    { "aes-xts-128", UL_BITLOCKER_AES_128_XTS, 32 },
    { "aes-xts-256", UL_BITLOCKER_AES_256_XTS, 64 },
    { "aes-cbc-128", UL_BITLOCKER_AES_128_CBC, 16 },
    { "aes-cbc-256", UL_BITLOCKER_AES_256_CBC, 32 },
};

/* The sector cipher: XTS with the sector number as tweak [bde: AES-XTS];
 * CBC with IV = E(FVEK, byte offset as 16 bytes LE) [bde: AES-CBC]. */
struct cipher {
    const struct method *m;
    uint32_t ss;
    mbedtls_aes_xts_context xts;
    mbedtls_aes_context aes;
};

static void cipher_init(struct cipher *c, const struct method *m, const uint8_t *key, uint32_t ss)
{
    c->m = m;
    c->ss = ss;
    mbedtls_aes_xts_init(&c->xts);
    mbedtls_aes_init(&c->aes);
    int r = m->id == UL_BITLOCKER_AES_128_XTS || m->id == UL_BITLOCKER_AES_256_XTS
                ? mbedtls_aes_xts_setkey_enc(&c->xts, key, (unsigned)m->key_len * 8)
                : mbedtls_aes_setkey_enc(&c->aes, key, (unsigned)m->key_len * 8);
    if (r)
        die("AES key setup failed");
}

static void cipher_free(struct cipher *c)
{
    mbedtls_aes_xts_free(&c->xts);
    mbedtls_aes_free(&c->aes);
}

/* Encrypts whole sectors in place; off is the volume byte offset of the first. */
static void encrypt_sectors(struct cipher *c, uint64_t off, uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i += c->ss) {
        uint8_t iv[16] = { 0 };
        int r;
        if (c->m->id == UL_BITLOCKER_AES_128_XTS || c->m->id == UL_BITLOCKER_AES_256_XTS) {
            put64(iv, (off + i) / c->ss);
            r = mbedtls_aes_crypt_xts(&c->xts, MBEDTLS_AES_ENCRYPT, c->ss, iv, buf + i, buf + i);
        } else {
            put64(iv, off + i);
            r = mbedtls_aes_crypt_ecb(&c->aes, MBEDTLS_AES_ENCRYPT, iv, iv) ||
                mbedtls_aes_crypt_cbc(&c->aes, MBEDTLS_AES_ENCRYPT, c->ss, iv, buf + i, buf + i);
        }
        if (r)
            die("AES failed");
    }
}

/* ------------------------------------------------------------- I/O */

static int fd = -1;
static uint64_t part_off;

static void pread_all(uint64_t off, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t r = pread(fd, p, len, (off_t)(part_off + off));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            die("read at %" PRIu64 ": %s", part_off + off, r ? strerror(errno) : "end of file");
        p += r;
        off += (uint64_t)r;
        len -= (size_t)r;
    }
}

static void pwrite_all(uint64_t off, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t r = pwrite(fd, p, len, (off_t)(part_off + off));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            die("write at %" PRIu64 ": %s", part_off + off, r ? strerror(errno) : "no progress");
        p += r;
        off += (uint64_t)r;
        len -= (size_t)r;
    }
}

/* ------------------------------------------------------------- main */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s --recovery-password RP [options] IMAGE\n"
            "Converts the plain NTFS volume in IMAGE (or in the partition given by\n"
            "--offset/--length) in place into a BitLocker volume (Windows 7+ format).\n"
            "The NTFS volume must end at least 256 KiB (64 KiB aligned) before the\n"
            "partition does: the FVE metadata and the relocated first sectors go there.\n"
            "\n"
            "  --recovery-password RP  48-digit recovery password (required)\n"
            "  --password PW           add a user password protector\n"
            "  --bek-dir DIR           add a startup key protector; writes DIR/{GUID}.BEK\n"
            "  --clear-key             add a clear key (protection suspended)\n"
            "  --method M              aes-xts-128 (default), aes-xts-256, aes-cbc-128,\n"
            "                          aes-cbc-256\n"
            "  --offset BYTES          partition start in IMAGE (default 0)\n"
            "  --length BYTES          partition length (default: to the end of IMAGE)\n"
            "  --description TEXT      the volume description (default \"UNLOOP-TEST C: M/D/YYYY\")\n"
            "  --seed N                deterministic keys, salts, GUIDs and timestamps\n"
            "  --quiet                 print nothing on success\n"
            "  --help                  this text\n"
            "Exit status: 0 done, 1 refused or failed, 2 usage.\n",
            prog);
}

static uint64_t parse_u64(const char *opt, const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-')
        die("%s: not a number: %s", opt, s);
    return v;
}

/* Unix seconds to FILETIME (100 ns since 1601). */
static uint64_t filetime(int64_t unix_s)
{
    return (uint64_t)(unix_s + 11644473600LL) * 10000000ULL;
}

int main(int argc, char **argv)
{
    const char *rp = NULL, *pw = NULL, *bek_dir = NULL, *desc = NULL, *method_name = "aes-xts-128";
    bool clear_key = false, have_len = false;
    uint64_t length = 0;
    struct entropy ent = { 0 };
    static const struct option opts[] = {
        { "recovery-password", required_argument, NULL, 'r' },
        { "password", required_argument, NULL, 'p' },
        { "bek-dir", required_argument, NULL, 'b' },
        { "clear-key", no_argument, NULL, 'c' },
        { "method", required_argument, NULL, 'm' },
        { "offset", required_argument, NULL, 'o' },
        { "length", required_argument, NULL, 'l' },
        { "description", required_argument, NULL, 'd' },
        { "seed", required_argument, NULL, 's' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    int c;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r': rp = optarg; break;
        case 'p': pw = optarg; break;
        case 'b': bek_dir = optarg; break;
        case 'c': clear_key = true; break;
        case 'm': method_name = optarg; break;
        case 'o': part_off = parse_u64("--offset", optarg); break;
        case 'l': length = parse_u64("--length", optarg); have_len = true; break;
        case 'd': desc = optarg; break;
        case 's': ent.seeded = true; ent.seed = parse_u64("--seed", optarg); break;
        case 'q': quiet = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1 || !rp) {
        usage(stderr);
        return 2;
    }
    const char *image = argv[optind];

    /* ---- every check before the first write */
    const struct method *m = NULL;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(methods[i].name, method_name) == 0)
            m = &methods[i];
    if (!m)
        die("unknown method %s (aes-xts-128, aes-xts-256, aes-cbc-128, aes-cbc-256)", method_name);

    uint8_t rp_raw[16], rp_initial[32];
    enum ul_bitlocker_rp_error rp_err;
    int rp_group;
    if (ul_bitlocker_parse_recovery_password(rp, rp_raw, &rp_err, &rp_group) < 0) {
        if (rp_group)
            die("malformed recovery password: group %d: %s", rp_group,
                ul_bitlocker_rp_error_name(rp_err));
        die("malformed recovery password: %s", ul_bitlocker_rp_error_name(rp_err));
    }
    /* [bde: Recovery key]: SHA-256 of the 16 key bytes, then the stretch. */
    if (mbedtls_sha256_ret(rp_raw, 16, rp_initial, 0))
        die("SHA-256 failed");

    uint8_t pw_initial[32];
    if (pw) {
        uint8_t u16[256 * 4];
        size_t n;
        if (utf8_to_utf16(pw, 256, u16, sizeof(u16), &n) < 0 || n == 0)
            die("the password must be 1 to 256 characters of valid UTF-8");
        /* [bde: User key]: SHA-256 of SHA-256 of the UTF-16LE password. */
        if (mbedtls_sha256_ret(u16, n, pw_initial, 0) ||
            mbedtls_sha256_ret(pw_initial, 32, pw_initial, 0))
            die("SHA-256 failed");
        wipe(u16, sizeof(u16));
    }
    if (bek_dir) {
        struct stat st;
        if (stat(bek_dir, &st) < 0 || !S_ISDIR(st.st_mode))
            die("--bek-dir %s: not a directory", bek_dir);
        if (access(bek_dir, W_OK) < 0)
            die("--bek-dir %s: not writable", bek_dir);
    }

    fd = open(image, O_RDWR);
    if (fd < 0)
        die("%s: %s", image, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0)
        die("%s: %s", image, strerror(errno));
    uint64_t file_size = (uint64_t)st.st_size;
    if (S_ISBLK(st.st_mode)) {
        off_t end = lseek(fd, 0, SEEK_END);
        if (end < 0)
            die("%s: %s", image, strerror(errno));
        file_size = (uint64_t)end;
    }
    if (part_off > file_size)
        die("--offset %" PRIu64 " is past the end of %s (%" PRIu64 " bytes)", part_off, image,
            file_size);
    if (!have_len)
        length = file_size - part_off;
    if (length > file_size - part_off)
        die("--offset + --length run past the end of %s (%" PRIu64 " bytes)", image, file_size);
    if (length < 512)
        die("%s: the volume is too small", image);

    /* The NTFS boot sector. */
    uint8_t boot[512];
    pread_all(0, boot, sizeof(boot));
    if (memcmp(boot + 3, "-FVE-FS-", 8) == 0)
        die("%s: already a BitLocker volume", image);
    if (memcmp(boot + 3, "NTFS    ", 8) != 0 || boot[510] != 0x55 || boot[511] != 0xaa)
        die("%s: not an NTFS volume (no NTFS boot sector at offset %" PRIu64 ")", image,
            part_off);
    uint32_t ss = get16(boot + 11);
    if (ss != 512 && ss != 1024 && ss != 2048 && ss != 4096)
        die("%s: NTFS boot sector has an unsupported sector size %" PRIu32, image, ss);
    if (part_off % ss)
        die("--offset is not a multiple of the sector size %" PRIu32, ss);
    uint64_t ntfs_sectors = get64(boot + 0x28);
    uint64_t vol_size = length / ss * ss;     /* a last partial sector stays as it is */
    if (ntfs_sectors == 0 || ntfs_sectors >= vol_size / ss)
        die("%s: the NTFS volume (%" PRIu64 " sectors and its backup boot sector) fills the "
            "partition (%" PRIu64 " sectors): no room for the BitLocker metadata; make NTFS "
            "at least %u KiB smaller than its partition",
            image, ntfs_sectors, vol_size / ss, (TAIL_BYTES + META_AREA) / 1024);
    uint64_t ntfs_end = (ntfs_sectors + 1) * ss;  /* the backup boot sector included */
    uint64_t tail = (ntfs_end + META_AREA - 1) / META_AREA * META_AREA;
    if (tail > vol_size || vol_size - tail < TAIL_BYTES)
        die("%s: no room for the BitLocker metadata: only %" PRIu64 " bytes after the NTFS "
            "volume (it ends at %" PRIu64 " of %" PRIu64 "); BitLocker needs %u (64 KiB "
            "aligned) for its metadata and the relocated boot sectors; make NTFS at least "
            "%u KiB smaller than its partition",
            image, vol_size > ntfs_end ? vol_size - ntfs_end : 0, ntfs_end, vol_size, TAIL_BYTES,
            (TAIL_BYTES + META_AREA) / 1024);
    uint64_t meta_off[3] = { tail, tail + 2 * META_AREA, tail + 3 * META_AREA };
    uint64_t hdr_off = tail + META_AREA;
    uint32_t hdr_sectors = HEADER_BYTES / ss ? HEADER_BYTES / ss : 1;
    uint64_t hdr_bytes = (uint64_t)hdr_sectors * ss;

    /* ---- keys and identifiers */
    mbedtls_ctr_drbg_init(&drbg);
    if (mbedtls_ctr_drbg_seed(&drbg, entropy_cb, &ent, (const unsigned char *)"unloop bitlocker-encrypt", 24))
        die("cannot seed the random generator");
    struct keys k = { 0 };
    int64_t now_s;
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    if (sde)
        now_s = (int64_t)parse_u64("SOURCE_DATE_EPOCH", sde);
    else if (ent.seeded)
        now_s = 1721347200; /* 2024-07-19 00:00 UTC: reproducible images */
    else
        now_s = (int64_t)time(NULL);
    k.now = filetime(now_s);
    k.counter = 1;
    rnd(k.vmk, sizeof(k.vmk));
    k.fvek_len = m->key_len;
    rnd(k.fvek, k.fvek_len);
    uint8_t vol_guid[16], rp_guid[16], pw_guid[16], bek_guid[16], ck_guid[16], bek_key[32],
        clear[32], serial[4];
    rnd_guid(vol_guid);
    rnd_guid(rp_guid);
    rnd_guid(pw_guid);
    rnd_guid(bek_guid);
    rnd_guid(ck_guid);
    rnd(bek_key, sizeof(bek_key));
    rnd(clear, sizeof(clear));
    rnd(serial, sizeof(serial));

    char def_desc[64];
    if (!desc) {
        time_t t = (time_t)now_s;
        struct tm tm;
        gmtime_r(&t, &tm);
        /* Windows: "COMPUTER C: 7/19/2024". */
        snprintf(def_desc, sizeof(def_desc), "UNLOOP-TEST C: %d/%d/%d", tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_year + 1900);
        desc = def_desc;
    }

    /* ---- the metadata entries [bde: FVE metadata block] */
    static struct buf ents;
    struct buf nested, pl;
    ents.n = 0;
    string_entry(&ents, ENTRY_DESC, desc);
    if (clear_key) {
        /* [bde: FVE Volume Master Key (VMK)]: a clear key entry and the VMK
         * wrapped with it.  libbde's document has seen entry version 3
         * here, but libbde 20190102 (Debian) refuses any version but 1. */
        nested.n = 0;
        key_entry(&nested, ENTRY_PROPERTY, 1, KM_CLEAR, clear, 32);
        vmk_payload(&k, &pl);
        ccm_entry(&nested, &k, ENTRY_PROPERTY, clear, pl.d, pl.n);
        vmk_entry(&ents, &k, ck_guid, UL_BITLOCKER_PROT_CLEAR_KEY, 1, &nested);
    }
    if (pw)
        stretch_protector(&ents, &k, pw_guid, UL_BITLOCKER_PROT_PASSWORD, KM_STRETCH_PW,
                          pw_initial, NULL, 0);
    stretch_protector(&ents, &k, rp_guid, UL_BITLOCKER_PROT_RECOVERY_PASSWORD, KM_STRETCH_RP,
                      rp_initial, rp_raw, sizeof(rp_raw));
    if (bek_dir) {
        /* As Windows writes it: an "ExternalKey" description, then the VMK
         * wrapped with the .BEK file's key as it is. */
        nested.n = 0;
        string_entry(&nested, ENTRY_PROPERTY, "ExternalKey");
        vmk_payload(&k, &pl);
        ccm_entry(&nested, &k, ENTRY_PROPERTY, bek_key, pl.d, pl.n);
        vmk_entry(&ents, &k, bek_guid, UL_BITLOCKER_PROT_STARTUP_KEY, 1, &nested);
    }
    pl.n = 0;
    key_entry(&pl, ENTRY_PROPERTY, 0, m->id, k.fvek, k.fvek_len);
    ccm_entry(&ents, &k, ENTRY_FVEK, k.vmk, pl.d, pl.n);
    {
        /* [bde: FVE Volume header block], the Windows 7 form (offset, size). */
        uint8_t vh[16];
        put64(vh, hdr_off);
        put64(vh + 8, hdr_bytes);
        entry(&ents, ENTRY_VHEADER, VT_OFFSET_SIZE, 1, vh, sizeof(vh));
    }
    /* The validation block's nonce counter comes last (Windows: 9 after 8
     * for the FVEK), so the dataset's next counter is one past it. */
    uint32_t val_counter = k.counter++;

    /* ---- the metadata block: block header, metadata header, entries */
    static uint8_t meta[META_AREA];
    uint32_t ds_size = 48 + (uint32_t)ents.n;
    uint32_t size = (64 + ds_size + 15) / 16 * 16;
    if (size + 8 + 0x50 > META_AREA)
        die("internal error: metadata too large");
    memset(meta, 0, sizeof(meta));
    /* [bde: FVE metadata block header version 2] */
    memcpy(meta, "-FVE-FS-", 8);
    put16(meta + 8, (uint16_t)(size / 16));
    put16(meta + 10, 2);
    put16(meta + 12, UL_BITLOCKER_STATE_ENCRYPTED);
    put16(meta + 14, UL_BITLOCKER_STATE_ENCRYPTED);
    put64(meta + 16, vol_size);
    put32(meta + 24, 0);
    put32(meta + 28, hdr_sectors);
    for (int i = 0; i < 3; i++)
        put64(meta + 32 + 8 * i, meta_off[i]);
    put64(meta + 56, hdr_off);
    /* [bde: FVE metadata header] */
    uint8_t *ds = meta + 64;
    put32(ds, ds_size);
    put32(ds + 4, 1);
    put32(ds + 8, 48);
    put32(ds + 12, ds_size);
    memcpy(ds + 16, vol_guid, 16);
    put32(ds + 32, k.counter);
    /* The method, and again in the next 16 bits as Windows writes it. */
    put16(ds + 36, m->id);
    put16(ds + 38, m->id);
    put64(ds + 40, k.now);
    memcpy(ds + 48, ents.d, ents.n);
    /* The validation block after it (dislocker, bitlocker_validations_t):
     * u16 the bytes left in the 64 KiB area (Windows; read from testdata),
     * u16 version 2, u32 CRC-32 of the metadata, then an AES-CCM entry with
     * the metadata's SHA-256 wrapped with the VMK (key method 0x2005). */
    uint8_t *val = meta + size;
    put16(val, (uint16_t)(META_AREA - size));
    put16(val + 2, 2);
    put32(val + 4, ul_crc32(meta, size));
    {
        uint8_t h[32];
        struct buf vb;
        if (mbedtls_sha256_ret(meta, size, h, 0))
            die("SHA-256 failed");
        pl.n = 0;
        key_entry(&pl, ENTRY_PROPERTY, 0, KM_VALIDATION, h, 32);
        vb.n = 0;
        uint32_t save = k.counter;
        k.counter = val_counter;
        ccm_entry(&vb, &k, ENTRY_PROPERTY, k.vmk, pl.d, pl.n);
        k.counter = save;
        memcpy(val + 8, vb.d, vb.n);
    }
    wipe(&pl, sizeof(pl));
    wipe(&nested, sizeof(nested));

    /* ---- the volume header [bde: Volume header, BitLocker Windows 7 and
     * later]: FAT32-like BPB fields, the BitLocker identifier and the three
     * metadata offsets; no boot code. */
    static const uint8_t bitlocker_id[16] = {
        0x3b, 0xd6, 0x67, 0x49, 0x29, 0x2e, 0xd8, 0x4a,
        0x83, 0x99, 0xf6, 0xa3, 0x39, 0xe3, 0xd0, 0x01,
    };
    static uint8_t vh[4096];
    memset(vh, 0, sizeof(vh));
    vh[0] = 0xeb;
    vh[1] = 0x58;
    vh[2] = 0x90;
    memcpy(vh + 3, "-FVE-FS-", 8);
    put16(vh + 11, (uint16_t)ss);
    vh[13] = boot[13];                  /* sectors per cluster */
    vh[21] = 0xf8;                      /* media descriptor */
    put16(vh + 24, get16(boot + 24));   /* sectors per track */
    put16(vh + 26, get16(boot + 26));   /* heads */
    put32(vh + 28, get32(boot + 28));   /* hidden sectors: the volume's start */
    put32(vh + 36, 0x1fe0);
    put16(vh + 48, 1);
    put16(vh + 50, 6);
    vh[64] = 0x80;
    vh[66] = 0x29;
    memcpy(vh + 67, serial, 4);
    memcpy(vh + 71, "NO NAME    ", 11);
    memcpy(vh + 82, "FAT32   ", 8);
    memcpy(vh + 160, bitlocker_id, 16);
    for (int i = 0; i < 3; i++)
        put64(vh + 176 + 8 * i, meta_off[i]);
    vh[510] = 0x55;
    vh[511] = 0xaa;

    /* ---- the .BEK file [bde: BitLocker External Key (BEK) file], before
     * the volume is touched */
    char bek_path[4096] = "";
    char gs[37];
    if (bek_dir) {
        struct buf bek, ext;
        bek.n = 0;
        grow(&bek, 48);                 /* the header, filled in below */
        ext.n = 0;
        uint8_t *e = grow(&ext, 24);
        memcpy(e, bek_guid, 16);
        put64(e + 16, k.now);
        string_entry(&ext, ENTRY_PROPERTY, "ExternalKey");
        key_entry(&ext, ENTRY_PROPERTY, 1, KM_EXTERNAL, bek_key, 32);
        entry(&bek, ENTRY_STARTUP, VT_EXTERNAL, 1, ext.d, ext.n);
        uint8_t *h = bek.d;
        put32(h, (uint32_t)bek.n);
        put32(h + 4, 1);
        put32(h + 8, 48);
        put32(h + 12, (uint32_t)bek.n);
        memcpy(h + 16, bek_guid, 16);   /* the key's GUID, as in Windows' files */
        put32(h + 32, 1);
        put32(h + 36, 0);
        put64(h + 40, k.now);
        guid_str(bek_guid, gs);
        snprintf(bek_path, sizeof(bek_path), "%s/%s.BEK", bek_dir, gs);
        int bfd = open(bek_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (bfd < 0 || write(bfd, bek.d, bek.n) != (ssize_t)bek.n || close(bfd) < 0)
            die("%s: %s", bek_path, strerror(errno));
        wipe(&bek, sizeof(bek));
        wipe(&ext, sizeof(ext));
    }

    /* ---- the conversion.  Order: the relocated first sectors, the data,
     * the metadata copies, and the header last, so that an interrupted run
     * leaves a volume that still says NTFS. */
    struct cipher ci;
    cipher_init(&ci, m, k.fvek, ss);
    uint8_t *chunk = malloc(CHUNK);
    if (!chunk)
        die("out of memory");

    /* The first sectors, encrypted at their new place (readers decrypt
     * them with the physical offset: dislocker sectors.c, libbde). */
    pread_all(0, chunk, hdr_bytes);
    encrypt_sectors(&ci, hdr_off, chunk, hdr_bytes);
    pwrite_all(hdr_off, chunk, hdr_bytes);

    /* Every other sector of the partition in place, except the areas the
     * readers show as zeros (the metadata copies and the relocated area,
     * all in the tail) and sector 0 (the header, written last). */
    for (uint64_t off = ss; off < vol_size;) {
        uint64_t end = off + CHUNK < vol_size ? off + CHUNK : vol_size;
        if (off < tail && end > tail)
            end = tail;
        if (off >= tail && off < tail + TAIL_BYTES) {
            off = tail + TAIL_BYTES;
            continue;
        }
        size_t n = (size_t)(end - off);
        pread_all(off, chunk, n);
        encrypt_sectors(&ci, off, chunk, n);
        pwrite_all(off, chunk, n);
        off = end;
    }
    wipe(chunk, CHUNK);
    free(chunk);
    cipher_free(&ci);

    /* The relocated area past its 8 KiB, the copies' areas: zeros and the
     * metadata. */
    {
        static uint8_t zero[META_AREA];
        pwrite_all(hdr_off + hdr_bytes, zero, META_AREA - hdr_bytes);
        for (int i = 0; i < 3; i++)
            pwrite_all(meta_off[i], meta, META_AREA);
    }
    pwrite_all(0, vh, ss);
    if (fsync(fd) < 0 || close(fd) < 0)
        die("%s: %s", image, strerror(errno));

    guid_str(vol_guid, gs);
    info("%s: BitLocker, %s, volume GUID %s\n", image, ul_bitlocker_method_name(m->id), gs);
    info("  NTFS %" PRIu64 " bytes, encrypted %" PRIu64 " bytes, metadata at %" PRIu64
         ", %" PRIu64 ", %" PRIu64 ", first sectors at %" PRIu64 "\n",
         ntfs_end, vol_size, meta_off[0], meta_off[1], meta_off[2], hdr_off);
    if (clear_key) {
        guid_str(ck_guid, gs);
        info("  protector %s clear key\n", gs);
    }
    if (pw) {
        guid_str(pw_guid, gs);
        info("  protector %s password\n", gs);
    }
    guid_str(rp_guid, gs);
    info("  protector %s recovery password\n", gs);
    if (bek_dir) {
        guid_str(bek_guid, gs);
        info("  protector %s startup key: %s\n", gs, bek_path);
    }

    wipe(&k, sizeof(k));
    wipe(rp_raw, sizeof(rp_raw));
    wipe(rp_initial, sizeof(rp_initial));
    wipe(pw_initial, sizeof(pw_initial));
    wipe(bek_key, sizeof(bek_key));
    wipe(clear, sizeof(clear));
    mbedtls_ctr_drbg_free(&drbg);
    return 0;
}
