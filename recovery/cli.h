/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the CLI's command files share. */
#ifndef UL_CLI_H
#define UL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum {
    EXIT_OK = 0,
    EXIT_FAIL = 1,
    EXIT_USAGE = 2,
    EXIT_CONFIG_ERRORS = 3,
    EXIT_STATE_CORRUPT = 4,
    EXIT_BAD_HIVE = 5,
};

#include <stdint.h>

struct cli_opts {
    const char *esp;
    const char *bcd;
    bool json;
    bool network;
    /* scan / quarantine / restore / journal */
    int partition;              /* --partition N, 0 = find the Windows volume */
    const char *config;         /* --config FILE: rules */
    const char *rule;           /* --rule NAME: only this rule */
    bool have_since;
    int64_t since;              /* --since TIME, UTC seconds */
    bool dry_run;
    bool newest;                /* --newest: only the newest candidate (ladder step 2) */
    bool reset_log;             /* --reset-log: policy allows discarding an unclean $LogFile */
    bool remove_hiberfile;      /* --remove-hiberfile: policy allows discarding hibernation */
    uint64_t run;               /* restore --run ID */
    /* bitlocker unlock: one key source, and where the decrypted volume goes */
    const char *recovery_password;  /* --recovery-password P ("-": a line of stdin) */
    const char *password;           /* --password P ("-": a line of stdin) */
    const char *bek;                /* --bek FILE */
    const char *key_file;           /* --key-file FILE ("-": stdin) */
    const char *output;             /* --output FILE */
    bool csv;                       /* report summarize --csv */
};

extern const char *prog;

int usage_error(const char *fmt, const char *arg);

/* ntfs-cmd.c */
int cmd_scan(const struct cli_opts *o, const char *disk);
int cmd_quarantine(const struct cli_opts *o, const char *disk);
int cmd_restore(const struct cli_opts *o, const char *disk);
int cmd_journal(const struct cli_opts *o, const char *disk);
int parse_utc_time(const char *s, int64_t *ret);
/* The partitions of a disk or disk image, through libfdisk: cb gets each
 * one's 1-based number, byte offset and length, and type GUID (upper-case
 * string, NULL if none); a non-zero return stops the walk and is returned.
 * Returns 0, -ENOENT when there is no partition table, or another -errno. */
typedef int (*cli_partition_cb)(void *arg, int partno, uint64_t off, uint64_t len,
                                const char *type_guid);
int cli_for_each_partition(const char *disk, cli_partition_cb cb, void *arg);

/* bitlocker-cmd.c */
int cmd_bitlocker(const struct cli_opts *o, const char *action, const char *disk);
/*
 * A BitLocker key from --recovery-password / --password / --bek /
 * --key-file, read once
 * (a "-" argument reads a line of stdin), shared by bitlocker unlock and
 * scan/quarantine/restore/journal.  cli_key_read() returns an EXIT_* code
 * with the message printed (a malformed recovery password is told apart
 * here, before any volume is read); k->kind is CLI_KEY_NONE when no key
 * option was given.  cli_key_unlock() returns 0 or ul_bitlocker_unlock_*()'s
 * code; cli_key_report() prints what that code means and returns the exit
 * code.  cli_key_wipe() wipes the secret (call it on every path).
 */
#define CLI_SECRET_MAX 1024
#define CLI_BEK_MAX 65536
#define CLI_KEY_FILE_MAX (1u << 20)
enum { CLI_KEY_NONE, CLI_KEY_RECOVERY_PASSWORD, CLI_KEY_PASSWORD, CLI_KEY_BEK, CLI_KEY_FILE };
struct cli_key {
    int kind;
    const char *name;           /* "recovery password", ..., "clear key" */
    char secret[CLI_SECRET_MAX];
    size_t slen;
    uint8_t bek[CLI_BEK_MAX];
    size_t blen;
    /* --key-file: its bytes (malloc'd, wiped and freed by cli_key_wipe) and
     * name; cli_key_unlock() picks the recovery password for the volume's
     * protectors, and cli_key_report() explains a file without one. */
    const char *file;
    uint8_t *fdata;
    size_t flen;
};
struct ul_bitlocker;
int cli_key_read(const struct cli_opts *o, struct cli_key *k);
int cli_key_unlock(const struct cli_key *k, struct ul_bitlocker *bl, int *ret_protector,
                   const char **ret_why);
int cli_key_report(const struct cli_key *k, const char *path, int r, const char *why);
void cli_key_wipe(struct cli_key *k);

/* fd-io.c: the whole buffer at off, retried on EINTR; 0, or -errno (-EIO
 * at an unexpected end of file). */
int cli_pread_all(int fd, void *buf, size_t len, uint64_t off);
int cli_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
/* Called first by each libntfs-3g device's pwrite (ntfs-volume.c,
 * bitlocker-volume.c): a test may make the process _exit(99) there, as a
 * power cut would (UNLOOP_TEST_POWER_CUT_AFTER_WRITES, fd-io.c). */
void cli_power_cut_hook(void);

/* bcd-cmd.c */
struct ul_mem;
extern const struct ul_mem cli_mem;     /* calloc/free for the core */
int cmd_safe_mode(const struct cli_opts *o, const char *action);
int cmd_bcd_list(const struct cli_opts *o);

/* report-cmd.c: unloop report summarize DIR.  One report's bytes become one
 * row (never failing: a report that cannot be used is an "unreadable" row
 * with the reason); exposed for tests/fuzz/fuzz-report.c. */
#define REPORT_MAX_SIZE (1u << 20)
enum report_outcome {
    REPORT_FIXED,
    REPORT_SAFE_MODE,
    REPORT_NEEDS_KEY,
    REPORT_NOTHING_TO_DO,
    REPORT_NO_WINDOWS,
    REPORT_FAILED,
    REPORT_UNREADABLE,
    REPORT__MAX,
};
struct report_row {
    enum report_outcome outcome;
    /* malloc'd UTF-8 (file: the name as found); NULL when the report has none */
    char *file, *machine, *serial, *manufacturer, *product, *time, *done, *reason, *summary;
};
enum report_style { REPORT_TABLE, REPORT_CSV, REPORT_JSON };
void report_row_parse(struct report_row *r, const char *file, const char *data, size_t len);
void report_row_free(struct report_row *r);
const char *report_outcome_name(enum report_outcome o);     /* "needs-key" */
const char *report_outcome_text(enum report_outcome o);     /* "needs a key" */
/* Sorts rows (outcome, then machine id, then file name) and prints them. */
void report_print(FILE *f, enum report_style style, struct report_row *rows, size_t n);
int cmd_report_summarize(const struct cli_opts *o, const char *dir);

/* install-cmd.c: unloop install / uninstall, with their own options
 * (argv[0] is the command).  install_record_check() parses an install
 * record's bytes (\EFI\unloop\install.rec; for the unit test and
 * tests/fuzz/fuzz-install-record.c): 0, or -EBADMSG with *why; with
 * ret_canonical, a valid record is written back as install would write it
 * (malloc'd, *ret_len bytes). */
int cmd_install_main(int argc, char **argv);
int install_record_check(const char *data, size_t len, const char **why, char **ret_canonical,
                         size_t *ret_len);

#endif
