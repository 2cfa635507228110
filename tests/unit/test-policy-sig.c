/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Signed policy: shared/policy-sig.c against signatures openssl made
 * (policy-vectors.h), and the config load of a policy-enforcing build:
 * shared/run.c is compiled into this test with UL_POLICY_ENFORCE and the
 * vectors' public key as the built-in key.
 */
#define UL_POLICY_ENFORCE 1
#include "../../shared/run.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake-volume.h"
#include "policy-sig.h"
#include "policy-vectors.h"

/* The key a policy build would embed (efi/gen-policy-key.sh). */
const uint8_t ul_policy_key[] = { PUB_DER_BYTES };
const size_t ul_policy_key_len = sizeof(ul_policy_key);
const char ul_policy_key_id[] = "sha256:test";

static int verify(const void *data, size_t len, const void *sig, size_t sig_len)
{
    return ul_policy_sig_verify(pub_der, pub_der_len, data, len, sig, sig_len);
}

static void test_good(void **state)
{
    (void)state;
    assert_int_equal(verify(conf, conf_len, tv_conf_sig, tv_conf_sig_len), 0);
    /* The embedded copy is the same key. */
    assert_int_equal(ul_policy_key_len, pub_der_len);
    assert_memory_equal(ul_policy_key, pub_der, pub_der_len);
}

static void test_bad(void **state)
{
    (void)state;
    uint8_t sig[256];

    /* Any one bit flipped anywhere: never accepted; once DER still parses,
     * it is "does not verify", else "malformed". */
    for (size_t i = 0; i < tv_conf_sig_len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(sig, tv_conf_sig, tv_conf_sig_len);
            sig[i] ^= (uint8_t)(1u << bit);
            int r = verify(conf, conf_len, sig, tv_conf_sig_len);
            assert_true(r == -UL_EPERM || r == -UL_EBADMSG);
        }
    }
    /* The last byte is inside s: well-formed, wrong. */
    memcpy(sig, tv_conf_sig, tv_conf_sig_len);
    sig[tv_conf_sig_len - 1] ^= 1;
    assert_int_equal(verify(conf, conf_len, sig, tv_conf_sig_len), -UL_EPERM);
}

static void test_truncated_and_extended(void **state)
{
    (void)state;
    uint8_t sig[UL_POLICY_SIG_MAX + 2];

    for (size_t n = 0; n < tv_conf_sig_len; n++)
        assert_int_equal(verify(conf, conf_len, tv_conf_sig, n), -UL_EBADMSG);
    /* A trailing byte after the DER signature. */
    memcpy(sig, tv_conf_sig, tv_conf_sig_len);
    sig[tv_conf_sig_len] = 0;
    assert_int_equal(verify(conf, conf_len, sig, tv_conf_sig_len + 1), -UL_EBADMSG);
    /* Too large to look at. */
    memset(sig, 0x30, sizeof(sig));
    assert_int_equal(verify(conf, conf_len, sig, UL_POLICY_SIG_MAX + 1), -UL_E2BIG);
    /* Garbage of every small size. */
    for (size_t n = 0; n <= 80; n++) {
        memset(sig, (int)n, n);
        int r = verify(conf, conf_len, sig, n);
        assert_true(r == -UL_EBADMSG || r == -UL_EPERM);
    }
}

static void test_wrong_key(void **state)
{
    (void)state;
    assert_int_equal(ul_policy_sig_verify(pub2_der, pub2_der_len, conf, conf_len, tv_conf_sig,
                                          tv_conf_sig_len), -UL_EPERM);
    /* Not P-256, not a key at all: the key is refused, nothing verifies. */
    assert_int_equal(ul_policy_sig_verify(pub384_der, pub384_der_len, conf, conf_len,
                                          tv_conf_sig, tv_conf_sig_len), -UL_EINVAL);
    assert_int_equal(ul_policy_sig_verify(conf, conf_len, conf, conf_len, tv_conf_sig,
                                          tv_conf_sig_len), -UL_EINVAL);
    assert_int_equal(ul_policy_sig_verify(pub_der, 0, conf, conf_len, tv_conf_sig,
                                          tv_conf_sig_len), -UL_EINVAL);
    assert_int_equal(ul_policy_sig_verify(pub_der, pub_der_len - 1, conf, conf_len,
                                          tv_conf_sig, tv_conf_sig_len), -UL_EINVAL);
}

static void test_other_bytes(void **state)
{
    (void)state;
    uint8_t edited[512];

    memcpy(edited, conf, conf_len);
    memcpy(edited + conf_len, "x", 1);
    assert_int_equal(verify(edited, conf_len + 1, tv_conf_sig, tv_conf_sig_len), -UL_EPERM);
    assert_int_equal(verify(conf, conf_len - 1, tv_conf_sig, tv_conf_sig_len), -UL_EPERM);
    edited[0] ^= 0x20;
    assert_int_equal(verify(edited, conf_len, tv_conf_sig, tv_conf_sig_len), -UL_EPERM);
}

static void test_empty_config(void **state)
{
    (void)state;
    assert_int_equal(verify("", 0, empty_sig, empty_sig_len), 0);
    assert_int_equal(verify("", 0, tv_conf_sig, tv_conf_sig_len), -UL_EPERM);
    assert_int_equal(verify(conf, conf_len, empty_sig, empty_sig_len), -UL_EPERM);
}

/* ---- the signature file on the ESP ---- */

static struct fake_volume fv;

static int setup_esp(void **state)
{
    (void)state;
    fake_volume_init(&fv);
    assert_int_equal(fake_volume_mkdir_p(&fv, UL_DIR_PATH), 0);
    return 0;
}

