/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * unloop scan|quarantine|restore|journal DISK: the Windows volume of a disk,
 * a disk image or a bare NTFS volume image, through libntfs-3g (no mount,
 * no root needed for image files) and the portable quarantine core.
 */
#include <errno.h>
#include <libfdisk/libfdisk.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../shared/bitlocker.h"
#include "../shared/boot-state.h"
#include "../shared/config.h"
#include "../shared/quarantine.h"
#include "../shared/run.h"
#include "../shared/time-util.h"
#include "../shared/ul-errno.h"
#include "bitlocker-volume.h"
#include "cli.h"
#include "json.h"
#include "ntfs-volume.h"
#include "posix-volume.h"

#define BASIC_DATA_GUID "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"

struct target {
    char disk[4096];
    uint64_t offset, length;
    int partno;                 /* 1-based, 0 = bare volume */
    struct ul_ntfs_probe probe;
    struct ul_blvol *bl;        /* BitLocker, unlocked: NTFS is inside it */
};

/* The BitLocker key of --recovery-password / --password / --bek / --key-file, read once
 * per command and wiped as soon as the volume is found (cli.h). */
static struct cli_key key;

static void cli_log_sink(void *ctx, enum ul_log_level level, const char *msg)
{
    bool quiet = ctx && *(bool *)ctx;
    if (!quiet || level <= UL_LOG_WARNING)
        fprintf(stderr, "%s: %s\n", prog, msg);
}
static const struct ul_log_sink_ops sink = { .write = cli_log_sink };

/* Does the volume hold \Windows\System32?  (DESIGN §8) */
static bool has_windows(const char *disk, uint64_t off, uint64_t len, struct ul_blvol *bl)
{
    struct ul_ntfs *v;
    char err[256];
    struct ul_stat st;
    struct ul_ntfs_dev d;
    if (bl)
        ul_blvol_ntfs_dev(bl, &d);
    if ((bl ? ul_ntfs_open_dev(&d, UL_NTFS_RDONLY, &v, err, sizeof(err))
            : ul_ntfs_open(disk, off, len, UL_NTFS_RDONLY, &v, err, sizeof(err))) < 0)
        return false;
    bool ok = ul_ntfs_volume_ops.stat(v, "\\Windows\\System32", &st) == 0 && st.is_dir;
    ul_ntfs_close(v);
    return ok;
}

int cli_for_each_partition(const char *disk, cli_partition_cb cb, void *arg)
{
    struct fdisk_context *cxt = fdisk_new_context();
    struct fdisk_table *tb = NULL;
    int r;
    if (!cxt)
        return -ENOMEM;
    r = fdisk_assign_device(cxt, disk, 1);
    if (r < 0)
        goto out;
    if (!fdisk_has_label(cxt) || fdisk_get_partitions(cxt, &tb) < 0) {
        r = -ENOENT;
        goto out;
    }
    unsigned long ss = fdisk_get_sector_size(cxt);
    r = 0;
    for (size_t i = 0; i < fdisk_table_get_nents(tb) && r == 0; i++) {
        struct fdisk_partition *pa = fdisk_table_get_partition(tb, i);
        if (!pa || !fdisk_partition_has_start(pa) || !fdisk_partition_has_size(pa))
            continue;
        struct fdisk_parttype *type = fdisk_partition_get_type(pa);
        r = cb(arg, (int)fdisk_partition_get_partno(pa) + 1,
               (uint64_t)fdisk_partition_get_start(pa) * ss,
               (uint64_t)fdisk_partition_get_size(pa) * ss,
               type ? fdisk_parttype_get_string(type) : NULL);
    }
out:
    fdisk_unref_table(tb);
    fdisk_unref_context(cxt);
    return r;
}

struct find_ctx {
    const char *disk;
    int partno;
    struct target *t;
    bool saw_bitlocker;
    int unlock_rc;              /* a BitLocker partition the key did not open */
    int rc;
};

/*
 * With a key: unlock the BitLocker volume at [off, off + len) of disk (read
 * only) and look at the NTFS volume inside.  Returns EXIT_OK with *ret (one
 * reference) and *p, or an exit code with the message printed (a wrong key:
 * EXIT_FAIL, nothing written).
 */
