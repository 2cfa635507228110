/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"
#include "string-util.h"
#include "ul-errno.h"
#include "unloop-contract.h"

#define LINE_MAX_LEN 512

void ul_config_defaults(struct ul_config *cfg)
{
    /* Field by field over zeros: configs are compared with memcmp, padding included. */
    ul_memset(cfg, 0, sizeof(*cfg));
    cfg->threshold = 3;
    cfg->menu_timeout = 10;
    cfg->stop_timeout = 0;
    cfg->default_action = UL_ACTION_LADDER;
    cfg->handoff = UL_HANDOFF_CHAINLOAD;
    cfg->log_level = UL_LOG_INFO;
    cfg->log_size_kib = 64;
    ul_strlcpy(cfg->loader, UL_DEFAULT_LOADER, sizeof(cfg->loader));
    ul_rules_defaults(&cfg->rules);
    cfg->volume.unclean_log = UL_UNCLEAN_LOG_REPLAY;
    cfg->volume.discard_hibernation = false;
    cfg->volume.repair_mirror = true;
    cfg->volume.mark_dirty = true;
    ul_strlcpy(cfg->volume.key_dir, UL_KEY_DIR, sizeof(cfg->volume.key_dir));
    cfg->volume.key_prompt = true;
    cfg->volume.prompt_timeout = 30;
    cfg->script.fallback = UL_ACTION_CONTINUE;
    cfg->script.then = UL_THEN_REBOOT;
}

static const char *const action_names[UL_ACTION__MAX] = {
    [UL_ACTION_LADDER] = "ladder",
    [UL_ACTION_CONTINUE] = "continue",
    [UL_ACTION_QUARANTINE] = "quarantine",
    [UL_ACTION_QUARANTINE_WIDE] = "quarantine-wide",
    [UL_ACTION_SAFE_MODE] = "safe-mode",
    [UL_ACTION_SAFE_MODE_NETWORK] = "safe-mode-network",
    [UL_ACTION_RESTORE] = "restore",
    [UL_ACTION_SHOW_LOG] = "show-log",
    [UL_ACTION_REBOOT] = "reboot",
    [UL_ACTION_SAFE_MODE_OFF] = "safe-mode-off",
    [UL_ACTION_FIRMWARE_SETUP] = "firmware-setup",
};

const char *ul_action_name(enum ul_action a)
{
    return (unsigned)a < UL_ACTION__MAX ? action_names[a] : "unknown";
}

const char *ul_mode_name(enum ul_mode m)
{
    return m == UL_MODE_INSTALLED ? "installed" : m == UL_MODE_RESCUE ? "rescue" : "auto";
}

const char *ul_then_name(enum ul_script_then t)
{
    static const char *const n[] = { "reboot", "poweroff", "boot", "menu" };
    return (unsigned)t < 4 ? n[t] : "reboot";
}

const char *ul_handoff_name(enum ul_handoff h)
{
    switch (h) {
    case UL_HANDOFF_CHAINLOAD: return "chainload";
    case UL_HANDOFF_BOOTNEXT: return "bootnext";
    case UL_HANDOFF_AUTO: return "auto";
    }
    return "unknown";
}

