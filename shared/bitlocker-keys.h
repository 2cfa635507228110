/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * BitLocker key sources that are not the volume itself (DESIGN §7):
 *
 *  1. Key files: text that pairs key protector IDs with 48-digit recovery
 *     passwords, as exported from Active Directory or Microsoft Entra ID,
 *     printed by `manage-bde -protectors -get`, saved by BitLocker itself
 *     ("BitLocker Recovery Key {GUID}.TXT") or written by hand.  The parser
 *     yields (protector ID, recovery password) pairs; ul_bitlocker_keys_find()
 *     picks the one for a volume's protectors.
 *  2. The recovery-password prompt of the pre-boot screen, as a state
 *     machine fed one key at a time (struct ul_rp_entry); the UI draws it.
 *
 * Portable core: no allocation, no OS or firmware header.  Key files are
 * untrusted input; they hold secrets, so every buffer that held a password
 * is wiped before a function returns, and no diagnostic ever contains a
 * password (only line numbers, group numbers and protector IDs, which are
 * not secret).
 */
#ifndef UL_BITLOCKER_KEYS_H
#define UL_BITLOCKER_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bitlocker.h" /* enum ul_bitlocker_rp_error */
#include "gpt.h"       /* struct ul_guid */

/* "DDDDDD-DDDDDD-DDDDDD-DDDDDD-DDDDDD-DDDDDD-DDDDDD-DDDDDD" and its NUL. */
#define UL_BITLOCKER_RP_LEN 55
#define UL_BITLOCKER_RP_SIZE (UL_BITLOCKER_RP_LEN + 1)

/* The longest line (after conversion to UTF-8) a key file may have; a
 * longer one is skipped and reported (UL_BITLOCKER_KEYS_LINE_TOO_LONG). */
#define UL_BITLOCKER_KEYS_LINE_MAX 4096

/* What the parser refused or could not use, by line. */
enum ul_bitlocker_keys_problem {
    UL_BITLOCKER_KEYS_MALFORMED = 1,  /* a recovery password that is not 8 groups of 6 digits */
    UL_BITLOCKER_KEYS_BAD_GROUP,      /* a group fails the check (err, group say which and why) */
    UL_BITLOCKER_KEYS_LINE_TOO_LONG,  /* a line longer than UL_BITLOCKER_KEYS_LINE_MAX, skipped */
    UL_BITLOCKER_KEYS_AMBIGUOUS,      /* a password beside several GUIDs, none named as the key ID */
    UL_BITLOCKER_KEYS_NO_ID,          /* a recovery password with no protector ID before it */
};

struct ul_bitlocker_keys_note {
    enum ul_bitlocker_keys_problem problem;
    uint32_t line;                    /* 1-based (the first line of a multi-line CSV record) */
    int group;                        /* BAD_GROUP: 1..8; otherwise 0 */
    enum ul_bitlocker_rp_error err;   /* MALFORMED / BAD_GROUP: why */
    bool has_id;                      /* MALFORMED / BAD_GROUP: the protector ID it was given for */
    struct ul_guid id;
};

#define UL_BITLOCKER_KEYS_NOTES_MAX 8

/* Filled by the parser (zeroed first); every field is safe to print. */
struct ul_bitlocker_keys_diag {
    const char *encoding;             /* "UTF-8", "UTF-8 (BOM)", "UTF-16LE", "UTF-16BE" */
    uint32_t lines;
    uint32_t pairs;                   /* valid (ID, password) pairs seen */
    uint32_t csv_header_line;         /* the CSV header whose column names were used; 0: none */
    uint32_t malformed, bad_group, too_long, ambiguous, no_id;  /* counts per problem */
    uint32_t n_notes;                 /* the first UL_BITLOCKER_KEYS_NOTES_MAX problems */
    struct ul_bitlocker_keys_note notes[UL_BITLOCKER_KEYS_NOTES_MAX];
    /* ul_bitlocker_keys_find() only: the line of the pair it returned, and
     * the first refused password (MALFORMED / BAD_GROUP) given for one of
     * the wanted IDs, which tells "your file has the right entry, but its
     * password is mistyped" from "your file has no entry". */
    uint32_t match_line;
    bool have_refused_match;
    struct ul_bitlocker_keys_note refused_match;
};

