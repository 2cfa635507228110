/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * BitLocker key files and the recovery-password prompt (bitlocker-keys.h).
 *
 * Where the shapes come from:
 *  - Active Directory: each recovery password is an msFVE-RecoveryInformation
 *    object under the computer; its attribute msFVE-RecoveryPassword holds
 *    the password and msFVE-RecoveryGuid the key protector ID, which also
 *    names the object: "2024-07-19T08:12:33-00:00{GUID}" (Microsoft,
 *    "ms-FVE-RecoveryGuid attribute" / "ms-FVE-RecoveryPassword attribute",
 *    learn.microsoft.com/windows/win32/adschema/a-msfve-recoveryguid, and
 *    [MS-ADA2] 2.515).  `Get-ADObject ... | Export-Csv` writes one column
 *    per property (Name, DistinguishedName, ObjectGUID, msFVE-...), so a
 *    row carries the object's own objectGUID beside the key ID: the column
 *    names decide.
 *  - Microsoft Entra ID / Intune: Microsoft Graph's bitlockerRecoveryKey
 *    resource has the properties id (the key ID shown on the recovery
 *    screen), key (the 48-digit password), deviceId, volumeType and
 *    createdDateTime (learn.microsoft.com/graph/api/resources/
 *    bitlockerrecoverykey), so a script's Get-MgInformationProtection-
 *    BitlockerRecoveryKey | Export-Csv has those columns.  The user-facing
 *    pages call the ID "Key ID" (My Account, "View BitLocker Keys": "find
 *    the Key ID that matches the Recovery Key ID" on the recovery screen)
 *    and the password "Recovery key"; hand-made exports use such names
 *    ("Key ID", "KeyId", "BitLocker Key ID", "Recovery Key", "Device ID").
 *    No published column list of a portal download was found, so the
 *    names are matched by pattern (classify()), not by a fixed list.  A row
 *    holds two GUIDs (key and device): again the column names decide.
 *  - manage-bde -protectors -get, BitLocker's own "BitLocker Recovery Key
 *    {GUID}.TXT": localized labels, so only the structure counts: a GUID,
 *    then a 48-digit password before the next GUID.
 */
#include "bitlocker-keys.h"

#include "string-util.h"
#include "ul-errno.h"

#define wipe ul_explicit_bzero

/* ---------------------------------------------------------------- reading */

enum enc { ENC_UTF8, ENC_UTF16LE, ENC_UTF16BE };

struct reader {
    const uint8_t *p;
    size_t len, pos;
    enum enc enc;
    uint32_t line;              /* physical lines read */
};

/* The next code point (UTF-16) or byte (UTF-8, passed through), -1 at the end. */
static int32_t next_cp(struct reader *r)
{
    if (r->enc == ENC_UTF8)
        return r->pos < r->len ? r->p[r->pos++] : -1;
    if (r->len - r->pos < 2) {
        r->pos = r->len;        /* an odd last byte is dropped */
        return -1;
    }
    const uint8_t *q = r->p + r->pos;
    uint32_t u = r->enc == ENC_UTF16LE ? (uint32_t)(q[0] | q[1] << 8) : (uint32_t)(q[0] << 8 | q[1]);
    r->pos += 2;
    if (u >= 0xd800 && u < 0xdc00 && r->len - r->pos >= 2) {
        q = r->p + r->pos;
        uint32_t lo = r->enc == ENC_UTF16LE ? (uint32_t)(q[0] | q[1] << 8)
                                            : (uint32_t)(q[0] << 8 | q[1]);
        if (lo >= 0xdc00 && lo < 0xe000) {
            r->pos += 2;
            return (int32_t)(0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00));
        }
    }
    if (u >= 0xd800 && u < 0xe000)
        return 0xfffd;          /* a lone surrogate */
    return (int32_t)u;
}

/* Appends c (UTF-8 encoded when the input is UTF-16); false if it does not
 * fit before the terminating NUL. */