static int teardown_esp(void **state)
{
    (void)state;
    fake_volume_free(&fv);
    return 0;
}

static int check(void)
{
    struct ul_volume esp = fake_volume_get(&fv);
    return ul_policy_sig_check(&esp, pub_der, pub_der_len, conf, conf_len);
}

static void test_sig_file(void **state)
{
    (void)state;
    uint8_t big[UL_POLICY_SIG_MAX + 1];

    assert_int_equal(check(), -UL_ENOENT);
    assert_int_equal(fake_volume_put(&fv, UL_POLICY_SIG_PATH, tv_conf_sig, tv_conf_sig_len), 0);
    assert_int_equal(check(), 0);
    assert_int_equal(fake_volume_put(&fv, UL_POLICY_SIG_PATH, "", 0), 0);
    assert_int_equal(check(), -UL_EBADMSG);
    memset(big, 0x30, sizeof(big));
    assert_int_equal(fake_volume_put(&fv, UL_POLICY_SIG_PATH, big, UL_POLICY_SIG_MAX), 0);
    assert_int_equal(check(), -UL_EBADMSG);
    assert_int_equal(fake_volume_put(&fv, UL_POLICY_SIG_PATH, big, sizeof(big)), 0);
    assert_int_equal(check(), -UL_E2BIG);
    fake_volume_fail_path(&fv, UL_POLICY_SIG_PATH, -UL_EIO);
    assert_int_equal(check(), -UL_EIO);
    assert_string_equal(ul_policy_sig_strerror(-UL_EIO), "cannot read unloop.conf.sig");
}

/* ---- ul_config_load / load_config of a policy build (run.c) ---- */

static struct ul_log log_;
static struct fake_clock fclock;
static struct ul_env env;

static void load(const void *sig, size_t sig_len, struct ul_config *cfg, struct ul_diags *diags)
{
    struct ul_volume esp = fake_volume_get(&fv);

    assert_int_equal(fake_volume_put(&fv, UL_CONFIG_PATH, conf, conf_len), 0);
    if (sig)
        assert_int_equal(fake_volume_put(&fv, UL_POLICY_SIG_PATH, sig, sig_len), 0);
    assert_int_equal(ul_config_load(&esp, cfg, diags), 0);

    fake_clock_set(&fclock, 1700000000, UL_TZ_UNSPECIFIED, true);
    env.esp = esp;
    env.have_esp = true;
    env.clock = fake_clock_get(&fclock);
    ul_log_init(&log_, NULL, NULL, &env.clock, "pre-boot");
    env.log = &log_;
    struct ul_config cfg2;
    load_config(&env, &cfg2);
    log_.buf[log_.len < sizeof(log_.buf) ? log_.len : sizeof(log_.buf) - 1] = 0;
}

static void test_load_signed(void **state)
{
    (void)state;
    static struct ul_config cfg;
    struct ul_diags diags;

    load(tv_conf_sig, tv_conf_sig_len, &cfg, &diags);
    assert_int_equal(diags.n, 0);
    assert_false(diags.refused);
    assert_int_equal(cfg.threshold, 1);
    assert_non_null(ul_rules_find(&cfg.rules, "acme-agent"));
    assert_non_null(strstr(log_.buf, "unloop.conf is signed by the policy key built into unloop"));
}

static void refused(const void *sig, size_t sig_len, const char *why)
{
    static struct ul_config cfg, defaults;
    struct ul_diags diags;

    load(sig, sig_len, &cfg, &diags);
    ul_config_defaults(&defaults);
    /* The whole file ignored: exactly the built-in defaults. */
    assert_memory_equal(&cfg, &defaults, sizeof(cfg));
    assert_null(ul_rules_find(&cfg.rules, "acme-agent"));
    assert_int_equal(diags.n, 1);
    assert_int_equal(diags.errors, 1);
    assert_int_equal(diags.d[0].line, 0);
    assert_false(diags.d[0].warning);
    assert_true(diags.refused);
    assert_non_null(strstr(diags.d[0].msg, UL_POLICY_REFUSED));
    assert_non_null(strstr(diags.d[0].msg, why));
    assert_non_null(strstr(log_.buf, "unloop.conf is not signed by the policy key built into "
                                     "unloop ("));
    assert_non_null(strstr(log_.buf, why));
    assert_non_null(strstr(log_.buf, "using the built-in defaults (policy key sha256:test)"));
}

static void test_load_missing_sig(void **state)
{
    (void)state;
    refused(NULL, 0, "(no unloop.conf.sig)");
}

static void test_load_bad_sig(void **state)
{
    (void)state;
    refused(empty_sig, empty_sig_len, "(signature does not verify)");
}

static void test_load_malformed_sig(void **state)
{
    (void)state;
    refused(tv_conf_sig, tv_conf_sig_len - 1, "(malformed unloop.conf.sig)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_truncated_and_extended),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_other_bytes),
        cmocka_unit_test(test_empty_config),
        cmocka_unit_test_setup_teardown(test_sig_file, setup_esp, teardown_esp),
        cmocka_unit_test_setup_teardown(test_load_signed, setup_esp, teardown_esp),
        cmocka_unit_test_setup_teardown(test_load_missing_sig, setup_esp, teardown_esp),
        cmocka_unit_test_setup_teardown(test_load_bad_sig, setup_esp, teardown_esp),
        cmocka_unit_test_setup_teardown(test_load_malformed_sig, setup_esp, teardown_esp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
