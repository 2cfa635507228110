/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * unloop bitlocker info|unlock DISK: a BitLocker volume of a disk, a disk
 * image or a bare volume image, through the portable reader in
 * shared/bitlocker.c.  info lists what the metadata says (never a key);
 * unlock writes the decrypted volume to a new file, as dislocker-file does.
 *
 * Secrets (recovery password, password, .BEK contents, key files) are read into
 * buffers that are wiped once the volume is unlocked or refused; the
 * argument strings that held them are overwritten too, so they leave
 * /proc/PID/cmdline early.  No message ever contains one.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../shared/bitlocker-keys.h"
#include "../shared/bitlocker.h"
#include "../shared/gpt.h"
#include "../shared/time-util.h"
#include "../shared/ul-errno.h"
#include "cli.h"
#include "json.h"

#define BASIC_DATA_GUID "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
#define CHUNK (1u << 20)

struct bl_disk {
    const char *path;
    int fd;
    struct stat st;
    int partno;             /* 0 = the whole file is the volume */
    uint64_t offset, size;
};

static int disk_read(void *ctx, uint64_t off, void *buf, size_t len)
{
    const struct bl_disk *d = ctx;

    if (off > d->size || len > d->size - off)
        return -UL_ERANGE;
    return cli_pread_all(d->fd, buf, len, d->offset + off);
}

/* The first sector of [off, off + 512) of the file. */
static enum ul_fs_kind probe(int fd, uint64_t off)
{
    uint8_t s[512];
    if (pread(fd, s, sizeof(s), (off_t)off) != (ssize_t)sizeof(s))
        return UL_FS_UNKNOWN;
    return ul_probe_boot_sector(s, sizeof(s));
}

static bool is_bitlocker(enum ul_fs_kind k)
{
    return k == UL_FS_BITLOCKER || k == UL_FS_BITLOCKER_TOGO;
}

struct find_bl {
    struct bl_disk *d;
    int want;               /* --partition N, or 0 */
    int found;              /* 1 found, -1 --partition N is not BitLocker */
};

static int find_part(void *arg, int n, uint64_t off, uint64_t len, const char *guid)
{
    struct find_bl *f = arg;
    if (f->want ? n != f->want : (!guid || strcasecmp(guid, BASIC_DATA_GUID) != 0))
        return 0;
    if (!is_bitlocker(probe(f->d->fd, off))) {
        if (!f->want)
            return 0;
        f->found = -1;
        return 1;
    }
    f->d->partno = n;
    f->d->offset = off;
    f->d->size = len;
    f->found = 1;
    return 1;
}

/* The BitLocker volume of DISK: the bare volume, --partition N, or the
 * first basic data partition that is BitLocker. */
static int open_disk(const struct cli_opts *o, const char *path, struct bl_disk *d)
{
    memset(d, 0, sizeof(*d));
    d->path = path;
    d->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (d->fd < 0 || fstat(d->fd, &d->st) < 0) {
        fprintf(stderr, "%s: cannot open %s: %s\n", prog, path, strerror(errno));
        if (d->fd >= 0)
            close(d->fd);
        return EXIT_FAIL;
    }
    uint64_t total = (uint64_t)d->st.st_size;
    if (S_ISBLK(d->st.st_mode) && ioctl(d->fd, BLKGETSIZE64, &total) < 0) {
        fprintf(stderr, "%s: cannot get the size of %s: %s\n", prog, path, strerror(errno));
        goto fail;
    }
    if (!o->partition && is_bitlocker(probe(d->fd, 0))) {
        d->size = total;
        return EXIT_OK;
    }
    struct find_bl f = { .d = d, .want = o->partition };
    int r = cli_for_each_partition(path, find_part, &f);
    if (f.found == 1) {
        if (d->offset > total || d->size > total - d->offset) {
            fprintf(stderr, "%s: partition %d of %s lies past its end (truncated image?)\n",
                    prog, d->partno, path);
            goto fail;
        }
        return EXIT_OK;
    }
    if (f.found == -1)
        fprintf(stderr, "%s: partition %d of %s is not a BitLocker volume\n", prog, o->partition,
                path);
    else if (r == -ENOENT || (r < 0 && S_ISREG(d->st.st_mode)))
        fprintf(stderr, "%s: %s is not a BitLocker volume and has no partition table\n", prog,
                path);
    else if (r < 0)
        fprintf(stderr, "%s: cannot read the partition table of %s: %s\n", prog, path,
                strerror(-r));
    else if (o->partition)
        fprintf(stderr, "%s: %s has no partition %d\n", prog, path, o->partition);
    else
        fprintf(stderr, "%s: no BitLocker volume on %s\n", prog, path);
fail:
    close(d->fd);
    d->fd = -1;
    return EXIT_FAIL;
}