static bool put_cp(const struct reader *r, char *buf, size_t cap, size_t *n, int32_t c)
{
    uint8_t b[4];
    size_t k;
    uint32_t u = (uint32_t)c;

    if (r->enc == ENC_UTF8 || u < 0x80) {
        b[0] = (uint8_t)u;
        k = 1;
    } else if (u < 0x800) {
        b[0] = (uint8_t)(0xc0 | u >> 6);
        b[1] = (uint8_t)(0x80 | (u & 0x3f));
        k = 2;
    } else if (u < 0x10000) {
        b[0] = (uint8_t)(0xe0 | u >> 12);
        b[1] = (uint8_t)(0x80 | (u >> 6 & 0x3f));
        b[2] = (uint8_t)(0x80 | (u & 0x3f));
        k = 3;
    } else {
        b[0] = (uint8_t)(0xf0 | u >> 18);
        b[1] = (uint8_t)(0x80 | (u >> 12 & 0x3f));
        b[2] = (uint8_t)(0x80 | (u >> 6 & 0x3f));
        b[3] = (uint8_t)(0x80 | (u & 0x3f));
        k = 4;
    }
    if (*n + k >= cap)
        return false;
    for (size_t i = 0; i < k; i++)
        buf[(*n)++] = (char)b[i];
    return true;
}

/*
 * Appends the next physical line (without its LF, CRLF or CR) to
 * buf[*n..cap), NUL-terminated; a line that does not fit is consumed whole
 * and *too_long set.  NUL characters become spaces.  False at the end of
 * the input.
 */
static bool read_line(struct reader *r, char *buf, size_t cap, size_t *n, bool *too_long)
{
    int32_t c;
    bool any = false;

    while ((c = next_cp(r)) >= 0) {
        any = true;
        if (c == '\n')
            break;
        if (c == '\r') {
            size_t save = r->pos;
            if (next_cp(r) != '\n')
                r->pos = save;
            break;
        }
        if (c == 0)
            c = ' ';
        if (!*too_long && !put_cp(r, buf, cap, n, c))
            *too_long = true;
    }
    buf[*n] = '\0';
    if (any)
        r->line++;
    return any;
}

/* --------------------------------------------------------------- scanning */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A GUID (8-4-4-4-12 hex digits) at s[i], not glued to other letters or digits. */
static bool guid_at(const char *s, size_t len, size_t i, struct ul_guid *ret)
{
    static const uint8_t dash[] = { 8, 13, 18, 23 };
    char tmp[UL_GUID_STR_LEN + 1];
    size_t d = 0;

    if (len - i < UL_GUID_STR_LEN || (i > 0 && is_alnum(s[i - 1])))
        return false;
    if (i + UL_GUID_STR_LEN < len && is_alnum(s[i + UL_GUID_STR_LEN]))
        return false;
    for (size_t k = 0; k < UL_GUID_STR_LEN; k++) {
        if (d < sizeof(dash) && k == dash[d]) {
            if (s[i + k] != '-')
                return false;
            d++;
        } else if (!is_hex(s[i + k])) {
            return false;
        }
        tmp[k] = s[i + k];
    }
    tmp[UL_GUID_STR_LEN] = '\0';
    return ul_guid_parse(tmp, ret) == 0;
}

#define LINE_GUIDS 8            /* distinct GUIDs a line's verdict needs: 0, 1 or "several" */
#define LINE_RUNS 16

struct span {
    size_t start, end;
};

struct line_scan {
    size_t n_guids;             /* distinct, up to LINE_GUIDS */
    struct ul_guid guids[LINE_GUIDS];
    bool last_set;
    struct ul_guid last;        /* the last GUID of the text */
    size_t n_runs;
    struct span runs[LINE_RUNS];
};

static void add_guid(struct line_scan *ls, const struct ul_guid *g)
{
    ls->last = *g;
    ls->last_set = true;
    for (size_t i = 0; i < ls->n_guids; i++)
        if (ul_guid_equal(&ls->guids[i], g))
            return;
    if (ls->n_guids < LINE_GUIDS)
        ls->guids[ls->n_guids++] = *g;
}

/*
 * The GUIDs and the recovery-password-looking runs of s[0, len).  A run is
 * digits in groups joined by single '-' or ' ', starting where no letter or
 * digit precedes it; letters or digits glued to its end are taken into it
 * (so "...591910x" is a malformed password, not a valid one).  It looks
 * like a recovery password when it has at least 24 digits or at least
 * three groups of exactly six: dates, times, counts and version numbers do
 * not, a password with a group missing or mistyped does.
 */
