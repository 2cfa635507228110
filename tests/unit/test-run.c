/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * run: one pre-boot run end to end on the fake ESP, with a scripted UI in
 * place of the console.  Fail open: whatever goes wrong, the boot goes on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake-volume.h"
#include "run.h"
#include "ul-errno.h"
#include "unloop-contract.h"

/* ------------------------------------------------------------ scripted UI */

enum step_kind { STEP_TIMEOUT, STEP_KEY, STEP_ERROR, STEP_INDEX };

struct step {
    enum step_kind kind;
    char key;               /* STEP_KEY */
    int err;                /* STEP_ERROR */
    uint32_t index;         /* STEP_INDEX: raw index, timed_out as given */
    bool timed_out;
};

#define MAX_STEPS 8

struct ui {
    struct step steps[MAX_STEPS];
    unsigned n_steps, next;
    /* what the UI was shown */
    unsigned menu_calls;
    struct ul_menu menus[MAX_STEPS];
    unsigned notices;
    char notice[4][200];
    unsigned texts;
    char text_title[100];
    char *text;             /* copy of the last page shown */
};

static int ui_menu(void *ctx, const struct ul_menu *menu, uint32_t *ret_index, bool *ret_timed_out)
{
    struct ui *ui = ctx;
    if (ui->menu_calls < MAX_STEPS)
        ui->menus[ui->menu_calls] = *menu;
    ui->menu_calls++;
    if (ui->next >= ui->n_steps)
        fail_msg("menu shown %u times, the script has %u steps", ui->menu_calls, ui->n_steps);
    const struct step *s = &ui->steps[ui->next++];
    switch (s->kind) {
    case STEP_TIMEOUT:
        if (menu->wait)
            fail_msg("script: countdown on a menu that waits for a key");
        *ret_index = menu->default_index;
        *ret_timed_out = true;
        return 0;
    case STEP_KEY: {
        int i = ul_menu_find_key(menu, s->key);
        if (i < 0)
            fail_msg("script: key '%c' not in the menu", s->key);
        *ret_index = (uint32_t)i;
        *ret_timed_out = false;
        return 0;
    }
    case STEP_INDEX:
        *ret_index = s->index;
        *ret_timed_out = s->timed_out;
        return 0;
    case STEP_ERROR:
        return s->err;
    }
    return -UL_EINVAL;
}

static int ui_show_text(void *ctx, const char *title, const char *text)
{
    struct ui *ui = ctx;
    ui->texts++;
    snprintf(ui->text_title, sizeof(ui->text_title), "%s", title);
    free(ui->text);
    ui->text = strdup(text);
    return 0;
}

static void ui_notice(void *ctx, const char *msg)
{
    struct ui *ui = ctx;
    if (ui->notices < 4)
        snprintf(ui->notice[ui->notices], sizeof(ui->notice[0]), "%s", msg);
    ui->notices++;
}

static const struct ul_ui_ops ui_ops = {
    .menu = ui_menu,
    .show_text = ui_show_text,
    .notice = ui_notice,
};

/* ------------------------------------------------------------ fixture */

static struct fake_volume vol;
static struct fake_clock fclock;
static struct ul_log log_;
static struct ul_env env;
static struct ui ui;
static struct ul_run_result res;

static int setup(void **state)
{
    (void)state;
    fake_volume_init(&vol);
    memset(&fclock, 0, sizeof(fclock));
    fake_clock_set(&fclock, 1700000000, UL_TZ_UNSPECIFIED, true);
    memset(&ui, 0, sizeof(ui));
    memset(&env, 0, sizeof(env));
    env.esp = fake_volume_get(&vol);
    env.have_esp = true;
    env.clock = fake_clock_get(&fclock);
    ul_log_init(&log_, NULL, NULL, &env.clock, "pre-boot");
    env.log = &log_;
    env.ui = &ui_ops;
    env.ui_ctx = &ui;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(ui.text);
    ui.text = NULL;
    fake_volume_free(&vol);
    return 0;
}

static void script(unsigned n, const struct step *steps)
{
    memset(ui.steps, 0, sizeof(ui.steps));
    memcpy(ui.steps, steps, n * sizeof(*steps));
    ui.n_steps = n;
    ui.next = 0;
    ui.menu_calls = 0;
    ui.notices = 0;
    ui.texts = 0;
}

