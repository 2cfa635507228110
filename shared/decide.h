/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The recovery ladder (DESIGN §3) as a pure function of the attempt count,
 * the policy and what this build can do.
 *
 *   attempts < threshold        rung 1: hand off at once, no menu
 *   attempts == threshold       rung 2: quarantine the newest suspect content
 *   attempts == threshold + 1   rung 3: quarantine all content changed since last good
 *   attempts == threshold + 2   rung 4: Safe Mode for one boot
 *   attempts >= threshold + 3   rung 5: stop acting; the menu waits for a person
 *
 * A rung whose action was carried out in this failing streak (state.rung)
 * is not offered again: the ladder starts one above it.
 *
 * Rungs 2-4 show the menu with a countdown whose default is the rung's
 * action.  An action this build cannot perform is passed over ("not
 * available in this build") and the next rung's action is offered instead;
 * when none is left the default is to continue the boot.
 */
#ifndef UL_DECIDE_H
#define UL_DECIDE_H

#include <stdbool.h>
#include <stdint.h>

#include "boot-state.h"
#include "config.h"

/* What the running build can do; false = "not available in this build". */
struct ul_caps {
    bool quarantine;
    bool safe_mode;
    bool restore;
    bool firmware_setup;    /* the firmware supports OsIndications boot-to-UI */
    /* Why quarantine / restore are unavailable this time, when the build has
     * them ("no recent third-party driver content"); NULL = not in this build. */
    const char *why_not_quarantine;
    const char *why_not_restore;
};

struct ul_decision {
    enum ul_rung rung;          /* the rung in force for this attempt */
    enum ul_action action;      /* what happens with no keypress */
    bool show_menu;
    bool wait;                  /* menu without countdown */
    uint32_t timeout;           /* countdown seconds when !wait */
    uint32_t n_skipped;
    enum ul_rung skipped[3];    /* rungs passed over as unavailable */
};

void ul_decide(const struct ul_state *st, const struct ul_config *cfg,
               const struct ul_caps *caps, struct ul_decision *ret);

/* The action a rung performs (UL_ACTION_CONTINUE for rungs 1 and 5). */
enum ul_action ul_rung_action(enum ul_rung rung);
/* Whether this build can perform an action. */
bool ul_action_available(enum ul_action a, const struct ul_caps *caps);
/* The issue that will bring an unavailable action, for messages ("#3"). */
const char *ul_action_issue(enum ul_action a);

#endif
