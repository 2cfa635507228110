/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * boot-state: the slot encoding, the choice between the two slots, the
 * write discipline on the fake ESP, and the promise of unloop-contract.h:
 * "a power cut at any byte leaves the previous record intact".
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot-state.h"
#include "crc32.h"
#include "fake-volume.h"
#include "ul-errno.h"
#include "unloop-contract.h"

static struct fake_volume vol;
static struct ul_volume esp;

static int setup(void **state)
{
    (void)state;
    fake_volume_init(&vol);
    esp = fake_volume_get(&vol);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_volume_free(&vol);
    return 0;
}

static bool state_eq(const struct ul_state *a, const struct ul_state *b)
{
    return a->seq == b->seq && a->attempts == b->attempts && a->boots == b->boots &&
           a->rung == b->rung && a->fixed_by == b->fixed_by && a->flags == b->flags &&
           a->last_good == b->last_good && a->first_attempt == b->first_attempt &&
           a->last_attempt == b->last_attempt && a->clock_tz == b->clock_tz;
}

static bool seq_is_after(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}

static const char *state_str(const struct ul_state *s)
{
    static char buf[4][200];
    static int i;
    char *b = buf[i++ % 4];
    snprintf(b, 200, "{seq %u att %u boots %u rung %u fixed %u flags %#x good %llu first %lld "
             "last %lld tz %d}", s->seq, s->attempts, s->boots, s->rung, s->fixed_by, s->flags,
             (unsigned long long)s->last_good, (long long)s->first_attempt,
             (long long)s->last_attempt, s->clock_tz);
    return b;
}

#define assert_state_equal(a, b)                                                  \
    do {                                                                          \
        if (!state_eq((a), (b)))                                                  \
            fail_msg("state %s != %s", state_str(a), state_str(b));               \
    } while (0)

static const struct ul_state sample = {
    .seq = 0x01020304,
    .attempts = 7,
    .boots = 1234,
    .rung = UL_RUNG_SAFE_MODE,
    .fixed_by = UL_RUNG_QUARANTINE_WIDE,
    .flags = UL_STATE_F_SAFEMODE_SET,
    .last_good = 1700000000,
    .first_attempt = 1700000100,
    .last_attempt = -5,
    .clock_tz = -480,
};

/* ------------------------------------------------------------ encoding */

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

static void test_encode_layout(void **state)
{
    (void)state;
    uint8_t s[UL_STATE_SLOT_SIZE];

    memset(s, 0xee, sizeof(s));
    ul_state_encode(&sample, s);
    /* Offsets as written down in unloop-contract.h. */
    assert_int_equal(le32(s + 0), UL_STATE_MAGIC);
    assert_memory_equal(s, "ULST", 4);
    assert_int_equal(le16(s + 4), UL_STATE_VERSION);
    assert_int_equal(le16(s + 6), UL_STATE_SLOT_SIZE);
    assert_int_equal(le32(s + 8), sample.seq);
    assert_int_equal(le32(s + 12), sample.attempts);
    assert_int_equal(le32(s + 16), sample.boots);
    assert_int_equal(s[20], sample.rung);
    assert_int_equal(s[21], sample.fixed_by);
    assert_int_equal(le16(s + 22), sample.flags);
    assert_int_equal(le64(s + 24), sample.last_good);
    assert_int_equal((int64_t)le64(s + 32), sample.first_attempt);
    assert_int_equal((int64_t)le64(s + 40), sample.last_attempt);
    assert_int_equal((int16_t)le16(s + 48), sample.clock_tz);
    for (int i = 50; i < 60; i++)
        assert_int_equal(s[i], 0);
    assert_int_equal(le32(s + 60), ul_crc32(s, 60));
}

