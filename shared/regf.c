/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Registry hive (regf) reader/writer, in one caller-owned buffer.
 *
 * Written from M. Suhanov's "Windows registry file format specification"
 * (sections cited as [spec: Name]).  Everything read from the hive is
 * untrusted: each cell reference is resolved by walking the cells of the
 * bin that holds it, so only the start of an allocated cell of sufficient
 * size is accepted, and every count is bounded by the size of the cell
 * holding its entries.
 *
 * Writes first validate every cell they will touch and allocate every cell
 * they need (a failed allocation rolls the earlier ones back), and only
 * then change the hive, so an error leaves the hive as it was.
 */
#include "regf.h"
#include "string-util.h"
#include "ul-errno.h"

#define NIL 0xFFFFFFFFu
#define HBIN_HDR 32u            /* [spec: Hive bin] header size */
#define BIG_SEG 16344u          /* [spec: Big data] max data segment size */
#define LEAF_MAX 1012u          /* entries in one leaf before we keep an ri */

/* [spec: Base block] field offsets */
#define BB_SEQ1 4
#define BB_SEQ2 8
#define BB_TIME 12
#define BB_MAJOR 20
#define BB_MINOR 24
#define BB_TYPE 28
#define BB_FORMAT 32
#define BB_ROOT 36
#define BB_BINS 40
#define BB_CSUM 508

/* [spec: Key node] field offsets, from the start of the cell data */
#define NK_FLAGS 2
#define NK_TIME 4
#define NK_ACCESS 12
#define NK_PARENT 16
#define NK_NSUB 20
#define NK_NVSUB 24
#define NK_SUBLIST 28
#define NK_VSUBLIST 32
#define NK_NVAL 36
#define NK_VALLIST 40
#define NK_SK 44
#define NK_CLASS 48
#define NK_MAXSUB 52
#define NK_MAXCLASS 56
#define NK_MAXVNAME 60
#define NK_MAXVDATA 64
#define NK_WORKVAR 68
#define NK_NAMELEN 72
#define NK_CLASSLEN 74
#define NK_NAME 76
#define KEY_COMP_NAME 0x0020u

/* [spec: Key value] */
#define VK_NAMELEN 2
#define VK_SIZE 4
#define VK_DATA 8
#define VK_TYPE 12
#define VK_FLAGS 16
#define VK_NAME 20
#define VALUE_COMP_NAME 0x0001u
#define VK_INLINE 0x80000000u

/* [spec: Key security] */
#define SK_FLINK 4
#define SK_BLINK 8
#define SK_REFS 12
#define SK_HDR 20

enum list_kind { LK_LI, LK_LF, LK_LH, LK_RI };

struct cell {
    uint32_t off;  /* hive offset of the cell (its size field) */
    uint8_t *p;    /* cell data, after the size field */
    uint32_t len;  /* bytes of cell data */
};

/* A name as stored: Latin-1 bytes (compressed) or UTF-16LE. */
struct rname {
    const uint8_t *p;
    uint32_t n;    /* characters */
    bool comp;
};

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static void wr64(uint8_t *p, uint64_t v) { wr32(p, (uint32_t)v); wr32(p + 4, (uint32_t)(v >> 32)); }

/* The error text is diagnostic state, not part of the hive: reads may set it. */
static int bad(const struct ul_regf *h, const char *msg)
{
    ((struct ul_regf *)h)->error = msg;
    return -UL_EBADMSG;
}

static uint32_t bins_size(const struct ul_regf *h) { return (uint32_t)(h->len - UL_REGF_BASE_SIZE); }
static uint8_t *hp(const struct ul_regf *h, uint32_t off) { return h->buf + UL_REGF_BASE_SIZE + off; }

/* Windows compares names after upcasing each UTF-16 unit; ASCII and the
 * Latin-1 letters are enough for BCD names, others compare as they are. */
static uint16_t upcase(uint16_t c)
{
    if (c >= 'a' && c <= 'z')
        return (uint16_t)(c - 32);
    if (c >= 0xE0 && c <= 0xFE && c != 0xF7)
        return (uint16_t)(c - 32);
    return c;
}

static uint16_t rname_at(const struct rname *nm, uint32_t i)
{
    return nm->comp ? nm->p[i] : rd16(nm->p + 2 * i);
}

static int rname_cmp_ascii(const struct rname *a, const char *s, size_t slen)
{
    for (uint32_t i = 0; i < a->n && i < slen; i++) {
        uint16_t x = upcase(rname_at(a, i)), y = upcase((uint8_t)s[i]);
        if (x != y)
            return x < y ? -1 : 1;
    }
    return a->n < slen ? -1 : a->n > slen ? 1 : 0;
}

/* ---------------------------------------------------------------- cells */

/* The bin holding hive offset off; bins tile the data [spec: Hive bin]. */
static int find_bin(const struct ul_regf *h, uint32_t off, uint32_t *ret_start, uint32_t *ret_end)
{
    uint32_t total = bins_size(h), pos = 0;

    if (off >= total)
        return bad(h, "cell reference outside the hive bins");
    while (pos < total) {
        const uint8_t *b = hp(h, pos);
        uint32_t size = rd32(b + 8);
        if (ul_memcmp(b, "hbin", 4) != 0 || rd32(b + 4) != pos || size < UL_REGF_BIN_ALIGN ||
            size % UL_REGF_BIN_ALIGN != 0 || size > total - pos)
            return bad(h, "damaged hive bin header");
        if (off < pos + size) {
            *ret_start = pos;
            *ret_end = pos + size;
            return 0;
        }
        pos += size;
    }
    return bad(h, "cell reference outside the hive bins");
}

/* Size of the cell at pos (< end, 8-aligned); negative size = allocated [spec: Cell]. */
static int cell_span(const struct ul_regf *h, uint32_t pos, uint32_t end, uint32_t *ret_size,
                     bool *ret_used)
{
    uint32_t raw = rd32(hp(h, pos));
    uint32_t size = raw & 0x80000000u ? 0u - raw : raw;

    if (size == 0 || size % 8 != 0 || size > end - pos)
        return bad(h, "cell size not a nonzero multiple of 8 inside its bin");
    *ret_size = size;
    *ret_used = raw & 0x80000000u;
    return 0;
}

/*
 * Resolve a cell reference: it must be the start of an allocated cell with
 * at least need bytes of data.  The bin is walked from its first cell, as
 * only that proves off is not inside another cell.
 */
static int cell_get(const struct ul_regf *h, uint32_t off, uint32_t need, struct cell *c)
{
    uint32_t start, end, pos, size = 0;
    bool used = false;
    int r;

    if (off == NIL)
        return bad(h, "missing cell reference");
    if (off % 8 != 0)
        return bad(h, "misaligned cell reference");
    r = find_bin(h, off, &start, &end);
    if (r < 0)
        return r;
    if (off < start + HBIN_HDR)
        return bad(h, "cell reference into a hive bin header");
    for (pos = start + HBIN_HDR; pos < off; pos += size) {
        r = cell_span(h, pos, end, &size, &used);
        if (r < 0)
            return r;
    }
    if (pos != off)
        return bad(h, "cell reference into the middle of a cell");
    r = cell_span(h, off, end, &size, &used);
    if (r < 0)
        return r;
    if (!used)
        return bad(h, "cell reference to a free cell");
    if (size - 4 < need)
        return bad(h, "cell too small for its contents");
    c->off = off;
    c->p = hp(h, off) + 4;
    c->len = size - 4;
    return 0;
}

