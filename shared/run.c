/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "run.h"
#include "bcd.h"
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

int ul_safe_mode_set(const struct ul_volume *esp, const struct ul_mem *mem, struct ul_log *log,
                     bool network, struct ul_state *st)
{
    struct ul_bcd_store bs;
    char guid[UL_BCD_GUID_LEN + 1];
    uint64_t cur;
    int r = ul_bcd_store_load(esp, mem, UL_BCD_PATH, &bs, log);
    if (r < 0)
        return r;
    r = ul_bcd_default_loader(&bs.h, guid);
    if (r < 0) {
        ul_log_err(log, r, "the BCD store has no default Windows loader");
        goto out;
    }
    enum ul_safeboot mode = network ? UL_SAFEBOOT_NETWORK : UL_SAFEBOOT_MINIMAL;
    if (ul_bcd_get_safeboot(&bs.h, guid, &cur) == 0 && cur == (uint64_t)mode &&
        !(st->flags & UL_STATE_F_SAFEMODE_SET)) {
        /* A person set it already: it stays theirs, we do not take it over. */
        ul_logf(log, UL_LOG_NOTICE, "Safe Mode (%s) is already set in the BCD store",
                ul_safeboot_name(cur));
        goto out;
    }
    r = ul_bcd_set_safeboot(&bs.h, guid, mode);
    if (r == 0)
        r = ul_bcd_store_save(esp, &bs, UL_BCD_BACKUP_PATH, log);
    if (r < 0) {
        ul_log_err(log, r, "cannot set Safe Mode");
        goto out;
    }
    st->flags |= UL_STATE_F_SAFEMODE_SET;
    ul_logf(log, UL_LOG_WARNING, "Safe Mode (%s) set for the next boot of %s",
            ul_safeboot_name((uint64_t)mode), guid);
out:
    ul_bcd_store_free(&bs);
    return r;
}

int ul_safe_mode_clear_ours(const struct ul_volume *esp, const struct ul_mem *mem,
                            struct ul_log *log, struct ul_state *st)
{
    struct ul_bcd_store bs;
    char guid[UL_BCD_GUID_LEN + 1];
    uint64_t cur;

    if (!(st->flags & UL_STATE_F_SAFEMODE_SET))
        return 0;
    int r = ul_bcd_store_load(esp, mem, UL_BCD_PATH, &bs, log);
    if (r < 0)
        return r;
    r = ul_bcd_default_loader(&bs.h, guid);
    if (r == 0 && ul_bcd_get_safeboot(&bs.h, guid, &cur) == 0) {
        r = ul_bcd_clear_safeboot(&bs.h, guid);
        if (r == 0)
            r = ul_bcd_store_save(esp, &bs, UL_BCD_BACKUP_PATH, log);
        if (r == 0)
            ul_logf(log, UL_LOG_NOTICE, "one-shot Safe Mode cleared after a good boot");
    }
    if (r == 0)
        st->flags &= (uint16_t)~UL_STATE_F_SAFEMODE_SET;
    else
        ul_log_err(log, r, "cannot clear unloop's Safe Mode from the BCD store");
    ul_bcd_store_free(&bs);
    return r;
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

    if (env->mem.ops) {
        /* A BCD update cut short by a power failure is finished or undone
         * before anything reads the store. */
        ul_bcd_store_recover(&env->esp, &env->mem, UL_BCD_PATH, env->log);
        /* Blessed since unloop set Safe Mode: one boot only, so clear it. */
        if ((res->state.flags & UL_STATE_F_SAFEMODE_SET) && res->state.attempts == 0 && !err &&
            ul_safe_mode_clear_ours(&env->esp, &env->mem, env->log, &res->state) == 0)
            res->safe_mode_cleared = true;
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

    if (res->action == UL_ACTION_SAFE_MODE || res->action == UL_ACTION_SAFE_MODE_NETWORK) {
        r = -UL_EOPNOTSUPP;
        if (env->mem.ops && !err) {
            /* The flag reaches the ESP before the BCD changes: a power cut
             * once the new BCD is complete is rolled forward by the next
             * run's recovery, and a safeboot without the flag would never
             * be cleared.  A flag without a safeboot is dropped harmlessly. */
            struct ul_state intent = res->state;
            intent.flags |= UL_STATE_F_SAFEMODE_SET;
            r = ul_state_write(&env->esp, &intent, &res->state_info);
            if (r < 0)
                ul_log_err(env->log, r, "cannot record the Safe Mode step in %s; not "
                           "setting it", UL_STATE_PATH);
            else
                res->state.seq = intent.seq;
            if (r == 0)
                r = ul_safe_mode_set(&env->esp, &env->mem, env->log,
                                     res->action == UL_ACTION_SAFE_MODE_NETWORK, &res->state);
            /* Not set (or a person's): the state on the ESP without our flag. */
            if (r < 0 || !(res->state.flags & UL_STATE_F_SAFEMODE_SET))
                ul_state_write(&env->esp, &res->state, &res->state_info);
        }
        if (r == 0) {
            res->safe_mode_set = true;
            if (res->state.rung < UL_RUNG_SAFE_MODE)
                res->state.rung = UL_RUNG_SAFE_MODE;
            r = ul_state_write(&env->esp, &res->state, &res->state_info);
            if (r < 0)
                ul_log_err(env->log, r, "cannot record the Safe Mode step in %s",
                           UL_STATE_PATH);
        } else if (env->ui->notice) {
            env->ui->notice(env->ui_ctx, "Safe Mode could not be set (see the log); "
                                         "continuing the boot");
        }
        /* Either way the boot goes on (fail open). */
        res->action = UL_ACTION_CONTINUE;
    }
}
