/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The OS agent's logic (shared/agent.c) with fakes: a fake ESP, a fake
 * clock that the fake sleep moves forward, a table of fake services, and a
 * Safe Mode hook that counts its calls.  Nothing here waits for real.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "boot-state.h"
#include "fake-volume.h"
#include "log.h"
#include "ul-errno.h"
#include "unloop-contract.h"

/* Test functions and fakes take parameters they do not need. */
#pragma GCC diagnostic ignored "-Wunused-parameter"

#define T0 1721370000 /* 2024-07-19 06:20 UTC */

static struct fake_volume vol;
static struct fake_clock clk;
static struct ul_log lg;
static struct ul_agent_config cfg;
static struct ul_agent ag;

/* The platform, faked. */
struct fakes {
    uint32_t sleeps[64];        /* every sleep asked for, in ms */
    unsigned n_sleeps;
    unsigned stop_after_sleeps; /* the n-th sleep says "stop" (0: never) */
    unsigned stop_after_refreshes;
    const char *running[4];     /* services that run */
    const char *installed[4];   /* services that exist but do not run */
    unsigned start_at_check;    /* from this service query on, installed ones run */
    unsigned n_queries;
    unsigned n_clear;           /* clear_safe_mode calls */
    int clear_result;
    bool safe_mode;
    /* what the ESP looked like at the first clear_safe_mode call */
    unsigned writes_before_clear;
    /* fake time of each state write */
    int64_t state_write_times[64];
    unsigned n_state_writes;
};
static struct fakes fk;

static bool f_sleep(void *ctx, uint32_t ms)
{
    if (fk.n_sleeps < 64)
        fk.sleeps[fk.n_sleeps] = ms;
    fk.n_sleeps++;
    if (fk.stop_after_sleeps && fk.n_sleeps >= fk.stop_after_sleeps)
        return true;
    if (fk.stop_after_refreshes && ag.refreshes >= fk.stop_after_refreshes)
        return true;
    clk.now.secs += ms / 1000;
    return false;
}

static int f_service_state(void *ctx, const char *name, char *why, size_t size)
{
    fk.n_queries++;
    for (int i = 0; i < 4; i++)
        if (fk.running[i] && !strcmp(fk.running[i], name))
            return UL_AGENT_SVC_RUNNING;
    for (int i = 0; i < 4; i++)
        if (fk.installed[i] && !strcmp(fk.installed[i], name)) {
            if (fk.start_at_check && fk.n_queries >= fk.start_at_check)
                return UL_AGENT_SVC_RUNNING;
            snprintf(why, size, "stopped");
            return UL_AGENT_SVC_NOT_RUNNING;
        }
    return -UL_ENOENT;
}

static int f_clear_safe_mode(void *ctx)
{
    if (fk.n_clear++ == 0)
        fk.writes_before_clear = fake_volume_write_count(&vol);
    return fk.clear_result;
}

static bool f_in_safe_mode(void *ctx)
{
    return fk.safe_mode;
}

static const struct ul_agent_ops ops = {
    .sleep = f_sleep,
    .service_state = f_service_state,
    .clear_safe_mode = f_clear_safe_mode,
    .in_safe_mode = f_in_safe_mode,
};

static const struct ul_agent_ops ops_no_clear = {
    .sleep = f_sleep,
    .service_state = f_service_state,
};

static int setup(void **state)
{
    fake_volume_init(&vol);
    memset(&fk, 0, sizeof(fk));
    fake_clock_set(&clk, T0, 0, true);
    ul_agent_config_defaults(&cfg);
    memset(&ag, 0, sizeof(ag));
    ag.clock = fake_clock_get(&clk);
    ul_log_init(&lg, NULL, NULL, &ag.clock, "agent");
    ag.cfg = &cfg;
    ag.ops = &ops;
    ag.ctx = &fk;
    ag.esp = fake_volume_get(&vol);
    ag.log = &lg;
    return 0;
}

static int teardown(void **state)
{
    fake_volume_free(&vol);
    return 0;
}