static int cell_sig(const struct ul_regf *h, uint32_t off, const char *sig, uint32_t need,
                    struct cell *c, const char *msg)
{
    int r = cell_get(h, off, need < 2 ? 2 : need, c);
    if (r < 0)
        return r;
    if (c->p[0] != (uint8_t)sig[0] || c->p[1] != (uint8_t)sig[1])
        return bad(h, msg);
    return 0;
}

static int nk_get(const struct ul_regf *h, uint32_t off, struct cell *c)
{
    int r = cell_sig(h, off, "nk", NK_NAME, c, "key reference is not a key node");
    if (r < 0)
        return r;
    if (NK_NAME + (uint32_t)rd16(c->p + NK_NAMELEN) > c->len)
        return bad(h, "key name beyond its cell");
    return 0;
}

static struct rname nk_name(const struct cell *nk)
{
    struct rname nm;
    uint16_t len = rd16(nk->p + NK_NAMELEN);
    nm.p = nk->p + NK_NAME;
    nm.comp = rd16(nk->p + NK_FLAGS) & KEY_COMP_NAME;
    nm.n = nm.comp ? len : len / 2u;
    return nm;
}

static int vk_get(const struct ul_regf *h, uint32_t off, struct cell *c)
{
    int r = cell_sig(h, off, "vk", VK_NAME, c, "value reference is not a key value");
    if (r < 0)
        return r;
    if (VK_NAME + (uint32_t)rd16(c->p + VK_NAMELEN) > c->len)
        return bad(h, "value name beyond its cell");
    return 0;
}

static struct rname vk_name(const struct cell *vk)
{
    struct rname nm;
    uint16_t len = rd16(vk->p + VK_NAMELEN);
    nm.p = vk->p + VK_NAME;
    nm.comp = rd16(vk->p + VK_FLAGS) & VALUE_COMP_NAME;
    nm.n = nm.comp ? len : len / 2u;
    return nm;
}

/* ---------------------------------------------------------------- subkey lists */

static uint32_t entry_size(int kind) { return kind == LK_LF || kind == LK_LH ? 8 : 4; }

/* A subkey list cell [spec: Index leaf, Fast leaf, Hash leaf, Index root]. */
static int list_get(const struct ul_regf *h, uint32_t off, struct cell *c, int *ret_kind,
                    uint32_t *ret_count)
{
    int r = cell_get(h, off, 4, c), kind;
    uint32_t count;

    if (r < 0)
        return r;
    if (c->p[0] == 'l' && c->p[1] == 'i')
        kind = LK_LI;
    else if (c->p[0] == 'l' && c->p[1] == 'f')
        kind = LK_LF;
    else if (c->p[0] == 'l' && c->p[1] == 'h')
        kind = LK_LH;
    else if (c->p[0] == 'r' && c->p[1] == 'i')
        kind = LK_RI;
    else
        return bad(h, "subkey list has an unknown signature");
    count = rd16(c->p + 2);
    if (4 + count * entry_size(kind) > c->len)
        return bad(h, "subkey list count beyond its cell");
    *ret_kind = kind;
    *ret_count = count;
    return 0;
}

/*
 * One entry of a subkey list walk: the child's offset, where the entry sits
 * (leaf cell and index in it, and the leaf's index in an ri) and its global
 * index.  The callback returns 0 to go on, 1 to stop, or a negative error.
 */
struct entry {
    uint32_t child;
    struct cell leaf;
    int kind;
    uint32_t leaf_count, local, ri_index, index;
};
typedef int (*entry_fn)(const struct ul_regf *h, const struct entry *e, void *ctx);

static int leaf_visit(const struct ul_regf *h, const struct cell *leaf, int kind, uint32_t count,
                      uint32_t ri_index, uint32_t *index, entry_fn fn, void *ctx)
{
    struct entry e;

    e.leaf = *leaf;
    e.kind = kind;
    e.leaf_count = count;
    e.ri_index = ri_index;
    for (uint32_t i = 0; i < count; i++) {
        e.child = rd32(leaf->p + 4 + i * entry_size(kind));
        e.local = i;
        e.index = (*index)++;
        int r = fn(h, &e, ctx);
        if (r != 0)
            return r;
    }
    return 0;
}

/* Walk a list; ri entries must be leaves, never another ri [spec: Index root]. */
static int list_visit(const struct ul_regf *h, uint32_t off, entry_fn fn, void *ctx)
{
    struct cell c, leaf;
    int kind, lkind;
    uint32_t count, lcount, index = 0;
    int r = list_get(h, off, &c, &kind, &count);

    if (r < 0)
        return r;
    if (kind != LK_RI)
        return leaf_visit(h, &c, kind, count, 0, &index, fn, ctx);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t loff = rd32(c.p + 4 + 4 * i);
        if (loff == off)
            return -UL_ELOOP;
        r = list_get(h, loff, &leaf, &lkind, &lcount);
        if (r < 0)
            return r;
        if (lkind == LK_RI)
            return bad(h, "index root entry points to another index root");
        r = leaf_visit(h, &leaf, lkind, lcount, i, &index, fn, ctx);
        if (r != 0)
            return r;
    }
    return 0;
}

static int count_fn(const struct ul_regf *h, const struct entry *e, void *ctx)
{
    (void)h; (void)e;
    (*(uint32_t *)ctx)++;
    return 0;
}

/*
 * The subkey count and list of a key.  The nk's count must match the list
 * (what Windows maintains), so a huge count cannot pass unnoticed.
 */
static int key_subkeys(const struct ul_regf *h, const struct cell *nk, uint32_t *ret_n,
                       uint32_t *ret_list)
{
    uint32_t n = rd32(nk->p + NK_NSUB), list = rd32(nk->p + NK_SUBLIST), total = 0;
    int r;

    *ret_n = 0;
    *ret_list = NIL;
    if (n == 0)
        return 0;
    r = list_visit(h, list, count_fn, &total);
    if (r < 0)
        return r;
    if (total != n)
        return bad(h, "subkey count does not match the subkey list");
    *ret_n = n;
    *ret_list = list;
    return 0;
}

struct at_ctx {
    uint32_t index;
    struct entry e;
};

static int at_fn(const struct ul_regf *h, const struct entry *e, void *ctx)
{
    struct at_ctx *a = ctx;
    (void)h;
    if (e->index != a->index)
        return 0;
    a->e = *e;
    return 1;
}

/* The index-th entry; its child checked to be a key node other than the key itself. */
static int subkey_entry(const struct ul_regf *h, ul_regkey key, uint32_t index, struct entry *ret,
                        struct cell *ret_child)
{
    struct cell nk;
    struct at_ctx a;
    uint32_t n, list;
    int r = nk_get(h, key, &nk);

