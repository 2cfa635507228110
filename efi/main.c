/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * unloop.efi: count the boot attempt, decide, maybe show the recovery menu,
 * then hand off to the OS loader.  Fail open: every path ends in the
 * hand-off or, when the loader cannot be started, in returning to the
 * firmware so that its next boot option runs.
 */
#include "efi-tftp.h"
#include "efi-util.h"

#include "../shared/config.h"
#include "../shared/run.h"
#include "../shared/string-util.h"
#include "../shared/ul-errno.h"
#include "../shared/unloop-contract.h"

EFI_SYSTEM_TABLE *ST;
EFI_BOOT_SERVICES *BS;
EFI_RUNTIME_SERVICES *RT;

static EFI_GUID li_guid = LOADED_IMAGE_PROTOCOL;
static EFI_GUID bio_guid = BLOCK_IO_PROTOCOL;

/* Did unloop count an attempt earlier in this power-on?  Sets the mark if not.
 * A volatile variable: no flash write on any boot (systemd #477). */
static bool already_counted(void)
{
    static EFI_GUID vendor = UL_EFI_VENDOR_GUID;
    CHAR16 name[32];
    UINT8 v = 1;
    UINTN size = sizeof(v);
    UINT32 attrs = 0;

    ul_ascii_to_16(UL_EFI_VAR_COUNTED, name, sizeof(name) / sizeof(name[0]));
    if (RT->GetVariable(name, &vendor, &attrs, &size, &v) == EFI_SUCCESS)
        return true;
    RT->SetVariable(name, &vendor, EFI_VARIABLE_BOOTSERVICE_ACCESS, sizeof(v), &v);
    return false;
}

/*
 * Rescue mode (issue #6) or the installed ladder?  [unloop] mode = rescue or
 * installed says so; auto (the default) means rescue when unloop was started
 * from removable media (a recovery stick).  The config is read once here
 * for that key only; ul_run reads it again as always.
 */
static bool rescue_mode(EFI_HANDLE dev, const struct ul_volume *media)
{
    static struct ul_config cfg;
    struct ul_diags diags;
    EFI_BLOCK_IO *bio;

    if (media && ul_config_load(media, &cfg, &diags) == 0 && cfg.mode != UL_MODE_AUTO)
        return cfg.mode == UL_MODE_RESCUE;
    return !EFI_ERROR(BS->HandleProtocol(dev, &bio_guid, (void **)&bio)) &&
           bio->Media->RemovableMedia;
}

static UINT64 rdtsc(void)
{
    UINT32 lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return ((UINT64)hi << 32) | lo;
}

/* With log_level = debug (used by `make bench`), report unloop's own time
 * from entry to StartImage.  The TSC is calibrated against a 10 ms Stall
 * only then, so healthy boots at the default level pay nothing for it. */
static void log_own_time(struct ul_log *l, UINT64 t0)
{
    UINT64 t1 = rdtsc();
    if (l->level < UL_LOG_DEBUG)
        return;
    UINT64 c0 = rdtsc();
    BS->Stall(10000);
    UINT64 per_us = (rdtsc() - c0) / 10000;
    if (per_us == 0)
        return;
    ul_logf(l, UL_LOG_DEBUG, "time from entry to StartImage: %llu us",
            (unsigned long long)((t1 - t0) / per_us));
}

struct flush_ctx {
    struct ul_log *log;
    const struct ul_volume *esp;
    uint32_t max;
};

static void flush_log(void *ctx)
{
    struct flush_ctx *fc = ctx;
    if (fc->esp)
        ul_log_flush(fc->log, fc->esp, fc->max);
}

/* Large structs live here, not on the firmware's stack. */
static struct ul_log log;
static struct ul_run_result res;

