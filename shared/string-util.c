/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "string-util.h"
#include "ul-errno.h"

size_t ul_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

size_t ul_strnlen(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

int ul_strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

char ul_tolower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool ul_isspace(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

int ul_strncasecmp(const char *a, const char *b, size_t n)
{
    for (; n > 0; n--, a++, b++) {
        int d = (unsigned char)ul_tolower(*a) - (unsigned char)ul_tolower(*b);
        if (d != 0 || !*a)
            return d;
    }
    return 0;
}

int ul_strcasecmp(const char *a, const char *b)
{
    return ul_strncasecmp(a, b, (size_t)-1);
}

size_t ul_strlcpy(char *dst, const char *src, size_t size)
{
    size_t len = ul_strlen(src);
    if (size > 0) {
        size_t n = len < size - 1 ? len : size - 1;
        ul_memcpy(dst, src, n);
        dst[n] = 0;
    }
    return len;
}

void *ul_memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

void *ul_memmove(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    if (d == s || n == 0)
        return dst;
    if (d < s) {
        while (n--)
            *d++ = *s++;
    } else {
        while (n--)
            d[n] = s[n];
    }
    return dst;
}

void *ul_memset(void *dst, int c, size_t n)
{
    uint8_t *d = dst;
    while (n--)
        *d++ = (uint8_t)c;
    return dst;
}

int ul_memcmp(const void *a, const void *b, size_t n)
{
    const uint8_t *x = a, *y = b;
    for (; n > 0; n--, x++, y++)
        if (*x != *y)
            return *x - *y;
    return 0;
}

void ul_explicit_bzero(void *dst, size_t n)
{
    volatile uint8_t *d = dst;
    while (n--)
        *d++ = 0;
    __asm__ __volatile__("" : : "r"(dst) : "memory");
}

int ul_parse_u32(const char *s, size_t len, uint32_t *ret)
{
    uint64_t v = 0;
    if (len == 0)
        return -UL_EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -UL_EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > UINT32_MAX)
            return -UL_ERANGE;
    }
    *ret = (uint32_t)v;
    return 0;
}

/* ---- formatting ---- */

struct out {
    char *buf;
    size_t size;
    size_t len;
};

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

static void put_padded(struct out *o, const char *s, size_t n, unsigned width, bool left, char pad)
{
    size_t fill = width > n ? width - n : 0;
    if (!left)
        while (fill--)
            put(o, pad);
    for (size_t i = 0; i < n; i++)
        put(o, s[i]);
    if (left)
        while (fill--)
            put(o, ' ');
}

static void put_number(struct out *o, uint64_t v, bool neg, unsigned base, bool upper,
                       unsigned width, bool left, char pad)
{
    char tmp[24];
    size_t n = 0;
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        tmp[sizeof(tmp) - 1 - n++] = digits[v % base];
        v /= base;
    } while (v);
    if (neg) {
        if (pad == '0') {
            put(o, '-');
            if (width)
                width--;
        } else {
            tmp[sizeof(tmp) - 1 - n++] = '-';
        }
    }
    put_padded(o, tmp + sizeof(tmp) - n, n, width, left, pad);
}

size_t ul_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = { buf, size, 0 };

    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            put(&o, *p);
            continue;
        }
        p++;
        bool left = false;
        char pad = ' ';
        for (;; p++) {
            if (*p == '-')
                left = true;
            else if (*p == '0')
                pad = '0';
            else
                break;
        }
        unsigned width = 0;
        while (*p >= '0' && *p <= '9')
            width = width * 10 + (unsigned)(*p++ - '0');
        int prec = -1;
        if (*p == '.') {
            p++;
            if (*p == '*') {
                prec = va_arg(ap, int);
                p++;
            } else {
                prec = 0;
                while (*p >= '0' && *p <= '9')
                    prec = prec * 10 + (*p++ - '0');
            }
        }
        int lng = 0;
        bool sz = false;
        while (*p == 'l') {
            lng++;
            p++;
        }
        if (*p == 'z') {
            sz = true;
            p++;
        }
        switch (*p) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            size_t n = prec >= 0 ? ul_strnlen(s, (size_t)prec) : ul_strlen(s);
            put_padded(&o, s, n, width, left, ' ');
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            put_padded(&o, &c, 1, width, left, ' ');
            break;
        }
        case 'd':
        case 'i': {
            int64_t v = sz ? (int64_t)va_arg(ap, long) : lng >= 2 ? va_arg(ap, long long)
                        : lng == 1 ? va_arg(ap, long) : va_arg(ap, int);
            uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            put_number(&o, u, v < 0, 10, false, width, left, left ? ' ' : pad);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v = sz ? va_arg(ap, size_t) : lng >= 2 ? va_arg(ap, unsigned long long)
                         : lng == 1 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned);
            put_number(&o, v, false, *p == 'u' ? 10 : 16, *p == 'X', width, left,
                       left ? ' ' : pad);
            break;
        }
        case '%':
            put(&o, '%');
            break;
        case 0:
            p--; /* lone '%' at the end */
            break;
        default:
            put(&o, '%');
            put(&o, *p);
            break;
        }
    }
    if (size > 0)
        buf[o.len < size ? o.len : size - 1] = 0;
    return o.len;
}

size_t ul_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t n = ul_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

const char *ul_strerror(int err)
{
    if (err < 0)
        err = err == INT32_MIN ? 0x7fffffff : -err;
    switch (err) {
    case 0: return "success";
    case UL_EPERM: return "EPERM";
    case UL_ENOENT: return "ENOENT (not found)";
    case UL_EIO: return "EIO (I/O error)";
    case UL_E2BIG: return "E2BIG (too big)";
    case UL_ENOMEM: return "ENOMEM (out of memory)";
    case UL_EACCES: return "EACCES (access denied)";
    case UL_EBUSY: return "EBUSY (busy)";
    case UL_EEXIST: return "EEXIST (exists)";
    case UL_ENODEV: return "ENODEV (no device)";
    case UL_EISDIR: return "EISDIR (is a directory)";
    case UL_EINVAL: return "EINVAL (invalid)";
    case UL_ENOSPC: return "ENOSPC (volume full)";
    case UL_EROFS: return "EROFS (read-only)";
    case UL_ERANGE: return "ERANGE (out of range)";
    case UL_ENAMETOOLONG: return "ENAMETOOLONG (name too long)";
    case UL_ENOTEMPTY: return "ENOTEMPTY (not empty)";
    case UL_ELOOP: return "ELOOP (cycle)";
    case UL_ENODATA: return "ENODATA (no data)";
    case UL_ESTALE: return "ESTALE (dirty: logs not replayed)";
    case UL_EBADMSG: return "EBADMSG (corrupt data)";
    case UL_EOPNOTSUPP: return "EOPNOTSUPP (not supported)";
    case UL_ECANCELED: return "ECANCELED (cancelled)";
    default: return "unknown error";
    }
}
