/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * config: unloop.conf is untrusted input.  Every problem must become a
 * diagnostic naming its line while the key keeps its default and the rest
 * of the file still applies.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "unloop-contract.h"

static struct ul_config cfg, defaults;
static struct ul_diags diags;

static int setup(void **state)
{
    (void)state;
    ul_config_defaults(&defaults);
    ul_config_defaults(&cfg);
    memset(&diags, 0xa5, sizeof(diags)); /* parse must clear it */
    return 0;
}

static uint32_t parse_n(const char *text, size_t len)
{
    ul_config_defaults(&cfg);
    return ul_config_parse(text, len, &cfg, &diags);
}

static uint32_t parse(const char *text)
{
    return parse_n(text, strlen(text));
}

static void dump_diags(void)
{
    for (uint32_t i = 0; i < diags.n && i < UL_CONFIG_MAX_DIAGS; i++)
        print_message("  line %u: %s\n", diags.d[i].line, diags.d[i].msg);
}

/* Exactly one error, on the given line, mentioning each of the words. */
static void expect_one_error(const char *text, uint32_t line, const char *w1, const char *w2)
{
    uint32_t errors = parse(text);
    if (errors != 1 || diags.n != 1 || diags.d[0].line != line ||
        (w1 && !strstr(diags.d[0].msg, w1)) || (w2 && !strstr(diags.d[0].msg, w2))) {
        dump_diags();
        fail_msg("\"%s\": want 1 error on line %u mentioning '%s' '%s'; got %u errors", text,
                 line, w1 ? w1 : "", w2 ? w2 : "", errors);
    }
    assert_false(diags.d[0].warning);
    assert_int_equal(diags.errors, 1);
    assert_int_equal(diags.dropped, 0);
}

static void expect_clean(const char *text)
{
    uint32_t errors = parse(text);
    if (errors != 0 || diags.n != 0) {
        dump_diags();
        fail_msg("\"%s\": want no diagnostics, got %u", text, diags.n);
    }
}

static void test_defaults(void **state)
{
    (void)state;
    struct ul_config c;
    memset(&c, 0xff, sizeof(c));
    ul_config_defaults(&c);
    assert_int_equal(c.threshold, 3);
    assert_int_equal(c.menu_timeout, 10);
    assert_int_equal(c.stop_timeout, 0);
    assert_int_equal(c.default_action, UL_ACTION_LADDER);
    assert_string_equal(c.loader, UL_DEFAULT_LOADER);
    assert_string_equal(c.loader, "\\EFI\\Microsoft\\Boot\\bootmgfw.efi");
    assert_int_equal(c.handoff, UL_HANDOFF_CHAINLOAD);
    assert_int_equal(c.log_level, UL_LOG_INFO);
    assert_int_equal(c.log_size_kib, 64);

    /* An empty file, only comments, only blank lines: defaults, silence. */
    static const char *const empties[] = { "", "\n\n\n", "# comment\n; other\n   # indented\n",
                                           "[unloop]\n", "\r\n\t \r\n", " " };
    for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
        expect_clean(empties[i]);
        assert_memory_equal(&cfg, &defaults, sizeof(cfg));
        assert_int_equal(diags.warnings, 0);
    }
    assert_int_equal(parse_n(NULL, 0), 0);
}

static void test_full_valid_file(void **state)
{
    (void)state;
    expect_clean("# unloop.conf\n"
                 "[unloop]\n"
                 "threshold = 5\n"
                 "menu_timeout = 30\n"
                 "stop_timeout = 600\n"
                 "default_action = reboot\n"
                 "loader = \\EFI\\ubuntu\\shimx64.efi\n"
                 "handoff = auto\n"
                 "log_level = debug\n"
                 "log_size = 128\n");
    assert_int_equal(cfg.threshold, 5);
    assert_int_equal(cfg.menu_timeout, 30);
    assert_int_equal(cfg.stop_timeout, 600);
    assert_int_equal(cfg.default_action, UL_ACTION_REBOOT);
    assert_string_equal(cfg.loader, "\\EFI\\ubuntu\\shimx64.efi");
    assert_int_equal(cfg.handoff, UL_HANDOFF_AUTO);
    assert_int_equal(cfg.log_level, UL_LOG_DEBUG);
    assert_int_equal(cfg.log_size_kib, 128);
}

struct num_case {
    const char *key;
    size_t offset;
    uint32_t min, max;
};

