/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The install record's parser (recovery/install-cmd.c): what install
 * writes reads back the same; a damaged, edited, truncated or hostile record
 * is refused with a reason, so uninstall changes nothing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../recovery/cli.h"
#include "../../shared/crc32.h"

const char *prog = "test-install-record";
int usage_error(const char *fmt, const char *arg)
{
    return EXIT_USAGE;
}

/* The body with its crc32 line appended, as install writes it. */
static char *with_crc(const char *body, size_t *ret_len)
{
    size_t n = strlen(body);
    char *out = malloc(n + 16);
    assert_non_null(out);
    memcpy(out, body, n);
    snprintf(out + n, 16, "crc32 %08x\n", ul_crc32(body, n));
    *ret_len = n + 15;
    return out;
}

static const char good_body[] =
    "unloop-install-record 1\n"
    "state installed\n"
    "boot-order 7 000001000200\n"
    "boot-order-set 04000500000001000200\n"
    "created Boot0004 unloop\n"
    "created Boot0005 windows\n"
    "file new \\EFI\\unloop\\unloop.efi\n"
    "file replaced 120 0a1b2c3d \\EFI\\unloop\\unloop.conf\n"
    "dir-created \\EFI\\unloop\n";

static void test_good_round_trip(void **state)
{
    size_t len, clen;
    char *rec = with_crc(good_body, &len), *canon = NULL;
    const char *why = NULL;
    assert_int_equal(install_record_check(rec, len, &why, &canon, &clen), 0);
    /* install's own writer gives back exactly these bytes */
    assert_int_equal(clen, len);
    assert_memory_equal(canon, rec, len);
    free(canon);
    free(rec);
}

static void test_minimal_and_installing(void **state)
{
    size_t len;
    const char *why;
    char *rec = with_crc("unloop-install-record 1\nstate installing\nboot-order none\n", &len);
    assert_int_equal(install_record_check(rec, len, &why, NULL, NULL), 0);
    free(rec);
    rec = with_crc("unloop-install-record 1\nstate installed\nboot-order untouched\n"
                   "file new \\EFI\\unloop\\unloop.efi\n", &len);
    assert_int_equal(install_record_check(rec, len, &why, NULL, NULL), 0);
    free(rec);
}

static void expect_bad(const char *body, const char *why_part)
{
    size_t len;
    const char *why = NULL;
    char *canon = NULL;
    char *rec = with_crc(body, &len);
    assert_int_equal(install_record_check(rec, len, &why, &canon, NULL), -EBADMSG);
    assert_non_null(why);
    assert_null(canon);
    if (!strstr(why, why_part))
        fail_msg("'%s' does not say '%s'", why, why_part);
    free(rec);
}

static void test_refused(void **state)
{
    expect_bad("unloop-install-record 2\nstate installed\nboot-order none\n", "version");
    expect_bad("something else 1\nstate installed\nboot-order none\n", "not an unloop");
    expect_bad("unloop-install-record 1\nboot-order none\n", "missing");
    expect_bad("unloop-install-record 1\nstate installed\n", "missing");
    expect_bad("unloop-install-record 1\nstate done\nboot-order none\n", "unknown line");
    expect_bad("unloop-install-record 1\nstate installed\nboot-order 7 0001x0\n", "boot-order");
    expect_bad("unloop-install-record 1\nstate installed\nboot-order 7 000\n", "boot-order");
    expect_bad("unloop-install-record 1\nstate installed\nboot-order none\n"
               "created Boot0004 grub\n", "unknown line");
    expect_bad("unloop-install-record 1\nstate installed\nboot-order none\n"
               "created Boot4 unloop\n", "unknown line");
    expect_bad("unloop-install-record 1\nstate installed\nboot-order none\n"
               "created Boot0001 unloop\ncreated Boot0002 unloop\ncreated Boot0003 unloop\n",
               "too many");
    /* uninstall removes "new" files: never anything outside unloop's folder */
    expect_bad("unloop-install-record 1\nstate installed\nboot-order none\n"
               "file new \\EFI\\Microsoft\\Boot\\bootmgfw.efi\n", "outside");
    expect_bad("unloop-install-record 1\nstate installed\nboot-order none\n"
               "file new \\EFI\\unloop\\..\\Microsoft\\Boot\\BCD\n", "outside");
    expect_bad("unloop-install-record 1\nstate installed\nboot-order none\n"
               "file new \\EFI\\unloop\\a/../../x\n", "outside");
    expect_bad("unloop-install-record 1\nstate installed\nboot-order none\n"
               "file replaced x y \\EFI\\unloop\\unloop.conf\n", "bad file");
    expect_bad("unloop-install-record 1\nstate installed\nboot-order none\n"
               "boot-order-set 040\n", "boot-order-set");
    expect_bad("unloop-install-record 1\nstate installed\nboot-order none\n"
               "boot-order-set 0400\nboot-order-set 0400\n", "boot-order-set");
    /* --no-entry installs leave BootOrder alone and create no entry */
    expect_bad("unloop-install-record 1\nstate installed\nboot-order untouched\n"
               "created Boot0004 unloop\n", "untouched");
}

static void test_damaged(void **state)
{
    size_t len;
    const char *why;
    char *rec = with_crc(good_body, &len);
    /* one flipped bit anywhere */
    for (size_t i = 0; i < len - 1; i++) {
        for (int bit = 0; bit < 8; bit++) {
            rec[i] ^= (char)(1 << bit);
            assert_int_not_equal(install_record_check(rec, len, &why, NULL, NULL), 0);
            rec[i] ^= (char)(1 << bit);
        }
    }
    /* every truncation */
    for (size_t n = 0; n < len; n++)
        assert_int_equal(install_record_check(rec, n, &why, NULL, NULL), -EBADMSG);
    /* a NUL inside, and the good one still good */
    rec[3] = 0;
    assert_int_equal(install_record_check(rec, len, &why, NULL, NULL), -EBADMSG);
    free(rec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_round_trip),
        cmocka_unit_test(test_minimal_and_installing),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_damaged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
