/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rules: which files quarantine may touch.  Globs (against a table and
 * against libc fnmatch() as an independent oracle), the two default rules on
 * realistic Windows paths, content checks, the recency cutoff in each of its
 * cases, and the [rule NAME] / [quarantine] sections of unloop.conf.
 */
#define _GNU_SOURCE /* FNM_CASEFOLD */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "rules.h"
#include "unloop-contract.h"

/* ---------------------------------------------------------------- globs */

struct glob_case {
    const char *pattern, *path;
    bool match;
};

static const struct glob_case glob_cases[] = {
    /* literal, whole path, case-insensitive like NTFS */
    { "\\Windows\\System32\\drivers\\ntfs.sys", "\\Windows\\System32\\drivers\\ntfs.sys", true },
    { "\\Windows\\System32\\drivers\\ntfs.sys", "\\WINDOWS\\system32\\DRIVERS\\NTFS.SYS", true },
    { "\\windows\\SYSTEM32", "\\Windows\\System32", true },
    { "\\Windows\\System32", "\\Windows\\System32\\drivers", false }, /* whole path only */
    { "\\Windows\\System32\\drivers", "\\Windows\\System32", false },
    { "\\Windows\\System32\\", "\\Windows\\System32", false },
    { "\\Windows\\System32", "\\Windows\\System32\\", false },
    { "\\a\\b", "\\a\\bc", false },
    { "\\a\\bc", "\\a\\b", false },
    { "", "", true },
    { "", "\\", false },
    { "\\", "\\", true },
    { "a", "A", true },
    /* '*' within one component, never across '\' */
    { "\\d\\*.sys", "\\d\\x.sys", true },
    { "\\d\\*.sys", "\\d\\.sys", true },
    { "\\d\\*.sys", "\\d\\sub\\x.sys", false },
    { "\\d\\*", "\\d\\sub\\x.sys", false },
    { "\\d*", "\\dir\\x", false },
    { "\\d\\x*", "\\d\\x", true },
    { "\\d\\*x", "\\d\\x", true },
    { "\\d\\*x*", "\\d\\abxcd", true },
    { "\\d\\a*b*c", "\\d\\aXbYbZc", true },
    { "\\d\\a*b*c", "\\d\\aXbYbZ", false },
    { "\\d\\a*b*c", "\\d\\ac", false },
    { "\\d\\**", "\\d\\anything", true },
    { "\\d\\***x", "\\d\\yyx", true },
    { "\\d\\*.SYS", "\\d\\A.sys", true },
    { "\\*\\x", "\\whatever\\x", true },
    /* a lone '*' component is one non-empty name */
    { "\\d\\*\\x", "\\d\\\\x", false },
    { "\\d\\*\\x", "\\d\\v\\x", true },
    { "\\d\\*\\x", "\\d\\x", false },
    { "\\d\\*\\*", "\\d\\v\\x", true },
    { "\\d\\*\\*", "\\d\\v", false },
    { "\\d\\*\\*", "\\d\\v\\w\\x", false },
    /* '?' is exactly one character of a name, never '\' */
    { "\\d\\?.sys", "\\d\\a.sys", true },
    { "\\d\\?.sys", "\\d\\.sys", false },
    { "\\d\\?.sys", "\\d\\ab.sys", false },
    { "\\d?x", "\\d\\x", false },
    { "\\d\\??", "\\d\\ab", true },
    { "\\d\\*?", "\\d\\", false },
    { "\\d\\*?", "\\d\\a", true },
    /* brackets and dots are literal */
    { "\\d\\[ab].sys", "\\d\\[ab].sys", true },
    { "\\d\\[ab].sys", "\\d\\a.sys", false },
    { "\\d\\a.sys", "\\d\\aXsys", false },
    /* non-ASCII bytes compare exactly */
    { "\\d\\caf\xc3\xa9", "\\d\\caf\xc3\xa9", true },
    { "\\d\\caf\xc3\xa9", "\\d\\CAF\xc3\xa9", true },
    { "\\d\\caf\xc3\xa9", "\\d\\caf\xc3\x89", false },
    /* the CrowdStrike pattern */
    { UL_RULE_CROWDSTRIKE_PATH,
      "\\Windows\\System32\\drivers\\CrowdStrike\\C-00000291-00000000-00000032.sys", true },
    { UL_RULE_CROWDSTRIKE_PATH,
      "\\windows\\system32\\drivers\\crowdstrike\\c-00000291-00000000-00000032.SYS", true },
    { UL_RULE_CROWDSTRIKE_PATH, "\\Windows\\System32\\drivers\\CrowdStrike\\C-00000291.sys", true },
    { UL_RULE_CROWDSTRIKE_PATH,
      "\\Windows\\System32\\drivers\\CrowdStrike\\C-00000290-00000000-00000032.sys", false },
    { UL_RULE_CROWDSTRIKE_PATH,
      "\\Windows\\System32\\drivers\\CrowdStrike\\C-00000291-00000000-00000032.sys.bak", false },
    { UL_RULE_CROWDSTRIKE_PATH,
      "\\Windows\\System32\\drivers\\CrowdStrike\\old\\C-00000291-00000000-00000032.sys", false },
    { UL_RULE_CROWDSTRIKE_PATH,
      "\\Windows\\SysWOW64\\drivers\\CrowdStrike\\C-00000291-00000000-00000032.sys", false },
};

static void test_glob_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(glob_cases) / sizeof(glob_cases[0]); i++) {
        const struct glob_case *c = &glob_cases[i];
        if (ul_glob_match(c->pattern, c->path) != c->match)
            fail_msg("glob '%s' vs '%s': want %s", c->pattern, c->path,
                     c->match ? "match" : "no match");
    }
    assert_false(ul_glob_match(NULL, "\\x"));
    assert_false(ul_glob_match("\\x", NULL));
}

/*
 * libc fnmatch() as an oracle: with '/' for '\', FNM_PATHNAME keeps '*'
 * and '?' inside one component as ours do.  The alphabet leaves out '['
 * (a bracket expression there, a literal here), and the paths have no
 * empty components (where ours refuses a lone '*' on purpose).
 */
static unsigned rnd_state = 12345;

static unsigned rnd(unsigned n)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return (rnd_state >> 16) % n;
}

