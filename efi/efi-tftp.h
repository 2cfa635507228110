/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A read-only volume over TFTP, from the server unloop.efi was network-booted
 * from (EFI_PXE_BASE_CODE_PROTOCOL on EFI_LOADED_IMAGE.DeviceHandle).
 *
 * Path mapping: a core path is taken relative to the directory of the boot
 * file, with its backslashes turned into that boot file's separator ('/'
 * unless the boot file name uses only '\'):
 *
 *   boot file "unloop.efi"            \EFI\unloop\unloop.conf -> "EFI/unloop/unloop.conf"
 *   boot file "pxe/x64/unloop.efi"    \keys\site.csv          -> "pxe/x64/keys/site.csv"
 *
 * so the TFTP directory of the boot file is laid out like the recovery USB
 * stick.  TFTP servers on Linux are case-sensitive: name the files exactly as
 * unloop asks for them.  "." and ".." components are refused (-UL_EINVAL).
 *
 * TFTP cannot list a directory.  list() reads the file "unloop.lst" in that
 * directory instead (one name per line, '#' comments; make it with
 * `ls > unloop.lst`), so the key folder works as on a disk; without it
 * list() returns -UL_ENOENT.  stat() of a directory other than the root
 * fails: it is looked up as a file.
 *
 * Each file is fetched once (TFTP tsize, then the whole file into pool
 * memory, at most UL_EFI_TFTP_MAX_FILE bytes) and served from memory after
 * that; files not found are remembered too.  write, mkdir, rename and
 * remove return -UL_EROFS.  Only IPv4 PXE is supported.
 */
#ifndef UL_EFI_TFTP_H
#define UL_EFI_TFTP_H

#include <efi.h>

#include "../shared/ops.h"

#define UL_EFI_TFTP_NAME_MAX 256            /* file names as sent to the server */
#define UL_EFI_TFTP_MAX_FILE (16u << 20)    /* key exports are far smaller */
#define UL_EFI_TFTP_INDEX "unloop.lst"      /* stands in for a directory listing */

struct ul_efi_tftp_file;

struct ul_efi_tftp {
    EFI_PXE_BASE_CODE_PROTOCOL *pxe;
    EFI_IP_ADDRESS server;                  /* the boot server (IPv4) */
    char boot_file[UL_EFI_TFTP_NAME_MAX];   /* as the DHCP/proxy/PXE reply named it */
    char prefix[UL_EFI_TFTP_NAME_MAX];      /* its directory, with separator, or "" */
    char sep;                               /* '/' or '\\' */
    UINT32 fetches;                         /* TFTP transfers made (for tests) */
    EFI_STATUS last_status;                 /* of the last failed transfer, for logs */
    UINT8 last_tftp_error;                  /* its TFTP error code (RFC 1350), or 0 */
    struct ul_efi_tftp_file *cache;
};

/*
 * Open the TFTP volume of a network-booted image: device is its
 * EFI_LOADED_IMAGE.DeviceHandle.  -UL_ENODEV when the device has no started
 * PXE Base Code (not booted over the network), -UL_EOPNOTSUPP for IPv6,
 * -UL_ENOENT when no reply named a boot server.
 */
int ul_efi_tftp_open(EFI_HANDLE device, struct ul_efi_tftp *t);
/* Free the cache.  The PXE Base Code is left as it was. */
void ul_efi_tftp_close(struct ul_efi_tftp *t);

/* ctx is a struct ul_efi_tftp *. */
extern const struct ul_volume_ops ul_efi_tftp_ops;

#endif
