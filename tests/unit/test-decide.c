/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * decide: the recovery ladder of DESIGN §3 as a table over attempts,
 * thresholds and what the build can do.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "decide.h"

static const struct ul_caps caps_all = { .quarantine = true, .safe_mode = true,
                                         .restore = true, .firmware_setup = true };
static const struct ul_caps caps_none = { 0 };
static const struct ul_caps caps_safe = { .safe_mode = true };
static const struct ul_caps caps_quarantine = { .quarantine = true };

static struct ul_decision decide(uint32_t attempts, const struct ul_config *cfg,
                                 const struct ul_caps *caps)
{
    struct ul_state st = { .attempts = attempts };
    struct ul_decision d;
    memset(&d, 0x5a, sizeof(d)); /* must be fully written */
    ul_decide(&st, cfg, caps, &d);
    return d;
}

static struct ul_config config(uint32_t threshold)
{
    struct ul_config c;
    ul_config_defaults(&c);
    c.threshold = threshold;
    c.menu_timeout = 17;
    c.stop_timeout = 0;
    return c;
}

static void check(const struct ul_decision *d, uint32_t attempts, uint32_t threshold,
                  enum ul_rung rung, enum ul_action action, bool menu, bool wait,
                  uint32_t timeout, uint32_t n_skipped, const enum ul_rung *skipped)
{
    if (d->rung != rung || d->action != action || d->show_menu != menu || d->wait != wait ||
        d->timeout != timeout || d->n_skipped != n_skipped)
        fail_msg("attempts %u threshold %u: got rung %d action %s menu %d wait %d timeout %u "
                 "skipped %u; want rung %d action %s menu %d wait %d timeout %u skipped %u",
                 attempts, threshold, d->rung, ul_action_name(d->action), d->show_menu,
                 d->wait, d->timeout, d->n_skipped, rung, ul_action_name(action), menu, wait,
                 timeout, n_skipped);
    for (uint32_t i = 0; i < n_skipped; i++)
        assert_int_equal(d->skipped[i], skipped[i]);
}

static void test_ladder_table_all_caps(void **state)
{
    (void)state;
    static const uint32_t thresholds[] = { 1, 3, 5 };
    for (size_t t = 0; t < 3; t++) {
        uint32_t th = thresholds[t];
        struct ul_config cfg = config(th);
        for (uint32_t a = 0; a <= 10; a++) {
            struct ul_decision d = decide(a, &cfg, &caps_all);
            if (a < th)
                check(&d, a, th, UL_RUNG_HANDOFF, UL_ACTION_CONTINUE, false, false, 0, 0, NULL);
            else if (a == th)
                check(&d, a, th, UL_RUNG_QUARANTINE_NEWEST, UL_ACTION_QUARANTINE, true, false,
                      17, 0, NULL);
            else if (a == th + 1)
                check(&d, a, th, UL_RUNG_QUARANTINE_WIDE, UL_ACTION_QUARANTINE_WIDE, true,
                      false, 17, 0, NULL);
            else if (a == th + 2)
                check(&d, a, th, UL_RUNG_SAFE_MODE, UL_ACTION_SAFE_MODE, true, false, 17, 0,
                      NULL);
            else
                check(&d, a, th, UL_RUNG_STOP, UL_ACTION_CONTINUE, true, true, 0, 0, NULL);
        }
    }
}

/* This build: nothing of issues 3 and 4 yet.  Every rung is passed over
 * and named; the default is to continue. */
static void test_ladder_table_no_caps(void **state)
{
    (void)state;
    static const uint32_t thresholds[] = { 1, 3, 5 };
    static const enum ul_rung from2[] = { UL_RUNG_QUARANTINE_NEWEST, UL_RUNG_QUARANTINE_WIDE,
                                          UL_RUNG_SAFE_MODE };
    for (size_t t = 0; t < 3; t++) {
        uint32_t th = thresholds[t];
        struct ul_config cfg = config(th);
        for (uint32_t a = 0; a <= 10; a++) {
            struct ul_decision d = decide(a, &cfg, &caps_none);
            if (a < th)
                check(&d, a, th, UL_RUNG_HANDOFF, UL_ACTION_CONTINUE, false, false, 0, 0, NULL);
            else if (a <= th + 2) {
                uint32_t k = a - th;
                check(&d, a, th, from2[k], UL_ACTION_CONTINUE, true, false, 17, 3 - k,
                      from2 + k);
            } else
                check(&d, a, th, UL_RUNG_STOP, UL_ACTION_CONTINUE, true, true, 0, 0, NULL);
        }
    }
}

