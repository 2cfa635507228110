/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * unloop: the Linux command-line side of unloop (rescue systems, live USB,
 * scripts, and the OS agent's "bless").  Exit codes (stable, see unloop(8)):
 *   0  success
 *   1  the operation failed (I/O error, cannot write the ESP, ...)
 *   2  usage error (unknown command or option, missing argument)
 *   3  config check: the file has errors (unloop.efi would use defaults for them)
 *   4  status: the state file is corrupt (unloop.efi would count from zero)
 *   5  safe-mode, bcd: the BCD store is not a valid hive, or is dirty
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../shared/boot-state.h"
#include "../shared/config.h"
#include "../shared/decide.h"
#include "../shared/log.h"
#include "../shared/run.h"
#include "../shared/bcd-store.h"
#include "../shared/time-util.h"
#include "../shared/unloop-contract.h"
#include "cli.h"
#include "json.h"
#include "posix-volume.h"

const char *prog = "unloop";

static const char usage_text[] =
    "Usage: unloop [--json] COMMAND [OPTIONS]\n"
    "\n"
    "Boot-loop recovery for Windows PCs: the OS-side tool of unloop.efi.\n"
    "\n"
    "Commands:\n"
    "  status  [--esp DIR]   show the boot-attempt state and what the next boot will do\n"
    "  bless   [--esp DIR]   mark this boot good: reset the count, record the time (UTC)\n"
    "  config check FILE     validate an unloop.conf\n"
    "  safe-mode status|on|off [--network] (--esp DIR | --bcd FILE)\n"
    "                        Safe Mode of the default Windows loader in the BCD store\n"
    "  bcd list (--esp DIR | --bcd FILE)\n"
    "                        the objects of a BCD store\n"
    "  scan DISK             recently changed third-party driver content on the Windows\n"
    "                        volume of DISK (a disk, a disk image or an NTFS volume image)\n"
    "  quarantine DISK       move it to \\unloop.quarantine (journaled; never deletes)\n"
    "  restore DISK          put back the files of the last (or --run ID) quarantine\n"
    "  journal DISK          what was quarantined and restored, file by file\n"
    "                        (on a BitLocker volume: with --recovery-password, --password,\n"
    "                        --bek or --key-file)\n"
    "  bitlocker info DISK   a BitLocker volume's encryption, state and key protectors\n"
    "  bitlocker unlock DISK (--recovery-password P | --password P | --bek FILE |\n"
    "                        --key-file FILE)\n"
    "                        --output FILE   write the decrypted volume to a new FILE\n"
    "  report summarize DIR [--csv]\n"
    "                        a folder of unloop.efi's recovery reports (*.json) as a\n"
    "                        table, one row per machine, with totals per outcome\n"
    "  install --esp DIR [--efi FILE] [--conf FILE] [--force] [--no-entry] [--dry-run]\n"
    "                        put unloop.efi on the ESP and a firmware boot entry for it\n"
    "                        first in BootOrder, Windows Boot Manager next (unloop(8))\n"
    "  uninstall --esp DIR [--dry-run]\n"
    "                        undo an install exactly, from \\EFI\\unloop\\install.rec\n"
    "  policy verify [--esp DIR] [PUBLIC-KEY]\n"
    "                        does unloop.conf.sig sign unloop.conf (signed policy: the key\n"
    "                        built into a policy build, or PUBLIC-KEY)\n"
    "  policy sign [--esp DIR] PRIVATE-KEY\n"
    "                        write unloop.conf.sig for the ESP's unloop.conf (P-256 key)\n"
    "  help                  this text\n"
    "\n"
    "Options:\n"
    "  --esp DIR     the mounted EFI system partition (default: $UNLOOP_ESP, then\n"
    "                /boot/efi, /efi or /boot, whichever holds an EFI directory)\n"
    "  --bcd FILE    a BCD store file instead of the ESP's \\EFI\\Microsoft\\Boot\\BCD\n"
    "  --network     with 'safe-mode on': Safe Mode with networking\n"
    "  --partition N the Windows volume is partition N of DISK (default: found by\n"
    "                looking for \\Windows\\System32 on the basic data partitions)\n"
    "  --since TIME  recent means changed after TIME (UTC: 2024-07-19T04:00:00Z, @SECONDS);\n"
    "                default: the last good boot in --esp DIR's state, else 24 h before\n"
    "                the newest matching file\n"
    "  --config FILE rules from FILE (default: --esp DIR's unloop.conf, else built in)\n"
    "  --rule NAME   only this rule\n"
    "  --newest      quarantine only the newest candidate\n"
    "  --dry-run     show what quarantine would move, change nothing\n"
    "  --run ID      restore this run (YYYYMMDD-hhmmss) instead of the last one\n"
    "  --reset-log   if an unclean NTFS $LogFile cannot be replayed, reset it\n"
    "                (default: refuse; a log that replays is always replayed)\n"
    "  --remove-hiberfile  allow discarding a hibernated session (default: refuse)\n"
    "  --recovery-password P\n"
    "                the 48-digit recovery password ('-': read a line from stdin)\n"
    "  --password P  the volume's password ('-': read a line from stdin)\n"
    "  --bek FILE    a startup key file ({GUID}.BEK)\n"
    "  --key-file FILE\n"
    "                recovery passwords by key protector ID ('-': stdin): an Active\n"
    "                Directory or Entra ID CSV export, manage-bde -protectors -get\n"
    "                output, BitLocker's recovery key .TXT, or GUID PASSWORD lines;\n"
    "                the one for the volume's protector is used (a .BEK file works too)\n"
    "  --output FILE where bitlocker unlock writes the decrypted volume (a new file,\n"
    "                or a block device)\n"
    "  --csv         with 'report summarize': RFC 4180 CSV with a header row\n"
    "  --json        machine-readable output on stdout (keys documented in unloop(8))\n"
    "  -h, --help    this text\n"
    "  --version     print the version\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 usage error, 3 config has errors,\n"
    "4 state file corrupt, 5 BCD store invalid or dirty.\n";

int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'unloop --help'.\n");
    return EXIT_USAGE;
}

