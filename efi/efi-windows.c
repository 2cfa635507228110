/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Finding and opening the Windows volume for the core's quarantine, only
 * when a boot loop has been detected (ul_win_ops): every partition the
 * firmware exposes as EFI_BLOCK_IO is probed; the Windows volume is the NTFS
 * one that holds \Windows\System32 (DESIGN §8).  It is opened read-only to
 * look, then read-write with the dirty flag set on close, so that Windows
 * checks it at its next boot.  libntfs-3g refuses to write a volume whose
 * $LogFile Windows left unclean, or a hibernated one: then quarantine says
 * why and the ladder moves on (Safe Mode needs no NTFS write).
 */
#include "efi-ntfs.h"
#include "efi-util.h"

#include "../shared/string-util.h"
#include "../shared/ul-errno.h"

static EFI_GUID bio_guid = BLOCK_IO_PROTOCOL;

struct win {
    struct ul_efi_ntfs *v;
    struct ul_log *log;
};

static struct win win;

static void ntfs_log_line(int is_error, const char *line)
{
    if (win.log)
        ul_logf(win.log, is_error ? UL_LOG_WARNING : UL_LOG_DEBUG, "ntfs: %s", line);
}

static bool is_bitlocker(EFI_BLOCK_IO *bio)
{
    UINT8 *buf = NULL;
    bool r = false;
    UINT32 bs = bio->Media->BlockSize;
    if (bs < 512 || bs > 65536 || EFI_ERROR(BS->AllocatePool(EfiLoaderData, bs, (void **)&buf)))
        return false;
    if (!EFI_ERROR(bio->ReadBlocks(bio, bio->Media->MediaId, 0, bs, buf)))
        r = ul_memcmp(buf + 3, "-FVE-FS-", 8) == 0;
    BS->FreePool(buf);
    return r;
}

static bool holds_windows(struct ul_efi_ntfs *v)
{
    struct ul_stat st;
    return ul_efi_ntfs_ops.stat(v, "\\Windows\\System32", &st) == 0 && st.is_dir;
}

static int win_open(void *ctx, struct ul_volume *ret, const char **why)
{
    struct win *w = ctx;
    EFI_HANDLE *handles = NULL;
    UINTN count = 0;
    bool saw_bitlocker = false, saw_refused = false, saw_unmountable = false;

    ul_efi_ntfs_init(ntfs_log_line);
    if (EFI_ERROR(BS->LocateHandleBuffer(ByProtocol, &bio_guid, NULL, &count, &handles)))
        count = 0;
    for (UINTN i = 0; i < count && !w->v; i++) {
        EFI_BLOCK_IO *bio;
        struct ul_efi_ntfs *v;
        if (EFI_ERROR(BS->HandleProtocol(handles[i], &bio_guid, (void **)&bio)) ||
            !bio->Media->LogicalPartition || !bio->Media->MediaPresent)
            continue;
        if (ul_efi_ntfs_probe(handles[i]) != 1) {
            saw_bitlocker |= is_bitlocker(bio);
            continue;
        }
        if (ul_efi_ntfs_open(handles[i], UL_EFI_NTFS_RDONLY, &v) < 0) {
            /* e.g. "$MFTMirr does not match $MFT" after a cut write: Windows'
             * chkdsk repairs that, libntfs-3g will not mount it. */
            saw_unmountable = true;
            continue;
        }
        bool windows = holds_windows(v);
        ul_efi_ntfs_close(v);
        if (!windows)
            continue;
        int r = ul_efi_ntfs_open(handles[i], UL_EFI_NTFS_MARK_DIRTY, &v);
        if (r < 0) {
            ul_logf(w->log, UL_LOG_WARNING,
                    "the Windows volume cannot be written safely (libntfs-3g: %s): Windows "
                    "left its NTFS journal unclean, or the volume is hibernated",
                    ul_strerror(r));
            saw_refused = true;
            continue;
        }
        w->v = v;
    }
    if (handles)
        BS->FreePool(handles);
    if (!w->v) {
        *why = saw_refused       ? "Windows volume not safely writable (see the log)"
               : saw_unmountable ? "an NTFS volume cannot be mounted (see the log)"
               : saw_bitlocker   ? "Windows volume is BitLocker-encrypted (issue #5)"
                                 : "no Windows volume found";
        return -UL_ENODEV;
    }
    *ret = (struct ul_volume){ &ul_efi_ntfs_ops, w->v };
    ul_logf(w->log, UL_LOG_INFO, "Windows volume opened for quarantine");
    return 0;
}

static void win_close(void *ctx)
{
    struct win *w = ctx;
    int r = ul_efi_ntfs_close(w->v);
    if (r < 0)
        ul_log_err(w->log, r, "closing the Windows volume failed");
    w->v = NULL;
}

static const struct ul_win_ops win_ops = { .open = win_open, .close = win_close };

void ul_efi_windows_attach(struct ul_env *env)
{
    win.log = env->log;
    env->win_ops = &win_ops;
    env->win_ctx = &win;
}
