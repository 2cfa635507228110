/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fakes themselves: every other test trusts them, so their FAT-like
 * rules and fault hooks are pinned down here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "fake-volume.h"
#include "ul-errno.h"

static struct fake_volume vol;
static struct ul_volume v;

static int setup(void **state)
{
    (void)state;
    fake_volume_init(&vol);
    v = fake_volume_get(&vol);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_volume_free(&vol);
    return 0;
}

#define W(path, off, s) v.ops->write(v.ctx, path, off, s, strlen(s))

static void test_dirs_and_files(void **state)
{
    (void)state;
    struct ul_stat st;
    char buf[32];
    size_t got;

    /* Parent must exist. */
    assert_int_equal(W("\\EFI\\unloop\\state", 0, "x"), -UL_ENOENT);
    assert_int_equal(v.ops->mkdir(v.ctx, "\\EFI\\unloop"), -UL_ENOENT);
    assert_int_equal(v.ops->mkdir(v.ctx, "\\EFI"), 0);
    assert_int_equal(v.ops->mkdir(v.ctx, "\\efi"), -UL_EEXIST);
    assert_int_equal(v.ops->mkdir(v.ctx, "\\EFI\\unloop"), 0);
    assert_int_equal(W("\\EFI\\unloop\\state", 0, "hello"), 0);

    /* Case-insensitive. */
    assert_int_equal(v.ops->read(v.ctx, "\\efi\\UNLOOP\\STATE", 0, buf, sizeof(buf), &got), 0);
    assert_int_equal(got, 5);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(v.ops->stat(v.ctx, "\\Efi\\Unloop\\State", &st), 0);
    assert_int_equal(st.size, 5);
    assert_false(st.is_dir);
    assert_int_equal(v.ops->stat(v.ctx, "\\EFI", &st), 0);
    assert_true(st.is_dir);
    assert_int_equal(v.ops->stat(v.ctx, "\\", &st), 0);
    assert_true(st.is_dir);
    assert_int_equal(v.ops->stat(v.ctx, "\\nope", &st), -UL_ENOENT);

    /* Short reads at the end, nothing past it. */
    assert_int_equal(v.ops->read(v.ctx, "\\EFI\\unloop\\state", 3, buf, sizeof(buf), &got), 0);
    assert_int_equal(got, 2);
    assert_int_equal(v.ops->read(v.ctx, "\\EFI\\unloop\\state", 99, buf, sizeof(buf), &got), 0);
    assert_int_equal(got, 0);
    assert_int_equal(v.ops->read(v.ctx, "\\EFI\\unloop\\nope", 0, buf, 4, &got), -UL_ENOENT);
    assert_int_equal(v.ops->read(v.ctx, "\\EFI", 0, buf, 4, &got), -UL_EISDIR);

    /* Writing past the end zero-fills. */
    assert_int_equal(W("\\EFI\\unloop\\state", 8, "AB"), 0);
    size_t len;
    const uint8_t *d = fake_volume_peek(&vol, "\\EFI\\unloop\\state", &len);
    assert_int_equal(len, 10);
    assert_memory_equal(d, "hello\0\0\0AB", 10);

    /* A directory cannot be written; a file cannot be a parent. */
    assert_int_equal(W("\\EFI", 0, "x"), -UL_EISDIR);
    assert_int_equal(W("\\EFI\\unloop\\state\\x", 0, "x"), -UL_ENOENT);
    /* Only absolute backslash paths. */
    assert_int_equal(W("EFI\\x", 0, "x"), -UL_EINVAL);
    assert_int_equal(W("\\EFI/x", 0, "x"), -UL_EINVAL);
}

static void test_rename_and_remove(void **state)
{
    (void)state;
    assert_int_equal(fake_volume_put(&vol, "\\EFI\\unloop\\log", "new", 3), 0);
    assert_int_equal(fake_volume_put(&vol, "\\EFI\\unloop\\log.1", "old", 3), 0);
    assert_int_equal(v.ops->rename(v.ctx, "\\EFI\\unloop\\log", "\\EFI\\unloop\\log.1"),
                     -UL_EEXIST);
    assert_int_equal(v.ops->rename(v.ctx, "\\EFI\\unloop\\nope", "\\EFI\\unloop\\x"),
                     -UL_ENOENT);
    assert_int_equal(v.ops->remove(v.ctx, "\\EFI\\unloop\\LOG.1"), 0);
    assert_int_equal(v.ops->remove(v.ctx, "\\EFI\\unloop\\log.1"), -UL_ENOENT);
    assert_int_equal(v.ops->rename(v.ctx, "\\EFI\\unloop\\log", "\\EFI\\unloop\\log.1"), 0);
    assert_false(fake_volume_exists(&vol, "\\EFI\\unloop\\log"));
    char *s = fake_volume_read_string(&vol, "\\EFI\\unloop\\log.1");
    assert_string_equal(s, "new");
    free(s);
    /* A directory with something in it stays. */
    assert_true(v.ops->remove(v.ctx, "\\EFI\\unloop") < 0);
    /* Renames stay in one directory. */
    assert_int_equal(v.ops->rename(v.ctx, "\\EFI\\unloop\\log.1", "\\EFI\\log.1"), -UL_EINVAL);
}

