/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * BitLocker volumes (Windows 7 and later, and BitLocker To Go): the volume
 * header, the three FVE metadata copies and their key protectors; unlocking
 * the volume master key (VMK) from a recovery password, a user password, a
 * startup key (.BEK file) or a clear key; the full-volume encryption key
 * (FVEK); and the sectors, decrypted and presented the way dislocker and
 * libbde present them (the relocated first sectors in place, the metadata
 * areas as zeros, sectors past the encrypted part as they are on disk).
 *
 * Format: libyal libbde "BitLocker Drive Encryption (BDE) format" (cited as
 * [bde: Section]); the Elephant diffuser: N. Ferguson, "AES-CBC + Elephant
 * diffuser: A Disk Encryption Algorithm for Windows Vista" (2006).
 * Crypto primitives (AES, AES-XTS, AES-CCM, SHA-256) are mbedTLS's.
 *
 * No I/O of its own: the caller hands in a reader of the raw volume, so the
 * same code reads a partition of a disk image in the CLI and EFI_BLOCK_IO in
 * unloop.efi.  Everything read from the volume or a .BEK file is untrusted.
 * Keys, passwords and everything derived from them stay inside the context,
 * are wiped when no longer needed (also on every error path) and never
 * appear in a returned message.
 */
#ifndef UL_BITLOCKER_H
#define UL_BITLOCKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bcd-store.h" /* struct ul_mem */
#include "gpt.h"       /* struct ul_guid */

/* The raw volume: read exactly len bytes at byte offset off (0 or a
 * negative UL_E* code); size is the volume's length in bytes.  write is
 * optional (NULL: the volume is read-only; ul_bitlocker_write() refuses);
 * it writes exactly len bytes at off. */
struct ul_bitlocker_dev {
    int (*read)(void *ctx, uint64_t off, void *buf, size_t len);
    void *ctx;
    uint64_t size;
    int (*write)(void *ctx, uint64_t off, const void *buf, size_t len);
};

/* Key protection types: the VMK entry's protection field [bde: Key
 * protection types]. */
enum {
    UL_BITLOCKER_PROT_CLEAR_KEY = 0x0000,
    UL_BITLOCKER_PROT_TPM = 0x0100,
    UL_BITLOCKER_PROT_STARTUP_KEY = 0x0200,
    UL_BITLOCKER_PROT_TPM_PIN = 0x0500,
    UL_BITLOCKER_PROT_RECOVERY_PASSWORD = 0x0800,
    UL_BITLOCKER_PROT_PASSWORD = 0x2000,
};

/* Sector encryption methods [bde: Encryption methods]. */
enum {
    UL_BITLOCKER_AES_128_CBC_ELEPHANT = 0x8000,
    UL_BITLOCKER_AES_256_CBC_ELEPHANT = 0x8001,
    UL_BITLOCKER_AES_128_CBC = 0x8002,
    UL_BITLOCKER_AES_256_CBC = 0x8003,
    UL_BITLOCKER_AES_128_XTS = 0x8004,
    UL_BITLOCKER_AES_256_XTS = 0x8005,
};

/* Metadata block states (the "current state" field of the block header). */
enum {
    UL_BITLOCKER_STATE_DECRYPTED = 1,
    UL_BITLOCKER_STATE_CONVERTING = 2,     /* encryption or decryption running */
    UL_BITLOCKER_STATE_ENCRYPTED = 4,
    UL_BITLOCKER_STATE_PAUSED = 5,         /* conversion paused */
};

#define UL_BITLOCKER_MAX_PROTECTORS 32
#define UL_BITLOCKER_COPIES 3

struct ul_bitlocker_protector {
    struct ul_guid guid;
    uint16_t type;              /* UL_BITLOCKER_PROT_*, or another value */
    uint64_t modified;          /* FILETIME, 0 = unknown */
};

