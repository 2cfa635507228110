/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Writes seed state files for fuzz-boot-state into the directory named on
 * the command line, through the real encoder, so the seeds follow the
 * format in unloop-contract.h.  The seeds in tests/fuzz/corpus/boot-state/
 * were made with:
 *     make -f <a Makefile including tests/fuzz/fuzz.mk> build/fuzz/gen-boot-state-seeds
 *     build/fuzz/gen-boot-state-seeds tests/fuzz/corpus/boot-state
 * `make fuzz-smoke` runs it into build/ every time as well.
 */
#include <stdio.h>
#include <string.h>

#include "boot-state.h"

static uint8_t file[UL_STATE_FILE_SIZE];

static int save(const char *dir, const char *name, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(file, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

static void slot(int i, const struct ul_state *st)
{
    ul_state_encode(st, file + (size_t)i * UL_STATE_SLOT_STRIDE);
}

int main(int argc, char **argv)
{
    int bad = 0;
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    struct ul_state a = { .seq = 1, .attempts = 1, .boots = 1, .rung = UL_RUNG_HANDOFF,
                          .first_attempt = 1700000000, .last_attempt = 1700000000,
                          .clock_tz = UL_TZ_UNSPECIFIED };

    /* What the first run leaves: slot 0, slot 1 never written. */
    memset(file, 0, sizeof(file));
    slot(0, &a);
    bad |= save(dir, "first-run", sizeof(file));

    /* Two runs later, both slots. */
    struct ul_state b = a;
    b.seq = 2;
    b.attempts = 2;
    b.boots = 2;
    b.last_attempt += 90;
    slot(1, &b);
    bad |= save(dir, "two-slots", sizeof(file));

    /* In a loop, at the stop rung, blessed once before, UTC clock. */
    struct ul_state c = { .seq = 41, .attempts = 7, .boots = 300, .rung = UL_RUNG_STOP,
                          .fixed_by = UL_RUNG_SAFE_MODE, .flags = UL_STATE_F_SAFEMODE_SET,
                          .last_good = 1690000000, .first_attempt = 1700000000,
                          .last_attempt = 1700000600, .clock_tz = 0 };
    struct ul_state d = c;
    d.seq = 40;
    d.attempts = 6;
    memset(file, 0, sizeof(file));
    slot(0, &d);
    slot(1, &c);
    bad |= save(dir, "loop-stop-rung", sizeof(file));

    /* Sequence numbers across the wrap: slot 0 (seq 0) is the newer. */
    c.seq = 0;
    d.seq = 0xffffffffu;
    slot(0, &c);
    slot(1, &d);
    bad |= save(dir, "seq-wrapped", sizeof(file));

    /* A torn write of slot 1: half of it landed. */
    memset(file, 0, sizeof(file));
    slot(0, &a);
    slot(1, &b);
    memset(file + UL_STATE_SLOT_STRIDE + 30, 0, UL_STATE_SLOT_SIZE - 30);
    bad |= save(dir, "torn-slot1", sizeof(file));

    /* A short file holding slot 0 only, and one holding both. */
    memset(file, 0, sizeof(file));
    slot(0, &a);
    bad |= save(dir, "short-slot0", UL_STATE_SLOT_SIZE);
    slot(1, &b);
    bad |= save(dir, "short-both", UL_STATE_SLOT_STRIDE + UL_STATE_SLOT_SIZE);

    /* Garbage after a good magic. */
    for (size_t i = 0; i < sizeof(file); i++)
        file[i] = (uint8_t)(i * 167 + 13);
    memcpy(file, "ULST", 4);
    memcpy(file + UL_STATE_SLOT_STRIDE, "ULST", 4);
    bad |= save(dir, "garbage", sizeof(file));
    return bad;
}