static int unlock_volume(const char *disk, const char *name, uint64_t off, uint64_t len,
                         struct ul_blvol **ret, struct ul_ntfs_probe *p)
{
    struct ul_blvol *bv;
    char err[512];
    const char *why = NULL;
    int r = ul_blvol_open(disk, off, len, &bv, err, sizeof(err));
    *ret = NULL;
    if (r < 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return EXIT_FAIL;
    }
    r = cli_key_unlock(&key, ul_blvol_bitlocker(bv), NULL, &why);
    if (r < 0) {
        ul_blvol_unref(bv);
        return cli_key_report(&key, name, r, why);
    }
    struct ul_ntfs_dev d;
    ul_blvol_ntfs_dev(bv, &d);
    if (ul_ntfs_probe_dev(&d, p, NULL, 0) < 0)
        memset(p, 0, sizeof(*p));
    d.release(d.priv);
    *ret = bv;
    return EXIT_OK;
}

/* A BitLocker partition of the search (find_part): 1 to stop. */
static int bitlocker_part(struct find_ctx *f, int n, uint64_t off, uint64_t len)
{
    struct ul_blvol *bv;
    struct ul_ntfs_probe p;
    char name[4200];

    f->saw_bitlocker = true;
    if (key.kind == CLI_KEY_NONE) {
        fprintf(stderr, "%s: partition %d is BitLocker-encrypted: give its key with "
                "--recovery-password, --password, --bek or --key-file; skipped\n", prog, n);
        return f->partno ? 1 : 0;
    }
    snprintf(name, sizeof(name), "%s partition %d", f->disk, n);
    int rc = unlock_volume(f->disk, name, off, len, &bv, &p);
    if (rc) {
        f->unlock_rc = rc;
        f->rc = rc;
        return f->partno ? 1 : 0;
    }
    if (!p.is_ntfs && !p.mirror_mismatch) {
        ul_blvol_unref(bv);
        if (f->partno) {
            fprintf(stderr, "%s: partition %d: the unlocked BitLocker volume is not NTFS\n",
                    prog, n);
            return 1;
        }
        return 0;
    }
    if (!f->partno && !p.mirror_mismatch && !has_windows(f->disk, off, len, bv)) {
        ul_blvol_unref(bv);
        return 0;
    }
    f->t->offset = off;
    f->t->length = len;
    f->t->partno = n;
    f->t->probe = p;
    f->t->bl = bv;
    f->rc = EXIT_OK;
    return 1;
}

/* 1 (stop) when the partition is the target or --partition's is not usable. */
static int find_part(void *arg, int n, uint64_t off, uint64_t len, const char *guid)
{
    struct find_ctx *f = arg;
    if (f->partno) {
        if (n != f->partno)
            return 0;
    } else if (!guid || strcasecmp(guid, BASIC_DATA_GUID) != 0) {
        return 0;
    }
    struct ul_ntfs_probe p;
    if (ul_ntfs_probe(f->disk, off, len, &p) < 0)
        memset(&p, 0, sizeof(p));
    if (p.is_bitlocker)
        return bitlocker_part(f, n, off, len);
    if (!p.is_ntfs && !p.mirror_mismatch) {
        if (f->partno) {
            fprintf(stderr, "%s: partition %d is not NTFS\n", prog, n);
            return 1;
        }
        return 0;
    }
    /* A volume whose $MFTMirr a cut write left behind cannot be looked
     * into before the repair that opening it for writing does: take it. */
    if (!f->partno && !p.mirror_mismatch && !has_windows(f->disk, off, len, NULL))
        return 0;
    f->t->offset = off;
    f->t->length = len;
    f->t->partno = n;
    f->t->probe = p;
    f->rc = EXIT_OK;
    return 1;
}

/*
 * The Windows volume: a bare NTFS image, the partition --partition names,
 * or the first basic data partition that is NTFS and has \Windows\System32
 * (partitions via libfdisk).  A BitLocker volume is looked into when a key
 * is given: unlocked, then the same checks on the NTFS volume inside.
 */
