/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * shared/ntfs/ul-ntfs.c (through recovery/ntfs-volume.c) against real volumes, with the ntfs-3g tools as
 * the independent oracle (ntfsls, ntfscat, ntfsinfo, ntfsfix -n).
 *
 * Volumes are built at test time under build/tests/ntfs/ (run from the top
 * directory):
 *   disk.img      the project's test machine (images/build-test-machine.sh),
 *                 NTFS at ntfs_offset of disk.img.layout
 *   windows.raw   ../shared/testdata/ntfs/dfvfs-windows_volume.raw.xz, a
 *                 volume formatted by Windows (bare, offset 0)
 *   bitlocker.img the first MiB of ../shared/testdata/bitlocker/bitlk-aes-xts-128.img.xz
 *
 * Unclean $LogFile: mkntfs, ntfs-3g and the Windows test volume leave the
 * log empty (all 0xFF, no restart pages), so make_restart_pages() writes the
 * two restart pages Windows keeps at $LogFile offsets 0 and 4096 (version
 * 1.1, one client "NTFS" in use, restart area flag 0x0002 = clean), each
 * protected by its update sequence array.  flip_clean_flag() then reads
 * them back, undoes the USA, clears 0x0002 and re-applies the USA: the log
 * is now what Windows leaves when it dies with the volume mounted.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <ntfs-3g/types.h>
#include <ntfs-3g/attrib.h>
#include <ntfs-3g/inode.h>
#include <ntfs-3g/layout.h>
#include <ntfs-3g/logfile.h>
#include <ntfs-3g/logging.h>
#include <ntfs-3g/mst.h>
#include <ntfs-3g/volume.h>

#include "../../recovery/ntfs-volume.h"

#define DIR_ "build/tests/ntfs"
#define DISK DIR_ "/disk.img"
#define PART DIR_ "/part.img"
#define WIN DIR_ "/windows.raw"
#define WORK DIR_ "/work.raw"
#define BITLK DIR_ "/bitlocker.img"
#define SMALL DIR_ "/small.raw"

#define CS "\\Windows\\System32\\drivers\\CrowdStrike"
#define BAD CS "\\C-00000291-00000000-00000032.sys"
#define QDIR "\\unloop.quarantine\\run1\\Windows\\System32\\drivers\\CrowdStrike"
#define QBAD QDIR "\\C-00000291-00000000-00000032.sys"
/* 2024-07-19 04:09:00 UTC as FILETIME: (1721362140 + 11644473600) * 10^7 */
#define T_BAD 133658357400000000ULL


static bool have_machine, have_windows, have_bitlocker, have_populate;
static uint64_t ntfs_off, ntfs_size, esp_off, esp_size;

/* ---- helpers ---- */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int r = system(cmd);
    return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

/* stdout of a command, trailing newlines cut */
static char *sh_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sh_out(const char *fmt, ...)
{
    char cmd[2048];
    static char out[65536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    FILE *f = popen(cmd, "r");
    size_t n = f ? fread(out, 1, sizeof(out) - 1, f) : 0;
    out[n] = 0;
    if (f)
        pclose(f);
    while (n && out[n - 1] == '\n')
        out[--n] = 0;
    return out;
}

/* ntfsls of a directory, sorted, without its "." and ".." lines */
static char *ntfsls(const char *img, const char *dir)
{
    return sh_out("ntfsls -f %s -p '%s' | grep -vx '[.][.]\\?' | LC_ALL=C sort", img, dir);
}

static bool exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* The NTFS partition of disk.img as a file of its own, for the ntfs-3g tools. */
static void extract_part(void)
{
    assert_int_equal(sh("dd if=" DISK " of=" PART " iflag=skip_bytes,count_bytes "
                        "skip=%llu count=%llu bs=1M status=none conv=sparse",
                        (unsigned long long)ntfs_off, (unsigned long long)ntfs_size), 0);
}

static void assert_ntfsfix_ok(const char *img)
{
    char *out = sh_out("ntfsfix -n %s 2>&1; echo rc=$?", img);
    if (!strstr(out, "rc=0") || !strstr(out, "processed successfully"))
        fail_msg("ntfsfix -n %s:\n%s", img, out);
}

static struct ul_ntfs *open_ok(const char *path, uint64_t off, uint64_t len, unsigned flags)
{
    struct ul_ntfs *v = NULL;
    char err[512];
    int r = ul_ntfs_open(path, off, len, flags, &v, err, sizeof(err));
    if (r != 0)
        fail_msg("ul_ntfs_open(%s): %d %s", path, r, err);
    return v;
}

static struct ul_ntfs *open_machine(unsigned flags)
{
    return open_ok(DISK, ntfs_off, ntfs_size, flags);
}

struct names {
    char name[32][256];
    struct ul_stat st[32];
    int n;
};

static int collect(void *arg, const char *name, const struct ul_stat *st)
{
    struct names *ns = arg;
    if (ns->n == 32)
        return -ENOSPC;
    snprintf(ns->name[ns->n], sizeof(ns->name[0]), "%s", name);
    ns->st[ns->n++] = *st;
    return 0;
}

static int count_name(const struct names *ns, const char *name)
{
    int c = 0;
    for (int i = 0; i < ns->n; i++)
        c += !strcmp(ns->name[i], name);
    return c;
}

static int mkdir_p(struct ul_ntfs *v, const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '\\' || !*p) {
            char c = *p;
            *p = 0;
            int r = ul_ntfs_volume_ops.mkdir(v, buf);
            if (r && r != -EEXIST)
                return r;
            *p = c;
            if (!c)
                return 0;
        }
    }
}

/* ---- $LogFile restart pages (see the top comment) ---- */

#define LOG_PAGE 4096

