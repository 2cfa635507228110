/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "fake-volume.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ul-errno.h"

/* Linked into every unit test: undefined behaviour fails the test instead of
 * printing a line that scrolls by in a passing run. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}

/* A FAT32 file cannot pass 4 GiB; the fake stops far earlier to catch
 * runaway offsets. */
#define FAKE_FILE_MAX (16u * 1024 * 1024)

/* "\EFI\unloop\" -> "\EFI\unloop"; the root becomes "".  The core always
 * passes absolute backslash paths: anything else is a bug worth seeing. */
static int normalise(const char *in, char out[FAKE_PATH_MAX])
{
    size_t n;

    if (!in || in[0] != '\\')
        return -UL_EINVAL;
    n = strlen(in);
    if (n >= FAKE_PATH_MAX)
        return -UL_ENAMETOOLONG;
    if (strchr(in, '/'))
        return -UL_EINVAL;
    memcpy(out, in, n + 1);
    while (n > 0 && out[n - 1] == '\\')
        out[--n] = 0;
    if (strstr(out, "\\\\"))
        return -UL_EINVAL;
    return 0;
}

static void parent_of(const char *path, char out[FAKE_PATH_MAX])
{
    const char *slash = strrchr(path, '\\');
    size_t n = slash ? (size_t)(slash - path) : 0;
    memcpy(out, path, n);
    out[n] = 0;
}

static struct fake_node *find(const struct fake_volume *v, const char *norm)
{
    for (size_t i = 0; i < FAKE_MAX_NODES; i++)
        if (v->nodes[i].used && strcasecmp(v->nodes[i].path, norm) == 0)
            return (struct fake_node *)&v->nodes[i];
    return NULL;
}

/* The root ("") is always a directory. */
static bool dir_exists(const struct fake_volume *v, const char *norm)
{
    const struct fake_node *n;
    if (!norm[0])
        return true;
    n = find(v, norm);
    return n && n->is_dir;
}

static struct fake_node *add(struct fake_volume *v, const char *norm, bool is_dir)
{
    for (size_t i = 0; i < FAKE_MAX_NODES; i++) {
        struct fake_node *n = &v->nodes[i];
        if (!n->used) {
            memset(n, 0, sizeof(*n));
            n->used = true;
            n->is_dir = is_dir;
            n->file_id = ++v->next_file_id;
            snprintf(n->path, sizeof(n->path), "%s", norm);
            return n;
        }
    }
    return NULL;
}

static int resize(struct fake_node *n, size_t size)
{
    if (size <= n->size)
        return 0;
    if (size > FAKE_FILE_MAX)
        return -UL_ENOSPC;
    uint8_t *p = realloc(n->data, size);
    if (!p)
        return -UL_ENOMEM;
    memset(p + n->size, 0, size - n->size);
    n->data = p;
    n->size = size;
    return 0;
}

/* Common entry of every op: power and the per-path fault. */
static int gate(const struct fake_volume *v, const char *norm)
{
    if (v->powered_off)
        return -UL_EIO;
    if (v->fail_path_err && strcasecmp(v->fail_path, norm) == 0)
        return v->fail_path_err;
    return 0;
}

static int f_read(void *ctx, const char *path, uint64_t off, void *buf, size_t len,
                  size_t *ret_read)
{
    struct fake_volume *v = ctx;
    char p[FAKE_PATH_MAX];
    struct fake_node *n;
    int r;

    *ret_read = 0;
    v->n_reads++;
    if (v->powered_off)
        return -UL_EIO;
    r = normalise(path, p);
    if (r < 0)
        return r;
    r = gate(v, p);
    if (r < 0)
        return r;
    if (!p[0])
        return -UL_EISDIR;
    n = find(v, p);
    if (!n)
        return -UL_ENOENT;
    if (n->is_dir)
        return -UL_EISDIR;
    if (off >= n->size)
        return 0;
    size_t got = n->size - (size_t)off < len ? n->size - (size_t)off : len;
    memcpy(buf, n->data + off, got);
    *ret_read = got;
    return 0;
}