/* A state file as unloop.efi leaves it after a failed boot: one valid slot. */
static void put_state(uint32_t attempts, uint8_t rung, uint16_t flags, uint8_t fixed_by,
                      int slot)
{
    static uint8_t file[UL_STATE_FILE_SIZE];
    struct ul_state st = { .seq = 7, .attempts = attempts, .boots = 40, .rung = rung,
                           .fixed_by = fixed_by, .flags = flags, .last_good = T0 - 86400 * 3,
                           .first_attempt = T0 - 600, .last_attempt = T0 - 60,
                           .clock_tz = UL_TZ_UNSPECIFIED };
    memset(file, 0, sizeof(file));
    ul_state_encode(&st, file + slot * UL_STATE_SLOT_STRIDE);
    assert_int_equal(fake_volume_put(&vol, UL_STATE_PATH, file, sizeof(file)), 0);
}

static void get_state(struct ul_state *st, struct ul_state_info *info)
{
    size_t len;
    const uint8_t *p = fake_volume_peek(&vol, UL_STATE_PATH, &len);
    assert_non_null(p);
    ul_state_parse(p, len, st, info);
}

/* Writes to the state file since the last reset of the counters. */
static unsigned state_writes(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < vol.n_writes && i < FAKE_WRITE_LOG; i++)
        if (!strcmp(vol.write_log[i].path, UL_STATE_PATH))
            n++;
    return n;
}

static unsigned other_writes(void)
{
    return vol.n_writes - state_writes();
}

/* ---- settings ---- */

static void test_duration(void **state)
{
    uint32_t ms;
    assert_int_equal(ul_agent_parse_duration("120", &ms), 0);
    assert_int_equal(ms, 120000);
    assert_int_equal(ul_agent_parse_duration("90s", &ms), 0);
    assert_int_equal(ms, 90000);
    assert_int_equal(ul_agent_parse_duration("15m", &ms), 0);
    assert_int_equal(ms, 900000);
    assert_int_equal(ul_agent_parse_duration("2h", &ms), 0);
    assert_int_equal(ms, 7200000);
    assert_int_equal(ul_agent_parse_duration("500ms", &ms), 0);
    assert_int_equal(ms, 500);
    assert_int_equal(ul_agent_parse_duration("168h", &ms), 0);
    assert_int_equal(ul_agent_parse_duration("169h", &ms), -UL_ERANGE);
    assert_int_equal(ul_agent_parse_duration("99999999999", &ms), -UL_ERANGE);
    assert_int_equal(ul_agent_parse_duration("", &ms), -UL_EINVAL);
    assert_int_equal(ul_agent_parse_duration("s", &ms), -UL_EINVAL);
    assert_int_equal(ul_agent_parse_duration("-5", &ms), -UL_EINVAL);
    assert_int_equal(ul_agent_parse_duration("5 m", &ms), -UL_EINVAL);
    assert_int_equal(ul_agent_parse_duration("5d", &ms), -UL_EINVAL);
    assert_int_equal(ul_agent_parse_duration("1.5m", &ms), -UL_EINVAL);
}

