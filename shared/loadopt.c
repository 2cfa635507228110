/* SPDX-License-Identifier: GPL-2.0-or-later */
/* EFI_LOAD_OPTION, device paths and BootOrder from untrusted bytes (see loadopt.h). */
#include "loadopt.h"

#include "log.h"
#include "string-util.h"
#include "ul-errno.h"

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static int bad(const char **why, const char *msg)
{
    if (why)
        *why = msg;
    return -UL_EBADMSG;
}

int ul_dp_walk(const void *dp, size_t size, ul_dp_node_fn fn, void *ctx, const char **why)
{
    const uint8_t *p = dp;
    size_t off = 0;

    if (!dp && size)
        return bad(why, "device path: no data");
    for (;;) {
        if (size - off < 4)
            return bad(why, off == 0 && size == 0 ? "device path: empty"
                                                   : "device path: ends without an End node");
        uint8_t type = p[off], sub = p[off + 1];
        uint16_t len = get16(p + off + 2);
        if (len < 4)
            return bad(why, "device path: a node is shorter than its 4-byte header");
        if (len > size - off)
            return bad(why, "device path: a node runs past FilePathListLength");
        if (fn) {
            int r = fn(ctx, type, sub, p + off + 4, len - 4u);
            if (r)
                return r;
        }
        off += len;
        if (type == UL_DP_TYPE_END && sub == UL_DP_END_ENTIRE)
            return 0;
    }
}

static int parse_hd(const uint8_t *d, size_t len, struct ul_hd_node *hd)
{
    if (len != UL_DP_HD_NODE_LEN - 4)
        return -1;
    hd->part_number = get32(d);
    hd->start = get64(d + 4);
    hd->size = get64(d + 12);
    ul_memcpy(hd->signature, d + 20, 16);
    hd->format = d[36];
    hd->sig_type = d[37];
    return 0;
}

struct collect {
    struct ul_load_option *o;
    bool first_done;            /* the first instance ended */
    const char *why;
    int err;
};

static int collect_node(void *ctx, uint8_t type, uint8_t sub, const uint8_t *d, size_t len)
{
    struct collect *c = ctx;
    struct ul_load_option *o = c->o;

    if (type == UL_DP_TYPE_END) {
        c->first_done = true;
        return 0;
    }
    if (c->first_done || type != UL_DP_TYPE_MEDIA)
        return 0;
    if (sub == UL_DP_MEDIA_HD) {
        if (parse_hd(d, len, &o->hd) < 0) {
            c->why = "device path: an HD node is not 42 bytes long";
            return c->err = -UL_EBADMSG;
        }
        /* The first one names the partition; a later one would be odd,
         * but is not ours to judge. */
        if (!o->has_hd)
            o->has_hd = true;
        return 0;
    }
    if (sub != UL_DP_MEDIA_FILE_PATH)
        return 0;
    if (len % 2) {
        c->why = "device path: a file-path node has an odd length";
        return c->err = -UL_EBADMSG;
    }
    size_t n = len / 2, k;
    for (k = 0; k < n && get16(d + 2 * k); k++)
        ;
    if (k == n) {
        c->why = "device path: a file-path node's string is not NUL-terminated";
        return c->err = -UL_EBADMSG;
    }
    if (k == 0) {
        o->n_file_nodes++;
        return 0;
    }
    /* Firmware may split one path over several nodes (spec 10.3.5.4): join
     * them with one backslash between. */
    bool need_sep = o->path_len > 0 && o->path[o->path_len - 1] != '\\' &&
                    o->path[o->path_len - 1] != '/' && get16(d) != '\\' && get16(d) != '/';
    if (o->path_len + need_sep + k > UL_LOADOPT_PATH_MAX - 1) {
        c->why = "device path: the file path is too long";
        return c->err = -UL_ENAMETOOLONG;
    }
    if (need_sep)
        o->path[o->path_len++] = '\\';
    for (size_t i = 0; i < k; i++)
        o->path[o->path_len++] = get16(d + 2 * i);
    o->path[o->path_len] = 0;
    o->n_file_nodes++;
    return 0;
}