static void test_glob_vs_fnmatch(void **state)
{
    (void)state;
    static const char pat_alpha[] = "abA*?\\.";
    static const char path_alpha[] = "abB.";
    char pat[24], path[24], fpat[24], fpath[24];
    unsigned matches = 0;

    for (int iter = 0; iter < 200000; iter++) {
        size_t pn = 1 + rnd(12), sn = 0;
        pat[0] = '\\';
        for (size_t i = 1; i < pn; i++)
            pat[i] = pat_alpha[rnd(sizeof(pat_alpha) - 1)];
        pat[pn] = 0;
        /* path: '\' then components of 1..4 characters */
        size_t comps = 1 + rnd(3);
        for (size_t c = 0; c < comps; c++) {
            path[sn++] = '\\';
            for (size_t k = 1 + rnd(4); k; k--)
                path[sn++] = path_alpha[rnd(sizeof(path_alpha) - 1)];
        }
        path[sn] = 0;
        for (size_t i = 0; i <= pn; i++)
            fpat[i] = pat[i] == '\\' ? '/' : pat[i];
        for (size_t i = 0; i <= sn; i++)
            fpath[i] = path[i] == '\\' ? '/' : path[i];
        bool want = fnmatch(fpat, fpath, FNM_PATHNAME | FNM_CASEFOLD | FNM_NOESCAPE) == 0;
        bool got = ul_glob_match(pat, path);
        if (want != got)
            fail_msg("'%s' vs '%s': fnmatch says %d, ul_glob_match %d", pat, path, want, got);
        matches += got;
    }
    assert_true(matches > 1000); /* the oracle saw matches, not only misses */
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Patterns that make a backtracking matcher go exponential finish at once. */
static void test_glob_pathological(void **state)
{
    (void)state;
    size_t big = 200000;
    char *path = malloc(big + 8), *pat = malloc(512);
    assert_non_null(path);
    assert_non_null(pat);
    double t0 = now_seconds();

    /* "\a*a*a*...*b" (60 stars) against "\aaaa...a" (200 000): no match. */
    path[0] = '\\';
    memset(path + 1, 'a', big);
    path[big + 1] = 0;
    size_t n = 0;
    pat[n++] = '\\';
    for (int i = 0; i < 60; i++)
        pat[n++] = 'a', pat[n++] = '*';
    pat[n++] = 'b';
    pat[n] = 0;
    assert_false(ul_glob_match(pat, path));
    pat[n - 1] = 'a'; /* ... and ending in 'a' it matches */
    assert_true(ul_glob_match(pat, path));

    /* 400 stars in one component. */
    pat[0] = '\\';
    memset(pat + 1, '*', 400);
    strcpy(pat + 401, "b");
    assert_false(ul_glob_match(pat, path));
    pat[401] = 0;
    assert_true(ul_glob_match(pat, path));

    /* Many components, each "*" against "\a\a\a...": one pass. */
    for (size_t i = 0; i < big; i += 2)
        path[i] = '\\', path[i + 1] = 'a';
    path[big] = 0;
    for (size_t i = 0; i < 200; i += 2)
        pat[i] = '\\', pat[i + 1] = '*';
    pat[200] = 0;
    assert_false(ul_glob_match(pat, path));

    /* A rule path of the longest kind against a very long name. */
    memset(path, 'x', big);
    path[0] = '\\';
    path[big] = 0;
    memset(pat, 0, 512);
    pat[0] = '\\';
    for (size_t i = 1; i < UL_RULE_PATH_MAX - 1; i++)
        pat[i] = i % 2 ? '*' : '?';
    assert_true(ul_glob_match(pat, path));
    pat[UL_RULE_PATH_MAX - 2] = 'y';
    assert_false(ul_glob_match(pat, path));

    double elapsed = now_seconds() - t0;
    if (elapsed > 2.0)
        fail_msg("pathological globs took %.2f s", elapsed);
    free(path);
    free(pat);
}

/* -------------------------------------------------------- default rules */

static struct ul_rules rules;

static void test_defaults(void **state)
{
    (void)state;
    memset(&rules, 0xee, sizeof(rules));
    ul_rules_defaults(&rules);
    assert_int_equal(rules.n, 2);
    assert_int_equal(rules.window_hours, 6);
    assert_int_equal(rules.bare_window_hours, 24);
    assert_int_equal(rules.max_files, 64);

    const struct ul_rule *cs = ul_rules_find(&rules, "crowdstrike-channel");
    assert_non_null(cs);
    assert_ptr_equal(cs, &rules.r[0]);
    assert_string_equal(cs->path, "\\Windows\\System32\\drivers\\CrowdStrike\\C-00000291*.sys");
    assert_int_equal(cs->content, UL_CONTENT_ANY);
    assert_int_equal(cs->magic_len, 4);
    assert_memory_equal(cs->magic, "\xaa\xaa\xaa\xaa", 4);
    assert_true(cs->enabled);
    assert_false(cs->skip_microsoft_dirs);

    const struct ul_rule *v = ul_rules_find(&rules, "VENDOR-drivers");
    assert_non_null(v);
    assert_string_equal(v->path, "\\Windows\\System32\\drivers\\*\\*");
    assert_true(v->skip_microsoft_dirs);
    assert_int_equal(v->content, UL_CONTENT_ANY);
    assert_int_equal(v->magic_len, 0);
    assert_true(v->enabled);

    assert_null(ul_rules_find(&rules, "vendor"));
    assert_null(ul_rules_find(&rules, ""));
    /* The unused slots are zero (configs are compared with memcmp). */
    static const struct ul_rule zero;
    for (uint32_t i = rules.n; i < UL_RULES_MAX; i++)
        assert_memory_equal(&rules.r[i], &zero, sizeof(zero));
}

struct path_case {
    const char *path;
    const char *rule; /* first enabled rule that matches, or NULL */
};

static const struct path_case path_cases[] = {
    /* CrowdStrike channel files: the channel-file rule comes first */
    { "\\Windows\\System32\\drivers\\CrowdStrike\\C-00000291-00000000-00000032.sys",
      UL_RULE_CROWDSTRIKE },
    { "\\Windows\\System32\\drivers\\CrowdStrike\\C-00000291-00000000-00000029.sys",
      UL_RULE_CROWDSTRIKE },
    /* other CrowdStrike files are still vendor content */
    { "\\Windows\\System32\\drivers\\CrowdStrike\\C-00000290-00000000-00000032.sys",
      UL_RULE_VENDOR },
    { "\\Windows\\System32\\drivers\\CrowdStrike\\csagent.sys", UL_RULE_VENDOR },
    { "\\Windows\\System32\\drivers\\ExampleVendor\\x.sys", UL_RULE_VENDOR },
    { "\\WINDOWS\\SYSTEM32\\DRIVERS\\examplevendor\\X.SYS", UL_RULE_VENDOR },
    { "\\Windows\\System32\\drivers\\Intel\\ICPS\\IntelConnectivityNetworkService.exe", NULL },
    { "\\Windows\\System32\\drivers\\SentinelOne\\sentinelmonitor.sys", UL_RULE_VENDOR },
    { "\\Windows\\System32\\drivers\\en-USB\\x.sys", UL_RULE_VENDOR }, /* not a language tag */
    { "\\Windows\\System32\\drivers\\wdx\\x.sys", UL_RULE_VENDOR },
    /* inbox drivers sit directly in drivers\: no vendor directory */
    { "\\Windows\\System32\\drivers\\ntfs.sys", NULL },
    { "\\Windows\\System32\\drivers\\CrowdStrike", NULL },
    { "\\Windows\\System32\\drivers\\csagent.sys", NULL },
    /* Microsoft's own directories */
    { "\\Windows\\System32\\drivers\\en-US\\x.sys.mui", NULL },
    { "\\Windows\\System32\\drivers\\EN-us\\ntfs.sys.mui", NULL },
    { "\\Windows\\System32\\drivers\\de-DE\\x.sys.mui", NULL },
    { "\\Windows\\System32\\drivers\\sr-Latn-RS\\x.sys.mui", NULL },
    { "\\Windows\\System32\\drivers\\es-419\\x.sys.mui", NULL },
    { "\\Windows\\System32\\drivers\\qps-ploc\\x.sys.mui", NULL },
    { "\\Windows\\System32\\drivers\\UMDF\\x.dll", NULL },
    { "\\Windows\\System32\\drivers\\umdf\\WUDFRd.dll", NULL },
    { "\\Windows\\System32\\drivers\\DriverData\\x.dat", NULL },
    { "\\Windows\\System32\\drivers\\wd\\WdFilter.sys", NULL },
    { "\\Windows\\System32\\drivers\\etc\\hosts", NULL },
    { "\\Windows\\System32\\drivers\\ETC\\services", NULL },
    /* elsewhere */
    { "\\Windows\\System32\\ntoskrnl.exe", NULL },
    { "\\Windows\\SysWOW64\\drivers\\Vendor\\x.sys", NULL },
    { "\\Program Files\\CrowdStrike\\CSFalconService.exe", NULL },
    { "\\Windows\\System32\\DriverStore\\FileRepository\\x.inf_amd64_1\\x.sys", NULL },
};

static void test_default_rules_on_windows_paths(void **state)
{
    (void)state;
    ul_rules_defaults(&rules);
    for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
        const struct path_case *c = &path_cases[i];
        const struct ul_rule *r = ul_rules_match(&rules, c->path);
        const char *got = r ? r->name : "(none)", *want = c->rule ? c->rule : "(none)";
        if (strcmp(got, want) != 0)
            fail_msg("%s: want %s, got %s", c->path, want, got);
    }

    /* The glob alone matches Microsoft's directories; skip_microsoft_dirs says no. */
    struct ul_rule v = *ul_rules_find(&rules, UL_RULE_VENDOR);
    const char *umdf = "\\Windows\\System32\\drivers\\UMDF\\x.dll";
    assert_true(ul_glob_match(v.path, umdf));
    assert_false(ul_rule_match_path(&v, umdf));
    v.skip_microsoft_dirs = false;
    assert_true(ul_rule_match_path(&v, umdf));

    /* Only a lone '*' component is limited: a pattern that names UMDF means it. */
    struct ul_rule u = v;
    strcpy(u.path, "\\Windows\\System32\\drivers\\UMDF\\*");
    u.skip_microsoft_dirs = true;
    assert_true(ul_rule_match_path(&u, umdf));
    strcpy(u.path, "\\Windows\\System32\\drivers\\U*\\*");
    assert_true(ul_rule_match_path(&u, umdf));
    /* Deeper '*' components are not limited either. */
    strcpy(u.path, "\\Windows\\System32\\drivers\\Vendor\\*\\*");
    assert_true(ul_rule_match_path(&u, "\\Windows\\System32\\drivers\\Vendor\\en-US\\x"));
    strcpy(u.path, "\\Windows\\System32\\drivers\\*\\*\\*");
    assert_false(ul_rule_match_path(&u, "\\Windows\\System32\\drivers\\en-US\\Vendor\\x"));
    assert_true(ul_rule_match_path(&u, "\\Windows\\System32\\drivers\\Vendor\\en-US\\x"));

    /* Disabled rules do not match through ul_rules_match. */
    rules.r[1].enabled = false;
    assert_null(ul_rules_match(&rules, "\\Windows\\System32\\drivers\\ExampleVendor\\x.sys"));
    rules.r[0].enabled = false;
    assert_null(ul_rules_match(&rules, path_cases[0].path));
    assert_true(ul_rule_match_path(&rules.r[0], path_cases[0].path));
}