    if (r < 0)
        return r;
    r = key_subkeys(h, &nk, &n, &list);
    if (r < 0)
        return r;
    if (index >= n)
        return -UL_ENOENT;
    a.index = index;
    r = list_visit(h, list, at_fn, &a);
    if (r < 0)
        return r;
    if (r == 0)
        return bad(h, "subkey list shorter than its count");
    if (a.e.child == key)
        return -UL_ELOOP;
    r = nk_get(h, a.e.child, ret_child);
    if (r < 0)
        return r;
    *ret = a.e;
    return 0;
}

struct find_ctx {
    const char *name;
    size_t len;
    ul_regkey self;
    bool found;
    struct entry e;
    uint32_t before;   /* entries sorting before the name: the insert position */
};

static int find_fn(const struct ul_regf *h, const struct entry *e, void *ctx)
{
    struct find_ctx *f = ctx;
    struct cell nk;
    struct rname nm;
    int r, cmp;

    if (e->child == f->self)
        return -UL_ELOOP;
    r = nk_get(h, e->child, &nk);
    if (r < 0)
        return r;
    nm = nk_name(&nk);
    cmp = rname_cmp_ascii(&nm, f->name, f->len);
    if (cmp == 0) {
        f->found = true;
        f->e = *e;
        return 1;
    }
    if (cmp < 0)
        f->before++;
    return 0;
}

/* Look a child up by name; also counts the entries sorting before it. */
static int find_child(const struct ul_regf *h, ul_regkey parent, const struct cell *pk,
                      const char *name, size_t len, struct find_ctx *f)
{
    uint32_t n, list;
    int r = key_subkeys(h, pk, &n, &list);

    f->name = name;
    f->len = len;
    f->self = parent;
    f->found = false;
    f->before = 0;
    if (r < 0)
        return r;
    if (n == 0)
        return 0;
    r = list_visit(h, list, find_fn, f);
    return r < 0 ? r : 0;
}

/* ---------------------------------------------------------------- values */

/* The value list of a key: an array of vk offsets, no header [spec: Key values list]. */
static int key_values(const struct ul_regf *h, const struct cell *nk, uint32_t *ret_n,
                      struct cell *vl)
{
    uint32_t n = rd32(nk->p + NK_NVAL);
    int r;

    *ret_n = 0;
    vl->off = NIL;
    if (n == 0)
        return 0;
    if (n > 0x3FFFFFFFu)
        return bad(h, "value count beyond its list");
    r = cell_get(h, rd32(nk->p + NK_VALLIST), n * 4, vl);
    if (r < 0)
        return r;
    *ret_n = n;
    return 0;
}

static int find_value(const struct ul_regf *h, const struct cell *nk, const char *name,
                      struct cell *ret_vl, uint32_t *ret_n, uint32_t *ret_index, struct cell *ret_vk)
{
    size_t len = ul_strlen(name);
    uint32_t n;
    int r = key_values(h, nk, &n, ret_vl);

    if (r < 0)
        return r;
    *ret_n = n;
    for (uint32_t i = 0; i < n; i++) {
        r = vk_get(h, rd32(ret_vl->p + 4 * i), ret_vk);
        if (r < 0)
            return r;
        struct rname nm = vk_name(ret_vk);
        if (rname_cmp_ascii(&nm, name, len) == 0) {
            *ret_index = i;
            return 0;
        }
    }
    return -UL_ENOENT;
}

static bool hive_has_big_data(const struct ul_regf *h)
{
    /* Big data records exist from version 1.4 on [spec: Big data]. */
    return rd32(h->buf + BB_MINOR) > 3;
}

/*
 * Validate a value's data and optionally copy it (dst holds *ret_len bytes
 * when not NULL).  Inline data sits in the offset field when the size's
 * top bit is set [spec: Key value]; above 16344 bytes a "db" record lists
 * the segments [spec: Big data].
 */
static int vk_data(const struct ul_regf *h, const struct cell *vk, uint8_t *dst, uint32_t *ret_len)
{
    uint32_t raw = rd32(vk->p + VK_SIZE), off = rd32(vk->p + VK_DATA);
    uint32_t len = raw & ~VK_INLINE;
    struct cell c, segs, seg;
    int r;

    *ret_len = len;
    if (raw & VK_INLINE) {
        if (len > 4)
            return bad(h, "inline value data longer than 4 bytes");
        if (dst)
            ul_memcpy(dst, vk->p + VK_DATA, len);
        return 0;
    }
    if (len == 0)
        return 0;
    if (len > BIG_SEG && hive_has_big_data(h)) {
        r = cell_get(h, off, 2, &c);
        if (r < 0)
            return r;
        if (c.p[0] == 'd' && c.p[1] == 'b') {
            uint32_t nseg, done = 0;
            if (c.len < 8)
                return bad(h, "big data record too small");
            nseg = rd16(c.p + 2);
            if ((uint64_t)nseg * BIG_SEG < len)
                return bad(h, "big data segments shorter than the value");
            r = cell_get(h, rd32(c.p + 4), nseg * 4, &segs);
            if (r < 0)
                return r;
            for (uint32_t i = 0; done < len; i++) {
                uint32_t take = len - done < BIG_SEG ? len - done : BIG_SEG;
                r = cell_get(h, rd32(segs.p + 4 * i), take, &seg);
                if (r < 0)
                    return r;
                if (dst)
                    ul_memcpy(dst + done, seg.p, take);
                done += take;
            }
            return 0;
        }
    }
    r = cell_get(h, off, len, &c);
    if (r < 0)
        return r;
    if (dst)
        ul_memcpy(dst, c.p, len);
    return 0;
}

/* ---------------------------------------------------------------- allocation */

/*
 * Free a cell: positive size, merged with free neighbours in its bin
 * [spec: Cell].  A reference that is no longer an allocated cell (the same
 * cell listed twice in a damaged hive) is left alone.
 */
static void cell_free(struct ul_regf *h, uint32_t off)
{
    uint32_t start, end, pos, size = 0, prev = NIL, psize = 0, nsize;
    bool used = false, pused = true, nused;

    if (off == NIL || off % 8 != 0 || find_bin(h, off, &start, &end) < 0)
        return;
    for (pos = start + HBIN_HDR; pos < off; pos += size) {
        if (cell_span(h, pos, end, &size, &used) < 0)
            return;
        prev = pos;
        psize = size;
        pused = used;
    }
    if (pos != off || cell_span(h, off, end, &size, &used) < 0 || !used)
        return;
    if (off + size < end && cell_span(h, off + size, end, &nsize, &nused) == 0 && !nused)
        size += nsize;
    if (prev != NIL && !pused)
        wr32(hp(h, prev), psize + size);
    else
        wr32(hp(h, off), size);
}

