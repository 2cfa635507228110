/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef UL_LIBC_GRP_H
#define UL_LIBC_GRP_H
#include <sys/types.h>
struct group { char *gr_name; char *gr_passwd; gid_t gr_gid; char **gr_mem; };
struct group *getgrgid(gid_t gid);
struct group *getgrnam(const char *name);
#endif
