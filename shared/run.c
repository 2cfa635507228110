/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "run.h"
#include "string-util.h"
#include "time-util.h"
#include "ul-errno.h"
#include "unloop-contract.h"

int ul_config_load(const struct ul_volume *esp, struct ul_config *cfg, struct ul_diags *diags)
{
    static char buf[UL_CONFIG_MAX_SIZE + 1];
    size_t got = 0;
    int r;

    ul_config_defaults(cfg);
    ul_memset(diags, 0, sizeof(*diags));
    r = esp->ops->read(esp->ctx, UL_CONFIG_PATH, 0, buf, sizeof(buf), &got);
    if (r < 0)
        return r;
    ul_config_parse(buf, got, cfg, diags);
    return 0;
}

static void load_config(struct ul_env *env, struct ul_config *cfg)
{
    struct ul_diags diags;
    int r;

    ul_config_defaults(cfg);
    if (!env->have_esp)
        return;
    r = ul_config_load(&env->esp, cfg, &diags);
    if (r == -UL_ENOENT) {
        ul_logf(env->log, UL_LOG_INFO, "no %s: using built-in defaults", UL_CONFIG_PATH);
        return;
    }
    if (r < 0) {
        ul_log_err(env->log, r, "cannot read %s; using built-in defaults", UL_CONFIG_PATH);
        return;
    }
    for (uint32_t i = 0; i < diags.n; i++)
        ul_logf(env->log, diags.d[i].warning ? UL_LOG_NOTICE : UL_LOG_WARNING,
                "unloop.conf line %u: %s", diags.d[i].line, diags.d[i].msg);
    if (diags.dropped)
        ul_logf(env->log, UL_LOG_WARNING, "unloop.conf: %u more problems not shown",
                diags.dropped);
}

static void log_state_health(struct ul_env *env, const struct ul_state_info *info, int err)
{
    if (err)
        ul_log_err(env->log, err, "cannot read %s; counting from zero", UL_STATE_PATH);
    switch (info->health) {
    case UL_STATE_OK:
        break;
    case UL_STATE_MISSING:
        ul_logf(env->log, UL_LOG_NOTICE, "no state file yet: first run of unloop here");
        break;
    case UL_STATE_DEGRADED:
        ul_logf(env->log, UL_LOG_NOTICE,
                "state slot %d is damaged (interrupted write?); using slot %d", 1 - info->slot,
                info->slot);
        break;
    case UL_STATE_CORRUPT:
        if (!err)
            ul_logf(env->log, UL_LOG_WARNING,
                    "%s is corrupt (no valid slot); counting from zero", UL_STATE_PATH);
        break;
    }
}

/* Returns the action chosen by a person or the countdown. */
static enum ul_action drive_menu(struct ul_env *env, struct ul_menu *menu, uint32_t log_max)
{
    static char text[4096];

    for (;;) {
        uint32_t idx = menu->default_index;
        bool timed_out = false;
        int r = env->ui->menu(env->ui_ctx, menu, &idx, &timed_out);
        if (r < 0) {
            ul_log_err(env->log, r, "recovery menu failed; continuing the boot");
            return UL_ACTION_CONTINUE;
        }
        if (idx >= menu->n_items)
            idx = menu->default_index;
        const struct ul_menu_item *it = &menu->items[idx];
        ul_logf(env->log, UL_LOG_NOTICE, "menu: %s '%s'",
                timed_out ? "countdown expired, default" : "chosen", it->label);
        /* A person is here now: no more countdowns. */
        menu->wait = true;

        if (!it->available) {
            char msg[160];
            ul_snprintf(msg, sizeof(msg), "%s: %s", it->label, it->note);
            ul_logf(env->log, UL_LOG_NOTICE, "%s", msg);
            if (env->ui->notice)
                env->ui->notice(env->ui_ctx, msg);
            if (timed_out)
                return UL_ACTION_CONTINUE;
            continue;
        }
        if (it->action == UL_ACTION_SHOW_LOG) {
            size_t len = 0;
            /* Flush first so this run's lines are part of what is shown. */
            if (env->have_esp)
                ul_log_flush(env->log, &env->esp, log_max);
            if (!env->have_esp || ul_log_read_tail(&env->esp, text, sizeof(text), &len) < 0)
                ul_strlcpy(text, "(the log file cannot be read)", sizeof(text));
            if (env->ui->show_text)
                env->ui->show_text(env->ui_ctx, "unloop log (newest at the bottom)", text);
            continue;
        }
        return it->action;
    }
}

void ul_run(struct ul_env *env, struct ul_run_result *res)
{
    struct ul_time now = ul_clock_now(&env->clock);
    int err = 0, r;

    ul_memset(res, 0, sizeof(*res));
    res->action = UL_ACTION_CONTINUE;

    load_config(env, &res->cfg);
    env->log->level = res->cfg.log_level;

    if (env->have_esp) {
        ul_state_read(&env->esp, &res->state, &res->state_info, &err);
        log_state_health(env, &res->state_info, err);
    } else {
        ul_logf(env->log, UL_LOG_ERROR, "no ESP to keep the attempt count on; handing off");
        return;
    }

    /* Count this attempt before doing anything else (DESIGN §2).  After a
     * read error nothing is written: the file may hold a good record that a
     * write laid out from scratch would destroy. */
    ul_state_apply_bump(&res->state, now);
    if (err) {
        ul_logf(env->log, UL_LOG_WARNING, "state not written after a read error: this attempt "
                "is not counted");
    } else {
        r = ul_state_write(&env->esp, &res->state, &res->state_info);
        if (r < 0)
            ul_log_err(env->log, r, "cannot write %s: this attempt is not counted",
                       UL_STATE_PATH);
        else
            res->state_saved = true;
    }

    ul_decide(&res->state, &res->cfg, &env->caps, &res->decision);
    const struct ul_decision *d = &res->decision;

    if (!d->show_menu) {
        ul_logf(env->log, UL_LOG_INFO, "attempt %u of %u since the last good boot: starting %s",
                res->state.attempts, res->cfg.threshold, res->cfg.loader);
        return;
    }

    ul_logf(env->log, UL_LOG_WARNING,
            "boot loop detected: attempt %u, threshold %u; recovery step %u (%s)",
            res->state.attempts, res->cfg.threshold, d->rung, ul_rung_name(d->rung));
    for (uint32_t i = 0; i < d->n_skipped; i++)
        ul_logf(env->log, UL_LOG_NOTICE, "step %u (%s): not available in this build (issue %s)",
                d->skipped[i], ul_rung_name(d->skipped[i]),
                ul_action_issue(ul_rung_action(d->skipped[i])));

    if (!env->ui || !env->ui->menu) {
        ul_logf(env->log, UL_LOG_WARNING, "no console for the menu; continuing the boot");
        return;
    }
    struct ul_menu menu;
    ul_menu_build(&menu, &res->state, d, &env->caps);
    res->menu_shown = true;
    res->action = drive_menu(env, &menu, res->cfg.log_size_kib * 1024u);
    ul_logf(env->log, UL_LOG_NOTICE, "action: %s", ul_action_name(res->action));
}