/* Append a hive bin of at least need bytes of cells; the rest is one free cell. */
static int bin_append(struct ul_regf *h, uint32_t need)
{
    uint32_t total = bins_size(h);
    uint32_t size = (need + HBIN_HDR + UL_REGF_BIN_ALIGN - 1) & ~(UL_REGF_BIN_ALIGN - 1);
    uint8_t *b;

    if (h->cap < h->len || h->cap - h->len < size || size > 0x7FFFFFFFu - total)
        return -UL_ENOSPC;
    b = hp(h, total);
    ul_memset(b, 0, HBIN_HDR);
    ul_memcpy(b, "hbin", 4);
    wr32(b + 4, total);
    wr32(b + 8, size);
    wr64(b + 20, h->now_filetime);
    wr32(b + HBIN_HDR, size - HBIN_HDR);
    h->len += size;
    wr32(h->buf + BB_BINS, bins_size(h));
    return 0;
}

/* What an allocation overwrote, so a failed write can be undone exactly. */
struct alloc_undo {
    uint32_t off, old_size;     /* the cell taken and its free size word */
    uint32_t split, split_old;  /* where the rest's size word went (NIL: no split) */
};

/*
 * First-fit allocation of a cell with datalen bytes of data; a free cell
 * is split when the rest is at least 16 bytes, else a new bin is appended.
 * The data is not zeroed here (txn_done() does it) so a rollback restores
 * the bytes exactly.
 */
static int cell_alloc(struct ul_regf *h, uint32_t datalen, struct alloc_undo *u)
{
    uint32_t need, total, pos, start, end, size = 0;
    bool used = false;
    int r;

    if (datalen > 0x10000000u)
        return -UL_ENOSPC;
    need = (datalen + 4 + 7) & ~7u;
    for (int pass = 0; pass < 2; pass++) {
        total = bins_size(h);
        for (start = 0; start < total; start = end) {
            r = find_bin(h, start, &start, &end);
            if (r < 0)
                return r;
            for (pos = start + HBIN_HDR; pos < end; pos += size) {
                r = cell_span(h, pos, end, &size, &used);
                if (r < 0)
                    return r;
                if (used || size < need)
                    continue;
                u->off = pos;
                u->old_size = size;
                u->split = NIL;
                if (size - need >= 16) {
                    u->split = pos + need;
                    u->split_old = rd32(hp(h, pos + need));
                    wr32(hp(h, pos + need), size - need);
                    size = need;
                }
                wr32(hp(h, pos), 0u - size);
                return 0;
            }
        }
        if (pass == 0) {
            r = bin_append(h, need);
            if (r < 0)
                return r;
        }
    }
    return bad(h, "allocation failed in a new hive bin");
}

/* The cells one write allocates, undone in reverse order (and appended bins
 * dropped) if a later allocation fails, so the hive is unchanged on error. */
struct txn {
    struct alloc_undo a[4];
    unsigned n;
    size_t len0;
};

static void txn_begin(const struct ul_regf *h, struct txn *t)
{
    t->n = 0;
    t->len0 = h->len;
}

static void txn_rollback(struct ul_regf *h, struct txn *t)
{
    while (t->n > 0) {
        const struct alloc_undo *u = &t->a[--t->n];
        if (u->split != NIL)
            wr32(hp(h, u->split), u->split_old);
        wr32(hp(h, u->off), u->old_size);
    }
    if (h->len != t->len0) {
        h->len = t->len0;
        wr32(h->buf + BB_BINS, bins_size(h));
    }
}

static int txn_alloc(struct ul_regf *h, struct txn *t, uint32_t datalen, uint32_t *ret)
{
    int r = cell_alloc(h, datalen, &t->a[t->n]);
    if (r < 0) {
        txn_rollback(h, t);
        return r;
    }
    *ret = t->a[t->n++].off;
    return 0;
}

/* All allocations succeeded: clear the new cells before they are filled. */
static void txn_done(struct ul_regf *h, const struct txn *t)
{
    for (unsigned i = 0; i < t->n; i++) {
        uint32_t size = 0u - rd32(hp(h, t->a[i].off));
        ul_memset(hp(h, t->a[i].off) + 4, 0, size - 4);
    }
}

/* Free a value's data cells; vk_data() validated them before any change. */
static void data_free(struct ul_regf *h, uint32_t raw, uint32_t off)
{
    uint32_t len = raw & ~VK_INLINE;
    struct cell c, segs;

    if (raw & VK_INLINE || len == 0)
        return;
    if (len > BIG_SEG && hive_has_big_data(h) && cell_get(h, off, 8, &c) == 0 &&
        c.p[0] == 'd' && c.p[1] == 'b') {
        uint32_t nseg = (len + BIG_SEG - 1) / BIG_SEG;
        if (cell_get(h, rd32(c.p + 4), nseg * 4, &segs) == 0) {
            for (uint32_t i = 0; i < nseg; i++)
                cell_free(h, rd32(segs.p + 4 * i));
            cell_free(h, segs.off);
        }
    }
    cell_free(h, off);
}

/* ---------------------------------------------------------------- open */

uint32_t ul_regf_checksum(const uint8_t base[UL_REGF_BASE_SIZE])
{
    uint32_t x = 0;

    /* [spec: Base block] XOR of the first 508 bytes, with 0 and ~0 reserved. */
    for (unsigned i = 0; i < 127; i++)
        x ^= rd32(base + 4 * i);
    if (x == 0xFFFFFFFFu)
        x = 0xFFFFFFFEu;
    else if (x == 0)
        x = 1;
    return x;
}

int ul_regf_open(struct ul_regf *h, uint8_t *buf, size_t len, size_t cap)
{
    uint32_t size, minor, pos, bsize, cpos, csize = 0;
    bool used;
    struct cell root;
    int r;

    if (!h)
        return -UL_EINVAL;
    ul_memset(h, 0, sizeof(*h));
    if (!buf || cap < len)
        return -UL_EINVAL;
    h->buf = buf;
    h->cap = cap;
    if (len < UL_REGF_BASE_SIZE)
        return bad(h, "file shorter than the base block");
    if (ul_memcmp(buf, "regf", 4) != 0)
        return bad(h, "no regf signature");
    /* Unequal sequence numbers: a write was interrupted, the logs hold the
     * rest [spec: Base block, Dirty state]. */
    if (rd32(buf + BB_SEQ1) != rd32(buf + BB_SEQ2)) {
        h->error = "hive is dirty (sequence numbers differ)";
        return -UL_ESTALE;
    }
    if (ul_regf_checksum(buf) != rd32(buf + BB_CSUM))
        return bad(h, "base block checksum mismatch");
    minor = rd32(buf + BB_MINOR);
    if (rd32(buf + BB_MAJOR) != 1 || minor < 3 || minor > 6)
        return bad(h, "unsupported hive version");
    if (rd32(buf + BB_TYPE) != 0)
        return bad(h, "not a primary hive file");
    if (rd32(buf + BB_FORMAT) != 1)
        return bad(h, "unknown hive file format");
    size = rd32(buf + BB_BINS);
    if (size == 0 || size % UL_REGF_BIN_ALIGN != 0 || size > len - UL_REGF_BASE_SIZE)
        return bad(h, "hive bins data size invalid or beyond the file");
    h->len = UL_REGF_BASE_SIZE + (size_t)size;

    /* Bins tile the data, each cell tiles its bin [spec: Hive bin, Cell]. */
    for (pos = 0; pos < size; pos += bsize) {
        const uint8_t *b = hp(h, pos);
        if (ul_memcmp(b, "hbin", 4) != 0)
            return bad(h, "no hbin signature");
        if (rd32(b + 4) != pos)
            return bad(h, "hive bin offset field does not match its position");
        bsize = rd32(b + 8);
        if (bsize < UL_REGF_BIN_ALIGN || bsize % UL_REGF_BIN_ALIGN != 0 || bsize > size - pos)
            return bad(h, "hive bin size invalid");
        for (cpos = pos + HBIN_HDR; cpos < pos + bsize; cpos += csize) {
            r = cell_span(h, cpos, pos + bsize, &csize, &used);
            if (r < 0)
                return r;
        }
    }
    r = nk_get(h, rd32(buf + BB_ROOT), &root);
    if (r < 0)
        return r == -UL_EBADMSG ? bad(h, "root cell is not a key node") : r;
    h->root = root.off;
    h->error = NULL;
    return 0;
}

