/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "agent.h"
#include "string-util.h"
#include "time-util.h"
#include "ul-errno.h"
#include "unloop-contract.h"

/* ---- settings ---- */

void ul_agent_config_defaults(struct ul_agent_config *cfg)
{
    ul_memset(cfg, 0, sizeof(*cfg));
    cfg->delay_ms = UL_AGENT_DEFAULT_DELAY_MS;
    cfg->refresh_ms = UL_AGENT_DEFAULT_REFRESH_MS;
    cfg->retry_ms = UL_AGENT_DEFAULT_RETRY_MS;
}

int ul_agent_parse_duration(const char *s, uint32_t *ret_ms)
{
    size_t n = 0, len = ul_strlen(s);
    uint32_t v;
    uint64_t mult;

    while (n < len && s[n] >= '0' && s[n] <= '9')
        n++;
    if (n == 0)
        return -UL_EINVAL;
    const char *unit = s + n;
    if (!*unit || !ul_strcmp(unit, "s"))
        mult = 1000;
    else if (!ul_strcmp(unit, "ms"))
        mult = 1;
    else if (!ul_strcmp(unit, "m") || !ul_strcmp(unit, "min"))
        mult = 60 * 1000;
    else if (!ul_strcmp(unit, "h"))
        mult = 3600 * 1000;
    else
        return -UL_EINVAL;
    int r = ul_parse_u32(s, n, &v);
    if (r < 0)
        return r;
    if ((uint64_t)v * mult > UL_AGENT_MAX_MS)
        return -UL_ERANGE;
    *ret_ms = (uint32_t)((uint64_t)v * mult);
    return 0;
}

static bool service_char_ok(char c)
{
    /* The SCM refuses '/' and '\' in service names; ',' separates them
     * here; control characters have no business in a name. */
    return (unsigned char)c >= 0x20 && c != 0x7f && c != '/' && c != '\\' && c != ',';
}

static int parse_services(struct ul_agent_config *cfg, const char *value, char *err,
                          size_t err_size)
{
    static struct ul_agent_config tmp; /* too big for a firmware-sized stack */
    const char *p = value;

    tmp.n_services = 0;
    while (*p) {
        const char *start = p, *end;
        while (*p && *p != ',')
            p++;
        end = p;
        while (start < end && ul_isspace(*start))
            start++;
        while (end > start && ul_isspace(end[-1]))
            end--;
        size_t n = (size_t)(end - start);
        if (n == 0) {
            ul_snprintf(err, err_size, "services: empty service name in the list");
            return -UL_EINVAL;
        }
        if (n >= UL_AGENT_SERVICE_LEN) {
            ul_snprintf(err, err_size, "services: a name is longer than %u characters",
                        UL_AGENT_SERVICE_LEN - 1);
            return -UL_ERANGE;
        }
        for (size_t i = 0; i < n; i++)
            if (!service_char_ok(start[i])) {
                ul_snprintf(err, err_size, "services: '%.*s' has a character not allowed "
                            "in a service name", (int)(n > 60 ? 60 : n), start);
                return -UL_EINVAL;
            }
        if (tmp.n_services == UL_AGENT_MAX_SERVICES) {
            ul_snprintf(err, err_size, "services: more than %u services",
                        UL_AGENT_MAX_SERVICES);
            return -UL_ERANGE;
        }
        ul_memcpy(tmp.services[tmp.n_services], start, n);
        tmp.services[tmp.n_services][n] = 0;
        tmp.n_services++;
        if (*p == ',') {
            p++;
            if (!*p) {
                ul_snprintf(err, err_size, "services: empty service name in the list");
                return -UL_EINVAL;
            }
        }
    }
    cfg->n_services = tmp.n_services;
    ul_memcpy(cfg->services, tmp.services, sizeof(cfg->services));
    return 0;
}

int ul_agent_config_set(struct ul_agent_config *cfg, const char *key, const char *value,
                        char *err, size_t err_size)
{
    uint32_t ms;
    int r;

    if (err_size)
        err[0] = 0;
    if (!ul_strcmp(key, "services"))
        return parse_services(cfg, value, err, err_size);

    uint32_t *slot = !ul_strcmp(key, "delay")     ? &cfg->delay_ms
                     : !ul_strcmp(key, "refresh") ? &cfg->refresh_ms
                     : !ul_strcmp(key, "retry")   ? &cfg->retry_ms
                                                  : NULL;
    if (!slot) {
        ul_snprintf(err, err_size, "unknown setting '%.40s'", key);
        return -UL_EINVAL;
    }
    if (slot == &cfg->refresh_ms && (!ul_strcmp(value, "off") || !ul_strcmp(value, "0"))) {
        cfg->refresh_ms = 0;
        return 0;
    }
    r = ul_agent_parse_duration(value, &ms);
    if (r == -UL_ERANGE) {
        ul_snprintf(err, err_size, "%s: '%.40s' is longer than a week", key, value);
        return r;
    }
    if (r < 0) {
        ul_snprintf(err, err_size, "%s: '%.40s' is not a duration (e.g. 120, 90s, 15m, 2h, "
                    "500ms)", key, value);
        return r;
    }
    if (slot != &cfg->delay_ms && ms < UL_AGENT_MIN_INTERVAL_MS) {
        ul_snprintf(err, err_size, "%s: '%.40s' is shorter than one second", key, value);
        return -UL_ERANGE;
    }
    *slot = ms;
    return 0;
}

