/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Whole-buffer positioned reads and writes on a file descriptor (cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

/* One loop for both directions: short transfers and EINTR are retried;
 * end of file on a read (or a zero-byte write) is an I/O error. */
static int xfer_all(int fd, char *p, size_t len, uint64_t off, bool write)
{
    while (len) {
        ssize_t n = write ? pwrite(fd, p, len, (off_t)off) : pread(fd, p, len, (off_t)off);
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

int cli_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
    return xfer_all(fd, buf, len, off, false);
}

int cli_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
    /* pwrite takes a const buffer; xfer_all never writes through it. */
    return xfer_all(fd, (char *)(uintptr_t)buf, len, off, true);
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
