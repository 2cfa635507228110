/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for BitLocker key files (shared/bitlocker-keys.c): a key
 * file read from a USB stick or the ESP is untrusted input.  The input is
 * parsed whole (every pair must be a canonical 55-character password that
 * the core's own parser accepts), searched with ul_bitlocker_keys_find()
 * for the GUIDs it contains, each note formatted; then the same bytes are
 * typed into the recovery-password prompt, one key per byte (and a few
 * bytes as function keys), which must stay consistent: n never past 48,
 * rendering always 55 characters, get() only when complete.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bitlocker-keys.h"
#include "ul-errno.h"

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond))                                                               \
            __builtin_trap();                                                      \
    } while (0)

struct seen {
    size_t n;
    struct ul_guid ids[4];
};

static int check_pair(void *arg, const struct ul_guid *id, const char *pw, uint32_t line)
{
    struct seen *s = arg;
    uint8_t key[16];
    CHECK(strlen(pw) == UL_BITLOCKER_RP_LEN);
    CHECK(ul_bitlocker_parse_recovery_password(pw, key, NULL, NULL) == 0);
    CHECK(line > 0);
    if (s->n < 4)
        s->ids[s->n++] = *id;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ul_bitlocker_keys_diag d;
    struct seen s = { 0 };
    char buf[256], pw[UL_BITLOCKER_RP_SIZE];
    size_t idx;

    int r = ul_bitlocker_keys_parse(data, size, check_pair, &s, &d);
    CHECK(r == 0 || r == -UL_EINVAL);
    CHECK(d.n_notes <= UL_BITLOCKER_KEYS_NOTES_MAX);
    CHECK(d.pairs >= s.n);
    CHECK(r == 0 || (d.pairs == 0 && d.malformed == 0 && d.bad_group == 0));
    for (uint32_t i = 0; i < d.n_notes; i++) {
        ul_bitlocker_keys_note_format(&d.notes[i], buf, sizeof(buf));
        CHECK(strlen(buf) < sizeof(buf));
        CHECK(d.notes[i].line >= 1 && d.notes[i].line <= d.lines);
    }

    /* find: the last ID seen must be found; a made-up one must not. */
    if (s.n) {
        int f = ul_bitlocker_keys_find(data, size, &s.ids[s.n - 1], 1, pw, &idx, &d);
        CHECK(f == 0 && idx == 0 && strlen(pw) == UL_BITLOCKER_RP_LEN);
    }
    struct ul_guid none;
    memset(&none, 0xa5, sizeof(none));
    int f = ul_bitlocker_keys_find(data, size, &none, 1, pw, &idx, &d);
    CHECK(f == -UL_ENOENT || f == -UL_EINVAL || f == 0);
    if (f < 0)
        CHECK(pw[0] == '\0');

    /* The prompt, fed the input as key presses. */
    struct ul_rp_entry e;
    ul_rp_entry_init(&e);
    for (size_t i = 0; i < size; i++) {
        uint32_t ch = data[i];
        if (ch >= 0xf0)
            ch = UL_RP_KEY_F(ch - 0xf0);        /* F0..F15: F1..F10 and invalid ones */
        enum ul_rp_event ev = ul_rp_entry_key(&e, ch);
        CHECK(e.n <= 48);
        CHECK(ul_rp_entry_groups_done(&e) <= 8);
        if (ev == UL_RP_EV_NONE)
            continue;           /* most bytes: nothing changed, nothing to redraw */
        if (ev == UL_RP_EV_COMPLETE || ev == UL_RP_EV_SUBMIT)
            CHECK(ul_rp_entry_is_complete(&e));
        if (ev == UL_RP_EV_CANCEL)
            CHECK(e.n == 0);
        ul_rp_entry_render(&e, '_', pw);
        CHECK(strlen(pw) == UL_BITLOCKER_RP_LEN);
        int g = ul_rp_entry_get(&e, pw);
        CHECK((g == 0) == ul_rp_entry_is_complete(&e));
        if (g == 0)
            CHECK(ul_bitlocker_parse_recovery_password(pw, (uint8_t[16]){ 0 }, NULL, NULL) == 0);
        char grp[UL_RP_GROUP_DIGITS + 1];
        ul_rp_entry_group(&e, ul_rp_entry_groups_done(&e) % 8, grp);
        CHECK(strlen(grp) <= UL_RP_GROUP_DIGITS);
    }
    ul_rp_entry_wipe(&e);
    return 0;
}