static void test_config_set(void **state)
{
    char err[200];
    struct ul_agent_config c;
    ul_agent_config_defaults(&c);
    assert_int_equal(c.delay_ms, 120000);
    assert_int_equal(c.refresh_ms, 900000);

    assert_int_equal(ul_agent_config_set(&c, "delay", "0", err, sizeof(err)), 0);
    assert_int_equal(c.delay_ms, 0);
    assert_int_equal(ul_agent_config_set(&c, "refresh", "off", err, sizeof(err)), 0);
    assert_int_equal(c.refresh_ms, 0);
    assert_int_equal(ul_agent_config_set(&c, "refresh", "500ms", err, sizeof(err)), -UL_ERANGE);
    assert_non_null(strstr(err, "shorter than one second"));
    assert_int_equal(c.refresh_ms, 0);
    assert_int_equal(ul_agent_config_set(&c, "retry", "soon", err, sizeof(err)), -UL_EINVAL);
    assert_non_null(strstr(err, "not a duration"));
    assert_int_equal(ul_agent_config_set(&c, "colour", "1", err, sizeof(err)), -UL_EINVAL);
    assert_non_null(strstr(err, "unknown setting"));

    assert_int_equal(ul_agent_config_set(&c, "services", " CSFalconService , WinDefend",
                                         err, sizeof(err)), 0);
    assert_int_equal(c.n_services, 2);
    assert_string_equal(c.services[0], "CSFalconService");
    assert_string_equal(c.services[1], "WinDefend");
    /* A bad list changes nothing. */
    assert_int_equal(ul_agent_config_set(&c, "services", "a,,b", err, sizeof(err)), -UL_EINVAL);
    assert_int_equal(ul_agent_config_set(&c, "services", "a,", err, sizeof(err)), -UL_EINVAL);
    assert_int_equal(ul_agent_config_set(&c, "services", "a\\b", err, sizeof(err)), -UL_EINVAL);
    assert_int_equal(ul_agent_config_set(&c, "services", "a\tb", err, sizeof(err)), -UL_EINVAL);
    assert_int_equal(c.n_services, 2);
    char many[200] = "s";
    for (int i = 1; i < 17; i++)
        strcat(many, ",s");
    assert_int_equal(ul_agent_config_set(&c, "services", many, err, sizeof(err)), -UL_ERANGE);
    char longname[300];
    memset(longname, 'x', 299);
    longname[299] = 0;
    assert_int_equal(ul_agent_config_set(&c, "services", longname, err, sizeof(err)),
                     -UL_ERANGE);
    assert_int_equal(c.n_services, 2);
    assert_int_equal(ul_agent_config_set(&c, "services", "", err, sizeof(err)), 0);
    assert_int_equal(c.n_services, 0);
}

/* ---- delay and checks ---- */

static void test_delay_honoured(void **state)
{
    put_state(3, UL_RUNG_QUARANTINE_NEWEST, 0, 0, 0);
    cfg.once = true;
    assert_int_equal(ul_agent_run(&ag), 0);
    /* One wait, the whole delay, before anything was read or written. */
    assert_int_equal(fk.n_sleeps, 1);
    assert_int_equal(fk.sleeps[0], 120000);
    struct ul_state st;
    struct ul_state_info info;
    get_state(&st, &info);
    assert_int_equal(st.last_good, T0 + 120);
    assert_true(ag.blessed);
}

static void test_stop_during_delay(void **state)
{
    put_state(3, UL_RUNG_QUARANTINE_NEWEST, 0, 0, 0);
    fk.stop_after_sleeps = 1;
    assert_int_equal(ul_agent_run(&ag), 0);
    assert_false(ag.blessed);
    assert_int_equal(vol.n_writes, 0);
    assert_int_equal(vol.n_reads, 0);
}

static void test_checks_fail_no_bless(void **state)
{
    put_state(3, UL_RUNG_QUARANTINE_NEWEST, 0, 0, 0);
    size_t len;
    const uint8_t *p = fake_volume_peek(&vol, UL_STATE_PATH, &len);
    uint8_t before[UL_STATE_FILE_SIZE];
    memcpy(before, p, sizeof(before));

    cfg.delay_ms = 0;
    cfg.once = true;
    fk.running[0] = "WinDefend";
    fk.installed[0] = "CSFalconService";
    char err[100];
    assert_int_equal(ul_agent_config_set(&cfg, "services", "WinDefend,CSFalconService,Gone",
                                         err, sizeof(err)), 0);
    assert_int_equal(ul_agent_run(&ag), UL_AGENT_UNHEALTHY);
    assert_false(ag.blessed);
    assert_int_equal(ag.checks_failed, 1);
    assert_int_equal(vol.n_writes, 0);
    p = fake_volume_peek(&vol, UL_STATE_PATH, &len);
    assert_memory_equal(p, before, sizeof(before));
    assert_int_equal(fk.n_clear, 0);
}