static int do_write(struct fake_volume *v, unsigned nr, unsigned opnr, const char *path,
                    uint64_t off, const void *buf, size_t len)
{
    bool op_cut = v->cut_op_at && opnr == v->cut_op_at;
    char p[FAKE_PATH_MAX], parent[FAKE_PATH_MAX];
    struct fake_node *n;
    int r;

    if (v->powered_off)
        return -UL_EIO;
    r = normalise(path, p);
    if (r < 0)
        return r;
    r = gate(v, p);
    if (r < 0)
        return r;
    if (nr == v->fail_write_at)
        return v->fail_write_err;
    if (!p[0])
        return -UL_EISDIR;
    parent_of(p, parent);
    if (!dir_exists(v, parent))
        return -UL_ENOENT;
    if (off > FAKE_FILE_MAX || len > FAKE_FILE_MAX - off)
        return -UL_ENOSPC;
    n = find(v, p);
    if (n && n->is_dir)
        return -UL_EISDIR;
    if (!n) {
        n = add(v, p, false);
        if (!n)
            return -UL_ENOSPC;
    }
    if (nr == v->cut_write_at && v->cut_by_sector) {
        /* Sectors land in any order: those in the mask made it.  The file
         * grows to the end of the last one that did. */
        size_t end = 0;
        for (size_t s = 0; s < 64 && s * FAKE_SECTOR < len; s++)
            if (v->cut_sectors >> s & 1)
                end = (s + 1) * FAKE_SECTOR < len ? (s + 1) * FAKE_SECTOR : len;
        if (end) {
            r = resize(n, (size_t)off + end);
            if (r < 0)
                return r;
        }
        for (size_t s = 0; s < 64 && s * FAKE_SECTOR < len; s++) {
            if (!(v->cut_sectors >> s & 1))
                continue;
            size_t a = s * FAKE_SECTOR, b = a + FAKE_SECTOR < len ? a + FAKE_SECTOR : len;
            memcpy(n->data + off + a, (const uint8_t *)buf + a, b - a);
        }
        v->powered_off = true;
        v->power_cuts++;
        return -UL_EIO;
    }
    if (nr == v->cut_write_at || op_cut) {
        /* The directory entry is there; of the data, only the first bytes. */
        size_t want = op_cut ? v->cut_op_bytes : v->cut_bytes;
        size_t k = want < len ? want : len;
        if (k > 0) {
            r = resize(n, (size_t)off + k);
            if (r < 0)
                return r;
            memcpy(n->data + off, buf, k);
        }
        v->powered_off = true;
        v->power_cuts++;
        return -UL_EIO;
    }
    if (len == 0)
        return 0;
    r = resize(n, (size_t)off + len);
    if (r < 0)
        return r;
    memcpy(n->data + off, buf, len);
    return 0;
}

static void log_op(struct fake_volume *v, unsigned opnr, enum fake_op_kind kind,
                   const char *path, const char *to, size_t len, int result)
{
    if (opnr == 0 || opnr > FAKE_OP_LOG)
        return;
    struct fake_op *o = &v->op_log[opnr - 1];
    o->kind = kind;
    snprintf(o->path, sizeof(o->path), "%s", path ? path : "(null)");
    snprintf(o->to, sizeof(o->to), "%s", to ? to : "");
    o->len = len;
    o->result = result;
}

/* A mutating op other than a write: the cut armed for it, if any, happens
 * before it (it does not take place). */
static int cut_before(struct fake_volume *v, unsigned opnr)
{
    if (v->powered_off || !v->cut_op_at || opnr != v->cut_op_at)
        return 0;
    v->powered_off = true;
    v->power_cuts++;
    return -UL_EIO;
}

static int f_write(void *ctx, const char *path, uint64_t off, const void *buf, size_t len)
{
    struct fake_volume *v = ctx;
    unsigned nr = ++v->n_writes, opnr = ++v->n_ops;
    bool was_on = !v->powered_off;
    int r = do_write(v, nr, opnr, path, off, buf, len);

    /* A cut armed for this op that an early error kept from landing
     * anything: the power fails all the same. */
    if (was_on && !v->powered_off && v->cut_op_at && opnr == v->cut_op_at) {
        v->powered_off = true;
        v->power_cuts++;
        r = -UL_EIO;
    }
    log_op(v, opnr, FAKE_OP_WRITE, path, NULL, len, r);

    if (nr <= FAKE_WRITE_LOG) {
        struct fake_write *w = &v->write_log[nr - 1];
        snprintf(w->path, sizeof(w->path), "%s", path ? path : "(null)");
        w->off = off;
        w->len = len;
        w->result = r;
    }
    return r;
}