static void test_encode_decode_round_trip(void **state)
{
    (void)state;
    struct ul_state cases[] = {
        sample,
        { 0 },
        { .seq = UINT32_MAX, .attempts = UINT32_MAX, .boots = UINT32_MAX, .rung = UL_RUNG_STOP,
          .fixed_by = UL_RUNG_STOP, .flags = 0xffff, .last_good = UINT64_MAX,
          .first_attempt = INT64_MIN, .last_attempt = INT64_MAX, .clock_tz = UL_TZ_UNSPECIFIED },
        { .seq = 1, .attempts = 1, .boots = 1, .rung = UL_RUNG_HANDOFF, .clock_tz = -1440 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t s[UL_STATE_SLOT_SIZE + 8];
        struct ul_state out;
        memset(&out, 0x77, sizeof(out));
        ul_state_encode(&cases[i], s);
        assert_int_equal(ul_state_decode_slot(s, UL_STATE_SLOT_SIZE, &out), 0);
        assert_state_equal(&out, &cases[i]);
        /* Extra bytes after the slot do not matter. */
        memset(s + UL_STATE_SLOT_SIZE, 0xab, 8);
        assert_int_equal(ul_state_decode_slot(s, sizeof(s), &out), 0);
        assert_state_equal(&out, &cases[i]);
        /* Too short a buffer is rejected. */
        for (size_t len = 0; len < UL_STATE_SLOT_SIZE; len++)
            assert_int_equal(ul_state_decode_slot(s, len, &out), -UL_EBADMSG);
    }
}

/* A slot with a good CRC but rungs a newer writer might use. */
static void test_decode_clamps_unknown_rungs(void **state)
{
    (void)state;
    struct ul_state st = sample, out;
    uint8_t s[UL_STATE_SLOT_SIZE];

    ul_state_encode(&st, s);
    s[20] = 9;
    s[21] = 200;
    uint32_t crc = ul_crc32(s, 60);
    s[60] = (uint8_t)crc, s[61] = (uint8_t)(crc >> 8), s[62] = (uint8_t)(crc >> 16),
    s[63] = (uint8_t)(crc >> 24);
    assert_int_equal(ul_state_decode_slot(s, sizeof(s), &out), 0);
    assert_int_equal(out.rung, UL_RUNG_STOP);
    assert_int_equal(out.fixed_by, UL_RUNG_NONE);

    /* Non-zero reserved bytes are tolerated (a future minor addition). */
    ul_state_encode(&st, s);
    s[55] = 1;
    crc = ul_crc32(s, 60);
    s[60] = (uint8_t)crc, s[61] = (uint8_t)(crc >> 8), s[62] = (uint8_t)(crc >> 16),
    s[63] = (uint8_t)(crc >> 24);
    assert_int_equal(ul_state_decode_slot(s, sizeof(s), &out), 0);
    assert_state_equal(&out, &st);
}

static void test_every_single_byte_corruption_rejected(void **state)
{
    (void)state;
    uint8_t s[UL_STATE_SLOT_SIZE];
    struct ul_state out;

    ul_state_encode(&sample, s);
    for (size_t i = 0; i < UL_STATE_SLOT_SIZE; i++) {
        for (unsigned x = 1; x < 256; x++) {
            s[i] ^= (uint8_t)x;
            if (ul_state_decode_slot(s, sizeof(s), &out) != -UL_EBADMSG)
                fail_msg("byte %zu ^ %#x accepted", i, x);
            s[i] ^= (uint8_t)x;
        }
    }
    assert_int_equal(ul_state_decode_slot(s, sizeof(s), &out), 0);

    /* Wrong magic/version/size with a matching CRC is rejected as well. */
    static const size_t fields[] = { 0, 4, 6 };
    for (size_t f = 0; f < 3; f++) {
        ul_state_encode(&sample, s);
        s[fields[f]] ^= 0x40;
        uint32_t crc = ul_crc32(s, 60);
        s[60] = (uint8_t)crc, s[61] = (uint8_t)(crc >> 8), s[62] = (uint8_t)(crc >> 16),
        s[63] = (uint8_t)(crc >> 24);
        assert_int_equal(ul_state_decode_slot(s, sizeof(s), &out), -UL_EBADMSG);
    }
}

/* ------------------------------------------------------------ parsing */

static uint8_t file[UL_STATE_FILE_SIZE];

static void make_file(const struct ul_state *s0, const struct ul_state *s1)
{
    memset(file, 0, sizeof(file));
    if (s0)
        ul_state_encode(s0, file);
    if (s1)
        ul_state_encode(s1, file + UL_STATE_SLOT_STRIDE);
}

static void test_parse_picks_newest_with_wraparound(void **state)
{
    (void)state;
    static const struct { uint32_t a, b; int want; } cases[] = {
        { 1, 2, 1 },
        { 2, 1, 0 },
        { 0xffffffffu, 0, 1 },            /* wrapped: 0 is newer than 2^32-1 */
        { 0, 0xffffffffu, 0 },
        { 0xfffffff0u, 5, 1 },
        { 5, 0xfffffff0u, 0 },
        { 0x7fffffffu, 0x80000000u, 1 },
        { 100, 100 + 0x7fffffffu, 1 },     /* the largest distance still "newer" */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ul_state a = sample, b = sample, out;
        struct ul_state_info info;
        a.seq = cases[i].a;
        a.attempts = 10;
        b.seq = cases[i].b;
        b.attempts = 20;
        make_file(&a, &b);
        ul_state_parse(file, sizeof(file), &out, &info);
        assert_int_equal(info.health, UL_STATE_OK);
        assert_true(info.slot_valid[0] && info.slot_valid[1]);
        if (info.slot != cases[i].want)
            fail_msg("seq %#x vs %#x: picked slot %d", cases[i].a, cases[i].b, info.slot);
        assert_state_equal(&out, cases[i].want ? &b : &a);
    }
}

static void test_parse_short_empty_garbage(void **state)
{
    (void)state;
    struct ul_state out, zero = { 0 };
    struct ul_state_info info;
    uint8_t garbage[UL_STATE_FILE_SIZE + 100];

    /* Empty. */
    memset(&out, 0x55, sizeof(out));
    ul_state_parse(file, 0, &out, &info);
    assert_int_equal(info.health, UL_STATE_CORRUPT);
    assert_int_equal(info.slot, -1);
    assert_int_equal(info.file_size, 0);
    assert_false(info.slot_valid[0] || info.slot_valid[1]);
    assert_state_equal(&out, &zero);

    /* Every length of a file holding slot 0 only. */
    make_file(&sample, NULL);
    for (size_t len = 0; len <= UL_STATE_FILE_SIZE; len++) {
        ul_state_parse(file, len, &out, &info);
        assert_int_equal(info.file_size, len);
        if (len < UL_STATE_SLOT_SIZE) {
            assert_int_equal(info.health, UL_STATE_CORRUPT);
            assert_state_equal(&out, &zero);
        } else {
            /* slot 1 absent or zeros: never written, not damaged */
            assert_int_equal(info.health, UL_STATE_OK);
            assert_int_equal(info.slot, 0);
            assert_state_equal(&out, &sample);
        }
    }

    /* A torn slot 1 after a good slot 0 at every length. */
    struct ul_state newer = sample;
    newer.seq++;
    make_file(&sample, &newer);
    for (size_t len = UL_STATE_SLOT_STRIDE; len <= UL_STATE_FILE_SIZE; len++) {
        ul_state_parse(file, len, &out, &info);
        if (len == UL_STATE_SLOT_STRIDE) {
            assert_int_equal(info.health, UL_STATE_OK);
            assert_int_equal(info.slot, 0);
        } else if (len < UL_STATE_SLOT_STRIDE + UL_STATE_SLOT_SIZE) {
            assert_int_equal(info.health, UL_STATE_DEGRADED);
            assert_int_equal(info.slot, 0);
            assert_state_equal(&out, &sample);
        } else {
            assert_int_equal(info.health, UL_STATE_OK);
            assert_int_equal(info.slot, 1);
            assert_state_equal(&out, &newer);
        }
    }

    /* All zeros: no valid slot. */
    memset(file, 0, sizeof(file));
    ul_state_parse(file, sizeof(file), &out, &info);
    assert_int_equal(info.health, UL_STATE_CORRUPT);

    /* Pseudo-random garbage of many lengths, including longer than a file. */
    uint32_t x = 1;
    for (size_t i = 0; i < sizeof(garbage); i++) {
        x = x * 1103515245u + 12345u;
        garbage[i] = (uint8_t)(x >> 16);
    }
    static const size_t lens[] = { 1, 3, 63, 64, 65, 4095, 4096, 4159, 4160, 8191, 8192, 8292 };
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        ul_state_parse(garbage, lens[i], &out, &info);
        assert_int_equal(info.health, UL_STATE_CORRUPT);
        assert_int_equal(info.slot, -1);
        assert_state_equal(&out, &zero);
    }

    /* "ULST" followed by garbage: still corrupt. */
    memcpy(garbage, "ULST", 4);
    ul_state_parse(garbage, 8192, &out, &info);
    assert_int_equal(info.health, UL_STATE_CORRUPT);
}