struct ul_bitlocker_info {
    bool to_go;                 /* BitLocker To Go ("MSWIN4.1" header) */
    uint32_t sector_size;       /* 512, 1024, 2048 or 4096 */
    uint64_t volume_size;       /* bytes, as the caller gave it */
    uint64_t encrypted_size;    /* bytes from the start that are encrypted */
    uint16_t state, next_state; /* UL_BITLOCKER_STATE_* */
    uint32_t convert_size;      /* bytes being converted past encrypted_size (state 2) */
    uint16_t method;            /* UL_BITLOCKER_AES_*, or another value */
    struct ul_guid volume_guid;
    uint64_t created;           /* FILETIME */
    char description[256];      /* "COMPUTER C: 7/19/2024", UTF-8; may be empty */
    /* Where the original first sectors are kept, and how many there are. */
    uint64_t header_offset;
    uint32_t header_sectors;
    uint64_t header_area;       /* bytes at header_offset read as zeros */
    uint64_t metadata_offset[UL_BITLOCKER_COPIES];
    uint64_t metadata_area;     /* bytes of each copy's area read as zeros */
    /* The copy in use (0..2) and why each other one was refused (NULL: valid). */
    int copy_used;
    const char *copy_error[UL_BITLOCKER_COPIES];
    uint32_t n_protectors;
    uint32_t protectors_dropped; /* past UL_BITLOCKER_MAX_PROTECTORS, not listed */
    struct ul_bitlocker_protector protectors[UL_BITLOCKER_MAX_PROTECTORS];
};

struct ul_bitlocker;

/*
 * Reads the volume header and the FVE metadata and returns a context in
 * *ret (close it with ul_bitlocker_close).  The three copies are each read
 * and checked (signature, version, sizes, CRC-32 of the validation block,
 * every entry's size and nesting); the first valid one is used.
 * Returns 0, or:
 *   -UL_ENOENT     not a BitLocker volume;
 *   -UL_EOPNOTSUPP a BitLocker format this code does not read (Windows Vista);
 *   -UL_EBADMSG    no valid metadata copy;
 *   -UL_ERANGE     the metadata describes a volume larger than dev->size
 *                  (a truncated image or the wrong partition);
 *   -UL_ENOMEM, -UL_EINVAL, or the reader's error.
 * *ret_why (may be NULL) is set to a short English reason on error.
 */
int ul_bitlocker_open(const struct ul_bitlocker_dev *dev, const struct ul_mem *mem,
                      struct ul_bitlocker **ret, const char **ret_why);
/* Wipes every key and frees the context; NULL is fine. */
void ul_bitlocker_close(struct ul_bitlocker *bl);

const struct ul_bitlocker_info *ul_bitlocker_get_info(const struct ul_bitlocker *bl);
bool ul_bitlocker_is_unlocked(const struct ul_bitlocker *bl);

/* "recovery password", "TPM", ...; "unknown" for other values. */
const char *ul_bitlocker_protector_name(uint16_t type);
/* The same as a key for JSON and CSV: "recovery-password", "tpm", ... */
const char *ul_bitlocker_protector_key(uint16_t type);
/* "AES-XTS 128-bit", ...; NULL for a value this code cannot decrypt. */
const char *ul_bitlocker_method_name(uint16_t method);
/* "encrypted", "decrypted", "converting", "paused", or "unknown". */
const char *ul_bitlocker_state_name(uint16_t state);

/*
 * Recovery passwords: 48 digits in 8 groups of 6, each group divisible by
 * 11 (the 6th digit is the check digit) and below 720896 (= 65536 * 11).
 */
enum ul_bitlocker_rp_error {
    UL_BITLOCKER_RP_OK = 0,
    UL_BITLOCKER_RP_FORMAT,     /* not 8 groups of 6 digits */
    UL_BITLOCKER_RP_CHECK,      /* a group's check digit is wrong (not divisible by 11) */
    UL_BITLOCKER_RP_RANGE,      /* a group is 720896 or more */
};
/* One group of exactly 6 digits, as typed at a prompt. */
enum ul_bitlocker_rp_error ul_bitlocker_rp_check_group(const char *six, size_t len);
/*
 * Parses "DDDDDD-DDDDDD-...-DDDDDD" (dashes or single spaces between groups,
 * or none; surrounding white space ignored) into the 16-byte key.  On error
 * returns -UL_EINVAL, *ret_err says why and *ret_group which group
 * (1..8; 0 when the whole is malformed).  Either pointer may be NULL.
 * The caller wipes key.
 */
int ul_bitlocker_parse_recovery_password(const char *s, uint8_t key[16],
                                         enum ul_bitlocker_rp_error *ret_err, int *ret_group);
const char *ul_bitlocker_rp_error_name(enum ul_bitlocker_rp_error e);

