/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "run.h"
#include "bcd.h"
#include "string-util.h"
#include "time-util.h"
#include "ul-errno.h"
#include "unloop-contract.h"
#ifdef UL_POLICY_ENFORCE
#include "policy-sig.h"

/*
 * Signed policy (policy-sig.h): a config whose signature does not verify
 * is ignored whole, not rule by rule.  Every key is policy: loader = can
 * start another binary, threshold, default_action and [quarantine] decide
 * what is moved and when, [script] acts unattended; keeping any of them
 * would leave a way to misuse unloop.  One error diagnostic (line 0) says
 * why, starting with UL_POLICY_REFUSED.
 */
static bool policy_accepts(const struct ul_volume *esp, const char *buf, size_t len,
                           struct ul_diags *diags)
{
    int r = ul_policy_sig_check(esp, ul_policy_key, ul_policy_key_len, buf, len);
    if (r == 0)
        return true;
    ul_snprintf(diags->d[0].msg, sizeof(diags->d[0].msg), "%s (%s): settings ignored",
                UL_POLICY_REFUSED, ul_policy_sig_strerror(r));
    diags->d[0].line = 0;
    diags->d[0].warning = false;
    diags->n = 1;
    diags->errors = 1;
    diags->refused = true;
    return false;
}
#endif

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
#ifdef UL_POLICY_ENFORCE
    if (!policy_accepts(esp, buf, got, diags))
        return 0;
#endif
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
#ifdef UL_POLICY_ENFORCE
    if (diags.refused) {
        ul_logf(env->log, UL_LOG_ERROR,
                "unloop.conf is %s; using the built-in defaults (policy key %s)",
                diags.d[0].msg, ul_policy_key_id);
        return;
    }
    ul_logf(env->log, UL_LOG_INFO, "unloop.conf is signed by the policy key built into unloop (%s)",
            ul_policy_key_id);
#endif
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

/* ---- quarantine (issue #3) ---- */

/* For debug timings (make bench): 0 when there is no counter or no debug. */
static uint64_t micros(const struct ul_env *env)
{
    if (env->log->level < UL_LOG_DEBUG || !env->clock.ops || !env->clock.ops->micros)
        return 0;
    return env->clock.ops->micros(env->clock.ctx);
}

struct qctx {
    struct ul_scan *scan;       /* from env->mem */
    struct ul_journal j;
    bool journal_ok;
    bool opened;                /* we opened env->win through win_ops: close it */
};

static void copy_journal_to_esp(struct ul_env *env)
{
    uint8_t buf[UL_JREC_SIZE];
    struct ul_stat st;
    if (env->win.ops->stat(env->win.ctx, UL_JOURNAL_PATH, &st) < 0)
        return;
    /* Record by record: the ESP copy is for a technician and the CLI. */
    for (uint64_t off = 0; off + UL_JREC_SIZE <= st.size; off += UL_JREC_SIZE) {
        size_t got = 0;
        if (env->win.ops->read(env->win.ctx, UL_JOURNAL_PATH, off, buf, sizeof(buf), &got) < 0 ||
            got != sizeof(buf) ||
            env->esp.ops->write(env->esp.ctx, UL_JOURNAL_ESP_PATH, off, buf, sizeof(buf)) < 0) {
            ul_logf(env->log, UL_LOG_WARNING, "cannot copy the quarantine journal to the ESP");
            return;
        }
    }
}