static void test_parse_health(void **state)
{
    (void)state;
    struct ul_state a = sample, b = sample, out;
    struct ul_state_info info;
    b.seq++;
    b.attempts++;

    make_file(&a, &b);
    ul_state_parse(file, sizeof(file), &out, &info);
    assert_int_equal(info.health, UL_STATE_OK);
    assert_int_equal(info.slot, 1);

    /* Every single-byte damage to the newest slot falls back to the older. */
    for (size_t i = 0; i < UL_STATE_SLOT_SIZE; i++) {
        file[UL_STATE_SLOT_STRIDE + i] ^= 0x81;
        ul_state_parse(file, sizeof(file), &out, &info);
        assert_int_equal(info.health, UL_STATE_DEGRADED);
        assert_int_equal(info.slot, 0);
        assert_true(info.slot_valid[0]);
        assert_false(info.slot_valid[1]);
        assert_state_equal(&out, &a);
        file[UL_STATE_SLOT_STRIDE + i] ^= 0x81;
    }
    /* ... and damage to the older slot keeps the newest, degraded. */
    file[9] ^= 1;
    ul_state_parse(file, sizeof(file), &out, &info);
    assert_int_equal(info.health, UL_STATE_DEGRADED);
    assert_int_equal(info.slot, 1);
    assert_state_equal(&out, &b);

    /* Only slot 1 valid, slot 0 never written. */
    make_file(NULL, &b);
    ul_state_parse(file, sizeof(file), &out, &info);
    assert_int_equal(info.health, UL_STATE_OK);
    assert_int_equal(info.slot, 1);

    /* Both damaged. */
    make_file(&a, &b);
    file[3] ^= 1;
    file[UL_STATE_SLOT_STRIDE + 3] ^= 1;
    ul_state_parse(file, sizeof(file), &out, &info);
    assert_int_equal(info.health, UL_STATE_CORRUPT);
    assert_int_equal(info.slot, -1);

    assert_string_equal(ul_state_health_name(UL_STATE_OK), "ok");
    assert_string_equal(ul_state_health_name(UL_STATE_DEGRADED), "degraded");
    assert_string_equal(ul_state_health_name(UL_STATE_MISSING), "missing");
    assert_string_equal(ul_state_health_name(UL_STATE_CORRUPT), "corrupt");
    assert_string_equal(ul_state_health_name((enum ul_state_health)99), "unknown");
    assert_string_equal(ul_rung_name(UL_RUNG_NONE), "none");
    assert_string_equal(ul_rung_name(UL_RUNG_STOP), "stop");
    assert_string_equal(ul_rung_name((enum ul_rung)42), "unknown");
}

/* ------------------------------------------------------------ read / write */

