/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef UL_CRC32_H
#define UL_CRC32_H
#include <stddef.h>
#include <stdint.h>
/* CRC-32/ISO-HDLC (the zlib/Ethernet CRC): crc32("123456789") == 0xCBF43926. */
uint32_t ul_crc32(const void *data, size_t len);
#endif