/* Before deciding: can quarantine or restore help on this attempt? */
static void prepare_quarantine(struct ul_env *env, struct ul_run_result *res, struct qctx *q)
{
    env->caps.why_not_quarantine = env->caps.why_not_restore = NULL;
    if (!env->have_win && !env->win_ops)
        return; /* not in this build */
    if (!env->have_win) {
        const char *why = NULL;
        if (env->win_ops->open(env->win_ctx, &res->cfg.volume, &env->win, &why) < 0) {
            env->caps.why_not_quarantine = env->caps.why_not_restore =
                why ? why : "no Windows volume found";
            ul_logf(env->log, UL_LOG_NOTICE, "quarantine not possible: %s",
                    env->caps.why_not_quarantine);
            return;
        }
        env->have_win = true;
        q->opened = true;
    }
    if (env->win_why_not) {
        env->caps.why_not_quarantine = env->caps.why_not_restore = env->win_why_not;
        return;
    }
    int r = ul_journal_open(&q->j, &env->win, UL_JOURNAL_PATH);
    if (r == 0)
        r = ul_journal_replay(&env->win, &q->j, &env->mem, env->log);
    if (r < 0) {
        ul_log_err(env->log, r, "the quarantine journal cannot be read or replayed");
        env->caps.why_not_quarantine = env->caps.why_not_restore = "quarantine journal unreadable";
        return;
    }
    q->journal_ok = true;

    struct ul_jfile *f;
    uint32_t n;
    env->caps.restore = false;
    if (ul_journal_files(&q->j, &env->mem, &f, &n) == 0) {
        for (uint32_t i = 0; i < n; i++)
            env->caps.restore |= f[i].state == UL_J_DONE_MOVE;
        env->mem.ops->free(env->mem.ctx, f);
    }
    if (!env->caps.restore)
        env->caps.why_not_restore = "nothing in quarantine";

    q->scan = env->mem.ops->alloc(env->mem.ctx, sizeof(*q->scan));
    if (!q->scan) {
        env->caps.why_not_quarantine = "out of memory";
        return;
    }
    struct ul_recency_in in = {
        .last_good_utc = res->state.last_good,
        .first_attempt = res->state.first_attempt,
        .first_attempt_tz = res->state.clock_tz,
    };
    uint64_t t0 = micros(env);
    r = ul_scan(&env->win, &res->cfg.rules, &in, q->scan, env->log);
    if (t0)
        ul_logf(env->log, UL_LOG_DEBUG, "time to scan the Windows volume: %llu us",
                (unsigned long long)(micros(env) - t0));
    if (r < 0) {
        env->caps.why_not_quarantine = "the scan failed (see the log)";
        return;
    }
    res->candidates = q->scan->n;
    env->caps.quarantine = q->scan->n > 0;
    if (!q->scan->n)
        env->caps.why_not_quarantine = "no recent third-party driver content";
    ul_logf(env->log, UL_LOG_NOTICE, "scan: %u recent candidate%s (%u files match the rules)",
            q->scan->n, q->scan->n == 1 ? "" : "s", q->scan->matched);
    for (uint32_t i = 0; i < q->scan->n && i < 8; i++)
        ul_logf(env->log, UL_LOG_NOTICE, "  candidate %s (%llu bytes)%s", q->scan->c[i].path,
                (unsigned long long)q->scan->c[i].size, q->scan->c[i].all_zero ? " all zero" : "");
}

