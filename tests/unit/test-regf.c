/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * regf: the real Windows BCD stores in ../shared/testdata/bcd/ are read,
 * enumerated, edited (the Safe Mode element, DESIGN.md §5) and checked with
 * hivex (hivexget, hivexml) as an independent oracle; damaged copies must
 * give errors without crashing or changing the buffer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "regf.h"
#include "ul-errno.h"

#define BCD_DIR "../shared/testdata/bcd/"
#define BOOTMGR "{9dea862c-5cdd-4e70-acc1-f32b344d4795}"

/*
 * Keys and values per store, measured with hivex 1.3:
 *   hivexml FILE | grep -o '<node ' | wc -l     (keys, root included)
 *   hivexml FILE | grep -o '<value ' | wc -l    (values)
 */
static const struct store {
    const char *name;
    uint32_t keys, values;
} stores[] = {
    { "win10-bios-system.BCD", 78, 55 },
    { "win10-efi-locate.BCD", 32, 27 },
    { "win10xpe.BCD", 66, 46 },
};
#define NSTORES (sizeof(stores) / sizeof(stores[0]))

static uint8_t *load(const char *name, size_t *ret_len, size_t extra)
{
    char path[512];
    FILE *f;
    long n;
    uint8_t *buf;

    snprintf(path, sizeof(path), BCD_DIR "%s", name);
    f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc(1, (size_t)n + extra);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *ret_len = (size_t)n;
    return buf;
}

static bool have_stores(void)
{
    char path[512];
    snprintf(path, sizeof(path), BCD_DIR "%s", stores[0].name);
    if (access(path, R_OK) == 0)
        return true;
    print_message("SKIP: BCD test stores not found in " BCD_DIR " (run from the project root)\n");
    return false;
}

static bool have_tool(const char *tool)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
    return system(cmd) == 0;
}

static char *write_temp(const uint8_t *buf, size_t len)
{
    static char path[64];
    int fd;

    strcpy(path, "/tmp/test-regf-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    close(fd);
    return path;
}

/* Read a command's whole output (malloc'd, NUL-terminated); its exit status in *status. */
static char *run(const char *cmd, size_t *ret_len, int *status)
{
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 16, len = 0, n;
    char *out = malloc(cap);

    assert_non_null(p);
    assert_non_null(out);
    while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
    }
    out[len] = '\0';
    *status = pclose(p);
    if (ret_len)
        *ret_len = len;
    return out;
}

/* hivexml without the parts an edit may change by itself: timestamps and
 * byte offsets.  What remains is key names, value names, types and data. */
static char *hivex_dump(const char *path, int *status)
{
    char cmd[512];
    char *out;
    int st;

    snprintf(cmd, sizeof(cmd), "hivexml '%s' > '%s.xml'", path, path);
    *status = system(cmd);
    snprintf(cmd, sizeof(cmd),
             "tr -d '\\n' < '%s.xml' | sed -E -e 's#<mtime>[^<]*</mtime>##g' "
             "-e 's#<byte_runs>(<byte_run [^>]*/>)*</byte_runs>##g'", path);
    out = run(cmd, NULL, &st);
    assert_int_equal(st, 0);
    snprintf(cmd, sizeof(cmd), "%s.xml", path);
    unlink(cmd);
    return out;
}

/* Walk the tree reading every name and value; depth bounds cycles. */
static int walk(const struct ul_regf *h, ul_regkey key, unsigned depth, uint32_t *keys,
                uint32_t *values)
{
    char name[UL_REGF_MAX_NAME + 1];
    static uint8_t data[65536];   /* static: 512 frames deep on a cycle */
    uint32_t n, type;
    size_t len;
    int r;

    if (depth > UL_REGF_MAX_DEPTH)
        return -UL_ELOOP;
    (*keys)++;
    r = ul_regf_key_name(h, key, name, sizeof(name));
    if (r < 0)
        return r;
    r = ul_regf_value_count(h, key, &n);
    if (r < 0)
        return r;
    for (uint32_t i = 0; i < n; i++) {
        r = ul_regf_value_at(h, key, i, name, sizeof(name), &type);
        if (r < 0)
            return r;
        r = ul_regf_value_get(h, key, name, &type, data, sizeof(data), &len);
        if (r < 0)
            return r;
        (*values)++;
    }
    r = ul_regf_subkey_count(h, key, &n);
    if (r < 0)
        return r;
    for (uint32_t i = 0; i < n; i++) {
        ul_regkey child;
        r = ul_regf_subkey_at(h, key, i, &child);
        if (r < 0)
            return r;
        r = walk(h, child, depth + 1, keys, values);
        if (r < 0)
            return r;
    }
    return 0;
}

/* The default loader's GUID, from the boot manager's element 23000003. */
static void default_loader(const struct ul_regf *h, char guid[39])
{
    uint8_t data[256];
    uint32_t type;
    size_t len;
    ul_regkey k;

    assert_int_equal(ul_regf_lookup(h, "Objects\\" BOOTMGR "\\Elements\\23000003", &k), 0);
    assert_int_equal(ul_regf_value_get(h, k, "Element", &type, data, sizeof(data), &len), 0);
    assert_int_equal(type, UL_REG_SZ);
    /* REG_SZ: UTF-16LE with a terminating NUL, "{8-4-4-4-12}" */
    assert_int_equal(len, 39 * 2);
    for (size_t i = 0; i < 39; i++) {
        assert_int_equal(data[2 * i + 1], 0);
        guid[i] = (char)data[2 * i];
    }
    assert_int_equal(guid[38], '\0');
    assert_int_equal(guid[0], '{');
    assert_int_equal(guid[37], '}');
    for (size_t i = 1; i < 37; i++) {
        if (i == 9 || i == 14 || i == 19 || i == 24)
            assert_int_equal(guid[i], '-');
        else
            assert_non_null(strchr("0123456789abcdefABCDEF", guid[i]));
    }
}

