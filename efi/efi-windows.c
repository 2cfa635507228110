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

#include "../shared/bitlocker-unlock.h"
#include "../shared/bitlocker.h"
#include "../shared/config.h"
#include "../shared/rescue.h"

#include "../shared/string-util.h"
#include "../shared/ul-errno.h"

static EFI_GUID bio_guid = BLOCK_IO_PROTOCOL;

struct win {
    struct ul_ntfs *v;
    struct ul_log *log;
    const struct ul_mem *mem;
    const struct ul_ui_ops *ui;
    void *ui_ctx;
    struct ul_env *env;         /* installed mode: where the key folder is (the ESP) */
    char bl_why[200];           /* why a BitLocker volume stayed locked */
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

static void part_name(char *out, size_t size, unsigned idx, EFI_HANDLE h)
{
    EFI_BLOCK_IO *bio;
    uint64_t mib = 0;
    if (!EFI_ERROR(BS->HandleProtocol(h, &bio_guid, (void **)&bio)))
        mib = (bio->Media->LastBlock + 1) * (uint64_t)bio->Media->BlockSize >> 20;
    if (mib >= 10240)
        ul_snprintf(out, size, "partition %u (%llu GiB)", idx, (unsigned long long)(mib >> 10));
    else
        ul_snprintf(out, size, "partition %u (%llu MiB)", idx, (unsigned long long)mib);
}

/* The key stretch of a recovery or user password: a line that counts up. */
static void unlock_progress(void *ctx, unsigned percent)
{
    (void)ctx;
    ul_efi_printf("\r  BitLocker: deriving the key from the password ... %3u%%", percent);
    if (percent == 100)
        ul_efi_print("\n");
}

enum bl_result { BL_LOCKED, BL_NOT_WINDOWS, BL_REFUSED, BL_UNMOUNTABLE, BL_OPENED };

/*
 * A BitLocker partition: unlock it with the keys at hand (the clear key,
 * the key folder on the ESP, a person at the prompt), then the same checks
 * as a plain NTFS one.  BL_OPENED puts the volume, open for writing, in
 * *ret.  With no key (a TPM-only machine) quarantine is skipped and the
 * ladder goes on to Safe Mode, which needs no key: said on screen and in
 * the log.
 */
static enum bl_result open_bitlocker(struct win *w, EFI_HANDLE h, unsigned idx,
                                     const struct ul_bitlocker_keysrc *src, unsigned wflags,
                                     struct ul_install *inst, struct ul_ntfs **ret)
{
    struct ul_efi_bitlocker *b = NULL;
    const char *why = NULL;
    char name[64], err[256], prots[160];
    enum bl_result res = BL_LOCKED;
    int r;

    part_name(name, sizeof(name), idx, h);
    r = ul_efi_bitlocker_open(h, w->mem, &b, &why);
    if (r < 0) {
        ul_logf(w->log, UL_LOG_WARNING, "%s: BitLocker volume cannot be read: %s", name,
                why ? why : ul_strerror(r));
        ul_snprintf(w->bl_why, sizeof(w->bl_why), "BitLocker metadata unreadable: %s",
                    why ? why : ul_strerror(r));
        return BL_LOCKED;
    }
    struct ul_bitlocker *bl = ul_efi_bitlocker_get(b);
    const struct ul_bitlocker_info *in = ul_bitlocker_get_info(bl);
    const char *method = ul_bitlocker_method_name(in->method);
    ul_bitlocker_describe_protectors(bl, prots, sizeof(prots));
    ul_logf(w->log, UL_LOG_NOTICE, "%s: BitLocker volume (%s, %s), protectors: %s", name,
            method ? method : "unknown method", ul_bitlocker_state_name(in->state), prots);
    if (inst) {
        inst->encrypted = true;
        inst->bitlocker = UL_BL_LOCKED;
        ul_strlcpy(inst->bitlocker_method, method ? method : "unknown",
                   sizeof(inst->bitlocker_method));
        inst->n_protectors = 0;
        for (uint32_t k = 0; k < in->n_protectors && k < UL_RESCUE_MAX_PROTECTORS; k++)
            inst->protectors[inst->n_protectors++] = in->protectors[k];
    }

