/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * BitLocker reader.  Layouts are those of libyal libbde's "BitLocker Drive
 * Encryption (BDE) format" (sections cited as [bde: Name]); where that
 * document is silent, dislocker and cryptsetup's lib/bitlk agree on the
 * behaviour noted here.  Every size, offset and count read from the volume
 * or a .BEK file is checked before it is used: metadata entries ("datums")
 * are walked with their sizes bounded by the entry that holds them, and
 * all arithmetic on offsets is in uint64_t with overflow checked first.
 *
 * Keys live only in the context (struct ul_bitlocker) and in stack buffers
 * that are wiped with mbedtls_platform_zeroize() before every return.
 */
#include "bitlocker.h"

#include <mbedtls/aes.h>
#include <mbedtls/ccm.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "crc32.h"
#include "string-util.h"
#include "ul-errno.h"

/* [bde: Volume header] Windows 7 and later. */
#define VH_SIGNATURE    3
#define VH_SECTOR_SIZE  11
#define VH_GUID         0xa0
#define VH_METADATA     0xb0
/* [bde: BitLocker To Go] */
#define TOGO_GUID       0x1a8
#define TOGO_METADATA   0x1b8

/* [bde: FVE metadata block header version 2] */
#define BH_SIGNATURE    0
#define BH_SIZE         8       /* u16, in units of 16 bytes for version 2 */
#define BH_VERSION      10
#define BH_STATE        12
#define BH_NEXT_STATE   14
#define BH_ENC_SIZE     16
#define BH_CONVERT_SIZE 24
#define BH_HDR_SECTORS  28
#define BH_METADATA     32
#define BH_HDR_OFFSET   56
#define BH_LEN          64

/* [bde: FVE metadata header], right after the block header. */
#define DS_SIZE         0
#define DS_VERSION      4
#define DS_HDR_SIZE     8
#define DS_GUID         16
#define DS_METHOD       36
#define DS_CREATED      40
#define DS_LEN          48

/* The validation structure after the metadata: u16 size, u16 version,
 * u32 CRC-32 of the metadata (block header included); dislocker,
 * "bitlocker_validations". */
#define VAL_CRC         4
#define VAL_LEN         8

/* [bde: FVE metadata entry] */
#define D_SIZE          0
#define D_ENTRY         2
#define D_VTYPE         4
#define D_LEN           8

/* Entry types [bde: FVE metadata entry types]. */
#define ENTRY_PROPERTY      0x0000
#define ENTRY_VMK           0x0002
#define ENTRY_FVEK          0x0003
#define ENTRY_STARTUP_KEY   0x0006
#define ENTRY_DESCRIPTION   0x0007
#define ENTRY_VOLUME_HEADER 0x000f

/* Value types [bde: FVE metadata value types]. */
#define VT_KEY          0x0001
#define VT_STRING       0x0002
#define VT_STRETCH_KEY  0x0003
#define VT_USE_KEY      0x0004
#define VT_AES_CCM      0x0005
#define VT_VMK          0x0008
#define VT_EXTERNAL_KEY 0x0009
#define VT_OFFSET_SIZE  0x000f

/* Field offsets inside entries, from the entry's start. */
#define KEY_METHOD      8       /* [bde: FVE key] */
#define KEY_DATA        12
#define STRETCH_SALT    12      /* [bde: FVE Stretch encrypted key] */
#define STRETCH_NESTED  28
#define USE_KEY_NESTED  12
#define CCM_NONCE       8       /* [bde: FVE AES-CCM encrypted key] */
#define CCM_TAG         20
#define CCM_DATA        36
#define VMK_GUID        8       /* [bde: FVE Volume Master Key (VMK)] */
#define VMK_MODIFIED    24
#define VMK_PROTECTION  34
#define VMK_NESTED      36
#define EXT_GUID        8       /* [bde: FVE External Key] */
#define EXT_NESTED      32
#define OS_OFFSET       8       /* [bde: FVE Volume header block] */
#define OS_SIZE         16

#define CCM_NONCE_LEN   12
#define CCM_TAG_LEN     16
/* The largest AES-CCM payload unwrapped: a key entry holds at most 64 key
 * bytes plus its header; anything much larger is not a key. */
#define CCM_MAX_DATA    512

/* Version 2 metadata areas are 64 KiB, rounded up to a sector (dislocker,
 * end_compute_regions; cryptsetup BITLK_FVE_METADATA_SIZE). */
#define META_AREA       0x10000u
#define MAX_DEPTH       4

/* The BitLocker identifier {4967d63b-2e29-4ad8-8399-f6a339e3d001}, on-disk
 * byte order [bde: Overview]. */
static const uint8_t bitlocker_guid[16] = {
    0x3b, 0xd6, 0x67, 0x49, 0x29, 0x2e, 0xd8, 0x4a,
    0x83, 0x99, 0xf6, 0xa3, 0x39, 0xe3, 0xd0, 0x01,
};

struct loc {
    uint32_t off, len;      /* an entry inside bl->meta */
};

/* What one metadata copy says; filled by check_copy(). */
struct parsed {
    struct ul_bitlocker_info info;  /* the metadata part of it */
    struct loc vmk[UL_BITLOCKER_MAX_PROTECTORS];
    struct loc fvek;
    bool have_header_area;
};

/* Regions read as zeros. */
struct region {
    uint64_t off, len;
};
#define MAX_REGIONS 5

struct ul_bitlocker {
    const struct ul_mem *mem;
    struct ul_bitlocker_dev dev;
    struct ul_bitlocker_info info;
    uint8_t meta[META_AREA];        /* the copy in use */
    uint8_t scratch[META_AREA];     /* the copy being checked; a sector bounce */
    struct loc vmk[UL_BITLOCKER_MAX_PROTECTORS];
    struct loc fvek;
    struct region zero[MAX_REGIONS];
    uint32_t n_zero;
    /* The sector cipher, set up by an unlock. */
    bool unlocked;
    uint16_t method;
    mbedtls_aes_context fvek_enc, fvek_dec, tweak_enc;
    mbedtls_aes_xts_context xts_enc, xts_dec;
    uint32_t diffuse[1024];         /* one 4096-byte sector as words */
};

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

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put_le64(uint8_t *p, uint64_t v)
{
    put_le32(p, (uint32_t)v);
    put_le32(p + 4, (uint32_t)(v >> 32));
}

static void wipe(void *p, size_t n)
{
    mbedtls_platform_zeroize(p, n);
}

static int fail(const char **ret_why, const char *why, int err)
{
    if (ret_why)
        *ret_why = why;
    return err;
}

/* ------------------------------------------------------------- names */

const char *ul_bitlocker_protector_name(uint16_t type)
{
    switch (type) {
    case UL_BITLOCKER_PROT_CLEAR_KEY: return "clear key";
    case UL_BITLOCKER_PROT_TPM: return "TPM";
    case UL_BITLOCKER_PROT_STARTUP_KEY: return "startup key";
    case UL_BITLOCKER_PROT_TPM_PIN: return "TPM and PIN";
    case UL_BITLOCKER_PROT_RECOVERY_PASSWORD: return "recovery password";
    case UL_BITLOCKER_PROT_PASSWORD: return "password";
    default: return "unknown";
    }
}

const char *ul_bitlocker_protector_key(uint16_t type)
{
    switch (type) {
    case UL_BITLOCKER_PROT_CLEAR_KEY: return "clear-key";
    case UL_BITLOCKER_PROT_TPM: return "tpm";
    case UL_BITLOCKER_PROT_STARTUP_KEY: return "startup-key";
    case UL_BITLOCKER_PROT_TPM_PIN: return "tpm-pin";
    case UL_BITLOCKER_PROT_RECOVERY_PASSWORD: return "recovery-password";
    case UL_BITLOCKER_PROT_PASSWORD: return "password";
    default: return "unknown";
    }
}

