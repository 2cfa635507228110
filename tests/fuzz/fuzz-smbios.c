/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the SMBIOS structure-table reader (shared/smbios.c):
 * firmware tables are untrusted (firmware bugs are common).  Any input must
 * give a clean result; what comes out must be NUL-terminated printable
 * ASCII, and the machine id built from it must be a safe file name.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "rescue.h"
#include "smbios.h"

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond))                                                               \
            __builtin_trap();                                                      \
    } while (0)

static void printable(const char *s, size_t size)
{
    size_t n = strnlen(s, size);
    CHECK(n < size);
    for (size_t i = 0; i < n; i++)
        CHECK(s[i] >= 0x20 && s[i] < 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ul_machine m;
    char id[80];
    int r = ul_smbios_machine(data, size, &m);
    CHECK(r == 0 || r < 0);
    printable(m.uuid, sizeof(m.uuid));
    printable(m.serial, sizeof(m.serial));
    printable(m.manufacturer, sizeof(m.manufacturer));
    printable(m.product, sizeof(m.product));
    ul_rescue_machine_id(&m, 0x5f3a2b1c, id, sizeof(id));
    size_t n = strnlen(id, sizeof(id));
    CHECK(n > 0 && n < sizeof(id));
    for (size_t i = 0; i < n; i++)
        CHECK((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
              (id[i] >= '0' && id[i] <= '9') || id[i] == '-' || id[i] == '_' || id[i] == '.');
    return 0;
}