static const char *method_id(uint16_t m)
{
    switch (m) {
    case UL_BITLOCKER_AES_128_CBC_ELEPHANT: return "aes-cbc-elephant-128";
    case UL_BITLOCKER_AES_256_CBC_ELEPHANT: return "aes-cbc-elephant-256";
    case UL_BITLOCKER_AES_128_CBC: return "aes-cbc-128";
    case UL_BITLOCKER_AES_256_CBC: return "aes-cbc-256";
    case UL_BITLOCKER_AES_128_XTS: return "aes-xts-128";
    case UL_BITLOCKER_AES_256_XTS: return "aes-xts-256";
    default: return "unknown";
    }
}

static bool fully_encrypted(const struct ul_bitlocker_info *in)
{
    return in->state == UL_BITLOCKER_STATE_ENCRYPTED && in->encrypted_size >= in->volume_size;
}

static void filetime_iso(uint64_t ft, char *buf, size_t size)
{
    /* FILETIME: 100 ns since 1601-01-01; 11644473600 s before 1970. */
    int64_t secs = (int64_t)(ft / 10000000u) - 11644473600LL;
    ul_time_format_iso(secs, buf, size);
}

static int open_bitlocker(const struct cli_opts *o, const char *path, struct bl_disk *d,
                          struct ul_bitlocker **bl)
{
    int rc = open_disk(o, path, d);
    if (rc)
        return rc;
    struct ul_bitlocker_dev dev = { .read = disk_read, .ctx = d, .size = d->size };
    const char *why = NULL;
    int r = ul_bitlocker_open(&dev, &cli_mem, bl, &why);
    if (r < 0) {
        fprintf(stderr, "%s: %s%s%.0d: %s\n", prog, path, d->partno ? " partition " : "",
                d->partno, why ? why : strerror(-r));
        close(d->fd);
        d->fd = -1;
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* ---- info */

static int bitlocker_info(const struct cli_opts *o, const char *path)
{
    struct bl_disk d;
    struct ul_bitlocker *bl;
    int rc = open_bitlocker(o, path, &d, &bl);
    if (rc)
        return rc;
    const struct ul_bitlocker_info *in = ul_bitlocker_get_info(bl);
    char guid[UL_GUID_STR_LEN + 1], created[32];
    ul_guid_format(&in->volume_guid, guid);
    filetime_iso(in->created, created, sizeof(created));
    const char *mname = ul_bitlocker_method_name(in->method);

    if (o->json) {
        struct json j;
        json_init(&j, stdout);
        json_object_begin(&j, NULL);
        json_str(&j, "disk", path);
        if (d.partno)
            json_int(&j, "partition", d.partno);
        else
            json_null(&j, "partition");
        json_int(&j, "offset", (int64_t)d.offset);
        json_bool(&j, "to_go", in->to_go);
        json_str(&j, "method", method_id(in->method));
        json_int(&j, "method_value", in->method);
        json_str(&j, "method_name", mname);
        json_int(&j, "volume_size", (int64_t)in->volume_size);
        json_int(&j, "sector_size", in->sector_size);
        json_int(&j, "encrypted_size", (int64_t)in->encrypted_size);
        json_str(&j, "state", ul_bitlocker_state_name(in->state));
        json_bool(&j, "fully_encrypted", fully_encrypted(in));
        json_str(&j, "volume_guid", guid);
        json_str(&j, "created", in->created ? created : NULL);
        json_str(&j, "description", in->description);
        json_int(&j, "metadata_copy", in->copy_used + 1);
        json_array_begin(&j, "metadata_copies");
        for (int i = 0; i < UL_BITLOCKER_COPIES; i++) {
            json_object_begin(&j, NULL);
            json_int(&j, "offset", (int64_t)in->metadata_offset[i]);
            json_bool(&j, "valid", !in->copy_error[i]);
            json_str(&j, "error", in->copy_error[i]);
            json_object_end(&j);
        }
        json_array_end(&j);
        json_array_begin(&j, "protectors");
        for (uint32_t i = 0; i < in->n_protectors; i++) {
            const struct ul_bitlocker_protector *p = &in->protectors[i];
            char pg[UL_GUID_STR_LEN + 1];
            ul_guid_format(&p->guid, pg);
            json_object_begin(&j, NULL);
            json_str(&j, "guid", pg);
            json_str(&j, "type", ul_bitlocker_protector_key(p->type));
            json_int(&j, "type_value", p->type);
            json_object_end(&j);
        }
        json_array_end(&j);
        json_int(&j, "protectors_not_listed", in->protectors_dropped);
        json_object_end(&j);
        json_finish(&j);
    } else {
        if (d.partno)
            printf("Volume:          %s partition %d (offset %llu)\n", path, d.partno,
                   (unsigned long long)d.offset);
        else
            printf("Volume:          %s\n", path);
        printf("Format:          BitLocker%s\n", in->to_go ? " To Go" : " (Windows 7 or later)");
        if (mname)
            printf("Encryption:      %s\n", mname);
        else
            printf("Encryption:      unknown method 0x%04x (cannot be decrypted)\n", in->method);
        printf("Size:            %llu bytes, %u-byte sectors\n",
               (unsigned long long)in->volume_size, in->sector_size);
        if (fully_encrypted(in))
            printf("State:           fully encrypted\n");
        else
            printf("State:           %s; %llu of %llu bytes encrypted\n",
                   ul_bitlocker_state_name(in->state), (unsigned long long)in->encrypted_size,
                   (unsigned long long)in->volume_size);
        printf("Volume GUID:     %s\n", guid);
        if (in->created)
            printf("Created:         %s\n", created);
        if (in->description[0])
            printf("Description:     %s\n", in->description);
        printf("Metadata:        copy %d of 3 in use", in->copy_used + 1);
        for (int i = 0; i < UL_BITLOCKER_COPIES; i++)
            if (in->copy_error[i])
                printf("; copy %d refused: %s", i + 1, in->copy_error[i]);
        printf("\n");
        printf("Key protectors:  %u\n", in->n_protectors + in->protectors_dropped);
        for (uint32_t i = 0; i < in->n_protectors; i++) {
            const struct ul_bitlocker_protector *p = &in->protectors[i];
            char pg[UL_GUID_STR_LEN + 1];
            ul_guid_format(&p->guid, pg);
            printf("  %s  %s", pg, ul_bitlocker_protector_name(p->type));
            if (strcmp(ul_bitlocker_protector_key(p->type), "unknown") == 0)
                printf(" (0x%04x)", p->type);
            printf("\n");
        }
        if (in->protectors_dropped)
            printf("  (%u more not listed)\n", in->protectors_dropped);
    }
    ul_bitlocker_close(bl);
    close(d.fd);
    return EXIT_OK;
}

/* ---- unlock */

/*
 * A secret from the command line, or from standard input when the argument
 * is "-" (one line, so it stays out of the process list and the shell
 * history).  The argument string is overwritten once copied.
 */
static int read_secret(const char *arg, const char *opt, char *buf, size_t size, size_t *ret_len)
{
    size_t n = 0;

    if (strcmp(arg, "-") == 0) {
        for (;;) {
            char c;
            ssize_t k = read(STDIN_FILENO, &c, 1);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0) {
                fprintf(stderr, "%s: %s -: cannot read standard input: %s\n", prog, opt,
                        strerror(errno));
                return EXIT_FAIL;
            }
            if (k == 0 || c == '\n')
                break;
            if (n + 1 >= size) {
                explicit_bzero(buf, size);
                fprintf(stderr, "%s: %s -: the line is too long\n", prog, opt);
                return EXIT_USAGE;
            }
            buf[n++] = c;
        }
        if (n && buf[n - 1] == '\r')
            n--;
    } else {
        n = strlen(arg);
        if (n + 1 > size) {
            fprintf(stderr, "%s: %s: too long\n", prog, opt);
            return EXIT_USAGE;
        }
        memcpy(buf, arg, n);
        explicit_bzero((char *)arg, n);
    }
    buf[n] = '\0';
    *ret_len = n;
    return EXIT_OK;
}

static int read_bek(const char *path, uint8_t *buf, size_t size, size_t *ret_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t n = 0;

    if (fd < 0) {
        fprintf(stderr, "%s: cannot open %s: %s\n", prog, path, strerror(errno));
        return EXIT_FAIL;
    }
    for (;;) {
        ssize_t k = read(fd, buf + n, size - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            fprintf(stderr, "%s: cannot read %s: %s\n", prog, path, strerror(errno));
            close(fd);
            return EXIT_FAIL;
        }
        if (k == 0)
            break;
        n += (size_t)k;
        if (n == size) {
            close(fd);
            explicit_bzero(buf, size);
            fprintf(stderr, "%s: %s is too large for a startup key (.BEK) file\n", prog, path);
            return EXIT_FAIL;
        }
    }
    close(fd);
    *ret_len = n;
    return EXIT_OK;
}

/* A --key-file: the whole file (or standard input for "-"), at most
 * CLI_KEY_FILE_MAX bytes, into a malloc'd buffer the caller wipes. */
static int read_key_file(const char *path, uint8_t **ret, size_t *ret_len)
{
    bool in = strcmp(path, "-") == 0;
    int fd = in ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    size_t n = 0, size = CLI_KEY_FILE_MAX + 1;
    uint8_t *buf;

    if (fd < 0) {
        fprintf(stderr, "%s: cannot open %s: %s\n", prog, path, strerror(errno));
        return EXIT_FAIL;
    }
    buf = malloc(size);
    if (!buf) {
        fprintf(stderr, "%s: out of memory\n", prog);
        if (!in)
            close(fd);
        return EXIT_FAIL;
    }
    for (;;) {
        ssize_t k = read(fd, buf + n, size - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            fprintf(stderr, "%s: cannot read %s: %s\n", prog, in ? "standard input" : path,
                    strerror(errno));
            break;
        }
        if (k == 0) {
            if (!in)
                close(fd);
            *ret = buf;
            *ret_len = n;
            return EXIT_OK;
        }
        n += (size_t)k;
        if (n == size) {
            fprintf(stderr, "%s: %s is larger than %u KiB: not a key file\n", prog,
                    in ? "standard input" : path, CLI_KEY_FILE_MAX >> 10);
            break;
        }
    }
    if (!in)
        close(fd);
    explicit_bzero(buf, size);
    free(buf);
    return EXIT_FAIL;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Where the decrypted volume may go: a new file, or a block device other
 * than the one read.  Checked before the (slow) unlock. */
static int check_output(const char *out, const struct bl_disk *d, bool *is_dev)
{
    struct stat st;
    *is_dev = false;
    if (stat(out, &st) < 0) {
        if (errno == ENOENT)
            return EXIT_OK;
        fprintf(stderr, "%s: cannot use %s as the output: %s\n", prog, out, strerror(errno));
        return EXIT_FAIL;
    }
    if (S_ISBLK(st.st_mode)) {
        if ((S_ISBLK(d->st.st_mode) && st.st_rdev == d->st.st_rdev) ||
            (st.st_dev == d->st.st_dev && st.st_ino == d->st.st_ino)) {
            fprintf(stderr, "%s: the output %s is the disk being read\n", prog, out);
            return EXIT_FAIL;
        }
        *is_dev = true;
        return EXIT_OK;
    }
    fprintf(stderr, "%s: the output %s exists; not overwritten (remove it, or name a new file)\n",
            prog, out);
    return EXIT_FAIL;
}

/* Writes the decrypted volume: to a temporary file beside out that is
 * renamed into place only when complete (all-zero chunks are left as
 * holes), or straight onto a block device. */
static int write_volume(struct ul_bitlocker *bl, const char *out, bool is_dev, uint64_t *ret)
{
    uint64_t size = ul_bitlocker_get_info(bl)->volume_size, off = 0;
    char tmp[4096];
    uint8_t *buf = malloc(CHUNK);
    int fd = -1, r = 0;
    const char *what = "write";

    if (!buf) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return EXIT_FAIL;
    }
    if (is_dev) {
        uint64_t devsize = 0;
        fd = open(out, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || ioctl(fd, BLKGETSIZE64, &devsize) < 0) {
            r = -errno;
            what = "open";
        } else if (devsize < size) {
            fprintf(stderr, "%s: %s holds %llu bytes, the volume has %llu\n", prog, out,
                    (unsigned long long)devsize, (unsigned long long)size);
            goto fail;
        }
    } else {
        if ((size_t)snprintf(tmp, sizeof(tmp), "%s.unloop-XXXXXX", out) >= sizeof(tmp)) {
            fprintf(stderr, "%s: output name too long\n", prog);
            goto fail;
        }
        fd = mkstemp(tmp);
        if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
            r = -errno;
            what = "create";
        }
    }
    while (r == 0 && off < size) {
        size_t n = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
        r = ul_bitlocker_read(bl, off, buf, n);
        if (r < 0) {
            what = "decrypt";
            break;
        }
        if (is_dev || !all_zero(buf, n))
            r = cli_pwrite_all(fd, buf, n, off);
        off += n;
    }
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (r == 0 && !is_dev) {
        what = "rename";
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, out, RENAME_NOREPLACE) < 0) {
            r = -errno;
            /* Filesystems without RENAME_NOREPLACE: the check above was
             * made moments ago. */
            if (r == -EINVAL || r == -ENOSYS)
                r = rename(tmp, out) < 0 ? -errno : 0;
        }
    }
    if (r < 0) {
        fprintf(stderr, "%s: cannot %s %s: %s\n", prog, what, out, strerror(-r));
        goto fail;
    }
    close(fd);
    explicit_bzero(buf, CHUNK);
    free(buf);
    *ret = size;
    return EXIT_OK;
