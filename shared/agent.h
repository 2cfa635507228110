/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The OS agent's logic (unloop-agent.exe on Windows, unloop-agent on Linux):
 * wait, check that the system is healthy, mark the boot good ("bless"),
 * clear unloop's one-shot Safe Mode, then refresh the last-good time while
 * the system stays healthy.  The platform supplies the ESP, the clock and
 * the ops below; nothing here includes an OS header.
 *
 * Why refresh: quarantine's "recent" is measured from the last good time
 * (DESIGN §3).  A machine that has been up for days and then receives a bad
 * driver update (the CrowdStrike channel file of July 2024) should see that
 * file as "changed minutes before the crash", not lost among everything
 * changed since the boot days ago.
 */
#ifndef UL_AGENT_H
#define UL_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot-state.h"
#include "log.h"
#include "ops.h"

#define UL_AGENT_MAX_SERVICES   16
#define UL_AGENT_SERVICE_LEN    257     /* Windows' limit is 256 characters */

#define UL_AGENT_DEFAULT_DELAY_MS   (120u * 1000u)
#define UL_AGENT_DEFAULT_REFRESH_MS (15u * 60u * 1000u)
#define UL_AGENT_DEFAULT_RETRY_MS   (30u * 1000u)
/* Bounds: a refresh is one ESP write, so it may not come more often than
 * once a second; nothing waits longer than a week. */
#define UL_AGENT_MIN_INTERVAL_MS    1000u
#define UL_AGENT_MAX_MS             (7u * 24u * 3600u * 1000u)

struct ul_agent_config {
    uint32_t delay_ms;      /* from the agent's start to the first check */
    uint32_t refresh_ms;    /* between last-good refreshes; 0 = never refresh */
    uint32_t retry_ms;      /* between checks while they fail (or bless fails) */
    bool once;              /* bless (after delay and checks), then return */
    unsigned n_services;    /* services that must be running before a bless */
    char services[UL_AGENT_MAX_SERVICES][UL_AGENT_SERVICE_LEN];
};

void ul_agent_config_defaults(struct ul_agent_config *cfg);
/*
 * Set one setting from untrusted text (a command-line flag, a registry
 * value): key "delay", "refresh", "retry" take a duration ("120", "120s",
 * "500ms", "15m", "2h"; a plain number is seconds; "refresh" also takes
 * "0"/"off"); "services" takes a comma-separated list of service names
 * (replacing the list; "" empties it).  On error returns -UL_EINVAL or
 * -UL_ERANGE, leaves cfg unchanged and puts a one-line reason in err.
 */
int ul_agent_config_set(struct ul_agent_config *cfg, const char *key, const char *value,
                        char *err, size_t err_size);
/* A duration as above, in milliseconds, bounded by UL_AGENT_MAX_MS. */
int ul_agent_parse_duration(const char *s, uint32_t *ret_ms);

/* ul_agent_check() and ul_agent_run(): the system is not healthy (yet). */
#define UL_AGENT_UNHEALTHY 1

enum ul_agent_check {
    UL_AGENT_SVC_RUNNING = 0,
    UL_AGENT_SVC_NOT_RUNNING = 1,   /* installed, in another state (see why) */
};

struct ul_agent_ops {
    /* Wait ms milliseconds.  Returns true when the agent must stop (the
     * service was told to stop, a signal came); the wait may end early then. */
    bool (*sleep)(void *ctx, uint32_t ms);
    /* Is the named service running?  UL_AGENT_SVC_* or a negative code
     * (-UL_ENOENT: no such service).  why gets a short state name. */
    int (*service_state)(void *ctx, const char *name, char *why, size_t why_size);
    /* Optional: remove unloop's one-shot Safe Mode from the running OS's BCD
     * store (on Windows the store is held open by the OS, so `bcdedit
     * /deletevalue {default} safeboot`).  NULL: leave it to unloop.efi, which
     * clears it on the next boot. */
    int (*clear_safe_mode)(void *ctx);
    /* Optional: is the running system in Safe Mode?  Then the service checks
     * are skipped: Safe Mode starts only a minimal set of services, and
     * reaching it is what unloop's Safe Mode rung was for. */
    bool (*in_safe_mode)(void *ctx);
};

struct ul_agent {
    const struct ul_agent_config *cfg;
    const struct ul_agent_ops *ops;
    void *ctx;
    struct ul_volume esp;
    struct ul_clock clock;
    struct ul_log *log;
    uint32_t log_max_bytes;     /* for \EFI\unloop\log (0: 64 KiB) */

    /* What happened, for the platform's exit code and for tests. */
    bool blessed;
    bool safe_mode_cleared;
    uint32_t checks_failed;     /* check rounds that failed */
    uint32_t refreshes;         /* last-good refreshes written */
    uint32_t write_errors;      /* state reads/writes that failed */
    uint32_t bless_failures;    /* bless attempts that wrote nothing */
};

/*
 * Run until stopped: wait cfg->delay_ms, check, bless (retrying every
 * retry_ms while checks or the bless fail), then every refresh_ms check
 * again and refresh the last-good time when healthy.  With cfg->once,
 * return after the first check round.  Returns 0 when blessed (once) or
 * stopped; UL_AGENT_UNHEALTHY when once and the checks failed; a negative
 * code when once and the bless failed.
 */
int ul_agent_run(struct ul_agent *a);

/* The steps, for platforms and tests. */
/* 0 when every configured service is running (or the system is in Safe
 * Mode); UL_AGENT_UNHEALTHY otherwise, each failure logged. */
int ul_agent_check(struct ul_agent *a);
/*
 * Mark this boot good: read the state, reset the count, record the time,
 * clear unloop's one-shot Safe Mode if the state says unloop set it, and
 * write the record (one slot write) and the log.  A missing state file is
 * not created and nothing at all is written (-UL_ENOENT: unloop.efi has not
 * run from this ESP, or this is the wrong ESP); a read error writes no
 * state; a corrupt file is replaced by a fresh record, as `unloop bless`
 * does.
 */
int ul_agent_bless(struct ul_agent *a);
/* Record "still good now" in last_good (one slot write; never touches
 * Safe Mode or the log file). */
int ul_agent_refresh(struct ul_agent *a);

#endif
