/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * unloop.conf: an INI file on the ESP (UL_CONFIG_PATH).  The file is
 * untrusted input: every problem becomes a diagnostic naming its line, the
 * key keeps its default, and the boot goes on.
 *
 *   [unloop]
 *   threshold = 3          # failed attempts before recovery starts (1..100)
 *   menu_timeout = 10      # seconds the recovery menu counts down (0..3600)
 *   stop_timeout = 0       # countdown on the last rung; 0 = wait for a key
 *   default_action = ladder  # ladder|continue|quarantine|safe-mode|
 *                            # safe-mode-network|restore|reboot
 *   loader = \EFI\Microsoft\Boot\bootmgfw.efi
 *   loader_options = ""    # load options for the loader (printable ASCII), e.g.
 *                          # a Linux EFI stub's command line; "" = forward the
 *                          # ones unloop was started with
 *   handoff = chainload    # chainload|bootnext|auto
 *   log_level = info       # error|warning|notice|info|debug
 *   log_size = 64          # KiB kept in \EFI\unloop\log before rotating
 *   mode = auto            # auto|installed|rescue: rescue = a recovery stick or a
 *                          # network boot that fixes the machine's Windows
 *                          # (auto: rescue when started from removable media or
 *                          # over the network)
 *
 *   [rule NAME]            # a built-in name (crowdstrike-channel,
 *                          # vendor-drivers) changes that rule; a new one adds
 *                          # a rule (at most UL_RULES_MAX in all)
 *   path = \Windows\System32\drivers\Acme\*.sys   # absolute; '/' becomes '\'
 *   content = any          # any|bad-magic|zero|bad-magic-or-zero
 *   magic = AA AA AA AA    # hex, up to 16 bytes; ' ', ':' or '-' between bytes
 *   skip_microsoft_dirs = no
 *   enabled = yes
 *
 *   [quarantine]
 *   window_hours = 6       # no last-good time: hours before the first failed attempt (1..720)
 *   bare_window_hours = 24 # no unloop state: hours before the newest match (1..720)
 *   max_files = 64         # most files the wide rung moves (1..1024)
 *   unclean_log = replay   # replay|replay-or-reset|refuse: a Windows volume
 *                          # whose $LogFile Windows left unclean (after a blue
 *                          # screen) is replayed as Windows would; if that
 *                          # fails, refused, or with replay-or-reset the log
 *                          # is reset (losing what was not replayed)
 *   hibernated = refuse    # refuse|discard: discard a hibernated (Fast
 *                          # Startup) session to write the volume
 *   repair_mirror = yes    # repair a $MFTMirr left behind by a cut write
 *   mark_dirty = yes       # after writing, make Windows check the volume
 *
 *   [bitlocker]            # a BitLocker-encrypted Windows volume (pre-boot)
 *   keys = \EFI\unloop\keys  # folder on the ESP: {GUID}.BEK startup keys, and
 *                          # key files (AD/Entra CSV, manage-bde output) that
 *                          # map protector IDs to recovery passwords
 *   prompt = yes           # no key found: ask for the recovery password
 *   prompt_timeout = 30    # seconds without a key press before giving up (1..3600)
 *
 * With no key (a TPM-only protector and nothing above) quarantine is skipped
 * and the ladder goes on to Safe Mode, which needs no key.
 *
 *   [script]               # rescue mode only: run with no keypress (issue #6)
 *   actions = quarantine   # quarantine|quarantine-wide|restore|safe-mode|
 *                          # safe-mode-network|safe-mode-off, in order, ',' between;
 *                          # each runs only while the machine is not yet fixed
 *   fallback = safe-mode   # when the actions fixed nothing (none|safe-mode|...)
 *   rule = NAME            # quarantine with this rule only (default: every rule)
 *   select = first         # first|all|disk N|label NAME: which installation(s)
 *   key_file = \keys\bitlocker.csv  # BitLocker key file (default: the [bitlocker]
 *                          # keys folder)
 *   then = reboot          # reboot|poweroff|boot (start that Windows)|menu
 *
 * A [script] with any error is not run at all: the report and the screen
 * say why, and nothing is changed on the machine.
 *
 * In a rule the file adds, any problem disables that rule (a rule only
 * half understood could quarantine more than its author meant); a new rule
 * without a path is dropped.  In a built-in rule the key keeps its value.
 * content = bad-magic or bad-magic-or-zero without a magic: the rule is
 * disabled (nothing could be told apart by its magic).
 */
#ifndef UL_CONFIG_H
#define UL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "rules.h"

#define UL_LOADER_MAX 256