static uint32_t rd32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static void wr32(uint8_t *p, uint32_t v) { p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24; }
/* A cell's data in the buffer, from its hive offset. */
static uint8_t *cellp(const struct ul_regf *h, uint32_t off) { return h->buf + 4096 + off + 4; }
static uint32_t sk_refs(const struct ul_regf *h, ul_regkey key)
{
    return rd32(cellp(h, rd32(cellp(h, key) + 44)) + 12);
}

static void fix_checksum(uint8_t *buf) { wr32(buf + 508, ul_regf_checksum(buf)); }

static void test_open_and_lookup(void **state)
{
    (void)state;
    if (!have_stores())
        skip();
    for (size_t s = 0; s < NSTORES; s++) {
        struct ul_regf h;
        size_t len;
        uint8_t *buf = load(stores[s].name, &len, 0);
        char guid[39], name[64];

        assert_non_null(buf);
        assert_int_equal(ul_regf_open(&h, buf, len, len), 0);
        assert_int_equal(h.len, len);
        assert_int_equal(ul_regf_root(&h), rd32(buf + 36));
        assert_int_equal(ul_regf_key_name(&h, h.root, name, sizeof(name)), 0);
        default_loader(&h, guid);
        /* case-insensitive like Windows */
        ul_regkey a, b;
        assert_int_equal(ul_regf_lookup(&h, "objects\\" BOOTMGR "\\ELEMENTS", &a), 0);
        assert_int_equal(ul_regf_lookup(&h, "\\Objects\\" BOOTMGR "\\Elements\\", &b), 0);
        assert_int_equal(a, b);
        assert_int_equal(ul_regf_lookup(&h, "Objects\\nope", &a), -UL_ENOENT);
        assert_int_equal(ul_regf_value_get(&h, b, "nope", NULL, NULL, 0, NULL), -UL_ENOENT);
        if (have_tool("hivexget")) {
            char cmd[512];
            int st;
            snprintf(cmd, sizeof(cmd),
                     "hivexget " BCD_DIR "%s 'Objects\\" BOOTMGR "\\Elements\\23000003' Element",
                     stores[s].name);
            char *out = run(cmd, NULL, &st);
            assert_int_equal(st, 0);
            assert_memory_equal(out, guid, 38);
            free(out);
        }
        free(buf);
    }
}

static void test_enumerate_counts(void **state)
{
    (void)state;
    if (!have_stores())
        skip();
    for (size_t s = 0; s < NSTORES; s++) {
        struct ul_regf h;
        size_t len;
        uint8_t *buf = load(stores[s].name, &len, 0);
        uint32_t keys = 0, values = 0;

        assert_int_equal(ul_regf_open(&h, buf, len, len), 0);
        assert_int_equal(walk(&h, h.root, 0, &keys, &values), 0);
        assert_int_equal(keys, stores[s].keys);
        assert_int_equal(values, stores[s].values);
        free(buf);
    }
}

/* Subkeys are stored sorted by upper-cased name (what Windows requires). */
static void check_sorted(const struct ul_regf *h, ul_regkey key)
{
    char prev[256] = "", name[256];
    uint32_t n;
    ul_regkey c;

    assert_int_equal(ul_regf_subkey_count(h, key, &n), 0);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(ul_regf_subkey_at(h, key, i, &c), 0);
        assert_int_equal(ul_regf_key_name(h, c, name, sizeof(name)), 0);
        if (i > 0)
            assert_true(strcasecmp(prev, name) < 0);
        strcpy(prev, name);
    }
    assert_int_equal(ul_regf_subkey_at(h, key, n, &c), -UL_ENOENT);
}