static void diag(struct ul_diags *d, uint32_t line, bool warning, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void diag(struct ul_diags *d, uint32_t line, bool warning, const char *fmt, ...)
{
    if (warning)
        d->warnings++;
    else
        d->errors++;
    if (d->n >= UL_CONFIG_MAX_DIAGS) {
        d->dropped++;
        return;
    }
    struct ul_diag *e = &d->d[d->n++];
    va_list ap;
    e->line = line;
    e->warning = warning;
    va_start(ap, fmt);
    ul_vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
}

/* Copy a value for quoting in a message, replacing unprintable bytes. */
static void quote(char *out, size_t size, const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 4 < size; i++)
        out[n++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (n < len && n >= 3) { /* cut short: say so */
        out[n - 3] = out[n - 2] = out[n - 1] = '.';
    }
    out[n] = 0;
}

static bool eq(const char *s, size_t len, const char *word)
{
    return ul_strlen(word) == len && ul_strncasecmp(s, word, len) == 0;
}

static void trim(const char **s, size_t *len)
{
    while (*len && ul_isspace(**s))
        (*s)++, (*len)--;
    while (*len && ul_isspace((*s)[*len - 1]))
        (*len)--;
}

struct num_key {
    const char *name;
    size_t offset;
    uint32_t min, max;
};

static const struct num_key num_keys[] = {
    { "threshold", __builtin_offsetof(struct ul_config, threshold), 1, 100 },
    { "menu_timeout", __builtin_offsetof(struct ul_config, menu_timeout), 0, 3600 },
    { "stop_timeout", __builtin_offsetof(struct ul_config, stop_timeout), 0, 86400 },
    { "log_size", __builtin_offsetof(struct ul_config, log_size_kib), 4, 4096 },
};

static const char *const log_level_names[] = {
    [UL_LOG_ERROR] = "error", [UL_LOG_WARNING] = "warning", [UL_LOG_NOTICE] = "notice",
    [UL_LOG_INFO] = "info", [UL_LOG_DEBUG] = "debug",
};

/* An absolute path on the ESP (FAT): '/' becomes '\\'; 0, or -1 after a
 * diagnostic. */
static int parse_esp_path(struct ul_diags *d, uint32_t ln, const char *key, const char *v,
                          size_t vlen, const char *qv, char *path, size_t size)
{
    if (vlen == 0 || vlen >= size) {
        diag(d, ln, false, "%s: path must be 1..%u characters; using the default", key,
             (unsigned)size - 1);
        return -1;
    }
    for (size_t i = 0; i < vlen; i++) {
        char c = v[i] == '/' ? '\\' : v[i];
        /* FAT long names: printable ASCII minus the reserved characters. */
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '*' || c == ':' || c == '<' ||
            c == '>' || c == '?' || c == '|') {
            diag(d, ln, false, "%s: '%s' has a character a FAT path cannot hold", key, qv);
            return -1;
        }
        path[i] = c;
    }
    path[vlen] = 0;
    if (path[0] != '\\') {
        diag(d, ln, false, "%s: '%s' must be an absolute path on the ESP (\\EFI\\...)", key,
             qv);
        return -1;
    }
    return 0;
}

static void set_key(struct ul_config *cfg, struct ul_diags *d, uint32_t ln, const char *k,
                    size_t klen, const char *v, size_t vlen)
{
    char qv[48], qk[40];
    quote(qv, sizeof(qv), v, vlen);
    quote(qk, sizeof(qk), k, klen);

    for (size_t i = 0; i < sizeof(num_keys) / sizeof(num_keys[0]); i++) {
        const struct num_key *nk = &num_keys[i];
        if (!eq(k, klen, nk->name))
            continue;
        uint32_t val;
        if (ul_parse_u32(v, vlen, &val) < 0 || val < nk->min || val > nk->max) {
            diag(d, ln, false, "%s: '%s' is not a number in %u..%u; using the default",
                 nk->name, qv, nk->min, nk->max);
            return;
        }
        *(uint32_t *)((char *)cfg + nk->offset) = val;
        return;
    }

    if (eq(k, klen, "default_action")) {
        for (int a = 0; a < UL_ACTION__MAX; a++) {
            if (a == UL_ACTION_SHOW_LOG || a == UL_ACTION_FIRMWARE_SETUP)
                continue; /* not actions a countdown should pick by itself */
            if (eq(v, vlen, action_names[a])) {
                cfg->default_action = (enum ul_action)a;
                return;
            }
        }
        diag(d, ln, false, "default_action: unknown action '%s'; using the default", qv);
        return;
    }
    if (eq(k, klen, "handoff")) {
        if (eq(v, vlen, "chainload"))
            cfg->handoff = UL_HANDOFF_CHAINLOAD;
        else if (eq(v, vlen, "bootnext"))
            cfg->handoff = UL_HANDOFF_BOOTNEXT;
        else if (eq(v, vlen, "auto"))
            cfg->handoff = UL_HANDOFF_AUTO;
        else
            diag(d, ln, false, "handoff: unknown mode '%s' (chainload|bootnext|auto)", qv);
        return;
    }
    if (eq(k, klen, "log_level")) {
        for (unsigned l = 0; l < sizeof(log_level_names) / sizeof(log_level_names[0]); l++) {
            if (eq(v, vlen, log_level_names[l])) {
                cfg->log_level = (enum ul_log_level)l;
                return;
            }
        }
        diag(d, ln, false, "log_level: unknown level '%s'; using the default", qv);
        return;
    }
    if (eq(k, klen, "mode")) {
        if (eq(v, vlen, "auto"))
            cfg->mode = UL_MODE_AUTO;
        else if (eq(v, vlen, "installed"))
            cfg->mode = UL_MODE_INSTALLED;
        else if (eq(v, vlen, "rescue"))
            cfg->mode = UL_MODE_RESCUE;
        else
            diag(d, ln, false, "mode: '%s' is not auto|installed|rescue; using auto", qv);
        return;
    }
    if (eq(k, klen, "loader_options")) {
        /* Passed to the loader as its load options (UCS-2), replacing the
         * ones unloop was started with: e.g. a Linux EFI stub's command
         * line.  Printable ASCII only; "" forwards unloop's own again. */
        if (vlen >= sizeof(cfg->loader_options)) {
            diag(d, ln, false, "loader_options: longer than %u characters; ignored",
                 (unsigned)sizeof(cfg->loader_options) - 1);
            return;
        }
        for (size_t i = 0; i < vlen; i++)
            if (v[i] < 0x20 || v[i] > 0x7e) {
                diag(d, ln, false, "loader_options: a character that is not printable ASCII; "
                     "ignored");
                return;
            }
        ul_memcpy(cfg->loader_options, v, vlen);
        cfg->loader_options[vlen] = 0;
        return;
    }
    if (eq(k, klen, "loader")) {
        char path[UL_LOADER_MAX];
        if (parse_esp_path(d, ln, "loader", v, vlen, qv, path, sizeof(path)) == 0)
            ul_strlcpy(cfg->loader, path, sizeof(cfg->loader));
        return;
    }
    diag(d, ln, false, "unknown key '%s' (ignored)", qk);
}