static void test_read_missing_corrupt_and_errors(void **state)
{
    (void)state;
    struct ul_state out;
    struct ul_state_info info;
    int err;

    ul_state_read(&esp, &out, &info, &err);
    assert_int_equal(err, 0);
    assert_int_equal(info.health, UL_STATE_MISSING);
    assert_int_equal(info.slot, -1);
    assert_int_equal(out.attempts, 0);

    assert_int_equal(fake_volume_put(&vol, UL_STATE_PATH, "garbage", 7), 0);
    ul_state_read(&esp, &out, &info, &err);
    assert_int_equal(err, 0);
    assert_int_equal(info.health, UL_STATE_CORRUPT);
    assert_int_equal(info.file_size, 7);

    /* An I/O error is reported, and the record counts from zero. */
    make_file(&sample, NULL);
    assert_int_equal(fake_volume_put(&vol, UL_STATE_PATH, file, sizeof(file)), 0);
    fake_volume_fail_path(&vol, UL_STATE_PATH, -UL_EIO);
    ul_state_read(&esp, &out, &info, &err);
    assert_int_equal(err, -UL_EIO);
    assert_int_equal(info.health, UL_STATE_CORRUPT);
    assert_int_equal(out.attempts, 0);
    fake_volume_fail_path(&vol, NULL, 0);

    /* Case-insensitive paths, as on FAT. */
    fake_volume_reset(&vol);
    assert_int_equal(fake_volume_put(&vol, "\\efi\\UNLOOP\\State", file, sizeof(file)), 0);
    ul_state_read(&esp, &out, &info, &err);
    assert_int_equal(info.health, UL_STATE_OK);
    assert_state_equal(&out, &sample);

    /* A directory where the file should be. */
    fake_volume_reset(&vol);
    assert_int_equal(fake_volume_mkdir_p(&vol, UL_STATE_PATH), 0);
    ul_state_read(&esp, &out, &info, &err);
    assert_int_equal(err, -UL_EISDIR);
    assert_int_equal(info.health, UL_STATE_CORRUPT);
}

static void read_back(struct ul_state *out, struct ul_state_info *info)
{
    int err;
    ul_state_read(&esp, out, info, &err);
    assert_int_equal(err, 0);
}

static void test_write_creates_and_alternates(void **state)
{
    (void)state;
    struct ul_state st, out;
    struct ul_state_info info, rinfo;
    int err;

    ul_state_read(&esp, &st, &info, &err);
    assert_int_equal(info.health, UL_STATE_MISSING);
    st.attempts = 1;
    assert_int_equal(ul_state_write(&esp, &st, &info), 0);
    assert_true(fake_volume_is_dir(&vol, "\\EFI"));
    assert_true(fake_volume_is_dir(&vol, UL_DIR_PATH));
    /* A new file is laid out whole, in one write. */
    assert_int_equal(vol.n_writes, 1);
    assert_int_equal(vol.write_log[0].off, 0);
    assert_int_equal(vol.write_log[0].len, UL_STATE_FILE_SIZE);
    assert_int_equal(st.seq, 1);
    assert_int_equal(info.health, UL_STATE_OK);
    assert_int_equal(info.slot, 0);
    assert_int_equal(info.file_size, UL_STATE_FILE_SIZE);

    size_t len;
    assert_non_null(fake_volume_peek(&vol, UL_STATE_PATH, &len));
    assert_int_equal(len, UL_STATE_FILE_SIZE);
    read_back(&out, &rinfo);
    assert_state_equal(&out, &st);
    assert_int_equal(rinfo.slot, 0);
    assert_int_equal(rinfo.health, UL_STATE_OK);

    /* Then one slot-sized write per update, alternating. */
    for (int i = 0; i < 6; i++) {
        int want_slot = (i + 1) % 2;
        st.attempts++;
        assert_int_equal(ul_state_write(&esp, &st, &info), 0);
        const struct fake_write *w = &vol.write_log[vol.n_writes - 1];
        assert_int_equal(w->off, (uint64_t)want_slot * UL_STATE_SLOT_STRIDE);
        assert_int_equal(w->len, UL_STATE_SLOT_SIZE);
        assert_int_equal(info.slot, want_slot);
        assert_int_equal(info.health, UL_STATE_OK);
        assert_true(info.slot_valid[0] && info.slot_valid[1]);
        assert_int_equal(st.seq, (uint32_t)i + 2);

        read_back(&out, &rinfo);
        assert_state_equal(&out, &st);
        assert_int_equal(rinfo.slot, want_slot);
        assert_int_equal(rinfo.health, UL_STATE_OK);
        /* the other slot still holds the previous record */
        struct ul_state prev;
        const uint8_t *f = fake_volume_peek(&vol, UL_STATE_PATH, &len);
        assert_int_equal(ul_state_decode_slot(f + (1 - want_slot) * UL_STATE_SLOT_STRIDE,
                                              UL_STATE_SLOT_SIZE, &prev), 0);
        assert_int_equal(prev.seq, st.seq - 1);
    }
    assert_int_equal(vol.n_writes, 7);
    size_t final_len;
    fake_volume_peek(&vol, UL_STATE_PATH, &final_len);
    assert_int_equal(final_len, UL_STATE_FILE_SIZE);
}

static void test_write_existing_dir_and_missing_parent(void **state)
{
    (void)state;
    struct ul_state st;
    struct ul_state_info info;
    int err;

    /* \EFI\unloop exists (a log is there) but no state: mkdir's EEXIST is fine. */
    assert_int_equal(fake_volume_put(&vol, UL_LOG_PATH, "x\r\n", 3), 0);
    ul_state_read(&esp, &st, &info, &err);
    assert_int_equal(info.health, UL_STATE_MISSING);
    assert_int_equal(ul_state_write(&esp, &st, &info), 0);

    /* \EFI exists but not \EFI\unloop. */
    fake_volume_reset(&vol);
    assert_int_equal(fake_volume_mkdir_p(&vol, "\\EFI\\Boot"), 0);
    ul_state_read(&esp, &st, &info, &err);
    assert_int_equal(ul_state_write(&esp, &st, &info), 0);
    assert_true(fake_volume_is_dir(&vol, UL_DIR_PATH));

    /* A file named \EFI: mkdir cannot help and the write fails cleanly. */
    fake_volume_reset(&vol);
    assert_int_equal(fake_volume_put(&vol, "\\EFI", "x", 1), 0);
    ul_state_read(&esp, &st, &info, &err);
    assert_true(ul_state_write(&esp, &st, &info) < 0);
}

