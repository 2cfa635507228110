/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Finding and opening the Windows volume for the core's quarantine, only
 * when a boot loop has been detected (ul_win_ops): every partition the
 * firmware exposes as EFI_BLOCK_IO is probed; the Windows volume is the NTFS
 * one that holds \Windows\System32 (DESIGN §8).  It is opened read-only to
 * look, then read-write as the [quarantine] policy allows (shared/config.h:
 * unclean_log, hibernated, repair_mirror, mark_dirty).  A volume that stays
 * unsafe to write (Windows left its $LogFile unclean and it cannot be
 * replayed, a hibernated session, ...) is refused: quarantine says why and
 * the ladder moves on (Safe Mode needs no NTFS write).
 */
#include "efi-ntfs.h"
#include "efi-util.h"

#include "../shared/config.h"

#include "../shared/string-util.h"
#include "../shared/ul-errno.h"

static EFI_GUID bio_guid = BLOCK_IO_PROTOCOL;

struct win {
    struct ul_ntfs *v;
    struct ul_log *log;
};

static struct win win;

static void ntfs_log_line(int is_error, const char *line)
{
    if (win.log)
        ul_logf(win.log, is_error ? UL_LOG_WARNING : UL_LOG_DEBUG, "ntfs: %s", line);
}

static bool holds_windows(struct ul_ntfs *v)
{
    struct ul_stat st;
    return ul_ntfs_volume_ops.stat(v, "\\Windows\\System32", &st) == 0 && st.is_dir;
}

/* The glue's flags for what the policy allows. */
static unsigned write_flags(const struct ul_volume_policy *pol)
{
    unsigned f = 0;
    if (pol->mark_dirty)
        f |= UL_NTFS_MARK_DIRTY;
    if (pol->repair_mirror)
        f |= UL_NTFS_FIX_MIRROR;
    if (pol->unclean_log != UL_UNCLEAN_LOG_REFUSE)
        f |= UL_NTFS_REPLAY_LOG;
    if (pol->unclean_log == UL_UNCLEAN_LOG_REPLAY_OR_RESET)
        f |= UL_NTFS_RESET_LOG;
    if (pol->discard_hibernation)
        f |= UL_NTFS_REMOVE_HIBERFILE;
    return f;
}

/* Say in the log what the open did to the volume (policy-allowed repairs). */
static void log_repairs(struct win *w, struct ul_ntfs *v)
{
    struct ul_ntfs_repairs rep;
    ul_ntfs_get_repairs(v, &rep);
    if (rep.log_replayed)
        ul_logf(w->log, UL_LOG_NOTICE, "replayed the NTFS journal ($LogFile) Windows left "
                "unclean (%u actions), as Windows would at its next start", rep.replayed_actions);
    if (rep.mirror_fixed)
        ul_logf(w->log, UL_LOG_NOTICE, "repaired $MFTMirr from $MFT (a write had been cut "
                "short; repair_mirror = yes)");
    if (rep.log_reset)
        ul_logf(w->log, UL_LOG_WARNING, "reset the NTFS journal ($LogFile) Windows left "
                "unclean, discarding what it had not applied (unclean_log = replay-or-reset)");
    if (rep.hiberfile_removed)
        ul_logf(w->log, UL_LOG_WARNING, "discarded the hibernated Windows session "
                "(hibernated = discard)");
}

static int win_open(void *ctx, const struct ul_volume_policy *pol, struct ul_volume *ret,
                    const char **why)
{
    struct win *w = ctx;
    EFI_HANDLE *handles = NULL;
    UINTN count = 0;
    bool saw_bitlocker = false, saw_refused = false, saw_unmountable = false;
    unsigned wflags = write_flags(pol);
    char err[256];

    ul_efi_ntfs_init(ntfs_log_line);
    if (EFI_ERROR(BS->LocateHandleBuffer(ByProtocol, &bio_guid, NULL, &count, &handles)))
        count = 0;
    for (UINTN i = 0; i < count && !w->v; i++) {
        EFI_BLOCK_IO *bio;
        struct ul_ntfs_probe p;
        struct ul_ntfs *v;
        if (EFI_ERROR(BS->HandleProtocol(handles[i], &bio_guid, (void **)&bio)) ||
            !bio->Media->LogicalPartition || !bio->Media->MediaPresent)
            continue;
        if (ul_efi_ntfs_probe(handles[i], &p) < 0)
            continue;
        saw_bitlocker |= p.is_bitlocker;
        if (p.mirror_mismatch) {
            /* Cannot be mounted to look inside: the read-write open repairs
             * it first (which makes it mountable), then we look. */
            int r = ul_efi_ntfs_open(handles[i], wflags, &v, err, sizeof(err));
            if (r < 0) {
                ul_logf(w->log, UL_LOG_WARNING, "partition %u: %s", (unsigned)i, err);
                saw_unmountable = true;
                continue;
            }
            log_repairs(w, v);
            if (holds_windows(v)) {
                w->v = v;
                break;
            }
            ul_ntfs_close(v);
            continue;
        }
        if (!p.is_ntfs)
            continue;
        if (ul_efi_ntfs_open(handles[i], UL_NTFS_RDONLY, &v, err, sizeof(err)) < 0) {
            ul_logf(w->log, UL_LOG_WARNING, "partition %u: %s", (unsigned)i, err);
            saw_unmountable = true;
            continue;
        }
        bool windows = holds_windows(v);
        ul_ntfs_close(v);
        if (!windows)
            continue;
        int r = ul_efi_ntfs_open(handles[i], wflags, &v, err, sizeof(err));
        if (r < 0) {
            ul_logf(w->log, UL_LOG_WARNING, "the Windows volume cannot be written safely: %s",
                    err);
            saw_refused = true;
            continue;
        }
        log_repairs(w, v);
        w->v = v;
    }
    if (handles)
        BS->FreePool(handles);
    if (!w->v) {
        *why = saw_refused       ? "Windows volume unsafe to write (see the log)"
               : saw_unmountable ? "NTFS volume cannot be mounted (see the log)"
               : saw_bitlocker   ? "Windows volume is BitLocker-encrypted (issue #5)"
                                 : "no Windows volume found";
        return -UL_ENODEV;
    }
    *ret = (struct ul_volume){ &ul_ntfs_volume_ops, w->v };
    ul_logf(w->log, UL_LOG_INFO, "Windows volume opened for quarantine");
    return 0;
}

static void win_close(void *ctx)
{
    struct win *w = ctx;
    int r = ul_ntfs_close(w->v);
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