/* ---- [rule NAME] and [quarantine] ---- */

enum section {
    SEC_UNLOOP,
    SEC_RULE,
    SEC_QUARANTINE,
    SEC_BITLOCKER,
    SEC_SCRIPT,
    SEC_IGNORED, /* unknown or broken header: keys are skipped */
};

struct parser {
    struct ul_config *cfg;
    struct ul_diags *d;
    enum section sec;
    struct ul_rule *rule;  /* SEC_RULE */
    bool rule_new;         /* the rule is one this file adds (not built in) */
    uint32_t rule_line;    /* its header */
    uint32_t added;        /* bit i: rules->r[i] was added by this file */
    uint32_t broken;       /* bit i: ... and one of its lines was bad */
};

_Static_assert(UL_RULES_MAX <= 32, "struct parser keeps one bit per rule");

static const struct num_key quarantine_keys[] = {
    { "window_hours", __builtin_offsetof(struct ul_rules, window_hours), 1, 720 },
    { "bare_window_hours", __builtin_offsetof(struct ul_rules, bare_window_hours), 1, 720 },
    { "max_files", __builtin_offsetof(struct ul_rules, max_files), 1, 1024 },
};

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
}

/* End of a [rule] section: the checks that need the whole section. */
static void finish_rule(struct parser *ps, uint32_t ln)
{
    struct ul_rule *r = ps->rule;
    struct ul_rules *rules = &ps->cfg->rules;

    if (ps->sec != SEC_RULE || !r)
        goto out;
    uint32_t idx = (uint32_t)(r - rules->r);
    if (ps->rule_new && !r->path[0] && idx + 1 == rules->n) {
        /* Said already when its path line was refused. */
        if (!(ps->broken & (1u << idx)))
            diag(ps->d, ln, false, "[rule %s] (line %u) has no path; the rule is ignored",
                 r->name, ps->rule_line);
        /* A rule without a path is dropped at the end of the section that
         * added it, so it is still the last one. */
        ul_memset(r, 0, sizeof(*r));
        rules->n--;
        ps->added &= ~(1u << idx);
        ps->broken &= ~(1u << idx);
        goto out;
    }
    if ((r->content == UL_CONTENT_BAD_MAGIC || r->content == UL_CONTENT_BAD_MAGIC_OR_ZERO) &&
        r->magic_len == 0 && r->enabled && !(ps->broken & (1u << idx))) {
        diag(ps->d, ln, false, "[rule %s] (line %u): content = %s needs a magic; rule disabled",
             r->name, ps->rule_line, ul_rule_content_name(r->content));
        r->enabled = false;
    }
    if (ps->broken & (1u << idx))
        r->enabled = false;
out:
    ps->rule = NULL;
    ps->rule_new = false;
}