static void restart_page(uint8_t *page, s64 file_size, uint16_t major, uint16_t minor,
                         uint16_t ra_flags)
{
    memset(page, 0, LOG_PAGE);
    RESTART_PAGE_HEADER *rp = (RESTART_PAGE_HEADER *)page;
    rp->magic = magic_RSTR;
    rp->usa_ofs = cpu_to_le16(offsetof(RESTART_PAGE_HEADER, usn));
    rp->usa_count = cpu_to_le16(1 + LOG_PAGE / NTFS_BLOCK_SIZE);
    rp->system_page_size = cpu_to_le32(LOG_PAGE);
    rp->log_page_size = cpu_to_le32(LOG_PAGE);
    rp->restart_area_offset = cpu_to_le16(0x30);
    rp->minor_ver = cpu_to_sle16(minor);
    rp->major_ver = cpu_to_sle16(major);
    rp->usn = cpu_to_le16(1);

    RESTART_AREA *ra = (RESTART_AREA *)(page + 0x30);
    int bits = 0;
    for (u64 s = (u64)file_size; s; s >>= 1)
        bits++;
    ra->current_lsn = cpu_to_sle64(0x1234567);
    ra->log_clients = cpu_to_le16(1);
    ra->client_free_list = LOGFILE_NO_CLIENT;
    ra->client_in_use_list = cpu_to_le16(0);
    ra->flags = cpu_to_le16(ra_flags);
    ra->seq_number_bits = cpu_to_le32(67 - bits);
    ra->client_array_offset = cpu_to_le16(0x40);
    ra->restart_area_length = cpu_to_le16(0x40 + sizeof(LOG_CLIENT_RECORD));
    ra->file_size = cpu_to_sle64(file_size);
    ra->log_record_header_length = cpu_to_le16(0x30);
    ra->log_page_data_offset = cpu_to_le16(0x40);
    ra->restart_log_open_count = cpu_to_le32(7);

    LOG_CLIENT_RECORD *cr = (LOG_CLIENT_RECORD *)((uint8_t *)ra + 0x40);
    cr->oldest_lsn = cpu_to_sle64(0x1234000);
    cr->client_restart_lsn = cpu_to_sle64(0x1234500);
    cr->prev_client = LOGFILE_NO_CLIENT;
    cr->next_client = LOGFILE_NO_CLIENT;
    cr->client_name_length = cpu_to_le32(8);
    cr->client_name[0] = cpu_to_le16('N');
    cr->client_name[1] = cpu_to_le16('T');
    cr->client_name[2] = cpu_to_le16('F');
    cr->client_name[3] = cpu_to_le16('S');
    assert_int_equal(ntfs_mst_pre_write_fixup((NTFS_RECORD *)page, LOG_PAGE), 0);
}

/* Write both restart pages (or, with flip, clear the clean flag of the ones there). */
static void edit_logfile(const char *img, bool flip, uint16_t major, uint16_t minor)
{
    ntfs_volume *vol = ntfs_mount(img, NTFS_MNT_FORENSIC);
    assert_non_null(vol);
    ntfs_inode *ni = ntfs_inode_open(vol, FILE_LogFile);
    assert_non_null(ni);
    ntfs_attr *na = ntfs_attr_open(ni, AT_DATA, AT_UNNAMED, 0);
    assert_non_null(na);
    static uint8_t page[LOG_PAGE];
    for (int i = 0; i < 2; i++) {
        if (flip) {
            assert_int_equal(ntfs_attr_pread(na, i * LOG_PAGE, LOG_PAGE, page), LOG_PAGE);
            assert_int_equal(ntfs_mst_post_read_fixup((NTFS_RECORD *)page, LOG_PAGE), 0);
            RESTART_AREA *ra = (RESTART_AREA *)(page + le16_to_cpu(
                ((RESTART_PAGE_HEADER *)page)->restart_area_offset));
            assert_true(ra->flags & RESTART_VOLUME_IS_CLEAN);
            ra->flags &= ~RESTART_VOLUME_IS_CLEAN;
            assert_int_equal(ntfs_mst_pre_write_fixup((NTFS_RECORD *)page, LOG_PAGE), 0);
        } else {
            restart_page(page, na->data_size, major, minor, le16_to_cpu(RESTART_VOLUME_IS_CLEAN));
        }
        assert_int_equal(ntfs_attr_pwrite(na, i * LOG_PAGE, LOG_PAGE, page), LOG_PAGE);
    }
    ntfs_attr_close(na);
    ntfs_inode_close(ni);
    assert_int_equal(ntfs_umount(vol, FALSE), 0);
}

/* ---- setup ---- */

static int group_setup(void **state)
{
    (void)state;
    ntfs_log_set_handler(ntfs_log_handler_null);
    if (sh("mkdir -p " DIR_) != 0)
        return -1;
    have_populate = exists("build/images/ntfs-populate");
    if (exists("build/images/mkgpt") && have_populate) {
        sh("printf 'stub' > " DIR_ "/dummy.efi");
        if (sh("images/build-test-machine.sh --out " DISK " --loader " DIR_ "/dummy.efi "
               "--stub " DIR_ "/dummy.efi") == 0) {
            FILE *f = fopen(DISK ".layout", "r");
            char line[256];
            unsigned long long v;
            while (f && fgets(line, sizeof(line), f)) {
                if (sscanf(line, "ntfs_offset=%llu", &v) == 1) ntfs_off = v;
                if (sscanf(line, "ntfs_size=%llu", &v) == 1) ntfs_size = v;
                if (sscanf(line, "esp_offset=%llu", &v) == 1) esp_off = v;
                if (sscanf(line, "esp_size=%llu", &v) == 1) esp_size = v;
            }
            if (f)
                fclose(f);
            have_machine = ntfs_off && ntfs_size;
        }
    }
    if (!have_machine)
        fprintf(stderr, "test-ntfs-volume: build/images/mkgpt or ntfs-populate missing "
                        "(run 'make build/images/mkgpt build/images/ntfs-populate'): "
                        "test-machine tests skipped\n");
    have_windows = sh("xz -dc ../shared/testdata/ntfs/dfvfs-windows_volume.raw.xz > " WIN) == 0;
    have_bitlocker = sh("xz -dc ../shared/testdata/bitlocker/bitlk-aes-xts-128.img.xz "
                        "2>/dev/null | head -c 1048576 > " BITLK) == 0 &&
                     exists(BITLK);
    return 0;
}