static bool logged(const char *needle)
{
    static char s[UL_LOG_BUF_SIZE + 1];
    memcpy(s, log_.buf, log_.len);
    s[log_.len] = 0;
    return strstr(s, needle) != NULL;
}

#define assert_logged(s)                                                                  \
    do {                                                                                  \
        if (!logged(s))                                                                   \
            fail_msg("log lacks \"%s\"; it has:\n%.*s", (s), (int)log_.len, log_.buf);    \
    } while (0)
#define assert_not_logged(s)                                                              \
    do {                                                                                  \
        if (logged(s))                                                                    \
            fail_msg("log has \"%s\"", (s));                                              \
    } while (0)

/* A run as the adapter does it: fresh log buffer each boot. */
static void run(void)
{
    ul_log_init(&log_, NULL, NULL, &env.clock, "pre-boot");
    ul_run(&env, &res);
}

/* A state file as a previous run would have left it. */
static void put_state(uint32_t attempts)
{
    struct ul_state st = { .seq = 10, .attempts = attempts, .boots = 50 + attempts };
    uint8_t f[UL_STATE_FILE_SIZE] = { 0 };
    ul_state_encode(&st, f);
    assert_int_equal(fake_volume_put(&vol, UL_STATE_PATH, f, sizeof(f)), 0);
}

static void put_config(const char *text)
{
    assert_int_equal(fake_volume_put(&vol, UL_CONFIG_PATH, text, strlen(text)), 0);
}

static uint32_t stored_attempts(void)
{
    struct ul_state st;
    struct ul_state_info info;
    int err;
    ul_state_read(&env.esp, &st, &info, &err);
    assert_int_equal(err, 0);
    return st.attempts;
}

static void reset_counters(void)
{
    vol.n_writes = vol.n_mkdirs = vol.n_renames = vol.n_removes = 0;
    memset(vol.write_log, 0, sizeof(vol.write_log));
}

/* ------------------------------------------------------------ tests */

static void test_healthy_first_run(void **state)
{
    (void)state;
    run();
    assert_int_equal(res.action, UL_ACTION_CONTINUE);
    assert_false(res.menu_shown);
    assert_true(res.state_saved);
    assert_int_equal(res.state.attempts, 1);
    assert_int_equal(res.state.boots, 1);
    assert_int_equal(res.state.first_attempt, 1700000000);
    assert_int_equal(res.state.clock_tz, UL_TZ_UNSPECIFIED);
    assert_int_equal(res.decision.rung, UL_RUNG_HANDOFF);
    assert_int_equal(ui.menu_calls, 0);
    assert_string_equal(res.cfg.loader, UL_DEFAULT_LOADER);

    /* Exactly one write: the new state file, laid out whole. */
    assert_int_equal(vol.n_writes, 1);
    assert_string_equal(vol.write_log[0].path, UL_STATE_PATH);
    assert_int_equal(vol.write_log[0].off, 0);
    assert_int_equal(vol.write_log[0].len, UL_STATE_FILE_SIZE);
    assert_int_equal(vol.write_log[0].result, 0);
    assert_int_equal(vol.n_mkdirs, 2);
    assert_int_equal(vol.n_renames + vol.n_removes, 0);
    assert_false(fake_volume_exists(&vol, UL_LOG_PATH)); /* the adapter flushes */
    assert_int_equal(stored_attempts(), 1);

    assert_logged("no \\EFI\\unloop\\unloop.conf: using built-in defaults");
    assert_logged("notice: no state file yet");
    assert_logged("attempt 1 of 3 since the last good boot: starting "
                  "\\EFI\\Microsoft\\Boot\\bootmgfw.efi");

    /* The second healthy run: one slot-sized write into the other slot. */
    reset_counters();
    fake_clock_set(&fclock, 1700000100, UL_TZ_UNSPECIFIED, true);
    run();
    assert_int_equal(res.action, UL_ACTION_CONTINUE);
    assert_false(res.menu_shown);
    assert_int_equal(res.state.attempts, 2);
    assert_int_equal(res.state.first_attempt, 1700000000);
    assert_int_equal(res.state.last_attempt, 1700000100);
    assert_int_equal(vol.n_writes, 1);
    assert_int_equal(vol.write_log[0].off, UL_STATE_SLOT_STRIDE);
    assert_int_equal(vol.write_log[0].len, UL_STATE_SLOT_SIZE);
    assert_int_equal(vol.n_mkdirs, 0);
    assert_not_logged("no state file");
    assert_int_equal(stored_attempts(), 2);
}

