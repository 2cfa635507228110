/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the CLI's command files share. */
#ifndef UL_CLI_H
#define UL_CLI_H

#include <stdbool.h>

enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,
    EXIT_USAGE = 2,
    EXIT_CONFIG_ERRORS = 3,
    EXIT_STATE_CORRUPT = 4,
    EXIT_BAD_HIVE = 5,
};

struct cli_opts {
    const char *esp;
    const char *bcd;
    bool json;
    bool network;
};

extern const char *prog;

int usage_error(const char *fmt, const char *arg);
/* The ESP directory named by --esp, $UNLOOP_ESP or a usual mount point; NULL if none. */
const char *find_esp(const char *given);

/* bcd-cmd.c */
struct ul_mem;
extern const struct ul_mem cli_mem;     /* calloc/free for the core */
int cmd_safe_mode(const struct cli_opts *o, const char *action);
int cmd_bcd_list(const struct cli_opts *o);

#endif
