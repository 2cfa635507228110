/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * getopt and getopt_long with the GNU behaviours third-party mains rely on:
 * "--name", "--name=value", unambiguous prefixes of long names, "--" ends the
 * options, an optstring starting with '-' returns each non-option as option
 * 1 with optarg set, ':' and '::' for required and optional arguments, and
 * optind = 0 to start scanning afresh.  Without a leading '-', scanning stops
 * at the first non-option (no permutation of argv).
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

char *optarg;
int optind = 1, opterr = 1, optopt;

static const char *nextchar;    /* inside a group of short options, or NULL */

static int complain(const char *prog, const char *what, const char *name, int c)
{
    if (opterr) {
        if (name)
            fprintf(stderr, "%s: %s '--%s'\n", prog, what, name);
        else
            fprintf(stderr, "%s: %s '-%c'\n", prog, what, c);
    }
    return '?';
}

static int long_option(int argc, char *const argv[], const char *arg,
                       const struct option *longopts, int *longindex, const char *prog)
{
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    int found = -1;

    for (int i = 0; longopts[i].name; i++) {
        if (strncmp(longopts[i].name, arg, len))
            continue;
        if (strlen(longopts[i].name) == len) {
            found = i;
            break;
        }
        if (found >= 0) {
            optopt = 0;
            return complain(prog, "ambiguous option", arg, 0);
        }
        found = i;
    }
    if (found < 0) {
        optopt = 0;
        return complain(prog, "unrecognized option", arg, 0);
    }
    const struct option *o = &longopts[found];
    if (longindex)
        *longindex = found;
    if (eq) {
        if (o->has_arg == no_argument) {
            optopt = o->val;
            return complain(prog, "option takes no argument", o->name, 0);
        }
        optarg = (char *)eq + 1;
    } else if (o->has_arg == required_argument) {
        if (optind >= argc) {
            optopt = o->val;
            return complain(prog, "option requires an argument", o->name, 0);
        }
        optarg = argv[optind++];
    }
    if (o->flag) {
        *o->flag = o->val;
        return 0;
    }
    return o->val;
}

int getopt_long(int argc, char *const argv[], const char *optstring,
                const struct option *longopts, int *longindex)
{
    const char *prog = argc > 0 && argv[0] ? argv[0] : "";
    bool in_order = false;

    if (optind == 0) {
        optind = 1;
        nextchar = NULL;
    }
    if (*optstring == '-' || *optstring == '+') {
        in_order = *optstring == '-';
        optstring++;
    }
    optarg = NULL;
    if (!nextchar) {
        if (optind >= argc || !argv[optind])
            return -1;
        const char *arg = argv[optind];
        if (arg[0] != '-' || !arg[1]) {
            if (!in_order)
                return -1;
            optarg = (char *)arg;
            optind++;
            return 1;
        }
        if (arg[1] == '-') {
            optind++;
            if (!arg[2])
                return -1;      /* "--" */
            if (longopts)
                return long_option(argc, argv, arg + 2, longopts, longindex, prog);
            optopt = 0;
            return complain(prog, "unrecognized option", arg + 2, 0);
        }
        nextchar = arg + 1;
    }

    /* A group of short options: optind moves past it after its last one. */
    int c = (unsigned char)*nextchar++;
    const char *spec = c != ':' ? strchr(optstring, c) : NULL;
    bool last = !*nextchar;
    if (!spec) {
        optopt = c;
        if (last) {
            nextchar = NULL;
            optind++;
        }
        return complain(prog, "invalid option", NULL, c);
    }
    if (spec[1] == ':') {
        optind++;
        if (!last) {
            optarg = (char *)nextchar;
        } else if (spec[2] != ':') {
            if (optind >= argc) {
                optopt = c;
                nextchar = NULL;
                return *optstring == ':' ? ':' :
                       complain(prog, "option requires an argument", NULL, c);
            }
            optarg = argv[optind++];
        }
        nextchar = NULL;
    } else if (last) {
        nextchar = NULL;
        optind++;
    }
    return c;
}

int getopt(int argc, char *const argv[], const char *optstring)
{
    return getopt_long(argc, argv, optstring, NULL, NULL);
}