static void test_write_repairs_corrupt_and_short_files(void **state)
{
    (void)state;
    struct ul_state st, out;
    struct ul_state_info info, rinfo;
    int err;

    /* A corrupt file of full size: slot 0 is written, slot 1 still damaged. */
    uint8_t junk[UL_STATE_FILE_SIZE];
    memset(junk, 0xa5, sizeof(junk));
    assert_int_equal(fake_volume_put(&vol, UL_STATE_PATH, junk, sizeof(junk)), 0);
    ul_state_read(&esp, &st, &info, &err);
    assert_int_equal(info.health, UL_STATE_CORRUPT);
    st.attempts = 1;
    assert_int_equal(ul_state_write(&esp, &st, &info), 0);
    read_back(&out, &rinfo);
    assert_state_equal(&out, &st);
    assert_int_equal(rinfo.health, UL_STATE_DEGRADED);
    assert_int_equal(info.health, UL_STATE_DEGRADED);
    /* and the next write repairs slot 1 */
    st.attempts++;
    assert_int_equal(ul_state_write(&esp, &st, &info), 0);
    read_back(&out, &rinfo);
    assert_int_equal(rinfo.health, UL_STATE_OK);
    assert_state_equal(&out, &st);

    /* A short corrupt file is laid out anew. */
    fake_volume_reset(&vol);
    assert_int_equal(fake_volume_put(&vol, UL_STATE_PATH, junk, 100), 0);
    ul_state_read(&esp, &st, &info, &err);
    assert_int_equal(info.health, UL_STATE_CORRUPT);
    assert_int_equal(ul_state_write(&esp, &st, &info), 0);
    read_back(&out, &rinfo);
    assert_int_equal(rinfo.health, UL_STATE_OK);
    assert_int_equal(rinfo.file_size, UL_STATE_FILE_SIZE);
    assert_state_equal(&out, &st);

    /* A short file with a valid slot 0 keeps it and appends slot 1. */
    fake_volume_reset(&vol);
    uint8_t s[UL_STATE_SLOT_SIZE];
    ul_state_encode(&sample, s);
    assert_int_equal(fake_volume_put(&vol, UL_STATE_PATH, s, sizeof(s)), 0);
    ul_state_read(&esp, &st, &info, &err);
    assert_int_equal(info.health, UL_STATE_OK);
    assert_state_equal(&st, &sample);
    st.attempts++;
    assert_int_equal(ul_state_write(&esp, &st, &info), 0);
    assert_int_equal(vol.write_log[0].off, UL_STATE_SLOT_STRIDE);
    assert_int_equal(vol.write_log[0].len, UL_STATE_SLOT_SIZE);
    assert_int_equal(info.file_size, UL_STATE_SLOT_STRIDE + UL_STATE_SLOT_SIZE);
    read_back(&out, &rinfo);
    assert_state_equal(&out, &st);
    assert_int_equal(rinfo.slot, 1);
    assert_true(rinfo.slot_valid[0]);
    /* and the next write goes to slot 0 alone: never a write over both
     * slots while one of them holds the newest record */
    st.attempts++;
    assert_int_equal(ul_state_write(&esp, &st, &info), 0);
    assert_int_equal(vol.write_log[1].off, 0);
    assert_int_equal(vol.write_log[1].len, UL_STATE_SLOT_SIZE);
    assert_int_equal(info.slot, 0);
    assert_int_equal(info.health, UL_STATE_OK);
    assert_int_equal(info.file_size, UL_STATE_SLOT_STRIDE + UL_STATE_SLOT_SIZE);
    read_back(&out, &rinfo);
    assert_state_equal(&out, &st);
    assert_int_equal(rinfo.slot, 0);
    assert_int_equal(rinfo.health, UL_STATE_OK);
    assert_int_equal(rinfo.file_size, UL_STATE_SLOT_STRIDE + UL_STATE_SLOT_SIZE);

    /* Likewise a short file whose only valid record is in slot 1. */
    fake_volume_reset(&vol);
    uint8_t f2[UL_STATE_SLOT_STRIDE + UL_STATE_SLOT_SIZE];
    memset(f2, 0x99, sizeof(f2));
    ul_state_encode(&sample, f2 + UL_STATE_SLOT_STRIDE);
    assert_int_equal(fake_volume_put(&vol, UL_STATE_PATH, f2, sizeof(f2)), 0);
    ul_state_read(&esp, &st, &info, &err);
    assert_int_equal(info.health, UL_STATE_DEGRADED);
    assert_int_equal(info.slot, 1);
    assert_int_equal(ul_state_write(&esp, &st, &info), 0);
    assert_int_equal(vol.write_log[0].off, 0);
    assert_int_equal(vol.write_log[0].len, UL_STATE_SLOT_SIZE);
    read_back(&out, &rinfo);
    assert_int_equal(rinfo.health, UL_STATE_OK);
    assert_state_equal(&out, &st);
}