static int find_target_i(const char *disk, int partno, struct target *t)
{
    if (partno == 0 && ul_ntfs_probe(disk, 0, 0, &t->probe) == 0) {
        if (t->probe.is_ntfs || t->probe.mirror_mismatch)
            return EXIT_OK; /* a bare volume: the whole file (length 0) */
        if (t->probe.is_bitlocker && key.kind == CLI_KEY_NONE) {
            fprintf(stderr, "%s: %s is a BitLocker-encrypted volume: give its key with "
                    "--recovery-password, --password, --bek or --key-file, or use Safe Mode "
                    "(unloop safe-mode on) instead\n", prog, disk);
            return EXIT_FAIL;
        }
        if (t->probe.is_bitlocker) {
            struct ul_ntfs_probe p;
            int rc = unlock_volume(disk, disk, 0, 0, &t->bl, &p);
            if (rc)
                return rc;
            if (!p.is_ntfs && !p.mirror_mismatch) {
                fprintf(stderr, "%s: %s: the unlocked BitLocker volume is not NTFS\n", prog,
                        disk);
                ul_blvol_unref(t->bl);
                t->bl = NULL;
                return EXIT_FAIL;
            }
            t->probe = p;
            return EXIT_OK;
        }
    }
    struct find_ctx f = { .disk = disk, .partno = partno, .t = t, .rc = EXIT_FAIL };
    int r = cli_for_each_partition(disk, find_part, &f);
    if (r == -ENOENT) {
        fprintf(stderr, "%s: %s has no partition table and is not an NTFS volume\n", prog, disk);
        return EXIT_FAIL;
    }
    if (r < 0) {
        fprintf(stderr, "%s: cannot open %s: %s\n", prog, disk, strerror(-r));
        return EXIT_FAIL;
    }
    if (r > 0)
        return f.rc;
    if (f.unlock_rc)
        return f.unlock_rc; /* said why */
    if (partno)
        fprintf(stderr, "%s: %s has no partition %d\n", prog, disk, partno);
    else
        fprintf(stderr, "%s: no Windows volume (NTFS with \\Windows\\System32) on %s%s\n", prog,
                disk, f.saw_bitlocker ? " that is not BitLocker-encrypted" : "");
    return EXIT_FAIL;
}

static int find_target(const struct cli_opts *o, const char *disk, struct target *t)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->disk, sizeof(t->disk), "%s", disk);
    int rc = cli_key_read(o, &key);
    if (rc == EXIT_OK)
        rc = find_target_i(disk, o->partition, t);
    cli_key_wipe(&key);
    if (rc && t->bl) {
        ul_blvol_unref(t->bl);
        t->bl = NULL;
    }
    return rc;
}

/* "2024-07-19T04:09:00Z", "2024-07-19 04:09", "2024-07-19" (UTC) or "@SECONDS". */
int parse_utc_time(const char *s, int64_t *ret)
{
    int y, mo, d, h = 0, mi = 0, sec = 0;
    char z = 0;
    if (s[0] == '@') {
        char *end;
        long long v = strtoll(s + 1, &end, 10);
        if (*end || end == s + 1)
            return -EINVAL;
        *ret = v;
        return 0;
    }
    int n = sscanf(s, "%d-%d-%d%*[T ]%d:%d:%d%c", &y, &mo, &d, &h, &mi, &sec, &z);
    if (n < 3 || (n == 7 && z != 'Z'))
        return -EINVAL;
    int64_t v = ul_time_from_fields(y, mo, d, h, mi, sec);
    if (v < 0)
        return -EINVAL;
    *ret = v;
    return 0;
}

static void fmt_ft(uint64_t ft, char *buf, size_t size)
{
    if (!ft) {
        snprintf(buf, size, "unknown");
        return;
    }
    ul_time_format_iso(ul_unix_from_filetime(ft), buf, size);
}

