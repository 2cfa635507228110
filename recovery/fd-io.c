/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Whole-buffer positioned reads and writes on a file descriptor (cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

int cli_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
    char *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

int cli_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
    const char *p = buf;
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

/*
 * Test hook (tests/ntfs, tests/bitlocker and tests/qemu power-cut runs): with
 * UNLOOP_TEST_POWER_CUT_AFTER_WRITES=N the process dies, as a machine losing
 * power would, instead of issuing libntfs-3g device write N+1 (one count for
 * the process, whichever device takes the write).  Nothing else reads this
 * variable.
 */
void cli_power_cut_hook(void)
{
    static long left = -2;
    if (left == -2) {
        const char *e = getenv("UNLOOP_TEST_POWER_CUT_AFTER_WRITES");
        left = e && *e ? strtol(e, NULL, 10) : -1;
    }
    if (left < 0)
        return;
    if (left-- == 0)
        _exit(99);
}
