/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Command-line options of unloop-agent, the same on Linux and Windows
 * (standard C only; each platform says which of them it accepts). */
#ifndef UL_AGENT_OPTS_H
#define UL_AGENT_OPTS_H

#include <stdbool.h>
#include <stdint.h>

#include "../shared/agent.h"

struct agent_opts {
    struct ul_agent_config cfg;
    const char *esp;            /* --esp: the ESP's directory or drive */
    uint32_t stop_after;        /* --refreshes N: stop after N refreshes (tests) */
    bool quiet;                 /* --quiet: only warnings and errors */
    bool help, version;
    /* Linux */
    const char *check_cmd;      /* --check-cmd CMD: "CMD NAME" exits 0 when running */
    const char *safe_mode_cmd;  /* --safe-mode-cmd CMD: clears Safe Mode (tests) */
    /* Windows */
    bool console, install, uninstall, service;
};

/*
 * Parse argv[first..argc); settings given in *o before the call (e.g. from
 * the registry) are overridden.  On error prints "PROG: reason" to stderr
 * and returns -1.
 */
int agent_opts_parse(struct agent_opts *o, int argc, char **argv, int first, const char *prog);
/* The usage text shared by both platforms (options of both are listed). */
extern const char agent_usage_common[];

#endif
