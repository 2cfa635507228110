/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * build/efi-tftp-test.efi: the TFTP volume of efi/efi-tftp.c on its own.
 *
 * Booted over UEFI PXE (as the boot file), it opens the TFTP volume of its
 * own device and goes through the ops the way the core would: stat and read
 * (in odd-sized pieces) the config and the key files, a missing file, a
 * path with "..", the root, a write, the key folder's listing, and a second
 * read that must come from the cache.  One line per result on the console
 * (sizes, CRC-32, first line), checked by tests/qemu/test_pxe.py.  Ends QEMU
 * through isa-debug-exit: status (0 << 1) | 1 = 1 when the volume opened,
 * 3 when it did not (e.g. booted from a disk: -UL_ENODEV).
 */
#include <efi.h>

#include <stdarg.h>

#include "../../efi/efi-tftp.h"
#include "../../shared/crc32.h"
#include "../../shared/string-util.h"
#include "../../shared/ul-errno.h"

EFI_SYSTEM_TABLE *ST;
EFI_BOOT_SERVICES *BS;
EFI_RUNTIME_SERVICES *RT;

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st);

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    char buf[400];
    CHAR16 w[420];
    va_list ap;
    UINTN n = 0;

    va_start(ap, fmt);
    ul_vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    for (const char *p = buf; *p && n < 416; p++) {
        if (*p == '\n')
            w[n++] = L'\r';
        w[n++] = (CHAR16)(unsigned char)*p;
    }
    w[n] = 0;
    ST->ConOut->OutputString(ST->ConOut, w);
}

static void quit(UINT8 value)
{
    __asm__ __volatile__("outb %b0, %w1" : : "a"(value), "Nd"((UINT16)0xf4));
}

/* stat, then read the whole file in 777-byte pieces; one line of results. */
static void show_file(struct ul_efi_tftp *t, const char *path)
{
    struct ul_stat st;
    UINT8 *data = NULL;
    size_t got = 0;
    int r;

    r = ul_efi_tftp_ops.stat(t, path, &st);
    if (r < 0) {
        out("efi-tftp-test: file %s error %d (last status 0x%llx tftp error %u)\n", path, r,
            (unsigned long long)t->last_status, t->last_tftp_error);
        return;
    }
    if (st.is_dir) {
        out("efi-tftp-test: file %s dir\n", path);
        return;
    }
    if (EFI_ERROR(BS->AllocatePool(EfiLoaderData, st.size + 1, (void **)&data))) {
        out("efi-tftp-test: file %s no memory\n", path);
        return;
    }
    while (got < st.size) {
        size_t n = 0;
        r = ul_efi_tftp_ops.read(t, path, got, data + got, 777, &n);
        if (r < 0 || n == 0)
            break;
        got += n;
    }
    if (r < 0 || got != st.size) {
        out("efi-tftp-test: file %s read error %d after %u bytes\n", path, r, (unsigned)got);
    } else {
        /* past the end: nothing, no error */
        size_t n = 1;
        int r2 = ul_efi_tftp_ops.read(t, path, st.size + 10, data, 1, &n);
        char first[64];
        size_t k = 0;
        for (; k < got && k + 1 < sizeof(first) && data[k] != '\n' && data[k] != '\r'; k++)
            first[k] = data[k] >= 0x20 && data[k] < 0x7f ? (char)data[k] : '?';
        first[k] = 0;
        out("efi-tftp-test: file %s size %u crc32 %08x eof %d/%u first [%s]\n", path,
            (unsigned)got, ul_crc32(data, got), r2, (unsigned)n, first);
    }
    BS->FreePool(data);
}

static int list_cb(void *arg, const char *name, const struct ul_stat *st)
{
    out("efi-tftp-test: entry %s size %u\n", name, (unsigned)st->size);
    return 0;
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
    static EFI_GUID li_guid = LOADED_IMAGE_PROTOCOL;
    static const char *files[] = {
        "\\EFI\\unloop\\unloop.conf", "\\keys\\test.csv", "\\keys\\big.bin",
        "\\keys\\missing.csv", "\\keys\\..\\..\\etc\\passwd", "\\", "keys/test.csv",
    };
    EFI_LOADED_IMAGE *li = NULL;
    struct ul_efi_tftp t;
    size_t n;
    int r;

    ST = st;
    BS = st->BootServices;
    RT = st->RuntimeServices;
    out("\nefi-tftp-test: started\n");
    if (EFI_ERROR(BS->HandleProtocol(image, &li_guid, (void **)&li))) {
        out("efi-tftp-test: no loaded image protocol\n");
        quit(1);
        return EFI_UNSUPPORTED;
    }
    r = ul_efi_tftp_open(li->DeviceHandle, &t);
    if (r < 0) {
        out("efi-tftp-test: open error %d (%s)\n", r, ul_strerror(r));
        quit(1);
        return EFI_UNSUPPORTED;
    }
    out("efi-tftp-test: open server %u.%u.%u.%u boot-file [%s] prefix [%s]\n",
        t.server.v4.Addr[0], t.server.v4.Addr[1], t.server.v4.Addr[2], t.server.v4.Addr[3],
        t.boot_file, t.prefix);

    for (n = 0; n < sizeof(files) / sizeof(files[0]); n++)
        show_file(&t, files[n]);

    r = ul_efi_tftp_ops.list(&t, "\\keys", list_cb, NULL);
    out("efi-tftp-test: list \\keys %d\n", r);
    r = ul_efi_tftp_ops.list(&t, "\\EFI", list_cb, NULL);
    out("efi-tftp-test: list \\EFI %d\n", r);
    r = ul_efi_tftp_ops.write(&t, "\\reports\\x.json", 0, "x", 1);
    out("efi-tftp-test: write %d\n", r);
    r = ul_efi_tftp_ops.mkdir(&t, "\\reports");
    out("efi-tftp-test: mkdir %d\n", r);

    /* Everything again: all from the cache, no new transfer. */
    UINT32 before = t.fetches;
    for (n = 0; n < sizeof(files) / sizeof(files[0]); n++) {
        struct ul_stat s;
        ul_efi_tftp_ops.stat(&t, files[n], &s);
    }
    out("efi-tftp-test: fetches %u then %u\n", (unsigned)before, (unsigned)t.fetches);

    ul_efi_tftp_close(&t);
    r = ul_efi_tftp_ops.read(&t, "\\keys\\test.csv", 0, &before, 1, &n);
    out("efi-tftp-test: after close %d\n", r);
    out("efi-tftp-test: done\n");
    quit(0);
    return EFI_SUCCESS;
}