static void scan_text(const char *s, size_t len, struct line_scan *ls)
{
    size_t i = 0;

    ls->n_guids = 0;
    ls->n_runs = 0;
    ls->last_set = false;
    while (i < len) {
        struct ul_guid g;
        if (is_hex(s[i]) && guid_at(s, len, i, &g)) {
            add_guid(ls, &g);
            i += UL_GUID_STR_LEN;
            continue;
        }
        if (!is_digit(s[i]) || (i > 0 && is_alnum(s[i - 1]))) {
            i++;
            continue;
        }
        size_t j = i, digits = 0, sixes = 0, grp = 0;
        for (;;) {
            if (j < len && is_digit(s[j])) {
                /* A GUID starting here ends the run (its separator stays out). */
                if (grp == 0 && j > i && guid_at(s, len, j, &g))
                    break;
                digits++;
                grp++;
                j++;
                continue;
            }
            if (grp == 6)
                sixes++;
            grp = 0;
            if (j + 1 < len && (s[j] == '-' || s[j] == ' ') && is_digit(s[j + 1]) &&
                !guid_at(s, len, j + 1, &g)) {
                j++;
                continue;
            }
            break;
        }
        size_t end = j;
        if (end > i && (s[end - 1] == '-' || s[end - 1] == ' '))
            end--;
        while (end < len && is_alnum(s[end]) && !(end > 0 && !is_alnum(s[end - 1])))
            end++;
        if ((digits >= 24 || sixes >= 3) && ls->n_runs < LINE_RUNS) {
            ls->runs[ls->n_runs].start = i;
            ls->runs[ls->n_runs].end = end;
            ls->n_runs++;
        }
        i = end > i ? end : i + 1;
    }
}

/* ------------------------------------------------------------------- CSV */

#define CSV_COLS 64

enum col_class {
    COL_OTHER = 0,
    COL_ID_STRONG,              /* KeyId, Key ID, BitLockerKeyId, msFVE-RecoveryGuid, ... */
    COL_ID_WEAK,                /* Id (Graph), Name / DistinguishedName (AD) */
    COL_EXCLUDED,               /* DeviceId, ObjectGUID, VolumeId, ...: never the key ID */
    COL_PASSWORD,               /* msFVE-RecoveryPassword, Key (Graph), Recovery Key */
};

static bool contains(const char *hay, const char *needle)
{
    size_t n = ul_strlen(needle), h = ul_strlen(hay);
    for (size_t i = 0; i + n <= h; i++)
        if (ul_memcmp(hay + i, needle, n) == 0)
            return true;
    return false;
}

static enum col_class classify(const char *s, size_t len)
{
    char n[64];
    size_t k = 0;

    /* Lower case, letters and digits only: "Key ID", "key_id", "KeyId" alike. */
    for (size_t i = 0; i < len && k + 1 < sizeof(n); i++)
        if (is_alnum(s[i]))
            n[k++] = ul_tolower(s[i]);
    n[k] = '\0';
    if (k == 0)
        return COL_OTHER;
    if (contains(n, "keyid") || contains(n, "protectorid") || contains(n, "recoveryguid") ||
        contains(n, "recoveryid") || contains(n, "passwordid") || contains(n, "keyguid"))
        return COL_ID_STRONG;
    if (contains(n, "device") || contains(n, "objectguid") || contains(n, "volume") ||
        contains(n, "user") || contains(n, "tenant") || contains(n, "computer") ||
        contains(n, "owner"))
        return COL_EXCLUDED;
    if (contains(n, "password") || contains(n, "recoverykey") || ul_strcmp(n, "key") == 0 ||
        ul_strcmp(n, "bitlockerkey") == 0)
        return COL_PASSWORD;
    if (ul_strcmp(n, "id") == 0 || ul_strcmp(n, "name") == 0 || ul_strcmp(n, "cn") == 0 ||
        ul_strcmp(n, "distinguishedname") == 0 || ul_strcmp(n, "dn") == 0 ||
        ul_strcmp(n, "identifier") == 0 || ul_strcmp(n, "guid") == 0)
        return COL_ID_WEAK;
    return COL_OTHER;
}

/* Splits a CSV record at sep outside double quotes; fields are raw spans
 * (quotes included).  Returns the number of fields, at most max. */
static size_t split_fields(const char *s, size_t len, char sep, struct span *f, size_t max)
{
    size_t n = 0, start = 0;
    bool q = false;

    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] == '"')
            q = !q;
        else if (i == len || (!q && s[i] == sep)) {
            if (n < max) {
                f[n].start = start;
                f[n].end = i;
                n++;
            }
            start = i + 1;
        }
    }
    return n;
}

