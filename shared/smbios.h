/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The machine's identity from SMBIOS (DMTF DSP0134 §7.2, type 1 "System
 * Information"): UUID, serial number, manufacturer, product name, for the
 * rescue report's machine id.  The structure table is untrusted input
 * (firmware bugs are common): every length is checked, strings are cut to
 * printable ASCII.
 */
#ifndef UL_SMBIOS_H
#define UL_SMBIOS_H

#include <stddef.h>
#include <stdint.h>

#include "rescue.h" /* struct ul_machine */

/*
 * Fills *m from the structure table (len bytes at table): the first type 1
 * structure.  Returns 0, or -UL_ENOENT when there is none (m is then
 * empty).  The UUID is formatted as DSP0134 2.6+ says (first three fields
 * little-endian); all-zero and all-FF UUIDs mean "not set" and give "".
 */
int ul_smbios_machine(const uint8_t *table, size_t len, struct ul_machine *m);

#endif
