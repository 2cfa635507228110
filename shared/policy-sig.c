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
    if (mbedtls_pk_parse_public_key(&pk, key_der, key_len) != 0 ||
        !mbedtls_pk_can_do(&pk, MBEDTLS_PK_ECDSA) ||
        mbedtls_pk_ec(pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
        ret = -UL_EINVAL;
        goto out;
    }
    r = mbedtls_pk_verify(&pk, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig, sig_len);
    if (r == 0)
        ret = 0;
    else if (r == MBEDTLS_ERR_ECP_VERIFY_FAILED)
        ret = -UL_EPERM;    /* parsed, but another key or other bytes */
    else
        ret = -UL_EBADMSG;  /* ASN.1 errors, trailing bytes (PK_SIG_LEN_MISMATCH) */
out:
    mbedtls_pk_free(&pk);
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
    default: return "cannot read unloop.conf.sig";
    }
}