static bool lang(const char *s)
{
    return ul_is_language_dir(s, strlen(s));
}

static void test_microsoft_dirs(void **state)
{
    (void)state;
    static const char *const yes[] = { "en-US", "en-us", "de-DE", "pt-BR", "zh-CN", "zh-TW",
                                       "sr-Latn-RS", "sr-Latn-CS", "ha-Latn-NG", "es-419",
                                       "fil-PH", "qps-ploc", "qps-plocm", "QPS-PLOCA" };
    static const char *const no[] = { "en", "en-", "-US", "en-USA", "en-U", "e-US", "engl-US",
                                      "en_US", "en-US-x", "sr-Latn", "sr-Lat-RS", "en-4190",
                                      "en-41", "12-US", "Intel", "CrowdStrike", "" };
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (!lang(yes[i]))
            fail_msg("%s should be a language directory", yes[i]);
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        if (lang(no[i]))
            fail_msg("%s should not be a language directory", no[i]);

    static const char *const ms[] = { "DriverData", "driverdata", "UMDF", "wd", "WD", "etc",
                                      "en-US" };
    static const char *const vendor[] = { "CrowdStrike", "wdx", "w", "etcetera", "UMDF2",
                                          "Driver", "SentinelOne" };
    for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
        assert_true(ul_is_microsoft_driver_dir(ms[i], strlen(ms[i])));
    for (size_t i = 0; i < sizeof(vendor) / sizeof(vendor[0]); i++)
        assert_false(ul_is_microsoft_driver_dir(vendor[i], strlen(vendor[i])));
    /* Length-bounded: "wd" inside a longer buffer. */
    assert_true(ul_is_microsoft_driver_dir("wdfoo", 2));
}

/* -------------------------------------------------------------- content */