/*
 * Called once per valid pair, in file order.  password is the canonical
 * "DDDDDD-...-DDDDDD" form (UL_BITLOCKER_RP_LEN characters) in a buffer the
 * parser wipes after the call: copy it if it is needed later.  line is the
 * password's line (the first line of its record when a quoted CSV field
 * spans lines).  Return 0 to go on; any other value stops
 * the parse and is returned by ul_bitlocker_keys_parse().
 */
typedef int (*ul_bitlocker_keys_cb)(void *arg, const struct ul_guid *id, const char *password,
                                    uint32_t line);

/*
 * Parses a key file: len bytes at data, UTF-8 (with or without BOM),
 * UTF-16LE or UTF-16BE (with BOM, or recognised by its zero bytes), lines
 * ending in LF, CRLF or CR.  Accepted shapes (mixing them is fine):
 *   - CSV with a header row (Active Directory Export-Csv, with or without its
 *     "#TYPE" line; Entra ID / Intune / Microsoft Graph exports): RFC 4180
 *     quoting (also quoted line breaks), ',' ';' or tab separators, Excel's
 *     "sep=;" line.  The column names choose the key-ID column when a row
 *     holds several GUIDs (device ID, AD objectGUID, key ID) and the password
 *     column.
 *   - Any other line with exactly one GUID (bare or in braces, also inside a
 *     longer field such as AD's "2024-07-19T08:12:33-00:00{GUID}") and a
 *     recovery password: "GUID PASSWORD", "GUID,PASSWORD", "GUID=PASSWORD",
 *     a header-less CSV row.
 *   - Structure over several lines: a GUID, then (before the next GUID) a
 *     recovery password: manage-bde's "ID: {GUID}" ... "Password:" blocks in
 *     any language, BitLocker's "Identifier:" ... "Recovery Key:" .TXT file.
 * Lines with nothing key-like are ignored.  A password that fails to parse
 * or whose group fails the check is never handed to cb; it is counted and
 * noted in *diag (may be NULL) with its line.
 * Returns cb's non-zero value if it stopped the parse; otherwise 0 if the
 * file held at least one recovery password (valid or refused), or
 * -UL_EINVAL if it held none (empty, binary, another kind of file).
 */
int ul_bitlocker_keys_parse(const void *data, size_t len, ul_bitlocker_keys_cb cb, void *arg,
                            struct ul_bitlocker_keys_diag *diag);

/*
 * The recovery password the key file gives for one of the n_ids protector
 * IDs (e.g. a volume's recovery-password protectors): the first pair in
 * file order whose ID is one of ids.  On success returns 0, copies the
 * canonical password to ret_password (UL_BITLOCKER_RP_SIZE bytes; the
 * caller wipes it) and sets *ret_index (may be NULL) to the index in ids.
 * Returns -UL_ENOENT when the file holds recovery passwords but none for
 * these IDs (diag->have_refused_match then says whether one for them was
 * refused, and why), -UL_EINVAL when it holds no recovery password at all
 * or the arguments are bad.  ret_password is zeroed on every error.
 */
int ul_bitlocker_keys_find(const void *data, size_t len, const struct ul_guid *ids, size_t n_ids,
                           char ret_password[UL_BITLOCKER_RP_SIZE], size_t *ret_index,
                           struct ul_bitlocker_keys_diag *diag);

/* One note in English without any secret, e.g. "line 7: the recovery
 * password for protector {64311dea-...} is malformed: group 3: check digit
 * wrong".  Always terminates (size > 0); returns buf. */
const char *ul_bitlocker_keys_note_format(const struct ul_bitlocker_keys_note *n, char *buf,
                                          size_t size);

