/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "efi-util.h"

#include "../shared/string-util.h"
#include "../shared/ul-errno.h"

static void *mem_alloc(void *ctx, size_t size)
{
    void *p = NULL;
    (void)ctx;
    if (EFI_ERROR(BS->AllocatePool(EfiLoaderData, size, &p)))
        return NULL;
    ul_memset(p, 0, size);
    return p;
}

static void mem_free(void *ctx, void *p)
{
    (void)ctx;
    if (p)
        BS->FreePool(p);
}

const struct ul_mem_ops ul_efi_mem_ops = { .alloc = mem_alloc, .free = mem_free };

int ul_efi_err(EFI_STATUS st)
{
    switch (st) {
    case EFI_SUCCESS: return 0;
    case EFI_NOT_FOUND: return -UL_ENOENT;
    case EFI_INVALID_PARAMETER: return -UL_EINVAL;
    case EFI_UNSUPPORTED: return -UL_EOPNOTSUPP;
    case EFI_BUFFER_TOO_SMALL:
    case EFI_BAD_BUFFER_SIZE: return -UL_E2BIG;
    case EFI_OUT_OF_RESOURCES: return -UL_ENOMEM;
    case EFI_VOLUME_FULL: return -UL_ENOSPC;
    case EFI_WRITE_PROTECTED: return -UL_EROFS;
    case EFI_ACCESS_DENIED:
    case EFI_SECURITY_VIOLATION: return -UL_EACCES;
    case EFI_NO_MEDIA:
    case EFI_MEDIA_CHANGED: return -UL_ENODEV;
    case EFI_VOLUME_CORRUPTED:
    case EFI_CRC_ERROR: return -UL_EBADMSG;
    case EFI_ABORTED: return -UL_ECANCELED;
    default: return -UL_EIO;
    }
}

const char *ul_efi_status_name(EFI_STATUS st)
{
    switch (st) {
    case EFI_SUCCESS: return "EFI_SUCCESS";
    case EFI_LOAD_ERROR: return "EFI_LOAD_ERROR";
    case EFI_INVALID_PARAMETER: return "EFI_INVALID_PARAMETER";
    case EFI_UNSUPPORTED: return "EFI_UNSUPPORTED";
    case EFI_BUFFER_TOO_SMALL: return "EFI_BUFFER_TOO_SMALL";
    case EFI_NOT_READY: return "EFI_NOT_READY";
    case EFI_DEVICE_ERROR: return "EFI_DEVICE_ERROR";
    case EFI_WRITE_PROTECTED: return "EFI_WRITE_PROTECTED";
    case EFI_OUT_OF_RESOURCES: return "EFI_OUT_OF_RESOURCES";
    case EFI_VOLUME_CORRUPTED: return "EFI_VOLUME_CORRUPTED";
    case EFI_VOLUME_FULL: return "EFI_VOLUME_FULL";
    case EFI_NO_MEDIA: return "EFI_NO_MEDIA";
    case EFI_NOT_FOUND: return "EFI_NOT_FOUND";
    case EFI_ACCESS_DENIED: return "EFI_ACCESS_DENIED";
    case EFI_ABORTED: return "EFI_ABORTED";
    case EFI_SECURITY_VIOLATION: return "EFI_SECURITY_VIOLATION";
    default: return "EFI error";
    }
}

UINTN ul_ascii_to_16(const char *s, CHAR16 *out, UINTN out_chars)
{
    UINTN n = 0;
    if (out_chars == 0)
        return 0;
    for (; s[n] && n + 1 < out_chars; n++)
        out[n] = (CHAR16)(unsigned char)s[n];
    out[n] = 0;
    return n;
}