/* Rules from --config FILE, else the ESP's unloop.conf, else built in. */
static int load_rules(const struct cli_opts *o, struct ul_rules *rules, const char **ret_src)
{
    static struct ul_config cfg;
    struct ul_diags diags;
    ul_config_defaults(&cfg);
    *ret_src = "built-in";
    if (o->config) {
        static char buf[UL_CONFIG_MAX_SIZE + 1];
        FILE *f = fopen(o->config, "rb");
        if (!f) {
            fprintf(stderr, "%s: cannot open %s: %s\n", prog, o->config, strerror(errno));
            return EXIT_FAIL;
        }
        size_t len = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        if (ul_config_parse(buf, len, &cfg, &diags)) {
            fprintf(stderr, "%s: %s has errors (see 'unloop config check %s'); not using it\n",
                    prog, o->config, o->config);
            return EXIT_CONFIG_ERRORS;
        }
        *ret_src = o->config;
    } else if (o->esp) {
        struct ul_posix_volume pv;
        struct ul_volume esp;
        if (ul_posix_volume_open(&pv, o->esp) == 0) {
            esp = (struct ul_volume){ &ul_posix_volume_ops, &pv };
            if (ul_config_load(&esp, &cfg, &diags) == 0)
                *ret_src = "ESP unloop.conf";
        }
    }
    *rules = cfg.rules;
    if (o->rule) {
        const struct ul_rule *r = ul_rules_find(rules, o->rule);
        if (!r) {
            fprintf(stderr, "%s: no rule named '%s'\n", prog, o->rule);
            return EXIT_USAGE;
        }
        for (uint32_t i = 0; i < rules->n; i++)
            rules->r[i].enabled = &rules->r[i] == r;
    }
    return EXIT_OK;
}

/* What recency is measured from: --since, else the ESP's state, else a bare volume. */
static void recency_input(const struct cli_opts *o, struct ul_recency_in *in)
{
    memset(in, 0, sizeof(*in));
    if (o->have_since) {
        in->have_since = true;
        in->since_utc = o->since;
        return;
    }
    if (o->esp) {
        struct ul_posix_volume pv;
        if (ul_posix_volume_open(&pv, o->esp) == 0) {
            struct ul_volume esp = { &ul_posix_volume_ops, &pv };
            struct ul_state st;
            struct ul_state_info info;
            int err;
            ul_state_read(&esp, &st, &info, &err);
            if (!err && info.slot >= 0) {
                in->last_good_utc = st.last_good;
                in->first_attempt = st.first_attempt;
                in->first_attempt_tz = st.clock_tz;
            }
        }
    }
}

/* libntfs-3g's and the glue's warnings (repairs of what a cut write left)
 * on stderr; its errors come back as the sentences printed by the caller. */
static void ntfs_warning(int is_error, const char *line)
{
    if (!is_error)
        fprintf(stderr, "%s: %s\n", prog, line);
}

/* Opens the target's volume; drops the target's BitLocker reference (the
 * volume holds its own until ul_ntfs_close()). */
static int open_volume(const struct cli_opts *o, struct target *t, bool write,
                       struct ul_ntfs **v)
{
    ul_ntfs_set_log(ntfs_warning);
    char err[512];
    /* A mirror left behind by a cut write is repaired as chkdsk would:
     * otherwise an interrupted quarantine could not be finished. */
    unsigned flags = write ? UL_NTFS_MARK_DIRTY | UL_NTFS_FIX_MIRROR | UL_NTFS_REPLAY_LOG
                           : UL_NTFS_RDONLY;
    if (write && o->reset_log)
        flags |= UL_NTFS_RESET_LOG;
    if (write && o->remove_hiberfile)
        flags |= UL_NTFS_REMOVE_HIBERFILE;
    int r;
    if (t->bl) {
        struct ul_ntfs_dev d;
        ul_blvol_ntfs_dev(t->bl, &d);
        ul_blvol_unref(t->bl);
        t->bl = NULL;
        r = ul_ntfs_open_dev(&d, flags, v, err, sizeof(err));
    } else {
        r = ul_ntfs_open(t->disk, t->offset, t->length, flags, v, err, sizeof(err));
    }
    if (r < 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        if (r == -EUCLEAN && !write)
            fprintf(stderr, "%s: 'unloop quarantine' and 'unloop restore' repair it as chkdsk "
                    "does, then finish any interrupted quarantine from its journal\n", prog);
        return EXIT_FAIL;
    }
    struct ul_ntfs_repairs rep;
    ul_ntfs_get_repairs(*v, &rep);
    if (rep.mirror_fixed)
        fprintf(stderr, "%s: %s: repaired $MFTMirr from $MFT (a write had been cut short); "
                "Windows will check the volume at its next boot\n", prog, t->disk);
    if (rep.log_replayed)
        fprintf(stderr, "%s: %s: replayed the NTFS journal ($LogFile) Windows left unclean "
                "(%u actions), as Windows would at its next start\n", prog, t->disk,
                rep.replayed_actions);
    if (rep.log_reset)
        fprintf(stderr, "%s: %s: $LogFile reset (--reset-log): what Windows had not applied "
                "is lost\n", prog, t->disk);
    if (rep.hiberfile_removed)
        fprintf(stderr, "%s: %s: hibernation image invalidated (--remove-hiberfile)\n", prog,
                t->disk);
    return EXIT_OK;
}

