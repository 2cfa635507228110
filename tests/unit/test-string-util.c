/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * string-util: ul_snprintf is checked differentially against libc's
 * snprintf (systemd does the same for efi_fnmatch against fnmatch), for
 * fixed cases and for random formats inside the documented subset.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "string-util.h"
#include "ul-errno.h"

#define BUF 320
static const size_t sizes[] = { 0, 1, 2, 3, 4, 5, 7, 8, 16, 31, 64, BUF };

/* Both buffers start as the same garbage so that a stray write beyond the
 * terminator, or a missing terminator, shows up as a difference. */
static void compare(const char *where, const char *fmt, size_t size, size_t ul_ret,
                    int libc_ret, const char *ubuf, const char *lbuf)
{
    if (libc_ret < 0)
        fail_msg("%s: libc rejected format \"%s\"", where, fmt);
    if (ul_ret != (size_t)libc_ret || memcmp(ubuf, lbuf, BUF) != 0)
        fail_msg("%s: format \"%s\" size %zu: ul returned %zu \"%.*s\", libc %d \"%.*s\"",
                 where, fmt, size, ul_ret, (int)(size ? strnlen(ubuf, size) : 0), ubuf,
                 libc_ret, (int)(size ? strnlen(lbuf, size) : 0), lbuf);
}

#define STR2(x) #x
#define STR(x) STR2(x)
/* Every size, including 0 and truncation in the middle of a field. */
#define DIFF(fmt, ...)                                                                   \
    do {                                                                                 \
        for (size_t i_ = 0; i_ < sizeof(sizes) / sizeof(sizes[0]); i_++) {               \
            char ubuf_[BUF], lbuf_[BUF];                                                 \
            memset(ubuf_, 0x5a, sizeof(ubuf_));                                          \
            memset(lbuf_, 0x5a, sizeof(lbuf_));                                          \
            size_t ur_ = ul_snprintf(ubuf_, sizes[i_], fmt, __VA_ARGS__);                \
            int lr_ = snprintf(lbuf_, sizes[i_], fmt, __VA_ARGS__);                      \
            compare(__FILE__ ":" STR(__LINE__), fmt, sizes[i_], ur_, lr_, ubuf_, lbuf_); \
        }                                                                                \
    } while (0)

static void test_snprintf_integers(void **state)
{
    (void)state;
    static const int ints[] = { 0, 1, -1, 7, -7, 42, -42, 99999, -100000, INT_MAX, INT_MIN };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        int v = ints[i];
        DIFF("%d", v);
        DIFF("%i", v);
        DIFF("[%5d]", v);
        DIFF("[%-5d]", v);
        DIFF("[%05d]", v);
        DIFF("[%012d]", v);
        DIFF("[%-12d]", v);
        DIFF("[%1d]", v);
        DIFF("%u", (unsigned)v);
        DIFF("%x", (unsigned)v);
        DIFF("%X", (unsigned)v);
        DIFF("[%08x]", (unsigned)v);
        DIFF("[%-8X]", (unsigned)v);
        DIFF("%ld", (long)v * 100000L);
        DIFF("%lu", (unsigned long)v);
        DIFF("%lx", (unsigned long)v);
    }
    /* The '0' flag is ignored with '-' (C11 7.21.6.1p6). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
    DIFF("[%-05d]", -42);
    DIFF("[%0-5d]", 42);
    DIFF("[%-08x]", 0xabcu);
#pragma GCC diagnostic pop
}

static void test_snprintf_long_long(void **state)
{
    (void)state;
    static const long long lls[] = { 0, 1, -1, 4294967296LL, -4294967296LL, LLONG_MAX,
                                     LLONG_MIN, 1234567890123456789LL };
    for (size_t i = 0; i < sizeof(lls) / sizeof(lls[0]); i++) {
        long long v = lls[i];
        DIFF("%lld", v);
        DIFF("[%25lld]", v);
        DIFF("[%-25lld]", v);
        DIFF("[%025lld]", v);
        DIFF("%llu", (unsigned long long)v);
        DIFF("%llx", (unsigned long long)v);
        DIFF("%llX", (unsigned long long)v);
        DIFF("[%020llu]", (unsigned long long)v);
    }
    DIFF("%llu", ULLONG_MAX);
    DIFF("%llx", ULLONG_MAX);
}

static void test_snprintf_size_t(void **state)
{
    (void)state;
    static const size_t zs[] = { 0, 1, 4096, SIZE_MAX, SIZE_MAX / 2 };
    for (size_t i = 0; i < sizeof(zs) / sizeof(zs[0]); i++) {
        DIFF("%zu", zs[i]);
        DIFF("%zx", zs[i]);
        DIFF("[%8zu]", zs[i]);
        DIFF("[%-8zu]", zs[i]);
        DIFF("%zd", (ssize_t)zs[i]);
    }
}

static void test_snprintf_strings(void **state)
{
    (void)state;
    static const char *const strs[] = { "", "a", "hello", "\\EFI\\unloop\\state",
                                        "a string longer than sixteen characters" };
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        const char *s = strs[i];
        DIFF("%s", s);
        DIFF("<%s>", s);
        DIFF("[%10s]", s);
        DIFF("[%-10s]", s);
        DIFF("[%.3s]", s);
        DIFF("[%.0s]", s);
        DIFF("[%8.2s]", s);
        DIFF("[%-8.2s]", s);
        for (int prec = -2; prec < 45; prec += 3) {
            DIFF("[%.*s]", prec, s);
            DIFF("[%12.*s]", prec, s);
            DIFF("[%-12.*s]", prec, s);
        }
    }
    /* %.*s need not be NUL-terminated within the precision. */
    static const char unterminated[4] = { 'a', 'b', 'c', 'd' };
    DIFF("[%.*s]", 4, unterminated);
    DIFF("[%.*s]", 2, unterminated);
}