static int f_stat(void *ctx, const char *path, struct ul_stat *ret)
{
    struct fake_volume *v = ctx;
    char p[FAKE_PATH_MAX];
    struct fake_node *n;
    int r;

    v->n_stats++;
    if (v->powered_off)
        return -UL_EIO;
    r = normalise(path, p);
    if (r < 0)
        return r;
    r = gate(v, p);
    if (r < 0)
        return r;
    if (!p[0]) {
        *ret = (struct ul_stat){ .size = 0, .is_dir = true };
        return 0;
    }
    n = find(v, p);
    if (!n)
        return -UL_ENOENT;
    *ret = (struct ul_stat){ .size = n->size, .is_dir = n->is_dir, .times = n->times,
                             .file_id = n->file_id };
    return 0;
}

static int do_mkdir(void *ctx, const char *path)
{
    struct fake_volume *v = ctx;
    char p[FAKE_PATH_MAX], parent[FAKE_PATH_MAX];
    int r;

    v->n_mkdirs++;
    if (v->powered_off)
        return -UL_EIO;
    r = normalise(path, p);
    if (r < 0)
        return r;
    r = gate(v, p);
    if (r < 0)
        return r;
    if (!p[0] || find(v, p))
        return -UL_EEXIST;
    parent_of(p, parent);
    if (!dir_exists(v, parent))
        return -UL_ENOENT;
    return add(v, p, true) ? 0 : -UL_ENOSPC;
}

static bool has_prefix_dir(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    return strncasecmp(path, dir, n) == 0 && path[n] == '\\';
}

static int do_rename(void *ctx, const char *from, const char *to)
{
    struct fake_volume *v = ctx;
    char f[FAKE_PATH_MAX], t[FAKE_PATH_MAX], pf[FAKE_PATH_MAX], pt[FAKE_PATH_MAX];
    struct fake_node *n;
    int r;

    v->n_renames++;
    if (v->powered_off)
        return -UL_EIO;
    r = normalise(from, f);
    if (r == 0)
        r = normalise(to, t);
    if (r < 0)
        return r;
    r = gate(v, f);
    if (r == 0)
        r = gate(v, t);
    if (r < 0)
        return r;
    if (!f[0] || !t[0])
        return -UL_EINVAL;
    n = find(v, f);
    if (!n)
        return -UL_ENOENT;
    if (find(v, t))
        return -UL_EEXIST;
    parent_of(f, pf);
    parent_of(t, pt);
    if (strcasecmp(pf, pt) != 0)
        return -UL_EINVAL; /* "within one directory" (ops.h) */
    if (n->is_dir) {
        size_t fl = strlen(f);
        for (size_t i = 0; i < FAKE_MAX_NODES; i++) {
            struct fake_node *c = &v->nodes[i];
            char tmp[FAKE_PATH_MAX];
            if (!c->used || !has_prefix_dir(c->path, f))
                continue;
            if (snprintf(tmp, sizeof(tmp), "%s%s", t, c->path + fl) >= (int)sizeof(tmp))
                return -UL_ENAMETOOLONG;
            memcpy(c->path, tmp, sizeof(tmp));
        }
    }
    snprintf(n->path, sizeof(n->path), "%s", t);
    return 0;
}

static int do_remove(void *ctx, const char *path)
{
    struct fake_volume *v = ctx;
    char p[FAKE_PATH_MAX];
    struct fake_node *n;
    int r;

    v->n_removes++;
    if (v->powered_off)
        return -UL_EIO;
    r = normalise(path, p);
    if (r < 0)
        return r;
    r = gate(v, p);
    if (r < 0)
        return r;
    if (!p[0])
        return -UL_EACCES;
    n = find(v, p);
    if (!n)
        return -UL_ENOENT;
    if (n->is_dir) {
        for (size_t i = 0; i < FAKE_MAX_NODES; i++)
            if (v->nodes[i].used && has_prefix_dir(v->nodes[i].path, p))
                return -UL_EACCES; /* not empty; there is no UL_ENOTEMPTY */
    }
    free(n->data);
    memset(n, 0, sizeof(*n));
    return 0;
}

