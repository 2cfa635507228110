/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "journal.h"
#include "crc32.h"
#include "string-util.h"
#include "time-util.h"
#include "ul-errno.h"

#define MAGIC 0x314a4c55u /* "ULJ1" */

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

void ul_jrec_encode(const struct ul_jrec *rec, uint8_t out[UL_JREC_SIZE])
{
    size_t sl = ul_strnlen(rec->src, UL_JPATH_MAX - 1), dl = ul_strnlen(rec->dst, UL_JPATH_MAX - 1);
    ul_memset(out, 0, UL_JREC_SIZE);
    put32(out + 0, MAGIC);
    put32(out + 4, rec->seq);
    out[8] = rec->type;
    out[9] = rec->rule;
    put32(out + 12, rec->flags);
    put64(out + 16, rec->run_id);
    put64(out + 24, rec->file_id);
    put64(out + 32, rec->size);
    put64(out + 40, rec->times.creation);
    put64(out + 48, rec->times.modification);
    put64(out + 56, rec->times.mft_change);
    put64(out + 64, rec->times.access);
    put16(out + 72, (uint16_t)sl);
    put16(out + 74, (uint16_t)dl);
    ul_memcpy(out + 76, rec->src, sl);
    ul_memcpy(out + 76 + UL_JPATH_MAX, rec->dst, dl);
    put32(out + 508, ul_crc32(out, 508));
}

int ul_jrec_decode(const uint8_t *in, size_t len, struct ul_jrec *out)
{
    if (len < UL_JREC_SIZE || get32(in) != MAGIC || get32(in + 508) != ul_crc32(in, 508))
        return -UL_EBADMSG;
    uint16_t sl = get16(in + 72), dl = get16(in + 74);
    if (in[8] < UL_J_INTENT_MOVE || in[8] > UL_J_ABORTED || sl == 0 || sl >= UL_JPATH_MAX ||
        dl == 0 || dl >= UL_JPATH_MAX)
        return -UL_EBADMSG;
    ul_memset(out, 0, sizeof(*out));
    out->seq = get32(in + 4);
    out->type = in[8];
    out->rule = in[9];
    out->flags = get32(in + 12);
    out->run_id = get64(in + 16);
    out->file_id = get64(in + 24);
    out->size = get64(in + 32);
    out->times.creation = get64(in + 40);
    out->times.modification = get64(in + 48);
    out->times.mft_change = get64(in + 56);
    out->times.access = get64(in + 64);
    ul_memcpy(out->src, in + 76, sl);
    ul_memcpy(out->dst, in + 76 + UL_JPATH_MAX, dl);
    /* Paths are absolute volume paths without NULs: anything else is not ours. */
    for (uint16_t i = 0; i < sl; i++)
        if (!out->src[i])
            return -UL_EBADMSG;
    for (uint16_t i = 0; i < dl; i++)
        if (!out->dst[i])
            return -UL_EBADMSG;
    if (out->src[0] != '\\' || out->dst[0] != '\\')
        return -UL_EBADMSG;
    return 0;
}

uint32_t ul_journal_parse(const uint8_t *data, size_t len, struct ul_jrec *recs, uint32_t max,
                          bool *ret_torn)
{
    uint32_t n = 0;
    struct ul_jrec r;
    size_t off = 0;

    while (off + UL_JREC_SIZE <= len && n < UL_JOURNAL_MAX_RECORDS) {
        if (ul_jrec_decode(data + off, len - off, &r) < 0 || r.seq != n)
            break;
        if (recs && n < max)
            recs[n] = r;
        n++;
        off += UL_JREC_SIZE;
    }
    if (ret_torn)
        *ret_torn = off < len;
    return n;
}

int ul_journal_open(struct ul_journal *j, const struct ul_volume *vol, const char *path)
{
    uint8_t buf[UL_JREC_SIZE];
    struct ul_stat st;
    int r;

    ul_memset(j, 0, sizeof(*j));
    j->vol = vol;
    j->path = path;
    r = vol->ops->stat(vol->ctx, path, &st);
    if (r == -UL_ENOENT)
        return 0;
    if (r < 0)
        return r;
    if (st.is_dir)
        return -UL_EISDIR;
    /* Record by record, so the journal never needs one big buffer. */
    for (uint64_t off = 0; off + UL_JREC_SIZE <= st.size && j->n < UL_JOURNAL_MAX_RECORDS;
         off += UL_JREC_SIZE) {
        size_t got = 0;
        struct ul_jrec rec;
        r = vol->ops->read(vol->ctx, path, off, buf, sizeof(buf), &got);
        if (r < 0)
            return r;
        if (ul_jrec_decode(buf, got, &rec) < 0 || rec.seq != j->n)
            break;
        j->n++;
    }
    j->next_off = (uint64_t)j->n * UL_JREC_SIZE;
    j->torn_tail = st.size > j->next_off;
    return 0;
}

int ul_journal_append(struct ul_journal *j, struct ul_jrec *rec)
{
    uint8_t buf[UL_JREC_SIZE];
    if (j->n >= UL_JOURNAL_MAX_RECORDS)
        return -UL_ENOSPC;
    rec->seq = j->n;
    ul_jrec_encode(rec, buf);
    /* Over a torn tail if there is one: that record never counted. */
    int r = j->vol->ops->write(j->vol->ctx, j->path, j->next_off, buf, sizeof(buf));
    if (r < 0)
        return r;
    j->n++;
    j->next_off += UL_JREC_SIZE;
    return 0;
}

int ul_journal_get(const struct ul_journal *j, uint32_t i, struct ul_jrec *out)
{
    uint8_t buf[UL_JREC_SIZE];
    size_t got = 0;
    if (i >= j->n)
        return -UL_ENOENT;
    int r = j->vol->ops->read(j->vol->ctx, j->path, (uint64_t)i * UL_JREC_SIZE, buf, sizeof(buf),
                              &got);
    if (r < 0)
        return r;
    return ul_jrec_decode(buf, got, out);
}

const char *ul_jtype_name(uint8_t type)
{
    switch (type) {
    case UL_J_INTENT_MOVE: return "intent-quarantine";
    case UL_J_DONE_MOVE: return "quarantined";
    case UL_J_INTENT_RESTORE: return "intent-restore";
    case UL_J_DONE_RESTORE: return "restored";
    case UL_J_ABORTED: return "rolled-back";
    default: return "unknown";
    }
}

uint64_t ul_run_id_from_time(int64_t secs)
{
    int y, mo, d, h, mi, s;
    ul_time_to_fields(secs, &y, &mo, &d, &h, &mi, &s);
    return (uint64_t)y * 10000000000ull + (uint64_t)mo * 100000000ull + (uint64_t)d * 1000000ull +
           (uint64_t)h * 10000ull + (uint64_t)mi * 100ull + (uint64_t)s;
}

void ul_run_id_format(uint64_t run_id, char out[16])
{
    ul_snprintf(out, 16, "%08llu-%06llu", (unsigned long long)(run_id / 1000000ull % 100000000ull),
                (unsigned long long)(run_id % 1000000ull));
}