/* ---- log sink: the CLI prints warnings on stderr, the rest goes to the log file ---- */

static void cli_sink(void *ctx, enum ul_log_level level, const char *msg)
{
    bool quiet = *(bool *)ctx;
    if (level <= UL_LOG_WARNING && !quiet)
        fprintf(stderr, "%s: %s\n", prog, msg);
}

static const struct ul_log_sink_ops cli_sink_ops = { .write = cli_sink };

/* ---- ESP ---- */

static int open_esp(const char *given, struct ul_posix_volume *pv, struct ul_volume *vol,
                    const char **ret_dir)
{
    const char *dir = ul_posix_find_esp(given);
    if (!dir) {
        fprintf(stderr, "%s: no ESP found; name it with --esp DIR\n", prog);
        return EXIT_USAGE;
    }
    int r = ul_posix_volume_open(pv, dir);
    if (r < 0) {
        fprintf(stderr, "%s: cannot use %s as the ESP: %s\n", prog, dir, strerror(-r));
        return EXIT_FAIL;
    }
    *vol = (struct ul_volume){ &ul_posix_volume_ops, pv };
    *ret_dir = dir;
    return EXIT_OK;
}

static void fmt_utc(uint64_t secs, char *buf, size_t size)
{
    ul_time_format_iso((int64_t)secs, buf, size);
}

/* Firmware clock times carry their zone only when the firmware knew it:
 * ISO form ends in Z only for UTC. */
static void fmt_fw(int64_t secs, int16_t tz, char *buf, size_t size, bool iso)
{
    char t[32];
    if (iso) {
        ul_time_format_iso(secs, t, sizeof(t));
        if (tz != 0)
            t[strlen(t) - 1] = 0;
        snprintf(buf, size, "%s", t);
    } else {
        ul_time_format(secs, t, sizeof(t));
        snprintf(buf, size, "%.20s (%s)", t,
                 tz == UL_TZ_UNSPECIFIED ? "firmware clock, zone unknown"
                 : tz == 0               ? "UTC"
                                         : "firmware clock");
    }
}

/* What status and bless both read from the ESP. */
struct esp_ctx {
    struct ul_posix_volume pv;
    struct ul_volume esp;
    const char *dir;
    struct ul_config cfg;
    struct ul_diags diags;
    int config_err;             /* 0, -ENOENT, or another read error */
    struct ul_state st;
    struct ul_state_info info;
};

