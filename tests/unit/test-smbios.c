/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * smbios: the type 1 structure of tables laid out as DSP0134 says (a type 0
 * before it, string sets, the end-of-table structure), the UUID byte order,
 * "not set" UUIDs, truncated and malformed tables; and the report's machine
 * id made from the result (shared/rescue.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "rescue.h"
#include "smbios.h"
#include "ul-errno.h"

static size_t type1(uint8_t *p, const uint8_t uuid[16], const char *const strs[4])
{
    static const uint8_t head[8] = { 1, 0x1b, 0x00, 0x01, 1, 2, 3, 4 };
    size_t n = 0;
    memcpy(p, head, 8);
    memcpy(p + 8, uuid, 16);
    p[24] = 6;
    p[25] = 5;
    p[26] = 6;
    n = 0x1b;
    for (int i = 0; i < 4; i++) {
        size_t l = strlen(strs[i]) + 1;
        memcpy(p + n, strs[i], l);
        n += l;
    }
    p[n++] = 0;
    return n;
}

static size_t table(uint8_t *t, const uint8_t uuid[16], const char *const strs[4])
{
    static const uint8_t bios[] = { 0, 0x18, 0, 0, 1, 2, 0, 0xe8, 0, 0, 0, 0, 0, 0, 0, 0,
                                    0, 0, 0, 0, 0, 0, 0, 0, 'O', 'V', 'M', 'F', 0, 0 };
    size_t n = sizeof(bios);
    memcpy(t, bios, n);
    n += type1(t + n, uuid, strs);
    static const uint8_t end[] = { 127, 4, 0xff, 0xff, 0, 0 };
    memcpy(t + n, end, sizeof(end));
    return n + sizeof(end);
}

static const uint8_t dell_uuid[16] = { 0x44, 0x45, 0x4c, 0x4c, 0x42, 0x00, 0x10, 0x35,
                                       0x80, 0x52, 0xb4, 0xc0, 0x4f, 0x4e, 0x4a, 0x31 };
static const char *const dell[4] = { "Dell Inc.", "Latitude 7420  ", "1.0", "5R9JN1" };

static void test_type1(void **state)
{
    (void)state;
    uint8_t t[512];
    struct ul_machine m;
    char id[80];
    size_t n = table(t, dell_uuid, dell);

    assert_int_equal(ul_smbios_machine(t, n, &m), 0);
    /* DSP0134 2.6+: the first three fields little-endian */
    assert_string_equal(m.uuid, "4c4c4544-0042-3510-8052-b4c04f4e4a31");
    assert_string_equal(m.manufacturer, "Dell Inc.");
    assert_string_equal(m.product, "Latitude 7420");     /* padding dropped */
    assert_string_equal(m.serial, "5R9JN1");
    ul_rescue_machine_id(&m, 0, id, sizeof(id));
    assert_string_equal(id, "4c4c4544-0042-3510-8052-b4c04f4e4a31");

    /* not set: all zeros, all FF -> the serial names the machine */
    uint8_t zero[16] = { 0 }, ff[16];
    memset(ff, 0xff, 16);
    static const char *const odd[4] = { "A", "B", "v", "SN 12/34" };
    n = table(t, zero, odd);
    assert_int_equal(ul_smbios_machine(t, n, &m), 0);
    assert_string_equal(m.uuid, "");
    ul_rescue_machine_id(&m, 0, id, sizeof(id));
    assert_string_equal(id, "serial-SN_12_34");
    n = table(t, ff, odd);
    assert_int_equal(ul_smbios_machine(t, n, &m), 0);
    assert_string_equal(m.uuid, "");
    /* nothing at all: the run time */
    memset(&m, 0, sizeof(m));
    ul_rescue_machine_id(&m, 0x5f3a2b1c, id, sizeof(id));
    assert_string_equal(id, "unknown-5f3a2b1c");
}

static void test_malformed(void **state)
{
    (void)state;
    uint8_t t[512];
    struct ul_machine m;
    size_t n = table(t, dell_uuid, dell);

    /* every truncation is refused or parsed, never read past */
    for (size_t k = 0; k < n; k++) {
        uint8_t *c = malloc(k ? k : 1);
        memcpy(c, t, k);
        int r = ul_smbios_machine(c, k, &m);
        assert_true(r == 0 || r == -UL_ENOENT);
        free(c);
    }
    /* a length below the header, or past the end */
    uint8_t bad[8] = { 1, 2, 0, 0, 0, 0, 0, 0 };
    assert_int_equal(ul_smbios_machine(bad, sizeof(bad), &m), -UL_ENOENT);
    bad[1] = 200;
    assert_int_equal(ul_smbios_machine(bad, sizeof(bad), &m), -UL_ENOENT);
    /* a string index past the set, and control characters */
    n = table(t, dell_uuid, dell);
    t[30 + 7] = 9;                      /* serial: string 9 of 4 */
    memcpy(t + 30 + 0x1b, "De\x01l", 4);
    assert_int_equal(ul_smbios_machine(t, n, &m), 0);
    assert_string_equal(m.serial, "");
    assert_string_equal(m.manufacturer, "De?l Inc.");
    /* no type 1 before the end structure */
    static const uint8_t only_end[] = { 127, 4, 0, 0, 0, 0 };
    assert_int_equal(ul_smbios_machine(only_end, sizeof(only_end), &m), -UL_ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type1),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests_name("smbios", tests, NULL, NULL);
}