static void test_safeboot_roundtrip(void **state)
{
    (void)state;
    if (!have_stores())
        skip();
    bool hivex = have_tool("hivexget") && have_tool("hivexml");
    if (!hivex)
        print_message("note: hivex tools absent, oracle checks skipped\n");
    for (size_t s = 0; s < NSTORES; s++) {
        struct ul_regf h;
        size_t len;
        uint8_t *buf = load(stores[s].name, &len, 65536);
        char guid[39], path[256], cmd[700], *orig_dump = NULL, *dump, *tmp;
        ul_regkey elements, k, k2;
        uint32_t refs, type, seq, n0, n1, keys = 0, values = 0;
        uint8_t v1[8] = { 1, 0, 0, 0, 0, 0, 0, 0 }, v2[8] = { 2, 0, 0, 0, 0, 0, 0, 0 }, out[8];
        size_t olen;
        int st;

        assert_int_equal(ul_regf_open(&h, buf, len, len + 65536), 0);
        h.now_filetime = 0x01DA000000000000ull;
        seq = rd32(buf + 4);
        default_loader(&h, guid);
        snprintf(path, sizeof(path), "Objects\\%s\\Elements", guid);
        assert_int_equal(ul_regf_lookup(&h, path, &elements), 0);
        assert_int_equal(ul_regf_subkey(&h, elements, "25000080", &k), -UL_ENOENT);
        assert_int_equal(ul_regf_subkey_count(&h, elements, &n0), 0);
        refs = sk_refs(&h, elements);
        if (hivex) {
            tmp = write_temp(buf, len);
            orig_dump = hivex_dump(tmp, &st);
            assert_int_equal(st, 0);
            unlink(tmp);
        }

        assert_int_equal(ul_regf_key_create(&h, elements, "25000080", &k), 0);
        assert_true(h.modified);
        assert_int_equal(ul_regf_key_create(&h, elements, "25000080", &k2), -UL_EEXIST);
        assert_int_equal(k2, k);
        assert_int_equal(sk_refs(&h, elements), refs + 1);
        assert_int_equal(rd32(cellp(&h, k) + 44), rd32(cellp(&h, elements) + 44));
        assert_int_equal(rd32(cellp(&h, k) + 16), elements);
        assert_int_equal(ul_regf_value_set(&h, k, "Element", UL_REG_BINARY, v1, 8), 0);
        assert_int_equal(ul_regf_subkey_count(&h, elements, &n1), 0);
        assert_int_equal(n1, n0 + 1);
        check_sorted(&h, elements);
        ul_regf_commit(&h);
        assert_false(h.modified);
        assert_int_equal(rd32(buf + 4), seq + 1);
        assert_int_equal(rd32(buf + 8), seq + 1);

        /* our own reader, from scratch */
        assert_int_equal(ul_regf_open(&h, buf, h.len, len + 65536), 0);
        snprintf(path, sizeof(path), "Objects\\%s\\Elements\\25000080", guid);
        assert_int_equal(ul_regf_lookup(&h, path, &k2), 0);
        assert_int_equal(ul_regf_value_get(&h, k2, "element", &type, out, sizeof(out), &olen), 0);
        assert_int_equal(type, UL_REG_BINARY);
        assert_int_equal(olen, 8);
        assert_memory_equal(out, v1, 8);
        assert_int_equal(walk(&h, h.root, 0, &keys, &values), 0);
        assert_int_equal(keys, stores[s].keys + 1);
        assert_int_equal(values, stores[s].values + 1);

        if (hivex) {
            tmp = write_temp(buf, h.len);
            snprintf(cmd, sizeof(cmd), "hivexget %s '%s' Element", tmp, path);
            char *got = run(cmd, &olen, &st);
            assert_int_equal(st, 0);
            assert_int_equal(olen, 8);
            assert_memory_equal(got, v1, 8);
            free(got);
            snprintf(cmd, sizeof(cmd), "hivexml %s >/dev/null", tmp);
            assert_int_equal(system(cmd), 0);
            unlink(tmp);
        }

        /* set again: replaced, not added */
        h.now_filetime = 0x01DA000000000001ull;
        assert_int_equal(ul_regf_value_set(&h, k2, "Element", UL_REG_BINARY, v2, 8), 0);
        assert_int_equal(ul_regf_value_count(&h, k2, &n1), 0);
        assert_int_equal(n1, 1);
        assert_int_equal(ul_regf_value_get(&h, k2, "Element", &type, out, sizeof(out), &olen), 0);
        assert_memory_equal(out, v2, 8);
        assert_int_equal(ul_regf_value_get(&h, k2, "Element", &type, out, 4, &olen), -UL_E2BIG);
        assert_int_equal(olen, 8);

        /* and clear it: delete the key */
        assert_int_equal(ul_regf_key_delete(&h, elements, "25000080"), 0);
        assert_int_equal(ul_regf_key_delete(&h, elements, "25000080"), -UL_ENOENT);
        assert_int_equal(sk_refs(&h, elements), refs);
        assert_int_equal(ul_regf_subkey_count(&h, elements, &n1), 0);
        assert_int_equal(n1, n0);
        check_sorted(&h, elements);
        ul_regf_commit(&h);
        assert_int_equal(ul_regf_open(&h, buf, h.len, len + 65536), 0);
        keys = values = 0;
        assert_int_equal(walk(&h, h.root, 0, &keys, &values), 0);
        assert_int_equal(keys, stores[s].keys);
        assert_int_equal(values, stores[s].values);

        if (hivex) {
            tmp = write_temp(buf, h.len);
            dump = hivex_dump(tmp, &st);
            assert_int_equal(st, 0);
            assert_string_equal(dump, orig_dump);
            free(dump);
            free(orig_dump);
            unlink(tmp);
        }
        free(buf);
    }
}

/* Open a damaged copy: the call must fail with want and leave the buffer alone. */
static void expect_open(uint8_t *buf, size_t len, int want)
{
    struct ul_regf h;
    uint8_t *copy = malloc(len + 1);
    assert_non_null(copy);
    memcpy(copy, buf, len);
    assert_int_equal(ul_regf_open(&h, buf, len, len), want);
    if (want == -UL_EBADMSG)
        assert_non_null(h.error);
    assert_memory_equal(copy, buf, len);
    free(copy);
}

static uint8_t *fresh(size_t *len)
{
    uint8_t *buf = load("win10-efi-locate.BCD", len, 8192);
    assert_non_null(buf);
    return buf;
}