/* A field's value: white space and enclosing quotes trimmed. */
static struct span field_value(const char *s, struct span f)
{
    while (f.start < f.end && (s[f.start] == ' ' || s[f.start] == '\t' || s[f.start] == '"'))
        f.start++;
    while (f.end > f.start &&
           (s[f.end - 1] == ' ' || s[f.end - 1] == '\t' || s[f.end - 1] == '"'))
        f.end--;
    return f;
}

static bool quotes_open(const char *s, size_t len)
{
    bool q = false;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '"')
            q = !q;
    return q;
}

/* ---------------------------------------------------------------- parser */

struct parser {
    ul_bitlocker_keys_cb cb;
    void *arg;
    struct ul_bitlocker_keys_diag *d;
    const struct ul_guid *watch;    /* find(): IDs whose refused passwords matter */
    size_t n_watch;
    bool have_pending;
    struct ul_guid pending;         /* a GUID still waiting for its password */
    char forced_sep;                /* Excel's "sep=;" line, 0: none */
    bool csv;                       /* a CSV header is in force */
    char sep;
    size_t n_cols;
    uint8_t cols[CSV_COLS];         /* enum col_class per column */
    uint32_t seen;                  /* recovery passwords seen, used or not */
    int stop;                       /* the callback's non-zero return */
};

static bool watched(const struct parser *p, const struct ul_guid *id)
{
    for (size_t i = 0; id && i < p->n_watch; i++)
        if (ul_guid_equal(&p->watch[i], id))
            return true;
    return false;
}

static void note(struct parser *p, enum ul_bitlocker_keys_problem what, uint32_t line, int group,
                 enum ul_bitlocker_rp_error err, const struct ul_guid *id)
{
    struct ul_bitlocker_keys_diag *d = p->d;
    struct ul_bitlocker_keys_note n = { .problem = what, .line = line, .group = group, .err = err };

    if (id) {
        n.has_id = true;
        n.id = *id;
    }
    switch (what) {
    case UL_BITLOCKER_KEYS_MALFORMED: d->malformed++; break;
    case UL_BITLOCKER_KEYS_BAD_GROUP: d->bad_group++; break;
    case UL_BITLOCKER_KEYS_LINE_TOO_LONG: d->too_long++; break;
    case UL_BITLOCKER_KEYS_AMBIGUOUS: d->ambiguous++; break;
    case UL_BITLOCKER_KEYS_NO_ID: d->no_id++; break;
    }
    if (d->n_notes < UL_BITLOCKER_KEYS_NOTES_MAX)
        d->notes[d->n_notes++] = n;
    if ((what == UL_BITLOCKER_KEYS_MALFORMED || what == UL_BITLOCKER_KEYS_BAD_GROUP) &&
        !d->have_refused_match && watched(p, id)) {
        d->have_refused_match = true;
        d->refused_match = n;
    }
}

/* The canonical text of a 16-byte recovery key: each word * 11, 6 digits. */
static void format_password(const uint8_t key[16], char out[UL_BITLOCKER_RP_SIZE])
{
    size_t o = 0;
    for (int g = 0; g < 8; g++) {
        uint32_t v = (uint32_t)(key[2 * g] | key[2 * g + 1] << 8) * 11u;
        if (g)
            out[o++] = '-';
        for (int k = 5; k >= 0; k--) {
            out[o + (size_t)k] = (char)('0' + v % 10);
            v /= 10;
        }
        o += 6;
    }
    out[o] = '\0';
}

/* One recovery password (s[0, len), untrusted) given for id (NULL: none). */
static void take_password(struct parser *p, const char *s, size_t len, const struct ul_guid *id,
                          uint32_t line)
{
    char buf[64], pw[UL_BITLOCKER_RP_SIZE];
    uint8_t key[16];
    enum ul_bitlocker_rp_error err = UL_BITLOCKER_RP_FORMAT;
    int group = 0, r = -UL_EINVAL;

    p->seen++;
    if (!id) {
        note(p, UL_BITLOCKER_KEYS_NO_ID, line, 0, UL_BITLOCKER_RP_OK, NULL);
        return;
    }
    if (len < sizeof(buf)) {
        ul_memcpy(buf, s, len);
        buf[len] = '\0';
        r = ul_bitlocker_parse_recovery_password(buf, key, &err, &group);
        wipe(buf, sizeof(buf));
    }
    if (r < 0) {
        wipe(key, sizeof(key));
        if (group > 0 && err != UL_BITLOCKER_RP_FORMAT)
            note(p, UL_BITLOCKER_KEYS_BAD_GROUP, line, group, err, id);
        else
            note(p, UL_BITLOCKER_KEYS_MALFORMED, line, 0, UL_BITLOCKER_RP_FORMAT, id);
        return;
    }
    format_password(key, pw);
    wipe(key, sizeof(key));
    p->d->pairs++;
    if (p->cb && !p->stop)
        p->stop = p->cb(p->arg, id, pw, line);
    wipe(pw, sizeof(pw));
}