static void do_quarantine(struct ul_env *env, struct ul_run_result *res, struct qctx *q,
                          enum ul_action action, struct ul_time now)
{
    static struct ul_qreport rep;   /* 28 KiB: not on the firmware's stack */
    int r;
    if (action == UL_ACTION_RESTORE) {
        r = ul_restore(&env->win, &q->j, &env->mem, 0, &rep, env->log);
        res->restored = rep.moved;
    } else {
        enum ul_rung rung = action == UL_ACTION_QUARANTINE_WIDE ? UL_RUNG_QUARANTINE_WIDE
                                                                : UL_RUNG_QUARANTINE_NEWEST;
        uint64_t t0 = micros(env);
        r = env->win.ops->mkdir(env->win.ctx, UL_QUARANTINE_DIR);
        if (r == -UL_EEXIST)
            r = 0;
        if (r == 0)
            r = ul_quarantine(&env->win, q->scan,
                              rung == UL_RUNG_QUARANTINE_WIDE ? UL_Q_WIDE : UL_Q_NEWEST,
                              res->cfg.rules.max_files,
                              ul_run_id_from_time(now.valid ? now.secs : 0), &q->j, &rep,
                              env->log);
        if (t0)
            ul_logf(env->log, UL_LOG_DEBUG, "time to quarantine: %llu us",
                    (unsigned long long)(micros(env) - t0));
        res->quarantined = rep.moved;
        if (rep.moved) {
            if (res->state.rung < rung)
                res->state.rung = (uint8_t)rung;
            int w = ul_state_write(&env->esp, &res->state, &res->state_info);
            if (w < 0)
                ul_log_err(env->log, w, "cannot record the quarantine step in %s", UL_STATE_PATH);
        }
    }
    if (r < 0 && env->ui->notice)
        env->ui->notice(env->ui_ctx, action == UL_ACTION_RESTORE
                                         ? "Restore did not complete (see the log); continuing the boot"
                                         : "Quarantine did not complete (see the log); continuing the boot");
    copy_journal_to_esp(env);
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
    if (env->counted_this_power_on) {
        /* The firmware came back to unloop (the loader was missing or refused,
         * and unloop returned to it): one power-on is one attempt. */
        ul_logf(env->log, UL_LOG_NOTICE, "started again in the same power-on: attempt %u is "
                "not counted twice", res->state.attempts);
    } else {
        ul_state_apply_bump(&res->state, now);
    }
    if (env->counted_this_power_on) {
        /* nothing to write */
    } else if (err) {
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

    /* Only a looping machine pays for opening the journal and scanning. */
    struct qctx q = { 0 };
    if (env->mem.ops && !err && res->state.attempts >= res->cfg.threshold)
        prepare_quarantine(env, res, &q);

    ul_decide(&res->state, &res->cfg, &env->caps, &res->decision);
    const struct ul_decision *d = &res->decision;

    if (!d->show_menu) {
        ul_logf(env->log, UL_LOG_INFO, "attempt %u of %u since the last good boot: starting %s",
                res->state.attempts, res->cfg.threshold, res->cfg.loader);
        goto out;
    }

    ul_logf(env->log, UL_LOG_WARNING,
            "boot loop detected: attempt %u, threshold %u; recovery step %u (%s)",
            res->state.attempts, res->cfg.threshold, d->rung, ul_rung_name(d->rung));
    for (uint32_t i = 0; i < d->n_skipped; i++) {
        enum ul_action a = ul_rung_action(d->skipped[i]);
        const char *why = (a == UL_ACTION_QUARANTINE || a == UL_ACTION_QUARANTINE_WIDE)
                              ? env->caps.why_not_quarantine : NULL;
        if (why)
            ul_logf(env->log, UL_LOG_NOTICE, "step %u (%s): not possible: %s", d->skipped[i],
                    ul_rung_name(d->skipped[i]), why);
        else
            ul_logf(env->log, UL_LOG_NOTICE, "step %u (%s): not available in this build (issue %s)",
                    d->skipped[i], ul_rung_name(d->skipped[i]), ul_action_issue(a));
    }

    if (!env->ui || !env->ui->menu) {
        ul_logf(env->log, UL_LOG_WARNING, "no console for the menu; continuing the boot");
        goto out;
    }
    struct ul_menu menu;
    ul_menu_build(&menu, &res->state, d, &env->caps);
    /* What quarantine would move, before anything moves (issue #3). */
    if (q.scan && q.scan->n) {
        char when[24];
        ul_menu_add_line(&menu, "Recently changed third-party driver content (%u file%s), UTC:",
                         q.scan->n, q.scan->n == 1 ? "" : "s");
        for (uint32_t i = 0; i < q.scan->n && menu.n_lines < UL_MENU_MAX_LINES; i++) {
            const struct ul_candidate *c = &q.scan->c[i];
            ul_time_format(ul_unix_from_filetime(c->times.modification), when, sizeof(when));
            /* Short enough for an 80-column console. */
            static const char drv[] = "\\Windows\\System32\\";
            const char *p = c->path;
            if (ul_strncasecmp(p, drv, sizeof(drv) - 1) == 0)
                p += sizeof(drv) - 1;
            ul_menu_add_line(&menu, "  %.16s %7llu %s %s", when, (unsigned long long)c->size,
                             c->all_zero ? "zero" : "    ", p);
        }
    }
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
    if ((res->action == UL_ACTION_QUARANTINE || res->action == UL_ACTION_QUARANTINE_WIDE ||
         res->action == UL_ACTION_RESTORE) && q.journal_ok) {
        do_quarantine(env, res, &q, res->action, now);
        res->action = UL_ACTION_CONTINUE;
    }
out:
    if (q.scan)
        env->mem.ops->free(env->mem.ctx, q.scan);
    if (q.opened) {
        env->win_ops->close(env->win_ctx);
        env->have_win = false;
    }
}