static void test_checks_retry_then_bless(void **state)
{
    put_state(3, UL_RUNG_QUARANTINE_NEWEST, 0, 0, 0);
    cfg.delay_ms = 10000;
    cfg.refresh_ms = 0;
    fk.installed[0] = "CSFalconService";
    fk.start_at_check = 3; /* runs from the third query on */
    char err[100];
    assert_int_equal(ul_agent_config_set(&cfg, "services", "CSFalconService", err, sizeof(err)),
                     0);
    assert_int_equal(ul_agent_run(&ag), 0);
    assert_true(ag.blessed);
    assert_int_equal(ag.checks_failed, 2);
    /* delay, then the retry wait twice; refresh off: done after the bless */
    assert_int_equal(fk.n_sleeps, 3);
    assert_int_equal(fk.sleeps[0], 10000);
    assert_int_equal(fk.sleeps[1], 30000);
    assert_int_equal(fk.sleeps[2], 30000);
    struct ul_state st;
    struct ul_state_info info;
    get_state(&st, &info);
    assert_int_equal(st.last_good, T0 + 70);
    assert_int_equal(st.attempts, 0);
}

static void test_safe_mode_skips_checks(void **state)
{
    put_state(5, UL_RUNG_SAFE_MODE, UL_STATE_F_SAFEMODE_SET, 0, 0);
    cfg.delay_ms = 0;
    cfg.once = true;
    fk.safe_mode = true;
    char err[100];
    assert_int_equal(ul_agent_config_set(&cfg, "services", "CSFalconService", err, sizeof(err)),
                     0);
    assert_int_equal(ul_agent_run(&ag), 0);
    assert_true(ag.blessed);
    assert_int_equal(fk.n_queries, 0);
}

/* ---- bless ---- */

static void test_bless_written(void **state)
{
    put_state(3, UL_RUNG_QUARANTINE_NEWEST, 0, 0, 0);
    cfg.delay_ms = 0;
    cfg.once = true;
    assert_int_equal(ul_agent_run(&ag), 0);
    struct ul_state st;
    struct ul_state_info info;
    get_state(&st, &info);
    assert_int_equal(info.health, UL_STATE_OK);
    assert_int_equal(info.slot, 1);     /* the slot that did not hold the record */
    assert_int_equal(st.seq, 8);
    assert_int_equal(st.attempts, 0);
    assert_int_equal(st.rung, UL_RUNG_NONE);
    assert_int_equal(st.fixed_by, UL_RUNG_QUARANTINE_NEWEST);
    assert_int_equal(st.boots, 40);
    assert_int_equal(st.last_good, T0);
    assert_int_equal(st.flags, 0);
    /* One slot write for the state (64 bytes), one append to the log. */
    assert_int_equal(state_writes(), 1);
    assert_int_equal(vol.write_log[0].len, UL_STATE_SLOT_SIZE);
    char *logtext = fake_volume_read_string(&vol, UL_LOG_PATH);
    assert_non_null(logtext);
    assert_non_null(strstr(logtext, "boot blessed by the agent: 3 attempts reset; fixed by "
                                    "quarantine-newest"));
    free(logtext);
    assert_int_equal(fk.n_clear, 0);
}

static void test_bless_again_keeps_fixed_by(void **state)
{
    /* Already blessed this boot (the service restarted): only the time moves. */
    put_state(0, UL_RUNG_NONE, 0, UL_RUNG_QUARANTINE_WIDE, 0);
    assert_int_equal(ul_agent_bless(&ag), 0);
    struct ul_state st;
    struct ul_state_info info;
    get_state(&st, &info);
    assert_int_equal(st.fixed_by, UL_RUNG_QUARANTINE_WIDE);
    assert_int_equal(st.last_good, T0);
}

/* ---- Safe Mode ---- */

static void test_safe_mode_cleared_once(void **state)
{
    put_state(5, UL_RUNG_SAFE_MODE, UL_STATE_F_SAFEMODE_SET, 0, 0);
    cfg.delay_ms = 0;
    fk.stop_after_refreshes = 3;
    assert_int_equal(ul_agent_run(&ag), 0);
    assert_int_equal(fk.n_clear, 1);
    /* Cleared before the state was written, so the same write records it. */
    assert_int_equal(fk.writes_before_clear, 0);
    assert_true(ag.safe_mode_cleared);
    assert_int_equal(ag.refreshes, 3);
    struct ul_state st;
    struct ul_state_info info;
    get_state(&st, &info);
    assert_int_equal(st.flags & UL_STATE_F_SAFEMODE_SET, 0);
    assert_int_equal(st.fixed_by, UL_RUNG_SAFE_MODE);
}

