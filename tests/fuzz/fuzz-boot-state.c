/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the state file.  Any bytes on the ESP (a torn
 * write, a bad sector, another program) must parse without fault into a
 * consistent answer, and the next write from there must leave a file that
 * reads back as exactly the record written.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot-state.h"
#include "fake-volume.h"

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond))                                                               \
            __builtin_trap();                                                      \
    } while (0)

static int same(const struct ul_state *a, const struct ul_state *b)
{
    return a->seq == b->seq && a->attempts == b->attempts && a->boots == b->boots &&
           a->rung == b->rung && a->fixed_by == b->fixed_by && a->flags == b->flags &&
           a->last_good == b->last_good && a->first_attempt == b->first_attempt &&
           a->last_attempt == b->last_attempt && a->clock_tz == b->clock_tz;
}

static int blank(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i])
            return 0;
    return 1;
}

static void check_parse(const uint8_t *data, size_t size, struct ul_state *st,
                        struct ul_state_info *info)
{
    struct ul_state slot[2];
    int valid[2];

    ul_state_parse(data, size, st, info);
    CHECK(info->file_size == size);
    CHECK(info->slot >= -1 && info->slot <= 1);
    CHECK(info->health != UL_STATE_MISSING);

    for (int i = 0; i < 2; i++) {
        size_t off = (size_t)i * UL_STATE_SLOT_STRIDE;
        size_t avail = size > off ? size - off : 0;
        valid[i] = avail && ul_state_decode_slot(data + off, avail, &slot[i]) == 0;
        CHECK(valid[i] == info->slot_valid[i]);
        if (!valid[i])
            continue;
        /* A valid slot re-encodes into a slot that decodes to the same record. */
        uint8_t enc[UL_STATE_SLOT_SIZE];
        struct ul_state back;
        ul_state_encode(&slot[i], enc);
        CHECK(ul_state_decode_slot(enc, sizeof(enc), &back) == 0);
        CHECK(same(&back, &slot[i]));
        /* and, unless decoding clamped a field, into the same bytes up to
         * the reserved ones */
        if (data[off + 20] <= UL_RUNG_STOP && data[off + 21] <= UL_RUNG_STOP)
            CHECK(memcmp(enc, data + off, 50) == 0);
        CHECK(slot[i].rung <= UL_RUNG_STOP && slot[i].fixed_by <= UL_RUNG_STOP);
    }

    if (!valid[0] && !valid[1]) {
        struct ul_state zero;
        memset(&zero, 0, sizeof(zero));
        CHECK(info->slot == -1);
        CHECK(info->health == UL_STATE_CORRUPT);
        CHECK(same(st, &zero));
        return;
    }
    CHECK(info->slot >= 0 && valid[info->slot]);
    CHECK(same(st, &slot[info->slot]));
    int other = 1 - info->slot;
    if (valid[other]) {
        /* slot 1 only when its seq is newer modulo 2^32; ties go to slot 0 */
        int newer1 = (int32_t)(slot[1].seq - slot[0].seq) > 0;
        CHECK(info->slot == (newer1 ? 1 : 0));
    }
    size_t ooff = (size_t)other * UL_STATE_SLOT_STRIDE;
    size_t oavail = size > ooff ? size - ooff : 0;
    int oblank = oavail == 0 ||
                 blank(data + ooff, oavail < UL_STATE_SLOT_SIZE ? oavail : UL_STATE_SLOT_SIZE);
    CHECK(info->health == ((valid[other] || oblank) ? UL_STATE_OK : UL_STATE_DEGRADED));
}

static struct fake_volume vol;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ul_state st, got;
    struct ul_state_info info;
    int err;

    /* An exact-size copy, so that ASan sees reads past the end. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    check_parse(copy, size, &st, &info);

    /* The same bytes as a file on the ESP: read, count, write, read back. */
    fake_volume_init(&vol);
    struct ul_volume esp = fake_volume_get(&vol);
    CHECK(fake_volume_put(&vol, UL_STATE_PATH, copy, size) == 0);
    ul_state_read(&esp, &got, &info, &err);
    CHECK(err == 0);
    CHECK(same(&got, &st));
    uint32_t before = got.attempts;
    ul_state_apply_bump(&got, (struct ul_time){ .secs = 1700000000, .valid = true });
    CHECK(ul_state_write(&esp, &got, &info) == 0);
    CHECK(info.health == UL_STATE_OK || info.health == UL_STATE_DEGRADED);

    struct ul_state after;
    struct ul_state_info ainfo;
    ul_state_read(&esp, &after, &ainfo, &err);
    CHECK(err == 0);
    CHECK(same(&after, &got));
    CHECK(after.attempts == before + (before < UINT32_MAX));
    /* ul_state_write's *info describes the new file.  (It cannot tell a
     * never-written other slot from a damaged one, so it may say DEGRADED
     * where a fresh read says OK; never the other way round.) */
    CHECK(ainfo.slot == info.slot);
    CHECK(ainfo.health == info.health ||
          (info.health == UL_STATE_DEGRADED && ainfo.health == UL_STATE_OK));
    CHECK(ainfo.slot_valid[0] == info.slot_valid[0] && ainfo.slot_valid[1] == info.slot_valid[1]);
    CHECK(ainfo.file_size == (info.file_size > UL_STATE_FILE_SIZE ? UL_STATE_FILE_SIZE
                                                                  : info.file_size));
    fake_volume_free(&vol);
    free(copy);
    return 0;
}
