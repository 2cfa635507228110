/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "decide.h"
#include "string-util.h"

enum ul_action ul_rung_action(enum ul_rung rung)
{
    switch (rung) {
    case UL_RUNG_QUARANTINE_NEWEST: return UL_ACTION_QUARANTINE;
    case UL_RUNG_QUARANTINE_WIDE: return UL_ACTION_QUARANTINE_WIDE;
    case UL_RUNG_SAFE_MODE: return UL_ACTION_SAFE_MODE;
    default: return UL_ACTION_CONTINUE;
    }
}

bool ul_action_available(enum ul_action a, const struct ul_caps *caps)
{
    switch (a) {
    case UL_ACTION_CONTINUE:
    case UL_ACTION_SHOW_LOG:
    case UL_ACTION_REBOOT:
        return true;
    case UL_ACTION_QUARANTINE:
    case UL_ACTION_QUARANTINE_WIDE:
        return caps->quarantine;
    case UL_ACTION_SAFE_MODE:
    case UL_ACTION_SAFE_MODE_NETWORK:
        return caps->safe_mode;
    case UL_ACTION_RESTORE:
        return caps->restore;
    case UL_ACTION_FIRMWARE_SETUP:
        return caps->firmware_setup;
    default:
        return false;
    }
}

const char *ul_action_issue(enum ul_action a)
{
    switch (a) {
    case UL_ACTION_QUARANTINE:
    case UL_ACTION_QUARANTINE_WIDE:
    case UL_ACTION_RESTORE:
        return "#3";
    case UL_ACTION_SAFE_MODE:
    case UL_ACTION_SAFE_MODE_NETWORK:
        return "#4";
    default:
        return "";
    }
}

void ul_decide(const struct ul_state *st, const struct ul_config *cfg,
               const struct ul_caps *caps, struct ul_decision *ret)
{
    uint32_t threshold = cfg->threshold ? cfg->threshold : 1;

    ul_memset(ret, 0, sizeof(*ret));
    if (st->attempts < threshold) {
        ret->rung = UL_RUNG_HANDOFF;
        ret->action = UL_ACTION_CONTINUE;
        return;
    }

    uint32_t k = st->attempts - threshold;
    enum ul_rung rung = k >= 3 ? UL_RUNG_STOP : (enum ul_rung)(UL_RUNG_QUARANTINE_NEWEST + k);
    /* "Still failing" after an action: the next one is a higher rung, never
     * the same fix again (DESIGN §3). */
    if (st->rung >= UL_RUNG_QUARANTINE_NEWEST && st->rung < UL_RUNG_STOP && rung <= st->rung)
        rung = (enum ul_rung)(st->rung + 1);

    ret->show_menu = true;
    ret->rung = rung;
    ret->action = UL_ACTION_CONTINUE;
    if (rung == UL_RUNG_STOP) {
        ret->wait = cfg->stop_timeout == 0;
        ret->timeout = cfg->stop_timeout;
    } else {
        ret->timeout = cfg->menu_timeout;
        for (enum ul_rung r = rung; r < UL_RUNG_STOP; r++) {
            if (ul_action_available(ul_rung_action(r), caps)) {
                ret->rung = r;
                ret->action = ul_rung_action(r);
                break;
            }
            ret->skipped[ret->n_skipped++] = r;
        }
    }

    /* A configured default overrides the ladder's, where it can be done. */
    if (cfg->default_action != UL_ACTION_LADDER &&
        ul_action_available(cfg->default_action, caps))
        ret->action = cfg->default_action;
}