/* ---- the steps ---- */

int ul_agent_check(struct ul_agent *a)
{
    char why[64];
    unsigned bad = 0;

    if (a->cfg->n_services == 0)
        return 0;
    if (a->ops->in_safe_mode && a->ops->in_safe_mode(a->ctx)) {
        ul_logf(a->log, UL_LOG_NOTICE, "Safe Mode: service checks skipped");
        return 0;
    }
    for (unsigned i = 0; i < a->cfg->n_services; i++) {
        const char *name = a->cfg->services[i];
        why[0] = 0;
        int r = a->ops->service_state(a->ctx, name, why, sizeof(why));
        if (r == UL_AGENT_SVC_RUNNING)
            continue;
        bad++;
        if (r == -UL_ENOENT)
            ul_logf(a->log, UL_LOG_WARNING, "check: service %s is not installed", name);
        else if (r < 0)
            ul_logf(a->log, UL_LOG_WARNING, "check: cannot query service %s: %s", name,
                    ul_strerror(r));
        else
            ul_logf(a->log, UL_LOG_WARNING, "check: service %s is not running (%s)", name,
                    why[0] ? why : "unknown state");
    }
    if (!bad)
        return 0;
    a->checks_failed++;
    return UL_AGENT_UNHEALTHY;
}

static uint64_t utc_now(struct ul_agent *a)
{
    struct ul_time now = ul_clock_now(&a->clock);
    return now.valid && now.secs > 0 ? (uint64_t)now.secs : 0;
}

/* Read the state for an update; logs and returns < 0 when it must not be
 * written (missing file, read error). */
static int read_for_update(struct ul_agent *a, struct ul_state *st, struct ul_state_info *info)
{
    int err;

    ul_state_read(&a->esp, st, info, &err);
    if (err) {
        a->write_errors++;
        return ul_log_err(a->log, err, "cannot read %s; nothing written", UL_STATE_PATH);
    }
    switch (info->health) {
    case UL_STATE_MISSING:
        ul_logf(a->log, UL_LOG_WARNING, "%s is missing: unloop.efi has not run from this ESP "
                "(or this is not the ESP it boots from); nothing written", UL_STATE_PATH);
        return -UL_ENOENT;
    case UL_STATE_CORRUPT:
        ul_logf(a->log, UL_LOG_WARNING, "%s is corrupt (no valid slot); writing a fresh record",
                UL_STATE_PATH);
        break;
    case UL_STATE_DEGRADED:
        ul_logf(a->log, UL_LOG_NOTICE, "%s: slot %d is damaged; it is rewritten now",
                UL_STATE_PATH, 1 - info->slot);
        break;
    case UL_STATE_OK:
        break;
    }
    return 0;
}

static void flush_log(struct ul_agent *a)
{
    int r = ul_log_flush(a->log, &a->esp, a->log_max_bytes ? a->log_max_bytes : 64 * 1024);
    if (r < 0)
        ul_logf(a->log, UL_LOG_WARNING, "cannot append to %s: %s", UL_LOG_PATH, ul_strerror(r));
    /* Whatever is still buffered is not written later: refreshes keep to
     * one small ESP write each. */
    a->log->len = 0;
    a->log->lost = 0;
}