/* Only Safe Mode: rung 4 is offered from the first attempt at the threshold. */
static void test_only_safe_mode(void **state)
{
    (void)state;
    static const uint32_t thresholds[] = { 1, 3, 5 };
    for (size_t t = 0; t < 3; t++) {
        uint32_t th = thresholds[t];
        struct ul_config cfg = config(th);
        static const enum ul_rung sk[] = { UL_RUNG_QUARANTINE_NEWEST, UL_RUNG_QUARANTINE_WIDE };
        struct ul_decision d;

        d = decide(th - 1, &cfg, &caps_safe);
        check(&d, th - 1, th, UL_RUNG_HANDOFF, UL_ACTION_CONTINUE, false, false, 0, 0, NULL);
        d = decide(th, &cfg, &caps_safe);
        check(&d, th, th, UL_RUNG_SAFE_MODE, UL_ACTION_SAFE_MODE, true, false, 17, 2, sk);
        d = decide(th + 1, &cfg, &caps_safe);
        check(&d, th + 1, th, UL_RUNG_SAFE_MODE, UL_ACTION_SAFE_MODE, true, false, 17, 1,
              sk + 1);
        d = decide(th + 2, &cfg, &caps_safe);
        check(&d, th + 2, th, UL_RUNG_SAFE_MODE, UL_ACTION_SAFE_MODE, true, false, 17, 0, NULL);
        d = decide(th + 3, &cfg, &caps_safe);
        check(&d, th + 3, th, UL_RUNG_STOP, UL_ACTION_CONTINUE, true, true, 0, 0, NULL);
    }
}

static void test_only_quarantine(void **state)
{
    (void)state;
    struct ul_config cfg = config(3);
    static const enum ul_rung sk[] = { UL_RUNG_SAFE_MODE };
    struct ul_decision d;

    d = decide(3, &cfg, &caps_quarantine);
    check(&d, 3, 3, UL_RUNG_QUARANTINE_NEWEST, UL_ACTION_QUARANTINE, true, false, 17, 0, NULL);
    d = decide(4, &cfg, &caps_quarantine);
    check(&d, 4, 3, UL_RUNG_QUARANTINE_WIDE, UL_ACTION_QUARANTINE_WIDE, true, false, 17, 0,
          NULL);
    d = decide(5, &cfg, &caps_quarantine);
    check(&d, 5, 3, UL_RUNG_SAFE_MODE, UL_ACTION_CONTINUE, true, false, 17, 1, sk);
}

static void test_stop_rung_timeout(void **state)
{
    (void)state;
    struct ul_config cfg = config(3);
    struct ul_decision d;

    cfg.stop_timeout = 0;
    d = decide(6, &cfg, &caps_all);
    check(&d, 6, 3, UL_RUNG_STOP, UL_ACTION_CONTINUE, true, true, 0, 0, NULL);

    cfg.stop_timeout = 45;
    for (uint32_t a = 6; a < 40; a += 11) {
        d = decide(a, &cfg, &caps_all);
        check(&d, a, 3, UL_RUNG_STOP, UL_ACTION_CONTINUE, true, false, 45, 0, NULL);
    }
    /* Rungs 2-4 count down menu_timeout, even when it is 0 (take the default at once). */
    cfg.menu_timeout = 0;
    d = decide(5, &cfg, &caps_all);
    check(&d, 5, 3, UL_RUNG_SAFE_MODE, UL_ACTION_SAFE_MODE, true, false, 0, 0, NULL);

    /* No overflow at the top of the counter. */
    cfg.threshold = 100;
    d = decide(UINT32_MAX, &cfg, &caps_none);
    assert_int_equal(d.rung, UL_RUNG_STOP);
    d = decide(99, &cfg, &caps_none);
    assert_int_equal(d.rung, UL_RUNG_HANDOFF);

    /* A threshold of 0 (not reachable through the parser) acts as 1. */
    cfg = config(0);
    d = decide(0, &cfg, &caps_all);
    assert_int_equal(d.rung, UL_RUNG_HANDOFF);
    d = decide(1, &cfg, &caps_all);
    assert_int_equal(d.rung, UL_RUNG_QUARANTINE_NEWEST);
}