    struct ul_bitlocker_unlocked how;
    ul_bitlocker_set_progress(unlock_progress, NULL);
    r = ul_bitlocker_unlock_auto(bl, src, name, &how, w->bl_why, sizeof(w->bl_why), &why);
    ul_bitlocker_set_progress(NULL, NULL);
    if (r < 0) {
        if (why != w->bl_why)
            ul_strlcpy(w->bl_why, why ? why : ul_strerror(r), sizeof(w->bl_why));
        ul_logf(w->log, UL_LOG_NOTICE, "%s: %s; quarantine needs the key, Safe Mode does not",
                name, w->bl_why);
        if (w->ui && w->ui->notice) {
            char msg[300];
            ul_snprintf(msg, sizeof(msg), "The Windows drive is BitLocker-encrypted and no key "
                        "for it was found (%s). Files cannot be quarantined; Safe Mode needs "
                        "no key.", prots);
            w->ui->notice(w->ui_ctx, msg);
        }
        goto out;
    }
    char id[UL_GUID_STR_LEN + 1] = "";
    if (how.protector >= 0 && (uint32_t)how.protector < in->n_protectors)
        ul_guid_format(&in->protectors[how.protector].guid, id);
    ul_logf(w->log, UL_LOG_NOTICE, "%s: BitLocker unlocked with the %s of protector %s (from %s)",
            name, how.protector >= 0 ? ul_bitlocker_protector_name(
                                           in->protectors[how.protector].type) : "key",
            id, how.source);
    if (inst) {
        inst->bitlocker = UL_BL_UNLOCKED;
        ul_snprintf(inst->unlocked_with, sizeof(inst->unlocked_with), "%s from %s",
                    how.protector >= 0 ? ul_bitlocker_protector_name(
                                             in->protectors[how.protector].type) : "key",
                    how.source);
    }

    struct ul_ntfs_probe p;
    struct ul_ntfs *v;
    res = BL_NOT_WINDOWS;
    if (ul_efi_bitlocker_ntfs_probe(b, &p) < 0 || (!p.is_ntfs && !p.mirror_mismatch)) {
        ul_logf(w->log, UL_LOG_INFO, "%s: the unlocked volume is not NTFS", name);
        goto out;
    }
    if (!p.mirror_mismatch) {
        if (ul_efi_bitlocker_ntfs_open(b, UL_NTFS_RDONLY, &v, err, sizeof(err)) < 0) {
            ul_logf(w->log, UL_LOG_WARNING, "%s: %s", name, err);
            goto out;
        }
        bool windows = holds_windows(v);
        ul_ntfs_close(v);
        if (!windows)
            goto out;
    }
    r = ul_efi_bitlocker_ntfs_open(b, wflags, &v, err, sizeof(err));
    if (r < 0) {
        ul_logf(w->log, UL_LOG_WARNING, "the Windows volume cannot be written safely: %s", err);
        res = BL_REFUSED;
        goto out;
    }
    log_repairs(w, v);
    if (p.mirror_mismatch && !holds_windows(v)) {
        ul_ntfs_close(v);
        goto out;
    }
    *ret = v;
    res = BL_OPENED;
out:
    ul_efi_bitlocker_unref(b);     /* an open volume keeps its own reference */
    return res;
}

/* A plain NTFS partition: BL_OPENED with the volume open for writing. */
static enum bl_result open_plain(struct win *w, EFI_HANDLE h, unsigned idx,
                                 const struct ul_ntfs_probe *p, unsigned wflags,
                                 struct ul_ntfs **ret)
{
    struct ul_ntfs *v;
    char err[256];

    if (p->mirror_mismatch) {
        /* Cannot be mounted to look inside: the read-write open repairs
         * it first (which makes it mountable), then we look. */
        if (ul_efi_ntfs_open(h, wflags, &v, err, sizeof(err)) < 0) {
            ul_logf(w->log, UL_LOG_WARNING, "partition %u: %s", idx, err);
            return BL_UNMOUNTABLE;
        }
        log_repairs(w, v);
        if (holds_windows(v)) {
            *ret = v;
            return BL_OPENED;
        }
        ul_ntfs_close(v);
        return BL_NOT_WINDOWS;
    }
    if (!p->is_ntfs)
        return BL_NOT_WINDOWS;
    if (ul_efi_ntfs_open(h, UL_NTFS_RDONLY, &v, err, sizeof(err)) < 0) {
        ul_logf(w->log, UL_LOG_WARNING, "partition %u: %s", idx, err);
        return BL_UNMOUNTABLE;
    }
    bool windows = holds_windows(v);
    ul_ntfs_close(v);
    if (!windows)
        return BL_NOT_WINDOWS;
    if (ul_efi_ntfs_open(h, wflags, &v, err, sizeof(err)) < 0) {
        ul_logf(w->log, UL_LOG_WARNING, "the Windows volume cannot be written safely: %s", err);
        return BL_REFUSED;
    }
    log_repairs(w, v);
    *ret = v;
    return BL_OPENED;
}

static enum bl_result open_part(struct win *w, EFI_HANDLE h, unsigned idx,
                                const struct ul_volume_policy *pol,
                                const struct ul_bitlocker_keysrc *keys, struct ul_install *inst,
                                struct ul_ntfs **ret)
{
    struct ul_ntfs_probe p;
    unsigned wflags = write_flags(pol);