/* A line outside a CSV header's reach: one GUID and passwords on the same
 * line pair up; a password alone pairs with the GUID pending from above. */
static void stream_line(struct parser *p, const char *s, size_t len, uint32_t line)
{
    struct line_scan ls;
    const struct ul_guid *id = NULL;

    scan_text(s, len, &ls);
    if (ls.n_runs == 0) {
        if (ls.last_set) {
            p->pending = ls.last;
            p->have_pending = true;
        }
        return;
    }
    if (ls.n_guids > 1) {
        for (size_t i = 0; i < ls.n_runs; i++) {
            p->seen++;
            note(p, UL_BITLOCKER_KEYS_AMBIGUOUS, line, 0, UL_BITLOCKER_RP_OK, NULL);
        }
        p->have_pending = false;
        return;
    }
    struct ul_guid g = p->pending;
    if (ls.n_guids == 1) {
        g = ls.guids[0];
        id = &g;
    } else if (p->have_pending) {
        id = &g;
    }
    p->have_pending = false;
    for (size_t i = 0; i < ls.n_runs; i++)
        take_password(p, s + ls.runs[i].start, ls.runs[i].end - ls.runs[i].start, id, line);
}

/* Is this line a CSV header naming a password column and a key-ID column?
 * Then it is in force from the next line on. */
static bool try_header(struct parser *p, const char *s, size_t len, uint32_t line)
{
    struct span f[CSV_COLS];
    struct line_scan ls;
    size_t counts[3] = { 0, 0, 0 };
    static const char seps[3] = { ',', ';', '\t' };
    char sep = p->forced_sep;
    bool q = false, pw = false, id = false;

    scan_text(s, len, &ls);
    if (ls.n_guids || ls.n_runs)
        return false;
    if (!sep) {
        for (size_t i = 0; i < len; i++) {
            if (s[i] == '"')
                q = !q;
            for (int k = 0; k < 3 && !q; k++)
                if (s[i] == seps[k])
                    counts[k]++;
        }
        int best = 0;
        for (int k = 1; k < 3; k++)
            if (counts[k] > counts[best])
                best = k;
        if (!counts[best])
            return false;
        sep = seps[best];
    }
    size_t n = split_fields(s, len, sep, f, CSV_COLS);
    uint8_t cols[CSV_COLS];
    for (size_t i = 0; i < n; i++) {
        struct span v = field_value(s, f[i]);
        /* Column names are short; a sentence with a comma is no header. */
        if (v.end - v.start > 48)
            return false;
        cols[i] = (uint8_t)classify(s + v.start, v.end - v.start);
        if (cols[i] == COL_PASSWORD && pw)
            cols[i] = COL_OTHER;        /* the first password column counts */
        pw |= cols[i] == COL_PASSWORD;
        id |= cols[i] == COL_ID_STRONG || cols[i] == COL_ID_WEAK;
    }
    if (!pw || !id)
        return false;
    p->csv = true;
    p->sep = sep;
    p->n_cols = n;
    ul_memcpy(p->cols, cols, n);
    p->have_pending = false;
    p->d->csv_header_line = line;
    return true;
}

/* A record under a CSV header: the password column's value, given for the
 * GUID of the best-named ID column (strong names before weak ones; other
 * columns only when no ID column holds a GUID, and never excluded ones). */