static void test_corrupt_headers(void **state)
{
    (void)state;
    if (!have_stores())
        skip();
    size_t len;
    uint8_t *buf;

    buf = fresh(&len);
    expect_open(buf, len - 4096, -UL_EBADMSG);    /* truncated: bins beyond the file */
    expect_open(buf, 100, -UL_EBADMSG);
    expect_open(buf, 0, -UL_EBADMSG);
    free(buf);

    buf = fresh(&len);
    buf[508] ^= 1;                                  /* wrong checksum */
    expect_open(buf, len, -UL_EBADMSG);
    free(buf);

    buf = fresh(&len);
    wr32(buf + 8, rd32(buf + 8) + 1);               /* dirty */
    fix_checksum(buf);
    expect_open(buf, len, -UL_ESTALE);
    free(buf);

    buf = fresh(&len);
    wr32(buf + 24, 2);                              /* version 1.2 */
    fix_checksum(buf);
    expect_open(buf, len, -UL_EBADMSG);
    free(buf);

    buf = fresh(&len);
    wr32(buf + 40, 4096 * 3);                       /* bins size beyond the file */
    fix_checksum(buf);
    expect_open(buf, len, -UL_EBADMSG);
    free(buf);

    buf = fresh(&len);
    wr32(buf + 8192 + 4, 0);                        /* second hbin's offset field */
    expect_open(buf, len, -UL_EBADMSG);
    free(buf);

    buf = fresh(&len);
    wr32(buf + 8192 + 8, 8192);                     /* bin larger than the data */
    expect_open(buf, len, -UL_EBADMSG);
    free(buf);

    buf = fresh(&len);
    wr32(buf + 4096 + 32, rd32(buf + 4096 + 32) + 4);   /* cell size not a multiple of 8 */
    expect_open(buf, len, -UL_EBADMSG);
    free(buf);

    buf = fresh(&len);
    wr32(buf + 4096 + 32, 0);                       /* zero cell size */
    expect_open(buf, len, -UL_EBADMSG);
    free(buf);

    buf = fresh(&len);
    wr32(buf + 36, rd32(buf + 36) + 8);             /* root into the middle of a cell */
    fix_checksum(buf);
    expect_open(buf, len, -UL_EBADMSG);
    free(buf);

    /* the checksum's reserved values: 0 -> 1, ~0 -> ~1 */
    uint8_t base[4096] = { 0 };
    assert_int_equal(ul_regf_checksum(base), 1);
    memset(base, 0xFF, 127 * 4);
    assert_int_equal(ul_regf_checksum(base), 0xFFFFFFFEu);
    base[0] = 0xFE;
    assert_int_equal(ul_regf_checksum(base), 0xFFFFFFFEu ^ 0xFFFFFFFFu ^ 0xFFFFFFFEu ^ 1u);
}

/* Open a copy damaged after open-time checks; the walk, a lookup and an
 * edit must all fail cleanly, with the buffer untouched. */
static void expect_walk_edit(uint8_t *buf, size_t len, int want, bool edit)
{
    struct ul_regf h;
    uint32_t keys = 0, values = 0;
    ul_regkey k;
    uint8_t *copy = malloc(len + 8192);

    assert_non_null(copy);
    memcpy(copy, buf, len + 8192);
    assert_int_equal(ul_regf_open(&h, buf, len, len + 8192), 0);
    assert_int_equal(walk(&h, h.root, 0, &keys, &values), want);
    if (edit) {
        int r = ul_regf_lookup(&h, "Objects\\" BOOTMGR "\\Elements\\23000003", &k);
        assert_true(r < 0);
        /* edits under the damaged key fail too, before changing anything */
        r = ul_regf_key_create(&h, h.root, "New", &k);
        assert_true(r < 0);
        r = ul_regf_key_delete(&h, h.root, "Objects");
        assert_true(r < 0);
    }
    assert_memory_equal(copy, buf, len + 8192);
    assert_int_equal(h.len, len);
    free(copy);
}

static void expect_walk(uint8_t *buf, size_t len, int want)
{
    expect_walk_edit(buf, len, want, false);
}

