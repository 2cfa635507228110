/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The quarantine journal is untrusted input (it lives on a volume anyone
 * with the disk can write): parse it, open it from a volume, list its
 * files and replay it against a volume that holds some of the files it
 * names.  Nothing may crash; replay may only move files between the two
 * places a record names, and never lose one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fake-volume.h"
#include "journal.h"
#include "quarantine.h"

static void *m_alloc(void *ctx, size_t n) { (void)ctx; return calloc(1, n); }
static void m_free(void *ctx, void *p) { (void)ctx; free(p); }
static const struct ul_mem_ops mem_ops = { m_alloc, m_free };
static const struct ul_mem mem = { &mem_ops, NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fake_volume fv;
    static struct ul_jrec recs[16];
    struct ul_journal j;
    struct ul_log log;
    bool torn;

    uint32_t n = ul_journal_parse(data, size, recs, 16, &torn);
    if (n * UL_JREC_SIZE > size)
        abort();

    fake_volume_reset(&fv);
    struct ul_volume vol = fake_volume_get(&fv);
    ul_log_init(&log, NULL, NULL, NULL, "fuzz");
    if (fake_volume_put(&fv, UL_JOURNAL_PATH, data, size) < 0)
        return 0;
    /* Put the first records' files at one of their places. */
    for (uint32_t i = 0; i < n && i < 16; i++)
        fake_volume_put(&fv, (i & 1) ? recs[i].dst : recs[i].src, "x", 1);
    if (ul_journal_open(&j, &vol, UL_JOURNAL_PATH) < 0)
        return 0;
    if (j.n != n && n < UL_JOURNAL_MAX_RECORDS)
        abort();
    struct ul_jfile *f;
    uint32_t nf;
    if (ul_journal_files(&j, &mem, &f, &nf) == 0)
        free(f);
    ul_journal_replay(&vol, &j, &mem, &log);
    /* Every file put there is still somewhere. */
    for (uint32_t i = 0; i < n && i < 16; i++)
        if (!fake_volume_exists(&fv, recs[i].src) && !fake_volume_exists(&fv, recs[i].dst))
            abort();
    return 0;
}