static void test_content_checks(void **state)
{
    (void)state;
    struct ul_rule r;
    memset(&r, 0, sizeof(r));
    static const uint8_t good[8] = { 0xaa, 0xaa, 0xaa, 0xaa, 1, 2, 3, 4 };
    static const uint8_t zero[8] = { 0 };
    static const uint8_t other[8] = { 0xaa, 0xaa, 0xaa, 0xab, 0, 0, 0, 0 };
    memcpy(r.magic, good, 4);
    r.magic_len = 4;

    /* any: content never matters */
    r.content = UL_CONTENT_ANY;
    assert_true(ul_rule_content_ok(&r, good, 8, false));
    assert_true(ul_rule_content_ok(&r, zero, 8, true));
    assert_true(ul_rule_content_ok(&r, NULL, 0, false));

    /* bad-magic: files that do not start with the magic, short ones included */
    r.content = UL_CONTENT_BAD_MAGIC;
    assert_false(ul_rule_content_ok(&r, good, 8, false));
    assert_false(ul_rule_content_ok(&r, good, 4, false));
    assert_true(ul_rule_content_ok(&r, good, 3, false));
    assert_true(ul_rule_content_ok(&r, NULL, 0, false));
    assert_true(ul_rule_content_ok(&r, other, 8, false));
    assert_true(ul_rule_content_ok(&r, zero, 8, true)); /* the July 2024 files */

    /* zero: all-zero files only, whatever the head says */
    r.content = UL_CONTENT_ZERO;
    assert_true(ul_rule_content_ok(&r, zero, 8, true));
    assert_false(ul_rule_content_ok(&r, zero, 8, false)); /* zeros at the head only */
    assert_false(ul_rule_content_ok(&r, other, 8, false));
    assert_false(ul_rule_content_ok(&r, good, 8, false));

    r.content = UL_CONTENT_BAD_MAGIC_OR_ZERO;
    assert_true(ul_rule_content_ok(&r, zero, 8, true));
    assert_true(ul_rule_content_ok(&r, other, 8, false));
    assert_false(ul_rule_content_ok(&r, good, 8, false));

    /* An all-zero magic: a zero file has it, so only zero-content sees it. */
    memset(r.magic, 0, sizeof(r.magic));
    r.content = UL_CONTENT_BAD_MAGIC;
    assert_false(ul_rule_content_ok(&r, zero, 8, true));
    r.content = UL_CONTENT_BAD_MAGIC_OR_ZERO;
    assert_true(ul_rule_content_ok(&r, zero, 8, true));

    /* No magic recorded: no file has a bad one. */
    r.magic_len = 0;
    r.content = UL_CONTENT_BAD_MAGIC;
    assert_false(ul_rule_content_ok(&r, other, 8, false));
    r.content = UL_CONTENT_BAD_MAGIC_OR_ZERO;
    assert_false(ul_rule_content_ok(&r, other, 8, false));
    assert_true(ul_rule_content_ok(&r, zero, 8, true));

    /* The full 16 bytes. */
    for (int i = 0; i < 16; i++)
        r.magic[i] = (uint8_t)i;
    r.magic_len = 16;
    r.content = UL_CONTENT_BAD_MAGIC;
    uint8_t head[32];
    for (int i = 0; i < 32; i++)
        head[i] = (uint8_t)i;
    assert_false(ul_rule_content_ok(&r, head, 32, false));
    assert_true(ul_rule_content_ok(&r, head, 15, false));
    head[15] ^= 1;
    assert_true(ul_rule_content_ok(&r, head, 32, false));

    /* An out-of-range content value accepts nothing. */
    r.content = (enum ul_rule_content)99;
    assert_false(ul_rule_content_ok(&r, head, 32, true));
    assert_string_equal(ul_rule_content_name((enum ul_rule_content)99), "unknown");
    assert_string_equal(ul_rule_content_name(UL_CONTENT_BAD_MAGIC_OR_ZERO), "bad-magic-or-zero");
}

/* -------------------------------------------------------------- recency */

#define HOUR_FT UL_FILETIME_PER_HOUR
/* 2024-07-19 04:09:00 UTC: the CrowdStrike update. */
#define T0 1721362140ll

static void test_filetime(void **state)
{
    (void)state;
    assert_int_equal(ul_filetime_from_unix(0), 116444736000000000ull);
    assert_int_equal(ul_filetime_from_unix(T0), (uint64_t)(T0 + 11644473600ll) * 10000000ull);
    assert_int_equal(ul_filetime_from_unix(-11644473600ll), 0);    /* 1601 */
    assert_int_equal(ul_filetime_from_unix(-11644473601ll), 0);    /* before: clamped */
    assert_int_equal(ul_filetime_from_unix(INT64_MIN), 0);
    assert_int_equal(ul_filetime_from_unix(INT64_MAX), UINT64_MAX);
    assert_int_equal(ul_filetime_from_unix(-11644473600ll + 1), 10000000);

    assert_int_equal(ul_unix_from_filetime(116444736000000000ull), 0);
    assert_int_equal(ul_unix_from_filetime(0), -11644473600ll);
    assert_int_equal(ul_unix_from_filetime(ul_filetime_from_unix(T0)), T0);
    /* sub-second parts round down */
    assert_int_equal(ul_unix_from_filetime(ul_filetime_from_unix(T0) + 9999999), T0);
    assert_int_equal(ul_unix_from_filetime(UINT64_MAX), (int64_t)(UINT64_MAX / 10000000) -
                                                            11644473600ll);
    for (int64_t t = -5; t < 5; t++)
        assert_int_equal(ul_unix_from_filetime(ul_filetime_from_unix(t)), t);
}

static uint64_t cutoff(const struct ul_recency_in *in, const char **reason)
{
    return ul_recency_cutoff(&rules, in, reason);
}

static void expect_describe(const struct ul_recency_in *in, const char *want)
{
    char buf[96];
    size_t n = ul_recency_describe(&rules, in, buf, sizeof(buf));
    assert_int_equal(n, strlen(buf));
    assert_string_equal(buf, want);
}

