/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef UL_LIBC_SYS_STAT_H
#define UL_LIBC_SYS_STAT_H
#include <sys/types.h>
#include <time.h>

struct stat {
    dev_t st_dev;
    ino_t st_ino;
    mode_t st_mode;
    nlink_t st_nlink;
    uid_t st_uid;
    gid_t st_gid;
    dev_t st_rdev;
    off_t st_size;
    blksize_t st_blksize;
    blkcnt_t st_blocks;
    struct timespec st_atim, st_mtim, st_ctim;
};
#define st_atime st_atim.tv_sec
#define st_mtime st_mtim.tv_sec
#define st_ctime st_ctim.tv_sec

#define S_IFMT   0170000
#define S_IFSOCK 0140000
#define S_IFLNK  0120000
#define S_IFREG  0100000
#define S_IFBLK  0060000
#define S_IFDIR  0040000
#define S_IFCHR  0020000
#define S_IFIFO  0010000
#define S_ISUID  04000
#define S_ISGID  02000
#define S_ISVTX  01000
#define S_IRWXU 0700
#define S_IRUSR 0400
#define S_IWUSR 0200
#define S_IXUSR 0100
#define S_IRWXG 070
#define S_IRGRP 040
#define S_IWGRP 020
#define S_IXGRP 010
#define S_IRWXO 07
#define S_IROTH 04
#define S_IWOTH 02
#define S_IXOTH 01
#define S_IREAD S_IRUSR
#define S_IWRITE S_IWUSR
#define S_IEXEC S_IXUSR
#define S_ISTYPE(m, t) (((m) & S_IFMT) == (t))
#define S_ISREG(m)  S_ISTYPE(m, S_IFREG)
#define S_ISDIR(m)  S_ISTYPE(m, S_IFDIR)
#define S_ISCHR(m)  S_ISTYPE(m, S_IFCHR)
#define S_ISBLK(m)  S_ISTYPE(m, S_IFBLK)
#define S_ISFIFO(m) S_ISTYPE(m, S_IFIFO)
#define S_ISLNK(m)  S_ISTYPE(m, S_IFLNK)
#define S_ISSOCK(m) S_ISTYPE(m, S_IFSOCK)
#endif