static int f_mkdir(void *ctx, const char *path)
{
    struct fake_volume *v = ctx;
    unsigned opnr = ++v->n_ops;
    int r = cut_before(v, opnr);
    int r2 = do_mkdir(ctx, path); /* counts; fails with -UL_EIO after a cut */
    if (r == 0)
        r = r2;
    log_op(v, opnr, FAKE_OP_MKDIR, path, NULL, 0, r);
    return r;
}

static int f_rename(void *ctx, const char *from, const char *to)
{
    struct fake_volume *v = ctx;
    unsigned opnr = ++v->n_ops;
    int r = cut_before(v, opnr);
    int r2 = do_rename(ctx, from, to);
    if (r == 0)
        r = r2;
    log_op(v, opnr, FAKE_OP_RENAME, from, to, 0, r);
    return r;
}

static int f_remove(void *ctx, const char *path)
{
    struct fake_volume *v = ctx;
    unsigned opnr = ++v->n_ops;
    int r = cut_before(v, opnr);
    int r2 = do_remove(ctx, path);
    if (r == 0)
        r = r2;
    log_op(v, opnr, FAKE_OP_REMOVE, path, NULL, 0, r);
    return r;
}

static int f_list(void *ctx, const char *dir, ul_list_cb cb, void *arg)
{
    struct fake_volume *v = ctx;
    char p[FAKE_PATH_MAX], par[FAKE_PATH_MAX];
    int r;

    if (v->powered_off)
        return -UL_EIO;
    r = normalise(dir, p);
    if (r == 0)
        r = gate(v, p);
    if (r < 0)
        return r;
    if (!dir_exists(v, p))
        return -UL_ENOENT;
    for (size_t i = 0; i < FAKE_MAX_NODES; i++) {
        struct fake_node *n = &v->nodes[i];
        if (!n->used)
            continue;
        parent_of(n->path, par);
        if (strcasecmp(par, p) != 0)
            continue;
        const char *name = strrchr(n->path, '\\') + 1;
        struct ul_stat st = { .size = n->size, .is_dir = n->is_dir, .times = n->times,
                              .file_id = n->file_id };
        r = cb(arg, name, &st);
        if (r)
            return r;
    }
    return 0;
}

/* One step of a move: a second name for the node (a copy sharing file_id). */
static int do_link(struct fake_volume *v, const char *f, const char *t)
{
    char pt[FAKE_PATH_MAX];
    struct fake_node *n = find(v, f), *m;
    if (!n)
        return -UL_ENOENT;
    if (n->is_dir)
        return -UL_EISDIR;
    if (find(v, t))
        return -UL_EEXIST;
    parent_of(t, pt);
    if (!dir_exists(v, pt))
        return -UL_ENOENT;
    n = find(v, f);
    m = add(v, t, false);
    if (!m)
        return -UL_ENOSPC;
    n = find(v, f);
    v->next_file_id--; /* add() took a new id: the link shares the old one */
    m->file_id = n->file_id;
    m->times = n->times;
    m->times.mft_change = v->move_stamp;
    if (n->size) {
        m->data = malloc(n->size);
        if (!m->data) {
            memset(m, 0, sizeof(*m));
            return -UL_ENOMEM;
        }
        memcpy(m->data, n->data, n->size);
        m->size = n->size;
    }
    return 0;
}