/* ---------------------------------------------------------------- reads */

ul_regkey ul_regf_root(const struct ul_regf *h)
{
    return h ? h->root : UL_REGKEY_INVALID;
}

int ul_regf_subkey(const struct ul_regf *h, ul_regkey parent, const char *name, ul_regkey *ret)
{
    struct cell pk;
    struct find_ctx f;
    int r;

    if (!h || !name)
        return -UL_EINVAL;
    r = nk_get(h, parent, &pk);
    if (r < 0)
        return r;
    r = find_child(h, parent, &pk, name, ul_strlen(name), &f);
    if (r < 0)
        return r;
    if (!f.found)
        return -UL_ENOENT;
    if (ret)
        *ret = f.e.child;
    return 0;
}

int ul_regf_lookup(const struct ul_regf *h, const char *path, ul_regkey *ret)
{
    char comp[UL_REGF_MAX_NAME + 1];
    ul_regkey key;
    unsigned depth = 0;
    int r;

    if (!h || !path)
        return -UL_EINVAL;
    key = h->root;
    while (*path) {
        size_t n = 0;
        while (path[n] && path[n] != '\\')
            n++;
        if (n > UL_REGF_MAX_NAME)
            return -UL_ENAMETOOLONG;
        if (n > 0) {
            if (++depth > UL_REGF_MAX_DEPTH)
                return -UL_ELOOP;
            ul_memcpy(comp, path, n);
            comp[n] = '\0';
            r = ul_regf_subkey(h, key, comp, &key);
            if (r < 0)
                return r;
        }
        path += n;
        if (*path == '\\')
            path++;
    }
    if (ret)
        *ret = key;
    return 0;
}

int ul_regf_subkey_count(const struct ul_regf *h, ul_regkey key, uint32_t *ret)
{
    struct cell nk;
    uint32_t n, list;
    int r;

    if (!h || !ret)
        return -UL_EINVAL;
    r = nk_get(h, key, &nk);
    if (r < 0)
        return r;
    r = key_subkeys(h, &nk, &n, &list);
    if (r < 0)
        return r;
    *ret = n;
    return 0;
}

int ul_regf_subkey_at(const struct ul_regf *h, ul_regkey key, uint32_t index, ul_regkey *ret)
{
    struct entry e;
    struct cell child;
    int r;

    if (!h || !ret)
        return -UL_EINVAL;
    r = subkey_entry(h, key, index, &e, &child);
    if (r < 0)
        return r;
    *ret = child.off;
    return 0;
}

/* Copy a stored name as ASCII, '?' for anything else; truncation gives -UL_E2BIG. */
static int name_out(const struct rname *nm, char *buf, size_t size)
{
    uint32_t i;

    if (!buf || size == 0)
        return -UL_EINVAL;
    for (i = 0; i < nm->n && i < size - 1; i++) {
        uint16_t c = rname_at(nm, i);
        buf[i] = c == 0 || c > 0x7F ? '?' : (char)c;
    }
    buf[i] = '\0';
    return i < nm->n ? -UL_E2BIG : 0;
}

int ul_regf_key_name(const struct ul_regf *h, ul_regkey key, char *buf, size_t size)
{
    struct cell nk;
    struct rname nm;
    int r;

    if (!h || !buf || size == 0)
        return -UL_EINVAL;
    buf[0] = '\0';
    r = nk_get(h, key, &nk);
    if (r < 0)
        return r;
    nm = nk_name(&nk);
    return name_out(&nm, buf, size);
}

int ul_regf_value_get(const struct ul_regf *h, ul_regkey key, const char *name,
                      uint32_t *ret_type, void *buf, size_t size, size_t *ret_len)
{
    struct cell nk, vl, vk;
    uint32_t n, index, len;
    int r;

    if (!h || !name)
        return -UL_EINVAL;
    r = nk_get(h, key, &nk);
    if (r < 0)
        return r;
    r = find_value(h, &nk, name, &vl, &n, &index, &vk);
    if (r < 0)
        return r;
    r = vk_data(h, &vk, NULL, &len);
    if (r < 0)
        return r;
    if (ret_type)
        *ret_type = rd32(vk.p + VK_TYPE);
    if (ret_len)
        *ret_len = len;
    if (!buf)
        return 0;
    if (size < len)
        return -UL_E2BIG;
    return vk_data(h, &vk, buf, &len);
}

int ul_regf_value_count(const struct ul_regf *h, ul_regkey key, uint32_t *ret)
{
    struct cell nk, vl;
    uint32_t n;
    int r;

    if (!h || !ret)
        return -UL_EINVAL;
    r = nk_get(h, key, &nk);
    if (r < 0)
        return r;
    r = key_values(h, &nk, &n, &vl);
    if (r < 0)
        return r;
    *ret = n;
    return 0;
}

int ul_regf_value_at(const struct ul_regf *h, ul_regkey key, uint32_t index, char *name,
                     size_t name_size, uint32_t *ret_type)
{
    struct cell nk, vl, vk;
    struct rname nm;
    uint32_t n;
    int r;

    if (!h)
        return -UL_EINVAL;
    r = nk_get(h, key, &nk);
    if (r < 0)
        return r;
    r = key_values(h, &nk, &n, &vl);
    if (r < 0)
        return r;
    if (index >= n)
        return -UL_ENOENT;
    r = vk_get(h, rd32(vl.p + 4 * index), &vk);
    if (r < 0)
        return r;
    if (ret_type)
        *ret_type = rd32(vk.p + VK_TYPE);
    if (!name)
        return 0;
    nm = vk_name(&vk);
    return name_out(&nm, name, name_size);
}

/* ---------------------------------------------------------------- writes */

/* Names we write: printable-or-not ASCII, stored compressed; key names
 * cannot hold a backslash (the path separator) [spec: Key node]. */
