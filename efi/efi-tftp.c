/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Volume ops over TFTP through EFI_PXE_BASE_CODE_PROTOCOL.Mtftp(), from the
 * server the image was network-booted from.  Read-only; every file is
 * fetched whole once and kept in pool memory (efi-tftp.h says why and how
 * paths map to TFTP file names).
 */
#include "efi-tftp.h"

#include "efi-util.h"

#include "../shared/string-util.h"
#include "../shared/ul-errno.h"

static EFI_GUID pxe_guid = EFI_PXE_BASE_CODE_PROTOCOL_GUID;

struct ul_efi_tftp_file {
    struct ul_efi_tftp_file *next;
    int err;            /* 0, or a remembered -UL_ENOENT / -UL_EACCES */
    UINT64 size;
    UINT8 *data;        /* pool memory; NULL when err or size 0 */
    char name[];        /* the TFTP file name */
};

/* ---------------------------------------------------------------- DHCP */

/* RFC 2131 section 2 (BOOTP header) and 3 (options after the magic cookie). */
#define BOOTP_SIADDR    20
#define BOOTP_SNAME     44
#define BOOTP_FILE      108
#define BOOTP_COOKIE    236
#define BOOTP_OPTIONS   240

#define OPT_PAD         0
#define OPT_OVERLOAD    52  /* RFC 2132 9.3: 1 = file, 2 = sname, 3 = both hold options */
#define OPT_SERVER_ID   54  /* RFC 2132 9.7 */
#define OPT_BOOTFILE    67  /* RFC 2132 9.5 */
#define OPT_END         255

/* The first option code in an option area, or NULL; *ret_len its length. */
static const UINT8 *dhcp_option(const UINT8 *p, UINTN len, UINT8 code, UINT8 *ret_len)
{
    UINTN i = 0;
    while (i < len) {
        UINT8 c = p[i];
        if (c == OPT_END)
            break;
        if (c == OPT_PAD) {
            i++;
            continue;
        }
        if (i + 1 >= len || i + 2 + p[i + 1] > len)
            break;          /* truncated: ignore the rest */
        if (c == code) {
            *ret_len = p[i + 1];
            return p + i + 2;
        }
        i += 2 + p[i + 1];
    }
    return NULL;
}

static bool ip_zero(const UINT8 ip[4])
{
    return !(ip[0] | ip[1] | ip[2] | ip[3]);
}

/* Copy a counted string that may also be NUL-terminated early. */
static void copy_name(char *out, UINTN size, const UINT8 *s, UINTN len)
{
    UINTN n = 0;
    for (; n < len && n + 1 < size && s[n]; n++)
        out[n] = (char)s[n];
    out[n] = 0;
}

/*
 * The boot server and boot file a reply names: siaddr ("next server"),
 * else option 54; option 67, else the BOOTP file field unless option 52
 * says it holds options.  The order EDK2's PxeBcDxe uses for its own boot.
 */
static void reply_boot_info(const EFI_PXE_BASE_CODE_PACKET *pkt, UINT8 ip[4], char *file,
                            UINTN file_size)
{
    static const UINT8 cookie[4] = { 99, 130, 83, 99 };
    const UINT8 *raw = pkt->Raw;
    const UINT8 *opts = raw + BOOTP_OPTIONS, *v;
    UINTN olen = sizeof(pkt->Raw) - BOOTP_OPTIONS;
    UINT8 vlen = 0, overload = 0;

    if (ul_memcmp(raw + BOOTP_COOKIE, cookie, 4) != 0)
        olen = 0;
    v = dhcp_option(opts, olen, OPT_OVERLOAD, &vlen);
    if (v && vlen >= 1)
        overload = v[0];

    ul_memcpy(ip, raw + BOOTP_SIADDR, 4);
    if (ip_zero(ip)) {
        v = dhcp_option(opts, olen, OPT_SERVER_ID, &vlen);
        if (v && vlen == 4)
            ul_memcpy(ip, v, 4);
    }

    file[0] = 0;
    v = dhcp_option(opts, olen, OPT_BOOTFILE, &vlen);
    if (!v && (overload & 1))
        v = dhcp_option(raw + BOOTP_FILE, 128, OPT_BOOTFILE, &vlen);
    if (!v && (overload & 2))
        v = dhcp_option(raw + BOOTP_SNAME, 64, OPT_BOOTFILE, &vlen);
    if (v)
        copy_name(file, file_size, v, vlen);
    else if (!(overload & 1))
        copy_name(file, file_size, raw + BOOTP_FILE, 128);
}

