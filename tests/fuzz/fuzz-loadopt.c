/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for Boot#### load options, device paths and BootOrder
 * (shared/loadopt.c): the firmware's boot entries are written by whatever
 * ran on the machine before, so unloop.efi reads them as untrusted input.
 * Any input must be refused cleanly or parsed into fields that lie inside
 * it; the same bytes are also read as a bare device path and as BootOrder.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "loadopt.h"
#include "ul-errno.h"

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond))                                                               \
            __builtin_trap();                                                      \
    } while (0)

static struct ul_load_option o;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *why = NULL;
    char text[UL_LOADOPT_PATH_MAX];
    int r = ul_loadopt_parse(data, size, &o, &why);

    if (r == 0) {
        CHECK(o.description >= data && o.description + 2 * o.description_chars < data + size);
        CHECK(o.file_path_list > o.description &&
              o.file_path_list + o.file_path_list_length <= data + size);
        CHECK(o.optional_data_size == (size_t)(data + size - o.file_path_list) -
                                          o.file_path_list_length);
        CHECK(o.path_len < UL_LOADOPT_PATH_MAX && o.path[o.path_len] == 0);
        ul_loadopt_path_ascii(o.path, text, sizeof(text));
        CHECK(strlen(text) == o.path_len);
        ul_loadopt_desc_ascii(&o, text, 64);
        /* A path always equals its own ASCII form when it is ASCII. */
        bool ascii = true;
        for (size_t i = 0; i < o.path_len; i++)
            ascii &= o.path[i] >= 0x20 && o.path[i] < 0x7f;
        ul_loadopt_path_ascii(o.path, text, sizeof(text));
        if (ascii)
            CHECK(ul_loadopt_path_equal(o.path, text));
        struct ul_hd_node hd;
        int h = ul_dp_find_hd(o.file_path_list, o.file_path_list_length, &hd);
        CHECK(h == 0 || h == -UL_ENOENT || h == -UL_EBADMSG);
        if (o.has_hd)
            CHECK(h == 0);
    } else {
        CHECK(r == -UL_EBADMSG || r == -UL_ENAMETOOLONG);
        CHECK(why != NULL);
    }

    /* The same bytes as a loaded image's FilePath. */
    r = ul_dp_parse_path(data, size, &o, &why);
    CHECK(r == 0 || r == -UL_EBADMSG || r == -UL_ENAMETOOLONG);

    uint16_t order[64];
    size_t n;
    r = ul_boot_order_parse(data, size, order, 64, &n);
    CHECK(n <= 64 && (r == 0 || r == -UL_EBADMSG || r == -UL_E2BIG));
    return 0;
}