static int check_name(const char *name, bool key, size_t *ret_len)
{
    size_t n;

    if (!name)
        return -UL_EINVAL;
    n = ul_strnlen(name, UL_REGF_MAX_NAME + 1);
    if (n > UL_REGF_MAX_NAME)
        return -UL_ENAMETOOLONG;
    if (key && n == 0)
        return -UL_EINVAL;
    for (size_t i = 0; i < n; i++)
        if ((uint8_t)name[i] > 0x7F || (key && name[i] == '\\'))
            return -UL_EINVAL;
    *ret_len = n;
    return 0;
}

/* [spec: Hash leaf] hash = hash * 37 + upcase(c) over the name. */
static uint32_t lh_hash(const struct rname *nm)
{
    uint32_t x = 0;
    for (uint32_t i = 0; i < nm->n; i++)
        x = x * 37u + upcase(rname_at(nm, i));
    return x;
}

/* The 4-byte hint of an entry of a given kind for a name. */
static void entry_hint(int kind, const struct rname *nm, uint8_t out[4])
{
    if (kind == LK_LH) {
        wr32(out, lh_hash(nm));
        return;
    }
    /* [spec: Fast leaf] the first 4 characters of the name, as stored (zero padded). */
    for (uint32_t i = 0; i < 4; i++)
        out[i] = i < nm->n ? (uint8_t)rname_at(nm, i) : 0;
}

/* Leaves we create: lh where the version has it (1.5+), lf before [spec: Hash leaf]. */
static int new_leaf_kind(const struct ul_regf *h)
{
    return rd32(h->buf + BB_MINOR) >= 5 ? LK_LH : LK_LF;
}

static void leaf_init(uint8_t *p, int kind, uint32_t count)
{
    static const char sig[4][2] = { { 'l', 'i' }, { 'l', 'f' }, { 'l', 'h' }, { 'r', 'i' } };
    p[0] = (uint8_t)sig[kind][0];
    p[1] = (uint8_t)sig[kind][1];
    wr16(p + 2, (uint16_t)count);
}

/*
 * Copy entries into a new leaf, inserting the new key at its sorted
 * position.  Entries keep their hints when the leaf kind stays, else the
 * hint is recomputed from the child's name.
 */
struct build_ctx {
    uint8_t *dst;
    int kind;
    uint32_t n;          /* entries written */
    uint32_t insert_at;  /* global index the new key takes */
    uint32_t first, last; /* global index range copied: [first, last) */
    uint32_t new_off;
    struct rname new_name;
};

static void build_put(struct build_ctx *b, uint32_t off, const uint8_t *hint)
{
    uint8_t *e = b->dst + 4 + b->n * entry_size(b->kind);
    wr32(e, off);
    if (entry_size(b->kind) == 8)
        ul_memcpy(e + 4, hint, 4);
    b->n++;
}

static int build_fn(const struct ul_regf *h, const struct entry *e, void *ctx)
{
    struct build_ctx *b = ctx;
    uint8_t hint[4] = { 0 };

    if (e->index < b->first)
        return 0;
    if (e->index >= b->last)
        return 1;
    if (e->index == b->insert_at) {
        entry_hint(b->kind, &b->new_name, hint);
        build_put(b, b->new_off, hint);
    }
    if (e->kind == b->kind && entry_size(e->kind) == 8) {
        ul_memcpy(hint, e->leaf.p + 4 + e->local * 8 + 4, 4);
    } else if (entry_size(b->kind) == 8) {
        struct cell nk;
        int r = nk_get(h, e->child, &nk);
        if (r < 0)
            return r;
        struct rname nm = nk_name(&nk);
        entry_hint(b->kind, &nm, hint);
    }
    build_put(b, e->child, hint);
    return 0;
}

struct leaf_of_ctx {
    uint32_t pos;
    uint32_t ri_index, first, count;
    bool found;
};

/* The ri leaf whose range [first, first+count] holds the insert position. */
static int leaf_of_fn(const struct ul_regf *h, const struct entry *e, void *ctx)
{
    struct leaf_of_ctx *l = ctx;
    (void)h;
    if (e->local != 0)
        return 0;
    if (l->pos >= e->index && l->pos <= e->index + e->leaf_count) {
        l->ri_index = e->ri_index;
        l->first = e->index;
        l->count = e->leaf_count;
        l->found = true;
        return 1;
    }
    return 0;
}

static void touch(struct ul_regf *h, struct cell *nk)
{
    if (h->now_filetime)
        wr64(nk->p + NK_TIME, h->now_filetime);
    h->modified = true;
}