static void start_section(struct parser *ps, uint32_t ln, const char *name, size_t nlen)
{
    char q[40];

    finish_rule(ps, ln);
    if (eq(name, nlen, "unloop")) {
        ps->sec = SEC_UNLOOP;
        return;
    }
    if (eq(name, nlen, "quarantine")) {
        ps->sec = SEC_QUARANTINE;
        return;
    }
    if (eq(name, nlen, "bitlocker")) {
        ps->sec = SEC_BITLOCKER;
        return;
    }
    if (eq(name, nlen, "script")) {
        ps->sec = SEC_SCRIPT;
        ps->cfg->script.present = true;
        return;
    }
    ps->sec = SEC_IGNORED;
    if (nlen >= 4 && ul_strncasecmp(name, "rule", 4) == 0 &&
        (nlen == 4 || ul_isspace(name[4]))) {
        const char *rn = name + 4;
        size_t rlen = nlen - 4;
        trim(&rn, &rlen);
        quote(q, sizeof(q), rn, rlen);
        if (rlen == 0) {
            diag(ps->d, ln, false, "[rule] needs a name: [rule NAME]; its keys are ignored");
            return;
        }
        bool ok = rlen < UL_RULE_NAME_MAX;
        for (size_t i = 0; i < rlen; i++)
            ok &= name_char(rn[i]);
        if (!ok) {
            diag(ps->d, ln, false,
                 "[rule %s]: a name is 1..%u of A-Z a-z 0-9 . _ -; its keys are ignored", q,
                 UL_RULE_NAME_MAX - 1);
            return;
        }
        char nm[UL_RULE_NAME_MAX];
        ul_memcpy(nm, rn, rlen);
        nm[rlen] = 0;

        struct ul_rules *rules = &ps->cfg->rules;
        struct ul_rule *r = (struct ul_rule *)ul_rules_find(rules, nm);
        if (!r) {
            if (rules->n >= UL_RULES_MAX) {
                diag(ps->d, ln, false, "[rule %s]: too many rules (at most %u); ignored", nm,
                     UL_RULES_MAX);
                return;
            }
            r = &rules->r[rules->n++];
            ul_memset(r, 0, sizeof(*r));
            ul_strlcpy(r->name, nm, sizeof(r->name));
            r->content = UL_CONTENT_ANY;
            r->enabled = true;
            ps->added |= 1u << (rules->n - 1);
        }
        ps->sec = SEC_RULE;
        ps->rule_new = ps->added & (1u << (uint32_t)(r - rules->r));
        ps->rule = r;
        ps->rule_line = ln;
        return;
    }
    quote(q, sizeof(q), name, nlen);
    diag(ps->d, ln, false, "unknown section [%s]; its keys are ignored", q);
}

static int parse_bool(const char *v, size_t vlen, bool *ret)
{
    if (eq(v, vlen, "yes") || eq(v, vlen, "true") || eq(v, vlen, "on") || eq(v, vlen, "1"))
        *ret = true;
    else if (eq(v, vlen, "no") || eq(v, vlen, "false") || eq(v, vlen, "off") ||
             eq(v, vlen, "0"))
        *ret = false;
    else
        return -UL_EINVAL;
    return 0;
}

/* "AAAAAAAA", "AA AA AA AA", "aa:aa-aa aa": pairs of hex digits, separators between bytes. */
static int parse_magic(const char *v, size_t vlen, uint8_t *out, uint8_t *ret_len)
{
    size_t n = 0, i = 0;

    while (i < vlen) {
        if (n > 0 && (v[i] == ' ' || v[i] == '\t' || v[i] == ':' || v[i] == '-')) {
            i++;
            if (i == vlen || ul_hexval(v[i]) < 0)
                return -UL_EINVAL; /* trailing or doubled separator */
            continue;
        }
        if (i + 1 >= vlen || ul_hexval(v[i]) < 0 || ul_hexval(v[i + 1]) < 0)
            return -UL_EINVAL;
        if (n == UL_RULE_MAGIC_MAX)
            return -UL_ERANGE;
        out[n++] = (uint8_t)(ul_hexval(v[i]) << 4 | ul_hexval(v[i + 1]));
        i += 2;
    }
    if (n == 0)
        return -UL_EINVAL;
    *ret_len = (uint8_t)n;
    return 0;
}

