/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "json-out.h"

#include "string-util.h"

void ul_json_init(struct ul_json *j, void (*write)(void *ctx, const char *s, size_t n),
                  void *ctx, bool pretty)
{
    ul_memset(j, 0, sizeof(*j));
    j->write = write;
    j->ctx = ctx;
    j->pretty = pretty;
}

static void put(struct ul_json *j, const char *s)
{
    j->write(j->ctx, s, ul_strlen(s));
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *p)
{
    unsigned c = p[0];
    size_t n = c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
    if (!n)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    /* overlong 3- and 4-byte forms, surrogates, past U+10FFFF */
    if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0) ||
        (c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90))
        return 0;
    return n;
}

static void put_u(struct ul_json *j, uint32_t u)
{
    static const char hex[] = "0123456789abcdef";
    char e[7] = { '\\', 'u', hex[u >> 12 & 15], hex[u >> 8 & 15], hex[u >> 4 & 15], hex[u & 15], 0 };
    put(j, e);
}

static void write_string(struct ul_json *j, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    put(j, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        char esc[8];
        const char *out = esc;
        size_t n = 1;
        switch (*p) {
        case '"': out = "\\\""; break;
        case '\\': out = "\\\\"; break;
        case '\n': out = "\\n"; break;
        case '\r': out = "\\r"; break;
        case '\t': out = "\\t"; break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                ul_memcpy(esc, "\\u00", 4);
                esc[4] = hex[*p >> 4];
                esc[5] = hex[*p & 15];
                esc[6] = 0;
            } else if (*p < 0x80) {
                esc[0] = (char)*p;
                esc[1] = 0;
            } else if ((n = utf8_len(p)) != 0 && !j->ascii) {
                j->write(j->ctx, (const char *)p, n);
                p += n;
                continue;
            } else if (n) {
                uint32_t cp = p[0] & (0xFF >> (n + 1));
                for (size_t i = 1; i < n; i++)
                    cp = cp << 6 | (p[i] & 0x3F);
                p += n;
                if (cp >= 0x10000) {
                    put_u(j, 0xD800 + ((cp - 0x10000) >> 10));
                    cp = 0xDC00 + ((cp - 0x10000) & 0x3FF);
                }
                put_u(j, cp);
                continue;
            } else {
                out = "\\ufffd";
                n = 1;
            }
        }
        put(j, out);
        p += n;
    }
    put(j, "\"");
}

static void prefix(struct ul_json *j, const char *key)
{
    if (j->need_comma[j->depth])
        put(j, ",");
    j->need_comma[j->depth] = true;
    if (j->pretty && j->depth > 0) {
        put(j, "\n");
        for (int i = 0; i < j->depth; i++)
            put(j, "  ");
    }
    if (key) {
        write_string(j, key);
        put(j, j->pretty ? ": " : ":");
    }
}

static void open_(struct ul_json *j, const char *key, const char *c)
{
    prefix(j, key);
    put(j, c);
    if (j->depth < UL_JSON_MAX_DEPTH)
        j->depth++;
    j->need_comma[j->depth] = false;
}

static void close_(struct ul_json *j, const char *c)
{
    bool had = j->need_comma[j->depth];
    if (j->depth > 0)
        j->depth--;
    if (j->pretty && had) {
        put(j, "\n");
        for (int i = 0; i < j->depth; i++)
            put(j, "  ");
    }
    put(j, c);
}

void ul_json_object_begin(struct ul_json *j, const char *key) { open_(j, key, "{"); }
void ul_json_array_begin(struct ul_json *j, const char *key) { open_(j, key, "["); }
void ul_json_object_end(struct ul_json *j) { close_(j, "}"); }
void ul_json_array_end(struct ul_json *j) { close_(j, "]"); }

void ul_json_str(struct ul_json *j, const char *key, const char *val)
{
    prefix(j, key);
    if (val)
        write_string(j, val);
    else
        put(j, "null");
}

void ul_json_int(struct ul_json *j, const char *key, int64_t val)
{
    char num[24];
    prefix(j, key);
    if (val < 0)
        ul_snprintf(num, sizeof(num), "-%llu", (unsigned long long)(-(val + 1)) + 1);
    else
        ul_snprintf(num, sizeof(num), "%llu", (unsigned long long)val);
    put(j, num);
}

void ul_json_bool(struct ul_json *j, const char *key, bool val)
{
    prefix(j, key);
    put(j, val ? "true" : "false");
}

void ul_json_null(struct ul_json *j, const char *key)
{
    prefix(j, key);
    put(j, "null");
}

void ul_json_buf_write(void *ctx, const char *s, size_t n)
{
    struct ul_json_buf *b = ctx;
    if (!b->size)
        return;
    size_t room = b->size - 1 - b->len;
    if (n > room) {
        b->overflow = true;
        n = room;
    }
    ul_memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = 0;
}
