/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * errno-style codes for the freestanding core.  <errno.h> is not a
 * freestanding header, so the values are spelled out here; they equal
 * Linux's so the CLI can hand them to strerror() unchanged.
 */
#ifndef UL_ERRNO_H
#define UL_ERRNO_H

#define UL_EPERM         1
#define UL_ENOENT        2
#define UL_EIO           5
#define UL_E2BIG         7
#define UL_ENOMEM       12
#define UL_EACCES       13
#define UL_EBUSY        16
#define UL_EEXIST       17
#define UL_ENODEV       19
#define UL_EISDIR       21
#define UL_EINVAL       22
#define UL_ENOSPC       28
#define UL_EROFS        30
#define UL_ERANGE       34
#define UL_ENAMETOOLONG 36
#define UL_ENOTEMPTY    39
#define UL_ELOOP        40
#define UL_ENODATA      61
#define UL_EBADMSG      74
#define UL_EOPNOTSUPP   95
#define UL_ESTALE      116
#define UL_ECANCELED   125

/* Short name of an error code, for logs ("ENOENT"); never NULL. */
const char *ul_strerror(int err);

#endif
