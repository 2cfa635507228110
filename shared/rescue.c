/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "rescue.h"

#include "bcd-store.h"
#include "bitlocker-keys.h"
#include "bcd.h"
#include "boot-state.h"
#include "json-out.h"
#include "journal.h"
#include "quarantine.h"
#include "string-util.h"
#include "time-util.h"
#include "ul-errno.h"
#include "unloop-contract.h"

#define REPORT_DIR "\\reports"
#define REPORT_MAX (48 * 1024)

static void add_error(struct ul_rescue_result *res, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add_error(struct ul_rescue_result *res, const char *fmt, ...)
{
    if (res->n_errors == sizeof(res->errors) / sizeof(res->errors[0]))
        return;
    va_list ap;
    va_start(ap, fmt);
    ul_vsnprintf(res->errors[res->n_errors++], sizeof(res->errors[0]), fmt, ap);
    va_end(ap);
}

static void notice(struct ul_rescue_env *env, const char *msg)
{
    if (env->ui && env->ui->notice)
        env->ui->notice(env->ui_ctx, msg);
}

void ul_rescue_machine_id(const struct ul_machine *m, int64_t now, char *out, size_t size)
{
    bool uuid_ok = false;
    for (const char *p = m->uuid; *p; p++)
        if (*p != '0' && *p != '-' && *p != 'f' && *p != 'F')
            uuid_ok = true;
    if (uuid_ok) {
        ul_strlcpy(out, m->uuid, size);
        for (char *p = out; *p; p++)
            *p = ul_tolower(*p);
        return;
    }
    if (m->serial[0]) {
        /* Only characters every file system takes. */
        size_t n = ul_snprintf(out, size, "serial-");
        for (const char *p = m->serial; *p && n + 1 < size; p++) {
            char c = *p;
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.';
            out[n++] = ok ? c : '_';
        }
        out[n < size ? n : size - 1] = 0;
        return;
    }
    ul_snprintf(out, size, "unknown-%08x", (unsigned)(uint32_t)now);
}

/* ------------------------------------------------------------------ */
/* Actions                                                             */

static bool is_quarantine(enum ul_action a)
{
    return a == UL_ACTION_QUARANTINE || a == UL_ACTION_QUARANTINE_WIDE ||
           a == UL_ACTION_RESTORE;
}

static bool is_safe_mode(enum ul_action a)
{
    return a == UL_ACTION_SAFE_MODE || a == UL_ACTION_SAFE_MODE_NETWORK ||
           a == UL_ACTION_SAFE_MODE_OFF;
}

/* The rules the script names, or all of them. */
static int pick_rules(const struct ul_config *cfg, struct ul_rules *out)
{
    *out = cfg->rules;
    if (!cfg->script.rule[0] || !cfg->script.present)
        return 0;
    bool found = false;
    for (uint32_t i = 0; i < out->n; i++) {
        if (ul_strcasecmp(out->r[i].name, cfg->script.rule) == 0)
            found = true;
        else
            out->r[i].enabled = false;
    }
    return found ? 0 : -UL_ENOENT;
}

static void key_source(struct ul_rescue_env *env, const struct ul_config *cfg, bool interactive,
                       struct ul_bitlocker_keysrc *k)
{
    ul_memset(k, 0, sizeof(*k));
    k->dir_vol = env->have_media ? &env->media : NULL;
    k->key_dir = cfg->volume.key_dir;
    if (cfg->script.present && cfg->script.key_file[0])
        k->key_file = cfg->script.key_file;
    k->prompt = interactive && cfg->volume.key_prompt ? env->prompt : NULL;
    k->prompt_ctx = env->prompt_ctx;
    k->prompt_timeout = cfg->volume.prompt_timeout;
    k->prompt_tries = 3;
    k->mem = &env->mem;
    k->log = env->log;
}

/* The target's own state (unloop installed there), for the recency window. */
static void read_target_state(struct ul_rescue_env *env, struct ul_install *in,
                              struct ul_state *st, struct ul_volume *esp_out, bool *esp_open)
{
    struct ul_state_info info;
    int err = 0;
    ul_memset(st, 0, sizeof(*st));
    *esp_open = false;
    if (env->ops->open_esp(env->ops_ctx, in, esp_out) < 0)
        return;
    *esp_open = true;
    ul_state_read(esp_out, st, &info, &err);
    if (err || info.health == UL_STATE_MISSING || info.health == UL_STATE_CORRUPT)
        ul_memset(st, 0, sizeof(*st));
}

static void do_quarantine(struct ul_rescue_env *env, struct ul_rescue_result *res,
                          struct ul_install *in, struct ul_rescue_action *act, bool interactive,
                          struct ul_time now)
{
    struct ul_bitlocker_keysrc keys;
    struct ul_volume win, esp;
    struct ul_state st;
    const char *why = NULL;
    bool esp_open;
    struct ul_rules rules;
    int r;

    if (pick_rules(&res->cfg, &rules) < 0) {
        act->result = "failed";
        ul_snprintf(act->reason, sizeof(act->reason), "no rule named '%s'",
                    res->cfg.script.rule);
        return;
    }
    read_target_state(env, in, &st, &esp, &esp_open);
    key_source(env, &res->cfg, interactive, &keys);
    r = env->ops->open_windows(env->ops_ctx, in, &res->cfg.volume, &keys, &win, &why);
    if (r < 0) {
        act->result = "failed";
        ul_strlcpy(act->reason, why ? why : ul_strerror(r), sizeof(act->reason));
        goto out_esp;
    }

    struct ul_journal j;
    r = ul_journal_open(&j, &win, UL_JOURNAL_PATH);
    if (r == 0)
        r = ul_journal_replay(&win, &j, &env->mem, env->log);
    if (r < 0) {
        act->result = "failed";
        ul_strlcpy(act->reason, "the quarantine journal cannot be read or replayed",
                   sizeof(act->reason));
        goto out;
    }
    struct ul_qreport *rep = env->mem.ops->alloc(env->mem.ctx, sizeof(*rep));
    struct ul_scan *scan = env->mem.ops->alloc(env->mem.ctx, sizeof(*scan));
    if (!rep || !scan) {
        act->result = "failed";
        ul_strlcpy(act->reason, "out of memory", sizeof(act->reason));
        goto out_free;
    }
    if (act->action == UL_ACTION_RESTORE) {
        r = ul_restore(&win, &j, &env->mem, 0, rep, env->log);
    } else {
        struct ul_recency_in rin = { .last_good_utc = st.last_good,
                                     .first_attempt = st.first_attempt,
                                     .first_attempt_tz = st.clock_tz };
        ul_logf(env->log, UL_LOG_NOTICE, "installation %u: scanning the Windows volume for "
                "recently changed third-party driver content", in->index);
        r = ul_scan(&win, &rules, &rin, scan, env->log);
        if (r == 0)
            ul_logf(env->log, UL_LOG_NOTICE, "installation %u: %u recent candidate%s "
                    "(%u files match the rules)", in->index, scan->n, scan->n == 1 ? "" : "s",
                    scan->matched);
        if (r == 0 && scan->n == 0) {
            act->result = "nothing-to-do";
            ul_snprintf(act->reason, sizeof(act->reason),
                        "no recent third-party driver content (%u files match the rules)",
                        scan->matched);
            goto out_free;
        }
        if (r == 0) {
            r = win.ops->mkdir(win.ctx, UL_QUARANTINE_DIR);
            if (r == -UL_EEXIST)
                r = 0;
        }
        if (r == 0)
            r = ul_quarantine(&win, scan,
                              act->action == UL_ACTION_QUARANTINE_WIDE ? UL_Q_WIDE : UL_Q_NEWEST,
                              res->cfg.rules.max_files,
                              ul_run_id_from_time(now.valid ? now.secs : 0), &j, rep, env->log);
    }
    for (uint32_t i = 0; i < rep->n && act->n_files < UL_RESCUE_MAX_FILES; i++) {
        const struct ul_qitem *it = &rep->items[i];
        if (it->result < 0)
            continue;
        struct ul_rescue_file *f = &act->files[act->n_files++];
        bool back = act->action == UL_ACTION_RESTORE;
        ul_strlcpy(f->from, back ? it->other : it->path, sizeof(f->from));
        ul_strlcpy(f->to, back ? it->path : it->other, sizeof(f->to));
        f->size = it->size;
    }
    if (r < 0 || rep->failed) {
        act->result = "failed";
        ul_snprintf(act->reason, sizeof(act->reason), "%s did not complete (%u moved, %u failed)",
                    act->action == UL_ACTION_RESTORE ? "restore" : "quarantine", rep->moved,
                    rep->failed);
    } else if (!rep->moved) {
        act->result = "nothing-to-do";
        ul_strlcpy(act->reason, act->action == UL_ACTION_RESTORE ? "nothing in quarantine"
                                                                 : "nothing was moved",
                   sizeof(act->reason));
    } else {
        act->result = "done";
    }
out_free:
    if (rep)
        env->mem.ops->free(env->mem.ctx, rep);
    if (scan)
        env->mem.ops->free(env->mem.ctx, scan);
out:
    env->ops->close_windows(env->ops_ctx);
out_esp:
    if (esp_open)
        env->ops->close_esp(env->ops_ctx);
}

static void do_safe_mode(struct ul_rescue_env *env, struct ul_install *in,
                         struct ul_rescue_action *act)
{
    struct ul_volume esp;
    struct ul_state st;
    struct ul_state_info info;
    int err = 0, r;

    if (!env->mem.ops) {
        act->result = "failed";
        ul_strlcpy(act->reason, "no memory for the BCD store", sizeof(act->reason));
        return;
    }
    r = env->ops->open_esp(env->ops_ctx, in, &esp);
    if (r < 0) {
        act->result = "failed";
        ul_snprintf(act->reason, sizeof(act->reason), "its ESP cannot be opened: %s",
                    ul_strerror(r));
        return;
    }
    ul_bcd_store_recover(&esp, &env->mem, UL_BCD_PATH, env->log);
    /* The backup of the store goes where unloop keeps it. */
    r = esp.ops->mkdir(esp.ctx, UL_DIR_PATH);
    if (r < 0 && r != -UL_EEXIST)
        ul_log_err(env->log, r, "cannot create %s on its ESP", UL_DIR_PATH);
    ul_memset(&st, 0, sizeof(st));
    if (in->unloop_installed)
        ul_state_read(&esp, &st, &info, &err);

    if (act->action == UL_ACTION_SAFE_MODE_OFF) {
        struct ul_bcd_store bs;
        char guid[UL_BCD_GUID_LEN + 1];
        uint64_t cur;
        r = ul_bcd_store_load(&esp, &env->mem, UL_BCD_PATH, &bs, env->log);
        if (r == 0) {
            r = ul_bcd_default_loader(&bs.h, guid);
            if (r == 0 && ul_bcd_get_safeboot(&bs.h, guid, &cur) == 0) {
                r = ul_bcd_clear_safeboot(&bs.h, guid);
                if (r == 0)
                    r = ul_bcd_store_save(&esp, &bs, UL_BCD_BACKUP_PATH, env->log);
                if (r == 0)
                    act->result = "done";
            } else if (r == 0) {
                act->result = "nothing-to-do";
                ul_strlcpy(act->reason, "Safe Mode is not set", sizeof(act->reason));
            }
            ul_bcd_store_free(&bs);
        }
        if (r == 0 && in->unloop_installed && !err && (st.flags & UL_STATE_F_SAFEMODE_SET)) {
            st.flags &= (uint16_t)~UL_STATE_F_SAFEMODE_SET;
            ul_state_write(&esp, &st, &info);
        }
    } else {
        bool network = act->action == UL_ACTION_SAFE_MODE_NETWORK;
        /* With unloop installed there, its one-shot flag goes first, so that
         * it clears Safe Mode after the next good boot (as in run.c). */
        if (in->unloop_installed && !err) {
            struct ul_state intent = st;
            intent.flags |= UL_STATE_F_SAFEMODE_SET;
            if (ul_state_write(&esp, &intent, &info) == 0)
                st.seq = intent.seq;
        }
        r = ul_safe_mode_set(&esp, &env->mem, env->log, network, &st);
        if (r == 0)
            act->result = "done";
        if (r == 0 && !in->unloop_installed)
            ul_strlcpy(act->reason, "unloop is not installed on this machine: Safe Mode stays "
                       "set until removed (safe-mode-off, or bcdedit /deletevalue {default} "
                       "safeboot)", sizeof(act->reason));
    }
    if (r < 0) {
        act->result = "failed";
        ul_snprintf(act->reason, sizeof(act->reason), "the BCD store cannot be changed: %s",
                    ul_strerror(r));
    }
    env->ops->close_esp(env->ops_ctx);
}

static struct ul_rescue_action *run_action(struct ul_rescue_env *env, struct ul_rescue_result *res,
                                           struct ul_install *in, enum ul_action a,
                                           bool interactive, struct ul_time now)
{
    if (res->n_actions == UL_RESCUE_MAX_ACTIONS)
        return NULL;
    struct ul_rescue_action *act = &res->actions[res->n_actions++];
    ul_memset(act, 0, sizeof(*act));
    act->action = a;
    act->install = in->index;
    ul_logf(env->log, UL_LOG_NOTICE, "installation %u: %s", in->index, ul_action_name(a));
    if (is_quarantine(a))
        do_quarantine(env, res, in, act, interactive, now);
    else if (is_safe_mode(a))
        do_safe_mode(env, in, act);
    else {
        act->result = "failed";
        ul_strlcpy(act->reason, "not an action", sizeof(act->reason));
    }
    ul_logf(env->log, ul_strcmp(act->result, "failed") ? UL_LOG_NOTICE : UL_LOG_WARNING,
            "installation %u: %s: %s%s%s", in->index, ul_action_name(a), act->result,
            act->reason[0] ? ": " : "", act->reason);
    for (uint32_t i = 0; i < act->n_files; i++)
        ul_logf(env->log, UL_LOG_WARNING, "%s %s -> %s",
                a == UL_ACTION_RESTORE ? "restored" : "quarantined", act->files[i].from,
                act->files[i].to);
    return act;
}

static bool fixes(const struct ul_rescue_action *act)
{
    return act && !ul_strcmp(act->result, "done") && act->action != UL_ACTION_SAFE_MODE_OFF;
}

/* ------------------------------------------------------------------ */
/* Finding and listing installations                                   */

static void describe(const struct ul_install *in, char *out, size_t size)
{
    uint64_t gib = in->win_size >> 30;
    ul_snprintf(out, size, "disk %u, partition %u, %llu %s%s%s%s%s", in->disk_no, in->win_part,
                (unsigned long long)(gib ? gib : in->win_size >> 20), gib ? "GiB" : "MiB",
                in->label[0] ? ", \"" : "", in->label, in->label[0] ? "\"" : "",
                in->encrypted ? ", BitLocker" : "");
    if (in->unloop_installed) {
        size_t n = ul_strlen(out);
        ul_snprintf(out + n, size - n, ", unloop installed");
    }
}

static bool matches(const struct ul_script *sc, const struct ul_install *in, bool first)
{
    switch (sc->select) {
    case UL_SELECT_FIRST: return first;
    case UL_SELECT_ALL: return true;
    case UL_SELECT_DISK: return in->disk_no == sc->select_disk;
    case UL_SELECT_LABEL: return ul_strcasecmp(in->label, sc->select_label) == 0;
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* The report                                                          */

static void opt_str(struct ul_json *j, const char *key, const char *v)
{
    if (v && v[0])
        ul_json_str(j, key, v);
}

static void write_report(struct ul_rescue_env *env, struct ul_rescue_result *res,
                         struct ul_time now)
{
    static const char *const bl_name[] = { "none", "locked", "unlocked", "unknown" };
    char *buf = env->mem.ops ? env->mem.ops->alloc(env->mem.ctx, REPORT_MAX) : NULL;
    char id[80], when[24], path[128];
    if (!buf) {
        ul_logf(env->log, UL_LOG_ERROR, "no memory for the report");
        return;
    }
    struct ul_json_buf b = { buf, REPORT_MAX, 0, false };
    struct ul_json j;
    ul_json_init(&j, ul_json_buf_write, &b, true);

    ul_rescue_machine_id(&env->machine, now.valid ? now.secs : 0, id, sizeof(id));
    ul_json_object_begin(&j, NULL);
    ul_json_int(&j, "unloop_report", 1);
    ul_json_str(&j, "unloop_version", UL_VERSION);
    ul_json_str(&j, "mode", env->mode_name ? env->mode_name : "usb");
    ul_json_object_begin(&j, "machine");
    ul_json_str(&j, "id", id);
    opt_str(&j, "uuid", env->machine.uuid);
    opt_str(&j, "serial", env->machine.serial);
    opt_str(&j, "manufacturer", env->machine.manufacturer);
    opt_str(&j, "product", env->machine.product);
    ul_json_object_end(&j);
    if (now.valid) {
        ul_time_format(now.secs, when, sizeof(when));
        /* ul_time_format: "YYYY-MM-DD HH:MM:SS" */
        if (ul_strlen(when) > 10)
            when[10] = 'T';
        ul_json_str(&j, "time", when);
    }
    if (now.valid && now.tz != UL_TZ_UNSPECIFIED)
        ul_json_int(&j, "time_utc_offset_min", -now.tz);   /* UEFI: local = UTC - TimeZone */
    else
        ul_json_null(&j, "time_utc_offset_min");
    ul_json_array_begin(&j, "installations");
    for (uint32_t i = 0; i < res->n_installs; i++) {
        const struct ul_install *in = &res->installs[i];
        char disk[16];
        ul_snprintf(disk, sizeof(disk), "disk %u", in->disk_no);
        ul_json_object_begin(&j, NULL);
        ul_json_int(&j, "index", in->index);
        ul_json_str(&j, "disk", disk);
        ul_json_int(&j, "disk_size", (int64_t)in->disk_size);
        ul_json_int(&j, "esp_partition", in->esp_part);
        ul_json_int(&j, "windows_partition", in->win_part);
        ul_json_int(&j, "windows_size", (int64_t)in->win_size);
        opt_str(&j, "label", in->label);
        ul_json_str(&j, "bitlocker", in->encrypted ? bl_name[in->bitlocker ? in->bitlocker
                                                                            : UL_BL_UNKNOWN]
                                                   : "none");
        opt_str(&j, "bitlocker_method", in->bitlocker_method);
        if (in->n_protectors) {
            ul_json_array_begin(&j, "protectors");
            for (uint32_t k = 0; k < in->n_protectors; k++) {
                char g[UL_GUID_STR_LEN + 1];
                ul_guid_format(&in->protectors[k].guid, g);
                ul_json_object_begin(&j, NULL);
                ul_json_str(&j, "id", g);
                ul_json_str(&j, "type", ul_bitlocker_protector_key(in->protectors[k].type));
                ul_json_object_end(&j);
            }
            ul_json_array_end(&j);
        }
        opt_str(&j, "unlocked_with", in->unlocked_with);
        ul_json_bool(&j, "unloop_installed", in->unloop_installed);
        ul_json_bool(&j, "selected", in->selected);
        ul_json_object_end(&j);
    }
    ul_json_array_end(&j);
    ul_json_array_begin(&j, "actions");
    for (uint32_t i = 0; i < res->n_actions; i++) {
        const struct ul_rescue_action *a = &res->actions[i];
        ul_json_object_begin(&j, NULL);
        ul_json_str(&j, "action", ul_action_name(a->action));
        ul_json_int(&j, "installation", a->install);
        ul_json_str(&j, "result", a->result);
        opt_str(&j, "reason", a->reason);
        if (a->n_files) {
            ul_json_array_begin(&j, "files");
            for (uint32_t k = 0; k < a->n_files; k++) {
                ul_json_object_begin(&j, NULL);
                ul_json_str(&j, "from", a->files[k].from);
                ul_json_str(&j, "to", a->files[k].to);
                ul_json_int(&j, "size", (int64_t)a->files[k].size);
                ul_json_object_end(&j);
            }
            ul_json_array_end(&j);
        }
        ul_json_object_end(&j);
    }
    ul_json_array_end(&j);
    ul_json_str(&j, "outcome", res->outcome);
    ul_json_str(&j, "summary", res->summary);
    ul_json_array_begin(&j, "errors");
    for (uint32_t i = 0; i < res->n_errors; i++)
        ul_json_str(&j, NULL, res->errors[i]);
    ul_json_array_end(&j);
    ul_json_object_end(&j);
    ul_json_buf_write(&b, "\n", 1);
    if (b.overflow)
        ul_logf(env->log, UL_LOG_WARNING, "the report was cut at %u bytes", REPORT_MAX);

    int r = -UL_EROFS;
    if (env->have_media && env->media_writable) {
        ul_snprintf(path, sizeof(path), "%s\\%s.json", REPORT_DIR, id);
        r = env->media.ops->mkdir(env->media.ctx, REPORT_DIR);
        if (r == -UL_EEXIST)
            r = 0;
        /* A report from an earlier run on this machine is replaced whole. */
        if (r == 0) {
            env->media.ops->remove(env->media.ctx, path);
            r = env->media.ops->write(env->media.ctx, path, 0, buf, b.len);
        }
        if (r == 0) {
            ul_strlcpy(res->report_path, path, sizeof(res->report_path));
            ul_logf(env->log, UL_LOG_NOTICE, "report written to %s", path);
        } else {
            ul_log_err(env->log, r, "cannot write the report %s", path);
        }
    }
    if (r < 0 && env->report_out)
        env->report_out(env->report_ctx, buf);
    env->mem.ops->free(env->mem.ctx, buf);
}

/* ------------------------------------------------------------------ */
/* Outcome                                                             */

static void conclude(struct ul_rescue_result *res)
{
    bool fixed = false, safe = false, failed = res->n_errors > 0, locked = false;
    bool any_install = false;
    uint32_t files = 0;
    for (uint32_t i = 0; i < res->n_actions; i++) {
        const struct ul_rescue_action *a = &res->actions[i];
        bool done = !ul_strcmp(a->result, "done");
        if (done && is_quarantine(a->action)) {
            fixed = true;
            files += a->n_files;
        }
        if (done && (a->action == UL_ACTION_SAFE_MODE || a->action == UL_ACTION_SAFE_MODE_NETWORK))
            safe = true;
        if (!ul_strcmp(a->result, "failed"))
            failed = true;
    }
    for (uint32_t i = 0; i < res->n_installs; i++) {
        any_install |= res->installs[i].selected;
        locked |= res->installs[i].selected && res->installs[i].bitlocker == UL_BL_LOCKED;
    }
    const struct ul_rescue_action *last = res->n_actions ? &res->actions[res->n_actions - 1]
                                                         : NULL;
    if (fixed) {
        res->outcome = "fixed";
        ul_snprintf(res->summary, sizeof(res->summary), "fixed: %s %u file%s",
                    last && last->action == UL_ACTION_RESTORE ? "restored" : "quarantined",
                    files, files == 1 ? "" : "s");
    } else if (safe) {
        res->outcome = "safe-mode";
        ul_snprintf(res->summary, sizeof(res->summary), "Safe Mode set for the next boot%s",
                    locked ? " (BitLocker: no key for the volume)" : "");
    } else if (locked) {
        res->outcome = "needs-key";
        ul_snprintf(res->summary, sizeof(res->summary),
                    "needs a key: the Windows volume is BitLocker-encrypted and no key was found");
    } else if (res->n_errors) {
        res->outcome = "failed";
        ul_snprintf(res->summary, sizeof(res->summary), "nothing done: %s", res->errors[0]);
    } else if (!res->n_installs || !any_install) {
        res->outcome = "no-windows";
        ul_snprintf(res->summary, sizeof(res->summary), "%s",
                    res->n_installs ? "no Windows installation matched the script's select"
                                    : "no Windows installation found");
    } else if (failed) {
        res->outcome = "failed";
        ul_snprintf(res->summary, sizeof(res->summary), "failed: %s",
                    last ? last->reason : "see the log");
    } else {
        res->outcome = "nothing-to-do";
        ul_snprintf(res->summary, sizeof(res->summary), "nothing to do: %s",
                    last && last->reason[0] ? last->reason : "no action found anything");
    }
}

/* ------------------------------------------------------------------ */
/* Interactive                                                         */

static uint32_t choose_install(struct ul_rescue_env *env, struct ul_rescue_result *res,
                               char labels[][UL_MENU_LINE_LEN])
{
    struct ul_menu m;
    uint32_t idx = 0;
    bool timed_out;

    ul_memset(&m, 0, sizeof(m));
    ul_strlcpy(m.title, "unloop " UL_VERSION " - recovery stick: Windows installations found",
               sizeof(m.title));
    m.wait = true;
    for (uint32_t i = 0; i < res->n_installs && m.n_items < UL_MENU_MAX_ITEMS - 1; i++) {
        describe(&res->installs[i], labels[i], UL_MENU_LINE_LEN);
        m.items[m.n_items] = (struct ul_menu_item){ .action = UL_ACTION_CONTINUE,
                                                    .key = (char)('1' + m.n_items),
                                                    .label = labels[i], .available = true };
        m.n_items++;
    }
    m.items[m.n_items] = (struct ul_menu_item){ .action = UL_ACTION_REBOOT,
                                                .key = (char)('1' + m.n_items),
                                                .label = "Reboot", .available = true };
    m.n_items++;
    ul_menu_add_line(&m, "Choose the installation to repair.");
    if (env->ui->menu(env->ui_ctx, &m, &idx, &timed_out) < 0 || idx >= res->n_installs)
        return 0;
    return idx + 1;
}

static enum ul_action choose_action(struct ul_rescue_env *env, const struct ul_install *in,
                                    const char *last)
{
    static const struct { enum ul_action a; const char *label; } items[] = {
        { UL_ACTION_QUARANTINE, "Quarantine the newest third-party driver content" },
        { UL_ACTION_QUARANTINE_WIDE, "Quarantine all recent third-party driver content" },
        { UL_ACTION_RESTORE, "Restore quarantined files" },
        { UL_ACTION_SAFE_MODE, "Safe Mode (until cleared if unloop is not installed)" },
        { UL_ACTION_SAFE_MODE_NETWORK, "Safe Mode with networking" },
        { UL_ACTION_SAFE_MODE_OFF, "Clear Safe Mode" },
        { UL_ACTION_CONTINUE, "Done: start this Windows" },
        { UL_ACTION_REBOOT, "Done: reboot" },
    };
    struct ul_menu m;
    char what[UL_MENU_LINE_LEN];
    uint32_t idx = 0;
    bool timed_out;

    ul_memset(&m, 0, sizeof(m));
    describe(in, what, sizeof(what));
    ul_snprintf(m.title, sizeof(m.title), "unloop - %s", what);
    m.wait = true;
    for (uint32_t i = 0; i < sizeof(items) / sizeof(items[0]); i++)
        m.items[m.n_items++] = (struct ul_menu_item){ .action = items[i].a,
                                                      .key = (char)('1' + i),
                                                      .label = items[i].label,
                                                      .available = true };
    if (last)
        ul_menu_add_line(&m, "Last: %s", last);
    if (env->ui->menu(env->ui_ctx, &m, &idx, &timed_out) < 0 || idx >= m.n_items)
        return UL_ACTION_REBOOT;
    return m.items[idx].action;
}

static void interactive(struct ul_rescue_env *env, struct ul_rescue_result *res,
                        struct ul_time now)
{
    static char labels[UL_RESCUE_MAX_INSTALLS][UL_MENU_LINE_LEN];
    char last[160] = "";

    res->then = UL_THEN_REBOOT;
    if (!env->ui || !env->ui->menu || !res->n_installs)
        return;
    uint32_t pick = choose_install(env, res, labels);
    if (!pick)
        return;
    struct ul_install *in = &res->installs[pick - 1];
    in->selected = true;
    for (;;) {
        enum ul_action a = choose_action(env, in, last[0] ? last : NULL);
        if (a == UL_ACTION_CONTINUE) {
            res->then = UL_THEN_BOOT;
            res->boot = in->index;
            return;
        }
        if (a == UL_ACTION_REBOOT)
            return;
        struct ul_rescue_action *act = run_action(env, res, in, a, true, now);
        if (!act)
            return;
        ul_snprintf(last, sizeof(last), "%s: %s%s%s", ul_action_name(a), act->result,
                    act->reason[0] ? " - " : "", act->reason);
        notice(env, last);
    }
}

/* The script's key file must be a key file: a script that names a broken
 * one is stopped like a broken script (the acceptance of issue #6). */
static int check_key_file(struct ul_rescue_env *env, const char *path, char *why, size_t size)
{
    struct ul_stat st;
    size_t got = 0;
    int r = env->have_media ? env->media.ops->stat(env->media.ctx, path, &st) : -UL_ENOENT;
    if (r == -UL_ENOENT) {
        /* No key file is no key: BitLocker volumes fall back, plain ones are fine. */
        ul_logf(env->log, UL_LOG_WARNING, "the script's key file %s is not there", path);
        return 0;
    }
    if (r < 0) {
        ul_snprintf(why, size, "the script's key file %s cannot be read: %s", path,
                    ul_strerror(r));
        return r;
    }
    if (st.size > 4u * 1024 * 1024) {
        ul_snprintf(why, size, "the script's key file %s is larger than 4 MiB", path);
        return -UL_E2BIG;
    }
    uint8_t *buf = env->mem.ops->alloc(env->mem.ctx, (size_t)st.size + 1);
    if (!buf)
        return -UL_ENOMEM;
    r = env->media.ops->read(env->media.ctx, path, 0, buf, (size_t)st.size, &got);
    struct ul_guid g;
    struct ul_bitlocker_keys_diag diag;
    if (r == 0 && ul_bitlocker_bek_guid(buf, got, &g) != 0 &&
        ul_bitlocker_keys_parse(buf, got, NULL, NULL, &diag) < 0) {
        ul_snprintf(why, size, "the script's key file %s holds no recovery password and is "
                    "not a startup key (.BEK)", path);
        r = -UL_EINVAL;
    } else if (r == 0 && diag.pairs == 0 && (diag.malformed || diag.bad_group)) {
        char note[120] = "";
        if (diag.n_notes)
            ul_bitlocker_keys_note_format(&diag.notes[0], note, sizeof(note));
        ul_snprintf(why, size, "the script's key file %s has no valid recovery password (%s)",
                    path, note);
        r = -UL_EINVAL;
    } else if (r < 0) {
        ul_snprintf(why, size, "the script's key file %s cannot be read: %s", path,
                    ul_strerror(r));
    }
    ul_explicit_bzero(buf, got);
    env->mem.ops->free(env->mem.ctx, buf);
    return r;
}

/* ------------------------------------------------------------------ */

void ul_rescue_run(struct ul_rescue_env *env, struct ul_rescue_result *res)
{
    struct ul_time now = ul_clock_now(&env->clock);
    struct ul_diags diags;
    int r;

    ul_memset(res, 0, sizeof(*res));
    res->then = UL_THEN_REBOOT;
    ul_config_defaults(&res->cfg);
    /* On a stick the keys folder is the stick's own. */
    ul_strlcpy(res->cfg.volume.key_dir, "\\keys", sizeof(res->cfg.volume.key_dir));
    if (env->have_media) {
        struct ul_config loaded;
        r = ul_config_load(&env->media, &loaded, &diags);
        if (r == 0) {
            /* ul_config_load starts from the defaults: keep the stick's key folder
             * unless the file names one. */
            if (!ul_strcmp(loaded.volume.key_dir, UL_KEY_DIR))
                ul_strlcpy(loaded.volume.key_dir, "\\keys", sizeof(loaded.volume.key_dir));
            res->cfg = loaded;
            for (uint32_t i = 0; i < diags.n; i++)
                ul_logf(env->log, diags.d[i].warning ? UL_LOG_NOTICE : UL_LOG_WARNING,
                        "unloop.conf line %u: %s", diags.d[i].line, diags.d[i].msg);
        } else if (r != -UL_ENOENT) {
            ul_log_err(env->log, r, "cannot read %s; using built-in defaults", UL_CONFIG_PATH);
        }
    }
    env->log->level = res->cfg.log_level;
    ul_logf(env->log, UL_LOG_NOTICE, "rescue mode (%s): looking for Windows installations",
            env->mode_name ? env->mode_name : "usb");

    uint32_t n = 0;
    r = env->ops->find(env->ops_ctx, res->installs, UL_RESCUE_MAX_INSTALLS, &n);
    if (r < 0)
        add_error(res, "cannot list the disks: %s", ul_strerror(r));
    res->n_installs = n;
    for (uint32_t i = 0; i < n; i++) {
        char what[UL_MENU_LINE_LEN];
        res->installs[i].index = i + 1;
        describe(&res->installs[i], what, sizeof(what));
        ul_logf(env->log, UL_LOG_NOTICE, "  %u. %s", i + 1, what);
    }
    if (!n)
        ul_logf(env->log, UL_LOG_WARNING, "no Windows installation found on any disk");

    const struct ul_script *sc = &res->cfg.script;
    char kf_why[160] = "";
    if (sc->present && !sc->errors && sc->key_file[0])
        check_key_file(env, sc->key_file, kf_why, sizeof(kf_why));
    if (sc->present && (sc->errors || !sc->n_actions || kf_why[0])) {
        char msg[160];
        if (kf_why[0])
            ul_snprintf(msg, sizeof(msg), "%s; nothing was done", kf_why);
        else if (sc->errors)
            ul_snprintf(msg, sizeof(msg), "the [script] section of unloop.conf has %u error%s "
                        "(first on line %u); nothing was done", sc->errors,
                        sc->errors == 1 ? "" : "s", sc->first_error_line);
        else
            ul_snprintf(msg, sizeof(msg), "the [script] section of unloop.conf has no actions; "
                        "nothing was done");
        add_error(res, "%s", msg);
        ul_logf(env->log, UL_LOG_ERROR, "%s", msg);
        notice(env, msg);
        /* Nothing is done; the stick's owner fixes unloop.conf.  Its then
         * still applies (a menu would wait for a person who may not come). */
        res->then = sc->then == UL_THEN_MENU ? UL_THEN_REBOOT : sc->then;
    } else if (sc->present) {
        res->scripted = true;
        res->then = sc->then;
        bool first = true;
        for (uint32_t i = 0; i < n; i++) {
            struct ul_install *in = &res->installs[i];
            if (!matches(sc, in, first))
                continue;
            first = false;
            in->selected = true;
            bool done = false;
            for (uint32_t k = 0; k < sc->n_actions; k++) {
                if (done && sc->actions[k] != UL_ACTION_SAFE_MODE_OFF) {
                    if (res->n_actions < UL_RESCUE_MAX_ACTIONS) {
                        struct ul_rescue_action *a = &res->actions[res->n_actions++];
                        ul_memset(a, 0, sizeof(*a));
                        a->action = sc->actions[k];
                        a->install = in->index;
                        a->result = "skipped";
                        ul_strlcpy(a->reason, "already fixed by an earlier action",
                                   sizeof(a->reason));
                    }
                    continue;
                }
                done |= fixes(run_action(env, res, in, sc->actions[k], false, now));
            }
            if (!done && sc->fallback != UL_ACTION_CONTINUE)
                run_action(env, res, in, sc->fallback, false, now);
            if (sc->then == UL_THEN_BOOT && !res->boot)
                res->boot = in->index;
        }
        if (sc->then == UL_THEN_MENU)
            interactive(env, res, now);
    } else {
        interactive(env, res, now);
    }

    conclude(res);
    ul_logf(env->log, UL_LOG_WARNING, "unloop: %s", res->summary);
    write_report(env, res, now);
}