/*
 * An NTFS path glob: absolute, '/' read as '\', no empty, "." or ".."
 * components (they never match the canonical paths the walk produces), none
 * of the characters Windows forbids in names except the wildcards.
 */
static int parse_rule_path(const char *v, size_t vlen, char *out, const char **ret_why)
{
    if (vlen == 0 || vlen >= UL_RULE_PATH_MAX) {
        *ret_why = "must be 1..199 characters";
        return -UL_EINVAL;
    }
    for (size_t i = 0; i < vlen; i++) {
        char c = v[i] == '/' ? '\\' : v[i];
        if ((unsigned char)c < 0x20 || c == 0x7f || c == '"' || c == ':' || c == '<' ||
            c == '>' || c == '|') {
            *ret_why = "has a character NTFS names cannot hold";
            return -UL_EINVAL;
        }
        out[i] = c;
    }
    out[vlen] = 0;
    if (out[0] != '\\') {
        *ret_why = "must be absolute (\\Windows\\...)";
        return -UL_EINVAL;
    }
    for (size_t i = 1, start = 1; i <= vlen; i++) {
        if (i < vlen && out[i] != '\\')
            continue;
        size_t len = i - start;
        if (len == 0 || (len == 1 && out[start] == '.') ||
            (len == 2 && out[start] == '.' && out[start + 1] == '.')) {
            *ret_why = "has an empty, '.' or '..' component";
            return -UL_EINVAL;
        }
        start = i + 1;
    }
    return 0;
}

static void set_rule_key(struct parser *ps, uint32_t ln, const char *k, size_t klen,
                         const char *v, size_t vlen)
{
    struct ul_rule *r = ps->rule;
    struct ul_diags *d = ps->d;
    char qv[48], qk[40];
    /* A new rule that could not be read as written is not used at all. */
    const char *tail = ps->rule_new ? "; rule disabled" : "; unchanged";
    quote(qv, sizeof(qv), v, vlen);
    quote(qk, sizeof(qk), k, klen);

    if (eq(k, klen, "path")) {
        char path[UL_RULE_PATH_MAX];
        const char *why = "";
        if (parse_rule_path(v, vlen, path, &why) < 0) {
            diag(d, ln, false, "path: '%s' %s%s", qv, why, tail);
            goto bad;
        }
        ul_strlcpy(r->path, path, sizeof(r->path));
        return;
    }
    if (eq(k, klen, "content")) {
        static const enum ul_rule_content all[] = { UL_CONTENT_ANY, UL_CONTENT_BAD_MAGIC,
                                                    UL_CONTENT_ZERO,
                                                    UL_CONTENT_BAD_MAGIC_OR_ZERO };
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
            if (eq(v, vlen, ul_rule_content_name(all[i]))) {
                r->content = all[i];
                return;
            }
        }
        diag(d, ln, false, "content: '%s' is not any|bad-magic|zero|bad-magic-or-zero%s", qv,
             tail);
        goto bad;
    }
    if (eq(k, klen, "magic")) {
        uint8_t m[UL_RULE_MAGIC_MAX];
        uint8_t n;
        int err = parse_magic(v, vlen, m, &n);
        if (err < 0) {
            diag(d, ln, false, "magic: '%s' is not %s%s", qv,
                 err == -UL_ERANGE ? "at most 16 bytes" : "hex bytes (AA AA ...)", tail);
            goto bad;
        }
        ul_memset(r->magic, 0, sizeof(r->magic));
        ul_memcpy(r->magic, m, n);
        r->magic_len = n;
        return;
    }
    if (eq(k, klen, "skip_microsoft_dirs") || eq(k, klen, "enabled")) {
        bool b;
        if (parse_bool(v, vlen, &b) < 0) {
            diag(d, ln, false, "%s: '%s' is not yes|no%s", qk, qv, tail);
            goto bad;
        }
        if (eq(k, klen, "enabled"))
            r->enabled = b;
        else
            r->skip_microsoft_dirs = b;
        return;
    }
    diag(d, ln, false, "unknown key '%s' in [rule %s]%s", qk, r->name,
         ps->rule_new ? "; rule disabled" : " (ignored)");