static int collect_path(const void *dp, size_t size, struct ul_load_option *out,
                        const char **why)
{
    struct collect c = { .o = out };
    const char *w = NULL;
    int r = ul_dp_walk(dp, size, collect_node, &c, &w);
    if (r < 0) {
        if (why)
            *why = c.err ? c.why : w;
        out->path[0] = 0;
        out->path_len = 0;
        out->n_file_nodes = 0;
        out->has_hd = false;
    }
    return r;
}

int ul_dp_parse_path(const void *dp, size_t size, struct ul_load_option *out, const char **why)
{
    if (!out)
        return -UL_EINVAL;
    ul_memset(out, 0, sizeof(*out));
    return collect_path(dp, size, out, why);
}

int ul_loadopt_parse(const void *buf, size_t size, struct ul_load_option *out, const char **why)
{
    const uint8_t *p = buf;
    size_t off, k;

    if (!buf || !out)
        return -UL_EINVAL;
    ul_memset(out, 0, sizeof(*out));
    /* Attributes (4), FilePathListLength (2), then at least the
     * Description's NUL (2). */
    if (size < 8)
        return bad(why, "load option: shorter than its fixed header");
    out->attributes = get32(p);
    out->file_path_list_length = get16(p + 4);
    off = 6;
    out->description = p + off;
    for (k = 0; off + 2 * k + 1 < size && get16(p + off + 2 * k); k++)
        ;
    if (off + 2 * k + 1 >= size)
        return bad(why, "load option: the description is not NUL-terminated");
    out->description_chars = k;
    off += 2 * (k + 1);
    if (out->file_path_list_length == 0)
        return bad(why, "load option: FilePathListLength is 0");
    if (out->file_path_list_length > size - off)
        return bad(why, "load option: FilePathListLength runs past the end");
    out->file_path_list = p + off;

    int r = collect_path(out->file_path_list, out->file_path_list_length, out, why);
    if (r < 0)
        return r;
    off += out->file_path_list_length;
    out->optional_data_size = size - off;
    out->optional_data = out->optional_data_size ? p + off : NULL;
    return 0;
}

struct find_hd {
    struct ul_hd_node *out;
    int err;
};

static int find_hd_node(void *ctx, uint8_t type, uint8_t sub, const uint8_t *d, size_t len)
{
    struct find_hd *f = ctx;
    if (type != UL_DP_TYPE_MEDIA || sub != UL_DP_MEDIA_HD)
        return 0;
    if (parse_hd(d, len, f->out) < 0)
        return f->err = -UL_EBADMSG;
    return 1;
}

int ul_dp_find_hd(const void *dp, size_t size, struct ul_hd_node *out)
{
    struct find_hd f = { .out = out };
    int r = ul_dp_walk(dp, size, find_hd_node, &f, NULL);
    if (r < 0)
        return r;
    return r == 1 ? 0 : -UL_ENOENT;
}

static uint16_t fold(uint16_t c)
{
    if (c == '/')
        return '\\';
    if (c >= 'A' && c <= 'Z')
        return (uint16_t)(c - 'A' + 'a');
    return c;
}

bool ul_loadopt_path_equal(const uint16_t *path, const char *ascii)
{
    size_t i = 0, j = 0;

    if (!path || !ascii)
        return false;
    if (fold(path[0]) == '\\')
        i++;
    if (fold((unsigned char)ascii[0]) == '\\')
        j++;
    for (;; i++, j++) {
        uint16_t a = path[i];
        unsigned char b = (unsigned char)ascii[j];
        if (a == 0 || b == 0)
            return a == 0 && b == 0;
        if (a >= 0x80 || b >= 0x80 || fold(a) != fold(b))
            return false;
    }
}

