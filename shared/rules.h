/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Quarantine rules (DESIGN §4): which files on the Windows volume count as
 * third-party driver content, and which of them are suspect.
 *
 * A rule is a path glob plus an optional content check; recency (changed
 * since when?) is common to all rules and computed by ul_recency_cutoff().
 * Paths are volume-absolute with backslashes ("\Windows\System32\...") and
 * compared case-insensitively (ASCII), as NTFS does for these names.
 *
 * unloop.conf can change the built-in rules and add its own (config.h):
 *
 *   [rule crowdstrike-channel]
 *   content = bad-magic-or-zero
 *
 *   [rule vendor-drivers]
 *   enabled = no
 *
 *   [rule acme]
 *   path = \Program Files\Acme\drivers\*.sys
 *   magic = 4D 5A
 *   content = bad-magic
 *
 *   [quarantine]
 *   window_hours = 6        # no last-good time: N h before the first failed attempt
 *   bare_window_hours = 24  # no unloop state: N h before the newest match
 *   max_files = 64          # cap for the wide rung
 */
#ifndef UL_RULES_H
#define UL_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UL_RULES_MAX 16
#define UL_RULE_NAME_MAX 32
#define UL_RULE_PATH_MAX 200
#define UL_RULE_MAGIC_MAX 16

enum ul_rule_content {
    UL_CONTENT_ANY = 0,             /* recency alone decides */
    UL_CONTENT_BAD_MAGIC,           /* files that do NOT start with magic */
    UL_CONTENT_ZERO,                /* all-zero files */
    UL_CONTENT_BAD_MAGIC_OR_ZERO,
};

struct ul_rule {
    char name[UL_RULE_NAME_MAX];
    /*
     * Glob over the whole path, backslashes.  '*' (any run) and '?' (one
     * character) match within one path component, never across '\'; a
     * component that is exactly '*' matches any one (non-empty) name.
     */
    char path[UL_RULE_PATH_MAX];
    /*
     * A component that is exactly '*' directly under \Windows\System32\drivers
     * never matches one of Microsoft's own directories there (see
     * ul_is_microsoft_driver_dir()).
     */
    bool skip_microsoft_dirs;
    uint8_t magic[UL_RULE_MAGIC_MAX]; /* expected first bytes of good content */
    uint8_t magic_len;                /* 0 = none recorded */
    enum ul_rule_content content;
    bool enabled;
};

struct ul_rules {
    struct ul_rule r[UL_RULES_MAX];
    uint32_t n;
    uint32_t window_hours;      /* default 6 */
    uint32_t bare_window_hours; /* default 24 */
    uint32_t max_files;         /* cap of the wide rung, default 64 */
};

#define UL_RULE_CROWDSTRIKE "crowdstrike-channel"
#define UL_RULE_VENDOR "vendor-drivers"
#define UL_RULE_CROWDSTRIKE_PATH "\\Windows\\System32\\drivers\\CrowdStrike\\C-00000291*.sys"
#define UL_RULE_VENDOR_PATH "\\Windows\\System32\\drivers\\*\\*"
#define UL_DRIVERS_DIR "\\Windows\\System32\\drivers"

/*
 * Two rules: crowdstrike-channel (content any; magic AA AA AA AA recorded so
 * a config can switch to content = bad-magic), vendor-drivers (every file
 * directly in a non-Microsoft directory under \Windows\System32\drivers).
 * Windows 6 h, bare window 24 h, max_files 64.
 */
void ul_rules_defaults(struct ul_rules *rules);

/*
 * Whole-path match, ASCII case-insensitive, '\' separated.  Iterative, at
 * most O(len(pattern) * len(path)) character steps, no recursion.
 */
bool ul_glob_match(const char *pattern, const char *path);

/* Does the name look like a Windows language directory (en-US, sr-Latn-RS, qps-ploc)? */
bool ul_is_language_dir(const char *name, size_t len);
/* One of Microsoft's own directories directly under \Windows\System32\drivers? */
bool ul_is_microsoft_driver_dir(const char *name, size_t len);