bad:
    if (ps->rule_new)
        ps->broken |= 1u << (uint32_t)(r - ps->cfg->rules.r);
}

static void set_quarantine_key(struct parser *ps, uint32_t ln, const char *k, size_t klen,
                               const char *v, size_t vlen)
{
    char qv[48], qk[40];
    quote(qv, sizeof(qv), v, vlen);
    quote(qk, sizeof(qk), k, klen);

    for (size_t i = 0; i < sizeof(quarantine_keys) / sizeof(quarantine_keys[0]); i++) {
        const struct num_key *nk = &quarantine_keys[i];
        if (!eq(k, klen, nk->name))
            continue;
        uint32_t val;
        if (ul_parse_u32(v, vlen, &val) < 0 || val < nk->min || val > nk->max) {
            diag(ps->d, ln, false, "%s: '%s' is not a number in %u..%u; using the default",
                 nk->name, qv, nk->min, nk->max);
            return;
        }
        *(uint32_t *)((char *)&ps->cfg->rules + nk->offset) = val;
        return;
    }
    struct ul_volume_policy *vp = &ps->cfg->volume;
    bool b;
    if (eq(k, klen, "unclean_log")) {
        if (eq(v, vlen, "replay"))
            vp->unclean_log = UL_UNCLEAN_LOG_REPLAY;
        else if (eq(v, vlen, "replay-or-reset"))
            vp->unclean_log = UL_UNCLEAN_LOG_REPLAY_OR_RESET;
        else if (eq(v, vlen, "refuse"))
            vp->unclean_log = UL_UNCLEAN_LOG_REFUSE;
        else
            diag(ps->d, ln, false,
                 "unclean_log: '%s' is not replay|replay-or-reset|refuse; using replay", qv);
        return;
    }
    if (eq(k, klen, "hibernated")) {
        if (eq(v, vlen, "refuse"))
            vp->discard_hibernation = false;
        else if (eq(v, vlen, "discard"))
            vp->discard_hibernation = true;
        else
            diag(ps->d, ln, false, "hibernated: '%s' is not refuse|discard; using refuse", qv);
        return;
    }
    bool *flag = eq(k, klen, "repair_mirror") ? &vp->repair_mirror
               : eq(k, klen, "mark_dirty")    ? &vp->mark_dirty
                                              : NULL;
    if (flag) {
        if (parse_bool(v, vlen, &b) < 0)
            diag(ps->d, ln, false, "%s: '%s' is not yes|no; using yes", qk, qv);
        else
            *flag = b;
        return;
    }
    diag(ps->d, ln, false, "unknown key '%s' in [quarantine] (ignored)", qk);
}

static void set_bitlocker_key(struct parser *ps, uint32_t ln, const char *k, size_t klen,
                              const char *v, size_t vlen)
{
    struct ul_volume_policy *vp = &ps->cfg->volume;
    char qv[48], qk[40];
    quote(qv, sizeof(qv), v, vlen);
    quote(qk, sizeof(qk), k, klen);
    bool b;
    uint32_t val;

    if (eq(k, klen, "keys")) {
        char path[UL_LOADER_MAX];
        if (parse_esp_path(ps->d, ln, "keys", v, vlen, qv, path, sizeof(path)) == 0)
            ul_strlcpy(vp->key_dir, path, sizeof(vp->key_dir));
        return;
    }
    if (eq(k, klen, "prompt")) {
        if (parse_bool(v, vlen, &b) < 0)
            diag(ps->d, ln, false, "prompt: '%s' is not yes|no; using yes", qv);
        else
            vp->key_prompt = b;
        return;
    }
    if (eq(k, klen, "prompt_timeout")) {
        if (ul_parse_u32(v, vlen, &val) < 0 || val < 1 || val > 3600)
            diag(ps->d, ln, false, "prompt_timeout: '%s' is not a number in 1..3600; "
                 "using the default", qv);
        else
            vp->prompt_timeout = val;
        return;
    }
    diag(ps->d, ln, false, "unknown key '%s' in [bitlocker] (ignored)", qk);
}

