/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * loadopt: Boot#### load options made by libefiboot exactly as efibootmgr
 * makes them (efidp_make_hd + efidp_make_file + efi_loadopt_create, the
 * calls of efibootmgr's make_linux_load_option), read back field by field
 * and checked against libefiboot's own readers; a Windows Boot Manager entry
 * shaped as bcdedit writes it (HD/File plus "WINDOWS" optional data); a full
 * firmware path (PciRoot/Pci/HD/File, as the UEFI shell's bcfg writes it)
 * with the file path split over two nodes; and every malformation the
 * parser must refuse: truncations at every byte, node lengths 0 and 2, a
 * node past FilePathListLength, no End node, odd sizes, unterminated
 * strings.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <efivar/efiboot.h>

#include "loadopt.h"
#include "log.h"
#include "ul-errno.h"

static const char *const UNLOOP_PATH = "\\EFI\\unloop\\unloop.efi";
static const char *const WIN_PATH = "\\EFI\\Microsoft\\Boot\\bootmgfw.efi";

/* The ESP of the test machine: partition 1, GPT, its unique GUID. */
static const uint8_t ESP_GUID_LE[16] = { 0x78, 0x56, 0x34, 0x12, 0xbc, 0x9a, 0xf0, 0xde,
                                         0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
#define ESP_START 2048u
#define ESP_SIZE 204800u

/* efibootmgr -c -d DISK -p 1 -L LABEL -l PATH [-@ optional]: the same
 * libefiboot calls, with the partition given instead of read from a disk. */
static size_t make_efibootmgr(uint8_t *buf, size_t size, uint32_t attrs, const char *label,
                              const char *path, const uint8_t *opt, size_t opt_len)
{
    uint8_t dp[1024];
    ssize_t n = 0, r;
    r = efidp_make_hd(dp, sizeof(dp), 1, ESP_START, ESP_SIZE, (uint8_t *)ESP_GUID_LE,
                      EFIDP_HD_FORMAT_GPT, EFIDP_HD_SIGNATURE_GUID);
    assert_true(r > 0);
    n += r;
    r = efidp_make_file(dp + n, sizeof(dp) - n, (char *)path);
    assert_true(r > 0);
    n += r;
    r = efidp_make_end_entire(dp + n, sizeof(dp) - n);
    assert_true(r > 0);
    n += r;
    r = efi_loadopt_create(buf, size, attrs, (efidp)dp, n, (unsigned char *)label,
                           (uint8_t *)opt, opt_len);
    assert_true(r > 0 && (size_t)r <= size);
    return (size_t)r;
}

static void test_efibootmgr_entry(void **state)
{
    (void)state;
    uint8_t buf[2048];
    static struct ul_load_option o;
    const char *why = NULL;
    size_t n = make_efibootmgr(buf, sizeof(buf), UL_LOAD_OPTION_ACTIVE, "unloop", UNLOOP_PATH,
                               NULL, 0);

    assert_int_equal(ul_loadopt_parse(buf, n, &o, &why), 0);
    assert_int_equal(o.attributes, UL_LOAD_OPTION_ACTIVE);
    /* libefiboot's own readers as the oracle */
    assert_int_equal(o.file_path_list_length, efi_loadopt_pathlen((efi_load_option *)buf, n));
    assert_ptr_equal(o.file_path_list, (uint8_t *)efi_loadopt_path((efi_load_option *)buf, n));
    char desc[64];
    ul_loadopt_desc_ascii(&o, desc, sizeof(desc));
    assert_string_equal(desc, "unloop");
    assert_string_equal(desc, (const char *)efi_loadopt_desc((efi_load_option *)buf, n));
    assert_int_equal(o.optional_data_size, 0);
    assert_null(o.optional_data);

    assert_true(o.has_hd);
    assert_int_equal(o.hd.part_number, 1);
    assert_int_equal(o.hd.start, ESP_START);
    assert_int_equal(o.hd.size, ESP_SIZE);
    assert_memory_equal(o.hd.signature, ESP_GUID_LE, 16);
    assert_int_equal(o.hd.format, UL_HD_FORMAT_GPT);
    assert_int_equal(o.hd.sig_type, UL_HD_SIG_GUID);
    assert_int_equal(o.n_file_nodes, 1);
    assert_true(ul_loadopt_path_equal(o.path, UNLOOP_PATH));
    char p[128];
    ul_loadopt_path_ascii(o.path, p, sizeof(p));
    assert_string_equal(p, UNLOOP_PATH);
    assert_false(ul_loadopt_path_equal(o.path, WIN_PATH));

    struct ul_hd_node hd;
    assert_int_equal(ul_dp_find_hd(o.file_path_list, o.file_path_list_length, &hd), 0);
    assert_true(ul_hd_same_partition(&hd, &o.hd));
}

/* What bcdedit leaves after the Windows Boot Manager's path. */
static size_t windows_optional(uint8_t *out)
{
    static const char bcd[] = "BCDOBJECT={9dea862c-5cdd-4e70-acc1-f32b344d4795}";
    size_t n = 0;
    memcpy(out, "WINDOWS", 8);
    n = 8;
    uint32_t hdr[3] = { 1, 0x88, 0x78 };
    memcpy(out + n, hdr, sizeof(hdr));
    n += sizeof(hdr);
    for (size_t i = 0; i <= strlen(bcd); i++) {
        out[n++] = (uint8_t)bcd[i];
        out[n++] = 0;
    }
    while (n < 0x88 - 4)
        out[n++] = 0;
    memcpy(out + n, "\x7f\xff\x04\x00", 4);
    return n + 4;
}

static void test_windows_entry(void **state)
{
    (void)state;
    uint8_t buf[2048], opt[0x88];
    static struct ul_load_option o;
    size_t ol = windows_optional(opt);
    size_t n = make_efibootmgr(buf, sizeof(buf), UL_LOAD_OPTION_ACTIVE, "Windows Boot Manager",
                               WIN_PATH, opt, ol);

    assert_int_equal(ul_loadopt_parse(buf, n, &o, NULL), 0);
    assert_int_equal(o.optional_data_size, 0x88);
    assert_memory_equal(o.optional_data, opt, 0x88);
    assert_true(ul_loadopt_path_equal(o.path, WIN_PATH));
    /* FAT is case-insensitive, and '/' reads as '\'. */
    assert_true(ul_loadopt_path_equal(o.path, "\\efi\\microsoft\\boot\\BOOTMGFW.EFI"));
    assert_true(ul_loadopt_path_equal(o.path, "/EFI/Microsoft/Boot/bootmgfw.efi"));
    assert_true(ul_loadopt_path_equal(o.path, "EFI\\Microsoft\\Boot\\bootmgfw.efi"));
    assert_false(ul_loadopt_path_equal(o.path, "\\EFI\\Microsoft\\Boot\\bootmgfw.ef"));
    assert_false(ul_loadopt_path_equal(o.path, "\\EFI\\Microsoft\\Boot\\bootmgfw.efi2"));
    assert_false(ul_loadopt_path_equal(o.path, "\\EFI\\Microsoft\\Boot\\bootmgfw.efi\\"));
    assert_false(ul_loadopt_path_equal(o.path, ""));

    /* Inactive (bcdedit /set {fwbootmgr} ... or efibootmgr -A). */
    n = make_efibootmgr(buf, sizeof(buf), 0, "Windows Boot Manager", WIN_PATH, opt, ol);
    assert_int_equal(ul_loadopt_parse(buf, n, &o, NULL), 0);
    assert_int_equal(o.attributes & UL_LOAD_OPTION_ACTIVE, 0);
}

/* Device path nodes, by hand. */
static size_t node(uint8_t *p, uint8_t type, uint8_t sub, const void *data, size_t len)
{
    p[0] = type;
    p[1] = sub;
    p[2] = (uint8_t)(len + 4);
    p[3] = (uint8_t)((len + 4) >> 8);
    if (len)
        memcpy(p + 4, data, len);
    return len + 4;
}

static size_t file_node(uint8_t *p, const char *path)
{
    uint8_t s[2048];
    size_t n = 0;
    for (size_t i = 0; i <= strlen(path); i++) {
        s[n++] = (uint8_t)path[i];
        s[n++] = 0;
    }
    return node(p, 4, 4, s, n);
}

static size_t hd_node(uint8_t *p, uint32_t part)
{
    uint8_t d[38] = { 0 };
    uint64_t start = ESP_START, size = ESP_SIZE;
    memcpy(d, &part, 4);
    memcpy(d + 4, &start, 8);
    memcpy(d + 12, &size, 8);
    memcpy(d + 20, ESP_GUID_LE, 16);
    d[36] = 2;
    d[37] = 2;
    return node(p, 4, 1, d, sizeof(d));
}

static size_t option(uint8_t *buf, uint32_t attrs, const char *desc, const uint8_t *dp,
                     size_t dp_len, const void *opt, size_t opt_len)
{
    size_t n = 0;
    memcpy(buf, &attrs, 4);
    buf[4] = (uint8_t)dp_len;
    buf[5] = (uint8_t)(dp_len >> 8);
    n = 6;
    for (size_t i = 0; i <= strlen(desc); i++) {
        buf[n++] = (uint8_t)desc[i];
        buf[n++] = 0;
    }
    memcpy(buf + n, dp, dp_len);
    n += dp_len;
    if (opt_len)
        memcpy(buf + n, opt, opt_len);
    return n + opt_len;
}

/* PciRoot(0)/Pci(3,0)/HD(1,GPT,...)/\EFI\Microsoft/Boot\bootmgfw.efi: the full
 * path the UEFI shell's bcfg writes, the file path split over two nodes
 * (allowed by the spec, 10.3.5.4), then a second instance after End Instance. */
static void test_full_path_split_file(void **state)
{
    (void)state;
    uint8_t dp[512], buf[1024];
    static struct ul_load_option o;
    size_t n = 0;
    uint32_t hid[2] = { 0x0a0341d0, 0 };
    uint8_t pci[2] = { 0, 3 };
    n += node(dp + n, 2, 1, hid, sizeof(hid));
    n += node(dp + n, 1, 1, pci, sizeof(pci));
    n += hd_node(dp + n, 1);
    n += file_node(dp + n, "\\EFI\\Microsoft");
    n += file_node(dp + n, "Boot\\bootmgfw.efi");
    n += node(dp + n, 0x7f, 0x01, NULL, 0);
    n += file_node(dp + n, "\\other.efi");
    n += node(dp + n, 0x7f, 0xff, NULL, 0);
    size_t len = option(buf, 1, "Windows Boot Manager", dp, n, NULL, 0);

    assert_int_equal(ul_loadopt_parse(buf, len, &o, NULL), 0);
    assert_int_equal(o.n_file_nodes, 2);
    assert_true(ul_loadopt_path_equal(o.path, WIN_PATH));
    assert_true(o.has_hd);
    assert_int_equal(o.hd.part_number, 1);

    /* The same path alone (a loaded image's FilePath). */
    static struct ul_load_option p;
    assert_int_equal(ul_dp_parse_path(dp, n, &p, NULL), 0);
    assert_true(ul_loadopt_path_equal(p.path, WIN_PATH));

    /* A path with no HD node: none found; a path of File nodes only. */
    uint8_t fp[256];
    size_t k = file_node(fp, UNLOOP_PATH);
    k += node(fp + k, 0x7f, 0xff, NULL, 0);
    struct ul_hd_node hd;
    assert_int_equal(ul_dp_find_hd(fp, k, &hd), -UL_ENOENT);
    assert_int_equal(ul_dp_parse_path(fp, k, &p, NULL), 0);
    assert_false(p.has_hd);
    assert_true(ul_loadopt_path_equal(p.path, UNLOOP_PATH));
}

static void test_same_partition(void **state)
{
    (void)state;
    struct ul_hd_node a = { .part_number = 1, .start = 2048, .size = 4096,
                            .format = 2, .sig_type = UL_HD_SIG_GUID };
    memcpy(a.signature, ESP_GUID_LE, 16);
    struct ul_hd_node b = a;
    assert_true(ul_hd_same_partition(&a, &b));
    b.signature[15] ^= 1;
    assert_false(ul_hd_same_partition(&a, &b));
    b = a;
    b.part_number = 2;
    assert_false(ul_hd_same_partition(&a, &b));
    b = a;
    b.start++;
    assert_false(ul_hd_same_partition(&a, &b));
    /* A zero GUID names nothing. */
    memset(a.signature, 0, 16);
    b = a;
    assert_false(ul_hd_same_partition(&a, &b));
    /* MBR: the 32-bit disk signature. */
    struct ul_hd_node m = { .part_number = 1, .start = 63, .format = 1, .sig_type = UL_HD_SIG_MBR,
                            .signature = { 0xde, 0xad, 0xbe, 0xef } };
    struct ul_hd_node m2 = m;
    m2.size = 7; /* not compared for MBR */
    assert_true(ul_hd_same_partition(&m, &m2));
    m2.signature[0] = 0;
    assert_false(ul_hd_same_partition(&m, &m2));
    m.sig_type = m2.sig_type = UL_HD_SIG_NONE;
    assert_false(ul_hd_same_partition(&m, &m));
}

static void expect_bad(const uint8_t *buf, size_t len, const char *why_part)
{
    static struct ul_load_option o;
    const char *why = NULL;
    uint8_t *copy = malloc(len ? len : 1);   /* exact size: ASan sees any overread */
    memcpy(copy, buf, len);
    int r = ul_loadopt_parse(copy, len, &o, &why);
    free(copy);
    assert_int_equal(r, -UL_EBADMSG);
    assert_non_null(why);
    if (why_part && !strstr(why, why_part))
        fail_msg("why: '%s', want '%s'", why, why_part);
    assert_int_equal(o.path[0], 0);
    assert_false(o.has_hd);
}

/* Every truncation of a real option is refused (or, past FilePathList,
 * parsed with shorter optional data), never read out of bounds. */
static void test_truncated_every_byte(void **state)
{
    (void)state;
    uint8_t buf[2048], opt[0x88];
    size_t ol = windows_optional(opt);
    size_t n = make_efibootmgr(buf, sizeof(buf), 1, "Windows Boot Manager", WIN_PATH, opt, ol);
    size_t fixed = n - ol;
    for (size_t len = 0; len < n; len++) {
        static struct ul_load_option o;
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, buf, len);
        int r = ul_loadopt_parse(copy, len, &o, NULL);
        free(copy);
        if (len < fixed) {
            assert_int_equal(r, -UL_EBADMSG);
        } else {
            assert_int_equal(r, 0);
            assert_int_equal(o.optional_data_size, len - fixed);
        }
    }
}

static void test_malformed(void **state)
{
    (void)state;
    uint8_t dp[512], buf[1024];
    size_t n, len;

    /* too short for the header */
    expect_bad((const uint8_t *)"\1\0\0\0\4\0", 6, "header");
    expect_bad((const uint8_t *)"", 0, "header");
    /* description not terminated: runs to the end */
    memcpy(buf, "\1\0\0\0\4\0A\0B\0C\0", 12);
    expect_bad(buf, 12, "description");
    /* an odd last byte after the description's characters */
    memcpy(buf, "\1\0\0\0\4\0A\0B\0C", 11);
    expect_bad(buf, 11, "description");

    /* FilePathListLength 0 */
    n = node(dp, 0x7f, 0xff, NULL, 0);
    len = option(buf, 1, "x", dp, n, NULL, 0);
    buf[4] = buf[5] = 0;
    expect_bad(buf, len, "FilePathListLength is 0");
    /* FilePathListLength past the end */
    len = option(buf, 1, "x", dp, n, NULL, 0);
    buf[4] = 5;
    expect_bad(buf, len, "past the end");

    /* node lengths 0 and 2 (shorter than the header): no endless loop */
    for (int l = 0; l < 4; l++) {
        n = hd_node(dp, 1);
        n += file_node(dp + n, WIN_PATH);
        size_t bad_at = n;
        n += node(dp + n, 0x7f, 0xff, NULL, 0);
        dp[bad_at + 2] = (uint8_t)l;
        len = option(buf, 1, "x", dp, n, NULL, 0);
        expect_bad(buf, len, "shorter than its 4-byte header");
    }
    /* a node running past FilePathListLength (but inside the buffer:
     * optional data follows) */
    n = hd_node(dp, 1);
    n += file_node(dp + n, WIN_PATH);
    n += node(dp + n, 0x7f, 0xff, NULL, 0);
    len = option(buf, 1, "x", dp, n - 4, dp + n - 4, 4);
    expect_bad(buf, len, "ends without an End node");
    dp[42 + 2] = 0xff; /* the file node claims 255 bytes */
    len = option(buf, 1, "x", dp, n, "0123456789", 10);
    expect_bad(buf, len, "past FilePathListLength");

    /* no End node at all: File nodes fill the list exactly */
    n = file_node(dp, WIN_PATH);
    len = option(buf, 1, "x", dp, n, NULL, 0);
    expect_bad(buf, len, "ends without an End node");
    /* End Instance only, no End Entire */
    n = file_node(dp, WIN_PATH);
    n += node(dp + n, 0x7f, 0x01, NULL, 0);
    len = option(buf, 1, "x", dp, n, NULL, 0);
    expect_bad(buf, len, "ends without an End node");

    /* file path not NUL-terminated */
    n = node(dp, 4, 4, "\\\0E\0F\0I\0", 8);
    n += node(dp + n, 0x7f, 0xff, NULL, 0);
    len = option(buf, 1, "x", dp, n, NULL, 0);
    expect_bad(buf, len, "not NUL-terminated");
    /* file node of odd length */
    n = node(dp, 4, 4, "\\\0E\0\0\0\0", 7);
    n += node(dp + n, 0x7f, 0xff, NULL, 0);
    len = option(buf, 1, "x", dp, n, NULL, 0);
    expect_bad(buf, len, "odd length");
    /* HD node of the wrong size */
    uint8_t short_hd[30] = { 0 };
    n = node(dp, 4, 1, short_hd, sizeof(short_hd));
    n += node(dp + n, 0x7f, 0xff, NULL, 0);
    len = option(buf, 1, "x", dp, n, NULL, 0);
    expect_bad(buf, len, "not 42 bytes");
    struct ul_hd_node hd;
    assert_int_equal(ul_dp_find_hd(dp, n, &hd), -UL_EBADMSG);

    /* a path longer than UL_LOADOPT_PATH_MAX: refused, not cut */
    char longp[400];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = 0;
    uint8_t big[4096];     /* two file nodes of 399 characters each */
    size_t bn = 0;
    for (int i = 0; i < 2; i++)
        bn += file_node(big + bn, longp);
    bn += node(big + bn, 0x7f, 0xff, NULL, 0);
    static struct ul_load_option o;
    uint8_t obuf[4200];
    len = option(obuf, 1, "x", big, bn, NULL, 0);
    assert_int_equal(ul_loadopt_parse(obuf, len, &o, NULL), -UL_ENAMETOOLONG);
    assert_int_equal(ul_loadopt_parse(NULL, 8, &o, NULL), -UL_EINVAL);
}

/* A non-ASCII character in the path matches nothing ASCII. */
static void test_non_ascii(void **state)
{
    (void)state;
    uint8_t dp[64], buf[128];
    static struct ul_load_option o;
    /* "\é" where é (U+00E9) must not fold to 'e' or 'E' */
    size_t n = node(dp, 4, 4, "\\\0\xe9\0\0\0", 6);
    n += node(dp + n, 0x7f, 0xff, NULL, 0);
    size_t len = option(buf, 1, "x", dp, n, NULL, 0);
    assert_int_equal(ul_loadopt_parse(buf, len, &o, NULL), 0);
    assert_false(ul_loadopt_path_equal(o.path, "\\e"));
    assert_false(ul_loadopt_path_equal(o.path, "\\\xe9"));
    char a[8];
    ul_loadopt_path_ascii(o.path, a, sizeof(a));
    assert_string_equal(a, "\\?");
}

static void test_boot_order(void **state)
{
    (void)state;
    uint16_t out[4];
    size_t n;
    const uint8_t bo[] = { 0x80, 0x00, 0x81, 0x00, 0x00, 0x00, 0x03, 0x10 };
    assert_int_equal(ul_boot_order_parse(bo, sizeof(bo), out, 4, &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(out[0], 0x80);
    assert_int_equal(out[1], 0x81);
    assert_int_equal(out[2], 0);
    assert_int_equal(out[3], 0x1003);
    assert_int_equal(ul_boot_order_parse(bo, 7, out, 4, &n), -UL_EBADMSG);
    assert_int_equal(n, 0);
    assert_int_equal(ul_boot_order_parse(bo, sizeof(bo), out, 3, &n), -UL_E2BIG);
    assert_int_equal(n, 3);
    assert_int_equal(ul_boot_order_parse(NULL, 0, out, 3, &n), 0);
    assert_int_equal(n, 0);

    char name[9];
    ul_boot_var_name(0x00ab, name);
    assert_string_equal(name, "Boot00AB");
    ul_boot_var_name(0xffff, name);
    assert_string_equal(name, "BootFFFF");
}

/* ------------------------------------------------ the bootnext choice */

struct fake_var {
    uint16_t num;
    int err;                   /* < 0: reading it fails */
    uint8_t data[1024];
    size_t size;
};

struct fake_vars {
    struct fake_var v[8];
    int n;
    int reads;
};

static int fake_read(void *ctx, uint16_t num, const void **buf, size_t *size)
{
    struct fake_vars *f = ctx;
    f->reads++;
    for (int i = 0; i < f->n; i++)
        if (f->v[i].num == num) {
            if (f->v[i].err)
                return f->v[i].err;
            *buf = f->v[i].data;
            *size = f->v[i].size;
            return 0;
        }
    return -UL_ENOENT;
}

/* An efibootmgr-style entry: partition part (start shifted for another
 * partition), file path, attributes. */
static void add_entry(struct fake_vars *f, uint16_t num, uint32_t part, const char *path,
                      uint32_t attrs)
{
    struct fake_var *v = &f->v[f->n++];
    uint8_t dp[512];
    size_t n = hd_node(dp, part);
    uint64_t start = ESP_START + (part - 1) * 1000000ull;
    memcpy(dp + 8, &start, 8);
    if (part != 1)
        dp[4 + 20] ^= (uint8_t)part;    /* another partition's GUID */
    n += file_node(dp + n, path);
    n += node(dp + n, 0x7f, 0xff, NULL, 0);
    v->num = num;
    v->size = option(v->data, attrs, "entry", dp, n, NULL, 0);
}

static char log_text[8192];

static void log_write(void *ctx, enum ul_log_level level, const char *msg)
{
    (void)ctx;
    (void)level;
    strncat(log_text, msg, sizeof(log_text) - strlen(log_text) - 2);
    strcat(log_text, "\n");
}

static const struct ul_log_sink_ops log_sink = { .write = log_write };

static enum ul_boot_pick pick(struct fake_vars *f, const uint16_t *order, size_t n,
                              const char *self_path, uint16_t *num)
{
    static struct ul_log log;
    struct ul_boot_self self = { .have_hd = true, .path = self_path };
    self.hd = (struct ul_hd_node){ .part_number = 1, .start = ESP_START, .size = ESP_SIZE,
                                   .format = 2, .sig_type = 2 };
    memcpy(self.hd.signature, ESP_GUID_LE, 16);
    log_text[0] = 0;
    ul_log_init(&log, &log_sink, NULL, NULL, "test");
    log.level = UL_LOG_INFO;
    *num = 0xffff;
    return ul_boot_pick(order, n, fake_read, f, &self, WIN_PATH, &log, num);
}

static void test_pick(void **state)
{
    (void)state;
    static struct fake_vars f;
    uint16_t num;

    /* BootOrder: unloop, Windows on another disk, an inactive Windows on our
     * ESP, a malformed entry, an unreadable one, Windows on our ESP. */
    memset(&f, 0, sizeof(f));
    add_entry(&f, 0x80, 1, UNLOOP_PATH, 1);
    add_entry(&f, 0x81, 3, WIN_PATH, 1);
    add_entry(&f, 0x82, 1, WIN_PATH, 0);
    add_entry(&f, 0x83, 1, WIN_PATH, 1);
    f.v[3].data[4] = 0;         /* FilePathListLength 0 */
    f.v[f.n++] = (struct fake_var){ .num = 0x84, .err = -UL_EIO };
    add_entry(&f, 0x85, 1, "\\efi\\microsoft\\boot\\BOOTMGFW.EFI", 1);
    uint16_t order[] = { 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86 };
    assert_int_equal(pick(&f, order, 7, UNLOOP_PATH, &num), UL_PICK_OUR_ESP);
    assert_int_equal(num, 0x85);
    assert_non_null(strstr(log_text, "Boot0082 \"entry\" starts " "\\EFI\\Microsoft\\Boot"
                                     "\\bootmgfw.efi but is inactive; skipped"));
    assert_non_null(strstr(log_text, "Boot0083 is malformed (load option: FilePathListLength "
                                     "is 0); skipped"));
    assert_non_null(strstr(log_text, "Boot0084 (in BootOrder) cannot be read: EIO"));
    /* stops at the first entry on our ESP: Boot0086 is never read */
    assert_int_equal(f.reads, 6);

    /* Only on another partition: taken, reported as such. */
    assert_int_equal(pick(&f, order, 3, UNLOOP_PATH, &num), UL_PICK_OTHER_PARTITION);
    assert_int_equal(num, 0x81);

    /* Nothing starts the loader. */
    assert_int_equal(pick(&f, order, 1, UNLOOP_PATH, &num), UL_PICK_NONE);
    assert_int_equal(pick(&f, order, 0, UNLOOP_PATH, &num), UL_PICK_NONE);
    assert_int_equal(num, 0xffff);

    /* unloop installed as the loader's own path (loader = unloop's path):
     * its entry on our ESP is never picked, one elsewhere may be. */
    assert_int_equal(pick(&f, order + 1, 6, WIN_PATH, &num), UL_PICK_OTHER_PARTITION);
    assert_int_equal(num, 0x81);
    assert_non_null(strstr(log_text, "Boot0085 \"entry\" starts unloop itself; skipped"));
    /* unknown own path: no such check */
    assert_int_equal(pick(&f, order + 1, 6, NULL, &num), UL_PICK_OUR_ESP);
    assert_int_equal(num, 0x85);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_efibootmgr_entry),
        cmocka_unit_test(test_windows_entry),
        cmocka_unit_test(test_full_path_split_file),
        cmocka_unit_test(test_same_partition),
        cmocka_unit_test(test_truncated_every_byte),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_non_ascii),
        cmocka_unit_test(test_boot_order),
        cmocka_unit_test(test_pick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