static void test_safe_mode_not_ours_never_cleared(void **state)
{
    /* A Safe Mode a person set has no flag in the state: never touched. */
    put_state(1, UL_RUNG_HANDOFF, 0, 0, 0);
    cfg.delay_ms = 0;
    fk.stop_after_refreshes = 2;
    assert_int_equal(ul_agent_run(&ag), 0);
    assert_true(ag.blessed);
    assert_int_equal(fk.n_clear, 0);
    assert_false(ag.safe_mode_cleared);
}

static void test_safe_mode_clear_fails(void **state)
{
    put_state(5, UL_RUNG_SAFE_MODE, UL_STATE_F_SAFEMODE_SET, 0, 0);
    fk.clear_result = -UL_EIO;
    assert_int_equal(ul_agent_bless(&ag), 0);
    assert_true(ag.blessed);
    assert_false(ag.safe_mode_cleared);
    /* The flag stays, so unloop.efi clears the BCD store on the next boot. */
    struct ul_state st;
    struct ul_state_info info;
    get_state(&st, &info);
    assert_int_equal(st.flags & UL_STATE_F_SAFEMODE_SET, UL_STATE_F_SAFEMODE_SET);
    assert_int_equal(st.attempts, 0);
    char *logtext = fake_volume_read_string(&vol, UL_LOG_PATH);
    assert_non_null(strstr(logtext, "cannot clear unloop's one-shot Safe Mode"));
    free(logtext);
}

static void test_safe_mode_no_hook(void **state)
{
    put_state(5, UL_RUNG_SAFE_MODE, UL_STATE_F_SAFEMODE_SET, 0, 0);
    ag.ops = &ops_no_clear;
    assert_int_equal(ul_agent_bless(&ag), 0);
    struct ul_state st;
    struct ul_state_info info;
    get_state(&st, &info);
    assert_int_equal(st.flags & UL_STATE_F_SAFEMODE_SET, UL_STATE_F_SAFEMODE_SET);
}

static void test_refresh_leaves_new_safe_mode(void **state)
{
    put_state(2, UL_RUNG_HANDOFF, 0, 0, 0);
    assert_int_equal(ul_agent_bless(&ag), 0);
    /* Someone sets unloop's Safe Mode for the next boot while we run. */
    struct ul_state st;
    struct ul_state_info info;
    get_state(&st, &info);
    st.flags |= UL_STATE_F_SAFEMODE_SET;
    assert_int_equal(ul_state_write(&ag.esp, &st, &info), 0);
    clk.now.secs += 900;
    assert_int_equal(ul_agent_refresh(&ag), 0);
    get_state(&st, &info);
    assert_int_equal(st.flags & UL_STATE_F_SAFEMODE_SET, UL_STATE_F_SAFEMODE_SET);
    assert_int_equal(st.last_good, T0 + 900);
    assert_int_equal(fk.n_clear, 0);
}

/* ---- refresh ---- */

static void test_refresh_cadence(void **state)
{
    put_state(3, UL_RUNG_QUARANTINE_NEWEST, 0, 0, 0);
    fk.stop_after_refreshes = 4;
    assert_int_equal(ul_agent_run(&ag), 0);
    assert_int_equal(ag.refreshes, 4);
    /* delay, then one refresh interval before each refresh, then the stop */
    assert_int_equal(fk.n_sleeps, 6);
    assert_int_equal(fk.sleeps[0], 120000);
    for (unsigned i = 1; i < 6; i++)
        assert_int_equal(fk.sleeps[i], 900000);
    struct ul_state st;
    struct ul_state_info info;
    get_state(&st, &info);
    assert_int_equal(st.last_good, T0 + 120 + 4 * 900);
    assert_int_equal(st.fixed_by, UL_RUNG_QUARANTINE_NEWEST); /* kept by refreshes */
    assert_int_equal(st.seq, 7 + 1 + 4);
    /* Each refresh is one 64-byte slot write and nothing else: the log file
     * was written once, at the bless. */
    assert_int_equal(state_writes(), 5);
    assert_int_equal(other_writes(), 1);
    for (unsigned i = 0; i < vol.n_writes; i++)
        if (!strcmp(vol.write_log[i].path, UL_STATE_PATH))
            assert_int_equal(vol.write_log[i].len, UL_STATE_SLOT_SIZE);
}