const char *ul_bitlocker_method_name(uint16_t method)
{
    switch (method) {
    case UL_BITLOCKER_AES_128_CBC_ELEPHANT: return "AES-CBC 128-bit with Elephant diffuser";
    case UL_BITLOCKER_AES_256_CBC_ELEPHANT: return "AES-CBC 256-bit with Elephant diffuser";
    case UL_BITLOCKER_AES_128_CBC: return "AES-CBC 128-bit";
    case UL_BITLOCKER_AES_256_CBC: return "AES-CBC 256-bit";
    case UL_BITLOCKER_AES_128_XTS: return "AES-XTS 128-bit";
    case UL_BITLOCKER_AES_256_XTS: return "AES-XTS 256-bit";
    default: return NULL;
    }
}

const char *ul_bitlocker_state_name(uint16_t state)
{
    switch (state) {
    case UL_BITLOCKER_STATE_DECRYPTED: return "decrypted";
    case UL_BITLOCKER_STATE_CONVERTING: return "converting";
    case UL_BITLOCKER_STATE_ENCRYPTED: return "encrypted";
    case UL_BITLOCKER_STATE_PAUSED: return "paused";
    default: return "unknown";
    }
}

/* ------------------------------------------------------------- entries */

/* An entry at pos of [base, base+len): 1 with the entry in *d and *dlen, 0 at the end of the
 * list (no room for a header, or a size of 0, which is padding), or
 * -UL_EBADMSG for an entry that runs past its container. */
static int next_entry(const uint8_t *base, size_t len, size_t *pos, const uint8_t **d,
                      size_t *dlen)
{
    if (*pos >= len || len - *pos < D_LEN)
        return 0;
    uint16_t size = get_le16(base + *pos + D_SIZE);
    if (size == 0)
        return 0;
    if (size < D_LEN || size > len - *pos)
        return -UL_EBADMSG;
    *d = base + *pos;
    *dlen = size;
    *pos += size;
    return 1;
}

/* The smallest entry of each value type, and where nested entries start
 * (0: none).  [bde: FVE metadata value types] and the sections after it. */
static void value_type_shape(uint16_t vt, size_t *min, size_t *nested)
{
    *nested = 0;
    switch (vt) {
    case VT_KEY: *min = KEY_DATA; break;
    case VT_STRETCH_KEY: *min = STRETCH_NESTED; *nested = STRETCH_NESTED; break;
    case VT_USE_KEY: *min = USE_KEY_NESTED; *nested = USE_KEY_NESTED; break;
    case VT_AES_CCM: *min = CCM_DATA; break;
    case VT_VMK: *min = VMK_NESTED; *nested = VMK_NESTED; break;
    case VT_EXTERNAL_KEY: *min = EXT_NESTED; *nested = EXT_NESTED; break;
    case VT_OFFSET_SIZE: *min = OS_SIZE + 8; break;
    default: *min = D_LEN; break;
    }
}

/* Checks every entry of a list, and the lists nested in them. */
static int check_entries(const uint8_t *base, size_t len, int depth)
{
    const uint8_t *d;
    size_t pos = 0, dlen;
    int r;

    if (depth > MAX_DEPTH)
        return -UL_EBADMSG;
    while ((r = next_entry(base, len, &pos, &d, &dlen)) > 0) {
        size_t min, nested;
        value_type_shape(get_le16(d + D_VTYPE), &min, &nested);
        if (dlen < min)
            return -UL_EBADMSG;
        if (nested && (r = check_entries(d + nested, dlen - nested, depth + 1)) < 0)
            return r;
    }
    return r;
}

/* The first entry of value type vt among those nested in entry d (whose
 * nested list starts at offset nested), at or after *pos. */
static bool find_nested(const uint8_t *d, size_t dlen, size_t nested, uint16_t vt, size_t *pos,
                        const uint8_t **ret, size_t *ret_len)
{
    const uint8_t *e;
    size_t elen;

    if (dlen < nested)
        return false;
    while (next_entry(d + nested, dlen - nested, pos, &e, &elen) > 0) {
        if (get_le16(e + D_VTYPE) == vt) {
            *ret = e;
            *ret_len = elen;
            return true;
        }
    }
    return false;
}

