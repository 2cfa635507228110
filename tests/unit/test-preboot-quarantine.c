/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ul_run with a Windows volume (the NTFS-like fake): the boot loop reaches
 * the threshold, the menu shows the candidates, the countdown quarantines
 * the newest one, the journal lands on both volumes, the state records the
 * step; the next failing attempt goes wide; Restore from the menu puts the
 * files back; a volume the adapter refuses to write leaves quarantine
 * unavailable with its reason, and the ladder moves on to Safe Mode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake-volume.h"
#include "run.h"
#include "time-util.h"
#include "ul-errno.h"
#include "unloop-contract.h"

static struct fake_volume esp_fv, win_fv;
static struct fake_clock fclock;
static struct ul_log log_;
static struct ul_env env;
static struct ul_run_result res;

static char keys[8];
static unsigned nkeys, menus, notices;
static struct ul_menu last_menu;

static int ui_menu(void *ctx, const struct ul_menu *m, uint32_t *idx, bool *timed_out)
{
    (void)ctx;
    last_menu = *m;
    if (menus < nkeys && keys[menus]) {
        int i = ul_menu_find_key(m, keys[menus++]);
        assert_true(i >= 0);
        *idx = (uint32_t)i;
        *timed_out = false;
        return 0;
    }
    menus++;
    *idx = m->default_index;
    *timed_out = true;
    return 0;
}
static int ui_text(void *ctx, const char *t, const char *x) { (void)ctx; (void)t; (void)x; return 0; }
static void ui_notice(void *ctx, const char *m) { (void)ctx; (void)m; notices++; }
static const struct ul_ui_ops ui_ops = { ui_menu, ui_text, ui_notice };

static void *m_alloc(void *ctx, size_t n) { (void)ctx; return calloc(1, n); }
static void m_free(void *ctx, void *p) { (void)ctx; free(p); }
static const struct ul_mem_ops mem_ops = { m_alloc, m_free };

#define CS "\\Windows\\System32\\drivers\\CrowdStrike\\"
#define BAD CS "C-00000291-00000000-00000032.sys"
#define PREV CS "C-00000291-00000000-00000031.sys"

static uint64_t ft(int y, int mo, int d, int h, int mi)
{
    return ul_filetime_from_unix(ul_time_from_fields(y, mo, d, h, mi, 0));
}

static void put(const char *path, size_t len, uint8_t fill, uint64_t t)
{
    uint8_t *buf = malloc(len);
    struct ul_times times = { t, t, t, t };
    memset(buf, fill, len);
    assert_int_equal(fake_volume_put(&win_fv, path, buf, len), 0);
    assert_int_equal(fake_volume_set_times(&win_fv, path, &times), 0);
    free(buf);
}

static int setup(void **state)
{
    (void)state;
    fake_volume_reset(&esp_fv);
    fake_volume_reset(&win_fv);
    win_fv.move_stamp = ft(2024, 7, 19, 5, 0);
    put(BAD, 41984, 0, ft(2024, 7, 19, 4, 9));
    put(PREV, 40960, 0xaa, ft(2024, 7, 19, 1, 0));
    put("\\Windows\\System32\\drivers\\ntfs.sys", 2048, 'M', ft(2024, 5, 14, 0, 0));
    const char conf[] = "[unloop]\nthreshold = 3\n";
    assert_int_equal(fake_volume_put(&esp_fv, UL_CONFIG_PATH, conf, sizeof(conf) - 1), 0);
    fake_clock_set(&fclock, ul_time_from_fields(2024, 7, 19, 5, 0, 0), UL_TZ_UNSPECIFIED, true);
    ul_log_init(&log_, NULL, NULL, NULL, "test");
    memset(&env, 0, sizeof(env));
    env.esp = fake_volume_get(&esp_fv);
    env.have_esp = true;
    env.clock = fake_clock_get(&fclock);
    env.log = &log_;
    env.ui = &ui_ops;
    env.caps.safe_mode = true;
    env.mem = (struct ul_mem){ &mem_ops, NULL };
    env.win = fake_volume_get(&win_fv);
    env.have_win = true;
    nkeys = menus = notices = 0;
    memset(keys, 0, sizeof(keys));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_volume_reset(&esp_fv);
    fake_volume_reset(&win_fv);
    return 0;
}

/* Good boot at 2024-07-19 00:00 UTC, then failing attempts. */
static void blessed_then_fail(unsigned attempts)
{
    struct ul_state st;
    struct ul_state_info info;
    int err;
    ul_run(&env, &res);
    ul_state_read(&env.esp, &st, &info, &err);
    ul_state_apply_bless(&st, (uint64_t)ul_time_from_fields(2024, 7, 19, 0, 0, 0));
    assert_int_equal(ul_state_write(&env.esp, &st, &info), 0);
    for (unsigned i = 0; i < attempts; i++)
        ul_run(&env, &res);
}