/*
 * Declared without EFIAPI: gnu-efi's crt0 calls efi_main with the System V
 * ABI even when EFIAPI is ms_abi (CONVENTIONS.md, checked with 3.0.15).
 */
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab);

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
    EFI_LOADED_IMAGE *self = NULL;
    struct ul_efi_volume vol = { 0 };
    struct ul_env env = { 0 };
    const char *loader = UL_DEFAULT_LOADER;
    EFI_STATUS st;
    UINT64 t0 = rdtsc();
    int r;

    ST = systab;
    BS = systab->BootServices;
    RT = systab->RuntimeServices;

    env.clock = (struct ul_clock){ &ul_efi_clock_ops, NULL };
    ul_log_init(&log, &ul_efi_console_sink, NULL, &env.clock, "pre-boot");
    env.log = &log;

    st = BS->HandleProtocol(image, &li_guid, (void **)&self);
    if (EFI_ERROR(st)) {
        /* Without our own image we cannot even find the ESP: give the boot
         * back to the firmware at once. */
        ul_efi_printf("unloop: error: no EFI_LOADED_IMAGE_PROTOCOL (%s); returning to firmware\n",
                      ul_efi_status_name(st));
        return st;
    }

    r = ul_efi_volume_open(self->DeviceHandle, &vol);
    if (r < 0) {
        /* Booted over the network: rescue mode with its files over TFTP
         * (read-only; the report goes to the console). */
        static struct ul_efi_tftp tftp;
        if (ul_efi_tftp_open(self->DeviceHandle, &tftp) == 0) {
            struct ul_volume media = { &ul_efi_tftp_ops, &tftp };
            env.mem = (struct ul_mem){ &ul_efi_mem_ops, NULL };
            st = ul_efi_rescue(image, NULL, &media, false, "pxe", &log, &env.mem);
            ul_efi_tftp_close(&tftp);
            return st;
        }
        ul_logf(&log, UL_LOG_ERROR, "cannot open the ESP unloop was started from: %s",
                ul_strerror(r));
    } else {
        env.esp = (struct ul_volume){ &ul_efi_volume_ops, &vol };
        env.have_esp = true;
    }
    if (rescue_mode(self->DeviceHandle, env.have_esp ? &env.esp : NULL)) {
        env.mem = (struct ul_mem){ &ul_efi_mem_ops, NULL };
        st = ul_efi_rescue(image, self->DeviceHandle, env.have_esp ? &env.esp : NULL, true,
                           "usb", &log, &env.mem);
        if (env.have_esp)
            ul_efi_volume_close(&vol);
        return st;
    }
    env.ui = &ul_efi_ui_ops;
    env.counted_this_power_on = already_counted();
    env.caps.firmware_setup = ul_efi_firmware_setup_supported();
    env.caps.safe_mode = true;
    env.mem = (struct ul_mem){ &ul_efi_mem_ops, NULL };
    ul_efi_windows_attach(&env);

    ul_run(&env, &res);
    loader = res.cfg.loader;

    switch (res.action) {
    case UL_ACTION_REBOOT:
        ul_logf(&log, UL_LOG_NOTICE, "rebooting");
        if (env.have_esp)
            ul_log_flush(&log, &env.esp, res.cfg.log_size_kib * 1024u);
        ul_efi_reboot();
        break;
    case UL_ACTION_FIRMWARE_SETUP:
        ul_logf(&log, UL_LOG_NOTICE, "rebooting into firmware setup");
        if (env.have_esp)
            ul_log_flush(&log, &env.esp, res.cfg.log_size_kib * 1024u);
        st = ul_efi_reboot_to_firmware();
        ul_logf(&log, UL_LOG_ERROR, "cannot reboot into firmware setup: %s; continuing the boot",
                ul_efi_status_name(st));
        break;
    default:
        break;
    }

    /* bootnext: the firmware starts the loader itself after a warm reset,
     * so BitLocker's TPM seal holds (DESIGN §6); auto picks it when the
     * Windows volume is BitLocker-encrypted.  Any failure: chain-load. */
    enum ul_handoff handoff = res.cfg.handoff;
    if (handoff == UL_HANDOFF_AUTO) {
        bool bl = ul_efi_bitlocker_on_disk(self->DeviceHandle, &log);
        handoff = bl ? UL_HANDOFF_BOOTNEXT : UL_HANDOFF_CHAINLOAD;
        ul_logf(&log, UL_LOG_INFO, "handoff = auto: %s; %s", bl ? "the Windows volume is "
                "BitLocker-encrypted" : "no BitLocker volume on this disk",
                ul_handoff_name(handoff));
    }
    if (handoff == UL_HANDOFF_BOOTNEXT) {
        if (res.cfg.loader_options[0])
            ul_logf(&log, UL_LOG_NOTICE, "bootnext: loader_options is not used: the firmware "
                    "passes the boot entry's own optional data");
        struct flush_ctx fc = { &log, env.have_esp ? &env.esp : NULL,
                                res.cfg.log_size_kib * 1024u };
        ul_efi_bootnext(self, loader, fc.esp, &log, flush_log, &fc);
        /* Only here when it could not: the reason is logged; chain-load. */
    }

    /* The loader normally never returns: the log must be on disk first. */
    if (env.have_esp) {
        r = ul_log_flush(&log, &env.esp, res.cfg.log_size_kib * 1024u);
        if (r < 0)
            ul_efi_printf("unloop: error: cannot write %s: %s\n", UL_LOG_PATH, ul_strerror(r));
    }

    log_own_time(&log, t0); /* console only: the log file was written above */
    const void *opts = self->LoadOptions;
    UINT32 opts_size = self->LoadOptionsSize;
    if (res.cfg.loader_options[0]) {
        /* [unloop] loader_options replaces what unloop was started with. */
        static CHAR16 wopts[UL_LOADER_MAX];
        UINTN n = ul_strlen(res.cfg.loader_options) + 1;
        ul_ascii_to_16(res.cfg.loader_options, wopts, n);
        opts = wopts;
        opts_size = (UINT32)(n * sizeof(CHAR16));
    }
    st = ul_efi_chainload(image, self->DeviceHandle, loader, opts, opts_size, &log);
    if (st == EFI_SUCCESS)
        return st;

    ul_logf(&log, UL_LOG_ERROR,
            "could not hand off to %s; returning to the firmware so its next boot option runs",
            loader);
    if (env.have_esp)
        ul_log_flush(&log, &env.esp, res.cfg.log_size_kib * 1024u);
    ul_efi_pause(5);
    if (env.have_esp)
        ul_efi_volume_close(&vol);
    return st;
}