static const struct num_case num_keys[] = {
    { "threshold", offsetof(struct ul_config, threshold), 1, 100 },
    { "menu_timeout", offsetof(struct ul_config, menu_timeout), 0, 3600 },
    { "stop_timeout", offsetof(struct ul_config, stop_timeout), 0, 86400 },
    { "log_size", offsetof(struct ul_config, log_size_kib), 4, 4096 },
};

static uint32_t get_num(const struct num_case *k)
{
    return *(const uint32_t *)((const char *)&cfg + k->offset);
}

static void test_numeric_keys(void **state)
{
    (void)state;
    char text[256];

    for (size_t i = 0; i < sizeof(num_keys) / sizeof(num_keys[0]); i++) {
        const struct num_case *k = &num_keys[i];
        uint32_t def = *(const uint32_t *)((const char *)&defaults + k->offset);
        uint32_t good[] = { k->min, k->max, (k->min + k->max) / 2 };
        for (size_t j = 0; j < 3; j++) {
            snprintf(text, sizeof(text), "%s = %u\n", k->key, good[j]);
            expect_clean(text);
            assert_int_equal(get_num(k), good[j]);
        }
        /* Leading zeros, no spaces, upper case key, tab around '='. */
        snprintf(text, sizeof(text), "%s=%03u", k->key, k->min + 1);
        expect_clean(text);
        assert_int_equal(get_num(k), k->min + 1);
        char upper[32];
        for (size_t c = 0; c <= strlen(k->key); c++)
            upper[c] = (char)(k->key[c] >= 'a' && k->key[c] <= 'z' ? k->key[c] - 32 : k->key[c]);
        snprintf(text, sizeof(text), "\n%s\t=\t%u\n", upper, k->max);
        expect_clean(text);
        assert_int_equal(get_num(k), k->max);

        /* Out of range and not numbers: the default stays, the line is named. */
        char bad[8][24];
        int nb = 0;
        if (k->min > 0)
            snprintf(bad[nb++], 24, "%u", k->min - 1);
        snprintf(bad[nb++], 24, "%u", k->max + 1);
        snprintf(bad[nb++], 24, "-1");
        snprintf(bad[nb++], 24, "abc");
        snprintf(bad[nb++], 24, "4294967296");
        snprintf(bad[nb++], 24, "1e3");
        snprintf(bad[nb++], 24, "0x10");
        snprintf(bad[nb++], 24, "5 5");
        for (int b = 0; b < nb; b++) {
            snprintf(text, sizeof(text), "# first\n\n%s = %s\n", k->key, bad[b]);
            expect_one_error(text, 3, k->key, "not a number");
            assert_int_equal(get_num(k), def);
            assert_non_null(strstr(diags.d[0].msg, bad[b]));
        }
        /* Empty value. */
        snprintf(text, sizeof(text), "%s =\n", k->key);
        expect_one_error(text, 1, k->key, NULL);
        assert_int_equal(get_num(k), def);
    }
}

static void test_default_action(void **state)
{
    (void)state;
    static const struct { const char *name; enum ul_action a; } ok[] = {
        { "ladder", UL_ACTION_LADDER },
        { "continue", UL_ACTION_CONTINUE },
        { "quarantine", UL_ACTION_QUARANTINE },
        { "quarantine-wide", UL_ACTION_QUARANTINE_WIDE },
        { "safe-mode", UL_ACTION_SAFE_MODE },
        { "safe-mode-network", UL_ACTION_SAFE_MODE_NETWORK },
        { "restore", UL_ACTION_RESTORE },
        { "reboot", UL_ACTION_REBOOT },
        { "REBOOT", UL_ACTION_REBOOT },
        { "Safe-Mode", UL_ACTION_SAFE_MODE },
    };
    char text[128];
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        snprintf(text, sizeof(text), "default_action = %s", ok[i].name);
        expect_clean(text);
        assert_int_equal(cfg.default_action, ok[i].a);
    }
    /* Not actions for a countdown to take by itself, and nonsense. */
    static const char *const bad[] = { "show-log", "firmware-setup", "safe_mode", "safemode",
                                       "continue-boot", "1", "ladder x" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "threshold = 4\ndefault_action = %s\n", bad[i]);
        expect_one_error(text, 2, "default_action", bad[i]);
        assert_int_equal(cfg.default_action, UL_ACTION_LADDER);
        assert_int_equal(cfg.threshold, 4);
    }
    for (int a = 0; a < UL_ACTION__MAX; a++)
        assert_string_not_equal(ul_action_name((enum ul_action)a), "unknown");
    assert_string_equal(ul_action_name(UL_ACTION__MAX), "unknown");
    assert_string_equal(ul_action_name((enum ul_action)-1), "unknown");
}

