/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Stateful in-memory fakes for the core's ops tables (CONVENTIONS.md,
 * "Tests"; after shim's mock-variables.c): a volume that behaves like a
 * small FAT ESP and a settable clock.
 *
 * The volume keeps files and directories keyed by backslash paths relative
 * to the root ("\EFI\unloop\state"), matched case-insensitively; the root
 * always exists.  write and mkdir need the parent directory (-UL_ENOENT
 * otherwise), rename fails with -UL_EEXIST when the target exists, a write
 * past the end of a file zero-fills the gap.
 *
 * Fault hooks, counted in write calls from the moment they are armed:
 *   fake_volume_fail_write(v, n, err)   the n-th write returns err, changes nothing
 *   fake_volume_power_cut(v, n, k)      the n-th write lands its first k bytes
 *                                       only; then every op fails with -UL_EIO
 *                                       until fake_volume_power_on(v)
 *   fake_volume_power_cut_sectors(v, n, mask)
 *                                       the same, but the n-th write lands the
 *                                       512-byte sectors (counted from the
 *                                       write's start) whose bit is set in mask:
 *                                       a disk that reorders a multi-sector write
 *   fake_volume_fail_path(v, path, err) every op naming path returns err
 * and one counted in mutating ops (write, mkdir, rename, remove) of any kind:
 *   fake_volume_power_cut_op(v, n, k)   power fails at the n-th mutating op:
 *                                       a write lands its first k bytes
 *                                       (FAKE_CUT_ALL: every byte) and creates
 *                                       the file; mkdir, rename and remove do
 *                                       not happen.  Then every op fails with
 *                                       -UL_EIO until fake_volume_power_on(v)
 * The optional ops behave like NTFS through libntfs-3g: list gives every
 * entry of a directory with its stat; move (to any directory) is two
 * mutating ops, link then unlink, so a cut between them leaves two names
 * with one file_id; it stamps mft_change with v->move_stamp; set_times is
 * one mutating op.
 * Every write call is counted and logged (path, offset, length, result);
 * every mutating op is counted and logged in op_log (kind, path(s), length,
 * result).  Renames and removes are atomic, as the core assumes of FAT
 * within one directory.
 *
 * Files are heap-allocated: call fake_volume_reset() between tests and
 * fake_volume_free() at the end so LeakSanitizer stays quiet.
 */
#ifndef UL_TEST_FAKE_VOLUME_H
#define UL_TEST_FAKE_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops.h"

#define FAKE_MAX_NODES 512
#define FAKE_PATH_MAX 260
#define FAKE_WRITE_LOG 64
#define FAKE_OP_LOG 64
#define FAKE_CUT_ALL ((size_t)-1)

enum fake_op_kind { FAKE_OP_WRITE = 1, FAKE_OP_MKDIR, FAKE_OP_RENAME, FAKE_OP_REMOVE,
                    FAKE_OP_LINK, FAKE_OP_UNLINK, FAKE_OP_SET_TIMES };

struct fake_op {
    enum fake_op_kind kind;
    char path[FAKE_PATH_MAX];
    char to[FAKE_PATH_MAX];     /* FAKE_OP_RENAME: the target */
    size_t len;                 /* FAKE_OP_WRITE: bytes asked for */
    int result;
};

struct fake_node {
    bool used;
    bool is_dir;
    char path[FAKE_PATH_MAX];   /* normalised: leading '\', no trailing '\' */
    uint8_t *data;
    size_t size;
    struct ul_times times;      /* what stat reports; a move stamps mft_change */
    uint64_t file_id;           /* shared by the two names of a file mid-move */
};

struct fake_write {
    char path[FAKE_PATH_MAX];
    uint64_t off;
    size_t len;
    int result;
};

struct fake_volume {
    struct fake_node nodes[FAKE_MAX_NODES];

    /* statistics since the last reset */
    unsigned n_writes;          /* write calls, failed ones included */
    unsigned n_reads, n_stats, n_mkdirs, n_renames, n_removes;
    struct fake_write write_log[FAKE_WRITE_LOG];   /* the first FAKE_WRITE_LOG writes */
    unsigned n_ops;             /* mutating calls (write, mkdir, rename, remove) */
    struct fake_op op_log[FAKE_OP_LOG];            /* the first FAKE_OP_LOG of them */

    /* fault hooks */
    unsigned fail_write_at;     /* absolute write number (1-based); 0 = off */
    int fail_write_err;
    unsigned cut_write_at;      /* absolute write number (1-based); 0 = off */
    size_t cut_bytes;
    bool cut_by_sector;
    uint64_t cut_sectors;       /* with cut_by_sector: bit i = sector i lands */
    unsigned cut_op_at;         /* absolute mutating-op number (1-based); 0 = off */
    size_t cut_op_bytes;
    bool powered_off;
    unsigned power_cuts;        /* how many cuts happened */
    char fail_path[FAKE_PATH_MAX];
    int fail_path_err;

    /* NTFS-like optional ops (list, move, set_times) */
    uint64_t next_file_id;
    uint64_t move_stamp;        /* FILETIME a move writes into mft_change */
    unsigned n_moves;
};

extern const struct ul_volume_ops fake_volume_ops;

void fake_volume_init(struct fake_volume *v);
/* Forget every file and fault hook and zero the counters. */
void fake_volume_reset(struct fake_volume *v);
void fake_volume_free(struct fake_volume *v);
struct ul_volume fake_volume_get(struct fake_volume *v);

/* Test set-up and inspection: bypass the fault hooks and the counters. */
int fake_volume_mkdir_p(struct fake_volume *v, const char *path);
/* Create or replace a file, creating its directories. */
int fake_volume_put(struct fake_volume *v, const char *path, const void *data, size_t len);
/* The contents of a file or NULL (size in *ret_len); valid until the next op. */
const uint8_t *fake_volume_peek(const struct fake_volume *v, const char *path, size_t *ret_len);
bool fake_volume_exists(const struct fake_volume *v, const char *path);
bool fake_volume_is_dir(const struct fake_volume *v, const char *path);
/* A copy of a file as a NUL-terminated heap string (free() it), or NULL. */
char *fake_volume_read_string(const struct fake_volume *v, const char *path);

/* Set a file's times (set-up, no hooks). */
int fake_volume_set_times(struct fake_volume *v, const char *path, const struct ul_times *t);
/* A second name for a file (as an interrupted NTFS move leaves it). */
int fake_volume_link(struct fake_volume *v, const char *from, const char *to);

/* Fault hooks; n counts write calls from now, 1 = the next one. */
void fake_volume_fail_write(struct fake_volume *v, unsigned n, int err);
void fake_volume_power_cut(struct fake_volume *v, unsigned n, size_t k);
#define FAKE_SECTOR 512
void fake_volume_power_cut_sectors(struct fake_volume *v, unsigned n, uint64_t mask);
/* n counts mutating ops of any kind from now, 1 = the next one. */
void fake_volume_power_cut_op(struct fake_volume *v, unsigned n, size_t k);
unsigned fake_volume_op_count(const struct fake_volume *v);
/* "Reboot": power is back and every fault hook is disarmed. */
void fake_volume_power_on(struct fake_volume *v);
void fake_volume_fail_path(struct fake_volume *v, const char *path, int err);
unsigned fake_volume_write_count(const struct fake_volume *v);

/* ---- clock ---- */

struct fake_clock {
    struct ul_time now;
    int err;                    /* != 0: now() fails with it */
    unsigned calls;
};

extern const struct ul_clock_ops fake_clock_ops;

void fake_clock_set(struct fake_clock *c, int64_t secs, int16_t tz, bool valid);
void fake_clock_fail(struct fake_clock *c, int err);
struct ul_clock fake_clock_get(struct fake_clock *c);

#endif