/* ------------------------------------------------------------------------
 * The recovery-password prompt.  The UI passes each key press to
 * ul_rp_entry_key() and redraws from the accessors; the digits are shown as
 * typed, as on Windows' own recovery screen, which also checks each group
 * as soon as its 6th digit is typed.  Key codes:
 *   '0'..'9'                   a digit
 *   UL_RP_KEY_F(1..10)         F1..F9 = '1'..'9', F10 = '0' (Windows' recovery
 *                              screen accepts these where number keys do not work)
 *   0x08 (Backspace), 0x7f     erase the last digit, back into the previous group
 *   '\r', '\n'                 Enter
 *   0x1b                       Esc
 * Anything else (also '-' and ' ', which the screen draws itself) is ignored.
 */
#define UL_RP_KEY_F(n) (0x110000u + (uint32_t)(n))

enum ul_rp_event {
    UL_RP_EV_NONE = 0,      /* the key changed nothing: ignored, Backspace on an empty
                               entry, a digit after the entry is complete */
    UL_RP_EV_DIGIT,         /* a digit was added to the current group */
    UL_RP_EV_GROUP_OK,      /* the digit completed a group that passed the check; the
                               next group is now current */
    UL_RP_EV_GROUP_BAD,     /* the digit completed a group that failed the check: that
                               group was cleared to be typed again;
                               ul_rp_entry_last_error() says which and why */
    UL_RP_EV_COMPLETE,      /* the digit completed the 8th group and it passed: the
                               entry is complete (ul_rp_entry_get() works) */
    UL_RP_EV_ERASED,        /* Backspace removed a digit */
    UL_RP_EV_SUBMIT,        /* Enter on a complete entry: unlock with ul_rp_entry_get() */
    UL_RP_EV_INCOMPLETE,    /* Enter before all 8 groups are typed and checked */
    UL_RP_EV_CANCEL,        /* Esc: the user gave up; the entry is wiped */
};

#define UL_RP_GROUPS 8
#define UL_RP_GROUP_DIGITS 6

struct ul_rp_entry {
    char digits[UL_RP_GROUPS * UL_RP_GROUP_DIGITS]; /* typed digits, group after group */
    uint8_t n;                  /* digits typed, 0..48; every full group before the
                                   current one has passed the check */
    uint8_t bad_group;          /* the last group refused (1..8), 0: none */
    enum ul_bitlocker_rp_error bad_err;
};

void ul_rp_entry_init(struct ul_rp_entry *e);
enum ul_rp_event ul_rp_entry_key(struct ul_rp_entry *e, uint32_t ch);
/* Number of groups typed and checked (0..8); 8 = complete. */
int ul_rp_entry_groups_done(const struct ul_rp_entry *e);
bool ul_rp_entry_is_complete(const struct ul_rp_entry *e);
/* The digits typed in group i (0-based, 0..7), NUL-terminated, 0..6 of them;
 * the current group is ul_rp_entry_groups_done() (when below 8). */
void ul_rp_entry_group(const struct ul_rp_entry *e, int i, char out[UL_RP_GROUP_DIGITS + 1]);
/* The whole entry as one line for the screen: 8 groups of 6 joined by '-',
 * untyped digits as fill ('_' for example); always UL_BITLOCKER_RP_LEN chars. */
void ul_rp_entry_render(const struct ul_rp_entry *e, char fill, char out[UL_BITLOCKER_RP_SIZE]);
/* The last refused group (1..8) and why (*ret_err may be NULL); 0 when no
 * group was refused, or the refused one has since been typed again. */
int ul_rp_entry_last_error(const struct ul_rp_entry *e, enum ul_bitlocker_rp_error *ret_err);
/* The complete password "DDDDDD-...": 0, or -UL_EINVAL (out emptied) if
 * the entry is not complete.  The caller wipes out. */
int ul_rp_entry_get(const struct ul_rp_entry *e, char out[UL_BITLOCKER_RP_SIZE]);
/* Wipes the digits (also done by Esc); the entry is empty again. */
void ul_rp_entry_wipe(struct ul_rp_entry *e);

#endif
