/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bitlocker-keys: key files in every shape the parser accepts (Active
 * Directory and Entra ID CSV exports, manage-bde text in two languages,
 * BitLocker's own .TXT file in UTF-16LE, hand-made lines), quoting and
 * separators, rows with several GUIDs, refused passwords reported by line
 * and group without the password, over-long lines, empty and binary
 * input; and the recovery-password prompt's state machine typed with the
 * real recovery passwords of ../shared/testdata/bitlocker/images.conf.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bitlocker-keys.h"
#include "ul-errno.h"

/* images.conf: bitlk-aes-xts-128, bitlk-aes-cbc-128, and the startup-key image. */
#define RP_XTS "235818-357951-253979-013365-241120-245575-342914-591910"
#define ID_XTS "64311DEA-4587-4029-924A-BA299647998E"
#define RP_CBC "042647-302313-590458-071500-554323-116567-412181-516978"
#define ID_CBC "3fd763f9-74c7-4e90-8fa2-1f6a2e2b4e0c"
#define RP_SK "363770-230505-096371-652674-567006-579150-291038-408111"
#define ID_SK "294bc732-f82f-404c-a2ce-d1094ed59506"
#define ID_TPM "11111111-2222-3333-4444-555555555555"
#define ID_DEV "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

struct pair {
    char id[UL_GUID_STR_LEN + 1];
    char pw[UL_BITLOCKER_RP_SIZE];
    uint32_t line;
};

struct pairs {
    int n;
    struct pair p[16];
};

static int collect(void *arg, const struct ul_guid *id, const char *pw, uint32_t line)
{
    struct pairs *ps = arg;
    assert_int_equal(strlen(pw), UL_BITLOCKER_RP_LEN);
    if (ps->n < 16) {
        ul_guid_format(id, ps->p[ps->n].id);
        strcpy(ps->p[ps->n].pw, pw);
        ps->p[ps->n].line = line;
    }
    ps->n++;
    return 0;
}

static int parse_str(const char *s, struct pairs *ps, struct ul_bitlocker_keys_diag *d)
{
    memset(ps, 0, sizeof(*ps));
    return ul_bitlocker_keys_parse(s, strlen(s), collect, ps, d);
}

static struct ul_guid guid(const char *s)
{
    struct ul_guid g;
    assert_int_equal(ul_guid_parse(s, &g), 0);
    return g;
}

static void lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s += 'a' - 'A';
}

static void assert_pair(const struct pairs *ps, int i, const char *id, const char *pw)
{
    char want[64];
    assert_true(i < ps->n);
    snprintf(want, sizeof(want), "%s", id);
    lower(want);
    assert_string_equal(ps->p[i].id, want);
    assert_string_equal(ps->p[i].pw, pw);
}

/* No note may contain any run of 6 digits of any password in the test. */
static void assert_notes_clean(const struct ul_bitlocker_keys_diag *d)
{
    static const char *const pws[] = { RP_XTS, RP_CBC, RP_SK };
    char buf[256];
    for (uint32_t i = 0; i < d->n_notes; i++) {
        ul_bitlocker_keys_note_format(&d->notes[i], buf, sizeof(buf));
        for (size_t k = 0; k < 3; k++)
            for (size_t g = 0; g < 8; g++) {
                char grp[7];
                memcpy(grp, pws[k] + 7 * g, 6);
                grp[6] = '\0';
                assert_null(strstr(buf, grp));
            }
    }
}

/* s as UTF-16 (LE or BE) with a BOM, in a malloc'd buffer. */
static uint8_t *utf16(const char *s, bool be, size_t *ret_len)
{
    size_t n = strlen(s);
    uint8_t *b = malloc(2 * n + 2);
    b[0] = be ? 0xfe : 0xff;
    b[1] = be ? 0xff : 0xfe;
    for (size_t i = 0; i < n; i++) {
        b[2 + 2 * i + (be ? 1 : 0)] = (uint8_t)s[i];
        b[2 + 2 * i + (be ? 0 : 1)] = 0;
    }
    *ret_len = 2 * n + 2;
    return b;
}

/* ------------------------------------------------------------- formats */

