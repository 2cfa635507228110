/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libntfs-3g's config.h for the UEFI build (efi/ntfs.mk).  Debian's source
 * ships no generated configure; this says what efi/libc provides.  Only the
 * headers listed here exist in efi/libc/include.
 */
#ifndef UL_NTFS_CONFIG_H
#define UL_NTFS_CONFIG_H

#define PACKAGE_NAME "ntfs-3g"
#define PACKAGE_VERSION "2022.10.3"
#define VERSION PACKAGE_VERSION

#define STDC_HEADERS 1
#define HAVE_CTYPE_H 1
#define HAVE_ERRNO_H 1
#define HAVE_FCNTL_H 1
#define HAVE_INTTYPES_H 1
#define HAVE_LIMITS_H 1
#define HAVE_LOCALE_H 1
#define HAVE_STDARG_H 1
#define HAVE_STDDEF_H 1
#define HAVE_STDINT_H 1
#define HAVE_STDIO_H 1
#define HAVE_STDLIB_H 1
#define HAVE_STRING_H 1
#define HAVE_SYSLOG_H 1
#define HAVE_SYS_STAT_H 1
#define HAVE_SYS_SYSMACROS_H 1
#define HAVE_SYS_TYPES_H 1
#define HAVE_TIME_H 1
#define HAVE_UNISTD_H 1
#define HAVE_WCHAR_H 1
#define HAVE_GETTIMEOFDAY 1
#define HAVE_SYS_TIME_H 1
/* compat.c's daemon() needs fork(): say we have one so it is not built. */
#define HAVE_DAEMON 1
/* efi/libc has strsep(); compat.c supplies ffs(). */
#define HAVE_STRSEP 1
/* No HAVE_MNTENT_H (no mount table), HAVE_SETXATTR, HAVE_REALPATH, HAVE_MBSINIT,
 * HAVE_LINUX_FS_H, HAVE_LINUX_HDREG_H, ENABLE_CRYPTO, ENABLE_UUID, ENABLE_HD,
 * ENABLE_NFCONV: none of that exists before the OS runs. */

/* device.c asks the device for its size and sector size through these
 * ioctl numbers when they are defined (else it probes byte by byte);
 * efi/efi-ntfs.c answers them.  Values as in <linux/fs.h>. */
#define BLKGETSIZE64 0x80081272
#define BLKSSZGET 0x1268

/* Our own struct ntfs_device_operations (efi/efi-ntfs.c). */
#ifndef NO_NTFS_DEVICE_DEFAULT_IO_OPS
#define NO_NTFS_DEVICE_DEFAULT_IO_OPS 1
#endif
#endif
