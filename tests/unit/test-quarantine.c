/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Scan, quarantine, restore and journal replay on an NTFS-like fake volume
 * (list, two-step move, set_times), with a power cut at every mutating op.
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
#include "journal.h"
#include "quarantine.h"
#include "rules.h"
#include "time-util.h"
#include "ul-errno.h"

static struct fake_volume fv;
static struct ul_volume vol;
static struct ul_log qlog;

static void *m_alloc(void *ctx, size_t n) { (void)ctx; return calloc(1, n); }
static void m_free(void *ctx, void *p) { (void)ctx; free(p); }
static const struct ul_mem_ops mem_ops = { m_alloc, m_free };
static const struct ul_mem mem = { &mem_ops, NULL };

#define CS "\\Windows\\System32\\drivers\\CrowdStrike\\"
#define BAD CS "C-00000291-00000000-00000032.sys"
#define PREV CS "C-00000291-00000000-00000031.sys"
#define OLD CS "C-00000290-00000000-00000005.sys"
#define VENDOR "\\Windows\\System32\\drivers\\ExampleVendor\\exv-defs.sys"
#define MSFILE "\\Windows\\System32\\drivers\\ntfs.sys"
#define MSLANG "\\Windows\\System32\\drivers\\en-US\\ntfs.sys.mui"

static uint64_t ft(int y, int mo, int d, int h, int mi)
{
    return ul_filetime_from_unix(ul_time_from_fields(y, mo, d, h, mi, 0));
}

static void put(const char *path, const uint8_t *data, size_t len, uint64_t t)
{
    struct ul_times times = { t, t, t, t };
    assert_int_equal(fake_volume_put(&fv, path, data, len), 0);
    assert_int_equal(fake_volume_set_times(&fv, path, &times), 0);
}

static int setup(void **state)
{
    static uint8_t zeros[41984], chan[40960], ms[2048];
    (void)state;
    fake_volume_reset(&fv);
    vol = fake_volume_get(&fv);
    fv.move_stamp = ft(2026, 1, 1, 0, 0);
    memset(chan, 0x5a, sizeof(chan));
    memset(chan, 0xaa, 4);
    memcpy(ms, "MZ", 2);
    put(BAD, zeros, sizeof(zeros), ft(2024, 7, 19, 4, 9));
    put(PREV, chan, sizeof(chan), ft(2024, 7, 18, 21, 30));
    put(OLD, chan, 6144, ft(2024, 7, 10, 12, 0));
    put(VENDOR, chan, 1000, ft(2024, 7, 17, 8, 0));
    put(MSFILE, ms, sizeof(ms), ft(2024, 5, 14, 0, 0));
    put(MSLANG, ms, 100, ft(2024, 7, 19, 4, 30)); /* new, but Microsoft's */
    ul_log_init(&qlog, NULL, NULL, NULL, "test");
    qlog.level = UL_LOG_DEBUG;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_volume_reset(&fv);
    return 0;
}

static struct ul_rules rules(void)
{
    struct ul_rules r;
    ul_rules_defaults(&r);
    return r;
}

static void scan_with(struct ul_recency_in in, struct ul_scan *s)
{
    struct ul_rules r = rules();
    assert_int_equal(ul_scan(&vol, &r, &in, s, &qlog), 0);
}

static void test_scan_after_last_good(void **state)
{
    static struct ul_scan s;
    (void)state;
    struct ul_recency_in in = { .last_good_utc = (uint64_t)ul_time_from_fields(2024, 7, 19, 0, 0, 0) };
    scan_with(in, &s);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.c[0].path, BAD);
    assert_true(s.c[0].all_zero);
    assert_int_equal(s.c[0].size, 41984);
    assert_true(s.matched >= 4);
}

static void test_scan_bare_volume_uses_newest_match(void **state)
{
    static struct ul_scan s;
    (void)state;
    struct ul_recency_in in = { 0 };
    scan_with(in, &s);
    /* newest match 07-19 04:09 - 24 h: the 07-18 21:30 channel file is recent too,
     * the vendor file of 07-17 and Microsoft's files are not candidates. */
    assert_int_equal(s.n, 2);
    assert_string_equal(s.c[0].path, BAD);
    assert_string_equal(s.c[1].path, PREV);
    assert_false(s.c[1].all_zero);
    assert_true(s.c[1].magic_ok);
}