static void test_default_action_override(void **state)
{
    (void)state;
    struct ul_config cfg = config(3);
    struct ul_decision d;

    /* Always possible: overrides every menu rung, never the healthy one. */
    cfg.default_action = UL_ACTION_REBOOT;
    for (uint32_t a = 0; a <= 8; a++) {
        d = decide(a, &cfg, &caps_none);
        assert_int_equal(d.action, a < 3 ? UL_ACTION_CONTINUE : UL_ACTION_REBOOT);
        assert_int_equal(d.show_menu, a >= 3);
    }
    /* The stop rung still waits for a person; the override only sets the default. */
    d = decide(6, &cfg, &caps_none);
    assert_true(d.wait);
    assert_int_equal(d.rung, UL_RUNG_STOP);

    /* Not available: the ladder's default stands. */
    cfg.default_action = UL_ACTION_SAFE_MODE;
    d = decide(3, &cfg, &caps_none);
    assert_int_equal(d.action, UL_ACTION_CONTINUE);
    d = decide(3, &cfg, &caps_quarantine);
    assert_int_equal(d.action, UL_ACTION_QUARANTINE);
    /* Available: it wins even over an available rung action. */
    d = decide(3, &cfg, &caps_all);
    assert_int_equal(d.action, UL_ACTION_SAFE_MODE);
    assert_int_equal(d.rung, UL_RUNG_QUARANTINE_NEWEST);

    cfg.default_action = UL_ACTION_CONTINUE;
    for (uint32_t a = 3; a <= 8; a++)
        assert_int_equal(decide(a, &cfg, &caps_all).action, UL_ACTION_CONTINUE);

    cfg.default_action = UL_ACTION_RESTORE;
    assert_int_equal(decide(4, &cfg, &caps_quarantine).action, UL_ACTION_QUARANTINE_WIDE);
    assert_int_equal(decide(4, &cfg, &caps_all).action, UL_ACTION_RESTORE);

    cfg.default_action = UL_ACTION_LADDER;
    assert_int_equal(decide(5, &cfg, &caps_all).action, UL_ACTION_SAFE_MODE);
}

static void test_action_helpers(void **state)
{
    (void)state;
    assert_int_equal(ul_rung_action(UL_RUNG_NONE), UL_ACTION_CONTINUE);
    assert_int_equal(ul_rung_action(UL_RUNG_HANDOFF), UL_ACTION_CONTINUE);
    assert_int_equal(ul_rung_action(UL_RUNG_QUARANTINE_NEWEST), UL_ACTION_QUARANTINE);
    assert_int_equal(ul_rung_action(UL_RUNG_QUARANTINE_WIDE), UL_ACTION_QUARANTINE_WIDE);
    assert_int_equal(ul_rung_action(UL_RUNG_SAFE_MODE), UL_ACTION_SAFE_MODE);
    assert_int_equal(ul_rung_action(UL_RUNG_STOP), UL_ACTION_CONTINUE);

    static const struct {
        enum ul_action a;
        bool none, all;
        const char *issue;
    } t[] = {
        { UL_ACTION_LADDER, false, false, "" },
        { UL_ACTION_CONTINUE, true, true, "" },
        { UL_ACTION_QUARANTINE, false, true, "#3" },
        { UL_ACTION_QUARANTINE_WIDE, false, true, "#3" },
        { UL_ACTION_SAFE_MODE, false, true, "#4" },
        { UL_ACTION_SAFE_MODE_NETWORK, false, true, "#4" },
        { UL_ACTION_RESTORE, false, true, "#3" },
        { UL_ACTION_SHOW_LOG, true, true, "" },
        { UL_ACTION_REBOOT, true, true, "" },
        { UL_ACTION_FIRMWARE_SETUP, false, true, "" },
        { UL_ACTION__MAX, false, false, "" },
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        assert_int_equal(ul_action_available(t[i].a, &caps_none), t[i].none);
        assert_int_equal(ul_action_available(t[i].a, &caps_all), t[i].all);
        assert_string_equal(ul_action_issue(t[i].a), t[i].issue);
    }
    /* Each capability switches only its own actions. */
    assert_true(ul_action_available(UL_ACTION_SAFE_MODE_NETWORK, &caps_safe));
    assert_false(ul_action_available(UL_ACTION_QUARANTINE, &caps_safe));
    struct ul_caps fw = { .firmware_setup = true };
    assert_true(ul_action_available(UL_ACTION_FIRMWARE_SETUP, &fw));
    assert_false(ul_action_available(UL_ACTION_RESTORE, &fw));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ladder_table_all_caps),
        cmocka_unit_test(test_ladder_table_no_caps),
        cmocka_unit_test(test_only_safe_mode),
        cmocka_unit_test(test_only_quarantine),
        cmocka_unit_test(test_stop_rung_timeout),
        cmocka_unit_test(test_default_action_override),
        cmocka_unit_test(test_action_helpers),
    };
    return cmocka_run_group_tests_name("decide", tests, NULL, NULL);
}