static void test_no_refresh_when_unhealthy(void **state)
{
    put_state(3, UL_RUNG_QUARANTINE_NEWEST, 0, 0, 0);
    cfg.delay_ms = 0;
    fk.running[0] = "CSFalconService";
    char err[100];
    assert_int_equal(ul_agent_config_set(&cfg, "services", "CSFalconService", err, sizeof(err)),
                     0);
    fk.stop_after_sleeps = 3;
    /* Bless at once; the service dies before the first refresh. */
    assert_int_equal(ul_agent_bless(&ag), 0);
    fk.running[0] = NULL;
    fk.installed[0] = "CSFalconService";
    ag.blessed = true;
    assert_int_equal(ul_agent_run(&ag), 0);
    assert_int_equal(ag.refreshes, 0);
    struct ul_state st;
    struct ul_state_info info;
    get_state(&st, &info);
    assert_int_equal(st.last_good, T0);
    assert_int_equal(state_writes(), 1);
}

/* ---- damaged, missing, unreadable state ---- */

static void test_corrupt_state(void **state)
{
    uint8_t junk[UL_STATE_FILE_SIZE];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    assert_int_equal(fake_volume_put(&vol, UL_STATE_PATH, junk, sizeof(junk)), 0);
    cfg.delay_ms = 0;
    cfg.once = true;
    assert_int_equal(ul_agent_run(&ag), 0);
    struct ul_state st;
    struct ul_state_info info;
    get_state(&st, &info);
    assert_int_not_equal(info.health, UL_STATE_CORRUPT);
    assert_int_equal(st.attempts, 0);
    assert_int_equal(st.last_good, T0);
    assert_int_equal(st.flags, 0);
}

static void test_degraded_state(void **state)
{
    /* Slot 0 valid, slot 1 torn: the bless goes into slot 1, slot 0 stays. */
    put_state(4, UL_RUNG_QUARANTINE_WIDE, 0, 0, 0);
    size_t len;
    const uint8_t *p = fake_volume_peek(&vol, UL_STATE_PATH, &len);
    uint8_t file[UL_STATE_FILE_SIZE];
    memcpy(file, p, sizeof(file));
    memset(file + UL_STATE_SLOT_STRIDE, 0x5a, 40);
    assert_int_equal(fake_volume_put(&vol, UL_STATE_PATH, file, sizeof(file)), 0);
    assert_int_equal(ul_agent_bless(&ag), 0);
    p = fake_volume_peek(&vol, UL_STATE_PATH, &len);
    assert_memory_equal(p, file, UL_STATE_SLOT_SIZE);
    struct ul_state st;
    struct ul_state_info info;
    get_state(&st, &info);
    assert_int_equal(info.health, UL_STATE_OK);
    assert_int_equal(info.slot, 1);
    assert_int_equal(st.fixed_by, UL_RUNG_QUARANTINE_WIDE);
}

static void test_short_state(void **state)
{
    /* Truncated to 100 bytes with slot 0 valid: slot 1 written alone. */
    put_state(3, UL_RUNG_QUARANTINE_NEWEST, 0, 0, 0);
    size_t len;
    uint8_t file[100];
    memcpy(file, fake_volume_peek(&vol, UL_STATE_PATH, &len), sizeof(file));
    assert_int_equal(fake_volume_put(&vol, UL_STATE_PATH, file, sizeof(file)), 0);
    assert_int_equal(ul_agent_bless(&ag), 0);
    assert_int_equal(state_writes(), 1);
    assert_int_equal(vol.write_log[0].off, UL_STATE_SLOT_STRIDE);
    const uint8_t *p = fake_volume_peek(&vol, UL_STATE_PATH, &len);
    assert_memory_equal(p, file, UL_STATE_SLOT_SIZE);
    struct ul_state st;
    struct ul_state_info info;
    get_state(&st, &info);
    assert_int_equal(st.attempts, 0);
    assert_int_equal(info.slot, 1);
}

