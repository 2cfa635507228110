/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bcd-store: saving the BCD store on a FAT-like volume survives a power cut
 * at every mutating op (and torn writes inside them), recovery survives a
 * second cut, and recovery handles hand-made leftovers.  Real Windows
 * stores from ../shared/testdata/bcd/ are loaded into the fake ESP at
 * \EFI\Microsoft\Boot\BCD.
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
#include "log.h"
#include "regf.h"
#include "ul-errno.h"

#define BCD_DIR "../shared/testdata/bcd/"
#define NEWP UL_BCD_PATH ".unloop-new"
#define OLDP UL_BCD_PATH ".unloop-old"
#define BAK_NEWP UL_BCD_BACKUP_PATH ".unloop-new"

static const char *const stores[] = {
    "win10-bios-system.BCD",
    "win10-efi-locate.BCD",
    "win10xpe.BCD",
};
#define NSTORES (sizeof(stores) / sizeof(stores[0]))

/* ------------------------------------------------------------ memory */

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

/* ------------------------------------------------------------ fixture */

static struct fake_volume vol;
static struct ul_volume v;
static struct ul_log log_;

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

static int setup(void **state)
{
    (void)state;
    fake_volume_init(&vol);
    v = fake_volume_get(&vol);
    ul_log_init(&log_, NULL, NULL, NULL, "test");
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

static void fresh_volume(const struct image *bcd)
{
    fake_volume_reset(&vol);
    ul_log_init(&log_, NULL, NULL, NULL, "test");
    assert_int_equal(fake_volume_mkdir_p(&vol, "\\EFI\\unloop"), 0);
    if (bcd)
        assert_int_equal(fake_volume_put(&vol, UL_BCD_PATH, bcd->d, bcd->len), 0);
}

static void reset_counters(void)
{
    vol.n_writes = vol.n_reads = vol.n_stats = vol.n_mkdirs = vol.n_renames = vol.n_removes = 0;
    vol.n_ops = 0;
    memset(vol.op_log, 0, sizeof(vol.op_log));
}

/* A copy of a file on the fake volume (d NULL when absent). */
static struct image snap(const char *path)
{
    size_t len;
    const uint8_t *p = fake_volume_peek(&vol, path, &len);
    struct image im = { 0 };
    if (!p)
        return im;
    im.d = malloc(len ? len : 1);
    assert_non_null(im.d);
    memcpy(im.d, p, len);
    im.len = len;
    return im;
}

static bool same(const struct image *a, const uint8_t *d, size_t len)
{
    return a->d && d && a->len == len && memcmp(a->d, d, len) == 0;
}

static bool valid_hive(const uint8_t *d, size_t len)
{
    struct ul_regf h;
    uint8_t *c = malloc(len ? len : 1);
    assert_non_null(c);
    memcpy(c, d, len);
    bool ok = ul_regf_open(&h, c, len, len) == 0;
    free(c);
    return ok;
}

/* The change under test: one-shot Safe Mode on the default loader. */
static int save_safeboot(const char *backup)
{
    struct ul_bcd_store st;
    char guid[UL_BCD_GUID_LEN + 1];
    int r = ul_bcd_store_load(&v, &mem, UL_BCD_PATH, &st, &log_);
    if (r < 0)
        return r;
    r = ul_bcd_default_loader(&st.h, guid);
    if (r == 0)
        r = ul_bcd_set_safeboot(&st.h, guid, UL_SAFEBOOT_MINIMAL);
    if (r == 0)
        r = ul_bcd_store_save(&v, &st, backup, &log_);
    ul_bcd_store_free(&st);
    return r;
}

/* ------------------------------------------------------------ checks */

enum outcome { OUT_OLD, OUT_NEW };

/*
 * After recovery: the BCD is there, a valid hive, byte for byte either the
 * old or the new file; no leftovers beside it; the backup, when there, is
 * a valid hive equal to the old file (or to prior_backup, the one a cut
 * before the replacement leaves).
 */
static enum outcome check_recovered(const struct image *old, const struct image *want_new,
                                    const struct image *prior_backup, const char *what)
{
    size_t len;
    const uint8_t *p = fake_volume_peek(&vol, UL_BCD_PATH, &len);
    if (!p)
        fail_msg("%s: no BCD after recovery", what);
    if (!valid_hive(p, len))
        fail_msg("%s: the BCD is not a valid hive", what);
    bool is_old = same(old, p, len), is_new = same(want_new, p, len);
    if (!is_old && !is_new)
        fail_msg("%s: the BCD is neither the old nor the new file (%zu bytes)", what, len);
    if (fake_volume_exists(&vol, NEWP) || fake_volume_exists(&vol, OLDP))
        fail_msg("%s: leftovers: new %d old %d", what, fake_volume_exists(&vol, NEWP),
                 fake_volume_exists(&vol, OLDP));
    const uint8_t *b = fake_volume_peek(&vol, UL_BCD_BACKUP_PATH, &len);
    if (b) {
        if (!valid_hive(b, len))
            fail_msg("%s: the backup is not a valid hive (%zu bytes)", what, len);
        if (!same(old, b, len) && !(prior_backup && same(prior_backup, b, len)))
            fail_msg("%s: the backup is not the old file", what);
    }
    /* The core loads it too, and the safeboot matches the outcome. */
    struct ul_bcd_store st;
    char guid[UL_BCD_GUID_LEN + 1];
    uint64_t sb;
    assert_int_equal(ul_bcd_store_load(&v, &mem, UL_BCD_PATH, &st, &log_), 0);
    assert_int_equal(ul_bcd_default_loader(&st.h, guid), 0);
    if (is_new) {
        assert_int_equal(ul_bcd_get_safeboot(&st.h, guid, &sb), 0);
        assert_int_equal(sb, UL_SAFEBOOT_MINIMAL);
    }
    ul_bcd_store_free(&st);
    return is_new ? OUT_NEW : OUT_OLD;
}

/* The next save after recovery completes and tidies up everything. */
static void check_next_save(const struct image *want_new)
{
    struct image before = snap(UL_BCD_PATH);
    assert_int_equal(save_safeboot(UL_BCD_BACKUP_PATH), 0);
    assert_false(fake_volume_exists(&vol, NEWP));
    assert_false(fake_volume_exists(&vol, OLDP));
    assert_false(fake_volume_exists(&vol, BAK_NEWP));
    size_t len;
    const uint8_t *b = fake_volume_peek(&vol, UL_BCD_BACKUP_PATH, &len);
    assert_true(same(&before, b, len));
    if (same(&before, want_new->d, want_new->len)) {
        /* saving the same change again: same safeboot, still loads */
        assert_int_equal(ul_bcd_store_recover(&v, &mem, UL_BCD_PATH, &log_), 0);
    }
    free(before.d);
}

/* ------------------------------------------------------------ tests */

/* The new hook itself: a cut at the n-th mutating op of any kind. */
static void test_fake_cut_op(void **state)
{
    (void)state;
    fresh_volume(NULL);
    assert_int_equal(fake_volume_put(&vol, "\\a", "abc", 3), 0);
    fake_volume_power_cut_op(&vol, 2, FAKE_CUT_ALL);
    assert_int_equal(v.ops->mkdir(v.ctx, "\\d"), 0);
    assert_int_equal(v.ops->rename(v.ctx, "\\a", "\\b"), -UL_EIO);
    assert_true(vol.powered_off);
    assert_int_equal(vol.power_cuts, 1);
    assert_true(fake_volume_exists(&vol, "\\a")); /* the rename did not happen */
    assert_int_equal(v.ops->remove(v.ctx, "\\a"), -UL_EIO);
    assert_int_equal(fake_volume_op_count(&vol), 3);
    assert_int_equal(vol.op_log[0].kind, FAKE_OP_MKDIR);
    assert_int_equal(vol.op_log[1].kind, FAKE_OP_RENAME);
    assert_string_equal(vol.op_log[1].to, "\\b");
    assert_int_equal(vol.op_log[1].result, -UL_EIO);
    fake_volume_power_on(&vol);
    /* a torn write: k bytes land */
    fake_volume_power_cut_op(&vol, 1, 2);
    assert_int_equal(v.ops->write(v.ctx, "\\w", 0, "hello", 5), -UL_EIO);
    size_t len;
    const uint8_t *p = fake_volume_peek(&vol, "\\w", &len);
    assert_non_null(p);
    assert_int_equal(len, 2);
    assert_memory_equal(p, "he", 2);
    fake_volume_power_on(&vol);
    /* k = 0: the directory entry only; a cut on a failing op still cuts */
    fake_volume_power_cut_op(&vol, 1, 0);
    assert_int_equal(v.ops->write(v.ctx, "\\w0", 0, "x", 1), -UL_EIO);
    assert_int_equal(fake_volume_peek(&vol, "\\w0", &len) != NULL, 1);
    assert_int_equal(len, 0);
    fake_volume_power_on(&vol);
    fake_volume_power_cut_op(&vol, 1, FAKE_CUT_ALL);
    assert_int_equal(v.ops->remove(v.ctx, "\\nothing"), -UL_EIO);
    assert_true(vol.powered_off);
    fake_volume_power_on(&vol);
    assert_int_equal(v.ops->remove(v.ctx, "\\nothing"), -UL_ENOENT);
}

struct run_stats {
    unsigned runs, old, new_, recover_cuts;
};

/* Cut the recovery of the current state at each of its ops, then recover
 * again; the volume is rebuilt by redo() before each try. */
typedef void (*redo_fn)(const void *arg);

static void cut_recovery(redo_fn redo, const void *arg, const struct image *old,
                         const struct image *want_new, const struct image *prior,
                         const char *what, struct run_stats *rs)
{
    for (unsigned m = 1;; m++) {
        char w[300];
        redo(arg);
        fake_volume_power_cut_op(&vol, m, FAKE_CUT_ALL);
        unsigned cuts = vol.power_cuts;
        int r = ul_bcd_store_recover(&v, &mem, UL_BCD_PATH, &log_);
        bool cut = vol.power_cuts != cuts;
        fake_volume_power_on(&vol);
        if (!cut) {
            assert_true(r >= 0);
            break;
        }
        rs->recover_cuts++;
        assert_true(m < 20);
        r = ul_bcd_store_recover(&v, &mem, UL_BCD_PATH, &log_);
        assert_true(r >= 0);
        snprintf(w, sizeof(w), "%s, recovery cut at op %u", what, m);
        check_recovered(old, want_new, prior, w);
    }
}

struct cut_case {
    const struct image *bcd, *prior;
    unsigned n;
    size_t k;
    bool sectors;
    uint64_t mask;
};

/* Fresh volume, then the save with the cut armed, then power on. */
static void redo_cut_save(const void *arg)
{
    const struct cut_case *c = arg;
    fresh_volume(c->bcd);
    if (c->prior)
        assert_int_equal(fake_volume_put(&vol, UL_BCD_BACKUP_PATH, c->prior->d, c->prior->len), 0);
    reset_counters();
    if (c->sectors)
        fake_volume_power_cut_sectors(&vol, c->n, c->mask);
    else
        fake_volume_power_cut_op(&vol, c->n, c->k);
    (void)save_safeboot(UL_BCD_BACKUP_PATH);
    fake_volume_power_on(&vol);
}

static void one_cut(struct cut_case *c, const struct image *want_new, const char *store,
                    struct run_stats *rs)
{
    char what[200];
    if (c->sectors)
        snprintf(what, sizeof(what), "%s: write %u torn by sectors %#llx", store, c->n,
                 (unsigned long long)c->mask);
    else
        snprintf(what, sizeof(what), "%s: cut at op %u, k=%zd%s", store, c->n,
                 c->k == FAKE_CUT_ALL ? (ssize_t)-1 : (ssize_t)c->k,
                 c->prior ? " (with a prior backup)" : "");
    redo_cut_save(c);
    int r = ul_bcd_store_recover(&v, &mem, UL_BCD_PATH, &log_);
    if (r < 0)
        fail_msg("%s: recovery failed: %d", what, r);
    enum outcome o = check_recovered(c->bcd, want_new, c->prior, what);
    rs->runs++;
    if (o == OUT_NEW)
        rs->new_++;
    else
        rs->old++;
    check_next_save(want_new);
    cut_recovery(redo_cut_save, c, c->bcd, want_new, c->prior, what, rs);
}

static void power_cut_every_op(const struct image *prior_for, bool with_prior)
{
    for (size_t s = 0; s < NSTORES; s++) {
        struct image old = load_file(stores[s]);
        assert_non_null(old.d);
        struct image prior = { 0 };
        if (with_prior) {
            /* an earlier backup: another real store, a valid hive */
            prior = load_file(stores[(s + 1) % NSTORES]);
            (void)prior_for;
        }

        /* Dry run: the op sequence and the committed new image. */
        fresh_volume(&old);
        if (prior.d)
            assert_int_equal(fake_volume_put(&vol, UL_BCD_BACKUP_PATH, prior.d, prior.len), 0);
        reset_counters();
        assert_int_equal(save_safeboot(UL_BCD_BACKUP_PATH), 0);
        unsigned nops = vol.n_ops;
        struct fake_op ops[FAKE_OP_LOG];
        assert_true(nops <= FAKE_OP_LOG);
        memcpy(ops, vol.op_log, sizeof(ops));
        struct image want_new = snap(UL_BCD_PATH);
        assert_non_null(want_new.d);
        assert_false(same(&old, want_new.d, want_new.len));
        check_recovered(&old, &want_new, NULL, "dry run");
        assert_true(fake_volume_exists(&vol, UL_BCD_BACKUP_PATH));
        /* the new image is what the core committed in memory */
        {
            struct ul_bcd_store st;
            char guid[UL_BCD_GUID_LEN + 1];
            fresh_volume(&old);
            assert_int_equal(ul_bcd_store_load(&v, &mem, UL_BCD_PATH, &st, &log_), 0);
            assert_int_equal(ul_bcd_default_loader(&st.h, guid), 0);
            assert_int_equal(ul_bcd_set_safeboot(&st.h, guid, UL_SAFEBOOT_MINIMAL), 0);
            ul_regf_commit(&st.h);
            assert_true(same(&want_new, st.h.buf, st.h.len));
            ul_bcd_store_free(&st);
        }

        struct run_stats rs = { 0 };
        unsigned n;
        for (n = 1;; n++) {
            assert_true(n <= nops + 1);
            struct cut_case c = { .bcd = &old, .prior = prior.d ? &prior : NULL, .n = n };
            bool completed = false;
            if (n <= nops && ops[n - 1].kind == FAKE_OP_WRITE) {
                size_t L = ops[n - 1].len;
                size_t ks[] = { 0, 1, 4095, 4096, L / 2, L - 1, L };
                for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
                    if (ks[i] > L || (i > 0 && ks[i] == ks[i - 1]))
                        continue;
                    c.k = ks[i];
                    one_cut(&c, &want_new, stores[s], &rs);
                }
            } else {
                c.k = FAKE_CUT_ALL;
                /* Does the save finish without a cut this time? */
                fresh_volume(&old);
                if (prior.d)
                    assert_int_equal(
                        fake_volume_put(&vol, UL_BCD_BACKUP_PATH, prior.d, prior.len), 0);
                reset_counters();
                fake_volume_power_cut_op(&vol, n, FAKE_CUT_ALL);
                int r = save_safeboot(UL_BCD_BACKUP_PATH);
                completed = vol.power_cuts == 0;
                fake_volume_power_on(&vol);
                if (completed) {
                    assert_int_equal(r, 0);
                    assert_int_equal(check_recovered(&old, &want_new, NULL, "uncut"), OUT_NEW);
                } else {
                    one_cut(&c, &want_new, stores[s], &rs);
                }
            }
            if (completed)
                break;
        }
        assert_int_equal(n, nops + 1);
        assert_true(rs.old > 0);
        assert_true(rs.new_ > 0);

        /* Writes torn by sector order (a disk that reorders a multi-sector
         * write): each write of the save, a few masks. */
        unsigned wr = 0;
        for (unsigned i = 0; i < nops; i++) {
            if (ops[i].kind != FAKE_OP_WRITE)
                continue;
            wr++;
            size_t ns = (ops[i].len + FAKE_SECTOR - 1) / FAKE_SECTOR;
            if (ns > 64)
                ns = 64;
            uint64_t all = ns == 64 ? ~0ull : (1ull << ns) - 1;
            uint64_t masks[] = { 1, 1ull << (ns - 1), all & ~1ull, all & 0x5555555555555555ull };
            for (size_t m = 0; m < 4; m++) {
                struct cut_case c = { .bcd = &old, .prior = prior.d ? &prior : NULL, .n = wr,
                                      .sectors = true, .mask = masks[m] };
                one_cut(&c, &want_new, stores[s], &rs);
            }
        }
        print_message("%s%s: %u ops, %u cut runs (%u old, %u new), %u recovery cuts\n",
                      stores[s], with_prior ? " (prior backup)" : "", nops, rs.runs, rs.old,
                      rs.new_, rs.recover_cuts);
        free(want_new.d);
        free(old.d);
        free(prior.d);
    }
}

