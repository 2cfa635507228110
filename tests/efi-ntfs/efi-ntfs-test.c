/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * build/efi/ntfs/efi-ntfs-test.efi: libntfs-3g inside UEFI, on its own.
 *
 * For every logical-partition EFI_BLOCK_IO handle holding NTFS: mount it
 * read-only, stat and list the CrowdStrike channel file of the test image
 * (images/test-machine.manifest), and, when \EFI\unloop\unloop.conf on the
 * ESP has a line "ntfs_test_move=1", mount read-write and move that file
 * into \unloop.quarantine\test\ and back, putting its times back.  Ends
 * QEMU through isa-debug-exit: status (0 << 1) | 1 = 1 on success, 3 on
 * failure.  Run by tests/qemu/ntfs_smoke.py (make efi-ntfs-check).
 */
#include <efi.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../efi/efi-ntfs.h"
#include "../../shared/time-util.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "?"
#endif

EFI_SYSTEM_TABLE *ST;
EFI_BOOT_SERVICES *BS;
EFI_RUNTIME_SERVICES *RT;

#define DIR_CS "\\Windows\\System32\\drivers\\CrowdStrike"
#define FILE_CS DIR_CS "\\C-00000291-00000000-00000032.sys"
#define QDIR "\\unloop.quarantine"
#define QDIR_TEST QDIR "\\test"
#define FILE_Q QDIR_TEST "\\C-00000291-00000000-00000032.sys"

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    char buf[400];
    CHAR16 w[420];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    UINTN n = 0;
    for (const char *p = buf; *p && n < 416; p++) {
        if (*p == '\n')
            w[n++] = L'\r';
        w[n++] = (CHAR16)(unsigned char)*p;
    }
    w[n] = 0;
    ST->ConOut->OutputString(ST->ConOut, w);
}

static void log_line(int is_error, const char *line)
{
    out("%s%s\n", is_error ? "ERROR " : "", line);
}

/* FILETIME (100 ns since 1601) as "YYYY-MM-DD HH:MM:SS.fffffff UTC". */
static const char *ft(uint64_t t, char *buf, size_t size)
{
    char s[24];
    int64_t secs = (int64_t)(t / 10000000) - 11644473600LL;
    ul_time_format(secs, s, sizeof(s));
    snprintf(buf, size, "%s.%07u", s, (unsigned)(t % 10000000));
    return buf;
}

static void print_stat(const char *what, const struct ul_stat *st)
{
    char a[40], b[40];
    out("  %s: size %llu, mtime %s, ctime %s, file_id 0x%llx\n", what,
        (unsigned long long)st->size, ft(st->times.modification, a, sizeof(a)),
        ft(st->times.creation, b, sizeof(b)), (unsigned long long)st->file_id);
}

static int list_cb(void *arg, const char *name, const struct ul_stat *st)
{
    char a[40];
    out("    %-40s %s %10llu  %s\n", name, st->is_dir ? "<DIR>" : "     ",
        (unsigned long long)st->size, ft(st->times.modification, a, sizeof(a)));
    return 0;
}

static int list_dir(struct ul_ntfs *v, const char *dir)
{
    out("  listing %s:\n", dir);
    int r = ul_ntfs_volume_ops.list(v, dir, list_cb, NULL);
    if (r < 0)
        out("  list %s: error %d (%s)\n", dir, r, strerror(-r));
    return r;
}