static void test_missing_state(void **state)
{
    assert_int_equal(fake_volume_mkdir_p(&vol, UL_DIR_PATH), 0);
    cfg.delay_ms = 0;
    fk.stop_after_sleeps = 4;
    assert_int_equal(ul_agent_run(&ag), 0);
    assert_false(ag.blessed);
    assert_false(fake_volume_exists(&vol, UL_STATE_PATH));
    /* Tried after every retry wait; nothing written to this ESP, not even
     * the log (it may not be the ESP unloop.efi runs from). */
    assert_int_equal(ag.bless_failures, 4);
    assert_int_equal(vol.n_writes, 0);
    for (unsigned i = 1; i < 4; i++)
        assert_int_equal(fk.sleeps[i - 1], 30000);
}

static void test_missing_state_once(void **state)
{
    cfg.delay_ms = 0;
    cfg.once = true;
    assert_int_equal(ul_agent_run(&ag), -UL_ENOENT);
    assert_false(fake_volume_exists(&vol, UL_STATE_PATH));
    assert_false(fake_volume_exists(&vol, UL_DIR_PATH));
}

static void test_unreadable_state(void **state)
{
    put_state(3, UL_RUNG_QUARANTINE_NEWEST, 0, 0, 0);
    fake_volume_fail_path(&vol, UL_STATE_PATH, -UL_EIO);
    cfg.delay_ms = 0;
    cfg.once = true;
    assert_int_equal(ul_agent_run(&ag), -UL_EIO);
    assert_false(ag.blessed);
    assert_int_equal(state_writes(), 0);
    assert_int_equal(ag.write_errors, 1);
}

static void test_write_fails_then_retried(void **state)
{
    put_state(3, UL_RUNG_QUARANTINE_NEWEST, 0, 0, 0);
    cfg.delay_ms = 0;
    cfg.refresh_ms = 0;
    fake_volume_fail_write(&vol, 1, -UL_EIO);
    assert_int_equal(ul_agent_run(&ag), 0);
    assert_true(ag.blessed);
    assert_int_equal(ag.write_errors, 1);
    assert_int_equal(fk.n_sleeps, 1);
    assert_int_equal(fk.sleeps[0], 30000);
    struct ul_state st;
    struct ul_state_info info;
    get_state(&st, &info);
    assert_int_equal(st.attempts, 0);
    assert_int_equal(st.last_good, T0 + 30);
}

static void test_no_clock(void **state)
{
    put_state(3, UL_RUNG_QUARANTINE_NEWEST, 0, 0, 0);
    fake_clock_set(&clk, 0, 0, false);
    /* The bless still resets the count (last_good 0 = unknown, as `unloop
     * bless` writes it); a refresh with no time writes nothing. */
    assert_int_equal(ul_agent_bless(&ag), 0);
    unsigned w = state_writes();
    assert_int_equal(ul_agent_refresh(&ag), -UL_EINVAL);
    assert_int_equal(state_writes(), w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_config_set),
        cmocka_unit_test_setup_teardown(test_delay_honoured, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_during_delay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checks_fail_no_bless, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checks_retry_then_bless, setup, teardown),
        cmocka_unit_test_setup_teardown(test_safe_mode_skips_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bless_written, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bless_again_keeps_fixed_by, setup, teardown),
        cmocka_unit_test_setup_teardown(test_safe_mode_cleared_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_safe_mode_not_ours_never_cleared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_safe_mode_clear_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_safe_mode_no_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_leaves_new_safe_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_cadence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_refresh_when_unhealthy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_degraded_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_state_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_fails_then_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_clock, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