static void test_config_applied(void **state)
{
    (void)state;
    put_config("[unloop]\nthreshold = 1\nmenu_timeout = 4\nloader = /EFI/Boot/grubx64.efi\n"
               "log_level = debug\n");
    static const struct step s[] = { { .kind = STEP_TIMEOUT } };
    script(1, s);
    run();
    assert_int_equal(res.cfg.threshold, 1);
    assert_string_equal(res.cfg.loader, "\\EFI\\Boot\\grubx64.efi");
    assert_int_equal(log_.level, UL_LOG_DEBUG);
    assert_true(res.menu_shown);
    assert_int_equal(ui.menus[0].timeout, 4);
    assert_int_equal(res.action, UL_ACTION_CONTINUE);
    assert_not_logged("unloop.conf line");
}

static void test_missing_config(void **state)
{
    (void)state;
    put_state(0);
    run();
    struct ul_config def;
    ul_config_defaults(&def);
    assert_memory_equal(&res.cfg, &def, sizeof(def));
    assert_logged("info: no \\EFI\\unloop\\unloop.conf: using built-in defaults");
    assert_int_equal(res.action, UL_ACTION_CONTINUE);
}

static void test_corrupt_config_still_boots(void **state)
{
    (void)state;
    put_config("[unloop]\nthreshold = banana\nmenu_timeout = 7\n");
    put_state(0); /* healthy: no menu */
    run();
    assert_int_equal(res.action, UL_ACTION_CONTINUE);
    assert_true(res.state_saved);
    assert_int_equal(res.cfg.threshold, 3);
    assert_int_equal(res.cfg.menu_timeout, 7);
    assert_logged("warning: unloop.conf line 2: threshold: 'banana' is not a number in 1..100");

    /* Garbage from end to end: defaults, still a normal boot. */
    uint8_t junk[3000];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 131 + 7);
    assert_int_equal(fake_volume_put(&vol, UL_CONFIG_PATH, junk, sizeof(junk)), 0);
    put_state(0); /* healthy: no menu */
    run();
    assert_int_equal(res.action, UL_ACTION_CONTINUE);
    assert_int_equal(res.cfg.threshold, 3);
    assert_logged("unloop.conf line 1:");

    /* More problems than diagnostics: the rest are counted. */
    char many[1024] = "";
    for (int i = 0; i < UL_CONFIG_MAX_DIAGS + 4; i++)
        strcat(many, "nonsense\n");
    put_config(many);
    put_state(0); /* healthy: no menu */
    run();
    assert_logged("unloop.conf: 4 more problems not shown");

    /* A config that cannot be read. */
    fake_volume_fail_path(&vol, UL_CONFIG_PATH, -UL_EIO);
    put_state(0); /* healthy: no menu */
    run();
    assert_int_equal(res.action, UL_ACTION_CONTINUE);
    assert_true(res.state_saved);
    assert_logged("cannot read \\EFI\\unloop\\unloop.conf; using built-in defaults: EIO");
}

static void test_corrupt_state_counts_from_zero(void **state)
{
    (void)state;
    uint8_t junk[UL_STATE_FILE_SIZE];
    memset(junk, 0x5c, sizeof(junk));
    assert_int_equal(fake_volume_put(&vol, UL_STATE_PATH, junk, sizeof(junk)), 0);
    run();
    assert_int_equal(res.action, UL_ACTION_CONTINUE);
    assert_int_equal(res.state.attempts, 1);
    assert_true(res.state_saved);
    assert_logged("\\EFI\\unloop\\state is corrupt (no valid slot); counting from zero");
    assert_int_equal(stored_attempts(), 1);

    /* One slot damaged: the other is used and the damage named. */
    put_state(1);
    uint8_t *f = (uint8_t *)fake_volume_peek(&vol, UL_STATE_PATH, &(size_t){ 0 });
    memset(f + UL_STATE_SLOT_STRIDE, 0x11, 16);
    run();
    assert_int_equal(res.state.attempts, 2);
    assert_logged("state slot 1 is damaged (interrupted write?); using slot 0");

    /* A state file that cannot be read: counted from zero, and said so. */
    fake_volume_fail_path(&vol, UL_STATE_PATH, -UL_EIO);
    run();
    assert_int_equal(res.action, UL_ACTION_CONTINUE);
    assert_int_equal(res.state.attempts, 1);
    assert_false(res.state_saved);
    assert_logged("cannot read \\EFI\\unloop\\state; counting from zero: EIO");
    assert_not_logged("is corrupt");
    /* ...and nothing is written over a file that may still hold a good record. */
    assert_logged("state not written after a read error: this attempt is not counted");
    assert_not_logged("cannot write \\EFI\\unloop\\state");
}

