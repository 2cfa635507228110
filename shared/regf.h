/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A registry hive (regf) reader/writer for one job: editing the BCD store
 * from pre-boot code, where hivex cannot run.  Format: "Windows registry
 * file format specification" by M. Suhanov; hivex's lib/write.c for the
 * writing rules.  The hive lives in one caller-owned buffer (the whole file:
 * base block + hive bins); edits happen in place and may append hive bins
 * up to the buffer's capacity.  No allocation, no I/O.
 *
 * Every offset stored in the hive and every count is untrusted: accessors
 * check each cell reference against the validated bin layout before use,
 * and traversals are bounded, so a damaged hive gives -UL_EBADMSG (or
 * -UL_ELOOP for cycles), never a crash.
 */
#ifndef UL_REGF_H
#define UL_REGF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UL_REGF_BASE_SIZE 4096u   /* base block */
#define UL_REGF_BIN_ALIGN 4096u   /* hive bins are multiples of this */
#define UL_REGF_MAX_DEPTH 512     /* key tree depth bound (cycle guard) */
#define UL_REGF_MAX_NAME 255      /* key and value names, in characters */

enum ul_reg_type {
    UL_REG_NONE = 0,
    UL_REG_SZ = 1,
    UL_REG_EXPAND_SZ = 2,
    UL_REG_BINARY = 3,
    UL_REG_DWORD = 4,
    UL_REG_MULTI_SZ = 7,
    UL_REG_QWORD = 11,
};

/* A key: the hive-relative offset of its nk cell (offset from the start of
 * the first hive bin, as stored in the hive). */
typedef uint32_t ul_regkey;
#define UL_REGKEY_INVALID 0xFFFFFFFFu

struct ul_regf {
    uint8_t *buf;           /* the whole hive file */
    size_t len;             /* bytes in use: 4096 + hive bins data size */
    size_t cap;             /* bytes available in buf (>= len) */
    ul_regkey root;
    bool modified;          /* changed since open or the last commit */
    uint64_t now_filetime;  /* timestamp for keys written (FILETIME); 0 = keep parent's */
    const char *error;      /* static text describing the last -UL_EBADMSG, for messages */
};

/*
 * Validate and open a hive held in buf[0..len).  Checks the base block
 * (signature, checksum, version 1.3..1.6, primary file type, bins size),
 * every hive bin header and that the cells of each bin tile it exactly.
 * Returns -UL_ESTALE when the hive is dirty (sequence numbers differ: logs
 * must be replayed first, see regf-log.h), -UL_EBADMSG when invalid (with
 * h->error set), 0 on success.
 */
int ul_regf_open(struct ul_regf *h, uint8_t *buf, size_t len, size_t cap);

ul_regkey ul_regf_root(const struct ul_regf *h);
/* Child key by name (ASCII, case-insensitive as Windows compares). -UL_ENOENT if absent. */
int ul_regf_subkey(const struct ul_regf *h, ul_regkey parent, const char *name, ul_regkey *ret);
/* Key by backslash-separated path relative to the root ("Objects\{...}\Elements"). */
int ul_regf_lookup(const struct ul_regf *h, const char *path, ul_regkey *ret);
/* Enumerate children in stored (sorted) order: index 0..n-1; -UL_ENOENT past the end. */
int ul_regf_subkey_count(const struct ul_regf *h, ul_regkey key, uint32_t *ret);
int ul_regf_subkey_at(const struct ul_regf *h, ul_regkey key, uint32_t index, ul_regkey *ret);
/* Key name as ASCII (non-ASCII characters become '?'); always NUL-terminated. */
int ul_regf_key_name(const struct ul_regf *h, ul_regkey key, char *buf, size_t size);

/*
 * Value by name ("" is the default value).  Copies up to size bytes of
 * data into buf; *ret_len gets the full data length (so buf may be NULL to
 * ask for it).  -UL_ENOENT if absent, -UL_E2BIG if buf is too small (data
 * not copied).  Big data ("db" records) is read as well.
 */
int ul_regf_value_get(const struct ul_regf *h, ul_regkey key, const char *name,
                      uint32_t *ret_type, void *buf, size_t size, size_t *ret_len);
int ul_regf_value_count(const struct ul_regf *h, ul_regkey key, uint32_t *ret);
/* The index-th value's name (ASCII, '?' for others) and type. */
int ul_regf_value_at(const struct ul_regf *h, ul_regkey key, uint32_t index, char *name,
                     size_t name_size, uint32_t *ret_type);

/*
 * Create a child key (ASCII name) under parent; it shares the parent's
 * security descriptor (sk refcount + 1) and is inserted into the parent's
 * subkey list in sorted position with the right hash.  If it exists, *ret
 * gets it and -UL_EEXIST is returned.  -UL_ENOSPC when the buffer is full.
 */
int ul_regf_key_create(struct ul_regf *h, ul_regkey parent, const char *name, ul_regkey *ret);
/* Create or replace a value (ASCII name).  Data up to 16344 bytes. */
int ul_regf_value_set(struct ul_regf *h, ul_regkey key, const char *name, uint32_t type,
                      const void *data, size_t len);
int ul_regf_value_delete(struct ul_regf *h, ul_regkey key, const char *name);
/* Delete a child key and its values; -UL_ENOTEMPTY if it has subkeys. */
int ul_regf_key_delete(struct ul_regf *h, ul_regkey parent, const char *name);

/*
 * Make the buffer a clean hive file again after edits: both sequence
 * numbers become old + 1 (so they are above every log entry Windows wrote
 * and stale logs are ignored), the bins size and the checksum are updated.
 * h->len is then the file's length.
 */
void ul_regf_commit(struct ul_regf *h);

/* The base block checksum (XOR of the first 127 dwords, 0 -> 1, ~0 -> ~1). */
uint32_t ul_regf_checksum(const uint8_t base[UL_REGF_BASE_SIZE]);

#endif
