/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * unloop install / uninstall on Linux: put unloop.efi (and a config) on the
 * ESP, create a firmware boot entry "unloop" for it and put it first in
 * BootOrder with Windows Boot Manager next, and undo exactly that.
 *
 * Firmware variables go through Debian's libefivar (efivarfs; it clears the
 * immutable flag efivarfs puts on variable files).  The boot entry's device
 * path is built here, from the ESP's own GPT entry, with libefivar's
 * efidp_make_hd()/efidp_make_file(): HD(partition, GPT, unique GUID, first
 * LBA, size)/File(\EFI\unloop\unloop.efi), the short form the UEFI spec
 * (10.3.4 "Hard Drive Media Device Path", 3.1.2 "Load Option Processing")
 * lets a firmware expand by partition signature, and the form Windows and
 * efibootmgr write.  libefiboot's efi_generate_file_device_path() would
 * find the partition from sysfs and its bus type from the device's sysfs
 * path; reading the GPT ourselves (shared/gpt.c, fuzzed) needs only the
 * disk's device node, so it works the same for virtio, NVMe, SATA, a loop
 * device or a dm device, and in --dry-run.
 *
 * Before anything changes an install record is written and fsync'ed:
 * \EFI\unloop\install.rec (text, versioned, CRC-32 over the lines).  It holds
 * BootOrder's bytes and attributes as they were, the Boot#### numbers this
 * install creates (chosen before they are created), and each file it adds or
 * replaces (a replaced file's old copy is kept as FILE.pre-unloop, with the
 * old file's length and CRC-32, so a cut in the middle of copying can be
 * told apart from a finished replace).  Uninstall follows the record; an
 * install that finds an unfinished record (a power cut) rolls it back first.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strcasestr */
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <efivar/efiboot.h>

#include "../shared/crc32.h"
#include "../shared/gpt.h"
#include "../shared/string-util.h"
#include "../shared/unloop-contract.h"
#include "cli.h"

#define UL_EFI_PATH     "\\EFI\\unloop\\unloop.efi"
#define UL_RECORD_PATH  "\\EFI\\unloop\\install.rec"
#define UL_BACKUP_SUFFIX ".pre-unloop"
#define RECORD_MAGIC    "unloop-install-record"
#define RECORD_VERSION  1
#define SYSTEM_EFI      "/usr/lib/unloop/unloop.efi"
#define EFIVARS_DIR     "/sys/firmware/efi/efivars"
#define WINDOWS_DESC    "Windows Boot Manager"
#define MAX_ENTRIES     64
#define MAX_FILES       4
#define FILE_MAX        (64u << 20)
/* UEFI 2.10 3.1.3 "Load Options": the option is active. */
#define LOAD_OPTION_ACTIVE 0x00000001u
#define ATTRS_NV_BS_RT  (EFI_VARIABLE_NON_VOLATILE | EFI_VARIABLE_BOOTSERVICE_ACCESS | \
                         EFI_VARIABLE_RUNTIME_ACCESS)

struct rec_file {
    char path[128];             /* ESP path, backslashes */
    bool replaced;              /* else new */
    uint32_t old_len, old_crc;  /* replaced: the file as it was */
};

struct record {
    bool installed;             /* "state installed", else "installing" */
    bool order_untouched;       /* --no-entry: install left BootOrder alone */
    bool had_boot_order;
    uint32_t boot_order_attrs;
    size_t boot_order_len;
    uint8_t boot_order[2 * MAX_ENTRIES * 8];
    bool have_set;              /* what install wrote to BootOrder */
    size_t set_len;
    uint8_t set_order[2 * MAX_ENTRIES * 8 + 4];
    unsigned n_created;
    uint16_t created[2];
    char created_kind[2][16];   /* "unloop", "windows" */
    unsigned n_files;
    struct rec_file files[MAX_FILES];
    bool dir_created;
};

struct esp_part {
    char disk[PATH_MAX];        /* /dev/vda */
    int partno;
    uint32_t sector_size;
    struct ul_gpt_part part;
};

struct plan {
    const char *esp;
    struct esp_part ep;
    uint8_t *efi_data, *conf_data;
    size_t efi_len, conf_len;
    const char *efi_src, *conf_src;
    bool dry, no_entry, force;
    /* files */
    enum { F_SKIP, F_NEW, F_REPLACE, F_SAME, F_KEEP } efi_act, conf_act;
    uint8_t *old_efi, *old_conf;
    size_t old_efi_len, old_conf_len;
    bool dir_exists;
    /* variables */
    bool had_boot_order;
    uint8_t *boot_order;
    size_t boot_order_len;
    uint32_t boot_order_attrs;
    int unloop_entry, windows_entry;        /* existing, or -1 */
    bool create_unloop, create_windows;
    uint16_t new_unloop, new_windows;
    uint8_t *unloop_opt, *windows_opt;
    ssize_t unloop_opt_len, windows_opt_len;
    uint16_t new_order[MAX_ENTRIES * 8 + 2];
    size_t new_order_n;
};

/* ---- small helpers ---- */

/*
 * Test hook (tests/qemu/test_linux.py): with UNLOOP_TEST_INSTALL_CUT_AFTER=N
 * the process dies, as a machine losing power would, at durable step N+1 of
 * install or uninstall (a file write, a rename, a variable write or delete).
 * Nothing else reads this variable.
 */
static void cut_point(void)
{
    static long left = -2;
    if (left == -2) {
        const char *e = getenv("UNLOOP_TEST_INSTALL_CUT_AFTER");
        left = e && *e ? strtol(e, NULL, 10) : -1;
    }
    if (left >= 0 && left-- == 0)
        _exit(99);
}

static void esp_join(char *out, size_t size, const char *esp, const char *path)
{
    snprintf(out, size, "%s%s", esp, path);
    for (char *p = out + strlen(esp); *p; p++)
        if (*p == '\\')
            *p = '/';
}

static int read_all(const char *path, uint8_t **ret, size_t *ret_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    int e = fstat(fd, &st) < 0            ? -errno
            : !S_ISREG(st.st_mode)         ? -EISDIR
            : (uint64_t)st.st_size > FILE_MAX ? -EFBIG
                                           : 0;
    if (e < 0) {
        close(fd);
        return e;
    }
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    int r = cli_pread_all(fd, buf, (size_t)st.st_size, 0);
    close(fd);
    if (r < 0) {
        free(buf);
        return r;
    }
    *ret = buf;
    *ret_len = (size_t)st.st_size;
    return 0;
}

static int fsync_dir_of(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return 0;
    *slash = 0;
    int fd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = fsync(fd) < 0 ? -errno : 0;
    close(fd);
    return r == -EINVAL ? 0 : r;
}

/* Writes path.tmp, fsyncs it, renames it over path, fsyncs the directory. */
static int write_atomic(const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    cut_point();
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int r = cli_pwrite_all(fd, data, len, 0);
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0)
        cut_point();
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        unlink(tmp);
        return r;
    }
    return fsync_dir_of(path);
}

