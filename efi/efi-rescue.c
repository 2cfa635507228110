/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Rescue mode on UEFI (issue #6): the core's ul_rescue_ops over the
 * firmware's view of the disks.  Every EFI_BLOCK_IO partition belongs to the
 * disk whose device path is its own minus the last (HARDDRIVE) node; an
 * installation is an ESP holding \EFI\Microsoft\Boot\bootmgfw.efi plus a
 * Windows volume (NTFS with \Windows\System32, or BitLocker) on the same
 * disk (DESIGN §8).  The disk unloop was started from is never one of them.
 * Also: the machine's SMBIOS identity, and what happens after the run
 * (reboot, power off, or start the chosen Windows).
 */
#include "efi-ntfs.h"
#include "efi-util.h"

#include "../shared/ntfs/ul-ntfs.h"
#include "../shared/rescue.h"
#include "../shared/smbios.h"
#include "../shared/string-util.h"
#include "../shared/ul-errno.h"
#include "../shared/unloop-contract.h"

static EFI_GUID bio_guid = BLOCK_IO_PROTOCOL;
static EFI_GUID dp_guid = DEVICE_PATH_PROTOCOL;
static EFI_GUID sfs_guid = EFI_SIMPLE_FILE_SYSTEM_PROTOCOL_GUID;
static EFI_GUID smbios_guid = SMBIOS_TABLE_GUID;
static EFI_GUID smbios3_guid = SMBIOS3_TABLE_GUID;

#define MAX_PARTS 64

struct part {
    EFI_HANDLE h;
    EFI_DEVICE_PATH *dp;
    UINTN prefix;           /* bytes of dp before the HARDDRIVE node: the disk */
    uint32_t number;        /* partition number */
    uint64_t size;
    bool esp;               /* FAT with Windows Boot Manager */
    bool unloop;            /* ... and \EFI\unloop\state */
};

struct rescue {
    struct ul_log *log;
    const struct ul_mem *mem;
    const struct ul_ui_ops *ui;
    void *ui_ctx;
    EFI_DEVICE_PATH *media_dp;      /* the stick's partition (NULL: network) */
    UINTN media_prefix;
    uint32_t n;
    struct part parts[MAX_PARTS];
    /* One installation at a time is open. */
    EFI_HANDLE esp_h[UL_RESCUE_MAX_INSTALLS], win_h[UL_RESCUE_MAX_INSTALLS];
    uint32_t n_inst;
    struct ul_efi_volume esp;
    bool esp_open;
    struct ul_ntfs *win;
};

static struct rescue rs;

static UINTN dp_size(EFI_DEVICE_PATH *dp)
{
    UINTN n = 0;
    while (!IsDevicePathEnd(dp)) {
        UINTN l = DevicePathNodeLength(dp);
        if (l < 4)
            break;
        n += l;
        dp = (EFI_DEVICE_PATH *)((UINT8 *)dp + l);
    }
    return n;
}

/* The offset of the last HARDDRIVE node, or 0 when there is none. */
static UINTN hd_node(EFI_DEVICE_PATH *dp, HARDDRIVE_DEVICE_PATH **ret)
{
    UINTN off = 0, found = 0;
    *ret = NULL;
    while (!IsDevicePathEnd(dp)) {
        UINTN l = DevicePathNodeLength(dp);
        if (l < 4)
            break;
        if (DevicePathType(dp) == MEDIA_DEVICE_PATH && DevicePathSubType(dp) == MEDIA_HARDDRIVE_DP &&
            l >= 42) {  /* the node's size in the spec; gnu-efi's struct is padded to 48 */
            *ret = (HARDDRIVE_DEVICE_PATH *)dp;
            found = off;
        }
        off += l;
        dp = (EFI_DEVICE_PATH *)((UINT8 *)dp + l);
    }
    return *ret ? found : 0;
}

static bool same_disk(const struct part *a, EFI_DEVICE_PATH *dp, UINTN prefix)
{
    return a->prefix == prefix && ul_memcmp(a->dp, dp, prefix) == 0;
}

static bool file_exists(EFI_HANDLE h, const char *path)
{
    struct ul_efi_volume v;
    struct ul_stat st;
    if (ul_efi_volume_open(h, &v) < 0)
        return false;
    bool ok = ul_efi_volume_ops.stat(&v, path, &st) == 0 && !st.is_dir;
    ul_efi_volume_close(&v);
    return ok;
}

/* Firmware that boots fast (OVMF with a boot order from QEMU, many PCs)
 * connects only the boot device's drivers: a rescue tool wants every disk,
 * as EfiBootManagerConnectAll() does it. */
static void connect_all(void)
{
    EFI_HANDLE *handles = NULL;
    UINTN count = 0;
    if (EFI_ERROR(BS->LocateHandleBuffer(AllHandles, NULL, NULL, &count, &handles)))
        return;
    for (UINTN i = 0; i < count; i++)
        BS->ConnectController(handles[i], NULL, NULL, TRUE);
    BS->FreePool(handles);
}

static void scan_parts(struct rescue *r)
{
    EFI_HANDLE *handles = NULL;
    UINTN count = 0;
    r->n = 0;
    if (EFI_ERROR(BS->LocateHandleBuffer(ByProtocol, &bio_guid, NULL, &count, &handles)))
        return;
    ul_logf(r->log, UL_LOG_DEBUG, "%u block devices", (unsigned)count);
    for (UINTN i = 0; i < count && r->n < MAX_PARTS; i++) {
        EFI_BLOCK_IO *bio;
        EFI_DEVICE_PATH *dp;
        HARDDRIVE_DEVICE_PATH *hd;
        if (EFI_ERROR(BS->HandleProtocol(handles[i], &bio_guid, (void **)&bio)) ||
            !bio->Media->LogicalPartition || !bio->Media->MediaPresent ||
            EFI_ERROR(BS->HandleProtocol(handles[i], &dp_guid, (void **)&dp)))
            continue;
        UINTN prefix = hd_node(dp, &hd);
        ul_logf(r->log, UL_LOG_DEBUG, "block device %u: path %u bytes, partition node at %u%s",
                (unsigned)i, (unsigned)dp_size(dp), (unsigned)prefix,
                r->media_dp && prefix == r->media_prefix &&
                        ul_memcmp(dp, r->media_dp, prefix) == 0 ? " (the stick)" : "");
        if (!hd)
            continue;
        /* Not the stick unloop runs from. */
        if (r->media_dp && prefix == r->media_prefix && ul_memcmp(dp, r->media_dp, prefix) == 0)
            continue;
        struct part *p = &r->parts[r->n++];
        *p = (struct part){ .h = handles[i], .dp = dp, .prefix = prefix,
                            .number = hd->PartitionNumber,
                            .size = (bio->Media->LastBlock + 1) * (uint64_t)bio->Media->BlockSize };
        void *sfs;
        if (!EFI_ERROR(BS->HandleProtocol(handles[i], &sfs_guid, &sfs))) {
            p->esp = file_exists(handles[i], UL_DEFAULT_LOADER);
            p->unloop = p->esp && file_exists(handles[i], UL_STATE_PATH);
        }
        ul_logf(r->log, UL_LOG_DEBUG, "partition %u (%llu MiB)%s%s", p->number,
                (unsigned long long)(p->size >> 20), p->esp ? ": Windows Boot Manager" : "",
                p->unloop ? ", unloop" : "");
    }
    BS->FreePool(handles);
}

/* The whole disk's size: the parent BLOCK_IO whose device path is the prefix. */
static uint64_t disk_size(const struct part *p)
{
    EFI_HANDLE *handles = NULL;
    UINTN count = 0;
    uint64_t size = 0;
    if (EFI_ERROR(BS->LocateHandleBuffer(ByProtocol, &bio_guid, NULL, &count, &handles)))
        return 0;
    for (UINTN i = 0; i < count && !size; i++) {
        EFI_BLOCK_IO *bio;
        EFI_DEVICE_PATH *dp;
        if (EFI_ERROR(BS->HandleProtocol(handles[i], &bio_guid, (void **)&bio)) ||
            bio->Media->LogicalPartition ||
            EFI_ERROR(BS->HandleProtocol(handles[i], &dp_guid, (void **)&dp)))
            continue;
        if (dp_size(dp) == p->prefix && ul_memcmp(dp, p->dp, p->prefix) == 0)
            size = (bio->Media->LastBlock + 1) * (uint64_t)bio->Media->BlockSize;
    }
    BS->FreePool(handles);
    return size;
}

/* A Windows volume candidate: NTFS with \Windows\System32 (label read), or
 * BitLocker (what is inside is known only once unlocked). */
static bool windows_candidate(struct rescue *r, struct part *p, struct ul_install *in)
{
    struct ul_ntfs_probe pr;
    if (ul_efi_ntfs_probe(p->h, &pr) < 0)
        return false;
    if (pr.is_bitlocker) {
        in->encrypted = true;
        in->bitlocker = UL_BL_UNKNOWN;
        return true;
    }
    if (!pr.is_ntfs)
        return false;
    struct ul_ntfs *v;
    char err[160];
    if (ul_efi_ntfs_open(p->h, UL_NTFS_RDONLY, &v, err, sizeof(err)) < 0) {
        ul_logf(r->log, UL_LOG_INFO, "partition %u: %s", p->number, err);
        return false;
    }
    struct ul_stat st;
    bool win = ul_ntfs_volume_ops.stat(v, "\\Windows\\System32", &st) == 0 && st.is_dir;
    ul_strlcpy(in->label, ul_ntfs_label(v), sizeof(in->label));
    ul_ntfs_close(v);
    return win;
}

static int r_find(void *ctx, struct ul_install *list, uint32_t max, uint32_t *ret_n)
{
    struct rescue *r = ctx;
    uint32_t n = 0, disk_no = 0;
    UINTN seen_prefix[MAX_PARTS];
    EFI_DEVICE_PATH *seen_dp[MAX_PARTS];
    uint32_t n_seen = 0;

    connect_all();
    scan_parts(r);
    for (uint32_t i = 0; i < r->n && n < max; i++) {
        struct part *p = &r->parts[i];
        /* Disks numbered in the order their first partition appears. */
        uint32_t d = 0;
        for (uint32_t k = 0; k < n_seen; k++)
            if (seen_prefix[k] == p->prefix && ul_memcmp(seen_dp[k], p->dp, p->prefix) == 0)
                d = k + 1;
        if (!d) {
            seen_prefix[n_seen] = p->prefix;
            seen_dp[n_seen++] = p->dp;
            d = ++disk_no;
        }
        if (!p->esp)
            continue;
        /* This disk's Windows volumes. */
        for (uint32_t k = 0; k < r->n && n < max; k++) {
            struct part *q = &r->parts[k];
            if (q == p || q->esp || !same_disk(q, p->dp, p->prefix))
                continue;
            struct ul_install *in = &list[n];
            ul_memset(in, 0, sizeof(*in));
            if (!windows_candidate(r, q, in))
                continue;
            in->disk_no = d;
            in->disk_size = disk_size(p);
            in->esp_part = p->number;
            in->win_part = q->number;
            in->win_size = q->size;
            in->unloop_installed = p->unloop;
            r->esp_h[n] = p->h;
            r->win_h[n] = q->h;
            n++;
        }
    }
    r->n_inst = n;
    *ret_n = n;
    return 0;
}

static int r_open_esp(void *ctx, const struct ul_install *in, struct ul_volume *ret)
{
    struct rescue *r = ctx;
    if (!in->index || in->index > r->n_inst)
        return -UL_EINVAL;
    int e = ul_efi_volume_open(r->esp_h[in->index - 1], &r->esp);
    if (e < 0)
        return e;
    r->esp_open = true;
    *ret = (struct ul_volume){ &ul_efi_volume_ops, &r->esp };
    return 0;
}

static void r_close_esp(void *ctx)
{
    struct rescue *r = ctx;
    if (r->esp_open)
        ul_efi_volume_close(&r->esp);
    r->esp_open = false;
}

static int r_open_windows(void *ctx, struct ul_install *in, const struct ul_volume_policy *pol,
                          const struct ul_bitlocker_keysrc *keys, struct ul_volume *ret,
                          const char **why)
{
    struct rescue *r = ctx;
    if (!in->index || in->index > r->n_inst)
        return -UL_EINVAL;
    int e = ul_efi_windows_open_part(r->win_h[in->index - 1], in->win_part, r->log, r->mem,
                                     r->ui, r->ui_ctx, pol, keys, in, &r->win, why);
    if (e < 0)
        return e;
    *ret = (struct ul_volume){ &ul_ntfs_volume_ops, r->win };
    return 0;
}

static void r_close_windows(void *ctx)
{
    struct rescue *r = ctx;
    int e = ul_ntfs_close(r->win);
    if (e < 0)
        ul_log_err(r->log, e, "closing the Windows volume failed");
    r->win = NULL;
}

static const struct ul_rescue_ops rescue_ops = {
    .find = r_find,
    .open_esp = r_open_esp,
    .close_esp = r_close_esp,
    .open_windows = r_open_windows,
    .close_windows = r_close_windows,
};

/* SMBIOS: the 3.x entry point if there is one, else 2.x (DSP0134 §5.2). */
static void read_machine(struct ul_machine *m)
{
    ul_memset(m, 0, sizeof(*m));
    for (UINTN i = 0; i < ST->NumberOfTableEntries; i++) {
        EFI_CONFIGURATION_TABLE *t = &ST->ConfigurationTable[i];
        const UINT8 *ep = t->VendorTable;
        const UINT8 *table = NULL;
        size_t len = 0;
        if (!ul_memcmp(&t->VendorGuid, &smbios3_guid, sizeof(EFI_GUID)) &&
            !ul_memcmp(ep, "_SM3_", 5)) {
            UINT64 addr;
            UINT32 max;
            ul_memcpy(&max, ep + 0x0C, 4);
            ul_memcpy(&addr, ep + 0x10, 8);
            table = (const UINT8 *)(UINTN)addr;
            len = max;
        } else if (!ul_memcmp(&t->VendorGuid, &smbios_guid, sizeof(EFI_GUID)) &&
                   !ul_memcmp(ep, "_SM_", 4)) {
            UINT32 addr;
            UINT16 l16;
            ul_memcpy(&l16, ep + 0x16, 2);
            ul_memcpy(&addr, ep + 0x18, 4);
            table = (const UINT8 *)(UINTN)addr;
            len = l16;
        }
        if (table && len && len < (64u << 20) && ul_smbios_machine(table, len, m) == 0)
            return;
    }
}

static EFI_STATUS start_windows(EFI_HANDLE self, uint32_t idx, struct ul_log *log)
{
    if (!idx || idx > rs.n_inst)
        return EFI_NOT_FOUND;
    return ul_efi_chainload(self, rs.esp_h[idx - 1], UL_DEFAULT_LOADER, NULL, 0, log);
}

static void report_to_console(void *ctx, const char *json)
{
    (void)ctx;
    ul_efi_print("UNLOOP-REPORT-BEGIN\n");
    ul_efi_print(json);
    ul_efi_print("UNLOOP-REPORT-END\n");
}

EFI_STATUS ul_efi_rescue(EFI_HANDLE self, EFI_HANDLE media_dev, const struct ul_volume *media,
                         bool media_writable, const char *mode_name, struct ul_log *log,
                         struct ul_mem *mem)
{
    static struct ul_rescue_env env;
    static struct ul_rescue_result res;
    EFI_DEVICE_PATH *mdp = NULL;
    HARDDRIVE_DEVICE_PATH *hd;

    ul_efi_ntfs_init(NULL);
    rs = (struct rescue){ .log = log, .mem = mem, .ui = &ul_efi_ui_ops };
    if (media_dev && !EFI_ERROR(BS->HandleProtocol(media_dev, &dp_guid, (void **)&mdp))) {
        rs.media_dp = mdp;
        rs.media_prefix = hd_node(mdp, &hd);
        if (!hd)
            rs.media_prefix = dp_size(mdp);
    }
    env = (struct ul_rescue_env){
        .have_media = media != NULL,
        .media_writable = media_writable,
        .mode_name = mode_name,
        .clock = { &ul_efi_clock_ops, NULL },
        .log = log,
        .ui = &ul_efi_ui_ops,
        .mem = *mem,
        .prompt = ul_efi_ask_recovery_password,
        .ops = &rescue_ops,
        .ops_ctx = &rs,
        .report_out = report_to_console,
    };
    if (media)
        env.media = *media;
    read_machine(&env.machine);
    ul_rescue_run(&env, &res);
    ul_efi_print("\n");
    ul_efi_printf("unloop: %s%s%s\n", res.summary, res.report_path[0] ? "; report: " : "",
                  res.report_path);

    if (media && media_writable)
        ul_log_flush(log, media, res.cfg.log_size_kib * 1024u);
    switch (res.then) {
    case UL_THEN_BOOT:
        if (res.boot) {
            EFI_STATUS st = start_windows(self, res.boot, log);
            if (!EFI_ERROR(st))
                return st;
            ul_logf(log, UL_LOG_ERROR, "cannot start that Windows: %s; rebooting",
                    ul_efi_status_name(st));
        }
        ul_efi_pause(5);
        ul_efi_reboot();
        break;
    case UL_THEN_POWEROFF:
        ul_logf(log, UL_LOG_NOTICE, "powering off");
        RT->ResetSystem(EfiResetShutdown, EFI_SUCCESS, 0, NULL);
        break;
    case UL_THEN_MENU:
    case UL_THEN_REBOOT:
    default:
        ul_logf(log, UL_LOG_NOTICE, "rebooting");
        ul_efi_reboot();
        break;
    }
    return EFI_SUCCESS;
}
