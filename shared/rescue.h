/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Rescue mode (issue #6): unloop.efi started from a recovery USB stick or
 * over the network, not from the machine's own ESP.  It finds every Windows
 * installation (an ESP with Windows Boot Manager + a Windows volume on the
 * same disk), lists them, and applies actions to the chosen one: quarantine,
 * restore, Safe Mode on or off.  With a [script] in the stick's unloop.conf
 * that happens with no keypress; without one a technician picks from menus.
 * Every run ends with a JSON report (docs/report-format.md) on the stick's
 * \reports\ folder, or on the console when the medium is read-only.
 *
 * There is no attempt counting here: the machine's own state (if unloop is
 * installed on it) is only read, for the recency window, and for Safe Mode
 * its one-shot flag is set so that the installed unloop clears it.
 */
#ifndef UL_RESCUE_H
#define UL_RESCUE_H

#include <stdbool.h>
#include <stdint.h>

#include "bitlocker-unlock.h"
#include "bitlocker.h"
#include "run.h"

#define UL_RESCUE_MAX_INSTALLS 8
#define UL_RESCUE_MAX_PROTECTORS 8
#define UL_RESCUE_MAX_FILES 16
#define UL_RESCUE_MAX_ACTIONS 8

enum ul_bl_state { UL_BL_NONE = 0, UL_BL_LOCKED, UL_BL_UNLOCKED, UL_BL_UNKNOWN };

struct ul_install {
    uint32_t index;                 /* 1-based, as listed */
    uint32_t disk_no;               /* 1-based, firmware order */
    uint64_t disk_size;             /* bytes */
    uint32_t esp_part, win_part;    /* partition numbers */
    uint64_t win_size;
    char label[64];                 /* NTFS label, "" unknown */
    bool encrypted;                 /* BitLocker */
    bool unloop_installed;          /* \EFI\unloop\state on its ESP */
    bool selected;
    /* Set when its Windows volume is opened (open_windows). */
    enum ul_bl_state bitlocker;
    char bitlocker_method[32];
    uint32_t n_protectors;
    struct ul_bitlocker_protector protectors[UL_RESCUE_MAX_PROTECTORS];
    char unlocked_with[96];
};

struct ul_rescue_ops {
    /* Every Windows installation the firmware can see, in disk order. */
    int (*find)(void *ctx, struct ul_install *list, uint32_t max, uint32_t *ret_n);
    /* Its ESP (FAT), read-write; closed by close_esp. */
    int (*open_esp)(void *ctx, const struct ul_install *in, struct ul_volume *ret);
    void (*close_esp)(void *ctx);
    /* Its Windows volume for writing, BitLocker unlocked with keys (filling
     * in's BitLocker fields either way); *why on failure. */
    int (*open_windows)(void *ctx, struct ul_install *in, const struct ul_volume_policy *pol,
                        const struct ul_bitlocker_keysrc *keys, struct ul_volume *ret,
                        const char **why);
    void (*close_windows)(void *ctx);
};

/* SMBIOS type 1; empty strings where the firmware has none. */
struct ul_machine {
    char uuid[40];
    char serial[64];
    char manufacturer[64];
    char product[64];
};

struct ul_rescue_env {
    struct ul_volume media;         /* the stick: config, keys, reports */
    bool have_media;
    bool media_writable;            /* reports go to \reports\ (else the console) */
    const char *mode_name;          /* "usb", "pxe" */
    struct ul_clock clock;
    struct ul_log *log;
    const struct ul_ui_ops *ui;
    void *ui_ctx;
    struct ul_mem mem;
    ul_rp_prompt_fn prompt;         /* the recovery-password prompt (interactive only) */
    void *prompt_ctx;
    const struct ul_rescue_ops *ops;
    void *ops_ctx;
    struct ul_machine machine;
    /* Where the report goes when the medium is read-only (PXE: the console). */
    void (*report_out)(void *ctx, const char *json);
    void *report_ctx;
};

struct ul_rescue_file {
    char from[200], to[232];
    uint64_t size;
};

struct ul_rescue_action {
    enum ul_action action;
    uint32_t install;               /* index */
    const char *result;             /* "done", "nothing-to-do", "skipped", "failed" */
    char reason[160];
    uint32_t n_files;
    struct ul_rescue_file files[UL_RESCUE_MAX_FILES];
};

struct ul_rescue_result {
    struct ul_config cfg;
    bool scripted;
    uint32_t n_installs;
    struct ul_install installs[UL_RESCUE_MAX_INSTALLS];
    uint32_t n_actions;
    struct ul_rescue_action actions[UL_RESCUE_MAX_ACTIONS];
    const char *outcome;            /* docs/report-format.md */
    char summary[200];
    uint32_t n_errors;
    char errors[4][160];
    char report_path[96];           /* where it was written, "" if not */
    /* What to do next: reboot, power off, or start installs[boot - 1]'s Windows. */
    enum ul_script_then then;
    uint32_t boot;                  /* 0: none */
};

void ul_rescue_run(struct ul_rescue_env *env, struct ul_rescue_result *res);

/* The report's machine id (docs/report-format.md). */
void ul_rescue_machine_id(const struct ul_machine *m, int64_t now, char *out, size_t size);

#endif
