/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for unloop's install record (\EFI\unloop\install.rec),
 * which `unloop uninstall` follows to delete boot entries and files: the
 * ESP is writable by anyone with the disk, so the record is untrusted.
 * Properties: the parser never faults; a record it accepts, written back
 * as install writes it, is accepted again and writes back to the same
 * bytes; every file it names lies inside \EFI\unloop.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../recovery/cli.h"

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond))                                                               \
            __builtin_trap();                                                      \
    } while (0)

/* install-cmd.c's links to the rest of the CLI. */
const char *prog = "fuzz-install-record";
int usage_error(const char *fmt, const char *arg)
{
    return EXIT_USAGE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = NULL;
    char *canon = NULL, *again = NULL;
    size_t clen = 0, alen = 0;
    int r = install_record_check((const char *)data, size, &why, &canon, &clen);
    if (r < 0) {
        CHECK(why && *why);
        CHECK(!canon);
        return 0;
    }
    CHECK(canon && clen);
    CHECK(install_record_check(canon, clen, &why, &again, &alen) == 0);
    CHECK(alen == clen && memcmp(again, canon, clen) == 0);
    /* every "file" line names a path in unloop's own folder */
    for (const char *p = canon; (p = strstr(p, "\nfile ")); p++) {
        const char *path = strstr(p, " \\EFI\\unloop\\");
        const char *nl = strchr(p + 1, '\n');
        CHECK(path && nl && path < nl);
    }
    free(canon);
    free(again);
    return 0;
}