static void csv_record(struct parser *p, const char *s, size_t len, uint32_t line)
{
    struct span f[CSV_COLS];
    size_t n = split_fields(s, len, p->sep, f, CSV_COLS);
    struct span pwv = { 0, 0 };
    bool have_pw = false;

    for (size_t i = 0; i < n && i < p->n_cols; i++)
        if (p->cols[i] == COL_PASSWORD) {
            pwv = field_value(s, f[i]);
            for (size_t k = pwv.start; k < pwv.end; k++)
                have_pw |= is_digit(s[k]);
        }
    if (!have_pw) {
        /* No password in its column: maybe the rest of the file is of
         * another shape (a second export appended, manage-bde text). */
        if (!try_header(p, s, len, line)) {
            struct line_scan ls;
            scan_text(s, len, &ls);
            if (ls.n_runs) {
                p->csv = false;
                stream_line(p, s, len, line);
            }
        }
        return;
    }
    static const uint8_t order[3] = { COL_ID_STRONG, COL_ID_WEAK, COL_OTHER };
    for (int o = 0; o < 3; o++) {
        struct line_scan acc, ls;
        acc.n_guids = 0;
        acc.n_runs = 0;
        acc.last_set = false;
        for (size_t i = 0; i < n; i++) {
            uint8_t c = i < p->n_cols ? p->cols[i] : COL_OTHER;
            if (c != order[o])
                continue;
            scan_text(s + f[i].start, f[i].end - f[i].start, &ls);
            for (size_t k = 0; k < ls.n_guids; k++)
                add_guid(&acc, &ls.guids[k]);
        }
        if (acc.n_guids == 1) {
            take_password(p, s + pwv.start, pwv.end - pwv.start, &acc.guids[0], line);
            return;
        }
        if (acc.n_guids > 1) {
            p->seen++;
            note(p, UL_BITLOCKER_KEYS_AMBIGUOUS, line, 0, UL_BITLOCKER_RP_OK, NULL);
            return;
        }
    }
    take_password(p, s + pwv.start, pwv.end - pwv.start, NULL, line);
}

static bool starts_with_ci(const char *s, size_t len, const char *prefix)
{
    size_t n = ul_strlen(prefix);
    return len >= n && ul_strncasecmp(s, prefix, n) == 0;
}

static int parse(const void *data, size_t len, struct parser *p)
{
    char buf[UL_BITLOCKER_KEYS_LINE_MAX + 1];
    struct reader r = { .p = data, .len = data ? len : 0, .enc = ENC_UTF8 };
    const uint8_t *b = r.p;

    p->d->encoding = "UTF-8";
    if (r.len >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf) {
        r.pos = 3;
        p->d->encoding = "UTF-8 (BOM)";
    } else if (r.len >= 2 && b[0] == 0xff && b[1] == 0xfe) {
        r.pos = 2;
        r.enc = ENC_UTF16LE;
    } else if (r.len >= 2 && b[0] == 0xfe && b[1] == 0xff) {
        r.pos = 2;
        r.enc = ENC_UTF16BE;
    } else if (r.len >= 4 && b[0] && !b[1] && b[2] && !b[3]) {
        r.enc = ENC_UTF16LE;    /* no BOM, but ASCII text in UTF-16LE */
    } else if (r.len >= 4 && !b[0] && b[1] && !b[2] && b[3]) {
        r.enc = ENC_UTF16BE;
    }
    if (r.enc == ENC_UTF16LE)
        p->d->encoding = "UTF-16LE";
    else if (r.enc == ENC_UTF16BE)
        p->d->encoding = "UTF-16BE";

    for (;;) {
        size_t n = 0;
        bool too_long = false;
        if (!read_line(&r, buf, sizeof(buf), &n, &too_long))
            break;
        uint32_t line = r.line;
        /* A CSV record may go on over several lines inside quotes (the
         * quote state follows each appended line, not the whole record
         * again: no quadratic work on many short lines). */
        bool open = p->csv && quotes_open(buf, n);
        while (open && !too_long && r.pos < r.len) {
            if (n + 1 >= sizeof(buf)) {
                too_long = true;
                break;
            }
            buf[n++] = '\n';
            size_t from = n;
            read_line(&r, buf, sizeof(buf), &n, &too_long);
            open ^= quotes_open(buf + from, n - from);
        }
        if (too_long) {
            note(p, UL_BITLOCKER_KEYS_LINE_TOO_LONG, line, 0, UL_BITLOCKER_RP_OK, NULL);
            p->have_pending = false;
            continue;
        }
        size_t st = 0;
        while (st < n && (buf[st] == ' ' || buf[st] == '\t'))
            st++;
        if (n - st == 5 && starts_with_ci(buf + st, n - st, "sep=")) {
            p->forced_sep = buf[st + 4];
            continue;
        }
        if (starts_with_ci(buf + st, n - st, "#TYPE"))
            continue;           /* Export-Csv's type line (Windows PowerShell 5.1) */
        if (p->csv)
            csv_record(p, buf, n, line);
        else if (!try_header(p, buf, n, line))
            stream_line(p, buf, n, line);
        if (p->stop)
            break;
    }
    p->d->lines = r.line;
    wipe(buf, sizeof(buf));
    if (p->stop)
        return p->stop;
    return p->seen ? 0 : -UL_EINVAL;
}

