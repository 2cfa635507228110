/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One pre-boot run, start to decision: read the config, count the attempt,
 * decide, and when a loop is detected drive the menu.  The adapter then
 * carries out the returned action (hand-off, reboot, firmware setup).
 * Fail open: nothing here can fail the run; every problem is logged and the
 * result falls back to UL_ACTION_CONTINUE with the default loader.
 */
#ifndef UL_RUN_H
#define UL_RUN_H

#include <stdbool.h>

#include "bcd-store.h"
#include "boot-state.h"
#include "config.h"
#include "decide.h"
#include "log.h"
#include "menu.h"
#include "ops.h"
#include "quarantine.h"

struct ul_ui_ops {
    /*
     * Draw the menu and return the chosen item in *ret_index.  Counts down
     * menu->timeout seconds unless menu->wait; a key press stops the
     * countdown; on expiry returns the default with *ret_timed_out set.
     */
    int (*menu)(void *ctx, const struct ul_menu *menu, uint32_t *ret_index, bool *ret_timed_out);
    /* Show a page of text (the log) until a key is pressed. */
    int (*show_text)(void *ctx, const char *title, const char *text);
    /* A one-line message for a person at the screen (short pause). */
    void (*notice)(void *ctx, const char *msg);
};

struct ul_env {
    struct ul_volume esp;
    bool have_esp;              /* false: the ESP could not be opened */
    struct ul_clock clock;
    struct ul_log *log;
    const struct ul_ui_ops *ui;
    void *ui_ctx;
    struct ul_caps caps;
    struct ul_mem mem;          /* for the BCD store; ops NULL = no Safe Mode */
    /* The Windows volume (NTFS): either given (have_win) or opened on demand
     * through win_ops, only on a looping attempt, and closed before ul_run
     * returns.  No win and no win_ops: quarantine is not in this build. */
    struct ul_volume win;
    bool have_win;
    const char *win_why_not;    /* why writing to it is refused (unclean $LogFile, ...) */
    const struct ul_win_ops *win_ops;
    void *win_ctx;
    /* unloop already ran and counted in this power-on (the firmware came
     * back to it after a hand-off failed): this start is not a new attempt. */
    bool counted_this_power_on;
};

struct ul_win_ops {
    /* Find and open the Windows volume for writing, doing what policy allows
     * to make it writable; on failure say why. */
    int (*open)(void *ctx, const struct ul_volume_policy *policy, struct ul_volume *ret,
                const char **ret_why_not);
    /* Unmount and flush (before the hand-off). */
    void (*close)(void *ctx);
};

struct ul_run_result {
    enum ul_action action;      /* CONTINUE, REBOOT or FIRMWARE_SETUP */
    struct ul_config cfg;       /* what the run used (defaults where invalid) */
    struct ul_state state;      /* after the bump */
    struct ul_state_info state_info;
    struct ul_decision decision;
    bool state_saved;           /* the bump reached the ESP */
    bool menu_shown;
    bool safe_mode_set;         /* this run set one-shot Safe Mode */
    bool safe_mode_cleared;     /* this run cleared unloop's Safe Mode after a good boot */
    uint32_t quarantined;       /* files this run moved into quarantine */
    uint32_t restored;
    uint32_t candidates;        /* what the scan found */
};

/*
 * Safe Mode on the ESP's BCD store for the default loader (issue #4).
 * ul_safe_mode_set records UL_STATE_F_SAFEMODE_SET in *st (not written);
 * ul_safe_mode_clear_ours clears only a safeboot unloop set (the flag),
 * leaving one a person set alone.
 */
int ul_safe_mode_set(const struct ul_volume *esp, const struct ul_mem *mem, struct ul_log *log,
                     bool network, struct ul_state *st);
int ul_safe_mode_clear_ours(const struct ul_volume *esp, const struct ul_mem *mem,
                            struct ul_log *log, struct ul_state *st);

void ul_run(struct ul_env *env, struct ul_run_result *res);

/* Read and parse the config from the ESP, logging every diagnostic.
 * Returns 0, -UL_ENOENT when there is none, or another read error. */
int ul_config_load(const struct ul_volume *esp, struct ul_config *cfg, struct ul_diags *diags);

#endif