enum ul_action {
    UL_ACTION_LADDER = 0,          /* "whatever the ladder's rung says" */
    UL_ACTION_CONTINUE,            /* hand off to the OS loader */
    UL_ACTION_QUARANTINE,          /* issue 3 */
    UL_ACTION_QUARANTINE_WIDE,     /* issue 3 */
    UL_ACTION_SAFE_MODE,           /* issue 4 */
    UL_ACTION_SAFE_MODE_NETWORK,   /* issue 4 */
    UL_ACTION_RESTORE,             /* issue 3 */
    UL_ACTION_SHOW_LOG,
    UL_ACTION_REBOOT,
    UL_ACTION_FIRMWARE_SETUP,
    UL_ACTION_SAFE_MODE_OFF,       /* rescue mode: clear safeboot (issue #6) */
    UL_ACTION__MAX,
};

enum ul_handoff {
    UL_HANDOFF_CHAINLOAD = 0,
    UL_HANDOFF_BOOTNEXT,
    UL_HANDOFF_AUTO,
};

enum ul_unclean_log {
    UL_UNCLEAN_LOG_REPLAY = 0,
    UL_UNCLEAN_LOG_REPLAY_OR_RESET,
    UL_UNCLEAN_LOG_REFUSE,
};

/* What may be done to the Windows volume to make it writable ([quarantine]). */
struct ul_volume_policy {
    enum ul_unclean_log unclean_log;    /* default replay */
    bool discard_hibernation;           /* default no */
    bool repair_mirror;                 /* default yes */
    bool mark_dirty;                    /* default yes */
    /* [bitlocker] */
    char key_dir[UL_LOADER_MAX];        /* default UL_KEY_DIR */
    bool key_prompt;                    /* default yes */
    uint32_t prompt_timeout;            /* seconds, default 30 */
};

enum ul_mode {
    UL_MODE_AUTO = 0,
    UL_MODE_INSTALLED,
    UL_MODE_RESCUE,
};

#define UL_SCRIPT_MAX_ACTIONS 6

enum ul_script_then {
    UL_THEN_REBOOT = 0,
    UL_THEN_POWEROFF,
    UL_THEN_BOOT,
    UL_THEN_MENU,
};

enum ul_select {
    UL_SELECT_FIRST = 0,
    UL_SELECT_ALL,
    UL_SELECT_DISK,
    UL_SELECT_LABEL,
};

/* [script]: the unattended run of rescue mode. */
struct ul_script {
    bool present;               /* the section exists */
    uint32_t errors;            /* lines of it that were refused: then it does not run */
    uint32_t first_error_line;
    enum ul_action actions[UL_SCRIPT_MAX_ACTIONS];  /* UL_ACTION_SAFE_MODE_OFF for off */
    uint32_t n_actions;
    enum ul_action fallback;    /* UL_ACTION_CONTINUE = none */
    char rule[UL_RULE_NAME_MAX];    /* "" = every rule */
    enum ul_select select;
    uint32_t select_disk;       /* UL_SELECT_DISK: 1-based, as listed */
    char select_label[64];      /* UL_SELECT_LABEL */
    char key_file[UL_LOADER_MAX];   /* "" = the [bitlocker] keys folder */
    enum ul_script_then then;
};

struct ul_config {
    uint32_t threshold;
    uint32_t menu_timeout;
    uint32_t stop_timeout;
    enum ul_action default_action;
    char loader[UL_LOADER_MAX];
    char loader_options[UL_LOADER_MAX]; /* "" = forward unloop's own */
    enum ul_handoff handoff;
    enum ul_log_level log_level;
    uint32_t log_size_kib;
    struct ul_rules rules;       /* quarantine rules, ul_rules_defaults() */
    struct ul_volume_policy volume;
    enum ul_mode mode;
    struct ul_script script;
};

#define UL_CONFIG_MAX_DIAGS 16
#define UL_CONFIG_MAX_SIZE (64 * 1024)

struct ul_diag {
    uint32_t line;      /* 1-based; 0 = the file as a whole */
    bool warning;       /* true: accepted with a remark; false: an error */
    char msg[112];
};

struct ul_diags {
    uint32_t n;
    uint32_t errors;
    uint32_t warnings;
    uint32_t dropped;   /* diagnostics past UL_CONFIG_MAX_DIAGS */
    bool refused;       /* a policy build ignored the whole file (d[0] says why) */
    struct ul_diag d[UL_CONFIG_MAX_DIAGS];
};

void ul_config_defaults(struct ul_config *cfg);
/*
 * Parse text (not NUL-terminated, any bytes) over the values already in
 * *cfg.  Returns the number of errors (warnings not counted); never fails.
 */
uint32_t ul_config_parse(const char *text, size_t len, struct ul_config *cfg,
                         struct ul_diags *diags);

const char *ul_action_name(enum ul_action a);
const char *ul_handoff_name(enum ul_handoff h);
const char *ul_mode_name(enum ul_mode m);
const char *ul_then_name(enum ul_script_then t);

#endif