static void test_recency_cutoff(void **state)
{
    (void)state;
    const char *reason = NULL;
    uint64_t ft0 = ul_filetime_from_unix(T0);
    ul_rules_defaults(&rules);

    /* No unloop state: 24 h before the newest match. */
    struct ul_recency_in in = { .newest_match_ft = ft0 + 12345 };
    assert_int_equal(cutoff(&in, &reason), ft0 + 12345 - 24 * HOUR_FT);
    assert_string_equal(reason, "newest match - bare_window_hours");
    assert_int_equal(ul_recency_basis(&in), UL_RECENCY_NEWEST_MATCH);
    expect_describe(&in, "newest match - 24 h");
    rules.bare_window_hours = 48;
    assert_int_equal(cutoff(&in, NULL), ft0 + 12345 - 48 * HOUR_FT);
    expect_describe(&in, "newest match - 48 h");
    in.newest_match_ft = 5; /* near 1601: no wrap-around */
    assert_int_equal(cutoff(&in, NULL), 0);
    rules.bare_window_hours = 24;

    /* ... and nothing matches at all: nothing is recent. */
    in = (struct ul_recency_in){ 0 };
    assert_int_equal(cutoff(&in, &reason), UINT64_MAX);
    assert_string_equal(reason, "nothing matches");
    expect_describe(&in, "nothing matches");

    /* A first failed attempt, firmware clock in UTC: 6 h before it. */
    in = (struct ul_recency_in){ .first_attempt = T0, .first_attempt_tz = 0,
                                 .newest_match_ft = ft0 + 99 };
    assert_int_equal(cutoff(&in, &reason), ft0 - 6 * HOUR_FT);
    assert_string_equal(reason, "first failed attempt - window_hours");
    expect_describe(&in, "first failed attempt - 6 h");
    rules.window_hours = 1;
    assert_int_equal(cutoff(&in, NULL), ft0 - 1 * HOUR_FT);
    rules.window_hours = 6;

    /* Zone unknown (the usual RTC in local time): 14 h earlier still. */
    in.first_attempt_tz = UL_TZ_UNSPECIFIED;
    assert_int_equal(cutoff(&in, &reason), ft0 - (6 + 14) * HOUR_FT);
    assert_string_equal(reason, "first failed attempt - window_hours");
    expect_describe(&in, "first failed attempt - 6 h - 14 h (clock zone unknown)");
    /* A file written 19 h 59 min before a UTC+14 local-time first attempt is recent. */
    uint64_t file = ft0 - (20 * HOUR_FT) + 60 * UL_FILETIME_PER_SEC;
    assert_true(file > cutoff(&in, NULL));
    /* A nonsense zone counts as unknown. */
    in.first_attempt_tz = 3000;
    assert_int_equal(cutoff(&in, NULL), ft0 - (6 + 14) * HOUR_FT);
    in.first_attempt_tz = -3000;
    assert_int_equal(cutoff(&in, NULL), ft0 - (6 + 14) * HOUR_FT);

    /* A known zone: |tz| earlier, whichever sign convention the firmware used. */
    in.first_attempt_tz = 120;
    assert_int_equal(cutoff(&in, NULL), ft0 - 8 * HOUR_FT);
    expect_describe(&in, "first failed attempt - 6 h - 120 min (clock zone)");
    in.first_attempt_tz = -300;
    assert_int_equal(cutoff(&in, NULL), ft0 - 11 * HOUR_FT);
    in.first_attempt_tz = 14 * 60; /* a known +14 h is not "unknown" */
    assert_int_equal(cutoff(&in, NULL), ft0 - 20 * HOUR_FT);
    expect_describe(&in, "first failed attempt - 6 h - 840 min (clock zone)");
    /* Extreme clock values do not wrap. */
    in.first_attempt = INT64_MIN + 5;
    in.first_attempt_tz = UL_TZ_UNSPECIFIED;
    assert_int_equal(cutoff(&in, NULL), 0);
    in.first_attempt = INT64_MAX; /* clamps to the end of FILETIME, then the window */
    assert_int_equal(cutoff(&in, NULL), UINT64_MAX - 6 * HOUR_FT);
    in.first_attempt = -1; /* 1969, a dead RTC battery: still "a time", not "none" */
    assert_int_equal(ul_recency_basis(&in), UL_RECENCY_FIRST_ATTEMPT);

    /* A last-good time wins over the first attempt: exactly that time. */
    in = (struct ul_recency_in){ .last_good_utc = (uint64_t)T0 - 600, .first_attempt = T0,
                                 .first_attempt_tz = UL_TZ_UNSPECIFIED,
                                 .newest_match_ft = ft0 };
    assert_int_equal(cutoff(&in, &reason), ul_filetime_from_unix(T0 - 600));
    assert_string_equal(reason, "last good boot");
    expect_describe(&in, "last good boot");
    /* recent = strictly after */
    assert_false(ul_filetime_from_unix(T0 - 600) > cutoff(&in, NULL));
    assert_true(ul_filetime_from_unix(T0 - 600) + 1 > cutoff(&in, NULL));
    in.last_good_utc = UINT64_MAX;
    assert_int_equal(cutoff(&in, NULL), UINT64_MAX);

    /* --since overrides everything, even an earlier or later last good. */
    in = (struct ul_recency_in){ .have_since = true, .since_utc = T0 - 86400 * 3,
                                 .last_good_utc = (uint64_t)T0, .first_attempt = T0,
                                 .newest_match_ft = ft0 };
    assert_int_equal(cutoff(&in, &reason), ul_filetime_from_unix(T0 - 86400 * 3));
    assert_string_equal(reason, "since");
    expect_describe(&in, "since");
    in.since_utc = T0 + 3600;
    assert_int_equal(cutoff(&in, NULL), ul_filetime_from_unix(T0 + 3600));
    in.since_utc = 0; /* --since 1970-01-01 is a real time, not "unset" */
    assert_int_equal(cutoff(&in, NULL), ul_filetime_from_unix(0));
    in.since_utc = INT64_MIN; /* everything is recent */
    assert_int_equal(cutoff(&in, NULL), 0);

    /* ret_reason may be NULL; a short describe buffer still terminates. */
    char small[8];
    in = (struct ul_recency_in){ .first_attempt = T0, .first_attempt_tz = UL_TZ_UNSPECIFIED };
    size_t need = ul_recency_describe(&rules, &in, small, sizeof(small));
    assert_true(need > sizeof(small));
    assert_int_equal(strlen(small), sizeof(small) - 1);
}

/* ------------------------------------------------------------ the config */

static struct ul_config cfg, defaults;
static struct ul_diags diags;

static uint32_t parse(const char *text)
{
    ul_config_defaults(&cfg);
    memset(&diags, 0xa5, sizeof(diags));
    return ul_config_parse(text, strlen(text), &cfg, &diags);
}

static void dump_diags(void)
{
    for (uint32_t i = 0; i < diags.n && i < UL_CONFIG_MAX_DIAGS; i++)
        print_message("  line %u: %s\n", diags.d[i].line, diags.d[i].msg);
}

static void expect_clean(const char *text)
{
    if (parse(text) != 0 || diags.n != 0) {
        dump_diags();
        fail_msg("\"%s\": want no diagnostics", text);
    }
}

/* Diagnostics exactly on these lines (0-terminated), each mentioning word[i] if given. */
static void expect_errors(const char *text, const uint32_t *lines, const char *const *words)
{
    uint32_t n = 0;
    while (lines[n])
        n++;
    uint32_t errors = parse(text);
    bool ok = errors == n && diags.n == n;
    for (uint32_t i = 0; ok && i < n; i++)
        ok = diags.d[i].line == lines[i] && !diags.d[i].warning &&
             (!words || !words[i] || strstr(diags.d[i].msg, words[i]));
    if (!ok) {
        dump_diags();
        fail_msg("\"%s\": want %u errors, got %u", text, n, errors);
    }
}

static void expect_one_error(const char *text, uint32_t line, const char *word)
{
    const uint32_t lines[] = { line, 0 };
    const char *const words[] = { word };
    expect_errors(text, lines, words);
}

static const struct ul_rule *rule(const char *name)
{
    return ul_rules_find(&cfg.rules, name);
}

static void test_config_defaults(void **state)
{
    (void)state;
    ul_config_defaults(&defaults);
    struct ul_rules r;
    ul_rules_defaults(&r);
    assert_memory_equal(&defaults.rules, &r, sizeof(r));
    expect_clean("");
    assert_memory_equal(&cfg, &defaults, sizeof(cfg));
    /* Sections with nothing in them change nothing. */
    expect_clean("[quarantine]\n[rule vendor-drivers]\n[rule crowdstrike-channel]\n[unloop]\n");
    assert_memory_equal(&cfg, &defaults, sizeof(cfg));
}

