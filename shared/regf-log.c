/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Transaction log replay for registry hives.  Section names in comments
 * refer to M. Suhanov, "Windows registry file format specification"
 * (github.com/msuhanov/regf), hereafter "the spec".
 *
 * The work is split in two passes over read-only logs: plan (validate
 * everything, count what applies, check the size) and apply (write the
 * planned entries).  Nothing is written unless the plan succeeded, which
 * is how a failure leaves the primary unchanged without a second buffer.
 */
#include "regf-log.h"

#include "regf.h"
#include "string-util.h"
#include "ul-errno.h"

#define BASE_SIZE UL_REGF_BASE_SIZE     /* base block of a primary file */
#define LOG_HEADER UL_REGF_LOG_HEADER   /* base block copy in a log: 1 sector */
#define SECTOR 512u
#define PAGE 4096u
#define ENTRY_HEADER 40u                /* "Log entries": fixed part of an HvLE */

/* Base block field offsets ("Base block"). */
#define BB_SEQ1 4
#define BB_SEQ2 8
#define BB_TIMESTAMP 12
#define BB_MAJOR 20
#define BB_TYPE 28
#define BB_BINS_SIZE 40
#define BB_FLAGS 144
#define BB_CHECKSUM 508

#define FILE_TYPE_PRIMARY 0
#define FILE_TYPE_LOG_OLD 1             /* Windows XP .. 8 */
#define FILE_TYPE_LOG_VERYOLD 2         /* Windows 2000 */
#define FILE_TYPE_LOG_NEW 6             /* Windows 8.1 .. */

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Sequence numbers wrap ("a possible overflow", yarp): a is at or after b. */
static bool seq_ge(uint32_t a, uint32_t b)
{
    return a - b < 0x80000000u;
}

/*
 * Marvin32.  Algorithm by Niels Ferguson (Microsoft), published in US patent
 * application 2013/0262421 and as MIT-licensed reference code in .NET
 * (System.Private.CoreLib "Marvin.cs") and SymCrypt ("marvin32.c").  Written
 * here from that description: a 64-bit state (s0, s1) seeded with the low
 * and high halves of the seed; each little-endian 32-bit word is added to
 * s0 and mixed; the 0..3 trailing bytes are padded with one 0x80 byte into
 * a last word; two more mixing rounds.  The registry keeps the whole state
 * (s1:s0) as the 8-byte hash ("Log entries", notes 1-3).
 */