static void test_esp_write_failure_fails_open(void **state)
{
    (void)state;
    put_state(1);
    fake_volume_fail_write(&vol, 1, -UL_EROFS);
    run();
    assert_int_equal(res.action, UL_ACTION_CONTINUE);
    assert_false(res.state_saved);
    assert_int_equal(res.state.attempts, 2);
    assert_logged("cannot write \\EFI\\unloop\\state: this attempt is not counted: EROFS");
    assert_int_equal(stored_attempts(), 1);

    /* At the threshold the menu still comes, on the count in memory. */
    put_state(2);
    fake_volume_fail_write(&vol, 1, -UL_EIO);
    static const struct step s[] = { { .kind = STEP_TIMEOUT } };
    script(1, s);
    run();
    assert_true(res.menu_shown);
    assert_int_equal(res.action, UL_ACTION_CONTINUE);

    /* A power cut in the middle of the write: still the boot goes on. */
    put_state(0);
    fake_volume_power_cut(&vol, 1, 10);
    run();
    assert_int_equal(res.action, UL_ACTION_CONTINUE);
    fake_volume_power_on(&vol);

    /* No ESP at all. */
    env.have_esp = false;
    reset_counters();
    run();
    assert_int_equal(res.action, UL_ACTION_CONTINUE);
    assert_false(res.state_saved);
    assert_false(res.menu_shown);
    assert_int_equal(vol.n_writes, 0);
    assert_logged("no ESP to keep the attempt count on");
}

static void test_third_attempt_countdown_continues(void **state)
{
    (void)state;
    put_state(2);
    static const struct step s[] = { { .kind = STEP_TIMEOUT } };
    script(1, s);
    run();
    assert_int_equal(res.state.attempts, 3);
    assert_true(res.menu_shown);
    assert_int_equal(ui.menu_calls, 1);
    assert_int_equal(res.action, UL_ACTION_CONTINUE);
    assert_int_equal(res.decision.rung, UL_RUNG_QUARANTINE_NEWEST);
    assert_int_equal(res.decision.n_skipped, 3);

    const struct ul_menu *m = &ui.menus[0];
    assert_false(m->wait);
    assert_int_equal(m->timeout, 10);
    assert_int_equal(m->items[m->default_index].action, UL_ACTION_CONTINUE);
    assert_non_null(strstr(m->lines[0], "3 boot attempts"));

    assert_logged("warning: boot loop detected: attempt 3, threshold 3; recovery step 2");
    assert_logged("step 2 (quarantine-newest): not available in this build (issue #3)");
    assert_logged("step 4 (safe-mode): not available in this build (issue #4)");
    assert_logged("menu: countdown expired, default 'Continue boot (start Windows)'");
    assert_logged("action: continue");
    assert_int_equal(ui.notices, 0);
    assert_int_equal(stored_attempts(), 3);
}