/* Windows PowerShell 5.1: Get-ADObject -Filter 'objectClass -eq
 * "msFVE-RecoveryInformation"' -Properties msFVE-RecoveryPassword |
 * Export-Csv: a #TYPE line, every field quoted, objectGUID beside the ID. */
static const char ad_csv[] =
    "#TYPE Microsoft.ActiveDirectory.Management.ADObject\r\n"
    "\"DistinguishedName\",\"msFVE-RecoveryPassword\",\"Name\",\"ObjectClass\",\"ObjectGUID\"\r\n"
    "\"CN=2024-07-19T08:12:33-00:00{" ID_XTS "},CN=PC01,OU=Laptops,DC=corp,DC=example\","
    "\"" RP_XTS "\",\"2024-07-19T08:12:33-00:00{" ID_XTS "}\",\"msFVE-RecoveryInformation\","
    "\"" ID_DEV "\"\r\n"
    "\"CN=2023-01-02T10:00:00-00:00{" ID_CBC "},CN=PC02,OU=Laptops,DC=corp,DC=example\","
    "\"" RP_CBC "\",\"2023-01-02T10:00:00-00:00{" ID_CBC "}\",\"msFVE-RecoveryInformation\","
    "\"0f0f0f0f-1111-2222-3333-444444444444\"\r\n";

static void test_ad_csv(void **state)
{
    struct pairs ps;
    struct ul_bitlocker_keys_diag d;
    (void)state;
    assert_int_equal(parse_str(ad_csv, &ps, &d), 0);
    assert_int_equal(ps.n, 2);
    assert_pair(&ps, 0, ID_XTS, RP_XTS);
    assert_pair(&ps, 1, ID_CBC, RP_CBC);
    assert_int_equal(ps.p[0].line, 3);
    assert_int_equal(d.csv_header_line, 2);
    assert_int_equal(d.pairs, 2);
    assert_int_equal(d.ambiguous + d.malformed + d.no_id, 0);
    assert_string_equal(d.encoding, "UTF-8");
}

/* Entra ID / Intune (Graph bitlockerRecoveryKey: id, key, deviceId, ...);
 * the device ID comes first, so column names must choose. */
static void test_entra_csv(void **state)
{
    struct pairs ps;
    struct ul_bitlocker_keys_diag d;
    (void)state;
    const char *graph =
        "\xef\xbb\xbf" "DeviceId,Id,CreatedDateTime,VolumeType,Key\n"
        ID_DEV "," ID_XTS ",2024-07-19T08:12:33Z,1," RP_XTS "\n"
        ID_DEV "," ID_SK ",2024-07-19T08:12:34Z,2," RP_SK "\n";
    assert_int_equal(parse_str(graph, &ps, &d), 0);
    assert_int_equal(ps.n, 2);
    assert_pair(&ps, 0, ID_XTS, RP_XTS);
    assert_pair(&ps, 1, ID_SK, RP_SK);
    assert_string_equal(d.encoding, "UTF-8 (BOM)");

    /* The portal's names, ';' (a European Excel), the key ID last. */
    const char *portal =
        "Device name;Device ID;Recovery Key;Key ID\r\n"
        "\"PC; one\";" ID_DEV ";" RP_CBC ";{" ID_CBC "}\r\n";
    assert_int_equal(parse_str(portal, &ps, &d), 0);
    assert_int_equal(ps.n, 1);
    assert_pair(&ps, 0, ID_CBC, RP_CBC);
}

