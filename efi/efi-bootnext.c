/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Hand-off through BootNext (DESIGN §6): find the firmware's own boot entry
 * for the OS loader, set BootNext to it and warm-reset.  The platform reset
 * clears the TPM's PCRs and the firmware starts the loader itself, so the
 * boot is measured exactly as a direct one and BitLocker's TPM seal holds
 * (chain-loading adds unloop.efi to PCR 4).  Cost: one more firmware reset.
 *
 * Every failure returns to the caller, which chain-loads (fail open).  The
 * one NVRAM write, BootNext, is made only in this mode.
 */
#include "efi-util.h"

#include "../shared/gpt.h"
#include "../shared/loadopt.h"
#include "../shared/string-util.h"
#include "../shared/ul-errno.h"

static EFI_GUID global_guid = EFI_GLOBAL_VARIABLE;
static EFI_GUID dp_guid = DEVICE_PATH_PROTOCOL;
static EFI_GUID bio_guid = BLOCK_IO_PROTOCOL;

#define MAX_BOOT_ORDER 256
/* Device paths are walked only this far: firmware memory, but a broken
 * path must end the walk, not the boot. */
#define DP_MAX 4096

/* A device path's size up to and including its End Entire node, or 0 when
 * it has none within DP_MAX. */
static UINTN dp_total(const EFI_DEVICE_PATH *dp)
{
    const UINT8 *p = (const UINT8 *)dp;
    UINTN off = 0;
    if (!dp)
        return 0;
    while (off + 4 <= DP_MAX) {
        UINTN len = p[off + 2] | p[off + 3] << 8;
        if (len < 4 || off + len > DP_MAX)
            return 0;
        off += len;
        if (p[off - len] == UL_DP_TYPE_END && p[off - len + 1] == UL_DP_END_ENTIRE)
            return off;
    }
    return 0;
}

/* Offset of the first HD node of dp (the disk's path before it), or 0. */
static UINTN dp_hd_offset(const EFI_DEVICE_PATH *dp, UINTN size)
{
    const UINT8 *p = (const UINT8 *)dp;
    UINTN off = 0;
    while (off + 4 <= size) {
        UINTN len = p[off + 2] | p[off + 3] << 8;
        if (len < 4 || off + len > size || p[off] == UL_DP_TYPE_END)
            return 0;
        if (p[off] == UL_DP_TYPE_MEDIA && p[off + 1] == UL_DP_MEDIA_HD)
            return off;
        off += len;
    }
    return 0;
}

/* Reads a variable of the global GUID into *buf (pool memory the caller
 * frees): EFI_SUCCESS, EFI_NOT_FOUND, or another error. */
static EFI_STATUS get_var(CHAR16 *name, void **buf, UINTN *size)
{
    UINT32 attrs;
    UINTN n = 0;
    EFI_STATUS st;

    *buf = NULL;
    *size = 0;
    st = RT->GetVariable(name, &global_guid, &attrs, &n, NULL);
    if (st != EFI_BUFFER_TOO_SMALL)
        return st == EFI_SUCCESS ? EFI_SUCCESS : st;
    /* Load options and BootOrder are small; refuse absurd sizes. */
    if (n > 65536)
        return EFI_BAD_BUFFER_SIZE;
    st = BS->AllocatePool(EfiLoaderData, n ? n : 1, buf);
    if (EFI_ERROR(st))
        return st;
    st = RT->GetVariable(name, &global_guid, &attrs, &n, *buf);
    if (EFI_ERROR(st)) {
        BS->FreePool(*buf);
        *buf = NULL;
        return st;
    }
    *size = n;
    return EFI_SUCCESS;
}

/* The ESP unloop runs from and its own file path (LoadedImage->FilePath). */
static void self_info(EFI_LOADED_IMAGE *self, struct ul_boot_self *si, char *path, size_t size)
{
    static struct ul_load_option o;
    EFI_DEVICE_PATH *dev = NULL;
    ul_memset(si, 0, sizeof(*si));
    path[0] = 0;
    si->path = path;
    if (!EFI_ERROR(BS->HandleProtocol(self->DeviceHandle, &dp_guid, (void **)&dev))) {
        UINTN n = dp_total(dev);
        si->have_hd = n && ul_dp_find_hd(dev, n, &si->hd) == 0;
    }
    UINTN n = dp_total(self->FilePath);
    if (n && ul_dp_parse_path(self->FilePath, n, &o, NULL) == 0)
        ul_loadopt_path_ascii(o.path, path, size);
}

