/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reboot, and reboot into the firmware's setup through OsIndications (UEFI spec 8.5.4). */
#include "efi-util.h"

static EFI_GUID global_guid = EFI_GLOBAL_VARIABLE;

static UINT64 get_u64(CHAR16 *name, EFI_STATUS *ret_st)
{
    UINT64 v = 0;
    UINTN size = sizeof(v);
    UINT32 attrs;
    *ret_st = RT->GetVariable(name, &global_guid, &attrs, &size, &v);
    return EFI_ERROR(*ret_st) || size != sizeof(v) ? 0 : v;
}

BOOLEAN ul_efi_firmware_setup_supported(void)
{
    EFI_STATUS st;
    UINT64 v = get_u64(L"OsIndicationsSupported", &st);
    return (v & EFI_OS_INDICATIONS_BOOT_TO_FW_UI) != 0;
}

EFI_STATUS ul_efi_reboot_to_firmware(void)
{
    EFI_STATUS st;
    UINT64 v = get_u64(L"OsIndications", &st);
    v |= EFI_OS_INDICATIONS_BOOT_TO_FW_UI;
    /* The only NVRAM write unloop makes, and only when a person asks for it. */
    st = RT->SetVariable(L"OsIndications", &global_guid,
                         EFI_VARIABLE_NON_VOLATILE | EFI_VARIABLE_BOOTSERVICE_ACCESS |
                             EFI_VARIABLE_RUNTIME_ACCESS,
                         sizeof(v), &v);
    if (EFI_ERROR(st))
        return st;
    ul_efi_reboot();
    return EFI_DEVICE_ERROR;
}

void ul_efi_reboot(void)
{
    RT->ResetSystem(EfiResetCold, EFI_SUCCESS, 0, NULL);
}
