/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * menu: the recovery menu model, driven without a screen: items and keys,
 * the default agreeing with the decision, notes for what is missing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "menu.h"
#include "unloop-contract.h"

static const struct ul_caps caps_all = { .quarantine = true, .safe_mode = true,
                                         .restore = true, .firmware_setup = true };
static const struct ul_caps caps_none = { 0 };

static void build(struct ul_menu *m, uint32_t attempts, uint64_t last_good,
                  const struct ul_config *cfg, const struct ul_caps *caps,
                  struct ul_decision *d)
{
    struct ul_state st = { .attempts = attempts, .last_good = last_good };
    ul_decide(&st, cfg, caps, d);
    memset(m, 0x5a, sizeof(*m));
    ul_menu_build(m, &st, d, caps);
}

static void test_items_and_keys(void **state)
{
    (void)state;
    struct ul_config cfg;
    struct ul_decision d;
    struct ul_menu m;
    static const enum ul_action order[] = {
        UL_ACTION_CONTINUE, UL_ACTION_QUARANTINE, UL_ACTION_SAFE_MODE,
        UL_ACTION_SAFE_MODE_NETWORK, UL_ACTION_RESTORE, UL_ACTION_SHOW_LOG, UL_ACTION_REBOOT,
        UL_ACTION_FIRMWARE_SETUP,
    };

    ul_config_defaults(&cfg);
    build(&m, 3, 0, &cfg, &caps_all, &d);
    assert_int_equal(m.n_items, 8);
    for (uint32_t i = 0; i < m.n_items; i++) {
        assert_int_equal(m.items[i].action, order[i]);
        assert_int_equal(m.items[i].key, '1' + (int)i);
        assert_non_null(m.items[i].label);
        assert_true(strlen(m.items[i].label) > 0 && strlen(m.items[i].label) < 70);
        assert_true(m.items[i].available);
        assert_string_equal(m.items[i].note, "");
    }
    assert_non_null(strstr(m.items[1].label, "newest"));

    /* On the wide rung the quarantine item is the wide one. */
    build(&m, 4, 0, &cfg, &caps_all, &d);
    assert_int_equal(d.rung, UL_RUNG_QUARANTINE_WIDE);
    assert_int_equal(m.items[1].action, UL_ACTION_QUARANTINE_WIDE);
    assert_non_null(strstr(m.items[1].label, "since the last good boot"));
}

static void test_find_key(void **state)
{
    (void)state;
    struct ul_config cfg;
    struct ul_decision d;
    struct ul_menu m;

    ul_config_defaults(&cfg);
    build(&m, 3, 0, &cfg, &caps_none, &d);
    for (char k = '1'; k <= '8'; k++)
        assert_int_equal(ul_menu_find_key(&m, k), k - '1');
    static const char none[] = { '0', '9', 'a', 'q', ' ', '\r', 0, 27 };
    for (size_t i = 0; i < sizeof(none); i++)
        assert_int_equal(ul_menu_find_key(&m, none[i]), -1);
    assert_true(m.n_items <= UL_MENU_MAX_ITEMS);
}

static void test_status_lines(void **state)
{
    (void)state;
    struct ul_config cfg;
    struct ul_decision d;
    struct ul_menu m;

    ul_config_defaults(&cfg);
    build(&m, 3, 0, &cfg, &caps_none, &d);
    assert_non_null(strstr(m.title, UL_VERSION));
    assert_true(m.n_lines >= 3 && m.n_lines <= UL_MENU_MAX_LINES);
    assert_non_null(strstr(m.lines[0], "3 boot attempts"));
    assert_non_null(strstr(m.lines[1], "No good boot"));
    assert_non_null(strstr(m.lines[2], "2 of 5"));
    assert_non_null(strstr(m.lines[2], "quarantine-newest"));

    /* 2024-02-29 12:34:56 UTC */
    build(&m, 7, 1709210096, &cfg, &caps_none, &d);
    assert_non_null(strstr(m.lines[0], "7 boot attempts"));
    assert_non_null(strstr(m.lines[1], "2024-02-29 12:34:56 UTC"));
    assert_non_null(strstr(m.lines[2], "5 of 5"));
    assert_non_null(strstr(m.lines[2], "stop"));
    for (uint32_t i = 0; i < m.n_lines; i++)
        assert_true(strlen(m.lines[i]) < UL_MENU_LINE_LEN);
}