/* ul_boot_var_reader over RT->GetVariable; the buffer lives until the next call. */
static int read_boot_var(void *ctx, uint16_t num, const void **buf, size_t *size)
{
    void **held = ctx;
    char name[9];
    CHAR16 wname[9];
    UINTN n = 0;

    if (*held) {
        BS->FreePool(*held);
        *held = NULL;
    }
    ul_boot_var_name(num, name);
    ul_ascii_to_16(name, wname, 9);
    EFI_STATUS st = get_var(wname, held, &n);
    if (EFI_ERROR(st))
        return ul_efi_err(st);
    *buf = *held;
    *size = n;
    return 0;
}

/* The Boot#### to hand off to (ul_boot_pick over BootOrder). */
static enum ul_boot_pick find_entry(const struct ul_boot_self *si, const char *loader,
                                    struct ul_log *log, UINT16 *ret_num)
{
    void *order_buf = NULL, *held = NULL;
    UINTN order_size = 0;
    UINT16 order[MAX_BOOT_ORDER];
    size_t n = 0;
    EFI_STATUS st;
    int r;

    st = get_var(L"BootOrder", &order_buf, &order_size);
    if (EFI_ERROR(st)) {
        ul_logf(log, UL_LOG_WARNING, "bootnext: cannot read BootOrder: %s",
                ul_efi_status_name(st));
        return UL_PICK_NONE;
    }
    r = ul_boot_order_parse(order_buf, order_size, order, MAX_BOOT_ORDER, &n);
    if (order_buf)
        BS->FreePool(order_buf);
    if (r == -UL_EBADMSG) {
        ul_logf(log, UL_LOG_WARNING, "bootnext: BootOrder has an odd size (%u bytes)",
                (unsigned)order_size);
        return UL_PICK_NONE;
    }
    if (r < 0)
        ul_logf(log, UL_LOG_NOTICE, "bootnext: BootOrder has more than %u entries; looking "
                "at the first %u", MAX_BOOT_ORDER, MAX_BOOT_ORDER);
    enum ul_boot_pick p = ul_boot_pick(order, n, read_boot_var, &held, si, loader, log, ret_num);
    if (held)
        BS->FreePool(held);
    return p;
}