static void test_handoff_and_log_level(void **state)
{
    (void)state;
    static const struct { const char *v; enum ul_handoff h; } hs[] = {
        { "chainload", UL_HANDOFF_CHAINLOAD }, { "bootnext", UL_HANDOFF_BOOTNEXT },
        { "auto", UL_HANDOFF_AUTO },           { "BootNext", UL_HANDOFF_BOOTNEXT },
    };
    char text[128];
    for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
        snprintf(text, sizeof(text), "handoff = %s\n", hs[i].v);
        expect_clean(text);
        assert_int_equal(cfg.handoff, hs[i].h);
        assert_string_equal(ul_handoff_name(hs[i].h), hs[i].v[0] == 'B' ? "bootnext" : hs[i].v);
    }
    expect_one_error("\n\nhandoff = chain\n", 3, "handoff", "chain");
    assert_int_equal(cfg.handoff, UL_HANDOFF_CHAINLOAD);
    assert_string_equal(ul_handoff_name((enum ul_handoff)9), "unknown");

    static const struct { const char *v; enum ul_log_level l; } ls[] = {
        { "error", UL_LOG_ERROR }, { "warning", UL_LOG_WARNING }, { "notice", UL_LOG_NOTICE },
        { "info", UL_LOG_INFO },   { "debug", UL_LOG_DEBUG },     { "DEBUG", UL_LOG_DEBUG },
    };
    for (size_t i = 0; i < sizeof(ls) / sizeof(ls[0]); i++) {
        snprintf(text, sizeof(text), "log_level = %s\n", ls[i].v);
        expect_clean(text);
        assert_int_equal(cfg.log_level, ls[i].l);
    }
    static const char *const bad[] = { "warn", "err", "trace", "3", "" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "log_level = debug\nlog_level = %s\n", bad[i]);
        expect_one_error(text, 2, "log_level", NULL);
        assert_int_equal(cfg.log_level, UL_LOG_DEBUG); /* the earlier valid line stands */
    }
}

static void test_loader_options(void **state)
{
    (void)state;
    expect_clean("loader_options = \"initrd=\\EFI\\Linux\\initrd.img console=ttyS0\"\n");
    assert_string_equal(cfg.loader_options, "initrd=\\EFI\\Linux\\initrd.img console=ttyS0");
    expect_clean("loader_options = \"\"\n");
    assert_string_equal(cfg.loader_options, "");

    /* Not printable ASCII, or too long: refused, the default (forward) stays. */
    expect_one_error("loader_options = caf\xc3\xa9\n", 1, "loader_options", "printable");
    assert_string_equal(cfg.loader_options, "");
    char text[400];
    snprintf(text, sizeof(text), "loader_options = %0300d\n", 7);
    expect_one_error(text, 1, "loader_options", "longer");
    assert_string_equal(cfg.loader_options, "");
}

static void test_loader(void **state)
{
    (void)state;
    expect_clean("loader = \\EFI\\Boot\\grubx64.efi\n");
    assert_string_equal(cfg.loader, "\\EFI\\Boot\\grubx64.efi");

    /* Forward slashes, as a Linux user types them, become backslashes. */
    expect_clean("loader = /EFI/ubuntu/shimx64.efi\n");
    assert_string_equal(cfg.loader, "\\EFI\\ubuntu\\shimx64.efi");
    expect_clean("loader = /EFI\\mixed/x.efi\n");
    assert_string_equal(cfg.loader, "\\EFI\\mixed\\x.efi");

    /* Spaces inside a quoted path survive; the quotes go. */
    expect_clean("loader = \"\\EFI\\My Vendor\\boot.efi\"\n");
    assert_string_equal(cfg.loader, "\\EFI\\My Vendor\\boot.efi");

    /* Relative paths and characters FAT cannot hold are refused. */
    static const struct { const char *v; const char *word; } bad[] = {
        { "EFI\\Boot\\bootx64.efi", "absolute" },
        { "bootmgfw.efi", "absolute" },
        { "EFI/Boot/bootx64.efi", "absolute" },
        { ".\\x.efi", "absolute" },
        { "C:\\EFI\\x.efi", "character" },
        { "\\EFI\\a*b.efi", "character" },
        { "\\EFI\\a?b.efi", "character" },
        { "\\EFI\\a|b.efi", "character" },
        { "\\EFI\\a<b>.efi", "character" },
        { "\\EFI\\a\"b.efi", "character" },
        { "\\EFI\\a\tb.efi", "character" },
        { "\\EFI\\caf\xc3\xa9.efi", "character" },
        { "\\EFI\\a\x7f.efi", "character" },
    };
    char text[300];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), "threshold = 2\nloader = %s\n", bad[i].v);
        expect_one_error(text, 2, "loader", bad[i].word);
        assert_string_equal(cfg.loader, UL_DEFAULT_LOADER);
        assert_int_equal(cfg.threshold, 2);
        /* the quoted value in the message is printable */
        for (const char *p = diags.d[0].msg; *p; p++)
            assert_true(*p >= 0x20 && *p < 0x7f);
    }
    expect_one_error("loader =\n", 1, "loader", "1..255");
    expect_one_error("loader = \"\"\n", 1, "loader", NULL);

    /* The longest path that fits, and one more. */
    char path[UL_LOADER_MAX + 2];
    path[0] = '\\';
    for (size_t n = 1; n < sizeof(path); n++)
        path[n] = (char)('a' + n % 26);
    path[UL_LOADER_MAX - 1] = 0;
    snprintf(text, sizeof(text), "loader = %s\n", path);
    expect_clean(text);
    assert_string_equal(cfg.loader, path);
    path[UL_LOADER_MAX - 1] = 'x';
    path[UL_LOADER_MAX] = 0;
    snprintf(text, sizeof(text), "loader = %s\n", path);
    expect_one_error(text, 1, "loader", "1..255");
    assert_string_equal(cfg.loader, UL_DEFAULT_LOADER);
}