int ul_agent_bless(struct ul_agent *a)
{
    struct ul_state st;
    struct ul_state_info info;
    int r = read_for_update(a, &st, &info);
    if (r < 0)
        goto fail;

    uint32_t prev = st.attempts;
    uint64_t now = utc_now(a);
    if (st.attempts || st.rung || info.health == UL_STATE_CORRUPT) {
        ul_state_apply_bless(&st, now);
    } else {
        /* No boot counted since the last bless (the agent restarted, or
         * this boot did not come through unloop.efi): only the time moves,
         * so what fixed the last loop stays on record. */
        st.last_good = now;
    }

    /* unloop's Safe Mode is for one boot, and this is it. */
    bool had_safe_mode = st.flags & UL_STATE_F_SAFEMODE_SET;
    if (had_safe_mode) {
        if (!a->ops->clear_safe_mode) {
            ul_logf(a->log, UL_LOG_NOTICE, "one-shot Safe Mode left for unloop.efi to clear "
                    "on the next boot");
        } else {
            int c = a->ops->clear_safe_mode(a->ctx);
            if (c == 0) {
                st.flags &= (uint16_t)~UL_STATE_F_SAFEMODE_SET;
                ul_logf(a->log, UL_LOG_NOTICE, "one-shot Safe Mode cleared after a good boot");
            } else {
                /* The flag stays: unloop.efi clears the BCD store itself on
                 * the next boot (it sees attempts == 0 and the flag). */
                ul_log_err(a->log, c, "cannot clear unloop's one-shot Safe Mode; unloop.efi "
                           "will on the next boot");
            }
        }
    }

    r = ul_state_write(&a->esp, &st, &info);
    if (r < 0) {
        a->write_errors++;
        ul_log_err(a->log, r, "cannot write %s", UL_STATE_PATH);
        goto fail;
    }
    if (had_safe_mode && !(st.flags & UL_STATE_F_SAFEMODE_SET))
        a->safe_mode_cleared = true;
    a->blessed = true;
    ul_logf(a->log, UL_LOG_NOTICE, "boot blessed by the agent: %u attempt%s reset%s%s", prev,
            prev == 1 ? "" : "s", st.fixed_by ? "; fixed by " : "",
            st.fixed_by ? ul_rung_name(st.fixed_by) : "");
    flush_log(a);
    return 0;

fail:
    /* Retried every retry_ms: only the first failure goes to the ESP's log,
     * so a failure does not become an ESP write every retry; and nothing at
     * all is written to an ESP without a state file (it may be the wrong
     * one: another disk's, another OS's). */
    if (++a->bless_failures == 1 && r != -UL_ENOENT) {
        flush_log(a);
    } else {
        a->log->len = 0;
        a->log->lost = 0;
    }
    return r;
}

int ul_agent_refresh(struct ul_agent *a)
{
    struct ul_state st;
    struct ul_state_info info;
    uint64_t now = utc_now(a);
    int r;

    if (!now) {
        ul_logf(a->log, UL_LOG_WARNING, "no valid clock; last-good time not refreshed");
        return -UL_EINVAL;
    }
    r = read_for_update(a, &st, &info);
    if (r < 0)
        return r;
    if (st.attempts || st.rung || info.health == UL_STATE_CORRUPT) {
        /* Someone put a count back while we ran (a restored file?): this boot
         * is still the good one.  Safe Mode is left alone: a flag set now is
         * for the next boot. */
        ul_logf(a->log, UL_LOG_NOTICE, "state shows %u attempt%s while this boot runs "
                "healthy; reset", st.attempts, st.attempts == 1 ? "" : "s");
        ul_state_apply_bless(&st, now);
    } else {
        st.last_good = now;
    }
    r = ul_state_write(&a->esp, &st, &info);
    if (r < 0) {
        a->write_errors++;
        return ul_log_err(a->log, r, "cannot write %s", UL_STATE_PATH);
    }
    a->refreshes++;
    char t[32];
    ul_time_format((int64_t)now, t, sizeof(t));
    ul_logf(a->log, UL_LOG_INFO, "last-good time refreshed: %s UTC", t);
    return 0;
}

/* ---- the loop ---- */

static void fmt_ms(uint32_t ms, char *buf, size_t size)
{
    if (ms % 1000)
        ul_snprintf(buf, size, "%ums", ms);
    else
        ul_snprintf(buf, size, "%us", ms / 1000);
}

int ul_agent_run(struct ul_agent *a)
{
    const struct ul_agent_config *cfg = a->cfg;
    char d[16], f[16];

    fmt_ms(cfg->delay_ms, d, sizeof(d));
    fmt_ms(cfg->refresh_ms, f, sizeof(f));
    ul_logf(a->log, UL_LOG_INFO, "agent started: bless after %s, %u service check%s, refresh %s%s",
            d, cfg->n_services, cfg->n_services == 1 ? "" : "s",
            cfg->refresh_ms ? "every " : "", cfg->refresh_ms ? f : "off");

    if (cfg->delay_ms && a->ops->sleep(a->ctx, cfg->delay_ms))
        return 0;

    for (;;) {
        uint32_t wait;
        bool healthy = ul_agent_check(a) == 0;

        if (!a->blessed) {
            int r = healthy ? ul_agent_bless(a) : UL_AGENT_UNHEALTHY;
            if (cfg->once)
                return r;
            if (!a->blessed) {
                /* Not healthy yet, or the ESP could not be written: the
                 * lines so far are the log's only trace, keep them short. */
                a->log->len = 0;
                wait = cfg->retry_ms;
                goto sleep;
            }
            if (!cfg->refresh_ms)
                return 0;
        } else if (healthy) {
            ul_agent_refresh(a);
        } else {
            ul_logf(a->log, UL_LOG_WARNING, "not healthy: last-good time not refreshed");
        }
        /* Refresh lines are not written to the ESP's log (one write per
         * refresh); the platform's sink has them. */
        a->log->len = 0;
        a->log->lost = 0;
        wait = cfg->refresh_ms;
    sleep:
        if (a->ops->sleep(a->ctx, wait))
            return 0;
    }
}
