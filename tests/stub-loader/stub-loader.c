/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A stand-in for Windows Boot Manager in the QEMU tests: prints a marker
 * with the load options it was given, then ends the VM through QEMU's
 * isa-debug-exit device (iobase 0xf4), so QEMU exits with status 33.
 * The harness then plays "Windows": it decides on the host whether this
 * boot blue-screened or reached the desktop.
 *
 * With a TPM (EFI_TCG2_PROTOCOL) it also prints PCRs 0-7 of the SHA-256
 * bank, read with TPM2_PCR_Read, one line each ("STUB-LOADER: PCR4 sha256
 * <hex>"); without one, "STUB-LOADER: no TPM".  The bootnext test compares
 * them between hand-offs (DESIGN §6).
 */
#include <efi.h>

#define STUB_EXIT_VALUE 0x10 /* QEMU exit status (0x10 << 1) | 1 = 33 */

static EFI_GUID li_guid = LOADED_IMAGE_PROTOCOL;

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st);

static void print(EFI_SYSTEM_TABLE *st, const CHAR16 *s)
{
    st->ConOut->OutputString(st->ConOut, (CHAR16 *)s);
}

/* EFI_TCG2_PROTOCOL (TCG EFI Protocol Specification, family 2.0, 6.x);
 * gnu-efi 3.0.15 has no header for it.  Only SubmitCommand is called. */
#define TCG2_PROTOCOL_GUID \
    { 0x607f766c, 0x7455, 0x42be, { 0x93, 0x0b, 0xe4, 0xd7, 0x6d, 0xb2, 0x72, 0x0f } }
struct tcg2;
typedef EFI_STATUS(EFIAPI *tcg2_submit_fn)(struct tcg2 *self, UINT32 in_size, UINT8 *in,
                                          UINT32 out_size, UINT8 *out);
struct tcg2 {
    void *get_capability, *get_event_log, *hash_log_extend_event;
    tcg2_submit_fn submit_command;
    void *get_active_pcr_banks, *set_active_pcr_banks, *get_result_of_set_active_pcr_banks;
};

static EFI_GUID tcg2_guid = TCG2_PROTOCOL_GUID;

static UINT32 be32(const UINT8 *p)
{
    return (UINT32)p[0] << 24 | (UINT32)p[1] << 16 | (UINT32)p[2] << 8 | p[3];
}

/* TPM2_PCR_Read of one PCR in the SHA-256 bank (TPM 2.0 Part 3, 22.4):
 * 32 bytes into digest, or -1. */
static int pcr_read(struct tcg2 *tpm, unsigned pcr, UINT8 digest[32])
{
    UINT8 cmd[20] = {
        0x80, 0x01,             /* TPM_ST_NO_SESSIONS */
        0, 0, 0, 20,            /* commandSize */
        0, 0, 0x01, 0x7e,       /* TPM_CC_PCR_Read */
        0, 0, 0, 1,             /* TPML_PCR_SELECTION.count */
        0x00, 0x0b,             /* TPM_ALG_SHA256 */
        3, 0, 0, 0,             /* sizeofSelect, pcrSelect[3] */
    };
    UINT8 rsp[128];
    cmd[17 + pcr / 8] = (UINT8)(1u << (pcr % 8));
    for (unsigned i = 0; i < sizeof(rsp); i++)
        rsp[i] = 0;
    if (EFI_ERROR(tpm->submit_command(tpm, sizeof(cmd), cmd, sizeof(rsp), rsp)))
        return -1;
    UINT32 size = be32(rsp + 2);
    if (size < 14 || size > sizeof(rsp) || be32(rsp + 6) != 0)
        return -1;
    /* pcrUpdateCounter (4), then the selection actually read. */
    UINT32 off = 14, n = be32(rsp + off);
    off += 4;
    for (UINT32 i = 0; i < n && off + 3 <= size; i++)
        off += 3 + rsp[off + 2];
    if (off + 4 > size || be32(rsp + off) != 1)
        return -1;      /* no digest: the SHA-256 bank is not active */
    off += 4;
    if (off + 2 > size || (rsp[off] << 8 | rsp[off + 1]) != 32 || off + 2 + 32 > size)
        return -1;
    for (unsigned i = 0; i < 32; i++)
        digest[i] = rsp[off + 2 + i];
    return 0;
}

static void print_pcrs(EFI_SYSTEM_TABLE *st)
{
    static const CHAR16 hex[] = L"0123456789abcdef";
    struct tcg2 *tpm = NULL;
    CHAR16 line[128];

    if (EFI_ERROR(st->BootServices->LocateProtocol(&tcg2_guid, NULL, (void **)&tpm)) || !tpm) {
        print(st, L"STUB-LOADER: no TPM\r\n");
        return;
    }
    for (unsigned pcr = 0; pcr < 8; pcr++) {
        UINT8 d[32];
        UINTN n = 0;
        const CHAR16 *head = L"STUB-LOADER: PCR";
        while (*head)
            line[n++] = *head++;
        line[n++] = L'0' + pcr;
        head = L" sha256 ";
        while (*head)
            line[n++] = *head++;
        if (pcr_read(tpm, pcr, d) == 0) {
            for (unsigned i = 0; i < 32; i++) {
                line[n++] = hex[d[i] >> 4];
                line[n++] = hex[d[i] & 15];
            }
        } else {
            head = L"unreadable";
            while (*head)
                line[n++] = *head++;
        }
        line[n++] = L'\r';
        line[n++] = L'\n';
        line[n] = 0;
        print(st, line);
    }
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
    print_pcrs(st);

    __asm__ __volatile__("outb %b0, %w1" : : "a"((UINT8)STUB_EXIT_VALUE), "Nd"((UINT16)0xf4));
    /* Not under QEMU with isa-debug-exit: behave like a loader that failed. */
    return EFI_UNSUPPORTED;
}
