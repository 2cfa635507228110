/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef UL_LIBC_SYS_TYPES_H
#define UL_LIBC_SYS_TYPES_H
#include <stddef.h>
#include <stdint.h>
typedef long ssize_t;
typedef int64_t off_t;
typedef int64_t off64_t;
typedef int64_t time_t;
typedef long suseconds_t;
typedef unsigned int mode_t;
typedef unsigned int uid_t;
typedef unsigned int gid_t;
typedef int pid_t;
typedef uint64_t dev_t;
typedef uint64_t ino_t;
typedef uint64_t nlink_t;
typedef int64_t blkcnt_t;
typedef long blksize_t;
typedef int64_t loff_t;

#define major(dev) ((unsigned int)(((dev) >> 8) & 0xfff))
#define minor(dev) ((unsigned int)(((dev) & 0xff) | (((dev) >> 12) & 0xfff00)))
#define makedev(ma, mi) ((((dev_t)(ma) & 0xfff) << 8) | ((dev_t)(mi) & 0xff) | \
                        (((dev_t)(mi) & 0xfff00) << 12))
#endif