fail:
    if (fd >= 0)
        close(fd);
    if (!is_dev && fd >= 0)
        unlink(tmp);
    explicit_bzero(buf, CHUNK);
    free(buf);
    return EXIT_FAIL;
}

/* ---- keys, shared with scan / quarantine / restore / journal (cli.h) */

/* A diagnostic of the key-file parser, on stderr (never holds a password). */
static void key_file_note(const char *file, const struct ul_bitlocker_keys_note *n)
{
    char buf[256];
    fprintf(stderr, "%s: %s: %s\n", prog, file, ul_bitlocker_keys_note_format(n, buf,
                                                                            sizeof(buf)));
}

/*
 * --key-file: read once; a .BEK file (recognised by its content) becomes a
 * startup key, anything else must be a key file with at least one recovery
 * password, or it is refused here, before any volume is read.
 */
static int key_file_read(const char *path, struct cli_key *k)
{
    struct ul_bitlocker_keys_diag d;
    struct ul_guid g;
    int rc = read_key_file(path, &k->fdata, &k->flen);

    if (rc)
        return rc;
    k->file = strcmp(path, "-") == 0 ? "standard input" : path;
    if (k->flen <= sizeof(k->bek) && ul_bitlocker_bek_guid(k->fdata, k->flen, &g) == 0) {
        memcpy(k->bek, k->fdata, k->flen);
        k->blen = k->flen;
        explicit_bzero(k->fdata, k->flen);
        free(k->fdata);
        k->fdata = NULL;
        k->flen = 0;
        k->kind = CLI_KEY_BEK;
        k->name = "startup key";
        return EXIT_OK;
    }
    k->kind = CLI_KEY_FILE;
    k->name = "key file";
    if (ul_bitlocker_keys_parse(k->fdata, k->flen, NULL, NULL, &d) < 0) {
        for (uint32_t i = 0; i < d.n_notes; i++)
            key_file_note(k->file, &d.notes[i]);
        fprintf(stderr, "%s: %s holds no BitLocker recovery password with its key protector "
                "ID (expected an Active Directory or Entra ID CSV export, manage-bde "
                "-protectors -get output, a BitLocker recovery key .TXT file, lines of "
                "'GUID PASSWORD', or a .BEK startup key file)\n", prog, k->file);
        cli_key_wipe(k);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* Why a key file did not unlock a volume: cli_key_unlock() says it here and
 * hands it to cli_key_report() as the reason. */
static char key_file_why[2048];

static int key_file_unlock(const struct cli_key *k, struct ul_bitlocker *bl, int *ret_protector,
                           const char **ret_why)
{
    const struct ul_bitlocker_info *in = ul_bitlocker_get_info(bl);
    struct ul_guid ids[UL_BITLOCKER_MAX_PROTECTORS];
    struct ul_bitlocker_keys_diag d;
    char pw[UL_BITLOCKER_RP_SIZE], list[1500] = "", g[UL_GUID_STR_LEN + 1];
    size_t n = 0, idx, used = 0;

    for (uint32_t i = 0; i < in->n_protectors; i++)
        if (in->protectors[i].type == UL_BITLOCKER_PROT_RECOVERY_PASSWORD) {
            ids[n++] = in->protectors[i].guid;
            ul_guid_format(&in->protectors[i].guid, g);
            used += (size_t)snprintf(list + used, used < sizeof(list) ? sizeof(list) - used : 0,
                                     "%s{%s}", used ? ", " : "", g);
            if (used >= sizeof(list))
                used = sizeof(list) - 1;
        }
    *ret_why = key_file_why;
    if (n == 0) {
        snprintf(key_file_why, sizeof(key_file_why), "the volume has no recovery-password "
                 "protector, so no key file can open it");
        return -UL_ENOENT;
    }
    int r = ul_bitlocker_keys_find(k->fdata, k->flen, ids, n, pw, &idx, &d);
    if (r == 0) {
        r = ul_bitlocker_unlock_recovery_password(bl, pw, ret_protector, ret_why);
        explicit_bzero(pw, sizeof(pw));
        if (r == -UL_EACCES) {
            ul_guid_format(&ids[idx], g);
            snprintf(key_file_why, sizeof(key_file_why), "%s line %u: the recovery password "
                     "for protector {%s} is wrong (the volume refused it)", k->file,
                     d.match_line, g);
            *ret_why = key_file_why;
        }
        return r;
    }
    explicit_bzero(pw, sizeof(pw));
    if (d.have_refused_match) {
        char note[256];
        snprintf(key_file_why, sizeof(key_file_why), "%s %s", k->file,
                 ul_bitlocker_keys_note_format(&d.refused_match, note, sizeof(note)));
        return -UL_EINVAL;
    }
    for (uint32_t i = 0; i < d.n_notes; i++)
        key_file_note(k->file, &d.notes[i]);
    snprintf(key_file_why, sizeof(key_file_why), "%s has no recovery password for this "
             "volume's recovery-password protector%s %s (it has %u for other protector IDs)",
             k->file, n > 1 ? "s" : "", list, d.pairs);
    return -UL_ENOENT;
}

int cli_key_read(const struct cli_opts *o, struct cli_key *k)
{
    int keys = !!o->recovery_password + !!o->password + !!o->bek + !!o->key_file;
    int rc = EXIT_OK;

    k->kind = CLI_KEY_NONE;
    k->name = "clear key";
    k->slen = k->blen = k->flen = 0;
    k->file = NULL;
    k->fdata = NULL;
    if (keys > 1)
        return usage_error("%s", "give one of --recovery-password, --password, --bek, "
                                 "--key-file");
    if (o->recovery_password) {
        k->kind = CLI_KEY_RECOVERY_PASSWORD;
        k->name = "recovery password";
        rc = read_secret(o->recovery_password, "--recovery-password", k->secret,
                         sizeof(k->secret), &k->slen);
    } else if (o->password) {
        k->kind = CLI_KEY_PASSWORD;
        k->name = "password";
        rc = read_secret(o->password, "--password", k->secret, sizeof(k->secret), &k->slen);
    } else if (o->bek) {
        k->kind = CLI_KEY_BEK;
        k->name = "startup key";
        rc = read_bek(o->bek, k->bek, sizeof(k->bek), &k->blen);
    } else if (o->key_file) {
        return key_file_read(o->key_file, k);
    }
    if (rc || k->kind != CLI_KEY_RECOVERY_PASSWORD)
        return rc;

    /* A malformed recovery password is told apart before the volume is
     * even read: which group, and what is wrong with it. */
    uint8_t key[16];
    enum ul_bitlocker_rp_error e;
    int group;
    int r = ul_bitlocker_parse_recovery_password(k->secret, key, &e, &group);
    explicit_bzero(key, sizeof(key));
    if (r < 0) {
        if (group)
            fprintf(stderr, "%s: malformed recovery password: group %d: %s\n", prog, group,
                    ul_bitlocker_rp_error_name(e));
        else
            fprintf(stderr, "%s: malformed recovery password: expected 48 digits in 8 "
                    "groups of 6 (123456-123456-...)\n", prog);
        cli_key_wipe(k);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

int cli_key_unlock(const struct cli_key *k, struct ul_bitlocker *bl, int *ret_protector,
                   const char **ret_why)
{
    switch (k->kind) {
    case CLI_KEY_RECOVERY_PASSWORD:
        return ul_bitlocker_unlock_recovery_password(bl, k->secret, ret_protector, ret_why);
    case CLI_KEY_PASSWORD:
        return ul_bitlocker_unlock_password(bl, k->secret, k->slen, ret_protector, ret_why);
    case CLI_KEY_BEK:
        return ul_bitlocker_unlock_bek(bl, k->bek, k->blen, ret_protector, ret_why);
    case CLI_KEY_FILE:
        return key_file_unlock(k, bl, ret_protector, ret_why);
    default:
        /* No key given: the clear key, there while protection is suspended. */
        return ul_bitlocker_unlock_clear_key(bl, ret_protector, ret_why);
    }
}

int cli_key_report(const struct cli_key *k, const char *path, int r, const char *why)
{
    if (r == 0)
        return EXIT_OK;
    if (k->kind == CLI_KEY_NONE && r == -UL_ENOENT) {
        fprintf(stderr, "%s: %s is locked (protection is not suspended): unlock needs "
                "--recovery-password, --password, --bek or --key-file\n", prog, path);
        return EXIT_USAGE;
    }
    if (k->kind == CLI_KEY_FILE) {
        fprintf(stderr, "%s: cannot unlock %s with the key file: %s; nothing written\n", prog,
                path, why ? why : strerror(-r));
        return EXIT_FAIL;
    }
    if (r == -UL_EACCES) {
        fprintf(stderr, "%s: wrong %s for %s: no %s protector of the volume accepted it; "
                "nothing written\n", prog, k->name, path, k->name);
        return EXIT_FAIL;
    }
    fprintf(stderr, "%s: cannot unlock %s with the %s%s: %s\n", prog, path, k->name,
            k->kind == CLI_KEY_BEK ? " file" : "", why ? why : strerror(-r));
    if (k->kind == CLI_KEY_BEK && r == -UL_ENOENT)
        fprintf(stderr, "%s: (a .BEK file opens only the volume whose protector has its "
                "GUID; 'unloop bitlocker info' lists them)\n", prog);
    return EXIT_FAIL;
}

void cli_key_wipe(struct cli_key *k)
{
    explicit_bzero(k->secret, sizeof(k->secret));
    explicit_bzero(k->bek, sizeof(k->bek));
    if (k->fdata) {
        explicit_bzero(k->fdata, k->flen);
        free(k->fdata);
        k->fdata = NULL;
    }
    k->slen = k->blen = k->flen = 0;
}

static int bitlocker_unlock(const struct cli_opts *o, const char *path)
{
    static struct cli_key key;
    int rc;

    if (!!o->recovery_password + !!o->password + !!o->bek + !!o->key_file > 1)
        return usage_error("%s", "bitlocker unlock takes one of --recovery-password, "
                                 "--password, --bek, --key-file");
    if (!o->output)
        return usage_error("%s", "bitlocker unlock needs --output FILE");
    rc = cli_key_read(o, &key);
    if (rc)
        goto out;

    struct bl_disk d;
    struct ul_bitlocker *bl;
    bool is_dev;
    rc = open_bitlocker(o, path, &d, &bl);
    if (rc)
        goto out;
    rc = check_output(o->output, &d, &is_dev);
    if (rc)
        goto close;

    const char *why = NULL;
    int prot = -1, r;
    double t0 = now_seconds();
    r = cli_key_unlock(&key, bl, &prot, &why);
    double t1 = now_seconds();
    cli_key_wipe(&key);
    rc = cli_key_report(&key, path, r, why);
    if (rc)
        goto close;

    uint64_t bytes = 0;
    rc = write_volume(bl, o->output, is_dev, &bytes);
    double t2 = now_seconds();
    if (rc)
        goto close;

    const struct ul_bitlocker_protector *p = &ul_bitlocker_get_info(bl)->protectors[prot];
    char pg[UL_GUID_STR_LEN + 1];
    ul_guid_format(&p->guid, pg);
    if (o->json) {
        struct json j;
        json_init(&j, stdout);
        json_object_begin(&j, NULL);
        json_str(&j, "disk", path);
        if (d.partno)
            json_int(&j, "partition", d.partno);
        else
            json_null(&j, "partition");
        json_str(&j, "output", o->output);
        json_int(&j, "bytes", (int64_t)bytes);
        json_str(&j, "protector_guid", pg);
        json_str(&j, "protector_type", ul_bitlocker_protector_key(p->type));
        json_int(&j, "unlock_ms", (int64_t)((t1 - t0) * 1000));
        json_int(&j, "decrypt_ms", (int64_t)((t2 - t1) * 1000));
        json_object_end(&j);
        json_finish(&j);
    } else {
        printf("Unlocked %s with %s protector %s (%.2f s).\n", path,
               ul_bitlocker_protector_name(p->type), pg, t1 - t0);
        printf("Wrote the decrypted volume, %llu bytes, to %s (%.2f s).\n",
               (unsigned long long)bytes, o->output, t2 - t1);
    }
close:
    ul_bitlocker_close(bl);
    close(d.fd);
out:
    cli_key_wipe(&key);
    return rc;
}

int cmd_bitlocker(const struct cli_opts *o, const char *action, const char *disk)
{
    if (strcmp(action, "info") == 0) {
        if (o->recovery_password || o->password || o->bek || o->key_file || o->output)
            return usage_error("%s", "bitlocker info takes no key and no --output");
        return bitlocker_info(o, disk);
    }
    if (strcmp(action, "unlock") == 0)
        return bitlocker_unlock(o, disk);
    return usage_error("unknown bitlocker action '%s' (info, unlock)", action);
}