static void test_corrupt_lists(void **state)
{
    (void)state;
    if (!have_stores())
        skip();
    size_t len;
    uint8_t *buf;
    struct ul_regf h;
    uint32_t root, list;

    buf = fresh(&len);
    assert_int_equal(ul_regf_open(&h, buf, len, len), 0);
    root = h.root;
    list = rd32(cellp(&h, root) + 28);
    assert_memory_equal(cellp(&h, list), "lf", 2);
    free(buf);

    /* entries: 0 "Description", 1 "Objects" */
    static const struct {
        uint32_t delta, abs;
        int want;
    } cases[] = {
        { 8, 0, -UL_EBADMSG },          /* into the middle of a cell */
        { 0, 0x7FFFFFF8u, -UL_EBADMSG },/* outside the file */
        { 0, 0xFFFFFFFFu, -UL_EBADMSG },
        { 4, 0, -UL_EBADMSG },          /* misaligned */
        { 0, 1, -UL_ELOOP },            /* to the root itself: a cycle */
        { 0, 2, -UL_EBADMSG },          /* to the list itself: not a key */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        buf = fresh(&len);
        uint8_t *e = buf + 4096 + list + 4 + 4 + 8 * 1;
        if (cases[i].abs == 1)
            wr32(e, root);
        else if (cases[i].abs == 2)
            wr32(e, list);
        else if (cases[i].abs)
            wr32(e, cases[i].abs);
        else
            wr32(e, rd32(e) + cases[i].delta);
        expect_walk_edit(buf, len, cases[i].want, true);
        free(buf);
    }

    /* a deeper cycle: a grandchild entry back to the root */
    buf = fresh(&len);
    assert_int_equal(ul_regf_open(&h, buf, len, len), 0);
    ul_regkey objects;
    assert_int_equal(ul_regf_lookup(&h, "Objects", &objects), 0);
    uint32_t olist = rd32(cellp(&h, objects) + 28);
    wr32(cellp(&h, olist) + 4, root);
    expect_walk(buf, len, -UL_ELOOP);
    free(buf);

    /* huge counts: subkeys, list entries, values */
    buf = fresh(&len);
    wr32(buf + 4096 + root + 4 + 20, 0xFFFFFFFFu);
    expect_walk(buf, len, -UL_EBADMSG);
    free(buf);

    buf = fresh(&len);
    buf[4096 + list + 4 + 2] = 0xFF;
    buf[4096 + list + 4 + 3] = 0xFF;
    expect_walk(buf, len, -UL_EBADMSG);
    free(buf);

    buf = fresh(&len);
    assert_int_equal(ul_regf_open(&h, buf, len, len), 0);
    ul_regkey desc;
    assert_int_equal(ul_regf_lookup(&h, "Description", &desc), 0);
    wr32(cellp(&h, desc) + 36, 0x40000000u);
    expect_walk(buf, len, -UL_EBADMSG);
    free(buf);

    /* an ri whose entry is itself (ri inside ri) */
    buf = fresh(&len);
    assert_int_equal(ul_regf_open(&h, buf, len, len), 0);
    memcpy(cellp(&h, list), "ri", 2);
    buf[4096 + list + 4 + 2] = 1;
    wr32(cellp(&h, list) + 4, list);
    expect_walk(buf, len, -UL_ELOOP);
    free(buf);

    /* a value whose data is a free cell */
    buf = fresh(&len);
    assert_int_equal(ul_regf_open(&h, buf, len, len), 0);
    uint32_t vl = rd32(cellp(&h, desc) + 40);
    uint32_t vk = rd32(cellp(&h, vl));
    uint32_t data = rd32(cellp(&h, vk) + 8);
    assert_true((rd32(cellp(&h, vk) + 4) & 0x80000000u) == 0);
    wr32(cellp(&h, data) - 4, -rd32(cellp(&h, data) - 4));
    expect_walk(buf, len, -UL_EBADMSG);
    free(buf);
}

/* Names in shuffled order, so each insert lands somewhere else in the list. */
static void key_name_for(unsigned i, char *out, size_t size)
{
    unsigned x = (i * 7919u) % 10007u;
    snprintf(out, size, "%s%05u", (x & 1) ? "key" : "KEY", x);
}

