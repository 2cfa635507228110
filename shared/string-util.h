/* SPDX-License-Identifier: GPL-2.0-or-later */
/* String and memory helpers for the freestanding core (no libc here). */
#ifndef UL_STRING_UTIL_H
#define UL_STRING_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

size_t ul_strlen(const char *s);
size_t ul_strnlen(const char *s, size_t max);
int ul_strcmp(const char *a, const char *b);
int ul_strcasecmp(const char *a, const char *b);
int ul_strncasecmp(const char *a, const char *b, size_t n);
/* Copies at most size-1 bytes and always terminates; returns strlen(src). */
size_t ul_strlcpy(char *dst, const char *src, size_t size);
char ul_tolower(char c);
bool ul_isspace(char c);

void *ul_memcpy(void *dst, const void *src, size_t n);
void *ul_memmove(void *dst, const void *src, size_t n);
void *ul_memset(void *dst, int c, size_t n);
int ul_memcmp(const void *a, const void *b, size_t n);
/* memset that the compiler may not elide: for keys and passwords. */
void ul_explicit_bzero(void *dst, size_t n);

/*
 * C99's vsnprintf without floating point: %d %i %u %o %x %X %p %c %s %%,
 * the length modifiers hh h l ll z t j, flags '-' '+' ' ' '#' '0', width
 * and precision (also '*').  An unknown conversion prints itself and takes
 * no argument.  Always terminates (when size > 0); returns the length the
 * full output would have had.  One formatter for the core and, through
 * ul_vformat, for efi/libc's printf family (libntfs-3g's messages), where
 * %m prints m_text (strerror(errno)); with m_text NULL it prints "%m".
 */
size_t ul_vformat(char *buf, size_t size, const char *fmt, va_list ap, const char *m_text);
size_t ul_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
size_t ul_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The value of a hex digit (either case), or -1. */
int ul_hexval(char c);

/* Parse an unsigned decimal number that fills [s, s+len) exactly. */
int ul_parse_u32(const char *s, size_t len, uint32_t *ret);

#endif