static int f_move(void *ctx, const char *from, const char *to)
{
    struct fake_volume *v = ctx;
    char f[FAKE_PATH_MAX], t[FAKE_PATH_MAX];
    int r;

    v->n_moves++;
    r = normalise(from, f);
    if (r == 0)
        r = normalise(to, t);
    if (r < 0)
        return r;
    unsigned opnr = ++v->n_ops;
    r = cut_before(v, opnr);
    if (r == 0 && v->powered_off)
        r = -UL_EIO;
    if (r == 0)
        r = gate(v, f);
    if (r == 0)
        r = gate(v, t);
    if (r == 0)
        r = do_link(v, f, t);
    log_op(v, opnr, FAKE_OP_LINK, f, t, 0, r);
    if (r < 0)
        return r;
    opnr = ++v->n_ops;
    r = cut_before(v, opnr);
    if (r == 0) {
        struct fake_node *n = find(v, f);
        free(n->data);
        memset(n, 0, sizeof(*n));
    }
    log_op(v, opnr, FAKE_OP_UNLINK, f, NULL, 0, r);
    return r;
}

static int f_set_times(void *ctx, const char *path, const struct ul_times *times)
{
    struct fake_volume *v = ctx;
    char p[FAKE_PATH_MAX];
    unsigned opnr = ++v->n_ops;
    int r = cut_before(v, opnr);
    if (r == 0 && v->powered_off)
        r = -UL_EIO;
    if (r == 0)
        r = normalise(path, p);
    if (r == 0)
        r = gate(v, p);
    if (r == 0) {
        struct fake_node *n = find(v, p);
        if (!n)
            r = -UL_ENOENT;
        else
            n->times = *times;
    }
    log_op(v, opnr, FAKE_OP_SET_TIMES, path, NULL, 0, r);
    return r;
}

const struct ul_volume_ops fake_volume_ops = {
    .read = f_read,
    .write = f_write,
    .stat = f_stat,
    .mkdir = f_mkdir,
    .rename = f_rename,
    .remove = f_remove,
    .list = f_list,
    .move = f_move,
    .set_times = f_set_times,
};

int fake_volume_set_times(struct fake_volume *v, const char *path, const struct ul_times *t)
{
    char p[FAKE_PATH_MAX];
    int r = normalise(path, p);
    if (r < 0)
        return r;
    struct fake_node *n = find(v, p);
    if (!n)
        return -UL_ENOENT;
    n->times = *t;
    return 0;
}

int fake_volume_link(struct fake_volume *v, const char *from, const char *to)
{
    char f[FAKE_PATH_MAX], t[FAKE_PATH_MAX];
    int r = normalise(from, f);
    if (r == 0)
        r = normalise(to, t);
    return r < 0 ? r : do_link(v, f, t);
}

void fake_volume_init(struct fake_volume *v)
{
    memset(v, 0, sizeof(*v));
}

void fake_volume_free(struct fake_volume *v)
{
    for (size_t i = 0; i < FAKE_MAX_NODES; i++)
        free(v->nodes[i].data);
    memset(v, 0, sizeof(*v));
}

void fake_volume_reset(struct fake_volume *v)
{
    fake_volume_free(v);
}

struct ul_volume fake_volume_get(struct fake_volume *v)
{
    return (struct ul_volume){ .ops = &fake_volume_ops, .ctx = v };
}

int fake_volume_mkdir_p(struct fake_volume *v, const char *path)
{
    char p[FAKE_PATH_MAX];
    int r = normalise(path, p);
    if (r < 0)
        return r;
    for (char *s = p + 1;; s++) {
        if (*s == '\\' || *s == 0) {
            char save = *s;
            *s = 0;
            struct fake_node *n = find(v, p);
            if (n && !n->is_dir)
                return -UL_EEXIST;
            if (!n && !add(v, p, true))
                return -UL_ENOSPC;
            *s = save;
            if (!save)
                break;
        }
    }
    return 0;
}

int fake_volume_put(struct fake_volume *v, const char *path, const void *data, size_t len)
{
    char p[FAKE_PATH_MAX], parent[FAKE_PATH_MAX];
    struct fake_node *n;
    int r = normalise(path, p);
    if (r < 0)
        return r;
    if (!p[0])
        return -UL_EISDIR;
    parent_of(p, parent);
    if (parent[0]) {
        r = fake_volume_mkdir_p(v, parent);
        if (r < 0)
            return r;
    }
    n = find(v, p);
    if (n && n->is_dir)
        return -UL_EISDIR;
    if (!n && !(n = add(v, p, false)))
        return -UL_ENOSPC;
    free(n->data);
    n->data = NULL;
    n->size = 0;
    if (len == 0)
        return 0;
    n->data = malloc(len);
    if (!n->data)
        return -UL_ENOMEM;
    memcpy(n->data, data, len);
    n->size = len;
    return 0;
}