static void test_fill_until_new_bin(void **state)
{
    (void)state;
    if (!have_stores())
        skip();
    for (int minor = 3; minor <= 5; minor += 2) {
        struct ul_regf h;
        size_t len, cap;
        uint8_t *buf = load("win10-efi-locate.BCD", &len, 3 * 4096);
        uint8_t *snap;
        ul_regkey stress, k;
        char name[32], path[64];
        unsigned i, made;
        int r = 0;
        uint32_t refs, keys = 0, values = 0;

        cap = len + 3 * 4096;
        snap = malloc(cap);
        assert_non_null(snap);
        /* the same hive as version 1.5, where new lists are "lh" */
        wr32(buf + 24, (uint32_t)minor);
        fix_checksum(buf);
        assert_int_equal(ul_regf_open(&h, buf, len, cap), 0);
        assert_int_equal(ul_regf_key_create(&h, h.root, "Stress", &stress), 0);
        refs = sk_refs(&h, stress);
        for (i = 0; i < 5000; i++) {
            key_name_for(i, name, sizeof(name));
            size_t before = h.len;
            memcpy(snap, buf, cap);
            r = ul_regf_key_create(&h, stress, name, &k);
            if (r == -UL_ENOSPC) {
                assert_int_equal(h.len, before);
                assert_memory_equal(snap, buf, before);
                break;
            }
            assert_int_equal(r, 0);
            assert_int_equal(ul_regf_value_set(&h, k, "Element", UL_REG_DWORD, &i, 4), 0);
            if (i % 3 == 0) {
                char big[100];
                memset(big, 'a' + i % 26, sizeof(big));
                r = ul_regf_value_set(&h, k, "Big", UL_REG_BINARY, big, sizeof(big));
                if (r == -UL_ENOSPC) {
                    /* the value not set, the key stays */
                    i++;
                    break;
                }
                assert_int_equal(r, 0);
            }
        }
        made = i;
        assert_int_equal(r, -UL_ENOSPC);
        assert_true(h.len > len);
        assert_int_equal(sk_refs(&h, stress), refs + made);
        assert_memory_equal(cellp(&h, rd32(cellp(&h, stress) + 28)), minor >= 5 ? "lh" : "lf", 2);
        check_sorted(&h, stress);
        ul_regf_commit(&h);

        assert_int_equal(ul_regf_open(&h, buf, h.len, cap), 0);
        assert_int_equal(walk(&h, h.root, 0, &keys, &values), 0);
        assert_int_equal(keys, 32 + 1 + made);
        for (i = 0; i < made; i++) {
            uint32_t v, type;
            size_t vlen;
            key_name_for(i, name, sizeof(name));
            snprintf(path, sizeof(path), "stress\\%s", name);
            assert_int_equal(ul_regf_lookup(&h, path, &k), 0);
            assert_int_equal(ul_regf_value_get(&h, k, "Element", &type, &v, 4, &vlen), 0);
            assert_int_equal(type, UL_REG_DWORD);
            assert_int_equal(v, i);
        }
        /* lh hashes: H * 37 + upper(c) */
        uint8_t *lh = cellp(&h, rd32(cellp(&h, stress) + 28));
        for (i = 0; minor >= 5 && i < (unsigned)(lh[2] | lh[3] << 8); i++) {
            uint8_t *nk = cellp(&h, rd32(lh + 4 + 8 * i));
            uint32_t x = 0, n = nk[72] | nk[73] << 8;
            for (uint32_t j = 0; j < n; j++)
                x = x * 37 + (uint32_t)toupper(nk[76 + j]);
            assert_int_equal(rd32(lh + 8 + 8 * i), x);
        }

        if (have_tool("hivexml") && have_tool("hivexget")) {
            char cmd[256];
            int st;
            char *tmp = write_temp(buf, h.len);
            snprintf(cmd, sizeof(cmd), "hivexml %s | grep -o '<node ' | wc -l", tmp);
            char *out = run(cmd, NULL, &st);
            assert_int_equal(st, 0);
            assert_int_equal(atoi(out), 32 + 1 + made);
            free(out);
            key_name_for(made - 1, name, sizeof(name));
            snprintf(cmd, sizeof(cmd), "hivexget %s 'Stress\\%s' Element", tmp, name);
            out = run(cmd, NULL, &st);
            assert_int_equal(st, 0);
            assert_int_equal(atoi(out), made - 1);
            free(out);
            unlink(tmp);
        }

        /* delete them all again: the list empties, sk refcount returns */
        for (i = 0; i < made; i++) {
            key_name_for(i, name, sizeof(name));
            assert_int_equal(ul_regf_key_delete(&h, stress, name), 0);
        }
        assert_int_equal(sk_refs(&h, stress), refs);
        assert_int_equal(rd32(cellp(&h, stress) + 28), 0xFFFFFFFFu);
        assert_int_equal(ul_regf_key_delete(&h, h.root, "Stress"), 0);
        ul_regf_commit(&h);
        assert_int_equal(ul_regf_open(&h, buf, h.len, cap), 0);
        keys = values = 0;
        assert_int_equal(walk(&h, h.root, 0, &keys, &values), 0);
        assert_int_equal(keys, 32);
        assert_int_equal(values, 27);
        free(snap);
        free(buf);
    }
}

static void test_values(void **state)
{
    (void)state;
    if (!have_stores())
        skip();
    struct ul_regf h;
    size_t len, olen;
    uint8_t *buf = load("win10xpe.BCD", &len, 65536);
    ul_regkey k;
    uint8_t data[16344], out[16344];
    uint32_t type, n;

    assert_int_equal(ul_regf_open(&h, buf, len, len + 65536), 0);
    assert_int_equal(ul_regf_key_create(&h, h.root, "Values", &k), 0);
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 31);
    /* inline sizes 0..4 and cells above */
    static const size_t sizes[] = { 0, 1, 3, 4, 5, 8, 100, 4096, 16344 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char name[16];
        snprintf(name, sizeof(name), "v%zu", sizes[i]);
        assert_int_equal(ul_regf_value_set(&h, k, name, UL_REG_BINARY, data, sizes[i]), 0);
    }
    assert_int_equal(ul_regf_value_set(&h, k, "", UL_REG_SZ, "d\0\0", 4), 0);
    assert_int_equal(ul_regf_value_set(&h, k, "toobig", UL_REG_BINARY, data, 16345), -UL_E2BIG);
    ul_regf_commit(&h);
    assert_int_equal(ul_regf_open(&h, buf, h.len, len + 65536), 0);
    assert_int_equal(ul_regf_lookup(&h, "VALUES", &k), 0);
    assert_int_equal(ul_regf_value_count(&h, k, &n), 0);
    assert_int_equal(n, 10);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char name[16];
        snprintf(name, sizeof(name), "V%zu", sizes[i]);
        assert_int_equal(ul_regf_value_get(&h, k, name, &type, NULL, 0, &olen), 0);
        assert_int_equal(olen, sizes[i]);
        assert_int_equal(ul_regf_value_get(&h, k, name, &type, out, sizeof(out), &olen), 0);
        assert_memory_equal(out, data, sizes[i]);
    }
    assert_int_equal(ul_regf_value_get(&h, k, "", &type, out, sizeof(out), &olen), 0);
    assert_int_equal(type, UL_REG_SZ);
    assert_int_equal(olen, 4);
    /* largest value name / data fields */
    assert_int_equal(rd32(cellp(&h, k) + 60), 2 * strlen("v16344"));
    assert_int_equal(rd32(cellp(&h, k) + 64), 16344);
    if (have_tool("hivexml")) {
        char cmd[128];
        char *tmp = write_temp(buf, h.len);
        snprintf(cmd, sizeof(cmd), "hivexml %s >/dev/null", tmp);
        assert_int_equal(system(cmd), 0);
        unlink(tmp);
    }
    /* delete a middle one, then all */
    assert_int_equal(ul_regf_value_delete(&h, k, "v100"), 0);
    assert_int_equal(ul_regf_value_delete(&h, k, "v100"), -UL_ENOENT);
    assert_int_equal(ul_regf_value_get(&h, k, "v4096", &type, out, sizeof(out), &olen), 0);
    assert_memory_equal(out, data, 4096);
    assert_int_equal(ul_regf_key_delete(&h, h.root, "Values"), 0);
    /* a key with subkeys is refused */
    assert_int_equal(ul_regf_key_delete(&h, h.root, "Objects"), -UL_ENOTEMPTY);
    assert_int_equal(ul_regf_key_create(&h, h.root, "a\\b", &k), -UL_EINVAL);
    assert_int_equal(ul_regf_key_create(&h, h.root, "", &k), -UL_EINVAL);
    ul_regf_commit(&h);
    uint32_t keys = 0, values = 0;
    assert_int_equal(ul_regf_open(&h, buf, h.len, len + 65536), 0);
    assert_int_equal(walk(&h, h.root, 0, &keys, &values), 0);
    assert_int_equal(keys, 66);
    assert_int_equal(values, 46);
    free(buf);
}