static void test_scan_since_everything(void **state)
{
    static struct ul_scan s;
    (void)state;
    struct ul_recency_in in = { .have_since = true, .since_utc = 0 };
    scan_with(in, &s);
    /* Every third-party file; never Microsoft's (ntfs.sys, en-US). */
    assert_int_equal(s.n, 4);
    for (uint32_t i = 0; i < s.n; i++) {
        assert_string_not_equal(s.c[i].path, MSFILE);
        assert_string_not_equal(s.c[i].path, MSLANG);
    }
    /* newest first */
    for (uint32_t i = 1; i < s.n; i++)
        assert_true(s.c[i - 1].times.modification >= s.c[i].times.modification);
}

static uint64_t run1(void) { return ul_run_id_from_time(ul_time_from_fields(2024, 7, 19, 5, 0, 0)); }

static void check_restored(const char *path, const uint8_t *orig, size_t len, uint64_t t)
{
    size_t got;
    const uint8_t *d = fake_volume_peek(&fv, path, &got);
    assert_non_null(d);
    assert_int_equal(got, len);
    assert_memory_equal(d, orig, len);
    struct ul_stat st;
    assert_int_equal(vol.ops->stat(vol.ctx, path, &st), 0);
    assert_true(st.times.modification == t && st.times.creation == t && st.times.mft_change == t);
}

static void test_quarantine_and_restore_newest(void **state)
{
    static struct ul_scan s;
    struct ul_journal j;
    struct ul_qreport rep;
    uint8_t orig[41984] = { 0 };
    (void)state;
    scan_with((struct ul_recency_in){ .last_good_utc = (uint64_t)ul_time_from_fields(2024, 7, 18, 0, 0, 0) }, &s);
    assert_int_equal(s.n, 2);
    assert_int_equal(ul_journal_open(&j, &vol, UL_JOURNAL_PATH), 0);
    assert_int_equal(ul_quarantine(&vol, &s, UL_Q_NEWEST, 64, run1(), &j, &rep, &qlog), 0);
    assert_int_equal(rep.moved, 1);
    assert_false(fake_volume_exists(&fv, BAD));
    const char *q = "\\unloop.quarantine\\20240719-050000" BAD;
    check_restored(q, orig, sizeof(orig), ft(2024, 7, 19, 4, 9));
    assert_true(fake_volume_exists(&fv, PREV)); /* newest only */
    assert_int_equal(j.n, 2);
    struct ul_jrec rec;
    assert_int_equal(ul_journal_get(&j, 0, &rec), 0);
    assert_int_equal(rec.type, UL_J_INTENT_MOVE);
    assert_string_equal(rec.src, BAD);
    assert_string_equal(rec.dst, q);
    assert_int_equal(ul_journal_get(&j, 1, &rec), 0);
    assert_int_equal(rec.type, UL_J_DONE_MOVE);

    /* A fresh open sees the same journal; restore puts it back exactly. */
    assert_int_equal(ul_journal_open(&j, &vol, UL_JOURNAL_PATH), 0);
    assert_int_equal(j.n, 2);
    assert_int_equal(ul_restore(&vol, &j, &mem, 0, &rep, &qlog), 0);
    assert_int_equal(rep.moved, 1);
    assert_int_equal(rep.run_id, run1());
    check_restored(BAD, orig, sizeof(orig), ft(2024, 7, 19, 4, 9));
    assert_false(fake_volume_exists(&fv, q));
    assert_int_equal(j.n, 4);
    /* Nothing more to restore. */
    assert_int_equal(ul_restore(&vol, &j, &mem, 0, &rep, &qlog), 0);
    assert_int_equal(rep.moved, 0);
}

static void test_restore_never_overwrites(void **state)
{
    static struct ul_scan s;
    struct ul_journal j;
    struct ul_qreport rep;
    (void)state;
    scan_with((struct ul_recency_in){ .last_good_utc = (uint64_t)ul_time_from_fields(2024, 7, 19, 0, 0, 0) }, &s);
    assert_int_equal(ul_journal_open(&j, &vol, UL_JOURNAL_PATH), 0);
    assert_int_equal(ul_quarantine(&vol, &s, UL_Q_WIDE, 64, run1(), &j, &rep, &qlog), 0);
    /* The vendor ships a fixed file under the same name. */
    put(BAD, (const uint8_t *)"fixed", 5, ft(2024, 7, 19, 6, 0));
    assert_int_equal(ul_restore(&vol, &j, &mem, 0, &rep, &qlog), 0);
    assert_int_equal(rep.moved, 0);
    assert_int_equal(rep.skipped, 1);
    size_t got;
    assert_memory_equal(fake_volume_peek(&fv, BAD, &got), "fixed", 5);
    assert_true(fake_volume_exists(&fv, "\\unloop.quarantine\\20240719-050000" BAD));
}