static bool same_bytes(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

static void efi_errors(void)
{
    char *file, *func, *msg;
    int line, err;
    for (unsigned i = 0; efi_error_get(i, &file, &func, &line, &msg, &err) > 0; i++)
        if (msg && *msg)
            fprintf(stderr, "%s:   (libefivar: %s: %s)\n", prog, func, msg);
    efi_error_clear();
}

static void boot_name(char out[9], uint16_t n)
{
    snprintf(out, 9, "Boot%04X", n);
}

/* ---- the install record ---- */

static void hex_bytes(FILE *f, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", b[i]);
}

static int record_format(const struct record *rec, char **ret, size_t *ret_len)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return -ENOMEM;
    fprintf(f, "%s %d\n", RECORD_MAGIC, RECORD_VERSION);
    fprintf(f, "state %s\n", rec->installed ? "installed" : "installing");
    if (rec->order_untouched) {
        fprintf(f, "boot-order untouched\n");
    } else if (rec->had_boot_order) {
        fprintf(f, "boot-order %u ", rec->boot_order_attrs);
        hex_bytes(f, rec->boot_order, rec->boot_order_len);
        fputc('\n', f);
    } else {
        fprintf(f, "boot-order none\n");
    }
    if (rec->have_set) {
        fprintf(f, "boot-order-set ");
        hex_bytes(f, rec->set_order, rec->set_len);
        fputc('\n', f);
    }
    for (unsigned i = 0; i < rec->n_created; i++)
        fprintf(f, "created Boot%04X %s\n", rec->created[i], rec->created_kind[i]);
    for (unsigned i = 0; i < rec->n_files; i++) {
        const struct rec_file *rf = &rec->files[i];
        if (rf->replaced)
            fprintf(f, "file replaced %u %08x %s\n", rf->old_len, rf->old_crc, rf->path);
        else
            fprintf(f, "file new %s\n", rf->path);
    }
    if (rec->dir_created)
        fprintf(f, "dir-created %s\n", UL_DIR_PATH);
    fflush(f);
    uint32_t crc = ul_crc32(buf, len);
    fprintf(f, "crc32 %08x\n", crc);
    if (fclose(f) != 0) {
        free(buf);
        return -ENOMEM;
    }
    *ret = buf;
    *ret_len = len;
    return 0;
}

static int record_write(const char *esp, const struct record *rec)
{
    char path[PATH_MAX], *buf;
    size_t len;
    int r = record_format(rec, &buf, &len);
    if (r < 0)
        return r;
    esp_join(path, sizeof(path), esp, UL_RECORD_PATH);
    r = write_atomic(path, buf, len);
    free(buf);
    return r;
}

/* Parses a record.  0, or -EBADMSG with *why saying what is wrong. */
static int install_record_parse(const char *data, size_t len, struct record *rec, const char **why)
{
    memset(rec, 0, sizeof(*rec));
    *why = NULL;
    if (len == 0 || len > 8192 || memchr(data, 0, len)) {
        *why = "empty, too long or binary";
        return -EBADMSG;
    }
    /* The last line must be "crc32 XXXXXXXX" over everything before it. */
    if (data[len - 1] != '\n' || len < 16) {
        *why = "truncated (no final crc32 line)";
        return -EBADMSG;
    }
    size_t crc_at = len - 15;
    if (memcmp(data + crc_at, "crc32 ", 6) != 0 || (crc_at > 0 && data[crc_at - 1] != '\n')) {
        *why = "truncated (no final crc32 line)";
        return -EBADMSG;
    }
    uint32_t want = 0;
    for (int i = 0; i < 8; i++) {
        char c = data[crc_at + 6 + i];
        int v = c >= 'A' && c <= 'F' ? -1 : ul_hexval(c); /* lower case, as written */
        if (v < 0) {
            *why = "bad crc32 line";
            return -EBADMSG;
        }
        want = want << 4 | (uint32_t)v;
    }
    if (ul_crc32(data, crc_at) != want) {
        *why = "CRC-32 mismatch (the file was damaged or edited)";
        return -EBADMSG;
    }

    bool seen_magic = false, seen_state = false, seen_order = false;
    size_t pos = 0;
    while (pos < crc_at) {
        const char *nl = memchr(data + pos, '\n', crc_at - pos);
        size_t ll = (size_t)(nl - (data + pos));
        static char line[4200];
        if (ll >= sizeof(line)) {
            *why = "line too long";
            return -EBADMSG;
        }
        memcpy(line, data + pos, ll);
        line[ll] = 0;
        pos += ll + 1;

        static char word[64], rest[4100];
        unsigned a, b;
        int n;
        if (!seen_magic) {
            if (sscanf(line, RECORD_MAGIC " %u%n", &a, &n) != 1 || line[n]) {
                *why = "not an unloop install record";
                return -EBADMSG;
            }
            if (a != RECORD_VERSION) {
                *why = "record version not supported by this unloop";
                return -EBADMSG;
            }
            seen_magic = true;
        } else if (strcmp(line, "state installed") == 0 || strcmp(line, "state installing") == 0) {
            rec->installed = strcmp(line, "state installed") == 0;
            seen_state = true;
        } else if (strcmp(line, "boot-order none") == 0) {
            seen_order = true;
        } else if (strcmp(line, "boot-order untouched") == 0) {
            seen_order = rec->order_untouched = true;
        } else if (strncmp(line, "boot-order-set ", 15) == 0) {
            size_t hl = strlen(line + 15);
            if (hl == 0 || hl % 4 || hl / 2 > sizeof(rec->set_order) || rec->have_set) {
                *why = "bad boot-order-set line";
                return -EBADMSG;
            }
            for (size_t i = 0; i < hl / 2; i++) {
                int hi = ul_hexval(line[15 + 2 * i]), lo = ul_hexval(line[15 + 2 * i + 1]);
                if (hi < 0 || lo < 0) {
                    *why = "bad boot-order-set line";
                    return -EBADMSG;
                }
                rec->set_order[i] = (uint8_t)(hi << 4 | lo);
            }
            rec->set_len = hl / 2;
            rec->have_set = true;
        } else if (sscanf(line, "boot-order %u %4099s%n", &a, rest, &n) == 2 && !line[n]) {
            size_t hl = strlen(rest);
            if (hl % 4 || hl / 2 > sizeof(rec->boot_order)) {
                *why = "bad boot-order line";
                return -EBADMSG;
            }
            for (size_t i = 0; i < hl / 2; i++) {
                int hi = ul_hexval(rest[2 * i]), lo = ul_hexval(rest[2 * i + 1]);
                if (hi < 0 || lo < 0) {
                    *why = "bad boot-order line";
                    return -EBADMSG;
                }
                rec->boot_order[i] = (uint8_t)(hi << 4 | lo);
            }
            rec->boot_order_len = hl / 2;
            rec->boot_order_attrs = a;
            rec->had_boot_order = true;
            seen_order = true;
        } else if (sscanf(line, "created Boot%4x %15s%n", &a, word, &n) == 2 && !line[n] &&
                   (strcmp(word, "unloop") == 0 || strcmp(word, "windows") == 0) &&
                   snprintf(rest, sizeof(rest), "created Boot%04X %s", a, word) > 0 &&
                   strcmp(rest, line) == 0) {
            if (rec->n_created >= 2) {
                *why = "too many created entries";
                return -EBADMSG;
            }
            rec->created[rec->n_created] = (uint16_t)a;
            strcpy(rec->created_kind[rec->n_created], word[0] == 'u' ? "unloop" : "windows");
            rec->n_created++;
        } else if (strncmp(line, "file ", 5) == 0) {
            struct rec_file *rf;
            const char *path;
            if (rec->n_files >= MAX_FILES) {
                *why = "too many files";
                return -EBADMSG;
            }
            rf = &rec->files[rec->n_files];
            if (strncmp(line, "file new ", 9) == 0) {
                path = line + 9;
            } else if (sscanf(line, "file replaced %u %8x %n", &a, &b, &n) == 2) {
                rf->replaced = true;
                rf->old_len = a;
                rf->old_crc = b;
                path = line + n;
            } else {
                *why = "bad file line";
                return -EBADMSG;
            }
            /* Only unloop's own folder: a damaged or hostile record must
             * not make uninstall remove anything else. */
            if (strncmp(path, UL_DIR_PATH "\\", strlen(UL_DIR_PATH) + 1) != 0 ||
                strlen(path) >= sizeof(rf->path) || strstr(path, "..") || strchr(path, '/')) {
                *why = "a file outside \\EFI\\unloop";
                return -EBADMSG;
            }
            memcpy(rf->path, path, strlen(path) + 1); /* length checked above */
            rec->n_files++;
        } else if (strcmp(line, "dir-created " UL_DIR_PATH) == 0) {
            rec->dir_created = true;
        } else {
            *why = "unknown line";
            return -EBADMSG;
        }
    }
    if (!seen_magic || !seen_state || !seen_order) {
        *why = "a required line is missing";
        return -EBADMSG;
    }
    if (rec->order_untouched && (rec->have_set || rec->n_created)) {
        *why = "boot-order untouched, but entries or a new BootOrder recorded";
        return -EBADMSG;
    }
    return 0;
}

