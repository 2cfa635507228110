/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Only the "C" locale; setlocale() refuses every other. */
#ifndef UL_LIBC_LOCALE_H
#define UL_LIBC_LOCALE_H
#include <stddef.h>
#define LC_CTYPE 0
#define LC_ALL 6
char *setlocale(int category, const char *locale);
#endif
