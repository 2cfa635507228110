/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "rules.h"
#include "string-util.h"
#include "unloop-contract.h"

/* CrowdStrike channel files start with AA AA AA AA (the July 2024 C-00000291
 * files that crashed Windows were all zeros); CrowdStrike's own remediation
 * tool checks the first bytes before removing a file (DESIGN §4). */
static const uint8_t crowdstrike_magic[] = { 0xAA, 0xAA, 0xAA, 0xAA };

void ul_rules_defaults(struct ul_rules *rules)
{
    /* memset, not a compound literal: configs are compared with memcmp
     * (the fuzz target), so padding must be zero too. */
    ul_memset(rules, 0, sizeof(*rules));
    rules->window_hours = 6;
    rules->bare_window_hours = 24;
    rules->max_files = 64;

    struct ul_rule *r = &rules->r[rules->n++];
    ul_strlcpy(r->name, UL_RULE_CROWDSTRIKE, sizeof(r->name));
    ul_strlcpy(r->path, UL_RULE_CROWDSTRIKE_PATH, sizeof(r->path));
    ul_memcpy(r->magic, crowdstrike_magic, sizeof(crowdstrike_magic));
    r->magic_len = sizeof(crowdstrike_magic);
    r->content = UL_CONTENT_ANY;
    r->enabled = true;

    r = &rules->r[rules->n++];
    ul_strlcpy(r->name, UL_RULE_VENDOR, sizeof(r->name));
    ul_strlcpy(r->path, UL_RULE_VENDOR_PATH, sizeof(r->path));
    r->skip_microsoft_dirs = true;
    r->content = UL_CONTENT_ANY;
    r->enabled = true;
}

/* ---- globs ---- */

static bool ceq(char a, char b)
{
    return ul_tolower(a) == ul_tolower(b);
}

/*
 * One component: '*' any run, '?' one byte, everything else literal and
 * case-insensitive.  The classic single-backtrack-point walk: on a
 * mismatch, go back to the last '*' and let it swallow one more byte.
 * Earlier stars never need revisiting (a later star can absorb anything an
 * earlier one could), so this is at most pn * sn steps, no recursion.
 */
static bool comp_match(const char *p, size_t pn, const char *s, size_t sn)
{
    size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;

    while (si < sn) {
        if (pi < pn && p[pi] == '*') {
            star = pi++;
            mark = si;
        } else if (pi < pn && (p[pi] == '?' || ceq(p[pi], s[si]))) {
            pi++;
            si++;
        } else if (star != (size_t)-1) {
            pi = star + 1;
            si = ++mark;
        } else {
            return false;
        }
    }
    while (pi < pn && p[pi] == '*')
        pi++;
    return pi == pn;
}

static size_t comp_len(const char *s)
{
    size_t n = 0;
    while (s[n] && s[n] != '\\')
        n++;
    return n;
}

bool ul_glob_match(const char *pattern, const char *path)
{
    const char *p = pattern, *s = path;

    if (!p || !s)
        return false;
    for (;;) {
        size_t pn = comp_len(p), sn = comp_len(s);
        /* A component that is a lone '*' stands for a name, not for nothing. */
        if (pn == 1 && p[0] == '*' && sn == 0)
            return false;
        if (!comp_match(p, pn, s, sn))
            return false;
        p += pn;
        s += sn;
        if (!*p || !*s)
            return !*p && !*s;
        p++; /* both at '\' */
        s++;
    }
}

/* ---- Microsoft's own directories under \Windows\System32\drivers ---- */