static void describe_target(struct json *j, const struct target *t)
{
    json_str(j, "disk", t->disk);
    if (t->partno)
        json_int(j, "partition", t->partno);
    else
        json_null(j, "partition");
    json_int(j, "offset", (int64_t)t->offset);
    json_str(j, "label", t->probe.label);
}

static void print_candidates(const struct cli_opts *o, const struct ul_rules *rules,
                             const struct ul_scan *s, struct json *j)
{
    char when[32];
    if (o->json) {
        json_array_begin(j, "candidates");
        for (uint32_t i = 0; i < s->n; i++) {
            const struct ul_candidate *c = &s->c[i];
            json_object_begin(j, NULL);
            json_str(j, "path", c->path);
            json_int(j, "size", (int64_t)c->size);
            fmt_ft(c->times.modification, when, sizeof(when));
            json_str(j, "modified", when);
            fmt_ft(c->times.creation, when, sizeof(when));
            json_str(j, "created", when);
            json_str(j, "rule", rules->r[c->rule].name);
            json_bool(j, "all_zero", c->all_zero);
            if (rules->r[c->rule].magic_len)
                json_bool(j, "magic_ok", c->magic_ok);
            json_object_end(j);
        }
        json_array_end(j);
        return;
    }
    if (!s->n) {
        printf("No recent third-party driver content found.\n");
        return;
    }
    printf("%-22s %10s  %-18s %s\n", "modified (UTC)", "size", "rule", "path");
    for (uint32_t i = 0; i < s->n; i++) {
        const struct ul_candidate *c = &s->c[i];
        fmt_ft(c->times.modification, when, sizeof(when));
        printf("%-22s %10llu  %-18s %s%s\n", when, (unsigned long long)c->size,
               rules->r[c->rule].name, c->path, c->all_zero ? "  [all zero]" : "");
    }
}