const uint8_t *fake_volume_peek(const struct fake_volume *v, const char *path, size_t *ret_len)
{
    char p[FAKE_PATH_MAX];
    const struct fake_node *n;
    static const uint8_t empty[1];

    *ret_len = 0;
    if (normalise(path, p) < 0 || !(n = find(v, p)) || n->is_dir)
        return NULL;
    *ret_len = n->size;
    return n->data ? n->data : empty;
}

bool fake_volume_exists(const struct fake_volume *v, const char *path)
{
    char p[FAKE_PATH_MAX];
    return normalise(path, p) == 0 && (!p[0] || find(v, p));
}

bool fake_volume_is_dir(const struct fake_volume *v, const char *path)
{
    char p[FAKE_PATH_MAX];
    return normalise(path, p) == 0 && dir_exists(v, p);
}

char *fake_volume_read_string(const struct fake_volume *v, const char *path)
{
    size_t len;
    const uint8_t *d = fake_volume_peek(v, path, &len);
    char *s;
    if (!d)
        return NULL;
    s = malloc(len + 1);
    if (!s)
        return NULL;
    memcpy(s, d, len);
    s[len] = 0;
    return s;
}

void fake_volume_fail_write(struct fake_volume *v, unsigned n, int err)
{
    v->fail_write_at = n ? v->n_writes + n : 0;
    v->fail_write_err = err;
}

void fake_volume_power_cut(struct fake_volume *v, unsigned n, size_t k)
{
    v->cut_write_at = n ? v->n_writes + n : 0;
    v->cut_bytes = k;
    v->cut_by_sector = false;
}

void fake_volume_power_cut_sectors(struct fake_volume *v, unsigned n, uint64_t mask)
{
    v->cut_write_at = n ? v->n_writes + n : 0;
    v->cut_by_sector = true;
    v->cut_sectors = mask;
}

void fake_volume_power_cut_op(struct fake_volume *v, unsigned n, size_t k)
{
    v->cut_op_at = n ? v->n_ops + n : 0;
    v->cut_op_bytes = k;
}

unsigned fake_volume_op_count(const struct fake_volume *v)
{
    return v->n_ops;
}

void fake_volume_power_on(struct fake_volume *v)
{
    v->powered_off = false;
    v->cut_op_at = 0;
    v->cut_op_bytes = 0;
    v->cut_write_at = 0;
    v->cut_bytes = 0;
    v->cut_by_sector = false;
    v->cut_sectors = 0;
    v->fail_write_at = 0;
    v->fail_write_err = 0;
    v->fail_path[0] = 0;
    v->fail_path_err = 0;
}

void fake_volume_fail_path(struct fake_volume *v, const char *path, int err)
{
    if (!path || normalise(path, v->fail_path) < 0) {
        v->fail_path[0] = 0;
        v->fail_path_err = 0;
        return;
    }
    v->fail_path_err = err;
}

unsigned fake_volume_write_count(const struct fake_volume *v)
{
    return v->n_writes;
}

/* ---- clock ---- */

static int c_now(void *ctx, struct ul_time *ret)
{
    struct fake_clock *c = ctx;
    c->calls++;
    if (c->err)
        return c->err;
    *ret = c->now;
    return 0;
}

const struct ul_clock_ops fake_clock_ops = { .now = c_now };

void fake_clock_set(struct fake_clock *c, int64_t secs, int16_t tz, bool valid)
{
    c->now = (struct ul_time){ .secs = secs, .tz = tz, .valid = valid };
    c->err = 0;
}

void fake_clock_fail(struct fake_clock *c, int err)
{
    c->err = err;
}

struct ul_clock fake_clock_get(struct fake_clock *c)
{
    return (struct ul_clock){ .ops = &fake_clock_ops, .ctx = c };
}
