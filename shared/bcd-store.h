/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The BCD store as a file on a volume: load it (replaying BCD.LOG1/LOG2
 * when Windows left it dirty), save it so that a power cut at any point
 * leaves a valid store, and finish or undo a save that was interrupted.
 *
 * FAT has no atomic rename-over, so a save is a small protocol whose every
 * intermediate state the next run (unloop runs first on every boot) can
 * finish or roll back (ul_bcd_store_recover):
 *   1. copy the current file to the backup path (through backup.unloop-new
 *      and a rename: the backup is never torn)
 *   2. write the new hive to BCD.unloop-new and flush it
 *   3. rename BCD -> BCD.unloop-old
 *   4. rename BCD.unloop-new -> BCD
 *   5. remove BCD.unloop-old
 * Between 3 and 4 there is no BCD for an instant; recovery renames the
 * complete new file (or, if it does not validate, the old one) into place.
 */
#ifndef UL_BCD_STORE_H
#define UL_BCD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "ops.h"
#include "regf.h"

#define UL_BCD_PATH "\\EFI\\Microsoft\\Boot\\BCD"
#define UL_BCD_BACKUP_PATH "\\EFI\\unloop\\BCD.backup"
#define UL_BCD_MAX_SIZE (16u << 20)
#define UL_BCD_SLACK (256u << 10)   /* room for new hive bins */

struct ul_mem_ops {
    void *(*alloc)(void *ctx, size_t size);   /* zeroed memory or NULL */
    void (*free)(void *ctx, void *p);
};

struct ul_mem {
    const struct ul_mem_ops *ops;
    void *ctx;
};

struct ul_bcd_store {
    char path[128];
    struct ul_regf h;
    uint8_t *buf;
    size_t size;            /* allocated size of buf */
    bool replayed;          /* logs were replayed into buf */
    const struct ul_mem *mem;
};

/*
 * Read and open the store at path.  A dirty hive is replayed from
 * path.LOG1/.LOG2; -UL_ESTALE when that is impossible.  Errors are logged
 * with the reason.
 */
int ul_bcd_store_load(const struct ul_volume *vol, const struct ul_mem *mem, const char *path,
                      struct ul_bcd_store *st, struct ul_log *log);
/* Commit the hive and replace the file by the protocol above. */
int ul_bcd_store_save(const struct ul_volume *vol, struct ul_bcd_store *st,
                      const char *backup_path, struct ul_log *log);
void ul_bcd_store_free(struct ul_bcd_store *st);

/*
 * Finish or roll back an interrupted save of path.  Cheap when nothing was
 * interrupted (two lookups).  Returns 1 if it repaired something, 0 if
 * there was nothing to do, <0 on error.
 */
int ul_bcd_store_recover(const struct ul_volume *vol, const struct ul_mem *mem,
                         const char *path, struct ul_log *log);

#endif