static int load_esp(const char *esp_arg, struct esp_ctx *c)
{
    int err, rc = open_esp(esp_arg, &c->pv, &c->esp, &c->dir);
    if (rc)
        return rc;
    c->config_err = ul_config_load(&c->esp, &c->cfg, &c->diags);
    ul_state_read(&c->esp, &c->st, &c->info, &err);
    if (err) {
        fprintf(stderr, "%s: cannot read %s/EFI/unloop/state: %s\n", prog, c->dir,
                strerror(-err));
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* ---- status ---- */

static int cmd_status(const char *esp_arg, bool json)
{
    static struct esp_ctx c;
    int rc = load_esp(esp_arg, &c);
    if (rc)
        return rc;
    const char *dir = c.dir;
    const struct ul_config cfg = c.cfg;
    const struct ul_diags *diags = &c.diags;
    const struct ul_state st = c.st;
    const struct ul_state_info info = c.info;
    const char *config_state = c.config_err == -ENOENT ? "missing"
                               : c.config_err < 0      ? "unreadable"
                               : diags->errors         ? "errors"
                                                       : "ok";

    /* What the next boot will do: the decision for one more attempt. */
    struct ul_state next = st;
    struct ul_decision d;
    struct ul_caps caps = { .safe_mode = true }; /* what unloop.efi of this version can do */
    next.attempts++;
    ul_decide(&next, &cfg, &caps, &d);

    char good[32] = "", first[64] = "", last[64] = "";
    if (st.last_good)
        fmt_utc(st.last_good, good, sizeof(good));
    if (st.first_attempt)
        fmt_fw(st.first_attempt, st.clock_tz, first, sizeof(first), json);
    if (st.last_attempt)
        fmt_fw(st.last_attempt, st.clock_tz, last, sizeof(last), json);

    if (json) {
        struct json j;
        json_init(&j, stdout);
        json_object_begin(&j, NULL);
        json_str(&j, "esp", dir);
        json_str(&j, "state", ul_state_health_name(info.health));
        json_int(&j, "slot", info.slot);
        json_int(&j, "seq", st.seq);
        json_int(&j, "attempts", st.attempts);
        json_int(&j, "boots", st.boots);
        json_int(&j, "threshold", cfg.threshold);
        json_bool(&j, "loop_detected", st.attempts >= cfg.threshold);
        json_str(&j, "last_good", st.last_good ? good : NULL);
        json_str(&j, "fixed_by", ul_rung_name(st.fixed_by));
        json_str(&j, "rung", ul_rung_name(st.rung));
        json_str(&j, "first_attempt", st.first_attempt ? first : NULL);
        json_str(&j, "last_attempt", st.last_attempt ? last : NULL);
        if (!st.last_attempt || st.clock_tz == UL_TZ_UNSPECIFIED)
            json_null(&j, "firmware_tz_minutes");
        else
            json_int(&j, "firmware_tz_minutes", st.clock_tz);
        json_str(&j, "next_boot", d.show_menu ? "menu" : "handoff");
        json_str(&j, "next_rung", ul_rung_name(d.rung));
        json_str(&j, "next_action", ul_action_name(d.action));
        json_str(&j, "loader", cfg.loader);
        json_str(&j, "config", config_state);
        json_int(&j, "config_errors", diags->errors);
        json_object_end(&j);
        json_finish(&j);
    } else {
        printf("ESP:              %s\n", dir);
        if (info.health == UL_STATE_MISSING)
            printf("State:            missing (unloop.efi has not run from this ESP yet)\n");
        else
            printf("State:            %s (slot %d, sequence %u)\n",
                   ul_state_health_name(info.health), info.slot, st.seq);
        printf("Attempts:         %u since the last good boot (threshold %u)%s\n", st.attempts,
               cfg.threshold, st.attempts >= cfg.threshold ? ": BOOT LOOP" : "");
        printf("Boots counted:    %u\n", st.boots);
        printf("Last good boot:   %s\n", st.last_good ? good : "never recorded");
        if (st.fixed_by)
            printf("Fixed by:         %s\n", ul_rung_name(st.fixed_by));
        if (st.first_attempt)
            printf("First attempt:    %s\n", first);
        if (st.last_attempt)
            printf("Last attempt:     %s\n", last);
        /* A policy build's refusal: say it here, since 'config check'
         * checks the syntax, not the signature. */
        if (diags->refused)
            printf("Config:           %s: unloop.conf is %s\n", config_state, diags->d[0].msg);
        else
            printf("Config:           %s%s\n", config_state,
                   diags->errors ? " (run 'unloop config check' on it)" : "");
        if (d.show_menu)
            printf("Next boot:        recovery menu, step %u (%s); default: %s%s\n", d.rung,
                   ul_rung_name(d.rung), ul_action_name(d.action),
                   d.wait ? " (waits for a key)" : "");
        else
            printf("Next boot:        hand off to %s\n", cfg.loader);
    }
    return info.health == UL_STATE_CORRUPT ? EXIT_STATE_CORRUPT : EXIT_OK;
}

/* ---- bless ---- */

static int cmd_bless(const char *esp_arg, bool json)
{
    static struct esp_ctx c;
    struct ul_clock clock = { &ul_posix_clock_ops, NULL };
    static struct ul_log log;
    bool quiet = json;
    int rc = load_esp(esp_arg, &c);
    if (rc)
        return rc;
    const char *dir = c.dir;
    struct ul_state st = c.st;
    struct ul_state_info info = c.info;
    ul_log_init(&log, &cli_sink_ops, &quiet, &clock, "os");
    log.level = c.cfg.log_level;

    if (info.health == UL_STATE_CORRUPT)
        ul_logf(&log, UL_LOG_WARNING, "state file was corrupt; writing a fresh one");

    struct ul_time now = ul_clock_now(&clock);
    uint32_t prev = st.attempts;
    ul_state_apply_bless(&st, now.valid ? (uint64_t)now.secs : 0);
    /* Safe Mode that unloop set is for one boot: this is it, so clear it now
     * (unloop.efi would otherwise do it on its next run). */
    bool had_safe_mode = st.flags & UL_STATE_F_SAFEMODE_SET;
    if (had_safe_mode)
        ul_safe_mode_clear_ours(&c.esp, &cli_mem, &log, &st);
    int r = ul_state_write(&c.esp, &st, &info);
    if (r < 0) {
        fprintf(stderr, "%s: cannot write the state on %s: %s\n", prog, dir, strerror(-r));
        return EXIT_FAIL;
    }
    ul_logf(&log, UL_LOG_NOTICE, "boot blessed: %u attempt%s reset%s%s", prev,
            prev == 1 ? "" : "s", st.fixed_by ? "; fixed by " : "",
            st.fixed_by ? ul_rung_name(st.fixed_by) : "");
    r = ul_log_flush(&log, &c.esp, c.cfg.log_size_kib * 1024u);
    if (r < 0 && !json)
        fprintf(stderr, "%s: warning: cannot append to the log: %s\n", prog, strerror(-r));

    char good[32];
    fmt_utc(st.last_good, good, sizeof(good));
    if (json) {
        struct json j;
        json_init(&j, stdout);
        json_object_begin(&j, NULL);
        json_str(&j, "esp", dir);
        json_bool(&j, "blessed", true);
        json_int(&j, "previous_attempts", prev);
        json_int(&j, "attempts", st.attempts);
        json_str(&j, "last_good", good);
        json_str(&j, "fixed_by", ul_rung_name(st.fixed_by));
        json_int(&j, "seq", st.seq);
        json_bool(&j, "safe_mode_cleared", had_safe_mode && !(st.flags & UL_STATE_F_SAFEMODE_SET));
        json_object_end(&j);
        json_finish(&j);
    } else {
        if (had_safe_mode)
            printf("%s\n", st.flags & UL_STATE_F_SAFEMODE_SET
                                ? "unloop's one-shot Safe Mode could NOT be cleared (see the log)"
                                : "unloop's one-shot Safe Mode cleared from the BCD store.");
        /* The count includes this boot, which is the good one. */
        printf("Boot marked good at %s; attempt count %u reset to 0.\n", good, prev);
    }
    return EXIT_OK;
}

/* ---- config check ---- */

static int cmd_config_check(const char *file, bool json)
{
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open %s: %s\n", prog, file, strerror(errno));
        return EXIT_FAIL;
    }
    static char buf[UL_CONFIG_MAX_SIZE + 2];
    size_t len = fread(buf, 1, sizeof(buf), f);
    bool read_err = ferror(f);
    if (f != stdin)
        fclose(f);
    if (read_err) {
        fprintf(stderr, "%s: cannot read %s\n", prog, file);
        return EXIT_FAIL;
    }

    struct ul_config cfg;
    struct ul_diags diags;
    ul_config_defaults(&cfg);
    ul_config_parse(buf, len, &cfg, &diags);

    if (json) {
        struct json j;
        json_init(&j, stdout);
        json_object_begin(&j, NULL);
        json_str(&j, "file", file);
        json_bool(&j, "valid", diags.errors == 0);
        json_int(&j, "errors", diags.errors);
        json_int(&j, "warnings", diags.warnings);
        json_array_begin(&j, "diagnostics");
        for (uint32_t i = 0; i < diags.n; i++) {
            json_object_begin(&j, NULL);
            json_int(&j, "line", diags.d[i].line);
            json_str(&j, "severity", diags.d[i].warning ? "warning" : "error");
            json_str(&j, "message", diags.d[i].msg);
            json_object_end(&j);
        }
        json_array_end(&j);
        json_int(&j, "diagnostics_not_shown", diags.dropped);
        json_object_begin(&j, "effective");
        json_int(&j, "threshold", cfg.threshold);
        json_int(&j, "menu_timeout", cfg.menu_timeout);
        json_int(&j, "stop_timeout", cfg.stop_timeout);
        json_str(&j, "default_action", ul_action_name(cfg.default_action));
        json_str(&j, "loader", cfg.loader);
        json_str(&j, "handoff", ul_handoff_name(cfg.handoff));
        json_str(&j, "log_level", ul_log_level_name(cfg.log_level));
        json_int(&j, "log_size", cfg.log_size_kib);
        json_object_end(&j);
        json_object_end(&j);
        json_finish(&j);
    } else {
        for (uint32_t i = 0; i < diags.n; i++) {
            if (diags.d[i].line)
                printf("%s:%u: %s: %s\n", file, diags.d[i].line,
                       diags.d[i].warning ? "warning" : "error", diags.d[i].msg);
            else
                printf("%s: %s: %s\n", file, diags.d[i].warning ? "warning" : "error",
                       diags.d[i].msg);
        }
        if (diags.dropped)
            printf("%s: %u more problems not shown\n", file, diags.dropped);
        printf("%s: %s (%u error%s, %u warning%s)\n", file,
               diags.errors ? "has errors; unloop.efi uses the defaults for those keys" : "ok",
               diags.errors, diags.errors == 1 ? "" : "s", diags.warnings,
               diags.warnings == 1 ? "" : "s");
        printf("effective: threshold=%u menu_timeout=%u stop_timeout=%u default_action=%s "
               "loader=%s handoff=%s log_level=%s log_size=%u\n",
               cfg.threshold, cfg.menu_timeout, cfg.stop_timeout,
               ul_action_name(cfg.default_action), cfg.loader, ul_handoff_name(cfg.handoff),
               ul_log_level_name(cfg.log_level), cfg.log_size_kib);
    }
    return diags.errors ? EXIT_CONFIG_ERRORS : EXIT_OK;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "esp", required_argument, NULL, 'e' },
        { "json", no_argument, NULL, 'j' },
        { "bcd", required_argument, NULL, 'b' },
        { "network", no_argument, NULL, 'n' },
        { "partition", required_argument, NULL, 'p' },
        { "config", required_argument, NULL, 'c' },
        { "rule", required_argument, NULL, 'r' },
        { "since", required_argument, NULL, 's' },
        { "dry-run", no_argument, NULL, 'd' },
        { "newest", no_argument, NULL, 'N' },
        { "reset-log", no_argument, NULL, 'R' },
        { "remove-hiberfile", no_argument, NULL, 'H' },
        { "run", required_argument, NULL, 'u' },
        { "recovery-password", required_argument, NULL, 'P' },
        { "password", required_argument, NULL, 'W' },
        { "bek", required_argument, NULL, 'K' },
        { "key-file", required_argument, NULL, 'F' },
        { "output", required_argument, NULL, 'o' },
        { "csv", no_argument, NULL, 'C' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { 0 },
    };
    struct cli_opts o = { 0 };
    int c;

    /* install/uninstall have options of their own: the command comes first. */
    if (argc > 1 && (strcmp(argv[1], "install") == 0 || strcmp(argv[1], "uninstall") == 0))
        return cmd_install_main(argc - 1, argv + 1);

    /* Options may come before or after the command ("+" not used). */
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'e': o.esp = optarg; break;
        case 'j': o.json = true; break;
        case 'b': o.bcd = optarg; break;
        case 'n': o.network = true; break;
        case 'p': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 128)
                return usage_error("--partition needs a number 1..128, not '%s'", optarg);
            o.partition = (int)v;
            break;
        }
        case 'c': o.config = optarg; break;
        case 'r': o.rule = optarg; break;
        case 's':
            if (parse_utc_time(optarg, &o.since) < 0)
                return usage_error("--since needs a UTC time like 2024-07-19T04:00:00Z, not '%s'",
                                   optarg);
            o.have_since = true;
            break;
        case 'd': o.dry_run = true; break;
        case 'N': o.newest = true; break;
        case 'R': o.reset_log = true; break;
        case 'H': o.remove_hiberfile = true; break;
        case 'P': o.recovery_password = optarg; break;
        case 'W': o.password = optarg; break;
        case 'K': o.bek = optarg; break;
        case 'F': o.key_file = optarg; break;
        case 'o': o.output = optarg; break;
        case 'C': o.csv = true; break;
        case 'u': {
            uint64_t v = 0;
            int digits = 0;
            for (const char *q = optarg; *q; q++) {
                if (*q == '-' && digits == 8)
                    continue;
                if (*q < '0' || *q > '9')
                    return usage_error("--run needs an ID like 20240719-050000, not '%s'", optarg);
                v = v * 10 + (uint64_t)(*q - '0');
                digits++;
            }
            if (digits != 14)
                return usage_error("--run needs an ID like 20240719-050000, not '%s'", optarg);
            o.run = v;
            break;
        }
        case 'h': fputs(usage_text, stdout); return EXIT_OK;
        case 'V': printf("unloop %s\n", UL_VERSION); return EXIT_OK;
        case '?':
            if (optopt)
                return usage_error("option '-%c' is unknown or needs an argument",
                                   (char[]){ (char)optopt, 0 });
            return usage_error("unknown option '%s'", argv[optind - 1]);
        default: return EXIT_USAGE;
        }
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    if (nargs == 0) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = args[0];
    if (strcmp(cmd, "help") == 0) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "status") == 0 || strcmp(cmd, "bless") == 0) {
        if (nargs > 1)
            return usage_error("unexpected argument '%s'", args[1]);
        return cmd[0] == 's' ? cmd_status(o.esp, o.json) : cmd_bless(o.esp, o.json);
    }
    if (strcmp(cmd, "config") == 0) {
        if (nargs < 2 || strcmp(args[1], "check") != 0)
            return usage_error("%s", "usage: unloop config check FILE");
        if (nargs != 3)
            return usage_error("%s", "config check takes exactly one FILE ('-' for stdin)");
        return cmd_config_check(args[2], o.json);
    }
    if (strcmp(cmd, "safe-mode") == 0) {
        if (nargs != 2)
            return usage_error("%s", "usage: unloop safe-mode status|on|off (--esp DIR | --bcd FILE)");
        return cmd_safe_mode(&o, args[1]);
    }
    if (strcmp(cmd, "scan") == 0 || strcmp(cmd, "quarantine") == 0 ||
        strcmp(cmd, "restore") == 0 || strcmp(cmd, "journal") == 0) {
        if (nargs != 2)
            return usage_error("%s needs exactly one DISK (a disk, disk image or NTFS image)", cmd);
        switch (cmd[0]) {
        case 's': return cmd_scan(&o, args[1]);
        case 'q': return cmd_quarantine(&o, args[1]);
        case 'r': return cmd_restore(&o, args[1]);
        default: return cmd_journal(&o, args[1]);
        }
    }
    if (strcmp(cmd, "bitlocker") == 0) {
        if (nargs != 3)
            return usage_error("%s", "usage: unloop bitlocker info|unlock DISK [--partition N] "
                                     "[key options] [--output FILE]");
        return cmd_bitlocker(&o, args[1], args[2]);
    }
    if (strcmp(cmd, "bcd") == 0) {
        if (nargs != 2 || strcmp(args[1], "list") != 0)
            return usage_error("%s", "usage: unloop bcd list (--esp DIR | --bcd FILE)");
        return cmd_bcd_list(&o);
    }
    if (strcmp(cmd, "policy") == 0) {
        int cmd_policy(const struct cli_opts *o, int nargs, char **args); /* policy-cmd.c */
        return cmd_policy(&o, nargs - 1, args + 1);
    }
    if (strcmp(cmd, "report") == 0) {
        if (nargs != 3 || strcmp(args[1], "summarize") != 0)
            return usage_error("%s", "usage: unloop report summarize DIR [--csv]");
        return cmd_report_summarize(&o, args[2]);
    }
    if (strcmp(cmd, "install") == 0 || strcmp(cmd, "uninstall") == 0)
        return usage_error("%s: put the command first: unloop install|uninstall --esp DIR ...",
                           cmd);
    return usage_error("unknown command '%s'", cmd);
}