/* A [script] action name; -1 if unknown. */
static int script_action(const char *v, size_t vlen)
{
    static const enum ul_action ok[] = { UL_ACTION_QUARANTINE, UL_ACTION_QUARANTINE_WIDE,
                                         UL_ACTION_RESTORE, UL_ACTION_SAFE_MODE,
                                         UL_ACTION_SAFE_MODE_NETWORK, UL_ACTION_SAFE_MODE_OFF };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (eq(v, vlen, action_names[ok[i]]))
            return (int)ok[i];
    return -1;
}

static void set_script_key(struct parser *ps, uint32_t ln, const char *k, size_t klen,
                           const char *v, size_t vlen)
{
    struct ul_script *sc = &ps->cfg->script;
    char qv[48], qk[40];
    quote(qv, sizeof(qv), v, vlen);
    quote(qk, sizeof(qk), k, klen);
    uint32_t before = ps->d->errors;

    if (eq(k, klen, "actions")) {
        sc->n_actions = 0;
        while (vlen) {
            size_t n = 0;
            while (n < vlen && v[n] != ',')
                n++;
            const char *a = v;
            size_t alen = n;
            trim(&a, &alen);
            int act = script_action(a, alen);
            char qa[40];
            quote(qa, sizeof(qa), a, alen);
            if (act < 0) {
                diag(ps->d, ln, false, "actions: '%s' is not quarantine|quarantine-wide|restore|"
                     "safe-mode|safe-mode-network|safe-mode-off", qa);
            } else if (sc->n_actions == UL_SCRIPT_MAX_ACTIONS) {
                diag(ps->d, ln, false, "actions: at most %u", UL_SCRIPT_MAX_ACTIONS);
            } else {
                sc->actions[sc->n_actions++] = (enum ul_action)act;
            }
            v += n < vlen ? n + 1 : n;
            vlen -= n < vlen ? n + 1 : n;
        }
        if (!sc->n_actions && ps->d->errors == before)
            diag(ps->d, ln, false, "actions: none given");
    } else if (eq(k, klen, "fallback")) {
        int act = eq(v, vlen, "none") ? (int)UL_ACTION_CONTINUE : script_action(v, vlen);
        if (act < 0)
            diag(ps->d, ln, false, "fallback: '%s' is not none or an action", qv);
        else
            sc->fallback = (enum ul_action)act;
    } else if (eq(k, klen, "rule")) {
        bool ok = vlen > 0 && vlen < sizeof(sc->rule);
        for (size_t i = 0; ok && i < vlen; i++)
            ok = name_char(v[i]);
        if (!ok) {
            diag(ps->d, ln, false, "rule: '%s' is not a rule name", qv);
        } else {
            ul_memcpy(sc->rule, v, vlen);
            sc->rule[vlen] = 0;
        }
    } else if (eq(k, klen, "select")) {
        uint32_t n;
        if (eq(v, vlen, "first")) {
            sc->select = UL_SELECT_FIRST;
        } else if (eq(v, vlen, "all")) {
            sc->select = UL_SELECT_ALL;
        } else if (vlen > 5 && ul_strncasecmp(v, "disk ", 5) == 0 &&
                   ul_parse_u32(v + 5, vlen - 5, &n) == 0 && n >= 1 && n <= 64) {
            sc->select = UL_SELECT_DISK;
            sc->select_disk = n;
        } else if (vlen > 6 && vlen - 6 < sizeof(sc->select_label) &&
                   ul_strncasecmp(v, "label ", 6) == 0) {
            sc->select = UL_SELECT_LABEL;
            ul_memcpy(sc->select_label, v + 6, vlen - 6);
            sc->select_label[vlen - 6] = 0;
        } else {
            diag(ps->d, ln, false, "select: '%s' is not first|all|disk N|label NAME", qv);
        }
    } else if (eq(k, klen, "key_file")) {
        char path[UL_LOADER_MAX];
        if (parse_esp_path(ps->d, ln, "key_file", v, vlen, qv, path, sizeof(path)) == 0)
            ul_strlcpy(sc->key_file, path, sizeof(sc->key_file));
    } else if (eq(k, klen, "then")) {
        if (eq(v, vlen, "reboot"))
            sc->then = UL_THEN_REBOOT;
        else if (eq(v, vlen, "poweroff"))
            sc->then = UL_THEN_POWEROFF;
        else if (eq(v, vlen, "boot"))
            sc->then = UL_THEN_BOOT;
        else if (eq(v, vlen, "menu"))
            sc->then = UL_THEN_MENU;
        else
            diag(ps->d, ln, false, "then: '%s' is not reboot|poweroff|boot|menu", qv);
    } else {
        diag(ps->d, ln, false, "unknown key '%s' in [script]", qk);
    }
    /* Half a script could do what its author did not mean: any error stops it. */
    if (ps->d->errors != before) {
        if (!sc->errors)
            sc->first_error_line = ln;
        sc->errors++;
    }
}