static bool menu_has_line(const char *needle)
{
    for (uint32_t i = 0; i < last_menu.n_lines; i++)
        if (strstr(last_menu.lines[i], needle))
            return true;
    return false;
}

static void test_newest_then_wide_then_restore(void **state)
{
    (void)state;
    blessed_then_fail(2);
    assert_false(res.menu_shown);
    assert_true(fake_volume_exists(&win_fv, BAD));

    ul_run(&env, &res); /* attempt 3: threshold */
    assert_true(res.menu_shown);
    assert_int_equal(res.decision.rung, UL_RUNG_QUARANTINE_NEWEST);
    assert_int_equal(res.candidates, 2);
    assert_true(menu_has_line("C-00000291-00000000-00000032.sys"));
    assert_true(menu_has_line("2024-07-19 04:09   41984 zero drivers\\CrowdStrike\\C-00000291"));
    assert_int_equal(res.action, UL_ACTION_CONTINUE);
    assert_int_equal(res.quarantined, 1);
    assert_false(fake_volume_exists(&win_fv, BAD));
    assert_true(fake_volume_exists(&win_fv, PREV));
    assert_true(fake_volume_exists(&win_fv, "\\unloop.quarantine\\20240719-050000" BAD));
    /* the journal is on both volumes, identical */
    size_t a, b;
    const uint8_t *jw = fake_volume_peek(&win_fv, "\\unloop.quarantine\\journal", &a);
    const uint8_t *je = fake_volume_peek(&esp_fv, "\\EFI\\unloop\\journal", &b);
    assert_non_null(jw);
    assert_non_null(je);
    assert_int_equal(a, b);
    assert_memory_equal(jw, je, a);
    struct ul_state st;
    struct ul_state_info info;
    int err;
    ul_state_read(&env.esp, &st, &info, &err);
    assert_int_equal(st.rung, UL_RUNG_QUARANTINE_NEWEST);

    /* Still failing: attempt 4 goes wide and takes the other recent file. */
    fake_clock_set(&fclock, ul_time_from_fields(2024, 7, 19, 5, 5, 0), UL_TZ_UNSPECIFIED, true);
    ul_run(&env, &res);
    assert_int_equal(res.decision.rung, UL_RUNG_QUARANTINE_WIDE);
    assert_int_equal(res.quarantined, 1);
    assert_false(fake_volume_exists(&win_fv, PREV));
    assert_true(fake_volume_exists(&win_fv, "\\Windows\\System32\\drivers\\ntfs.sys"));

    /* Attempt 5 is Safe Mode, but a person picks Restore: '5'. */
    keys[0] = '5';
    nkeys = 1;
    menus = 0;
    ul_run(&env, &res);
    assert_int_equal(res.restored, 1); /* the newest run: PREV */
    assert_true(fake_volume_exists(&win_fv, PREV));
    assert_false(fake_volume_exists(&win_fv, BAD));
}

static void test_refused_volume_moves_on_to_safe_mode(void **state)
{
    (void)state;
    env.win_why_not = "NTFS journal unclean";
    blessed_then_fail(3);
    assert_true(res.menu_shown);
    assert_true(fake_volume_exists(&win_fv, BAD));
    assert_int_equal(res.quarantined, 0);
    assert_int_equal(res.decision.rung, UL_RUNG_SAFE_MODE);
    /* item 2 says why; Safe Mode had no BCD to edit: a notice, and the boot goes on */
    assert_string_equal(last_menu.items[1].note, "NTFS journal unclean");
    assert_int_equal(res.action, UL_ACTION_CONTINUE);
    assert_true(notices >= 1);
}

static void test_nothing_recent_skips_quarantine(void **state)
{
    (void)state;
    struct ul_times old = { 1, 1, 1, 1 };
    fake_volume_set_times(&win_fv, BAD, &old);
    fake_volume_set_times(&win_fv, PREV, &old);
    blessed_then_fail(3);
    assert_int_equal(res.candidates, 0);
    assert_int_equal(res.decision.rung, UL_RUNG_SAFE_MODE);
    assert_int_equal(res.quarantined, 0);
    assert_string_equal(last_menu.items[1].note, "no recent third-party driver content");
}

static void test_healthy_boot_does_not_scan(void **state)
{
    (void)state;
    blessed_then_fail(1);
    assert_int_equal(res.candidates, 0);
    assert_int_equal(win_fv.n_stats, 0);
    assert_int_equal(win_fv.n_reads, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_newest_then_wide_then_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_volume_moves_on_to_safe_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nothing_recent_skips_quarantine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_healthy_boot_does_not_scan, setup, teardown),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    fake_volume_free(&esp_fv);
    fake_volume_free(&win_fv);
    return r;
}
