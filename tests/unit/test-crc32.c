/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * crc32: the catalogue check value of CRC-32/ISO-HDLC, a few published
 * vectors, and a table-driven reference implementation as the oracle for
 * random buffers of every length up to 300 bytes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "crc32.h"

static void test_check_value(void **state)
{
    (void)state;
    /* The "check" entry of the CRC catalogue for CRC-32/ISO-HDLC. */
    assert_int_equal(ul_crc32("123456789", 9), 0xCBF43926u);
}

static void test_known_vectors(void **state)
{
    (void)state;
    static const uint8_t zeros[32] = { 0 };
    static const uint8_t ones[32] = { [0 ... 31] = 0xff };

    assert_int_equal(ul_crc32("", 0), 0x00000000u);
    assert_int_equal(ul_crc32(NULL, 0), 0x00000000u);
    assert_int_equal(ul_crc32("a", 1), 0xE8B7BE43u);
    assert_int_equal(ul_crc32("abc", 3), 0x352441C2u);
    assert_int_equal(ul_crc32("The quick brown fox jumps over the lazy dog", 43), 0x414FA339u);
    /* RFC 3720 B.4 gives these for CRC-32C; for CRC-32 they are zlib's. */
    assert_int_equal(ul_crc32(zeros, 32), 0x190A55ADu);
    assert_int_equal(ul_crc32(ones, 32), 0xFF6CAB0Bu);
}

static uint32_t table[256];

static void make_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
}

static uint32_t ref_crc32(const uint8_t *p, size_t len)
{
    uint32_t c = 0xFFFFFFFFu;
    while (len--)
        c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static void test_against_table_reference(void **state)
{
    (void)state;
    uint8_t buf[300];
    uint32_t x = 2463534242u;

    make_table();
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < sizeof(buf); i++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            buf[i] = (uint8_t)x;
        }
        for (size_t len = 0; len <= sizeof(buf); len++)
            assert_int_equal(ul_crc32(buf, len), ref_crc32(buf, len));
    }
}

static void test_detects_every_single_bit_flip(void **state)
{
    (void)state;
    uint8_t buf[60];
    for (size_t i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 37 + 1);
    uint32_t good = ul_crc32(buf, sizeof(buf));
    for (size_t i = 0; i < sizeof(buf) * 8; i++) {
        buf[i / 8] ^= (uint8_t)(1u << (i % 8));
        assert_int_not_equal(ul_crc32(buf, sizeof(buf)), good);
        buf[i / 8] ^= (uint8_t)(1u << (i % 8));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_value),
        cmocka_unit_test(test_known_vectors),
        cmocka_unit_test(test_against_table_reference),
        cmocka_unit_test(test_detects_every_single_bit_flip),
    };
    return cmocka_run_group_tests_name("crc32", tests, NULL, NULL);
}
