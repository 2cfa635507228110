/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "boot-state.h"
#include "crc32.h"
#include "string-util.h"
#include "ul-errno.h"

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

#define CRC_OFF (UL_STATE_SLOT_SIZE - 4)

void ul_state_encode(const struct ul_state *st, uint8_t out[UL_STATE_SLOT_SIZE])
{
    ul_memset(out, 0, UL_STATE_SLOT_SIZE);
    put32(out + 0, UL_STATE_MAGIC);
    put16(out + 4, UL_STATE_VERSION);
    put16(out + 6, UL_STATE_SLOT_SIZE);
    put32(out + 8, st->seq);
    put32(out + 12, st->attempts);
    put32(out + 16, st->boots);
    out[20] = st->rung;
    out[21] = st->fixed_by;
    put16(out + 22, st->flags);
    put64(out + 24, st->last_good);
    put64(out + 32, (uint64_t)st->first_attempt);
    put64(out + 40, (uint64_t)st->last_attempt);
    put16(out + 48, (uint16_t)st->clock_tz);
    put32(out + CRC_OFF, ul_crc32(out, CRC_OFF));
}

int ul_state_decode_slot(const uint8_t *in, size_t len, struct ul_state *ret)
{
    if (len < UL_STATE_SLOT_SIZE)
        return -UL_EBADMSG;
    if (get32(in) != UL_STATE_MAGIC || get16(in + 4) != UL_STATE_VERSION ||
        get16(in + 6) != UL_STATE_SLOT_SIZE)
        return -UL_EBADMSG;
    if (get32(in + CRC_OFF) != ul_crc32(in, CRC_OFF))
        return -UL_EBADMSG;
    struct ul_state st = {
        .seq = get32(in + 8),
        .attempts = get32(in + 12),
        .boots = get32(in + 16),
        .rung = in[20],
        .fixed_by = in[21],
        .flags = get16(in + 22),
        .last_good = get64(in + 24),
        .first_attempt = (int64_t)get64(in + 32),
        .last_attempt = (int64_t)get64(in + 40),
        .clock_tz = (int16_t)get16(in + 48),
    };
    /* A CRC-valid slot with out-of-range enums was written by a newer or
     * broken writer: clamp rather than trust. */
    if (st.rung > UL_RUNG_STOP)
        st.rung = UL_RUNG_STOP;
    if (st.fixed_by > UL_RUNG_STOP)
        st.fixed_by = UL_RUNG_NONE;
    *ret = st;
    return 0;
}

static bool is_blank(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i])
            return false;
    return true;
}

/* Sequence numbers wrap: a is newer than b when (a - b) mod 2^32 is in the lower half. */
static bool seq_newer(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}

void ul_state_parse(const uint8_t *file, size_t len, struct ul_state *ret,
                    struct ul_state_info *info)
{
    struct ul_state s[2];
    bool blank[2];

    *info = (struct ul_state_info){ .health = UL_STATE_CORRUPT, .slot = -1, .file_size = len };
    ul_memset(ret, 0, sizeof(*ret));

    for (int i = 0; i < 2; i++) {
        size_t off = (size_t)i * UL_STATE_SLOT_STRIDE;
        size_t avail = len > off ? len - off : 0;
        info->slot_valid[i] = ul_state_decode_slot(file + (avail ? off : 0), avail, &s[i]) == 0;
        blank[i] = avail == 0 || is_blank(file + off, avail < UL_STATE_SLOT_SIZE ? avail : UL_STATE_SLOT_SIZE);
    }

    if (info->slot_valid[0] && info->slot_valid[1])
        info->slot = seq_newer(s[1].seq, s[0].seq) ? 1 : 0;
    else if (info->slot_valid[0])
        info->slot = 0;
    else if (info->slot_valid[1])
        info->slot = 1;

    if (info->slot < 0)
        return;
    *ret = s[info->slot];
    int other = 1 - info->slot;
    info->health = (info->slot_valid[other] || blank[other]) ? UL_STATE_OK : UL_STATE_DEGRADED;
}

void ul_state_read(const struct ul_volume *esp, struct ul_state *ret,
                   struct ul_state_info *info, int *ret_err)
{
    static uint8_t buf[UL_STATE_FILE_SIZE];
    size_t got = 0;
    int r;