static void test_fail_nth_write_and_count(void **state)
{
    (void)state;
    assert_int_equal(v.ops->mkdir(v.ctx, "\\d"), 0);
    fake_volume_fail_write(&vol, 2, -UL_ENOSPC);
    assert_int_equal(W("\\d\\a", 0, "1"), 0);
    assert_int_equal(W("\\d\\b", 0, "2"), -UL_ENOSPC);
    assert_false(fake_volume_exists(&vol, "\\d\\b"));
    assert_int_equal(W("\\d\\b", 0, "3"), 0);
    assert_int_equal(fake_volume_write_count(&vol), 3);
    assert_int_equal(vol.write_log[1].result, -UL_ENOSPC);
    assert_string_equal(vol.write_log[2].path, "\\d\\b");

    fake_volume_fail_path(&vol, "\\D\\A", -UL_EACCES);
    char buf[4];
    size_t got;
    assert_int_equal(v.ops->read(v.ctx, "\\d\\a", 0, buf, 4, &got), -UL_EACCES);
    assert_int_equal(v.ops->read(v.ctx, "\\d\\b", 0, buf, 4, &got), 0);
    fake_volume_fail_path(&vol, NULL, 0);
    assert_int_equal(v.ops->read(v.ctx, "\\d\\a", 0, buf, 4, &got), 0);
}

static void test_power_cut(void **state)
{
    (void)state;
    struct ul_stat st;
    assert_int_equal(fake_volume_put(&vol, "\\f", "0123456789", 10), 0);
    fake_volume_power_cut(&vol, 2, 3);
    assert_int_equal(W("\\f", 0, "aaaaaaaaaa"), 0);
    assert_int_equal(W("\\f", 12, "bbbbbb"), -UL_EIO);
    assert_true(vol.powered_off);
    /* Everything fails until power is back. */
    assert_int_equal(v.ops->stat(v.ctx, "\\f", &st), -UL_EIO);
    assert_int_equal(v.ops->mkdir(v.ctx, "\\x"), -UL_EIO);
    assert_int_equal(W("\\f", 0, "c"), -UL_EIO);
    fake_volume_power_on(&vol);
    size_t len;
    const uint8_t *d = fake_volume_peek(&vol, "\\f", &len);
    assert_int_equal(len, 15);
    assert_memory_equal(d, "aaaaaaaaaa\0\0bbb", 15);

    /* Cut at 0 bytes of a new file: the entry exists, empty. */
    fake_volume_power_cut(&vol, 1, 0);
    assert_int_equal(W("\\g", 0, "data"), -UL_EIO);
    fake_volume_power_on(&vol);
    assert_non_null(fake_volume_peek(&vol, "\\g", &len));
    assert_int_equal(len, 0);

    /* Sectors out of order: only the second of three lands. */
    uint8_t big[1200];
    memset(big, 'z', sizeof(big));
    fake_volume_power_cut_sectors(&vol, 1, 2);
    assert_int_equal(v.ops->write(v.ctx, "\\h", 0, big, sizeof(big)), -UL_EIO);
    fake_volume_power_on(&vol);
    d = fake_volume_peek(&vol, "\\h", &len);
    assert_int_equal(len, 1024);
    assert_int_equal(d[0], 0);
    assert_int_equal(d[511], 0);
    assert_int_equal(d[512], 'z');
    assert_int_equal(d[1023], 'z');
    assert_int_equal(vol.power_cuts, 3);
}

static void test_clock(void **state)
{
    (void)state;
    struct fake_clock c = { 0 };
    struct ul_clock clk = fake_clock_get(&c);
    struct ul_time t;
    fake_clock_set(&c, 42, 60, true);
    assert_int_equal(clk.ops->now(clk.ctx, &t), 0);
    assert_int_equal(t.secs, 42);
    assert_int_equal(t.tz, 60);
    assert_true(t.valid);
    fake_clock_fail(&c, -UL_EIO);
    assert_int_equal(clk.ops->now(clk.ctx, &t), -UL_EIO);
    assert_int_equal(c.calls, 2);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_dirs_and_files),
        T(test_rename_and_remove),
        T(test_fail_nth_write_and_count),
        T(test_power_cut),
        T(test_clock),
    };
    return cmocka_run_group_tests_name("fake-volume", tests, NULL, NULL);
}