static void test_unavailable_item_notice_then_wait(void **state)
{
    (void)state;
    put_state(2);
    static const struct step s[] = {
        { .kind = STEP_KEY, .key = '2' }, /* quarantine: issue 3 */
        { .kind = STEP_KEY, .key = '3' }, /* safe mode: issue 4 */
        { .kind = STEP_KEY, .key = '1' },
    };
    script(3, s);
    run();
    assert_int_equal(res.action, UL_ACTION_CONTINUE);
    assert_int_equal(ui.menu_calls, 3);
    assert_int_equal(ui.notices, 2);
    assert_non_null(strstr(ui.notice[0], "Quarantine"));
    assert_non_null(strstr(ui.notice[0], "issue #3"));
    assert_non_null(strstr(ui.notice[1], "issue #4"));
    /* First with a countdown; once a person has pressed a key, no more. */
    assert_false(ui.menus[0].wait);
    assert_true(ui.menus[1].wait);
    assert_true(ui.menus[2].wait);
    assert_logged("menu: chosen 'Quarantine the newest third-party driver content'");
    assert_logged("not available in this build (issue #3)");

    /* Firmware setup the firmware does not offer. */
    put_state(2);
    static const struct step s2[] = {
        { .kind = STEP_KEY, .key = '8' },
        { .kind = STEP_KEY, .key = '7' },
    };
    script(2, s2);
    run();
    assert_int_equal(ui.notices, 1);
    assert_non_null(strstr(ui.notice[0], "not supported by this firmware"));
    assert_int_equal(res.action, UL_ACTION_REBOOT);

    /* A countdown that lands on an unavailable item continues the boot. */
    put_state(2);
    static const struct step s3[] = { { .kind = STEP_INDEX, .index = 1, .timed_out = true } };
    script(1, s3);
    run();
    assert_int_equal(ui.notices, 1);
    assert_int_equal(res.action, UL_ACTION_CONTINUE);

    /* An index off the end is taken as the default. */
    put_state(2);
    static const struct step s4[] = { { .kind = STEP_INDEX, .index = 99 } };
    script(1, s4);
    run();
    assert_int_equal(res.action, UL_ACTION_CONTINUE);
    assert_int_equal(ui.menu_calls, 1);
}

static void test_show_log(void **state)
{
    (void)state;
    assert_int_equal(fake_volume_put(&vol, UL_LOG_PATH, "older run\r\n", 11), 0);
    put_state(2);
    static const struct step s[] = {
        { .kind = STEP_KEY, .key = '6' },
        { .kind = STEP_KEY, .key = '1' },
    };
    script(2, s);
    run();
    assert_int_equal(res.action, UL_ACTION_CONTINUE);
    assert_int_equal(ui.texts, 1);
    assert_non_null(ui.text);
    assert_non_null(strstr(ui.text_title, "log"));
    /* the file's earlier lines and this run's, flushed first */
    assert_non_null(strstr(ui.text, "older run\r\n"));
    assert_non_null(strstr(ui.text, "boot loop detected: attempt 3"));
    assert_non_null(strstr(ui.text, "menu: chosen 'Show log'"));
    assert_true(ui.menus[1].wait);
    char *f = fake_volume_read_string(&vol, UL_LOG_PATH);
    bool flushed = f && strstr(f, "boot loop detected");
    free(f);
    assert_true(flushed);

    /* Without a readable log the page says so. */
    put_state(2);
    fake_volume_fail_path(&vol, UL_LOG_PATH, -UL_EIO);
    script(2, s);
    run();
    assert_int_equal(ui.texts, 1);
    assert_string_equal(ui.text, "(the log file cannot be read)");
}

static void test_reboot_and_firmware_setup(void **state)
{
    (void)state;
    put_state(2);
    static const struct step s[] = { { .kind = STEP_KEY, .key = '7' } };
    script(1, s);
    run();
    assert_int_equal(res.action, UL_ACTION_REBOOT);
    assert_logged("menu: chosen 'Reboot'");
    assert_logged("action: reboot");
    assert_int_equal(ui.notices, 0);

    env.caps.firmware_setup = true;
    put_state(2);
    static const struct step s2[] = { { .kind = STEP_KEY, .key = '8' } };
    script(1, s2);
    run();
    assert_int_equal(res.action, UL_ACTION_FIRMWARE_SETUP);
}

static void test_menu_error_continues(void **state)
{
    (void)state;
    put_state(2);
    static const struct step s[] = { { .kind = STEP_ERROR, .err = -UL_EIO } };
    script(1, s);
    run();
    assert_true(res.menu_shown);
    assert_int_equal(res.action, UL_ACTION_CONTINUE);
    assert_logged("recovery menu failed; continuing the boot: EIO");

    /* An error after a person chose something unavailable: still continue. */
    put_state(2);
    static const struct step s2[] = {
        { .kind = STEP_KEY, .key = '2' },
        { .kind = STEP_ERROR, .err = -UL_ECANCELED },
    };
    script(2, s2);
    run();
    assert_int_equal(res.action, UL_ACTION_CONTINUE);

    /* No console at all. */
    put_state(2);
    env.ui = NULL;
    run();
    assert_false(res.menu_shown);
    assert_int_equal(res.action, UL_ACTION_CONTINUE);
    assert_logged("no console for the menu; continuing the boot");
}