int ul_bitlocker_keys_parse(const void *data, size_t len, ul_bitlocker_keys_cb cb, void *arg,
                            struct ul_bitlocker_keys_diag *diag)
{
    struct ul_bitlocker_keys_diag local;
    struct parser p = { .cb = cb, .arg = arg, .d = diag ? diag : &local };

    ul_memset(p.d, 0, sizeof(*p.d));
    return parse(data, len, &p);
}

struct find_ctx {
    const struct ul_guid *ids;
    size_t n_ids;
    char *out;
    size_t index;
    uint32_t line;
};

static int find_cb(void *arg, const struct ul_guid *id, const char *password, uint32_t line)
{
    struct find_ctx *f = arg;
    for (size_t i = 0; i < f->n_ids; i++)
        if (ul_guid_equal(&f->ids[i], id)) {
            ul_memcpy(f->out, password, UL_BITLOCKER_RP_SIZE);
            f->index = i;
            f->line = line;
            return 1;
        }
    return 0;
}

int ul_bitlocker_keys_find(const void *data, size_t len, const struct ul_guid *ids, size_t n_ids,
                           char ret_password[UL_BITLOCKER_RP_SIZE], size_t *ret_index,
                           struct ul_bitlocker_keys_diag *diag)
{
    struct ul_bitlocker_keys_diag local;
    struct find_ctx f = { .ids = ids, .n_ids = n_ids, .out = ret_password };
    struct parser p = { .cb = find_cb, .arg = &f, .d = diag ? diag : &local, .watch = ids,
                        .n_watch = n_ids };

    ul_memset(p.d, 0, sizeof(*p.d));
    if (!ret_password)
        return -UL_EINVAL;
    wipe(ret_password, UL_BITLOCKER_RP_SIZE);
    if (!ids && n_ids)
        return -UL_EINVAL;
    int r = parse(data, len, &p);
    if (r == 1) {
        p.d->match_line = f.line;
        if (ret_index)
            *ret_index = f.index;
        return 0;
    }
    wipe(ret_password, UL_BITLOCKER_RP_SIZE);
    return r < 0 ? r : -UL_ENOENT;
}

const char *ul_bitlocker_keys_note_format(const struct ul_bitlocker_keys_note *n, char *buf,
                                          size_t size)
{
    char g[UL_GUID_STR_LEN + 1], who[64] = "";

    if (!buf || !size)
        return buf;
    if (!n) {
        buf[0] = '\0';
        return buf;
    }
    if (n->has_id) {
        ul_guid_format(&n->id, g);
        ul_snprintf(who, sizeof(who), " for protector {%s}", g);
    }
    switch (n->problem) {
    case UL_BITLOCKER_KEYS_MALFORMED:
        ul_snprintf(buf, size, "line %u: the recovery password%s is malformed: expected 48 "
                    "digits in 8 groups of 6", n->line, who);
        break;
    case UL_BITLOCKER_KEYS_BAD_GROUP:
        ul_snprintf(buf, size, "line %u: the recovery password%s is refused: group %d: %s",
                    n->line, who, n->group, ul_bitlocker_rp_error_name(n->err));
        break;
    case UL_BITLOCKER_KEYS_LINE_TOO_LONG:
        ul_snprintf(buf, size, "line %u: longer than %u bytes, skipped", n->line,
                    (unsigned)UL_BITLOCKER_KEYS_LINE_MAX);
        break;
    case UL_BITLOCKER_KEYS_AMBIGUOUS:
        ul_snprintf(buf, size, "line %u: a recovery password beside several GUIDs, none named "
                    "as the key ID; skipped", n->line);
        break;
    case UL_BITLOCKER_KEYS_NO_ID:
        ul_snprintf(buf, size, "line %u: a recovery password without a key protector ID; "
                    "skipped", n->line);
        break;
    default:
        ul_snprintf(buf, size, "line %u: unknown problem", n->line);
        break;
    }
    return buf;
}

/* ------------------------------------------------------ the prompt's entry */

void ul_rp_entry_init(struct ul_rp_entry *e)
{
    wipe(e, sizeof(*e));
    e->bad_err = UL_BITLOCKER_RP_OK;
}

void ul_rp_entry_wipe(struct ul_rp_entry *e)
{
    ul_rp_entry_init(e);
}

