/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The contract between unloop.efi and every OS-side program (the CLI, the
 * agents): paths on the ESP, the state file layout, the ladder's rung
 * numbers.  One header, used by every binary, so they cannot drift apart.
 * Changing anything here is a format change: bump UL_STATE_VERSION.
 */
#ifndef UL_UNLOOP_CONTRACT_H
#define UL_UNLOOP_CONTRACT_H

#include <stdint.h>

#define UL_VERSION "0.1.0"

/* Paths on the ESP, backslash-separated, relative to its root. */
#define UL_DIR_PATH       "\\EFI\\unloop"
#define UL_STATE_PATH     "\\EFI\\unloop\\state"
#define UL_CONFIG_PATH    "\\EFI\\unloop\\unloop.conf"
#define UL_LOG_PATH       "\\EFI\\unloop\\log"
#define UL_LOG_OLD_PATH   "\\EFI\\unloop\\log.1"
#define UL_DEFAULT_LOADER "\\EFI\\Microsoft\\Boot\\bootmgfw.efi"
/*
 * A volatile UEFI variable (boot-services access only: it is never written
 * to flash and a reset clears it) that unloop.efi sets when it counts an
 * attempt, so that a second start in the same power-on (the firmware trying
 * its next boot option after unloop returned to it) is not counted again.
 * Vendor GUID UL_EFI_VENDOR_GUID.
 */
#define UL_EFI_VAR_COUNTED  "UnloopCountedThisBoot"
#define UL_EFI_VENDOR_GUID  { 0x3f4d5b1e, 0x8a2c, 0x4e17, { 0x9b, 0x61, 0x5c, 0x0e, 0x7a, 0x24, 0xd3, 0x91 } }

/* BitLocker startup keys and key files for unloop.efi ([bitlocker] keys). */
#define UL_KEY_DIR        "\\EFI\\unloop\\keys"

/*
 * State file: two slots, each in its own 4 KiB block so that a torn write
 * of one device sector can never damage both.  Every update writes the slot
 * that does NOT hold the newest valid record, so a power cut at any byte
 * leaves the previous record intact; readers take the valid slot with the
 * newest sequence number (DESIGN §2).  All integers little-endian.
 */
#define UL_STATE_MAGIC      0x54534c55u /* "ULST" */
#define UL_STATE_VERSION    1
#define UL_STATE_SLOT_SIZE  64          /* bytes covered by the CRC, incl. it */
#define UL_STATE_SLOT_STRIDE 4096
#define UL_STATE_FILE_SIZE  (2 * UL_STATE_SLOT_STRIDE)

/*
 * Slot layout (offsets in bytes):
 *   0  u32 magic           UL_STATE_MAGIC
 *   4  u16 version         UL_STATE_VERSION
 *   6  u16 size            UL_STATE_SLOT_SIZE
 *   8  u32 seq             incremented on every write (wraps; compared mod 2^32)
 *  12  u32 attempts        boots started since the last bless, this one included
 *  16  u32 boots           boots ever counted (informational)
 *  20  u8  rung            highest ladder rung acted on since the last bless
 *  21  u8  fixed_by        rung in force when the last bless came (0 = none)
 *  22  u16 flags           UL_STATE_F_*
 *  24  u64 last_good       UTC seconds since 1970 of the last bless (0 = never)
 *  32  i64 first_attempt   firmware clock at the first
 *                          attempt after the last bless, seconds since 1970
 *  40  i64 last_attempt    firmware clock at the newest attempt
 *  48  i16 clock_tz        zone of both firmware times: minutes from UTC, or UL_TZ_UNSPECIFIED (local time)
 *  50  u8[10] reserved     zero
 *  60  u32 crc32           CRC-32 (IEEE) of bytes 0..59
 */
#define UL_TZ_UNSPECIFIED 0x07FF /* the UEFI EFI_UNSPECIFIED_TIMEZONE value */

enum ul_state_flags {
    UL_STATE_F_SAFEMODE_SET = 1u << 0, /* unloop set one-shot Safe Mode (issue 4) */
};

/* The recovery ladder (DESIGN §3). Values are stored in the state file. */
enum ul_rung {
    UL_RUNG_NONE = 0,
    UL_RUNG_HANDOFF = 1,           /* healthy: hand off at once */
    UL_RUNG_QUARANTINE_NEWEST = 2, /* quarantine the newest matching content */
    UL_RUNG_QUARANTINE_WIDE = 3,   /* everything matching since last good */
    UL_RUNG_SAFE_MODE = 4,         /* one-shot Safe Mode */
    UL_RUNG_STOP = 5,              /* stop acting: menu waits for a person */
};

#endif