/* A machine in a boot loop, run after run, until someone blesses a boot. */
static void test_boot_loop_then_bless(void **state)
{
    (void)state;
    put_config("threshold = 2\nstop_timeout = 0\n");
    static const struct step timeout[] = { { .kind = STEP_TIMEOUT } };
    static const struct step key1[] = { { .kind = STEP_KEY, .key = '1' } };
    static const enum ul_rung rungs[] = { UL_RUNG_HANDOFF, UL_RUNG_QUARANTINE_NEWEST,
                                          UL_RUNG_QUARANTINE_WIDE, UL_RUNG_SAFE_MODE,
                                          UL_RUNG_STOP, UL_RUNG_STOP };
    for (uint32_t i = 0; i < 6; i++) {
        fake_clock_set(&fclock, 1700000000 + 60 * i, UL_TZ_UNSPECIFIED, true);
        bool stop = rungs[i] == UL_RUNG_STOP;
        script(1, stop ? key1 : timeout);
        run();
        assert_int_equal(res.state.attempts, i + 1);
        assert_int_equal(res.state.first_attempt, 1700000000);
        assert_int_equal(res.state.last_attempt, 1700000000 + 60 * i);
        assert_int_equal(res.decision.rung, rungs[i]);
        assert_int_equal(res.menu_shown, i >= 1);
        if (i >= 1)
            assert_int_equal(ui.menus[0].wait, stop);
        assert_int_equal(res.action, UL_ACTION_CONTINUE);
        assert_int_equal(stored_attempts(), i + 1);
    }

    /* The OS reports a good boot (what `unloop bless` does). */
    struct ul_state st;
    struct ul_state_info info;
    int err;
    ul_state_read(&env.esp, &st, &info, &err);
    ul_state_apply_bless(&st, 1700001000);
    assert_int_equal(ul_state_write(&env.esp, &st, &info), 0);

    reset_counters();
    run();
    assert_false(res.menu_shown);
    assert_int_equal(res.state.attempts, 1);
    assert_int_equal(res.state.boots, 7);
    assert_int_equal(res.state.last_good, 1700001000);
    assert_int_equal(vol.n_writes, 1);
}

/* The firmware came back to unloop in the same power-on (the loader failed
 * and unloop returned to it): the second start is not a second attempt. */
static void test_second_start_in_one_power_on(void **state)
{
    (void)state;
    put_state(1);
    env.counted_this_power_on = true;
    reset_counters();
    run();
    assert_int_equal(res.state.attempts, 1);
    assert_false(res.state_saved);
    for (unsigned i = 0; i < vol.n_writes && i < FAKE_WRITE_LOG; i++)
        assert_string_not_equal(vol.write_log[i].path, UL_STATE_PATH);
    assert_non_null(strstr(log_.buf, "not counted twice"));
    assert_int_equal(res.action, UL_ACTION_CONTINUE);
    /* The next power-on counts again. */
    env.counted_this_power_on = false;
    run();
    assert_int_equal(res.state.attempts, 2);
    assert_true(res.state_saved);
}

static void test_log_level_from_config(void **state)
{
    (void)state;
    put_config("log_level = error\n");
    run();
    assert_int_equal(log_.level, UL_LOG_ERROR);
    assert_not_logged("attempt 1 of 3");
    assert_int_equal(res.action, UL_ACTION_CONTINUE);

    /* A clock that fails: the attempt is counted, the times left alone. */
    fake_clock_fail(&fclock, -UL_EIO);
    put_config("");
    run();
    assert_int_equal(res.state.attempts, 2);
    assert_logged("(no clock)");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_healthy_first_run),
        T(test_config_applied),
        T(test_missing_config),
        T(test_corrupt_config_still_boots),
        T(test_corrupt_state_counts_from_zero),
        T(test_esp_write_failure_fails_open),
        T(test_third_attempt_countdown_continues),
        T(test_unavailable_item_notice_then_wait),
        T(test_show_log),
        T(test_reboot_and_firmware_setup),
        T(test_menu_error_continues),
        T(test_boot_loop_then_bless),
        T(test_log_level_from_config),
        T(test_second_start_in_one_power_on),
    };
    return cmocka_run_group_tests_name("run", tests, NULL, NULL);
}