static uint32_t rotl32(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

static void marvin_block(uint32_t *s0, uint32_t *s1)
{
    *s1 ^= *s0;
    *s0 = rotl32(*s0, 20) + *s1;
    *s1 = rotl32(*s1, 9) ^ *s0;
    *s0 = rotl32(*s0, 27) + *s1;
    *s1 = rotl32(*s1, 19);
}

uint64_t ul_marvin32(const void *data, size_t len, uint64_t seed)
{
    const uint8_t *p = data;
    uint32_t s0 = (uint32_t)seed, s1 = (uint32_t)(seed >> 32), last = 0x80;

    for (; len >= 4; p += 4, len -= 4) {
        s0 += rd32(p);
        marvin_block(&s0, &s1);
    }
    while (len > 0)
        last = last << 8 | p[--len];
    s0 += last;
    marvin_block(&s0, &s1);
    marvin_block(&s0, &s1);
    return (uint64_t)s1 << 32 | s0;
}

/* ---- logs ---------------------------------------------------------------- */

struct log_view {
    const uint8_t *d;
    size_t len;
    int format;            /* enum ul_regf_log_format; NONE = absent or invalid */
    bool present;
    uint32_t seq;          /* primary sequence number of its base block */
    uint32_t bins;         /* hive bins data size of its base block */
    const char *error;     /* why it is invalid */
};

/*
 * "Old format" / "Base block", note 2: a log is valid when its base block
 * copy is as expected (signature, checksum, a log file type) and both of its
 * sequence numbers are equal.  The new format keeps the same rule ("New
 * format" / "Base block": "in the same way ... and for the same purpose").
 */
static void log_classify(const struct ul_regf_log_file *f, struct log_view *v)
{
    uint32_t type;

    *v = (struct log_view){ .d = f ? f->data : NULL, .len = f ? f->len : 0 };
    if (!v->d || v->len == 0)
        return;
    v->present = true;
    if (v->len < LOG_HEADER) {
        v->error = "transaction log is shorter than its base block";
        return;
    }
    if (ul_memcmp(v->d, "regf", 4) != 0) {
        v->error = "transaction log has no regf signature";
        return;
    }
    if (rd32(v->d + BB_CHECKSUM) != ul_regf_checksum(v->d)) {
        v->error = "transaction log base block checksum is wrong";
        return;
    }
    if (rd32(v->d + BB_SEQ1) != rd32(v->d + BB_SEQ2)) {
        v->error = "transaction log base block is mid-update (sequence numbers differ)";
        return;
    }
    if (rd32(v->d + BB_MAJOR) != 1) {
        v->error = "transaction log has an unknown major version";
        return;
    }
    v->seq = rd32(v->d + BB_SEQ1);
    v->bins = rd32(v->d + BB_BINS_SIZE);
    type = rd32(v->d + BB_TYPE);
    if (type == FILE_TYPE_LOG_NEW)
        v->format = UL_REGF_LOG_NEW;
    else if (type == FILE_TYPE_LOG_OLD || type == FILE_TYPE_LOG_VERYOLD)
        v->format = UL_REGF_LOG_OLD;
    else
        v->error = "transaction log has an unknown file type";
}

/* ---- new format: HvLE entries ------------------------------------------- */

struct entry {
    const uint8_t *p;      /* the entry */
    uint32_t size, flags, seq, bins, count;
};

/*
 * Is the entry at off valid with sequence number expected?  "Log entries"
 * and notes 1-3, 7, 8: signature, a size that is a multiple of 512 within
 * the file, a hive bins data size that is a multiple of 4096, both hashes,
 * the expected sequence number.  Not in the spec but needed before writing:
 * the references and pages must fit in the entry and every page must lie
 * inside the hive bins data the entry declares (the hashes are no defence
 * against a crafted log).  An entry failing any check ends the chain, like
 * a bad hash does.
 */
static bool entry_parse(const struct log_view *v, size_t off, uint32_t expected, struct entry *e)
{
    uint64_t need, i;

    if (off > v->len || v->len - off < ENTRY_HEADER)
        return false;
    e->p = v->d + off;
    if (ul_memcmp(e->p, "HvLE", 4) != 0)
        return false;
    e->size = rd32(e->p + 4);
    e->flags = rd32(e->p + 8);
    e->seq = rd32(e->p + 12);
    e->bins = rd32(e->p + 16);
    e->count = rd32(e->p + 20);
    if (e->size < SECTOR || e->size % SECTOR != 0 || e->size > v->len - off)
        return false;
    if (e->bins == 0 || e->bins % PAGE != 0)
        return false;
    if (rd64(e->p + 32) != ul_marvin32(e->p, 32, UL_REGF_MARVIN_SEED))
        return false;
    if (rd64(e->p + 24) != ul_marvin32(e->p + ENTRY_HEADER, e->size - ENTRY_HEADER, UL_REGF_MARVIN_SEED))
        return false;
    if (e->seq != expected)
        return false;

    need = ENTRY_HEADER + (uint64_t)e->count * 8;
    if (need > e->size)
        return false;
    for (i = 0; i < e->count; i++) {
        const uint8_t *ref = e->p + ENTRY_HEADER + i * 8;
        uint64_t page_off = rd32(ref), page_size = rd32(ref + 4);

        if (page_off + page_size > e->bins)
            return false;
        need += page_size;
        if (need > e->size)
            return false;
    }
    return true;
}

struct chain {
    uint32_t entries;      /* valid entries from the start of the log */
    uint32_t pages;
    uint32_t last_seq, last_bins, last_flags;
};

/*
 * Walk a log's entries from its first one ("Log entries": from the second
 * sector, back to back), expecting sequence numbers seq, seq + 1, ...
 * ("Log entries", note 7), and stop at the first entry that is not valid.
 * With buf == NULL only count (at most max); else apply the first max
 * entries: grow the file to each entry's hive bins data size (note 9),
 * zero-filling new space, and write its pages.
 */
static int chain_walk(const struct log_view *v, uint32_t max, uint8_t *buf, size_t *cur_len,
                      size_t cap, struct chain *c)
{
    size_t off = LOG_HEADER;
    struct entry e;

    *c = (struct chain){ 0 };
    while (c->entries < max && entry_parse(v, off, v->seq + c->entries, &e)) {
        uint64_t file_len = (uint64_t)BASE_SIZE + e.bins;

        if (file_len > cap)
            return -UL_ENOSPC;
        if (buf) {
            const uint8_t *page = e.p + ENTRY_HEADER + (size_t)e.count * 8;
            uint32_t i;

            /* Space the file gains is zeroed; a file longer than the
             * hive keeps its tail, as Windows keeps it ("Primary files may
             * contain a padding or remnant data"). */
            if (file_len > *cur_len) {
                ul_memset(buf + *cur_len, 0, (size_t)file_len - *cur_len);
                *cur_len = (size_t)file_len;
            }
            for (i = 0; i < e.count; i++) {
                const uint8_t *ref = e.p + ENTRY_HEADER + (size_t)i * 8;
                uint32_t page_off = rd32(ref), page_size = rd32(ref + 4);

                ul_memcpy(buf + BASE_SIZE + page_off, page, page_size);
                page += page_size;
            }
        }
        c->entries++;
        c->pages += e.count;
        c->last_seq = e.seq;
        c->last_bins = e.bins;
        c->last_flags = e.flags;
        off += e.size;
    }
    return 0;
}

/* ---- old format: DIRT vector -------------------------------------------- */

struct dirt {
    const uint8_t *bitmap;
    const uint8_t *pages;
    uint32_t bits;         /* bitmap length in bits: hive bins data size / 512 */
    uint32_t count;        /* bits set = pages stored */
};

/*
 * "Dirty vector" and "Dirty pages": the bitmap starts at the second sector
 * after "DIRT", one bit per 512-byte page of the hive bins data (LSB first);
 * the pages follow from the next sector boundary, one per set bit.  The log
 * carries no hash, so a truncated or inconsistent one is refused whole.
 */
static const char *dirt_parse(const struct log_view *v, struct dirt *d)
{
    size_t bitmap_len, pages_off, i;

    if (v->bins == 0 || v->bins % PAGE != 0)
        return "transaction log has a bad hive bins data size";
    d->bits = v->bins / SECTOR;
    bitmap_len = d->bits / 8;
    if (v->len - LOG_HEADER < 4 + bitmap_len)
        return "transaction log is truncated inside its dirty vector";
    if (ul_memcmp(v->d + LOG_HEADER, "DIRT", 4) != 0)
        return "transaction log has no DIRT dirty vector";
    d->bitmap = v->d + LOG_HEADER + 4;
    pages_off = (LOG_HEADER + 4 + bitmap_len + SECTOR - 1) / SECTOR * SECTOR;
    d->count = 0;
    for (i = 0; i < bitmap_len; i++) {
        uint8_t b = d->bitmap[i];

        for (; b; b &= (uint8_t)(b - 1))
            d->count++;
    }
    if (pages_off > v->len || (v->len - pages_off) / SECTOR < d->count)
        return "transaction log is truncated inside its dirty pages";
    d->pages = v->d + pages_off;
    return NULL;
}

/* ---- the base block of the result --------------------------------------- */

/*
 * The log's base block is a copy of the in-memory one taken when the log
 * was written, modified only in file type, sequence numbers and checksum
 * ("Old format" / "Base block"), so it is newer than the primary's: take its
 * first sector, keep the primary's other 3584 bytes (zero when the
 * primary's base block was invalid), and make it a clean primary.
 */
static void base_block_finish(uint8_t *buf, bool primary_valid, const struct log_view *v,
                              uint32_t seq, uint32_t bins, bool set_flag0, uint32_t flag0)
{
    if (!primary_valid)
        ul_memset(buf + LOG_HEADER, 0, BASE_SIZE - LOG_HEADER);
    ul_memcpy(buf, v->d, LOG_HEADER);
    wr32(buf + BB_TYPE, FILE_TYPE_PRIMARY);
    wr32(buf + BB_SEQ1, seq);
    wr32(buf + BB_SEQ2, seq);
    wr32(buf + BB_BINS_SIZE, bins);
    if (set_flag0) {
        /* "Log entries", note 11: only bit 0 of the flags is logged. */
        uint32_t flags = rd32(buf + BB_FLAGS);

        wr32(buf + BB_FLAGS, (flags & ~1u) | (flag0 & 1u));
    }
    wr32(buf + BB_CHECKSUM, ul_regf_checksum(buf));
}

static int fail(struct ul_regf_replay_info *info, int err, const char *msg)
{
    info->error = msg;
    return err;
}

static int replay_new(uint8_t *buf, size_t *len, size_t cap, const struct log_view lv[2],
                      bool primary_valid, struct ul_regf_replay_info *info)
{
    const struct log_view *order[2];
    uint32_t planned[2] = { 0, 0 }, next = 0;
    size_t n = 0, i, first = 0, cur_len;
    const struct log_view *last_log = NULL;
    struct chain c, last = { 0 };
    bool have_next = false;
    int r;

    for (i = 0; i < 2; i++)
        if (lv[i].format == UL_REGF_LOG_NEW)
            order[n++] = &lv[i];
    /* "Multiple transaction log files" / "New format": the writer swaps
     * logs, so LOG1 need not hold the earlier entries; the one whose base
     * block has the earlier sequence number goes first (a tie keeps LOG1). */
    if (n == 2 && !seq_ge(order[1]->seq, order[0]->seq)) {
        const struct log_view *t = order[0];

        order[0] = order[1];
        order[1] = t;
    }
    /* ...and with an invalid primary base block, only the latest log. */
    if (!primary_valid)
        first = n - 1;

    for (i = first; i < n; i++) {
        const struct log_view *v = order[i];

        /* "Log entries", note 7: the first entry must carry the log's own
         * sequence number, not below the primary's secondary one (note 5);
         * a second log continues exactly where the first stopped. */
        if (primary_valid && !seq_ge(v->seq, rd32(buf + BB_SEQ2)))
            continue;
        if (have_next && v->seq != next)
            break;
        r = chain_walk(v, UINT32_MAX, NULL, NULL, cap, &c);
        if (r < 0)
            return fail(info, r, "recovered hive would not fit in the buffer");
        planned[i] = c.entries;
        have_next = true;
        if (c.entries == 0) {
            next = v->seq;   /* nothing applied: a later log cannot continue */
            continue;
        }
        next = c.last_seq + 1;
        last = c;
        last_log = v;
    }
    if (!last_log)
        return fail(info, -UL_EBADMSG,
                    "hive is dirty but no transaction log entry applies to it (logs stale or damaged)");

    /* Apply exactly what was planned; it cannot fail now. */
    cur_len = *len;
    for (i = first; i < n; i++) {
        if (planned[i] == 0)
            continue;
        (void)chain_walk(order[i], planned[i], buf, &cur_len, cap, &c);
        info->entries_applied += c.entries;
        info->pages_applied += c.pages;
        info->logs_used |= order[i] == &lv[0] ? 1u : 2u;
    }
    /* "Log entries": an entry's sequence number is the base block's after
     * it is applied; the hive bins data size is the last entry's (note 9). */
    base_block_finish(buf, primary_valid, last_log, last.last_seq, last.last_bins, true,
                      last.last_flags);
    *len = cur_len;
    info->new_seq = last.last_seq;
    info->format = UL_REGF_LOG_NEW;
    return 0;
}

static int replay_old(uint8_t *buf, size_t *len, size_t cap, const struct log_view lv[2],
                      bool primary_valid, struct ul_regf_replay_info *info)
{
    const struct log_view *best = NULL;
    struct dirt d[2], *bd = NULL;
    const char *err = NULL;
    uint64_t primary_ts, best_ts = 0;
    uint32_t seq, i, k;
    size_t file_len;

    /* "Old format" / "Base block", note 3: the log must belong to this
     * state of the primary, judged by the last written timestamp (the first
     * hive bin's copy of it when the primary's base block is invalid). */
    if (primary_valid)
        primary_ts = rd64(buf + BB_TIMESTAMP);
    else if (*len >= BASE_SIZE + 32 && ul_memcmp(buf + BASE_SIZE, "hbin", 4) == 0)
        primary_ts = rd64(buf + BASE_SIZE + 20);
    else
        primary_ts = 0;

    for (i = 0; i < 2; i++) {
        const struct log_view *v = &lv[i];
        uint64_t ts;
        const char *e;

        if (v->format != UL_REGF_LOG_OLD)
            continue;
        e = dirt_parse(v, &d[i]);
        if (e) {
            err = err ? err : e;
            continue;
        }
        ts = rd64(v->d + BB_TIMESTAMP);
        /* "Multiple transaction log files" / "Old format": a log older than
         * the primary does not apply; of two that do, the one with the more
         * recent log (Windows 8 rule); a tie keeps LOG1 (boot loader rule). */
        if (ts < primary_ts) {
            err = err ? err : "transaction log is older than the hive (timestamps)";
            continue;
        }
        if (!best || ts > best_ts) {
            best = v;
            bd = &d[i];
            best_ts = ts;
        }
    }
    if (!best)
        return fail(info, -UL_EBADMSG, err ? err : "no applicable transaction log");
    if ((uint64_t)BASE_SIZE + best->bins > cap)
        return fail(info, -UL_ENOSPC, "recovered hive would not fit in the buffer");
    file_len = (size_t)BASE_SIZE + best->bins;
    if (file_len > *len)
        ul_memset(buf + *len, 0, file_len - *len);
    else
        file_len = *len;   /* keep a tail past the hive, as in chain_walk() */
    for (i = 0, k = 0; i < bd->bits; i++) {
        if (!(bd->bitmap[i / 8] >> (i % 8) & 1))
            continue;
        /* "Dirty pages", note 2: file offset = 4096 + 512 * bit position. */
        ul_memcpy(buf + BASE_SIZE + (size_t)i * SECTOR, bd->pages + (size_t)k * SECTOR, SECTOR);
        k++;
    }
    /* The log holds the sequence number the primary gets once written
     * (Vista and later) or one less (XP, "Base block" note 5): keep the
     * later of it and the primary's own. */
    seq = best->seq;
    if (primary_valid && seq_ge(rd32(buf + BB_SEQ1), seq))
        seq = rd32(buf + BB_SEQ1);
    base_block_finish(buf, primary_valid, best, seq, best->bins, false, 0);
    *len = file_len;
    info->pages_applied = k;
    info->logs_used = best == &lv[0] ? 1u : 2u;
    info->new_seq = seq;
    info->format = UL_REGF_LOG_OLD;
    return 0;
}

int ul_regf_replay(uint8_t *buf, size_t *len, size_t cap, const struct ul_regf_log_file logs[2],
                   struct ul_regf_replay_info *info)
{
    struct ul_regf_replay_info dummy;
    struct log_view lv[2];
    bool primary_valid, any_present = false;
    const char *log_err = NULL;
    int i;

    if (!info)
        info = &dummy;
    *info = (struct ul_regf_replay_info){ 0 };
    if (!buf || !len || *len > cap)
        return fail(info, -UL_EINVAL, "bad arguments");
    if (*len < BASE_SIZE || ul_memcmp(buf, "regf", 4) != 0)
        return fail(info, -UL_EBADMSG, "not a registry hive (no regf base block)");

    /* "Dirty state of a hive": a wrong checksum or differing sequence
     * numbers.  A clean hive's logs are ignored even if they hold newer
     * entries; that is what Windows does, so it is what we do. */
    primary_valid = rd32(buf + BB_CHECKSUM) == ul_regf_checksum(buf);
    if (primary_valid && rd32(buf + BB_TYPE) != FILE_TYPE_PRIMARY)
        return fail(info, -UL_EBADMSG, "not a primary hive file (file type is not 0)");
    if (primary_valid && rd32(buf + BB_SEQ1) == rd32(buf + BB_SEQ2)) {
        info->new_seq = rd32(buf + BB_SEQ1);
        return 0;
    }
    info->was_dirty = true;
    info->base_block_recovered = !primary_valid;

    for (i = 0; i < 2; i++) {
        log_classify(logs ? &logs[i] : NULL, &lv[i]);
        any_present |= lv[i].present;
        if (lv[i].present && lv[i].error && !log_err)
            log_err = lv[i].error;
    }
    if (!any_present)
        return fail(info, -UL_ENOENT,
                    "hive is dirty (not fully written) and its transaction logs are missing");

    /* Prefer the new format: a leftover old-format log next to a new one
     * comes from before an upgrade to 8.1 (yarp's recover_auto does the same). */
    if (lv[0].format == UL_REGF_LOG_NEW || lv[1].format == UL_REGF_LOG_NEW)
        return replay_new(buf, len, cap, lv, primary_valid, info);
    if (lv[0].format == UL_REGF_LOG_OLD || lv[1].format == UL_REGF_LOG_OLD)
        return replay_old(buf, len, cap, lv, primary_valid, info);
    return fail(info, -UL_EBADMSG, log_err ? log_err : "transaction logs are invalid");
}
