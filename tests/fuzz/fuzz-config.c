/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for unloop.conf (systemd's fuzz-* pattern): the file is
 * untrusted input read before anything else in the boot, so any byte
 * sequence must parse without fault, and whatever comes out must be a
 * config the rest of the core can use as is.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond))                                                               \
            __builtin_trap();                                                      \
    } while (0)

static void check_diags(const struct ul_diags *d, uint32_t errors, uint32_t max_line)
{
    CHECK(errors == d->errors);
    CHECK(d->n <= UL_CONFIG_MAX_DIAGS);
    CHECK(d->n + d->dropped == d->errors + d->warnings);
    CHECK(d->dropped == 0 || d->n == UL_CONFIG_MAX_DIAGS);
    for (uint32_t i = 0; i < d->n; i++) {
        const struct ul_diag *e = &d->d[i];
        const char *end = memchr(e->msg, 0, sizeof(e->msg));
        CHECK(end != NULL);
        CHECK(end > e->msg);
        /* Messages go to the log and the screen: printable ASCII only, so a
         * crafted config cannot forge log lines or send escapes. */
        for (const char *p = e->msg; p < end; p++)
            CHECK(*p >= 0x20 && *p < 0x7f);
        CHECK(e->line <= max_line);
        CHECK(i == 0 || e->line >= d->d[i - 1].line);
    }
}

static void check_config(const struct ul_config *c)
{
    CHECK(c->threshold >= 1 && c->threshold <= 100);
    CHECK(c->menu_timeout <= 3600);
    CHECK(c->stop_timeout <= 86400);
    CHECK(c->log_size_kib >= 4 && c->log_size_kib <= 4096);
    CHECK((unsigned)c->default_action < UL_ACTION__MAX);
    CHECK(c->default_action != UL_ACTION_SHOW_LOG &&
          c->default_action != UL_ACTION_FIRMWARE_SETUP);
    CHECK(c->handoff == UL_HANDOFF_CHAINLOAD || c->handoff == UL_HANDOFF_BOOTNEXT ||
          c->handoff == UL_HANDOFF_AUTO);
    CHECK((unsigned)c->log_level <= UL_LOG_DEBUG);

    /* The loader goes to the firmware's file protocol as is. */
    const char *end = memchr(c->loader, 0, sizeof(c->loader));
    CHECK(end != NULL);
    CHECK(c->loader[0] == '\\');
    for (const char *p = c->loader; p < end; p++)
        CHECK(*p >= 0x20 && *p < 0x7f && !strchr("/\"*:<>?|", *p));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ul_config cfg;
    struct ul_diags diags;
    uint32_t lines = 1;

    /* A copy of exactly size bytes: ASan catches any read past the end. */
    char *text = malloc(size ? size : 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    for (size_t i = 0; i < size; i++)
        lines += text[i] == '\n';

    ul_config_defaults(&cfg);
    uint32_t errors = ul_config_parse(text, size, &cfg, &diags);
    check_diags(&diags, errors, lines);
    check_config(&cfg);

    /* Parsing is deterministic and does not depend on earlier values
     * except where a key is left out. */
    struct ul_config again;
    struct ul_diags d2;
    ul_config_defaults(&again);
    CHECK(ul_config_parse(text, size, &again, &d2) == errors);
    CHECK(memcmp(&again, &cfg, sizeof(cfg)) == 0);
    CHECK(memcmp(&d2, &diags, sizeof(diags)) == 0);

    free(text);
    return 0;
}