static void test_unknown_keys_and_sections(void **state)
{
    (void)state;
    expect_one_error("threshold = 4\ntimeout = 5\n", 2, "unknown key", "timeout");
    assert_int_equal(cfg.threshold, 4);

    /* Keys in another section are ignored without a word each. */
    assert_int_equal(parse("[unloop]\nthreshold = 6\n[other]\nthreshold = 9\nfoo = bar\n"
                           "[Unloop]\nmenu_timeout = 20\n"), 1);
    assert_int_equal(diags.n, 1);
    assert_int_equal(diags.d[0].line, 3);
    assert_non_null(strstr(diags.d[0].msg, "[other]"));
    assert_int_equal(cfg.threshold, 6);
    assert_int_equal(cfg.menu_timeout, 20);

    /* White space inside the brackets. */
    expect_clean("[ unloop ]\nthreshold = 8\n");
    assert_int_equal(cfg.threshold, 8);

    /* A broken header: named, and what follows is not taken for [unloop]. */
    assert_int_equal(parse("threshold = 2\n[unloop\nthreshold = 9\n"), 1);
    assert_int_equal(diags.d[0].line, 2);
    assert_non_null(strstr(diags.d[0].msg, "]"));
    assert_int_equal(cfg.threshold, 2);

    expect_one_error("[]\n", 1, "unknown section", NULL);
    expect_one_error("[\n", 1, "section", NULL);

    /* [quarantine] and [rule NAME] are sections now (test-rules.c has the
     * details); [unloop] keys there are unknown keys, not silently ignored. */
    expect_clean("[quarantine]\nmax_files = 8\n[rule vendor-drivers]\nenabled = no\n"
                 "[unloop]\nthreshold = 7\n");
    assert_int_equal(cfg.threshold, 7);
    assert_int_equal(cfg.rules.max_files, 8);
    expect_one_error("[quarantine]\nthreshold = 9\n", 2, "unknown key", "threshold");
    assert_int_equal(cfg.threshold, 3);
    expect_one_error("[rule crowdstrike-channel]\nthreshold = 9\n", 2, "unknown key", "threshold");
    assert_int_equal(cfg.threshold, 3);
    expect_one_error("[rule]\nthreshold = 9\n", 1, "name", NULL); /* keys skipped */
    assert_int_equal(cfg.threshold, 3);
    expect_one_error("[rules]\nthreshold = 9\n", 1, "unknown section", "rules");
    assert_memory_equal(&cfg, &defaults, sizeof(cfg));

    /* Lines that are not key = value. */
    expect_one_error("\n\nthreshold 5\n", 3, "key = value", "threshold 5");
    assert_int_equal(cfg.threshold, 3);
    expect_one_error("= 5\n", 1, "missing key", NULL);
    assert_int_equal(parse("[other]\n= 5\n"), 2); /* a nameless key is named anywhere */
    assert_int_equal(diags.d[1].line, 2);
}

