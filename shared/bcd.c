/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "bcd.h"
#include "string-util.h"
#include "ul-errno.h"

/* REG_SZ (UTF-16LE) to ASCII; non-ASCII characters become '?'. */
static void utf16_to_ascii(const uint8_t *d, size_t len, char *out, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i + 1 < len && n + 1 < size; i += 2) {
        uint16_t c = (uint16_t)(d[i] | d[i + 1] << 8);
        if (c == 0)
            break;
        out[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[n] = 0;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* "{8-4-4-4-12}" with hex digits. */
static bool valid_guid(const char *g)
{
    if (ul_strlen(g) != UL_BCD_GUID_LEN || g[0] != '{' || g[37] != '}')
        return false;
    for (int i = 1; i < 37; i++) {
        bool dash = i == 9 || i == 14 || i == 19 || i == 24;
        if (dash ? g[i] != '-' : !is_hex(g[i]))
            return false;
    }
    return true;
}

static int element_key(const struct ul_regf *h, const char *guid, const char *elem,
                       ul_regkey *ret)
{
    char path[96];
    if (!valid_guid(guid))
        return -UL_EINVAL;
    ul_snprintf(path, sizeof(path), "Objects\\%s\\Elements\\%s", guid, elem);
    return ul_regf_lookup(h, path, ret);
}

static int read_sz(const struct ul_regf *h, const char *guid, const char *elem, char *out,
                   size_t size)
{
    uint8_t data[512];
    uint32_t type;
    size_t len;
    ul_regkey k;
    int r = element_key(h, guid, elem, &k);
    if (r < 0)
        return r;
    r = ul_regf_value_get(h, k, "Element", &type, data, sizeof(data), &len);
    if (r < 0)
        return r;
    if (type != UL_REG_SZ)
        return -UL_EBADMSG;
    utf16_to_ascii(data, len, out, size);
    return 0;
}

int ul_bcd_default_loader(const struct ul_regf *h, char guid[UL_BCD_GUID_LEN + 1])
{
    char g[64];
    int r = read_sz(h, UL_BCD_BOOTMGR, UL_BCD_ELEM_DEFAULT_OBJECT, g, sizeof(g));
    if (r < 0)
        return r;
    if (!valid_guid(g))
        return -UL_EBADMSG;
    for (int i = 0; i <= UL_BCD_GUID_LEN; i++)
        guid[i] = ul_tolower(g[i]);
    return 0;
}

int ul_bcd_get_safeboot(const struct ul_regf *h, const char *guid, uint64_t *ret)
{
    uint8_t data[8];
    uint32_t type;
    size_t len;
    ul_regkey k;
    int r = element_key(h, guid, UL_BCD_ELEM_SAFEBOOT, &k);
    if (r < 0)
        return r;
    r = ul_regf_value_get(h, k, "Element", &type, data, sizeof(data), &len);
    if (r == -UL_E2BIG)
        return -UL_EBADMSG;
    if (r < 0)
        return r;
    if (type != UL_REG_BINARY || len != 8)
        return -UL_EBADMSG;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | data[i];
    *ret = v;
    return 0;
}

/*
 * The one place that writes an element.  It only accepts the safeboot
 * element: BitLocker validates the others (DESIGN §5).
 */
static int write_integer_element(struct ul_regf *h, const char *guid, const char *elem,
                                 uint64_t v)
{
    char path[80];
    uint8_t data[8];
    ul_regkey elements, k;
    int r;

    if (ul_strcmp(elem, UL_BCD_ELEM_SAFEBOOT) != 0)
        return -UL_EPERM;
    if (!valid_guid(guid))
        return -UL_EINVAL;
    ul_snprintf(path, sizeof(path), "Objects\\%s\\Elements", guid);
    r = ul_regf_lookup(h, path, &elements);
    if (r < 0)
        return r;
    r = ul_regf_key_create(h, elements, elem, &k);
    if (r < 0 && r != -UL_EEXIST)
        return r;
    for (int i = 0; i < 8; i++)
        data[i] = (uint8_t)(v >> (8 * i));
    return ul_regf_value_set(h, k, "Element", UL_REG_BINARY, data, sizeof(data));
}

int ul_bcd_set_safeboot(struct ul_regf *h, const char *guid, enum ul_safeboot mode)
{
    if ((unsigned)mode > UL_SAFEBOOT_DSREPAIR)
        return -UL_EINVAL;
    return write_integer_element(h, guid, UL_BCD_ELEM_SAFEBOOT, (uint64_t)mode);
}

int ul_bcd_clear_safeboot(struct ul_regf *h, const char *guid)
{
    char path[80];
    ul_regkey elements;
    if (!valid_guid(guid))
        return -UL_EINVAL;
    ul_snprintf(path, sizeof(path), "Objects\\%s\\Elements", guid);
    int r = ul_regf_lookup(h, path, &elements);
    if (r < 0)
        return r;
    return ul_regf_key_delete(h, elements, UL_BCD_ELEM_SAFEBOOT);
}

int ul_bcd_list(const struct ul_regf *h, struct ul_bcd_object *out, uint32_t max,
                uint32_t *ret_n)
{
    char def[UL_BCD_GUID_LEN + 1] = "";
    ul_regkey objects;
    uint32_t n;
    int r;

    *ret_n = 0;
    r = ul_regf_lookup(h, "Objects", &objects);
    if (r < 0)
        return r;
    r = ul_regf_subkey_count(h, objects, &n);
    if (r < 0)
        return r;
    if (ul_bcd_default_loader(h, def) < 0)
        def[0] = 0;

    for (uint32_t i = 0; i < n; i++) {
        ul_regkey obj, desc;
        char name[64];
        r = ul_regf_subkey_at(h, objects, i, &obj);
        if (r < 0)
            return r;
        r = ul_regf_key_name(h, obj, name, sizeof(name));
        if (r < 0)
            return r;
        if (i >= max)
            continue;
        struct ul_bcd_object *o = &out[i];
        ul_memset(o, 0, sizeof(*o));
        for (size_t j = 0; j < UL_BCD_GUID_LEN && name[j]; j++)
            o->guid[j] = ul_tolower(name[j]);
        if (ul_regf_subkey(h, obj, "Description", &desc) == 0) {
            uint8_t t[4];
            uint32_t type;
            size_t len;
            if (ul_regf_value_get(h, desc, "Type", &type, t, sizeof(t), &len) == 0 &&
                type == UL_REG_DWORD && len == 4)
                o->type = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 |
                          (uint32_t)t[3] << 24;
        }
        if (valid_guid(o->guid)) {
            if (read_sz(h, o->guid, UL_BCD_ELEM_DESCRIPTION, o->description,
                        sizeof(o->description)) < 0)
                o->description[0] = 0;
            o->has_safeboot = ul_bcd_get_safeboot(h, o->guid, &o->safeboot) == 0;
            o->is_default = def[0] && ul_strcmp(def, o->guid) == 0;
        }
    }
    *ret_n = n;
    return 0;
}

const char *ul_bcd_type_name(uint32_t type)
{
    switch (type) {
    case UL_BCD_TYPE_BOOTMGR: return "boot manager";
    case UL_BCD_TYPE_OSLOADER: return "Windows loader";
    case UL_BCD_TYPE_RESUME: return "resume from hibernation";
    case 0x10200005u: return "memory tester";
    case 0x10400006u: return "NTLDR";
    case 0x10400008u: return "boot sector";
    case 0x20100000u: return "inherit (library)";
    case 0x20200003u: return "inherit (OS loader)";
    case 0x20200004u: return "inherit (resume)";
    case 0x30000000u: return "device";
    default: return "other";
    }
}

const char *ul_safeboot_name(uint64_t v)
{
    switch (v) {
    case UL_SAFEBOOT_MINIMAL: return "minimal";
    case UL_SAFEBOOT_NETWORK: return "network";
    case UL_SAFEBOOT_DSREPAIR: return "dsrepair";
    default: return "unknown";
    }
}
