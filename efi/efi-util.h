/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared helpers of the UEFI adapters.  EFI_STATUS stays in efi/. */
#ifndef UL_EFI_UTIL_H
#define UL_EFI_UTIL_H

#include <efi.h>

#include "../shared/log.h"
#include "../shared/ops.h"
#include "../shared/run.h"

extern EFI_SYSTEM_TABLE *ST;
extern EFI_BOOT_SERVICES *BS;
extern EFI_RUNTIME_SERVICES *RT;

/* EFI_STATUS <-> negative UL_E* code, at the boundary only (iPXE's EEFI/EFIRC). */
int ul_efi_err(EFI_STATUS st);
const char *ul_efi_status_name(EFI_STATUS st);

/* Pool memory for the core (the BCD store). */
extern const struct ul_mem_ops ul_efi_mem_ops;

/* ASCII (backslash path or message) to UCS-2; returns chars written, always terminated. */
UINTN ul_ascii_to_16(const char *s, CHAR16 *out, UINTN out_chars);

/* efi-volume.c: the FAT ESP through EFI_SIMPLE_FILE_SYSTEM_PROTOCOL. */
struct ul_efi_volume {
    EFI_FILE_PROTOCOL *root;
};
extern const struct ul_volume_ops ul_efi_volume_ops;
int ul_efi_volume_open(EFI_HANDLE device, struct ul_efi_volume *vol);
void ul_efi_volume_close(struct ul_efi_volume *vol);

/* efi-console.c: clock, log sink and the menu UI on the text console. */
extern const struct ul_clock_ops ul_efi_clock_ops;
extern const struct ul_log_sink_ops ul_efi_console_sink;
extern const struct ul_ui_ops ul_efi_ui_ops;
void ul_efi_print(const char *msg);
void ul_efi_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The BitLocker recovery-password prompt (shared/bitlocker-unlock.h). */
struct ul_rp_prompt;
int ul_efi_ask_recovery_password(void *ctx, const struct ul_rp_prompt *p, char out[56]);
/* Wait up to seconds for a key (any key ends the wait). */
void ul_efi_pause(UINTN seconds);

/* efi-chainload.c */
EFI_STATUS ul_efi_chainload(EFI_HANDLE self, EFI_HANDLE device, const char *path,
                            const void *load_options, UINT32 load_options_size,
                            struct ul_log *log);

/*
 * efi-bootnext.c: the bootnext hand-off (DESIGN §6).  Sets BootNext to the
 * active Boot#### in BootOrder that starts loader (preferring one on the
 * ESP unloop runs from, never one that starts unloop; esp, when given, is
 * that ESP, to check the loader is there), calls before_reset
 * (flush the log) and warm-resets.  Returns only when that was not
 * possible, with the reason logged: the caller then chain-loads.
 */
EFI_STATUS ul_efi_bootnext(EFI_LOADED_IMAGE *self, const char *loader,
                           const struct ul_volume *esp, struct ul_log *log,
                           void (*before_reset)(void *ctx), void *ctx);
/* handoff = auto: is a partition on the disk of the ESP (esp_dev)
 * BitLocker-encrypted?  One sector read per partition, no unlock. */
BOOLEAN ul_efi_bitlocker_on_disk(EFI_HANDLE esp_dev, struct ul_log *log);

/* efi-windows.c: the Windows volume for quarantine, opened only on a looping boot. */
void ul_efi_windows_attach(struct ul_env *env);
/* One partition's Windows volume for writing (rescue mode): plain NTFS, or
 * BitLocker unlocked with keys (inst's BitLocker fields filled in).  0, or
 * < 0 with *why (static storage). */
struct ul_ntfs;
struct ul_install;
struct ul_bitlocker_keysrc;
int ul_efi_windows_open_part(EFI_HANDLE part, unsigned idx, struct ul_log *log,
                             const struct ul_mem *mem, const struct ul_ui_ops *ui, void *ui_ctx,
                             const struct ul_volume_policy *pol,
                             const struct ul_bitlocker_keysrc *keys, struct ul_install *inst,
                             struct ul_ntfs **ret, const char **why);

/* efi-rescue.c: rescue mode (a recovery stick, a network boot; issue #6).
 * media: where the config, keys and reports are (NULL: none). */
EFI_STATUS ul_efi_rescue(EFI_HANDLE self, EFI_HANDLE media_dev, const struct ul_volume *media,
                         bool media_writable, const char *mode_name, struct ul_log *log,
                         struct ul_mem *mem);

/* efi-reset.c: reboot and firmware setup (OsIndications). */
BOOLEAN ul_efi_firmware_setup_supported(void);
EFI_STATUS ul_efi_reboot_to_firmware(void);
void ul_efi_reboot(void);

#endif
