/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * unloop policy verify|sign: the signed unloop.conf (shared/policy-sig.h).
 *
 *   unloop policy verify [--esp DIR] [PUBLIC-KEY]
 *       Does \EFI\unloop\unloop.conf.sig verify the ESP's unloop.conf against
 *       PUBLIC-KEY (PEM or DER), or else against the key built into this
 *       build?  A build without a key says that it (and an unloop.efi built
 *       the same way) does not enforce signed policy.
 *       Exit 0: verifies (or not enforced and no key given); 1: does not.
 *   unloop policy sign [--esp DIR] PRIVATE-KEY
 *       Writes \EFI\unloop\unloop.conf.sig: ECDSA P-256 / SHA-256 over the
 *       ESP's unloop.conf with mbedTLS, the same bytes as
 *       `openssl dgst -sha256 -sign PRIVATE-KEY -out unloop.conf.sig unloop.conf`.
 *
 * Compiled twice: plainly for build/unloop, and with UL_POLICY_ENFORCE (and
 * the generated key) for a policy build (efi/policy.mk).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>

#include "../shared/config.h"
#include "../shared/policy-sig.h"
#include "../shared/ul-errno.h"
#include "../shared/unloop-contract.h"
#include "cli.h"
#include "posix-volume.h"

int cmd_policy(const struct cli_opts *o, int nargs, char **args);

static const char policy_usage[] =
    "usage: unloop policy verify [--esp DIR] [PUBLIC-KEY]\n"
    "       unloop policy sign [--esp DIR] PRIVATE-KEY\n";

/* A key file read whole and NUL-terminated (mbedTLS takes PEM with its NUL). */
static int read_key_file(const char *path, unsigned char **ret, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    size_t len;

    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
        return EXIT_FAIL;
    }
    buf = malloc(UL_POLICY_KEY_MAX * 8 + 1);
    if (!buf) {
        fclose(f);
        return EXIT_FAIL;
    }
    len = fread(buf, 1, UL_POLICY_KEY_MAX * 8, f);
    fclose(f);
    if (len == UL_POLICY_KEY_MAX * 8) {
        fprintf(stderr, "%s: %s is too large to be a key\n", prog, path);
        free(buf);
        return EXIT_FAIL;
    }
    buf[len] = 0;
    *ret = buf;
    /* PEM: the length includes the NUL; DER: exactly the bytes. */
    *ret_len = memmem(buf, len, "-----BEGIN", 10) ? len + 1 : len;
    return EXIT_OK;
}

static int open_esp_dir(const struct cli_opts *o, struct ul_posix_volume *pv,
                        struct ul_volume *vol)
{
    const char *dir = ul_posix_find_esp(o->esp);
    int r;

    if (!dir) {
        fprintf(stderr, "%s: no ESP found; name it with --esp DIR\n", prog);
        return EXIT_USAGE;
    }
    r = ul_posix_volume_open(pv, dir);
    if (r < 0) {
        fprintf(stderr, "%s: cannot use %s as the ESP: %s\n", prog, dir, strerror(-r));
        return EXIT_FAIL;
    }
    *vol = (struct ul_volume){ &ul_posix_volume_ops, pv };
    return EXIT_OK;
}