int ul_efi_tftp_open(EFI_HANDLE device, struct ul_efi_tftp *t)
{
    EFI_PXE_BASE_CODE_PROTOCOL *pxe = NULL;
    EFI_PXE_BASE_CODE_MODE *m;
    const EFI_PXE_BASE_CODE_PACKET *replies[3];
    UINTN n = 0;
    EFI_STATUS st;

    ul_memset(t, 0, sizeof(*t));
    t->sep = '/';
    st = BS->HandleProtocol(device, &pxe_guid, (void **)&pxe);
    if (EFI_ERROR(st) || !pxe || !pxe->Mode || !pxe->Mode->Started)
        return -UL_ENODEV;
    m = pxe->Mode;
    if (m->UsingIpv6)
        return -UL_EOPNOTSUPP;

    /* A PXE boot server's reply wins over a proxy DHCP offer, which wins
     * over the DHCP ack: the replies EFI_PXE_BASE_CODE_MODE keeps, in the
     * order EDK2's PxeBcDxe picks the one it boots from. */
    if (m->PxeReplyReceived)
        replies[n++] = &m->PxeReply;
    if (m->ProxyOfferReceived)
        replies[n++] = &m->ProxyOffer;
    if (m->DhcpAckReceived)
        replies[n++] = &m->DhcpAck;

    bool have_ip = false;
    for (UINTN i = 0; i < n; i++) {
        UINT8 ip[4];
        char file[UL_EFI_TFTP_NAME_MAX];
        reply_boot_info(replies[i], ip, file, sizeof(file));
        if (!have_ip && !ip_zero(ip)) {
            ul_memcpy(t->server.v4.Addr, ip, 4);
            have_ip = true;
        }
        if (!t->boot_file[0] && file[0])
            ul_strlcpy(t->boot_file, file, sizeof(t->boot_file));
    }
    if (!have_ip)
        return -UL_ENOENT;

    /* The boot file's directory, in its own separator. */
    bool slash = false, backslash = false;
    UINTN dir_len = 0;
    for (UINTN i = 0; t->boot_file[i]; i++) {
        if (t->boot_file[i] == '/')
            slash = true;
        else if (t->boot_file[i] == '\\')
            backslash = true;
        else
            continue;
        dir_len = i + 1;
    }
    if (backslash && !slash)
        t->sep = '\\';
    ul_memcpy(t->prefix, t->boot_file, dir_len);
    t->prefix[dir_len] = 0;
    t->pxe = pxe;
    return 0;
}

void ul_efi_tftp_close(struct ul_efi_tftp *t)
{
    struct ul_efi_tftp_file *f = t->cache, *next;
    for (; f; f = next) {
        next = f->next;
        if (f->data)
            BS->FreePool(f->data);
        BS->FreePool(f);
    }
    t->cache = NULL;
    t->pxe = NULL;
}

/* ---------------------------------------------------------------- paths */

static bool is_sep(char c)
{
    return c == '\\' || c == '/';
}

static bool is_root(const char *path)
{
    for (; *path; path++)
        if (!is_sep(*path))
            return false;
    return true;
}

