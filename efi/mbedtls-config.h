/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mbedTLS configuration for unloop.efi (DESIGN.md §7, "mbedTLS in the UEFI
 * build"), used as MBEDTLS_CONFIG_FILE instead of mbedtls/config.h when
 * efi/mbedtls.mk compiles Debian's mbedtls source package freestanding.
 *
 * Exactly what shared/bitlocker.c calls: AES (ECB for the Elephant tweak
 * key and the CBC IV, CBC, XTS), AES-CCM to unwrap the VMK and FVEK (CCM
 * reaches AES through the generic cipher layer), SHA-256 for the key
 * stretch, and mbedtls_platform_zeroize.  Nothing that needs time, files,
 * entropy or printf.
 */
#ifndef UNLOOP_MBEDTLS_CONFIG_H
#define UNLOOP_MBEDTLS_CONFIG_H

/* System support: x86-64 inline assembly for AES-NI (aesni.c checks CPUID
 * at run time and falls back to the portable C tables). */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_AESNI_C

/* Ciphers and modes. */
#define MBEDTLS_AES_C
#define MBEDTLS_CIPHER_MODE_CBC
#define MBEDTLS_CIPHER_MODE_XTS
#define MBEDTLS_CCM_C
#define MBEDTLS_CIPHER_C

/* Hash. */
#define MBEDTLS_SHA256_C

/*
 * Platform: no libc functions are assumed.  mbedtls_calloc/mbedtls_free
 * default to efi/libc's calloc/free (pool allocation, set up by
 * ul_libc_init()); mbedtls_platform_set_calloc_free() can still replace
 * them at run time.
 */
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_PLATFORM_MEMORY
#define MBEDTLS_PLATFORM_NO_STD_FUNCTIONS
#define MBEDTLS_PLATFORM_STD_MEM_HDR <stdlib.h>
#define MBEDTLS_PLATFORM_STD_CALLOC calloc
#define MBEDTLS_PLATFORM_STD_FREE free

/* What mbedtls/config.h does at its end. */
#include "mbedtls/check_config.h"

#endif /* UNLOOP_MBEDTLS_CONFIG_H */