static void test_write_failure(void **state)
{
    (void)state;
    struct ul_state st, out;
    struct ul_state_info info, rinfo;
    int err;

    ul_state_read(&esp, &st, &info, &err);
    st.attempts = 1;
    assert_int_equal(ul_state_write(&esp, &st, &info), 0);
    struct ul_state saved = st;

    fake_volume_fail_write(&vol, 1, -UL_EROFS);
    st.attempts = 2;
    assert_int_equal(ul_state_write(&esp, &st, &info), -UL_EROFS);
    read_back(&out, &rinfo);
    assert_state_equal(&out, &saved);

    /* Full volume on creation. */
    fake_volume_reset(&vol);
    ul_state_read(&esp, &st, &info, &err);
    fake_volume_fail_write(&vol, 1, -UL_ENOSPC);
    assert_int_equal(ul_state_write(&esp, &st, &info), -UL_ENOSPC);
    ul_state_read(&esp, &out, &rinfo, &err);
    assert_int_equal(rinfo.health, UL_STATE_MISSING);
}

/* ------------------------------------------------------------ bump / bless */

static void test_bump(void **state)
{
    (void)state;
    struct ul_state st = { 0 };
    struct ul_time t1 = { .secs = 1000, .tz = UL_TZ_UNSPECIFIED, .valid = true };
    struct ul_time t2 = { .secs = 2000, .tz = 60, .valid = true };
    struct ul_time bad = { .secs = 999999, .tz = 0, .valid = false };

    ul_state_apply_bump(&st, t1);
    assert_int_equal(st.attempts, 1);
    assert_int_equal(st.boots, 1);
    assert_int_equal(st.first_attempt, 1000);
    assert_int_equal(st.last_attempt, 1000);
    assert_int_equal(st.clock_tz, UL_TZ_UNSPECIFIED);
    assert_int_equal(st.seq, 0); /* only a write advances seq */

    ul_state_apply_bump(&st, t2);
    assert_int_equal(st.attempts, 2);
    assert_int_equal(st.boots, 2);
    assert_int_equal(st.first_attempt, 1000); /* still the streak's first */
    assert_int_equal(st.last_attempt, 2000);
    assert_int_equal(st.clock_tz, 60);

    /* An invalid clock counts the attempt but leaves the times alone. */
    ul_state_apply_bump(&st, bad);
    assert_int_equal(st.attempts, 3);
    assert_int_equal(st.last_attempt, 2000);
    assert_int_equal(st.clock_tz, 60);

    /* A streak whose first attempt had no clock takes the first valid time. */
    struct ul_state s2 = { 0 };
    ul_state_apply_bump(&s2, bad);
    assert_int_equal(s2.first_attempt, 0);
    ul_state_apply_bump(&s2, t2);
    assert_int_equal(s2.first_attempt, 2000);

    /* Saturation, never wrap to 0 (that would look like a healthy machine). */
    struct ul_state s3 = { .attempts = UINT32_MAX - 1, .boots = UINT32_MAX };
    ul_state_apply_bump(&s3, t1);
    assert_int_equal(s3.attempts, UINT32_MAX);
    ul_state_apply_bump(&s3, t1);
    assert_int_equal(s3.attempts, UINT32_MAX);
    assert_int_equal(s3.boots, UINT32_MAX);
}

static void test_bless(void **state)
{
    (void)state;
    for (int r = UL_RUNG_NONE; r <= UL_RUNG_STOP; r++) {
        struct ul_state st = sample;
        st.rung = (uint8_t)r;
        ul_state_apply_bless(&st, 1800000000);
        assert_int_equal(st.attempts, 0);
        assert_int_equal(st.rung, UL_RUNG_NONE);
        assert_int_equal(st.last_good, 1800000000);
        assert_int_equal(st.fixed_by, r > UL_RUNG_HANDOFF ? r : UL_RUNG_NONE);
        /* history and sequence are left alone */
        assert_int_equal(st.boots, sample.boots);
        assert_int_equal(st.seq, sample.seq);
    }
    /* After a bless the next bump starts a new streak with a new first time. */
    struct ul_state st = sample;
    ul_state_apply_bless(&st, 1800000000);
    ul_state_apply_bump(&st, (struct ul_time){ .secs = 1800000500, .valid = true });
    assert_int_equal(st.attempts, 1);
    assert_int_equal(st.first_attempt, 1800000500);
}

/* ------------------------------------------------------------ power cuts */

struct scenario {
    const char *name;
    void (*setup)(void);
};

static void put_file(const uint8_t *data, size_t len)
{
    assert_int_equal(fake_volume_put(&vol, UL_STATE_PATH, data, len), 0);
}

static void sc_missing(void)
{
}

static void sc_missing_dir_exists(void)
{
    assert_int_equal(fake_volume_mkdir_p(&vol, UL_DIR_PATH), 0);
}

/* What the first ever write leaves: slot 0 valid, slot 1 zeros. */
static void sc_one_slot(void)
{
    struct ul_state st = sample;
    st.seq = 41;
    make_file(&st, NULL);
    put_file(file, sizeof(file));
}

static void sc_one_slot_in_slot1_other_damaged(void)
{
    struct ul_state st = sample;
    st.seq = 9;
    make_file(NULL, &st);
    memset(file, 0xc3, UL_STATE_SLOT_SIZE);
    put_file(file, sizeof(file));
}

