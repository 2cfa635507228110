/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unlocking a BitLocker volume with whatever keys are at hand, in the
 * order a technician would try them, without a person when possible:
 *   1. the clear key (protection suspended: no secret needed);
 *   2. startup keys: the .BEK files in the key folder (named {GUID}.BEK by
 *      Windows; any name is accepted, the key's own GUID is matched);
 *   3. key files in the key folder: CSV exported from Active Directory or
 *      Entra, the text of 'manage-bde -protectors -get', BitLocker's own
 *      recovery key backup .TXT (shared/bitlocker-keys.h), matched against
 *      the volume's recovery-password protector IDs;
 *   4. a person: the recovery password typed at a prompt, group by group,
 *      when the caller gives one (pre-boot: the console, with a timeout).
 * Used by unloop.efi on the Windows volume (issue #5) and by the USB mode.
 *
 * Key hygiene: every buffer that held a key file, a .BEK or a typed
 * password is wiped before it is freed; messages name files and protector
 * IDs (not secret: Windows shows the ID on its own recovery screen, and it
 * is how a key is looked up in AD or Entra), never a key.
 */
#ifndef UL_BITLOCKER_UNLOCK_H
#define UL_BITLOCKER_UNLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "bcd-store.h" /* struct ul_mem */
#include "bitlocker-keys.h" /* UL_BITLOCKER_RP_SIZE */
#include "gpt.h"
#include "log.h"
#include "ops.h"

struct ul_bitlocker;

/*
 * What the prompt shows and gets back.  The callback returns 0 with the
 * password in out (8 groups already checked as typed), -UL_ECANCELED when
 * the person pressed Esc or nobody typed within timeout_s seconds, or
 * another negative code.  The caller wipes out.
 */
struct ul_rp_prompt {
    const char *volume;             /* "partition 3 (127 GiB)" */
    struct ul_guid protector;       /* the recovery-password protector asked for */
    const char *retry;              /* NULL, or why the last try failed */
    uint32_t timeout_s;
};
typedef int (*ul_rp_prompt_fn)(void *ctx, const struct ul_rp_prompt *p,
                               char out[UL_BITLOCKER_RP_SIZE]);

struct ul_bitlocker_keysrc {
    const struct ul_volume *dir_vol;    /* where key_dir is (the ESP); NULL: none */
    const char *key_dir;                /* "\EFI\unloop\keys" */
    const char *key_file;               /* one more file on dir_vol, tried first; NULL: none */
    ul_rp_prompt_fn prompt;             /* NULL: no one to ask */
    void *prompt_ctx;
    uint32_t prompt_timeout;            /* seconds */
    uint32_t prompt_tries;              /* wrong passwords accepted before giving up */
    const struct ul_mem *mem;
    struct ul_log *log;
};

/* How the volume was unlocked, for the log and reports. */
struct ul_bitlocker_unlocked {
    int protector;                      /* index in the info's protectors */
    char source[96];                    /* "clear key", "\EFI\unloop\keys\site.csv", "prompt" */
};

/*
 * Tries the sources in order until one unlocks bl.  volume names it in
 * messages.  Returns 0 (how in *ret, may be NULL), or:
 *   -UL_ENOENT   no key for this volume (no clear key, no matching key,
 *                nobody typed one); *ret_why says which protectors it has,
 *                e.g. TPM only;
 *   -UL_EACCES   keys were found for it but none was right;
 *   -UL_EOPNOTSUPP / -UL_EBADMSG  the volume's keys cannot be used
 *                (ul_bitlocker_unlock_*).
 * *ret_why is a sentence in static or *whybuf storage (whybuf: at least
 * 160 bytes).
 */
int ul_bitlocker_unlock_auto(struct ul_bitlocker *bl, const struct ul_bitlocker_keysrc *src,
                             const char *volume, struct ul_bitlocker_unlocked *ret,
                             char *whybuf, size_t whylen, const char **ret_why);

/* "TPM, recovery password 64311DEA, ..." (IDs shortened as Windows' recovery
 * screen shows them: the first 8 hex digits, upper case). */
void ul_bitlocker_describe_protectors(const struct ul_bitlocker *bl, char *out, size_t size);

#endif