static void test_bom_crlf_and_line_numbers(void **state)
{
    (void)state;
    expect_clean("\xEF\xBB\xBFthreshold = 9\n");
    assert_int_equal(cfg.threshold, 9);
    expect_clean("\xEF\xBB\xBF");
    /* A BOM anywhere else is just a bad line. */
    expect_one_error("threshold = 9\n\xEF\xBB\xBFmenu_timeout = 1\n", 2, "unknown key", NULL);

    /* Windows line ends, Notepad style, with a BOM. */
    expect_clean("\xEF\xBB\xBF[unloop]\r\nthreshold = 4\r\nloader = \\EFI\\x.efi\r\n"
                 "log_level = notice\r\n");
    assert_int_equal(cfg.threshold, 4);
    assert_string_equal(cfg.loader, "\\EFI\\x.efi"); /* no stray \r */
    assert_int_equal(cfg.log_level, UL_LOG_NOTICE);

    /* Line numbers count CRLF lines, blank ones and comments, after a BOM. */
    expect_one_error("\xEF\xBB\xBF# c\r\n\r\n[unloop]\r\n\r\nthreshold = 0\r\n", 5, "threshold",
                     NULL);
    /* No newline at the end. */
    assert_int_equal(parse("a = 1\n\nb"), 2);
    assert_int_equal(diags.d[0].line, 1);
    assert_int_equal(diags.d[1].line, 3);

    /* Several errors, each on its own line. */
    assert_int_equal(parse("threshold = x\nmenu_timeout = 5\nstop_timeout = y\n"
                           "\nlog_size = 1\nhandoff = auto\n"), 3);
    assert_int_equal(diags.d[0].line, 1);
    assert_int_equal(diags.d[1].line, 3);
    assert_int_equal(diags.d[2].line, 5);
    assert_int_equal(cfg.menu_timeout, 5);
    assert_int_equal(cfg.handoff, UL_HANDOFF_AUTO);
    assert_int_equal(cfg.threshold, 3);
    assert_int_equal(cfg.log_size_kib, 64);
}

static void test_nul_bytes(void **state)
{
    (void)state;
    static const char text[] = "threshold = 4\nmenu_\0timeout = 1\nstop_timeout = 7\n";
    assert_int_equal(parse_n(text, sizeof(text) - 1), 1);
    assert_int_equal(diags.d[0].line, 2);
    assert_non_null(strstr(diags.d[0].msg, "NUL"));
    assert_int_equal(cfg.threshold, 4);
    assert_int_equal(cfg.menu_timeout, 10);
    assert_int_equal(cfg.stop_timeout, 7);

    /* A UTF-16LE file (Notepad's "Unicode"): refused line by line, defaults stay. */
    static const char u16[] = "\xff\xfe" "t\0h\0r\0e\0s\0h\0o\0l\0d\0 \0=\0 \0" "5\0\n\0"
                              "l\0o\0g\0_\0s\0i\0z\0e\0=\0" "8\0\n\0";
    uint32_t errors = parse_n(u16, sizeof(u16) - 1);
    assert_true(errors >= 2);
    assert_int_equal(cfg.threshold, 3);
    assert_int_equal(cfg.log_size_kib, 64);
    assert_non_null(strstr(diags.d[0].msg, "UTF-16"));

    /* A NUL value byte right before the newline. */
    static const char t2[] = "threshold = 5\0\n";
    assert_int_equal(parse_n(t2, sizeof(t2) - 1), 1);
    assert_int_equal(cfg.threshold, 3);
}

static void test_overlong_lines(void **state)
{
    (void)state;
    static char text[4096];

    /* 512 characters is the limit: "threshold = 7" padded with spaces. */
    memset(text, ' ', 512);
    memcpy(text, "threshold = 7", 13);
    strcpy(text + 512, "\nmenu_timeout = 9\n");
    expect_clean(text);
    assert_int_equal(cfg.threshold, 7);

    /* One more and the line is ignored, by number; the next line still applies. */
    memset(text, ' ', 513);
    memcpy(text, "threshold = 7", 13);
    strcpy(text + 513, "\nmenu_timeout = 9\n");
    expect_one_error(text, 1, "longer than", NULL);
    assert_int_equal(cfg.threshold, 3);
    assert_int_equal(cfg.menu_timeout, 9);

    /* A very long line of anything does not disturb the next line's number. */
    memset(text, 'x', 3000);
    text[0] = '#';
    strcpy(text + 3000, "\nthreshold = 2\nbogus");
    parse(text);
    assert_int_equal(cfg.threshold, 2);
    assert_true(diags.n >= 1);
    assert_int_equal(diags.d[diags.n - 1].line, 3);
}