static void test_unavailable_notes(void **state)
{
    (void)state;
    struct ul_config cfg;
    struct ul_decision d;
    struct ul_menu m;

    ul_config_defaults(&cfg);
    build(&m, 3, 0, &cfg, &caps_none, &d);
    for (uint32_t i = 0; i < m.n_items; i++) {
        const struct ul_menu_item *it = &m.items[i];
        switch (it->action) {
        case UL_ACTION_CONTINUE:
        case UL_ACTION_SHOW_LOG:
        case UL_ACTION_REBOOT:
            assert_true(it->available);
            assert_string_equal(it->note, "");
            break;
        case UL_ACTION_QUARANTINE:
        case UL_ACTION_RESTORE:
            assert_false(it->available);
            assert_non_null(strstr(it->note, "issue #3"));
            assert_non_null(strstr(it->note, "not available in this build"));
            break;
        case UL_ACTION_SAFE_MODE:
        case UL_ACTION_SAFE_MODE_NETWORK:
            assert_false(it->available);
            assert_non_null(strstr(it->note, "issue #4"));
            break;
        case UL_ACTION_FIRMWARE_SETUP:
            assert_false(it->available);
            assert_non_null(strstr(it->note, "firmware"));
            break;
        default:
            fail_msg("unexpected item %s", ul_action_name(it->action));
        }
        assert_true(strlen(it->note) < sizeof(it->note));
    }
    /* The wide quarantine is issue 3 as well. */
    build(&m, 4, 0, &cfg, &caps_none, &d);
    assert_non_null(strstr(m.items[1].note, "issue #3"));
}

static void test_timeout_and_wait_follow_decision(void **state)
{
    (void)state;
    struct ul_config cfg;
    struct ul_decision d;
    struct ul_menu m;

    ul_config_defaults(&cfg);
    cfg.menu_timeout = 12;
    cfg.stop_timeout = 0;
    build(&m, 3, 0, &cfg, &caps_none, &d);
    assert_int_equal(m.timeout, 12);
    assert_false(m.wait);
    build(&m, 6, 0, &cfg, &caps_none, &d);
    assert_true(m.wait);
    cfg.stop_timeout = 99;
    build(&m, 6, 0, &cfg, &caps_none, &d);
    assert_false(m.wait);
    assert_int_equal(m.timeout, 99);
}

/* Whatever the decision's default, the menu's default item performs it. */
static void test_default_index_matches_decision(void **state)
{
    (void)state;
    unsigned checked = 0;
    for (unsigned capbits = 0; capbits < 16; capbits++) {
        struct ul_caps caps = { .quarantine = capbits & 1, .safe_mode = capbits & 2,
                                .restore = capbits & 4, .firmware_setup = capbits & 8 };
        for (int da = 0; da < UL_ACTION__MAX; da++) {
            if (da == UL_ACTION_SHOW_LOG || da == UL_ACTION_FIRMWARE_SETUP)
                continue; /* the parser never lets these be the default */
            for (uint32_t a = 3; a <= 8; a++) {
                struct ul_config cfg;
                struct ul_decision d;
                struct ul_menu m;
                ul_config_defaults(&cfg);
                cfg.default_action = (enum ul_action)da;
                build(&m, a, 0, &cfg, &caps, &d);
                assert_true(d.show_menu);
                assert_true(m.default_index < m.n_items);
                const struct ul_menu_item *it = &m.items[m.default_index];
                if (it->action != d.action)
                    fail_msg("caps %#x default_action %s attempts %u: decision %s, menu "
                             "default item '%s'", capbits, ul_action_name((enum ul_action)da),
                             a, ul_action_name(d.action), it->label);
                assert_true(it->available);
                checked++;
            }
        }
    }
    print_message("menu defaults: %u combinations\n", checked);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_items_and_keys),
        cmocka_unit_test(test_find_key),
        cmocka_unit_test(test_status_lines),
        cmocka_unit_test(test_unavailable_notes),
        cmocka_unit_test(test_timeout_and_wait_follow_decision),
        cmocka_unit_test(test_default_index_matches_decision),
    };
    return cmocka_run_group_tests_name("menu", tests, NULL, NULL);
}