/* The rule's glob plus skip_microsoft_dirs.  Ignores r->enabled. */
bool ul_rule_match_path(const struct ul_rule *r, const char *path);
/* The first enabled rule whose path matches, or NULL. */
const struct ul_rule *ul_rules_match(const struct ul_rules *rules, const char *path);

/*
 * Whether a file passes the rule's content check: head is its first
 * head_len bytes (head_len < magic_len means the file is shorter than the
 * magic, which counts as bad magic), all_zero says the whole file is zeros.
 */
bool ul_rule_content_ok(const struct ul_rule *r, const uint8_t *head, size_t head_len,
                        bool all_zero);

/* By name, ASCII case-insensitive; NULL if none. */
const struct ul_rule *ul_rules_find(const struct ul_rules *rules, const char *name);

const char *ul_rule_content_name(enum ul_rule_content c);

/* ---- recency ---- */

/* FILETIME: 100 ns units since 1601-01-01 UTC (NTFS timestamps). */
#define UL_FILETIME_UNIX_EPOCH 116444736000000000ull
#define UL_FILETIME_PER_SEC 10000000ull
#define UL_FILETIME_PER_HOUR (3600ull * UL_FILETIME_PER_SEC)

/* Clamped: before 1601 gives 0, past the 64-bit range UINT64_MAX. */
uint64_t ul_filetime_from_unix(int64_t secs);
/* Floor division: exact for whole seconds, never rounds a time up. */
int64_t ul_unix_from_filetime(uint64_t ft);

/* The widest span a firmware clock without a zone can be off from UTC. */
#define UL_TZ_WORST_HOURS 14

struct ul_recency_in {
    bool have_since;          /* --since */
    int64_t since_utc;        /* seconds since 1970, UTC */
    uint64_t last_good_utc;   /* seconds since 1970, UTC, from bless; 0 = never */
    int64_t first_attempt;    /* firmware clock, seconds since 1970; 0 = no state */
    int16_t first_attempt_tz; /* minutes from UTC, or UL_TZ_UNSPECIFIED */
    uint64_t newest_match_ft; /* newest max(creation, modification) any rule
                               * matches; 0 = nothing matches */
};

enum ul_recency_basis {
    UL_RECENCY_SINCE,
    UL_RECENCY_LAST_GOOD,
    UL_RECENCY_FIRST_ATTEMPT,
    UL_RECENCY_NEWEST_MATCH,
    UL_RECENCY_NOTHING,       /* no state and no match: nothing is recent */
};

/*
 * Files whose max(creation, modification) FILETIME is strictly greater than
 * the result are recent.  In order of precedence (*ret_reason, may be NULL):
 *   --since                     since                          "since"
 *   a last-good time            last good                      "last good boot"
 *   a first failed attempt      first attempt as UTC           "first failed attempt - window_hours"
 *                               - window_hours, widened for the clock's zone
 *   no unloop state at all      newest match - bare_window_hours
 *                                                              "newest match - bare_window_hours"
 *   and nothing matches         UINT64_MAX: nothing is recent  "nothing matches"
 * The firmware clock is local time in an unknown zone (UL_TZ_UNSPECIFIED)
 * on most PCs: the cutoff then moves 14 h earlier, the earliest UTC that
 * local time can stand for.  With a zone, UEFI's sign convention changed
 * between spec versions (Localtime = UTC - TimeZone up to 2.8, UTC +
 * TimeZone since), so the cutoff moves |tz| earlier, right under either
 * reading; a zone outside +-24 h is treated as unknown.
 * The reasons are constant strings; ul_recency_describe() formats the same
 * with the hours actually used ("first failed attempt - 6 h - 14 h (clock
 * zone unknown)").
 */
uint64_t ul_recency_cutoff(const struct ul_rules *rules, const struct ul_recency_in *in,
                           const char **ret_reason);
enum ul_recency_basis ul_recency_basis(const struct ul_recency_in *in);
/* The reason with its hours, for the log; returns the length it needed. */
size_t ul_recency_describe(const struct ul_rules *rules, const struct ul_recency_in *in,
                           char *buf, size_t size);

#endif