static void test_oversized_file(void **state)
{
    (void)state;
    size_t len = UL_CONFIG_MAX_SIZE + 1000;
    char *text = malloc(len);
    assert_non_null(text);
    /* Blank lines, one key early, one key past the limit. */
    memset(text, '\n', len);
    memcpy(text, "threshold = 6\n", 14);
    memcpy(text + UL_CONFIG_MAX_SIZE + 10, "menu_timeout = 1\n", 17);
    assert_int_equal(parse_n(text, len), 1);
    assert_int_equal(diags.d[0].line, 0); /* the file as a whole */
    assert_non_null(strstr(diags.d[0].msg, "larger"));
    assert_int_equal(cfg.threshold, 6);
    assert_int_equal(cfg.menu_timeout, 10);
    free(text);
}

static void test_inline_comments_and_quotes(void **state)
{
    (void)state;
    expect_clean("threshold = 5 # five\n");
    assert_int_equal(cfg.threshold, 5);
    expect_clean("threshold = 5\t; five\n");
    assert_int_equal(cfg.threshold, 5);
    expect_clean("threshold = 5 #\n");
    assert_int_equal(cfg.threshold, 5);
    expect_clean("default_action = reboot   # at the last rung\n");
    assert_int_equal(cfg.default_action, UL_ACTION_REBOOT);

    /* '#' and ';' without white space before them belong to the value. */
    expect_clean("loader = \\EFI\\a#b;c.efi\n");
    assert_string_equal(cfg.loader, "\\EFI\\a#b;c.efi");
    expect_one_error("threshold = 5#five\n", 1, "threshold", "5#five");
    assert_int_equal(cfg.threshold, 3);

    /* Quotes around any value. */
    expect_clean("threshold = \"7\"\nhandoff = \"auto\" # quoted\n");
    assert_int_equal(cfg.threshold, 7);
    assert_int_equal(cfg.handoff, UL_HANDOFF_AUTO);
    /* Unbalanced quotes are part of the value, and rejected. */
    expect_one_error("threshold = \"7\n", 1, "threshold", NULL);
    expect_one_error("threshold = 7\"\n", 1, "threshold", NULL);
    expect_one_error("threshold = \"\n", 1, "threshold", NULL);
    expect_one_error("threshold = \"\"\n", 1, "threshold", NULL);
}

static void test_malformed_key_keeps_default_others_apply(void **state)
{
    (void)state;
    /* Parsing over values already set: an invalid line leaves them alone. */
    ul_config_defaults(&cfg);
    cfg.threshold = 42;
    assert_int_equal(ul_config_parse("threshold = banana\nmenu_timeout = 30\n", 36, &cfg,
                                     &diags), 1);
    assert_int_equal(cfg.threshold, 42);
    assert_int_equal(cfg.menu_timeout, 30);

    assert_int_equal(parse("threshold = banana\n"
                           "menu_timeout = 30\n"
                           "log_size = 3\n"
                           "stop_timeout = 120\n"
                           "default_action = nope\n"
                           "loader = relative.efi\n"
                           "handoff = bootnext\n"
                           "log_level = loud\n"
                           "bogus = 1\n"),
                     6);
    assert_int_equal(diags.n, 6);
    static const uint32_t lines[] = { 1, 3, 5, 6, 8, 9 };
    for (int i = 0; i < 6; i++)
        assert_int_equal(diags.d[i].line, lines[i]);
    assert_int_equal(cfg.threshold, defaults.threshold);
    assert_int_equal(cfg.log_size_kib, defaults.log_size_kib);
    assert_int_equal(cfg.default_action, defaults.default_action);
    assert_string_equal(cfg.loader, defaults.loader);
    assert_int_equal(cfg.log_level, defaults.log_level);
    assert_int_equal(cfg.menu_timeout, 30);
    assert_int_equal(cfg.stop_timeout, 120);
    assert_int_equal(cfg.handoff, UL_HANDOFF_BOOTNEXT);
    assert_int_equal(diags.errors, 6);
    assert_int_equal(diags.warnings, 0);

    /* The last valid assignment of a key wins. */
    expect_clean("threshold = 4\nthreshold = 5\n");
    assert_int_equal(cfg.threshold, 5);
}

