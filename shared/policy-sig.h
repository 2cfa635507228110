/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Signed policy (issue #7, deliverable 6): in a build made with a policy
 * public key (`make policy POLICY_KEY=pub.pem`, UL_POLICY_ENFORCE), unloop.conf
 * counts only when UL_POLICY_SIG_PATH holds a detached signature over its
 * exact bytes that verifies against the key built into the binary:
 *
 *   openssl dgst -sha256 -sign policy.key -out unloop.conf.sig unloop.conf
 *
 * i.e. ECDSA over NIST P-256 with SHA-256, the signature a DER
 * Ecdsa-Sig-Value (RFC 3279 §2.2.3), at most UL_POLICY_SIG_MAX bytes.
 * mbedTLS does the cryptography (its pk layer: DER public key, SHA-256,
 * ECDSA verify); nothing here is a primitive.
 *
 * The signature file is untrusted input: its size is bounded before it is
 * read whole, and a malformed one is told apart from one that is well-formed
 * but does not verify.  Builds without a key never read it.
 */
#ifndef UL_POLICY_SIG_H
#define UL_POLICY_SIG_H

#include <stddef.h>
#include <stdint.h>

#include "ops.h"
#include "unloop-contract.h"

#define UL_POLICY_SIG_PATH UL_CONFIG_PATH ".sig"
/* A DER ECDSA P-256 signature is at most 72 bytes; room for a larger curve. */
#define UL_POLICY_SIG_MAX 256
/* DER SubjectPublicKeyInfo of a P-256 key is 91 bytes. */
#define UL_POLICY_KEY_MAX 1024

/*
 * Results (0 or a negative UL_E* code):
 *   0              the signature verifies
 *   -UL_ENOENT     no signature file (ul_policy_sig_check only)
 *   -UL_E2BIG      signature file larger than UL_POLICY_SIG_MAX
 *   -UL_EBADMSG    the signature is not a DER ECDSA signature (malformed,
 *                  truncated, empty, trailing bytes)
 *   -UL_EPERM      well-formed, but not made by this key over these bytes
 *   -UL_EINVAL     the key is not a usable P-256 public key (a build error)
 *   -UL_ENOMEM     mbedTLS ran out of memory
 *   -UL_EIO etc.   the signature file could not be read
 */
int ul_policy_sig_verify(const uint8_t *key_der, size_t key_len, const void *data, size_t len,
                         const void *sig, size_t sig_len);

/* Read UL_POLICY_SIG_PATH from esp and verify data with it. */
int ul_policy_sig_check(const struct ul_volume *esp, const uint8_t *key_der, size_t key_len,
                        const void *data, size_t len);

/* How a refused config's diagnostic begins (line 0, an error). */
#define UL_POLICY_REFUSED "not signed by the policy key built into unloop"

/* What a result means, for a person ("no unloop.conf.sig", "signature does
 * not verify", ...), at most 30 characters; never NULL. */
const char *ul_policy_sig_strerror(int r);

/*
 * The key built into a policy-enforcing binary: DER SubjectPublicKeyInfo,
 * and a short fingerprint for messages ("sha256:" and the first 16 hex
 * digits of the SHA-256 of the DER).  Defined by the generated
 * build/policy/policy-key.c (efi/policy.mk), only in such builds.
 */
extern const uint8_t ul_policy_key[];
extern const size_t ul_policy_key_len;
extern const char ul_policy_key_id[];

#endif
