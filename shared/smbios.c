/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "smbios.h"

#include "gpt.h"
#include "string-util.h"
#include "ul-errno.h"

/* String n (1-based) of the structure whose strings start at s, up to end. */
static void get_string(const uint8_t *s, const uint8_t *end, uint8_t n, char *out, size_t size)
{
    out[0] = 0;
    if (!n)
        return;
    for (uint8_t i = 1; s < end && *s; i++) {
        const uint8_t *e = s;
        while (e < end && *e)
            e++;
        if (i == n) {
            size_t k = 0;
            for (; s < e && k + 1 < size; s++)
                out[k++] = *s >= 0x20 && *s < 0x7f ? (char)*s : '?';
            out[k] = 0;
            /* Trailing blanks: common padding. */
            while (k && out[k - 1] == ' ')
                out[--k] = 0;
            return;
        }
        s = e + 1;
    }
}

int ul_smbios_machine(const uint8_t *table, size_t len, struct ul_machine *m)
{
    const uint8_t *p = table, *end = table + len;

    ul_memset(m, 0, sizeof(*m));
    while (p && end - p >= 4) {
        uint8_t type = p[0], flen = p[1];
        if (flen < 4 || flen > end - p)
            return -UL_ENOENT;
        /* The strings follow the formatted area and end with two NULs. */
        const uint8_t *s = p + flen, *q = s;
        while (q + 1 < end && (q[0] || q[1]))
            q++;
        if (q + 1 >= end)
            return -UL_ENOENT;
        if (type == 1 && flen >= 8) {
            get_string(s, q + 1, p[4], m->manufacturer, sizeof(m->manufacturer));
            get_string(s, q + 1, p[5], m->product, sizeof(m->product));
            get_string(s, q + 1, p[7], m->serial, sizeof(m->serial));
            if (flen >= 0x18) {
                const uint8_t *u = p + 8;
                bool zero = true, ff = true;
                for (int i = 0; i < 16; i++) {
                    zero &= u[i] == 0;
                    ff &= u[i] == 0xff;
                }
                if (!zero && !ff) {
                    /* The GPT GUID layout is DSP0134's: three LE fields, then bytes. */
                    struct ul_guid g;
                    ul_memcpy(g.b, u, 16);
                    ul_guid_format(&g, m->uuid);
                }
            }
            return 0;
        }
        if (type == 127)
            break;
        p = q + 2;
    }
    return -UL_ENOENT;
}