static void test_diagnostics_overflow(void **state)
{
    (void)state;
    char text[2048];
    size_t n = 0;
    for (int i = 0; i < UL_CONFIG_MAX_DIAGS + 5; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "bad%d\n", i);
    n += (size_t)snprintf(text + n, sizeof(text) - n, "threshold = 11\n");
    assert_int_equal(parse(text), UL_CONFIG_MAX_DIAGS + 5);
    assert_int_equal(diags.n, UL_CONFIG_MAX_DIAGS);
    assert_int_equal(diags.errors, UL_CONFIG_MAX_DIAGS + 5);
    assert_int_equal(diags.dropped, 5);
    for (uint32_t i = 0; i < UL_CONFIG_MAX_DIAGS; i++)
        assert_int_equal(diags.d[i].line, i + 1);
    assert_int_equal(cfg.threshold, 11); /* still applied after the flood */
}

static void test_messages_quote_values_safely(void **state)
{
    (void)state;
    char text[600];

    /* A long value is cut with "..." and the message stays terminated. */
    snprintf(text, sizeof(text), "threshold = %0200d\n", 5);
    text[12] = '9';
    parse(text);
    assert_int_equal(diags.n, 1);
    assert_true(strlen(diags.d[0].msg) < sizeof(diags.d[0].msg));
    assert_non_null(strstr(diags.d[0].msg, "..."));

    /* A value that fits is shown whole, without a misleading "...". */
    char value[48];
    memset(value, 'z', 44);
    value[44] = 0;
    snprintf(text, sizeof(text), "log_level = %s\n", value);
    parse(text);
    assert_int_equal(diags.n, 1);
    if (!strstr(diags.d[0].msg, value) || strstr(diags.d[0].msg, "..."))
        fail_msg("44-character value misquoted: %s", diags.d[0].msg);
    value[43] = 0;
    snprintf(text, sizeof(text), "log_level = %s\n", value);
    parse(text);
    assert_non_null(strstr(diags.d[0].msg, value));
    assert_null(strstr(diags.d[0].msg, "..."));

    /* Unprintable bytes in an unknown key are replaced. */
    parse("\x01\x1b[2Jkey = 1\n");
    assert_int_equal(diags.n, 1);
    for (const char *p = diags.d[0].msg; *p; p++)
        assert_true(*p >= 0x20 && *p < 0x7f);
}

/* [quarantine]: what may be done to the Windows volume to make it writable. */
static void test_volume_policy(void **state)
{
    (void)state;
    assert_int_equal(defaults.volume.unclean_log, UL_UNCLEAN_LOG_REPLAY);
    assert_false(defaults.volume.discard_hibernation);
    assert_true(defaults.volume.repair_mirror);
    assert_true(defaults.volume.mark_dirty);

    expect_clean("[quarantine]\nunclean_log = replay-or-reset\nhibernated = discard\n"
                 "repair_mirror = no\nmark_dirty = no\n");
    assert_int_equal(cfg.volume.unclean_log, UL_UNCLEAN_LOG_REPLAY_OR_RESET);
    assert_true(cfg.volume.discard_hibernation);
    assert_false(cfg.volume.repair_mirror);
    assert_false(cfg.volume.mark_dirty);
    expect_clean("[quarantine]\nunclean_log = refuse\nhibernated = refuse\n");
    assert_int_equal(cfg.volume.unclean_log, UL_UNCLEAN_LOG_REFUSE);
    assert_false(cfg.volume.discard_hibernation);

    /* A bad value keeps the safe default, with an error naming the line. */
    expect_one_error("[quarantine]\nunclean_log = reset\n", 2, "unclean_log", "reset");
    assert_int_equal(cfg.volume.unclean_log, UL_UNCLEAN_LOG_REPLAY);
    expect_one_error("[quarantine]\nhibernated = yes\n", 2, "hibernated", "refuse");
    assert_false(cfg.volume.discard_hibernation);
    expect_one_error("[quarantine]\n\nrepair_mirror = maybe\n", 3, "repair_mirror", "maybe");
    assert_true(cfg.volume.repair_mirror);
    /* These keys belong to [quarantine] only. */
    expect_one_error("unclean_log = refuse\n", 1, "unknown key", "unclean_log");
    assert_int_equal(cfg.volume.unclean_log, UL_UNCLEAN_LOG_REPLAY);
}