static void test_csv_quoting(void **state)
{
    struct pairs ps;
    struct ul_bitlocker_keys_diag d;
    (void)state;
    /* Doubled quotes, separators and a line break inside quotes, tabs. */
    const char *s =
        "\"Comment\",\"Key ID\",\"Recovery Password\"\n"
        "\"he said \"\"hi, there\"\"\",\"" ID_XTS "\",\"" RP_XTS "\"\n"
        "\"two\nlines, " ID_DEV "\",\"" ID_CBC "\",\"  " RP_CBC "  \"\n";
    assert_int_equal(parse_str(s, &ps, &d), 0);
    assert_int_equal(ps.n, 2);
    assert_pair(&ps, 0, ID_XTS, RP_XTS);
    assert_pair(&ps, 1, ID_CBC, RP_CBC);
    assert_int_equal(ps.p[1].line, 3);

    const char *tabs = "KeyId\tRecoveryKey\n" ID_SK "\t" RP_SK "\n";
    assert_int_equal(parse_str(tabs, &ps, &d), 0);
    assert_int_equal(ps.n, 1);
    assert_pair(&ps, 0, ID_SK, RP_SK);

    /* Excel's sep= line. */
    const char *sep = "sep=|\nKey ID|Recovery Key\n" ID_SK "|" RP_SK "\n";
    assert_int_equal(parse_str(sep, &ps, &d), 0);
    assert_int_equal(ps.n, 1);
}

static void test_several_guids(void **state)
{
    struct pairs ps;
    struct ul_bitlocker_keys_diag d;
    (void)state;
    /* No header: a row with two GUIDs cannot say which is the key ID. */
    const char *s = ID_DEV "," ID_XTS "," RP_XTS "\n" ID_CBC "," RP_CBC "\n";
    assert_int_equal(parse_str(s, &ps, &d), 0);
    assert_int_equal(ps.n, 1);
    assert_pair(&ps, 0, ID_CBC, RP_CBC);
    assert_int_equal(d.ambiguous, 1);
    assert_int_equal(d.notes[0].problem, UL_BITLOCKER_KEYS_AMBIGUOUS);
    assert_int_equal(d.notes[0].line, 1);
    assert_notes_clean(&d);

    /* A header whose GUID columns are not named: the same. */
    const char *h = "A,B,Password\n" ID_DEV "," ID_XTS "," RP_XTS "\n";
    assert_int_equal(parse_str(h, &ps, &d), 0);
    assert_int_equal(ps.n, 0);
    assert_int_equal(d.ambiguous, 1);
    /* ... named: fine. */
    const char *h2 = "DeviceId,KeyProtectorId,Password\n" ID_DEV "," ID_XTS "," RP_XTS "\n";
    assert_int_equal(parse_str(h2, &ps, &d), 0);
    assert_int_equal(ps.n, 1);
    assert_pair(&ps, 0, ID_XTS, RP_XTS);
}

static const char manage_bde_en[] =
    "BitLocker Drive Encryption: Configuration Tool version 10.0.19041\r\n"
    "Copyright (C) 2013 Microsoft Corporation. All rights reserved.\r\n"
    "\r\n"
    "Volume C: [OS]\r\n"
    "All Key Protectors\r\n"
    "\r\n"
    "    TPM:\r\n"
    "      ID: {" ID_TPM "}\r\n"
    "      PCR Validation Profile:\r\n"
    "        7, 11\r\n"
    "        (Uses Secure Boot for integrity validation)\r\n"
    "\r\n"
    "    Numerical Password:\r\n"
    "      ID: {" ID_XTS "}\r\n"
    "      Password:\r\n"
    "        " RP_XTS "\r\n"
    "\r\n"
    "    External Key:\r\n"
    "      ID: {4381F759-C4F8-4DE0-BB61-FC33A831BDA5}\r\n"
    "      External Key File Name:\r\n"
    "        4381F759-C4F8-4DE0-BB61-FC33A831BDA5.BEK\r\n";