static int fresh_work(void **state)
{
    (void)state;
    if (have_windows)
        sh("cp --sparse=always " WIN " " WORK);
    return 0;
}

/* ---- tests ---- */

static void test_probe(void **state)
{
    (void)state;
    struct ul_ntfs_probe p;
    if (!have_windows)
        skip();
    assert_int_equal(ul_ntfs_probe(WIN, 0, 0, &p), 0);
    assert_true(p.is_ntfs);
    assert_false(p.is_bitlocker);
    assert_int_equal(p.cluster_size, 4096);
    assert_int_equal(p.sector_size, 512);
    assert_int_equal(p.major_ver, 3);
    assert_int_equal(p.minor_ver, 1);
    assert_true(p.log_clean);
    assert_true(p.log_empty);
    assert_false(p.hibernated);
    assert_false(p.dirty);
    /* the serial as ntfsinfo... has none; the boot sector has it at 0x48 */
    char *hex = sh_out("xxd -s 0x48 -l 8 -e -g 8 " WIN " | awk '{print $2}'");
    assert_int_equal(p.serial, strtoull(hex, NULL, 16));
    assert_true(p.serial != 0);

    if (!have_machine)
        skip();
    assert_int_equal(ul_ntfs_probe(DISK, ntfs_off, ntfs_size, &p), 0);
    assert_true(p.is_ntfs);
    assert_string_equal(p.label, "Windows");
    assert_true(p.log_clean);
    assert_false(p.hibernated);
    assert_false(p.dirty);
    assert_int_equal(p.size / p.sector_size * p.sector_size, p.size);
    assert_true(p.size <= ntfs_size);
    /* The ESP is not NTFS: a result, not an error. */
    assert_int_equal(ul_ntfs_probe(DISK, esp_off, esp_size, &p), 0);
    assert_false(p.is_ntfs);
    assert_false(p.is_bitlocker);
    char err[512];
    struct ul_ntfs *v;
    assert_int_equal(ul_ntfs_open(DISK, esp_off, esp_size, UL_NTFS_RDONLY, &v, err,
                                  sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "not an NTFS volume"));
    /* A range past the end of the file. */
    assert_int_equal(ul_ntfs_open(DISK, ntfs_off, ntfs_size * 4, UL_NTFS_RDONLY, &v, err,
                                  sizeof(err)), -ENXIO);
}

static void test_bitlocker(void **state)
{
    (void)state;
    struct ul_ntfs_probe p;
    struct ul_ntfs *v;
    char err[512];
    if (!have_bitlocker)
        skip();
    assert_int_equal(ul_ntfs_probe(BITLK, 0, 0, &p), 0);
    assert_true(p.is_bitlocker);
    assert_false(p.is_ntfs);
    assert_int_equal(ul_ntfs_open(BITLK, 0, 0, 0, &v, err, sizeof(err)), -EACCES);
    assert_non_null(strstr(err, "BitLocker volume: unlock it first"));
    assert_int_equal(ul_ntfs_open(BITLK, 0, 0, UL_NTFS_RDONLY, &v, err, sizeof(err)), -EACCES);
}

static void test_stat_read_case(void **state)
{
    (void)state;
    if (!have_machine)
        skip();
    struct ul_ntfs *v = open_machine(UL_NTFS_RDONLY);
    struct ul_stat st, st2;
    assert_int_equal(ul_ntfs_volume_ops.stat(v, BAD, &st), 0);
    assert_false(st.is_dir);
    assert_int_equal(st.size, 41984);
    struct tm tm = { .tm_year = 124, .tm_mon = 6, .tm_mday = 19, .tm_hour = 4, .tm_min = 9 };
    uint64_t ft = ((uint64_t)timegm(&tm) + 11644473600ULL) * 10000000ULL;
    assert_int_equal(ft, T_BAD);
    assert_int_equal(st.times.modification, T_BAD);
    assert_int_equal(st.times.creation, T_BAD);
    assert_int_equal(st.times.mft_change, T_BAD);
    assert_int_equal(st.times.access, T_BAD);
    assert_true(st.file_id != 0);
    assert_true((st.file_id & 0xffffffffffffULL) >= 16); /* a user file's MFT number */

    /* Windows semantics: any case, either separator, and the 8.3 alias */
    assert_int_equal(ul_ntfs_volume_ops.stat(
        v, "\\WINDOWS\\system32\\DRIVERS\\crowdstrike\\c-00000291-00000000-00000032.SYS", &st2), 0);
    assert_int_equal(st2.file_id, st.file_id);
    assert_int_equal(ul_ntfs_volume_ops.stat(v, "/windows/system32/drivers/crowdstrike/C-0000~4.SYS",
                                             &st2), 0);
    assert_int_equal(st2.file_id, st.file_id);
    assert_int_equal(ul_ntfs_volume_ops.stat(v, CS "\\nope.sys", &st2), -ENOENT);
    assert_int_equal(ul_ntfs_volume_ops.stat(v, CS "\\CSAgent.sys\\x", &st2), -ENOTDIR);
    assert_int_equal(ul_ntfs_volume_ops.stat(v, "\\", &st2), 0);
    assert_true(st2.is_dir);
    assert_int_equal(ul_ntfs_volume_ops.stat(v, "\\Windows\\..\\Windows", &st2), -EINVAL);

    /* read: 41 KiB of zeros; a good channel file starts with AA AA AA AA */
    static uint8_t buf[65536];
    size_t got;
    memset(buf, 0x55, sizeof(buf));
    assert_int_equal(ul_ntfs_volume_ops.read(v, BAD, 0, buf, sizeof(buf), &got), 0);
    assert_int_equal(got, 41984);
    for (size_t i = 0; i < got; i++)
        if (buf[i])
            fail_msg("byte %zu is %02x", i, buf[i]);
    assert_int_equal(ul_ntfs_volume_ops.read(v, CS "\\c-00000291-00000000-00000031.sys", 0, buf,
                                             8, &got), 0);
    assert_int_equal(got, 8);
    assert_memory_equal(buf, "\xaa\xaa\xaa\xaa", 4);
    assert_int_equal(ul_ntfs_volume_ops.read(v, BAD, 41980, buf, 100, &got), 0);
    assert_int_equal(got, 4);
    assert_int_equal(ul_ntfs_volume_ops.read(v, BAD, 50000, buf, 100, &got), 0);
    assert_int_equal(got, 0);
    assert_int_equal(ul_ntfs_volume_ops.read(v, CS, 0, buf, 100, &got), -EISDIR);
    /* read-only session refuses writes */
    assert_int_equal(ul_ntfs_volume_ops.mkdir(v, "\\x"), -EROFS);
    assert_int_equal(ul_ntfs_close(v), 0);
}