static void to_ascii(const uint8_t *le, const uint16_t *arr, size_t n, char *out,
                     size_t out_size)
{
    size_t i;
    if (!out_size)
        return;
    for (i = 0; i < n && i + 1 < out_size; i++) {
        uint16_t c = le ? get16(le + 2 * i) : arr[i];
        if (!le && c == 0)
            break;
        out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    out[i] = 0;
}

void ul_loadopt_path_ascii(const uint16_t *path, char *out, size_t out_size)
{
    to_ascii(NULL, path, UL_LOADOPT_PATH_MAX, out, out_size);
}

void ul_loadopt_desc_ascii(const struct ul_load_option *o, char *out, size_t out_size)
{
    to_ascii(o->description, NULL, o->description_chars, out, out_size);
}

bool ul_hd_same_partition(const struct ul_hd_node *a, const struct ul_hd_node *b)
{
    static const uint8_t zero[16];
    if (a->sig_type != b->sig_type || a->part_number != b->part_number)
        return false;
    switch (a->sig_type) {
    case UL_HD_SIG_GUID:
        return ul_memcmp(a->signature, zero, 16) != 0 &&
               ul_memcmp(a->signature, b->signature, 16) == 0 && a->start == b->start &&
               a->size == b->size;
    case UL_HD_SIG_MBR:
        return ul_memcmp(a->signature, b->signature, 4) == 0 &&
               ul_memcmp(a->signature, zero, 4) != 0 && a->start == b->start;
    default:
        return false;
    }
}

int ul_boot_order_parse(const void *buf, size_t size, uint16_t *out, size_t max, size_t *ret_n)
{
    const uint8_t *p = buf;
    size_t n = size / 2, i;

    *ret_n = 0;
    if (size % 2)
        return -UL_EBADMSG;
    if (n && !buf)
        return -UL_EINVAL;
    for (i = 0; i < n && i < max; i++)
        out[i] = get16(p + 2 * i);
    *ret_n = i;
    return n > max ? -UL_E2BIG : 0;
}

void ul_boot_var_name(uint16_t num, char out[9])
{
    static const char hex[] = "0123456789ABCDEF";
    ul_memcpy(out, "Boot", 4);
    for (int i = 0; i < 4; i++)
        out[4 + i] = hex[(num >> (12 - 4 * i)) & 0xf];
    out[8] = 0;
}

enum ul_boot_pick ul_boot_pick(const uint16_t *order, size_t n, ul_boot_var_reader read,
                               void *ctx, const struct ul_boot_self *self, const char *loader,
                               struct ul_log *log, uint16_t *ret_num)
{
    static struct ul_load_option o;
    enum ul_boot_pick best = UL_PICK_NONE;

    for (size_t i = 0; i < n && best != UL_PICK_OUR_ESP; i++) {
        char name[9], path[128], desc[64];
        const void *buf = NULL;
        const char *why = NULL;
        size_t size = 0;
        int r;

        ul_boot_var_name(order[i], name);
        r = read(ctx, order[i], &buf, &size);
        if (r < 0) {
            ul_logf(log, UL_LOG_INFO, "bootnext: %s (in BootOrder) cannot be read: %s", name,
                    ul_strerror(r));
            continue;
        }
        r = ul_loadopt_parse(buf, size, &o, &why);
        if (r < 0) {
            ul_logf(log, UL_LOG_INFO, "bootnext: %s is malformed (%s); skipped", name,
                    why ? why : ul_strerror(r));
            continue;
        }
        ul_loadopt_path_ascii(o.path, path, sizeof(path));
        ul_loadopt_desc_ascii(&o, desc, sizeof(desc));
        ul_logf(log, UL_LOG_DEBUG, "bootnext: %s \"%s\" %s%s%s", name, desc,
                o.path_len ? path : "(no file path)",
                o.attributes & UL_LOAD_OPTION_ACTIVE ? "" : ", inactive",
                o.has_hd ? "" : ", no partition node");
        if (!o.path_len || !ul_loadopt_path_equal(o.path, loader))
            continue;
        if (!(o.attributes & UL_LOAD_OPTION_ACTIVE)) {
            ul_logf(log, UL_LOG_INFO, "bootnext: %s \"%s\" starts %s but is inactive; skipped",
                    name, desc, loader);
            continue;
        }
        bool ours = self->have_hd && o.has_hd && ul_hd_same_partition(&o.hd, &self->hd);
        /* An entry that starts unloop itself would only bring it back. */
        if (self->path && self->path[0] && ul_loadopt_path_equal(o.path, self->path) &&
            (ours || !o.has_hd)) {
            ul_logf(log, UL_LOG_INFO, "bootnext: %s \"%s\" starts unloop itself; skipped",
                    name, desc);
            continue;
        }
        if (ours) {
            *ret_num = order[i];
            best = UL_PICK_OUR_ESP;
        } else if (best == UL_PICK_NONE) {
            *ret_num = order[i];
            best = UL_PICK_OTHER_PARTITION;
        }
    }
    return best;
}
