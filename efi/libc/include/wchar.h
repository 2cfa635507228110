/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Only for the locale (non-UTF-8) paths of unistr.c, which we never take. */
#ifndef UL_LIBC_WCHAR_H
#define UL_LIBC_WCHAR_H
#include <stddef.h>
typedef int wint_t;
typedef struct { int count; unsigned int value; } mbstate_t;
#define MB_CUR_MAX 1
int mbtowc(wchar_t *wc, const char *s, size_t n);
int wctomb(char *s, wchar_t wc);
size_t mbstowcs(wchar_t *dst, const char *src, size_t n);
#endif