static void test_list(void **state)
{
    (void)state;
    if (!have_machine)
        skip();
    struct ul_ntfs *v = open_machine(UL_NTFS_RDONLY);
    static struct names ns;
    memset(&ns, 0, sizeof(ns));
    assert_int_equal(ul_ntfs_volume_ops.list(v, CS, collect, &ns), 0);
    assert_int_equal(ns.n, 5); /* every file once, no 8.3 aliases */
    assert_int_equal(count_name(&ns, "CSAgent.sys"), 1);
    assert_int_equal(count_name(&ns, "C-00000285-00000000-00000007.sys"), 1);
    assert_int_equal(count_name(&ns, "C-00000290-00000000-00000005.sys"), 1);
    assert_int_equal(count_name(&ns, "C-00000291-00000000-00000031.sys"), 1);
    assert_int_equal(count_name(&ns, "C-00000291-00000000-00000032.sys"), 1);
    for (int i = 0; i < ns.n; i++) {
        if (!strcmp(ns.name[i], "C-00000291-00000000-00000032.sys")) {
            assert_int_equal(ns.st[i].size, 41984);
            assert_int_equal(ns.st[i].times.modification, T_BAD);
        }
    }
    /* the oracle agrees */
    extract_part();
    char *out = ntfsls(PART, "/Windows/System32/drivers/CrowdStrike");
    assert_string_equal(out, "C-00000285-00000000-00000007.sys\nC-00000290-00000000-00000005.sys\n"
                             "C-00000291-00000000-00000031.sys\nC-00000291-00000000-00000032.sys\n"
                             "CSAgent.sys");
    /* the root: no metafiles */
    memset(&ns, 0, sizeof(ns));
    assert_int_equal(ul_ntfs_volume_ops.list(v, "\\", collect, &ns), 0);
    assert_int_equal(ns.n, 1);
    assert_string_equal(ns.name[0], "Windows");
    assert_true(ns.st[0].is_dir);
    assert_int_equal(ul_ntfs_volume_ops.list(v, BAD, collect, &ns), -ENOTDIR);
    assert_int_equal(ul_ntfs_close(v), 0);
}

static void test_quarantine_roundtrip(void **state)
{
    (void)state;
    if (!have_machine)
        skip();
    extract_part();
    char sha[128];
    snprintf(sha, sizeof(sha), "%s",
             sh_out("ntfscat -f " PART " /Windows/System32/drivers/CrowdStrike/"
                    "C-00000291-00000000-00000032.sys | sha256sum"));
    assert_string_equal(sha, sh_out("head -c 41984 /dev/zero | sha256sum"));

    struct ul_ntfs *v = open_machine(0);
    struct ul_stat orig, st;
    assert_int_equal(ul_ntfs_volume_ops.stat(v, BAD, &orig), 0);
    assert_int_equal(mkdir_p(v, QDIR), 0);
    assert_int_equal(ul_ntfs_volume_ops.mkdir(v, "\\unloop.quarantine"), -EEXIST);
    assert_int_equal(ul_ntfs_volume_ops.move(v, BAD, QBAD), 0);
    assert_int_equal(ul_ntfs_volume_ops.stat(v, BAD, &st), -ENOENT);
    assert_int_equal(ul_ntfs_volume_ops.stat(v, QBAD, &st), 0);
    assert_int_equal(st.file_id, orig.file_id);
    assert_int_equal(st.size, orig.size);
    assert_true(st.times.mft_change != orig.times.mft_change); /* the link stamped it */
    assert_int_equal(ul_ntfs_volume_ops.set_times(v, QBAD, &orig.times), 0);
    assert_int_equal(ul_ntfs_volume_ops.stat(v, QBAD, &st), 0);
    assert_memory_equal(&st.times, &orig.times, sizeof(st.times));
    /* moving onto an existing name */
    assert_int_equal(ul_ntfs_volume_ops.move(v, CS "\\CSAgent.sys", QBAD), -EEXIST);
    assert_int_equal(ul_ntfs_close(v), 0);

    /* on disk, seen by the ntfs-3g tools */
    extract_part();
    assert_ntfsfix_ok(PART);
    char *out = ntfsls(PART, "/Windows/System32/drivers/CrowdStrike");
    assert_null(strstr(out, "00000032"));
    assert_string_equal(ntfsls(PART, "/unloop.quarantine/run1/Windows/System32/drivers/CrowdStrike"),
                        "C-00000291-00000000-00000032.sys");
    assert_string_equal(sh_out("ntfscat -f " PART " /unloop.quarantine/run1/Windows/System32/"
                               "drivers/CrowdStrike/C-00000291-00000000-00000032.sys | sha256sum"),
                        sha);
    out = sh_out("ntfsinfo -f -F /unloop.quarantine/run1/Windows/System32/drivers/CrowdStrike/"
                 "C-00000291-00000000-00000032.sys " PART " | grep -m4 -E 'Time:'");
    assert_non_null(strstr(out, "File Creation Time:\t Fri Jul 19 04:09:00 2024 UTC"));
    assert_non_null(strstr(out, "File Altered Time:\t Fri Jul 19 04:09:00 2024 UTC"));
    assert_non_null(strstr(out, "MFT Changed Time:\t Fri Jul 19 04:09:00 2024 UTC"));
    assert_non_null(strstr(out, "Last Accessed Time:\t Fri Jul 19 04:09:00 2024 UTC"));

    /* a new session sees the same, then puts the file back */
    v = open_machine(0);
    assert_int_equal(ul_ntfs_volume_ops.stat(v, QBAD, &st), 0);
    assert_memory_equal(&st.times, &orig.times, sizeof(st.times));
    assert_int_equal(ul_ntfs_volume_ops.move(v, QBAD, BAD), 0);
    assert_int_equal(ul_ntfs_volume_ops.set_times(v, BAD, &orig.times), 0);
    assert_int_equal(ul_ntfs_volume_ops.stat(v, QBAD, &st), -ENOENT);
    assert_int_equal(ul_ntfs_close(v), 0);

    extract_part();
    assert_ntfsfix_ok(PART);
    assert_string_equal(sh_out("ntfscat -f " PART " /Windows/System32/drivers/CrowdStrike/"
                               "C-00000291-00000000-00000032.sys | sha256sum"), sha);
    assert_string_equal(ntfsls(PART, "/unloop.quarantine/run1/Windows/System32/drivers/CrowdStrike"),
                        "");
    v = open_machine(UL_NTFS_RDONLY);
    assert_int_equal(ul_ntfs_volume_ops.stat(v, BAD, &st), 0);
    assert_int_equal(st.file_id, orig.file_id);
    assert_memory_equal(&st.times, &orig.times, sizeof(st.times));
    static struct names ns;
    memset(&ns, 0, sizeof(ns));
    assert_int_equal(ul_ntfs_volume_ops.list(v, CS, collect, &ns), 0);
    assert_int_equal(ns.n, 5);
    assert_int_equal(count_name(&ns, "C-00000291-00000000-00000032.sys"), 1);
    assert_int_equal(ul_ntfs_close(v), 0);
}