int ul_regf_key_create(struct ul_regf *h, ul_regkey parent, const char *name, ul_regkey *ret)
{
    struct cell pk, sk, list, nk, nl, oldleaf;
    struct find_ctx f;
    struct txn t;
    struct build_ctx b;
    struct leaf_of_ctx lo;
    uint32_t nsub, listoff, nkoff, nloff, lcount = 0, refs, maxsub;
    int r, kind = LK_LF, lkind;
    size_t nlen;
    bool ri_merge = false;

    if (!h)
        return -UL_EINVAL;
    r = check_name(name, true, &nlen);
    if (r < 0)
        return r;
    r = nk_get(h, parent, &pk);
    if (r < 0)
        return r;
    r = find_child(h, parent, &pk, name, nlen, &f);
    if (r < 0)
        return r;
    if (f.found) {
        if (ret)
            *ret = f.e.child;
        return -UL_EEXIST;
    }
    r = cell_sig(h, rd32(pk.p + NK_SK), "sk", SK_HDR, &sk, "key security reference is not an sk");
    if (r < 0)
        return r;
    refs = rd32(sk.p + SK_REFS);
    if (refs == 0xFFFFFFFFu)
        return bad(h, "security descriptor reference count overflow");
    r = key_subkeys(h, &pk, &nsub, &listoff);
    if (r < 0)
        return r;
    if (nsub >= 0xFFFFu * 0xFFFFu)
        return -UL_ENOSPC;

    /* Decide the new list: a copy of the leaf (or of the ri's target leaf)
     * with one more entry; an ri small enough is merged into one leaf. */
    lo.found = false;
    if (nsub == 0) {
        kind = new_leaf_kind(h);
        lcount = 0;
    } else {
        r = list_get(h, listoff, &list, &lkind, &lcount);
        if (r < 0)
            return r;
        if (lkind != LK_RI) {
            kind = lkind;
        } else if (nsub + 1 <= LEAF_MAX) {
            kind = new_leaf_kind(h);
            lcount = nsub;
            ri_merge = true;
        } else {
            lo.pos = f.before;
            r = list_visit(h, listoff, leaf_of_fn, &lo);
            if (r < 0)
                return r;
            if (!lo.found)
                return bad(h, "index root has no leaf for the new key");
            r = list_get(h, rd32(list.p + 4 + 4 * lo.ri_index), &oldleaf, &kind, &lcount);
            if (r < 0)
                return r;
        }
    }
    if (lcount + 1 > 0xFFFFu)
        return -UL_ENOSPC;

    txn_begin(h, &t);
    r = txn_alloc(h, &t, NK_NAME + (uint32_t)nlen, &nkoff);
    if (r < 0)
        return r;
    r = txn_alloc(h, &t, 4 + (lcount + 1) * entry_size(kind), &nloff);
    if (r < 0)
        return r;
    txn_done(h, &t);
    /* Allocation may have appended a bin; cell pointers stay valid since the
     * buffer does not move, but re-resolve them to be safe and simple. */
    if (nk_get(h, parent, &pk) < 0 || cell_get(h, rd32(pk.p + NK_SK), SK_HDR, &sk) < 0 ||
        cell_get(h, nkoff, NK_NAME, &nk) < 0 || cell_get(h, nloff, 4, &nl) < 0) {
        txn_rollback(h, &t);
        return bad(h, "hive changed during key creation");
    }

    /* The new key [spec: Key node]: compressed name, no values or subkeys. */
    ul_memcpy(nk.p, "nk", 2);
    wr16(nk.p + NK_FLAGS, KEY_COMP_NAME);
    wr64(nk.p + NK_TIME, h->now_filetime ? h->now_filetime : rd64(pk.p + NK_TIME));
    wr32(nk.p + NK_PARENT, parent);
    wr32(nk.p + NK_SUBLIST, NIL);
    wr32(nk.p + NK_VSUBLIST, NIL);
    wr32(nk.p + NK_VALLIST, NIL);
    wr32(nk.p + NK_SK, sk.off);
    wr32(nk.p + NK_CLASS, NIL);
    wr16(nk.p + NK_NAMELEN, (uint16_t)nlen);
    ul_memcpy(nk.p + NK_NAME, name, nlen);

    b.dst = nl.p;
    b.kind = kind;
    b.n = 0;
    b.new_off = nkoff;
    b.new_name.p = (const uint8_t *)name;
    b.new_name.n = (uint32_t)nlen;
    b.new_name.comp = true;
    leaf_init(nl.p, kind, lcount + 1);
    if (nsub == 0) {
        b.insert_at = 0;
        b.first = b.last = 0;
    } else {
        b.insert_at = f.before;
        b.first = lo.found ? lo.first : 0;
        b.last = lo.found ? lo.first + lo.count : nsub;
        r = list_visit(h, listoff, build_fn, &b);
        if (r < 0) {
            txn_rollback(h, &t);
            return r;
        }
    }
    if (b.n == lcount) {   /* the new key goes last */
        uint8_t hint[4];
        entry_hint(kind, &b.new_name, hint);
        build_put(&b, nkoff, hint);
    }

    /* Link it in: from here on nothing can fail. */
    if (lo.found) {
        wr32(list.p + 4 + 4 * lo.ri_index, nloff);
        cell_free(h, oldleaf.off);
    } else {
        wr32(pk.p + NK_SUBLIST, nloff);
        if (ri_merge) {
            uint32_t nleaves = rd16(list.p + 2);
            for (uint32_t i = 0; i < nleaves; i++)
                cell_free(h, rd32(list.p + 4 + 4 * i));
        }
        if (nsub > 0)
            cell_free(h, listoff);
    }
    wr32(pk.p + NK_NSUB, nsub + 1);
    maxsub = rd32(pk.p + NK_MAXSUB);
    /* [spec: Key node] the largest subkey name in bytes as UTF-16LE, low 16
     * bits; the upper bits hold flags that must stay. */
    if ((maxsub & 0xFFFFu) < nlen * 2)
        wr32(pk.p + NK_MAXSUB, (maxsub & 0xFFFF0000u) | (uint32_t)(nlen * 2));
    wr32(sk.p + SK_REFS, refs + 1);
    touch(h, &pk);
    if (ret)
        *ret = nkoff;
    return 0;
}

int ul_regf_value_set(struct ul_regf *h, ul_regkey key, const char *name, uint32_t type,
                      const void *data, size_t len)
{
    struct cell nk, vl, vk, dc, nvl;
    struct txn t;
    uint32_t n = 0, index = 0, oldlen, dataoff = 0, vkoff = 0, nvloff = 0, oldraw = 0, olddata = 0;
    size_t nlen;
    bool exists;
    int r;

    if (!h)
        return -UL_EINVAL;
    r = check_name(name, false, &nlen);
    if (r < 0)
        return r;
    /* Larger data would need a big data record, which we never write. */
    if (len > BIG_SEG)
        return -UL_E2BIG;
    if (len > 0 && !data)
        return -UL_EINVAL;
    r = nk_get(h, key, &nk);
    if (r < 0)
        return r;
    r = find_value(h, &nk, name, &vl, &n, &index, &vk);
    if (r < 0 && r != -UL_ENOENT)
        return r;
    exists = r == 0;
    if (exists) {
        r = vk_data(h, &vk, NULL, &oldlen);
        if (r < 0)
            return r;
        oldraw = rd32(vk.p + VK_SIZE);
        olddata = rd32(vk.p + VK_DATA);
    } else if (n >= 0x3FFFFFFFu) {
        return -UL_ENOSPC;
    }

    txn_begin(h, &t);
    if (len > 4) {
        r = txn_alloc(h, &t, (uint32_t)len, &dataoff);
        if (r < 0)
            return r;
    }
    if (!exists) {
        r = txn_alloc(h, &t, VK_NAME + (uint32_t)nlen, &vkoff);
        if (r < 0)
            return r;
        r = txn_alloc(h, &t, (n + 1) * 4, &nvloff);
        if (r < 0)
            return r;
    }
    txn_done(h, &t);
    /* Nothing below fails: the cells were validated or just allocated. */
    (void)nk_get(h, key, &nk);
    if (!exists) {
        (void)cell_get(h, vkoff, VK_NAME, &vk);
        ul_memcpy(vk.p, "vk", 2);
        wr16(vk.p + VK_NAMELEN, (uint16_t)nlen);
        wr16(vk.p + VK_FLAGS, VALUE_COMP_NAME);
        ul_memcpy(vk.p + VK_NAME, name, nlen);
    }
    wr32(vk.p + VK_TYPE, type);
    if (len > 4) {
        (void)cell_get(h, dataoff, (uint32_t)len, &dc);
        ul_memcpy(dc.p, data, len);
        wr32(vk.p + VK_SIZE, (uint32_t)len);
        wr32(vk.p + VK_DATA, dataoff);
    } else {
        /* [spec: Key value] up to 4 bytes live in the offset field. */
        wr32(vk.p + VK_SIZE, VK_INLINE | (uint32_t)len);
        wr32(vk.p + VK_DATA, 0);
        if (len)
            ul_memcpy(vk.p + VK_DATA, data, len);
    }
    if (exists) {
        data_free(h, oldraw, olddata);
    } else {
        (void)cell_get(h, nvloff, (n + 1) * 4, &nvl);
        if (n > 0)
            ul_memcpy(nvl.p, vl.p, n * 4);
        wr32(nvl.p + 4 * n, vkoff);
        wr32(nk.p + NK_VALLIST, nvloff);
        wr32(nk.p + NK_NVAL, n + 1);
        if (n > 0)
            cell_free(h, vl.off);
        /* [spec: Key node] largest value name, in bytes as UTF-16LE. */
        if (rd32(nk.p + NK_MAXVNAME) < nlen * 2)
            wr32(nk.p + NK_MAXVNAME, (uint32_t)(nlen * 2));
    }
    if (rd32(nk.p + NK_MAXVDATA) < len)
        wr32(nk.p + NK_MAXVDATA, (uint32_t)len);
    touch(h, &nk);
    return 0;
}