static void test_manage_bde(void **state)
{
    struct pairs ps;
    struct ul_bitlocker_keys_diag d;
    (void)state;
    assert_int_equal(parse_str(manage_bde_en, &ps, &d), 0);
    assert_int_equal(ps.n, 1);
    assert_pair(&ps, 0, ID_XTS, RP_XTS);
    assert_int_equal(ps.p[0].line, 16);
    assert_int_equal(d.no_id + d.ambiguous + d.malformed, 0);

    /* German labels, UTF-16LE with a BOM as PowerShell's '>' writes it. */
    const char *de =
        "Volume C: [Betriebssystem]\r\n"
        "Alle Schl\xc3\xbcsselschutzvorrichtungen\r\n\r\n"
        "    Numerisches Kennwort:\r\n"
        "      ID: {" ID_CBC "}\r\n"
        "      Kennwort:\r\n"
        "        " RP_CBC "\r\n";
    size_t n;
    uint8_t *b = utf16(de, false, &n);
    memset(&ps, 0, sizeof(ps));
    assert_int_equal(ul_bitlocker_keys_parse(b, n, collect, &ps, &d), 0);
    assert_int_equal(ps.n, 1);
    assert_pair(&ps, 0, ID_CBC, RP_CBC);
    assert_string_equal(d.encoding, "UTF-16LE");
    free(b);
    /* ... and UTF-16BE. */
    b = utf16(de, true, &n);
    memset(&ps, 0, sizeof(ps));
    assert_int_equal(ul_bitlocker_keys_parse(b, n, collect, &ps, &d), 0);
    assert_int_equal(ps.n, 1);
    assert_string_equal(d.encoding, "UTF-16BE");
    free(b);
    /* ... and UTF-16LE without its BOM. */
    b = utf16(de, false, &n);
    memset(&ps, 0, sizeof(ps));
    assert_int_equal(ul_bitlocker_keys_parse(b + 2, n - 2, collect, &ps, &d), 0);
    assert_int_equal(ps.n, 1);
    free(b);
}

/* BitLocker's "BitLocker Recovery Key <GUID>.TXT" (Windows 10/11), UTF-16LE. */
static void test_bitlocker_txt(void **state)
{
    struct pairs ps;
    struct ul_bitlocker_keys_diag d;
    (void)state;
    const char *txt =
        "BitLocker Drive Encryption recovery key\r\n\r\n"
        "To verify that this is the correct recovery key, compare the start of the following "
        "identifier with the identifier value displayed on your PC.\r\n\r\n"
        "Identifier:\r\n\r\n\t" ID_SK "\r\n\r\n"
        "If the above identifier matches the one displayed by your PC, then use the following "
        "key to unlock your drive.\r\n\r\n"
        "Recovery Key:\r\n\r\n\t" RP_SK "\r\n\r\n"
        "If the above identifier doesn't match the one displayed by your PC, then this isn't "
        "the right key to unlock your drive.\r\n"
        "Try another recovery key, or refer to https://go.microsoft.com/fwlink/?LinkID=260589 "
        "for additional assistance.\r\n";
    size_t n;
    uint8_t *b = utf16(txt, false, &n);
    memset(&ps, 0, sizeof(ps));
    assert_int_equal(ul_bitlocker_keys_parse(b, n, collect, &ps, &d), 0);
    assert_int_equal(ps.n, 1);
    assert_pair(&ps, 0, ID_SK, RP_SK);
    free(b);
}

static void test_simple_lines(void **state)
{
    struct pairs ps;
    struct ul_bitlocker_keys_diag d;
    (void)state;
    const char *s =
        "# my laptops\n"
        ID_XTS " " RP_XTS "\n"
        "{" ID_CBC "}\t" "042647302313590458071500554323116567412181516978\n"
        ID_SK "=" "363770 230505 096371 652674 567006 579150 291038 408111\r"
        "\n\n";
    assert_int_equal(parse_str(s, &ps, &d), 0);
    assert_int_equal(ps.n, 3);
    assert_pair(&ps, 0, ID_XTS, RP_XTS);
    assert_pair(&ps, 1, ID_CBC, RP_CBC);
    assert_pair(&ps, 2, ID_SK, RP_SK);
    assert_int_equal(ps.p[2].line, 4);
}

/* A password whose group fails the check, one that is not 48 digits, one
 * with no ID: reported by line (and group), never used, never echoed. */