/* Deleting the last key using an sk frees the sk and unlinks it from the
 * sk list [spec: Key security]. */
static void test_sk_unlink(void **state)
{
    (void)state;
    if (!have_stores())
        skip();
    struct ul_regf h;
    size_t len;
    uint8_t *buf = load("win10xpe.BCD", &len, 8192);
    ul_regkey k, c;
    uint32_t sk, flink, blink, n;

    assert_int_equal(ul_regf_open(&h, buf, len, len + 8192), 0);
    /* give a new key its own sk, a copy of its parent's, linked in */
    assert_int_equal(ul_regf_key_create(&h, h.root, "Own", &k), 0);
    assert_int_equal(ul_regf_value_set(&h, k, "sk", UL_REG_BINARY, cellp(&h, rd32(cellp(&h, k) + 44)),
                                       20 + rd32(cellp(&h, rd32(cellp(&h, k) + 44)) + 16)), 0);
    uint32_t vl = rd32(cellp(&h, k) + 40), vk = rd32(cellp(&h, vl));
    sk = rd32(cellp(&h, vk) + 8);
    wr32(cellp(&h, vk) + 4, 0x80000000u);          /* the value no longer owns the cell */
    uint32_t old = rd32(cellp(&h, k) + 44);
    uint32_t next = rd32(cellp(&h, old) + 4);
    wr32(cellp(&h, sk) + 4, next);
    wr32(cellp(&h, sk) + 8, old);
    wr32(cellp(&h, sk) + 12, 1);
    wr32(cellp(&h, old) + 4, sk);
    wr32(cellp(&h, next) + 8, sk);
    wr32(cellp(&h, old) + 12, rd32(cellp(&h, old) + 12) - 1);
    wr32(cellp(&h, k) + 44, sk);
    /* a child shares it */
    assert_int_equal(ul_regf_key_create(&h, k, "Child", &c), 0);
    assert_int_equal(rd32(cellp(&h, sk) + 12), 2);
    assert_int_equal(ul_regf_key_delete(&h, h.root, "Own"), -UL_ENOTEMPTY);
    assert_int_equal(ul_regf_key_delete(&h, k, "Child"), 0);
    assert_int_equal(rd32(cellp(&h, sk) + 12), 1);
    assert_int_equal(ul_regf_key_delete(&h, h.root, "Own"), 0);
    /* unlinked: old <-> next again, and the cell is free */
    assert_int_equal(rd32(cellp(&h, old) + 4), next);
    assert_int_equal(rd32(cellp(&h, next) + 8), old);
    assert_true((int32_t)rd32(cellp(&h, sk) - 4) > 0 || (int32_t)rd32(cellp(&h, sk) - 4) < 0);
    flink = old;
    n = 0;
    do {
        blink = flink;
        flink = rd32(cellp(&h, flink) + 4);
        assert_int_equal(rd32(cellp(&h, flink) + 8), blink);
        assert_int_not_equal(flink, sk);
    } while (flink != old && ++n < 100);
    ul_regf_commit(&h);
    assert_int_equal(ul_regf_open(&h, buf, h.len, len + 8192), 0);
    if (have_tool("hivexml")) {
        char cmd[128];
        char *tmp = write_temp(buf, h.len);
        snprintf(cmd, sizeof(cmd), "hivexml %s >/dev/null", tmp);
        assert_int_equal(system(cmd), 0);
        unlink(tmp);
    }
    free(buf);
}

/*
 * Turn key's leaf into an "ri" over two leaves (Windows makes these for
 * large keys; the BCD stores have none).  The new cells come from value
 * data cells of a scratch key, then the values let go of them.
 */
static uint32_t take_data_cell(struct ul_regf *h, ul_regkey scratch, const char *name,
                               const void *data, size_t len)
{
    uint32_t vl, n, vk, off;

    assert_int_equal(ul_regf_value_set(h, scratch, name, UL_REG_BINARY, data, len), 0);
    assert_int_equal(ul_regf_value_count(h, scratch, &n), 0);
    vl = rd32(cellp(h, scratch) + 40);
    vk = rd32(cellp(h, vl) + 4 * (n - 1));
    off = rd32(cellp(h, vk) + 8);
    wr32(cellp(h, vk) + 4, 0x80000000u);    /* now an empty inline value */
    return off;
}