static int do_scan(const struct cli_opts *o, struct ul_ntfs *v, const struct ul_rules *rules,
                   struct ul_scan *s, struct ul_log *log)
{
    struct ul_volume vol = { &ul_ntfs_volume_ops, v };
    struct ul_recency_in in;
    recency_input(o, &in);
    int r = ul_scan(&vol, rules, &in, s, log);
    if (r < 0) {
        fprintf(stderr, "%s: scan failed: %s\n", prog, ul_ntfs_strerror(r));
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

int cmd_scan(const struct cli_opts *o, const char *disk)
{
    static struct ul_scan s;
    struct ul_rules rules;
    struct target t;
    struct ul_ntfs *v;
    struct ul_log log;
    bool quiet = o->json;
    const char *rsrc;
    int rc;

    if ((rc = load_rules(o, &rules, &rsrc)) || (rc = find_target(o, disk, &t)) ||
        (rc = open_volume(o, &t, false, &v)))
        return rc;
    ul_log_init(&log, &sink, &quiet, NULL, "cli");
    rc = do_scan(o, v, &rules, &s, &log);
    ul_ntfs_close(v);
    if (rc)
        return rc;

    char cut[32];
    if (s.cutoff == UINT64_MAX)
        snprintf(cut, sizeof(cut), "never");
    else
        fmt_ft(s.cutoff, cut, sizeof(cut));
    if (o->json) {
        struct json j;
        json_init(&j, stdout);
        json_object_begin(&j, NULL);
        describe_target(&j, &t);
        json_str(&j, "rules", rsrc);
        json_str(&j, "recent_after", cut);
        json_str(&j, "recent_because", s.cutoff_reason);
        json_int(&j, "matched", s.matched);
        json_int(&j, "not_listed", s.dropped);
        print_candidates(o, &rules, &s, &j);
        json_object_end(&j);
        json_finish(&j);
    } else {
        if (t.partno)
            printf("Volume:       %s partition %d (\"%s\")\n", t.disk, t.partno, t.probe.label);
        else
            printf("Volume:       %s (\"%s\")\n", t.disk, t.probe.label);
        printf("Rules:        %s; %u file%s match\n", rsrc, s.matched, s.matched == 1 ? "" : "s");
        printf("Recent after: %s (%s)\n\n", cut, s.cutoff_reason ? s.cutoff_reason : "");
        print_candidates(o, &rules, &s, NULL);
    }
    return EXIT_OK;
}

static void print_report(const struct cli_opts *o, const char *what, const struct target *t,
                         const struct ul_qreport *rep, bool dry, const struct ul_rules *rules,
                         const struct ul_scan *s)
{
    char id[16];
    ul_run_id_format(rep->run_id, id);
    if (o->json) {
        struct json j;
        json_init(&j, stdout);
        json_object_begin(&j, NULL);
        describe_target(&j, t);
        json_str(&j, "action", what);
        json_bool(&j, "dry_run", dry);
        json_str(&j, "run", rep->run_id ? id : NULL);
        json_int(&j, "moved", rep->moved);
        json_int(&j, "failed", rep->failed);
        json_int(&j, "skipped", rep->skipped);
        if (s)
            print_candidates(o, rules, s, &j);
        json_array_begin(&j, "files");
        for (uint32_t i = 0; i < rep->n; i++) {
            json_object_begin(&j, NULL);
            json_str(&j, "path", rep->items[i].path);
            json_str(&j, "result", rep->items[i].result ? ul_ntfs_strerror(rep->items[i].result)
                                                        : "ok");
            json_object_end(&j);
        }
        json_array_end(&j);
        json_object_end(&j);
        json_finish(&j);
        return;
    }
    if (dry) {
        printf("Dry run: would %s these files:\n", what);
        print_candidates(o, rules, s, NULL);
        return;
    }
    for (uint32_t i = 0; i < rep->n; i++)
        printf("%-11s %s%s%s\n", rep->items[i].result ? "FAILED" : what, rep->items[i].path,
               rep->items[i].result ? ": " : "",
               rep->items[i].result ? ul_ntfs_strerror(rep->items[i].result) : "");
    printf("%u %s, %u failed, %u skipped (run %s)\n", rep->moved,
           strcmp(what, "restore") == 0 ? "restored" : "quarantined", rep->failed, rep->skipped,
           rep->run_id ? id : "-");
}

int cmd_quarantine(const struct cli_opts *o, const char *disk)
{
    static struct ul_scan s;
    struct ul_rules rules;
    struct target t;
    struct ul_ntfs *v;
    struct ul_log log;
    struct ul_qreport rep = { 0 };
    bool quiet = o->json;
    const char *rsrc;
    int rc;

    if ((rc = load_rules(o, &rules, &rsrc)) || (rc = find_target(o, disk, &t)) ||
        (rc = open_volume(o, &t, !o->dry_run, &v)))
        return rc;
    ul_log_init(&log, &sink, &quiet, NULL, "cli");
    struct ul_volume vol = { &ul_ntfs_volume_ops, v };
    struct ul_journal j;
    if (!o->dry_run) {
        int r = ul_journal_open(&j, &vol, UL_JOURNAL_PATH);
        if (r == 0)
            r = ul_journal_replay(&vol, &j, &cli_mem, &log);
        if (r < 0) {
            fprintf(stderr, "%s: the quarantine journal cannot be read or replayed: %s; not "
                    "moving anything\n", prog, ul_ntfs_strerror(r));
            ul_ntfs_close(v);
            return EXIT_FAIL;
        }
    }
    rc = do_scan(o, v, &rules, &s, &log);
    if (rc == EXIT_OK && !o->dry_run) {
        int r = vol.ops->mkdir(vol.ctx, UL_QUARANTINE_DIR);
        if (r < 0 && r != -EEXIST) {
            fprintf(stderr, "%s: cannot create %s: %s\n", prog, UL_QUARANTINE_DIR,
                    ul_ntfs_strerror(r));
            rc = EXIT_FAIL;
        } else {
            uint64_t run = ul_run_id_from_time((int64_t)time(NULL));
            ul_quarantine(&vol, &s, o->newest ? UL_Q_NEWEST : UL_Q_WIDE, rules.max_files, run,
                          &j, &rep, &log);
            if (rep.failed)
                rc = EXIT_FAIL;
        }
    }
    int cr = ul_ntfs_close(v);
    if (cr < 0 && !o->dry_run) {
        fprintf(stderr, "%s: closing the volume failed: %s\n", prog, ul_ntfs_strerror(cr));
        rc = EXIT_FAIL;
    }
    if (rc == EXIT_OK || rep.n)
        print_report(o, "quarantine", &t, &rep, o->dry_run, &rules, &s);
    return rc;
}

int cmd_restore(const struct cli_opts *o, const char *disk)
{
    struct target t;
    struct ul_ntfs *v;
    struct ul_log log;
    struct ul_qreport rep;
    bool quiet = o->json;
    int rc;

    if ((rc = find_target(o, disk, &t)) || (rc = open_volume(o, &t, true, &v)))
        return rc;
    ul_log_init(&log, &sink, &quiet, NULL, "cli");
    struct ul_volume vol = { &ul_ntfs_volume_ops, v };
    struct ul_journal j;
    int r = ul_journal_open(&j, &vol, UL_JOURNAL_PATH);
    if (r == 0 && j.n == 0) {
        fprintf(stderr, "%s: nothing was ever quarantined on this volume\n", prog);
        ul_ntfs_close(v);
        return EXIT_FAIL;
    }
    if (r == 0)
        r = ul_restore(&vol, &j, &cli_mem, o->run, &rep, &log);
    int cr = ul_ntfs_close(v);
    if (r < 0 && rep.n == 0) {
        fprintf(stderr, "%s: restore failed: %s\n", prog, ul_ntfs_strerror(r));
        return EXIT_FAIL;
    }
    if (cr < 0)
        fprintf(stderr, "%s: closing the volume failed: %s\n", prog, ul_ntfs_strerror(cr));
    print_report(o, "restore", &t, &rep, false, NULL, NULL);
    return rep.failed || cr < 0 ? EXIT_FAIL : EXIT_OK;
}

int cmd_journal(const struct cli_opts *o, const char *disk)
{
    struct target t;
    struct ul_ntfs *v;
    int rc;

    if ((rc = find_target(o, disk, &t)) || (rc = open_volume(o, &t, false, &v)))
        return rc;
    struct ul_volume vol = { &ul_ntfs_volume_ops, v };
    struct ul_journal j;
    struct ul_jfile *f = NULL;
    uint32_t n = 0;
    int r = ul_journal_open(&j, &vol, UL_JOURNAL_PATH);
    if (r == 0)
        r = ul_journal_files(&j, &cli_mem, &f, &n);
    ul_ntfs_close(v);
    if (r < 0) {
        fprintf(stderr, "%s: cannot read the journal: %s\n", prog, ul_ntfs_strerror(r));
        return EXIT_FAIL;
    }
    char id[16], when[32];
    if (o->json) {
        struct json js;
        json_init(&js, stdout);
        json_object_begin(&js, NULL);
        describe_target(&js, &t);
        json_int(&js, "records", j.n);
        json_bool(&js, "torn_tail", j.torn_tail);
        json_array_begin(&js, "files");
        for (uint32_t i = 0; i < n; i++) {
            ul_run_id_format(f[i].run_id, id);
            json_object_begin(&js, NULL);
            json_str(&js, "run", id);
            json_str(&js, "state", ul_jtype_name(f[i].state));
            json_str(&js, "path", f[i].rec.src);
            json_str(&js, "quarantine_path", f[i].rec.dst);
            json_int(&js, "size", (int64_t)f[i].rec.size);
            fmt_ft(f[i].rec.times.modification, when, sizeof(when));
            json_str(&js, "modified", when);
            json_object_end(&js);
        }
        json_array_end(&js);
        json_object_end(&js);
        json_finish(&js);
    } else if (!n) {
        printf("The journal is empty: nothing was ever quarantined on this volume.\n");
    } else {
        printf("%-16s %-18s %s\n", "run", "state", "path");
        for (uint32_t i = 0; i < n; i++) {
            ul_run_id_format(f[i].run_id, id);
            printf("%-16s %-18s %s\n", id, ul_jtype_name(f[i].state), f[i].rec.src);
        }
    }
    free(f);
    return EXIT_OK;
}