static void test_refused(void **state)
{
    struct pairs ps;
    struct ul_bitlocker_keys_diag d;
    char buf[256];
    (void)state;
    const char *s =
        ID_XTS " 235818-357951-253979-013365-241120-245575-342914-591911\n"   /* g8 check */
        ID_CBC " 042647-302313-720896-071500-554323-116567-412181-516978\n"   /* g3 range */
        ID_SK " 363770-230505-096371-652674-567006-579150-291038\n"            /* 7 groups */
        "235818-357951-253979-013365-241120-245575-342914-591910\n"           /* no ID */
        ID_SK " " RP_SK "x\n";                                                 /* glued */
    assert_int_equal(parse_str(s, &ps, &d), 0);
    assert_int_equal(ps.n, 0);
    assert_int_equal(d.bad_group, 2);
    assert_int_equal(d.malformed, 2);
    assert_int_equal(d.no_id, 1);
    assert_int_equal(d.n_notes, 5);
    assert_int_equal(d.notes[0].problem, UL_BITLOCKER_KEYS_BAD_GROUP);
    assert_int_equal(d.notes[0].line, 1);
    assert_int_equal(d.notes[0].group, 8);
    assert_int_equal(d.notes[0].err, UL_BITLOCKER_RP_CHECK);
    assert_true(d.notes[0].has_id);
    assert_int_equal(d.notes[1].group, 3);
    assert_int_equal(d.notes[1].err, UL_BITLOCKER_RP_RANGE);
    assert_int_equal(d.notes[2].problem, UL_BITLOCKER_KEYS_MALFORMED);
    assert_int_equal(d.notes[2].line, 3);
    assert_int_equal(d.notes[3].problem, UL_BITLOCKER_KEYS_NO_ID);
    assert_int_equal(d.notes[3].line, 4);
    assert_int_equal(d.notes[4].problem, UL_BITLOCKER_KEYS_MALFORMED);
    assert_notes_clean(&d);
    ul_bitlocker_keys_note_format(&d.notes[0], buf, sizeof(buf));
    assert_string_equal(buf, "line 1: the recovery password for protector "
                        "{64311dea-4587-4029-924a-ba299647998e} is refused: group 8: "
                        "check digit wrong (each group must be divisible by 11)");

    /* find: the right ID's password is refused: ENOENT, and it says so. */
    struct ul_guid ids[2] = { guid(ID_TPM), guid(ID_CBC) };
    char pw[UL_BITLOCKER_RP_SIZE];
    size_t idx = 99;
    assert_int_equal(ul_bitlocker_keys_find(s, strlen(s), ids, 2, pw, &idx, &d), -UL_ENOENT);
    assert_true(d.have_refused_match);
    assert_int_equal(d.refused_match.line, 2);
    assert_int_equal(d.refused_match.group, 3);
    assert_int_equal(pw[0], 0);
    assert_int_equal(idx, 99);
}

static void test_find(void **state)
{
    struct ul_bitlocker_keys_diag d;
    char pw[UL_BITLOCKER_RP_SIZE];
    size_t idx;
    (void)state;
    struct ul_guid ids[3] = { guid(ID_TPM), guid(ID_SK), guid(ID_CBC) };
    assert_int_equal(ul_bitlocker_keys_find(ad_csv, strlen(ad_csv), ids, 3, pw, &idx, &d), 0);
    assert_string_equal(pw, RP_CBC);
    assert_int_equal(idx, 2);
    assert_int_equal(d.match_line, 4);
    assert_false(d.have_refused_match);
    /* Other volumes' keys only. */
    assert_int_equal(ul_bitlocker_keys_find(ad_csv, strlen(ad_csv), ids, 2, pw, &idx, &d),
                     -UL_ENOENT);
    assert_int_equal(pw[0], 0);
    assert_int_equal(d.pairs, 2);
    /* No key file at all. */
    const char *junk = "hello\nworld 2024-07-19 12:00\n";
    assert_int_equal(ul_bitlocker_keys_find(junk, strlen(junk), ids, 3, pw, &idx, &d),
                     -UL_EINVAL);
    assert_int_equal(ul_bitlocker_keys_find(NULL, 0, ids, 3, pw, NULL, NULL), -UL_EINVAL);
    assert_int_equal(ul_bitlocker_keys_find(ad_csv, strlen(ad_csv), ids, 3, NULL, NULL, NULL),
                     -UL_EINVAL);
    assert_int_equal(ul_bitlocker_keys_find(ad_csv, strlen(ad_csv), NULL, 0, pw, NULL, NULL),
                     -UL_ENOENT);
}

static int stop_cb(void *arg, const struct ul_guid *id, const char *pw, uint32_t line)
{
    (void)id; (void)pw; (void)line;
    ++*(int *)arg;
    return 42;
}