int ul_rp_entry_groups_done(const struct ul_rp_entry *e)
{
    return e->n / UL_RP_GROUP_DIGITS;
}

bool ul_rp_entry_is_complete(const struct ul_rp_entry *e)
{
    return e->n == UL_RP_GROUPS * UL_RP_GROUP_DIGITS;
}

enum ul_rp_event ul_rp_entry_key(struct ul_rp_entry *e, uint32_t ch)
{
    char d;

    if (e->n > UL_RP_GROUPS * UL_RP_GROUP_DIGITS)
        ul_rp_entry_init(e);    /* a damaged entry: start over rather than overrun */
    if (ch >= '0' && ch <= '9')
        d = (char)ch;
    else if (ch >= UL_RP_KEY_F(1) && ch <= UL_RP_KEY_F(9))
        d = (char)('1' + (ch - UL_RP_KEY_F(1)));
    else if (ch == UL_RP_KEY_F(10))
        d = '0';
    else if (ch == 0x08 || ch == 0x7f) {
        if (e->n == 0)
            return UL_RP_EV_NONE;
        e->digits[--e->n] = '\0';
        return UL_RP_EV_ERASED;
    } else if (ch == '\r' || ch == '\n') {
        return ul_rp_entry_is_complete(e) ? UL_RP_EV_SUBMIT : UL_RP_EV_INCOMPLETE;
    } else if (ch == 0x1b) {
        ul_rp_entry_wipe(e);
        return UL_RP_EV_CANCEL;
    } else {
        return UL_RP_EV_NONE;
    }

    if (ul_rp_entry_is_complete(e))
        return UL_RP_EV_NONE;
    e->digits[e->n++] = d;
    if (e->n % UL_RP_GROUP_DIGITS)
        return UL_RP_EV_DIGIT;
    /* The group's 6th digit: check it at once, as Windows' recovery screen does. */
    int group = e->n / UL_RP_GROUP_DIGITS;
    enum ul_bitlocker_rp_error err =
        ul_bitlocker_rp_check_group(e->digits + e->n - UL_RP_GROUP_DIGITS, UL_RP_GROUP_DIGITS);
    if (err != UL_BITLOCKER_RP_OK) {
        e->n -= UL_RP_GROUP_DIGITS;
        wipe(e->digits + e->n, UL_RP_GROUP_DIGITS);
        e->bad_group = (uint8_t)group;
        e->bad_err = err;
        return UL_RP_EV_GROUP_BAD;
    }
    if (e->bad_group == group) {
        e->bad_group = 0;
        e->bad_err = UL_BITLOCKER_RP_OK;
    }
    return group == UL_RP_GROUPS ? UL_RP_EV_COMPLETE : UL_RP_EV_GROUP_OK;
}

void ul_rp_entry_group(const struct ul_rp_entry *e, int i, char out[UL_RP_GROUP_DIGITS + 1])
{
    size_t k = 0;
    if (i >= 0 && i < UL_RP_GROUPS && e->n <= UL_RP_GROUPS * UL_RP_GROUP_DIGITS)
        for (size_t j = (size_t)i * UL_RP_GROUP_DIGITS;
             k < UL_RP_GROUP_DIGITS && j < e->n; j++)
            out[k++] = e->digits[j];
    out[k] = '\0';
}

void ul_rp_entry_render(const struct ul_rp_entry *e, char fill, char out[UL_BITLOCKER_RP_SIZE])
{
    size_t o = 0;
    for (size_t j = 0; j < UL_RP_GROUPS * UL_RP_GROUP_DIGITS; j++) {
        if (j && j % UL_RP_GROUP_DIGITS == 0)
            out[o++] = '-';
        out[o++] = j < e->n ? e->digits[j] : fill;
    }
    out[o] = '\0';
}

int ul_rp_entry_last_error(const struct ul_rp_entry *e, enum ul_bitlocker_rp_error *ret_err)
{
    if (ret_err)
        *ret_err = e->bad_group ? e->bad_err : UL_BITLOCKER_RP_OK;
    return e->bad_group;
}

int ul_rp_entry_get(const struct ul_rp_entry *e, char out[UL_BITLOCKER_RP_SIZE])
{
    if (!ul_rp_entry_is_complete(e)) {
        wipe(out, UL_BITLOCKER_RP_SIZE);
        return -UL_EINVAL;
    }
    ul_rp_entry_render(e, '0', out);
    return 0;
}