    if (ul_efi_ntfs_probe(h, &p) < 0)
        return BL_NOT_WINDOWS;
    if (p.is_bitlocker)
        return open_bitlocker(w, h, idx, keys, wflags, inst, ret);
    return open_plain(w, h, idx, &p, wflags, ret);
}

static int win_open(void *ctx, const struct ul_volume_policy *pol, struct ul_volume *ret,
                    const char **why)
{
    struct win *w = ctx;
    EFI_HANDLE *handles = NULL;
    UINTN count = 0;
    bool saw_bitlocker = false, saw_locked = false, saw_refused = false, saw_unmountable = false;

    w->bl_why[0] = 0;
    ul_efi_ntfs_init(ntfs_log_line);
    if (EFI_ERROR(BS->LocateHandleBuffer(ByProtocol, &bio_guid, NULL, &count, &handles)))
        count = 0;
    struct ul_env *env = w->env;
    struct ul_bitlocker_keysrc src = {
        .dir_vol = env && env->have_esp ? &env->esp : NULL,
        .key_dir = pol->key_dir,
        .prompt = pol->key_prompt ? ul_efi_ask_recovery_password : NULL,
        .prompt_timeout = pol->prompt_timeout,
        .prompt_tries = 3,
        .mem = w->mem,
        .log = w->log,
    };
    for (UINTN i = 0; i < count && !w->v; i++) {
        EFI_BLOCK_IO *bio;
        struct ul_ntfs_probe p;
        struct ul_ntfs *v = NULL;
        if (EFI_ERROR(BS->HandleProtocol(handles[i], &bio_guid, (void **)&bio)) ||
            !bio->Media->LogicalPartition || !bio->Media->MediaPresent)
            continue;
        if (ul_efi_ntfs_probe(handles[i], &p) < 0)
            continue;
        saw_bitlocker |= p.is_bitlocker;
        switch (open_part(w, handles[i], (unsigned)i, pol, &src, NULL, &v)) {
        case BL_OPENED: w->v = v; break;
        case BL_REFUSED: saw_refused = true; break;
        case BL_LOCKED: saw_locked = true; break;
        case BL_UNMOUNTABLE: saw_unmountable = true; break;
        case BL_NOT_WINDOWS: break;
        }
    }
    if (handles)
        BS->FreePool(handles);
    if (!w->v) {
        *why = saw_refused       ? "Windows volume unsafe to write (see the log)"
               : saw_unmountable ? "NTFS volume cannot be mounted (see the log)"
               : saw_locked      ? w->bl_why
               : saw_bitlocker   ? "no Windows installation on the unlocked BitLocker volumes"
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
    win.env = env;
    win.mem = &env->mem;
    win.ui = env->ui;
    win.ui_ctx = env->ui_ctx;
    env->win_ops = &win_ops;
    env->win_ctx = &win;
}

int ul_efi_windows_open_part(EFI_HANDLE part, unsigned idx, struct ul_log *log,
                             const struct ul_mem *mem, const struct ul_ui_ops *ui, void *ui_ctx,
                             const struct ul_volume_policy *pol,
                             const struct ul_bitlocker_keysrc *keys, struct ul_install *inst,
                             struct ul_ntfs **ret, const char **why)
{
    win = (struct win){ .log = log, .mem = mem, .ui = ui, .ui_ctx = ui_ctx };
    ul_efi_ntfs_init(ntfs_log_line);
    struct ul_ntfs *v = NULL;
    switch (open_part(&win, part, idx, pol, keys, inst, &v)) {
    case BL_OPENED:
        *ret = v;
        return 0;
    case BL_LOCKED:
        *why = win.bl_why;
        return -UL_EACCES;
    case BL_REFUSED:
        *why = "Windows volume unsafe to write (see the log)";
        return -UL_EPERM;
    case BL_UNMOUNTABLE:
        *why = "NTFS volume cannot be mounted (see the log)";
        return -UL_EIO;
    case BL_NOT_WINDOWS:
        break;
    }
    *why = "no Windows on this partition";
    return -UL_ENODEV;
}