static void test_edges(void **state)
{
    struct pairs ps;
    struct ul_bitlocker_keys_diag d;
    (void)state;
    /* Empty. */
    assert_int_equal(parse_str("", &ps, &d), -UL_EINVAL);
    assert_int_equal(ul_bitlocker_keys_parse(NULL, 0, NULL, NULL, NULL), -UL_EINVAL);
    assert_int_equal(ul_bitlocker_keys_parse("\xff\xfe", 2, NULL, NULL, &d), -UL_EINVAL);
    assert_int_equal(ul_bitlocker_keys_parse("\xff\xfe" "A", 3, NULL, NULL, &d), -UL_EINVAL);
    /* A line too long for the buffer is skipped, the rest still parsed. */
    size_t big = UL_BITLOCKER_KEYS_LINE_MAX + 100;
    char *s = malloc(big + 200);
    memset(s, 'x', big);
    snprintf(s + big, 200, "\n" ID_XTS " " RP_XTS "\n");
    assert_int_equal(parse_str(s, &ps, &d), 0);
    assert_int_equal(ps.n, 1);
    assert_int_equal(ps.p[0].line, 2);
    assert_int_equal(d.too_long, 1);
    assert_int_equal(d.notes[0].problem, UL_BITLOCKER_KEYS_LINE_TOO_LONG);
    assert_int_equal(d.notes[0].line, 1);
    /* A line of exactly the maximum fits. */
    memset(s, ' ', UL_BITLOCKER_KEYS_LINE_MAX);
    memcpy(s + UL_BITLOCKER_KEYS_LINE_MAX - 100, ID_XTS " " RP_XTS, 92);
    s[UL_BITLOCKER_KEYS_LINE_MAX] = '\0';
    assert_int_equal(parse_str(s, &ps, &d), 0);
    assert_int_equal(ps.n, 1);
    assert_int_equal(d.too_long, 0);
    free(s);
    /* A quoted CSV field that never closes within the line limit. */
    s = malloc(8192);
    strcpy(s, "Key ID,Recovery Key\n\"");
    memset(s + strlen(s), '\n', 5000);
    strcpy(s + 21 + 5000, "\"\n" ID_XTS "," RP_XTS "\n");
    assert_int_equal(parse_str(s, &ps, &d), 0);
    assert_int_equal(d.too_long, 1);
    assert_int_equal(d.notes[0].line, 2);
    assert_int_equal(ps.n, 1);
    assert_pair(&ps, 0, ID_XTS, RP_XTS);
    free(s);
    /* Binary garbage with NULs and high bytes: no key file, no crash. */
    uint8_t bin[4096];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(bin); i++) {
        x = x * 1103515245u + 12345u;
        bin[i] = (uint8_t)(x >> 16);
    }
    bin[1] = 1;
    memset(&ps, 0, sizeof(ps));
    assert_int_equal(ul_bitlocker_keys_parse(bin, sizeof(bin), collect, &ps, &d), -UL_EINVAL);
    assert_int_equal(ps.n, 0);
    /* The callback stops the parse and its value comes back. */
    int calls = 0;
    assert_int_equal(ul_bitlocker_keys_parse(ad_csv, strlen(ad_csv), stop_cb, &calls, NULL), 42);
    assert_int_equal(calls, 1);
    /* More problems than notes: counted all, the first ones kept. */
    char many[2048] = "";
    for (int i = 0; i < 12; i++)
        strcat(many, "235818-357951-253979-013365-241120-245575-342914-591910\n");
    assert_int_equal(parse_str(many, &ps, &d), 0);
    assert_int_equal(d.no_id, 12);
    assert_int_equal(d.n_notes, UL_BITLOCKER_KEYS_NOTES_MAX);
}

/* ------------------------------------------------------- the prompt */

static enum ul_rp_event type(struct ul_rp_entry *e, const char *keys)
{
    enum ul_rp_event ev = UL_RP_EV_NONE;
    for (; *keys; keys++)
        ev = ul_rp_entry_key(e, (uint8_t)*keys);
    return ev;
}