static bool is_alpha(char c)
{
    c = ul_tolower(c);
    return c >= 'a' && c <= 'z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static size_t run_of(const char *s, size_t len, bool (*cls)(char))
{
    size_t n = 0;
    while (n < len && cls(s[n]))
        n++;
    return n;
}

/*
 * The MUI resource directories Windows keeps beside its binaries are named
 * by language tag: language (2-3 letters), optional script (4 letters),
 * region (2 letters or 3 UN M.49 digits): en-US, de-DE, pt-BR, es-MX, es-419,
 * sr-Latn-RS, ha-Latn-NG.  Plus the pseudo-locales of localisation testing.
 */
bool ul_is_language_dir(const char *name, size_t len)
{
    static const char *const pseudo[] = { "qps-ploc", "qps-ploca", "qps-plocm" };
    for (size_t i = 0; i < sizeof(pseudo) / sizeof(pseudo[0]); i++)
        if (ul_strlen(pseudo[i]) == len && ul_strncasecmp(name, pseudo[i], len) == 0)
            return true;

    size_t n = run_of(name, len, is_alpha);
    if (n < 2 || n > 3 || n == len || name[n] != '-')
        return false;
    name += n + 1, len -= n + 1;
    n = run_of(name, len, is_alpha);
    if (n == 4 && len > 5 && name[4] == '-') { /* script subtag */
        name += 5, len -= 5;
        n = run_of(name, len, is_alpha);
    }
    if (n == 2 && len == 2)
        return true;
    return len == 3 && run_of(name, len, is_digit) == 3;
}

/*
 * Directories Windows itself creates directly under \Windows\System32\drivers
 * (seen on Windows 10 and 11 installations).  Everything else there that is
 * a directory belongs to a driver vendor (CrowdStrike, and so on).
 *   DriverData  %DriverData%, per-driver data since Windows 10 1803
 *   UMDF        User-Mode Driver Framework drivers
 *   wd          Microsoft Defender's drivers (WdFilter.sys, WdBoot.sys, ...)
 *   etc         hosts, networks, protocol, services, lmhosts.sam
 *   + language directories (ul_is_language_dir): en-US\*.sys.mui, ...
 * The list errs on the side of "vendor": a Microsoft directory missing here
 * only makes its recently changed files candidates, which recency and the
 * ladder's order (newest first, Safe Mode next) still bound.
 */
static const char *const microsoft_dirs[] = { "DriverData", "UMDF", "wd", "etc" };

bool ul_is_microsoft_driver_dir(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(microsoft_dirs) / sizeof(microsoft_dirs[0]); i++)
        if (ul_strlen(microsoft_dirs[i]) == len &&
            ul_strncasecmp(name, microsoft_dirs[i], len) == 0)
            return true;
    return ul_is_language_dir(name, len);
}

/*
 * With skip_microsoft_dirs: find the path's component right after
 * \Windows\System32\drivers; if it is a directory (more follows), the
 * pattern has a lone '*' in the same place, and the name is Microsoft's,
 * the rule does not match.
 */
static bool hits_microsoft_dir(const char *pattern, const char *path)
{
    static const char drivers[] = UL_DRIVERS_DIR "\\";
    size_t dn = sizeof(drivers) - 1;

    if (ul_strncasecmp(path, drivers, dn) != 0)
        return false;
    const char *name = path + dn;
    size_t len = comp_len(name);
    if (name[len] != '\\')
        return false; /* a file directly in drivers\, not a directory */

    /* The pattern's component in the same place (4: "", Windows, System32, drivers). */
    const char *p = pattern;
    for (int i = 0; i < 4; i++) {
        p += comp_len(p);
        if (!*p)
            return false;
        p++;
    }
    if (comp_len(p) != 1 || p[0] != '*')
        return false;
    return ul_is_microsoft_driver_dir(name, len);
}

bool ul_rule_match_path(const struct ul_rule *r, const char *path)
{
    if (!r || !path || !r->path[0])
        return false;
    if (!ul_glob_match(r->path, path))
        return false;
    return !(r->skip_microsoft_dirs && hits_microsoft_dir(r->path, path));
}

const struct ul_rule *ul_rules_match(const struct ul_rules *rules, const char *path)
{
    for (uint32_t i = 0; i < rules->n && i < UL_RULES_MAX; i++)
        if (rules->r[i].enabled && ul_rule_match_path(&rules->r[i], path))
            return &rules->r[i];
    return NULL;
}

/* ---- content ---- */

bool ul_rule_content_ok(const struct ul_rule *r, const uint8_t *head, size_t head_len,
                        bool all_zero)
{
    size_t ml = r->magic_len < UL_RULE_MAGIC_MAX ? r->magic_len : UL_RULE_MAGIC_MAX;
    /* No magic recorded: nothing can be told to have the wrong one. */
    bool bad_magic = ml > 0 && (head_len < ml || !head || ul_memcmp(head, r->magic, ml) != 0);

    switch (r->content) {
    case UL_CONTENT_ANY:
        return true;
    case UL_CONTENT_BAD_MAGIC:
        return bad_magic;
    case UL_CONTENT_ZERO:
        return all_zero;
    case UL_CONTENT_BAD_MAGIC_OR_ZERO:
        return bad_magic || all_zero;
    }
    return false;
}

const struct ul_rule *ul_rules_find(const struct ul_rules *rules, const char *name)
{
    for (uint32_t i = 0; i < rules->n && i < UL_RULES_MAX; i++)
        if (ul_strcasecmp(rules->r[i].name, name) == 0)
            return &rules->r[i];
    return NULL;
}

const char *ul_rule_content_name(enum ul_rule_content c)
{
    switch (c) {
    case UL_CONTENT_ANY: return "any";
    case UL_CONTENT_BAD_MAGIC: return "bad-magic";
    case UL_CONTENT_ZERO: return "zero";
    case UL_CONTENT_BAD_MAGIC_OR_ZERO: return "bad-magic-or-zero";
    }
    return "unknown";
}

/* ---- recency ---- */

#define UNIX_EPOCH_SECS_SINCE_1601 11644473600ll