static void test_config_rules_valid(void **state)
{
    (void)state;
    expect_clean("# unloop.conf with rules\n"
                 "[unloop]\n"
                 "threshold = 4\n"
                 "\n"
                 "[rule crowdstrike-channel]\n"
                 "content = bad-magic-or-zero\n"
                 "\n"
                 "[rule vendor-drivers]\n"
                 "enabled = no\n"
                 "\n"
                 "[rule acme]\n"
                 "path = /Program Files/Acme/Drivers/acme-*.sys   # slashes become backslashes\n"
                 "magic = 4D 5A 90 00\n"
                 "content = bad-magic\n"
                 "\n"
                 "[Rule  Zero-Files_2.x ]\n"
                 "path = \"\\Windows\\System32\\drivers\\Contoso Ltd\\*\"\n"
                 "content = zero\n"
                 "skip_microsoft_dirs = yes\n"
                 "enabled = YES\n"
                 "\n"
                 "[quarantine]\n"
                 "window_hours = 12\n"
                 "bare_window_hours = 720\n"
                 "max_files = 1024\n"
                 "[unloop]\n"
                 "menu_timeout = 5\n");
    assert_int_equal(cfg.threshold, 4);
    assert_int_equal(cfg.menu_timeout, 5);
    assert_int_equal(cfg.rules.n, 4);
    assert_int_equal(cfg.rules.window_hours, 12);
    assert_int_equal(cfg.rules.bare_window_hours, 720);
    assert_int_equal(cfg.rules.max_files, 1024);

    const struct ul_rule *cs = rule("crowdstrike-channel");
    assert_int_equal(cs->content, UL_CONTENT_BAD_MAGIC_OR_ZERO);
    assert_int_equal(cs->magic_len, 4); /* the built-in magic stays */
    assert_string_equal(cs->path, UL_RULE_CROWDSTRIKE_PATH);
    assert_true(cs->enabled);

    const struct ul_rule *v = rule("vendor-drivers");
    assert_false(v->enabled);
    assert_string_equal(v->path, UL_RULE_VENDOR_PATH);
    assert_true(v->skip_microsoft_dirs);

    const struct ul_rule *a = rule("ACME");
    assert_non_null(a);
    assert_ptr_equal(a, &cfg.rules.r[2]);
    assert_string_equal(a->name, "acme");
    assert_string_equal(a->path, "\\Program Files\\Acme\\Drivers\\acme-*.sys");
    assert_int_equal(a->magic_len, 4);
    assert_memory_equal(a->magic, "\x4d\x5a\x90\x00", 4);
    assert_int_equal(a->content, UL_CONTENT_BAD_MAGIC);
    assert_true(a->enabled);
    assert_false(a->skip_microsoft_dirs);
    assert_true(ul_rule_match_path(a, "\\program files\\acme\\drivers\\ACME-net.sys"));

    const struct ul_rule *z = rule("zero-files_2.x");
    assert_non_null(z);
    assert_string_equal(z->name, "Zero-Files_2.x");
    assert_string_equal(z->path, "\\Windows\\System32\\drivers\\Contoso Ltd\\*");
    assert_int_equal(z->content, UL_CONTENT_ZERO);
    assert_true(z->skip_microsoft_dirs);
    assert_true(z->enabled);

    /* The matcher uses the parsed rules: vendor-drivers is off. */
    assert_null(ul_rules_match(&cfg.rules, "\\Windows\\System32\\drivers\\Other\\x.sys"));
    assert_ptr_equal(ul_rules_match(&cfg.rules,
                                    "\\Windows\\System32\\drivers\\Contoso Ltd\\c.sys"), z);

    /* Magic spellings. */
    static const char *const magics[] = { "AAAAAAAA", "aa aa aa aa", "AA:AA:AA:AA",
                                          "aa-AA aa:Aa" };
    char text[200];
    for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
        snprintf(text, sizeof(text), "[rule vendor-drivers]\nmagic = %s\n", magics[i]);
        expect_clean(text);
        assert_int_equal(rule("vendor-drivers")->magic_len, 4);
        assert_memory_equal(rule("vendor-drivers")->magic, "\xaa\xaa\xaa\xaa", 4);
    }
    expect_clean("[rule vendor-drivers]\nmagic = 000102030405060708090a0b0c0d0e0F\n");
    assert_int_equal(rule("vendor-drivers")->magic_len, 16);
    assert_int_equal(rule("vendor-drivers")->magic[15], 0x0f);
    /* A shorter magic later clears the tail (memcmp-equal configs). */
    expect_clean("[rule crowdstrike-channel]\nmagic = 000102030405060708090a0b0c0d0e0F\n"
                 "magic = 01\n");
    assert_int_equal(rule("crowdstrike-channel")->magic_len, 1);
    for (int i = 1; i < 16; i++)
        assert_int_equal(rule("crowdstrike-channel")->magic[i], 0);

    /* A second section for the same rule changes it again; no new slot. */
    expect_clean("[rule x]\npath = \\a\\*\n[rule vendor-drivers]\nenabled = no\n"
                 "[rule X]\ncontent = zero\n");
    assert_int_equal(cfg.rules.n, 3);
    assert_int_equal(rule("x")->content, UL_CONTENT_ZERO);
    assert_string_equal(rule("x")->path, "\\a\\*");

    /* Booleans. */
    static const char *const on[] = { "yes", "true", "on", "1", "Yes" };
    static const char *const off[] = { "no", "false", "off", "0", "NO" };
    for (size_t i = 0; i < 5; i++) {
        snprintf(text, sizeof(text), "[rule vendor-drivers]\nskip_microsoft_dirs = %s\n"
                 "enabled = %s\n", off[i], on[i]);
        expect_clean(text);
        assert_false(rule("vendor-drivers")->skip_microsoft_dirs);
        assert_true(rule("vendor-drivers")->enabled);
    }
}

