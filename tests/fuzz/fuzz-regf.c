/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the regf hive reader/writer: the BCD store on the
 * ESP is untrusted input.  Any byte sequence must open or fail cleanly;
 * an opened hive must survive a full walk, and the Safe Mode edit sequence
 * (create, value set, replace, delete, commit) must leave a hive that opens
 * again.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "regf.h"
#include "ul-errno.h"

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond))                                                               \
            __builtin_trap();                                                      \
    } while (0)

#define EXTRA (64 * 1024)

/* A key visited through many list entries would make the walk exponential
 * (a damaged hive can share children), so the walk has a budget too. */
static unsigned budget;

static void walk(const struct ul_regf *h, ul_regkey key, unsigned depth)
{
    char name[UL_REGF_MAX_NAME + 1];
    static uint8_t data[20000];
    uint32_t n, type;
    size_t len;

    if (depth > 64 || budget == 0)
        return;
    budget--;
    int r = ul_regf_key_name(h, key, name, sizeof(name));
    CHECK(r <= 0 && memchr(name, 0, sizeof(name)) != NULL);
    if (ul_regf_value_count(h, key, &n) == 0) {
        for (uint32_t i = 0; i < n && i < 256; i++) {
            if (ul_regf_value_at(h, key, i, name, sizeof(name), &type) < 0)
                continue;
            CHECK(memchr(name, 0, sizeof(name)) != NULL);
            r = ul_regf_value_get(h, key, name, &type, data, sizeof(data), &len);
            if (r == 0)
                CHECK(len <= sizeof(data));
        }
    }
    if (ul_regf_subkey_count(h, key, &n) == 0) {
        for (uint32_t i = 0; i < n && i < 256; i++) {
            ul_regkey child;
            if (ul_regf_subkey_at(h, key, i, &child) == 0)
                walk(h, child, depth + 1);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ul_regf h;
    uint8_t *buf = malloc(size + EXTRA), *copy = malloc(size + 1);
    static const uint8_t v1[8] = { 1 }, v2[8] = { 2 };
    uint8_t out[8];
    size_t olen;
    uint32_t type;
    ul_regkey k, k2;
    int r;

    if (!buf || !copy) {
        free(buf);
        free(copy);
        return 0;
    }
    memcpy(buf, data, size);
    /* Mutations nearly always break the base block checksum, which would
     * stop the fuzzer at the door: fix it up unless the last (reserved)
     * byte of the base block is odd, so the mismatch path stays covered. */
    if (size >= UL_REGF_BASE_SIZE && !(buf[UL_REGF_BASE_SIZE - 1] & 1)) {
        uint32_t c = ul_regf_checksum(buf);
        memcpy(buf + 508, &c, 4);   /* little-endian host, like the hive */
    }
    memcpy(copy, buf, size);
    r = ul_regf_open(&h, buf, size, size + EXTRA);
    if (r < 0) {
        CHECK(r == -UL_EBADMSG || r == -UL_ESTALE || r == -UL_EINVAL);
        CHECK(memcmp(buf, copy, size) == 0);
        free(copy);
        free(buf);
        return 0;
    }
    budget = 2000;
    walk(&h, ul_regf_root(&h), 0);
    CHECK(memcmp(buf, copy, size) == 0);   /* reading never writes */
    free(copy);

    h.now_filetime = 0x01DA000000000000ull;
    r = ul_regf_key_create(&h, ul_regf_root(&h), "25000080", &k);
    if (r == 0 || r == -UL_EEXIST) {
        if (ul_regf_value_set(&h, k, "Element", UL_REG_BINARY, v1, 8) == 0) {
            r = ul_regf_value_get(&h, k, "Element", &type, out, sizeof(out), &olen);
            CHECK(r == 0 && olen == 8 && type == UL_REG_BINARY && memcmp(out, v1, 8) == 0);
            if (ul_regf_value_set(&h, k, "Element", UL_REG_BINARY, v2, 8) == 0) {
                r = ul_regf_value_get(&h, k, "Element", &type, out, sizeof(out), &olen);
                CHECK(r == 0 && olen == 8 && memcmp(out, v2, 8) == 0);
            }
            (void)ul_regf_value_set(&h, k, "Long", UL_REG_BINARY, data, size < 600 ? size : 600);
            (void)ul_regf_value_delete(&h, k, "Element");
        }
        if (ul_regf_subkey(&h, ul_regf_root(&h), "25000080", &k2) == 0)
            (void)ul_regf_key_delete(&h, ul_regf_root(&h), "25000080");
    }
    ul_regf_commit(&h);
    CHECK(!h.modified);
    CHECK(h.len <= size + EXTRA);
    size_t len = h.len;
    r = ul_regf_open(&h, buf, len, size + EXTRA);
    CHECK(r == 0);
    budget = 2000;
    walk(&h, ul_regf_root(&h), 0);
    free(buf);
    return 0;
}
