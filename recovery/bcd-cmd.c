/* SPDX-License-Identifier: GPL-2.0-or-later */
/* unloop safe-mode on|off|status and unloop bcd list. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <stdlib.h>

#include "../shared/bcd-store.h"
#include "../shared/bcd.h"
#include "../shared/ul-errno.h"
#include "cli.h"
#include "json.h"
#include "posix-volume.h"

/* The store is reached through the same volume ops and save protocol as in
 * pre-boot (shared/bcd-store.c), so the CLI exercises that code too. */
struct bcd_target {
    struct ul_posix_volume pv;
    struct ul_volume vol;
    char vpath[256];            /* the store, as a volume path */
    char vbackup[256];
    char path[4096];            /* the same, as host paths for messages */
    char backup[4096];
};

static void *mem_alloc(void *ctx, size_t size) { (void)ctx; return calloc(1, size); }
static void mem_free(void *ctx, void *p) { (void)ctx; free(p); }
static const struct ul_mem_ops cli_mem_ops = { .alloc = mem_alloc, .free = mem_free };
const struct ul_mem cli_mem = { &cli_mem_ops, NULL };

static void quiet_sink(void *ctx, enum ul_log_level level, const char *msg)
{
    (void)ctx;
    if (level <= UL_LOG_WARNING)
        fprintf(stderr, "%s: %s\n", prog, msg);
}
static const struct ul_log_sink_ops sink_ops = { .write = quiet_sink };

/* --bcd FILE: the file itself, backup beside it.  --esp DIR: the ESP's
 * store, backup in \EFI\unloop\BCD.backup. */
static int resolve(const struct cli_opts *o, struct bcd_target *t)
{
    const char *dir;
    char dbuf[4096];
    int r;

    if (o->bcd) {
        const char *slash = strrchr(o->bcd, '/');
        const char *base = slash ? slash + 1 : o->bcd;
        if (!*base || strlen(base) > 200)
            return usage_error("--bcd needs a file name, not '%s'", o->bcd);
        snprintf(dbuf, sizeof(dbuf), "%.*s", slash ? (int)(slash - o->bcd) : 1,
                 slash ? (slash == o->bcd ? "/" : o->bcd) : ".");
        dir = dbuf;
        snprintf(t->vpath, sizeof(t->vpath), "\\%s", base);
        snprintf(t->vbackup, sizeof(t->vbackup), "\\%s.backup", base);
    } else {
        dir = ul_posix_find_esp(o->esp);
        if (!dir) {
            fprintf(stderr, "%s: name the store with --bcd FILE or the ESP with --esp DIR\n",
                    prog);
            return EXIT_USAGE;
        }
        snprintf(t->vpath, sizeof(t->vpath), "%s", UL_BCD_PATH);
        snprintf(t->vbackup, sizeof(t->vbackup), "%s", UL_BCD_BACKUP_PATH);
    }
    r = ul_posix_volume_open(&t->pv, dir);
    if (r < 0) {
        fprintf(stderr, "%s: cannot use %s: %s\n", prog, dir, strerror(-r));
        return EXIT_FAIL;
    }
    t->vol = (struct ul_volume){ &ul_posix_volume_ops, &t->pv };
    if (!o->bcd)
        t->vol.ops->mkdir(t->vol.ctx, "\\EFI\\unloop"); /* for the backup; may exist */
    ul_posix_volume_resolve(&t->pv, t->vpath, t->path, sizeof(t->path));
    ul_posix_volume_resolve(&t->pv, t->vbackup, t->backup, sizeof(t->backup));
    return EXIT_OK;
}

static struct ul_log cli_log;

static int load(struct bcd_target *t, struct ul_bcd_store *bs)
{
    static struct ul_clock clock = { &ul_posix_clock_ops, NULL };
    ul_log_init(&cli_log, &sink_ops, NULL, &clock, "os");
    int r = ul_bcd_store_recover(&t->vol, &cli_mem, t->vpath, &cli_log);
    if (r >= 0)
        r = ul_bcd_store_load(&t->vol, &cli_mem, t->vpath, bs, &cli_log);
    if (r < 0)
        return r == -UL_ENOENT || r == -UL_EACCES || r == -UL_ENOMEM ? EXIT_FAIL : EXIT_BAD_HIVE;
    return EXIT_OK;
}

static void print_state(const struct cli_opts *o, const struct bcd_target *t, const char *guid,
                        const char *desc, int sr, uint64_t v, const char *action, bool changed)
{
    if (o->json) {
        struct json j;
        json_init(&j, stdout);
        json_object_begin(&j, NULL);
        json_str(&j, "bcd", t->path);
        json_str(&j, "default_loader", guid);
        json_str(&j, "description", desc);
        json_str(&j, "safeboot", sr == 0 ? ul_safeboot_name(v) : NULL);
        if (sr == 0)
            json_int(&j, "safeboot_value", (int64_t)v);
        else
            json_null(&j, "safeboot_value");
        if (action) {
            json_str(&j, "action", action);
            json_bool(&j, "changed", changed);
            json_str(&j, "backup", changed ? t->backup : NULL);
        }
        json_object_end(&j);
        json_finish(&j);
        return;
    }
    printf("BCD:            %s\n", t->path);
    printf("Default loader: %s%s%s%s\n", guid, *desc ? " (" : "", desc, *desc ? ")" : "");
    if (sr == 0)
        printf("Safe Mode:      %s (safeboot = %llu)\n", ul_safeboot_name(v),
               (unsigned long long)v);
    else
        printf("Safe Mode:      off\n");
    if (action && changed)
        printf("Changed; the previous store is in %s\n", t->backup);
    else if (action)
        printf("Nothing to change.\n");
}