static void test_write_rename_remove(void **state)
{
    (void)state;
    if (!have_windows)
        skip();
    struct ul_ntfs *v = open_ok(WORK, 0, 0, 0);
    const struct ul_volume_ops *o = &ul_ntfs_volume_ops;
    struct ul_stat st;
    static uint8_t buf[20000], back[20000];
    size_t got;

    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(o->write(v, "\\Windows\\System32\\config\\new.bin", 0, buf, 1000), 0);
    /* past the end: the gap reads as zeros and is allocated, not sparse */
    assert_int_equal(o->write(v, "\\WINDOWS\\system32\\config\\NEW.bin", 10000, buf, 10000), 0);
    assert_int_equal(o->stat(v, "\\Windows\\System32\\config\\new.bin", &st), 0);
    assert_int_equal(st.size, 20000);
    assert_int_equal(o->read(v, "\\Windows\\System32\\config\\new.bin", 0, back, sizeof(back), &got), 0);
    assert_int_equal(got, 20000);
    assert_memory_equal(back, buf, 1000);
    for (size_t i = 1000; i < 10000; i++)
        assert_int_equal(back[i], 0);
    assert_memory_equal(back + 10000, buf, 10000);
    /* overwrite in the middle */
    assert_int_equal(o->write(v, "\\Windows\\System32\\config\\new.bin", 1, "XY", 2), 0);
    assert_int_equal(o->read(v, "\\Windows\\System32\\config\\new.bin", 0, back, 4, &got), 0);
    assert_memory_equal(back, "\x01XY", 3);
    assert_int_equal(o->write(v, "\\nodir\\new.bin", 0, buf, 10), -ENOENT);
    assert_int_equal(o->write(v, "\\Windows", 0, buf, 10), -EISDIR);

    /* rename in one directory, a change of case, and refusals */
    assert_int_equal(o->rename(v, "\\Windows\\System32\\config\\new.bin",
                               "\\Windows\\System32\\config\\renamed.bin"), 0);
    assert_int_equal(o->stat(v, "\\Windows\\System32\\config\\new.bin", &st), -ENOENT);
    assert_int_equal(o->rename(v, "\\Windows\\System32\\config\\renamed.bin",
                               "\\Windows\\System32\\config\\Renamed.BIN"), 0);
    assert_int_equal(o->rename(v, "\\Windows\\System32\\config\\renamed.bin",
                               "\\Windows\\System32\\config\\syslog"), -EEXIST);
    assert_int_equal(o->rename(v, "\\Windows\\System32\\config\\renamed.bin", "\\x.bin"), -EXDEV);
    static struct names ns;
    memset(&ns, 0, sizeof(ns));
    assert_int_equal(o->list(v, "\\Windows\\System32\\config", collect, &ns), 0);
    assert_int_equal(ns.n, 2);
    assert_int_equal(count_name(&ns, "Renamed.BIN"), 1);
    assert_int_equal(count_name(&ns, "syslog"), 1);

    /* directories */
    assert_int_equal(o->mkdir(v, "\\Windows\\Temp"), 0);
    assert_int_equal(o->mkdir(v, "\\windows\\temp"), -EEXIST);
    assert_int_equal(o->mkdir(v, "\\nodir\\x"), -ENOENT);
    assert_int_equal(o->move(v, "\\Windows\\System32\\config\\Renamed.BIN", "\\Windows\\Temp\\r.bin"), 0);
    assert_int_equal(o->remove(v, "\\Windows\\Temp"), -ENOTEMPTY);
    assert_int_equal(o->move(v, "\\Windows", "\\Windows\\Temp\\w"), -EINVAL);
    assert_int_equal(o->move(v, "\\Windows\\Temp", "\\Temp2"), 0);
    assert_int_equal(o->move(v, "\\Temp2", "\\Windows\\Temp"), 0);
    assert_int_equal(o->remove(v, "\\Windows\\Temp\\r.bin"), 0);
    assert_int_equal(o->remove(v, "\\Windows\\Temp\\r.bin"), -ENOENT);
    assert_int_equal(o->remove(v, "\\Windows\\Temp"), 0);
    assert_int_equal(ul_ntfs_close(v), 0);

    assert_ntfsfix_ok(WORK);
    assert_string_equal(ntfsls(WORK, "/Windows"), "System32");
    assert_string_equal(ntfsls(WORK, "/Windows/System32/config"), "syslog");
    struct ul_ntfs_probe p;
    assert_int_equal(ul_ntfs_probe(WORK, 0, 0, &p), 0);
    assert_false(p.dirty); /* UL_NTFS_MARK_DIRTY was not given */
}