uint64_t ul_filetime_from_unix(int64_t secs)
{
    if (secs <= -UNIX_EPOCH_SECS_SINCE_1601)
        return 0;
    /* secs > -epoch here, so the sum is positive; add as unsigned (no overflow at INT64_MAX). */
    uint64_t s = (uint64_t)secs + (uint64_t)UNIX_EPOCH_SECS_SINCE_1601;
    if (s > UINT64_MAX / UL_FILETIME_PER_SEC)
        return UINT64_MAX;
    return s * UL_FILETIME_PER_SEC;
}

int64_t ul_unix_from_filetime(uint64_t ft)
{
    /* ft / 10^7 < 2^64 / 10^7 < 2^41: no overflow either way. */
    return (int64_t)(ft / UL_FILETIME_PER_SEC) - UNIX_EPOCH_SECS_SINCE_1601;
}

static uint64_t sub_sat(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

/* Seconds the firmware time must move earlier to be certainly <= UTC. */
static bool zone_known(int16_t tz)
{
    return tz != UL_TZ_UNSPECIFIED && tz <= 24 * 60 && tz >= -24 * 60;
}

static int64_t zone_widen_secs(int16_t tz)
{
    if (!zone_known(tz))
        return (int64_t)UL_TZ_WORST_HOURS * 3600;
    return (int64_t)(tz < 0 ? -tz : tz) * 60;
}

enum ul_recency_basis ul_recency_basis(const struct ul_recency_in *in)
{
    if (in->have_since)
        return UL_RECENCY_SINCE;
    if (in->last_good_utc)
        return UL_RECENCY_LAST_GOOD;
    if (in->first_attempt)
        return UL_RECENCY_FIRST_ATTEMPT;
    if (in->newest_match_ft)
        return UL_RECENCY_NEWEST_MATCH;
    return UL_RECENCY_NOTHING;
}

uint64_t ul_recency_cutoff(const struct ul_rules *rules, const struct ul_recency_in *in,
                           const char **ret_reason)
{
    const char *reason;
    uint64_t cutoff;

    switch (ul_recency_basis(in)) {
    case UL_RECENCY_SINCE:
        reason = "since";
        cutoff = ul_filetime_from_unix(in->since_utc);
        break;
    case UL_RECENCY_LAST_GOOD:
        reason = "last good boot";
        cutoff = in->last_good_utc > (uint64_t)INT64_MAX
                     ? UINT64_MAX
                     : ul_filetime_from_unix((int64_t)in->last_good_utc);
        break;
    case UL_RECENCY_FIRST_ATTEMPT: {
        reason = "first failed attempt - window_hours";
        int64_t widen = zone_widen_secs(in->first_attempt_tz);
        int64_t t = in->first_attempt < INT64_MIN + widen ? INT64_MIN : in->first_attempt - widen;
        cutoff = sub_sat(ul_filetime_from_unix(t),
                         (uint64_t)rules->window_hours * UL_FILETIME_PER_HOUR);
        break;
    }
    case UL_RECENCY_NEWEST_MATCH:
        reason = "newest match - bare_window_hours";
        cutoff = sub_sat(in->newest_match_ft,
                         (uint64_t)rules->bare_window_hours * UL_FILETIME_PER_HOUR);
        break;
    case UL_RECENCY_NOTHING:
    default:
        reason = "nothing matches";
        cutoff = UINT64_MAX;
        break;
    }
    if (ret_reason)
        *ret_reason = reason;
    return cutoff;
}

size_t ul_recency_describe(const struct ul_rules *rules, const struct ul_recency_in *in,
                           char *buf, size_t size)
{
    switch (ul_recency_basis(in)) {
    case UL_RECENCY_SINCE:
        return ul_snprintf(buf, size, "since");
    case UL_RECENCY_LAST_GOOD:
        return ul_snprintf(buf, size, "last good boot");
    case UL_RECENCY_FIRST_ATTEMPT: {
        int16_t tz = in->first_attempt_tz;
        int64_t widen = zone_widen_secs(tz);
        if (!zone_known(tz))
            return ul_snprintf(buf, size,
                               "first failed attempt - %u h - %u h (clock zone unknown)",
                               rules->window_hours, (unsigned)UL_TZ_WORST_HOURS);
        if (widen == 0)
            return ul_snprintf(buf, size, "first failed attempt - %u h", rules->window_hours);
        return ul_snprintf(buf, size, "first failed attempt - %u h - %u min (clock zone)",
                           rules->window_hours, (unsigned)(widen / 60));
    }
    case UL_RECENCY_NEWEST_MATCH:
        return ul_snprintf(buf, size, "newest match - %u h", rules->bare_window_hours);
    case UL_RECENCY_NOTHING:
        break;
    }
    return ul_snprintf(buf, size, "nothing matches");
}