static void test_power_cut_every_op(void **state)
{
    (void)state;
    if (!have_stores())
        skip();
    power_cut_every_op(NULL, false);
}

static void test_power_cut_every_op_prior_backup(void **state)
{
    (void)state;
    if (!have_stores())
        skip();
    power_cut_every_op(NULL, true);
}

/* ---- recovery of hand-made leftovers ---- */

struct images {
    struct image old, new_;
};

static struct images make_images(const char *name)
{
    struct images im;
    im.old = load_file(name);
    assert_non_null(im.old.d);
    fresh_volume(&im.old);
    assert_int_equal(save_safeboot(NULL), 0);
    im.new_ = snap(UL_BCD_PATH);
    return im;
}

static void put(const char *path, const uint8_t *d, size_t len)
{
    assert_int_equal(fake_volume_put(&vol, path, d, len), 0);
}

static void assert_file(const char *path, const struct image *want)
{
    size_t len;
    const uint8_t *p = fake_volume_peek(&vol, path, &len);
    assert_non_null(p);
    assert_true(same(want, p, len));
}

static int recover(void)
{
    reset_counters();
    return ul_bcd_store_recover(&v, &mem, UL_BCD_PATH, &log_);
}

static void test_recover_leftovers(void **state)
{
    (void)state;
    if (!have_stores())
        skip();
    for (size_t s = 0; s < NSTORES; s++) {
        struct images im = make_images(stores[s]);
        uint8_t junk[5000];
        memset(junk, 0xa5, sizeof(junk));

        /* BCD + a partial new file: the BCD stands, the new file goes. */
        fresh_volume(&im.old);
        put(NEWP, im.new_.d, 1000);
        assert_int_equal(recover(), 1);
        assert_file(UL_BCD_PATH, &im.old);
        assert_false(fake_volume_exists(&vol, NEWP));
        assert_int_equal(vol.n_writes, 0);

        /* No BCD, a valid new file, the old one: the new one goes in. */
        fresh_volume(NULL);
        put(NEWP, im.new_.d, im.new_.len);
        put(OLDP, im.old.d, im.old.len);
        assert_int_equal(recover(), 1);
        assert_file(UL_BCD_PATH, &im.new_);
        assert_false(fake_volume_exists(&vol, NEWP));
        assert_false(fake_volume_exists(&vol, OLDP));
        assert_int_equal(vol.n_writes, 0);

        /* No BCD, a truncated / invalid / empty new file, the old one:
         * the old one is restored. */
        const struct image bad[] = {
            { im.new_.d, im.new_.len / 2 },
            { im.new_.d, im.new_.len - 1 },
            { im.new_.d, 4096 },
            { junk, sizeof(junk) },
            { junk, 0 },
        };
        for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
            fresh_volume(NULL);
            put(NEWP, bad[b].d, bad[b].len);
            put(OLDP, im.old.d, im.old.len);
            assert_int_equal(recover(), 1);
            assert_file(UL_BCD_PATH, &im.old);
            assert_false(fake_volume_exists(&vol, NEWP));
            assert_false(fake_volume_exists(&vol, OLDP));
        }
        /* A new file that is a hive but dirty is not taken either. */
        {
            struct image d = { malloc(im.new_.len), im.new_.len };
            memcpy(d.d, im.new_.d, d.len);
            d.d[4]++;
            uint32_t ck = ul_regf_checksum(d.d);
            d.d[508] = (uint8_t)ck, d.d[509] = (uint8_t)(ck >> 8);
            d.d[510] = (uint8_t)(ck >> 16), d.d[511] = (uint8_t)(ck >> 24);
            fresh_volume(NULL);
            put(NEWP, d.d, d.len);
            put(OLDP, im.old.d, im.old.len);
            assert_int_equal(recover(), 1);
            assert_file(UL_BCD_PATH, &im.old);
            free(d.d);
        }

        /* BCD (the new one) + the old one: the old one goes. */
        fresh_volume(&im.new_);
        put(OLDP, im.old.d, im.old.len);
        assert_int_equal(recover(), 1);
        assert_file(UL_BCD_PATH, &im.new_);
        assert_false(fake_volume_exists(&vol, OLDP));
        assert_int_equal(vol.n_writes + vol.n_renames, 0);

        /* No BCD, only the old one: restored. */
        fresh_volume(NULL);
        put(OLDP, im.old.d, im.old.len);
        assert_int_equal(recover(), 1);
        assert_file(UL_BCD_PATH, &im.old);
        assert_false(fake_volume_exists(&vol, OLDP));

        /* No BCD, only a valid new one: it goes in. */
        fresh_volume(NULL);
        put(NEWP, im.new_.d, im.new_.len);
        assert_int_equal(recover(), 1);
        assert_file(UL_BCD_PATH, &im.new_);

        /* No BCD, only a broken new one: an error, and nothing is lost. */
        fresh_volume(NULL);
        put(NEWP, junk, sizeof(junk));
        assert_true(recover() < 0);
        assert_int_equal(vol.n_ops, 0);
        assert_true(fake_volume_exists(&vol, NEWP));

        /* Nothing interrupted: 0, no mutating op at all. */
        fresh_volume(&im.old);
        assert_int_equal(recover(), 0);
        assert_int_equal(vol.n_ops, 0);
        assert_int_equal(vol.n_reads, 0);
        assert_file(UL_BCD_PATH, &im.old);
        fresh_volume(NULL);
        assert_int_equal(recover(), 0);
        assert_int_equal(vol.n_ops, 0);

        free(im.old.d);
        free(im.new_.d);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_fake_cut_op),
        T(test_power_cut_every_op),
        T(test_power_cut_every_op_prior_backup),
        T(test_recover_leftovers),
    };
    return cmocka_run_group_tests_name("bcd-store", tests, NULL, NULL);
}