static void test_snprintf_chars_and_percent(void **state)
{
    (void)state;
    DIFF("%c", 'x');
    DIFF("[%3c]", 'x');
    DIFF("[%-3c]", 'x');
    DIFF("%c%c%c", 'a', 'b', 'c');
    DIFF("100%%%s", "");
    DIFF("%s%%%d%%", "a", 5);
    DIFF("%s", "no conversions");
    DIFF("%d %u %x %s %c %lld %zu %%", -3, 3u, 0xbeefu, "str", 'q', -5LL, (size_t)9);
    DIFF("unloop.conf line %u: %s", 12u, "threshold: '0' is not a number in 1..100");
    DIFF("%04d-%02d-%02d %02d:%02d:%02d", 2024, 2, 29, 23, 59, 7);
}

/* Random formats inside the documented subset, each with an argument of the
 * matching type.  Deterministic: the same seed every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void test_snprintf_random(void **state)
{
    (void)state;
    static const char *const texts[] = { "", "x", "ab ", " = ", "\\EFI" };
    static const char *const strs[] = { "", "s", "state", "0123456789abcdefghij" };
    static const char convs[] = "diuoxXscp";

    for (int iter = 0; iter < 40000; iter++) {
        char fmt[64];
        size_t n = 0;
        const char *pre = texts[rnd() % 5], *post = texts[rnd() % 5];
        char conv = convs[rnd() % (sizeof(convs) - 1)];
        int flags = (int)(rnd() % 32); /* '-', '0', '+', ' ', '#' */
        int width = rnd() % 3 ? -1 : (int)(rnd() % 30);
        int mod = (int)(rnd() % 6);    /* none, l, ll, z, h, hh */
        bool is_int = conv != 's' && conv != 'c' && conv != 'p';
        int prec = -1;
        int prec_star = conv == 's' && rnd() % 2;

        if (is_int && rnd() % 3 == 0)
            prec = (int)(rnd() % 22);
        if (!is_int)
            mod = 0;
        /* Keep to what C defines: '0' not with %s/%c/%p, '#' only with
         * %o/%x/%X, '+' and ' ' only with signed conversions. */
        if (!is_int)
            flags &= ~2;
        if (conv != 'o' && conv != 'x' && conv != 'X')
            flags &= ~16;
        if (conv != 'd' && conv != 'i')
            flags &= ~(4 | 8);
        n += (size_t)snprintf(fmt + n, sizeof(fmt) - n, "%s%%", pre);
        if (flags & 1)
            fmt[n++] = '-';
        if (flags & 2)
            fmt[n++] = '0';
        if (flags & 4)
            fmt[n++] = '+';
        if (flags & 8)
            fmt[n++] = ' ';
        if (flags & 16)
            fmt[n++] = '#';
        if (width >= 0)
            n += (size_t)snprintf(fmt + n, sizeof(fmt) - n, "%d", width);
        if (prec_star) {
            fmt[n++] = '.';
            fmt[n++] = '*';
        } else if (prec >= 0) {
            n += (size_t)snprintf(fmt + n, sizeof(fmt) - n, ".%d", prec);
        }
        static const char *const mods[] = { "", "l", "ll", "z", "h", "hh" };
        n += (size_t)snprintf(fmt + n, sizeof(fmt) - n, "%s%c%s", mods[mod], conv, post);

        size_t size = rnd() % 2 ? BUF : (size_t)(rnd() % 40);
        char ubuf[BUF], lbuf[BUF];
        size_t ur;
        int lr;
        memset(ubuf, 0x5a, sizeof(ubuf));
        memset(lbuf, 0x5a, sizeof(lbuf));
        uint64_t bits = rnd();
        switch (rnd() % 4) { /* small numbers matter as much as large ones */
        case 0: bits &= 0xff; break;
        case 1: bits = (uint64_t)-(int64_t)(bits & 0xffff); break;
        default: break;
        }
        bool sgn = conv == 'd' || conv == 'i';