static bool want_move_test(EFI_HANDLE image)
{
    static EFI_GUID li_guid = LOADED_IMAGE_PROTOCOL;
    static EFI_GUID sfs_guid = SIMPLE_FILE_SYSTEM_PROTOCOL;
    EFI_LOADED_IMAGE *li;
    EFI_FILE_IO_INTERFACE *sfs;
    EFI_FILE_HANDLE root, f;
    char buf[2048];
    UINTN n = sizeof(buf) - 1;
    bool yes = false;

    if (BS->HandleProtocol(image, &li_guid, (void **)&li) != EFI_SUCCESS ||
        BS->HandleProtocol(li->DeviceHandle, &sfs_guid, (void **)&sfs) != EFI_SUCCESS ||
        sfs->OpenVolume(sfs, &root) != EFI_SUCCESS)
        return false;
    if (root->Open(root, &f, L"\\EFI\\unloop\\unloop.conf", EFI_FILE_MODE_READ, 0) ==
        EFI_SUCCESS) {
        if (f->Read(f, &n, buf) == EFI_SUCCESS) {
            buf[n] = 0;
            for (char *p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
                if (!strncmp(p, "ntfs_test_move=1", 16))
                    yes = true;
        }
        f->Close(f);
    }
    root->Close(root);
    return yes;
}

static int check(int r, const char *what)
{
    if (r < 0)
        out("  FAIL %s: %d (%s)\n", what, r, strerror(-r));
    else
        out("  ok   %s\n", what);
    return r;
}

static int move_test(EFI_HANDLE part)
{
    struct ul_ntfs *v;
    struct ul_stat before, st;
    int r;

    out("move test: mounting read-write\n");
    r = ul_efi_ntfs_open(part, 0, &v, NULL, 0);
    if (check(r, "mount read-write") < 0)
        return r;
    const struct ul_volume_ops *ops = &ul_ntfs_volume_ops;
    r = check(ops->stat(v, FILE_CS, &before), "stat " FILE_CS);
    if (r == 0) {
        r = ops->mkdir(v, QDIR);
        check(r == -EEXIST ? 0 : r, "mkdir " QDIR);
        r = ops->mkdir(v, QDIR_TEST);
        r = check(r == -EEXIST ? 0 : r, "mkdir " QDIR_TEST);
    }
    if (r == 0)
        r = check(ops->move(v, FILE_CS, FILE_Q), "move to " FILE_Q);
    if (r == 0 && check(ops->stat(v, FILE_Q, &st), "stat " FILE_Q) == 0)
        print_stat("quarantined", &st);
    if (r == 0) {
        r = ops->stat(v, FILE_CS, &st);
        r = check(r == -ENOENT ? 0 : r < 0 ? r : -EEXIST, "original name gone");
    }
    if (r == 0)
        list_dir(v, QDIR_TEST);
    if (r == 0)
        r = check(ops->move(v, FILE_Q, FILE_CS), "move back to " FILE_CS);
    if (r == 0)
        r = check(ops->set_times(v, FILE_CS, &before.times), "set_times (put back)");
    if (r == 0 && check(ops->stat(v, FILE_CS, &st), "stat after restore") == 0) {
        print_stat("restored", &st);
        if (st.size != before.size || st.file_id != before.file_id ||
            memcmp(&st.times, &before.times, sizeof(st.times)))
            r = check(-EINVAL, "size, file_id and times as before");
        else
            check(0, "size, file_id and times as before");
    }
    int r2 = check(ul_ntfs_close(v), "unmount");
    return r ? r : r2;
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab);

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    static EFI_GUID bio_guid = EFI_BLOCK_IO_PROTOCOL_GUID;
    EFI_HANDLE *handles = NULL;
    UINTN count = 0;
    int failures = 0, found = 0;

    ST = systab;
    BS = systab->BootServices;
    RT = systab->RuntimeServices;
    ul_efi_ntfs_init(log_line);

    out("\nefi-ntfs-test: libntfs-3g %s inside UEFI\n", PACKAGE_VERSION);
    bool move = want_move_test(image);
    out("move test: %s\n", move ? "enabled (ntfs_test_move=1)" : "disabled");

    if (BS->LocateHandleBuffer(ByProtocol, &bio_guid, NULL, &count, &handles) != EFI_SUCCESS)
        count = 0;
    for (UINTN i = 0; i < count; i++) {
        EFI_BLOCK_IO *bio;
        if (BS->HandleProtocol(handles[i], &bio_guid, (void **)&bio) != EFI_SUCCESS ||
            !bio->Media->LogicalPartition || !bio->Media->MediaPresent)
            continue;
        struct ul_ntfs_probe pr;
        int p = ul_efi_ntfs_probe(handles[i], &pr);
        if (p == 0)
            p = pr.is_ntfs;
        out("partition %u: %llu blocks of %u bytes: %s\n", (unsigned)i,
            (unsigned long long)bio->Media->LastBlock + 1, (unsigned)bio->Media->BlockSize,
            p < 0 ? "unreadable" : p ? "NTFS" : "not NTFS");
        if (p <= 0)
            continue;
        found++;

        struct ul_ntfs *v;
        int r = ul_efi_ntfs_open(handles[i], UL_NTFS_RDONLY, &v, NULL, 0);
        if (check(r, "mount read-only") < 0) {
            failures++;
            continue;
        }
        struct ul_stat st;
        r = ul_ntfs_volume_ops.stat(v, FILE_CS, &st);
        if (check(r, "stat " FILE_CS) == 0)
            print_stat("channel file", &st);
        else
            failures++;
        uint8_t head[8];
        size_t got = 0;
        r = ul_ntfs_volume_ops.read(v, FILE_CS, 0, head, sizeof(head), &got);
        if (check(r, "read first 8 bytes") == 0)
            out("  first bytes: %02x %02x %02x %02x %02x %02x %02x %02x (%zu read)\n",
                head[0], head[1], head[2], head[3], head[4], head[5], head[6], head[7], got);
        else
            failures++;
        if (list_dir(v, DIR_CS) < 0)
            failures++;
        if (check(ul_ntfs_close(v), "unmount") < 0)
            failures++;
        if (move && move_test(handles[i]) < 0)
            failures++;
    }
    if (handles)
        BS->FreePool(handles);
    if (!found) {
        out("no NTFS partition found\n");
        failures++;
    }
    out("efi-ntfs-test: %s\n", failures ? "FAILED" : "PASSED");
    /* isa-debug-exit: QEMU exits with (value << 1) | 1 */
    uint8_t code = failures ? 1 : 0;
    __asm__ __volatile__("outb %0, %1" : : "a"(code), "Nd"((uint16_t)0xf4));
    return failures ? EFI_ABORTED : EFI_SUCCESS;
}