static void test_bitlocker_keys(void **state)
{
    (void)state;
    assert_string_equal(defaults.volume.key_dir, "\\EFI\\unloop\\keys");
    assert_true(defaults.volume.key_prompt);
    assert_int_equal(defaults.volume.prompt_timeout, 30);

    expect_clean("[bitlocker]\nkeys = /EFI/site/keys\nprompt = no\nprompt_timeout = 120\n");
    assert_string_equal(cfg.volume.key_dir, "\\EFI\\site\\keys");
    assert_false(cfg.volume.key_prompt);
    assert_int_equal(cfg.volume.prompt_timeout, 120);

    expect_one_error("[bitlocker]\nkeys = EFI\\keys\n", 2, "keys", "absolute");
    assert_string_equal(cfg.volume.key_dir, "\\EFI\\unloop\\keys");
    expect_one_error("[bitlocker]\nkeys = \\EFI\\k*ys\n", 2, "keys", "FAT");
    expect_one_error("[bitlocker]\nprompt = sometimes\n", 2, "prompt", "sometimes");
    assert_true(cfg.volume.key_prompt);
    expect_one_error("[bitlocker]\nprompt_timeout = 0\n", 2, "prompt_timeout", "1..3600");
    assert_int_equal(cfg.volume.prompt_timeout, 30);
    expect_one_error("[bitlocker]\nrecovery_password = 1\n", 2, "unknown key",
                     "recovery_password");
    /* The loader check is the same one. */
    expect_one_error("loader = bootmgfw.efi\n", 1, "loader", "absolute");
}

static void test_script(void **state)
{
    (void)state;
    assert_false(defaults.script.present);
    assert_int_equal(defaults.mode, UL_MODE_AUTO);
    assert_int_equal(defaults.script.then, UL_THEN_REBOOT);
    assert_int_equal(defaults.script.fallback, UL_ACTION_CONTINUE);

    expect_clean("mode = rescue\n[script]\nactions = quarantine, safe-mode-off\n"
                 "fallback = safe-mode\nrule = crowdstrike-channel\nselect = disk 2\n"
                 "key_file = /keys/bitlocker.csv\nthen = poweroff\n");
    assert_int_equal(cfg.mode, UL_MODE_RESCUE);
    assert_true(cfg.script.present);
    assert_int_equal(cfg.script.errors, 0);
    assert_int_equal(cfg.script.n_actions, 2);
    assert_int_equal(cfg.script.actions[0], UL_ACTION_QUARANTINE);
    assert_int_equal(cfg.script.actions[1], UL_ACTION_SAFE_MODE_OFF);
    assert_int_equal(cfg.script.fallback, UL_ACTION_SAFE_MODE);
    assert_string_equal(cfg.script.rule, "crowdstrike-channel");
    assert_int_equal(cfg.script.select, UL_SELECT_DISK);
    assert_int_equal(cfg.script.select_disk, 2);
    assert_string_equal(cfg.script.key_file, "\\keys\\bitlocker.csv");
    assert_int_equal(cfg.script.then, UL_THEN_POWEROFF);

    expect_clean("[script]\nselect = label OS disk\nthen = boot\nfallback = none\n");
    assert_int_equal(cfg.script.select, UL_SELECT_LABEL);
    assert_string_equal(cfg.script.select_label, "OS disk");

    /* Any bad line marks the script broken, with the first bad line. */
    expect_one_error("[script]\nactions = quarantine\nactions = quarantine, format-c\n", 3,
                     "actions", "format-c");
    assert_int_equal(cfg.script.errors, 1);
    assert_int_equal(cfg.script.first_error_line, 3);
    expect_one_error("[script]\nthen = explode\n", 2, "then", "explode");
    assert_int_equal(cfg.script.errors, 1);
    expect_one_error("[script]\nselect = disk 0\n", 2, "select", "disk 0");
    expect_one_error("[script]\nrule = a/b\n", 2, "rule", "a/b");
    expect_one_error("[script]\nwipe = yes\n", 2, "unknown key", "wipe");
    assert_int_equal(cfg.script.errors, 1);
    expect_one_error("mode = usb\n", 1, "mode", "usb");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup(f, setup)
    const struct CMUnitTest tests[] = {
        T(test_defaults),
        T(test_full_valid_file),
        T(test_numeric_keys),
        T(test_default_action),
        T(test_handoff_and_log_level),
        T(test_loader),
        T(test_loader_options),
        T(test_unknown_keys_and_sections),
        T(test_bom_crlf_and_line_numbers),
        T(test_nul_bytes),
        T(test_overlong_lines),
        T(test_oversized_file),
        T(test_inline_comments_and_quotes),
        T(test_malformed_key_keeps_default_others_apply),
        T(test_diagnostics_overflow),
        T(test_messages_quote_values_safely),
        T(test_volume_policy),
        T(test_bitlocker_keys),
        T(test_script),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