static void sc_one_slot_short_file(void)
{
    make_file(&sample, NULL);
    put_file(file, UL_STATE_SLOT_SIZE);
}

static void sc_two_slots(void)
{
    struct ul_state a = sample, b = sample;
    a.seq = 100;
    a.attempts = 2;
    b.seq = 101;
    b.attempts = 3;
    make_file(&a, &b);
    put_file(file, sizeof(file));
}

static void sc_two_slots_newest_first(void)
{
    struct ul_state a = sample, b = sample;
    a.seq = 0;          /* wrapped: newer than 0xffffffff */
    a.attempts = 5;
    b.seq = 0xffffffffu;
    b.attempts = 4;
    make_file(&a, &b);
    put_file(file, sizeof(file));
}

/* A short file whose newest record is in slot 1: the next write relays the file. */
static void sc_two_slots_short_file(void)
{
    struct ul_state a = sample, b = sample;
    a.seq = 7;
    b.seq = 8;
    b.attempts = sample.attempts + 1;
    make_file(&a, &b);
    put_file(file, UL_STATE_SLOT_STRIDE + UL_STATE_SLOT_SIZE);
}

static const struct scenario scenarios[] = {
    { "no file", sc_missing },
    { "no file, directory exists", sc_missing_dir_exists },
    { "one valid slot", sc_one_slot },
    { "one valid slot (1), slot 0 damaged", sc_one_slot_in_slot1_other_damaged },
    { "one valid slot, short file", sc_one_slot_short_file },
    { "two valid slots", sc_two_slots },
    { "two valid slots, seq wrapped", sc_two_slots_newest_first },
    { "two valid slots, short file", sc_two_slots_short_file },
};

static const struct ul_time T1 = { .secs = 1700001000, .tz = UL_TZ_UNSPECIFIED, .valid = true };
static const struct ul_time T2 = { .secs = 1700002000, .tz = UL_TZ_UNSPECIFIED, .valid = true };

/* One run's worth of state handling: read, bump, write. */
static int bump_and_write(struct ul_state *st, struct ul_time now)
{
    struct ul_state_info info;
    int err;
    ul_state_read(&esp, st, &info, &err);
    if (err)
        return err;
    ul_state_apply_bump(st, now);
    return ul_state_write(&esp, st, &info);
}

/* One cut: arm it, run a boot's update, power on, check what is left and
 * that the following boot counts on from it. */
static void check_cut(const struct scenario *sc, const struct ul_state *old,
                      const struct ul_state *expect_new, unsigned w, bool by_sector,
                      uint64_t param)
{
    struct ul_state st, got, fin, after;
    struct ul_state_info info, ainfo;
    int err;

    fake_volume_reset(&vol);
    sc->setup();
    if (by_sector)
        fake_volume_power_cut_sectors(&vol, w, param);
    else
        fake_volume_power_cut(&vol, w, (size_t)param);
    if (bump_and_write(&st, T1) != -UL_EIO)
        fail_msg("%s: write %u cut at %s %#llx did not fail", sc->name, w,
                 by_sector ? "sectors" : "byte", (unsigned long long)param);
    assert_true(vol.powered_off);

    fake_volume_power_on(&vol);
    ul_state_read(&esp, &got, &info, &err);
    assert_int_equal(err, 0);
    bool is_old = state_eq(&got, old), is_new = state_eq(&got, expect_new);
    if (!is_old && !is_new)
        fail_msg("%s: write %u cut at %s %#llx: read %s (%s), old %s, new %s", sc->name, w,
                 by_sector ? "sectors" : "byte", (unsigned long long)param, state_str(&got),
                 ul_state_health_name(info.health), state_str(old), state_str(expect_new));
    if (got.attempts < old->attempts)
        fail_msg("%s: cut %#llx lost attempts", sc->name, (unsigned long long)param);

    /* The next boot counts on from whatever survived. */
    if (bump_and_write(&fin, T2) != 0)
        fail_msg("%s: write %u cut %#llx: the following write failed", sc->name, w,
                 (unsigned long long)param);
    ul_state_read(&esp, &after, &ainfo, &err);
    assert_int_equal(err, 0);
    assert_state_equal(&after, &fin);
    assert_true(ainfo.health == UL_STATE_OK || ainfo.health == UL_STATE_DEGRADED);
    uint32_t want = old->attempts + (is_new ? 2 : 1);
    if (after.attempts != want)
        fail_msg("%s: cut %#llx: attempts %u after the next boot, want %u", sc->name,
                 (unsigned long long)param, after.attempts, want);
    assert_true(seq_is_after(after.seq, got.seq));
}

/* Learn what a clean update of the scenario writes, and the two records a
 * read may legitimately return afterwards. */
static unsigned learn_writes(const struct scenario *sc, struct ul_state *old,
                             struct ul_state *expect_new, struct fake_write *log)
{
    struct ul_state_info info;
    int err;

    fake_volume_reset(&vol);
    sc->setup();
    ul_state_read(&esp, old, &info, &err);
    assert_int_equal(err, 0);
    *expect_new = *old;
    ul_state_apply_bump(expect_new, T1);
    assert_int_equal(ul_state_write(&esp, expect_new, &info), 0);
    assert_true(vol.n_writes >= 1 && vol.n_writes <= FAKE_WRITE_LOG);
    memcpy(log, vol.write_log, sizeof(vol.write_log));
    return vol.n_writes;
}

