/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the agent's untrusted inputs: the settings (command
 * line, registry values) and the state file it blesses.
 *   byte 0 even: byte 1 picks a setting, the rest is its value; a refused
 *                value must leave the settings as they were, an accepted
 *                one must be within bounds.
 *   byte 0 odd:  the rest is \EFI\unloop\state on a fake ESP; a bless must
 *                not fault, and afterwards the file holds either the same
 *                bytes (nothing written) or a valid record with no attempts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "boot-state.h"
#include "fake-volume.h"
#include "ul-errno.h"
#include "unloop-contract.h"

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond))                                                               \
            __builtin_trap();                                                      \
    } while (0)

static bool f_sleep(void *ctx, uint32_t ms) { (void)ctx; (void)ms; return true; }
static int f_state(void *ctx, const char *n, char *why, size_t size)
{
    (void)ctx; (void)n; (void)why; (void)size;
    return UL_AGENT_SVC_RUNNING;
}
static unsigned clears;
static int f_clear(void *ctx) { (void)ctx; clears++; return 0; }
static const struct ul_agent_ops ops = { .sleep = f_sleep, .service_state = f_state,
                                         .clear_safe_mode = f_clear };

static void fuzz_setting(const uint8_t *data, size_t size)
{
    static const char *const keys[] = { "delay", "refresh", "retry", "services", "other" };
    struct ul_agent_config cfg, before;
    char err[200], *value = malloc(size + 1);
    if (!value)
        return;
    const char *key = keys[size ? data[0] % 5 : 0];
    if (size) {
        memcpy(value, data + 1, size - 1);
        value[size - 1] = 0;
    } else {
        value[0] = 0;
    }
    ul_agent_config_defaults(&cfg);
    memcpy(&before, &cfg, sizeof(cfg));
    int r = ul_agent_config_set(&cfg, key, value, err, sizeof(err));
    CHECK(memchr(err, 0, sizeof(err)) != NULL);
    if (r < 0) {
        CHECK(err[0] != 0);
        CHECK(memcmp(&cfg, &before, sizeof(cfg)) == 0);
    } else {
        CHECK(cfg.delay_ms <= UL_AGENT_MAX_MS && cfg.refresh_ms <= UL_AGENT_MAX_MS &&
              cfg.retry_ms <= UL_AGENT_MAX_MS && cfg.retry_ms >= UL_AGENT_MIN_INTERVAL_MS);
        CHECK(cfg.refresh_ms == 0 || cfg.refresh_ms >= UL_AGENT_MIN_INTERVAL_MS);
        CHECK(cfg.n_services <= UL_AGENT_MAX_SERVICES);
        for (unsigned i = 0; i < cfg.n_services; i++) {
            size_t n = strlen(cfg.services[i]);
            CHECK(n > 0 && n < UL_AGENT_SERVICE_LEN);
            CHECK(!strchr(cfg.services[i], ',') && !strchr(cfg.services[i], '\\'));
        }
    }
    free(value);
}

static struct fake_volume vol;
static bool vol_ready;

static void fuzz_state(const uint8_t *data, size_t size)
{
    struct fake_clock clk;
    struct ul_log log;
    struct ul_agent_config cfg;
    struct ul_agent a;
    struct ul_state before, after;
    struct ul_state_info info_before, info_after;

    if (!vol_ready) {
        fake_volume_init(&vol);
        vol_ready = true;
    }
    fake_volume_reset(&vol);
    fake_clock_set(&clk, 1721370000, 0, true);
    CHECK(fake_volume_put(&vol, UL_STATE_PATH, data, size) == 0);
    ul_state_parse(data, size, &before, &info_before);

    ul_agent_config_defaults(&cfg);
    memset(&a, 0, sizeof(a));
    a.clock = fake_clock_get(&clk);
    ul_log_init(&log, NULL, NULL, &a.clock, "agent");
    a.cfg = &cfg;
    a.ops = &ops;
    a.esp = fake_volume_get(&vol);
    a.log = &log;
    clears = 0;
    int r = ul_agent_bless(&a);

    size_t len;
    const uint8_t *p = fake_volume_peek(&vol, UL_STATE_PATH, &len);
    CHECK(p != NULL);
    ul_state_parse(p, len, &after, &info_after);
    CHECK(r == 0);
    CHECK(info_after.health == UL_STATE_OK || info_after.health == UL_STATE_DEGRADED);
    CHECK(after.attempts == 0 && after.rung == UL_RUNG_NONE);
    CHECK(after.last_good == 1721370000);
    CHECK(after.flags == (before.flags & (uint16_t)~UL_STATE_F_SAFEMODE_SET));
    CHECK(clears == ((before.flags & UL_STATE_F_SAFEMODE_SET) ? 1u : 0u));
    /* Every byte outside the slot written is as it was. */
    size_t slot_off = (size_t)info_after.slot * UL_STATE_SLOT_STRIDE;
    for (size_t i = 0; i < size && i < len; i++)
        if (i < slot_off || i >= slot_off + UL_STATE_SLOT_SIZE)
            CHECK(p[i] == data[i] || info_before.health == UL_STATE_CORRUPT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        fuzz_state(data + 1, size - 1);
    else
        fuzz_setting(data + 1, size - 1);
    return 0;
}
