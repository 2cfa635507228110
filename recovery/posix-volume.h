/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Volume ops over a directory (a mounted ESP), matching names case-insensitively like FAT. */
#ifndef UL_POSIX_VOLUME_H
#define UL_POSIX_VOLUME_H

#include "../shared/ops.h"

struct ul_posix_volume {
    char root[4096];
};

extern const struct ul_volume_ops ul_posix_volume_ops;
int ul_posix_volume_open(struct ul_posix_volume *vol, const char *dir);
/* Host path of a volume path (the existing spelling where one exists). */
int ul_posix_volume_resolve(struct ul_posix_volume *vol, const char *path, char *out, size_t size);

extern const struct ul_clock_ops ul_posix_clock_ops;

/* The ESP's mount point: given, else $UNLOOP_ESP, else the first of
 * /boot/efi, /efi and /boot that holds an EFI directory; NULL if none. */
const char *ul_posix_find_esp(const char *given);

#endif
