/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The few libc symbols gcc may emit calls to on its own (struct copies,
 * zero-initialisation), even with -ffreestanding.  The build passes
 * -fno-tree-loop-distribute-patterns so the loops in string-util.c are not
 * turned back into calls to these.
 */
#include <stddef.h>

#include "../shared/string-util.h"

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

void *memcpy(void *dst, const void *src, size_t n) { return ul_memcpy(dst, src, n); }
void *memmove(void *dst, const void *src, size_t n) { return ul_memmove(dst, src, n); }
void *memset(void *dst, int c, size_t n) { return ul_memset(dst, c, n); }
int memcmp(const void *a, const void *b, size_t n) { return ul_memcmp(a, b, n); }