static void test_entry_typing(void **state)
{
    struct ul_rp_entry e;
    char out[UL_BITLOCKER_RP_SIZE], grp[7];
    (void)state;
    ul_rp_entry_init(&e);
    assert_int_equal(ul_rp_entry_key(&e, '2'), UL_RP_EV_DIGIT);
    assert_int_equal(type(&e, "35818"), UL_RP_EV_GROUP_OK);
    assert_int_equal(ul_rp_entry_groups_done(&e), 1);
    assert_int_equal(ul_rp_entry_key(&e, '-'), UL_RP_EV_NONE);   /* drawn by the screen */
    assert_int_equal(ul_rp_entry_key(&e, '\r'), UL_RP_EV_INCOMPLETE);
    assert_int_equal(ul_rp_entry_get(&e, out), -UL_EINVAL);
    assert_int_equal(type(&e, "357"), UL_RP_EV_DIGIT);
    ul_rp_entry_group(&e, 1, grp);
    assert_string_equal(grp, "357");
    ul_rp_entry_render(&e, '_', out);
    assert_string_equal(out, "235818-357___-______-______-______-______-______-______");
    /* The rest, with the function keys for some digits (F10 = 0). */
    assert_int_equal(type(&e, "951253979"), UL_RP_EV_GROUP_OK);
    assert_int_equal(ul_rp_entry_key(&e, UL_RP_KEY_F(10)), UL_RP_EV_DIGIT);
    assert_int_equal(ul_rp_entry_key(&e, UL_RP_KEY_F(1)), UL_RP_EV_DIGIT);
    assert_int_equal(type(&e, "3365"), UL_RP_EV_GROUP_OK);
    assert_int_equal(type(&e, "241120245575342914"), UL_RP_EV_GROUP_OK);
    assert_int_equal(type(&e, "59191"), UL_RP_EV_DIGIT);
    assert_false(ul_rp_entry_is_complete(&e));
    assert_int_equal(ul_rp_entry_key(&e, '0'), UL_RP_EV_COMPLETE);
    assert_true(ul_rp_entry_is_complete(&e));
    assert_int_equal(ul_rp_entry_key(&e, '7'), UL_RP_EV_NONE);   /* full */
    assert_int_equal(ul_rp_entry_get(&e, out), 0);
    assert_string_equal(out, RP_XTS);
    assert_int_equal(ul_rp_entry_key(&e, '\n'), UL_RP_EV_SUBMIT);
    ul_rp_entry_wipe(&e);
    for (size_t i = 0; i < sizeof(e.digits); i++)
        assert_int_equal(e.digits[i], 0);
    assert_int_equal(e.n, 0);

    /* The other images' passwords type in as well. */
    const char *rps[] = { RP_CBC, RP_SK, "529573-278784-259347-197835-171457-264044-610280-313269" };
    for (size_t k = 0; k < 3; k++) {
        ul_rp_entry_init(&e);
        for (const char *p = rps[k]; *p; p++)
            if (*p != '-')
                ul_rp_entry_key(&e, (uint8_t)*p);
        assert_int_equal(ul_rp_entry_get(&e, out), 0);
        assert_string_equal(out, rps[k]);
        ul_rp_entry_wipe(&e);
    }
}

static void test_entry_bad_group(void **state)
{
    struct ul_rp_entry e;
    enum ul_bitlocker_rp_error err;
    char grp[7];
    (void)state;
    ul_rp_entry_init(&e);
    assert_int_equal(type(&e, "235818"), UL_RP_EV_GROUP_OK);
    /* 357952: not divisible by 11; the group is cleared. */
    assert_int_equal(type(&e, "357952"), UL_RP_EV_GROUP_BAD);
    assert_int_equal(ul_rp_entry_groups_done(&e), 1);
    assert_int_equal(ul_rp_entry_last_error(&e, &err), 2);
    assert_int_equal(err, UL_BITLOCKER_RP_CHECK);
    ul_rp_entry_group(&e, 1, grp);
    assert_string_equal(grp, "");
    /* 720896 is divisible by 11 but too large. */
    assert_int_equal(type(&e, "720896"), UL_RP_EV_GROUP_BAD);
    assert_int_equal(ul_rp_entry_last_error(&e, &err), 2);
    assert_int_equal(err, UL_BITLOCKER_RP_RANGE);
    /* Retyped right: the error is gone. */
    assert_int_equal(type(&e, "357951"), UL_RP_EV_GROUP_OK);
    assert_int_equal(ul_rp_entry_last_error(&e, &err), 0);
    assert_int_equal(err, UL_BITLOCKER_RP_OK);
    /* A bad 8th group does not complete. */
    assert_int_equal(type(&e, "253979013365241120245575342914"), UL_RP_EV_GROUP_OK);
    assert_int_equal(type(&e, "591911"), UL_RP_EV_GROUP_BAD);
    assert_false(ul_rp_entry_is_complete(&e));
    assert_int_equal(ul_rp_entry_last_error(&e, NULL), 8);
    assert_int_equal(type(&e, "591910"), UL_RP_EV_COMPLETE);
}

