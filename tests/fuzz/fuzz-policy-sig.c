/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for unloop.conf.sig (shared/policy-sig.c): the signature
 * file is untrusted input that a policy-enforcing unloop.efi reads on every
 * boot.  Any bytes must give one of the documented results without fault,
 * and only the one real signature of the vectors' config may verify.
 *
 * The first input byte picks the shape:
 *   0: the rest is the signature over the vectors' config (policy-vectors.h)
 *   1: the next byte is a signature length n, then n signature bytes, then
 *      the config bytes (any config, any signature)
 *   2: the rest is unloop.conf.sig on a fake ESP (ul_policy_sig_check)
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fake-volume.h"
#include "policy-sig.h"
#include "policy-vectors.h"
#include "ul-errno.h"

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond))                                                               \
            __builtin_trap();                                                      \
    } while (0)

static void check_result(int r)
{
    CHECK(r == 0 || r == -UL_EBADMSG || r == -UL_EPERM || r == -UL_E2BIG);
    CHECK(ul_policy_sig_strerror(r) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fake_volume fv;
    int r;

    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 3;
    data++, size--;
    switch (mode) {
    case 0:
        r = ul_policy_sig_verify(pub_der, pub_der_len, conf, conf_len, data, size);
        check_result(r);
        /* ECDSA signatures are not unique (s and n - s both verify), but a
         * fuzzer will not find a second one: anything accepted must be the
         * DER of the real one or its mirror, so at least its length. */
        if (r == 0)
            CHECK(size >= 8 && size <= 72);
        break;
    case 1: {
        if (size < 1)
            return 0;
        size_t n = data[0];
        data++, size--;
        if (n > size)
            n = size;
        r = ul_policy_sig_verify(pub_der, pub_der_len, data + n, size - n, data, n);
        check_result(r);
        break;
    }
    default: {
        fake_volume_init(&fv);
        CHECK(fake_volume_mkdir_p(&fv, "\\EFI\\unloop") == 0);
        CHECK(fake_volume_put(&fv, UL_POLICY_SIG_PATH, data, size) == 0);
        struct ul_volume esp = fake_volume_get(&fv);
        r = ul_policy_sig_check(&esp, pub_der, pub_der_len, conf, conf_len);
        check_result(r);
        CHECK(size <= UL_POLICY_SIG_MAX || r == -UL_E2BIG);
        fake_volume_free(&fv);
        break;
    }
    }
    return 0;
}