static int read_config(const struct ul_volume *esp, char *buf, size_t size, size_t *ret_len)
{
    int r = esp->ops->read(esp->ctx, UL_CONFIG_PATH, 0, buf, size, ret_len);
    if (r < 0) {
        fprintf(stderr, "%s: cannot read %s: %s\n", prog, UL_CONFIG_PATH, strerror(-r));
        return EXIT_FAIL;
    }
    if (*ret_len == size) {
        fprintf(stderr, "%s: %s is larger than %u bytes: unloop.efi would not read it whole\n",
                prog, UL_CONFIG_PATH, UL_CONFIG_MAX_SIZE);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

static int policy_verify(const struct cli_opts *o, const char *key_path)
{
    static char conf[UL_CONFIG_MAX_SIZE + 1];
    struct ul_posix_volume pv;
    struct ul_volume esp;
    unsigned char *key_file = NULL;
    const uint8_t *key;
    size_t key_len, len;
    const char *which;
    int rc, r;

    if (key_path) {
        rc = read_key_file(key_path, &key_file, &key_len);
        if (rc)
            return rc;
        key = key_file;
        which = key_path;
    } else {
#ifdef UL_POLICY_ENFORCE
        key = ul_policy_key;
        key_len = ul_policy_key_len;
        which = ul_policy_key_id;
#else
        printf("This build of unloop does not enforce signed policy (built without "
               "POLICY_KEY): it, and an unloop.efi built the same way, use unloop.conf as it is "
               "and never read unloop.conf.sig.  Name a PUBLIC-KEY to check a signature.\n");
        return EXIT_OK;
#endif
    }
    rc = open_esp_dir(o, &pv, &esp);
    if (!rc)
        rc = read_config(&esp, conf, sizeof(conf), &len);
    if (rc) {
        free(key_file);
        return rc;
    }
    r = ul_policy_sig_check(&esp, key, key_len, conf, len);
    free(key_file);
    if (r == -UL_EINVAL) {
        fprintf(stderr, "%s: %s is not a NIST P-256 public key\n", prog, which);
        return EXIT_FAIL;
    }
    if (r == 0) {
        printf("unloop.conf is signed by the policy key (%s): its settings are used\n", which);
        return EXIT_OK;
    }
    printf("unloop.conf is not signed by the policy key (%s): %s.%s\n", which,
           ul_policy_sig_strerror(r),
           key_path ? "" : " unloop ignores its settings and uses the built-in defaults");
    return EXIT_FAIL;
}

static int policy_sign(const struct cli_opts *o, const char *key_path)
{
    static char conf[UL_CONFIG_MAX_SIZE + 1];
    static const char pers[] = "unloop policy sign";
    unsigned char hash[32], sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE], pub[UL_POLICY_KEY_MAX];
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_pk_context pk;
    struct ul_posix_volume pv;
    struct ul_volume esp;
    size_t len, sig_len = 0;
    int rc, r, pub_len;

    rc = open_esp_dir(o, &pv, &esp);
    if (!rc)
        rc = read_config(&esp, conf, sizeof(conf), &len);
    if (rc)
        return rc;

    mbedtls_pk_init(&pk);
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    rc = EXIT_FAIL;
    if (mbedtls_pk_parse_keyfile(&pk, key_path, NULL) != 0) {
        fprintf(stderr, "%s: %s is not a private key mbedTLS can read (PEM or DER, "
                "unencrypted)\n", prog, key_path);
        goto out;
    }
    if (!mbedtls_pk_can_do(&pk, MBEDTLS_PK_ECDSA) ||
        mbedtls_pk_ec(pk)->grp.id != MBEDTLS_ECP_DP_SECP256R1) {
        fprintf(stderr, "%s: %s is not a NIST P-256 key\n", prog, key_path);
        goto out;
    }
    if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
                              (const unsigned char *)pers, sizeof(pers) - 1) != 0 ||
        mbedtls_sha256_ret((const unsigned char *)conf, len, hash, 0) != 0 ||
        mbedtls_pk_sign(&pk, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig, &sig_len,
                        mbedtls_ctr_drbg_random, &drbg) != 0) {
        fprintf(stderr, "%s: signing failed\n", prog);
        goto out;
    }
    /* Check the result with the verifier unloop.efi runs, against the key's
     * public half (DER, written at the end of pub). */
    pub_len = mbedtls_pk_write_pubkey_der(&pk, pub, sizeof(pub));
    if (pub_len <= 0 || ul_policy_sig_verify(pub + sizeof(pub) - pub_len, (size_t)pub_len,
                                             conf, len, sig, sig_len) != 0) {
        fprintf(stderr, "%s: the new signature does not verify (internal error)\n", prog);
        goto out;
    }
    /* A fresh file: an older, longer signature must not leave bytes behind. */
    r = esp.ops->remove(esp.ctx, UL_POLICY_SIG_PATH);
    if (r == 0 || r == -UL_ENOENT)
        r = esp.ops->write(esp.ctx, UL_POLICY_SIG_PATH, 0, sig, sig_len);
    if (r < 0) {
        fprintf(stderr, "%s: cannot write %s: %s\n", prog, UL_POLICY_SIG_PATH, strerror(-r));
        goto out;
    }
    printf("wrote %s (%zu bytes)\n", UL_POLICY_SIG_PATH, sig_len);
#ifdef UL_POLICY_ENFORCE
    if ((size_t)pub_len != ul_policy_key_len ||
        memcmp(pub + sizeof(pub) - pub_len, ul_policy_key, ul_policy_key_len) != 0)
        printf("warning: %s is not the policy key built into this unloop (%s): unloop will "
               "ignore this config\n", key_path, ul_policy_key_id);
#endif
    rc = EXIT_OK;
out:
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    mbedtls_pk_free(&pk);
    return rc;
}

int cmd_policy(const struct cli_opts *o, int nargs, char **args)
{
    if (nargs >= 1 && strcmp(args[0], "verify") == 0 && nargs <= 2)
        return policy_verify(o, nargs == 2 ? args[1] : NULL);
    if (nargs == 2 && strcmp(args[0], "sign") == 0)
        return policy_sign(o, args[1]);
    fputs(policy_usage, stderr);
    return EXIT_USAGE;
}