#define BOTH(...)                                      \
        do {                                           \
            ur = ul_snprintf(ubuf, size, fmt, __VA_ARGS__); \
            lr = snprintf(lbuf, size, fmt, __VA_ARGS__);    \
        } while (0)
        if (conv == 's') {
            const char *s = strs[rnd() % 4];
            if (prec_star) {
                int prec = (int)(rnd() % 25) - 3;
                BOTH(prec, s);
            } else {
                BOTH(s);
            }
        } else if (conv == 'c') {
            BOTH((int)('!' + bits % 90));
        } else if (conv == 'p') {
            /* glibc prints a null pointer as "(nil)"; C leaves it open */
            BOTH((void *)(uintptr_t)(bits | 1));
        } else if (mod == 0 || mod >= 4) { /* h and hh take an int too */
            if (sgn)
                BOTH((int)bits);
            else
                BOTH((unsigned)bits);
        } else if (mod == 1) {
            if (sgn)
                BOTH((long)bits);
            else
                BOTH((unsigned long)bits);
        } else if (mod == 2) {
            if (sgn)
                BOTH((long long)bits);
            else
                BOTH((unsigned long long)bits);
        } else {
            if (sgn)
                BOTH((ssize_t)bits);
            else
                BOTH((size_t)bits);
        }
#undef BOTH
        compare("random", fmt, size, ur, lr, ubuf, lbuf);
    }
}

