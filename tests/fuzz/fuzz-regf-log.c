/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libFuzzer target for the transaction log replay: the primary hive and its
 * two logs come off the ESP as they are, so any bytes must replay without
 * fault; a success must leave a clean hive (seq1 == seq2, checksum valid)
 * within the buffer, and a failure must leave the buffer as it was.
 *
 * Input: a 5-byte header, then the primary, LOG1 and LOG2 back to back.
 *   byte 0     flags: bit 0 fix the primary's checksum, bits 1/2 fix LOG1's
 *              and LOG2's, bit 3 re-seal the logs' HvLE hashes; without them
 *              random input would almost never get past a checksum or hash
 *   bytes 1-2  primary length (LE), bytes 3-4 LOG1 length (LE); LOG2 = rest
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "regf-log.h"
#include "regf.h"

#define CHECK(cond)                                                                \
    do {                                                                           \
        if (!(cond))                                                               \
            __builtin_trap();                                                      \
    } while (0)

#define SLACK 65536u   /* room to grow; bigger growth must give -ENOSPC */

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)v);
    wr32(p + 4, (uint32_t)(v >> 32));
}

static void fix_checksum(uint8_t *p, size_t len)
{
    if (len >= 512)
        wr32(p + 508, ul_regf_checksum(p));
}

static void seal_entries(uint8_t *p, size_t len)
{
    for (size_t off = 512; off + 40 <= len;) {
        uint32_t size = rd32(p + off + 4);

        if (size < 512 || size % 512 || size > len - off)
            break;
        wr64(p + off + 24, ul_marvin32(p + off + 40, size - 40, UL_REGF_MARVIN_SEED));
        wr64(p + off + 32, ul_marvin32(p + off, 32, UL_REGF_MARVIN_SEED));
        off += size;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ul_regf_log_file logs[2];
    struct ul_regf_replay_info info;
    size_t plen, l1len, len, cap;
    uint8_t *buf, *before, *l1, *l2;
    uint8_t flags;
    int r;

    if (size < 5)
        return 0;
    flags = data[0];
    plen = (size_t)data[1] | (size_t)data[2] << 8;
    l1len = (size_t)data[3] | (size_t)data[4] << 8;
    data += 5;
    size -= 5;
    if (plen > size)
        plen = size;
    if (l1len > size - plen)
        l1len = size - plen;

    cap = plen + SLACK;
    buf = calloc(1, cap);
    before = malloc(cap);
    l1 = malloc(l1len + 1);
    l2 = malloc(size - plen - l1len + 1);
    CHECK(buf && before && l1 && l2);
    memcpy(buf, data, plen);
    memcpy(l1, data + plen, l1len);
    memcpy(l2, data + plen + l1len, size - plen - l1len);
    logs[0] = (struct ul_regf_log_file){ l1, l1len };
    logs[1] = (struct ul_regf_log_file){ l2, size - plen - l1len };

    if (flags & 8) {
        seal_entries(l1, logs[0].len);
        seal_entries(l2, logs[1].len);
    }
    if (flags & 1 && plen >= UL_REGF_BASE_SIZE)
        fix_checksum(buf, plen);
    if (flags & 2)
        fix_checksum(l1, logs[0].len);
    if (flags & 4)
        fix_checksum(l2, logs[1].len);

    memcpy(before, buf, cap);
    len = plen;
    r = ul_regf_replay(buf, &len, cap, logs, &info);
    if (r == 0) {
        CHECK(info.error == NULL);
        CHECK(len >= UL_REGF_BASE_SIZE && len <= cap);
        CHECK(rd32(buf + 4) == rd32(buf + 8));
        CHECK(rd32(buf + 4) == info.new_seq);
        CHECK(rd32(buf + 508) == ul_regf_checksum(buf));
        CHECK(rd32(buf + 28) == 0);
        if (info.was_dirty)
            CHECK(UL_REGF_BASE_SIZE + (uint64_t)rd32(buf + 40) <= len);
        else
            CHECK(len == plen && memcmp(buf, before, cap) == 0);
    } else {
        CHECK(info.error != NULL);
        CHECK(len == plen);
        CHECK(memcmp(buf, before, cap) == 0);
    }

    free(buf);
    free(before);
    free(l1);
    free(l2);
    return 0;
}
