/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Hand-off by chain-loading: LoadImage/StartImage of the OS loader on our ESP. */
#include "efi-util.h"

#include "../shared/string-util.h"

static EFI_GUID dp_guid = DEVICE_PATH_PROTOCOL;
static EFI_GUID li_guid = LOADED_IMAGE_PROTOCOL;
static EFI_GUID global_guid = EFI_GLOBAL_VARIABLE;

/* The SecureBoot variable (UEFI spec 3.3): 1 when the firmware enforces
 * image signatures. Read only, to word the refusal; nothing here decides
 * whether an image may run: that is the firmware's alone. */
static BOOLEAN secure_boot_enabled(void)
{
    UINT8 v = 0;
    UINTN size = sizeof(v);
    UINT32 attrs;
    EFI_STATUS st = RT->GetVariable(L"SecureBoot", &global_guid, &attrs, &size, &v);
    return !EFI_ERROR(st) && size == sizeof(v) && v == 1;
}

static UINTN dp_size(EFI_DEVICE_PATH *dp)
{
    UINTN size = 0;
    while (!IsDevicePathEnd(dp)) {
        UINTN n = DevicePathNodeLength(dp);
        if (n < sizeof(EFI_DEVICE_PATH))
            break; /* malformed: stop rather than loop */
        size += n;
        dp = (EFI_DEVICE_PATH *)((UINT8 *)dp + n);
    }
    return size;
}

/* The device's path with a file path node appended: what LoadImage wants. */
static EFI_STATUS file_device_path(EFI_HANDLE device, const char *path, EFI_DEVICE_PATH **ret)
{
    EFI_DEVICE_PATH *dev = NULL;
    EFI_STATUS st;
    UINTN plen = ul_strlen(path), dsize, fsize;
    UINT8 *buf;

    st = BS->HandleProtocol(device, &dp_guid, (void **)&dev);
    if (EFI_ERROR(st))
        return st;
    dsize = dp_size(dev);
    fsize = SIZE_OF_FILEPATH_DEVICE_PATH + (plen + 1) * sizeof(CHAR16);
    if (fsize > 0xffff)
        return EFI_INVALID_PARAMETER;
    st = BS->AllocatePool(EfiLoaderData, dsize + fsize + END_DEVICE_PATH_LENGTH, (void **)&buf);
    if (EFI_ERROR(st))
        return st;
    ul_memcpy(buf, dev, dsize);
    FILEPATH_DEVICE_PATH *f = (FILEPATH_DEVICE_PATH *)(buf + dsize);
    f->Header.Type = MEDIA_DEVICE_PATH;
    f->Header.SubType = MEDIA_FILEPATH_DP;
    SetDevicePathNodeLength(&f->Header, fsize);
    ul_ascii_to_16(path, f->PathName, plen + 1);
    EFI_DEVICE_PATH *end = (EFI_DEVICE_PATH *)(buf + dsize + fsize);
    SetDevicePathEndNode(end);
    *ret = (EFI_DEVICE_PATH *)buf;
    return EFI_SUCCESS;
}

EFI_STATUS ul_efi_chainload(EFI_HANDLE self, EFI_HANDLE device, const char *path,
                            const void *load_options, UINT32 load_options_size,
                            struct ul_log *log)
{
    EFI_DEVICE_PATH *dp = NULL;
    EFI_HANDLE child = NULL;
    EFI_LOADED_IMAGE *li = NULL;
    EFI_STATUS st;

    st = file_device_path(device, path, &dp);
    if (EFI_ERROR(st)) {
        ul_logf(log, UL_LOG_ERROR, "cannot build the device path of %s: %s", path,
                ul_efi_status_name(st));
        return st;
    }
    st = BS->LoadImage(FALSE, self, dp, NULL, 0, &child);
    BS->FreePool(dp);
    if (EFI_ERROR(st)) {
        if (st == EFI_NOT_FOUND)
            ul_logf(log, UL_LOG_ERROR, "the OS loader %s is not on this ESP", path);
        else if (st == EFI_SECURITY_VIOLATION || st == EFI_ACCESS_DENIED) {
            /* LoadImage: EFI_SECURITY_VIOLATION = loaded but must not be
             * started, EFI_ACCESS_DENIED = not loaded, both by platform
             * policy (UEFI spec 7.4). unloop never verifies or starts such
             * an image itself: no shim-style bypass. */
            if (secure_boot_enabled())
                ul_logf(log, UL_LOG_ERROR,
                        "Secure Boot refused %s: its signature is not trusted by this "
                        "firmware (%s)", path, ul_efi_status_name(st));
            else
                ul_logf(log, UL_LOG_ERROR,
                        "the firmware's security policy refused %s (%s)", path,
                        ul_efi_status_name(st));
            ul_logf(log, UL_LOG_NOTICE,
                    "unloop does not bypass Secure Boot: the loader must be signed by a key "
                    "in the firmware's db");
        } else
            ul_logf(log, UL_LOG_ERROR, "cannot load %s: %s", path, ul_efi_status_name(st));
        /* After EFI_SECURITY_VIOLATION the image is loaded but may not be
         * started: unload it (UEFI spec, LoadImage). */
        if (child)
            BS->UnloadImage(child);
        return st;
    }

    st = BS->HandleProtocol(child, &li_guid, (void **)&li);
    if (!EFI_ERROR(st) && load_options_size) {
        li->LoadOptions = (void *)load_options;
        li->LoadOptionsSize = load_options_size;
    }

    st = BS->StartImage(child, NULL, NULL);
    /* Only here if the loader failed or returned. An image that ran and
     * returned was unloaded by the firmware; one that never started was not. */
    if (EFI_ERROR(st)) {
        ul_logf(log, UL_LOG_ERROR, "%s did not start or failed: %s", path,
                ul_efi_status_name(st));
        if (st == EFI_SECURITY_VIOLATION || st == EFI_LOAD_ERROR || st == EFI_INVALID_PARAMETER)
            BS->UnloadImage(child);
    } else {
        ul_logf(log, UL_LOG_WARNING, "%s returned to unloop", path);
    }
    return st;
}
