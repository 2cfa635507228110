/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef UL_LIBC_INTTYPES_H
#define UL_LIBC_INTTYPES_H
#include <stdint.h>
#define PRId64 "lld"
#define PRIi64 "lli"
#define PRIu64 "llu"
#define PRIx64 "llx"
#define PRIX64 "llX"
#define PRId32 "d"
#define PRIu32 "u"
#define PRIx32 "x"
#endif