static void test_entry_backspace_esc(void **state)
{
    struct ul_rp_entry e;
    char out[UL_BITLOCKER_RP_SIZE], grp[7];
    (void)state;
    ul_rp_entry_init(&e);
    assert_int_equal(ul_rp_entry_key(&e, 0x08), UL_RP_EV_NONE);  /* nothing to erase */
    assert_int_equal(type(&e, "23581835"), UL_RP_EV_DIGIT);
    assert_int_equal(ul_rp_entry_key(&e, 0x08), UL_RP_EV_ERASED);
    assert_int_equal(ul_rp_entry_key(&e, 0x08), UL_RP_EV_ERASED);
    /* Back into the previous (checked) group. */
    assert_int_equal(ul_rp_entry_groups_done(&e), 1);
    assert_int_equal(ul_rp_entry_key(&e, 0x7f), UL_RP_EV_ERASED);
    assert_int_equal(ul_rp_entry_groups_done(&e), 0);
    ul_rp_entry_group(&e, 0, grp);
    assert_string_equal(grp, "23581");
    assert_int_equal(ul_rp_entry_key(&e, '8'), UL_RP_EV_GROUP_OK);
    /* From a complete entry too. */
    ul_rp_entry_init(&e);
    type(&e, "235818357951253979013365241120245575342914591910");
    assert_true(ul_rp_entry_is_complete(&e));
    assert_int_equal(ul_rp_entry_key(&e, 0x08), UL_RP_EV_ERASED);
    assert_false(ul_rp_entry_is_complete(&e));
    assert_int_equal(ul_rp_entry_key(&e, '\r'), UL_RP_EV_INCOMPLETE);
    assert_int_equal(ul_rp_entry_key(&e, '0'), UL_RP_EV_COMPLETE);
    /* Esc wipes. */
    assert_int_equal(ul_rp_entry_key(&e, 0x1b), UL_RP_EV_CANCEL);
    assert_int_equal(ul_rp_entry_groups_done(&e), 0);
    ul_rp_entry_render(&e, '_', out);
    assert_string_equal(out, "______-______-______-______-______-______-______-______");
    for (size_t i = 0; i < sizeof(e.digits); i++)
        assert_int_equal(e.digits[i], 0);
    /* Other keys do nothing. */
    assert_int_equal(ul_rp_entry_key(&e, 'a'), UL_RP_EV_NONE);
    assert_int_equal(ul_rp_entry_key(&e, 0xffffffffu), UL_RP_EV_NONE);
    assert_int_equal(ul_rp_entry_key(&e, UL_RP_KEY_F(11)), UL_RP_EV_NONE);
    assert_int_equal(ul_rp_entry_key(&e, 0x663), UL_RP_EV_NONE);  /* Arabic-Indic 3 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ad_csv),
        cmocka_unit_test(test_entra_csv),
        cmocka_unit_test(test_csv_quoting),
        cmocka_unit_test(test_several_guids),
        cmocka_unit_test(test_manage_bde),
        cmocka_unit_test(test_bitlocker_txt),
        cmocka_unit_test(test_simple_lines),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_entry_typing),
        cmocka_unit_test(test_entry_bad_group),
        cmocka_unit_test(test_entry_backspace_esc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