EFI_STATUS ul_efi_bootnext(EFI_LOADED_IMAGE *self, const char *loader,
                           const struct ul_volume *esp, struct ul_log *log,
                           void (*before_reset)(void *ctx), void *ctx)
{
    static struct ul_boot_self si;
    static char self_path[UL_LOADOPT_PATH_MAX];
    UINT16 num = 0, stale = 0;
    UINTN size = sizeof(stale);
    UINT32 attrs;
    char name[9];
    EFI_STATUS st;

    /* The boot manager deletes BootNext before it starts that entry (UEFI
     * spec 3.1.2).  Still set while unloop runs: this firmware did not use
     * it, and a reset would only bring unloop back, again and again. */
    st = RT->GetVariable(L"BootNext", &global_guid, &attrs, &size, &stale);
    if (st == EFI_SUCCESS || st == EFI_BUFFER_TOO_SMALL) {
        ul_logf(log, UL_LOG_WARNING, "bootnext: BootNext is already set (Boot%04X): this "
                "firmware did not act on it; chain-loading instead", (unsigned)stale);
        return EFI_ALREADY_STARTED;
    }

    self_info(self, &si, self_path, sizeof(self_path));
    enum ul_boot_pick p = find_entry(&si, loader, log, &num);
    if (p == UL_PICK_NONE) {
        ul_logf(log, UL_LOG_WARNING, "bootnext: no active firmware boot entry (Boot#### in "
                "BootOrder) starts %s; chain-loading instead (create one, e.g. with efibootmgr "
                "or bcdedit, for the bootnext hand-off)", loader);
        return EFI_NOT_FOUND;
    }
    ul_boot_var_name(num, name);
    if (p == UL_PICK_OTHER_PARTITION)
        ul_logf(log, UL_LOG_NOTICE, "bootnext: no entry for %s on the ESP unloop runs from; "
                "using %s on another partition", loader, name);
    /* A loader missing from our ESP would fail, and the firmware would go on
     * to the next entry: unloop again, reset after reset.  Chain-loading
     * says so and returns to the firmware once. */
    struct ul_stat fst;
    if (p == UL_PICK_OUR_ESP && esp && esp->ops->stat(esp->ctx, loader, &fst) == -UL_ENOENT) {
        ul_logf(log, UL_LOG_WARNING, "bootnext: %s (%s) is not on this ESP; not resetting",
                loader, name);
        return EFI_NOT_FOUND;
    }

    st = RT->SetVariable(L"BootNext", &global_guid,
                         EFI_VARIABLE_NON_VOLATILE | EFI_VARIABLE_BOOTSERVICE_ACCESS |
                             EFI_VARIABLE_RUNTIME_ACCESS,
                         sizeof(num), &num);
    if (EFI_ERROR(st)) {
        ul_logf(log, UL_LOG_ERROR, "bootnext: cannot set BootNext to %s: %s; chain-loading "
                "instead", name, ul_efi_status_name(st));
        return st;
    }
    ul_logf(log, UL_LOG_NOTICE, "bootnext: BootNext = %s (%s); warm reset, the firmware "
            "starts it directly", name, loader);
    if (before_reset)
        before_reset(ctx);
    RT->ResetSystem(EfiResetWarm, EFI_SUCCESS, 0, NULL);

    /* Still here: take BootNext back so that it does not fire on some
     * later boot, and chain-load. */
    RT->SetVariable(L"BootNext", &global_guid, 0, 0, NULL);
    ul_logf(log, UL_LOG_ERROR, "bootnext: the warm reset did not happen; chain-loading instead");
    return EFI_DEVICE_ERROR;
}

BOOLEAN ul_efi_bitlocker_on_disk(EFI_HANDLE esp_dev, struct ul_log *log)
{
    EFI_DEVICE_PATH *esp = NULL;
    EFI_HANDLE *handles = NULL;
    UINTN count = 0, esp_size, prefix;
    BOOLEAN found = FALSE;

    if (EFI_ERROR(BS->HandleProtocol(esp_dev, &dp_guid, (void **)&esp)))
        return FALSE;
    esp_size = dp_total(esp);
    prefix = dp_hd_offset(esp, esp_size);
    if (!prefix)
        return FALSE;
    if (EFI_ERROR(BS->LocateHandleBuffer(ByProtocol, &bio_guid, NULL, &count, &handles)))
        return FALSE;
    for (UINTN i = 0; i < count && !found; i++) {
        EFI_BLOCK_IO *bio;
        EFI_DEVICE_PATH *dp;
        UINT8 *sector = NULL;
        if (handles[i] == esp_dev ||
            EFI_ERROR(BS->HandleProtocol(handles[i], &bio_guid, (void **)&bio)) ||
            !bio->Media->LogicalPartition || !bio->Media->MediaPresent ||
            bio->Media->BlockSize < 512 || bio->Media->BlockSize > 65536 ||
            EFI_ERROR(BS->HandleProtocol(handles[i], &dp_guid, (void **)&dp)))
            continue;
        /* A partition of the disk the ESP is on. */
        UINTN n = dp_total(dp);
        if (dp_hd_offset(dp, n) != prefix || ul_memcmp(dp, esp, prefix) != 0)
            continue;
        if (EFI_ERROR(BS->AllocatePool(EfiLoaderData, bio->Media->BlockSize, (void **)&sector)))
            continue;
        if (!EFI_ERROR(bio->ReadBlocks(bio, bio->Media->MediaId, 0, bio->Media->BlockSize,
                                       sector)) &&
            ul_probe_boot_sector(sector, bio->Media->BlockSize) == UL_FS_BITLOCKER) {
            struct ul_hd_node hd = { 0 };
            ul_dp_find_hd(dp, n, &hd);
            ul_logf(log, UL_LOG_INFO, "partition %u of the ESP's disk is BitLocker-encrypted",
                    (unsigned)hd.part_number);
            found = TRUE;
        }
        BS->FreePool(sector);
    }
    BS->FreePool(handles);
    return found;
}