/* Where is each file: exactly one of its two places, content intact. */
static void check_one_place(const char *src, const char *dst, size_t len)
{
    bool a = fake_volume_exists(&fv, src), b = fake_volume_exists(&fv, dst);
    assert_true(a != b);
    size_t got;
    assert_non_null(fake_volume_peek(&fv, a ? src : dst, &got));
    assert_int_equal(got, len);
}

static void cut_every_op(enum ul_qmode mode, bool during_restore)
{
    static struct ul_scan s;
    for (unsigned n = 1;; n++) {
        struct ul_journal j;
        struct ul_qreport rep;
        setup(NULL);
        scan_with((struct ul_recency_in){ .last_good_utc = (uint64_t)ul_time_from_fields(2024, 7, 18, 0, 0, 0) }, &s);
        assert_int_equal(ul_journal_open(&j, &vol, UL_JOURNAL_PATH), 0);
        if (during_restore)
            assert_int_equal(ul_quarantine(&vol, &s, mode, 64, run1(), &j, &rep, &qlog), 0);
        unsigned before = fv.n_ops;
        fake_volume_power_cut_op(&fv, n, FAKE_CUT_ALL);
        if (during_restore)
            ul_restore(&vol, &j, &mem, 0, &rep, &qlog);
        else
            ul_quarantine(&vol, &s, mode, 64, run1(), &j, &rep, &qlog);
        bool cut = fv.power_cuts > 0;
        fake_volume_power_on(&fv);
        (void)before;

        /* Next run: replay, then every file is in exactly one place. */
        assert_int_equal(ul_journal_open(&j, &vol, UL_JOURNAL_PATH), 0);
        assert_true(ul_journal_replay(&vol, &j, &mem, &qlog) >= 0);
        check_one_place(BAD, "\\unloop.quarantine\\20240719-050000" BAD, 41984);
        check_one_place(PREV, "\\unloop.quarantine\\20240719-050000" PREV, 40960);
        struct ul_jfile *f;
        uint32_t nf;
        assert_int_equal(ul_journal_files(&j, &mem, &f, &nf), 0);
        for (uint32_t i = 0; i < nf; i++) {
            assert_true(f[i].state != UL_J_INTENT_MOVE && f[i].state != UL_J_INTENT_RESTORE);
            bool at_dst = fake_volume_exists(&fv, f[i].rec.dst);
            assert_int_equal(at_dst, f[i].state == UL_J_DONE_MOVE);
        }
        free(f);
        /* And a restore brings everything home with its times. */
        struct ul_qreport rep2;
        assert_true(ul_restore(&vol, &j, &mem, 0, &rep2, &qlog) >= 0);
        assert_true(fake_volume_exists(&fv, BAD));
        assert_true(fake_volume_exists(&fv, PREV));
        struct ul_stat st;
        assert_int_equal(vol.ops->stat(vol.ctx, BAD, &st), 0);
        assert_true(st.times.mft_change == ft(2024, 7, 19, 4, 9));
        assert_true(fake_volume_exists(&fv, MSFILE));
        if (!cut) {
            print_message("%s: %u power-cut points checked\n",
                          during_restore ? "restore" : "quarantine", n - 1);
            assert_true(n > 4);
            break;
        }
        assert_true(n < 200);
    }
}

static void test_power_cut_during_quarantine(void **state)
{
    (void)state;
    cut_every_op(UL_Q_WIDE, false);
}

static void test_power_cut_during_restore(void **state)
{
    (void)state;
    cut_every_op(UL_Q_WIDE, true);
}