/*
 * Unlocking: each finds the matching protector(s), derives the key,
 * unwraps the VMK (AES-CCM, whose tag tells a wrong key), then the FVEK,
 * and sets up the sector cipher.  Returns 0 (and *ret_protector, may be
 * NULL, is the index in info->protectors used), or:
 *   -UL_EINVAL   the password / recovery password / .BEK file is malformed;
 *   -UL_ENOENT   the volume has no protector of that kind (for a .BEK file:
 *                none with its key's GUID);
 *   -UL_EACCES   the key is wrong (no protector accepted it);
 *   -UL_EBADMSG  the VMK opened but the FVEK entry is missing or corrupt;
 *   -UL_EOPNOTSUPP  an encryption method this code does not know.
 * A volume that is already unlocked stays unlocked if a later call finds
 * no protector or a wrong key.
 */
int ul_bitlocker_unlock_recovery_password(struct ul_bitlocker *bl, const char *password,
                                          int *ret_protector, const char **ret_why);
/* A user password (BitLocker To Go / data volumes), UTF-8. */
int ul_bitlocker_unlock_password(struct ul_bitlocker *bl, const char *password, size_t len,
                                 int *ret_protector, const char **ret_why);
/* The contents of a startup key file ({GUID}.BEK). */
int ul_bitlocker_unlock_bek(struct ul_bitlocker *bl, const uint8_t *bek, size_t len,
                            int *ret_protector, const char **ret_why);
/* The clear key: present while protection is suspended. */
int ul_bitlocker_unlock_clear_key(struct ul_bitlocker *bl, int *ret_protector,
                                  const char **ret_why);

/* The GUID of the key in a .BEK file (to name it in messages); 0 or -UL_EINVAL. */
int ul_bitlocker_bek_guid(const uint8_t *bek, size_t len, struct ul_guid *ret);

/*
 * Reads the decrypted volume: len bytes at off, any alignment, within
 * [0, volume_size).  The first header_sectors sectors come from their
 * relocated copy, the metadata and header areas read as zeros, sectors at
 * or past encrypted_size as they are on disk.  -UL_EACCES before an unlock,
 * -UL_ERANGE past the end, or the reader's error.
 */
int ul_bitlocker_read(struct ul_bitlocker *bl, uint64_t off, void *buf, size_t len);

/*
 * Writes the decrypted volume: the inverse of ul_bitlocker_read(), as
 * dislocker's FUSE write path does it (dislocker.c enlock(), sectors.c
 * thread_encrypt()):
 *   - whole sectors; a partial one is read (decrypted), patched, written;
 *   - the first header_sectors sectors go to their relocated copy, encrypted
 *     with that physical offset;
 *   - sectors at or past encrypted_size are written as they are (a volume
 *     whose encryption was paused);
 *   - all others are encrypted in place.
 * A sector overlapping an area presented as zeros (the metadata copies, the
 * relocated-sector area, a conversion area) is refused with -UL_EIO unless
 * the write leaves it as presented (then nothing is written): those bytes
 * are BitLocker's, and NTFS keeps them allocated to its own files, so a real
 * change there means something is wrong.  Returns 0, -UL_EACCES before an
 * unlock, -UL_EROFS without dev->write, -UL_ERANGE past the end, or the
 * device's error; after an error a prefix of the range may be written.
 */
int ul_bitlocker_write(struct ul_bitlocker *bl, uint64_t off, const void *buf, size_t len);

/*
 * The sector cipher alone, in place, on whole sectors whose first one lies
 * at byte offset off of the volume (the offset is the IV / tweak).  For
 * tests and the write path; -UL_EACCES before an unlock, -UL_EINVAL if off
 * or len is not a multiple of the sector size.
 */
int ul_bitlocker_decrypt_sectors(struct ul_bitlocker *bl, uint64_t off, uint8_t *buf, size_t len);
int ul_bitlocker_encrypt_sectors(struct ul_bitlocker *bl, uint64_t off, uint8_t *buf, size_t len);

/*
 * The stretch BitLocker puts between a password and its key [bde: Recovery
 * key]: 0x100000 rounds of SHA-256 over {last hash, initial hash, salt,
 * 64-bit little-endian round counter}.  Exposed for tests.
 */
#define UL_BITLOCKER_STRETCH_ROUNDS 0x100000u
/*
 * Progress of the stretch (about a second on a PC, much longer under
 * emulation), for a person watching: percent, 0..100, called 17 times per
 * stretch.  One hook for the process (NULL: none); no key material passes.
 */
typedef void (*ul_bitlocker_progress_fn)(void *ctx, unsigned percent);
void ul_bitlocker_set_progress(ul_bitlocker_progress_fn fn, void *ctx);
int ul_bitlocker_stretch(const uint8_t initial[32], const uint8_t salt[16], uint8_t out[32]);

#endif
