/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "json.h"

#include <inttypes.h>

void json_init(struct json *j, FILE *f)
{
    j->f = f;
    j->depth = 0;
    j->need_comma[0] = false;
}

static void write_char(FILE *f, const unsigned char *p)
{
    switch (*p) {
    case '"': fputs("\\\"", f); break;
    case '\\': fputs("\\\\", f); break;
    case '\n': fputs("\\n", f); break;
    case '\r': fputs("\\r", f); break;
    case '\t': fputs("\\t", f); break;
    default:
        if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\u%04x", *p);
        else if (*p >= 0x80)
            fputs("\\ufffd", f); /* input is ASCII by contract; never emit invalid UTF-8 */
        else
            fputc(*p, f);
    }
}

static void write_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        write_char(f, p);
    fputc('"', f);
}

static void prefix(struct json *j, const char *key)
{
    if (j->need_comma[j->depth])
        fputc(',', j->f);
    j->need_comma[j->depth] = true;
    if (key) {
        write_string(j->f, key);
        fputc(':', j->f);
    }
}

static void open_(struct json *j, const char *key, char c)
{
    prefix(j, key);
    fputc(c, j->f);
    if (j->depth < 15)
        j->depth++;
    j->need_comma[j->depth] = false;
}

void json_object_begin(struct json *j, const char *key) { open_(j, key, '{'); }
void json_array_begin(struct json *j, const char *key) { open_(j, key, '['); }

void json_object_end(struct json *j)
{
    fputc('}', j->f);
    if (j->depth > 0)
        j->depth--;
}

void json_array_end(struct json *j)
{
    fputc(']', j->f);
    if (j->depth > 0)
        j->depth--;
}

void json_str(struct json *j, const char *key, const char *val)
{
    prefix(j, key);
    if (val)
        write_string(j->f, val);
    else
        fputs("null", j->f);
}

/* The code point of the valid UTF-8 sequence at p and its length, or 0. */
static int utf8_decode(const unsigned char *p, uint32_t *ret)
{
    int n = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 && p[0] < 0xe0 ? 2 : 0;
    if (!n || p[0] > 0xf4)
        return 0;
    uint32_t cp = p[0] & (0x7f >> n);
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    *ret = cp;
    return n;
}

void json_str_utf8(struct json *j, const char *key, const char *val)
{
    prefix(j, key);
    if (!val) {
        fputs("null", j->f);
        return;
    }
    fputc('"', j->f);
    for (const unsigned char *p = (const unsigned char *)val; *p;) {
        uint32_t cp;
        int n;
        if (*p < 0x80) {
            write_char(j->f, p++);
            continue;
        }
        n = utf8_decode(p, &cp);
        if (!n) {
            cp = 0xfffd;
            n = 1;
        }
        p += n;
        if (cp >= 0x10000)
            fprintf(j->f, "\\u%04x\\u%04x", 0xd800 + ((cp - 0x10000) >> 10),
                    0xdc00 + ((cp - 0x10000) & 0x3ff));
        else
            fprintf(j->f, "\\u%04x", cp);
    }
    fputc('"', j->f);
}

void json_int(struct json *j, const char *key, int64_t val)
{
    prefix(j, key);
    fprintf(j->f, "%" PRId64, val);
}

void json_bool(struct json *j, const char *key, bool val)
{
    prefix(j, key);
    fputs(val ? "true" : "false", j->f);
}

void json_null(struct json *j, const char *key)
{
    prefix(j, key);
    fputs("null", j->f);
}

void json_finish(struct json *j)
{
    fputc('\n', j->f);
    fflush(j->f);
}
