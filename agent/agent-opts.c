/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "agent-opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char agent_usage_common[] =
    "  --esp PATH        the EFI system partition (a directory; on Windows a drive\n"
    "                    such as S:\\ or \\\\?\\Volume{GUID}\\); default: found\n"
    "  --delay D         wait D before the first check (default 120s)\n"
    "  --services A,B    services that must be running before the boot is blessed\n"
    "  --retry D         check again after D while checks fail (default 30s)\n"
    "  --refresh D       refresh the last-good time every D while healthy\n"
    "                    (default 15m; 'off' never)\n"
    "  --once            bless once (after the delay and checks), then exit\n"
    "  --refreshes N     exit after N refreshes (for tests)\n"
    "  --quiet           print only warnings and errors\n"
    "  D is a number of seconds, or a number with ms, s, m or h (90s, 15m).\n";

static const char *const value_opts[] = { "--esp", "--delay", "--refresh", "--retry",
                                          "--services", "--refreshes", "--check-cmd",
                                          "--safe-mode-cmd" };

int agent_opts_parse(struct agent_opts *o, int argc, char **argv, int first, const char *prog)
{
    char err[200];

    for (int i = first; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        char name[32];
        const char *eq = strchr(a, '=');

        /* --name=value or --name value */
        size_t n = eq && strncmp(a, "--", 2) == 0 ? (size_t)(eq - a) : strlen(a);
        if (n >= sizeof(name)) {
            fprintf(stderr, "%s: unknown option '%.40s' (see --help)\n", prog, a);
            return -1;
        }
        memcpy(name, a, n);
        name[n] = 0;
        bool takes = false;
        for (size_t k = 0; k < sizeof(value_opts) / sizeof(value_opts[0]); k++)
            takes |= strcmp(name, value_opts[k]) == 0;
        if (takes) {
            if (eq && n < strlen(a))
                v = eq + 1;
            else if (i + 1 < argc)
                v = argv[++i];
            else {
                fprintf(stderr, "%s: %s needs a value\n", prog, name);
                return -1;
            }
        } else if (eq && n < strlen(a)) {
            fprintf(stderr, "%s: %s takes no value\n", prog, name);
            return -1;
        }

        if (!strcmp(name, "--esp")) {
            o->esp = v;
        } else if (!strcmp(name, "--delay") || !strcmp(name, "--refresh") ||
                   !strcmp(name, "--retry") || !strcmp(name, "--services")) {
            if (ul_agent_config_set(&o->cfg, name + 2, v, err, sizeof(err)) < 0) {
                fprintf(stderr, "%s: --%s\n", prog, err);
                return -1;
            }
        } else if (!strcmp(name, "--refreshes")) {
            char *end;
            unsigned long x = strtoul(v, &end, 10);
            if (!*v || *end || x == 0 || x > 1000000) {
                fprintf(stderr, "%s: --refreshes: '%.40s' is not a count from 1 to 1000000\n",
                        prog, v);
                return -1;
            }
            o->stop_after = (uint32_t)x;
        } else if (!strcmp(name, "--check-cmd")) {
            o->check_cmd = v;
        } else if (!strcmp(name, "--safe-mode-cmd")) {
            o->safe_mode_cmd = v;
        } else if (!strcmp(name, "--once")) {
            o->cfg.once = true;
        } else if (!strcmp(name, "--quiet")) {
            o->quiet = true;
        } else if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
            o->help = true;
        } else if (!strcmp(name, "--version")) {
            o->version = true;
        } else if (!strcmp(name, "--console")) {
            o->console = true;
        } else if (!strcmp(name, "--install")) {
            o->install = true;
        } else if (!strcmp(name, "--uninstall")) {
            o->uninstall = true;
        } else if (!strcmp(name, "--service")) {
            o->service = true;
        } else {
            fprintf(stderr, "%s: unknown option '%.40s' (see --help)\n", prog, a);
            return -1;
        }
    }
    return 0;
}
