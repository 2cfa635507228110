/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The BCD store (\EFI\Microsoft\Boot\BCD) on top of shared/regf: find the
 * default OS loader, read/set/clear its Safe Mode element, list objects.
 *
 * BitLocker: of all BCD elements unloop writes exactly one, safeboot
 * (0x25000080, BcdOSLoaderInteger_SafeBoot), which Microsoft's "BCD
 * settings and BitLocker" lists among the settings BitLocker does not
 * validate.  safebootalternateshell (0x26000081) and every other element
 * are validated and are never written: the only writer in bcd.c refuses
 * any other element name.
 */
#ifndef UL_BCD_H
#define UL_BCD_H

#include <stdbool.h>
#include <stdint.h>

#include "regf.h"

#define UL_BCD_BOOTMGR "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"
#define UL_BCD_ELEM_DEFAULT_OBJECT "23000003" /* BcdBootMgrObject_DefaultObject, REG_SZ GUID */
#define UL_BCD_ELEM_DESCRIPTION "12000004"    /* BcdLibraryString_Description, REG_SZ */
#define UL_BCD_ELEM_SAFEBOOT "25000080"       /* BcdOSLoaderInteger_SafeBoot, 8-byte REG_BINARY */
#define UL_BCD_GUID_LEN 38                    /* "{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}" */

/* Object types (Objects\{GUID}\Description, value Type). */
#define UL_BCD_TYPE_BOOTMGR 0x10100002u
#define UL_BCD_TYPE_OSLOADER 0x10200003u
#define UL_BCD_TYPE_RESUME 0x10200004u

enum ul_safeboot {
    UL_SAFEBOOT_MINIMAL = 0,
    UL_SAFEBOOT_NETWORK = 1,
    UL_SAFEBOOT_DSREPAIR = 2,
};

/* The default OS loader's GUID, as "{...}" in lower case (buf >= 39 bytes). */
int ul_bcd_default_loader(const struct ul_regf *h, char guid[UL_BCD_GUID_LEN + 1]);
/* The loader's safeboot value; -UL_ENOENT when not set, -UL_EBADMSG when malformed. */
int ul_bcd_get_safeboot(const struct ul_regf *h, const char *guid, uint64_t *ret);
/* Set safeboot on a loader (creates the element key, the normal case). */
int ul_bcd_set_safeboot(struct ul_regf *h, const char *guid, enum ul_safeboot mode);
/* Remove the element; -UL_ENOENT if it was not set (nothing changed). */
int ul_bcd_clear_safeboot(struct ul_regf *h, const char *guid);

struct ul_bcd_object {
    char guid[UL_BCD_GUID_LEN + 1];
    uint32_t type;              /* 0 if the object has no readable type */
    char description[96];       /* ASCII rendering of element 12000004, "" if none */
    bool is_default;            /* the boot manager's default object */
    bool has_safeboot;
    uint64_t safeboot;
};

/* Every object in the store, in stored order; *ret_n may exceed max (then the rest is left out). */
int ul_bcd_list(const struct ul_regf *h, struct ul_bcd_object *out, uint32_t max,
                uint32_t *ret_n);

const char *ul_bcd_type_name(uint32_t type);
const char *ul_safeboot_name(uint64_t v);

#endif