static size_t call_v(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = ul_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

static void test_snprintf_return_and_truncation(void **state)
{
    (void)state;
    char buf[8];

    /* NULL with size 0 only measures. */
    assert_int_equal(ul_snprintf(NULL, 0, "%s-%d", "abc", 12345), 9);
    assert_int_equal(call_v(NULL, 0, "%lld", -1234567890123LL), 14);

    memset(buf, 'Z', sizeof(buf));
    assert_int_equal(ul_snprintf(buf, sizeof(buf), "%s", "0123456789"), 10);
    assert_string_equal(buf, "0123456");

    memset(buf, 'Z', sizeof(buf));
    assert_int_equal(ul_snprintf(buf, 1, "%d", 5), 1);
    assert_int_equal(buf[0], 0);
    assert_int_equal(buf[1], 'Z');

    memset(buf, 'Z', sizeof(buf));
    assert_int_equal(ul_snprintf(buf, 0, "%d", 5), 1);
    assert_int_equal(buf[0], 'Z');

    /* Exactly fitting output. */
    assert_int_equal(ul_snprintf(buf, sizeof(buf), "%07d", -5), 7);
    assert_string_equal(buf, "-000005");

    /* NULL %s prints like glibc, never crashes. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
    char big[32];
    const char *volatile nul = NULL;
    ul_snprintf(big, sizeof(big), "[%s]", nul);
    assert_string_equal(big, "[(null)]");
#pragma GCC diagnostic pop
}

static void test_snprintf_unsupported_is_harmless(void **state)
{
    (void)state;
    char buf[32];
    const char *volatile f1 = "%q", *volatile f2 = "end%", *volatile f3 = "%+d";

    /* Unknown conversions print themselves rather than eating arguments. */
    assert_int_equal(ul_snprintf(buf, sizeof(buf), f1, 1), 2);
    assert_string_equal(buf, "%q");
    assert_int_equal(ul_snprintf(buf, sizeof(buf), f2, 1), 3);
    assert_string_equal(buf, "end");
    ul_snprintf(buf, sizeof(buf), f3, 1);
    assert_non_null(strchr(buf, '+'));
}

static void test_strlcpy(void **state)
{
    (void)state;
    char buf[8];

    memset(buf, 'Z', sizeof(buf));
    assert_int_equal(ul_strlcpy(buf, "hello", 0), 5);
    assert_int_equal(buf[0], 'Z');

    assert_int_equal(ul_strlcpy(buf, "hello", 1), 5);
    assert_string_equal(buf, "");

    assert_int_equal(ul_strlcpy(buf, "hello", 6), 5);
    assert_string_equal(buf, "hello");

    memset(buf, 'Z', sizeof(buf));
    assert_int_equal(ul_strlcpy(buf, "hello", 5), 5);
    assert_string_equal(buf, "hell");
    assert_int_equal(buf[5], 'Z');

    assert_int_equal(ul_strlcpy(buf, "", sizeof(buf)), 0);
    assert_string_equal(buf, "");

    assert_int_equal(ul_strlcpy(buf, "0123456789abcdef", sizeof(buf)), 16);
    assert_string_equal(buf, "0123456");
}

static void test_parse_u32(void **state)
{
    (void)state;
    uint32_t v;
    static const struct {
        const char *s;
        int len; /* -1: strlen */
        int ret;
        uint32_t val;
    } cases[] = {
        { "0", -1, 0, 0 },
        { "7", -1, 0, 7 },
        { "100", -1, 0, 100 },
        { "007", -1, 0, 7 },
        { "4294967295", -1, 0, UINT32_MAX },
        { "00000000004294967295", -1, 0, UINT32_MAX },
        { "4294967296", -1, -UL_ERANGE, 0 },
        { "4294967300", -1, -UL_ERANGE, 0 },
        { "9999999999", -1, -UL_ERANGE, 0 },
        { "18446744073709551616", -1, -UL_ERANGE, 0 }, /* 2^64: must not wrap */
        { "99999999999999999999999", -1, -UL_ERANGE, 0 },
        { "", -1, -UL_EINVAL, 0 },
        { "12", 0, -UL_EINVAL, 0 },
        { "-1", -1, -UL_EINVAL, 0 },
        { "+1", -1, -UL_EINVAL, 0 },
        { " 1", -1, -UL_EINVAL, 0 },
        { "1 ", -1, -UL_EINVAL, 0 },
        { "1a", -1, -UL_EINVAL, 0 },
        { "0x10", -1, -UL_EINVAL, 0 },
        { "1.5", -1, -UL_EINVAL, 0 },
        { "123456", 3, 0, 123 },   /* only [s, s+len) counts */
        { "12x", 2, 0, 12 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = cases[i].len < 0 ? strlen(cases[i].s) : (size_t)cases[i].len;
        v = 0xdeadbeef;
        int r = ul_parse_u32(cases[i].s, len, &v);
        if (r != cases[i].ret)
            fail_msg("parse_u32(\"%s\", %zu) = %d, want %d", cases[i].s, len, r, cases[i].ret);
        if (r == 0 && v != cases[i].val)
            fail_msg("parse_u32(\"%s\") -> %u, want %u", cases[i].s, v, cases[i].val);
        if (r < 0 && v != 0xdeadbeef)
            fail_msg("parse_u32(\"%s\") wrote *ret on error", cases[i].s);
    }
    /* A digit string not NUL-terminated. */
    static const char digits[3] = { '4', '2', '7' };
    assert_int_equal(ul_parse_u32(digits, 2, &v), 0);
    assert_int_equal(v, 42);

    /* Every value near the boundary, against strtoull. */
    for (uint64_t x = UINT32_MAX - 20; x <= (uint64_t)UINT32_MAX + 20; x++) {
        char s[24];
        int n = snprintf(s, sizeof(s), "%llu", (unsigned long long)x);
        int r = ul_parse_u32(s, (size_t)n, &v);
        if (x <= UINT32_MAX) {
            assert_int_equal(r, 0);
            assert_int_equal(v, (uint32_t)strtoull(s, NULL, 10));
        } else {
            assert_int_equal(r, -UL_ERANGE);
        }
    }
}

static void test_compare_and_memory(void **state)
{
    (void)state;
    static const char *const words[] = { "", "a", "A", "b", "EFI", "efi", "efi\\x", "Efi\\X",
                                         "state", "STATE1", "z", "[", "_", "\x80" };
    const size_t nw = sizeof(words) / sizeof(words[0]);
    for (size_t i = 0; i < nw; i++) {
        for (size_t j = 0; j < nw; j++) {
            int want = strcasecmp(words[i], words[j]);
            int got = ul_strcasecmp(words[i], words[j]);
            if ((want < 0) != (got < 0) || (want > 0) != (got > 0))
                fail_msg("strcasecmp(\"%s\", \"%s\"): ul %d libc %d", words[i], words[j], got,
                         want);
            want = strcmp(words[i], words[j]);
            got = ul_strcmp(words[i], words[j]);
            if ((want < 0) != (got < 0) || (want > 0) != (got > 0))
                fail_msg("strcmp(\"%s\", \"%s\")", words[i], words[j]);
            for (size_t n = 0; n < 8; n++) {
                want = strncasecmp(words[i], words[j], n);
                got = ul_strncasecmp(words[i], words[j], n);
                if ((want < 0) != (got < 0) || (want > 0) != (got > 0))
                    fail_msg("strncasecmp(\"%s\", \"%s\", %zu)", words[i], words[j], n);
            }
        }
        assert_int_equal(ul_strlen(words[i]), strlen(words[i]));
        assert_int_equal(ul_strnlen(words[i], 2), strnlen(words[i], 2));
    }

    /* memmove both ways over overlapping ranges. */
    for (size_t from = 0; from < 8; from++) {
        for (size_t to = 0; to < 8; to++) {
            char a[24] = "abcdefghijklmnopqrstuvw", b[24];
            memcpy(b, a, sizeof(a));
            ul_memmove(a + to, a + from, 10);
            memmove(b + to, b + from, 10);
            assert_memory_equal(a, b, sizeof(a));
        }
    }
    uint8_t z[16];
    memset(z, 0xff, sizeof(z));
    ul_explicit_bzero(z + 2, 10);
    for (size_t i = 0; i < sizeof(z); i++)
        assert_int_equal(z[i], i >= 2 && i < 12 ? 0 : 0xff);
    ul_memset(z, 7, 4);
    assert_int_equal(z[3], 7);
    assert_int_equal(ul_memcmp("ab", "ac", 2) < 0, 1);
    assert_int_equal(ul_memcmp("ab", "ac", 1), 0);
    assert_int_equal(ul_isspace('\r') && ul_isspace('\v') && !ul_isspace('x'), 1);
    assert_int_equal(ul_tolower('Q'), 'q');
    assert_int_equal(ul_tolower('['), '[');
}

static void test_strerror(void **state)
{
    (void)state;
    assert_non_null(strstr(ul_strerror(-UL_ENOENT), "ENOENT"));
    assert_non_null(strstr(ul_strerror(UL_EIO), "EIO"));
    assert_string_equal(ul_strerror(0), "success");
    assert_string_equal(ul_strerror(-9999), "unknown error");
    assert_string_equal(ul_strerror(INT_MIN + 1), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snprintf_integers),
        cmocka_unit_test(test_snprintf_long_long),
        cmocka_unit_test(test_snprintf_size_t),
        cmocka_unit_test(test_snprintf_strings),
        cmocka_unit_test(test_snprintf_chars_and_percent),
        cmocka_unit_test(test_snprintf_random),
        cmocka_unit_test(test_snprintf_return_and_truncation),
        cmocka_unit_test(test_snprintf_unsupported_is_harmless),
        cmocka_unit_test(test_strlcpy),
        cmocka_unit_test(test_parse_u32),
        cmocka_unit_test(test_compare_and_memory),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests_name("string-util", tests, NULL, NULL);
}