/* "\EFI\unloop\unloop.conf" -> prefix + "EFI/unloop/unloop.conf". */
static int map_path(const struct ul_efi_tftp *t, const char *path, char *out, UINTN size)
{
    UINTN n = ul_strlcpy(out, t->prefix, size);
    bool first = true;
    const char *p = path;

    while (*p) {
        while (is_sep(*p))
            p++;
        if (!*p)
            break;
        const char *s = p;
        for (; *p && !is_sep(*p); p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                return -UL_EINVAL;
        UINTN len = (UINTN)(p - s);
        if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
            return -UL_EINVAL;
        if (n + len + 2 > size)
            return -UL_ENAMETOOLONG;
        if (!first)
            out[n++] = t->sep;
        ul_memcpy(out + n, s, len);
        n += len;
        out[n] = 0;
        first = false;
    }
    return first ? -UL_EISDIR : 0;
}

/* ---------------------------------------------------------------- transfers */

/* Whether a string contains a word, ignoring case. */
static bool has_word(const char *s, UINTN len, const char *word)
{
    UINTN wl = ul_strlen(word);
    for (UINTN i = 0; i + wl <= len && s[i]; i++)
        if (!ul_strncasecmp(s + i, word, wl))
            return true;
    return false;
}

/*
 * After a failed Mtftp(): the server's TFTP error (RFC 1350 section 5) if
 * it sent one.  EDK2's PxeBcDxe stores the 16-bit big-endian error code
 * truncated to its first byte, so 1 (File not found) and 2 (Access
 * violation) both arrive as 0 ("not defined, see error message"): then the
 * message decides.  A read request is refused, in practice, because the
 * file is not there.
 */
static int tftp_err(const struct ul_efi_tftp *t, EFI_STATUS st)
{
    const EFI_PXE_BASE_CODE_MODE *m = t->pxe->Mode;
    if (!m->TftpErrorReceived)
        return st == EFI_TFTP_ERROR ? -UL_ENOENT : ul_efi_err(st);
    const char *msg = (const char *)m->TftpError.ErrorString;
    UINTN len = sizeof(m->TftpError.ErrorString);
    switch (m->TftpError.ErrorCode) {
    case 0:
        if (has_word(msg, len, "access") || has_word(msg, len, "denied") ||
            has_word(msg, len, "permission"))
            return -UL_EACCES;
        return -UL_ENOENT;
    case 1: return -UL_ENOENT;
    case 2: return -UL_EACCES;
    default: return -UL_EIO;
    }
}

static EFI_STATUS mtftp(struct ul_efi_tftp *t, EFI_PXE_BASE_CODE_TFTP_OPCODE op, void *buf,
                        UINT64 *size, const char *name)
{
    /* TFTP blksize (RFC 2348) for the data: 1428 is QEMU's largest and fits
     * any Ethernet frame (1500 - 20 IP - 8 UDP - 4 TFTP = 1468); 2.8 times
     * fewer round trips than the default 512.  A server without the option
     * sends 512-byte blocks, which the firmware takes. */
    UINTN blk = 1428;
    EFI_STATUS st;

    t->fetches++;
    st = t->pxe->Mtftp(t->pxe, op, buf, FALSE, size,
                       op == EFI_PXE_BASE_CODE_TFTP_READ_FILE ? &blk : NULL, &t->server,
                       (UINT8 *)name, NULL, FALSE);
    if (EFI_ERROR(st)) {
        t->last_status = st;
        t->last_tftp_error = t->pxe->Mode->TftpErrorReceived ? t->pxe->Mode->TftpError.ErrorCode
                                                             : 0;
    }
    return st;
}

static void *pool(UINT64 size)
{
    void *p = NULL;
    if (EFI_ERROR(BS->AllocatePool(EfiLoaderData, size ? size : 1, &p)))
        return NULL;
    return p;
}

/* The whole file into *ret_data / *ret_size. */
static int download(struct ul_efi_tftp *t, const char *name, UINT8 **ret_data, UINT64 *ret_size)
{
    UINT64 size = 0, cap;
    EFI_STATUS st;

    *ret_data = NULL;
    *ret_size = 0;
    st = mtftp(t, EFI_PXE_BASE_CODE_TFTP_GET_FILE_SIZE, NULL, &size, name);
    if (EFI_ERROR(st)) {
        /* A TFTP error is the answer; anything else may be a server without
         * the tsize option (RFC 2349): read into a growing buffer below. */
        if (st == EFI_TFTP_ERROR || t->pxe->Mode->TftpErrorReceived)
            return tftp_err(t, st);
        cap = 64 * 1024;
    } else {
        if (size > UL_EFI_TFTP_MAX_FILE)
            return -UL_E2BIG;
        if (size == 0)
            return 0;
        cap = size;
    }

    for (;;) {
        UINT8 *buf = pool(cap);
        UINT64 got = cap;
        if (!buf)
            return -UL_ENOMEM;
        st = mtftp(t, EFI_PXE_BASE_CODE_TFTP_READ_FILE, buf, &got, name);
        if (!EFI_ERROR(st)) {
            *ret_data = buf;
            *ret_size = got;
            return 0;
        }
        BS->FreePool(buf);
        if (st != EFI_BUFFER_TOO_SMALL)
            return tftp_err(t, st);
        if (cap >= UL_EFI_TFTP_MAX_FILE)
            return -UL_E2BIG;
        cap = cap * 4 > UL_EFI_TFTP_MAX_FILE ? UL_EFI_TFTP_MAX_FILE : cap * 4;
    }
}

/* The cached file for a core path, fetching it the first time.  The cache
 * is keyed by TFTP name: "\keys\a.csv" and "keys/a.csv" are one file. */
static int fetch(struct ul_efi_tftp *t, const char *path, struct ul_efi_tftp_file **ret)
{
    char name[UL_EFI_TFTP_NAME_MAX];
    struct ul_efi_tftp_file *f;
    UINTN nlen;
    int r;

    if (!t->pxe)
        return -UL_ENODEV;
    r = map_path(t, path, name, sizeof(name));
    if (r < 0)
        return r;
    for (f = t->cache; f; f = f->next)
        if (!ul_strcmp(f->name, name)) {
            *ret = f;
            return f->err;
        }

    nlen = ul_strlen(name);
    f = pool(sizeof(*f) + nlen + 1);
    if (!f)
        return -UL_ENOMEM;
    ul_memset(f, 0, sizeof(*f));
    ul_memcpy(f->name, name, nlen + 1);

    r = download(t, name, &f->data, &f->size);
    if (r < 0 && r != -UL_ENOENT && r != -UL_EACCES) {
        /* A timeout or a full pool may pass: try again next time. */
        BS->FreePool(f);
        return r;
    }
    f->err = r;
    f->next = t->cache;
    t->cache = f;
    *ret = f;
    return r;
}

/* ---------------------------------------------------------------- ops */

static int t_read(void *ctx, const char *path, uint64_t off, void *buf, size_t len,
                  size_t *ret_read)
{
    struct ul_efi_tftp_file *f;
    int r;

    *ret_read = 0;
    if (is_root(path))
        return -UL_EISDIR;
    r = fetch(ctx, path, &f);
    if (r < 0)
        return r;
    if (off < f->size) {
        UINT64 n = f->size - off < len ? f->size - off : len;
        ul_memcpy(buf, f->data + off, (size_t)n);
        *ret_read = (size_t)n;
    }
    return 0;
}

static int t_stat(void *ctx, const char *path, struct ul_stat *ret)
{
    struct ul_efi_tftp_file *f;
    int r;

    ul_memset(ret, 0, sizeof(*ret));
    if (is_root(path)) {
        ret->is_dir = true;
        return 0;
    }
    r = fetch(ctx, path, &f);
    if (r < 0)
        return r;
    ret->size = f->size;
    return 0;
}

/* The names in dir\unloop.lst, each with its stat (so each is fetched). */
static int t_list(void *ctx, const char *dir, ul_list_cb cb, void *arg)
{
    struct ul_efi_tftp_file *idx;
    char path[UL_EFI_TFTP_NAME_MAX * 2];
    UINTN dlen = ul_strlen(dir);
    int r;

    while (dlen && is_sep(dir[dlen - 1]))
        dlen--;
    if (dlen + 1 + sizeof(UL_EFI_TFTP_INDEX) > UL_EFI_TFTP_NAME_MAX)
        return -UL_ENAMETOOLONG;
    ul_memcpy(path, dir, dlen);
    path[dlen] = '\\';
    ul_memcpy(path + dlen + 1, UL_EFI_TFTP_INDEX, sizeof(UL_EFI_TFTP_INDEX));
    r = fetch(ctx, path, &idx);
    if (r < 0)
        return r;

    UINT64 i = 0;
    while (i < idx->size) {
        UINT64 s = i, e;
        while (i < idx->size && idx->data[i] != '\n')
            i++;
        e = i++;
        while (s < e && ul_isspace((char)idx->data[s]))
            s++;
        while (e > s && ul_isspace((char)idx->data[e - 1]))
            e--;
        if (s == e || idx->data[s] == '#')
            continue;
        UINTN len = (UINTN)(e - s), k;
        for (k = 0; k < len; k++)
            if (is_sep((char)idx->data[s + k]))
                break;
        /* A name with a separator, or one too long, is not an entry. */
        if (k < len || dlen + 1 + len + 1 > sizeof(path))
            continue;
        ul_memcpy(path + dlen + 1, idx->data + s, len);
        path[dlen + 1 + len] = 0;
        if (!ul_strcmp(path + dlen + 1, UL_EFI_TFTP_INDEX))
            continue;
        struct ul_stat st;
        r = t_stat(ctx, path, &st);
        if (r == -UL_ENOENT || r == -UL_EACCES || r == -UL_EINVAL)
            continue;   /* listed but not there: as if not listed */
        if (r < 0)
            return r;
        r = cb(arg, path + dlen + 1, &st);
        if (r != 0)
            return r;
    }
    return 0;
}

static int t_write(void *ctx, const char *path, uint64_t off, const void *buf, size_t len)
{
    return -UL_EROFS;
}

static int t_path(void *ctx, const char *path)
{
    return -UL_EROFS;
}

static int t_rename(void *ctx, const char *from, const char *to)
{
    return -UL_EROFS;
}

const struct ul_volume_ops ul_efi_tftp_ops = {
    .read = t_read,
    .write = t_write,
    .stat = t_stat,
    .mkdir = t_path,
    .rename = t_rename,
    .remove = t_path,
    .list = t_list,
};
