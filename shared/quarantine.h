/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Finding suspect driver content on the Windows volume and moving it into
 * quarantine, with the journal (journal.h) making every move undoable and
 * safe against a power cut.  Works on any volume that has the optional
 * list/move/set_times ops: NTFS through libntfs-3g in the CLI (and, later,
 * in unloop.efi), the in-memory fake in the unit tests.  Never deletes a
 * file: the only remove() is of a second name left by an interrupted move
 * (same file_id), which keeps the data under the other name.
 */
#ifndef UL_QUARANTINE_H
#define UL_QUARANTINE_H

#include <stdbool.h>
#include <stdint.h>

#include "bcd-store.h" /* struct ul_mem */
#include "journal.h"
#include "log.h"
#include "ops.h"
#include "rules.h"

#define UL_SCAN_MAX 256

struct ul_candidate {
    char path[UL_JPATH_MAX - 40];   /* room for the quarantine prefix */
    uint64_t size;
    struct ul_times times;
    uint64_t file_id;
    uint8_t rule;                   /* index in ul_rules */
    uint8_t head[16];               /* the first bytes of the file */
    uint8_t head_len;
    bool magic_ok;                  /* starts with the rule's magic (if it has one) */
    bool all_zero;                  /* every byte is zero (checked up to 16 MiB) */
};

struct ul_scan {
    struct ul_candidate c[UL_SCAN_MAX];  /* recent matches, newest first */
    uint32_t n;
    uint32_t matched;               /* files any rule matched, recent or not */
    uint32_t dropped;               /* recent matches past UL_SCAN_MAX */
    uint64_t cutoff;                /* FILETIME: recent means max(creation, modification) > cutoff */
    const char *cutoff_reason;
    uint64_t newest;                /* FILETIME of the newest match */
};

/* Walk every enabled rule and keep the recent matches that pass the content checks. */
int ul_scan(const struct ul_volume *vol, const struct ul_rules *rules,
            const struct ul_recency_in *rin, struct ul_scan *out, struct ul_log *log);

enum ul_qmode {
    UL_Q_NEWEST,    /* rung 2: the newest candidate */
    UL_Q_WIDE,      /* rung 3: every candidate (up to rules->max_files) */
};

#define UL_QREPORT_MAX 64

struct ul_qitem {
    char path[UL_JPATH_MAX];        /* the file's own place */
    char other[UL_JPATH_MAX];       /* its place in quarantine; "" when it did not move */
    uint64_t size;
    int result;                     /* 0 or a negative UL_E* */
};

struct ul_qreport {
    uint32_t moved;
    uint32_t failed;
    uint32_t skipped;
    uint32_t n;
    struct ul_qitem items[UL_QREPORT_MAX];
    uint64_t run_id;
};

/* Move the selected candidates to \unloop.quarantine\<run>\<path>, journaled. */
int ul_quarantine(const struct ul_volume *vol, const struct ul_scan *scan, enum ul_qmode mode,
                  uint32_t max_files, uint64_t run_id, struct ul_journal *j,
                  struct ul_qreport *rep, struct ul_log *log);

/* Put back every file of run_id (0: the newest run with quarantined files). */
int ul_restore(const struct ul_volume *vol, struct ul_journal *j, const struct ul_mem *mem,
               uint64_t run_id, struct ul_qreport *rep, struct ul_log *log);

/* Finish or roll back every intent without its done record. Returns how many it resolved. */
int ul_journal_replay(const struct ul_volume *vol, struct ul_journal *j,
                      const struct ul_mem *mem, struct ul_log *log);

/* Latest state of each file in the journal, for listings. */
struct ul_jfile {
    uint64_t run_id;
    uint8_t state;                  /* enum ul_jtype of its newest record */
    uint32_t last_seq;
    struct ul_jrec rec;             /* the newest record */
};
/* Fills out[0..*n) (allocated with mem; free with mem->ops->free). */
int ul_journal_files(const struct ul_journal *j, const struct ul_mem *mem, struct ul_jfile **out,
                     uint32_t *n);

#endif
