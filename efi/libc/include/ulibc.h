/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * unloop's freestanding libc shim for third-party code in the UEFI build
 * (libntfs-3g).  Only what that code asks for, declared minimally.  These
 * headers never reach shared/ or efi/ glue other than efi/libc and
 * efi/efi-ntfs.c.  Hooks the application sets: see ul_libc_init().
 */
#ifndef UL_LIBC_H
#define UL_LIBC_H

#include <stddef.h>
#include <stdint.h>

/* Where stdout/stderr text goes (logging); level 1 = stderr, 0 = stdout.
 * Default: dropped.  The text is not terminated by a newline necessarily. */
typedef void (*ul_libc_write_fn)(int is_err, const char *text, size_t len);
/* Seconds since 1970-01-01 (UTC as far as the caller knows), -1 if unknown. */
typedef int64_t (*ul_libc_clock_fn)(void);
/* Pool allocation: UEFI BS->AllocatePool/FreePool. */
typedef void *(*ul_libc_alloc_fn)(size_t size);
typedef void (*ul_libc_free_fn)(void *p);

struct ul_libc_hooks {
    ul_libc_alloc_fn alloc;
    ul_libc_free_fn free;
    ul_libc_write_fn write;
    ul_libc_clock_fn clock;
};

void ul_libc_init(const struct ul_libc_hooks *hooks);

#endif