static void make_ri(struct ul_regf *h, ul_regkey key, ul_regkey scratch)
{
    uint32_t list = rd32(cellp(h, key) + 28);
    uint8_t *lf = cellp(h, list);
    uint32_t n = lf[2] | lf[3] << 8, half = n / 2;
    static uint8_t l1[16384], l2[16384];
    uint8_t ri[12];

    assert_memory_equal(lf, "lf", 2);
    memcpy(l1, "lf", 2);
    l1[2] = half;
    l1[3] = half >> 8;
    memcpy(l1 + 4, lf + 4, 8 * half);
    memcpy(l2, "lf", 2);
    l2[2] = (n - half);
    l2[3] = (n - half) >> 8;
    memcpy(l2 + 4, lf + 4 + 8 * half, 8 * (n - half));
    uint32_t o1 = take_data_cell(h, scratch, "l1", l1, 4 + 8 * half);
    uint32_t o2 = take_data_cell(h, scratch, "l2", l2, 4 + 8 * (n - half));
    memcpy(ri, "ri\x02\x00", 4);
    wr32(ri + 4, o1);
    wr32(ri + 8, o2);
    uint32_t o3 = take_data_cell(h, scratch, "ri", ri, 12);
    wr32(cellp(h, key) + 28, o3);
    /* the old leaf is left allocated and unreferenced: harmless */
}

static void hivexml_ok(const uint8_t *buf, size_t len, uint32_t keys)
{
    char cmd[256];
    int st;

    if (!have_tool("hivexml"))
        return;
    char *tmp = write_temp(buf, len);
    snprintf(cmd, sizeof(cmd), "hivexml %s | grep -o '<node ' | wc -l", tmp);
    char *out = run(cmd, NULL, &st);
    assert_int_equal(st, 0);
    assert_int_equal(atoi(out), keys);
    free(out);
    snprintf(cmd, sizeof(cmd), "hivexml %s > /dev/null", tmp);
    assert_int_equal(system(cmd), 0);
    unlink(tmp);
}

static void test_index_root(void **state)
{
    (void)state;
    if (!have_stores())
        skip();
    for (int big = 0; big <= 1; big++) {
        struct ul_regf h;
        size_t len, cap;
        uint8_t *buf = load("win10-efi-locate.BCD", &len, 512 * 1024);
        ul_regkey r, scratch, k;
        unsigned n = big ? 1014 : 6, i;   /* big: above LEAF_MAX (1012) after a delete */
        uint32_t count, keys = 0, values = 0;
        char name[32];

        cap = len + 512 * 1024;
        assert_int_equal(ul_regf_open(&h, buf, len, cap), 0);
        assert_int_equal(ul_regf_key_create(&h, h.root, "R", &r), 0);
        assert_int_equal(ul_regf_key_create(&h, h.root, "Scratch", &scratch), 0);
        for (i = 0; i < n; i++) {
            key_name_for(i, name, sizeof(name));
            assert_int_equal(ul_regf_key_create(&h, r, name, &k), 0);
        }
        make_ri(&h, r, scratch);
        assert_memory_equal(cellp(&h, rd32(cellp(&h, r) + 28)), "ri", 2);
        check_sorted(&h, r);
        assert_int_equal(walk(&h, h.root, 0, &keys, &values), 0);
        assert_int_equal(keys, 32 + 2 + n);
        ul_regf_commit(&h);
        hivexml_ok(buf, h.len, 32 + 2 + n);
        key_name_for(n - 1, name, sizeof(name));
        assert_int_equal(ul_regf_subkey(&h, r, name, &k), 0);

        /* delete from a leaf in place */
        key_name_for(1, name, sizeof(name));
        assert_int_equal(ul_regf_key_delete(&h, r, name), 0);
        assert_int_equal(ul_regf_subkey(&h, r, name, &k), -UL_ENOENT);
        check_sorted(&h, r);
        /* insert: a small ri becomes one leaf; a big one grows the right leaf */
        assert_int_equal(ul_regf_key_create(&h, r, "key00000a", &k), 0);
        assert_int_equal(ul_regf_key_create(&h, r, "zzz", &k), 0);
        assert_memory_equal(cellp(&h, rd32(cellp(&h, r) + 28)), big ? "ri" : "lf", 2);
        check_sorted(&h, r);
        assert_int_equal(ul_regf_subkey_count(&h, r, &count), 0);
        assert_int_equal(count, n + 1);
        ul_regf_commit(&h);
        assert_int_equal(ul_regf_open(&h, buf, h.len, cap), 0);
        keys = values = 0;
        assert_int_equal(walk(&h, h.root, 0, &keys, &values), 0);
        assert_int_equal(keys, 32 + 2 + n + 1);
        hivexml_ok(buf, h.len, 32 + 2 + n + 1);
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_and_lookup),
        cmocka_unit_test(test_enumerate_counts),
        cmocka_unit_test(test_safeboot_roundtrip),
        cmocka_unit_test(test_corrupt_headers),
        cmocka_unit_test(test_corrupt_lists),
        cmocka_unit_test(test_fill_until_new_bin),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_sk_unlink),
        cmocka_unit_test(test_index_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
