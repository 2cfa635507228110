/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "config.h"
#include "string-util.h"
#include "unloop-contract.h"

#define LINE_MAX_LEN 512

void ul_config_defaults(struct ul_config *cfg)
{
    *cfg = (struct ul_config){
        .threshold = 3,
        .menu_timeout = 10,
        .stop_timeout = 0,
        .default_action = UL_ACTION_LADDER,
        .handoff = UL_HANDOFF_CHAINLOAD,
        .log_level = UL_LOG_INFO,
        .log_size_kib = 64,
    };
    ul_strlcpy(cfg->loader, UL_DEFAULT_LOADER, sizeof(cfg->loader));
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
    [UL_ACTION_FIRMWARE_SETUP] = "firmware-setup",
};

const char *ul_action_name(enum ul_action a)
{
    return (unsigned)a < UL_ACTION__MAX ? action_names[a] : "unknown";
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
    if (eq(k, klen, "loader")) {
        char path[UL_LOADER_MAX];
        if (vlen == 0 || vlen >= sizeof(path)) {
            diag(d, ln, false, "loader: path must be 1..%u characters; using the default",
                 (unsigned)sizeof(path) - 1);
            return;
        }
        for (size_t i = 0; i < vlen; i++) {
            char c = v[i] == '/' ? '\\' : v[i];
            /* FAT long names: printable ASCII minus the reserved characters. */
            if (c < 0x20 || c >= 0x7f || c == '"' || c == '*' || c == ':' || c == '<' ||
                c == '>' || c == '?' || c == '|') {
                diag(d, ln, false, "loader: '%s' has a character a FAT path cannot hold", qv);
                return;
            }
            path[i] = c;
        }
        path[vlen] = 0;
        if (path[0] != '\\') {
            diag(d, ln, false, "loader: '%s' must be an absolute path on the ESP (\\EFI\\...)",
                 qv);
            return;
        }
        ul_strlcpy(cfg->loader, path, sizeof(cfg->loader));
        return;
    }
    diag(d, ln, false, "unknown key '%s' (ignored)", qk);
}

uint32_t ul_config_parse(const char *text, size_t len, struct ul_config *cfg,
                         struct ul_diags *diags)
{
    uint32_t ln = 0;
    bool in_unloop = true; /* keys before any section header belong to [unloop] */

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
                diag(diags, ln, false, "section header without ']'");
                in_unloop = false;
                continue;
            }
            const char *name = line + 1;
            size_t nlen = n - 2;
            trim(&name, &nlen);
            in_unloop = eq(name, nlen, "unloop");
            if (!in_unloop) {
                char q[40];
                quote(q, sizeof(q), name, nlen);
                diag(diags, ln, false, "unknown section [%s]; its keys are ignored", q);
            }
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
        if (!in_unloop)
            continue;
        set_key(cfg, diags, ln, k, klen, v, vlen);
    }
    return diags->errors;
}