static void test_config_rules_invalid(void **state)
{
    (void)state;
    ul_config_defaults(&defaults);

    /* A built-in rule: the bad key keeps its value, the rest applies. */
    expect_one_error("[rule crowdstrike-channel]\ncontent = nonzero\nenabled = no\n", 2,
                     "content");
    assert_int_equal(rule("crowdstrike-channel")->content, UL_CONTENT_ANY);
    assert_false(rule("crowdstrike-channel")->enabled);
    assert_non_null(strstr(diags.d[0].msg, "nonzero"));
    assert_non_null(strstr(diags.d[0].msg, "unchanged"));

    /* Bad hex, odd digits, too long, empty, stray separators. */
    static const struct { const char *v; const char *word; } bad_magic[] = {
        { "AAAG", "hex" }, { "AAA", "hex" }, { "A A", "hex" }, { "0xAA", "hex" },
        { "AA  AA", "hex" }, { "AA:", "hex" }, { ":AA", "hex" }, { "\"\"", "hex" },
        { "", "hex" }, { "AA,AA", "hex" },
        { "000102030405060708090a0b0c0d0e0f10", "16 bytes" },
    };
    char text[300];
    for (size_t i = 0; i < sizeof(bad_magic) / sizeof(bad_magic[0]); i++) {
        snprintf(text, sizeof(text), "[rule crowdstrike-channel]\n\nmagic = %s\n",
                 bad_magic[i].v);
        expect_one_error(text, 3, bad_magic[i].word);
        assert_int_equal(rule("crowdstrike-channel")->magic_len, 4);
        assert_memory_equal(rule("crowdstrike-channel")->magic, "\xaa\xaa\xaa\xaa", 4);
    }

    /* Paths: relative, bad characters, empty or dot components, too long. */
    static const struct { const char *v; const char *word; } bad_path[] = {
        { "Windows\\System32\\drivers\\*\\*", "absolute" },
        { "drivers/*.sys", "absolute" },
        { "C:\\Windows\\x.sys", "character" },
        { "\\Windows\\a|b", "character" },
        { "\\Windows\\a<b", "character" },
        { "\\Windows\\a\tb", "character" },
        { "\\Windows\\\\x", "component" },
        { "\\Windows\\", "component" },
        { "\\", "component" },
        { "\\Windows\\..\\x", "component" },
        { "\\Windows\\.\\x", "component" },
        { "//x", "component" },
    };
    for (size_t i = 0; i < sizeof(bad_path) / sizeof(bad_path[0]); i++) {
        snprintf(text, sizeof(text), "[rule vendor-drivers]\npath = %s\n", bad_path[i].v);
        expect_one_error(text, 2, bad_path[i].word);
        assert_string_equal(rule("vendor-drivers")->path, UL_RULE_VENDOR_PATH);
        for (const char *p = diags.d[0].msg; *p; p++)
            assert_true(*p >= 0x20 && *p < 0x7f);
    }
    char longpath[UL_RULE_PATH_MAX + 2];
    memset(longpath, 'p', sizeof(longpath));
    longpath[0] = '\\';
    longpath[UL_RULE_PATH_MAX - 1] = 0; /* 199 characters: fits */
    snprintf(text, sizeof(text), "[rule vendor-drivers]\npath = %s\n", longpath);
    expect_clean(text);
    assert_string_equal(rule("vendor-drivers")->path, longpath);
    longpath[UL_RULE_PATH_MAX - 1] = 'p';
    longpath[UL_RULE_PATH_MAX] = 0;
    snprintf(text, sizeof(text), "[rule vendor-drivers]\npath = %s\n", longpath);
    expect_one_error(text, 2, "1..199");
    /* Non-ASCII names are fine on NTFS. */
    expect_clean("[rule vendor-drivers]\npath = \\Windows\\System32\\drivers\\Soci\xc3\xa9t\xc3\xa9\\*\n");

    /* Other values. */
    expect_one_error("[rule vendor-drivers]\nenabled = maybe\n", 2, "yes|no");
    assert_true(rule("vendor-drivers")->enabled);
    expect_one_error("[rule vendor-drivers]\nskip_microsoft_dirs = 2\n", 2,
                     "skip_microsoft_dirs");
    assert_true(rule("vendor-drivers")->skip_microsoft_dirs);
    expect_one_error("[rule vendor-drivers]\npaht = \\x\n", 2, "unknown key 'paht'");
    assert_true(rule("vendor-drivers")->enabled);
    /* [unloop] keys do not belong in a rule, and rule keys not in [unloop]. */
    expect_one_error("[rule vendor-drivers]\nthreshold = 5\n", 2, "unknown key");
    assert_int_equal(cfg.threshold, 3);
    expect_one_error("[unloop]\nenabled = no\n", 2, "unknown key");
    assert_true(rule("vendor-drivers")->enabled);

    /* A new rule with a bad line is disabled, on that line's word. */
    expect_one_error("[rule acme]\npath = \\acme\\*.sys\ncontent = bogus\n", 3,
                     "rule disabled");
    assert_int_equal(cfg.rules.n, 3);
    assert_false(rule("acme")->enabled);
    expect_one_error("[rule acme]\npath = \\acme\\*.sys\nmagic = XY\ncontent = bad-magic\n", 3,
                     "rule disabled");
    assert_false(rule("acme")->enabled);
    expect_one_error("[rule acme]\npath = \\acme\\*.sys\ncontnet = zero\nenabled = yes\n", 3,
                     "rule disabled");
    assert_false(rule("acme")->enabled); /* a later enabled = yes does not undo it */
    /* ... also when the bad line comes in a later section for it */
    expect_one_error("[rule acme]\npath = \\acme\\*.sys\n[rule acme]\nenabled = perhaps\n", 4,
                     "rule disabled");
    assert_false(rule("acme")->enabled);

    /* A new rule without a path is dropped, named at the section's end. */
    {
        const uint32_t lines[] = { 4, 0 };
        const char *const words[] = { "no path" };
        expect_errors("[rule nopath]\ncontent = zero\n\n[rule vendor-drivers]\nenabled = no\n",
                      lines, words);
        assert_int_equal(cfg.rules.n, 2);
        assert_null(rule("nopath"));
        assert_non_null(strstr(diags.d[0].msg, "line 1"));
        assert_false(rule("vendor-drivers")->enabled); /* the next section still applies */
        static const struct ul_rule zero;
        assert_memory_equal(&cfg.rules.r[2], &zero, sizeof(zero));
    }
    expect_one_error("# c\n[rule nopath]\nenabled = yes\n", 3, "line 2"); /* at end of file */
    assert_int_equal(cfg.rules.n, 2);
    expect_one_error("[rule nopath]\npath = relative\n", 2, "absolute"); /* dropped quietly */
    assert_int_equal(cfg.rules.n, 2);

    /* bad-magic without any magic: the rule is disabled rather than widened. */
    expect_one_error("[rule vendor-drivers]\ncontent = bad-magic\n\n[quarantine]\n", 4,
                     "needs a magic");
    assert_false(rule("vendor-drivers")->enabled);
    expect_one_error("[rule m]\npath = \\m\\*\ncontent = bad-magic-or-zero\n", 3,
                     "needs a magic");
    assert_false(rule("m")->enabled);
    expect_clean("[rule m]\ncontent = bad-magic\npath = \\m\\*\nmagic = 4d5a\n");
    assert_true(rule("m")->enabled); /* the magic may come after the content */

    /* Names. */
    expect_one_error("[rule]\npath = \\x\n", 1, "needs a name");
    assert_int_equal(cfg.rules.n, 2);
    expect_one_error("[rule   ]\n", 1, "needs a name");
    expect_one_error("[rule a b]\npath = \\x\n", 1, "a name is");
    expect_one_error("[rule a/b]\n", 1, "a name is");
    expect_one_error("[rule 0123456789012345678901234567890123]\n", 1, "a name is");
    expect_clean("[rule 0123456789012345678901234567890]\npath = \\x\n"); /* 31 */
    assert_non_null(rule("0123456789012345678901234567890"));
    expect_one_error("[rules x]\npath = \\x\n", 1, "unknown section");
    expect_one_error("[rulex]\n", 1, "unknown section");
    assert_int_equal(cfg.rules.n, 2);
    assert_memory_equal(&cfg, &defaults, sizeof(cfg));

    /* A broken header ends the rule's section; its keys are not taken. */
    expect_one_error("[rule vendor-drivers]\nenabled = no\n[quarantine\nmax_files = 2\n", 3,
                     "without ']'");
    assert_false(rule("vendor-drivers")->enabled);
    assert_int_equal(cfg.rules.max_files, 64);
}