static void test_power_cut_at_every_byte(void **state)
{
    (void)state;
    unsigned long cases = 0;
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        struct ul_state old, expect_new;
        struct fake_write log[FAKE_WRITE_LOG];
        unsigned n = learn_writes(&scenarios[i], &old, &expect_new, log);
        for (unsigned w = 1; w <= n; w++)
            for (size_t k = 0; k <= log[w - 1].len; k++, cases++)
                check_cut(&scenarios[i], &old, &expect_new, w, false, k);
    }
    /* Two whole-file layouts at least, the rest slot writes. */
    assert_true(cases > 2 * UL_STATE_FILE_SIZE);
    print_message("power cut: %lu cut points checked\n", cases);
}

/*
 * The contract puts each slot in its own 4 KiB block "so that a torn write
 * of one device sector can never damage both".  Disks and FAT drivers may
 * put a multi-sector write on the medium in any order, so here every subset
 * of a write's 512-byte sectors lands.
 */
static void test_power_cut_sectors_in_any_order(void **state)
{
    (void)state;
    unsigned long cases = 0;
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
        struct ul_state old, expect_new;
        struct fake_write log[FAKE_WRITE_LOG];
        unsigned n = learn_writes(&scenarios[i], &old, &expect_new, log);
        for (unsigned w = 1; w <= n; w++) {
            size_t sectors = (log[w - 1].len + FAKE_SECTOR - 1) / FAKE_SECTOR;
            assert_true(sectors <= 64);
            if (sectors <= 8) {
                for (uint64_t mask = 0; mask < (1ull << sectors); mask++, cases++)
                    check_cut(&scenarios[i], &old, &expect_new, w, true, mask);
                continue;
            }
            /* Too many subsets to try all: every subset of the sectors that
             * hold a slot's record, crossed with many choices of the rest
             * (which only carry zeros and the file's length). */
            uint64_t all = sectors == 64 ? ~0ull : (1ull << sectors) - 1, slots = 0;
            for (uint64_t b = 0; b < 2; b++) {
                uint64_t at = b * UL_STATE_SLOT_STRIDE;
                if (at >= log[w - 1].off && at < log[w - 1].off + log[w - 1].len)
                    slots |= 1ull << ((at - log[w - 1].off) / FAKE_SECTOR);
            }
            uint64_t rest = all & ~slots, x = 0x2545f4914f6cdd1dull;
            uint64_t others[8 + 64] = { 0, rest };
            size_t n_others = 2;
            for (size_t s = 0; s < sectors; s++)
                if (rest >> s & 1)
                    others[n_others++] = 1ull << s; /* one sector, sets the length */
            for (int r = 0; r < 6; r++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                others[n_others++] = x & rest;
            }
            for (uint64_t sub = slots;; sub = (sub - 1) & slots) {
                for (size_t o = 0; o < n_others; o++, cases++)
                    check_cut(&scenarios[i], &old, &expect_new, w, true, sub | others[o]);
                if (!sub)
                    break;
            }
        }
    }
    print_message("power cut: %lu sector subsets checked\n", cases);
}

/* Cuts on two boots in a row must not lose more than those boots. */
static void test_power_cut_twice(void **state)
{
    (void)state;
    for (size_t k1 = 0; k1 <= UL_STATE_SLOT_SIZE; k1 += 7) {
        for (size_t k2 = 0; k2 <= UL_STATE_SLOT_SIZE; k2 += 5) {
            struct ul_state old, st, got;
            struct ul_state_info info;
            int err;
            fake_volume_reset(&vol);
            sc_two_slots();
            ul_state_read(&esp, &old, &info, &err);

            fake_volume_power_cut(&vol, 1, k1);
            assert_int_equal(bump_and_write(&st, T1), -UL_EIO);
            fake_volume_power_on(&vol);
            fake_volume_power_cut(&vol, 1, k2);
            assert_int_equal(bump_and_write(&st, T2), -UL_EIO);
            fake_volume_power_on(&vol);

            ul_state_read(&esp, &got, &info, &err);
            assert_true(info.health == UL_STATE_OK || info.health == UL_STATE_DEGRADED);
            assert_true(got.attempts >= old.attempts && got.attempts <= old.attempts + 2);
            assert_int_equal(bump_and_write(&st, T2), 0);
            ul_state_read(&esp, &got, &info, &err);
            assert_state_equal(&got, &st);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_layout),
        cmocka_unit_test(test_encode_decode_round_trip),
        cmocka_unit_test(test_decode_clamps_unknown_rungs),
        cmocka_unit_test(test_every_single_byte_corruption_rejected),
        cmocka_unit_test(test_parse_picks_newest_with_wraparound),
        cmocka_unit_test(test_parse_short_empty_garbage),
        cmocka_unit_test(test_parse_health),
        cmocka_unit_test_setup_teardown(test_read_missing_corrupt_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_creates_and_alternates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_existing_dir_and_missing_parent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_write_repairs_corrupt_and_short_files, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_write_failure, setup, teardown),
        cmocka_unit_test(test_bump),
        cmocka_unit_test(test_bless),
        cmocka_unit_test_setup_teardown(test_power_cut_at_every_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_cut_sectors_in_any_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_power_cut_twice, setup, teardown),
    };
    return cmocka_run_group_tests_name("boot-state", tests, NULL, NULL);
}