int ul_regf_value_delete(struct ul_regf *h, ul_regkey key, const char *name)
{
    struct cell nk, vl, vk;
    uint32_t n, index, len;
    int r;

    if (!h || !name)
        return -UL_EINVAL;
    r = nk_get(h, key, &nk);
    if (r < 0)
        return r;
    r = find_value(h, &nk, name, &vl, &n, &index, &vk);
    if (r < 0)
        return r;
    r = vk_data(h, &vk, NULL, &len);
    if (r < 0)
        return r;
    /* The list shrinks in place, as Windows does: no allocation, so a
     * delete cannot fail for lack of space. */
    ul_memmove(vl.p + 4 * index, vl.p + 4 * (index + 1), 4 * (n - index - 1));
    wr32(vl.p + 4 * (n - 1), 0);
    wr32(nk.p + NK_NVAL, n - 1);
    if (n == 1)
        wr32(nk.p + NK_VALLIST, NIL);
    data_free(h, rd32(vk.p + VK_SIZE), rd32(vk.p + VK_DATA));
    cell_free(h, vk.off);
    if (n == 1)
        cell_free(h, vl.off);
    touch(h, &nk);
    return 0;
}

int ul_regf_key_delete(struct ul_regf *h, ul_regkey parent, const char *name)
{
    struct cell pk, ck, vl, vk, sk, prev, next, cls, list, leaf;
    struct find_ctx f;
    uint32_t n, len, refs, flink = NIL, blink = NIL, nsub, listoff, esz;
    bool free_class = false;
    int r, kind;
    size_t nlen;

    if (!h || !name)
        return -UL_EINVAL;
    nlen = ul_strlen(name);
    r = nk_get(h, parent, &pk);
    if (r < 0)
        return r;
    r = find_child(h, parent, &pk, name, nlen, &f);
    if (r < 0)
        return r;
    if (!f.found)
        return -UL_ENOENT;
    r = nk_get(h, f.e.child, &ck);
    if (r < 0)
        return r;
    if (rd32(ck.p + NK_NSUB) != 0)
        return -UL_ENOTEMPTY;

    /* Validate everything that will be freed before changing anything. */
    r = key_values(h, &ck, &n, &vl);
    if (r < 0)
        return r;
    for (uint32_t i = 0; i < n; i++) {
        r = vk_get(h, rd32(vl.p + 4 * i), &vk);
        if (r < 0)
            return r;
        r = vk_data(h, &vk, NULL, &len);
        if (r < 0)
            return r;
    }
    r = cell_sig(h, rd32(ck.p + NK_SK), "sk", SK_HDR, &sk, "key security reference is not an sk");
    if (r < 0)
        return r;
    refs = rd32(sk.p + SK_REFS);
    if (refs == 0)
        return bad(h, "security descriptor reference count is zero");
    if (refs == 1) {
        /* [spec: Key security] sk cells form a doubly linked list. */
        flink = rd32(sk.p + SK_FLINK);
        blink = rd32(sk.p + SK_BLINK);
        if (flink != sk.off || blink != sk.off) {
            r = cell_sig(h, flink, "sk", SK_HDR, &next, "sk list link is not an sk");
            if (r < 0)
                return r;
            r = cell_sig(h, blink, "sk", SK_HDR, &prev, "sk list link is not an sk");
            if (r < 0)
                return r;
        }
    }
    if (rd16(ck.p + NK_CLASSLEN) > 0 && rd32(ck.p + NK_CLASS) != NIL &&
        cell_get(h, rd32(ck.p + NK_CLASS), rd16(ck.p + NK_CLASSLEN), &cls) == 0)
        free_class = true;
    r = key_subkeys(h, &pk, &nsub, &listoff);
    if (r < 0)
        return r;
    r = list_get(h, listoff, &list, &kind, &n);
    if (r < 0)
        return r;

    /* Unlink from the parent's list, in place as Windows does. */
    if (kind == LK_RI) {
        uint32_t lcount;
        int lkind;
        r = list_get(h, rd32(list.p + 4 + 4 * f.e.ri_index), &leaf, &lkind, &lcount);
        if (r < 0)
            return r;
        esz = entry_size(lkind);
        if (lcount > 1) {
            ul_memmove(leaf.p + 4 + esz * f.e.local, leaf.p + 4 + esz * (f.e.local + 1),
                       esz * (lcount - f.e.local - 1));
            wr16(leaf.p + 2, (uint16_t)(lcount - 1));
        } else {
            ul_memmove(list.p + 4 + 4 * f.e.ri_index, list.p + 4 + 4 * (f.e.ri_index + 1),
                       4 * (n - f.e.ri_index - 1));
            wr16(list.p + 2, (uint16_t)(n - 1));
            cell_free(h, leaf.off);
        }
    } else {
        esz = entry_size(kind);
        ul_memmove(list.p + 4 + esz * f.e.local, list.p + 4 + esz * (f.e.local + 1),
                   esz * (n - f.e.local - 1));
        wr16(list.p + 2, (uint16_t)(n - 1));
    }
    wr32(pk.p + NK_NSUB, nsub - 1);
    if (nsub == 1) {
        wr32(pk.p + NK_SUBLIST, NIL);
        cell_free(h, list.off);
    }
    touch(h, &pk);

    /* Free the key's cells. */
    r = key_values(h, &ck, &n, &vl);
    for (uint32_t i = 0; r == 0 && i < n; i++) {
        if (vk_get(h, rd32(vl.p + 4 * i), &vk) < 0)
            continue;
        data_free(h, rd32(vk.p + VK_SIZE), rd32(vk.p + VK_DATA));
        cell_free(h, vk.off);
    }
    if (r == 0 && n > 0)
        cell_free(h, vl.off);
    if (free_class)
        cell_free(h, cls.off);
    if (refs == 1) {
        if (flink != sk.off || blink != sk.off) {
            wr32(next.p + SK_BLINK, blink);
            wr32(prev.p + SK_FLINK, flink);
        }
        wr32(sk.p + SK_REFS, 0);
        cell_free(h, sk.off);
    } else {
        wr32(sk.p + SK_REFS, refs - 1);
    }
    cell_free(h, ck.off);
    return 0;
}

void ul_regf_commit(struct ul_regf *h)
{
    uint32_t seq;

    if (!h || !h->buf)
        return;
    /* [spec: Base block] equal sequence numbers mark a clean hive; above
     * every log entry's, so stale logs are not replayed over this write. */
    seq = rd32(h->buf + BB_SEQ1) + 1;
    wr32(h->buf + BB_SEQ1, seq);
    wr32(h->buf + BB_SEQ2, seq);
    if (h->now_filetime)
        wr64(h->buf + BB_TIME, h->now_filetime);
    wr32(h->buf + BB_BINS, bins_size(h));
    wr32(h->buf + BB_CSUM, ul_regf_checksum(h->buf));
    h->modified = false;
}
