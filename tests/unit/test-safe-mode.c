/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Safe Mode (issue #4): ul_safe_mode_set / ul_safe_mode_clear_ours on the
 * real Windows stores in ../shared/testdata/bcd/, and ul_run end to end
 * with a scripted UI: a loop reaches the Safe Mode rung, the countdown sets
 * it, a good boot clears it; a store that cannot be edited fails open.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bcd-store.h"
#include "bcd.h"
#include "fake-volume.h"
#include "run.h"
#include "ul-errno.h"
#include "unloop-contract.h"

#define BCD_DIR "../shared/testdata/bcd/"
#define F_SM UL_STATE_F_SAFEMODE_SET

static const char *const stores[] = {
    "win10-bios-system.BCD",
    "win10-efi-locate.BCD",
    "win10xpe.BCD",
};
#define NSTORES (sizeof(stores) / sizeof(stores[0]))

static long live_allocs;

static void *t_alloc(void *ctx, size_t size)
{
    (void)ctx;
    void *p = calloc(1, size);
    if (p)
        live_allocs++;
    return p;
}

static void t_free(void *ctx, void *p)
{
    (void)ctx;
    if (p)
        live_allocs--;
    free(p);
}

static const struct ul_mem_ops mem_ops = { .alloc = t_alloc, .free = t_free };
static const struct ul_mem mem = { .ops = &mem_ops, .ctx = NULL };

struct image {
    uint8_t *d;
    size_t len;
};

static struct image load_file(const char *name)
{
    char path[512];
    struct image im = { 0 };
    FILE *f;

    snprintf(path, sizeof(path), BCD_DIR "%s", name);
    f = fopen(path, "rb");
    if (!f)
        return im;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    im.d = malloc((size_t)n);
    assert_non_null(im.d);
    assert_int_equal(fread(im.d, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    im.len = (size_t)n;
    return im;
}

static bool have_stores(void)
{
    char path[512];
    snprintf(path, sizeof(path), BCD_DIR "%s", stores[0]);
    if (access(path, R_OK) == 0)
        return true;
    print_message("SKIP: BCD test stores not found in " BCD_DIR " (run from the project root)\n");
    return false;
}

/* ------------------------------------------------------------ scripted UI */

enum step_kind { STEP_TIMEOUT, STEP_KEY };

struct step {
    enum step_kind kind;
    char key;
};

#define MAX_STEPS 8

struct ui {
    struct step steps[MAX_STEPS];
    unsigned n_steps, next;
    unsigned menu_calls;
    struct ul_menu menus[MAX_STEPS];
    unsigned notices;
    char notice[4][200];
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
    if (s->kind == STEP_TIMEOUT) {
        if (menu->wait)
            fail_msg("script: countdown on a menu that waits for a key");
        *ret_index = menu->default_index;
        *ret_timed_out = true;
        return 0;
    }
    int i = ul_menu_find_key(menu, s->key);
    if (i < 0)
        fail_msg("script: key '%c' not in the menu", s->key);
    *ret_index = (uint32_t)i;
    *ret_timed_out = false;
    return 0;
}

static int ui_show_text(void *ctx, const char *title, const char *text)
{
    (void)ctx, (void)title, (void)text;
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
static struct ul_volume v;
static struct fake_clock fclock;
static struct ul_log log_;
static struct ul_env env;
static struct ui ui;
static struct ul_run_result res;

static int setup(void **state)
{
    (void)state;
    fake_volume_init(&vol);
    v = fake_volume_get(&vol);
    memset(&fclock, 0, sizeof(fclock));
    fake_clock_set(&fclock, 1700000000, UL_TZ_UNSPECIFIED, true);
    memset(&ui, 0, sizeof(ui));
    memset(&env, 0, sizeof(env));
    env.esp = v;
    env.have_esp = true;
    env.clock = fake_clock_get(&fclock);
    ul_log_init(&log_, NULL, NULL, &env.clock, "pre-boot");
    env.log = &log_;
    env.ui = &ui_ops;
    env.ui_ctx = &ui;
    env.mem = mem;
    env.caps.safe_mode = true;
    live_allocs = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_volume_free(&vol);
    assert_int_equal(live_allocs, 0);
    return 0;
}

static void reset_counters(void)
{
    vol.n_writes = vol.n_reads = vol.n_stats = vol.n_mkdirs = vol.n_renames = vol.n_removes = 0;
    vol.n_ops = 0;
    memset(vol.write_log, 0, sizeof(vol.write_log));
    memset(vol.op_log, 0, sizeof(vol.op_log));
}

static void fresh_volume(const struct image *bcd)
{
    fake_volume_reset(&vol);
    ul_log_init(&log_, NULL, NULL, &env.clock, "pre-boot");
    assert_int_equal(fake_volume_mkdir_p(&vol, "\\EFI\\unloop"), 0);
    if (bcd)
        assert_int_equal(fake_volume_put(&vol, UL_BCD_PATH, bcd->d, bcd->len), 0);
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

static bool file_is(const char *path, const struct image *want)
{
    size_t len;
    const uint8_t *p = fake_volume_peek(&vol, path, &len);
    return p && want->d && len == want->len && memcmp(p, want->d, len) == 0;
}

/* The default loader's safeboot on a fresh load: the value, or -UL_ENOENT. */
static int safeboot(uint64_t *ret)
{
    struct ul_bcd_store st;
    char guid[UL_BCD_GUID_LEN + 1];
    uint64_t dummy;
    assert_int_equal(ul_bcd_store_load(&v, &mem, UL_BCD_PATH, &st, NULL), 0);
    assert_int_equal(ul_bcd_default_loader(&st.h, guid), 0);
    int r = ul_bcd_get_safeboot(&st.h, guid, ret ? ret : &dummy);
    ul_bcd_store_free(&st);
    return r;
}

/* A safeboot a person set (bcdedit /set {default} safeboot ...). */
static void person_sets(enum ul_safeboot mode)
{
    struct ul_bcd_store st;
    char guid[UL_BCD_GUID_LEN + 1];
    assert_int_equal(ul_bcd_store_load(&v, &mem, UL_BCD_PATH, &st, NULL), 0);
    assert_int_equal(ul_bcd_default_loader(&st.h, guid), 0);
    assert_int_equal(ul_bcd_set_safeboot(&st.h, guid, mode), 0);
    assert_int_equal(ul_bcd_store_save(&v, &st, NULL, NULL), 0);
    ul_bcd_store_free(&st);
}

static bool no_leftovers(void)
{
    return !fake_volume_exists(&vol, UL_BCD_PATH ".unloop-new") &&
           !fake_volume_exists(&vol, UL_BCD_PATH ".unloop-old") &&
           !fake_volume_exists(&vol, UL_BCD_BACKUP_PATH ".unloop-new");
}

/* ------------------------------------------------------------ set / clear */

static void test_set_and_clear_ours(void **state)
{
    (void)state;
    if (!have_stores())
        skip();
    for (size_t s = 0; s < NSTORES; s++) {
        struct image old = load_file(stores[s]);
        uint64_t sb;
        fresh_volume(&old);
        assert_int_equal(safeboot(NULL), -UL_ENOENT);

        /* set: the element and the flag; other flag bits stay */
        struct ul_state st = { .flags = 0x8000 };
        assert_int_equal(ul_safe_mode_set(&v, &mem, &log_, false, &st), 0);
        assert_int_equal(st.flags, 0x8000 | F_SM);
        assert_int_equal(safeboot(&sb), 0);
        assert_int_equal(sb, UL_SAFEBOOT_MINIMAL);
        assert_true(file_is(UL_BCD_BACKUP_PATH, &old));
        assert_true(no_leftovers());
        assert_logged("Safe Mode (minimal) set for the next boot of {");

        /* set again while ours: still ours, same value */
        assert_int_equal(ul_safe_mode_set(&v, &mem, &log_, false, &st), 0);
        assert_int_equal(st.flags, 0x8000 | F_SM);
        assert_int_equal(safeboot(&sb), 0);
        assert_int_equal(sb, UL_SAFEBOOT_MINIMAL);

        /* clear_ours with the flag: element gone, flag dropped */
        assert_int_equal(ul_safe_mode_clear_ours(&v, &mem, &log_, &st), 0);
        assert_int_equal(st.flags, 0x8000);
        assert_int_equal(safeboot(NULL), -UL_ENOENT);
        assert_true(no_leftovers());
        assert_logged("one-shot Safe Mode cleared after a good boot");

        /* clear_ours without the flag: not even a read */
        reset_counters();
        assert_int_equal(ul_safe_mode_clear_ours(&v, &mem, &log_, &st), 0);
        assert_int_equal(vol.n_ops + vol.n_reads + vol.n_stats, 0);
        assert_int_equal(st.flags, 0x8000);

        /* networking variant */
        st.flags = 0;
        assert_int_equal(ul_safe_mode_set(&v, &mem, &log_, true, &st), 0);
        assert_int_equal(st.flags, F_SM);
        assert_int_equal(safeboot(&sb), 0);
        assert_int_equal(sb, UL_SAFEBOOT_NETWORK);
        assert_int_equal(ul_safe_mode_clear_ours(&v, &mem, &log_, &st), 0);
        assert_int_equal(safeboot(NULL), -UL_ENOENT);

        /* The flag, but the element was removed meanwhile (by a person):
         * nothing to write, the flag is dropped. */
        st.flags = F_SM;
        reset_counters();
        assert_int_equal(ul_safe_mode_clear_ours(&v, &mem, &log_, &st), 0);
        assert_int_equal(st.flags, 0);
        assert_int_equal(vol.n_ops, 0);

        free(old.d);
    }
}

static void test_person_safeboot_left_alone(void **state)
{
    (void)state;
    if (!have_stores())
        skip();
    for (size_t s = 0; s < NSTORES; s++) {
        struct image old = load_file(stores[s]);
        uint64_t sb;
        fresh_volume(&old);
        person_sets(UL_SAFEBOOT_MINIMAL);
        struct image theirs = { 0 };
        {
            size_t len;
            const uint8_t *p = fake_volume_peek(&vol, UL_BCD_PATH, &len);
            theirs.d = malloc(len);
            memcpy(theirs.d, p, len);
            theirs.len = len;
        }

        /* clear_ours: no flag, the person's safeboot stays; no I/O */
        struct ul_state st = { 0 };
        reset_counters();
        assert_int_equal(ul_safe_mode_clear_ours(&v, &mem, &log_, &st), 0);
        assert_int_equal(vol.n_ops, 0);
        assert_int_equal(safeboot(&sb), 0);
        assert_int_equal(sb, UL_SAFEBOOT_MINIMAL);

        /* set, same mode: 0, nothing written, the flag not taken over */
        reset_counters();
        assert_int_equal(ul_safe_mode_set(&v, &mem, &log_, false, &st), 0);
        assert_int_equal(vol.n_ops, 0);
        assert_int_equal(st.flags, 0);
        assert_true(file_is(UL_BCD_PATH, &theirs));
        assert_false(fake_volume_exists(&vol, UL_BCD_BACKUP_PATH));
        assert_logged("Safe Mode (minimal) is already set in the BCD store");

        /* ...so a later good boot leaves it alone too */
        assert_int_equal(ul_safe_mode_clear_ours(&v, &mem, &log_, &st), 0);
        assert_true(file_is(UL_BCD_PATH, &theirs));

        /* The rule is "same mode": a different mode is overwritten and then
         * unloop's (run.c), so a good boot clears it. */
        assert_int_equal(ul_safe_mode_set(&v, &mem, &log_, true, &st), 0);
        assert_int_equal(st.flags, F_SM);
        assert_int_equal(safeboot(&sb), 0);
        assert_int_equal(sb, UL_SAFEBOOT_NETWORK);
        assert_true(file_is(UL_BCD_BACKUP_PATH, &theirs));

        free(theirs.d);
        free(old.d);
    }
}

static void test_missing_or_bad_bcd(void **state)
{
    (void)state;
    fresh_volume(NULL);
    struct ul_state st = { .flags = 0x0100 };
    reset_counters();
    assert_true(ul_safe_mode_set(&v, &mem, &log_, false, &st) < 0);
    assert_int_equal(st.flags, 0x0100);
    st.flags = F_SM;
    assert_true(ul_safe_mode_clear_ours(&v, &mem, &log_, &st) < 0);
    assert_int_equal(st.flags, F_SM);
    assert_int_equal(vol.n_ops, 0);
    assert_logged("cannot read the BCD store \\EFI\\Microsoft\\Boot\\BCD");

    /* not a hive */
    uint8_t junk[8192];
    memset(junk, 0x3c, sizeof(junk));
    assert_int_equal(fake_volume_put(&vol, UL_BCD_PATH, junk, sizeof(junk)), 0);
    reset_counters();
    st.flags = 0;
    assert_true(ul_safe_mode_set(&v, &mem, &log_, false, &st) < 0);
    assert_int_equal(st.flags, 0);
    st.flags = F_SM;
    assert_true(ul_safe_mode_clear_ours(&v, &mem, &log_, &st) < 0);
    assert_int_equal(st.flags, F_SM);
    assert_int_equal(vol.n_ops, 0);
}

/* ------------------------------------------------------------ ul_run */

static void script(unsigned n, const struct step *steps)
{
    memset(ui.steps, 0, sizeof(ui.steps));
    if (n)
        memcpy(ui.steps, steps, n * sizeof(*steps));
    ui.n_steps = n;
    ui.next = 0;
    ui.menu_calls = 0;
    ui.notices = 0;
}

static void run(void)
{
    ul_log_init(&log_, NULL, NULL, &env.clock, "pre-boot");
    ul_run(&env, &res);
}

static void put_state(uint32_t attempts, uint16_t flags, uint8_t rung)
{
    struct ul_state st = { .seq = 10, .attempts = attempts, .boots = 50 + attempts,
                           .flags = flags, .rung = rung };
    uint8_t f[UL_STATE_FILE_SIZE] = { 0 };
    ul_state_encode(&st, f);
    assert_int_equal(fake_volume_put(&vol, UL_STATE_PATH, f, sizeof(f)), 0);
}

static struct ul_state stored_state(void)
{
    struct ul_state st;
    struct ul_state_info info;
    int err;
    ul_state_read(&env.esp, &st, &info, &err);
    assert_int_equal(err, 0);
    return st;
}

static void test_run_safe_mode_then_bless(void **state)
{
    (void)state;
    if (!have_stores())
        skip();
    for (size_t s = 0; s < NSTORES; s++) {
        struct image old = load_file(stores[s]);
        uint64_t sb;
        fresh_volume(&old);
        put_state(2, 0, UL_RUNG_NONE);

        /* Attempt 3: the loop is caught; quarantine is not in this build, so
         * the default is Safe Mode, and the countdown takes it. */
        static const struct step timeout[] = { { .kind = STEP_TIMEOUT } };
        script(1, timeout);
        run();
        assert_true(res.menu_shown);
        assert_int_equal(res.decision.rung, UL_RUNG_SAFE_MODE);
        const struct ul_menu *m = &ui.menus[0];
        assert_int_equal(m->items[m->default_index].action, UL_ACTION_SAFE_MODE);
        assert_true(m->items[m->default_index].available);
        assert_false(m->items[1].available); /* quarantine */
        assert_false(m->wait);
        assert_int_equal(res.action, UL_ACTION_CONTINUE);
        assert_true(res.safe_mode_set);
        assert_false(res.safe_mode_cleared);
        assert_int_equal(ui.notices, 0);
        assert_int_equal(res.state.rung, UL_RUNG_SAFE_MODE);
        assert_true(res.state.flags & F_SM);
        struct ul_state stored = stored_state();
        assert_int_equal(stored.rung, UL_RUNG_SAFE_MODE);
        assert_true(stored.flags & F_SM);
        assert_int_equal(stored.attempts, 3);
        assert_int_equal(safeboot(&sb), 0);
        assert_int_equal(sb, UL_SAFEBOOT_MINIMAL);
        assert_true(file_is(UL_BCD_BACKUP_PATH, &old));
        assert_true(no_leftovers());

        /* The Safe Mode boot itself: unloop runs first, nothing is cleared
         * before a good boot; a person continues at the stop menu. */
        static const struct step key1[] = { { .kind = STEP_KEY, .key = '1' } };
        script(1, key1);
        reset_counters();
        run();
        assert_false(res.safe_mode_cleared);
        assert_false(res.safe_mode_set);
        assert_int_equal(res.action, UL_ACTION_CONTINUE);
        assert_int_equal(vol.n_renames + vol.n_removes, 0);
        assert_int_equal(safeboot(&sb), 0);
        assert_true(stored_state().flags & F_SM);

        /* Windows reached the desktop: `unloop bless`. */
        struct ul_state st;
        struct ul_state_info info;
        int err;
        ul_state_read(&env.esp, &st, &info, &err);
        ul_state_apply_bless(&st, 1700001000);
        assert_int_equal(ul_state_write(&env.esp, &st, &info), 0);

        /* Next boot: unloop's Safe Mode is cleared, a healthy hand-off. */
        script(0, NULL);
        run();
        assert_true(res.safe_mode_cleared);
        assert_false(res.menu_shown);
        assert_int_equal(res.action, UL_ACTION_CONTINUE);
        assert_int_equal(res.decision.rung, UL_RUNG_HANDOFF);
        assert_false(res.state.flags & F_SM);
        assert_false(stored_state().flags & F_SM);
        assert_int_equal(stored_state().attempts, 1);
        assert_int_equal(safeboot(NULL), -UL_ENOENT);
        assert_true(no_leftovers());
        assert_logged("one-shot Safe Mode cleared after a good boot");

        /* And the boot after: the BCD is not touched at all. */
        reset_counters();
        run();
        assert_false(res.safe_mode_cleared);
        assert_int_equal(vol.n_ops, 1); /* the state write */
        assert_int_equal(vol.op_log[0].kind, FAKE_OP_WRITE);
        assert_string_equal(vol.op_log[0].path, UL_STATE_PATH);
        free(old.d);
    }
}

/* A person chooses Safe Mode with networking by key. */
static void test_run_safe_mode_network_key(void **state)
{
    (void)state;
    if (!have_stores())
        skip();
    struct image old = load_file(stores[0]);
    uint64_t sb;
    fresh_volume(&old);
    put_state(2, 0, UL_RUNG_NONE);
    static const struct step key4[] = { { .kind = STEP_KEY, .key = '4' } };
    script(1, key4);
    run();
    assert_true(res.safe_mode_set);
    assert_int_equal(res.action, UL_ACTION_CONTINUE);
    assert_int_equal(safeboot(&sb), 0);
    assert_int_equal(sb, UL_SAFEBOOT_NETWORK);
    assert_true(stored_state().flags & F_SM);
    free(old.d);
}

static void fails_open(const struct image *bcd, const char *why)
{
    fresh_volume(bcd);
    put_state(2, 0, UL_RUNG_NONE);
    static const struct step timeout[] = { { .kind = STEP_TIMEOUT } };
    script(1, timeout);
    run();
    assert_true(res.menu_shown);
    assert_int_equal(res.action, UL_ACTION_CONTINUE);
    assert_false(res.safe_mode_set);
    assert_int_equal(ui.notices, 1);
    assert_non_null(strstr(ui.notice[0], "Safe Mode could not be set"));
    assert_false(res.state.flags & F_SM);
    struct ul_state stored = stored_state();
    assert_false(stored.flags & F_SM);
    assert_int_not_equal(stored.rung, UL_RUNG_SAFE_MODE);
    assert_int_equal(stored.attempts, 3);
    if (bcd)
        assert_true(file_is(UL_BCD_PATH, bcd));
    assert_false(fake_volume_exists(&vol, UL_BCD_BACKUP_PATH));
    assert_true(no_leftovers());
    assert_logged(why);
}

static void test_run_bad_bcd_fails_open(void **state)
{
    (void)state;
    /* not a hive */
    uint8_t junk[8192];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    struct image j = { junk, sizeof(junk) };
    fails_open(&j, "is not a valid hive");
    /* missing */
    fails_open(NULL, "cannot read the BCD store");
    if (!have_stores())
        skip();
    /* dirty (Windows crashed mid-update) and no logs to replay */
    for (size_t s = 0; s < NSTORES; s++) {
        struct image d = load_file(stores[s]);
        uint32_t seq = (uint32_t)d.d[4] | (uint32_t)d.d[5] << 8 | (uint32_t)d.d[6] << 16 |
                       (uint32_t)d.d[7] << 24;
        seq++;
        for (int i = 0; i < 4; i++)
            d.d[4 + i] = (uint8_t)(seq >> (8 * i));
        uint32_t ck = ul_regf_checksum(d.d);
        for (int i = 0; i < 4; i++)
            d.d[508 + i] = (uint8_t)(ck >> (8 * i));
        fails_open(&d, "is dirty and its logs cannot be replayed");
        free(d.d);
    }
}

/* Without memory ops (an adapter without Safe Mode): no BCD access at all. */
static void test_run_without_mem(void **state)
{
    (void)state;
    if (!have_stores())
        skip();
    struct image old = load_file(stores[0]);
    fresh_volume(&old);
    assert_int_equal(fake_volume_put(&vol, UL_BCD_PATH ".unloop-old", old.d, old.len), 0);
    put_state(0, F_SM, UL_RUNG_SAFE_MODE);
    env.mem = (struct ul_mem){ 0 };
    reset_counters();
    run();
    assert_false(res.safe_mode_cleared);
    assert_int_equal(vol.n_ops, 1);
    assert_true(fake_volume_exists(&vol, UL_BCD_PATH ".unloop-old"));
    free(old.d);
}

/*
 * A power cut at each mutating op of the menu run that sets Safe Mode; the
 * machine then boots (recovery), Windows is blessed, and the run after
 * that must leave no safeboot behind: one-shot means one shot, whichever
 * way the interrupted update was resolved.
 */
static void test_run_power_cut_during_set(void **state)
{
    (void)state;
    if (!have_stores())
        skip();
    struct image old = load_file(stores[1]);
    unsigned n, new_outcomes = 0;
    for (n = 1; n < 40; n++) {
        fresh_volume(&old);
        put_state(2, 0, UL_RUNG_NONE);
        static const struct step timeout[] = { { .kind = STEP_TIMEOUT } };
        script(1, timeout);
        reset_counters();
        fake_volume_power_cut_op(&vol, n, FAKE_CUT_ALL);
        run();
        bool cut = vol.power_cuts > 0;
        fake_volume_power_on(&vol);
        assert_int_equal(res.action, UL_ACTION_CONTINUE);
        /* the boot after the cut: recovery, and a person continues */
        static const struct step key1[] = { { .kind = STEP_KEY, .key = '1' } };
        script(1, key1);
        run();
        assert_true(no_leftovers() || !fake_volume_exists(&vol, UL_BCD_PATH ".unloop-old"));
        if (safeboot(NULL) == 0)
            new_outcomes++;
        /* bless, then the next run */
        struct ul_state st;
        struct ul_state_info info;
        int err;
        ul_state_read(&env.esp, &st, &info, &err);
        ul_state_apply_bless(&st, 1700001000);
        assert_int_equal(ul_state_write(&env.esp, &st, &info), 0);
        script(0, NULL);
        run();
        if (safeboot(NULL) != -UL_ENOENT)
            fail_msg("cut at op %u: unloop's Safe Mode is still set after a good boot "
                     "(flag %d)", n, !!(stored_state().flags & F_SM));
        if (!cut)
            break;
    }
    assert_true(n < 40);
    assert_true(new_outcomes > 0);
    free(old.d);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_set_and_clear_ours),
        T(test_person_safeboot_left_alone),
        T(test_missing_or_bad_bcd),
        T(test_run_safe_mode_then_bless),
        T(test_run_safe_mode_network_key),
        T(test_run_bad_bcd_fails_open),
        T(test_run_without_mem),
        T(test_run_power_cut_during_set),
    };
    return cmocka_run_group_tests_name("safe-mode", tests, NULL, NULL);
}