static void test_mark_dirty(void **state)
{
    (void)state;
    if (!have_windows)
        skip();
    struct ul_ntfs_probe p;
    /* a session that writes nothing leaves the flag alone */
    struct ul_ntfs *v = open_ok(WORK, 0, 0, UL_NTFS_MARK_DIRTY);
    assert_int_equal(ul_ntfs_close(v), 0);
    assert_int_equal(ul_ntfs_probe(WORK, 0, 0, &p), 0);
    assert_false(p.dirty);
    v = open_ok(WORK, 0, 0, UL_NTFS_MARK_DIRTY);
    assert_int_equal(ul_ntfs_volume_ops.mkdir(v, "\\d"), 0);
    assert_int_equal(ul_ntfs_close(v), 0);
    assert_int_equal(ul_ntfs_probe(WORK, 0, 0, &p), 0);
    assert_true(p.dirty);
    char *info = sh_out("ntfsinfo -f -m " WORK " 2>&1");
    if (!strstr(info, "Volume Flags: 0x0001"))
        fail_msg("ntfsinfo -m:\n%s", info);
    /* a dirty volume is fine to read and to write */
    v = open_ok(WORK, 0, 0, UL_NTFS_RDONLY);
    struct ul_stat st;
    assert_int_equal(ul_ntfs_volume_ops.stat(v, "\\d", &st), 0);
    assert_int_equal(ul_ntfs_close(v), 0);
    v = open_ok(WORK, 0, 0, 0);
    assert_int_equal(ul_ntfs_volume_ops.remove(v, "\\d"), 0);
    assert_int_equal(ul_ntfs_close(v), 0);
}

static void test_unclean_log(void **state)
{
    (void)state;
    if (!have_windows)
        skip();
    struct ul_ntfs_probe p;
    struct ul_ntfs *v;
    char err[512];

    /* Windows-style restart pages, clean: written without a reset */
    edit_logfile(WORK, false, 1, 1);
    assert_int_equal(ul_ntfs_probe(WORK, 0, 0, &p), 0);
    assert_true(p.log_clean);
    assert_false(p.log_empty);
    v = open_ok(WORK, 0, 0, 0);
    assert_int_equal(ul_ntfs_close(v), 0);
    assert_int_equal(ul_ntfs_probe(WORK, 0, 0, &p), 0);
    assert_false(p.log_empty); /* not reset */

    /* the clean flag cleared: refused for writing, with the message */
    edit_logfile(WORK, true, 0, 0);
    assert_int_equal(ul_ntfs_probe(WORK, 0, 0, &p), 0);
    assert_false(p.log_clean);
    assert_false(p.log_cached);
    assert_int_equal(ul_ntfs_open(WORK, 0, 0, UL_NTFS_REMOVE_HIBERFILE, &v, err, sizeof(err)),
                     -EOPNOTSUPP);
    assert_non_null(strstr(err, "not writing: the NTFS journal ($LogFile) holds transactions "
                                "Windows did not finish, and replaying it is not allowed here"));
    assert_null(v);
    /* Replay allowed: these restart pages lead to no log records, so
     * ntfsrecover cannot replay them (Debian's fails too): refused, with
     * its reason, and nothing written. */
    assert_int_equal(sh("cp --sparse=always " WORK " " WORK ".before"), 0);
    assert_int_equal(ul_ntfs_open(WORK, 0, 0, UL_NTFS_REPLAY_LOG, &v, err, sizeof(err)),
                     -EOPNOTSUPP);
    assert_non_null(strstr(err, "and it cannot be replayed: "));
    assert_null(v);
    assert_int_equal(sh("cmp -s " WORK " " WORK ".before"), 0);
    unlink(WORK ".before");
    /* libntfs-3g itself refuses it too (the oracle) */
    assert_int_not_equal(sh("ntfs-3g.probe --readwrite " WORK " 2>/dev/null"), 0);
    /* reading is fine */
    v = open_ok(WORK, 0, 0, UL_NTFS_RDONLY);
    struct ul_stat st;
    assert_int_equal(ul_ntfs_volume_ops.stat(v, "\\Windows\\System32\\config\\syslog", &st), 0);
    assert_int_equal(st.size, 1247);
    assert_int_equal(ul_ntfs_close(v), 0);
    /* allowed to reset when the replay fails: opened, log emptied */
    v = open_ok(WORK, 0, 0, UL_NTFS_REPLAY_LOG | UL_NTFS_RESET_LOG);
    struct ul_ntfs_repairs rep;
    ul_ntfs_get_repairs(v, &rep);
    assert_false(rep.log_replayed);
    assert_true(rep.log_reset);
    assert_int_equal(ul_ntfs_volume_ops.mkdir(v, "\\after-reset"), 0);
    assert_int_equal(ul_ntfs_close(v), 0);
    assert_int_equal(ul_ntfs_probe(WORK, 0, 0, &p), 0);
    assert_true(p.log_clean);
    assert_true(p.log_empty);
    assert_ntfsfix_ok(WORK);

    /* version 2.0 (metadata cached by Windows): libntfs-3g refuses even
     * with NTFS_MNT_RECOVER; we reset it only when allowed */
    edit_logfile(WORK, false, 2, 0);
    assert_int_equal(ul_ntfs_probe(WORK, 0, 0, &p), 0);
    assert_true(p.log_cached);
    assert_false(p.log_clean);
    assert_int_equal(ul_ntfs_open(WORK, 0, 0, 0, &v, err, sizeof(err)), -EOPNOTSUPP);
    v = open_ok(WORK, 0, 0, UL_NTFS_RESET_LOG);
    assert_int_equal(ul_ntfs_close(v), 0);
    assert_int_equal(ul_ntfs_probe(WORK, 0, 0, &p), 0);
    assert_true(p.log_empty);
    assert_ntfsfix_ok(WORK);
}