int cmd_safe_mode(const struct cli_opts *o, const char *action)
{
    static struct ul_bcd_store bs;
    static struct bcd_target t;
    char guid[UL_BCD_GUID_LEN + 1], desc[96] = "";
    uint64_t v = 0;
    bool on = strcmp(action, "on") == 0, off = strcmp(action, "off") == 0;
    int rc, r;

    if (!on && !off && strcmp(action, "status") != 0)
        return usage_error("safe-mode takes on, off or status, not '%s'", action);
    if (o->network && !on)
        return usage_error("%s", "--network goes with 'safe-mode on'");
    rc = resolve(o, &t);
    if (rc)
        return rc;
    rc = load(&t, &bs);
    if (rc)
        return rc;

    r = ul_bcd_default_loader(&bs.h, guid);
    if (r < 0) {
        fprintf(stderr, "%s: %s has no usable default loader (Windows Boot Manager element "
                "23000003): %s\n", prog, t.path, ul_strerror(r));
        ul_bcd_store_free(&bs);
        return EXIT_BAD_HIVE;
    }
    /* The description is informational only. */
    struct ul_bcd_object objs[64];
    uint32_t n = 0;
    if (ul_bcd_list(&bs.h, objs, 64, &n) == 0)
        for (uint32_t i = 0; i < n && i < 64; i++)
            if (objs[i].is_default)
                snprintf(desc, sizeof(desc), "%s", objs[i].description);

    int sr = ul_bcd_get_safeboot(&bs.h, guid, &v);
    if (sr < 0 && sr != -UL_ENOENT) {
        fprintf(stderr, "%s: the safeboot element of %s is malformed: %s\n", prog, guid,
                ul_strerror(sr));
        ul_bcd_store_free(&bs);
        return EXIT_BAD_HIVE;
    }

    bool changed = false;
    if (on) {
        enum ul_safeboot want = o->network ? UL_SAFEBOOT_NETWORK : UL_SAFEBOOT_MINIMAL;
        if (sr != 0 || v != (uint64_t)want) {
            r = ul_bcd_set_safeboot(&bs.h, guid, want);
            if (r < 0) {
                fprintf(stderr, "%s: cannot set safeboot: %s%s%s\n", prog, ul_strerror(r),
                        bs.h.error ? ": " : "", bs.h.error ? bs.h.error : "");
                ul_bcd_store_free(&bs);
                return EXIT_FAIL;
            }
            changed = true;
        }
    } else if (off && sr == 0) {
        r = ul_bcd_clear_safeboot(&bs.h, guid);
        if (r < 0) {
            fprintf(stderr, "%s: cannot clear safeboot: %s\n", prog, ul_strerror(r));
            ul_bcd_store_free(&bs);
            return EXIT_FAIL;
        }
        changed = true;
    }
    if (changed) {
        r = ul_bcd_store_save(&t.vol, &bs, t.vbackup, &cli_log);
        if (r < 0) {
            ul_bcd_store_free(&bs);
            return EXIT_FAIL;
        }
        sr = ul_bcd_get_safeboot(&bs.h, guid, &v);
    }
    print_state(o, &t, guid, desc, sr, v, (on || off) ? action : NULL, changed);
    ul_bcd_store_free(&bs);
    return EXIT_OK;
}

int cmd_bcd_list(const struct cli_opts *o)
{
    static struct ul_bcd_store bs;
    static struct ul_bcd_object objs[256];
    static struct bcd_target t;
    uint32_t n = 0;
    int rc = resolve(o, &t);
    if (rc)
        return rc;
    rc = load(&t, &bs);
    if (rc)
        return rc;
    int r = ul_bcd_list(&bs.h, objs, 256, &n);
    if (r < 0) {
        fprintf(stderr, "%s: cannot list the objects of %s: %s\n", prog, t.path, ul_strerror(r));
        ul_bcd_store_free(&bs);
        return EXIT_BAD_HIVE;
    }
    if (n > 256)
        n = 256;
    if (o->json) {
        struct json j;
        json_init(&j, stdout);
        json_object_begin(&j, NULL);
        json_str(&j, "bcd", t.path);
        json_array_begin(&j, "objects");
        for (uint32_t i = 0; i < n; i++) {
            char type[16];
            snprintf(type, sizeof(type), "0x%08x", objs[i].type);
            json_object_begin(&j, NULL);
            json_str(&j, "guid", objs[i].guid);
            json_str(&j, "type", type);
            json_str(&j, "kind", ul_bcd_type_name(objs[i].type));
            json_str(&j, "description", objs[i].description);
            json_bool(&j, "default", objs[i].is_default);
            json_str(&j, "safeboot", objs[i].has_safeboot ? ul_safeboot_name(objs[i].safeboot)
                                                          : NULL);
            json_object_end(&j);
        }
        json_array_end(&j);
        json_object_end(&j);
        json_finish(&j);
    } else {
        printf("%-38s  %-10s  %-24s  %s\n", "object", "type", "kind", "description");
        for (uint32_t i = 0; i < n; i++) {
            char extra[48];
            snprintf(extra, sizeof(extra), "%s%s%s%s", objs[i].is_default ? "  [default]" : "",
                     objs[i].has_safeboot ? "  [safeboot=" : "",
                     objs[i].has_safeboot ? ul_safeboot_name(objs[i].safeboot) : "",
                     objs[i].has_safeboot ? "]" : "");
            printf("%-38s  0x%08x  %-24s  %s%s\n", objs[i].guid, objs[i].type,
                   ul_bcd_type_name(objs[i].type), objs[i].description, extra);
        }
    }
    ul_bcd_store_free(&bs);
    return EXIT_OK;
}
