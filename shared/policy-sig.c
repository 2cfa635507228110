/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Detached signature of unloop.conf (policy-sig.h).  The same source is
 * compiled against Debian's libmbedtls for the CLI and against mbedTLS
 * built from Debian's source package for unloop.efi (efi/mbedtls.mk).
 */
#include "policy-sig.h"

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>

#include "ul-errno.h"

#ifdef UL_MBEDTLS_FREESTANDING
/*
 * unloop.efi (efi/mbedtls-config.h): the config is read before efi/libc's
 * calloc has a pool to draw from, so the pk layer's allocations (the key,
 * the precomputed points of the verify) come from this arena through
 * mbedTLS's buffer allocator; calloc/free are put back afterwards.
 */
#include <setjmp.h>
#include <stdlib.h>

#include <mbedtls/memory_buffer_alloc.h>
#include <mbedtls/platform.h>

static unsigned char arena[24 * 1024];
static jmp_buf heap_broken;

/* mbedtls_exit() (MBEDTLS_PLATFORM_EXIT_MACRO): the allocator found its
 * heap corrupted.  Never return into it: back to ul_policy_sig_verify. */
void ul_mbedtls_exit(int status)
{
    longjmp(heap_broken, 1);
}

static void heap_begin(void)
{
    mbedtls_memory_buffer_alloc_init(arena, sizeof(arena));
}

static void heap_end(void)
{
    mbedtls_memory_buffer_alloc_free();
    mbedtls_platform_set_calloc_free(calloc, free);
}
#else
static void heap_begin(void) {}
static void heap_end(void) {}
#endif

int ul_policy_sig_verify(const uint8_t *key_der, size_t key_len, const void *data, size_t len,
                         const void *sig, size_t sig_len)
{
    unsigned char hash[32];
    mbedtls_pk_context pk;
    int r, ret;

    if (sig_len > UL_POLICY_SIG_MAX)
        return -UL_E2BIG;
    /* The smallest DER ECDSA signature (two one-byte integers) is 8 bytes. */
    if (sig_len < 8)
        return -UL_EBADMSG;
    if (!key_der || key_len == 0 || key_len > UL_POLICY_KEY_MAX)
        return -UL_EINVAL;
    if (mbedtls_sha256_ret(data, len, hash, 0) != 0)
        return -UL_EINVAL;

    mbedtls_pk_init(&pk);
#ifdef UL_MBEDTLS_FREESTANDING
    if (setjmp(heap_broken)) {
        /* pk's memory is the arena's: forget it, do not free it. */
        heap_end();
        return -UL_EIO;
    }
#endif
    heap_begin();
    r = mbedtls_pk_parse_public_key(&pk, key_der, key_len);
    if (r == MBEDTLS_ERR_PK_ALLOC_FAILED) {
        ret = -UL_ENOMEM;
        goto out;
    }
    if (r != 0 || !mbedtls_pk_can_do(&pk, MBEDTLS_PK_ECDSA) ||
        mbedtls_pk_ec(pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
        ret = -UL_EINVAL;
        goto out;
    }
    r = mbedtls_pk_verify(&pk, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig, sig_len);
    if (r == 0)
        ret = 0;
    else if (r == MBEDTLS_ERR_ECP_VERIFY_FAILED)
        ret = -UL_EPERM;    /* parsed, but another key or other bytes */
    else if (r == MBEDTLS_ERR_ECP_ALLOC_FAILED || r == MBEDTLS_ERR_MPI_ALLOC_FAILED)
        ret = -UL_ENOMEM;
    else
        ret = -UL_EBADMSG;  /* ASN.1 errors, trailing bytes (PK_SIG_LEN_MISMATCH) */
out:
    mbedtls_pk_free(&pk);
    heap_end();
    return ret;
}

int ul_policy_sig_check(const struct ul_volume *esp, const uint8_t *key_der, size_t key_len,
                        const void *data, size_t len)
{
    /* One byte more than allowed tells an oversized file from a full one. */
    unsigned char sig[UL_POLICY_SIG_MAX + 1];
    size_t got = 0;
    int r;

    r = esp->ops->read(esp->ctx, UL_POLICY_SIG_PATH, 0, sig, sizeof(sig), &got);
    if (r < 0)
        return r;
    if (got > UL_POLICY_SIG_MAX)
        return -UL_E2BIG;
    return ul_policy_sig_verify(key_der, key_len, data, len, sig, got);
}

const char *ul_policy_sig_strerror(int r)
{
    switch (r) {
    case 0: return "signature verifies";
    case -UL_ENOENT: return "no unloop.conf.sig";
    case -UL_E2BIG: return "unloop.conf.sig too large";
    case -UL_EBADMSG: return "malformed unloop.conf.sig";
    case -UL_EPERM: return "signature does not verify";
    case -UL_EINVAL: return "unusable built-in key";
    case -UL_ENOMEM: return "out of memory verifying";
    default: return "cannot read unloop.conf.sig";
    }
}