static void test_replay_two_names_one_file(void **state)
{
    struct ul_journal j;
    (void)state;
    const char *dst = "\\unloop.quarantine\\20240719-050000" BAD;
    struct ul_jrec rec = { .type = UL_J_INTENT_MOVE, .run_id = run1(), .size = 41984 };
    strcpy(rec.src, BAD);
    strcpy(rec.dst, dst);
    struct ul_stat st;
    assert_int_equal(vol.ops->stat(vol.ctx, BAD, &st), 0);
    rec.times = st.times;
    rec.file_id = st.file_id;
    assert_int_equal(ul_journal_open(&j, &vol, UL_JOURNAL_PATH), 0);
    assert_int_equal(fake_volume_mkdir_p(&fv, "\\unloop.quarantine\\20240719-050000\\Windows\\System32\\drivers\\CrowdStrike"), 0);
    assert_int_equal(ul_journal_append(&j, &rec), 0);
    assert_int_equal(fake_volume_link(&fv, BAD, dst), 0); /* link done, unlink not */
    assert_int_equal(ul_journal_replay(&vol, &j, &mem, &qlog), 1);
    assert_false(fake_volume_exists(&fv, BAD));
    assert_true(fake_volume_exists(&fv, dst));
    assert_int_equal(j.n, 2);

    /* Two different files at both places: left alone, reported. */
    put(PREV, (const uint8_t *)"x", 1, 1);
    struct ul_jrec r2 = rec;
    strcpy(r2.src, PREV);
    strcpy(r2.dst, "\\unloop.quarantine\\20240719-050000" PREV);
    put(r2.dst, (const uint8_t *)"y", 1, 1);
    assert_int_equal(ul_journal_append(&j, &r2), 0);
    assert_int_equal(ul_journal_replay(&vol, &j, &mem, &qlog), 0);
    assert_true(fake_volume_exists(&fv, PREV));
    assert_true(fake_volume_exists(&fv, r2.dst));
}

static void test_journal_parse(void **state)
{
    uint8_t buf[3 * UL_JREC_SIZE + 100];
    struct ul_jrec r = { .type = UL_J_INTENT_MOVE, .run_id = 1 }, out[4];
    bool torn;
    (void)state;
    strcpy(r.src, "\\a");
    strcpy(r.dst, "\\b");
    for (uint32_t i = 0; i < 3; i++) {
        r.seq = i;
        ul_jrec_encode(&r, buf + i * UL_JREC_SIZE);
    }
    memset(buf + 3 * UL_JREC_SIZE, 0x77, 100);
    assert_int_equal(ul_journal_parse(buf, sizeof(buf), out, 4, &torn), 3);
    assert_true(torn);
    assert_int_equal(ul_journal_parse(buf, 3 * UL_JREC_SIZE, out, 4, &torn), 3);
    assert_false(torn);
    buf[UL_JREC_SIZE + 80] ^= 1; /* record 1 damaged: the journal ends at 0 */
    assert_int_equal(ul_journal_parse(buf, sizeof(buf), out, 4, &torn), 1);
    buf[UL_JREC_SIZE + 80] ^= 1;
    r.seq = 7; /* out of order */
    ul_jrec_encode(&r, buf + 2 * UL_JREC_SIZE);
    assert_int_equal(ul_journal_parse(buf, sizeof(buf), out, 4, &torn), 2);
    /* paths must be absolute and NUL-free */
    struct ul_jrec bad = r;
    strcpy(bad.src, "relative");
    ul_jrec_encode(&bad, buf);
    assert_int_equal(ul_jrec_decode(buf, UL_JREC_SIZE, out), -UL_EBADMSG);
    char id[16];
    ul_run_id_format(run1(), id);
    assert_string_equal(id, "20240719-050000");
}

static void test_torn_append_is_overwritten(void **state)
{
    struct ul_journal j;
    struct ul_jrec r = { .type = UL_J_INTENT_MOVE, .run_id = 1 };
    (void)state;
    strcpy(r.src, "\\a");
    strcpy(r.dst, "\\b");
    assert_int_equal(ul_journal_open(&j, &vol, UL_JOURNAL_PATH), 0);
    assert_int_equal(fake_volume_mkdir_p(&fv, UL_QUARANTINE_DIR), 0);
    assert_int_equal(ul_journal_append(&j, &r), 0);
    fake_volume_power_cut(&fv, 1, 100);
    assert_true(ul_journal_append(&j, &r) < 0);
    fake_volume_power_on(&fv);
    assert_int_equal(ul_journal_open(&j, &vol, UL_JOURNAL_PATH), 0);
    assert_int_equal(j.n, 1);
    assert_true(j.torn_tail);
    assert_int_equal(ul_journal_append(&j, &r), 0);
    assert_int_equal(ul_journal_open(&j, &vol, UL_JOURNAL_PATH), 0);
    assert_int_equal(j.n, 2);
    assert_false(j.torn_tail);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scan_after_last_good, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_bare_volume_uses_newest_match, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_since_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quarantine_and_restore_newest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_never_overwrites, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_cut_during_quarantine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_cut_during_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_two_names_one_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_append_is_overwritten, setup, teardown),
    };
    int r = cmocka_run_group_tests(tests, NULL, NULL);
    fake_volume_free(&fv);
    return r;
}
