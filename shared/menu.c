/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "menu.h"
#include "string-util.h"
#include "time-util.h"

static void add(struct ul_menu *m, enum ul_action a, const char *label, const struct ul_caps *caps)
{
    struct ul_menu_item *it = &m->items[m->n_items];
    it->action = a;
    it->key = (char)('1' + m->n_items);
    it->label = label;
    it->available = ul_action_available(a, caps);
    const char *why = (a == UL_ACTION_QUARANTINE || a == UL_ACTION_QUARANTINE_WIDE)
                          ? caps->why_not_quarantine
                      : a == UL_ACTION_RESTORE ? caps->why_not_restore : NULL;
    if (!it->available) {
        if (why)
            ul_strlcpy(it->note, why, sizeof(it->note));
        else if (*ul_action_issue(a))
            ul_snprintf(it->note, sizeof(it->note), "not available in this build (issue %s)",
                        ul_action_issue(a));
        else
            ul_strlcpy(it->note, "not supported by this firmware", sizeof(it->note));
    }
    m->n_items++;
}

void ul_menu_build(struct ul_menu *m, const struct ul_state *st, const struct ul_decision *d,
                   const struct ul_caps *caps)
{
    char when[24];

    ul_memset(m, 0, sizeof(*m));
    ul_snprintf(m->title, sizeof(m->title), "unloop %s - boot loop detected", UL_VERSION);
    ul_snprintf(m->lines[m->n_lines++], UL_MENU_LINE_LEN,
                "%u boot attempt%s in a row did not reach Windows' desktop.", st->attempts,
                st->attempts == 1 ? "" : "s");
    if (st->last_good) {
        ul_time_format((int64_t)st->last_good, when, sizeof(when));
        ul_snprintf(m->lines[m->n_lines++], UL_MENU_LINE_LEN, "Last good boot: %s UTC", when);
    } else {
        ul_strlcpy(m->lines[m->n_lines++], "No good boot recorded yet.", UL_MENU_LINE_LEN);
    }
    ul_snprintf(m->lines[m->n_lines++], UL_MENU_LINE_LEN, "Recovery step: %u of 5 (%s)",
                d->rung, ul_rung_name(d->rung));

    /* The quarantine item the default needs (default_action may name either),
     * else the rung's: the default must be an item of the menu. */
    bool wide = d->action == UL_ACTION_QUARANTINE_WIDE ||
                (d->rung == UL_RUNG_QUARANTINE_WIDE && d->action != UL_ACTION_QUARANTINE);
    add(m, UL_ACTION_CONTINUE, "Continue boot (start Windows)", caps);
    add(m, wide ? UL_ACTION_QUARANTINE_WIDE : UL_ACTION_QUARANTINE,
        wide ? "Quarantine driver content changed since the last good boot"
             : "Quarantine the newest third-party driver content", caps);
    add(m, UL_ACTION_SAFE_MODE, "Safe Mode (next boot only)", caps);
    add(m, UL_ACTION_SAFE_MODE_NETWORK, "Safe Mode with networking (next boot only)", caps);
    add(m, UL_ACTION_RESTORE, "Restore quarantined files", caps);
    add(m, UL_ACTION_SHOW_LOG, "Show log", caps);
    add(m, UL_ACTION_REBOOT, "Reboot", caps);
    add(m, UL_ACTION_FIRMWARE_SETUP, "Firmware setup", caps);

    for (uint32_t i = 0; i < m->n_items; i++)
        if (m->items[i].action == d->action)
            m->default_index = i;
    m->timeout = d->timeout;
    m->wait = d->wait;
}

void ul_menu_add_line(struct ul_menu *m, const char *fmt, ...)
{
    va_list ap;
    if (m->n_lines >= UL_MENU_MAX_LINES)
        return;
    va_start(ap, fmt);
    ul_vsnprintf(m->lines[m->n_lines++], UL_MENU_LINE_LEN, fmt, ap);
    va_end(ap);
}

int ul_menu_find_key(const struct ul_menu *m, char key)
{
    for (uint32_t i = 0; i < m->n_items; i++)
        if (m->items[i].key == key)
            return (int)i;
    return -1;
}