/* UTF-16LE (n bytes) to UTF-8, '?' for a broken surrogate; stops at NUL. */
static void utf16_to_utf8(const uint8_t *s, size_t n, char *out, size_t size)
{
    size_t o = 0;

    for (size_t i = 0; i + 1 < n; i += 2) {
        uint32_t c = get_le16(s + i);
        if (c == 0)
            break;
        if (c >= 0xd800 && c <= 0xdbff && i + 3 < n) {
            uint32_t lo = get_le16(s + i + 2);
            if (lo >= 0xdc00 && lo <= 0xdfff) {
                c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
                i += 2;
            } else {
                c = '?';
            }
        } else if (c >= 0xd800 && c <= 0xdfff) {
            c = '?';
        }
        if (c < 0x20)
            c = '?';
        uint8_t buf[4];
        size_t k;
        if (c < 0x80) {
            buf[0] = (uint8_t)c;
            k = 1;
        } else if (c < 0x800) {
            buf[0] = (uint8_t)(0xc0 | c >> 6);
            buf[1] = (uint8_t)(0x80 | (c & 0x3f));
            k = 2;
        } else if (c < 0x10000) {
            buf[0] = (uint8_t)(0xe0 | c >> 12);
            buf[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
            buf[2] = (uint8_t)(0x80 | (c & 0x3f));
            k = 3;
        } else {
            buf[0] = (uint8_t)(0xf0 | c >> 18);
            buf[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3f));
            buf[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
            buf[3] = (uint8_t)(0x80 | (c & 0x3f));
            k = 4;
        }
        if (o + k >= size)
            break;
        ul_memcpy(out + o, buf, k);
        o += k;
    }
    if (size)
        out[o] = '\0';
}

/* ------------------------------------------------------------- metadata */

/*
 * Checks one metadata copy (len bytes of its area in buf) and reads what
 * it says into *p.  Returns NULL, or why the copy is refused; *vista is set
 * for a Windows Vista (version 1) block.
 */
static const char *check_copy(const uint8_t *buf, size_t len, struct parsed *p, bool *vista)
{
    struct ul_bitlocker_info *in = &p->info;
    uint32_t size, ds_size;
    const uint8_t *d;
    size_t pos, dlen;
    int r;

    if (len < BH_LEN + DS_LEN + VAL_LEN)
        return "metadata area too small";
    if (ul_memcmp(buf + BH_SIGNATURE, "-FVE-FS-", 8) != 0)
        return "no -FVE-FS- signature";
    if (get_le16(buf + BH_VERSION) == 1) {
        *vista = true;
        return "Windows Vista metadata (version 1)";
    }
    if (get_le16(buf + BH_VERSION) != 2)
        return "unknown metadata version";
    size = (uint32_t)get_le16(buf + BH_SIZE) * 16;
    if (size < BH_LEN + DS_LEN || size > len - VAL_LEN)
        return "metadata size out of range";
    if (ul_crc32(buf, size) != get_le32(buf + size + VAL_CRC))
        return "CRC-32 mismatch";

    const uint8_t *ds = buf + BH_LEN;
    ds_size = get_le32(ds + DS_SIZE);
    if (get_le32(ds + DS_HDR_SIZE) != DS_LEN || ds_size < DS_LEN || ds_size > size - BH_LEN)
        return "metadata header size out of range";

    in->state = get_le16(buf + BH_STATE);
    in->next_state = get_le16(buf + BH_NEXT_STATE);
    in->encrypted_size = get_le64(buf + BH_ENC_SIZE);
    in->convert_size = get_le32(buf + BH_CONVERT_SIZE);
    in->header_sectors = get_le32(buf + BH_HDR_SECTORS);
    in->header_offset = get_le64(buf + BH_HDR_OFFSET);
    in->method = get_le16(ds + DS_METHOD);
    ul_memcpy(in->volume_guid.b, ds + DS_GUID, 16);
    in->created = get_le64(ds + DS_CREATED);

    const uint8_t *ents = ds + DS_LEN;
    size_t ents_len = ds_size - DS_LEN;
    if (check_entries(ents, ents_len, 0) < 0)
        return "malformed metadata entry";

    pos = 0;
    while ((r = next_entry(ents, ents_len, &pos, &d, &dlen)) > 0) {
        uint16_t entry = get_le16(d + D_ENTRY), vt = get_le16(d + D_VTYPE);
        struct loc l = { (uint32_t)(d - buf), (uint32_t)dlen };

        if (entry == ENTRY_VMK && vt == VT_VMK) {
            if (in->n_protectors == UL_BITLOCKER_MAX_PROTECTORS) {
                in->protectors_dropped++;
                continue;
            }
            struct ul_bitlocker_protector *pr = &in->protectors[in->n_protectors];
            ul_memcpy(pr->guid.b, d + VMK_GUID, 16);
            pr->modified = get_le64(d + VMK_MODIFIED);
            pr->type = get_le16(d + VMK_PROTECTION);
            p->vmk[in->n_protectors++] = l;
        } else if (entry == ENTRY_FVEK && vt == VT_AES_CCM) {
            if (!p->fvek.len)
                p->fvek = l;
        } else if (entry == ENTRY_DESCRIPTION && vt == VT_STRING) {
            utf16_to_utf8(d + D_LEN, dlen - D_LEN, in->description, sizeof(in->description));
        } else if (entry == ENTRY_VOLUME_HEADER && vt == VT_OFFSET_SIZE) {
            /* [bde: FVE Volume header block]: the same offset as the
             * block header's, and the size of the area kept for it. */
            if (get_le64(d + OS_OFFSET) != in->header_offset)
                return "volume header entry disagrees with the block header";
            in->header_area = get_le64(d + OS_SIZE);
            p->have_header_area = true;
        }
    }
    return NULL;
}

/* Reads and checks copy i into bl->scratch. */
static const char *read_copy(struct ul_bitlocker *bl, int i, uint64_t off, struct parsed *p,
                             bool *vista, bool *outside, int *io_err)
{
    uint64_t area = bl->info.metadata_area;

    ul_memset(p, 0, sizeof(*p));
    if (off == 0 || off % bl->info.sector_size)
        return "offset not on a sector boundary";
    if (off > bl->dev.size || area > bl->dev.size - off) {
        *outside = true;
        return "outside the volume";
    }
    int r = bl->dev.read(bl->dev.ctx, off, bl->scratch, (size_t)area);
    if (r < 0) {
        *io_err = r;
        return "read error";
    }
    (void)i;
    return check_copy(bl->scratch, (size_t)area, p, vista);
}

static void add_zero(struct ul_bitlocker *bl, uint64_t off, uint64_t len)
{
    if (off >= bl->dev.size || !len || bl->n_zero == MAX_REGIONS)
        return;
    if (len > bl->dev.size - off)
        len = bl->dev.size - off;
    bl->zero[bl->n_zero++] = (struct region){ off, len };
}

/* Checks what the chosen copy says against the volume it is on. */
static int check_layout(struct ul_bitlocker *bl, bool have_header_area, const char **ret_why)
{
    struct ul_bitlocker_info *in = &bl->info;
    uint64_t ss = in->sector_size, size = bl->dev.size;

    if (in->encrypted_size > size)
        return fail(ret_why, "BitLocker says more of the volume is encrypted than the volume "
                    "holds (truncated image, or the wrong partition?)", -UL_ERANGE);
    if (in->header_sectors) {
        uint64_t n = in->header_sectors;
        if (in->header_offset == 0 || in->header_offset % ss)
            return fail(ret_why, "relocated boot sectors at a bad offset", -UL_EBADMSG);
        if (n > size / ss || in->header_offset > size - n * ss)
            return fail(ret_why, "relocated boot sectors lie past the end of the volume "
                        "(truncated image?)", -UL_ERANGE);
    }
    if (!have_header_area)
        in->header_area = (uint64_t)in->header_sectors * ss;
    if (in->state == UL_BITLOCKER_STATE_CONVERTING && in->encrypted_size < size &&
        in->convert_size > size - in->encrypted_size)
        return fail(ret_why, "conversion area past the end of the volume", -UL_ERANGE);

    /* The areas dislocker and libbde show as zeros: the three metadata
     * copies, the area kept for the relocated boot sectors and, while a
     * conversion runs, the area being converted ([bde: Virtual sector(s)];
     * dislocker, end_compute_regions). */
    for (int i = 0; i < UL_BITLOCKER_COPIES; i++)
        add_zero(bl, in->metadata_offset[i], in->metadata_area);
    if (in->header_sectors)
        add_zero(bl, in->header_offset, in->header_area);
    if (in->state == UL_BITLOCKER_STATE_CONVERTING)
        add_zero(bl, in->encrypted_size, in->convert_size);
    return 0;
}

int ul_bitlocker_open(const struct ul_bitlocker_dev *dev, const struct ul_mem *mem,
                      struct ul_bitlocker **ret, const char **ret_why)
{
    struct ul_bitlocker *bl;
    struct parsed *p;
    uint8_t *vh;
    const uint8_t *offs;
    bool vista = false, outside = false, found = false;
    int io_err = 0, r;

    if (!dev || !dev->read || !mem || !ret)
        return fail(ret_why, "bad arguments", -UL_EINVAL);
    *ret = NULL;
    if (dev->size < 512)
        return fail(ret_why, "not a BitLocker volume (too small)", -UL_ENOENT);
    bl = mem->ops->alloc(mem->ctx, sizeof(*bl));
    p = mem->ops->alloc(mem->ctx, sizeof(*p));
    if (!bl || !p) {
        if (bl)
            mem->ops->free(mem->ctx, bl);
        if (p)
            mem->ops->free(mem->ctx, p);
        return fail(ret_why, "out of memory", -UL_ENOMEM);
    }
    bl->mem = mem;
    bl->dev = *dev;
    mbedtls_aes_init(&bl->fvek_enc);
    mbedtls_aes_init(&bl->fvek_dec);
    mbedtls_aes_init(&bl->tweak_enc);
    mbedtls_aes_xts_init(&bl->xts_enc);
    mbedtls_aes_xts_init(&bl->xts_dec);

    vh = bl->scratch;
    r = dev->read(dev->ctx, 0, vh, 512);
    if (r < 0) {
        fail(ret_why, "cannot read the volume header", r);
        goto err;
    }
    if (ul_memcmp(vh + VH_SIGNATURE, "-FVE-FS-", 8) == 0) {
        /* Windows Vista's header has no identifier here, and keeps the
         * metadata's cluster number at 0x38 instead [bde: Volume header]. */
        if (ul_memcmp(vh + VH_GUID, bitlocker_guid, 16) != 0) {
            r = fail(ret_why, "a Windows Vista BitLocker volume (not supported)", -UL_EOPNOTSUPP);
            goto err;
        }
        offs = vh + VH_METADATA;
    } else if (ul_memcmp(vh + VH_SIGNATURE, "MSWIN4.1", 8) == 0 &&
               ul_memcmp(vh + TOGO_GUID, bitlocker_guid, 16) == 0) {
        bl->info.to_go = true;
        offs = vh + TOGO_METADATA;
    } else {
        r = fail(ret_why, "not a BitLocker volume", -UL_ENOENT);
        goto err;
    }
    uint16_t ss = get_le16(vh + VH_SECTOR_SIZE);
    if (ss != 512 && ss != 1024 && ss != 2048 && ss != 4096) {
        r = fail(ret_why, "bad sector size in the volume header", -UL_EBADMSG);
        goto err;
    }
    bl->info.sector_size = ss;
    bl->info.volume_size = dev->size;
    bl->info.metadata_area = (META_AREA + ss - 1) / ss * ss;
    for (int i = 0; i < UL_BITLOCKER_COPIES; i++)
        bl->info.metadata_offset[i] = get_le64(offs + 8 * i);

    bl->info.copy_used = -1;
    for (int i = 0; i < UL_BITLOCKER_COPIES; i++) {
        const char *why = read_copy(bl, i, bl->info.metadata_offset[i], p, &vista, &outside,
                                    &io_err);
        bl->info.copy_error[i] = why;
        if (why || found)
            continue;
        found = true;
        bl->info.copy_used = i;
        ul_memcpy(bl->meta, bl->scratch, sizeof(bl->meta));
        /* Take over the metadata's part of the info; the volume's part
         * (sector size, offsets, copy status) stays. */
        struct ul_bitlocker_info *in = &bl->info, *pi = &p->info;
        in->encrypted_size = pi->encrypted_size;
        in->state = pi->state;
        in->next_state = pi->next_state;
        in->convert_size = pi->convert_size;
        in->method = pi->method;
        in->volume_guid = pi->volume_guid;
        in->created = pi->created;
        ul_memcpy(in->description, pi->description, sizeof(in->description));
        in->header_offset = pi->header_offset;
        in->header_sectors = pi->header_sectors;
        in->header_area = pi->header_area;
        in->n_protectors = pi->n_protectors;
        in->protectors_dropped = pi->protectors_dropped;
        ul_memcpy(in->protectors, pi->protectors, sizeof(in->protectors));
        ul_memcpy(bl->vmk, p->vmk, sizeof(bl->vmk));
        bl->fvek = p->fvek;
        r = check_layout(bl, p->have_header_area, ret_why);
        if (r < 0)
            goto err;
    }
    if (!found) {
        if (io_err)
            r = fail(ret_why, "cannot read the BitLocker metadata", io_err);
        else if (vista)
            r = fail(ret_why, "Windows Vista BitLocker metadata (not supported)", -UL_EOPNOTSUPP);
        else if (outside)
            r = fail(ret_why, "no valid BitLocker metadata copy inside the volume "
                     "(truncated image, or the wrong partition?)", -UL_ERANGE);
        else
            r = fail(ret_why, "no valid BitLocker metadata copy (all three are damaged)",
                     -UL_EBADMSG);
        goto err;
    }
    wipe(p, sizeof(*p));
    mem->ops->free(mem->ctx, p);
    *ret = bl;
    return 0;

err:
    wipe(p, sizeof(*p));
    mem->ops->free(mem->ctx, p);
    ul_bitlocker_close(bl);
    return r;
}

static void drop_keys(struct ul_bitlocker *bl)
{
    mbedtls_aes_free(&bl->fvek_enc);
    mbedtls_aes_free(&bl->fvek_dec);
    mbedtls_aes_free(&bl->tweak_enc);
    mbedtls_aes_xts_free(&bl->xts_enc);
    mbedtls_aes_xts_free(&bl->xts_dec);
    mbedtls_aes_init(&bl->fvek_enc);
    mbedtls_aes_init(&bl->fvek_dec);
    mbedtls_aes_init(&bl->tweak_enc);
    mbedtls_aes_xts_init(&bl->xts_enc);
    mbedtls_aes_xts_init(&bl->xts_dec);
    bl->unlocked = false;
}

void ul_bitlocker_close(struct ul_bitlocker *bl)
{
    if (!bl)
        return;
    const struct ul_mem *mem = bl->mem;
    drop_keys(bl);
    mbedtls_aes_free(&bl->fvek_enc);
    mbedtls_aes_free(&bl->fvek_dec);
    mbedtls_aes_free(&bl->tweak_enc);
    mbedtls_aes_xts_free(&bl->xts_enc);
    mbedtls_aes_xts_free(&bl->xts_dec);
    /* The scratch buffer has held decrypted sectors and key payloads. */
    wipe(bl, sizeof(*bl));
    mem->ops->free(mem->ctx, bl);
}

const struct ul_bitlocker_info *ul_bitlocker_get_info(const struct ul_bitlocker *bl)
{
    return &bl->info;
}

bool ul_bitlocker_is_unlocked(const struct ul_bitlocker *bl)
{
    return bl && bl->unlocked;
}

/* ------------------------------------------------------------- keys */

static ul_bitlocker_progress_fn progress_fn;
static void *progress_ctx;

void ul_bitlocker_set_progress(ul_bitlocker_progress_fn fn, void *ctx)
{
    progress_fn = fn;
    progress_ctx = ctx;
}

int ul_bitlocker_stretch(const uint8_t initial[32], const uint8_t salt[16], uint8_t out[32])
{
    /* [bde: Recovery key]: {last hash, initial hash, salt, counter}. */
    uint8_t st[32 + 32 + 16 + 8];
    mbedtls_sha256_context sha;
    int r = 0;

    ul_memset(st, 0, 32);
    ul_memcpy(st + 32, initial, 32);
    ul_memcpy(st + 64, salt, 16);
    mbedtls_sha256_init(&sha);
    for (uint64_t i = 0; i < UL_BITLOCKER_STRETCH_ROUNDS; i++) {
        if (progress_fn && (i & 0xFFFF) == 0)
            progress_fn(progress_ctx, (unsigned)(i * 100 / UL_BITLOCKER_STRETCH_ROUNDS));
        put_le64(st + 80, i);
        if (mbedtls_sha256_starts_ret(&sha, 0) || mbedtls_sha256_update_ret(&sha, st, sizeof(st)) ||
            mbedtls_sha256_finish_ret(&sha, st)) {
            r = -UL_EIO;
            break;
        }
    }
    if (r == 0)
        ul_memcpy(out, st, 32);
    if (progress_fn)
        progress_fn(progress_ctx, 100);
    mbedtls_sha256_free(&sha);
    wipe(st, sizeof(st));
    return r;
}

/* AES-CCM with a 12-byte nonce and a 16-byte tag, as BitLocker wraps keys
 * [bde: AES-CCM]: the entry holds nonce, tag, then the ciphertext.  The
 * plaintext goes to out (CCM_MAX_DATA bytes).  -UL_EACCES when the tag does
 * not match (the wrong key). */
static int ccm_unwrap(const uint8_t key[32], const uint8_t *d, size_t dlen, uint8_t *out,
                      size_t *ret_len)
{
    mbedtls_ccm_context ccm;
    size_t n;
    int r;

    if (dlen < CCM_DATA || dlen - CCM_DATA > CCM_MAX_DATA || dlen - CCM_DATA < D_LEN)
        return -UL_EBADMSG;
    n = dlen - CCM_DATA;
    mbedtls_ccm_init(&ccm);
    r = mbedtls_ccm_setkey(&ccm, MBEDTLS_CIPHER_ID_AES, key, 256);
    if (r == 0)
        r = mbedtls_ccm_auth_decrypt(&ccm, n, d + CCM_NONCE, CCM_NONCE_LEN, NULL, 0,
                                     d + CCM_DATA, out, d + CCM_TAG, CCM_TAG_LEN);
    mbedtls_ccm_free(&ccm);
    if (r == MBEDTLS_ERR_CCM_AUTH_FAILED) {
        wipe(out, n);
        return -UL_EACCES;
    }
    if (r) {
        wipe(out, n);
        return -UL_EIO;
    }
    *ret_len = n;
    return 0;
}

/* The key entry an AES-CCM payload holds [bde: Unencrypted data]: its key
 * bytes and length. */
static int payload_key(const uint8_t *pl, size_t len, const uint8_t **key, size_t *klen)
{
    if (len < KEY_DATA)
        return -UL_EBADMSG;
    uint16_t size = get_le16(pl + D_SIZE);
    if (size < KEY_DATA || size > len || get_le16(pl + D_VTYPE) != VT_KEY)
        return -UL_EBADMSG;
    *key = pl + KEY_DATA;
    *klen = size - KEY_DATA;
    return 0;
}

/* Unwraps the VMK of protector idx with key: tries each AES-CCM entry
 * nested directly in the VMK entry. */
static int vmk_unwrap(struct ul_bitlocker *bl, uint32_t idx, const uint8_t key[32],
                      uint8_t vmk[32])
{
    const uint8_t *d = bl->meta + bl->vmk[idx].off, *c;
    size_t dlen = bl->vmk[idx].len, clen, pos = 0;
    uint8_t pl[CCM_MAX_DATA];
    int r = -UL_EBADMSG;

    while (find_nested(d, dlen, VMK_NESTED, VT_AES_CCM, &pos, &c, &clen)) {
        size_t n;
        int e = ccm_unwrap(key, c, clen, pl, &n);
        if (e == -UL_EACCES) {
            r = e;
            continue;
        }
        if (e < 0) {
            r = e;
            continue;
        }
        const uint8_t *k;
        size_t klen;
        e = payload_key(pl, n, &k, &klen);
        if (e == 0 && klen >= 32) {
            ul_memcpy(vmk, k, 32);
            wipe(pl, sizeof(pl));
            return 0;
        }
        r = -UL_EBADMSG;
    }
    wipe(pl, sizeof(pl));
    return r;
}

/* Sets up the sector cipher from the FVEK key bytes. */
static int setup_cipher(struct ul_bitlocker *bl, const uint8_t *k, size_t klen)
{
    unsigned bits;
    int r = 0;

    drop_keys(bl);
    switch (bl->info.method) {
    case UL_BITLOCKER_AES_128_XTS:
    case UL_BITLOCKER_AES_256_XTS:
        /* key1 || key2, 2 x 16 or 2 x 32 bytes; the tweak is the sector
         * number (dislocker decrypt_xts; cryptsetup aes-xts-plain64). */
        bits = bl->info.method == UL_BITLOCKER_AES_128_XTS ? 256 : 512;
        if (klen < bits / 8)
            return -UL_EBADMSG;
        r = mbedtls_aes_xts_setkey_enc(&bl->xts_enc, k, bits) ||
            mbedtls_aes_xts_setkey_dec(&bl->xts_dec, k, bits);
        break;
    case UL_BITLOCKER_AES_128_CBC:
    case UL_BITLOCKER_AES_256_CBC:
        bits = bl->info.method == UL_BITLOCKER_AES_128_CBC ? 128 : 256;
        if (klen < bits / 8)
            return -UL_EBADMSG;
        r = mbedtls_aes_setkey_enc(&bl->fvek_enc, k, bits) ||
            mbedtls_aes_setkey_dec(&bl->fvek_dec, k, bits);
        break;
    case UL_BITLOCKER_AES_128_CBC_ELEPHANT:
    case UL_BITLOCKER_AES_256_CBC_ELEPHANT:
        /* [bde: Full Volume Encryption Key (FVEK)]: 64 key bytes, the FVEK
         * in the first 32 and the tweak key in the last 32, of which the
         * 128-bit method uses the first 16 each. */
        bits = bl->info.method == UL_BITLOCKER_AES_128_CBC_ELEPHANT ? 128 : 256;
        if (klen < 64)
            return -UL_EBADMSG;
        r = mbedtls_aes_setkey_enc(&bl->fvek_enc, k, bits) ||
            mbedtls_aes_setkey_dec(&bl->fvek_dec, k, bits) ||
            mbedtls_aes_setkey_enc(&bl->tweak_enc, k + 32, bits);
        break;
    default:
        return -UL_EOPNOTSUPP;
    }
    if (r) {
        drop_keys(bl);
        return -UL_EIO;
    }
    bl->method = bl->info.method;
    bl->unlocked = true;
    return 0;
}

/* From the VMK to a working sector cipher. */
static int open_fvek(struct ul_bitlocker *bl, const uint8_t vmk[32], const char **ret_why)
{
    uint8_t pl[CCM_MAX_DATA];
    const uint8_t *k;
    size_t n, klen;
    int r;

    if (!ul_bitlocker_method_name(bl->info.method))
        return fail(ret_why, "unknown encryption method", -UL_EOPNOTSUPP);
    if (!bl->fvek.len)
        return fail(ret_why, "the metadata has no FVEK entry", -UL_EBADMSG);
    r = ccm_unwrap(vmk, bl->meta + bl->fvek.off, bl->fvek.len, pl, &n);
    if (r == 0)
        r = payload_key(pl, n, &k, &klen);
    if (r == 0)
        r = setup_cipher(bl, k, klen);
    wipe(pl, sizeof(pl));
    if (r == -UL_EOPNOTSUPP)
        return fail(ret_why, "unknown encryption method", r);
    if (r < 0)
        return fail(ret_why, "the VMK opened but the FVEK entry did not (corrupt metadata?)",
                    r == -UL_EACCES ? -UL_EBADMSG : r);
    return 0;
}

/*
 * Tries every protector of the given type (and, if guid is not NULL, with
 * that GUID): derive() makes the key for its VMK from the VMK entry (its
 * stretch-key salt, its clear key) and arg; the first VMK that opens opens
 * the FVEK.
 */
typedef int (*derive_fn)(const void *arg, const uint8_t *vmk_entry, size_t len,
                         uint8_t key[32]);

static int unlock_with(struct ul_bitlocker *bl, uint16_t type, const struct ul_guid *guid,
                       derive_fn derive, const void *arg, int *ret_protector,
                       const char **ret_why)
{
    uint8_t key[32], vmk[32];
    bool any = false;
    int r = -UL_ENOENT;

    for (uint32_t i = 0; i < bl->info.n_protectors; i++) {
        if (bl->info.protectors[i].type != type ||
            (guid && !ul_guid_equal(&bl->info.protectors[i].guid, guid)))
            continue;
        any = true;
        int e = derive(arg, bl->meta + bl->vmk[i].off, bl->vmk[i].len, key);
        if (e == 0)
            e = vmk_unwrap(bl, i, key, vmk);
        wipe(key, sizeof(key));
        if (e == 0) {
            e = open_fvek(bl, vmk, ret_why);
            wipe(vmk, sizeof(vmk));
            if (e == 0 && ret_protector)
                *ret_protector = (int)i;
            return e;
        }
        /* A wrong key is what to report if any protector said so; a
         * damaged protector only if that is all there was. */
        if (r != -UL_EACCES)
            r = e;
    }
    wipe(vmk, sizeof(vmk));
    if (!any)
        return fail(ret_why, guid ? "the volume has no startup key protector with this key's GUID"
                                  : "the volume has no protector of this kind", -UL_ENOENT);
    if (r == -UL_EACCES)
        return fail(ret_why, "wrong key: no protector of this kind accepted it", r);
    return fail(ret_why, "the protector's metadata is damaged", r == -UL_EIO ? r : -UL_EBADMSG);
}

/* The stretched key of a password protector: arg is the initial hash, the
 * salt is in the VMK's stretch-key entry [bde: FVE Stretch encrypted key]. */
static int derive_stretch(const void *arg, const uint8_t *d, size_t len, uint8_t key[32])
{
    const uint8_t *s;
    size_t slen, pos = 0;

    if (!find_nested(d, len, VMK_NESTED, VT_STRETCH_KEY, &pos, &s, &slen))
        return -UL_EBADMSG;
    return ul_bitlocker_stretch(arg, s + STRETCH_SALT, key);
}

/* The key as it is (a startup key): arg is the 32 key bytes. */
static int derive_copy(const void *arg, const uint8_t *d, size_t len, uint8_t key[32])
{
    (void)d;
    (void)len;
    ul_memcpy(key, arg, 32);
    return 0;
}

/* The clear key: a key entry nested in the VMK entry [bde: FVE Volume
 * Master Key (VMK)]. */
static int derive_clear(const void *arg, const uint8_t *d, size_t len, uint8_t key[32])
{
    const uint8_t *k;
    size_t klen, pos = 0;

    (void)arg;
    while (find_nested(d, len, VMK_NESTED, VT_KEY, &pos, &k, &klen)) {
        if (klen - KEY_DATA >= 32) {
            ul_memcpy(key, k + KEY_DATA, 32);
            return 0;
        }
    }
    return -UL_EBADMSG;
}

/* ---- recovery password */

static const char *const rp_errors[] = {
    [UL_BITLOCKER_RP_OK] = "valid",
    [UL_BITLOCKER_RP_FORMAT] = "not 8 groups of 6 digits",
    [UL_BITLOCKER_RP_CHECK] = "check digit wrong (each group must be divisible by 11)",
    [UL_BITLOCKER_RP_RANGE] = "group too large (each group must be below 720896)",
};

const char *ul_bitlocker_rp_error_name(enum ul_bitlocker_rp_error e)
{
    if ((unsigned)e >= sizeof(rp_errors) / sizeof(rp_errors[0]))
        return "invalid";
    return rp_errors[e];
}

static uint32_t rp_group_value(const char *six)
{
    uint32_t v = 0;
    for (int i = 0; i < 6; i++)
        v = v * 10 + (uint32_t)(six[i] - '0');
    return v;
}

enum ul_bitlocker_rp_error ul_bitlocker_rp_check_group(const char *six, size_t len)
{
    int sum = 0;

    if (!six || len != 6)
        return UL_BITLOCKER_RP_FORMAT;
    for (int i = 0; i < 6; i++)
        if (six[i] < '0' || six[i] > '9')
            return UL_BITLOCKER_RP_FORMAT;
    /* The 6th digit checks the first five: d1 - d2 + d3 - d4 + d5 (mod 11),
     * which is the same as the group being divisible by 11 (10 = -1 mod
     * 11); a group whose first five digits give 10 has no valid check
     * digit at all. */
    for (int i = 0; i < 5; i++)
        sum += (i % 2 ? -1 : 1) * (six[i] - '0');
    sum = ((sum % 11) + 11) % 11;
    if (sum != six[5] - '0')
        return UL_BITLOCKER_RP_CHECK;
    if (rp_group_value(six) >= 720896)
        return UL_BITLOCKER_RP_RANGE;
    return UL_BITLOCKER_RP_OK;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int ul_bitlocker_parse_recovery_password(const char *s, uint8_t key[16],
                                         enum ul_bitlocker_rp_error *ret_err, int *ret_group)
{
    char g[6];
    size_t i = 0, end;
    enum ul_bitlocker_rp_error e = UL_BITLOCKER_RP_FORMAT;
    int group = 0;

    if (!s || !key)
        goto bad;
    end = ul_strlen(s);
    while (i < end && is_space(s[i]))
        i++;
    while (end > i && is_space(s[end - 1]))
        end--;
    for (group = 1; group <= 8; group++) {
        if (group > 1 && i < end && (s[i] == '-' || s[i] == ' '))
            i++;
        for (int k = 0; k < 6; k++, i++) {
            if (i >= end || s[i] < '0' || s[i] > '9') {
                group = 0;
                e = UL_BITLOCKER_RP_FORMAT;
                goto bad;
            }
            g[k] = s[i];
        }
        e = ul_bitlocker_rp_check_group(g, 6);
        if (e != UL_BITLOCKER_RP_OK)
            goto bad;
        /* [bde: Recovery key]: each group / 11 is a 16-bit little-endian
         * word of the key. */
        uint32_t w = rp_group_value(g) / 11;
        key[2 * (group - 1)] = (uint8_t)w;
        key[2 * (group - 1) + 1] = (uint8_t)(w >> 8);
    }
    if (i != end) {
        group = 0;
        e = UL_BITLOCKER_RP_FORMAT;
        goto bad;
    }
    wipe(g, sizeof(g));
    if (ret_err)
        *ret_err = UL_BITLOCKER_RP_OK;
    if (ret_group)
        *ret_group = 0;
    return 0;
bad:
    wipe(g, sizeof(g));
    if (key)
        wipe(key, 16);
    if (ret_err)
        *ret_err = e;
    if (ret_group)
        *ret_group = group;
    return -UL_EINVAL;
}

int ul_bitlocker_unlock_recovery_password(struct ul_bitlocker *bl, const char *password,
                                          int *ret_protector, const char **ret_why)
{
    uint8_t raw[16], initial[32];
    int r;

    if (!bl)
        return fail(ret_why, "bad arguments", -UL_EINVAL);
    r = ul_bitlocker_parse_recovery_password(password, raw, NULL, NULL);
    if (r < 0)
        return fail(ret_why, "malformed recovery password", r);
    r = mbedtls_sha256_ret(raw, sizeof(raw), initial, 0) ? -UL_EIO : 0;
    wipe(raw, sizeof(raw));
    if (r == 0)
        r = unlock_with(bl, UL_BITLOCKER_PROT_RECOVERY_PASSWORD, NULL, derive_stretch, initial,
                        ret_protector, ret_why);
    wipe(initial, sizeof(initial));
    return r;
}

/* ---- user password */

/* Decodes one UTF-8 sequence at s[*i]; -1 if malformed. */
static int32_t utf8_next(const uint8_t *s, size_t n, size_t *i)
{
    uint8_t c = s[*i];
    uint32_t cp;
    size_t k;

    if (c < 0x80) {
        (*i)++;
        return c;
    }
    if ((c & 0xe0) == 0xc0) {
        cp = c & 0x1f;
        k = 1;
    } else if ((c & 0xf0) == 0xe0) {
        cp = c & 0x0f;
        k = 2;
    } else if ((c & 0xf8) == 0xf0) {
        cp = c & 0x07;
        k = 3;
    } else {
        return -1;
    }
    if (n - *i <= k)
        return -1;
    for (size_t j = 1; j <= k; j++) {
        if ((s[*i + j] & 0xc0) != 0x80)
            return -1;
        cp = cp << 6 | (s[*i + j] & 0x3f);
    }
    /* No overlong forms, surrogates, or values past U+10FFFF. */
    if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return -1;
    *i += k + 1;
    return (int32_t)cp;
}

#define PASSWORD_MAX 256   /* characters; BitLocker allows 8 to 256 */

int ul_bitlocker_unlock_password(struct ul_bitlocker *bl, const char *password, size_t len,
                                 int *ret_protector, const char **ret_why)
{
    /* At most two UTF-16 units per character. */
    uint8_t u16[PASSWORD_MAX * 4], initial[32];
    size_t n = 0, i = 0;
    int r = 0;

    if (!bl || (!password && len))
        return fail(ret_why, "bad arguments", -UL_EINVAL);
    if (len == 0)
        return fail(ret_why, "empty password", -UL_EINVAL);
    for (size_t chars = 0; i < len; chars++) {
        int32_t cp = utf8_next((const uint8_t *)password, len, &i);
        if (cp <= 0 || chars == PASSWORD_MAX) {
            r = -UL_EINVAL;
            break;
        }
        if (cp >= 0x10000) {
            uint32_t v = (uint32_t)cp - 0x10000;
            uint16_t hi = (uint16_t)(0xd800 | v >> 10), lo = (uint16_t)(0xdc00 | (v & 0x3ff));
            u16[n++] = (uint8_t)hi;
            u16[n++] = (uint8_t)(hi >> 8);
            u16[n++] = (uint8_t)lo;
            u16[n++] = (uint8_t)(lo >> 8);
        } else {
            u16[n++] = (uint8_t)cp;
            u16[n++] = (uint8_t)(cp >> 8);
        }
    }
    /* [bde: User key]: SHA-256 of SHA-256 of the UTF-16LE password (no
     * terminating NUL), then the stretch. */
    if (r == 0 && (mbedtls_sha256_ret(u16, n, initial, 0) ||
                   mbedtls_sha256_ret(initial, 32, initial, 0)))
        r = -UL_EIO;
    wipe(u16, sizeof(u16));
    if (r == -UL_EINVAL) {
        wipe(initial, sizeof(initial));
        return fail(ret_why, "the password is not valid UTF-8, or longer than 256 characters",
                    r);
    }
    if (r == 0)
        r = unlock_with(bl, UL_BITLOCKER_PROT_PASSWORD, NULL, derive_stretch, initial,
                        ret_protector, ret_why);
    wipe(initial, sizeof(initial));
    return r;
}

/* ---- startup key (.BEK) */

/* The external-key entry of a .BEK file and its key bytes [bde: BitLocker
 * External Key (BEK) file]: a 48-byte header like the metadata header,
 * then entries, one of them an external key holding a key entry. */
static int bek_parse(const uint8_t *bek, size_t len, struct ul_guid *guid, const uint8_t **key)
{
    const uint8_t *d, *k;
    size_t pos = 0, dlen, klen;
    uint32_t size;
    int r;

    if (!bek || len < DS_LEN || len > 65536)
        return -UL_EINVAL;
    size = get_le32(bek + DS_SIZE);
    if (get_le32(bek + DS_HDR_SIZE) != DS_LEN || size < DS_LEN || size > len)
        return -UL_EINVAL;
    if (check_entries(bek + DS_LEN, size - DS_LEN, 0) < 0)
        return -UL_EINVAL;
    while ((r = next_entry(bek + DS_LEN, size - DS_LEN, &pos, &d, &dlen)) > 0) {
        if (get_le16(d + D_VTYPE) != VT_EXTERNAL_KEY)
            continue;
        size_t kpos = 0;
        while (find_nested(d, dlen, EXT_NESTED, VT_KEY, &kpos, &k, &klen)) {
            if (klen - KEY_DATA == 32) {
                ul_memcpy(guid->b, d + EXT_GUID, 16);
                *key = k + KEY_DATA;
                return 0;
            }
        }
    }
    return -UL_EINVAL;
}

int ul_bitlocker_bek_guid(const uint8_t *bek, size_t len, struct ul_guid *ret)
{
    const uint8_t *key;
    struct ul_guid g;
    int r = bek_parse(bek, len, &g, &key);
    if (r == 0 && ret)
        *ret = g;
    return r;
}

int ul_bitlocker_unlock_bek(struct ul_bitlocker *bl, const uint8_t *bek, size_t len,
                            int *ret_protector, const char **ret_why)
{
    struct ul_guid guid;
    const uint8_t *bek_key;
    uint8_t key[32];
    int r;

    if (!bl)
        return fail(ret_why, "bad arguments", -UL_EINVAL);
    if (bek_parse(bek, len, &guid, &bek_key) < 0)
        return fail(ret_why, "not a BitLocker startup key (.BEK) file", -UL_EINVAL);
    /* The key's GUID names its protector [bde: Startup key]. */
    ul_memcpy(key, bek_key, 32);
    r = unlock_with(bl, UL_BITLOCKER_PROT_STARTUP_KEY, &guid, derive_copy, key, ret_protector,
                    ret_why);
    wipe(key, sizeof(key));
    return r;
}

/* ---- clear key */

int ul_bitlocker_unlock_clear_key(struct ul_bitlocker *bl, int *ret_protector,
                                  const char **ret_why)
{
    if (!bl)
        return fail(ret_why, "bad arguments", -UL_EINVAL);
    int r = unlock_with(bl, UL_BITLOCKER_PROT_CLEAR_KEY, NULL, derive_clear, NULL, ret_protector,
                        ret_why);
    if (r == -UL_ENOENT)
        return fail(ret_why, "the volume has no clear key (protection is not suspended)", r);
    /* A clear key that does not open its own VMK is damage, not a wrong key. */
    if (r == -UL_EACCES)
        return fail(ret_why, "the clear key protector is damaged", -UL_EBADMSG);
    return r;
}

/* ------------------------------------------------------------- sectors */

/* The 16-byte little-endian byte offset of a sector: the CBC IV and the
 * Elephant sector key are made from it [bde: AES-CBC]. */
static void offset_block(uint64_t off, uint8_t b[16])
{
    ul_memset(b, 0, 16);
    put_le64(b, off);
}

static uint32_t rotl32(uint32_t v, unsigned n)
{
    return n ? v << n | v >> (32 - n) : v;
}

/*
 * The Elephant diffuser (Ferguson 2006, section 3.2): two un-keyed mixing
 * layers over the sector as 32-bit little-endian words d[0..n-1], indices
 * mod n.  Diffuser A runs 5 cycles with rotations {9, 0, 13, 0} and reads
 * d[i-2] and d[i-5]; diffuser B runs 3 cycles with {0, 10, 0, 25} and reads
 * d[i+2] and d[i+5].  The decrypting direction adds, going up; the
 * encrypting direction subtracts, going down, which undoes it step by step.
 */
static const unsigned rot_a[4] = { 9, 0, 13, 0 };
static const unsigned rot_b[4] = { 0, 10, 0, 25 };

/* The index arithmetic mod n only matters within 5 words of either end
 * (n >= 128 here: a sector is at least 512 bytes), so the loops do the
 * ends with it and the middle without. */
static void diffuse_a_decrypt(uint32_t *d, uint32_t n)
{
    for (int c = 0; c < 5; c++) {
        for (uint32_t i = 0; i < 5; i++)
            d[i] += d[(i + n - 2) % n] ^ rotl32(d[(i + n - 5) % n], rot_a[i % 4]);
        for (uint32_t i = 5; i < n; i++)
            d[i] += d[i - 2] ^ rotl32(d[i - 5], rot_a[i % 4]);
    }
}

static void diffuse_b_decrypt(uint32_t *d, uint32_t n)
{
    for (int c = 0; c < 3; c++) {
        for (uint32_t i = 0; i < n - 5; i++)
            d[i] += d[i + 2] ^ rotl32(d[i + 5], rot_b[i % 4]);
        for (uint32_t i = n - 5; i < n; i++)
            d[i] += d[(i + 2) % n] ^ rotl32(d[(i + 5) % n], rot_b[i % 4]);
    }
}

static void diffuse_a_encrypt(uint32_t *d, uint32_t n)
{
    for (int c = 0; c < 5; c++) {
        for (uint32_t i = n; i-- > 5;)
            d[i] -= d[i - 2] ^ rotl32(d[i - 5], rot_a[i % 4]);
        for (uint32_t i = 5; i-- > 0;)
            d[i] -= d[(i + n - 2) % n] ^ rotl32(d[(i + n - 5) % n], rot_a[i % 4]);
    }
}

static void diffuse_b_encrypt(uint32_t *d, uint32_t n)
{
    for (int c = 0; c < 3; c++) {
        for (uint32_t i = n; i-- > n - 5;)
            d[i] -= d[(i + 2) % n] ^ rotl32(d[(i + 5) % n], rot_b[i % 4]);
        for (uint32_t i = n - 5; i-- > 0;)
            d[i] -= d[i + 2] ^ rotl32(d[i + 5], rot_b[i % 4]);
    }
}

static void words_load(uint32_t *w, const uint8_t *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        w[i] = get_le32(b + 4 * i);
}

static void words_store(uint8_t *b, const uint32_t *w, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        put_le32(b + 4 * i, w[i]);
}

/* The Elephant sector key (Ferguson 2006, 3.1): E(tweak key, e(s)) ||
 * E(tweak key, e'(s)), e'(s) being e(s) with its last byte 128; 32 bytes,
 * repeated over the sector. */
static int sector_key(struct ul_bitlocker *bl, uint64_t off, uint8_t k[32])
{
    uint8_t b[16];
    int r;

    offset_block(off, b);
    r = mbedtls_aes_crypt_ecb(&bl->tweak_enc, MBEDTLS_AES_ENCRYPT, b, k);
    b[15] = 0x80;
    if (r == 0)
        r = mbedtls_aes_crypt_ecb(&bl->tweak_enc, MBEDTLS_AES_ENCRYPT, b, k + 16);
    return r ? -UL_EIO : 0;
}

/* One sector, in place, at volume byte offset off. */
static int crypt_sector(struct ul_bitlocker *bl, uint64_t off, uint8_t *s, bool enc)
{
    uint32_t ss = bl->info.sector_size, n = ss / 4;
    uint8_t iv[16], k[32];
    int r = 0;

    switch (bl->method) {
    case UL_BITLOCKER_AES_128_XTS:
    case UL_BITLOCKER_AES_256_XTS:
        offset_block(off / ss, iv);
        r = mbedtls_aes_crypt_xts(enc ? &bl->xts_enc : &bl->xts_dec,
                                  enc ? MBEDTLS_AES_ENCRYPT : MBEDTLS_AES_DECRYPT, ss, iv, s, s);
        break;
    case UL_BITLOCKER_AES_128_CBC:
    case UL_BITLOCKER_AES_256_CBC:
    case UL_BITLOCKER_AES_128_CBC_ELEPHANT:
    case UL_BITLOCKER_AES_256_CBC_ELEPHANT: {
        bool elephant = bl->method == UL_BITLOCKER_AES_128_CBC_ELEPHANT ||
                        bl->method == UL_BITLOCKER_AES_256_CBC_ELEPHANT;
        /* IV = E(FVEK, e(s)) [bde: AES-CBC]. */
        offset_block(off, iv);
        r = mbedtls_aes_crypt_ecb(&bl->fvek_enc, MBEDTLS_AES_ENCRYPT, iv, iv);
        if (r == 0 && elephant)
            r = sector_key(bl, off, k);
        if (r)
            break;
        if (enc && elephant) {
            for (uint32_t i = 0; i < ss; i++)
                s[i] ^= k[i % 32];
            words_load(bl->diffuse, s, n);
            diffuse_a_encrypt(bl->diffuse, n);
            diffuse_b_encrypt(bl->diffuse, n);
            words_store(s, bl->diffuse, n);
        }
        r = mbedtls_aes_crypt_cbc(enc ? &bl->fvek_enc : &bl->fvek_dec,
                                  enc ? MBEDTLS_AES_ENCRYPT : MBEDTLS_AES_DECRYPT, ss, iv, s, s);
        if (r == 0 && !enc && elephant) {
            words_load(bl->diffuse, s, n);
            diffuse_b_decrypt(bl->diffuse, n);
            diffuse_a_decrypt(bl->diffuse, n);
            words_store(s, bl->diffuse, n);
            for (uint32_t i = 0; i < ss; i++)
                s[i] ^= k[i % 32];
        }
        break;
    }
    default:
        r = -1;
        break;
    }
    wipe(k, sizeof(k));
    wipe(iv, sizeof(iv));
    return r ? -UL_EIO : 0;
}

static int crypt_sectors(struct ul_bitlocker *bl, uint64_t off, uint8_t *buf, size_t len, bool enc)
{
    uint32_t ss;

    if (!bl || !buf)
        return -UL_EINVAL;
    if (!bl->unlocked)
        return -UL_EACCES;
    ss = bl->info.sector_size;
    if (off % ss || len % ss || off > UINT64_MAX - len)
        return -UL_EINVAL;
    for (size_t i = 0; i < len; i += ss) {
        int r = crypt_sector(bl, off + i, buf + i, enc);
        if (r < 0)
            return r;
    }
    return 0;
}

int ul_bitlocker_decrypt_sectors(struct ul_bitlocker *bl, uint64_t off, uint8_t *buf, size_t len)
{
    return crypt_sectors(bl, off, buf, len, false);
}

int ul_bitlocker_encrypt_sectors(struct ul_bitlocker *bl, uint64_t off, uint8_t *buf, size_t len)
{
    return crypt_sectors(bl, off, buf, len, true);
}

/*
 * Whole sectors of the presented volume, [off, off + len), both multiples
 * of the sector size.  What dislocker (sectors.c, thread_decrypt) and
 * libbde present, in this order of precedence:
 *   1. the zero regions (metadata copies, the relocated-sector area, the
 *      conversion area) read as zeros;
 *   2. the first header_sectors sectors are read from header_offset on and
 *      decrypted with their own (physical) offset;
 *   3. sectors at or past encrypted_size are not encrypted;
 *   4. all others are decrypted in place.
 */
static int read_sectors(struct ul_bitlocker *bl, uint64_t off, uint8_t *buf, size_t len)
{
    const struct ul_bitlocker_info *in = &bl->info;
    uint32_t ss = in->sector_size;
    uint64_t hdr_end = (uint64_t)in->header_sectors * ss;
    int r;

    r = bl->dev.read(bl->dev.ctx, off, buf, len);
    if (r < 0)
        return r;
    for (size_t i = 0; i < len; i += ss) {
        uint64_t v = off + i, phys = v;
        if (v < hdr_end) {
            phys = in->header_offset + v;
            r = bl->dev.read(bl->dev.ctx, phys, buf + i, ss);
            if (r < 0)
                return r;
        }
        if (phys >= in->encrypted_size)
            continue;
        r = crypt_sector(bl, phys, buf + i, false);
        if (r < 0)
            return r;
    }
    for (uint32_t z = 0; z < bl->n_zero; z++) {
        const struct region *g = &bl->zero[z];
        uint64_t a = off > g->off ? off : g->off;
        uint64_t b = off + len < g->off + g->len ? off + len : g->off + g->len;
        if (a < b)
            ul_memset(buf + (a - off), 0, (size_t)(b - a));
    }
    return 0;
}

int ul_bitlocker_read(struct ul_bitlocker *bl, uint64_t off, void *buf, size_t len)
{
    uint8_t *out = buf;
    uint32_t ss;
    int r;

    if (!bl || (!buf && len))
        return -UL_EINVAL;
    if (!bl->unlocked)
        return -UL_EACCES;
    if (off > bl->dev.size || len > bl->dev.size - off)
        return -UL_ERANGE;
    ss = bl->info.sector_size;
    while (len) {
        uint64_t head = off % ss;
        if (head || len < ss) {
            /* A part of one sector, through the bounce buffer. */
            size_t n = ss - head < len ? ss - head : len;
            if (off - head >= bl->dev.size / ss * ss) {
                /* A last partial sector (a volume whose size is not a
                 * multiple of the sector size): as it is on disk. */
                r = bl->dev.read(bl->dev.ctx, off, out, n);
            } else {
                r = read_sectors(bl, off - head, bl->scratch, ss);
                if (r == 0)
                    ul_memcpy(out, bl->scratch + head, n);
                wipe(bl->scratch, ss);
            }
            if (r < 0)
                return r;
            off += n;
            out += n;
            len -= n;
            continue;
        }
        size_t n = len - len % ss;
        r = read_sectors(bl, off, out, n);
        if (r < 0)
            return r;
        off += n;
        out += n;
        len -= n;
    }
    return 0;
}

/* Does [off, off + len) overlap an area presented as zeros? */
static bool in_zero_region(const struct ul_bitlocker *bl, uint64_t off, uint64_t len)
{
    for (uint32_t z = 0; z < bl->n_zero; z++) {
        const struct region *g = &bl->zero[z];
        if (off < g->off + g->len && g->off < off + len)
            return true;
    }
    return false;
}

/* One sector of the presented volume at v; its new plaintext is in s (a
 * bounce the caller wipes), cur is a second bounce. */
static int write_sector(struct ul_bitlocker *bl, uint64_t v, uint8_t *s, uint8_t *cur)
{
    const struct ul_bitlocker_info *in = &bl->info;
    uint32_t ss = in->sector_size;
    uint64_t phys = v;
    int r;

    if (in_zero_region(bl, v, ss)) {
        r = read_sectors(bl, v, cur, ss);
        if (r < 0)
            return r;
        r = ul_memcmp(cur, s, ss) == 0 ? 0 : -UL_EIO;
        wipe(cur, ss);
        return r;
    }
    if (v < (uint64_t)in->header_sectors * ss)
        phys = in->header_offset + v;
    if (phys < in->encrypted_size) {
        r = crypt_sector(bl, phys, s, true);
        if (r < 0)
            return r;
    }
    return bl->dev.write(bl->dev.ctx, phys, s, ss);
}

int ul_bitlocker_write(struct ul_bitlocker *bl, uint64_t off, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint32_t ss;
    uint64_t whole;
    int r = 0;

    if (!bl || (!buf && len))
        return -UL_EINVAL;
    if (!bl->unlocked)
        return -UL_EACCES;
    if (!bl->dev.write)
        return -UL_EROFS;
    if (off > bl->dev.size || len > bl->dev.size - off)
        return -UL_ERANGE;
    ss = bl->info.sector_size;
    whole = bl->dev.size / ss * ss;
    /* Two sector bounces in scratch (META_AREA >= 2 * 4096). */
    uint8_t *s = bl->scratch, *cur = bl->scratch + ss;
    while (len && r == 0) {
        uint64_t head = off % ss, v = off - head;
        size_t n = ss - head < len ? (size_t)(ss - head) : len;
        if (v >= whole) {
            /* A last partial sector: stored as it is (ul_bitlocker_read). */
            r = bl->dev.write(bl->dev.ctx, off, p, n);
        } else {
            if (n != ss)
                r = read_sectors(bl, v, s, ss);
            if (r == 0) {
                ul_memcpy(s + head, p, n);
                r = write_sector(bl, v, s, cur);
            }
            wipe(s, ss);
        }
        off += n;
        p += n;
        len -= n;
    }
    return r;
}