    *ret_err = 0;
    r = esp->ops->read(esp->ctx, UL_STATE_PATH, 0, buf, sizeof(buf), &got);
    if (r == -UL_ENOENT) {
        ul_memset(ret, 0, sizeof(*ret));
        *info = (struct ul_state_info){ .health = UL_STATE_MISSING, .slot = -1 };
        return;
    }
    if (r < 0) {
        *ret_err = r;
        got = 0;
    }
    ul_state_parse(buf, got, ret, info);
}

static int ensure_dir(const struct ul_volume *esp)
{
    int r = esp->ops->mkdir(esp->ctx, "\\EFI");
    if (r < 0 && r != -UL_EEXIST)
        return r;
    r = esp->ops->mkdir(esp->ctx, UL_DIR_PATH);
    return r == -UL_EEXIST ? 0 : r;
}

int ul_state_write(const struct ul_volume *esp, struct ul_state *st,
                   struct ul_state_info *info)
{
    uint8_t slot[UL_STATE_SLOT_SIZE];
    int target, r;

    /* Advance past the record we read, so the new slot wins on the next read.
     * Only the newest valid slot counts: an invalid one is overwritten. */
    st->seq++;
    ul_state_encode(st, slot);

    if (info->health == UL_STATE_MISSING || info->file_size < UL_STATE_FILE_SIZE) {
        /* New (or truncated) file: lay out the whole file in one write.  If
         * power fails half way, the old file had no usable record anyway,
         * unless a short file held a valid slot: then keep it and write the
         * other one alone (a whole-file write spans both slots, and a disk
         * may put its sectors down in any order). */
        if (info->health != UL_STATE_MISSING && info->slot >= 0) {
            target = 1 - info->slot;
        } else {
            static uint8_t whole[UL_STATE_FILE_SIZE];
            ul_memset(whole, 0, sizeof(whole));
            ul_memcpy(whole, slot, sizeof(slot));
            if (info->health == UL_STATE_MISSING) {
                r = ensure_dir(esp);
                if (r < 0)
                    return r;
            }
            r = esp->ops->write(esp->ctx, UL_STATE_PATH, 0, whole, sizeof(whole));
            if (r < 0)
                return r;
            *info = (struct ul_state_info){ .health = UL_STATE_OK, .slot = 0,
                                            .slot_valid = { true, false },
                                            .file_size = UL_STATE_FILE_SIZE };
            return 0;
        }
    } else {
        target = info->slot == 0 ? 1 : 0;
    }

    r = esp->ops->write(esp->ctx, UL_STATE_PATH, (uint64_t)target * UL_STATE_SLOT_STRIDE, slot,
                        sizeof(slot));
    if (r < 0)
        return r;
    info->slot_valid[target] = true;
    info->slot = target;
    info->health = info->slot_valid[1 - target] ? UL_STATE_OK : UL_STATE_DEGRADED;
    if (info->file_size < (uint64_t)target * UL_STATE_SLOT_STRIDE + sizeof(slot))
        info->file_size = (uint64_t)target * UL_STATE_SLOT_STRIDE + sizeof(slot);
    return 0;
}

void ul_state_apply_bump(struct ul_state *st, struct ul_time now)
{
    if (st->attempts < UINT32_MAX)
        st->attempts++;
    if (st->boots < UINT32_MAX)
        st->boots++;
    if (now.valid) {
        if (st->attempts == 1 || st->first_attempt == 0)
            st->first_attempt = now.secs;
        st->last_attempt = now.secs;
        st->clock_tz = now.tz;
    }
}

void ul_state_apply_bless(struct ul_state *st, uint64_t utc_now)
{
    st->fixed_by = st->rung > UL_RUNG_HANDOFF ? st->rung : UL_RUNG_NONE;
    st->attempts = 0;
    st->rung = UL_RUNG_NONE;
    st->last_good = utc_now;
}

const char *ul_state_health_name(enum ul_state_health h)
{
    switch (h) {
    case UL_STATE_OK: return "ok";
    case UL_STATE_DEGRADED: return "degraded";
    case UL_STATE_MISSING: return "missing";
    case UL_STATE_CORRUPT: return "corrupt";
    }
    return "unknown";
}

const char *ul_rung_name(enum ul_rung r)
{
    switch (r) {
    case UL_RUNG_NONE: return "none";
    case UL_RUNG_HANDOFF: return "handoff";
    case UL_RUNG_QUARANTINE_NEWEST: return "quarantine-newest";
    case UL_RUNG_QUARANTINE_WIDE: return "quarantine-wide";
    case UL_RUNG_SAFE_MODE: return "safe-mode";
    case UL_RUNG_STOP: return "stop";
    }
    return "unknown";
}