int install_record_check(const char *data, size_t len, const char **why, char **ret_canonical,
                         size_t *ret_len)
{
    static struct record rec;
    int r = install_record_parse(data, len, &rec, why);
    if (r < 0 || !ret_canonical)
        return r;
    return record_format(&rec, ret_canonical, ret_len);
}

/* 1 and *rec when a record is there, 0 when none, <0 (message printed). */
static int record_load(const char *esp, struct record *rec)
{
    char path[PATH_MAX];
    uint8_t *data;
    size_t len;
    const char *why;
    esp_join(path, sizeof(path), esp, UL_RECORD_PATH);
    int r = read_all(path, &data, &len);
    if (r == -ENOENT)
        return 0;
    if (r < 0) {
        fprintf(stderr, "%s: cannot read the install record %s: %s\n", prog, path, strerror(-r));
        return r;
    }
    r = install_record_parse((const char *)data, len, rec, &why);
    free(data);
    if (r < 0) {
        fprintf(stderr, "%s: the install record %s is damaged: %s.\n"
                "%s: nothing was changed; fix or remove it by hand (efibootmgr shows the boot "
                "entries)\n", prog, path, why, prog);
        return r;
    }
    return 1;
}

/* ---- checks ---- */

static int check_esp(const char *esp)
{
    struct statfs sfs;
    struct stat st, up;
    char parent[PATH_MAX];
    if (stat(esp, &st) < 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "%s: %s is not a directory\n", prog, esp);
        return EXIT_FAIL;
    }
    if (statfs(esp, &sfs) < 0 || sfs.f_type != MSDOS_SUPER_MAGIC) {
        fprintf(stderr, "%s: %s is not a FAT file system: mount the EFI system partition "
                "and name its mount point with --esp\n", prog, esp);
        return EXIT_FAIL;
    }
    snprintf(parent, sizeof(parent), "%s/..", esp);
    if (stat(parent, &up) == 0 && up.st_dev == st.st_dev && up.st_ino != st.st_ino) {
        fprintf(stderr, "%s: %s is inside a FAT file system, not its mount point: name the "
                "ESP's mount point with --esp\n", prog, esp);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

static int check_efivars(void)
{
    struct statfs sfs;
    if (access("/sys/firmware/efi", F_OK) < 0) {
        fprintf(stderr, "%s: this system was not booted with UEFI (no /sys/firmware/efi): "
                "firmware boot entries cannot be changed from it\n", prog);
        return EXIT_FAIL;
    }
    if (statfs(EFIVARS_DIR, &sfs) < 0 || sfs.f_type != EFIVARFS_MAGIC) {
        fprintf(stderr, "%s: efivarfs is not mounted on %s (mount -t efivarfs efivarfs %s)\n",
                prog, EFIVARS_DIR, EFIVARS_DIR);
        return EXIT_FAIL;
    }
    if (!efi_variables_supported()) {
        fprintf(stderr, "%s: libefivar cannot use the firmware variables\n", prog);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

static int read_sysfs_line(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    bool ok = fgets(buf, (int)size, f) != NULL;
    fclose(f);
    if (!ok)
        return -EIO;
    buf[strcspn(buf, "\n")] = 0;
    return 0;
}

static int gpt_reader(void *ctx, uint64_t lba, uint32_t count, void *buf)
{
    const struct esp_part *ep = ((void **)ctx)[0];
    int fd = *(int *)((void **)ctx)[1];
    int r = cli_pread_all(fd, buf, (size_t)count * ep->sector_size, lba * ep->sector_size);
    return r < 0 ? r : 0;
}

/* The disk and GPT entry of the partition mounted on esp. */
static int find_esp_partition(const char *esp, struct esp_part *ep)
{
    struct stat st;
    char sys[PATH_MAX], real[PATH_MAX], line[64];
    if (stat(esp, &st) < 0)
        return EXIT_FAIL;
    snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
    if (!realpath(sys, real)) {
        fprintf(stderr, "%s: %s is not on a block device (%s: %s)\n", prog, esp, sys,
                strerror(errno));
        return EXIT_FAIL;
    }
    char pfile[PATH_MAX + 64];
    snprintf(pfile, sizeof(pfile), "%s/partition", real);
    if (read_sysfs_line(pfile, line, sizeof(line)) < 0 || (ep->partno = atoi(line)) <= 0) {
        fprintf(stderr, "%s: %s is not on a disk partition (%s): the ESP must be a GPT "
                "partition\n", prog, esp, real);
        return EXIT_FAIL;
    }
    char *slash = strrchr(real, '/');
    *slash = 0;
    const char *disk = strrchr(real, '/') + 1;
    snprintf(ep->disk, sizeof(ep->disk), "/dev/%s", disk);
    snprintf(pfile, sizeof(pfile), "%s/queue/logical_block_size", real);
    ep->sector_size = read_sysfs_line(pfile, line, sizeof(line)) == 0 ? (uint32_t)atoi(line) : 512;

    int fd = open(ep->disk, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "%s: cannot open %s, the disk of the ESP: %s\n", prog, ep->disk,
                strerror(errno));
        return EXIT_FAIL;
    }
    uint64_t bytes = 0;
    if (ioctl(fd, BLKGETSIZE64, &bytes) < 0) {
        struct stat ds;
        bytes = fstat(fd, &ds) == 0 ? (uint64_t)ds.st_size : 0;
    }
    static struct ul_gpt gpt;
    size_t scratch_size = (size_t)ep->sector_size * 2 + UL_GPT_MAX_ENTRIES * 512;
    uint8_t *scratch = malloc(scratch_size);
    void *ctx[2] = { ep, &fd };
    int r = scratch ? ul_gpt_read(gpt_reader, ctx, ep->sector_size, bytes / ep->sector_size,
                                  scratch, scratch_size, &gpt)
                    : -ENOMEM;
    free(scratch);
    close(fd);
    if (r < 0) {
        fprintf(stderr, "%s: %s has no valid GPT (error %d): unloop installs only on GPT "
                "disks\n", prog, ep->disk, r);
        return EXIT_FAIL;
    }
    for (uint32_t i = 0; i < gpt.n; i++) {
        if ((int)gpt.parts[i].index != ep->partno)
            continue;
        ep->part = gpt.parts[i];
        if (ep->part.kind != UL_PART_ESP) {
            fprintf(stderr, "%s: partition %d of %s is not an EFI system partition (GPT type "
                    "C12A7328-F81F-11D2-BA4B-00A0C93EC93B)\n", prog, ep->partno, ep->disk);
            return EXIT_FAIL;
        }
        return EXIT_OK;
    }
    fprintf(stderr, "%s: partition %d is not in the GPT of %s\n", prog, ep->partno, ep->disk);
    return EXIT_FAIL;
}

/* ---- boot entries ---- */

static ssize_t make_load_option(const struct esp_part *ep, const char *file, const char *desc,
                                uint8_t **ret)
{
    uint8_t dp[1024];
    ssize_t n = 0, r;
    uint8_t sig[16];
    memcpy(sig, ep->part.guid.b, 16);
    r = efidp_make_hd(dp, sizeof(dp), (uint32_t)ep->partno, ep->part.first_lba,
                      ep->part.last_lba - ep->part.first_lba + 1, sig, EFIDP_HD_FORMAT_GPT,
                      EFIDP_HD_SIGNATURE_GUID);
    if (r < 0)
        return -EINVAL;
    n += r;
    char fname[128];
    snprintf(fname, sizeof(fname), "%s", file);
    r = efidp_make_file(dp + n, (ssize_t)sizeof(dp) - n, fname);
    if (r < 0)
        return -EINVAL;
    n += r;
    r = efidp_make_end_entire(dp + n, (ssize_t)sizeof(dp) - n);
    if (r < 0)
        return -EINVAL;
    n += r;
    ssize_t size = efi_loadopt_create(NULL, 0, LOAD_OPTION_ACTIVE, (efidp)dp, n,
                                      (unsigned char *)desc, NULL, 0);
    if (size <= 0)
        return -EINVAL;
    uint8_t *buf = calloc(1, (size_t)size);
    if (!buf)
        return -ENOMEM;
    if (efi_loadopt_create(buf, size, LOAD_OPTION_ACTIVE, (efidp)dp, n, (unsigned char *)desc,
                           NULL, 0) != size) {
        free(buf);
        return -EINVAL;
    }
    *ret = buf;
    return size;
}

static void format_load_option_path(const uint8_t *opt, size_t len, char *out, size_t size)
{
    efi_load_option *lo = (efi_load_option *)opt;
    snprintf(out, size, "?");
    if (!efi_loadopt_is_valid(lo, len))
        return;
    efidp dp = efi_loadopt_path(lo, (ssize_t)len);
    uint16_t pl = efi_loadopt_pathlen(lo, (ssize_t)len);
    if (dp && efidp_format_device_path(out, size, dp, pl) < 0)
        snprintf(out, size, "?");
    efi_error_clear();
}

/* Does this Boot#### name file (an ESP path) and, if desc, carry that description? */
static bool entry_is(const uint8_t *opt, size_t len, const char *file, const char *desc)
{
    char text[2048], want[160];
    efi_load_option *lo = (efi_load_option *)opt;
    if (!efi_loadopt_is_valid(lo, len)) {
        efi_error_clear();
        return false;
    }
    if (desc) {
        const unsigned char *d = efi_loadopt_desc(lo, (ssize_t)len);
        if (!d || strcmp((const char *)d, desc) != 0)
            return false;
    }
    format_load_option_path(opt, len, text, sizeof(text));
    snprintf(want, sizeof(want), "File(%s)", file);
    size_t tl = strlen(text), wl = strlen(want);
    return tl >= wl && strcasecmp(text + tl - wl, want) == 0;
}

static bool is_boot_entry_name(const char *name, uint16_t *ret)
{
    if (strlen(name) != 8 || strncmp(name, "Boot", 4) != 0)
        return false;
    unsigned v = 0;
    for (int i = 4; i < 8; i++) {
        int h = ul_hexval(name[i]);
        if (h < 0 || (name[i] >= 'a' && name[i] <= 'f'))
            return false;
        v = v << 4 | (unsigned)h;
    }
    *ret = (uint16_t)v;
    return true;
}

/* Fills the variable side of the plan. */
static int plan_variables(struct plan *p)
{
    uint8_t used[65536 / 8] = { 0 };
    efi_guid_t *guid = NULL;
    char *name = NULL;
    int r;

    p->unloop_entry = p->windows_entry = -1;
    r = efi_get_variable(efi_guid_global, "BootOrder", &p->boot_order, &p->boot_order_len,
                         &p->boot_order_attrs);
    if (r < 0 && errno != ENOENT) {
        fprintf(stderr, "%s: cannot read BootOrder: %s\n", prog, strerror(errno));
        efi_errors();
        return EXIT_FAIL;
    }
    efi_error_clear();
    p->had_boot_order = r >= 0;
    if (!p->had_boot_order) {
        p->boot_order = NULL;
        p->boot_order_len = 0;
        p->boot_order_attrs = ATTRS_NV_BS_RT;
    }
    if (p->boot_order_len % 2 || p->boot_order_len > MAX_ENTRIES * 8 * 2) {
        fprintf(stderr, "%s: BootOrder has an odd or huge size (%zu bytes)\n", prog,
                p->boot_order_len);
        return EXIT_FAIL;
    }

    while ((r = efi_get_next_variable_name(&guid, &name)) > 0) {
        uint16_t num;
        if (memcmp(guid, &efi_guid_global, sizeof(*guid)) != 0 || !is_boot_entry_name(name, &num))
            continue;
        used[num / 8] |= (uint8_t)(1u << (num % 8));
        uint8_t *data;
        size_t len;
        uint32_t attrs;
        if (efi_get_variable(efi_guid_global, name, &data, &len, &attrs) < 0) {
            efi_error_clear();
            continue;
        }
        if (p->unloop_entry < 0 && entry_is(data, len, UL_EFI_PATH, NULL)) {
            /* An entry for unloop on this ESP made earlier (by hand or
             * efibootmgr): reuse it rather than add a second one. */
            char text[2048], guid_s[UL_GUID_STR_LEN + 1];
            format_load_option_path(data, len, text, sizeof(text));
            ul_guid_format(&p->ep.part.guid, guid_s);
            if (strcasestr(text, guid_s))
                p->unloop_entry = num;
        }
        if (p->windows_entry < 0 && entry_is(data, len, UL_DEFAULT_LOADER, NULL))
            p->windows_entry = num;
        free(data);
    }
    if (r < 0) {
        fprintf(stderr, "%s: cannot list the firmware variables: %s\n", prog, strerror(errno));
        efi_errors();
        return EXIT_FAIL;
    }
    efi_error_clear();

    /* New entries take the lowest free numbers. */
    unsigned next = 0;
    for (int k = 0; k < 2; k++) {
        bool want = k == 0 ? (p->unloop_entry < 0 && !p->no_entry) : false;
        if (k == 1) {
            char path[PATH_MAX];
            struct stat st;
            esp_join(path, sizeof(path), p->esp, UL_DEFAULT_LOADER);
            want = p->windows_entry < 0 && !p->no_entry && stat(path, &st) == 0;
            if (p->windows_entry < 0 && !p->no_entry && !want)
                fprintf(stderr, "%s: warning: no Windows Boot Manager entry and no %s on this "
                        "ESP: none created\n", prog, UL_DEFAULT_LOADER);
        }
        if (!want)
            continue;
        while (next < 0x10000 && (used[next / 8] & (1u << (next % 8))))
            next++;
        if (next >= 0x10000) {
            fprintf(stderr, "%s: no free Boot#### number\n", prog);
            return EXIT_FAIL;
        }
        used[next / 8] |= (uint8_t)(1u << (next % 8));
        if (k == 0) {
            p->create_unloop = true;
            p->new_unloop = (uint16_t)next;
        } else {
            p->create_windows = true;
            p->new_windows = (uint16_t)next;
        }
    }
    if (p->create_unloop) {
        p->unloop_opt_len = make_load_option(&p->ep, UL_EFI_PATH, "unloop", &p->unloop_opt);
        if (p->unloop_opt_len < 0)
            return EXIT_FAIL;
    }
    if (p->create_windows) {
        p->windows_opt_len = make_load_option(&p->ep, UL_DEFAULT_LOADER, WINDOWS_DESC,
                                              &p->windows_opt);
        if (p->windows_opt_len < 0)
            return EXIT_FAIL;
    }

    /* BootOrder: unloop, Windows Boot Manager, then the rest as it was. */
    p->new_order_n = 0;
    if (p->no_entry)
        return EXIT_OK;
    int first = p->create_unloop ? p->new_unloop : p->unloop_entry;
    int second = p->create_windows ? p->new_windows : p->windows_entry;
    p->new_order[p->new_order_n++] = (uint16_t)first;
    if (second >= 0)
        p->new_order[p->new_order_n++] = (uint16_t)second;
    for (size_t i = 0; i < p->boot_order_len / 2; i++) {
        uint16_t v = (uint16_t)(p->boot_order[2 * i] | p->boot_order[2 * i + 1] << 8);
        if (v != first && v != second)
            p->new_order[p->new_order_n++] = v;
    }
    return EXIT_OK;
}

static void print_order(const char *label, const uint16_t *v, size_t n, bool none)
{
    printf("  %-12s", label);
    if (none)
        printf("(none)");
    for (size_t i = 0; i < n; i++)
        printf("%s%04X", i ? "," : "", v[i]);
    printf("\n");
}

static void print_entry(const char *verb, uint16_t num, const uint8_t *opt, size_t len)
{
    char text[2048];
    const unsigned char *d = efi_loadopt_desc((efi_load_option *)opt, (ssize_t)len);
    format_load_option_path(opt, len, text, sizeof(text));
    printf("  %-12sBoot%04X \"%s\" %s\n", verb, num, d ? (const char *)d : "", text);
}

/* ---- files ---- */

static int plan_file(struct plan *p, const char *esp_path, const uint8_t *data, size_t len,
                     bool is_conf, uint8_t **old, size_t *old_len)
{
    char path[PATH_MAX];
    esp_join(path, sizeof(path), p->esp, esp_path);
    int r = read_all(path, old, old_len);
    if (r == -ENOENT)
        return F_NEW;
    if (r < 0) {
        fprintf(stderr, "%s: cannot read %s: %s\n", prog, path, strerror(-r));
        return -1;
    }
    if (same_bytes(*old, *old_len, data, len))
        return F_SAME;
    if (is_conf && !p->force)
        return F_KEEP;
    return F_REPLACE;
}

static const char *file_act_text(int act)
{
    switch (act) {
    case F_NEW: return "new";
    case F_REPLACE: return "replaced (the old file is kept as " UL_BACKUP_SUFFIX ")";
    case F_SAME: return "already there, identical";
    case F_KEEP: return "KEPT: a different config is there (--force replaces it)";
    default: return "";
    }
}

/* ---- uninstall (also the roll-back of an unfinished install) ---- */

/* The FILE.tmp a cut in write_atomic() can leave behind. */
static void remove_tmp(const char *path, const char *bak)
{
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    unlink(tmp);
    if (bak) {
        snprintf(tmp, sizeof(tmp), "%s.tmp", bak);
        unlink(tmp);
    }
}

static int undo_record(const char *esp, const struct record *rec, bool dry)
{
    int failed = 0;
    char path[PATH_MAX], bak[PATH_MAX + 16];

    /*
     * 1. BootOrder: if it still holds what install wrote (or install was cut
     * before writing it), as it was, byte for byte; if something else
     * changed it since, only unloop's entries come out of it.
     */
    uint8_t *bo = NULL;
    size_t bo_len = 0;
    uint32_t bo_attrs = 0;
    bool have_bo = false;
    if (!rec->order_untouched) {
        have_bo = efi_get_variable(efi_guid_global, "BootOrder", &bo, &bo_len, &bo_attrs) >= 0;
        efi_error_clear();
    }
    bool changed_since = have_bo && rec->have_set &&
                         !same_bytes(bo, bo_len, rec->set_order, rec->set_len) &&
                         !(rec->had_boot_order &&
                           same_bytes(bo, bo_len, rec->boot_order, rec->boot_order_len));
    if (rec->order_untouched) {
        printf("  %-12s(install did not change it)\n", "BootOrder");
    } else if (changed_since) {
        uint8_t keep[sizeof(rec->set_order) + 2 * MAX_ENTRIES * 8];
        size_t kn = 0;
        printf("  %-12s", "BootOrder");
        for (size_t i = 0; i + 1 < bo_len && kn + 2 <= sizeof(keep); i += 2) {
            uint16_t v = (uint16_t)(bo[i] | bo[i + 1] << 8);
            bool ours = false;
            for (unsigned k = 0; k < rec->n_created; k++)
                ours |= rec->created[k] == v;
            if (ours)
                continue;
            printf("%s%04X", kn ? "," : "", v);
            keep[kn++] = bo[i];
            keep[kn++] = bo[i + 1];
        }
        printf(" (changed since install: only unloop's entries taken out)\n");
        if (!dry && kn != bo_len) {
            cut_point();
            if (efi_set_variable(efi_guid_global, "BootOrder", keep, kn, bo_attrs, 0644) < 0) {
                fprintf(stderr, "%s: cannot write BootOrder: %s\n", prog, strerror(errno));
                efi_errors();
                failed++;
            }
        }
    } else if (rec->had_boot_order) {
        printf("  %-12s", "BootOrder");
        for (size_t i = 0; i + 1 < rec->boot_order_len; i += 2)
            printf("%s%04X", i ? "," : "", rec->boot_order[i] | rec->boot_order[i + 1] << 8);
        printf(" (restored)\n");
        if (!dry)
            cut_point();
        if (!dry && efi_set_variable(efi_guid_global, "BootOrder", (uint8_t *)rec->boot_order,
                                     rec->boot_order_len, rec->boot_order_attrs, 0644) < 0) {
            fprintf(stderr, "%s: cannot restore BootOrder: %s\n", prog, strerror(errno));
            efi_errors();
            failed++;
        }
    } else {
        printf("  %-12s(deleted: there was none)\n", "BootOrder");
        if (!dry)
            cut_point();
        if (!dry && efi_del_variable(efi_guid_global, "BootOrder") < 0 && errno != ENOENT) {
            fprintf(stderr, "%s: cannot delete BootOrder: %s\n", prog, strerror(errno));
            efi_errors();
            failed++;
        }
        efi_error_clear();
    }
    free(bo);
    /* 2. The entries this install created, if they are still ours. */
    for (unsigned i = 0; i < rec->n_created; i++) {
        char name[9];
        uint8_t *data;
        size_t len;
        uint32_t attrs;
        bool unl = strcmp(rec->created_kind[i], "unloop") == 0;
        boot_name(name, rec->created[i]);
        if (efi_get_variable(efi_guid_global, name, &data, &len, &attrs) < 0) {
            efi_error_clear();
            printf("  %-12s%s (already gone)\n", "delete", name);
            continue;
        }
        bool ours = entry_is(data, len, unl ? UL_EFI_PATH : UL_DEFAULT_LOADER,
                             unl ? "unloop" : WINDOWS_DESC);
        free(data);
        if (!ours) {
            printf("  %-12s%s: left alone, it is no longer the entry unloop created\n", "keep",
                   name);
            continue;
        }
        printf("  %-12s%s (%s)\n", "delete", name, unl ? "unloop" : WINDOWS_DESC);
        if (!dry)
            cut_point();
        if (!dry && efi_del_variable(efi_guid_global, name) < 0) {
            fprintf(stderr, "%s: cannot delete %s: %s\n", prog, name, strerror(errno));
            efi_errors();
            failed++;
        }
    }
    /* 3. Files: new ones removed, replaced ones restored from their copy. */
    for (unsigned i = 0; i < rec->n_files; i++) {
        const struct rec_file *rf = &rec->files[i];
        esp_join(path, sizeof(path), esp, rf->path);
        snprintf(bak, sizeof(bak), "%s" UL_BACKUP_SUFFIX, path);
        if (!dry)
            remove_tmp(path, bak);
        if (!rf->replaced) {
            printf("  %-12s%s\n", "remove", rf->path);
            if (!dry)
                cut_point();
            if (!dry && unlink(path) < 0 && errno != ENOENT) {
                fprintf(stderr, "%s: cannot remove %s: %s\n", prog, path, strerror(errno));
                failed++;
            }
            continue;
        }
        uint8_t *cur = NULL, *old = NULL;
        size_t cur_len = 0, old_len = 0;
        bool cur_is_old = read_all(path, &cur, &cur_len) == 0 && cur_len == rf->old_len &&
                          ul_crc32(cur, cur_len) == rf->old_crc;
        bool bak_is_old = read_all(bak, &old, &old_len) == 0 && old_len == rf->old_len &&
                          ul_crc32(old, old_len) == rf->old_crc;
        free(cur);
        free(old);
        if (cur_is_old) {
            /* never replaced (a cut before the copy was done): drop the copy */
            printf("  %-12s%s (unchanged)\n", "keep", rf->path);
            if (!dry)
                unlink(bak);
        } else if (bak_is_old) {
            printf("  %-12s%s from %s%s\n", "restore", rf->path, rf->path, UL_BACKUP_SUFFIX);
            if (!dry)
                cut_point();
            if (!dry && (rename(bak, path) < 0 || fsync_dir_of(path) < 0)) {
                fprintf(stderr, "%s: cannot restore %s: %s\n", prog, path, strerror(errno));
                failed++;
            }
        } else {
            fprintf(stderr, "%s: cannot restore %s: neither it nor %s%s is the file that was "
                    "there before install (length %u, CRC-32 %08x)\n", prog, rf->path,
                    rf->path, UL_BACKUP_SUFFIX, rf->old_len, rf->old_crc);
            failed++;
        }
    }
    if (failed)
        return EXIT_FAIL;
    /* 4. The record itself, last; then unloop's folder if install made it
     * and nothing else (a state file, a log) is in it now. */
    esp_join(path, sizeof(path), esp, UL_RECORD_PATH);
    if (!dry)
        remove_tmp(path, NULL);
    printf("  %-12s%s\n", "remove", UL_RECORD_PATH);
    if (!dry) {
        cut_point();
        if (unlink(path) < 0 && errno != ENOENT) {
            fprintf(stderr, "%s: cannot remove %s: %s\n", prog, path, strerror(errno));
            return EXIT_FAIL;
        }
        fsync_dir_of(path);
        if (rec->dir_created) {
            esp_join(path, sizeof(path), esp, UL_DIR_PATH);
            if (rmdir(path) == 0)
                printf("  %-12s%s\n", "remove", UL_DIR_PATH);
        }
    }
    return EXIT_OK;
}

/* ---- the commands ---- */

static int common_checks(const char *esp, bool dry)
{
    int rc = check_efivars();
    if (rc)
        return rc;
    rc = check_esp(esp);
    if (rc)
        return rc;
    if (!dry && geteuid() != 0) {
        fprintf(stderr, "%s: must be run as root: it writes firmware variables and the ESP "
                "(try --dry-run to see the plan)\n", prog);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

static const char *default_efi(void)
{
    static char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 16);
    if (n > 0) {
        buf[n] = 0;
        char *slash = strrchr(buf, '/');
        if (slash) {
            strcpy(slash + 1, "unloop.efi");
            if (access(buf, R_OK) == 0)
                return buf;
        }
    }
    return SYSTEM_EFI;
}

static int do_install(struct plan *p)
{
    struct record rec = { 0 };
    char path[PATH_MAX], bak[PATH_MAX + 16];
    int rc;

    int have = record_load(p->esp, &rec);
    if (have < 0)
        return EXIT_FAIL;
    if (have && rec.installed) {
        fprintf(stderr, "%s: unloop is already installed on %s (%s): run 'unloop uninstall' "
                "first\n", prog, p->esp, UL_RECORD_PATH);
        return EXIT_FAIL;
    }
    if (have) {
        printf("An unfinished install was found (%s); %s:\n", UL_RECORD_PATH,
               p->dry ? "it would be rolled back first" : "rolling it back first");
        rc = undo_record(p->esp, &rec, p->dry);
        if (rc)
            return rc;
        if (p->dry) {
            printf("Run without --dry-run to roll it back, then again for the plan.\n");
            return EXIT_OK;
        }
    }

    rc = read_all(p->efi_src, &p->efi_data, &p->efi_len);
    if (rc < 0) {
        fprintf(stderr, "%s: cannot read %s: %s%s\n", prog, p->efi_src, strerror(-rc),
                rc == -ENOENT ? " (name unloop.efi with --efi FILE)" : "");
        return EXIT_FAIL;
    }
    if (p->efi_len < 2 || p->efi_data[0] != 'M' || p->efi_data[1] != 'Z') {
        fprintf(stderr, "%s: %s is not an EFI application (no MZ header)\n", prog, p->efi_src);
        return EXIT_FAIL;
    }
    if (p->conf_src && (rc = read_all(p->conf_src, &p->conf_data, &p->conf_len)) < 0) {
        fprintf(stderr, "%s: cannot read %s: %s\n", prog, p->conf_src, strerror(-rc));
        return EXIT_FAIL;
    }
    rc = find_esp_partition(p->esp, &p->ep);
    if (rc)
        return rc;
    esp_join(path, sizeof(path), p->esp, UL_DIR_PATH);
    struct stat st;
    p->dir_exists = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    int a = plan_file(p, UL_EFI_PATH, p->efi_data, p->efi_len, false, &p->old_efi,
                      &p->old_efi_len);
    if (a < 0)
        return EXIT_FAIL;
    p->efi_act = a;
    p->conf_act = F_SKIP;
    if (p->conf_src) {
        a = plan_file(p, UL_CONFIG_PATH, p->conf_data, p->conf_len, true, &p->old_conf,
                      &p->old_conf_len);
        if (a < 0)
            return EXIT_FAIL;
        p->conf_act = a;
    }
    rc = plan_variables(p);
    if (rc)
        return rc;

    /* The plan. */
    char guid_s[UL_GUID_STR_LEN + 1];
    ul_guid_format(&p->ep.part.guid, guid_s);
    printf("%s on %s (partition %d of %s, PARTUUID %s):\n",
           p->dry ? "unloop install plan (dry run: nothing is changed)" : "Installing unloop",
           p->esp, p->ep.partno, p->ep.disk, guid_s);
    printf("  %-12s%s\n", "record", UL_RECORD_PATH);
    printf("  %-12s%s <- %s: %s\n", "file", UL_EFI_PATH, p->efi_src, file_act_text(p->efi_act));
    if (p->conf_src)
        printf("  %-12s%s <- %s: %s\n", "file", UL_CONFIG_PATH, p->conf_src,
               file_act_text(p->conf_act));
    if (p->conf_act == F_KEEP)
        fprintf(stderr, "%s: %s differs from %s: kept as it is (--force replaces it)\n", prog,
                UL_CONFIG_PATH, p->conf_src);
    if (p->create_unloop)
        print_entry("create", p->new_unloop, p->unloop_opt, (size_t)p->unloop_opt_len);
    else if (p->unloop_entry >= 0)
        printf("  %-12sBoot%04X (an entry for %s is already there)\n", "use", p->unloop_entry,
               UL_EFI_PATH);
    if (p->create_windows)
        print_entry("create", p->new_windows, p->windows_opt, (size_t)p->windows_opt_len);
    else if (p->windows_entry >= 0)
        printf("  %-12sBoot%04X (Windows Boot Manager)\n", "use", p->windows_entry);
    if (!p->no_entry) {
        uint16_t old[MAX_ENTRIES * 8];
        for (size_t i = 0; i < p->boot_order_len / 2; i++)
            old[i] = (uint16_t)(p->boot_order[2 * i] | p->boot_order[2 * i + 1] << 8);
        print_order("BootOrder", old, p->boot_order_len / 2, !p->had_boot_order);
        print_order("  becomes", p->new_order, p->new_order_n, false);
    } else {
        printf("  %-12sno boot entry (--no-entry): BootOrder unchanged\n", "entry");
    }
    if (p->dry)
        return EXIT_OK;

    /* 1. The record, first: everything below can be undone from it. */
    rec = (struct record){ 0 };
    rec.order_untouched = p->no_entry;
    if (!p->no_entry) {
        rec.have_set = true;
        rec.set_len = p->new_order_n * 2;
        for (size_t i = 0; i < p->new_order_n; i++) {
            rec.set_order[2 * i] = (uint8_t)p->new_order[i];
            rec.set_order[2 * i + 1] = (uint8_t)(p->new_order[i] >> 8);
        }
    }
    rec.had_boot_order = p->had_boot_order;
    rec.boot_order_attrs = p->boot_order_attrs;
    rec.boot_order_len = p->boot_order_len;
    if (p->boot_order_len)
        memcpy(rec.boot_order, p->boot_order, p->boot_order_len);
    if (p->create_unloop) {
        rec.created[rec.n_created] = p->new_unloop;
        strcpy(rec.created_kind[rec.n_created++], "unloop");
    }
    if (p->create_windows) {
        rec.created[rec.n_created] = p->new_windows;
        strcpy(rec.created_kind[rec.n_created++], "windows");
    }
    struct {
        const char *esp_path;
        int act;
        const uint8_t *data, *old;
        size_t len, old_len;
    } files[2] = {
        { UL_EFI_PATH, p->efi_act, p->efi_data, p->old_efi, p->efi_len, p->old_efi_len },
        { UL_CONFIG_PATH, p->conf_act, p->conf_data, p->old_conf, p->conf_len, p->old_conf_len },
    };
    for (int i = 0; i < 2; i++) {
        struct rec_file *rf = &rec.files[rec.n_files];
        if (files[i].act != F_NEW && files[i].act != F_REPLACE)
            continue;
        snprintf(rf->path, sizeof(rf->path), "%s", files[i].esp_path);
        rf->replaced = files[i].act == F_REPLACE;
        if (rf->replaced) {
            rf->old_len = (uint32_t)files[i].old_len;
            rf->old_crc = ul_crc32(files[i].old, files[i].old_len);
        }
        rec.n_files++;
    }
    rec.dir_created = !p->dir_exists;
    esp_join(path, sizeof(path), p->esp, UL_DIR_PATH);
    if (!p->dir_exists && mkdir(path, 0755) < 0) {
        fprintf(stderr, "%s: cannot create %s: %s\n", prog, path, strerror(errno));
        return EXIT_FAIL;
    }
    rc = record_write(p->esp, &rec);
    if (rc < 0) {
        fprintf(stderr, "%s: cannot write the install record: %s (nothing else changed)\n",
                prog, strerror(-rc));
        return EXIT_FAIL;
    }

    /* 2. Files: a replaced one is copied aside (fsync'ed) before it is
     * overwritten; the new content goes in by rename. */
    for (int i = 0; i < 2; i++) {
        if (files[i].act != F_NEW && files[i].act != F_REPLACE)
            continue;
        esp_join(path, sizeof(path), p->esp, files[i].esp_path);
        if (files[i].act == F_REPLACE) {
            snprintf(bak, sizeof(bak), "%s" UL_BACKUP_SUFFIX, path);
            rc = write_atomic(bak, files[i].old, files[i].old_len);
            if (rc < 0) {
                fprintf(stderr, "%s: cannot keep a copy of %s: %s\n", prog, path, strerror(-rc));
                goto fail;
            }
        }
        rc = write_atomic(path, files[i].data, files[i].len);
        if (rc < 0) {
            fprintf(stderr, "%s: cannot write %s: %s\n", prog, path, strerror(-rc));
            goto fail;
        }
    }

    /* 3. Boot entries, then BootOrder. */
    if (p->create_unloop || p->create_windows) {
        for (int k = 0; k < 2; k++) {
            bool want = k == 0 ? p->create_unloop : p->create_windows;
            if (!want)
                continue;
            char name[9];
            boot_name(name, k == 0 ? p->new_unloop : p->new_windows);
            cut_point();
            if (efi_set_variable(efi_guid_global, name, k == 0 ? p->unloop_opt : p->windows_opt,
                                 (size_t)(k == 0 ? p->unloop_opt_len : p->windows_opt_len),
                                 ATTRS_NV_BS_RT, 0644) < 0) {
                fprintf(stderr, "%s: cannot create %s: %s\n", prog, name, strerror(errno));
                efi_errors();
                goto fail;
            }
        }
    }
    if (!p->no_entry) {
        uint8_t order[sizeof(p->new_order)];
        for (size_t i = 0; i < p->new_order_n; i++) {
            order[2 * i] = (uint8_t)p->new_order[i];
            order[2 * i + 1] = (uint8_t)(p->new_order[i] >> 8);
        }
        cut_point();
        if (efi_set_variable(efi_guid_global, "BootOrder", order, p->new_order_n * 2,
                             p->had_boot_order ? p->boot_order_attrs : ATTRS_NV_BS_RT,
                             0644) < 0) {
            fprintf(stderr, "%s: cannot write BootOrder: %s\n", prog, strerror(errno));
            efi_errors();
            goto fail;
        }
    }

    /* 4. Done: the record says so. */
    rec.installed = true;
    rc = record_write(p->esp, &rec);
    if (rc < 0) {
        fprintf(stderr, "%s: cannot finish the install record: %s\n", prog, strerror(-rc));
        goto fail;
    }
    printf("Installed. 'unloop uninstall --esp %s' undoes it.\n", p->esp);
    return EXIT_OK;

fail:
    fprintf(stderr, "%s: install failed; undoing what was done:\n", prog);
    if (undo_record(p->esp, &rec, false) != EXIT_OK)
        fprintf(stderr, "%s: the undo was not complete either: the record %s is kept, run "
                "'unloop uninstall' once the cause is fixed\n", prog, UL_RECORD_PATH);
    return EXIT_FAIL;
}

static int do_uninstall(const char *esp, bool dry)
{
    struct record rec;
    int have = record_load(esp, &rec);
    if (have < 0)
        return EXIT_FAIL;
    if (have == 0) {
        char path[PATH_MAX + 8];
        esp_join(path, sizeof(path), esp, UL_RECORD_PATH ".tmp");
        if (access(path, F_OK) == 0) {
            /* install was cut while writing its first record: nothing else
             * had been changed yet */
            printf("An install was interrupted before it changed anything; %s\n",
                   dry ? "its partial record would be removed." : "removing its partial record.");
            if (!dry && unlink(path) < 0) {
                fprintf(stderr, "%s: cannot remove %s: %s\n", prog, path, strerror(errno));
                return EXIT_FAIL;
            }
            return EXIT_OK;
        }
        fprintf(stderr, "%s: no install record (%s) on %s: nothing to undo\n", prog,
                UL_RECORD_PATH, esp);
        return EXIT_FAIL;
    }
    printf("%s %s (%s install):\n",
           dry ? "unloop uninstall plan (dry run: nothing is changed) on" : "Uninstalling unloop from",
           esp, rec.installed ? "a complete" : "an unfinished");
    int rc = undo_record(esp, &rec, dry);
    if (rc == EXIT_OK && !dry)
        printf("Uninstalled: the boot entries, BootOrder and files are as they were.\n");
    return rc;
}

static const char install_usage[] =
    "Usage: unloop install --esp DIR [--efi FILE] [--conf FILE] [--force] [--no-entry]\n"
    "                      [--dry-run]\n"
    "       unloop uninstall --esp DIR [--dry-run]\n";

int cmd_install_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "esp", required_argument, NULL, 'e' },
        { "efi", required_argument, NULL, 'f' },
        { "conf", required_argument, NULL, 'c' },
        { "dry-run", no_argument, NULL, 'd' },
        { "no-entry", no_argument, NULL, 'n' },
        { "force", no_argument, NULL, 'F' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    struct plan p = { 0 };
    bool uninstall = strcmp(argv[0], "uninstall") == 0;
    int c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'e': p.esp = optarg; break;
        case 'f': p.efi_src = optarg; break;
        case 'c': p.conf_src = optarg; break;
        case 'd': p.dry = true; break;
        case 'n': p.no_entry = true; break;
        case 'F': p.force = true; break;
        case 'h': fputs(install_usage, stdout); return EXIT_OK;
        default:
            fputs(install_usage, stderr);
            return usage_error("%s: unknown option or missing argument", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (!p.esp)
        return usage_error("%s needs --esp DIR (the mounted EFI system partition)", argv[0]);
    if (uninstall && (p.efi_src || p.conf_src || p.no_entry || p.force))
        return usage_error("%s", "uninstall takes only --esp and --dry-run");
    if (!p.efi_src)
        p.efi_src = default_efi();

    int rc = common_checks(p.esp, p.dry);
    if (rc)
        return rc;
    rc = uninstall ? do_uninstall(p.esp, p.dry) : do_install(&p);
    free(p.efi_data);
    free(p.conf_data);
    free(p.old_efi);
    free(p.old_conf);
    free(p.boot_order);
    free(p.unloop_opt);
    free(p.windows_opt);
    return rc;
}
