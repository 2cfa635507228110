/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A stand-in for Windows Boot Manager in the QEMU tests: prints a marker
 * with the load options it was given, then ends the VM through QEMU's
 * isa-debug-exit device (iobase 0xf4), so QEMU exits with status 33.
 * The harness then plays "Windows": it decides on the host whether this
 * boot blue-screened or reached the desktop.
 */
#include <efi.h>

#define STUB_EXIT_VALUE 0x10 /* QEMU exit status (0x10 << 1) | 1 = 33 */

static EFI_GUID li_guid = LOADED_IMAGE_PROTOCOL;

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st);

static void print(EFI_SYSTEM_TABLE *st, const CHAR16 *s)
{
    st->ConOut->OutputString(st->ConOut, (CHAR16 *)s);
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
    EFI_LOADED_IMAGE *li = NULL;
    CHAR16 opts[128];
    UINTN n = 0;

    print(st, L"\r\nSTUB-LOADER: Windows Boot Manager stand-in reached\r\n");
    if (!EFI_ERROR(st->BootServices->HandleProtocol(image, &li_guid, (void **)&li)) &&
        li->LoadOptions && li->LoadOptionsSize) {
        const CHAR16 *o = li->LoadOptions;
        UINTN max = li->LoadOptionsSize / sizeof(CHAR16);
        for (; n < max && n < 127 && o[n]; n++)
            opts[n] = (o[n] >= 0x20 && o[n] < 0x7f) ? o[n] : L'?';
    }
    opts[n] = 0;
    print(st, L"STUB-LOADER: load options: [");
    print(st, opts);
    print(st, L"]\r\n");

    __asm__ __volatile__("outb %b0, %w1" : : "a"((UINT8)STUB_EXIT_VALUE), "Nd"((UINT16)0xf4));
    /* Not under QEMU with isa-debug-exit: behave like a loader that failed. */
    return EFI_UNSUPPORTED;
}
