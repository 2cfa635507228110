/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The boot-attempt record on the ESP (UL_STATE_PATH), laid out in
 * unloop-contract.h.  No NVRAM is ever written for it (DESIGN §2).
 */
#ifndef UL_BOOT_STATE_H
#define UL_BOOT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops.h"
#include "unloop-contract.h"

struct ul_state {
    uint32_t seq;
    uint32_t attempts;      /* boots started since the last bless */
    uint32_t boots;
    uint8_t rung;           /* enum ul_rung: highest rung acted on this streak */
    uint8_t fixed_by;       /* enum ul_rung in force at the last bless */
    uint16_t flags;         /* UL_STATE_F_* */
    uint64_t last_good;     /* UTC seconds; 0 = never blessed */
    int64_t first_attempt;  /* firmware clock; 0 = unknown */
    int64_t last_attempt;   /* firmware clock; 0 = unknown */
    int16_t clock_tz;       /* zone of first/last_attempt */
};

enum ul_state_health {
    UL_STATE_OK = 0,        /* both slots valid, or one valid and one never written */
    UL_STATE_DEGRADED,      /* one valid slot, the other damaged (e.g. torn write) */
    UL_STATE_MISSING,       /* no state file: a fresh install */
    UL_STATE_CORRUPT,       /* a file with no valid slot */
};

struct ul_state_info {
    enum ul_state_health health;
    int slot;               /* slot holding the record read, -1 if none */
    bool slot_valid[2];
    uint64_t file_size;
};

/* Encode one slot (UL_STATE_SLOT_SIZE bytes, CRC included). */
void ul_state_encode(const struct ul_state *st, uint8_t out[UL_STATE_SLOT_SIZE]);
/* Decode and validate one slot: -UL_EBADMSG if magic, version, size or CRC is wrong. */
int ul_state_decode_slot(const uint8_t *in, size_t len, struct ul_state *ret);
/*
 * Pick the record from a whole state file image (may be short or damaged).
 * Always fills *ret (zeroed when nothing is valid) and *info.
 */
void ul_state_parse(const uint8_t *file, size_t len, struct ul_state *ret,
                    struct ul_state_info *info);

/* Read the record from the ESP.  Never fails: a missing or corrupt file
 * yields a zeroed record and says so in *info; I/O errors are returned in
 * *ret_err (0 if none) for logging. */
void ul_state_read(const struct ul_volume *esp, struct ul_state *ret,
                   struct ul_state_info *info, int *ret_err);

/*
 * Store *st with seq advanced past the newest slot, into the slot that does
 * not hold the newest valid record; creates the file (and its directory)
 * when missing.  Updates *info to describe the new file.
 */
int ul_state_write(const struct ul_volume *esp, struct ul_state *st,
                   struct ul_state_info *info);

/* Count one more boot attempt (done first thing on every run). */
void ul_state_apply_bump(struct ul_state *st, struct ul_time now);
/* The OS reached "boot good": reset the count, record UTC time and the rung. */
void ul_state_apply_bless(struct ul_state *st, uint64_t utc_now);

const char *ul_state_health_name(enum ul_state_health h);
const char *ul_rung_name(enum ul_rung r);

#endif