/* ---- $MFTMirr against $MFT ---- */

/* Byte offsets of MFT record rec in $MFT and in $MFTMirr, from the boot sector. */
static void mft_offsets(const char *img, int rec, off_t *mft, off_t *mirr, size_t *rsize)
{
    uint8_t bs[512];
    FILE *f = fopen(img, "rb");
    assert_non_null(f);
    assert_int_equal(fread(bs, 1, sizeof(bs), f), sizeof(bs));
    fclose(f);
    uint64_t cluster = (uint64_t)(bs[0x0b] | bs[0x0c] << 8) * bs[0x0d];
    int8_t cpr = (int8_t)bs[0x40];
    *rsize = cpr < 0 ? (size_t)1 << -cpr : (size_t)cpr * cluster;
    uint64_t mft_lcn = 0, mirr_lcn = 0;
    for (int i = 7; i >= 0; i--) {
        mft_lcn = mft_lcn << 8 | bs[0x30 + i];
        mirr_lcn = mirr_lcn << 8 | bs[0x38 + i];
    }
    *mft = (off_t)(mft_lcn * cluster + (uint64_t)rec * *rsize);
    *mirr = (off_t)(mirr_lcn * cluster + (uint64_t)rec * *rsize);
}

static void rw_bytes(const char *img, off_t off, void *buf, size_t len, bool write)
{
    FILE *f = fopen(img, "r+b");
    assert_non_null(f);
    assert_int_equal(fseeko(f, off, SEEK_SET), 0);
    if (write)
        assert_int_equal(fwrite(buf, 1, len, f), len);
    else
        assert_int_equal(fread(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Records 3 ($Volume) of $MFT and $MFTMirr, raw (fixups in place). */
static void assert_mirror_matches(const char *img)
{
    off_t mft, mirr;
    size_t rs;
    static uint8_t a[4096], b[4096];
    mft_offsets(img, 3, &mft, &mirr, &rs);
    rw_bytes(img, mft, a, rs, false);
    rw_bytes(img, mirr, b, rs, false);
    assert_memory_equal(a, b, rs);
}

/*
 * libntfs-3g writes an MFT record to $MFT, then to $MFTMirr: a power cut in
 * between leaves them different and every later mount refuses the volume.
 * A stale mirror is repaired from $MFT; a torn $MFT record (its update
 * sequence does not match: half written) from the mirror.  Only with
 * UL_NTFS_FIX_MIRROR, only for writing, only with a clean $LogFile.
 */
static void test_mirror_mismatch(void **state)
{
    (void)state;
    if (!have_windows)
        skip();
    struct ul_ntfs_probe p;
    struct ul_ntfs *v;
    struct ul_ntfs_repairs rep;
    char err[512];
    off_t mft, mirr;
    size_t rs;
    uint8_t byte;

    assert_mirror_matches(WORK);
    mft_offsets(WORK, 3, &mft, &mirr, &rs);
    /* A stale mirror: one byte of $Volume's record differs, fixups intact. */
    rw_bytes(WORK, mirr + 0x60, &byte, 1, false);
    byte ^= 0x5a;
    rw_bytes(WORK, mirr + 0x60, &byte, 1, true);
    assert_int_equal(sh("cp --sparse=always " WORK " " WORK ".before"), 0);
    /* the oracle refuses it too */
    assert_int_not_equal(sh("ntfsls -f " WORK " >/dev/null 2>&1"), 0);

    assert_int_equal(ul_ntfs_probe(WORK, 0, 0, &p), 0);
    assert_false(p.is_ntfs);
    assert_true(p.mirror_mismatch);
    /* read-only, or without the flag: refused, nothing written */
    assert_int_equal(ul_ntfs_open(WORK, 0, 0, UL_NTFS_RDONLY | UL_NTFS_FIX_MIRROR, &v, err,
                                  sizeof(err)), -EUCLEAN);
    assert_non_null(strstr(err, "$MFTMirr"));
    assert_int_equal(ul_ntfs_open(WORK, 0, 0, UL_NTFS_MARK_DIRTY, &v, err, sizeof(err)),
                     -EUCLEAN);
    assert_non_null(strstr(err, "not repairing it"));
    assert_null(v);
    assert_int_equal(sh("cmp -s " WORK " " WORK ".before"), 0);

    /* with it: repaired from $MFT, the volume marked for chkdsk */
    v = open_ok(WORK, 0, 0, UL_NTFS_MARK_DIRTY | UL_NTFS_FIX_MIRROR);
    ul_ntfs_get_repairs(v, &rep);
    assert_true(rep.mirror_fixed);
    assert_false(rep.log_reset);
    assert_int_equal(ul_ntfs_close(v), 0);
    assert_mirror_matches(WORK);
    assert_int_equal(ul_ntfs_probe(WORK, 0, 0, &p), 0);
    assert_true(p.is_ntfs);
    assert_true(p.dirty);
    assert_ntfsfix_ok(WORK);
    /* nothing to repair the next time */
    v = open_ok(WORK, 0, 0, UL_NTFS_MARK_DIRTY | UL_NTFS_FIX_MIRROR);
    ul_ntfs_get_repairs(v, &rep);
    assert_false(rep.mirror_fixed);
    assert_int_equal(ul_ntfs_close(v), 0);

    /* A torn $MFT record (the last sector's update sequence number does not
     * match): the mirror's whole copy goes back. */
    uint8_t usn[2];
    rw_bytes(WORK, mft + (off_t)rs - 2, usn, 2, false);
    usn[0] ^= 0xff;
    rw_bytes(WORK, mft + (off_t)rs - 2, usn, 2, true);
    assert_int_equal(ul_ntfs_probe(WORK, 0, 0, &p), 0);
    assert_true(p.mirror_mismatch);
    v = open_ok(WORK, 0, 0, UL_NTFS_FIX_MIRROR);
    ul_ntfs_get_repairs(v, &rep);
    assert_true(rep.mirror_fixed);
    assert_int_equal(ul_ntfs_close(v), 0);
    assert_mirror_matches(WORK);
    assert_ntfsfix_ok(WORK);

    /* A mismatch on a volume Windows left mid-flight (unclean $LogFile) is
     * not ours to repair: refused, unchanged. */
    edit_logfile(WORK, false, 1, 1);
    edit_logfile(WORK, true, 0, 0);
    rw_bytes(WORK, mirr + 0x60, &byte, 1, false);
    byte ^= 0x5a;
    rw_bytes(WORK, mirr + 0x60, &byte, 1, true);
    assert_int_equal(sh("cp --sparse=always " WORK " " WORK ".before"), 0);
    assert_int_equal(ul_ntfs_open(WORK, 0, 0, UL_NTFS_FIX_MIRROR | UL_NTFS_RESET_LOG, &v, err,
                                  sizeof(err)), -EUCLEAN);
    assert_non_null(strstr(err, "Windows did not finish; not repairing it"));
    assert_int_equal(sh("cmp -s " WORK " " WORK ".before"), 0);
    unlink(WORK ".before");
}

static void test_hiberfile(void **state)
{
    (void)state;
    if (!have_windows)
        skip();
    struct ul_ntfs_probe p;
    struct ul_ntfs *v;
    char err[512];
    static uint8_t hdr[8192];

    memset(hdr, 0x11, sizeof(hdr));
    memcpy(hdr, "hibr", 4);
    v = open_ok(WORK, 0, 0, 0);
    assert_int_equal(ul_ntfs_volume_ops.write(v, "\\hiberfil.sys", 0, hdr, sizeof(hdr)), 0);
    assert_int_equal(ul_ntfs_close(v), 0);
    assert_int_equal(ul_ntfs_probe(WORK, 0, 0, &p), 0);
    assert_true(p.hibernated);
    assert_int_equal(ul_ntfs_open(WORK, 0, 0, UL_NTFS_RESET_LOG, &v, err, sizeof(err)), -EPERM);
    assert_non_null(strstr(err, "hibernated"));
    v = open_ok(WORK, 0, 0, UL_NTFS_RDONLY);
    assert_int_equal(ul_ntfs_close(v), 0);
    v = open_ok(WORK, 0, 0, UL_NTFS_REMOVE_HIBERFILE);
    size_t got;
    static uint8_t back[8192];
    assert_int_equal(ul_ntfs_volume_ops.read(v, "\\hiberfil.sys", 0, back, sizeof(back), &got), 0);
    assert_int_equal(got, 8192);
    for (int i = 0; i < 4096; i++)
        assert_int_equal(back[i], 0);
    assert_memory_equal(back + 4096, hdr + 4096, 4096);
    assert_int_equal(ul_ntfs_close(v), 0);
    assert_int_equal(ul_ntfs_probe(WORK, 0, 0, &p), 0);
    assert_false(p.hibernated);
    assert_ntfsfix_ok(WORK);
}

/* A Win32-namespace name without an 8.3 name (Windows with 8.3 creation
 * off): ntfs_delete() alone cannot remove it; move must still work. */
static void test_move_win32_only(void **state)
{
    (void)state;
    if (!have_populate)
        skip();
    sh("rm -f " SMALL);
    assert_int_equal(sh("truncate -s 16M " SMALL " && mkntfs -F -Q -q -L small " SMALL " >/dev/null 2>&1"), 0);
    FILE *f = fopen(DIR_ "/small.manifest", "w");
    assert_non_null(f);
    fputs("file \\Vendor\\long-driver-name.sys 2024-07-19T04:09:00Z hex:4D5A:5000\n", f);
    fclose(f);
    assert_int_equal(sh("build/images/ntfs-populate " SMALL " " DIR_ "/small.manifest"), 0);
    assert_non_null(strstr(sh_out("ntfsinfo -f -F /Vendor/long-driver-name.sys " SMALL), "Win32"));
    struct ul_ntfs *v = open_ok(SMALL, 0, 0, 0);
    struct ul_stat a, b;
    assert_int_equal(ul_ntfs_volume_ops.stat(v, "\\Vendor\\long-driver-name.sys", &a), 0);
    assert_int_equal(ul_ntfs_volume_ops.mkdir(v, "\\q"), 0);
    assert_int_equal(ul_ntfs_volume_ops.move(v, "\\Vendor\\long-driver-name.sys", "\\q\\x.sys"), 0);
    assert_int_equal(ul_ntfs_volume_ops.stat(v, "\\q\\x.sys", &b), 0);
    assert_int_equal(a.file_id, b.file_id);
    assert_int_equal(ul_ntfs_volume_ops.stat(v, "\\Vendor\\long-driver-name.sys", &b), -ENOENT);
    assert_int_equal(ul_ntfs_close(v), 0);
    assert_ntfsfix_ok(SMALL);
    assert_string_equal(ntfsls(SMALL, "/Vendor"), "");
    assert_string_equal(ntfsls(SMALL, "/q"), "x.sys");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe),
        cmocka_unit_test(test_bitlocker),
        cmocka_unit_test(test_stat_read_case),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_quarantine_roundtrip),
        cmocka_unit_test_setup(test_write_rename_remove, fresh_work),
        cmocka_unit_test_setup(test_mark_dirty, fresh_work),
        cmocka_unit_test_setup(test_unclean_log, fresh_work),
        cmocka_unit_test_setup(test_hiberfile, fresh_work),
        cmocka_unit_test_setup(test_mirror_mismatch, fresh_work),
        cmocka_unit_test(test_move_win32_only),
    };
    return cmocka_run_group_tests_name("ntfs-volume", tests, group_setup, NULL);
}
