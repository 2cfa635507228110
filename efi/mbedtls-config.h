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
 *
 * And what shared/policy-sig.c calls in a policy-enforcing build (signed
 * unloop.conf): a DER public key parsed by the pk layer, ECDSA verify over
 * NIST P-256 with SHA-256.  Verifying needs no random numbers
 * (MBEDTLS_ECP_NO_INTERNAL_RNG: the internal RNG only blinds operations on
 * secrets).  These modules are in libmbedcrypto.a always but linked into
 * unloop.efi only when policy-sig.o references them, so a build without a
 * policy key is the same size as before.
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

/* Signed policy: public-key parse and ECDSA P-256 verify. */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECP_NO_INTERNAL_RNG
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_OID_C
#define MBEDTLS_MD_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
/* The config is read before anything sets up efi/libc's pool allocator
 * (the NTFS code does, later): policy-sig.c lends mbedTLS a static arena
 * through mbedTLS's own buffer allocator for the verify, then puts
 * calloc/free back.  UL_MBEDTLS_FREESTANDING tells it this is that build. */
#define MBEDTLS_MEMORY_BUFFER_ALLOC_C
#define UL_MBEDTLS_FREESTANDING 1
/* The buffer allocator "exits" when it finds its heap corrupted; there is
 * no exit before the OS: policy-sig.c jumps back out and the verify fails. */
#define MBEDTLS_PLATFORM_EXIT_MACRO ul_mbedtls_exit
void ul_mbedtls_exit(int status);
/* Smaller precomputed tables: verify runs once per boot. */
#define MBEDTLS_ECP_WINDOW_SIZE 4
/* bignum.c: no 128-bit division helper (__udivti3) in a freestanding link;
 * mbedTLS then divides with its own code. */
#define MBEDTLS_NO_UDBL_DIVISION

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
/* oid.c formats OIDs as text (efi/libc's snprintf). */
#define MBEDTLS_PLATFORM_SNPRINTF_MACRO snprintf

/* What mbedtls/config.h does at its end. */
#include "mbedtls/check_config.h"

#endif /* UNLOOP_MBEDTLS_CONFIG_H */
