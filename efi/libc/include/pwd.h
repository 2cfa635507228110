/* SPDX-License-Identifier: GPL-2.0-or-later */
/* No user database before the OS runs: lookups find nothing. */
#ifndef UL_LIBC_PWD_H
#define UL_LIBC_PWD_H
#include <sys/types.h>
struct passwd { char *pw_name; char *pw_passwd; uid_t pw_uid; gid_t pw_gid;
                 char *pw_gecos; char *pw_dir; char *pw_shell; };
struct passwd *getpwuid(uid_t uid);
struct passwd *getpwnam(const char *name);
#endif