static void test_config_too_many_rules(void **state)
{
    (void)state;
    char text[4096];
    size_t n = 0;
    /* 2 built in + 14 new = 16; the 15th new one is too many (line 29). */
    for (int i = 0; i < UL_RULES_MAX - 2 + 1; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "[rule r%d]\npath = \\r%d\\*\n", i, i);
    n += (size_t)snprintf(text + n, sizeof(text) - n,
                          "[rule vendor-drivers]\nenabled = no\n[rule r3]\ncontent = zero\n");
    expect_one_error(text, 29, "too many");
    assert_int_equal(cfg.rules.n, UL_RULES_MAX);
    assert_null(rule("r14"));
    assert_non_null(rule("r13"));
    assert_string_equal(rule("r13")->path, "\\r13\\*");
    /* its keys are skipped, later sections apply */
    assert_false(rule("vendor-drivers")->enabled);
    assert_int_equal(rule("r3")->content, UL_CONTENT_ZERO);
    /* Existing rules can still be changed when the table is full. */
    for (uint32_t i = 0; i < cfg.rules.n; i++)
        assert_true(cfg.rules.r[i].name[0]);

    /* A dropped rule (no path) frees its slot for the next one. */
    n = 0;
    for (int i = 0; i < UL_RULES_MAX - 3; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "[rule r%d]\npath = \\r%d\\*\n", i, i);
    n += (size_t)snprintf(text + n, sizeof(text) - n,
                          "[rule empty]\n[rule last]\npath = \\last\\*\n");
    expect_one_error(text, 28, "no path");
    assert_int_equal(cfg.rules.n, UL_RULES_MAX);
    assert_null(rule("empty"));
    assert_ptr_equal(rule("last"), &cfg.rules.r[UL_RULES_MAX - 1]);
}

static void test_config_quarantine_section(void **state)
{
    (void)state;
    static const struct { const char *key; size_t off; uint32_t min, max, def; } keys[] = {
        { "window_hours", offsetof(struct ul_rules, window_hours), 1, 720, 6 },
        { "bare_window_hours", offsetof(struct ul_rules, bare_window_hours), 1, 720, 24 },
        { "max_files", offsetof(struct ul_rules, max_files), 1, 1024, 64 },
    };
    char text[200];
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
#define VAL() (*(const uint32_t *)((const char *)&cfg.rules + keys[i].off))
        assert_int_equal(VAL(), keys[i].def);
        snprintf(text, sizeof(text), "[quarantine]\n%s = %u\n", keys[i].key, keys[i].min);
        expect_clean(text);
        assert_int_equal(VAL(), keys[i].min);
        snprintf(text, sizeof(text), "[Quarantine]\n%s = %u\n", keys[i].key, keys[i].max);
        expect_clean(text);
        assert_int_equal(VAL(), keys[i].max);
        static const char *const bad[] = { "0", "-1", "x", "", "1e3", "99999999999" };
        for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
            snprintf(text, sizeof(text), "[quarantine]\n\n%s = %s\n", keys[i].key, bad[b]);
            expect_one_error(text, 3, keys[i].key);
            assert_int_equal(VAL(), keys[i].def);
        }
        snprintf(text, sizeof(text), "[quarantine]\n%s = %u\n", keys[i].key, keys[i].max + 1);
        expect_one_error(text, 2, "not a number");
        assert_int_equal(VAL(), keys[i].def);
        /* Outside [quarantine] the key is unknown. */
        snprintf(text, sizeof(text), "%s = %u\n", keys[i].key, keys[i].min);
        expect_one_error(text, 1, "unknown key");
        assert_int_equal(VAL(), keys[i].def);
#undef VAL
    }
    expect_one_error("[quarantine]\nthreshold = 2\n", 2, "unknown key 'threshold' in [quarantine]");
    assert_int_equal(cfg.threshold, 3);
}

/* Several problems in one file: each named by its line, in order, the rest applies. */
static void test_config_line_numbers(void **state)
{
    (void)state;
    static const char text[] = "threshold = 4\n"                      /* 1 */
                               "[rule crowdstrike-channel]\n"         /* 2 */
                               "magic = ZZ\n"                         /* 3 */
                               "content = zero\n"                     /* 4 */
                               "[rule new]\n"                         /* 5 */
                               "path = relative\\x\n"                 /* 6 */
                               "path = \\ok\\*\n"                     /* 7 */
                               "[quarantine]\n"                       /* 8 */
                               "max_files = 5000\n"                   /* 9 */
                               "window_hours = 3\n"                   /* 10 */
                               "[rule]\n"                             /* 11 */
                               "path = \\ignored\n"                   /* 12 */
                               "[rule empty]\n"                       /* 13 */
                               "\n";                                  /* 14 */
    const uint32_t lines[] = { 3, 6, 9, 11, 14, 0 };
    const char *const words[] = { "magic", "absolute", "max_files", "name", "no path" };
    expect_errors(text, lines, words);
    assert_int_equal(cfg.threshold, 4);
    assert_int_equal(rule("crowdstrike-channel")->content, UL_CONTENT_ZERO);
    assert_int_equal(rule("crowdstrike-channel")->magic_len, 4);
    assert_string_equal(rule("new")->path, "\\ok\\*");
    assert_false(rule("new")->enabled); /* it had a bad line */
    assert_int_equal(cfg.rules.window_hours, 3);
    assert_int_equal(cfg.rules.max_files, 64);
    assert_null(rule("empty"));
    assert_int_equal(cfg.rules.n, 3);

    /* CRLF and a BOM, as Notepad saves it. */
    expect_clean("\xEF\xBB\xBF[rule acme]\r\npath = \\Acme\\*.sys\r\nmagic = AA BB\r\n"
                 "content = bad-magic\r\n");
    assert_string_equal(rule("acme")->path, "\\Acme\\*.sys");
    assert_int_equal(rule("acme")->magic_len, 2);

    /* Parsing twice gives byte-identical configs (the fuzz target relies on it). */
    struct ul_config a, b;
    struct ul_diags da, db;
    ul_config_defaults(&a);
    ul_config_defaults(&b);
    assert_int_equal(ul_config_parse(text, sizeof(text) - 1, &a, &da),
                     ul_config_parse(text, sizeof(text) - 1, &b, &db));
    assert_memory_equal(&a, &b, sizeof(a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_glob_table),
        cmocka_unit_test(test_glob_vs_fnmatch),
        cmocka_unit_test(test_glob_pathological),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_default_rules_on_windows_paths),
        cmocka_unit_test(test_microsoft_dirs),
        cmocka_unit_test(test_content_checks),
        cmocka_unit_test(test_filetime),
        cmocka_unit_test(test_recency_cutoff),
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_rules_valid),
        cmocka_unit_test(test_config_rules_invalid),
        cmocka_unit_test(test_config_too_many_rules),
        cmocka_unit_test(test_config_quarantine_section),
        cmocka_unit_test(test_config_line_numbers),
    };
    return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