uint32_t ul_config_parse(const char *text, size_t len, struct ul_config *cfg,
                         struct ul_diags *diags)
{
    uint32_t ln = 0;
    /* Keys before any section header belong to [unloop]. */
    struct parser ps = { .cfg = cfg, .d = diags, .sec = SEC_UNLOOP };

    ul_memset(diags, 0, sizeof(*diags));
    if (len > UL_CONFIG_MAX_SIZE) {
        diag(diags, 0, false, "file is larger than %u bytes; only the start is read",
             UL_CONFIG_MAX_SIZE);
        len = UL_CONFIG_MAX_SIZE;
    }
    /* A UTF-8 byte order mark, as Windows Notepad writes it. */
    if (len >= 3 && (uint8_t)text[0] == 0xEF && (uint8_t)text[1] == 0xBB &&
        (uint8_t)text[2] == 0xBF)
        text += 3, len -= 3;

    size_t pos = 0;
    while (pos < len) {
        const char *line = text + pos;
        size_t n = 0;
        while (pos + n < len && line[n] != '\n')
            n++;
        pos += n + (pos + n < len);
        ln++;

        bool has_nul = false;
        for (size_t i = 0; i < n; i++)
            has_nul |= line[i] == 0;
        if (has_nul) {
            diag(diags, ln, false, "line contains a NUL byte (is the file UTF-16?); ignored");
            continue;
        }
        if (n > LINE_MAX_LEN) {
            diag(diags, ln, false, "line is longer than %u characters; ignored", LINE_MAX_LEN);
            continue;
        }
        trim(&line, &n);
        if (n == 0 || line[0] == '#' || line[0] == ';')
            continue;

        if (line[0] == '[') {
            if (line[n - 1] != ']') {
                finish_rule(&ps, ln);
                diag(diags, ln, false, "section header without ']'");
                ps.sec = SEC_IGNORED;
                continue;
            }
            const char *name = line + 1;
            size_t nlen = n - 2;
            trim(&name, &nlen);
            start_section(&ps, ln, name, nlen);
            continue;
        }

        size_t eqpos = 0;
        while (eqpos < n && line[eqpos] != '=')
            eqpos++;
        if (eqpos == n) {
            char q[48];
            quote(q, sizeof(q), line, n);
            diag(diags, ln, false, "expected 'key = value', got '%s'", q);
            continue;
        }
        const char *k = line, *v = line + eqpos + 1;
        size_t klen = eqpos, vlen = n - eqpos - 1;
        /* An inline comment starts at '#' or ';' after white space. */
        for (size_t i = 1; i < vlen; i++) {
            if ((v[i] == '#' || v[i] == ';') && ul_isspace(v[i - 1])) {
                vlen = i;
                break;
            }
        }
        trim(&k, &klen);
        trim(&v, &vlen);
        if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"')
            v++, vlen -= 2;
        if (klen == 0) {
            diag(diags, ln, false, "missing key name before '='");
            continue;
        }
        switch (ps.sec) {
        case SEC_UNLOOP:
            set_key(cfg, diags, ln, k, klen, v, vlen);
            break;
        case SEC_RULE:
            set_rule_key(&ps, ln, k, klen, v, vlen);
            break;
        case SEC_QUARANTINE:
            set_quarantine_key(&ps, ln, k, klen, v, vlen);
            break;
        case SEC_BITLOCKER:
            set_bitlocker_key(&ps, ln, k, klen, v, vlen);
            break;
        case SEC_SCRIPT:
            set_script_key(&ps, ln, k, klen, v, vlen);
            break;
        case SEC_IGNORED:
            break;
        }
    }
    finish_rule(&ps, ln);
    return diags->errors;
}
